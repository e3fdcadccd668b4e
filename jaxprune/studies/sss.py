"""The ``sss`` study: Sparse Structure Selection and its scratch baselines
(Huang & Wang 2018; rethinking.md §3.5, §8.5). Per seed:

1. ``search``: the gated model (``config.model.name`` a removable-block
   model of :mod:`jaxprune.models.sss_resnet` at ``config.model.widths``,
   default every block, each block's branch scaled by ``lambda_b``) trained with :func:`jaxprune.pruning.sss.sss_optimizer`:
   APG soft-thresholding with ``config.sss.gamma`` on the ``lambda``, NAG with
   coupled weight decay on the rest (``config.optim``). Skipped when
   ``config.sss.blocks`` gives the block config (the published ResNet-41/32/26
   of the Rethinking table: "pruned" accuracies are the SSS paper's);
2. ``pruned``: blocks whose ``lambda`` is exactly 0 removed by
   :func:`jaxprune.models.sss_resnet.remove_blocks` (the other ``lambda``
   folded into their ``conv3``), evaluated without training (the same
   function as the gated model);
3. ``finetune`` (if in ``config.stages``): the compact model, ``config.
   finetune``;
4. ``scratch_e`` / ``scratch_b``: the block config from a fresh init, NAG,
   for ``config.optim.epochs`` / the FLOPs budget of the full model
   (``config.scratch.b_rule``; ``'sss'``: ``int(100 r)`` epochs, x0.1 every
   ``int(30 r)``).

Results per stage over seeds; ``details``: the found block config, depth,
the final ``lambda`` of every block, FLOPs ratio and Scratch-B epochs.
"""

from __future__ import annotations

from typing import Any

from jaxprune import models
from jaxprune import pruning
from jaxprune import results as results_lib
from jaxprune.models import sss_resnet
from jaxprune.pruning import sss as sss_lib
from jaxprune.studies import context
from jaxprune.studies import registry

STAGES = ('finetune', 'scratch_e', 'scratch_b')


def check_config(config) -> None:
  """Bad SSS inputs fail before any data is loaded or anything written."""
  sss_lib.check_gamma(config.sss.gamma)
  defaults = models.get_spec(config.model.name).default_widths(10)
  if not isinstance(defaults, dict) or 'blocks' not in defaults:
    raise ValueError(f'the sss study needs a removable-block model '
                     f'(preresnet50_sss, preresnet_sss_cifar), not '
                     f'{config.model.name!r}')
  blocks = context.native(config.sss.blocks, 'sss.blocks')
  if blocks is not None:
    models.get_spec(config.model.name).validate_widths(
        {'blocks': blocks, 'gated': False})
  widths = context.native(config.model.widths, 'model.widths')
  if config.model.pretrained or (widths or {}).get('gated'):
    raise ValueError('the sss study trains its own gated search: leave '
                     'config.model.pretrained unset and config.model.widths '
                     'ungated (the study adds the gates; config.sss.blocks '
                     'gives a searched block config)')
  unknown = [s for s in config.stages if s not in STAGES]
  if unknown:
    raise ValueError(f'unknown stage(s) {unknown} in config.stages; known: '
                     f'{STAGES}')
  if config.scratch.b_rule not in ('cifar', 'imagenet', 'sss'):
    raise ValueError(f'config.scratch.b_rule must be cifar, imagenet or sss, '
                     f'got {config.scratch.b_rule!r}')


def _nag(config):
  o, gamma = config.optim, config.sss.gamma
  return lambda lr_fn: sss_lib.sss_optimizer(lr_fn, gamma, o.momentum,
                                             o.weight_decay)


def run_seed(ctx, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
  c = ctx.config
  seed = c.seed + index
  stages: dict[str, Any] = {}
  full = ctx.spec
  given = context.native(c.sss.blocks, 'sss.blocks')
  details: dict[str, Any] = {'seed': seed}
  if given is None:
    gated = full.with_widths({**full.widths, 'gated': True})
    run = ctx.train('search', gated, ctx.init(gated, seed, 'search'),
                    seed=seed, seed_index=index, epochs=c.optim.epochs,
                    learning_rate=c.optim.learning_rate,
                    optimizer=_nag(c))
    stages['search'] = run.entry
    widths, params, stats = sss_resnet.remove_blocks(
        gated.widths, run.variables['params'], run.variables['batch_stats'])
    small = full.with_widths(widths)
    pruned = {'params': params, 'batch_stats': stats}
    stages['pruned'] = ctx.evaluated_entry(small, pruned)
    details['block_scales'] = sss_lib.block_scales(run.variables['params'])
  else:
    small = full.with_widths({'blocks': given, 'gated': False})
    pruned = None
  details.update(blocks=small.widths['blocks'],
                 depth=sss_resnet.depth(small.widths['blocks']))
  f_full, f_small = ctx.counts.flops, ctx.count(small).flops
  budget, milestones = pruning.scratch_b_schedule(
      f_full, f_small, c.scratch.b_rule, base_epochs=c.optim.epochs,
      epochs=c.scratch.b_epochs or None)
  details.update(flops_ratio=f_full / f_small, scratch_b_epochs=budget,
                 scratch_b_milestones=milestones)
  cap = c.scratch.b_max_epochs
  if cap and budget > cap:
    milestones = [m * cap // budget for m in milestones]
    budget = cap
  details['scratch_b_epochs_run'] = budget
  common = dict(seed=seed, seed_index=index, optimizer=_nag(c))
  if 'finetune' in c.stages and pruned is not None:
    stages['finetune'] = ctx.train(
        'finetune', small, pruned, epochs=c.finetune.epochs,
        learning_rate=c.finetune.learning_rate,
        schedule=c.finetune.schedule, **common).entry
  for stage, epochs, steps in (('scratch_e', c.optim.epochs, None),
                               ('scratch_b', budget, milestones)):
    if stage in c.stages:
      stages[stage] = ctx.train(stage, small, ctx.init(small, seed, stage),
                                epochs=epochs,
                                learning_rate=c.optim.learning_rate,
                                milestones=steps, **common).entry
  return stages, details


def sss(config, workdir: str) -> dict[str, Any]:
  """Runs the study; writes and returns results.json."""
  plan = ([] if config.sss.blocks is not None else
          [f'search (gamma {config.sss.gamma:g}, {config.optim.epochs} '
           'epochs) -> remove blocks'])
  plan += [s for s in config.stages]
  if config.seeds > 1:
    plan = [f'{config.seeds} seeds of: {" -> ".join(plan)}']
  ctx = context.RunContext.create(config, workdir, 'sss',
                                  check_config=check_config, plan=plan)
  per_seed = ctx.map_seeds(lambda i: run_seed(ctx, i))
  stages = results_lib.aggregate([s for s, _ in per_seed])
  first = per_seed[0][1]
  summary = {'model': ctx.spec.name, 'dataset': config.data.name,
             'row': config.row, 'seeds': config.seeds,
             'gamma': config.sss.gamma, 'blocks': first['blocks'],
             'depth': first['depth'],
             'scratch_b_epochs': first['scratch_b_epochs'],
             **{s: 'best %.2f, last %.2f' % (
                 100 * e['best_test_accuracy'],
                 100 * e['last_test_accuracy']) for s, e in stages.items()}}
  return ctx.finish(summary, stages, {'seeds': [d for _, d in per_seed]})


registry.register_study('sss', sss)
