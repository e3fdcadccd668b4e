"""``config.prune`` -> a criterion, its target and its options.

Shared by every study that prunes with a registered criterion (rethinking,
lottery_ticket): the checks of the prune fields before any data is loaded
(:func:`check_prune_config`), the target a criterion gets
(:func:`resolve_target`: a ratio, or per-unit counts in forward order where
layer ratios, stage ratios, skip lists or kept counts are given), the keeps
a mask file fixes (:func:`fixed_keep`), and the dry run of all of it on the
model's abstract params (:func:`check_target`).
"""

from __future__ import annotations

from typing import Any

from jaxprune import pruning
from jaxprune.studies import context


def has_layer_spec(prune) -> bool:
  """Per-layer targets (layer/stage ratios, skips or kept counts) given."""
  return (bool(context.native(prune.layer_ratios, 'prune.layer_ratios'))
          or bool(prune.stage_ratios) or bool(prune.skip)
          or bool(context.native(prune.keep_counts, 'prune.keep_counts')))


def options(prune) -> dict[str, Any]:
  """``config.prune.options``: the criterion's keyword options."""
  value = context.native(prune.options, 'prune.options') or {}
  if not isinstance(value, dict):
    raise ValueError('config.prune.options must be a dict {option: value}')
  return value


def check_prune_config(config) -> pruning.Criterion:
  """The criterion exists, takes these options and suits the model, and the
  ratio, slimming lambda and example count are valid; returns it."""
  prune = config.prune
  criterion = pruning.get_criterion(prune.method)
  pruning.check_ratio(prune.ratio, 'config.prune.ratio')
  if prune.sparsity_lambda < 0:
    raise ValueError('config.prune.sparsity_lambda must be >= 0')
  criterion.check_options(options(prune))
  if criterion.kind == 'channel':
    from jaxprune import models  # pylint: disable=g-import-not-at-top
    models.get_spec(config.model.name).require_channel_units(
        f'the channel criterion {prune.method!r}')
  elif has_layer_spec(prune) or prune.keep_masks_path or (
      prune.layerwise_finetune_epochs):
    raise ValueError(f'{prune.method!r} is an unstructured criterion: '
                     'config.prune.layer_ratios, stage_ratios, skip, '
                     'keep_counts, keep_masks_path and '
                     'layerwise_finetune_epochs are for channel criteria; '
                     'use config.prune.ratio')
  for field in ('layerwise_finetune_epochs', 'examples'):
    v = prune[field]
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
      raise ValueError(f'config.prune.{field} must be an int >= 0, got {v!r}')
  return criterion


def fixed_keep(ctx, params) -> dict[str, Any]:
  """The keeps ``config.prune.keep_masks_path`` fixes ({} without one)."""
  path = ctx.config.prune.keep_masks_path
  return pruning.load_keep_masks(path, ctx.spec, params) if path else {}


def resolve_target(ctx, params) -> pruning.Target:
  """The criterion target of ``config.prune`` for ``params``: a ratio, or
  per-unit counts (forward order) where layer ratios, stage ratios, skips
  or kept counts are given; units whose keep comes from
  ``config.prune.keep_masks_path`` are left out."""
  prune = ctx.config.prune
  if pruning.get_criterion(prune.method).kind != 'channel':
    return prune.ratio
  fixed = fixed_keep(ctx, params)
  if not has_layer_spec(prune) and not fixed:
    return prune.ratio
  layer_ratios = context.native(prune.layer_ratios, 'prune.layer_ratios')
  kept = context.native(prune.keep_counts, 'prune.keep_counts') or {}
  counts = {}
  if prune.ratio or layer_ratios or prune.stage_ratios or prune.skip:
    counts = pruning.channel_counts(
        ctx.spec, params, ratio=prune.ratio, layer_ratios=layer_ratios,
        stage_ratios=tuple(prune.stage_ratios), skip=tuple(prune.skip))
  counts.update(pruning.counts_from_kept(ctx.spec, params, kept))
  for name, idx in fixed.items():
    if name in kept and kept[name] != len(idx):
      raise ValueError(f'config.prune.keep_counts keeps {kept[name]} '
                       f'channels of {name} but keep_masks_path keeps '
                       f'{len(idx)}')
    counts.pop(name, None)
  return pruning.in_forward_order(ctx.spec, params, counts)


def check_target(ctx) -> None:
  """The target resolves on the model's (abstract) params and the criterion
  accepts it with ``config.prune.examples`` examples."""
  c = ctx.config
  params = ctx.abstract_variables()['params']
  target = resolve_target(ctx, params)
  criterion = pruning.get_criterion(c.prune.method)
  if criterion.kind == 'channel':
    pruning.unit_counts(ctx.spec, params, target)
  else:
    pruning.scored_kernels(params, target)
  criterion.check(ctx.spec, params, target,
                  num_examples=min(c.prune.examples, ctx.source.num_train),
                  options=options(c.prune))
