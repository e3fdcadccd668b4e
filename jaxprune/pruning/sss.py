"""Sparse Structure Selection (Huang & Wang 2018; rethinking.md §3.5).

Every residual block's branch is scaled by a scalar ``lambda_b`` (param
``block_scale`` of a gated :mod:`jaxprune.models.sss_resnet` model, init 1);
the objective adds ``gamma * sum_b |lambda_b|``, and ``lambda`` is updated by
the accelerated proximal gradient of the SSS code (APG with NAG's momentum
form), per step with learning rate ``lr``, gradient ``g`` of the data loss
and momentum buffer ``v`` (0 at the start)::

    z = lambda - lr * g
    z = sign(z) * max(|z| - lr * gamma, 0)      # soft threshold
    v = mu * v + (z - lambda)
    lambda = max(z + mu * v, 0)                  # momentum step, clip at 0

No weight decay on ``lambda``; the other weights use NAG (Nesterov momentum
0.9) with coupled weight decay 1e-4. Blocks whose ``lambda`` reaches exactly
0 are removed by :func:`jaxprune.models.sss_resnet.remove_blocks`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxprune import tree as tree_lib

BLOCK_SCALE = 'block_scale'


def check_gamma(gamma: float) -> float:
  """The sparsity weight must be a positive number."""
  if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not (
      gamma > 0):
    raise ValueError(f'the SSS sparsity weight gamma must be > 0, got '
                     f'{gamma!r}')
  return float(gamma)


class APGState(NamedTuple):
  count: jax.Array
  momentum: Any


def apg_soft_threshold(learning_rate: optax.ScalarOrSchedule, gamma: float,
                       momentum: float = 0.9
                       ) -> optax.GradientTransformation:
  """The APG update of the module docstring as a transformation (its
  updates are ``new_lambda - lambda``; needs ``params``)."""
  gamma = check_gamma(gamma)

  def init_fn(params):
    return APGState(jnp.zeros([], jnp.int32),
                    jax.tree.map(jnp.zeros_like, params))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError('apg_soft_threshold needs params')
    lr = (learning_rate(state.count) if callable(learning_rate)
          else learning_rate)

    def proximal(g, lam):
      z = lam - lr * g
      return jnp.sign(z) * jnp.maximum(jnp.abs(z) - lr * gamma, 0.0)

    buffers = jax.tree.map(lambda g, lam, v: momentum * v + (
        proximal(g, lam) - lam), updates, params, state.momentum)
    deltas = jax.tree.map(lambda g, lam, v: jnp.maximum(
        proximal(g, lam) + momentum * v, 0.0) - lam, updates, params,
                          buffers)
    return deltas, APGState(state.count + 1, buffers)

  return optax.GradientTransformation(init_fn, update_fn)


def block_scale_labels(params) -> Any:
  """``'sss'`` on every ``block_scale`` leaf, ``'other'`` elsewhere."""
  return tree_lib.map_with_path(
      lambda path, _: 'sss' if path[-1] == BLOCK_SCALE else 'other', params)


def sss_optimizer(learning_rate: optax.ScalarOrSchedule, gamma: float,
                  momentum: float = 0.9, weight_decay: float = 1e-4
                  ) -> optax.GradientTransformation:
  """APG on the block scales, NAG with coupled weight decay on the rest."""
  return optax.multi_transform(
      {'sss': apg_soft_threshold(learning_rate, gamma, momentum),
       'other': optax.chain(optax.add_decayed_weights(weight_decay),
                            optax.sgd(learning_rate, momentum=momentum,
                                      nesterov=True))},
      block_scale_labels)


def block_scales(params) -> dict[str, float]:
  """``{block path: lambda}`` of a gated model."""
  return {tree_lib.path_str(p[:-1]): float(v)
          for p, v in tree_lib.flatten(params) if p[-1] == BLOCK_SCALE}
