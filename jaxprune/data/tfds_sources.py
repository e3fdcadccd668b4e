"""CIFAR-10/100 from prepared tensorflow-datasets, as arrays."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from jaxprune.data.arrays import ArrayDataset
from jaxprune.data.stats import dataset_stats

TFDS_ARRAY_DATASETS = ('cifar10', 'cifar100')


def load_tfds_arrays(name: str, data_dir: str | os.PathLike | None = None, *, download: bool = False,
                     augment: bool = True, mean: Sequence[float] | None = None,
                     std: Sequence[float] | None = None) -> ArrayDataset:
  """Load 'cifar10' or 'cifar100' whole through ``tfds.load(..., batch_size=-1)``.

  Args:
    name: 'cifar10' or 'cifar100'.
    data_dir: the tfds data directory (default: tfds' own, ``$TFDS_DATA_DIR`` or
      ``~/tensorflow_datasets``).
    download: allow tfds to download and prepare the dataset when it is not
      prepared yet. Without it, a missing dataset raises FileNotFoundError and
      nothing is downloaded.
    augment: pad-4 crop + flip for training (the paper's protocol).
    mean, std: normalisation; default the paper's CIFAR statistics (also used
      for CIFAR-100).

  Returns:
    An ArrayDataset with uint8 (N, 32, 32, 3) images and int32 labels.
  """
  if name not in TFDS_ARRAY_DATASETS:
    raise ValueError(f'load_tfds_arrays supports {list(TFDS_ARRAY_DATASETS)}, got {name!r}')
  if (mean is None) != (std is None):
    raise ValueError('pass both mean and std, or neither')
  import tensorflow_datasets as tfds

  data_dir = None if data_dir is None else os.path.abspath(os.path.expanduser(os.fspath(data_dir)))
  builder = tfds.builder(name, data_dir=data_dir)
  if not builder.is_prepared():
    if not download:
      raise FileNotFoundError(
          f'tfds dataset {name!r} is not prepared in data_dir {data_dir or "(tfds default)"} (looked for '
          f'{builder.data_dir}). Prepare it there (e.g. `tfds build {name} --data_dir=...`) or pass '
          f'download=True; for CIFAR-10 the shared JPEG folder can be read with '
          f"load_dataset('image_folder', path=...).")
    builder.download_and_prepare()
  splits = tfds.load(name, split=['train', 'test'], data_dir=data_dir, batch_size=-1, as_supervised=True,
                     download=False)
  (train_x, train_y), (test_x, test_y) = tfds.as_numpy(splits)
  class_names = tuple(builder.info.features['label'].names)
  if mean is None:
    mean, std = dataset_stats(name)
  return ArrayDataset(
      train_images=np.asarray(train_x, np.uint8),
      train_labels=np.asarray(train_y, np.int32),
      test_images=np.asarray(test_x, np.uint8),
      test_labels=np.asarray(test_y, np.int32),
      num_classes=len(class_names),
      class_names=class_names,
      mean=tuple(mean),
      std=tuple(std),
      augment=augment,
      name=name,
  )
