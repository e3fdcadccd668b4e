"""The score optimizer of the jackpot search (§2.6, §4, §9 "Optimizer").

PyTorch SGD with coupled weight decay on the scores (``d = g + wd * s;
buf = mu * buf + d``, ``buf`` starting at ``d``; ``s -= lr * buf``; no
Nesterov, no dampening) is ``optax.add_decayed_weights(wd)`` then
``optax.sgd(lr, momentum=mu)``. The learning rate is the per-epoch cosine
with ``eta_min = 0`` and no warmup (``jaxprune.training.optim.
per_epoch_schedule(..., 'cosine')``: ``0.5 * lr0 * (1 + cos(pi * e / E))``,
float64 closed form rounded once to float32). The short-restriction mask
update (§4) is the last element of the chain. The optimizer updates the score
tree only; the weights are never passed to it.
"""

from __future__ import annotations

from typing import Any, Mapping

import optax

from jaxprune import tree as tree_lib
from jaxprune.training import optim as optim_lib
# Imported by name: the package re-exports the function short_restriction,
# which shadows the submodule attribute of the same name.
from jaxprune.jackpot.short_restriction import RateFn
from jaxprune.jackpot.short_restriction import short_restriction


def score_optimizer(
    lr: float | optax.Schedule,
    *,
    weight_decay: float,
    epochs: int,
    steps_per_epoch: int,
    prune_counts: Mapping[tree_lib.Path, int],
    initial_masks: Any,
    momentum: float = 0.9,
    rate_fn: RateFn | float | None = None,
    tie_rule: str = 'skip_layer',
) -> optax.GradientTransformation:
  """``chain(add_decayed_weights(wd), sgd(epoch cosine lr, momentum),
  short_restriction(...))`` (module docstring).

  Initialise it on the score tree and pass the current scores as ``params``
  to ``update``; the masks of the next forward pass are
  ``short_restriction_masks(opt_state)``.

  Args:
    lr: initial learning rate (0.1 in the released configs) of the per-epoch
      cosine, or a ready schedule ``step -> lr``.
    weight_decay: coupled weight decay on the scores (5e-4 CIFAR, 1e-4
      ImageNet).
    epochs: search epochs ``E`` (the cosine horizon; also the length of the
      ``rate_fn`` table).
    steps_per_epoch: optimizer steps per epoch.
    prune_counts: ``{path: P_l}`` per score-tree leaf.
    initial_masks: the step-0 masks (a score tree).
    momentum: SGD momentum (0.9, no Nesterov).
    rate_fn: host function ``epoch -> rate``, a float, or ``None`` for the
      constant 1.0 (see ``short_restriction``).
    tie_rule: ``'skip_layer'`` (default) or ``'index'``.
  """
  return optax.chain(
      optax.add_decayed_weights(weight_decay),
      optax.sgd(lr if callable(lr) else optim_lib.per_epoch_schedule(
          lr, epochs, steps_per_epoch, 'cosine'),
                momentum=momentum, nesterov=False),
      short_restriction(
          prune_counts, initial_masks, steps_per_epoch=steps_per_epoch,
          rate_fn=rate_fn, num_epochs=epochs, tie_rule=tie_rule),
  )
