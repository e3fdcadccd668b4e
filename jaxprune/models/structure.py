"""Channel-unit structure shared by the model families, and the slicing behind
their ``compact_fn``.

Each family file declares its :class:`~jaxprune.models.spec.ChannelUnit` s and
how a channel-keep dict ``{unit name: kept indices}`` turns into a smaller
width config with sliced params and BatchNorm statistics. The pieces several
families share live here:

* :class:`TreeSlicer`: flat numpy copies of params and batch_stats with
  slicing along output channels, conv input channels and Dense input rows;
* VGG conv stacks (digits CNN, CIFAR VGGs, ImageNet VGG-11/16-BN):
  :func:`vgg_units`, :func:`compact_vgg_stack`;
* basic-block ResNets (CIFAR ResNets, ResNet-34; only each block's first
  conv is pruned): :func:`basic_block_units`, :func:`compact_basic_blocks`;
* Network Slimming channel selections (PreResNet-164, DenseNet-40):
  :func:`compact_selection`.

Keep dicts arrive checked (sorted unique in-range indices, units of this
model) from :func:`jaxprune.pruning.surgery.compact`.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from flax import traverse_util
import numpy as np

from jaxprune import tree as tree_lib
from jaxprune.models.spec import ChannelUnit


class TreeSlicer:
  """Flat numpy copies of ``params`` and ``batch_stats`` with slicing helpers.

  Module paths are ``'/'``-joined (``'stage1_block0/conv1'``); a module's
  leaves are the leaves directly under it in either tree.
  """

  def __init__(self, params, batch_stats):
    flat = lambda t: {k: np.asarray(v) for k, v in
                      traverse_util.flatten_dict(dict(t or {})).items()}
    self.p = flat(params)
    self.s = flat(batch_stats)

  def _leaves(self, module: str):
    prefix = tree_lib.as_path(module)
    for tree in (self.p, self.s):
      for k in list(tree):
        if k[:-1] == prefix:
          yield tree, k

  def has(self, module: str) -> bool:
    return any(True for _ in self._leaves(module))

  def slice_out(self, module: str, idx) -> None:
    """Keeps ``idx`` on the last axis of every leaf of ``module`` (the output
    channels of a conv or Dense, the entries of a BN)."""
    idx = np.asarray(idx, np.int64)
    found = False
    for tree, k in self._leaves(module):
      tree[k] = tree[k][..., idx]
      found = True
    if not found:
      raise KeyError(f'no params under {module}')

  def slice_in(self, conv: str, idx) -> None:
    """Keeps input channels ``idx`` of an HWIO conv kernel."""
    k = tree_lib.as_path(conv) + ('kernel',)
    self.p[k] = self.p[k][:, :, np.asarray(idx, np.int64), :]

  def slice_rows(self, dense: str, idx, channels: int) -> None:
    """Keeps the Dense input rows of channels ``idx`` of a ``channels``-wide
    feature map flattened in PyTorch's (C, H, W) order."""
    k = tree_lib.as_path(dense) + ('kernel',)
    w = self.p[k]
    spatial = w.shape[0] // channels
    idx = np.asarray(idx, np.int64)
    rows = (idx[:, None] * spatial + np.arange(spatial)[None, :]).ravel()
    self.p[k] = w[rows]

  def out(self):
    """``(params, batch_stats)`` as nested dicts."""
    return (traverse_util.unflatten_dict(self.p),
            traverse_util.unflatten_dict(self.s))


# ---- VGG conv stacks ------------------------------------------------------


def vgg_head(params) -> str:
  """The Dense after the conv stack: ``fc1`` where there is one."""
  return 'fc1' if 'fc1' in params else 'classifier'


def vgg_units(params, head_bns: Sequence[tuple[str, str, str]] = ()
              ) -> list[ChannelUnit]:
  """``bn{i}`` units of the convs ``conv{i}`` (layer id i + 1; consumer the
  next conv, or the head for the last), then ``head_bns`` given as ``(bn,
  producing Dense, consuming Dense)``."""
  ids = sorted(int(k[2:]) for k in params if re.fullmatch(r'bn\d+', k))
  nxt = [f'conv{j}' for j in ids[1:]] + [vgg_head(params)]
  return ([ChannelUnit(f'bn{i}', 'conv', f'conv{i}', layer_id=i + 1,
                       consumer=c) for i, c in zip(ids, nxt)] +
          [ChannelUnit(bn, 'conv', dense, consumer=c)
           for bn, dense, c in head_bns])


def vgg_units_without_bn(params) -> list[ChannelUnit]:
  """A BN-free VGG (ImageNet VGG-16): each conv's outputs are a unit named
  by the conv itself, read by the next conv or the head."""
  ids = sorted(int(k[4:]) for k in params if re.fullmatch(r'conv\d+', k))
  nxt = [f'conv{j}' for j in ids[1:]] + [vgg_head(params)]
  return [ChannelUnit(f'conv{i}', 'conv', f'conv{i}', layer_id=i + 1,
                      consumer=c, channels_of=f'conv{i}')
          for i, c in zip(ids, nxt)]


def compact_vgg_stack(cfg: list, keep: Mapping[str, np.ndarray],
                      t: TreeSlicer, params, head: str) -> list:
  """Slices every pruned ``conv{i}``/``bn{i}`` and the next conv's inputs
  (after the last conv: the input rows of the Dense ``head``); returns the
  new cfg (ints changed, ``'M'`` kept)."""
  convs = vgg_units(params) or vgg_units_without_bn(params)
  pos = [i for i, v in enumerate(cfg) if v != 'M']
  cfg = list(cfg)
  for n, u in enumerate(convs):
    if u.name not in keep:
      continue
    idx = keep[u.name]
    t.slice_out(u.producer, idx)
    if u.name != u.producer:  # the BN
      t.slice_out(u.name, idx)
    if n + 1 < len(convs):
      t.slice_in(convs[n + 1].producer, idx)
    else:
      t.slice_rows(head, idx, u.num_channels(params))
    cfg[pos[n]] = int(idx.size)
  return cfg


# ---- basic-block ResNets --------------------------------------------------


def stage_blocks(params) -> list[tuple[int, int, str]]:
  """``(stage, block, name)`` of the ``stage{s}_block{b}`` modules, in order."""
  out = []
  for k in params:
    m = re.fullmatch(r'stage(\d+)_block(\d+)', k)
    if m:
      out.append((int(m.group(1)), int(m.group(2)), k))
  return sorted(out)


def basic_block_units(params) -> list[ChannelUnit]:
  """Each block's ``bn1`` (its first conv's outputs); block g in stage order
  has Rethinking layer id 2 + 2g (the stem is conv 1)."""
  return [ChannelUnit(f'{name}/bn1', 'conv', f'{name}/conv1',
                      layer_id=2 + 2 * g, stage=s - 1,
                      consumer=f'{name}/conv2')
          for g, (s, _, name) in enumerate(stage_blocks(params))]


def compact_basic_blocks(widths: dict, keep: Mapping[str, np.ndarray],
                         t: TreeSlicer, params) -> dict:
  """Slices ``conv1``/``bn1`` outputs and ``conv2`` inputs of pruned blocks;
  returns the width config with the new ``block_widths``."""
  bw = [list(stage) for stage in widths['block_widths']]
  blocks = [(s, b) for s, stage in enumerate(bw) for b in range(len(stage))]
  for g, u in enumerate(basic_block_units(params)):
    if u.name not in keep:
      continue
    idx = keep[u.name]
    block = u.name.rsplit('/', 1)[0]
    t.slice_out(u.producer, idx)
    t.slice_out(u.name, idx)
    t.slice_in(f'{block}/conv2', idx)
    s, b = blocks[g]
    bw[s][b] = int(idx.size)
  return dict(widths, block_widths=bw)


# ---- Network Slimming channel selections ----------------------------------


def compact_selection(t: TreeSlicer, params, unit: ChannelUnit,
                      selection: list[int], kept: np.ndarray,
                      consumer: str, dense: bool) -> list[int]:
  """Applies a keep to one selection point; returns the new selection.

  ``selection`` lists the BN channels the point passes on now; the new one
  keeps those also in ``kept`` (selections compose). If none survives, the
  selected channel with the largest |gamma| stays (every layer keeps one;
  the first selected one for a unit without a BN).
  The consumer (the next conv, or with ``dense`` the classifier) loses the
  input channels (rows) of the dropped positions.
  """
  kept_set = set(np.asarray(kept).tolist())
  positions = [i for i, c in enumerate(selection) if c in kept_set]
  if not positions:
    if not unit.has_bn:  # no BN to rank by: the first selected stays
      positions = [0]
    else:
      gamma = np.abs(np.asarray(tree_lib.get(params, unit.name)['scale']))
      positions = [int(np.argmax(gamma[selection]))]
  if dense:
    t.slice_rows(consumer, positions, len(selection))
  else:
    t.slice_in(consumer, positions)
  return [selection[i] for i in positions]


def full_selections(widths: Mapping[str, Any], consumed: Sequence[int]
                    ) -> list[list[int]]:
  """Each selection point's index list (None entries: the first k)."""
  old = widths.get('selections') or [None] * len(consumed)
  return [list(range(c)) if s is None else [int(i) for i in s]
          for s, c in zip(old, consumed)]


# ---- bottleneck ResNets ---------------------------------------------------


def _block_input_producer(blocks, j) -> str:
  """The layer whose outputs enter block ``j`` (the stem, or the previous
  block's ``conv3``; the residual sum keeps its width)."""
  return 'stem_conv' if j == 0 else f'{blocks[j - 1][2]}/conv3'


def bottleneck_units(params) -> list[ChannelUnit]:
  """Per block, in forward order: the block input as read by ``conv1`` (a
  selection point without a BN, ``<block>/input``; the residual path keeps
  every channel), then ``bn1`` and ``bn2`` (the outputs of ``conv1`` and
  ``conv2``, read by ``conv2`` and ``conv3``). The block outputs are never
  units."""
  blocks = stage_blocks(params)
  out = []
  for j, (s, _, name) in enumerate(blocks):
    out += [ChannelUnit(f'{name}/input', 'select', stage=s - 1,
                        consumer=f'{name}/conv1',
                        channels_of=_block_input_producer(blocks, j)),
            ChannelUnit(f'{name}/bn1', 'conv', f'{name}/conv1', stage=s - 1,
                        consumer=f'{name}/conv2'),
            ChannelUnit(f'{name}/bn2', 'conv', f'{name}/conv2', stage=s - 1,
                        consumer=f'{name}/conv3')]
  return out


def compact_bottlenecks(widths: dict, keep: Mapping[str, np.ndarray],
                        t: TreeSlicer, params, input_widths: Sequence[int]
                        ) -> dict:
  """Slices the pruned convs of every bottleneck (``conv1``/``bn1`` outputs
  and ``conv2`` inputs, ``conv2``/``bn2`` outputs and ``conv3`` inputs) and
  the input selections read by ``conv1``; returns the width config with new
  ``block_widths`` and ``selections``."""
  bw = [[list(pair) for pair in stage] for stage in widths['block_widths']]
  old = widths.get('selections') or [None] * len(input_widths)
  sels = [list(range(w)) if s is None else [int(i) for i in s]
          for s, w in zip(old, input_widths)]
  units = {u.name: u for u in bottleneck_units(params)}
  for j, (s, b, name) in enumerate(stage_blocks(params)):
    if f'{name}/input' in keep:
      sels[j] = compact_selection(t, params, units[f'{name}/input'], sels[j],
                                  keep[f'{name}/input'], f'{name}/conv1',
                                  False)
    for k, (bn, producer, nxt) in enumerate((('bn1', 'conv1', 'conv2'),
                                             ('bn2', 'conv2', 'conv3'))):
      unit = f'{name}/{bn}'
      if unit in keep:
        idx = keep[unit]
        t.slice_out(f'{name}/{producer}', idx)
        t.slice_out(unit, idx)
        t.slice_in(f'{name}/{nxt}', idx)
        bw[s - 1][b][k] = int(idx.size)
  identity = all(sel == list(range(w)) for sel, w in zip(sels, input_widths))
  return dict(widths, block_widths=bw, selections=None if identity else sels)
