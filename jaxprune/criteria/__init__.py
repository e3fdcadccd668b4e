"""Pruning criteria: params (and BN scales) -> masks or channel-keep dicts.

Unstructured criteria return float32 0/1 mask pytrees with the structure of
``params`` (ones where nothing is pruned). Structured (channel) criteria
return channel-keep dicts ``{bn_path: sorted kept indices}`` (see
:mod:`jaxprune.criteria.layout`); :func:`channel_masks` turns those into mask
pytrees and :func:`jaxprune.surgery.compact` into smaller models.

A small registry maps criterion names to functions:

* ``'magnitude'``: ``(params, sparsity) -> masks`` (global threshold);
* ``'magnitude_layerwise'``, ``'random_unstructured'``: same signature;
* ``'l1_norm'``: ``(params, model_name, **kw) -> keep``;
* ``'slimming'``: ``(params, model_name, percent) -> keep``;
* ``'uniform'``, ``'random_channel'``: ``(params, model_name, ratio) -> keep``.
"""

from __future__ import annotations

from typing import Callable

from jaxprune.naming import Registry

from jaxprune.criteria.layout import FAMILIES, Unit, family, units
from jaxprune.criteria.magnitude import (density, global_magnitude_masks,
                                         iterative_magnitude_masks,
                                         layerwise_magnitude_masks,
                                         random_unstructured_masks,
                                         sparse_he_reinit)
from jaxprune.criteria.structured import (L1_TARGETS, bn_l1_subgradient,
                                          channel_masks, keep_counts,
                                          l1_filter_channel_keep,
                                          l1_filter_scores, l1_target_keep,
                                          random_channel_keep,
                                          slimming_channel_keep,
                                          slimming_threshold,
                                          uniform_channel_keep)

_CRITERIA: Registry[Callable] = Registry('criterion', 'criteria')


def register_criterion(name: str, fn: Callable) -> Callable:
  return _CRITERIA.register(name, fn)


def criterion_names() -> list[str]:
  return _CRITERIA.names()


def get_criterion(name: str) -> Callable:
  return _CRITERIA.get(name)


register_criterion('magnitude', global_magnitude_masks)
register_criterion('magnitude_layerwise', layerwise_magnitude_masks)
register_criterion('random_unstructured', random_unstructured_masks)
register_criterion('l1_norm', l1_filter_channel_keep)
register_criterion('slimming', slimming_channel_keep)
register_criterion('uniform', uniform_channel_keep)
register_criterion('random_channel', random_channel_keep)
