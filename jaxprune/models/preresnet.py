"""CIFAR pre-activation bottleneck ResNets (PreResNet-164 / PreResNet-110).

Registered names:

* ``preresnet164`` (Network Slimming, ``cifar/network-slimming/models/
  preresnet.py``): 9n+2 layers, n = 18 bottlenecks per stage, planes
  16/32/64, expansion 4. Block: BN(input) -> channel selection -> ReLU ->
  conv1x1(c1) -> BN -> ReLU -> conv3x3(c2, stride) -> BN -> ReLU ->
  conv1x1(4*planes); shortcut identity, or a conv1x1(4*planes, stride) without
  BN for each stage's first block (stage 1 too: 16 -> 64); add, no ReLU after.
  Stem conv3x3(16); final BN -> selection -> ReLU -> AvgPool2d(8) module
  (counted) -> Linear(cfg[-1] -> C). Init: conv He fan-out, BN gamma 0.5,
  Linear PyTorch default U(+-1/sqrt(fan_in)).
* ``preresnet110`` (weight-level, ``cifar/weight-level/models/cifar/
  preresnet.py``): the same bottleneck design with n = (110-2)//9 = 12 and no
  channel selection; BN gamma 1.

Width config (JSON), the cfg of the reference code::

  {'cfg': [in_0, c1_0, c2_0, in_1, c1_1, c2_1, ..., final],   # 9n+1 ints
   'selections': None or [idx_0, idx_1, ..., idx_final]}       # 3n+1 entries

``in_j`` is the number of block-input channels conv1 of block j consumes
(after the selection that follows bn1), ``c1_j``/``c2_j`` the widths of conv1
and conv2; ``final`` is the number of channels kept after the final BN (the
classifier input). Unpruned: ``[16, 16, 16] + [64, 16, 16]*(n-1) + [64, 32,
32] + [128, 32, 32]*(n-1) + [128, 64, 64] + [256, 64, 64]*(n-1) + [256]``.
The residual stream (conv3, downsample, 4*planes) is never pruned, so each
``in_j`` is at most the block-input width. ``selections[j]`` lists the kept
channel indices (``len == in_j``, distinct, in ``[0, input width)``) of
selection point j (blocks in order, then the final BN); ``None`` (the whole
list or one entry) keeps the first ``in_j`` channels, which is the identity
when nothing is pruned. Selection indices are static constants, not params
(the reference counts exclude them). ``preresnet110`` has no selection layers:
its ``in_j``/``final`` entries must equal the input widths and ``selections``
must be absent or None. ``input_widths(n)`` gives the width each selection
point reads and ``selection_points(n)`` the BN path of each point.

Param paths (``batch_stats`` mirrors BN names with ``mean``/``var``):
``stem_conv/kernel``; ``stage{s}_block{b}/bn1/{scale,bias}``,
``.../conv1/kernel``, ``.../bn2/...``, ``.../conv2/kernel``, ``.../bn3/...``,
``.../conv3/kernel``, ``stage{s}_block{b}/downsample/kernel`` (first block of
each stage), with s = 1..3, b = 0..n-1; ``final_bn/{scale,bias}``;
``classifier/{kernel,bias}``. Block j = (s-1)*n + b owns cfg[3j:3j+3].

Channel units (``preresnet164``): per block ``bn1`` (a selection point),
``bn2`` and ``bn3`` (conv outputs), then ``final_bn`` (a selection point).
``preresnet110`` has none (it is pruned weight-level).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn

from jaxprune.models import _common
from jaxprune.models import fusion_cut
from jaxprune.models import layers
from jaxprune.models import spec as spec_lib
from jaxprune.models import structure

PLANES = (16, 32, 64)
EXPANSION = 4


def input_widths(n: int) -> list[int]:
  """Width of the tensor at each selection point (3n blocks, then final)."""
  widths = []
  inplanes = PLANES[0]
  for planes in PLANES:
    for _ in range(n):
      widths.append(inplanes)
      inplanes = planes * EXPANSION
  widths.append(inplanes)
  return widths


def default_cfg(n: int) -> list[int]:
  cfg = []
  for (planes, full) in zip([p for p in PLANES for _ in range(n)],
                            input_widths(n)[:-1]):
    cfg += [full, planes, planes]
  return cfg + [input_widths(n)[-1]]


class Bottleneck(nn.Module):
  """Pre-activation bottleneck with channel selection after bn1."""
  cfg: tuple[int, int, int]
  planes: int
  stride: int = 1
  selection: tuple[int, ...] | None = None
  bn_scale: float = 0.5
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    bn = lambda name: layers.BatchNorm(
        scale_init=layers.constant_init(self.bn_scale),
        axis_name=self.axis_name, name=name)
    out = bn('bn1')(x, train)
    out = layers.select_channels(out, self.selection)
    out = layers.relu(out)
    out = layers.Conv(self.cfg[1], kernel_size=1, padding=0, name='conv1')(out)
    out = bn('bn2')(out, train)
    out = layers.relu(out)
    out = layers.Conv(self.cfg[2], strides=self.stride, name='conv2')(out)
    out = bn('bn3')(out, train)
    out = layers.relu(out)
    out = layers.Conv(self.planes * EXPANSION, kernel_size=1, padding=0,
                      name='conv3')(out)
    residual = x
    if self.stride != 1 or x.shape[-1] != self.planes * EXPANSION:
      residual = layers.Conv(self.planes * EXPANSION, kernel_size=1,
                             strides=self.stride, padding=0,
                             name='downsample')(x)
    return fusion_cut.cut(out + residual)


class PreResNet(nn.Module):
  """CIFAR pre-activation bottleneck ResNet built from the reference cfg.

  Attributes:
    cfg: 9n+1 ints (see the module docstring).
    selections: 3n+1 static index tuples or None (identity / first k).
    num_classes: classifier outputs.
    bn_scale: initial BN gamma (0.5 slimming, 1 weight-level).
    axis_name: pmap axis for synchronised BatchNorm.
  """
  cfg: tuple[int, ...]
  selections: tuple[tuple[int, ...] | None, ...] | None = None
  num_classes: int = 10
  bn_scale: float = 0.5
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    n = (len(self.cfg) - 1) // 9
    full = input_widths(n)
    sels = self.selections or (None,) * (3 * n + 1)
    x = layers.Conv(PLANES[0], name='stem_conv')(x)
    j = 0
    for s, planes in enumerate(PLANES):
      for b in range(n):
        cfg = tuple(self.cfg[3 * j:3 * j + 3])
        sel = _common.selection_indices(sels[j], cfg[0], full[j])
        x = Bottleneck(cfg, planes, 2 if s > 0 and b == 0 else 1, sel,
                       self.bn_scale, self.axis_name,
                       name=f'stage{s + 1}_block{b}')(x, train)
        j += 1
    x = layers.BatchNorm(scale_init=layers.constant_init(self.bn_scale),
                         axis_name=self.axis_name, name='final_bn')(x, train)
    x = layers.select_channels(
        x, _common.selection_indices(sels[j], self.cfg[-1], full[j]))
    x = layers.relu(x)
    x = layers.avg_pool(x, x.shape[1])  # nn.AvgPool2d(8) module
    x = _common.flatten_nchw(x)
    return layers.Dense(self.num_classes, name='classifier')(x)


def _validator(n: int, with_selection: bool):
  def validate(widths):
    _common.check_keys(widths, ('cfg',), ('selections',))
    cfg = _common.check_int_list(widths['cfg'], 9 * n + 1, 'cfg')
    consumed = cfg[0:-1:3] + [cfg[-1]]
    full = input_widths(n)
    if with_selection:
      _common.check_selections(widths.get('selections'), consumed, full)
    else:
      if widths.get('selections') is not None:
        raise ValueError('width config: this model has no channel selection; '
                         'selections must be None')
      for j, (c, f) in enumerate(zip(consumed, full)):
        if c != f:
          idx = 3 * j if j < 3 * n else 9 * n
          raise ValueError(f'width config: cfg[{idx}] = {c} must equal the '
                           f'input width {f} (no channel selection)')
  return validate


def _build(bn_scale: float):
  def build(num_classes, widths, axis_name):
    return PreResNet(tuple(widths['cfg']),
                     _common.freeze(widths.get('selections')), num_classes,
                     bn_scale, axis_name)
  return build


def selection_points(n: int) -> Sequence[str]:
  """Module path of the BN before each selection point, in cfg order."""
  return [f'stage{s + 1}_block{b}/bn1' for s in range(3)
          for b in range(n)] + ['final_bn']


def _units(params) -> list[spec_lib.ChannelUnit]:
  """Per block: bn1 (selection of the block input), bn2 / bn3 (outputs of
  conv1 / conv2); then the final BN (selection of the classifier input)."""
  out = []
  for _, _, name in structure.stage_blocks(params):
    out += [spec_lib.ChannelUnit(f'{name}/bn1', 'select',
                                 consumer=f'{name}/conv1'),
            spec_lib.ChannelUnit(f'{name}/bn2', 'conv', f'{name}/conv1',
                                 consumer=f'{name}/conv2'),
            spec_lib.ChannelUnit(f'{name}/bn3', 'conv', f'{name}/conv2',
                                 consumer=f'{name}/conv3')]
  return out + [spec_lib.ChannelUnit('final_bn', 'select',
                                     consumer='classifier')]


def _compact(widths, params, batch_stats, keep):
  """bn1 keeps its full width (it normalises the residual stream): its kept
  channels become the block's selection and conv1's input channels; bn2 /
  bn3 prune conv1 / conv2 outputs and the next conv's inputs; final_bn
  selects the classifier's input rows. Selections compose."""
  cfg = list(widths['cfg'])
  n = (len(cfg) - 1) // 9
  t = structure.TreeSlicer(params, batch_stats)
  sels = structure.full_selections(widths, cfg[0:-1:3] + [cfg[-1]])
  blocks = [name for _, _, name in structure.stage_blocks(params)]
  for j, point in enumerate(selection_points(n)):
    if point not in keep:
      continue
    last = point == 'final_bn'
    sels[j] = structure.compact_selection(
        t, params, spec_lib.ChannelUnit(point, 'select'), sels[j],
        keep[point], 'classifier' if last else f'{blocks[j]}/conv1',
        dense=last)
    cfg[9 * n if last else 3 * j] = len(sels[j])
  for j, block in enumerate(blocks):
    for k, (bn, producer, nxt) in enumerate(
        (('bn2', 'conv1', 'conv2'), ('bn3', 'conv2', 'conv3')), start=1):
      name = f'{block}/{bn}'
      if name in keep:
        idx = keep[name]
        t.slice_out(f'{block}/{producer}', idx)
        t.slice_out(name, idx)
        t.slice_in(f'{block}/{nxt}', idx)
        cfg[3 * j + k] = int(idx.size)
  return ({'cfg': cfg, 'selections': sels}, *t.out())


def _register(name: str, depth: int, with_selection: bool, bn_scale: float,
              description: str):
  n = (depth - 2) // 9
  spec_lib.register_model(spec_lib.ModelSpec(
      name=name,
      build=_build(bn_scale),
      default_widths=lambda nc: {'cfg': default_cfg(n), 'selections': None},
      validate_widths=_validator(n, with_selection),
      input_shape=(32, 32, 3),
      description=description,
      units_fn=_units if with_selection else None,
      compact_fn=_compact if with_selection else None))


_register('preresnet164', 164, True, 0.5,
          'CIFAR PreResNet-164 (Network Slimming, channel selection)')
_register('preresnet110', 110, False, 1.0,
          'CIFAR PreResNet-110 bottleneck (weight-level, no selection)')
