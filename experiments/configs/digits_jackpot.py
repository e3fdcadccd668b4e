"""Lottery-jackpot search on the embedded digits (small CPU config).

Dense pre-training of ``digits_cnn`` (30 epochs), then a 90%-sparsity score
search on the frozen weights (15 epochs, batch 64, lr 0.1, cosine, wd 5e-4,
magnitude init 0.99, short restriction rate 1, tie rule 'skip_layer'), then
the mask-overlap study.
"""

from experiments.configs import base
from experiments.configs import digits


def get_config():
  return base.override(digits.get_config(), {
      'study': 'jackpot', 'jackpot.sparsity': 0.9, 'jackpot.epochs': 15,
      'jackpot.batch_size': 64})
