"""Image-folder datasets read through tensorflow-datasets, held as arrays.

Layout: ``<root>/{train,test}/<class>/*.{jpg,jpeg,png}``, read with
``tfds.folder_dataset.ImageFolder(root)``; labels follow the sorted class-folder
names (for the shared CIFAR-10 JPEG folder: airplane=0 ... truck=9). A
``.tar.gz`` path is extracted once into the cache directory first.

The folder is validated before anything is decoded (missing root, no split
folders, a split without class folders, an empty class folder, class folders
that differ between splits), and a decode failure or an image of a different
shape is traced back to the file, which the error names.

Decoded arrays are cached as ``<cache_dir>/arrays/<name>-<key>.npz``, the key
hashing the folder's absolute path, its number of image files and their total
size, so a second load only scans the folder and reads the .npz.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import tempfile
from typing import Sequence

import numpy as np

from jaxprune.data.archive import default_cache_dir, extract_archive, folder_in_extraction, is_archive
from jaxprune.data.arrays import ArrayDataset
from jaxprune.data.stats import compute_stats, known_stats

# The suffixes tfds' ImageFolder reads (case-insensitive).
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')
_CACHE_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class FolderIndex:
  """A validated image folder.

  Attributes:
    root: absolute path of the folder holding the split folders.
    class_names: sorted class-folder names (label i = class_names[i]).
    files: split name -> list of (image path, label), sorted by class then file
      name; every split folder under root is listed (tfds reads them all).
    num_files: number of image files over all splits.
    total_bytes: their total size in bytes.
  """
  root: str
  class_names: tuple[str, ...]
  files: dict[str, list[tuple[str, int]]]
  num_files: int
  total_bytes: int


def _subfolders(path: str) -> list[str]:
  with os.scandir(path) as it:
    return sorted(e.name for e in it if e.is_dir())


def _image_files(path: str) -> tuple[list[str], int]:
  names, total = [], 0
  with os.scandir(path) as it:
    for e in it:
      if e.name.lower().endswith(IMAGE_SUFFIXES) and e.is_file():
        names.append(e.name)
        total += e.stat().st_size
  return sorted(names), total


def scan_image_folder(root: str | os.PathLike, required_splits: Sequence[str] = ('train', 'test')) -> FolderIndex:
  """Validate ``<root>/<split>/<class>/<image>`` without decoding anything.

  Raises:
    FileNotFoundError: root does not exist.
    ValueError: root is not a folder, has no split folders or lacks one of
      ``required_splits``; a split folder has no class folders; a class folder
      holds no .jpg/.jpeg/.png file; the class folders differ between splits.
      The message names the offending path.
  """
  root = os.path.abspath(os.path.expanduser(os.fspath(root)))
  if not os.path.exists(root):
    raise FileNotFoundError(f'image folder {root} does not exist')
  if not os.path.isdir(root):
    raise ValueError(f'image folder {root} is not a folder (nor a .tar.gz/.tgz/.tar archive)')
  layout = f'expected {os.path.join(root, "<split>", "<class>", "<image>.jpg")}'
  splits = _subfolders(root)
  if not splits:
    raise ValueError(f'image folder {root} has no split folders ({layout} with splits {list(required_splits)})')
  for split in required_splits:
    if split not in splits:
      raise ValueError(f'image folder {root} has no {split!r} split folder (found split folders {splits}; {layout})')

  classes: dict[str, list[str]] = {}
  for split in splits:
    split_dir = os.path.join(root, split)
    split_classes = _subfolders(split_dir)
    if not split_classes:
      raise ValueError(f'split folder {split_dir} has no class folders ({layout})')
    classes[split] = split_classes
  reference = required_splits[0] if required_splits else splits[0]
  for split in splits:
    if classes[split] != classes[reference]:
      missing = sorted(set(classes[reference]) - set(classes[split]))
      extra = sorted(set(classes[split]) - set(classes[reference]))
      raise ValueError(
          f'class folders differ between splits {os.path.join(root, reference)} and {os.path.join(root, split)}: '
          f'missing from {split!r}: {missing}; only in {split!r}: {extra}')
  class_names = tuple(classes[reference])

  files: dict[str, list[tuple[str, int]]] = {}
  num_files = total_bytes = 0
  for split in splits:
    entries = []
    for label, name in enumerate(class_names):
      class_dir = os.path.join(root, split, name)
      images, size = _image_files(class_dir)
      if not images:
        raise ValueError(f'class folder {class_dir} holds no images ({"/".join(IMAGE_SUFFIXES)} files)')
      entries.extend((os.path.join(class_dir, image), label) for image in images)
      total_bytes += size
    files[split] = entries
    num_files += len(entries)
  return FolderIndex(root=root, class_names=class_names, files=files, num_files=num_files,
                     total_bytes=total_bytes)


def resolve_image_folder(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
                         required_splits: Sequence[str] = ('train', 'test')) -> str:
  """The image-folder root for ``path``: the folder itself, or the one inside an extracted archive."""
  path = os.path.abspath(os.path.expanduser(os.fspath(path)))
  if not os.path.exists(path):
    raise FileNotFoundError(f'image folder {path} does not exist')
  if os.path.isfile(path) and is_archive(path):
    extracted = extract_archive(path, cache_dir)

    def is_root(folder):
      return all(os.path.isdir(os.path.join(folder, s)) for s in required_splits)

    return folder_in_extraction(extracted, path, is_root)
  return path


# ----------------------------------------------------------------------------- decoding


def _clean_tf_message(message: str) -> str:
  message = re.sub(r'\{\{function_node [^}]*\}\}\s*', '', message)
  message = re.sub(r'\s*\[Op:\w+\].*$', '', message, flags=re.S)
  return message.strip()


def _decode_error(path: str, channels: int) -> str | None:
  """The TF error message for decoding one file, or None if it decodes."""
  import tensorflow as tf
  try:
    tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
  except tf.errors.OpError as e:
    return _clean_tf_message(e.message) or type(e).__name__
  return None


def find_bad_image(paths: Sequence[str], channels: int = 3,
                   reference: tuple[tuple[int, ...], str] | None = None) -> None:
  """Decode ``paths`` in order; raise ValueError naming the first bad one.

  A file is bad if ``tf.io.decode_image`` fails on it, or if its shape differs
  from ``reference`` = (shape, path of a file with that shape), by default the
  first file's shape. Returns None when every file is fine.
  """
  import tensorflow as tf
  paths = list(paths)
  if not paths:
    return

  def shape_of(p):
    image = tf.io.decode_image(tf.io.read_file(p), channels=channels, expand_animations=False)
    return tf.shape(image)

  ds = tf.data.Dataset.from_tensor_slices(paths).map(shape_of, num_parallel_calls=tf.data.AUTOTUNE,
                                                     deterministic=True)
  iterator = iter(ds)
  index = 0
  while index < len(paths):
    try:
      shape = tuple(int(d) for d in next(iterator).numpy())
    except StopIteration:
      return
    except tf.errors.OpError as e:
      # A deterministic parallel map fails at the element that failed; confirm
      # file by file from there (tf.io.decode_image on each).
      for path in paths[index:]:
        message = _decode_error(path, channels)
        if message is not None:
          raise ValueError(f'corrupt or malformed image file {path}: {message}') from None
      raise ValueError(f'decoding the images from {os.path.dirname(paths[index])} failed: {e.message}') from e
    if reference is None:
      reference = (shape, paths[index])
    elif shape != tuple(reference[0]):
      raise ValueError(f'image file {paths[index]} has shape {shape}, but {reference[1]} has shape '
                       f'{tuple(reference[0])}: all images must have the same shape')
    index += 1


def _decode_split(builder, index: FolderIndex, split: str, channels: int, batch_size: int = 1024):
  import tensorflow as tf
  ds = builder.as_dataset(split=split, as_supervised=True).batch(batch_size).prefetch(2)
  images, labels = [], []
  try:
    for x, y in ds.as_numpy_iterator():
      if images and x.shape[1:] != images[0].shape[1:]:
        raise ValueError('shape mismatch between batches')
      images.append(x)
      labels.append(y)
  except (tf.errors.OpError, ValueError) as e:
    find_bad_image([p for p, _ in index.files[split]], channels)
    raise ValueError(f'decoding split folder {os.path.join(index.root, split)} failed: {e}') from e
  return np.concatenate(images), np.concatenate(labels).astype(np.int32)


def decode_image_folder(index: FolderIndex, splits: Sequence[str] = ('train', 'test'),
                        channels: int = 3) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """Decode ``splits`` of a validated folder through ``tfds.folder_dataset.ImageFolder``.

  Returns split -> (uint8 images (N, H, W, channels), int32 labels (N,)), in
  tfds' deterministic example order. Raises ValueError naming a corrupt file or
  one whose shape differs from the others.
  """
  import tensorflow_datasets as tfds
  builder = tfds.folder_dataset.ImageFolder(index.root, shape=(None, None, channels))
  tfds_names = tuple(builder.info.features['label'].names)
  if tfds_names != index.class_names:
    raise ValueError(f'tfds ImageFolder({index.root}) found classes {tfds_names}, expected {index.class_names}')
  out = {}
  for split in splits:
    out[split] = _decode_split(builder, index, split, channels)
  first = splits[0]
  for split in splits[1:]:
    if out[split][0].shape[1:] != out[first][0].shape[1:]:
      raise ValueError(
          f'image file {index.files[split][0][0]} has shape {out[split][0].shape[1:]}, but '
          f'{index.files[first][0][0]} has shape {out[first][0].shape[1:]}: all images must have the same shape')
  return out


# ----------------------------------------------------------------------------- caching


def _cache_path(index: FolderIndex, cache_dir: str, splits: Sequence[str], channels: int) -> str:
  key_text = (f'{index.root}|{index.num_files}|{index.total_bytes}|{",".join(splits)}|{channels}|'
              f'v{_CACHE_FORMAT}')
  key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
  return os.path.join(cache_dir, 'arrays', f'{os.path.basename(index.root)}-{key}.npz')


def _load_cache(path: str, index: FolderIndex, splits: Sequence[str]):
  try:
    with np.load(path, allow_pickle=False) as z:
      if tuple(str(c) for c in z['class_names']) != index.class_names:
        return None
      return {s: (z[f'{s}_images'], z[f'{s}_labels']) for s in splits}
  except (OSError, KeyError, ValueError):
    return None  # unreadable or stale: decode again


def _save_cache(path: str, arrays, index: FolderIndex) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix='.tmp-', suffix='.npz', dir=os.path.dirname(path))
  try:
    with os.fdopen(fd, 'wb') as f:
      payload = {'class_names': np.asarray(index.class_names, dtype=str)}
      for split, (images, labels) in arrays.items():
        payload[f'{split}_images'] = images
        payload[f'{split}_labels'] = labels
      np.savez(f, **payload)  # uncompressed: loads in well under a second
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


# ----------------------------------------------------------------------------- public loader


def load_image_folder(path: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None,
                      mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                      augment: bool = True, name: str | None = None, channels: int = 3,
                      train_split: str = 'train', test_split: str = 'test',
                      use_cache: bool = True) -> ArrayDataset:
  """Load ``<path>/{train,test}/<class>/*.jpg`` (or such a .tar.gz) as an ``ArrayDataset``.

  Args:
    path: the folder holding the split folders, or a .tar.gz/.tgz/.tar archive
      holding them (at its top level or inside a single folder, as the shared
      ``cifar10-jpeg.tar.gz`` -> ``cifar10-jpeg/{train,test}``).
    cache_dir: where archives are extracted and decoded arrays cached
      (default ``~/.cache/jaxprune``).
    mean, std: per-channel normalisation in [0, 1] units. Both None: the
      paper's statistics when the dataset name is known (``dataset_stats``:
      cifar10, cifar100, cifar10-jpeg), else computed from the train split.
    augment: whether training uses pad-4 crop + flip.
    name: dataset name (default: the folder's base name, e.g. 'cifar10-jpeg').
    channels: channels to decode to (3: RGB, 1: grey).
    train_split, test_split: names of the split folders.
    use_cache: read/write the .npz cache.

  Returns:
    An ArrayDataset with uint8 (N, H, W, channels) images and int32 labels
    indexing the sorted class-folder names.
  """
  if (mean is None) != (std is None):
    raise ValueError('pass both mean and std, or neither')
  splits = (train_split, test_split)
  root = resolve_image_folder(path, cache_dir, splits)
  index = scan_image_folder(root, splits)
  cache_dir = default_cache_dir(cache_dir)
  cache_file = _cache_path(index, cache_dir, splits, channels)
  arrays = _load_cache(cache_file, index, splits) if use_cache and os.path.exists(cache_file) else None
  if arrays is None:
    arrays = decode_image_folder(index, splits, channels)
    if use_cache:
      _save_cache(cache_file, arrays, index)
  name = name or os.path.basename(index.root)
  train_images, train_labels = arrays[train_split]
  if mean is None:
    stats = known_stats(name)
    mean, std = stats if stats is not None else compute_stats(train_images)
  test_images, test_labels = arrays[test_split]
  return ArrayDataset(
      train_images=train_images,
      train_labels=train_labels.astype(np.int32),
      test_images=test_images,
      test_labels=test_labels.astype(np.int32),
      num_classes=len(index.class_names),
      class_names=index.class_names,
      mean=tuple(mean),
      std=tuple(std),
      augment=augment,
      name=name,
  )
