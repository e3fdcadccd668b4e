"""How a 2-D convolution is lowered, chosen per backend and static shape.

XLA:CPU's convolution has a cliff on tiny feature maps: a 3x3, 512->512 conv
on a 64x2x2x512 input is ~100x slower forward (and ~60x backward) than the
same conv written as im2col (pad, k*k shifted strided slices concatenated on
the channel axis, one dot), and its 1x1-conv backward is 7-10x slower than a
plain dot. On GPU and TPU the library conv (cuDNN / XLA) is left untouched.

Both the library conv and im2col also multiply the zero padding: on a 4x4
map a padded 3x3 conv does 44 % more multiply-adds than the real ones (2x2:
125 % more), which PyTorch's oneDNN convs skip. The ``'taps'`` lowering
skips them: one dot per kernel tap over the window of outputs whose input
lies inside the image, each placed into the output and summed. On CPU it
takes padded convs of at least 256 channels with output maps of at most 4x4
pixels (VGG's 4x4 and 2x2 stages). A 3x3, 512->512 conv of 32 4x4 images took 18 ms forward
and 49 ms backward on one core against the library conv's 25 and 57; on 2x2
maps it also beat im2col (15 against 23 ms forward and backward, followed by
BN and ReLU). VGG-16's train and search steps got 1.12x and 1.15x faster
(issue 12).

``conv_lowering`` names the choice (``'library'``, ``'matmul'`` or
``'taps'``) so that the bench can print it; ``conv2d`` computes NHWC x HWIO
-> NHWC with symmetric integer padding whichever it is. They agree within float32
rounding forward and backward (tests over the conv shapes of every
registered model).

Set ``JAXPRUNE_CONV_LOWERING=library`` (or ``matmul``, ``taps``) to force one
lowering everywhere, e.g. to time the difference.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxprune.models import env_switch
from jaxprune.models import fusion_cut

LOWERINGS = ('library', 'matmul', 'taps')
ENV_VAR = 'JAXPRUNE_CONV_LOWERING'
env_switch.register(ENV_VAR, LOWERINGS)
# Measured on a 2-core x86 CPU (jax 0.10): im2col wins clearly at output maps
# of at most 2x2 and loses from 8x8 up; at 4x4 the two are within ~20 %.
_CPU_MATMUL_MAX_OUTPUT_PIXELS = 4
# Per-tap dots beat the library conv on padded 4x4 output maps (70 % of its
# multiply-adds are real) from 256 channels on (one core, 32 images, conv +
# BN + ReLU forward and backward: 512 channels 70 against 86 ms, 256 19
# against 20, 128 6.8 against 5.1) and im2col on 2x2 maps (256 channels 3.7
# against 5.3 ms, 128 1.0 against 1.3); on 8x8 (84 %) they gained nothing:
# VGG-16's step with its 8x8 convs on taps too was no faster. Narrow convs
# keep one conv or one dot, which also compiles faster.
_CPU_TAPS_MAX_OUTPUT_PIXELS = 16
_CPU_TAPS_MIN_CHANNELS = 256


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
  """Output extent of one spatial axis."""
  return (size + 2 * padding - kernel) // stride + 1


def forced_lowering() -> str | None:
  """The lowering ``JAXPRUNE_CONV_LOWERING`` forces, or None when unset.

  Raises:
    ValueError: the variable names no lowering (checked by the launcher and
      the bench before anything is built).
  """
  return env_switch.forced_choice(ENV_VAR, LOWERINGS)


def conv_lowering(backend: str, input_shape, kernel_shape, strides: int,
                  padding: int) -> str:
  """The lowering ``conv2d`` uses for these static shapes on ``backend``.

  Args:
    backend: ``jax.default_backend()``-style name (``'cpu'``, ``'gpu'``,
      ``'tpu'``, ...).
    input_shape: (N, H, W, C_in).
    kernel_shape: (k, k, C_in, C_out).
    strides: the stride on both spatial axes.
    padding: symmetric zero padding on both spatial axes.

  Returns:
    On CPU ``'matmul'`` for 1x1 kernels without padding, ``'taps'`` for
    padded convs of at least 256 input and output channels with output maps
    of at most 4x4 pixels, ``'matmul'`` for the other output maps of at most
    2x2, ``'library'`` otherwise; ``'library'`` on every other backend. ``JAXPRUNE_CONV_LOWERING`` overrides the choice.
  """
  forced = forced_lowering()
  if forced:
    return forced
  if backend != 'cpu':
    return 'library'
  k = kernel_shape[0]
  if k == 1 and padding == 0:
    return 'matmul'
  oh = output_size(input_shape[1], k, strides, padding)
  ow = output_size(input_shape[2], kernel_shape[1], strides, padding)
  if (padding and oh * ow <= _CPU_TAPS_MAX_OUTPUT_PIXELS
      and min(kernel_shape[2], kernel_shape[3]) >= _CPU_TAPS_MIN_CHANNELS):
    return 'taps'
  return 'matmul' if oh * ow <= _CPU_MATMUL_MAX_OUTPUT_PIXELS else 'library'


def _im2col_conv(x, kernel, strides: int, padding: int):
  """im2col: ``(N, oh, ow, k*k*C_in) @ (k*k*C_in, C_out)``."""
  kh, kw, cin, cout = kernel.shape
  n, h, w, _ = x.shape
  oh = output_size(h, kh, strides, padding)
  ow = output_size(w, kw, strides, padding)
  if padding:
    x = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  taps = [
      jax.lax.slice(x, (0, i, j, 0),
                    (n, i + strides * (oh - 1) + 1, j + strides * (ow - 1) + 1,
                     cin), (1, strides, strides, 1))
      for i in range(kh) for j in range(kw)]
  cols = jnp.concatenate(taps, axis=-1)  # one tap (1x1) traces to no op
  return jnp.dot(cols, kernel.reshape(kh * kw * cin, cout))


def _valid_outputs(size: int, out: int, tap: int, strides: int,
                   padding: int) -> tuple[int, int]:
  """``[first, end)`` of the outputs ``o`` along one axis whose input
  ``o * strides + tap - padding`` lies inside ``[0, size)``."""
  first = max(0, -(-(padding - tap) // strides))  # ceil division
  end = min(out, (size - 1 + padding - tap) // strides + 1)
  return first, max(first, end)


def _per_tap_conv(x, kernel, strides: int, padding: int):
  """Sum over taps ``(i, j)`` of ``window(i, j) @ kernel[i, j]``, each on the
  outputs whose input is inside the image: no multiply by the padding.

  Every dot accumulates in float32 (the library conv's accumulation); the
  sum is cast back to ``x``'s dtype and materialised
  (:func:`jaxprune.models.fusion_cut.materialise`, exact, whatever
  ``JAXPRUNE_FUSION_CUT`` says): otherwise XLA:CPU fused the nine padded
  partial sums into every consumer, and a 4x4 conv's forward and backward
  under a squared loss took 1.6x the library conv's time instead of 0.8x
  (3x3, 512->512, 32 images, one core).
  """
  kh, kw, cin, cout = kernel.shape
  n, h, w, _ = x.shape
  oh = output_size(h, kh, strides, padding)
  ow = output_size(w, kw, strides, padding)
  out = jnp.zeros((n, oh, ow, cout), jnp.float32)
  for i in range(kh):
    r0, r1 = _valid_outputs(h, oh, i, strides, padding)
    for j in range(kw):
      c0, c1 = _valid_outputs(w, ow, j, strides, padding)
      if r0 == r1 or c0 == c1:
        continue  # this tap only ever sees padding
      window = jax.lax.slice(
          x, (0, r0 * strides + i - padding, c0 * strides + j - padding, 0),
          (n, (r1 - 1) * strides + i - padding + 1,
           (c1 - 1) * strides + j - padding + 1, cin),
          (1, strides, strides, 1))
      y = jnp.dot(window, kernel[i, j], preferred_element_type=jnp.float32)
      out = out + jnp.pad(y, ((0, 0), (r0, oh - r1), (c0, ow - c1), (0, 0)))
  return fusion_cut.materialise(out.astype(x.dtype))


def conv2d(x, kernel, strides: int = 1, padding: int = 0,
           lowering: str | None = None):
  """NHWC x HWIO -> NHWC convolution with symmetric integer padding.

  Args:
    x: (N, H, W, C_in).
    kernel: (k, k, C_in, C_out), already in ``x``'s dtype.
    strides: stride on both spatial axes.
    padding: zero padding on every spatial side.
    lowering: ``'library'``, ``'matmul'`` or ``'taps'``; None picks
      :func:`conv_lowering` for the default backend.

  Returns:
    (N, H_out, W_out, C_out).
  """
  if lowering is None:
    lowering = conv_lowering(jax.default_backend(), x.shape, kernel.shape,
                             strides, padding)
  if lowering == 'matmul':
    return _im2col_conv(x, kernel, strides, padding)
  if lowering == 'taps':
    return _per_tap_conv(x, kernel, strides, padding)
  if lowering != 'library':
    raise ValueError(f'unknown conv lowering {lowering!r}; use one of '
                     f'{", ".join(LOWERINGS)}')
  return jax.lax.conv_general_dilated(
      x, kernel, (strides, strides), [(padding, padding)] * 2,
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
