"""The score search as a stage of the shared pmap-ed step (§2.8, §9).

The search runs :func:`jaxprune.training.step.train_step_body` unchanged:
the trainable tree is the score tree, the frozen tree holds the pre-trained
params, and the binary mask lives in the short-restriction state of the
optimizer.

* forward: ``W * B`` (``effective_params``), BN in train mode, so its running
  statistics update while its scale/bias stay frozen (they are in ``frozen``);
* backward: ``dL/dS = dL/dW_eff * W`` (straight-through), averaged over
  devices by the step's ``pmean``;
* update: coupled weight decay + SGD momentum 0.9 on the scores, then
  ``short_restriction`` updates the masks (deterministic, so identical on
  every device).

Inputs and outputs are full-structure masks; the score tree is internal.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import optax

from jaxprune import masks as masks_lib
from jaxprune import tree as tree_lib
from jaxprune.jackpot import optim as optim_lib
from jaxprune.jackpot import scores as scores_lib
from jaxprune.jackpot import ste
from jaxprune.jackpot.short_restriction import short_restriction_masks
from jaxprune.training import optim as training_optim
from jaxprune.training import step as step_lib


class SearchSetup(NamedTuple):
  """What the stage runner needs: the state, its optimizer and param map."""
  state: step_lib.TrainState
  tx: optax.GradientTransformation
  model_params: step_lib.ModelParams
  prune_counts: dict[tree_lib.Path, int]
  learning_rate_fn: optax.Schedule


def search_params(scores, frozen, opt_state):
  """Scores -> model params through the STE with the optimizer-held masks."""
  return ste.effective_params(frozen['params'], scores,
                              short_restriction_masks(opt_state))


def create_search_state(variables, *, prune_counts: Mapping[Any, int],
                        initial_masks: Any, learning_rate: float,
                        weight_decay: float, epochs: int,
                        steps_per_epoch: int, classifier: str = 'classifier',
                        pruned_value: float = scores_lib.HEAD_PRUNED_SCORE,
                        rate_fn=None, tie_rule: str = 'skip_layer'
                        ) -> SearchSetup:
  """The search's initial state and optimizer (§2.8 steps 3-4).

  Args:
    variables: the pre-trained ``{'params', 'batch_stats'}`` (frozen).
    prune_counts: ``{kernel path: P_l}`` for every prunable kernel (the
      classifier's 0), e.g. :func:`jaxprune.pruning.global_prune_counts`.
    initial_masks: the full-structure start mask with exactly ``P_l`` zeros
      per kernel (the magnitude criterion at ``prune_counts``).
    learning_rate, weight_decay, epochs, steps_per_epoch, rate_fn, tie_rule:
      see :func:`jaxprune.jackpot.optim.score_optimizer`.
    classifier: the model's classifier module name.
    pruned_value: initial score of pruned weights (0.99 [HEAD], 0.95 [C21]).
  """
  params = variables['params']
  masks_lib.check_masks(initial_masks, params, 'initial mask')
  counts = {tree_lib.as_path(p): int(c) for p, c in prune_counts.items()}
  sub_masks = scores_lib.score_subtree(initial_masks, params, classifier)
  scores = scores_lib.init_scores(sub_masks, pruned_value)
  lr_fn = training_optim.per_epoch_schedule(learning_rate, epochs,
                                            steps_per_epoch, 'cosine')
  tx = optim_lib.score_optimizer(
      lr_fn, weight_decay=weight_decay, epochs=epochs,
      steps_per_epoch=steps_per_epoch, prune_counts=counts,
      initial_masks=sub_masks, rate_fn=rate_fn, tie_rule=tie_rule)
  state = step_lib.create_train_state(scores, variables['batch_stats'], tx,
                                      frozen={'params': params})
  return SearchSetup(state, tx, search_params, counts, lr_fn)


def searched_masks(state: step_lib.TrainState) -> Any:
  """The full-structure masks the next forward pass would use."""
  return masks_lib.full_masks(state.frozen['params'],
                              short_restriction_masks(state.opt_state))
