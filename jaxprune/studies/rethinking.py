"""The ``rethinking`` study (Liu et al. 2019, rethinking.md §2): per seed,
train the large model -> prune -> fine-tune / Scratch-E / Scratch-B.

1. ``baseline``: the large model (``config.optim``; with
   ``config.prune.sparsity_lambda > 0`` trained with the Network Slimming
   term ``lambda * sign(gamma)``), or ``config.model.pretrained``;
2. ``pruned``: the registered criterion ``config.prune.method`` at the target
   of ``config.prune`` (a ratio, or per-layer ratios / stage ratios / skip
   lists resolved to per-unit counts, :func:`jaxprune.pruning.channel_counts`),
   evaluated without training. A channel criterion's keep becomes a compact
   model (surgery); an unstructured one's masks stay fixed in every later
   stage (masked training), and FLOPs count non-zero weights;
3. ``finetune``: the inherited weights, ``config.finetune`` (40 epochs at LR
   0.001, constant, on CIFAR);
4. ``scratch_e``: the pruned architecture from a fresh init (the
   density-scaled He init for sparse models) for ``config.optim.epochs``;
5. ``scratch_b``: the same for the FLOPs budget of the large model
   (:func:`jaxprune.pruning.scratch_b_schedule`, rule ``config.scratch.b_rule``;
   ``config.scratch.b_max_epochs`` caps it for small-budget runs).

Every stage runs in its own directory (``[seed{i}/]<stage>/``) and resumes.
Each stage of each seed has its own init key. ``config.stages`` picks the
stages after pruning. Results: per stage, best and last accuracy over seeds
(mean and sample std), params and FLOPs.
"""

from __future__ import annotations

from typing import Any

from jaxprune import masks as masks_lib
from jaxprune import pruning
from jaxprune import results as results_lib
from jaxprune import tree as tree_lib
from jaxprune.studies import context
from jaxprune.studies import prune_config
from jaxprune.studies import registry

STAGES = ('finetune', 'scratch_e', 'scratch_b')
SCRATCH_B_RULES = ('cifar', 'imagenet', 'sss')


def check_config(config) -> None:
  """Bad pruning inputs fail before any data is loaded."""
  prune_config.check_prune_config(config)
  b = config.scratch.b_epochs
  if isinstance(b, bool) or not isinstance(b, int) or b < 0:
    raise ValueError(f'config.scratch.b_epochs must be an int >= 0, got {b!r}')
  unknown = [s for s in config.stages if s not in STAGES]
  if unknown:
    raise ValueError(f'unknown stage(s) {unknown} in config.stages; known: '
                     f'{STAGES}')
  if config.scratch.b_rule not in SCRATCH_B_RULES:
    raise ValueError(f'config.scratch.b_rule must be one of '
                     f'{SCRATCH_B_RULES}, got {config.scratch.b_rule!r}')
  if config.finetune.epochs <= 0 and 'finetune' in config.stages:
    raise ValueError('config.finetune.epochs must be positive')


def check_model(ctx) -> None:
  """The target resolves and the criterion accepts it (on abstract
  params), and the head exists."""
  prune_config.check_target(ctx)
  if ctx.config.prune.head:
    ctx.spec.with_head(ctx.config.prune.head)


def _masked(spec, variables, keep):
  masks = pruning.channel_masks(spec, variables['params'], keep)
  return {'params': masks_lib.apply_masks(variables['params'], masks),
          'batch_stats': variables['batch_stats']}, masks


def _prune_layerwise(ctx, criterion, variables, counts, seed: int,
                     index: int):
  """One unit at a time, each followed by a short masked fine-tune
  (``config.prune.layerwise_finetune_epochs``): -> (keep, variables,
  info)."""
  c = ctx.config
  keep, info = {}, {}
  for k, (unit, count) in enumerate(counts.items()):
    result = ctx.prune(criterion, ctx.spec, variables, {unit: count}, seed,
                       tag=f'{k}')
    variables = dict(result.variables or variables)
    keep[unit] = result.keep[unit]
    info[unit] = dict(result.info)
    masked, masks = _masked(ctx.spec, variables, keep)
    variables = ctx.train(
        f'prune_layer{k:03d}', ctx.spec, masked, seed=seed, seed_index=index,
        epochs=c.prune.layerwise_finetune_epochs,
        learning_rate=c.finetune.learning_rate, schedule='constant',
        masks=masks).variables
  full = pruning.all_kept(ctx.spec, variables['params'])
  full.update(keep)
  return full, variables, {'layers': info}


def _prune(ctx, variables, seed: int, index: int):
  """-> (pruned spec, pruned variables, masks or None, details)."""
  c = ctx.config
  criterion = pruning.get_criterion(c.prune.method)
  target = prune_config.resolve_target(ctx, variables['params'])
  if criterion.kind == 'channel':
    fixed = prune_config.fixed_keep(ctx, variables['params'])
    if fixed:  # the criterion sees the fixed channels already gone
      variables = _masked(ctx.spec, variables, fixed)[0]
    if c.prune.layerwise_finetune_epochs:
      counts = pruning.in_forward_order(
          ctx.spec, variables['params'],
          pruning.unit_counts(ctx.spec, variables['params'], target))
      keep, variables, info = _prune_layerwise(ctx, criterion, variables,
                                               counts, seed, index)
    else:
      result = ctx.prune(criterion, ctx.spec, variables, target, seed)
      keep, info = dict(result.keep), dict(result.info)
      variables = result.variables or variables
    keep.update(fixed)
    widths, params, stats = pruning.compact(
        ctx.spec, variables['params'], variables['batch_stats'], keep)
    spec = ctx.spec.with_widths(widths)
    pruned = {'params': params, 'batch_stats': stats}
    details: dict[str, Any] = {'criterion_info': info, 'widths': widths,
                               'keep_counts': pruning.keep_counts(keep)}
    if c.prune.head:  # a new head on the inherited convs
      spec = spec.with_head(c.prune.head)
      fresh = ctx.init(spec, seed, 'pruned/head')
      pruned = {k: tree_lib.merge_matching(fresh[k], pruned[k])
                for k in ('params', 'batch_stats')}
      details.update(widths=spec.widths, head=c.prune.head)
    return spec, pruned, None, details
  result = ctx.prune(criterion, ctx.spec, variables, target, seed)
  details = {'criterion_info': dict(result.info)}
  masks = result.masks
  details.update(widths=ctx.spec.widths,
                 conv_density=masks_lib.density(masks))
  return (ctx.spec, {'params': masks_lib.apply_masks(variables['params'],
                                                     masks),
                     'batch_stats': variables['batch_stats']}, masks, details)


def run_seed(ctx, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
  """One seed's stages -> (``{stage: entry}``, details)."""
  c = ctx.config
  seed = c.seed + index
  pre = ((pruning.bn_l1_subgradient(c.prune.sparsity_lambda),)
         if c.prune.sparsity_lambda else ())
  variables, base = ctx.large_model(seed, index, pre)
  stages = {'baseline': base}
  small, pruned, masks, details = _prune(ctx, variables, seed, index)
  stages['pruned'] = ctx.evaluated_entry(small, pruned, masks)
  flops_ratio = base['flops'] / stages['pruned']['flops']
  budget, budget_milestones = pruning.scratch_b_schedule(
      base['flops'], stages['pruned']['flops'], c.scratch.b_rule,
      base_epochs=c.optim.epochs, epochs=c.scratch.b_epochs or None)
  details.update(seed=seed, flops_ratio=flops_ratio, scratch_b_epochs=budget)
  cap = c.scratch.b_max_epochs
  if cap and budget > cap:  # a small-budget run: rescale the steps too
    budget_milestones = [m * cap // budget for m in budget_milestones]
    budget = cap
  details['scratch_b_epochs_run'] = budget
  common = dict(seed=seed, seed_index=index, masks=masks)
  if 'finetune' in c.stages:
    stages['finetune'] = ctx.train(
        'finetune', small, pruned, epochs=c.finetune.epochs,
        learning_rate=c.finetune.learning_rate,
        schedule=c.finetune.schedule, **common).entry
  for stage, epochs, milestones in (('scratch_e', c.optim.epochs, None),
                                    ('scratch_b', budget, budget_milestones)):
    if stage not in c.stages:
      continue
    fresh = ctx.init(small, seed, stage)
    if masks is not None:
      fresh['params'] = pruning.sparse_he_reinit(
          fresh['params'], masks, context.stage_key(seed, stage + '/sparse'))
    stages[stage] = ctx.train(stage, small, fresh, epochs=epochs,
                              learning_rate=c.optim.learning_rate,
                              milestones=milestones, **common).entry
  return stages, details


def _stage_line(entry) -> str:
  """``best 93.10 ± 0.20, last ...; N params, M FLOPs`` of one stage."""
  def pct(key):
    text = '%.2f' % (100 * entry[key])
    if entry['seeds'] > 1:
      text += ' ± %.2f' % (100 * entry[key + '_std'])
    return text
  return 'best %s, last %s; %s params, %s FLOPs' % (
      pct('best_test_accuracy'), pct('last_test_accuracy'),
      format(entry['params'], ','), format(entry['flops'], ','))


def rethinking(config, workdir: str) -> dict[str, Any]:
  """Runs the study; writes and returns results.json."""
  plan = context.large_model_plan(config) + [
      f'prune ({config.prune.method})', *config.stages]
  if config.seeds > 1:
    plan = [f'{config.seeds} seeds of: {" -> ".join(plan)}']
  ctx = context.RunContext.create(config, workdir, 'rethinking',
                                  check_config=check_config,
                                  check_model=check_model, plan=plan)
  per_seed = ctx.map_seeds(lambda i: run_seed(ctx, i))
  stages = results_lib.aggregate([s for s, _ in per_seed])
  first = per_seed[0][1]
  summary = {
      'model': ctx.spec.name, 'dataset': config.data.name,
      'method': config.prune.method, 'ratio': config.prune.ratio,
      'row': config.row, 'seeds': config.seeds,
      'scratch_b_epochs': first['scratch_b_epochs'],
      **{stage: _stage_line(e) for stage, e in stages.items()}}
  details = {'method': config.prune.method,
             'kind': pruning.get_criterion(config.prune.method).kind,
             'pruned': first, 'seeds': [d for _, d in per_seed]}
  return ctx.finish(summary, stages, details)


registry.register_study('rethinking', rethinking)
