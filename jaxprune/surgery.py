"""Physical channel pruning: channel-keep dict -> compact width config + weights.

:func:`compact` takes a model's registry name, width config, params and
batch_stats and a channel-keep dict ``{bn_path: kept channel indices}`` (from
:mod:`jaxprune.criteria`; indices are in the BN's own channel space, units not
named keep everything) and returns the new width config and the sliced params
and batch_stats, so that ``models.create_model(name, C, new_widths)`` applied
to them computes, in eval mode, exactly what the full model computes with the
pruned channels masked by :func:`jaxprune.criteria.channel_masks` (gamma,
beta and the producing filter zeroed).

What is sliced, per family:

* VGG (digits_cnn, vgg16_l1, vgg19_*): ``conv{i}`` output filters (kernel,
  bias), ``bn{i}`` scale/bias/mean/var, ``conv{i+1}`` input channels; after
  the last conv the first Dense's input rows (``fc1`` for the L1 head, else
  ``classifier``; rows follow the (C, H, W) flatten order). The cfg keeps its
  'M' entries.
* CIFAR ResNet / ImageNet ResNet-34 (basic blocks): the first conv of each
  block (``conv1`` outputs, ``bn1``, ``conv2`` inputs); ``block_widths``.
* PreResNet-164: ``bn1`` keeps its full width (it normalises the residual
  stream); its kept channels become the block's channel-selection indices and
  ``conv1``'s input channels; ``bn2``/``bn3`` prune ``conv1``/``conv2``
  outputs and the next conv's inputs; ``final_bn`` selects the classifier
  inputs. ``cfg`` and ``selections`` are rewritten.
* DenseNet-40: every BN is followed by a selection; kept channels become the
  selection indices and the following conv's (or classifier's) input rows.

Selections compose: pruning an already-pruned PreResNet/DenseNet keeps only
channels that were selected before and are kept now.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from flax import traverse_util
import numpy as np

from jaxprune.criteria import layout
from jaxprune.models import densenet as densenet_lib
from jaxprune.models import preresnet as preresnet_lib


def _flat(tree):
  return {k: np.asarray(v) for k, v in
          traverse_util.flatten_dict(dict(tree)).items()}


class _Trees:
  """Flat numpy copies of params and batch_stats with slicing helpers."""

  def __init__(self, params, batch_stats):
    self.p = _flat(params)
    self.s = _flat(batch_stats or {})

  def _leaves(self, module: str):
    prefix = tuple(module.split('/'))
    for tree in (self.p, self.s):
      for k in list(tree):
        if k[:-1] == prefix:
          yield tree, k

  def slice_out(self, module: str, idx) -> None:
    """Last axis of every leaf of ``module`` (conv/BN outputs)."""
    idx = np.asarray(idx, np.int64)
    found = False
    for tree, k in self._leaves(module):
      tree[k] = tree[k][..., idx]
      found = True
    if not found:
      raise KeyError(f'no params under {module}')

  def slice_in(self, conv: str, idx) -> None:
    k = tuple(conv.split('/')) + ('kernel',)
    self.p[k] = self.p[k][:, :, np.asarray(idx, np.int64), :]

  def slice_rows(self, dense: str, idx, channels: int) -> None:
    """Dense input rows of kept channels, (C, H, W) flatten order."""
    k = tuple(dense.split('/')) + ('kernel',)
    w = self.p[k]
    spatial = w.shape[0] // channels
    idx = np.asarray(idx, np.int64)
    rows = (idx[:, None] * spatial + np.arange(spatial)[None, :]).ravel()
    self.p[k] = w[rows]

  def has(self, module: str) -> bool:
    return any(True for _ in self._leaves(module))

  def out(self):
    unflat = lambda t: traverse_util.unflatten_dict(t)
    return unflat(self.p), unflat(self.s)


def _check_keep(keep: Mapping[str, Any], units, params) -> dict[str, np.ndarray]:
  by_bn = {u.bn: u for u in units}
  unknown = sorted(set(keep) - set(by_bn))
  if unknown:
    raise ValueError(f'channel-keep dict names {unknown}, which are not '
                     'prunable units of this model')
  out = {}
  for bn, idx in keep.items():
    c = layout.num_channels(params, by_bn[bn])
    idx = np.unique(np.asarray(idx, np.int64))
    if idx.size == 0:
      raise ValueError(f'{bn}: keeps no channel; every layer needs one')
    if idx[0] < 0 or idx[-1] >= c:
      raise ValueError(f'{bn}: kept indices must be in [0, {c})')
    out[bn] = idx
  return out


def compact(model_name: str, widths, params, batch_stats,
            keep: Mapping[str, Any]):
  """Returns ``(new_widths, new_params, new_batch_stats)`` (numpy leaves).

  Args:
    model_name: registry name (families of :mod:`jaxprune.criteria.layout`).
    widths: the width config of ``params`` (None: the model's default is not
      known here, so pass it explicitly).
    params, batch_stats: the model's variables.
    keep: ``{bn_path: kept indices}``; missing units keep all channels.

  Raises:
    ValueError: unknown units, empty or out-of-range keep lists, or a model
      family without surgery support.
  """
  fam = layout.family(model_name)
  units = layout.units(model_name, params)
  keep = _check_keep(keep, units, params)
  t = _Trees(params, batch_stats)
  widths = copy.deepcopy(widths)
  if fam == 'vgg':
    new_widths = _compact_vgg_convs(units, keep, list(widths), t, params)
  elif fam == 'vgg_head':
    convs = [u for u in units if u.bn.startswith('bn')]
    cfg = _compact_vgg_convs(convs, keep, list(widths['cfg']), t, params)
    fc_widths = list(widths['fc_widths'])
    for k, nxt in ((1, 'fc2'), (2, 'classifier')):
      bn = f'fc{k}_bn'
      if bn in keep:
        idx = keep[bn]
        t.slice_out(f'fc{k}', idx)
        t.slice_out(bn, idx)
        t.slice_rows(nxt, idx, fc_widths[k - 1])
        fc_widths[k - 1] = int(idx.size)
    new_widths = {'cfg': cfg, 'fc_widths': fc_widths}
  elif fam == 'resnet':
    bw = [list(stage) for stage in widths['block_widths']]
    blocks = [(s, b) for s, stage in enumerate(bw) for b in range(len(stage))]
    for g, u in enumerate(units):
      if u.bn not in keep:
        continue
      idx = keep[u.bn]
      block = u.bn.rsplit('/', 1)[0]
      t.slice_out(u.producer, idx)
      t.slice_out(u.bn, idx)
      t.slice_in(f'{block}/conv2', idx)
      s, b = blocks[g]
      bw[s][b] = int(idx.size)
    new_widths = dict(widths, block_widths=bw)
  elif fam in ('preresnet', 'densenet'):
    new_widths = _compact_selection(fam, widths, units, keep, t, params)
  else:  # pragma: no cover
    raise ValueError(f'no surgery for family {fam}')
  new_params, new_stats = t.out()
  return new_widths, new_params, new_stats


def _compact_vgg_convs(convs, keep, cfg, t, params):
  """Slices a VGG conv stack (and the head's input rows); returns the cfg."""
  pos = [i for i, v in enumerate(cfg) if v != 'M']
  for n, u in enumerate(convs):
    if u.bn not in keep:
      continue
    idx = keep[u.bn]
    c = layout.num_channels(params, u)
    t.slice_out(u.producer, idx)
    t.slice_out(u.bn, idx)
    if n + 1 < len(convs):
      t.slice_in(convs[n + 1].producer, idx)
    else:
      head = 'fc1' if t.has('fc1') else 'classifier'
      t.slice_rows(head, idx, c)
    cfg[pos[n]] = int(idx.size)
  return cfg


def _compact_selection(fam, widths, units, keep, t, params):
  cfg = list(widths['cfg'])
  if fam == 'preresnet':
    n = (len(cfg) - 1) // 9
    full = preresnet_lib.input_widths(n)
    cfg_pos = [3 * j for j in range(3 * n)] + [len(cfg) - 1]
  else:
    full = densenet_lib.densenet40_input_widths()
    cfg_pos = list(range(len(cfg)))
  old_sels = widths.get('selections') or [None] * len(full)
  sels = []
  j = 0  # selection-point counter
  for u in units:
    if u.kind == 'select':
      consumed = cfg[cfg_pos[j]]
      sel = old_sels[j]
      sel = list(range(consumed)) if sel is None else [int(c) for c in sel]
      if u.bn in keep:
        kept = set(keep[u.bn].tolist())
        positions = [i for i, c in enumerate(sel) if c in kept]
        if not positions:
          # Keep the selected channel with the largest |gamma| (empty rule).
          g = np.abs(np.asarray(layout.get_path(params, u.bn)['scale']))
          positions = [int(np.argmax(g[sel]))]
        new_sel = [sel[i] for i in positions]
        if u.bn == 'final_bn':
          t.slice_rows('classifier', positions, len(sel))
        else:
          t.slice_in(u.bn.rsplit('/', 1)[0] + '/conv1', positions)
        sel = new_sel
        cfg[cfg_pos[j]] = len(sel)
      sels.append(sel)
      j += 1
    elif u.bn in keep:  # preresnet bn2 / bn3
      idx = keep[u.bn]
      block = u.bn.rsplit('/', 1)[0]
      nxt = {'bn2': 'conv2', 'bn3': 'conv3'}[u.bn.rsplit('/', 1)[1]]
      t.slice_out(u.producer, idx)
      t.slice_out(u.bn, idx)
      t.slice_in(f'{block}/{nxt}', idx)
      off = 1 if nxt == 'conv2' else 2
      cfg[cfg_pos[j - 1] + off] = int(idx.size)
  assert j == len(full), (j, len(full))
  return {'cfg': cfg, 'selections': sels}


def compact_from_masks(model_name: str, widths, params, batch_stats, masks):
  """Keep dict from a channel mask pytree (BN scale masks), then compact."""
  keep = {}
  for u in layout.units(model_name, params):
    m = np.asarray(layout.get_path(masks, u.bn)['scale'])
    if not np.all(m):
      keep[u.bn] = np.nonzero(m)[0]
  return compact(model_name, widths, params, batch_stats, keep)
