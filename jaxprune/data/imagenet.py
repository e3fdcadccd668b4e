"""Streaming ImageNet-style input pipelines (tf.data), for datasets too large to hold as arrays.

Train: RandomResizedCrop (area 0.08-1 of the image, aspect ratio 3/4-4/3, via
``tf.image.stateless_sample_distorted_bounding_box``; the whole image when no
window fits in 10 attempts) resized to ``image_size`` + random horizontal flip.
Eval: resize the shorter side to ``resize_size`` (256) + centre crop
``image_size`` (224). Both normalise with (x / 255 - mean) / std (ImageNet
statistics by default).

Batches are dicts of numpy arrays with a leading device axis:
  'image': float32 (num_devices, global_batch // num_devices, S, S, 3)
  'label': int32   (num_devices, global_batch // num_devices)
  'mask':  float32 (num_devices, global_batch // num_devices), 1 for real
           examples, 0 for the zero padding of the last eval batch.

The training augmentation is seeded per example with (seed, position in the
shuffled, repeated stream), so a run is reproducible for a given seed.

Over several processes (``process_count`` > 1) every process builds the same
seeded stream and keeps, before decoding, only the examples of its own
devices' rows of each global batch: its batches are
``(num_devices // process_count, per_device, ...)``, and the processes'
batches stacked in process order are exactly the one-process batches. Eval
streams are padded with empty batches so that every process yields
``eval_steps`` batches.

The same pipeline runs on ``imagenet2012`` (tfds, built from a manual
directory) and on any ``<root>/{train,test}/<class>/*.jpg`` folder read through
``tfds.folder_dataset.ImageFolder`` (``make_folder_iterators``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Iterator, Sequence

from jaxprune.data.stats import IMAGENET_MEAN, IMAGENET_STD, known_stats

Batch = dict[str, Any]


@dataclasses.dataclass
class StreamingData:
  """Streaming train/eval pipelines and their metadata.

  Attributes:
    train_dataset: tf.data.Dataset of training batches (repeats forever unless
      built with repeat=False).
    eval_dataset: tf.data.Dataset of eval batches, one pass, last batch padded
      (mask 0).
    train_examples_dataset: the training split with the eval preprocessing
      (no augmentation), one pass, padded like eval; it feeds
      :meth:`examples` (data-driven pruning criteria).
    num_train, num_eval: examples per split.
    num_classes, class_names: labels.
    image_shape: (S, S, 3) of one example.
    global_batch, num_devices: batch layout (num_devices, global_batch //
      num_devices, ...).
    steps_per_epoch: num_train // global_batch (the last partial train batch
      of an epoch is not dropped from the stream; epochs are a step count).
    eval_steps: ceil(num_eval / global_batch).
    mean, std: normalisation used.
    name: dataset name.
    process_index, process_count: the train and eval batches hold this
      process's rows only, ``num_devices // process_count`` of them
      (:func:`build_pipeline`); ``examples`` are every process's.
  """
  train_dataset: Any
  eval_dataset: Any
  train_examples_dataset: Any
  num_train: int
  num_eval: int
  num_classes: int
  class_names: tuple[str, ...]
  image_shape: tuple[int, int, int]
  global_batch: int
  num_devices: int
  steps_per_epoch: int
  eval_steps: int
  mean: tuple[float, ...]
  std: tuple[float, ...]
  name: str
  train_builder: Any = None
  process_index: int = 0
  process_count: int = 1

  def train_iterator(self, skip_batches: int = 0) -> Iterator[Batch]:
    """Numpy batches of the training stream, from batch ``skip_batches`` on.

    The stream is a pure function of the seed: resuming at batch ``n`` gives
    exactly the batches an uninterrupted stream gives from ``n`` on (the
    records before it are skipped before decoding; the augmentation of an
    example depends on its position in the stream).
    """
    import tensorflow_datasets as tfds
    ds = self.train_dataset
    if skip_batches:
      if self.train_builder is None:
        raise ValueError(f'{self.name}: this stream cannot resume mid-way')
      ds = self.train_builder(skip_batches * self.global_batch)
    return iter(tfds.as_numpy(ds))

  def eval_iterator(self) -> Iterator[Batch]:
    """A fresh single pass over the eval split as numpy batches."""
    import tensorflow_datasets as tfds
    return iter(tfds.as_numpy(self.eval_dataset))

  def examples(self, n: int) -> dict[str, Any]:
    """The first ``n`` training examples, eval-preprocessed and normalised:
    ``{'image': float32 (n, S, S, 3), 'label': int32 (n,)}`` (host)."""
    import numpy as np
    import tensorflow_datasets as tfds
    images, labels, have = [], [], 0
    for batch in tfds.as_numpy(self.train_examples_dataset):
      real = batch['mask'].reshape(-1) > 0
      images.append(batch['image'].reshape(-1, *self.image_shape)[real])
      labels.append(batch['label'].reshape(-1)[real])
      have += int(real.sum())
      if have >= n:
        break
    return {'image': np.concatenate(images)[:n].astype(np.float32),
            'label': np.concatenate(labels)[:n].astype(np.int32)}


# ----------------------------------------------------------------------------- per-example ops


def _decode_full(image_bytes, channels: int = 3):
  import tensorflow as tf
  return tf.io.decode_image(image_bytes, channels=channels, expand_animations=False)


def _image_hw(image_bytes):
  """(height, width) of an encoded image; reads only the header for JPEG."""
  import tensorflow as tf
  shape = tf.cond(tf.io.is_jpeg(image_bytes),
                  lambda: tf.image.extract_jpeg_shape(image_bytes),
                  lambda: tf.shape(_decode_full(image_bytes)))
  return shape[0], shape[1]


def random_resized_crop(image_bytes, seed, image_size: int, area_range=(0.08, 1.0),
                        aspect_ratio_range=(3 / 4, 4 / 3), max_attempts: int = 10):
  """Decode + RandomResizedCrop of one encoded image -> float32 (image_size, image_size, 3) in 0..255.

  ``seed`` is a stateless seed (int tensor of shape (2,)).
  """
  import tensorflow as tf
  height, width = _image_hw(image_bytes)
  shape = tf.stack([height, width, 3])
  bbox = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, shape=[1, 1, 4])
  begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
      shape, bounding_boxes=bbox, seed=seed, min_object_covered=0.0,
      aspect_ratio_range=aspect_ratio_range, area_range=area_range, max_attempts=max_attempts,
      use_image_if_no_bounding_boxes=True)
  offset_y, offset_x, _ = tf.unstack(begin)
  crop_h, crop_w, _ = tf.unstack(size)
  window = tf.stack([offset_y, offset_x, crop_h, crop_w])
  image = tf.cond(
      tf.io.is_jpeg(image_bytes),
      lambda: tf.image.decode_and_crop_jpeg(image_bytes, window, channels=3),
      lambda: tf.image.crop_to_bounding_box(_decode_full(image_bytes), offset_y, offset_x, crop_h, crop_w))
  image = tf.image.resize(image, [image_size, image_size], method='bilinear', antialias=True)
  image.set_shape([image_size, image_size, 3])
  return image


def resize_center_crop(image_bytes, image_size: int, resize_size: int):
  """Decode, resize the shorter side to ``resize_size`` (torchvision Resize), centre crop ``image_size``.

  Returns float32 (image_size, image_size, 3) in 0..255.
  """
  import tensorflow as tf
  image = _decode_full(image_bytes)
  shape = tf.shape(image)
  height, width = shape[0], shape[1]
  h = tf.cast(height, tf.float64)
  w = tf.cast(width, tf.float64)
  short = tf.minimum(h, w)
  # torchvision: the shorter side becomes resize_size, the longer int(resize_size * long / short).
  new_h = tf.where(h <= w, tf.constant(resize_size, tf.float64), tf.floor(resize_size * h / short))
  new_w = tf.where(w <= h, tf.constant(resize_size, tf.float64), tf.floor(resize_size * w / short))
  new_h = tf.cast(new_h, tf.int32)
  new_w = tf.cast(new_w, tf.int32)
  image = tf.image.resize(image, tf.stack([new_h, new_w]), method='bilinear', antialias=True)
  top = tf.cast(tf.round(tf.cast(new_h - image_size, tf.float32) / 2.0), tf.int32)
  left = tf.cast(tf.round(tf.cast(new_w - image_size, tf.float32) / 2.0), tf.int32)
  image = tf.image.crop_to_bounding_box(image, top, left, image_size, image_size)
  image.set_shape([image_size, image_size, 3])
  return image


# ----------------------------------------------------------------------------- pipeline


def _shard_batch(batch, num_devices: int, global_batch: int):
  import tensorflow as tf
  per_device = global_batch // num_devices
  out = {}
  for key, value in batch.items():
    tail = value.shape[1:].as_list()
    out[key] = tf.reshape(value, [num_devices, per_device] + tail)
  return out


def _pad_batch(batch, global_batch: int):
  import tensorflow as tf
  n = tf.shape(batch['label'])[0]
  out = {}
  for key, value in batch.items():
    rank = len(value.shape)
    padded = tf.pad(value, [[0, global_batch - n]] + [[0, 0]] * (rank - 1))
    padded.set_shape([global_batch] + value.shape[1:].as_list())
    out[key] = padded
  return out


def build_pipeline(ds, *, train: bool, global_batch: int, num_devices: int, seed: int = 0,
                   image_size: int = 224, resize_size: int = 256,
                   mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                   shuffle_buffer: int = 16384, repeat: bool = True, prefetch: int = 2,
                   dtype: str = 'float32', area_range=(0.08, 1.0), aspect_ratio_range=(3 / 4, 4 / 3),
                   skip: int = 0, process_index: int = 0, process_count: int = 1):
  """Turn a tf.data.Dataset of (encoded image bytes, label) into device-sharded batches.

  Args:
    ds: dataset of (string scalar: encoded JPEG/PNG, int label).
    train: RandomResizedCrop + flip, shuffled (seeded), batches of exactly
      global_batch (drop remainder); else resize + centre crop, one pass, the
      last batch zero-padded to global_batch with mask 0.
    global_batch: examples per step over all devices.
    num_devices: leading axis of every array; must divide global_batch.
    seed: shuffling and augmentation seed.
    image_size: output side S (224 for ImageNet).
    resize_size: eval shorter side before the centre crop (256 for ImageNet).
    mean, std: per-channel normalisation in [0, 1] units.
    shuffle_buffer: train shuffle buffer (capped by the caller at the split
      size where it is known).
    repeat: train stream repeats forever (epochs = steps_per_epoch steps).
    prefetch: batches prefetched.
    dtype: image dtype ('float32' or 'bfloat16').
    skip: train only: start this many examples into the (seeded, repeated)
      stream, skipping the records before decoding them.
    process_index, process_count: this process's rows only (module
      docstring); ``num_devices`` counts every process's devices.

  Returns:
    tf.data.Dataset of {'image': (L, B/D, S, S, 3), 'label': int32 (L, B/D),
    'mask': float32 (L, B/D)}, L = D / process_count local devices.
  """
  import tensorflow as tf
  if global_batch <= 0 or num_devices <= 0 or global_batch % num_devices:
    raise ValueError(f'global_batch ({global_batch}) must be a positive multiple of num_devices ({num_devices})')
  if process_count < 1 or num_devices % process_count or not 0 <= process_index < process_count:
    raise ValueError(f'process {process_index} of {process_count} cannot feed {num_devices} devices')
  local_devices = num_devices // process_count
  local_batch = global_batch // process_count

  def own(position):  # whether this stream position is in this process's rows
    return (position % global_batch) // local_batch == process_index

  if resize_size < image_size:
    raise ValueError(f'resize_size ({resize_size}) must be >= image_size ({image_size})')
  mean_t = tf.constant(list(mean), tf.float32) * 255.0
  std_t = tf.constant(list(std), tf.float32) * 255.0
  out_dtype = tf.dtypes.as_dtype(dtype)

  def finish(image, label):
    image = (image - mean_t) / std_t
    return {'image': tf.cast(image, out_dtype), 'label': tf.cast(label, tf.int32),
            'mask': tf.constant(1.0, tf.float32)}

  if train:
    ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
      ds = ds.repeat()
    ds = ds.enumerate()
    if skip:
      ds = ds.skip(skip)
    if process_count > 1:
      ds = ds.filter(lambda position, example: own(position))

    def train_map(position, example):
      image_bytes, label = example
      seeds = tf.random.experimental.stateless_split(
          tf.stack([tf.constant(seed, tf.int64), tf.cast(position, tf.int64)]), num=2)
      image = random_resized_crop(image_bytes, seeds[0], image_size, area_range, aspect_ratio_range)
      image = tf.image.stateless_random_flip_left_right(image, seed=seeds[1])
      return finish(image, label)

    ds = ds.map(train_map, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(local_batch, drop_remainder=True)
  else:
    def eval_map(image_bytes, label):
      return finish(resize_center_crop(image_bytes, image_size, resize_size), label)

    if process_count > 1:
      ds = ds.enumerate().filter(lambda position, example: own(position)).map(
          lambda position, example: example)
    ds = ds.map(eval_map, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(local_batch).map(lambda b: _pad_batch(b, local_batch))
    if process_count > 1:  # every process yields the same number of batches
      empty = tf.data.Dataset.from_tensors({
          'image': tf.zeros([local_batch, image_size, image_size, 3], out_dtype),
          'label': tf.zeros([local_batch], tf.int32), 'mask': tf.zeros([local_batch], tf.float32)})
      ds = ds.concatenate(empty.repeat())
  ds = ds.map(lambda b: _shard_batch(b, local_devices, local_batch))
  return ds.prefetch(prefetch)


def _make_streaming(train_src, eval_src, *, num_train, num_eval, class_names, name, global_batch, num_devices,
                    seed, image_size, resize_size, mean, std, shuffle_buffer, repeat, dtype,
                    process_index=0, process_count=1) -> StreamingData:
  common = dict(global_batch=global_batch, num_devices=num_devices, seed=seed, image_size=image_size,
                resize_size=resize_size, mean=mean, std=std, dtype=dtype)
  rows = dict(process_index=process_index, process_count=process_count)
  train_builder = lambda skip=0: build_pipeline(  # noqa: E731
      train_src, train=True, shuffle_buffer=max(1, min(shuffle_buffer, num_train)), repeat=repeat, skip=skip,
      **common, **rows)
  train_ds = train_builder()
  eval_steps = math.ceil(num_eval / global_batch)
  eval_ds = build_pipeline(eval_src, train=False, **common, **rows).take(eval_steps)
  plain_train_ds = build_pipeline(train_src, train=False, **common)
  return StreamingData(
      train_dataset=train_ds, eval_dataset=eval_ds, train_examples_dataset=plain_train_ds,
      num_train=num_train, num_eval=num_eval,
      num_classes=len(class_names), class_names=tuple(class_names), image_shape=(image_size, image_size, 3),
      global_batch=global_batch, num_devices=num_devices, steps_per_epoch=num_train // global_batch,
      eval_steps=eval_steps, mean=tuple(mean), std=tuple(std), name=name,
      train_builder=train_builder, **rows)


# ----------------------------------------------------------------------------- sources


def make_imagenet_iterators(data_dir: str | os.PathLike | None, manual_dir: str | os.PathLike | None,
                            global_batch: int, num_devices: int, seed: int = 0, *, image_size: int = 224,
                            resize_size: int = 256, shuffle_buffer: int = 16384, repeat: bool = True,
                            dtype: str = 'float32', process_index: int = 0,
                            process_count: int = 1) -> StreamingData:
  """ImageNet (tfds 'imagenet2012') train / validation streams.

  If the dataset is not prepared in ``data_dir`` it is built from
  ``manual_dir`` (holding ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar)
  with ``tfds.download.DownloadConfig(manual_dir=...)``; nothing is
  downloaded. Images are read still encoded (``SkipDecoding``) so that the
  train crop decodes only its window.
  """
  import tensorflow_datasets as tfds
  data_dir = None if data_dir is None else os.path.abspath(os.path.expanduser(os.fspath(data_dir)))
  builder = tfds.builder('imagenet2012', data_dir=data_dir)
  if not builder.is_prepared():
    if manual_dir is None or not os.path.isdir(os.path.expanduser(os.fspath(manual_dir))):
      raise FileNotFoundError(
          f"tfds dataset 'imagenet2012' is not prepared in data_dir {data_dir or '(tfds default)'} (looked for "
          f'{builder.data_dir}) and the manual directory {manual_dir} does not exist: put '
          'ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar there')
    manual_dir = os.path.abspath(os.path.expanduser(os.fspath(manual_dir)))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  decoders = {'image': tfds.decode.SkipDecoding()}
  train_src = builder.as_dataset(split='train', shuffle_files=True, decoders=decoders, as_supervised=True,
                                 read_config=tfds.ReadConfig(shuffle_seed=seed))
  eval_src = builder.as_dataset(split='validation', shuffle_files=False, decoders=decoders, as_supervised=True)
  info = builder.info
  return _make_streaming(
      train_src, eval_src, num_train=info.splits['train'].num_examples,
      num_eval=info.splits['validation'].num_examples, class_names=info.features['label'].names,
      name='imagenet2012', global_batch=global_batch, num_devices=num_devices, seed=seed, image_size=image_size,
      resize_size=resize_size, mean=IMAGENET_MEAN, std=IMAGENET_STD, shuffle_buffer=shuffle_buffer,
      repeat=repeat, dtype=dtype, process_index=process_index, process_count=process_count)


def make_folder_iterators(path: str | os.PathLike, global_batch: int, num_devices: int, seed: int = 0, *,
                          image_size: int = 224, resize_size: int = 256, mean: Sequence[float] | None = None,
                          std: Sequence[float] | None = None, cache_dir: str | os.PathLike | None = None,
                          train_split: str = 'train', eval_split: str = 'test', shuffle_buffer: int = 16384,
                          repeat: bool = True, dtype: str = 'float32', process_index: int = 0,
                          process_count: int = 1) -> StreamingData:
  """The ImageNet streaming pipeline on ``<path>/{train,test}/<class>/*.jpg`` (or such a .tar.gz).

  The folder is validated first (see ``scan_image_folder``) and read through
  ``tfds.folder_dataset.ImageFolder`` with the images left encoded. mean/std
  default to the dataset's known statistics, else ImageNet's.
  """
  import tensorflow_datasets as tfds

  from jaxprune.data.image_folder import resolve_image_folder, scan_image_folder
  if (mean is None) != (std is None):
    raise ValueError('pass both mean and std, or neither')
  splits = (train_split, eval_split)
  root = resolve_image_folder(path, cache_dir, splits)
  index = scan_image_folder(root, splits)
  name = os.path.basename(index.root)
  if mean is None:
    mean, std = known_stats(name) or (IMAGENET_MEAN, IMAGENET_STD)
  builder = tfds.folder_dataset.ImageFolder(index.root)
  if tuple(builder.info.features['label'].names) != index.class_names:
    raise ValueError(f'tfds ImageFolder({index.root}) found classes {builder.info.features["label"].names}, '
                     f'expected {index.class_names}')
  decoders = {'image': tfds.decode.SkipDecoding()}
  train_src = builder.as_dataset(split=train_split, decoders=decoders, as_supervised=True)
  eval_src = builder.as_dataset(split=eval_split, decoders=decoders, as_supervised=True)
  return _make_streaming(
      train_src, eval_src, num_train=len(index.files[train_split]), num_eval=len(index.files[eval_split]),
      class_names=index.class_names, name=name, global_batch=global_batch, num_devices=num_devices, seed=seed,
      image_size=image_size, resize_size=resize_size, mean=mean, std=std, shuffle_buffer=shuffle_buffer,
      repeat=repeat, dtype=dtype, process_index=process_index, process_count=process_count)
