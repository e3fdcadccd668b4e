"""The ``mask_overlap`` study: which weights do other criteria keep, compared
with a reference mask (the searched lottery jackpot)?

The reference mask is ``config.mask_overlap.reference``: a mask file
(``.npz``, one array per param path, as the ``jackpot`` study saves its
searched mask) or a finished run's workdir whose results.json names its
``masks_file``. The dense model is ``config.model.pretrained`` (default:
the reference run's ``baseline/`` stage). Every criterion of
``config.mask_overlap.criteria`` (registered ``'unstructured'`` criteria,
one's own included) prunes the dense model at the reference's exact
per-layer counts, so only *which* weights go differs, and each mask is
compared per pruned layer and overall with the project's metric
``|keep_A ∧ keep_ref| / |keep_ref|`` (:mod:`jaxprune.reporting.overlap`).
Writes ``overlap.md`` and ``overlap_heatmap.png`` beside results.json.
"""

from __future__ import annotations

import os
from typing import Any

from jaxprune import masks as masks_lib
from jaxprune import pruning
from jaxprune import results as results_lib
from jaxprune import tree as tree_lib
from jaxprune.reporting import overlap as overlap_report
from jaxprune.studies import context
from jaxprune.studies import registry
from jaxprune.training import distributed


def check_config(config) -> None:
  mo = config.mask_overlap
  if not mo.criteria:
    raise ValueError('config.mask_overlap.criteria is empty')
  for name in mo.criteria:
    if pruning.get_criterion(name).kind != 'unstructured':
      raise ValueError(f'mask_overlap compares weight masks: criterion '
                       f'{name!r} is a channel criterion')
  if not mo.reference:
    raise ValueError('config.mask_overlap.reference must name the reference '
                     'mask: a .npz mask file or a finished jackpot run')


def reference_run_dir(reference: str) -> str:
  """The run directory of a reference (a mask file sits in its run's)."""
  return os.path.dirname(os.path.abspath(reference)) if os.path.isfile(
      reference) else reference


def reference_masks(ctx, params) -> Any:
  ref = ctx.config.mask_overlap.reference
  if os.path.isfile(ref):
    return ctx.load_masks(ref, params)
  masks_file = results_lib.load(ref)['details'].get('masks_file')
  if not masks_file:
    raise ValueError(f'the results of {ref} name no masks_file (is it a '
                     'jackpot run?)')
  return ctx.load_masks(os.path.join(ref, masks_file), params)


def mask_overlap(config, workdir: str) -> dict[str, Any]:
  """Runs the study; writes and returns results.json."""
  ctx = context.RunContext.create(config, workdir, 'mask_overlap',
                                  check_config=check_config)
  mo, spec = config.mask_overlap, ctx.spec
  pretrained = config.model.pretrained or os.path.join(
      reference_run_dir(mo.reference), 'baseline')
  variables, _ = ctx.load_pretrained(pretrained)
  params = variables['params']
  ref = reference_masks(ctx, params)
  paths = masks_lib.prunable_paths(params, spec.classifier)
  counts = masks_lib.zero_counts(ref, paths)
  # Layers the reference does not prune agree trivially: leave them out.
  pruned = [p for p in paths if counts[p] > 0]
  only_pruned = lambda m: tree_lib.gather(m, pruned)
  masks = {name: ctx.prune(pruning.get_criterion(name), spec, variables,
                           counts, config.seed).masks
           for name in mo.criteria}
  table = overlap_report.overlap_table(
      {name: only_pruned(m) for name, m in masks.items()}, only_pruned(ref))
  # Only process 0 of a multi-process run writes files.
  files = (overlap_report.write_overlap_report(table, workdir)
           if distributed.is_writer() else {})
  overall = {name: float(v) for name, v in zip(table.criteria, table.overall)}
  details = {'reference': mo.reference, 'overall': overall,
             'per_layer': table.as_dict(),
             'files': {k: os.path.basename(v) for k, v in files.items()},
             'prune_counts': {tree_lib.path_str(p): c
                              for p, c in counts.items()}}
  summary = {'model': spec.name, 'dataset': config.data.name,
             'reference': mo.reference,
             **{f'overlap_{n}': round(v, 4) for n, v in overall.items()}}
  return ctx.finish(summary, {}, details)


registry.register_study('mask_overlap', mask_overlap)
