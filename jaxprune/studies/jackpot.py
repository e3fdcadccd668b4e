"""The ``jackpot`` study (Zhang et al., lottery_jackpots.md §2.8-2.9):
dense model -> magnitude mask -> score search on the frozen weights.

1. ``baseline``: the dense model, trained (``config.optim``) or loaded from
   ``config.model.pretrained`` (a jaxprune run or an official PyTorch
   checkpoint);
2. ``magnitude_mask``: the per-layer budgets of one global magnitude
   threshold (:func:`jaxprune.pruning.layerwise_prune_counts`, the classifier
   kept dense) and the ``'magnitude'`` criterion at those counts, evaluated
   without training;
3. ``search``: the score search on the frozen weights through the one stage
   runner (resumable); its mask is saved as ``searched_masks.npz``;
4. ``tune`` (``config.jackpot.tune_epochs > 0``, the ImageNet "30(S)+10(T)"
   of §2.9): the searched mask fixed, weights and BN trained with masked SGD
   (per-epoch cosine, ``tune_learning_rate``, ``tune_weight_decay``);
5. with ``config.jackpot.overlap``: the ``mask_overlap`` study against the
   searched mask, in ``<workdir>/mask_overlap``.

Results: dense, magnitude-mask and jackpot accuracy, per-layer sparsity and
mask changes, FLOPs of the masked model, and whether any weight, bias or BN
scale/bias changed (it must not).
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np

from jaxprune import data as data_lib
from jaxprune import jackpot as jackpot_lib
from jaxprune import pruning
from jaxprune import results as results_lib
from jaxprune import tree as tree_lib
from jaxprune.jackpot.short_restriction import TIE_RULES
from jaxprune.pruning import budgets
from jaxprune.studies import context
from jaxprune.studies import registry

MASKS_FILE = 'searched_masks'
RATES = ('constant', 'decay')


def check_config(config) -> None:
  jp = config.jackpot
  pruning.check_ratio(jp.sparsity, 'config.jackpot.sparsity',
                      exclude_zero=True)
  if jp.layerwise not in budgets.LAYERWISE_RULES:
    raise ValueError(f'config.jackpot.layerwise must be one of '
                     f'{budgets.LAYERWISE_RULES}, got {jp.layerwise!r}')
  if jp.tie_rule not in TIE_RULES:
    raise ValueError(f'config.jackpot.tie_rule must be one of {TIE_RULES}, '
                     f'got {jp.tie_rule!r}')
  if jp.rate not in RATES:
    raise ValueError(f'config.jackpot.rate must be one of {RATES}, got '
                     f'{jp.rate!r}')
  if jp.epochs <= 0 or jp.batch_size <= 0 or jp.tune_epochs < 0:
    raise ValueError('config.jackpot.epochs and batch_size must be positive '
                     'and tune_epochs >= 0')
  from jaxprune.training import devices  # pylint: disable=g-import-not-at-top
  data_lib.check_batch_size(jp.batch_size,
                            devices.resolve_num_devices(config.num_devices))


def _layer_report(counts, final, initial) -> dict[str, dict[str, int]]:
  out = {}
  for path, target in counts.items():
    m = np.asarray(tree_lib.get(final, path))
    m0 = np.asarray(tree_lib.get(initial, path))
    out[tree_lib.path_str(path)] = {
        'size': int(m.size), 'pruned': int(m.size - np.count_nonzero(m)),
        'target_pruned': int(target),
        'changed_vs_magnitude': int(np.sum(m != m0))}
  return out


def run_seed(ctx, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
  """One seed: dense model, magnitude mask, search (and tune) -> (stages,
  details). Its mask file lies in the seed's directory."""
  jp, spec = ctx.config.jackpot, ctx.spec
  seed = ctx.config.seed + index
  variables, base = ctx.large_model(seed, index)
  counts = budgets.layerwise_prune_counts(variables['params'], jp.sparsity,
                                          jp.layerwise, spec.classifier)
  start = ctx.prune(pruning.get_criterion('magnitude'), spec, variables,
                    counts, seed).masks
  stages = {'baseline': base,
            'magnitude_mask': ctx.evaluated_entry(spec, variables, start)}
  source = ctx.source_for(seed, jp.batch_size)
  setup = jackpot_lib.create_search_state(
      variables, prune_counts=counts, initial_masks=start,
      learning_rate=jp.learning_rate, weight_decay=jp.weight_decay,
      epochs=jp.epochs, steps_per_epoch=source.steps_per_epoch,
      classifier=spec.classifier, pruned_value=jp.pruned_value,
      rate_fn=(jackpot_lib.decaying_rate(jp.epochs) if jp.rate == 'decay'
               else None), tie_rule=jp.tie_rule)
  start_leaves = jax.tree.leaves(start)

  def mask_changes(epoch, state):
    del epoch
    now = jax.tree.leaves(jax.device_get(jackpot_lib.searched_masks(state)))
    return {'mask_changed_vs_magnitude': sum(
        int(np.sum(np.asarray(a) != np.asarray(b)))
        for a, b in zip(now, start_leaves))}

  # Seeds search in one step when their per-layer budgets agree (e.g. one
  # pre-trained model): everything else of the transformation is config.
  share = tuple(sorted((tree_lib.path_str(p), c) for p, c in counts.items()))
  run = ctx.run_stage(
      'search', spec, setup.state, setup.tx, seed=seed, seed_index=index,
      epochs=jp.epochs, model_params=setup.model_params,
      lr_fn=setup.learning_rate_fn, after_epoch=mask_changes, source=source,
      params_of=lambda s: s.frozen['params'], share=share)
  final_masks = jax.tree.map(np.asarray,
                             jackpot_lib.searched_masks(run.state))
  stages['search'] = dict(run.entry, **_masked_counts(ctx, spec, final_masks))
  frozen_ok = all(np.array_equal(a, b) for a, b in zip(
      jax.tree.leaves(run.state.frozen['params']),
      jax.tree.leaves(variables['params'])))
  mask_name = os.path.relpath(os.path.join(ctx.seed_dir(index), MASKS_FILE),
                              ctx.workdir)
  ctx.save_masks(mask_name, final_masks)
  if jp.tune_epochs:
    stages['tune'] = ctx.train(
        'tune', spec, variables, seed=seed, seed_index=index,
        epochs=jp.tune_epochs, learning_rate=jp.tune_learning_rate,
        schedule='cosine', weight_decay=jp.tune_weight_decay,
        masks=final_masks, source=source).entry
  layers = _layer_report(counts, final_masks, start)
  pruned = sum(v['pruned'] for v in layers.values())
  total = sum(v['size'] for v in layers.values())
  return stages, {
      'seed': seed, 'sparsity_target': jp.sparsity,
      'overall_sparsity': pruned / total, 'per_layer': layers,
      'frozen_weights_unchanged': frozen_ok,
      'masks_file': mask_name + '.npz',
      'masks_changed_vs_magnitude': sum(
          v['changed_vs_magnitude'] for v in layers.values())}


def jackpot(config, workdir: str) -> dict[str, Any]:
  """Runs the study; writes and returns results.json.

  With ``config.seeds`` > 1 every seed runs the stages in ``seed{i}/``
  (``config.seeds_in_parallel`` of them at a time); accuracies are means
  over seeds, ``details`` holds seed 0's layer report (and mask file, which
  the overlap study reads) and every seed's under ``seeds``.
  """
  jp = config.jackpot
  plan = context.large_model_plan(config) + [
      'magnitude mask', f'search ({jp.epochs} epochs, batch {jp.batch_size})']
  plan += [f'tune ({jp.tune_epochs} epochs)'] if jp.tune_epochs else []
  if config.seeds > 1:
    plan = [f'{config.seeds} seeds of: {" -> ".join(plan)}']
  plan += ['mask_overlap'] if jp.overlap else []
  ctx = context.RunContext.create(config, workdir, 'jackpot',
                                  check_config=check_config, plan=plan)
  per_seed = ctx.map_seeds(lambda i: run_seed(ctx, i))
  stages = results_lib.aggregate([s for s, _ in per_seed])
  details = dict(per_seed[0][1])
  if config.seeds > 1:
    details['seeds'] = [d for _, d in per_seed]
    details['frozen_weights_unchanged'] = all(
        d['frozen_weights_unchanged'] for _, d in per_seed)
  if jp.overlap:
    details['mask_overlap'] = _overlap(config, ctx, os.path.join(
        workdir, details['masks_file']))['details']['overall']
  summary = {
      'model': ctx.spec.name, 'dataset': config.data.name, 'row': config.row,
      'seeds': config.seeds, 'sparsity': details['overall_sparsity'],
      'dense_best_accuracy': stages['baseline']['best_test_accuracy'],
      'magnitude_mask_accuracy': stages['magnitude_mask']['best_test_accuracy'],
      'jackpot_best_accuracy': stages['search']['best_test_accuracy'],
      'jackpot_last_accuracy': stages['search']['last_test_accuracy'],
      'tuned_best_accuracy': stages.get('tune', {}).get('best_test_accuracy'),
      'weights_updated': not details['frozen_weights_unchanged'],
      'masks_changed_vs_magnitude': details['masks_changed_vs_magnitude'],
      'overlap_with_jackpot': details.get('mask_overlap', {})}
  return ctx.finish(summary, stages, details)


def _masked_counts(ctx, spec, masks) -> dict[str, int]:
  counts = ctx.count(spec, masks)
  return {'params': counts.params, 'flops': counts.flops}


def _overlap(config, ctx, mask_file: str) -> dict[str, Any]:
  """The ``mask_overlap`` study against this run's searched mask."""
  sub = config.copy_and_resolve_references()
  sub.mask_overlap.reference = mask_file
  if not sub.model.pretrained:
    sub.model.pretrained = ctx.stage_dir('baseline')
  return registry.get_study('mask_overlap')(
      sub, os.path.join(ctx.workdir, 'mask_overlap'))


registry.register_study('jackpot', jackpot)
