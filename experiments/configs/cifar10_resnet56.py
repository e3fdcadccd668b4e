"""ResNet-56 baseline on CIFAR-10 (rethinking.md §5.1): 160 epochs, batch 64,
LR 0.1 x0.1 at epochs 80/120, wd 1e-4.

On machines without the tfds CIFAR-10 files add
``--config.data.path=<cifar10-jpeg folder or .tar.gz>``.
"""

from experiments.configs import base


def get_config():
  return base.override(base.get_config(), {
      'model.name': 'resnet56', 'data.name': 'cifar10'})
