"""On-device augmentation with per-example keys, and normalisation."""


import jax
import jax.numpy as jnp
import numpy as np

from jaxprune import data
from tests.data.common import numpy_windows, random_images


def test_augment_is_a_shifted_window_of_the_zero_padded_image():
  images = random_images()
  keys = data.example_keys(jax.random.key(3), 0, jnp.arange(8))
  out = np.asarray(data.augment_images(images, keys))
  assert out.shape == images.shape and out.dtype == np.uint8
  dys, dxs, flips = (np.asarray(a) for a in jax.vmap(data.crop_flip_params)(keys))
  for b in range(len(images)):
    windows = numpy_windows(images[b])
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
  image = random_images(1)[0]
  out = np.asarray(data.augment_images(np.repeat(image[None], len(centred), 0), keys[centred]))
  for o, f in zip(out, flip[centred]):
    np.testing.assert_array_equal(o, image[:, ::-1] if f else image)


def test_augment_without_flip_never_flips():
  images = random_images(16)
  keys = data.example_keys(jax.random.key(1), 0, jnp.arange(16))
  out = np.asarray(data.augment_images(images, keys, flip=False))
  dys, dxs, _ = (np.asarray(a) for a in jax.vmap(data.crop_flip_params)(keys))
  for b in range(16):
    np.testing.assert_array_equal(out[b], numpy_windows(images[b])[(int(dys[b]), int(dxs[b]), False)])


def test_augment_deterministic_and_independent_of_batch_split():
  images = random_images()
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
  images = random_images(4)
  mean, std = data.CIFAR_MEAN, data.CIFAR_STD
  out = data.normalize(images, mean, std)
  assert out.dtype == jnp.float32 and out.shape == images.shape
  expected = (images / 255.0 - np.array(mean)) / np.array(std)
  np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5, atol=1e-5)
