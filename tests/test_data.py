"""Tests for jaxprune.data: digits, on-device augmentation, image folders, streaming, registry."""

import os
import re
import tarfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxprune import data
from jaxprune.data import image_folder as image_folder_lib


# ----------------------------------------------------------------------------- digits


def test_digits_shapes_dtypes_and_labels():
  ds = data.load_digits()
  assert ds.train_images.shape == (1437, 8, 8, 1)
  assert ds.test_images.shape == (360, 8, 8, 1)
  assert ds.train_images.dtype == np.uint8 and ds.test_images.dtype == np.uint8
  assert ds.train_labels.dtype == np.int32 and ds.test_labels.dtype == np.int32
  assert ds.num_classes == 10 and ds.class_names == tuple('0123456789')
  for labels in (ds.train_labels, ds.test_labels):
    assert labels.min() == 0 and labels.max() == 9
  assert ds.train_images.max() == 255 and ds.train_images.min() == 0
  # Stratified: every class has 35-37 test examples.
  assert set(np.bincount(ds.test_labels, minlength=10)) <= {35, 36, 37}
  assert not ds.augment and ds.name == 'digits'
  x = ds.train_images.astype(np.float64) / 255
  np.testing.assert_allclose(ds.mean, [x.mean()], rtol=1e-6)
  np.testing.assert_allclose(ds.std, [x.std()], rtol=1e-6)


def test_digits_deterministic():
  a, b = data.load_digits(), data.load_digits()
  for field in ('train_images', 'train_labels', 'test_images', 'test_labels'):
    np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
  assert a.mean == b.mean and a.std == b.std


def test_array_dataset_validates():
  ds = data.load_digits()
  with pytest.raises(ValueError, match='uint8'):
    ds.replace(train_images=ds.train_images.astype(np.float32))
  with pytest.raises(ValueError, match='int32'):
    ds.replace(test_labels=ds.test_labels.astype(np.int64))
  with pytest.raises(ValueError, match='one value per channel'):
    ds.replace(mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))


# ----------------------------------------------------------------------------- augmentation


def _numpy_windows(image, pad=4):
  """All (dy, dx, flip) -> crop of the zero-padded image, independently of jaxprune."""
  h, w, _ = image.shape
  padded = np.zeros((h + 2 * pad, w + 2 * pad, image.shape[2]), image.dtype)
  padded[pad:pad + h, pad:pad + w] = image
  out = {}
  for dy in range(2 * pad + 1):
    for dx in range(2 * pad + 1):
      crop = padded[dy:dy + h, dx:dx + w]
      out[(dy, dx, False)] = crop
      out[(dy, dx, True)] = crop[:, ::-1]
  return out


def _random_images(b=8, h=12, w=10, c=3, seed=0):
  # Values >= 1 so that zero padding is distinguishable from image content.
  return np.random.default_rng(seed).integers(1, 256, (b, h, w, c), dtype=np.uint8)


def test_augment_is_a_shifted_window_of_the_zero_padded_image():
  images = _random_images()
  keys = data.example_keys(jax.random.key(3), 0, jnp.arange(8))
  out = np.asarray(data.augment_images(images, keys))
  assert out.shape == images.shape and out.dtype == np.uint8
  dys, dxs, flips = (np.asarray(a) for a in jax.vmap(data.crop_flip_params)(keys))
  for b in range(len(images)):
    windows = _numpy_windows(images[b])
    matches = [p for p, crop in windows.items() if np.array_equal(crop, out[b])]
    assert len(matches) == 1, f'example {b} is not a unique window of the padded image'
    assert matches[0] == (int(dys[b]), int(dxs[b]), bool(flips[b]))


def test_augment_covers_all_offsets_and_flips():
  n = 400
  keys = data.example_keys(jax.random.key(0), 1, jnp.arange(n))
  dy, dx, flip = (np.asarray(a) for a in jax.vmap(data.crop_flip_params)(keys))
  assert set(dy.tolist()) == set(range(9)) and set(dx.tolist()) == set(range(9))
  assert 0.4 < float(np.mean(flip)) < 0.6
  # An unshifted window (dy = dx = pad) is the image itself, or its mirror image when flipped.
  centred = np.flatnonzero((dy == 4) & (dx == 4))
  assert flip[centred].any() and not flip[centred].all()
  image = _random_images(1)[0]
  out = np.asarray(data.augment_images(np.repeat(image[None], len(centred), 0), keys[centred]))
  for o, f in zip(out, flip[centred]):
    np.testing.assert_array_equal(o, image[:, ::-1] if f else image)


def test_augment_without_flip_never_flips():
  images = _random_images(16)
  keys = data.example_keys(jax.random.key(1), 0, jnp.arange(16))
  out = np.asarray(data.augment_images(images, keys, flip=False))
  dys, dxs, _ = (np.asarray(a) for a in jax.vmap(data.crop_flip_params)(keys))
  for b in range(16):
    np.testing.assert_array_equal(out[b], _numpy_windows(images[b])[(int(dys[b]), int(dxs[b]), False)])


def test_augment_deterministic_and_independent_of_batch_split():
  images = _random_images()
  base = jax.random.key(42)
  ids = jnp.arange(8)
  whole = data.augment_images(images, data.example_keys(base, 5, ids))
  again = jax.jit(lambda x, k: data.augment_images(x, k))(images, data.example_keys(base, 5, ids))
  halves = [data.augment_images(images[s], data.example_keys(base, 5, ids[s]))
            for s in (slice(0, 4), slice(4, 8))]
  np.testing.assert_array_equal(np.asarray(whole), np.asarray(again))
  np.testing.assert_array_equal(np.asarray(whole), np.concatenate([np.asarray(h) for h in halves]))
  # Another epoch gives another augmentation.
  other = data.augment_images(images, data.example_keys(base, 6, ids))
  assert not np.array_equal(np.asarray(whole), np.asarray(other))


def test_example_keys_is_fold_in_of_epoch_then_id():
  base = jax.random.key(7)
  keys = data.example_keys(base, 3, jnp.array([0, 5, 9]))
  assert keys.shape == (3,)
  for i, example_id in enumerate([0, 5, 9]):
    expected = jax.random.fold_in(jax.random.fold_in(base, 3), example_id)
    np.testing.assert_array_equal(jax.random.key_data(keys[i]), jax.random.key_data(expected))
  # Raw uint32 keys are accepted too.
  raw = data.example_keys(jax.random.PRNGKey(7), 3, jnp.array([0, 5, 9]))
  np.testing.assert_array_equal(jax.random.key_data(raw), jax.random.key_data(keys))


def test_normalize_matches_numpy():
  images = _random_images(4)
  mean, std = data.CIFAR_MEAN, data.CIFAR_STD
  out = data.normalize(images, mean, std)
  assert out.dtype == jnp.float32 and out.shape == images.shape
  expected = (images / 255.0 - np.array(mean)) / np.array(std)
  np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- image folders

CLASSES = ('zebra', 'ant', 'mole')  # created unsorted on purpose


def _class_value(label, index):
  return 40 * label + 3 * index + 10


def _make_folder(root, counts=None, size=(6, 5), fmt='PNG', classes=CLASSES):
  """<root>/{train,test}/<class>/NN.png; pixel value encodes (sorted label, index)."""
  counts = counts or {'train': 4, 'test': 2}
  sorted_classes = sorted(classes)
  for split, n in counts.items():
    for name in classes:
      folder = root / split / name
      folder.mkdir(parents=True, exist_ok=True)
      label = sorted_classes.index(name)
      for i in range(n):
        img = np.full((size[0], size[1], 3), _class_value(label, i), np.uint8)
        img[0, 0] = (label, i, 200)
        ext = 'png' if fmt == 'PNG' else 'jpg'
        Image.fromarray(img).save(folder / f'{i:02d}.{ext}', format=fmt)
  return root


def test_image_folder_shapes_and_sorted_labels(tmp_path):
  root = _make_folder(tmp_path / 'shapes')
  ds = data.load_image_folder(root, cache_dir=tmp_path / 'cache')
  assert ds.class_names == ('ant', 'mole', 'zebra') and ds.num_classes == 3
  assert ds.train_images.shape == (12, 6, 5, 3) and ds.test_images.shape == (6, 6, 5, 3)
  assert ds.train_images.dtype == np.uint8 and ds.train_labels.dtype == np.int32
  assert ds.name == 'shapes' and ds.augment
  for images, labels in ((ds.train_images, ds.train_labels), (ds.test_images, ds.test_labels)):
    # The marker pixel holds the sorted label the image was written under.
    np.testing.assert_array_equal(images[:, 0, 0, 0], labels)
    for img, label in zip(images, labels):
      assert img[1, 1, 0] == _class_value(label, img[0, 0, 1])
  # Unknown dataset name: statistics computed from the train split.
  np.testing.assert_allclose(ds.mean, data.compute_stats(ds.train_images)[0])


def test_image_folder_cache_is_used_and_keyed_by_content(tmp_path, monkeypatch):
  root = _make_folder(tmp_path / 'cached')
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


def test_image_folder_from_tar_gz_extracts_once(tmp_path):
  root = _make_folder(tmp_path / 'src' / 'tiny-set', fmt='JPEG')
  archive = tmp_path / 'tiny-set.tar.gz'
  with tarfile.open(archive, 'w:gz') as tar:
    tar.add(root, arcname='tiny-set')
  cache = tmp_path / 'cache'
  ds = data.load_image_folder(archive, cache_dir=cache)
  assert ds.train_images.shape == (12, 6, 5, 3) and ds.name == 'tiny-set'
  extracted = list((cache / 'extracted').iterdir())
  assert len(extracted) == 1
  stamp = os.stat(extracted[0]).st_mtime_ns
  again = data.load_image_folder(archive, cache_dir=cache)
  np.testing.assert_array_equal(ds.train_images, again.train_images)
  assert list((cache / 'extracted').iterdir()) == extracted
  assert os.stat(extracted[0]).st_mtime_ns == stamp


def test_image_folder_grayscale_channels(tmp_path):
  root = _make_folder(tmp_path / 'grey')
  ds = data.load_image_folder(root, cache_dir=tmp_path / 'cache', channels=1, augment=False)
  assert ds.train_images.shape == (12, 6, 5, 1) and len(ds.mean) == 1 and not ds.augment


def _raises_naming(path, exc=ValueError):
  return pytest.raises(exc, match=re.escape(str(path)))


def test_missing_root(tmp_path):
  with _raises_naming(tmp_path / 'nowhere', FileNotFoundError):
    data.load_image_folder(tmp_path / 'nowhere', cache_dir=tmp_path / 'cache')


def test_root_without_split_folders(tmp_path):
  (tmp_path / 'empty').mkdir()
  with _raises_naming(tmp_path / 'empty'):
    data.load_image_folder(tmp_path / 'empty', cache_dir=tmp_path / 'cache')


def test_root_without_test_split(tmp_path):
  root = _make_folder(tmp_path / 'only_train', counts={'train': 2})
  with pytest.raises(ValueError, match=re.escape(str(root)) + ".*no 'test' split"):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


def test_split_without_class_folders(tmp_path):
  root = _make_folder(tmp_path / 'noclass', counts={'train': 2})
  (root / 'test').mkdir()
  with _raises_naming(root / 'test'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


def test_empty_class_folder(tmp_path):
  root = _make_folder(tmp_path / 'emptyclass')
  for f in (root / 'test' / 'mole').iterdir():
    f.unlink()
  (root / 'test' / 'mole' / 'notes.txt').write_text('not an image')
  with _raises_naming(root / 'test' / 'mole'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


def test_class_folders_differ_between_splits(tmp_path):
  root = _make_folder(tmp_path / 'differ')
  (root / 'test' / 'zebra').rename(root / 'test' / 'horse')
  with pytest.raises(ValueError, match=r'differ.*zebra.*horse'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')
  with _raises_naming(root / 'test'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


@pytest.mark.parametrize('damage', ['garbage', 'truncated', 'empty'])
def test_corrupt_image_is_named(tmp_path, damage):
  root = _make_folder(tmp_path / damage, fmt='JPEG', counts={'train': 6, 'test': 2})
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
  root = _make_folder(tmp_path / 'shape', counts={'train': 3, 'test': 2})
  odd = root / 'train' / 'zebra' / '01.png'
  Image.fromarray(np.zeros((7, 5, 3), np.uint8)).save(odd)
  with pytest.raises(ValueError, match=re.escape(str(odd)) + r'.*\(7, 5, 3\)'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


def test_test_split_with_other_shape_is_named(tmp_path):
  root = _make_folder(tmp_path / 'splitshape', counts={'train': 2})
  _make_folder(root, counts={'test': 2}, size=(4, 4))
  with pytest.raises(ValueError, match=re.escape(str(root / 'test')) + r'.*same shape'):
    data.load_image_folder(root, cache_dir=tmp_path / 'cache')


# ----------------------------------------------------------------------------- streaming pipeline


def test_streaming_pipeline_on_a_tiny_folder(tmp_path):
  root = _make_folder(tmp_path / 'stream', counts={'train': 5, 'test': 3}, size=(40, 48), fmt='JPEG')
  kwargs = dict(global_batch=4, num_devices=2, seed=0, image_size=32, resize_size=36)
  stream = data.make_folder_iterators(root, **kwargs)
  assert stream.num_train == 15 and stream.num_eval == 9 and stream.num_classes == 3
  assert stream.steps_per_epoch == 3 and stream.eval_steps == 3
  assert stream.mean == data.IMAGENET_MEAN
  train = stream.train_iterator()
  batches = [next(train) for _ in range(5)]  # repeats past one epoch
  for batch in batches:
    assert batch['image'].shape == (2, 2, 32, 32, 3) and batch['image'].dtype == np.float32
    assert batch['label'].shape == (2, 2) and batch['label'].dtype == np.int32
    np.testing.assert_array_equal(batch['mask'], np.ones((2, 2), np.float32))
    assert np.all(np.isfinite(batch['image']))
  # Reproducible for a seed.
  again = data.make_folder_iterators(root, **kwargs).train_iterator()
  for batch in batches:
    b2 = next(again)
    np.testing.assert_array_equal(batch['image'], b2['image'])
    np.testing.assert_array_equal(batch['label'], b2['label'])

  evals = list(stream.eval_iterator())
  assert len(evals) == 3
  masks = np.stack([b['mask'] for b in evals])
  assert masks.shape == (3, 2, 2) and masks.sum() == 9
  np.testing.assert_array_equal(masks[-1].reshape(-1), [1, 0, 0, 0])
  assert np.all(evals[-1]['image'].reshape(4, -1)[1:] == 0)
  # Eval images are nearly constant per image (JPEG of a flat colour plus a marker pixel):
  # the centre crop removes the marker and normalisation is (v / 255 - mean) / std.
  labels = np.concatenate([b['label'].reshape(-1) for b in evals])[:9]
  images = np.concatenate([b['image'].reshape(4, 32, 32, 3) for b in evals])[:9]
  pixel = images * np.array(data.IMAGENET_STD) + np.array(data.IMAGENET_MEAN)
  assert np.all(np.abs(pixel[:, 16, 16, 0] * 255 - (40 * labels + 10)) <= 3 * 2 + 4)
  assert sorted(np.bincount(labels).tolist()) == [3, 3, 3]


def test_streaming_pipeline_reads_png(tmp_path):
  root = _make_folder(tmp_path / 'pngs', counts={'train': 2, 'test': 1}, size=(40, 48))
  stream = data.make_folder_iterators(root, global_batch=2, num_devices=1, seed=1, image_size=24,
                                      resize_size=28, mean=(0.5,) * 3, std=(0.5,) * 3)
  batch = next(stream.train_iterator())
  assert batch['image'].shape == (1, 2, 24, 24, 3) and np.all(np.abs(batch['image']) <= 1.0 + 1e-5)
  evals = list(stream.eval_iterator())
  assert [b['mask'].sum() for b in evals] == [2, 1]


def test_streaming_rejects_bad_layout(tmp_path):
  with pytest.raises(ValueError, match='multiple of num_devices'):
    data.make_folder_iterators(_make_folder(tmp_path / 'f', size=(40, 48)), global_batch=3, num_devices=2,
                               image_size=32, resize_size=36)
  with _raises_naming(tmp_path / 'missing', FileNotFoundError):
    data.make_folder_iterators(tmp_path / 'missing', global_batch=4, num_devices=2)


# ----------------------------------------------------------------------------- registry and sources


def test_registry():
  assert data.dataset_names() == ['cifar10', 'cifar100', 'digits', 'image_folder', 'imagenet2012']
  ds = data.load_dataset('digits')
  assert ds.train_images.shape == (1437, 8, 8, 1)
  with pytest.raises(ValueError, match=r"unknown dataset 'mnist'.*cifar10.*digits.*image_folder.*imagenet2012"):
    data.load_dataset('mnist')
  with pytest.raises(ValueError, match='path'):
    data.load_dataset('image_folder')


def test_dataset_stats():
  for name in ('cifar10', 'cifar100', 'cifar10-jpeg', '/x/y/cifar10-jpeg', '/x/cifar10-jpeg.tar.gz'):
    assert data.dataset_stats(name) == ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
  assert data.dataset_stats('imagenet2012') == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
  with pytest.raises(ValueError, match='svhn'):
    data.dataset_stats('svhn')


def test_tfds_arrays_missing_dataset_is_a_clear_error(tmp_path):
  empty = tmp_path / 'tfds'
  with pytest.raises(FileNotFoundError, match=r"'cifar100'.*" + re.escape(str(empty))):
    data.load_tfds_arrays('cifar100', data_dir=empty)
  with pytest.raises(FileNotFoundError, match=r"'cifar10'.*" + re.escape(str(empty))):
    data.load_dataset('cifar10', data_dir=empty)
  with pytest.raises(ValueError, match='mnist'):
    data.load_tfds_arrays('mnist')


def test_imagenet_missing_is_a_clear_error(tmp_path):
  with pytest.raises(FileNotFoundError, match=r"'imagenet2012'.*" + re.escape(str(tmp_path / 'manual'))):
    data.make_imagenet_iterators(tmp_path / 'tfds', tmp_path / 'manual', global_batch=8, num_devices=1)


# ----------------------------------------------------------------------------- real CIFAR-10 (JPEG)


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
