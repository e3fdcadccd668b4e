"""Pruning: one criterion contract and registry, targets, surgery, Scratch-E/B.

The public API (see :mod:`jaxprune.pruning.api` for the contract)::

    register_criterion(name, fn, *, kind)   # kind: 'unstructured' | 'channel'
    get_criterion(name)                     # -> Criterion (call it like fn)
    criterion_names()

    fn(variables, spec, target, *, batch=None, rng=None) -> PruneResult

Registered here: ``magnitude`` (global threshold / per-layer counts),
``magnitude_layerwise``, ``magnitude_iterative``, ``random``, ``l1_filter``,
``snip``, ``grasp``, ``synflow`` (unstructured); ``l1_norm``, ``slimming``,
``uniform``, ``random_channel``, ``thinet``, ``regression`` (channel; the
last two data-driven, rewriting the next layer's weights).

Helpers for writing a criterion in a few lines: :func:`conv_kernels`,
:func:`masks_from_scores` (unstructured), :func:`unit_counts`,
:func:`keep_from_scores`, :func:`all_kept` (channel). A channel keep becomes a
compact model with :func:`compact` or masks with :func:`channel_masks`.
"""

from jaxprune.pruning.api import (KINDS, Criterion, PruneResult,
                                  criterion_names, get_criterion,
                                  register_criterion)
from jaxprune.pruning.budgets import (global_prune_counts,
                                      layerwise_prune_counts,
                                      overall_sparsity, uniform_prune_counts)
from jaxprune.pruning.keep_files import load_keep_masks
from jaxprune.pruning.l1_filter import l1_filter_scores
from jaxprune.pruning.scratch import (scratch_b_epochs, scratch_b_schedule,
                                      sparse_he_reinit)
from jaxprune.pruning.slimming import bn_l1_subgradient, slimming_threshold
from jaxprune.pruning.surgery import (channel_masks, check_keep, compact,
                                      keep_counts, keep_from_masks)
from jaxprune.pruning.targets import (Target, all_kept, channel_counts,
                                      check_ratio, conv_kernels,
                                      counts_from_kept, in_forward_order,
                                      is_ratio,
                                      keep_from_scores, kernel_counts,
                                      masks_from_scores, scored_kernels,
                                      unit_counts)
# Importing the criterion modules registers the built-in criteria.
from jaxprune.pruning import baselines  # noqa: F401
from jaxprune.pruning import magnitude  # noqa: F401
from jaxprune.pruning import saliency  # noqa: F401
from jaxprune.pruning import slimming  # noqa: F401
from jaxprune.pruning import l1_filter  # noqa: F401
from jaxprune.pruning import regression  # noqa: F401
from jaxprune.pruning import thinet  # noqa: F401
