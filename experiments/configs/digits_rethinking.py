"""Rethinking study on the embedded digits (small budget, ~1 min CPU).

    python -m experiments.main --config=experiments/configs/digits_rethinking.py \
        --workdir=runs/digits_rethinking --config.prune.method=slimming \
        --config.prune.sparsity_lambda=1e-4

Baseline -> prune (L1-norm by default: every conv keeps half its filters)
-> fine-tune -> Scratch-E -> Scratch-B on ``digits_cnn``.
"""

from experiments.configs import base


def get_config():
  return base.override(base.get_config(), {
      'study': 'rethinking', 'model.name': 'digits_cnn',
      'data.name': 'digits', 'optim.epochs': 6, 'optim.learning_rate': 0.05,
      'optim.weight_decay': 5e-4, 'optim.schedule': 'step',
      'prune.method': 'l1_norm', 'prune.ratio': 0.5,
      'finetune.epochs': 2, 'finetune.learning_rate': 0.005,
      'scratch.b_max_epochs': 20, 'tensorboard': False})
