"""Image folders read through tfds: layout checks, decode, cache, real CIFAR-10."""

import re
import time

import numpy as np
import pytest
from PIL import Image

from jaxprune import data
from jaxprune.data import image_folder as image_folder_lib
from tests.data.common import class_value, make_folder, raises_naming


def test_image_folder_shapes_and_sorted_labels(tmp_path):
  root = make_folder(tmp_path / 'shapes')
  ds = data.load_image_folder(root, cache_dir=tmp_path / 'cache')
  assert ds.class_names == ('ant', 'mole', 'zebra') and ds.num_classes == 3
  assert ds.train_images.shape == (12, 6, 5, 3) and ds.test_images.shape == (6, 6, 5, 3)
  assert ds.train_images.dtype == np.uint8 and ds.train_labels.dtype == np.int32
  assert ds.name == 'shapes' and ds.augment
  for images, labels in ((ds.train_images, ds.train_labels), (ds.test_images, ds.test_labels)):
    # The marker pixel holds the sorted label the image was written under.
    np.testing.assert_array_equal(images[:, 0, 0, 0], labels)
    for img, label in zip(images, labels):
      assert img[1, 1, 0] == class_value(label, img[0, 0, 1])
  # Unknown dataset name: statistics computed from the train split.
  np.testing.assert_allclose(ds.mean, data.compute_stats(ds.train_images)[0])


def test_image_folder_cache_is_used_and_keyed_by_content(tmp_path, monkeypatch):
  root = make_folder(tmp_path / 'cached')
  cache = tmp_path / 'cache'
  first = data.load_image_folder(root, cache_dir=cache, mean=(0.5,) * 3, std=(0.25,) * 3)
  assert len(list((cache / 'arrays').glob('cached-*.npz'))) == 1

  def no_decode(*args, **kwargs):
    raise AssertionError('decoded again although the cache is valid')

  monkeypatch.setattr(image_folder_lib, 'decode_image_folder', no_decode)
  second = data.load_image_folder(root, cache_dir=cache, mean=(0.5,) * 3, std=(0.25,) * 3)
  np.testing.assert_array_equal(first.train_images, second.train_images)
  np.testing.assert_array_equal(first.test_labels, second.test_labels)
  assert second.mean == (0.5,) * 3
  # A new file changes the key: decoded again.
  Image.fromarray(np.zeros((6, 5, 3), np.uint8)).save(root / 'train' / 'ant' / '99.png')
  with pytest.raises(AssertionError, match='decoded again'):
    data.load_image_folder(root, cache_dir=cache)


def test_image_folder_grayscale_channels(tmp_path):
  root = make_folder(tmp_path / 'grey')
  ds = data.load_image_folder(root, cache_dir=tmp_path / 'cache', channels=1, augment=False)
  assert ds.train_images.shape == (12, 6, 5, 1) and len(ds.mean) == 1 and not ds.augment


def test_missing_root(tmp_path):
  with raises_naming(tmp_path / 'nowhere', FileNotFoundError):
    data.load_image_folder(tmp_path / 'nowhere', cache_dir=tmp_path / 'cache')


def test_root_without_split_folders(tmp_path):
  (tmp_path / 'empty').mkdir()
  with raises_naming(tmp_path / 'empty'):
    data.load_image_folder(tmp_path / 'empty', cache_dir=tmp_path / 'cache')


def test_root_without_test_split(tmp_path):
  root = make_folder(tmp_path / 'only_train', counts={'train': 2})
  with pytest.raises(ValueError, match=re.escape(str(root)) + ".*no 'test' split"):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


def test_split_without_class_folders(tmp_path):
  root = make_folder(tmp_path / 'noclass', counts={'train': 2})
  (root / 'test').mkdir()
  with raises_naming(root / 'test'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


def test_empty_class_folder(tmp_path):
  root = make_folder(tmp_path / 'emptyclass')
  for f in (root / 'test' / 'mole').iterdir():
    f.unlink()
  (root / 'test' / 'mole' / 'notes.txt').write_text('not an image')
  with raises_naming(root / 'test' / 'mole'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


def test_class_folders_differ_between_splits(tmp_path):
  root = make_folder(tmp_path / 'differ')
  (root / 'test' / 'zebra').rename(root / 'test' / 'horse')
  with pytest.raises(ValueError, match=r'differ.*zebra.*horse'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')
  with raises_naming(root / 'test'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


@pytest.mark.parametrize('damage', ['garbage', 'truncated', 'empty'])
def test_corrupt_image_is_named(tmp_path, damage):
  root = make_folder(tmp_path / damage, fmt='JPEG', counts={'train': 6, 'test': 2})
  bad = root / 'train' / 'mole' / '03.jpg'
  if damage == 'garbage':
    bad.write_bytes(b'this is not a JPEG at all' * 10)
  elif damage == 'truncated':
    bad.write_bytes(bad.read_bytes()[:40])
  else:
    bad.write_bytes(b'')
  with pytest.raises(ValueError, match=r'corrupt or malformed image file ' + re.escape(str(bad))):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


def test_image_with_other_shape_is_named(tmp_path):
  root = make_folder(tmp_path / 'shape', counts={'train': 3, 'test': 2})
  odd = root / 'train' / 'zebra' / '01.png'
  Image.fromarray(np.zeros((7, 5, 3), np.uint8)).save(odd)
  with pytest.raises(ValueError, match=re.escape(str(odd)) + r'.*\(7, 5, 3\)'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


def test_test_split_with_other_shape_is_named(tmp_path):
  root = make_folder(tmp_path / 'splitshape', counts={'train': 2})
  make_folder(root, counts={'test': 2}, size=(4, 4))
  with pytest.raises(ValueError, match=re.escape(str(root / 'test')) + r'.*same shape'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


@pytest.fixture(scope='session')
def cifar10_jpeg(cifar10_jpeg_archive, data_cache_dir):
  start = time.perf_counter()
  ds = data.load_image_folder(cifar10_jpeg_archive, cache_dir=data_cache_dir)
  print(f'\ncifar10-jpeg first load (extract + decode + cache): {time.perf_counter() - start:.1f} s')
  return ds


def test_real_cifar10_jpeg(cifar10_jpeg):
  ds = cifar10_jpeg
  assert ds.train_images.shape == (50000, 32, 32, 3) and ds.test_images.shape == (10000, 32, 32, 3)
  assert ds.train_images.dtype == np.uint8 and ds.train_labels.dtype == np.int32
  assert ds.class_names == data.CIFAR10_CLASSES and ds.num_classes == 10
  np.testing.assert_array_equal(np.bincount(ds.train_labels), [5000] * 10)
  np.testing.assert_array_equal(np.bincount(ds.test_labels), [1000] * 10)
  assert ds.mean == data.CIFAR_MEAN and ds.std == data.CIFAR_STD and ds.augment
  # The JPEG images are close to the paper's CIFAR statistics.
  mean, std = data.compute_stats(ds.train_images[::10])
  np.testing.assert_allclose(mean, data.CIFAR_MEAN, atol=0.01)


def test_real_cifar10_jpeg_cached_load_is_fast(cifar10_jpeg, cifar10_jpeg_archive, data_cache_dir):
  start = time.perf_counter()
  ds = data.load_dataset('cifar10', path=cifar10_jpeg_archive, cache_dir=data_cache_dir)
  elapsed = time.perf_counter() - start
  print(f'\ncifar10-jpeg cached load: {elapsed:.2f} s')
  assert elapsed < 5.0
  assert ds.name == 'cifar10' and ds.class_names == data.CIFAR10_CLASSES
  assert ds.train_images.shape == cifar10_jpeg.train_images.shape
  np.testing.assert_array_equal(ds.train_images[::97], cifar10_jpeg.train_images[::97])
  np.testing.assert_array_equal(ds.test_labels, cifar10_jpeg.test_labels)
