"""CIFAR DenseNets: DenseNet-40 (Network Slimming) and DenseNet-BC-100.

Registered names:

* ``densenet40`` (``cifar/network-slimming/models/densenet.py``): growth
  k = 12, stem conv3x3(24), 3 dense blocks of 12 basic layers
  ``BN -> select -> ReLU -> conv3x3(k)`` whose output is concatenated after
  the input, transitions ``BN -> select -> ReLU -> conv1x1(same width) ->
  functional avg_pool2d(2)`` (not counted, no compression), final ``BN ->
  select -> ReLU -> AvgPool2d(8)`` module (counted) ``-> Linear(cfg[-1] ->
  C)``. Init: conv He fan-out, BN gamma 0.5, Linear PyTorch default.
* ``densenet_bc100`` (``cifar/weight-level/models/cifar/densenet.py`` with
  ``block=Bottleneck``): true DenseNet-BC, n = 16 bottleneck layers per
  block ``BN -> ReLU -> conv1x1(4k) -> BN -> ReLU -> conv3x3(k)``, transitions
  with compression 0.5 (``floor(C // 2)``), no selection; BN gamma 1.

Width configs (JSON):

* ``densenet40``: ``{'cfg': [39 ints], 'selections': None or [39 entries]}``.
  ``cfg[i]`` is the number of input channels consumed by conv i (after the
  selection that follows its BN), in order: 12 layers of block 1, transition
  1, 12 layers of block 2, transition 2, 12 layers of block 3, final BN (the
  classifier input). Unpruned: 24, 36, ..., 168 | 168, ..., 312 | 312, ...,
  456. Growth outputs (12) and transition outputs are never pruned, so the
  tensor each selection reads has a fixed width; ``selections[i]`` lists its
  kept channel indices (``None`` = the first ``cfg[i]`` channels, identity
  when unpruned). ``densenet40_input_widths()`` gives those fixed widths and
  ``densenet40_selection_points()`` the BN path of each entry. (The
  ``DenseNet40`` class takes any 3n+3-entry cfg; the registry fixes n = 12.)
* ``densenet_bc100``: ``{'stem_width': 24, 'growth_rate': 12,
  'bottleneck_widths': [[48]*16, [48]*16, [48]*16], 'transition_widths':
  [108, 150]}`` (the 1x1 bottleneck conv width of every layer and the two
  transition output widths).

Param paths (``batch_stats`` mirrors BN names with ``mean``/``var``):
``stem_conv/kernel``; dense layer l (0-based) of block d (1..3):
``dense{d}_layer{l}/bn1/{scale,bias}``, ``dense{d}_layer{l}/conv1/kernel``
[BC also ``dense{d}_layer{l}/bn2/...``, ``dense{d}_layer{l}/conv2/kernel``];
transitions ``trans{t}/bn1/...``, ``trans{t}/conv1/kernel`` (t = 1, 2);
``final_bn/{scale,bias}``; ``classifier/{kernel,bias}``.

Channel units (``densenet40``): the BN of every selection point, all of kind
``'select'``. ``densenet_bc100`` has none (it is pruned weight-level).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from jaxprune.models import _common
from jaxprune.models import layers
from jaxprune.models import spec as spec_lib
from jaxprune.models import structure

D40_GROWTH = 12
D40_LAYERS = 12
D40_STEM = 24


def densenet40_input_widths(layers_per_block: int = D40_LAYERS,
                            stem_width: int = D40_STEM,
                            growth_rate: int = D40_GROWTH) -> list[int]:
  """Width of the tensor at each selection point (3n+3 of them)."""
  widths = []
  c = stem_width
  for _ in range(3):
    for _ in range(layers_per_block):
      widths.append(c)
      c += growth_rate
    widths.append(c)  # transition (blocks 1, 2) or final BN (block 3)
  return widths


def densenet40_selection_points(
    layers_per_block: int = D40_LAYERS) -> list[str]:
  """Path of the BN before each selection point, in cfg order."""
  points = []
  for d in range(1, 4):
    points += [f'dense{d}_layer{l}/bn1' for l in range(layers_per_block)]
    points.append(f'trans{d}/bn1' if d < 3 else 'final_bn')
  return points


class _BnReluConv(nn.Module):
  """``BN -> [select] -> ReLU -> conv`` units of one dense layer/transition.

  ``convs`` lists (width, kernel_size) per unit; unit u uses ``bn{u+1}`` and
  ``conv{u+1}``. Only the first unit has a selection.
  """
  convs: tuple[tuple[int, int], ...]
  selection: tuple[int, ...] | None = None
  bn_scale: float = 0.5
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    for u, (width, k) in enumerate(self.convs, start=1):
      x = layers.BatchNorm(scale_init=layers.constant_init(self.bn_scale),
                           axis_name=self.axis_name, name=f'bn{u}')(x, train)
      if u == 1:
        x = layers.select_channels(x, self.selection)
      x = layers.relu(x)
      x = layers.Conv(width, kernel_size=k, padding=k // 2,
                      name=f'conv{u}')(x)
    return x


class DenseNet40(nn.Module):
  """Network Slimming DenseNet-40 with channel selection after every BN.

  Attributes:
    cfg: 3n+3 consumed input widths (n = 12 for DenseNet-40; see the module
      docstring).
    selections: 3n+3 static index tuples or None.
    num_classes: classifier outputs.
    bn_scale: initial BN gamma.
    growth_rate: k.
    stem_width: stem conv width.
    axis_name: pmap axis for synchronised BatchNorm.
  """
  cfg: tuple[int, ...]
  selections: tuple[tuple[int, ...] | None, ...] | None = None
  num_classes: int = 10
  bn_scale: float = 0.5
  growth_rate: int = D40_GROWTH
  stem_width: int = D40_STEM
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    sels = self.selections or (None,) * len(self.cfg)
    sel = lambda i, full: _common.selection_indices(sels[i], self.cfg[i], full)
    n = (len(self.cfg) - 3) // 3
    x = layers.Conv(self.stem_width, name='stem_conv')(x)
    i = 0
    for d in range(1, 4):
      for l in range(n):
        out = _BnReluConv(((self.growth_rate, 3),), sel(i, x.shape[-1]),
                          self.bn_scale, self.axis_name,
                          name=f'dense{d}_layer{l}')(x, train)
        x = jnp.concatenate([x, out], axis=-1)
        i += 1
      if d < 3:
        out = _BnReluConv(((x.shape[-1], 1),), sel(i, x.shape[-1]),
                          self.bn_scale, self.axis_name,
                          name=f'trans{d}')(x, train)
        x = layers.avg_pool(out, 2, counted=False)  # F.avg_pool2d
        i += 1
    x = layers.BatchNorm(scale_init=layers.constant_init(self.bn_scale),
                         axis_name=self.axis_name, name='final_bn')(x, train)
    x = layers.select_channels(x, sel(i, x.shape[-1]))
    x = layers.relu(x)
    x = layers.avg_pool(x, x.shape[1])  # nn.AvgPool2d(8) module
    x = _common.flatten_nchw(x)
    return layers.Dense(self.num_classes, name='classifier')(x)


class DenseNetBC(nn.Module):
  """DenseNet-BC (bottleneck + compression) from the weight-level code."""
  stem_width: int
  growth_rate: int
  bottleneck_widths: tuple[tuple[int, ...], ...]
  transition_widths: tuple[int, ...]
  num_classes: int = 10
  bn_scale: float = 1.0
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = layers.Conv(self.stem_width, name='stem_conv')(x)
    for d, block in enumerate(self.bottleneck_widths, start=1):
      for l, w in enumerate(block):
        out = _BnReluConv(((w, 1), (self.growth_rate, 3)), None,
                          self.bn_scale, self.axis_name,
                          name=f'dense{d}_layer{l}')(x, train)
        x = jnp.concatenate([x, out], axis=-1)
      if d <= len(self.transition_widths):
        out = _BnReluConv(((self.transition_widths[d - 1], 1),), None,
                          self.bn_scale, self.axis_name,
                          name=f'trans{d}')(x, train)
        x = layers.avg_pool(out, 2, counted=False)  # F.avg_pool2d
    x = layers.BatchNorm(scale_init=layers.constant_init(self.bn_scale),
                         axis_name=self.axis_name, name='final_bn')(x, train)
    x = layers.relu(x)
    x = layers.avg_pool(x, x.shape[1])  # nn.AvgPool2d(8) module
    x = _common.flatten_nchw(x)
    return layers.Dense(self.num_classes, name='classifier')(x)


def _validate_d40(widths):
  _common.check_keys(widths, ('cfg',), ('selections',))
  full = densenet40_input_widths()
  cfg = _common.check_int_list(widths['cfg'], len(full), 'cfg')
  _common.check_selections(widths.get('selections'), cfg, full)


BC_DEPTH = 100
BC_LAYERS = (BC_DEPTH - 4) // 6


def _default_bc(growth: int = 12, layers_per_block: int = BC_LAYERS):
  stem = 2 * growth
  c = stem
  transitions = []
  for _ in range(2):
    c = (c + layers_per_block * growth) // 2
    transitions.append(c)
  return {'stem_width': stem, 'growth_rate': growth,
          'bottleneck_widths': [[4 * growth] * layers_per_block
                                for _ in range(3)],
          'transition_widths': transitions}


def _validate_bc(widths):
  _common.check_keys(widths, ('stem_width', 'growth_rate',
                              'bottleneck_widths', 'transition_widths'))
  _common.check_width(widths['stem_width'], 'stem_width')
  _common.check_width(widths['growth_rate'], 'growth_rate')
  blocks = _common.check_list(widths['bottleneck_widths'], 3,
                              'bottleneck_widths')
  for d, block in enumerate(blocks):
    _common.check_int_list(block, BC_LAYERS, f'bottleneck_widths[{d}]')
  _common.check_int_list(widths['transition_widths'], 2,
                          'transition_widths')


def _d40_units(params) -> list[spec_lib.ChannelUnit]:
  """Every BN is followed by a selection: the dense layers and transitions
  in forward order, then the final BN."""
  del params
  return [spec_lib.ChannelUnit(
      p, 'select', consumer='classifier' if p == 'final_bn'
      else p.rsplit('/', 1)[0] + '/conv1') for p in densenet40_selection_points()]


def _d40_compact(widths, params, batch_stats, keep):
  """Kept channels become the selection indices and the following conv's
  (or the classifier's) input channels; selections compose."""
  cfg = list(widths['cfg'])
  t = structure.TreeSlicer(params, batch_stats)
  sels = structure.full_selections(widths, cfg)
  for i, point in enumerate(densenet40_selection_points()):
    if point not in keep:
      continue
    last = point == 'final_bn'
    sels[i] = structure.compact_selection(
        t, params, spec_lib.ChannelUnit(point, 'select'), sels[i],
        keep[point],
        'classifier' if last else point.rsplit('/', 1)[0] + '/conv1',
        dense=last)
    cfg[i] = len(sels[i])
  return ({'cfg': cfg, 'selections': sels}, *t.out())


spec_lib.register_model(spec_lib.ModelSpec(
    name='densenet40',
    build=lambda nc, w, ax: DenseNet40(
        tuple(w['cfg']), _common.freeze(w.get('selections')), nc,
        axis_name=ax),
    default_widths=lambda nc: {'cfg': densenet40_input_widths(),
                               'selections': None},
    validate_widths=_validate_d40,
    input_shape=(32, 32, 3),
    description='CIFAR DenseNet-40 (k=12, Network Slimming, selection)',
    units_fn=_d40_units,
    compact_fn=_d40_compact))

spec_lib.register_model(spec_lib.ModelSpec(
    name='densenet_bc100',
    build=lambda nc, w, ax: DenseNetBC(
        w['stem_width'], w['growth_rate'],
        _common.freeze(w['bottleneck_widths']),
        tuple(w['transition_widths']), nc, axis_name=ax),
    default_widths=lambda nc: _default_bc(),
    validate_widths=_validate_bc,
    input_shape=(32, 32, 3),
    description='CIFAR DenseNet-BC-100 (k=12, bottleneck, compression 0.5)'))
