"""Lottery Jackpots (Zhang et al.): the pure core of the score search.

Module-system independent: everything works on nested-dict param trees
addressed by :mod:`jaxprune.tree` paths (``lottery_jackpots.md`` §2, §4, §9).

* :mod:`.scores`: the score tree (the prunable kernels) and its start.
* :mod:`.ste`: the straight-through forward params.
* :mod:`.short_restriction`: the per-step mask update as an optax transform.
* :mod:`.optim`: the score optimizer chain.
* :mod:`.search`: the search as a stage of the shared step.

The per-layer budgets are :func:`jaxprune.pruning.global_prune_counts` and
the start mask is the ``'magnitude'`` criterion at those counts; the search
takes and returns full-structure masks::

  counts = pruning.global_prune_counts(params, 0.9, spec.classifier)
  start = pruning.get_criterion('magnitude')(variables, spec, counts).masks
  setup = create_search_state(variables, prune_counts=counts,
                              initial_masks=start, learning_rate=0.1,
                              weight_decay=5e-4, epochs=30,
                              steps_per_epoch=196)
  # a stage: fit(..., state=setup.state, tx=setup.tx,
  #              model_params=setup.model_params); then searched_masks(state)
"""

from jaxprune.jackpot.optim import score_optimizer
from jaxprune.jackpot.scores import C21_PRUNED_SCORE
from jaxprune.jackpot.scores import check_score_tree
from jaxprune.jackpot.scores import HEAD_PRUNED_SCORE
from jaxprune.jackpot.scores import init_scores
from jaxprune.jackpot.scores import score_paths
from jaxprune.jackpot.scores import score_subtree
from jaxprune.jackpot.search import create_search_state
from jaxprune.jackpot.search import search_params
from jaxprune.jackpot.search import SearchSetup
from jaxprune.jackpot.search import searched_masks
from jaxprune.jackpot.short_restriction import constant_rate
from jaxprune.jackpot.short_restriction import decaying_rate
from jaxprune.jackpot.short_restriction import find_short_restriction_state
from jaxprune.jackpot.short_restriction import short_restriction
from jaxprune.jackpot.short_restriction import short_restriction_masks
from jaxprune.jackpot.short_restriction import ShortRestrictionState
from jaxprune.jackpot.short_restriction import swap_count
from jaxprune.jackpot.ste import effective_params
