"""L1-norm pipeline for ResNet-20 on CIFAR-10, sized for ~1 hour of a 2-core CPU.

    python -m experiments.main \
        --config=experiments/configs/cifar10_resnet20_l1_cpu.py \
        --config.data_path=../shared/data/cifar10-jpeg.tar.gz \
        --workdir=runs/cifar10_resnet20_l1_cpu

Protocol of rethinking.md §5.1 scaled down: 10,000 training images (a fixed
subset), the full 10,000-image test set, batch 64, LR 0.1 x0.1 at 50%/75% of
10 epochs; L1-norm pruning of the first conv of every block at 50% in each
stage (Li et al.'s criterion with ResNet-56-A-style block-internal pruning);
fine-tune 3 epochs (the paper's 40/160 ratio) at LR 0.001; Scratch-E 10 epochs;
Scratch-B int(10 * FLOPs ratio) epochs.
"""

from experiments.configs import base
from experiments.configs import rethinking


def get_config():
  config = base.get_base_config()
  rethinking.add_pipeline_fields(config)
  config.model = 'resnet20'
  config.dataset = 'cifar10'
  config.data_path = ''  # path to the cifar10-jpeg folder or .tar.gz
  config.train_subset = 10000
  config.epochs = 10
  config.eval_batch_size = 500
  config.method = 'l1_norm'
  config.l1_stage_ratios = '[0.5, 0.5, 0.5]'
  config.finetune_epochs = 3
  config.tensorboard = True
  return config
