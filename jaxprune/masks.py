"""Weight masks: full-structure 0/1 pytrees, which leaves are prunable, density.

A mask has the structure of the params it masks, leaf for leaf (no ``None``
leaves): 1.0 where a weight is kept, 0.0 where it is pruned, all ones on
leaves that are not pruned. Masks are float32 so that ``params * mask`` needs
no cast and both values are exact.

*Prunable kernels* are the conv kernels (4-D leaves named ``kernel``, HWIO
``(kh, kw, C_in, C_out)``) and the classifier's 2-D ``kernel`` ``(in, C)``
(the classifier is named by the model's spec, ``ModelSpec.classifier``).
Criteria prune conv kernels; the Lottery-Jackpot search masks the classifier
too but keeps it dense (prune count 0).
"""

from __future__ import annotations

from typing import Any, Iterable

import jax
import jax.numpy as jnp
import numpy as np

from jaxprune import tree as tree_lib

MASK_DTYPE = jnp.float32
KERNEL = 'kernel'


def is_conv_kernel(path: tree_lib.Path, leaf: Any) -> bool:
  """A 4-D leaf named ``kernel`` (an HWIO conv kernel)."""
  return bool(path) and path[-1] == KERNEL and np.ndim(leaf) == 4


def conv_kernel_paths(params: Any) -> list[tree_lib.Path]:
  """Paths of every conv kernel, in flattening order."""
  return [p for p, v in tree_lib.flatten(params) if is_conv_kernel(p, v)]


def prunable_paths(params: Any, classifier: str = 'classifier'
                   ) -> list[tree_lib.Path]:
  """Conv kernels and the classifier's 2-D kernel, in flattening order.

  Args:
    params: a param tree (arrays, tracers or ``ShapeDtypeStruct`` leaves).
    classifier: module name of the classifier (the model spec's).
  """
  return [p for p, v in tree_lib.flatten(params)
          if is_conv_kernel(p, v) or (
              len(p) >= 2 and p[-2] == classifier and p[-1] == KERNEL
              and np.ndim(v) == 2)]


def ones_like(params: Any) -> Any:
  return jax.tree.map(lambda p: jnp.ones(jnp.shape(p), MASK_DTYPE), params)


def full_masks(params: Any, subtree: Any) -> Any:
  """A full-structure mask: ``subtree``'s masks, ones everywhere else."""
  return tree_lib.scatter(ones_like(params), subtree)


def check_masks(masks: Any, params: Any, what: str = 'mask pytree') -> None:
  """Raises ValueError unless ``masks`` matches ``params`` leaf for leaf."""
  try:
    bad = tree_lib.shape_mismatches(masks, params)
  except TypeError as e:
    raise ValueError(f'{what} must be nested dicts like the params: {e}'
                     ) from None
  if bad:
    raise ValueError(f'{what} does not match the params ({len(bad)} leaves): '
                     + '; '.join(bad[:4]))


def check_binary(masks: Any, what: str = 'mask pytree') -> None:
  """Raises ValueError unless every entry is exactly 0 or 1 (host sync)."""
  for path, m in tree_lib.flatten(masks):
    m = np.asarray(m)
    if not np.all((m == 0) | (m == 1)):
      raise ValueError(f'{what} {tree_lib.path_str(path)} holds values other '
                       'than 0 and 1')


def apply_masks(params: Any, masks: Any) -> Any:
  return jax.tree.map(lambda p, m: p * jnp.asarray(m).astype(p.dtype),
                      params, masks)


def zero_lowest(scores: jax.Array, count: int) -> jax.Array:
  """Mask with 0 on the ``count`` lowest scores, 1 elsewhere (same shape).

  Ties are broken by flat row-major index: the lower index is pruned first
  (a stable sort). ``count`` is static, so this is jittable.
  """
  shape = np.shape(scores)
  if count == 0:
    return jnp.ones(shape, MASK_DTYPE)
  flat = jnp.asarray(scores, jnp.float32).reshape(-1)
  order = jnp.argsort(flat, stable=True)
  mask = jnp.ones(flat.shape, MASK_DTYPE).at[order[:count]].set(
      0.0, unique_indices=True)
  return mask.reshape(shape)


def zero_counts(masks: Any, paths: Iterable[tree_lib.Path] | None = None
                ) -> dict[tree_lib.Path, int]:
  """``{path: zeros}`` over ``paths`` (default every leaf); host sync."""
  wanted = None if paths is None else {tree_lib.as_path(p) for p in paths}
  return {p: int(np.size(m) - np.count_nonzero(np.asarray(m)))
          for p, m in tree_lib.flatten(masks)
          if wanted is None or p in wanted}


def density(masks: Any, paths: Iterable[tree_lib.Path] | None = None
            ) -> float:
  """Fraction of kept weights over ``paths`` (default: the conv kernels)."""
  if paths is None:
    paths = conv_kernel_paths(masks)
  kept = total = 0
  for p in paths:
    m = np.asarray(tree_lib.get(masks, p))
    kept += int(np.count_nonzero(m))
    total += m.size
  return kept / max(total, 1)


def sparsity(masks: Any) -> dict[str, float]:
  """Fraction of zeros per leaf (path string) and overall (``'total'``)."""
  out = {}
  zeros = total = 0
  for path, m in tree_lib.flatten(masks):
    m = np.asarray(m)
    z = int(m.size - np.count_nonzero(m))
    out[tree_lib.path_str(path)] = z / max(m.size, 1)
    zeros += z
    total += m.size
  out['total'] = zeros / max(total, 1)
  return out
