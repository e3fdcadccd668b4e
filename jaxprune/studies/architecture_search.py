"""The ``architecture_search`` study (rethinking.md §10): are the widths or
sparsity patterns an automatic pruning method finds worth more than uniform
ones of the same size, and can they be distilled into a design rule?

``config.arch_search.mode``:

* ``'channel'`` (a VGG with a cfg width config): the large model trained
  with Network Slimming's sparsity term (``config.prune.sparsity_lambda``),
  slimmed at each ratio of ``config.arch_search.ratios``; per ratio, trained
  from scratch (``config.optim``, Scratch-E):

  - ``pruned_r{ratio}``: the slimmed architecture;
  - ``uniform_r{ratio}``: uniform channel pruning with the pruned model's
    parameter count (:func:`jaxprune.pruning.guided.uniform_cfg_matching`);
  - ``guided_r{ratio}``: guided pruning: the per-stage average kept fraction
    over the seeds' slimmed cfgs applied to every conv of the stage;
  - ``transfer_r{ratio}`` (with ``config.arch_search.pattern_from``): the
    stage fractions of another finished run (e.g. VGG-16 on CIFAR-10) on
    this model (e.g. VGG-19 on CIFAR-100; the stage counts must agree).

* ``'weight'``: the large model trained, global magnitude pruning at each
  ratio; per ratio the masks trained from the density-scaled He init:
  ``pruned_r`` (magnitude pattern), ``uniform_r`` (uniform random
  sparsification at the same density in every layer), ``guided_r`` (guided
  sparsification: masks sampled from the per-stage 3x3 keep probabilities
  averaged over seeds), ``transfer_r`` (another run's probabilities).

The patterns (stage fractions, keep probabilities) are written to
``<workdir>/pattern.json`` for transfers. Results: per stage over seeds;
the report plots accuracy against parameters (non-zero weights for masks).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import pruning
from jaxprune import results as results_lib
from jaxprune.pruning import guided
from jaxprune.studies import context
from jaxprune.studies import registry
from jaxprune.training import distributed

MODES = ('channel', 'weight')
PATTERN_FILE = 'pattern.json'
ARMS = ('pruned', 'uniform', 'guided', 'transfer')


def _full_cfg(config) -> list[Any]:
  """The large model's cfg: ``config.model.widths`` or the default."""
  widths = context.native(config.model.widths, 'model.widths')
  if widths is None:
    widths = models.get_spec(config.model.name).default_widths(10)
  if not isinstance(widths, list):
    raise ValueError(f'the architecture_search study needs a VGG with a cfg '
                     f'width config (vgg16_l1, vgg19_slim, vgg16_wl, '
                     f'vgg19_wl), not {config.model.name!r}')
  return widths


def load_pattern(path: str) -> dict[str, Any]:
  """A finished run's ``pattern.json`` (a run directory or the file)."""
  if os.path.isdir(path):
    path = os.path.join(path, PATTERN_FILE)
  try:
    with open(path, encoding='utf-8') as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise ValueError(f'config.arch_search.pattern_from: cannot read {path}: '
                     f'{e}') from None


def check_config(config) -> None:
  a = config.arch_search
  if a.mode not in MODES:
    raise ValueError(f'config.arch_search.mode must be one of {MODES}, got '
                     f'{a.mode!r}')
  ratios = tuple(a.ratios)
  if not ratios or len(set(ratios)) != len(ratios):
    raise ValueError('config.arch_search.ratios must be distinct ratios')
  for r in ratios:
    if isinstance(r, bool) or not isinstance(r, (int, float)):
      raise ValueError(f'config.arch_search.ratios: {r!r} is not a ratio')
    guided.check_density(1.0 - r, f'the target density 1 - {r!r}')
  full = _full_cfg(config)
  if config.model.pretrained:
    raise ValueError('the architecture_search study trains its own large '
                     'model: leave config.model.pretrained unset')
  if a.mode == 'channel' and config.prune.sparsity_lambda < 0:
    raise ValueError('config.prune.sparsity_lambda must be >= 0')
  if a.pattern_from:
    pattern = load_pattern(a.pattern_from)
    if pattern.get('mode') != a.mode:
      raise ValueError(f'{a.pattern_from} holds a {pattern.get("mode")!r} '
                       f'pattern, this run is {a.mode!r}')
    guided.check_transfer(pattern['full_cfg'], full)
    missing = [r for r in ratios if f'{r:g}' not in pattern['ratios']]
    if missing:
      raise ValueError(f'{a.pattern_from} has no pattern for ratio(s) '
                       f'{missing}')


def _slimmed_cfg(ctx, variables, ratio: float, seed: int) -> list[Any]:
  result = ctx.prune(pruning.get_criterion('slimming'), ctx.spec, variables,
                     ratio, seed, tag=f'r{ratio:g}')
  widths, _, _ = pruning.compact(ctx.spec, variables['params'],
                                 variables['batch_stats'], result.keep)
  return list(widths)


def _params_of(ctx, cfg) -> int:
  return ctx.count(ctx.spec.with_widths(cfg)).params


def _magnitude(ctx, variables, ratio: float, seed: int):
  return ctx.prune(pruning.get_criterion('magnitude'), ctx.spec, variables,
                   ratio, seed, tag=f'r{ratio:g}').masks


def _large_models(ctx) -> list[tuple[int, dict[str, Any], dict]]:
  c = ctx.config
  pre = ((pruning.bn_l1_subgradient(c.prune.sparsity_lambda),)
         if c.arch_search.mode == 'channel' and c.prune.sparsity_lambda
         else ())
  def one(i):
    variables, entry = ctx.large_model(c.seed + i, i, pre)
    return c.seed + i, variables, entry
  return ctx.map_seeds(one)


def _write_pattern(ctx, pattern: dict[str, Any]) -> None:
  if distributed.is_writer():
    path = os.path.join(ctx.workdir, PATTERN_FILE)
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
      json.dump(pattern, f, indent=1)
    os.replace(path + '.tmp', path)
  distributed.barrier('pattern written')


def _train_cfgs(ctx, seed: int, index: int, cfgs: dict[str, Any],
                key: str) -> dict[str, Any]:
  """Channel mode, one seed: each arm's width config trained from scratch
  -> ``{'<arm>_r<key>': entry}``."""
  c = ctx.config
  out = {}
  for arm, cfg in cfgs.items():
    spec = ctx.spec.with_widths(cfg)
    name = f'{arm}_r{key}'
    out[name] = ctx.train(name, spec, ctx.init(spec, seed, name), seed=seed,
                          seed_index=index, epochs=c.optim.epochs,
                          learning_rate=c.optim.learning_rate).entry
  return out


def _train_masks(ctx, large, index: int, pruned_masks, probs, key: str,
                 transfer, stages_of_kernels) -> dict[str, Any]:
  """Weight mode, one seed: the magnitude pattern and the uniform, guided
  (and transferred) masks, each trained from a sparse init ->
  ``{'<arm>_r<key>': entry}``."""
  c = ctx.config
  seed, variables, _ = large
  params = variables['params']
  arms = {'pruned': pruned_masks,
          'uniform': guided.uniform_random_masks(
              params, masks_lib.density(pruned_masks),
              context.stage_key(seed, f'uniform_r{key}/mask'),
              [p for s in stages_of_kernels for p in s]),
          'guided': guided.guided_masks(
              params, probs, stages_of_kernels,
              context.stage_key(seed, f'guided_r{key}/mask'))}
  if transfer is not None:
    arms['transfer'] = guided.guided_masks(
        params, [np.asarray(p) for p in
                 transfer['ratios'][key]['probabilities']],
        stages_of_kernels, context.stage_key(seed, f'transfer_r{key}/mask'))
  out = {}
  for arm, m in arms.items():
    name = f'{arm}_r{key}'
    fresh = ctx.init(ctx.spec, seed, name)
    fresh['params'] = pruning.sparse_he_reinit(
        fresh['params'], m, context.stage_key(seed, name + '/sparse'))
    out[name] = ctx.train(name, ctx.spec, fresh, seed=seed, seed_index=index,
                          epochs=c.optim.epochs,
                          learning_rate=c.optim.learning_rate,
                          masks=m).entry
  return out


def run(ctx) -> tuple[list[dict[str, Any]], dict[str, Any]]:
  """Every seed's stages and the study's details."""
  c = ctx.config
  a = c.arch_search
  full = list(ctx.spec.widths)
  large = _large_models(ctx)
  ratios = list(a.ratios)
  per_seed: list[dict[str, Any]] = [{'baseline': e} for _, _, e in large]
  pattern: dict[str, Any] = {'mode': a.mode, 'full_cfg': full, 'ratios': {}}
  transfer = load_pattern(a.pattern_from) if a.pattern_from else None
  details: dict[str, Any] = {'ratios': {}}
  stages_of_kernels = guided.kernel_stages(full)
  for ratio in ratios:
    key = f'{ratio:g}'
    if a.mode == 'channel':
      cfgs = [_slimmed_cfg(ctx, v, ratio, seed) for seed, v, _ in large]
      fractions = guided.stage_average_widths(cfgs, full)
      target = int(np.mean([_params_of(ctx, cfg) for cfg in cfgs]))
      uniform, q = guided.uniform_cfg_matching(
          full, target, lambda cfg: _params_of(ctx, cfg))
      archs = {'uniform': uniform,
               'guided': guided.guided_cfg(fractions, full)}
      if transfer is not None:
        archs['transfer'] = guided.guided_cfg(
            transfer['ratios'][key]['fractions'], full)
      pattern['ratios'][key] = {'fractions': fractions}
      details['ratios'][key] = {'pruned_cfgs': cfgs, 'uniform_q': q,
                                'stage_fractions': fractions, **archs}
      for i, entries in enumerate(ctx.map_seeds(
          lambda i, cfgs=cfgs, archs=archs, key=key: _train_cfgs(
              ctx, large[i][0], i, {'pruned': cfgs[i], **archs}, key))):
        per_seed[i].update(entries)
      continue
    masks = [_magnitude(ctx, v, ratio, seed) for seed, v, _ in large]
    probs = guided.stage_keep_probabilities(masks, stages_of_kernels)
    pattern['ratios'][key] = {'probabilities': [p.tolist() for p in probs]}
    details['ratios'][key] = {'conv_density': masks_lib.density(masks[0])}
    for i, entries in enumerate(ctx.map_seeds(
        lambda i, masks=masks, probs=probs, key=key: _train_masks(
            ctx, large[i], i, masks[i], probs, key, transfer,
            stages_of_kernels))):
      per_seed[i].update(entries)
  _write_pattern(ctx, pattern)
  return per_seed, details


def architecture_search(config, workdir: str) -> dict[str, Any]:
  """Runs the study; writes and returns results.json."""
  a = config.arch_search
  arms = ['pruned', 'uniform', 'guided'] + (['transfer'] if a.pattern_from
                                            else [])
  plan = [f'{config.seeds} x baseline ({config.optim.epochs} epochs)',
          f'{"slimming" if a.mode == "channel" else "magnitude"} at '
          f'{", ".join(f"{r:g}" for r in a.ratios)}',
          f'scratch ({config.optim.epochs} epochs) of {"/".join(arms)} per '
          'ratio and seed']
  ctx = context.RunContext.create(config, workdir, 'architecture_search',
                                  check_config=check_config, plan=plan)
  per_seed, details = run(ctx)
  stages = results_lib.aggregate(per_seed)
  summary = {'model': ctx.spec.name, 'dataset': config.data.name,
             'mode': a.mode, 'ratios': list(a.ratios), 'row': config.row,
             'seeds': config.seeds, 'transfer_from': a.pattern_from,
             **{name: 'best %.2f, %s params' % (
                 100 * e['best_test_accuracy'], format(e['params'], ','))
                for name, e in stages.items()}}
  return ctx.finish(summary, stages, details)


registry.register_study('architecture_search', architecture_search)
