"""The data stage from a config: ``config.data`` -> dataset -> batch source.

``config.data`` fields (defaults in ``experiments/configs/base.py``):
``name`` (a registered dataset), ``path`` (an image folder or .tar.gz),
``data_dir`` (tfds data directory), ``manual_dir`` (where ImageNet's tars
are), ``train_subset`` / ``test_subset`` / ``image_size`` (array datasets:
a fixed random training subset, the first test examples, a bilinear resize;
0 = off), ``batch_size``, ``eval_batch_size``, ``drop_last``.
"""

from __future__ import annotations

from typing import Any

import jax

from jaxprune.data import registry
from jaxprune.data.arrays import ArrayDataset
from jaxprune.data.imagenet import StreamingData
from jaxprune.data.sources import ArraySource, StreamingSource, check_batch_size

RESIZING_FIELDS = ('train_subset', 'test_subset', 'image_size')


def check_data_config(data, num_devices: int) -> None:
  """Bad values fail before anything is loaded: unknown dataset, batch sizes
  that are not positive or do not divide over the devices, negative sizes."""
  registry.check_dataset(data.name)
  for field in ('batch_size', 'eval_batch_size'):
    if data[field] <= 0:
      raise ValueError(f'config.data.{field} must be positive, got {data[field]}')
  for field in RESIZING_FIELDS:
    if data[field] < 0:
      raise ValueError(f'config.data.{field} must be >= 0, got {data[field]}')
  check_batch_size(data.batch_size, num_devices)


def load_data(data, *, num_devices: int, seed: int) -> ArrayDataset | StreamingData:
  """The dataset of ``config.data`` (arrays, or a stream for ImageNet)."""
  if data.name == 'imagenet2012':
    dataset = registry.load_dataset(
        'imagenet2012', data_dir=data.data_dir or None,
        manual_dir=data.manual_dir or data.data_dir or None,
        global_batch=data.batch_size, num_devices=num_devices, seed=seed,
        process_index=jax.process_index(), process_count=jax.process_count())
  else:
    options: dict[str, Any] = {}
    if data.path:
      options['path'] = data.path
    if data.data_dir:
      options['data_dir'] = data.data_dir
    dataset = registry.load_dataset(data.name, **options)
  used = sorted(f for f in RESIZING_FIELDS if data[f])
  if used and isinstance(dataset, StreamingData):
    raise ValueError(f'config.data fields {used} apply to array datasets only')
  if data.train_subset:
    dataset = dataset.train_subset(data.train_subset)
  if data.test_subset:
    dataset = dataset.test_subset(data.test_subset)
  if data.image_size:
    dataset = dataset.resized(data.image_size)
  return dataset


def make_source(data, dataset, *, num_devices: int, seed: int):
  """An on-device :class:`ArraySource` for arrays, else a :class:`StreamingSource`."""
  if isinstance(dataset, StreamingData):
    return StreamingSource(dataset)
  return ArraySource(dataset, batch_size=data.batch_size, eval_batch_size=data.eval_batch_size,
                     num_devices=num_devices, seed=seed, drop_last=data.drop_last)
