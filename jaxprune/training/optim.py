"""Optimizers and the one per-epoch learning-rate schedule (PyTorch semantics).

* :func:`per_epoch_schedule`: the LR is a function of the epoch
  ``e = step // steps_per_epoch``, constant within an epoch, for the step
  (x ``gamma`` at each milestone), cosine and constant schedules. Its values
  are PyTorch's closed forms evaluated in float64 on the host (as PyTorch's
  schedulers compute them in Python) and rounded once to float32:

      step:     lr_e = lr0 * gamma ** #{m in milestones : m <= e}
      cosine:   lr_e = 0.5 * lr0 * (1 + cos(pi * e / E))   (eta_min = 0)
      constant: lr_e = lr0

  Steps past epoch ``E`` use the epoch-``E`` value.
* :func:`sgd_coupled`: PyTorch SGD with coupled L2 weight decay and momentum
  (``d = g + wd*w; buf = mu*buf + d; w -= lr*buf``) =
  ``optax.add_decayed_weights(wd)`` then ``optax.sgd(lr, momentum)``
  (rethinking.md §11.10).
* :func:`masked_training`: fixed-mask training as a transformation whose
  state holds the masks: gradients are masked before the inner optimizer and
  updates after it, so pruned weights (zero at the start) and their momentum
  stay exactly 0. The Lottery-Jackpot search keeps its masks in its
  ``short_restriction`` state the same way: masks live in optimizer state.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxprune import masks as masks_lib

SCHEDULES = ('step', 'cosine', 'constant')


def step_milestones(epochs: int, fractions: Sequence[float] = (0.5, 0.75)
                    ) -> list[int]:
  """Epochs at which a step schedule multiplies the LR by 0.1.

  CIFAR protocol (rethinking.md §5.1): ``int(0.5*E)`` and ``int(0.75*E)``.
  """
  return [int(f * epochs) for f in fractions]


def every_n_milestones(epochs: int, every: int) -> list[int]:
  """ImageNet protocol: x0.1 every ``every`` epochs (30 of 90)."""
  return list(range(every, epochs, every))


def epoch_lrs(base_lr: float, epochs: int, kind: str = 'step',
              milestones: Sequence[int] | None = None,
              gamma: float = 0.1) -> np.ndarray:
  """The float32 LR of epochs ``0 .. epochs`` (module docstring)."""
  if kind not in SCHEDULES:
    raise ValueError(f'unknown schedule {kind!r}; known: {SCHEDULES}')
  if epochs <= 0:
    raise ValueError(f'epochs must be positive, got {epochs}')
  if milestones is None:
    milestones = step_milestones(epochs)
  ms = sorted(int(m) for m in milestones)
  values = []
  for e in range(epochs + 1):
    if kind == 'constant':
      values.append(base_lr)
    elif kind == 'cosine':
      values.append(0.5 * base_lr * (1.0 + math.cos(math.pi * e / epochs)))
    else:
      values.append(base_lr * gamma ** sum(e >= m for m in ms))
  return np.asarray(values, np.float32)


def per_epoch_schedule(base_lr: float, epochs: int, steps_per_epoch: int,
                       kind: str = 'step',
                       milestones: Sequence[int] | None = None,
                       gamma: float = 0.1) -> optax.Schedule:
  """``step -> float32 lr``, constant within each epoch.

  Args:
    base_lr: initial learning rate ``lr0``.
    epochs: total epochs ``E`` (the cosine horizon).
    steps_per_epoch: optimizer steps per epoch (a partial last batch counts).
    kind: 'step', 'cosine' or 'constant'.
    milestones: epochs of the x ``gamma`` steps; default
      :func:`step_milestones` (50 % and 75 %).
    gamma: multiplicative factor at each milestone.
  """
  if steps_per_epoch <= 0:
    raise ValueError(f'steps_per_epoch must be positive, got '
                     f'{steps_per_epoch}')
  table = epoch_lrs(base_lr, epochs, kind, milestones, gamma)

  def schedule(step):
    epoch = jnp.asarray(step, jnp.int32) // steps_per_epoch
    return jnp.asarray(table)[jnp.clip(epoch, 0, epochs)]

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
    pre: transformations of the raw gradient applied first, e.g. the Network
      Slimming ``lambda*sign(gamma)`` subgradient.
  """
  return optax.chain(*pre, optax.add_decayed_weights(weight_decay),
                     optax.sgd(learning_rate, momentum=momentum or None))


class MaskedTrainingState(NamedTuple):
  """State of :func:`masked_training`: the fixed masks and the inner state."""
  masks: Any
  inner_state: Any


def masked_training(inner: optax.GradientTransformation, masks: Any
                    ) -> optax.GradientTransformation:
  """``inner`` on masked gradients, its updates masked (module docstring).

  Args:
    inner: the optimizer, e.g. :func:`sgd_coupled`.
    masks: a full-structure 0/1 mask pytree of the params; the params must
      already be masked.
  """
  def init_fn(params):
    masks_lib.check_masks(masks, params)
    return MaskedTrainingState(jax.tree.map(jnp.asarray, masks),
                               inner.init(params))

  def update_fn(updates, state, params=None):
    grads = masks_lib.apply_masks(updates, state.masks)
    out, inner_state = inner.update(grads, state.inner_state, params)
    return (masks_lib.apply_masks(out, state.masks),
            MaskedTrainingState(state.masks, inner_state))

  return optax.GradientTransformation(init_fn, update_fn)


def find_state(opt_state: Any, state_type: type) -> Any:
  """The first ``state_type`` instance inside an optax state, or None."""
  found = [s for s in jax.tree.leaves(
      opt_state, is_leaf=lambda x: isinstance(x, state_type))
           if isinstance(s, state_type)]
  return found[0] if found else None
