"""Per-dataset normalisation statistics (per channel, in [0, 1] pixel units)."""

from __future__ import annotations

import os

import numpy as np

# The CIFAR statistics used by the Rethinking code for CIFAR-10 *and* CIFAR-100.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
# torchvision's ImageNet statistics.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_STATS = {
    'cifar10': (CIFAR_MEAN, CIFAR_STD),
    'cifar100': (CIFAR_MEAN, CIFAR_STD),
    'cifar10-jpeg': (CIFAR_MEAN, CIFAR_STD),
    'imagenet2012': (IMAGENET_MEAN, IMAGENET_STD),
    'imagenet': (IMAGENET_MEAN, IMAGENET_STD),
}


def _canonical(name: str) -> str:
  name = os.path.basename(os.path.normpath(os.path.expanduser(str(name)))).lower()
  for ext in ('.tar.gz', '.tgz', '.tar'):
    if name.endswith(ext):
      name = name[:-len(ext)]
  return name


def known_stats(name: str) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
  """Like ``dataset_stats`` but returns None for an unknown name."""
  return _STATS.get(_canonical(name))


def dataset_stats(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
  """The paper's (mean, std) for a dataset name or a folder/archive path.

  'cifar10', 'cifar100' and 'cifar10-jpeg' (also '/x/cifar10-jpeg' or
  '/x/cifar10-jpeg.tar.gz') give the CIFAR statistics; 'imagenet2012' the
  ImageNet ones. Raises ValueError for any other name.
  """
  stats = known_stats(name)
  if stats is None:
    raise ValueError(f'no normalisation statistics known for dataset {name!r}; known: {sorted(_STATS)}. '
                     'Pass mean= and std= explicitly.')
  return stats


def compute_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
  """Per-channel (mean, std) of uint8 images (N, H, W, C) in [0, 1] units."""
  channels = images.shape[-1]
  flat = images.reshape(-1, channels)
  total = np.zeros(channels, np.float64)
  total_sq = np.zeros(channels, np.float64)
  for start in range(0, flat.shape[0], 1 << 20):  # bounded memory for large arrays
    chunk = flat[start:start + (1 << 20)].astype(np.float64) / 255.0
    total += chunk.sum(axis=0)
    total_sq += np.square(chunk).sum(axis=0)
  count = max(flat.shape[0], 1)
  mean = total / count
  std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
  std = np.where(std > 0, std, 1.0)
  return tuple(float(m) for m in mean), tuple(float(s) for s in std)
