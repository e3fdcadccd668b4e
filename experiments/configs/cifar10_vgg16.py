"""VGG-16 (L1-norm head) baseline on CIFAR-10 (rethinking.md §5.1)."""

from experiments.configs import base


def get_config():
  config = base.get_base_config()
  config.model = 'vgg16_l1'
  config.dataset = 'cifar10'
  return config
