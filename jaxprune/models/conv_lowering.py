"""How a 2-D convolution is lowered, chosen per backend and static shape.

XLA:CPU's convolution has a cliff on tiny feature maps: a 3x3, 512->512 conv
on a 64x2x2x512 input is ~100x slower forward (and ~60x backward) than the
same conv written as im2col (pad, k*k shifted strided slices concatenated on
the channel axis, one dot), and its 1x1-conv backward is 7-10x slower than a
plain dot. On GPU and TPU the library conv (cuDNN / XLA) is left untouched.

``conv_lowering`` names the choice (``'library'`` or ``'matmul'``) so that the
bench can print it; ``conv2d`` computes NHWC x HWIO -> NHWC with symmetric
integer padding either way. The two agree within float32 rounding forward and
backward (tests over the conv shapes of every registered model).

Set ``JAXPRUNE_CONV_LOWERING=library`` (or ``matmul``) to force one lowering
everywhere, e.g. to time the difference.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp

LOWERINGS = ('library', 'matmul')
ENV_VAR = 'JAXPRUNE_CONV_LOWERING'
# Measured on a 2-core x86 CPU (jax 0.10): im2col wins clearly at output maps
# of at most 2x2 and loses from 8x8 up; at 4x4 the two are within ~20 %.
_CPU_MATMUL_MAX_OUTPUT_PIXELS = 4


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
  """Output extent of one spatial axis."""
  return (size + 2 * padding - kernel) // stride + 1


def forced_lowering() -> str | None:
  """The lowering ``JAXPRUNE_CONV_LOWERING`` forces, or None when unset.

  Raises:
    ValueError: the variable names no lowering (checked by the launcher and
      the bench before anything is built).
  """
  forced = os.environ.get(ENV_VAR, '').strip().lower()
  if forced and forced not in LOWERINGS:
    raise ValueError(f'{ENV_VAR}={forced!r}; use one of {", ".join(LOWERINGS)}')
  return forced or None


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
    ``'matmul'`` on CPU for 1x1 kernels without padding and for output maps
    of at most 2x2 pixels; ``'library'`` otherwise and on every other
    backend. ``JAXPRUNE_CONV_LOWERING`` overrides the choice.
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


def conv2d(x, kernel, strides: int = 1, padding: int = 0,
           lowering: str | None = None):
  """NHWC x HWIO -> NHWC convolution with symmetric integer padding.

  Args:
    x: (N, H, W, C_in).
    kernel: (k, k, C_in, C_out), already in ``x``'s dtype.
    strides: stride on both spatial axes.
    padding: zero padding on every spatial side.
    lowering: ``'library'`` or ``'matmul'``; None picks
      :func:`conv_lowering` for the default backend.

  Returns:
    (N, H_out, W_out, C_out).
  """
  if lowering is None:
    lowering = conv_lowering(jax.default_backend(), x.shape, kernel.shape,
                             strides, padding)
  if lowering == 'matmul':
    return _im2col_conv(x, kernel, strides, padding)
  if lowering != 'library':
    raise ValueError(f'unknown conv lowering {lowering!r}; use one of '
                     f'{", ".join(LOWERINGS)}')
  return jax.lax.conv_general_dilated(
      x, kernel, (strides, strides), [(padding, padding)] * 2,
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
