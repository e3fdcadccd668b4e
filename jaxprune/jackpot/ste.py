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

from jaxprune import tree as tree_lib


def _ste_kernel(w: jax.Array, s: jax.Array, b: jax.Array) -> jax.Array:
  w = lax.stop_gradient(w)
  b = lax.stop_gradient(b).astype(w.dtype)
  s = s.astype(w.dtype)
  return w * (b + (s - lax.stop_gradient(s)))


def _check_subtree(sub: Any, params: Any, name: str) -> None:
  """``sub`` addresses leaves of ``params`` with their shapes (jit-safe)."""
  try:
    paths = [p for p, _ in tree_lib.flatten(sub)]
    bad = tree_lib.shape_mismatches(sub, tree_lib.gather(params, paths))
  except (TypeError, KeyError) as e:
    raise ValueError(f'{name} is not a subtree of the params: {e}') from e
  if bad:
    raise ValueError(f'{name} do not match the params: ' + '; '.join(bad))


def effective_params(params: Any, scores: Any, masks: Any) -> Any:
  """Params for the forward pass of the score search.

  Args:
    params: the frozen pre-trained param tree (nested dicts; conv kernels HWIO
      ``(kh, kw, C_in, C_out)``, classifier kernel ``(in, C)``).
    scores: score tree (float32, kernel shapes), the tree being trained.
    masks: binary mask tree of the same structure, usually the one held in
      the short-restriction state
      (:func:`~jaxprune.jackpot.short_restriction.short_restriction_masks`).

  Returns:
    A tree with the structure of ``params`` where every scored kernel ``W``
    is ``W * (B + S - stop_gradient(S))`` (numerically ``W * B``) and every
    other leaf is ``stop_gradient(leaf)``. Differentiating a loss of it with
    respect to ``scores`` gives ``dL/dW_eff * W``.

  Raises:
    ValueError: if ``scores`` or ``masks`` is not a subtree of ``params``
      with its shapes, or they differ in structure (static checks only, so
      it is jit-safe).
  """
  _check_subtree(scores, params, 'scores')
  if jax.tree.structure(masks) != jax.tree.structure(scores):
    raise ValueError('masks and scores differ in structure')
  frozen = jax.tree.map(lax.stop_gradient, params)
  b_items = dict(tree_lib.flatten(masks))
  eff = tree_lib.unflatten([
      (p, _ste_kernel(tree_lib.get(params, p), s, b_items[p]))
      for p, s in tree_lib.flatten(scores)])
  return tree_lib.scatter(frozen, eff)
