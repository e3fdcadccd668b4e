"""scikit-learn's 8x8 handwritten digits: the embedded default dataset (no download)."""

from __future__ import annotations

import numpy as np

from jaxprune.data.arrays import ArrayDataset
from jaxprune.data.stats import compute_stats

DIGITS_NUM_TEST = 360
DIGITS_SPLIT_SEED = 0


def load_digits(*, num_test: int = DIGITS_NUM_TEST, split_seed: int = DIGITS_SPLIT_SEED,
                augment: bool = False) -> ArrayDataset:
  """The 1797 sklearn digits as an ``ArrayDataset``.

  Images are (N, 8, 8, 1) uint8: the 0..16 grey levels scaled to 0..255. The
  train/test split is stratified by class and deterministic
  (``train_test_split(..., test_size=num_test, stratify=labels,
  random_state=split_seed)``; 1437 train / 360 test by default). mean/std come
  from the train split. No augmentation by default (a 4-pixel shift of an 8x8
  digit is not a label-preserving transform).
  """
  from sklearn import datasets as sk_datasets
  from sklearn.model_selection import train_test_split

  bunch = sk_datasets.load_digits()
  images = np.round(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[..., None]
  labels = bunch.target.astype(np.int32)
  index = np.arange(labels.shape[0])
  train_idx, test_idx = train_test_split(index, test_size=num_test, stratify=labels,
                                         random_state=split_seed, shuffle=True)
  train_idx = np.sort(train_idx)
  test_idx = np.sort(test_idx)
  train_images = np.ascontiguousarray(images[train_idx])
  mean, std = compute_stats(train_images)
  return ArrayDataset(
      train_images=train_images,
      train_labels=labels[train_idx],
      test_images=np.ascontiguousarray(images[test_idx]),
      test_labels=labels[test_idx],
      num_classes=10,
      class_names=tuple(str(d) for d in range(10)),
      mean=mean,
      std=std,
      augment=augment,
      name='digits',
  )
