"""Data stage of jaxprune: datasets as arrays or streams, and on-device augmentation.

- ``load_dataset(name, **options)``: 'digits', 'cifar10', 'cifar100',
  'image_folder' (path=...), 'imagenet2012'.
- ``ArrayDataset``: small datasets held as uint8 arrays (put on device whole).
- ``augment_images`` / ``normalize`` / ``example_keys``: jit-friendly JAX
  augmentation whose randomness depends only on (seed, epoch, example id).
- ``StreamingData`` (``make_imagenet_iterators``, ``make_folder_iterators``):
  tf.data pipelines with ImageNet preprocessing and (devices, per-device) batches.
- ``ArraySource`` / ``StreamingSource``: what the train loop reads batches from.
- ``load_data(config.data, ...)`` / ``make_source(...)``: the data stage from a
  config.
"""

from jaxprune.data.archive import extract_archive
from jaxprune.data.arrays import ArrayDataset
from jaxprune.data.augment import augment_images, crop_flip_params, example_keys, normalize
from jaxprune.data.digits import load_digits
from jaxprune.data.image_folder import FolderIndex, find_bad_image, load_image_folder, scan_image_folder
from jaxprune.data.imagenet import StreamingData, build_pipeline, make_folder_iterators, make_imagenet_iterators
from jaxprune.data.registry import CIFAR10_CLASSES, check_dataset, dataset_names, load_dataset, register_dataset
from jaxprune.data.stats import CIFAR_MEAN, CIFAR_STD, IMAGENET_MEAN, IMAGENET_STD, compute_stats, dataset_stats
from jaxprune.data.tfds_sources import load_tfds_arrays
from jaxprune.data.sources import ArraySource, StreamingSource, check_batch_size
from jaxprune.data.from_config import check_data_config, load_data, make_source

__all__ = [
    'ArrayDataset',
    'ArraySource',
    'StreamingSource',
    'check_batch_size',
    'check_data_config',
    'load_data',
    'make_source',
    'CIFAR10_CLASSES',
    'CIFAR_MEAN',
    'CIFAR_STD',
    'FolderIndex',
    'IMAGENET_MEAN',
    'IMAGENET_STD',
    'StreamingData',
    'augment_images',
    'build_pipeline',
    'compute_stats',
    'crop_flip_params',
    'check_dataset',
    'dataset_names',
    'register_dataset',
    'dataset_stats',
    'example_keys',
    'extract_archive',
    'find_bad_image',
    'load_dataset',
    'load_digits',
    'load_image_folder',
    'load_tfds_arrays',
    'make_folder_iterators',
    'make_imagenet_iterators',
    'normalize',
    'scan_image_folder',
]
