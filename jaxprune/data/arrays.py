"""In-memory datasets: the whole train and test splits as numpy arrays.

Small datasets (digits, CIFAR) are held on the host as uint8 arrays and put on
the device whole by the trainer; augmentation (``jaxprune.data.augment``) and
normalisation then run on the device.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class ArrayDataset:
  """A classification dataset held as arrays.

  Attributes:
    train_images: uint8 (N_train, H, W, C), raw pixel values 0..255.
    train_labels: int32 (N_train,), values in [0, num_classes).
    test_images: uint8 (N_test, H, W, C).
    test_labels: int32 (N_test,).
    num_classes: number of classes.
    class_names: tuple of num_classes names; label i is class_names[i].
    mean: per-channel mean, length C, in [0, 1] pixel units (x / 255).
    std: per-channel standard deviation, length C, in [0, 1] pixel units.
    augment: whether training uses the CIFAR augmentation (zero-pad 4, random
      crop back to H x W, random horizontal flip).
    name: short dataset name, e.g. 'digits' or 'cifar10-jpeg'.
  """
  train_images: np.ndarray
  train_labels: np.ndarray
  test_images: np.ndarray
  test_labels: np.ndarray
  num_classes: int
  class_names: tuple[str, ...]
  mean: tuple[float, ...]
  std: tuple[float, ...]
  augment: bool
  name: str

  def __post_init__(self):
    # Normalise the light-weight fields so that lists/np scalars are accepted.
    object.__setattr__(self, 'class_names', tuple(str(c) for c in self.class_names))
    object.__setattr__(self, 'mean', tuple(float(m) for m in self.mean))
    object.__setattr__(self, 'std', tuple(float(s) for s in self.std))
    object.__setattr__(self, 'num_classes', int(self.num_classes))
    object.__setattr__(self, 'augment', bool(self.augment))
    for split in ('train', 'test'):
      images = getattr(self, f'{split}_images')
      labels = getattr(self, f'{split}_labels')
      if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(
            f'{self.name}: {split}_images must be a uint8 numpy array of shape (N, H, W, C), got '
            f'{type(images).__name__} {getattr(images, "dtype", None)} {getattr(images, "shape", None)}')
      if not isinstance(labels, np.ndarray) or labels.dtype != np.int32 or labels.shape != images.shape[:1]:
        raise ValueError(
            f'{self.name}: {split}_labels must be an int32 numpy array of shape ({images.shape[0]},), got '
            f'{type(labels).__name__} {getattr(labels, "dtype", None)} {getattr(labels, "shape", None)}')
      if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
        raise ValueError(f'{self.name}: {split}_labels must lie in [0, {self.num_classes}), got '
                         f'[{labels.min()}, {labels.max()}]')
    if self.train_images.shape[1:] != self.test_images.shape[1:]:
      raise ValueError(f'{self.name}: train images {self.train_images.shape[1:]} and test images '
                       f'{self.test_images.shape[1:]} differ in shape')
    if len(self.class_names) != self.num_classes:
      raise ValueError(f'{self.name}: {len(self.class_names)} class names for {self.num_classes} classes')
    channels = self.train_images.shape[-1]
    if len(self.mean) != channels or len(self.std) != channels:
      raise ValueError(f'{self.name}: mean {self.mean} and std {self.std} must have one value per channel '
                       f'({channels})')
    if any(s <= 0 for s in self.std):
      raise ValueError(f'{self.name}: std must be positive, got {self.std}')

  @property
  def image_shape(self) -> tuple[int, int, int]:
    """(H, W, C) of one example."""
    return tuple(self.train_images.shape[1:])

  @property
  def num_train(self) -> int:
    return int(self.train_images.shape[0])

  @property
  def num_test(self) -> int:
    return int(self.test_images.shape[0])

  def train_subset(self, size: int, seed: int = 0) -> 'ArrayDataset':
    """A fixed random subset of ``size`` training examples (the test split is
    kept); the same subset for every run with the same ``seed``."""
    if size > self.num_train:
      raise ValueError(f'train subset of {size} exceeds the {self.num_train} '
                       'training examples')
    keep = np.sort(np.random.default_rng(seed).permutation(self.num_train)[:size])
    return self.replace(train_images=self.train_images[keep], train_labels=self.train_labels[keep])

  def test_subset(self, size: int) -> 'ArrayDataset':
    """The first ``size`` test examples."""
    n = min(size, self.num_test)
    return self.replace(test_images=self.test_images[:n], test_labels=self.test_labels[:n])

  def resized(self, size: int) -> 'ArrayDataset':
    """Both splits bilinearly resized to ``size`` x ``size`` (uint8)."""
    import jax
    import jax.numpy as jnp

    def resize(images):
      n, _, _, c = images.shape
      out = jax.image.resize(jnp.asarray(images, jnp.float32), (n, size, size, c), 'bilinear')
      return np.asarray(jnp.clip(jnp.round(out), 0, 255), np.uint8)
    return self.replace(train_images=resize(self.train_images), test_images=resize(self.test_images))

  def replace(self, **changes) -> 'ArrayDataset':
    """A copy with some fields changed (e.g. ``ds.replace(mean=..., std=...)``)."""
    return dataclasses.replace(self, **changes)

  def __repr__(self) -> str:
    return (f'ArrayDataset(name={self.name!r}, train={self.train_images.shape}, '
            f'test={self.test_images.shape}, num_classes={self.num_classes}, '
            f'augment={self.augment}, mean={self.mean}, std={self.std})')
