"""On-device CIFAR-style augmentation and normalisation (pure JAX, jit-friendly).

The augmentation of one example depends only on (seed, epoch, example id): every
example gets its own key ``fold_in(fold_in(base_key, epoch), example_id)``
(``example_keys``), so results do not depend on the batch size or on how a
batch is split across devices.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp


def _as_typed_keys(keys: jax.Array) -> jax.Array:
  if jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
    return keys
  # Raw uint32 key data, e.g. (B, 2) from the legacy jax.random.PRNGKey.
  return jax.random.wrap_key_data(keys)


def example_keys(base_key: jax.Array, epoch: int | jax.Array, example_ids: jax.Array) -> jax.Array:
  """Per-example keys ``fold_in(fold_in(base_key, epoch), id)``.

  Args:
    base_key: a scalar typed key (``jax.random.key(seed)``); a raw
      ``PRNGKey`` (shape (2,) uint32) is accepted too.
    epoch: int scalar (may be traced).
    example_ids: int array (B,): the index of each example in its split.

  Returns:
    A typed key array of shape (B,).
  """
  base_key = _as_typed_keys(jnp.asarray(base_key))
  epoch_key = jax.random.fold_in(base_key, epoch)
  ids = jnp.asarray(example_ids)
  return jax.vmap(lambda i: jax.random.fold_in(epoch_key, i))(ids)


def crop_flip_params(key: jax.Array, pad: int = 4) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The random choices made for one example.

  Args:
    key: a scalar typed key.
    pad: zero padding on each side.

  Returns:
    (dy, dx, flip): int32 scalars in [0, 2 * pad] giving the top-left corner of
    the crop window inside the padded image, and a bool scalar (flip
    horizontally after cropping).
  """
  k_y, k_x, k_flip = jax.random.split(key, 3)
  dy = jax.random.randint(k_y, (), 0, 2 * pad + 1, dtype=jnp.int32)
  dx = jax.random.randint(k_x, (), 0, 2 * pad + 1, dtype=jnp.int32)
  flip = jax.random.bernoulli(k_flip)
  return dy, dx, flip


def _augment_one(image: jax.Array, key: jax.Array, pad: int, flip: bool) -> jax.Array:
  height, width, channels = image.shape
  dy, dx, do_flip = crop_flip_params(key, pad)
  padded = jnp.pad(image, ((pad, pad), (pad, pad), (0, 0)))
  crop = jax.lax.dynamic_slice(padded, (dy, dx, jnp.int32(0)), (height, width, channels))
  if not flip:
    return crop
  return jnp.where(do_flip, crop[:, ::-1, :], crop)


def augment_images(images: jax.Array, keys: jax.Array, *, pad: int = 4, flip: bool = True) -> jax.Array:
  """Zero-pad ``pad`` pixels, random crop back to H x W, random horizontal flip.

  Args:
    images: (B, H, W, C) images (usually uint8); dtype is preserved.
    keys: (B,) typed keys, one per example (see ``example_keys``); raw
      (B, 2) uint32 key data is accepted too.
    pad: zero padding on each side (4 for CIFAR).
    flip: whether to flip each example with probability 1/2.

  Returns:
    (B, H, W, C) array, same dtype as ``images``. Example b is the window
    ``padded[dy:dy+H, dx:dx+W]`` of the zero-padded image, mirrored
    left-right when its flip bit is set (``crop_flip_params(keys[b], pad)``).
  """
  images = jnp.asarray(images)
  if images.ndim != 4:
    raise ValueError(f'augment_images expects (B, H, W, C) images, got shape {images.shape}')
  keys = _as_typed_keys(jnp.asarray(keys))
  if keys.shape != images.shape[:1]:
    raise ValueError(f'augment_images needs one key per example: keys {keys.shape} for images {images.shape}')
  return jax.vmap(lambda x, k: _augment_one(x, k, pad, flip))(images, keys)


def normalize(images: jax.Array, mean: Sequence[float], std: Sequence[float]) -> jax.Array:
  """float32 ``(images / 255 - mean) / std``.

  Args:
    images: (..., C) uint8 (or any numeric) images with values 0..255.
    mean: C per-channel means in [0, 1] units.
    std: C per-channel standard deviations in [0, 1] units.

  Returns:
    float32 array of the same shape as ``images``.
  """
  x = jnp.asarray(images).astype(jnp.float32) * jnp.float32(1.0 / 255.0)
  mean = jnp.asarray(mean, jnp.float32)
  std = jnp.asarray(std, jnp.float32)
  return (x - mean) / std
