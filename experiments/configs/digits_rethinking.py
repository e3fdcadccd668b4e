"""Rethinking pipeline on the embedded digits (small budget, ~1-2 min CPU).

    python -m experiments.main --config=experiments/configs/digits_rethinking.py \
        --workdir=runs/digits_rethinking --config.method=slimming

Baseline -> prune (L1-norm by default: every conv keeps half its filters)
-> fine-tune -> Scratch-E -> Scratch-B on ``digits_cnn``.
"""

from experiments.configs import base
from experiments.configs import rethinking


def get_config():
  config = base.get_base_config()
  rethinking.add_pipeline_fields(config)
  config.model = 'digits_cnn'
  config.dataset = 'digits'
  config.epochs = 6
  config.learning_rate = 0.05
  config.weight_decay = 5e-4
  config.schedule = 'step'
  config.method = 'l1_norm'
  config.prune_ratio = 0.5
  config.l1_ratios = '{"1": 0.5, "2": 0.5, "3": 0.5, "4": 0.5}'
  config.sparsity_lambda = 1e-4
  config.finetune_epochs = 2
  config.finetune_lr = 0.005
  config.scratch_b_max_epochs = 20
  config.tensorboard = False
  return config
