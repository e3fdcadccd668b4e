"""Mask pytrees: same structure as params, 1 where a weight is kept.

Masks are full-structure (no ``None`` leaves): a leaf that is not pruned has an
all-ones mask. They are float32 so that ``params * mask`` needs no cast.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def ones_like(params) -> Any:
  return jax.tree.map(lambda p: jnp.ones(jnp.shape(p), jnp.float32), params)


def check_masks(masks, params) -> None:
  """Raises ValueError if ``masks`` does not match ``params`` leaf for leaf."""
  p_paths = {jax.tree_util.keystr(k): np.shape(v)
             for k, v in jax.tree_util.tree_leaves_with_path(params)}
  m_paths = {jax.tree_util.keystr(k): np.shape(v)
             for k, v in jax.tree_util.tree_leaves_with_path(masks)}
  missing = sorted(set(p_paths) - set(m_paths))
  extra = sorted(set(m_paths) - set(p_paths))
  if missing or extra:
    raise ValueError('mask pytree does not match the params: '
                     f'missing {missing[:5]}, unexpected {extra[:5]}')
  bad = [(k, m_paths[k], p_paths[k]) for k in p_paths
         if m_paths[k] != p_paths[k]]
  if bad:
    k, ms, ps = bad[0]
    raise ValueError(f'mask {k} has shape {ms}, but the param has shape {ps}')


def apply_masks(params, masks):
  return jax.tree.map(lambda p, m: p * m.astype(p.dtype), params, masks)


def sparsity(masks, params=None) -> dict[str, float]:
  """Fraction of zeros per leaf (key path string) and overall ('total')."""
  out = {}
  zeros = total = 0
  for path, m in jax.tree_util.tree_leaves_with_path(masks):
    m = np.asarray(m)
    z = int(m.size - np.count_nonzero(m))
    out[jax.tree_util.keystr(path)] = z / max(m.size, 1)
    zeros += z
    total += m.size
  out['total'] = zeros / max(total, 1)
  return out
