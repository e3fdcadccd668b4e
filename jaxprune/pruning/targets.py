"""Pruning targets: ratios, per-layer counts, and scores -> masks or keeps.

A criterion's ``target`` is either

* a **ratio** ``r`` in [0, 1) (:func:`check_ratio`, the one ratio validator),
  whose meaning the criterion documents (a global magnitude threshold, the
  same ratio in every layer, ...), or
* **per-layer prune counts** ``{layer: count}``: ``layer`` is a channel-unit
  name (``'stage1_block0/bn1'``) for channel criteria and a kernel path
  (``'conv0/kernel'`` or ``('conv0', 'kernel')``) for unstructured ones;
  ``count`` is how many channels / weights that layer loses; layers left out
  are not pruned.

The helpers below let a criterion be a few lines: pick the kernels or units
a target covers, score them, and turn the scores into masks
(:func:`masks_from_scores`) or a channel keep (:func:`keep_from_scores`).
:func:`channel_counts` resolves the paper-style per-layer specification
(stage ratios, per-layer ratios by Rethinking layer id, skip lists) into
counts, so that a config row names its target once.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import jax
import numpy as np

from jaxprune import masks as masks_lib
from jaxprune import tree as tree_lib

Target = float | Mapping[Any, int]


def check_ratio(value, what: str = 'prune ratio', *,
                exclude_zero: bool = False) -> float:
  """A number in [0, 1) (or (0, 1) with ``exclude_zero``); else ValueError."""
  interval = '(0, 1)' if exclude_zero else '[0, 1)'
  if isinstance(value, bool) or not isinstance(
      value, (int, float, np.integer, np.floating)):
    raise ValueError(f'{what} must be a number in {interval}, got {value!r}')
  v = float(value)
  if math.isnan(v) or not (0.0 < v < 1.0 if exclude_zero else 0.0 <= v < 1.0):
    raise ValueError(f'{what} must be in {interval}, got {value!r}')
  return v


def is_ratio(target) -> bool:
  return not isinstance(target, Mapping)


def kept_by_ratio(size: int, ratio: float) -> int:
  """``max(1, int(size * (1 - ratio)))``: what a layer keeps at ``ratio``
  (Li et al.'s and Network Slimming's rounding; never empty)."""
  return max(1, int(size * (1 - ratio)))


# ---- unstructured ---------------------------------------------------------


def kernel_counts(target: Mapping[Any, int], params) -> dict[tree_lib.Path, int]:
  """Checked per-kernel counts ``{path tuple: count}`` for ``params``."""
  out = {}
  for key, count in target.items():
    path = tree_lib.as_path(key)
    try:
      leaf = tree_lib.get(params, path)
    except KeyError:
      raise ValueError(f'prune counts name {tree_lib.path_str(path)!r}, which '
                       'is not a param of this model') from None
    n = int(np.size(leaf))
    if (isinstance(count, bool) or not isinstance(count, (int, np.integer))
        or not 0 <= count <= n):
      raise ValueError(f'prune count of {tree_lib.path_str(path)} must be an '
                       f'int in [0, {n}], got {count!r}')
    out[path] = int(count)
  return out


def scored_kernels(params, target: Target) -> list[tree_lib.Path]:
  """The kernels an unstructured ``target`` covers: every conv kernel for a
  ratio (classifier and other Dense layers stay dense), the counted paths
  for per-layer counts."""
  if is_ratio(target):
    check_ratio(target)
    paths = masks_lib.conv_kernel_paths(params)
    if not paths:
      raise ValueError('params hold no conv kernel to prune')
    return paths
  return list(kernel_counts(target, params))


def conv_kernels(variables, target: Target) -> list[tuple[tree_lib.Path, Any]]:
  """``[(path, kernel)]`` of :func:`scored_kernels` (host numpy arrays)."""
  params = variables['params']
  return [(p, np.asarray(tree_lib.get(params, p)))
          for p in scored_kernels(params, target)]


def masks_from_scores(params, scores: Mapping[Any, Any], target: Target):
  """Full masks pruning the lowest scores.

  Args:
    params: the param tree (only structure and shapes are read).
    scores: ``{kernel path: score array of the kernel's shape}`` for the
      kernels of :func:`scored_kernels`.
    target: a ratio ``r``: the ``int(N * r)`` lowest scores over all scored
      kernels together (one global ranking, ``N`` weights); per-layer counts:
      exactly ``count`` lowest in each counted kernel. Ties are broken by
      position (layer order, then flat row-major index): the earlier entry is
      pruned first.

  Returns:
    A float32 0/1 mask pytree with the structure of ``params``.
  """
  scores = {tree_lib.as_path(p): s for p, s in scores.items()}
  if is_ratio(target):
    ratio = check_ratio(target)
    paths = list(scores)
    flat = np.concatenate([np.asarray(scores[p], np.float32).ravel()
                           for p in paths])
    k = int(flat.size * ratio)
    keep = np.ones(flat.size, np.float32)
    keep[np.argsort(flat, kind='stable')[:k]] = 0.0
    chunks = np.split(keep, np.cumsum([np.size(scores[p]) for p in paths]
                                      )[:-1])
    sub = tree_lib.unflatten([(p, c.reshape(np.shape(scores[p])))
                              for p, c in zip(paths, chunks)])
  else:
    counts = kernel_counts(target, params)
    missing = [tree_lib.path_str(p) for p in counts if p not in scores]
    if missing:
      raise ValueError(f'no scores for the counted kernels {missing}')
    sub = tree_lib.unflatten([(p, masks_lib.zero_lowest(scores[p], c))
                              for p, c in counts.items()])
  return jax.tree.map(np.asarray, masks_lib.full_masks(params, sub))


# ---- channel --------------------------------------------------------------


def all_kept(spec, params) -> dict[str, np.ndarray]:
  """Every unit keeping every channel."""
  return {u.name: np.arange(u.num_channels(params))
          for u in spec.units(params)}


def unit_counts(spec, params, target: Target,
                kinds: Sequence[str] = ('conv', 'select')) -> dict[str, int]:
  """Per-unit prune counts of a channel ``target``.

  A ratio ``r`` gives every unit of ``kinds`` ``C - kept_by_ratio(C, r)``;
  counts are checked (known units of ``kinds``, ``0 <= count < C``).
  """
  units = {u.name: u for u in spec.units(params) if u.kind in kinds}
  if is_ratio(target):
    r = check_ratio(target)
    return {n: u.num_channels(params) - kept_by_ratio(u.num_channels(params),
                                                      r)
            for n, u in units.items()}
  out = {}
  for name, count in target.items():
    c = _channels_of(spec, params, units, name, 'prune counts',
                     f'a {"/".join(kinds)} channel unit')
    if (isinstance(count, bool) or not isinstance(count, (int, np.integer))
        or not 0 <= count < c):
      raise ValueError(f'prune count of {name} must be an int in [0, {c}) '
                       f'(every unit keeps a channel), got {count!r}')
    out[name] = int(count)
  return out


def keep_from_scores(scores: Mapping[str, Any], counts: Mapping[str, int]
                     ) -> dict[str, np.ndarray]:
  """Per unit, the channels left after dropping the ``count`` lowest scores.

  Returns sorted kept indices; ties keep the lower channel index.
  """
  keep = {}
  for name, count in counts.items():
    s = np.asarray(scores[name], np.float64)
    order = np.argsort(-s, kind='stable')
    keep[name] = np.sort(order[:s.size - count])
  return keep


def channel_counts(spec, params, *, ratio: float = 0.0,
                   layer_ratios: Mapping[Any, float] | None = None,
                   stage_ratios: Sequence[float] = (),
                   skip: Iterable[Any] = (),
                   kinds: Sequence[str] = ('conv',)) -> dict[str, int]:
  """Per-unit prune counts from a paper-style specification.

  Each unit of ``kinds`` gets ratio ``ratio``, overridden by its stage's
  entry of ``stage_ratios`` (ResNet stages), overridden by
  ``layer_ratios[layer]``; units in ``skip`` and units at ratio 0 are left
  out. A layer is named by its Rethinking layer id (an int, or a string of
  digits: ``1`` is VGG's first conv, ``2 + 2b`` ResNet block b's first conv)
  or by its unit name. A layer at ratio p keeps ``max(1, int(C*(1-p)))``
  channels (Li et al.).

  Raises:
    ValueError: a ratio outside [0, 1), a layer (in ``layer_ratios`` or
      ``skip``) the model does not have, or a stage count that differs from
      the model's.
  """
  units = [u for u in spec.units(params) if u.kind in kinds]
  by_key = {u.name: u for u in units}
  by_key.update({str(u.layer_id): u for u in units if u.layer_id is not None})

  def unit_of(key, what):
    u = by_key.get(str(key))
    if u is None:
      ids = sorted(u.layer_id for u in units if u.layer_id is not None)
      known = (f'layer ids {ids[0]}..{ids[-1]} ({", ".join(map(str, ids[:4]))}'
               f', ...) or unit names' if ids else 'unit names')
      raise ValueError(f'{what} names layer {key!r}, which is not a prunable '
                       f'layer of {spec.name} (use {known})')
    return u

  per_unit = {u.name: check_ratio(ratio) for u in units}
  if len(stage_ratios):
    stages = sorted({u.stage for u in units if u.stage is not None})
    if not stages:
      raise ValueError(f'{spec.name} has no stages; use layer ratios')
    if len(stage_ratios) != len(stages):
      raise ValueError(f'{spec.name} has {len(stages)} stages, got '
                       f'{len(stage_ratios)} stage ratios')
    checked = [check_ratio(p, 'stage ratio') for p in stage_ratios]
    for u in units:
      per_unit[u.name] = checked[u.stage]
  for key, p in (layer_ratios or {}).items():
    per_unit[unit_of(key, 'layer ratios').name] = check_ratio(p,
                                                              'layer ratio')
  skipped = {unit_of(s, 'the skip list').name for s in skip}
  out = {}
  for u in units:
    p = per_unit[u.name]
    if u.name in skipped or p == 0.0:
      continue
    c = u.num_channels(params)
    out[u.name] = c - kept_by_ratio(c, p)
  return out


def counts_from_kept(spec, params, kept: Mapping[str, int]) -> dict[str, int]:
  """Per-unit prune counts from channels to keep, ``{unit: kept}`` (the
  paper's pruned width configs written per unit, e.g. VGG-16-5x).

  Raises:
    ValueError: an unknown unit, or a kept count outside [1, C].
  """
  units = {u.name: u for u in spec.units(params)}
  out = {}
  for name, k in kept.items():
    c = _channels_of(spec, params, units, name, 'kept counts',
                     'a channel unit')
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not (
        1 <= k <= c):
      raise ValueError(f'kept count of {name} must be an int in [1, {c}], '
                       f'got {k!r}')
    out[name] = c - int(k)
  return out


def in_forward_order(spec, params, counts: Mapping[str, int]
                     ) -> dict[str, int]:
  """``counts`` ordered as the model's units (forward order)."""
  return {u.name: counts[u.name] for u in spec.units(params)
          if u.name in counts}


def _channels_of(spec, params, units, name: str, what: str,
                 unit_words: str) -> int:
  """Channels of unit ``name`` of ``units``; ValueError naming ``what``
  (e.g. 'prune counts') for a name that is not one of them."""
  if name not in units:
    raise ValueError(f'{what} name {name!r}, which is not {unit_words} of '
                     f'{spec.name} (units: {", ".join(list(units)[:4])}, ...)')
  return units[name].num_channels(params)
