"""Batch sources for the train loop: what is replicated, what is split, how.

Every source has the same interface: ``input_shape``, ``num_classes``,
``num_train``, ``num_test``, ``steps_per_epoch``, ``num_devices``,
``device_data()``, ``train_inputs(epoch)``, ``eval_inputs()``,
``prepare_batch(...)`` (inside the step), ``examples(n)`` (host arrays for
data-driven criteria), ``with_batch_size(b)`` and ``local_inputs`` (whether
the inputs are this process's rows only, or the global batch's).

:class:`ArraySource` keeps a small dataset (digits, CIFAR) on the device as
uint8 and builds each batch inside the pmap-ed step: gather by example id,
augment with per-example keys (so the result never depends on how the batch is
split across devices) and normalise. The host only sends example ids.

Epoch plans follow the protocol's data order: a fresh permutation per epoch
from (seed, epoch), full batches, then the last partial batch (PyTorch
``drop_last=False``) trimmed to a multiple of the device count (at most
``num_devices - 1`` examples are left out of that epoch; none on 1 device).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import jax.numpy as jnp
import numpy as np

from jaxprune.data import augment as augment_lib


def epoch_batches(num_examples: int, batch_size: int, num_devices: int,
                  seed: int, epoch: int, drop_last: bool = False
                  ) -> list[np.ndarray]:
  """Example ids of every batch of one epoch, each shaped (devices, per_device).

  Raises:
    ValueError: if ``batch_size`` does not divide over ``num_devices``.
  """
  check_batch_size(batch_size, num_devices)
  order = np.random.default_rng([seed, epoch]).permutation(num_examples)
  batches = []
  full = num_examples // batch_size
  for i in range(full):
    batches.append(order[i * batch_size:(i + 1) * batch_size])
  rest = num_examples - full * batch_size
  rest -= rest % num_devices
  if rest > 0 and not drop_last:
    batches.append(order[full * batch_size:full * batch_size + rest])
  return [b.astype(np.int32).reshape(num_devices, -1) for b in batches]


def steps_per_epoch(num_examples: int, batch_size: int, num_devices: int,
                    drop_last: bool = False) -> int:
  full = num_examples // batch_size
  rest = num_examples - full * batch_size
  rest -= rest % num_devices
  return full + (1 if rest > 0 and not drop_last else 0)


def check_batch_size(batch_size: int, num_devices: int) -> None:
  if batch_size <= 0 or batch_size % num_devices:
    raise ValueError(f'batch size {batch_size} does not divide over '
                     f'{num_devices} devices; use a multiple of {num_devices}')


def eval_batches(num_examples: int, batch_size: int, num_devices: int
                 ) -> Iterator[dict[str, np.ndarray]]:
  """Padded id batches with a 0/1 mask, shaped (devices, per_device)."""
  batch_size = -(-batch_size // num_devices) * num_devices
  for start in range(0, num_examples, batch_size):
    ids = np.arange(start, min(start + batch_size, num_examples))
    mask = np.ones(batch_size, np.float32)
    mask[len(ids):] = 0.0
    ids = np.pad(ids, (0, batch_size - len(ids)))
    yield {'ids': ids.astype(np.int32).reshape(num_devices, -1),
           'mask': mask.reshape(num_devices, -1)}


@dataclasses.dataclass
class ArraySource:
  """A small dataset held on the device; batches built inside the step.

  Every process plans the same global batches of example ids; each feeds
  its own devices' rows (``local_inputs`` False).
  """
  local_inputs = False
  dataset: Any  # jaxprune.data.ArrayDataset
  batch_size: int
  eval_batch_size: int
  num_devices: int
  seed: int
  drop_last: bool = False

  def __post_init__(self):
    check_batch_size(self.batch_size, self.num_devices)
    ds = self.dataset
    if len(ds.train_images) < self.batch_size:
      raise ValueError(f'batch size {self.batch_size} exceeds the '
                       f'{len(ds.train_images)} training examples')
    self.mean = tuple(float(m) for m in ds.mean)
    self.std = tuple(float(s) for s in ds.std)
    self.augment = bool(ds.augment)

  @property
  def input_shape(self) -> tuple[int, ...]:
    return tuple(self.dataset.train_images.shape[1:])

  @property
  def num_classes(self) -> int:
    return int(self.dataset.num_classes)

  @property
  def num_train(self) -> int:
    return len(self.dataset.train_images)

  @property
  def num_test(self) -> int:
    return len(self.dataset.test_images)

  @property
  def steps_per_epoch(self) -> int:
    return steps_per_epoch(self.num_train, self.batch_size, self.num_devices,
                           self.drop_last)

  def device_data(self) -> tuple[dict, dict]:
    ds = self.dataset
    train = {'images': jnp.asarray(ds.train_images),
             'labels': jnp.asarray(ds.train_labels, jnp.int32)}
    test = {'images': jnp.asarray(ds.test_images),
            'labels': jnp.asarray(ds.test_labels, jnp.int32)}
    return train, test

  def train_inputs(self, epoch: int, start: int = 0
                   ) -> Iterator[dict[str, np.ndarray]]:
    """Batches of ``epoch`` from its ``start``-th on (a resumed epoch)."""
    for ids in epoch_batches(self.num_train, self.batch_size,
                             self.num_devices, self.seed, epoch,
                             self.drop_last)[start:]:
      yield {'ids': ids}

  def eval_inputs(self) -> Iterator[dict[str, np.ndarray]]:
    return eval_batches(self.num_test, self.eval_batch_size, self.num_devices)

  def examples(self, n: int) -> dict[str, np.ndarray]:
    """The first ``n`` training examples, normalised, not augmented:
    ``{'image': float32 (n, H, W, C), 'label': int32 (n,)}`` (host)."""
    n = min(int(n), self.num_train)
    ds = self.dataset
    images = augment_lib.normalize(jnp.asarray(ds.train_images[:n]),
                                   self.mean, self.std)
    return {'image': np.asarray(images, np.float32),
            'label': np.asarray(ds.train_labels[:n], np.int32)}

  def with_batch_size(self, batch_size: int) -> 'ArraySource':
    """The same data at another training batch size (checked likewise)."""
    return dataclasses.replace(self, batch_size=batch_size)

  def prepare_batch(self, data, inputs, context, train: bool):
    """Gathers, augments (train only) and normalises one device's batch."""
    ids = inputs['ids']
    images = data['images'][ids]
    if train and self.augment:
      keys = augment_lib.example_keys(context['aug_rng'], context['epoch'], ids)
      images = augment_lib.augment_images(images, keys)
    batch = {'image': augment_lib.normalize(images, self.mean, self.std),
             'label': data['labels'][ids]}
    if 'mask' in inputs:
      batch['mask'] = inputs['mask']
    return batch


class StreamingSource:
  """Adapts :class:`jaxprune.data.StreamingData` (tf.data) to the train loop.

  Batches arrive preprocessed and already shaped (devices, per_device, ...),
  so ``prepare_batch`` only drops the fields the step does not use. Epoch
  ``e`` is batches ``e * steps_per_epoch ...`` of the repeating training
  stream; a resumed run (another epoch or a step inside one) restarts the
  stream at exactly that batch, so it sees the data of an uninterrupted run.
  """

  # The stream yields this process's rows only (StreamingData over several
  # processes); array sources yield the global batch.
  local_inputs = True

  def __init__(self, streaming):
    self.streaming = streaming
    self.num_devices = streaming.num_devices
    self.batch_size = streaming.global_batch
    self._train_iter = None
    self._position = 0  # the stream's next batch

  input_shape = property(lambda self: tuple(self.streaming.image_shape))
  num_classes = property(lambda self: int(self.streaming.num_classes))
  num_train = property(lambda self: int(self.streaming.num_train))
  num_test = property(lambda self: int(self.streaming.num_eval))
  steps_per_epoch = property(lambda self: int(self.streaming.steps_per_epoch))

  def device_data(self):
    return {}, {}

  def examples(self, n: int) -> dict[str, np.ndarray]:
    """The first ``n`` training examples with the eval preprocessing."""
    return self.streaming.examples(min(int(n), self.num_train))

  def with_batch_size(self, batch_size: int) -> 'StreamingSource':
    """Streams are batched when built; only their own batch size works."""
    if batch_size != self.batch_size:
      raise ValueError(f'a streamed dataset is batched at {self.batch_size}; '
                       f'batch size {batch_size} would need another stream')
    return self

  def train_inputs(self, epoch: int, start: int = 0):
    """Batches ``start ..`` of ``epoch`` (the stream continues or restarts at
    exactly that batch)."""
    first = epoch * self.steps_per_epoch + start
    if self._train_iter is None or self._position != first:
      self._train_iter = self.streaming.train_iterator(first)
      self._position = first
    for _ in range(start, self.steps_per_epoch):
      batch = next(self._train_iter)
      self._position += 1
      yield {'image': batch['image'], 'label': batch['label']}

  def eval_inputs(self):
    for batch in self.streaming.eval_iterator():
      yield {'image': batch['image'], 'label': batch['label'],
             'mask': batch['mask']}

  def prepare_batch(self, data, inputs, context, train: bool):
    del data, context, train
    return dict(inputs, image=inputs['image'].astype('float32'))
