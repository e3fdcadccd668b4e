"""The score optimizer and magnitude initialisation of the jackpot search.

Implements ``lottery_jackpots.md`` §2.6 and §9 "Optimizer": PyTorch SGD with
coupled weight decay on the scores (``d = g + wd * s; buf = mu * buf + d``,
``buf`` starting at ``d``; ``s -= lr * buf``; no Nesterov, no dampening)
equals ``optax.add_decayed_weights(wd)`` followed by ``optax.sgd(lr,
momentum=mu)``. The learning rate is the per-epoch cosine with
``eta_min = 0`` and no warmup::

  lr_e = 0.5 * lr0 * (1 + cos(pi * e / E)),   e = step // steps_per_epoch

constant within an epoch. The short-restriction mask update (§4) is the last
element of the chain. The optimizer updates the score tree only; the weights
are never passed to it.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import jax.numpy as jnp
import numpy as np
import optax

from jaxprune.jackpot import prunable
from jaxprune.jackpot import rates as rates_lib
from jaxprune.jackpot import scores as scores_lib
# Imported by name: the package re-exports the function short_restriction,
# which shadows the submodule attribute of the same name.
from jaxprune.jackpot.short_restriction import RateFn
from jaxprune.jackpot.short_restriction import short_restriction

Path = prunable.Path


def epoch_cosine_lr(lr: float, epochs: int,
                    steps_per_epoch: int) -> optax.Schedule:
  """Per-epoch cosine schedule ``0.5 * lr * (1 + cos(pi * e / E))``.

  The ``E + 1`` values (epochs ``0 .. E``) are computed in float64 on the host
  (as PyTorch's ``CosineAnnealingLR`` closed form) and rounded once to
  float32; steps past epoch ``E`` get the epoch-``E`` value, 0.

  Args:
    lr: initial learning rate ``lr0``.
    epochs: ``E``.
    steps_per_epoch: optimizer steps per epoch.

  Returns:
    An optax schedule ``step -> float32 lr``.
  """
  if epochs < 1 or steps_per_epoch < 1:
    raise ValueError(f'epochs and steps_per_epoch must be >= 1; got {epochs}, '
                     f'{steps_per_epoch}')
  table = np.asarray([0.5 * lr * (1.0 + math.cos(math.pi * e / epochs))
                      for e in range(epochs + 1)], np.float32)

  def schedule(step):
    epoch = jnp.asarray(step, jnp.int32) // steps_per_epoch
    return jnp.asarray(table)[jnp.clip(epoch, 0, epochs)]

  return schedule


def score_optimizer(
    lr: float,
    *,
    weight_decay: float,
    epochs: int,
    steps_per_epoch: int,
    prune_counts: Mapping[Path, int],
    initial_masks: Any,
    momentum: float = 0.9,
    rate_fn: RateFn | float | None = None,
    tie_rule: str = 'skip_layer',
) -> optax.GradientTransformation:
  """The jackpot score optimizer (§2.6, §4).

  ``optax.chain(add_decayed_weights(weight_decay), sgd(epoch cosine lr,
  momentum), short_restriction(...))``. Initialise it on the score tree and
  pass the current scores as ``params`` to ``update``; the masks for the next
  forward pass are ``short_restriction_masks(opt_state)``
  (:mod:`jaxprune.jackpot.short_restriction`).

  Args:
    lr: initial learning rate (0.1 in the released configs).
    weight_decay: coupled weight decay on the scores (5e-4 CIFAR, 1e-4
      ImageNet).
    epochs: number of search epochs ``E`` (the cosine horizon; also the
      length of the ``rate_fn`` table).
    steps_per_epoch: optimizer steps per epoch.
    prune_counts: ``{path: P_l}``.
    initial_masks: the step-0 magnitude masks.
    momentum: SGD momentum (0.9, no Nesterov).
    rate_fn: host function ``epoch -> rate``, a float, or ``None`` for the
      constant 1.0 (see ``short_restriction``); tabulated over ``epochs``.
    tie_rule: ``'skip_layer'`` (default) or ``'index'``.

  Returns:
    An ``optax.GradientTransformation``.
  """
  return optax.chain(
      optax.add_decayed_weights(weight_decay),
      optax.sgd(epoch_cosine_lr(lr, epochs, steps_per_epoch),
                momentum=momentum, nesterov=False),
      short_restriction(
          prune_counts, initial_masks, steps_per_epoch=steps_per_epoch,
          rate_fn=rate_fn, num_epochs=epochs, tie_rule=tie_rule),
  )


def magnitude_init(
    params: Any,
    sparsity: float,
    layerwise: str = 'global',
    pruned_value: float = scores_lib.HEAD_PRUNED_SCORE,
) -> tuple[dict[Path, int], Any, Any]:
  """Steps 2-3 of §2.8: prune counts, magnitude masks and initial scores.

  Args:
    params: the pre-trained param tree.
    sparsity: target fraction in (0, 1).
    layerwise: ``'global'`` (default) or ``'uniform'``.
    pruned_value: initial score of pruned weights (0.99 [HEAD], 0.95 [C21]).

  Returns:
    ``(prune_counts, masks, scores)``: static ``{path: P_l}``, the float32
    magnitude mask score tree and the float32 score tree.
  """
  counts = rates_lib.layerwise_prune_counts(params, sparsity, layerwise)
  masks = scores_lib.magnitude_masks(params, counts)
  return counts, masks, scores_lib.init_scores(masks, pruned_value)
