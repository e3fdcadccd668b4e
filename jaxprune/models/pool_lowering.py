"""How a 2-D max pool is lowered, chosen per backend and static shape.

``lax.reduce_window`` max differentiates into ``select_and_scatter_add``,
which XLA:CPU lowers to a variadic reduce-window that carries one int32 iota
of the input's full size per dimension (four of them for NHWC) to find each
window's winner, plus a zero-filled scatter target. In VGG-16's train step at
batch 64 on 2 CPU devices the five pools' forward and backward took about
50 ms of each device's step: more than the step's other elementwise work
together (issue 12).

A non-overlapping pool (window == stride, the map divisible by it) is a
reshape and a max over the window axes, which XLA fuses with the BN and ReLU
around it. Its derivative here picks the same winner as
``select_and_scatter_add`` with ``ge`` (what ``jax.grad`` of reduce_window max
gives): scan the window in row-major order and move to an element only when
the current winner is not ``>=`` it, so ties go to the first maximum and the
forward values and every gradient are bit-equal to reduce_window's, NaNs
included. It is a ``custom_jvp``, so forward-mode and Hessian-vector products
(:mod:`jaxprune.pruning.saliency`) work as with reduce_window.

GPU and TPU keep ``reduce_window`` (their pools are fast, and a reshape of the
W axis can cost a relayout on TPU). ``JAXPRUNE_POOL_LOWERING=reduce_window``
(or ``reshape``) forces one lowering everywhere, to time the difference.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxprune.models import env_switch

LOWERINGS = ('reduce_window', 'reshape')
ENV_VAR = 'JAXPRUNE_POOL_LOWERING'
env_switch.register(ENV_VAR, LOWERINGS)


def forced_lowering() -> str | None:
  """The lowering ``JAXPRUNE_POOL_LOWERING`` forces, or None when unset.

  Raises:
    ValueError: the variable names no lowering (checked by the launcher and
      the bench before anything is built).
  """
  return env_switch.forced_choice(ENV_VAR, LOWERINGS)


def max_pool_lowering(backend: str, input_shape, window: int,
                      stride: int) -> str:
  """``'reshape'`` for a non-overlapping pool on CPU, else ``'reduce_window'``.

  Args:
    backend: ``jax.default_backend()``-style name.
    input_shape: NHWC shape of the pooled input.
    window: square window extent.
    stride: square stride.
  """
  _, h, w, _ = input_shape
  tiles = window == stride and h % window == 0 and w % window == 0
  if not tiles:
    return 'reduce_window'  # no reshape form, whatever is forced
  return forced_lowering() or ('reshape' if backend == 'cpu'
                               else 'reduce_window')


def _windows(x, window: int):
  """[N, H, W, C] -> [N, H/k, k, W/k, k, C]."""
  n, h, w, c = x.shape
  return x.reshape(n, h // window, window, w // window, window, c)


def _winner(xw):
  """Row-major index within each window of the element
  ``select_and_scatter_add(select=ge)`` picks: [N, H/k, W/k, C] int32."""
  k = xw.shape[2]
  best, index = xw[:, :, 0, :, 0, :], jnp.zeros(
      xw[:, :, 0, :, 0, :].shape, jnp.int32)
  for t in range(1, k * k):
    candidate = xw[:, :, t // k, :, t % k, :]
    move = jnp.logical_not(best >= candidate)
    best = jnp.where(move, candidate, best)
    index = jnp.where(move, t, index)
  return index


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def tiled_max_pool(x, window: int):
  """Max over non-overlapping ``window`` x ``window`` tiles of NHWC ``x``.

  Args:
    x: [N, H, W, C] with H and W divisible by ``window``.
    window: tile extent (also the stride).

  Returns:
    [N, H/window, W/window, C], equal to ``reduce_window`` max, and so are
    its derivatives (module docstring).
  """
  return jnp.max(_windows(x, window), axis=(2, 4))


@tiled_max_pool.defjvp
def _tiled_max_pool_jvp(window, primals, tangents):
  (x,), (dx,) = primals, tangents
  xw = _windows(x, window)
  index = _winner(xw)
  dxw = _windows(dx, window)
  dy = jnp.zeros(index.shape, dx.dtype)
  for t in range(window * window):
    dy = jnp.where(index == t, dxw[:, :, t // window, :, t % window, :], dy)
  return jnp.max(xw, axis=(2, 4)), dy


def max_pool(x, window: int, stride: int):
  """VALID max pool of NHWC ``x``, lowered as :func:`max_pool_lowering`
  picks for the default backend."""
  if max_pool_lowering(jax.default_backend(), x.shape, window,
                       stride) == 'reshape':
    return tiled_max_pool(x, window)
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max,
                               (1, window, window, 1), (1, stride, stride, 1),
                               'VALID')
