"""Lottery-jackpot search on the embedded digits (small CPU config).

Dense pre-training of ``digits_cnn`` (30 epochs), then a 90%-sparsity score
search on the frozen weights (15 epochs, batch 64, lr 0.1, cosine, wd 5e-4,
magnitude init 0.99, short restriction rate 1, tie rule 'skip_layer').
"""

from experiments.configs import digits
from experiments.configs import jackpot_defaults


def get_config():
  config = digits.get_config()
  config.pipeline = 'jackpot'
  config.jackpot = jackpot_defaults.get_jackpot_config(
      sparsity=0.9, epochs=15, batch_size=64)
  return config
