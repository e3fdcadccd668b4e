"""L1-norm study for ResNet-20 on CIFAR-10, sized for ~1 hour of a 2-core CPU.

    python -m experiments.main \
        --config=experiments/configs/cifar10_resnet20_l1_cpu.py \
        --config.data.path=../shared/data/cifar10-jpeg.tar.gz \
        --workdir=runs/cifar10_resnet20_l1_cpu

Protocol of rethinking.md §5.1 scaled down: 10,000 training images (a fixed
subset), the full 10,000-image test set, batch 64, LR 0.1 x0.1 at 50%/75% of
10 epochs; L1-norm pruning of the first conv of every block at 50% in each
stage (Li et al.'s criterion with ResNet-56-A-style block-internal pruning);
fine-tune 3 epochs (the paper's 40/160 ratio) at LR 0.001; Scratch-E 10
epochs; Scratch-B int(10 * FLOPs ratio) epochs.
"""

from experiments.configs import base


def get_config():
  return base.override(base.get_config(), {
      'study': 'rethinking', 'model.name': 'resnet20',
      'data.name': 'cifar10', 'data.train_subset': 10000,
      'data.eval_batch_size': 500, 'optim.epochs': 10,
      'prune.method': 'l1_norm', 'prune.stage_ratios': (0.5, 0.5, 0.5),
      'finetune.epochs': 3})
