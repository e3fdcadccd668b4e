"""Channel-level criteria: L1-norm filters, Network Slimming, uniform/random.

Every function returns a *channel-keep dict* ``{bn_path: sorted kept channel
indices}`` covering every unit of :func:`jaxprune.criteria.layout.units`
(all channels for units that are not pruned). :func:`channel_masks` turns one
into a mask pytree for the mask implementation, and
:func:`jaxprune.surgery.compact` into a physically smaller model.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxprune.criteria import _util
from jaxprune.criteria import layout

KeepDict = dict[str, np.ndarray]


def _all_kept(params, units) -> KeepDict:
  return {u.bn: np.arange(layout.num_channels(params, u)) for u in units}


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
  """Indices of the k largest scores (ties: lower index first), sorted."""
  order = np.argsort(-scores, kind='stable')
  return np.sort(order[:k])


# ---- L1-norm filter pruning (Li et al.; rethinking.md §3.1) -------------

L1_TARGETS: dict[str, dict[str, Any]] = {
    # conv1_1 64 -> 32, conv4_1 ... conv5_3 512 -> 256 (layer ids 1-based).
    'vgg16_a': dict(model='vgg16_l1',
                    ratios={1: 0.5, 8: 0.5, 9: 0.5, 10: 0.5, 11: 0.5,
                            12: 0.5, 13: 0.5}),
    'resnet56_a': dict(model='resnet56', stage_ratios=(0.1, 0.1, 0.1),
                       skip=(16, 20, 38, 54)),
    'resnet56_b': dict(model='resnet56', stage_ratios=(0.6, 0.3, 0.1),
                       skip=(16, 18, 20, 34, 38, 54)),
    'resnet110_a': dict(model='resnet110', stage_ratios=(0.5, 0.0, 0.0),
                        skip=(36,)),
    'resnet110_b': dict(model='resnet110', stage_ratios=(0.5, 0.4, 0.3),
                        skip=(36, 38, 74)),
    'resnet34_a': dict(model='resnet34', stage_ratios=(0.3, 0.3, 0.3, 0.0),
                       skip=(2, 8, 14, 16, 26, 28, 30, 32)),
    'resnet34_b': dict(model='resnet34', stage_ratios=(0.5, 0.6, 0.4, 0.0),
                       skip=(2, 8, 14, 16, 26, 28, 30, 32)),
}


def l1_filter_scores(kernel) -> np.ndarray:
  """``s_j = sum |W[..., j]|`` for an HWIO kernel."""
  return np.abs(np.asarray(kernel, np.float64)).sum(axis=(0, 1, 2))


def l1_filter_channel_keep(params, model_name: str, *,
                           ratios: Mapping[int, float] | None = None,
                           stage_ratios: Sequence[float] | None = None,
                           skip: Iterable[int] = (),
                           target: str | None = None) -> KeepDict:
  """Keeps ``int(C*(1-p))`` filters with the largest L1 norm, per layer.

  Args:
    params: the trained large model's params.
    model_name: registry name (vgg / resnet families, see ``layout``).
    ratios: ``{layer_id: p}``; layer ids are Rethinking's 1-based conv
      numbers (VGG: conv index + 1; ResNet: block b's first conv = 2+2b).
    stage_ratios: per-stage p for ResNet block first convs.
    skip: layer ids that are never pruned.
    target: a name of :data:`L1_TARGETS` (overrides the above).

  Raises:
    ValueError: a ratio outside [0, 1), a layer id (in ``ratios`` or
      ``skip``) that is not a prunable layer of this model, a wrong number of
      stage ratios, or a target for another model.
  """
  if target is not None:
    if target not in L1_TARGETS:
      raise ValueError(f'unknown L1-norm target {target!r}; known: '
                       f'{sorted(L1_TARGETS)}')
    spec = dict(L1_TARGETS[target])
    if spec.pop('model') != model_name:
      raise ValueError(f'L1-norm target {target!r} is defined for '
                       f'{L1_TARGETS[target]["model"]}, not {model_name}')
    ratios = spec.get('ratios')
    stage_ratios = spec.get('stage_ratios')
    skip = spec.get('skip', ())
  units = [u for u in layout.units(model_name, params) if u.kind == 'conv']
  by_id = {u.layer_id: u for u in units}
  skip = set(int(s) for s in skip)
  for s in sorted(skip):
    if s not in by_id:
      raise ValueError(f'skip list names layer {s}, which is not a prunable '
                       f'layer of {model_name} (prunable ids: '
                       f'{min(by_id)}..{max(by_id)}, '
                       f'{sorted(by_id)[:4]}...)')
  per_layer: dict[int, float] = {}
  if stage_ratios is not None:
    stages = sorted({u.stage for u in units if u.stage is not None})
    if not stages:
      raise ValueError(f'{model_name} has no stages; use ratios')
    if len(stage_ratios) != len(stages):
      raise ValueError(f'{model_name} has {len(stages)} stages, got '
                       f'{len(stage_ratios)} stage ratios')
    checked = [_util.check_ratio(p) for p in stage_ratios]
    for u in units:
      per_layer[u.layer_id] = checked[u.stage]
  for lid, p in (ratios or {}).items():
    if int(lid) not in by_id:
      raise ValueError(f'ratios name layer {lid}, which is not a prunable '
                       f'layer of {model_name}')
    per_layer[int(lid)] = _util.check_ratio(p)
  keep = _all_kept(params, layout.units(model_name, params))
  for lid, p in per_layer.items():
    if lid in skip or p == 0.0:
      continue
    u = by_id[lid]
    kernel = layout.get_path(params, u.producer)['kernel']
    c = kernel.shape[-1]
    k = max(1, int(c * (1 - p)))
    keep[u.bn] = _top_k(l1_filter_scores(kernel), k)
  return keep


def l1_target_keep(params, target: str) -> KeepDict:
  """:func:`l1_filter_channel_keep` for a named target (model implied)."""
  if target not in L1_TARGETS:
    raise ValueError(f'unknown L1-norm target {target!r}; known: '
                     f'{sorted(L1_TARGETS)}')
  return l1_filter_channel_keep(params, L1_TARGETS[target]['model'],
                                target=target)


# ---- Network Slimming (rethinking.md §3.4) -------------------------------


def bn_l1_subgradient(lam: float, scale_name: str = 'scale'
                      ) -> optax.GradientTransformation:
  """Adds ``lam * sign(gamma)`` (sign(0) = 0) to every BN scale's gradient.

  Leaves named ``scale`` (this package's BatchNorm gamma) get the term;
  everything else passes unchanged. Use it as ``pre`` of
  :func:`jaxprune.optim.sgd_coupled` so it acts on the raw gradient, before
  weight decay and momentum (``updateBN`` then ``optimizer.step()``).
  """
  if lam < 0:
    raise ValueError(f'sparsity lambda must be >= 0, got {lam}')

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError('bn_l1_subgradient needs params')

    def one(path, g, p):
      if getattr(path[-1], 'key', None) == scale_name:
        return g + lam * jnp.sign(p).astype(g.dtype)
      return g
    return jax.tree_util.tree_map_with_path(one, updates, params), state

  return optax.GradientTransformation(init_fn, update_fn)


def slimming_channel_keep(params, model_name: str, percent: float) -> KeepDict:
  """One global |gamma| threshold over every prunable BN.

  ``thr = sorted(|gamma|)[int(total*percent)]``; a channel is kept iff
  ``|gamma| > thr`` (strict). **Empty-layer rule:** a layer left with no
  channel keeps its single largest-|gamma| channel (widths must be positive
  here; the reference's PyTorch code would produce a zero-width layer).

  Raises:
    ValueError: percent outside [0, 1), or a threshold that removes every
      channel of the network (e.g. all gammas equal).
  """
  percent = _util.check_ratio(percent, 'prune percent')
  units = layout.units(model_name, params)
  gammas = {u.bn: np.abs(np.asarray(layout.get_path(params, u.bn)['scale']))
            for u in units}
  allg = np.sort(np.concatenate(list(gammas.values())))
  thr = allg[int(allg.size * percent)]
  keep = {}
  survivors = 0
  for u in units:
    g = gammas[u.bn]
    idx = np.nonzero(g > thr)[0]
    survivors += idx.size
    if idx.size == 0:
      idx = np.array([int(np.argmax(g))])
    keep[u.bn] = idx
  if survivors == 0:
    raise ValueError(f'slimming threshold {thr:g} (percent {percent}) '
                     'removes every channel of the network; all |gamma| '
                     '<= threshold (was the model sparsity-trained?)')
  return keep


def slimming_threshold(params, model_name: str, percent: float) -> float:
  percent = _util.check_ratio(percent, 'prune percent')
  allg = np.sort(np.concatenate([
      np.abs(np.asarray(layout.get_path(params, u.bn)['scale']))
      for u in layout.units(model_name, params)]))
  return float(allg[int(allg.size * percent)])


# ---- baselines (rethinking.md §10) ---------------------------------------


def uniform_channel_keep(params, model_name: str, ratio: float,
                         select_units: bool = False) -> KeepDict:
  """Uniform channel pruning: every 'conv' unit keeps its first
  ``max(1, int(C*(1-ratio)))`` channels (the architecture is what matters:
  it is trained from scratch). ``select_units`` also prunes selection units.
  """
  ratio = _util.check_ratio(ratio)
  units = layout.units(model_name, params)
  keep = _all_kept(params, units)
  for u in units:
    if u.kind == 'conv' or select_units:
      c = layout.num_channels(params, u)
      keep[u.bn] = np.arange(max(1, int(c * (1 - ratio))))
  return keep


def random_channel_keep(params, model_name: str, ratio: float, seed: int = 0,
                        select_units: bool = False) -> KeepDict:
  """As :func:`uniform_channel_keep` with a random channel subset."""
  ratio = _util.check_ratio(ratio)
  rng = np.random.default_rng(seed)
  units = layout.units(model_name, params)
  keep = _all_kept(params, units)
  for u in units:
    if u.kind == 'conv' or select_units:
      c = layout.num_channels(params, u)
      k = max(1, int(c * (1 - ratio)))
      keep[u.bn] = np.sort(rng.permutation(c)[:k])
  return keep


# ---- mask implementation --------------------------------------------------


def channel_masks(params, model_name: str, keep: Mapping[str, Any]):
  """Mask pytree (structure of ``params``) of the *mask implementation*.

  For each pruned channel of unit ``u``: the BN's ``scale`` and ``bias``
  entries are 0 and, for 'conv' units, the producing conv's output filter
  (``kernel[..., c]`` and ``bias[c]``) is 0. With gamma and beta zeroed the
  channel outputs exactly 0 after BN (and after ReLU) whatever its running
  statistics, so in eval mode the masked model computes the same logits as
  the physically pruned one (:func:`jaxprune.surgery.compact`). This differs
  from the reference lottery code, whose zeroed filters keep gamma/beta
  active and output the constant ReLU(beta).
  """
  units = {u.bn: u for u in layout.units(model_name, params)}
  unknown = sorted(set(keep) - set(units))
  if unknown:
    raise ValueError(f'channel-keep dict names {unknown}, not prunable '
                     f'units of {model_name}')
  zero: dict[str, np.ndarray] = {}   # path -> bool vector of pruned channels
  for bn, idx in keep.items():
    u = units[bn]
    c = layout.num_channels(params, u)
    pruned = np.ones(c, bool)
    pruned[np.asarray(idx, np.int64)] = False
    zero[bn] = pruned
    if u.producer is not None:
      zero[u.producer] = pruned

  def one(path, leaf):
    parts = _util.path_str(path).split('/')
    module, name = '/'.join(parts[:-1]), parts[-1]
    m = np.ones(np.shape(leaf), np.float32)
    if module in zero and name in ('kernel', 'bias', 'scale'):
      pruned = zero[module]
      if m.shape[-1] == pruned.size:
        m[..., pruned] = 0.0
    return jnp.asarray(m)
  return _util.map_with_path(one, params)


def keep_counts(keep: Mapping[str, Any]) -> dict[str, int]:
  return {k: int(len(v)) for k, v in keep.items()}
