"""Shared helpers: ratio checks and nested-dict <-> path conversions."""

from __future__ import annotations

import numpy as np
import jax


def check_ratio(p, what: str = 'prune ratio') -> float:
  """A prune ratio must be a number in [0, 1)."""
  try:
    value = float(p)
  except (TypeError, ValueError):
    raise ValueError(f'{what} must be a number in [0, 1), got {p!r}') from None
  if not 0.0 <= value < 1.0 or np.isnan(value):
    raise ValueError(f'{what} must be in [0, 1), got {p!r}')
  return value


def path_str(key_path) -> str:
  """jax key path -> 'a/b/c'."""
  parts = []
  for k in key_path:
    parts.append(str(getattr(k, 'key', getattr(k, 'name', k))))
  return '/'.join(parts)


def is_conv_kernel(key_path, leaf) -> bool:
  """4-D leaves named 'kernel' (HWIO conv kernels; Dense kernels are 2-D)."""
  last = key_path[-1]
  return getattr(last, 'key', None) == 'kernel' and np.ndim(leaf) == 4


def map_with_path(fn, tree):
  return jax.tree_util.tree_map_with_path(fn, tree)
