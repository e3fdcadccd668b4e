"""Unstructured magnitude pruning (Han et al.; rethinking.md §3.6).

Only conv kernels (4-D ``kernel`` leaves: first, block and downsample convs)
are pruned; Dense, BN and bias leaves get all-ones masks. Masks are float32
0/1 pytrees with the structure of ``params`` (see :mod:`jaxprune.masks`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxprune.criteria import _util


def _conv_leaves(params):
  return [(p, np.asarray(v)) for p, v in
          jax.tree_util.tree_leaves_with_path(params)
          if _util.is_conv_kernel(p, v)]


def _masks_from(params, fn):
  """fn(key_path, np leaf) -> 0/1 array for conv kernels; ones elsewhere."""
  def one(path, leaf):
    if _util.is_conv_kernel(path, leaf):
      return jnp.asarray(fn(path, np.asarray(leaf)), jnp.float32)
    return jnp.ones(np.shape(leaf), jnp.float32)
  return _util.map_with_path(one, params)


def global_magnitude_masks(params, sparsity: float):
  """One global threshold over all conv kernels (``cifar_prune.py``).

  ``thr = sorted(|w|)[int(total*sparsity)]``; keep ``|w| > thr``.
  ``sparsity = 0`` keeps every non-zero weight.
  """
  sparsity = _util.check_ratio(sparsity, 'sparsity')
  leaves = _conv_leaves(params)
  if not leaves:
    raise ValueError('params hold no conv kernel to prune')
  allw = np.sort(np.concatenate([np.abs(v).ravel() for _, v in leaves]))
  if sparsity == 0.0:
    return _masks_from(params, lambda p, w: w != 0)
  thr = allw[int(allw.size * sparsity)]
  return _masks_from(params, lambda p, w: np.abs(w) > thr)


def layerwise_magnitude_masks(params, sparsity: float):
  """The same rule with a separate threshold per conv kernel."""
  sparsity = _util.check_ratio(sparsity, 'sparsity')

  def one(path, w):
    if sparsity == 0.0:
      return w != 0
    a = np.sort(np.abs(w).ravel())
    return np.abs(w) > a[int(a.size * sparsity)]
  return _masks_from(params, one)


def iterative_magnitude_masks(params, masks, fraction: float):
  """Prunes ``fraction`` of the currently non-zero conv weights.

  ``cifar_prune_iterative.py``: the weights are ``params * masks``; with
  ``z`` zeros and ``nnz`` non-zeros over all conv kernels,
  ``thr = sorted(|w|)[z + int(nnz*fraction)]`` and ``|w| > thr`` is kept.
  """
  fraction = _util.check_ratio(fraction, 'fraction')
  if masks is not None:
    params = jax.tree.map(lambda p, m: np.asarray(p) * np.asarray(m),
                          params, masks)
  leaves = _conv_leaves(params)
  allw = np.sort(np.concatenate([np.abs(v).ravel() for _, v in leaves]))
  nnz = int(np.count_nonzero(allw))
  zeros = allw.size - nnz
  idx = zeros + int(nnz * fraction)
  if fraction == 0.0 or idx >= allw.size:
    return _masks_from(params, lambda p, w: w != 0)
  thr = allw[idx]
  return _masks_from(params, lambda p, w: np.abs(w) > thr)


def random_unstructured_masks(params, sparsity: float, seed: int = 0,
                              layerwise: bool = True):
  """Uniform random sparsification baseline (§10): each conv kernel keeps a
  random ``1 - sparsity`` fraction (``round(size*(1-sparsity))`` weights,
  at least one); ``layerwise=False`` draws one global random subset."""
  sparsity = _util.check_ratio(sparsity, 'sparsity')
  rng = np.random.default_rng(seed)
  if layerwise:
    def one(path, w):
      keep = max(1, int(round(w.size * (1 - sparsity))))
      m = np.zeros(w.size, bool)
      m[rng.permutation(w.size)[:keep]] = True
      return m.reshape(w.shape)
    return _masks_from(params, one)
  leaves = _conv_leaves(params)
  sizes = [v.size for _, v in leaves]
  total = sum(sizes)
  flat = np.zeros(total, bool)
  flat[rng.permutation(total)[:max(1, int(round(total * (1 - sparsity))))]] = 1
  chunks = iter(np.split(flat, np.cumsum(sizes)[:-1]))
  return _masks_from(params, lambda p, w: next(chunks).reshape(w.shape))


def sparse_he_reinit(params, masks, key):
  """Scratch init of sparse convs (``cifar_E.py``/``main_E.py``, §3.6).

  Each conv kernel becomes ``N(0, sqrt(2/n))`` with ``n = nnz(mask)/C_in``
  (fan-out He scaled by the density), then masked; other leaves are kept.
  """
  leaves = jax.tree_util.tree_leaves_with_path(params)
  keys = iter(jax.random.split(key, max(len(leaves), 1)))
  mask_leaves = dict((_util.path_str(p), m) for p, m in
                     jax.tree_util.tree_leaves_with_path(masks))

  def one(path, w):
    k = next(keys)
    if not _util.is_conv_kernel(path, w):
      return w
    m = jnp.asarray(mask_leaves[_util.path_str(path)], jnp.float32)
    nnz = float(np.count_nonzero(np.asarray(m)))
    cin = w.shape[2]
    n = max(nnz / cin, 1e-12)
    std = math.sqrt(2.0 / n)
    return (std * jax.random.normal(k, w.shape, jnp.float32)).astype(
        w.dtype) * m.astype(w.dtype)
  return _util.map_with_path(one, params)


def density(masks, conv_only: bool = True) -> float:
  """Fraction of kept weights (over conv kernels by default)."""
  kept = total = 0
  for p, m in jax.tree_util.tree_leaves_with_path(masks):
    if conv_only and not _util.is_conv_kernel(p, m):
      continue
    m = np.asarray(m)
    kept += int(np.count_nonzero(m))
    total += m.size
  return kept / max(total, 1)
