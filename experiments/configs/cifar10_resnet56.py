"""ResNet-56 baseline on CIFAR-10 (rethinking.md §5.1): 160 epochs, batch 64,
LR 0.1 x0.1 at epochs 80/120, wd 1e-4.

Use ``--config.dataset=image_folder --config.data_path=<cifar10-jpeg.tar.gz>``
on machines without the tfds CIFAR-10 files.
"""

from experiments.configs import base


def get_config():
  config = base.get_base_config()
  config.model = 'resnet56'
  config.dataset = 'cifar10'
  return config
