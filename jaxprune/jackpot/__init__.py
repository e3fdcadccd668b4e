"""Lottery Jackpots (Zhang et al.): the pure core of the score search.

Module-system independent: everything works on nested-dict param trees
addressed by ``str`` key paths (``lottery_jackpots.md`` §2, §4, §9).

* :mod:`.prunable`: which kernels are masked; the score-tree structure.
* :mod:`.rates`: per-layer prune counts (global magnitude threshold, uniform).
* :mod:`.scores`: magnitude masks, score initialisation, validation.
* :mod:`.ste`: the straight-through forward params.
* :mod:`.short_restriction`: the per-step mask update as an optax transform.
* :mod:`.optim`: the score optimizer chain and ``magnitude_init``.

Typical use::

  counts, masks, scores = magnitude_init(params, 0.9)
  tx = score_optimizer(0.1, weight_decay=5e-4, epochs=30,
                       steps_per_epoch=196, prune_counts=counts,
                       initial_masks=masks)
  opt_state = tx.init(scores)
  # step: masks = short_restriction_masks(opt_state)
  #       g = jax.grad(lambda s: loss(effective_params(params, s, masks)))(
  #           scores)
  #       updates, opt_state = tx.update(g, opt_state, scores)
  #       scores = optax.apply_updates(scores, updates)
"""

from jaxprune.jackpot.optim import epoch_cosine_lr
from jaxprune.jackpot.optim import magnitude_init
from jaxprune.jackpot.optim import score_optimizer
from jaxprune.jackpot.prunable import flatten_paths
from jaxprune.jackpot.prunable import gather
from jaxprune.jackpot.prunable import is_classifier_path
from jaxprune.jackpot.prunable import Path
from jaxprune.jackpot.prunable import path_str
from jaxprune.jackpot.prunable import prunable_paths
from jaxprune.jackpot.prunable import scatter
from jaxprune.jackpot.rates import global_prune_counts
from jaxprune.jackpot.rates import global_threshold
from jaxprune.jackpot.rates import layerwise_prune_counts
from jaxprune.jackpot.rates import overall_sparsity
from jaxprune.jackpot.rates import uniform_prune_counts
from jaxprune.jackpot.scores import C21_PRUNED_SCORE
from jaxprune.jackpot.scores import check_score_tree
from jaxprune.jackpot.scores import HEAD_PRUNED_SCORE
from jaxprune.jackpot.scores import init_scores
from jaxprune.jackpot.scores import magnitude_masks
from jaxprune.jackpot.scores import MASK_DTYPE
from jaxprune.jackpot.scores import mask_zero_counts
from jaxprune.jackpot.short_restriction import constant_rate
from jaxprune.jackpot.short_restriction import decaying_rate
from jaxprune.jackpot.short_restriction import find_short_restriction_state
from jaxprune.jackpot.short_restriction import short_restriction
from jaxprune.jackpot.short_restriction import short_restriction_masks
from jaxprune.jackpot.short_restriction import ShortRestrictionState
from jaxprune.jackpot.short_restriction import swap_count
from jaxprune.jackpot.ste import effective_params
from jaxprune.jackpot.ste import masked_params
