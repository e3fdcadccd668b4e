"""The score search as a stage of the shared pmap-ed step (§2.8, §9).

The search reuses :func:`jaxprune.steps.train_step_body` unchanged: the
trainable tree is the score tree, the frozen tree holds the pre-trained params,
and the binary mask lives in the short-restriction state of the optimizer.

* forward: ``W * B`` (``effective_params``), BN in train mode, so its running
  statistics update while its scale/bias stay frozen (they are in ``frozen``);
* backward: ``dL/dS = dL/dW_eff * W`` (straight-through), averaged over
  devices by the step's ``pmean``;
* update: coupled weight decay + SGD momentum 0.9 on the scores, then
  ``short_restriction`` updates the masks (deterministic, so identical on
  every device).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import optax

from jaxprune import steps as steps_lib
from jaxprune.jackpot import optim as optim_lib
from jaxprune.jackpot import prunable
from jaxprune.jackpot.short_restriction import short_restriction_masks
from jaxprune.jackpot import ste


class SearchSetup(NamedTuple):
  state: steps_lib.TrainState
  tx: optax.GradientTransformation
  param_map: steps_lib.ParamMap
  prune_counts: dict
  initial_masks: Any


def search_param_map() -> steps_lib.ParamMap:
  """Scores -> model params through the STE with the optimizer-held masks."""
  return steps_lib.ParamMap(
      model_params=lambda scores, frozen, opt: ste.effective_params(
          frozen['params'], scores, short_restriction_masks(opt)),
      prepare_grads=lambda g, frozen: g,
      after_update=lambda scores, frozen, opt: scores)


def check_sparsity(sparsity) -> float:
  if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or \
      not 0.0 < float(sparsity) < 1.0:
    raise ValueError(f'sparsity must be in (0, 1), got {sparsity!r}')
  return float(sparsity)


def create_search_state(params, batch_stats, *, sparsity: float,
                        learning_rate: float, weight_decay: float, epochs: int,
                        steps_per_epoch: int, layerwise: str = 'global',
                        pruned_value: float = 0.99, rate_fn=None,
                        tie_rule: str = 'skip_layer') -> SearchSetup:
  """Magnitude-initialised scores and the score optimizer (§2.8 steps 1-4)."""
  check_sparsity(sparsity)
  counts, masks, scores = optim_lib.magnitude_init(params, sparsity, layerwise,
                                                   pruned_value)
  tx = optim_lib.score_optimizer(
      learning_rate, weight_decay=weight_decay, epochs=epochs,
      steps_per_epoch=steps_per_epoch, prune_counts=counts,
      initial_masks=masks, rate_fn=rate_fn, tie_rule=tie_rule)
  state = steps_lib.create_train_state(scores, batch_stats, tx,
                                       frozen={'params': params})
  return SearchSetup(state, tx, search_param_map(), counts, masks)


def searched_masks(state: steps_lib.TrainState):
  """The binary masks the next forward pass would use."""
  return short_restriction_masks(state.opt_state)


def prune_counts_json(counts) -> dict[str, int]:
  return {prunable.path_str(p): int(c) for p, c in counts.items()}
