"""Optimizers and per-epoch learning-rate schedules with PyTorch semantics.

``sgd_coupled`` is PyTorch SGD with coupled L2 weight decay and momentum
(``d = g + wd*w; buf = mu*buf + d; w -= lr*buf``), i.e.
``optax.add_decayed_weights(wd)`` followed by ``optax.sgd(lr, momentum)``
(rethinking.md §11.10). Schedules are applied per epoch: the LR is a function
of ``epoch = step // steps_per_epoch`` and constant within an epoch.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax.numpy as jnp
import optax

SCHEDULES = ('step', 'cosine', 'constant')


def step_milestones(epochs: int, fractions: Sequence[float] = (0.5, 0.75)
                    ) -> list[int]:
  """Epochs at which a step schedule multiplies the LR by 0.1.

  CIFAR protocol (rethinking.md §5.1): ``int(0.5*E)`` and ``int(0.75*E)``.
  """
  return [int(f * epochs) for f in fractions]


def per_epoch_schedule(base_lr: float, epochs: int, steps_per_epoch: int,
                       kind: str = 'step',
                       milestones: Sequence[int] | None = None,
                       gamma: float = 0.1) -> optax.Schedule:
  """Returns ``step -> lr`` with the LR constant within each epoch.

  Args:
    base_lr: initial learning rate.
    epochs: total number of epochs E.
    steps_per_epoch: optimizer steps per epoch (a partial last batch counts).
    kind: 'step' (x gamma at each milestone epoch), 'cosine'
      (``0.5*lr*(1+cos(pi*e/E))``, the jackpot code's schedule) or 'constant'.
    milestones: epochs for 'step'; default ``step_milestones(epochs)``.
    gamma: multiplicative factor at each milestone.
  """
  if kind not in SCHEDULES:
    raise ValueError(f'unknown schedule {kind!r}; known: {SCHEDULES}')
  if epochs <= 0 or steps_per_epoch <= 0:
    raise ValueError('epochs and steps_per_epoch must be positive, got '
                     f'{epochs} and {steps_per_epoch}')
  if milestones is None:
    milestones = step_milestones(epochs)
  milestones = jnp.asarray(sorted(milestones), jnp.int32)

  def schedule(step):
    epoch = jnp.asarray(step, jnp.int32) // steps_per_epoch
    if kind == 'constant':
      return jnp.asarray(base_lr, jnp.float32)
    if kind == 'cosine':
      return 0.5 * base_lr * (1 + jnp.cos(math.pi * epoch / epochs))
    passed = jnp.sum(epoch >= milestones)
    return base_lr * jnp.power(gamma, passed).astype(jnp.float32)

  return schedule


def sgd_coupled(learning_rate: optax.ScalarOrSchedule, momentum: float = 0.9,
                weight_decay: float = 1e-4,
                pre: Sequence[optax.GradientTransformation] = ()
                ) -> optax.GradientTransformation:
  """PyTorch SGD (coupled weight decay, momentum, no Nesterov).

  Args:
    learning_rate: float or schedule.
    momentum: momentum coefficient (0 disables the trace).
    weight_decay: coupled L2 coefficient (added to the gradient).
    pre: transformations applied to the raw gradient first, e.g. the Network
      Slimming ``lambda*sign(gamma)`` subgradient.
  """
  return optax.chain(*pre, optax.add_decayed_weights(weight_decay),
                     optax.sgd(learning_rate, momentum=momentum or None))
