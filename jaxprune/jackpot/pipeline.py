"""The jackpot pipeline: dense pre-training -> magnitude mask -> score search.

``run_jackpot(config, workdir)`` (``config.pipeline = 'jackpot'``):

1. ``baseline/``: train the dense model (or import an official PyTorch
   checkpoint given in ``config.jackpot.pretrained_torch``);
2. evaluate the magnitude mask at the target sparsity (no training);
3. ``search/``: the score search on the frozen weights (resumable);
3b. ``tune/`` (if ``config.jackpot.tune_epochs``; the ImageNet "30(S)+10(T)"
   stage of §2.9): the jackpot mask fixed, weights and BN trained with masked
   SGD (lr 0.01, momentum 0.9, wd 0, per-epoch cosine);
4. ``results.json``: jackpot vs magnitude-mask accuracy, per-layer sparsity,
   mask changes, FLOPs of the masked model, and a check that no weight, bias
   or BN scale/bias changed.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

from absl import logging
import jax
import numpy as np

from jaxprune import flops as flops_lib
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import sources
from jaxprune import steps as steps_lib
from jaxprune import train
from jaxprune import trainer
from jaxprune.jackpot import prunable
from jaxprune.jackpot import search
from jaxprune.jackpot import ste
from jaxprune.jackpot.short_restriction import decaying_rate


def _rate_fn(config):
  if config.rate == 'constant':
    return None
  if config.rate == 'decay':
    return decaying_rate(config.epochs)
  raise ValueError(f"jackpot.rate must be 'constant' or 'decay', got "
                   f'{config.rate!r}')


def _baseline_config_dict(config) -> dict:
  d = train.config_to_dict(config)
  d.pop('jackpot', None)
  d.pop('pipeline', None)
  return d


def validate(config) -> None:
  train.validate_config(config)
  jp = config.jackpot
  search.check_sparsity(jp.sparsity)
  if jp.layerwise not in ('global', 'uniform'):
    raise ValueError(f"jackpot.layerwise must be 'global' or 'uniform', got "
                     f'{jp.layerwise!r}')
  if jp.tie_rule not in ('skip_layer', 'index'):
    raise ValueError(f"jackpot.tie_rule must be 'skip_layer' or 'index', got "
                     f'{jp.tie_rule!r}')
  if jp.tune_epochs < 0:
    raise ValueError('jackpot.tune_epochs must be >= 0')
  if jp.epochs <= 0 or jp.batch_size <= 0:
    raise ValueError('jackpot.epochs and jackpot.batch_size must be positive')
  sources.check_batch_size(jp.batch_size, train.num_devices_of(config))
  _rate_fn(jp)


def _layer_report(counts, masks, initial_masks) -> dict[str, dict[str, Any]]:
  out = {}
  init = dict(prunable.flatten_paths(initial_masks))
  for path, m in prunable.flatten_paths(masks):
    m = np.asarray(m)
    out[prunable.path_str(path)] = {
        'size': int(m.size), 'pruned': int(m.size - np.count_nonzero(m)),
        'target_pruned': int(counts[path]),
        'changed_vs_magnitude': int(np.sum(m != np.asarray(init[path]))),
    }
  return out


def _with_batch_size(source, batch_size: int):
  """The same data at the search's batch size (checked like the core's)."""
  if isinstance(source, sources.ArraySource):
    return dataclasses.replace(source, batch_size=batch_size)
  if batch_size != source.batch_size:
    raise ValueError('a streamed dataset is batched by config.batch_size; '
                     f'set jackpot.batch_size={source.batch_size} too')
  return source


def overlap_study(config, dataset, source, params, batch_stats, counts,
                  jackpot_masks, out_dir: str) -> dict[str, Any]:
  """Masks of six criteria at the jackpot's per-layer counts vs the jackpot.

  Only pruned layers are compared (the dense classifier would agree
  trivially).

  Writes ``overlap.md`` and ``overlap_heatmap.png`` to ``out_dir`` and returns
  the table (per layer and overall ``|keep_A & keep_J| / |keep_J|``).
  """
  from jaxprune import overlap  # pylint: disable=g-import-not-at-top
  model = models.create_model(config.model, dataset.num_classes,
                              train.parse_widths(config.widths))
  n = min(config.jackpot.overlap_examples, source.num_train)
  data, _ = source.device_data()
  batch = source.prepare_batch(data, {'ids': np.arange(n)}, None, False)
  masks = overlap.all_masks(params, batch_stats, model, counts,
                            [(batch['image'], batch['label'])],
                            jax.random.key(config.seed), source.input_shape)
  # Layers never pruned (the classifier) agree trivially: leave them out.
  pruned = {p for p, c in counts.items() if c > 0}
  only_pruned = lambda tree: prunable.unflatten_paths(
      [(p, m) for p, m in prunable.flatten_paths(tree) if p in pruned])
  table = overlap.overlap_table(
      {name: only_pruned(m) for name, m in masks.items()},
      only_pruned(jackpot_masks))
  overlap.write_overlap_report(table, out_dir)
  return table.as_dict()


def run_jackpot(config, workdir: str) -> dict[str, Any]:
  """Runs the whole jackpot pipeline of ``config`` in ``workdir``."""
  t0 = time.time()
  validate(config)
  jp = config.jackpot
  dataset = train.load_data(config)
  widths = train.parse_widths(config.widths)
  model = models.create_model(config.model, dataset.num_classes, widths,
                              axis_name=steps_lib.AXIS_NAME
                              if config.sync_bn else None)
  from jaxprune import checkpoint  # pylint: disable=g-import-not-at-top
  full_dict = train.config_to_dict(config)
  checkpoint.check_workdir(os.path.join(workdir, 'search'), full_dict)
  source = train.build_source(config, dataset)
  counts_dense = flops_lib.count(model, source.input_shape)

  # 1. The pre-trained dense model.
  if jp.pretrained_torch:
    from jaxprune.importers import torch_jackpot  # pylint: disable=g-import-not-at-top
    params, batch_stats = torch_jackpot.import_state_dict(
        torch_jackpot.load_checkpoint_file(jp.pretrained_torch), config.model,
        dataset.num_classes)
    baseline = trainer.evaluate_params(model, source, params, batch_stats)
    baseline = {'best_test_accuracy': baseline['test_accuracy'],
                'last_test_accuracy': baseline['test_accuracy'],
                'source': jp.pretrained_torch}
  else:
    params, batch_stats = train.init_variables(model, source.input_shape,
                                               config.seed)
    fitted = train.run_stage(
        name='baseline', config=config,
        workdir=os.path.join(workdir, 'baseline'), model=model,
        source=source, params=params, batch_stats=batch_stats,
        epochs=config.epochs, learning_rate=config.learning_rate,
        seed=config.seed, config_dict=_baseline_config_dict(config))
    params, batch_stats = fitted.state.trainable, fitted.state.batch_stats
    baseline = fitted.summary()
  params, batch_stats = jax.device_get((params, batch_stats))

  # 2-3. Magnitude mask, then the score search on the frozen weights.
  search_source = _with_batch_size(source, jp.batch_size)
  setup = search.create_search_state(
      params, batch_stats, sparsity=jp.sparsity,
      learning_rate=jp.learning_rate, weight_decay=jp.weight_decay,
      epochs=jp.epochs, steps_per_epoch=search_source.steps_per_epoch,
      layerwise=jp.layerwise, pruned_value=jp.pruned_value,
      rate_fn=_rate_fn(jp), tie_rule=jp.tie_rule)
  magnitude = trainer.evaluate_params(
      model, source, ste.masked_params(params, setup.initial_masks),
      batch_stats)
  logging.info('magnitude mask at %.2f sparsity: test accuracy %.4f',
               jp.sparsity, magnitude['test_accuracy'])
  from jaxprune.jackpot import optim as jp_optim  # pylint: disable=g-import-not-at-top
  lr_fn = jp_optim.epoch_cosine_lr(jp.learning_rate, jp.epochs,
                                   search_source.steps_per_epoch)

  def mask_stats(epoch, state):
    del epoch
    masks = jax.device_get(search.searched_masks(state))
    changed = sum(int(np.sum(np.asarray(a) != np.asarray(b))) for a, b in zip(
        jax.tree.leaves(masks), jax.tree.leaves(setup.initial_masks)))
    return {'mask_changed_vs_magnitude': changed}

  fitted = trainer.fit(
      name='search', workdir=os.path.join(workdir, 'search'), model=model,
      tx=setup.tx, state=setup.state, param_map=setup.param_map,
      source=search_source, epochs=jp.epochs, seed=config.seed,
      config_dict=full_dict,
      extra_meta={'prune_counts': search.prune_counts_json(setup.prune_counts)},
      learning_rate_fn=lr_fn, tensorboard=config.tensorboard,
      after_epoch=mask_stats)
  state = jax.device_get(fitted.state)

  # 4. Results.
  final_masks = search.searched_masks(state)
  frozen_ok = all(np.array_equal(a, b) for a, b in zip(
      jax.tree.leaves(state.frozen['params']), jax.tree.leaves(params)))
  full_masks = prunable.scatter(masks_lib.ones_like(params), final_masks)
  masked_counts = flops_lib.count(model, source.input_shape, masks=full_masks)
  layers = _layer_report(setup.prune_counts, final_masks, setup.initial_masks)
  pruned = sum(v['pruned'] for v in layers.values())
  total = sum(v['size'] for v in layers.values())
  results = {
      'pipeline': 'jackpot', 'model': config.model, 'dataset': config.dataset,
      'sparsity_target': jp.sparsity, 'overall_sparsity': pruned / total,
      'baseline': {**baseline, 'params': counts_dense.params,
                   'flops': counts_dense.flops},
      'magnitude_mask': magnitude,
      'jackpot': {**fitted.summary(), 'params_nonzero': masked_counts.params,
                  'flops_nonzero': masked_counts.flops},
      'frozen_weights_unchanged': frozen_ok,
      'per_layer': layers, **train.device_info(),
      'total_wall_time_s': time.time() - t0, 'config': full_dict,
  }
  if jp.tune_epochs:
    tuned = train.run_stage(
        name='tune', config=config, workdir=os.path.join(workdir, 'tune'),
        model=model, source=search_source, params=params,
        batch_stats=batch_stats, epochs=jp.tune_epochs,
        learning_rate=jp.tune_learning_rate, schedule='cosine',
        masks=full_masks, seed=config.seed, config_dict=full_dict,
        weight_decay=jp.tune_weight_decay)
    results['tune'] = tuned.summary()
  if jp.overlap_study:
    results['mask_overlap'] = overlap_study(
        config, dataset, source, params, batch_stats, setup.prune_counts,
        final_masks, workdir)
  results['summary'] = {
      'model': config.model, 'dataset': config.dataset,
      'sparsity': results['overall_sparsity'],
      'dense_best_accuracy': baseline['best_test_accuracy'],
      'magnitude_mask_accuracy': magnitude['test_accuracy'],
      'jackpot_best_accuracy': fitted.best_accuracy,
      'jackpot_last_accuracy': fitted.last_accuracy,
      'tuned_best_accuracy': results.get('tune', {}).get('best_test_accuracy'),
      'weights_updated': not frozen_ok,
      'masks_changed_vs_magnitude': sum(
          v['changed_vs_magnitude'] for v in layers.values()),
      'overlap_with_jackpot': {k: v['overall'] for k, v in results.get(
          'mask_overlap', {}).items()},
  }
  train.write_json(os.path.join(workdir, 'results.json'), results)
  logging.info('jackpot: %s', results['summary'])
  return results
