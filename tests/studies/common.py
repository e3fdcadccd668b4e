"""Small digits configs for the study tests."""

from experiments.configs import base
from experiments.configs import digits
from experiments.configs import digits_jackpot
from experiments.configs import digits_rethinking


def rethinking_config(**overrides):
  config = digits_rethinking.get_config()
  base.override(config, {'optim.epochs': 2, 'finetune.epochs': 1,
                         'scratch.b_max_epochs': 3, 'num_devices': 1})
  return base.override(config, overrides)


def baseline_config(**overrides):
  config = digits.get_config()
  base.override(config, {'optim.epochs': 2, 'tensorboard': False})
  return base.override(config, overrides)


def jackpot_config(**overrides):
  config = digits_jackpot.get_config()
  base.override(config, {'optim.epochs': 3, 'jackpot.epochs': 2,
                         'tensorboard': False})
  return base.override(config, overrides)
