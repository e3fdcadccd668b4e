"""Straight-through estimator from the binary mask to the scores.

Implements ``lottery_jackpots.md`` §2.4 ([HEAD]) and §9 "STE": the forward pass
uses ``W_eff = W * B`` and the backward pass sends the gradient straight to the
scores::

  W_eff = sg(W) * (sg(B) + (S - sg(S)))        # sg = jax.lax.stop_gradient
  forward:   W_eff == W * B   (bit-exact: S - sg(S) evaluates to exactly 0)
  backward:  dL/dS = dL/dW_eff * W             (dense: pruned entries too)
             dL/dW = dL/dB = 0

``S - sg(S)`` is grouped before it is added to ``B``: ``(B + S) - S`` would
round (``1 + 0.99`` is not exact in float32) and perturb the forward.

Every param leaf, not just the masked kernels, is wrapped in ``stop_gradient``:
the search trains only the scores, and conv/classifier kernels, biases and
BatchNorm scale/bias are frozen (§2.5), so a gradient with respect to
``params`` is all zeros by construction.
"""

from __future__ import annotations

from typing import Any

import jax
from jax import lax

from jaxprune.jackpot import prunable
from jaxprune.jackpot import scores as scores_lib


def _ste_kernel(w: jax.Array, s: jax.Array, b: jax.Array) -> jax.Array:
  w = lax.stop_gradient(w)
  b = lax.stop_gradient(b).astype(w.dtype)
  s = s.astype(w.dtype)
  return w * (b + (s - lax.stop_gradient(s)))


def effective_params(params: Any, scores: Any, masks: Any) -> Any:
  """Params for the forward pass of the score search.

  Args:
    params: the frozen pre-trained param tree (nested dicts; conv kernels HWIO
      ``(kh, kw, C_in, C_out)``, classifier kernel ``(in, C)``).
    scores: score tree (float32, kernel shapes), the tree being trained.
    masks: binary mask tree (0/1, kernel shapes), usually the one held in the
      short-restriction state
      (:func:`~jaxprune.jackpot.short_restriction.short_restriction_masks`).

  Returns:
    A tree with the structure of ``params`` where every prunable kernel ``W``
    is ``W * (B + S - stop_gradient(S))`` (numerically ``W * B``) and every
    other leaf is ``stop_gradient(leaf)``. Differentiating a loss of it with
    respect to ``scores`` gives ``dL/dW_eff * W``.

  Raises:
    ValueError: if ``scores`` or ``masks`` is not a score tree of ``params``
      (checked on static structure and shapes only, so it is jit-safe).
  """
  scores_lib.check_score_tree(scores, params, 'scores')
  scores_lib.check_score_tree(masks, params, 'masks')
  frozen = jax.tree.map(lax.stop_gradient, params)
  s_items = prunable.flatten_paths(scores)
  b_items = dict(prunable.flatten_paths(masks))
  eff = prunable.unflatten_paths([
      (p, _ste_kernel(prunable.get_leaf(params, p), s, b_items[p]))
      for p, s in s_items
  ])
  return prunable.scatter(frozen, eff)


def masked_params(params: Any, masks: Any) -> Any:
  """``W * B`` for every prunable kernel (evaluation / export, no STE).

  Args:
    params: the param tree.
    masks: binary mask tree of ``params``.

  Returns:
    ``params`` with each prunable kernel multiplied by its mask; other leaves
    are returned unchanged.
  """
  scores_lib.check_score_tree(masks, params, 'masks')
  return prunable.scatter(params, prunable.unflatten_paths([
      (p, prunable.get_leaf(params, p) * b.astype(
          prunable.get_leaf(params, p).dtype))
      for p, b in prunable.flatten_paths(masks)
  ]))
