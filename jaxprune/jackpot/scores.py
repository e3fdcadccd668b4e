"""Magnitude masks, score initialisation and score-tree validation.

Implements ``lottery_jackpots.md`` §2.3 and steps 3 of §2.8: the binary mask
``B_l`` is 0 on the ``P_l`` smallest ``|W_l|`` of each layer and 1 elsewhere;
the scores are ``S = 1.0`` where ``B = 1`` and ``S = c`` where ``B = 0``, with
``c = 0.99`` (the 2023 code, [HEAD]) or ``c = 0.95`` (the 2021 code, [C21],
which produced every README number).

Mask dtype. Masks are ``float32`` arrays holding exactly 0.0 and 1.0
(:data:`MASK_DTYPE`). They enter the forward pass arithmetically
(``W * (B + (S - stop_gradient(S)))``, :mod:`~jaxprune.jackpot.ste`), so a
float mask needs no cast inside the compiled step, and both values are exact.
They cost as much memory as the scores (the released code's ``b_mask`` is a
float tensor too).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxprune.jackpot import prunable
from jaxprune.jackpot import rates

Path = prunable.Path

MASK_DTYPE = jnp.float32
SCORE_DTYPE = jnp.float32
HEAD_PRUNED_SCORE = 0.99
"""Initial score of magnitude-pruned weights in the 2023 code ([HEAD])."""
C21_PRUNED_SCORE = 0.95
"""Initial score of magnitude-pruned weights in the 2021 code ([C21])."""


def _smallest_mask(w: jax.Array, count: int) -> jax.Array:
  """0 on the ``count`` smallest ``|w|`` (ties: lower flat index first)."""
  flat = jnp.abs(w.reshape(-1)).astype(jnp.float32)
  n = flat.size
  if count == 0:
    return jnp.ones(w.shape, MASK_DTYPE)
  # A stable sort orders equal magnitudes by flat index.
  order = jnp.argsort(flat, stable=True)
  mask = jnp.ones((n,), MASK_DTYPE).at[order[:count]].set(
      0.0, unique_indices=True)
  return mask.reshape(w.shape)


def magnitude_masks(params: Any, prune_counts: Mapping[Path, int]) -> dict:
  """Per-layer magnitude masks (§2.3).

  Args:
    params: the pre-trained param tree (nested dicts).
    prune_counts: ``{path: P_l}`` for every prunable kernel (e.g. from
      :func:`~jaxprune.jackpot.rates.layerwise_prune_counts`).

  Returns:
    A score tree (nested dicts, same nesting as ``params``) of ``float32``
    masks with the kernel shapes (HWIO for convs, ``(in, C)`` for the
    classifier), holding exactly ``P_l`` zeros per layer, on the ``P_l``
    smallest ``|w|``. Equal magnitudes are broken by flat (row-major) index:
    the lower index is pruned first. Jittable (the counts are static).

  Raises:
    ValueError: if ``prune_counts`` does not match the prunable kernels.
  """
  paths = prunable.prunable_paths(params)
  rates.check_prune_counts(
      prune_counts, {p: prunable.get_leaf(params, p).shape for p in paths})
  return prunable.unflatten_paths([
      (p, _smallest_mask(jnp.asarray(prunable.get_leaf(params, p)),
                         int(prune_counts[p])))
      for p in paths
  ])


def init_scores(masks: Any, pruned_value: float = HEAD_PRUNED_SCORE) -> Any:
  """Magnitude score initialisation (§2.3).

  Args:
    masks: a score tree of binary masks (1 kept, 0 pruned).
    pruned_value: score of pruned entries: 0.99 ([HEAD], default) or 0.95
      ([C21], :data:`C21_PRUNED_SCORE`).

  Returns:
    A float32 tree with the structure of ``masks``: 1.0 where the mask is
    non-zero, ``pruned_value`` elsewhere.
  """
  return jax.tree.map(
      lambda b: jnp.where(b != 0, jnp.float32(1.0),
                          jnp.float32(pruned_value)).astype(SCORE_DTYPE),
      masks)


def check_score_tree(scores: Any, params: Any, name: str = 'scores') -> None:
  """Checks that ``scores`` is a score tree for ``params``.

  A score tree has exactly the prunable kernels of ``params`` as leaves, in the
  same nesting (see :func:`~jaxprune.jackpot.prunable.gather`), each with the
  kernel's shape. Works on concrete arrays and tracers (only static
  structure and shapes are read).

  Args:
    scores: the tree to check (scores or masks).
    params: the param tree.
    name: what ``scores`` is, for the message.

  Raises:
    ValueError: listing the missing and unexpected paths, the shape
      mismatches, or a structure that is not plain nested dicts.
  """
  expected = {p: tuple(prunable.get_leaf(params, p).shape)
              for p in prunable.prunable_paths(params)}
  try:
    items = prunable.flatten_paths(scores)
  except TypeError as e:
    raise ValueError(f'{name} must be nested dicts with str keys: {e}') from e
  got = {p: tuple(np.shape(leaf)) for p, leaf in items}
  missing = [prunable.path_str(p) for p in expected if p not in got]
  extra = [prunable.path_str(p) for p in got if p not in expected]
  bad = [f'{prunable.path_str(p)}: {got[p]} != {expected[p]}'
         for p in expected if p in got and got[p] != expected[p]]
  if missing or extra or bad:
    raise ValueError(
        f'{name} do not match the prunable kernels of params: '
        f'missing {missing}, unexpected {extra}, shape mismatches {bad}')
  want = jax.tree.structure(prunable.gather(params, list(expected)))
  if jax.tree.structure(scores) != want:
    raise ValueError(f'{name} tree structure {jax.tree.structure(scores)} '
                     f'differs from the score-tree structure {want}')


def mask_zero_counts(masks: Any) -> dict[Path, int]:
  """``{path: number of zeros}`` of a concrete mask tree (host sync)."""
  return {p: int(math.prod(np.shape(b)) - np.count_nonzero(np.asarray(b)))
          for p, b in prunable.flatten_paths(masks)}
