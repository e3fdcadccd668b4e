"""The score tree of the Lottery-Jackpot search: its structure, its start.

Implements ``lottery_jackpots.md`` §2.3 and step 3 of §2.8. The search trains
one real score per weight of every *prunable kernel* (the conv kernels and
the classifier kernel, :func:`jaxprune.masks.prunable_paths`). Scores, the
binary masks of the short-restriction state and that optimizer's state use
the *score tree*: the subtree of ``params`` holding only those kernels, with
the same nesting and key names (``jaxprune.tree.gather(params, paths)``).
This is an internal detail of the search; its inputs and outputs are
full-structure masks (:mod:`jaxprune.masks`).

Magnitude start: the mask is the magnitude criterion's at the per-layer
counts ``P_l`` (``jaxprune.pruning.get_criterion('magnitude')`` with counts);
the scores are ``S = 1.0`` where ``B = 1`` and ``S = c`` where ``B = 0``,
``c = 0.99`` (the 2023 code, [HEAD]) or ``c = 0.95`` (the 2021 code, [C21],
which produced every README number).

Mask dtype: float32 0.0/1.0 (:data:`jaxprune.masks.MASK_DTYPE`); they enter
the forward pass arithmetically (``W * (B + (S - stop_gradient(S)))``,
:mod:`~jaxprune.jackpot.ste`), so they need no cast inside the step.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxprune import masks as masks_lib
from jaxprune import tree as tree_lib

SCORE_DTYPE = jnp.float32
HEAD_PRUNED_SCORE = 0.99
"""Initial score of magnitude-pruned weights in the 2023 code ([HEAD])."""
C21_PRUNED_SCORE = 0.95
"""Initial score of magnitude-pruned weights in the 2021 code ([C21])."""


def score_paths(params: Any, classifier: str = 'classifier'
                ) -> list[tree_lib.Path]:
  """The paths of the score tree: every prunable kernel of ``params``."""
  return masks_lib.prunable_paths(params, classifier)


def score_subtree(tree: Any, params: Any, classifier: str = 'classifier'
                  ) -> dict:
  """``tree``'s leaves at the score paths of ``params`` (e.g. the score-tree
  part of a full mask)."""
  return tree_lib.gather(tree, score_paths(params, classifier))


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


def check_score_tree(scores: Any, params: Any, name: str = 'scores',
                     classifier: str = 'classifier') -> None:
  """Checks that ``scores`` is a score tree for ``params``.

  Works on concrete arrays and tracers (only structure and shapes are read).

  Raises:
    ValueError: listing the missing and unexpected paths, the shape
      mismatches, or a structure that is not plain nested dicts.
  """
  expected = score_subtree(params, params, classifier)
  try:
    bad = tree_lib.shape_mismatches(scores, expected)
  except TypeError as e:
    raise ValueError(f'{name} must be nested dicts with str keys: {e}') from e
  if bad:
    raise ValueError(f'{name} do not match the prunable kernels of params: '
                     + '; '.join(bad))
  want = jax.tree.structure(expected)
  if jax.tree.structure(scores) != want:
    raise ValueError(f'{name} tree structure {jax.tree.structure(scores)} '
                     f'differs from the score-tree structure {want}')

