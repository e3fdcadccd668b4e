"""VGG-16 (L1-norm head) baseline on CIFAR-10 (rethinking.md §5.1)."""

from experiments.configs import base


def get_config():
  return base.override(base.get_config(), {
      'model.name': 'vgg16_l1', 'data.name': 'cifar10'})
