"""``load_dataset(name, **options)``: every dataset by name."""

from __future__ import annotations

from typing import Any, Callable

from jaxprune.data.arrays import ArrayDataset
from jaxprune.data.digits import load_digits
from jaxprune.data.image_folder import load_image_folder
from jaxprune.data.imagenet import StreamingData, make_imagenet_iterators
from jaxprune.data.tfds_sources import load_tfds_arrays
from jaxprune.registry import Registry

CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')


def _cifar(name: str) -> Callable[..., ArrayDataset]:
  def load(path=None, **options) -> ArrayDataset:
    if path is None:
      return load_tfds_arrays(name, **options)
    # A CIFAR image folder / archive (e.g. the shared cifar10-jpeg.tar.gz) under the CIFAR name;
    # the tfds-only options do not apply to it.
    options.pop('data_dir', None)
    options.pop('download', None)
    options.setdefault('name', name)
    ds = load_image_folder(path, **options)
    if name == 'cifar10' and ds.class_names != CIFAR10_CLASSES:
      raise ValueError(f'{path} does not hold the CIFAR-10 classes {CIFAR10_CLASSES}: found {ds.class_names}')
    return ds
  load.__doc__ = (f"'{name}': tfds arrays (options of load_tfds_arrays), or with path=... an image folder or "
                  'archive (options of load_image_folder).')
  return load


def _image_folder(path=None, **options) -> ArrayDataset:
  if path is None:
    raise ValueError("dataset 'image_folder' needs a path option: load_dataset('image_folder', path=...)")
  return load_image_folder(path, **options)


_LOADERS: Registry[Callable[..., Any]] = Registry('dataset')
for _name, _loader in (('digits', load_digits), ('cifar10', _cifar('cifar10')),
                       ('cifar100', _cifar('cifar100')),
                       ('image_folder', _image_folder),
                       ('imagenet2012', make_imagenet_iterators)):
  _LOADERS.register(_name, _loader)


def register_dataset(name: str, loader: Callable[..., Any]) -> None:
  """Adds a loader ``(**options) -> ArrayDataset | StreamingData``."""
  _LOADERS.register(name, loader)


def check_dataset(name: str) -> None:
  """Raises ValueError (listing the known names) for an unknown dataset."""
  _LOADERS.get(name)


def dataset_names() -> list[str]:
  """Names accepted by ``load_dataset``."""
  return _LOADERS.names()


def load_dataset(name: str, **options) -> ArrayDataset | StreamingData:
  """Load a dataset by name.

  - 'digits': ``load_digits(**options)`` (embedded, no download).
  - 'cifar10', 'cifar100': ``load_tfds_arrays(name, data_dir=..., download=...)``;
    with ``path=`` an image folder / .tar.gz instead (``load_image_folder``).
  - 'image_folder': ``load_image_folder(path, **options)``; ``path`` required.
  - 'imagenet2012': ``make_imagenet_iterators(data_dir=..., manual_dir=...,
    global_batch=..., num_devices=..., seed=...)``, a streaming dataset.

  Raises:
    ValueError: unknown name (the message lists the known ones).
  """
  return _LOADERS.get(name)(**options)
