"""Pruning pipelines selected by ``config.pipeline`` (experiments/main.py).

``get_pipeline(name)`` returns a runner ``(config, workdir) -> results`` whose
results dict has a ``'summary'`` entry for printing. Registered:

* ``'rethinking'`` (rethinking.md §2): per seed, train the large model
  (``baseline``; with Network Slimming the ``lambda*sign(gamma)`` subgradient
  is added), prune it (``config.method``: 'l1_norm', 'slimming', 'magnitude',
  or the baselines 'uniform' / 'random_channel'), evaluate the pruned model,
  fine-tune it (``finetune``: ``config.finetune_epochs`` at
  ``config.finetune_lr``, constant LR), train the pruned architecture from
  scratch for the same epochs (``scratch_e``) and for the same FLOPs budget
  (``scratch_b``, :func:`jaxprune.scratch.scratch_b_epochs`). Structured
  methods physically prune (:func:`jaxprune.surgery.compact`); magnitude
  pruning keeps its masks fixed in every later stage (masked training), the
  scratch stages use the sparsity-aware init ``N(0, sqrt(2/(nnz/C_in)))``,
  and FLOPs count non-zero conv weights after the mask. Every stage runs
  through :func:`jaxprune.train.run_stage` in its own directory
  (``workdir[/seed{i}]/{baseline,finetune,scratch_e,scratch_b}``), so a rerun
  resumes. ``results.json`` holds per-seed params, FLOPs and best/last
  accuracy per stage and, over ``config.seeds`` seeds, mean and std.

Config fields read (besides the base ones): ``method``, ``prune_ratio``,
``l1_target`` (a name of :data:`jaxprune.criteria.L1_TARGETS`) or
``l1_ratios`` (JSON ``{layer_id: p}``), ``l1_stage_ratios`` (JSON list),
``l1_skip`` (JSON list), ``sparsity_lambda``, ``finetune_epochs``,
``finetune_lr``, ``scratch_b_rule`` ('cifar' | 'imagenet'),
``scratch_b_max_epochs`` (0: no cap; only for quick runs), ``seeds``,
``baseline_checkpoint`` (a stage dir holding a trained large model's
checkpoint to start from instead of training one), ``stages`` (subset of
'finetune,scratch_e,scratch_b' to run).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable

from absl import logging
import jax
import numpy as np

from jaxprune import checkpoint as ckpt_lib
from jaxprune import criteria
from jaxprune import flops as flops_lib
from jaxprune import models
from jaxprune.naming import Registry
from jaxprune import scratch
from jaxprune import steps as steps_lib
from jaxprune import surgery
from jaxprune import train
from jaxprune import trainer

_PIPELINES: Registry[Callable] = Registry('pipeline')

STRUCTURED = ('l1_norm', 'slimming', 'uniform', 'random_channel')
UNSTRUCTURED = ('magnitude',)
STAGES = ('finetune', 'scratch_e', 'scratch_b')


def register_pipeline(name: str, fn: Callable) -> Callable:
  return _PIPELINES.register(name, fn)


def get_pipeline(name: str) -> Callable:
  return _PIPELINES.get(name)


def _json(config, field, default):
  value = config.get(field, '')
  if value in ('', None):
    return default
  return json.loads(value) if isinstance(value, str) else value


def _prune(config, model_name, widths, params, batch_stats):
  """-> (keep or None, masks or None, new_widths, params, batch_stats)."""
  method = config.method
  ratio = config.get('prune_ratio', 0.0)
  if method in UNSTRUCTURED:
    masks = criteria.global_magnitude_masks(params, ratio)
    return None, masks, widths, params, batch_stats
  if method == 'l1_norm':
    target = config.get('l1_target', '')
    if target:
      keep = criteria.l1_filter_channel_keep(params, model_name,
                                             target=target)
    else:
      ratios = {int(k): v for k, v in _json(config, 'l1_ratios', {}).items()}
      keep = criteria.l1_filter_channel_keep(
          params, model_name, ratios=ratios or None,
          stage_ratios=_json(config, 'l1_stage_ratios', None),
          skip=_json(config, 'l1_skip', []))
  elif method == 'slimming':
    keep = criteria.slimming_channel_keep(params, model_name, ratio)
  elif method == 'uniform':
    keep = criteria.uniform_channel_keep(params, model_name, ratio)
  elif method == 'random_channel':
    keep = criteria.random_channel_keep(params, model_name, ratio,
                                        seed=config.seed)
  else:
    raise ValueError(f'unknown pruning method {method!r}; known: '
                     f'{STRUCTURED + UNSTRUCTURED}')
  new_widths, new_params, new_stats = surgery.compact(
      model_name, widths, params, batch_stats, keep)
  return keep, None, new_widths, new_params, new_stats


def _stages(config) -> list[str]:
  wanted = [s.strip() for s in
            (config.get('stages') or ','.join(STAGES)).split(',') if s.strip()]
  for s in wanted:
    if s not in STAGES:
      raise ValueError(f'unknown stage {s!r}; known: {STAGES}')
  return wanted


def _check_pruning_inputs(config, dataset) -> None:
  """Bad pruning inputs fail before any training or write.

  The criterion runs once on freshly initialised params: a prune ratio
  outside [0, 1), an unknown L1 target, or a skip/ratio list naming a layer
  the model lacks raises here. (Slimming's threshold depends on the trained
  gammas, so only its ratio is checked.)
  """
  ratio = config.get('prune_ratio', 0.0)
  if not 0.0 <= ratio < 1.0:
    raise ValueError(f'config.prune_ratio must be in [0, 1), got {ratio}')
  if config.method == 'slimming':
    return
  name, nc = config.model, dataset.num_classes
  widths = train.parse_widths(config.widths) or models.default_widths(name, nc)
  model = models.create_model(name, nc, widths)
  shape = tuple(dataset.train_images.shape[1:]) if hasattr(
      dataset, 'train_images') else tuple(dataset.image_shape)
  params, stats = train.init_variables(model, shape, config.seed)
  _prune(config, name, widths, jax.device_get(params),
         jax.device_get(stats))


def _restore_params(stage_dir, model, source):
  """Params/batch_stats of the latest checkpoint in a baseline stage dir."""
  template = jax.eval_shape(lambda: model.init(
      jax.random.key(0), np.zeros((1, *source.input_shape), np.float32),
      train=False))
  return ckpt_lib.restore_variables(stage_dir, template['params'],
                                    template.get('batch_stats', {}))


def _stage_entry(counts, fit_result) -> dict[str, Any]:
  return {'params': counts.params, 'flops': counts.flops,
          **fit_result.summary()}


def _run_seed(config, workdir, seed, dataset, config_dict):
  source = train.build_source(config, dataset)
  nc = dataset.num_classes
  name = config.model
  axis = steps_lib.AXIS_NAME if config.sync_bn else None
  widths = train.parse_widths(config.widths) or models.default_widths(name, nc)
  model = models.create_model(name, nc, widths, axis_name=axis)
  full_counts = flops_lib.count(model, source.input_shape)
  out: dict[str, Any] = {'seed': seed, 'stages': {}}
  slim = config.method == 'slimming'
  pre = (criteria.bn_l1_subgradient(config.sparsity_lambda),) if slim else ()
  stage_cfg = lambda stage: dict(config_dict, stage=stage, stage_seed=seed)

  # 1. the large model.
  if config.get('baseline_checkpoint'):
    params, stats, meta = _restore_params(config.baseline_checkpoint,
                                          model, source)
    metrics = trainer.evaluate_params(model, source, params, stats)
    history = meta.get('history', [])
    out['stages']['baseline'] = {
        'params': full_counts.params, 'flops': full_counts.flops,
        'best_test_accuracy': max([h['test_accuracy'] for h in history],
                                  default=metrics['test_accuracy']),
        'last_test_accuracy': metrics['test_accuracy'],
        'checkpoint': config.baseline_checkpoint}
  else:
    params, stats = train.init_variables(model, source.input_shape, seed)
    res = train.run_stage(
        name='baseline', config=config,
        workdir=os.path.join(workdir, 'baseline'), model=model, source=source,
        params=params, batch_stats=stats, epochs=config.epochs,
        learning_rate=config.learning_rate, seed=seed,
        config_dict=stage_cfg('baseline'),
        extra_meta={'widths': widths, 'model': name}, pre=pre)
    params, stats = res.state.trainable, res.state.batch_stats
    out['stages']['baseline'] = _stage_entry(full_counts, res)
  params, stats = jax.device_get((params, stats))

  # 2. prune.
  keep, masks, new_widths, p_params, p_stats = _prune(config, name, widths,
                                                      params, stats)
  small = models.create_model(name, nc, new_widths, axis_name=axis)
  if masks is not None:
    p_params = jax.tree.map(lambda p, m: np.asarray(p) * np.asarray(m),
                            p_params, masks)
    counts = flops_lib.count(small, source.input_shape, masks=masks)
  else:
    counts = flops_lib.count(small, source.input_shape)
  metrics = trainer.evaluate_params(small, source, p_params, p_stats, masks)
  out['pruned'] = {'params': counts.params, 'flops': counts.flops,
                   'widths': new_widths,
                   'test_accuracy': metrics['test_accuracy'],
                   'flops_ratio': full_counts.flops / counts.flops}
  if keep is not None:
    out['pruned']['keep_counts'] = criteria.keep_counts(keep)
  else:
    out['pruned']['conv_density'] = criteria.density(masks)
  out['stages']['pruned'] = {'params': counts.params, 'flops': counts.flops,
                             'best_test_accuracy': metrics['test_accuracy'],
                             'last_test_accuracy': metrics['test_accuracy']}
  meta = {'widths': new_widths, 'model': name}
  wanted = _stages(config)

  # 3. fine-tune (inherited weights, constant LR by default).
  if 'finetune' in wanted:
    res = train.run_stage(
        name='finetune', config=config,
        workdir=os.path.join(workdir, 'finetune'), model=small, source=source,
        params=p_params, batch_stats=p_stats, epochs=config.finetune_epochs,
        learning_rate=config.finetune_lr,
        schedule=config.get('finetune_schedule', 'constant'), masks=masks,
        seed=seed, config_dict=stage_cfg('finetune'), extra_meta=meta)
    out['stages']['finetune'] = _stage_entry(counts, res)

  # 4./5. from scratch: fresh init of the pruned architecture.
  def fresh(init_seed):
    fp, fs = train.init_variables(small, source.input_shape, init_seed)
    if masks is not None:
      fp = criteria.sparse_he_reinit(fp, masks, jax.random.key(init_seed))
    return fp, fs

  budget_epochs, budget_milestones = scratch.scratch_b_schedule(
      full_counts.flops, counts.flops, config.get('scratch_b_rule', 'cifar'),
      base_epochs=config.epochs)
  out['scratch_b_epochs'] = budget_epochs
  cap = config.get('scratch_b_max_epochs', 0)
  if cap and budget_epochs > cap:  # a small-budget run: rescale the steps
    budget_milestones = [m * cap // budget_epochs for m in budget_milestones]
    budget_epochs = cap
  out['scratch_b_epochs_run'] = budget_epochs
  for stage, epochs, milestones in (
      ('scratch_e', config.epochs, None),
      ('scratch_b', budget_epochs, budget_milestones)):
    if stage not in wanted:
      continue
    fp, fs = fresh(seed + 1)
    res = train.run_stage(
        name=stage, config=config, workdir=os.path.join(workdir, stage),
        model=small, source=source, params=fp, batch_stats=fs, epochs=epochs,
        learning_rate=config.learning_rate, masks=masks, seed=seed,
        config_dict=stage_cfg(stage), extra_meta=meta, milestones=milestones)
    out['stages'][stage] = _stage_entry(counts, res)
  return out


def _aggregate(runs) -> dict[str, Any]:
  agg = {}
  for stage in runs[0]['stages']:
    entry = {}
    for key in ('best_test_accuracy', 'last_test_accuracy'):
      vals = [r['stages'][stage][key] for r in runs if stage in r['stages']]
      entry[key + '_mean'] = float(np.mean(vals))
      entry[key + '_std'] = float(np.std(vals))
      entry[key + '_all'] = vals
    entry['params'] = runs[0]['stages'][stage]['params']
    entry['flops'] = runs[0]['stages'][stage]['flops']
    agg[stage] = entry
  return agg


def rethinking(config, workdir: str) -> dict[str, Any]:
  """Runs the Rethinking pipeline; writes and returns ``results.json``."""
  t0 = time.time()
  train.validate_config(config)
  if config.method not in STRUCTURED + UNSTRUCTURED:
    raise ValueError(f'unknown pruning method {config.method!r}; known: '
                     f'{STRUCTURED + UNSTRUCTURED}')
  seeds = int(config.get('seeds', 1))
  if seeds <= 0:
    raise ValueError(f'config.seeds must be positive, got {seeds}')
  _stages(config)
  dataset = train.load_data(config)
  _check_pruning_inputs(config, dataset)
  config_dict = train.config_to_dict(config)
  runs = []
  for i in range(seeds):
    seed = config.seed + i
    sd = workdir if seeds == 1 else os.path.join(workdir, f'seed{i}')
    logging.info('rethinking: seed %d -> %s', seed, sd)
    runs.append(_run_seed(config, sd, seed, dataset, config_dict))
  agg = _aggregate(runs)
  summary = {
      'model': config.model, 'dataset': config.dataset,
      'method': config.method, 'prune_ratio': config.get('prune_ratio', 0.0),
      'seeds': seeds, 'scratch_b_epochs': runs[0]['scratch_b_epochs'],
      **{stage: (f"{100 * e['best_test_accuracy_mean']:.2f} +- "
                 f"{100 * e['best_test_accuracy_std']:.2f} "
                 f"(last {100 * e['last_test_accuracy_mean']:.2f}; "
                 f"{e['params']:,} params, {e['flops']:,} FLOPs)")
         for stage, e in agg.items()}}
  results = {'pipeline': 'rethinking', 'model': config.model,
             'dataset': config.dataset, 'method': config.method,
             'prune_ratio': config.get('prune_ratio', 0.0),
             'row': config.get('row', ''),
             'runs': runs, 'aggregate': agg, 'summary': summary,
             'total_wall_time_s': time.time() - t0, **train.device_info(),
             'config': config_dict}
  train.write_json(os.path.join(workdir, 'results.json'), results)
  return results


register_pipeline('rethinking', rethinking)


def jackpot(config, workdir: str) -> dict[str, Any]:
  """The Lottery-Jackpot pipeline (:mod:`jaxprune.jackpot.pipeline`)."""
  from jaxprune.jackpot import pipeline  # pylint: disable=g-import-not-at-top
  return pipeline.run_jackpot(config, workdir)


register_pipeline('jackpot', jackpot)


def suite(config, workdir: str) -> dict[str, Any]:
  """Both papers on one dataset: the README's main job.

  For each method of ``config.suite_methods`` (e.g. 'l1_norm,slimming') the
  ``rethinking`` pipeline runs in ``<workdir>/<method>`` (train -> prune ->
  fine-tune / Scratch-E / Scratch-B); then, if ``config.jackpot.epochs``, the
  ``jackpot`` pipeline in ``<workdir>/jackpot`` (score search on the frozen
  dense model, no weight updated). Ends with the comparison tables
  (:func:`jaxprune.report.write_report`) in ``<workdir>/report``.
  """
  from jaxprune import report  # pylint: disable=g-import-not-at-top
  methods = [m.strip() for m in config.suite_methods.split(',') if m.strip()]
  unknown = sorted(set(methods) - set(STRUCTURED + UNSTRUCTURED))
  if unknown or not methods:
    raise ValueError(f'config.suite_methods: unknown methods {unknown}; '
                     f'known: {STRUCTURED + UNSTRUCTURED}')
  dirs = []
  for method in methods:
    sub = config.copy_and_resolve_references()
    sub.method = method
    dirs.append(os.path.join(workdir, method))
    rethinking(sub, dirs[-1])
  if config.jackpot.epochs:
    dirs.append(os.path.join(workdir, 'jackpot'))
    jackpot(config, dirs[-1])
  out = report.write_report(dirs, os.path.join(workdir, 'report'))
  return {'pipeline': 'suite', 'runs': dirs,
          'report_markdown': out['markdown'], 'report': out['table'],
          'plots': out['plots']}


register_pipeline('suite', suite)
