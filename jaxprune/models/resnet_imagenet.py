"""ImageNet ResNets (torchvision layout): ResNet-34 and ResNet-50.

Registered names:

* ``resnet34`` (``imagenet/l1-norm-pruning/resnet.py``): basic blocks
  [3, 4, 6, 3], per-block first-conv widths. Stem conv7x7/2 (64) -> BN ->
  ReLU -> MaxPool2d(3, 2, padding 1) module (counted); block conv3x3(w_b,
  stride) -> BN -> ReLU -> conv3x3(stage width) -> BN, add, ReLU; downsample
  conv1x1(stride) + BN where the stride or width changes; AvgPool2d(7) module
  (counted) -> Linear(512 -> C). Init: conv He fan-out, BN gamma 1, Linear
  PyTorch default U(+-1/sqrt(fan_in)).
* ``resnet50``: torchvision v1.5 bottleneck [3, 4, 6, 3] (stride on the 3x3
  conv): conv1x1(c1) -> BN -> ReLU -> conv3x3(c2, stride) -> BN -> ReLU ->
  conv1x1(stage width) -> BN, add, ReLU; same stem, downsample and head.
* ``resnet50_thinet``: the ThiNet / regression-pruning file layout
  (``imagenet/thinet/models/thinetresnet.py``): as ``resnet50`` but the
  downsample conv has ``bias=True`` (PyTorch 0.3.1 default init
  U(+-1/sqrt(C_in)); the init loop leaves it alone). With ``selections`` this
  also expresses ResNet-50-2x (``resnet_2x.py``), whose blocks select input
  channels before conv1.

Width config (JSON)::

  resnet34: {'stem_width': 64, 'stage_widths': [64, 128, 256, 512],
             'block_widths': [[64]*3, [128]*4, [256]*6, [512]*3]}
  resnet50: {'stem_width': 64, 'stage_widths': [256, 512, 1024, 2048],
             'block_widths': [[[64, 64]]*3, [[128, 128]]*4,
                              [[256, 256]]*6, [[512, 512]]*3],
             'selections': None}                      # optional key

``stage_widths`` are the residual-stream (block output) widths,
``block_widths`` the first-conv width (basic) or the [conv1, conv2] widths
(bottleneck) of every block. ``selections`` (bottleneck only) is None or 16
entries, each None (conv1 reads the whole block input) or the list of
block-input channel indices conv1 reads (distinct, in range); e.g. ThiNet-70 =
block widths [44, 44] / [89, 89] / [179, 179] / [358, 358] per stage, and
ResNet-50-2x = ``cfg_2x`` block widths with the 0/1 masks of
``shared/data/resnet50_2x_input_channel_masks.npz`` turned into index lists.

Param paths (``batch_stats`` mirrors BN names with ``mean``/``var``):
``stem_conv/kernel``, ``stem_bn/{scale,bias}``,
``stage{s}_block{b}/conv{1,2[,3]}/kernel``,
``stage{s}_block{b}/bn{1,2[,3]}/{scale,bias}``,
``stage{s}_block{b}/downsample_conv/kernel`` [``/bias`` for
``resnet50_thinet``], ``stage{s}_block{b}/downsample_bn/{scale,bias}``
(s = 1..4, b = 0-based), ``classifier/{kernel,bias}``. Rethinking's ResNet-34
conv ids (stem = 1, downsample excluded, block b's first conv = 2+2b) map to
the b-th block in stage order.

Channel units: ResNet-34's block ``bn1`` s (first convs). Bottleneck blocks:
the block input as read by ``conv1`` (``<block>/input``, a selection point:
ResNet-50-2x's input channel selection), ``bn1`` and ``bn2`` (the first two
convs' outputs); block outputs and the residual path are never pruned.
``resnet34`` and ``resnet50`` use torchvision module names for checkpoint
import.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn

from jaxprune.models import _common
from jaxprune.models import fusion_cut
from jaxprune.models import layers
from jaxprune.models import spec as spec_lib
from jaxprune.models import structure

BLOCKS = (3, 4, 6, 3)


def _downsample(x, features, stride, use_bias, axis_name, train):
  """conv1x1(stride) [+ bias] + BN shortcut, created inside a block."""
  cin = x.shape[-1]
  bias_init = layers.torch_default_uniform(cin)
  y = layers.Conv(features, kernel_size=1, strides=stride, padding=0,
                  use_bias=use_bias, bias_init=bias_init,
                  name='downsample_conv')(x)
  return layers.BatchNorm(axis_name=axis_name, name='downsample_bn')(y, train)


class BasicBlock(nn.Module):
  """torchvision basic block with a configurable first-conv width."""
  width: int
  out_width: int
  stride: int = 1
  downsample_bias: bool = False
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    out = layers.Conv(self.width, strides=self.stride, name='conv1')(x)
    out = layers.BatchNorm(axis_name=self.axis_name, name='bn1')(out, train)
    out = layers.relu(out)
    out = layers.Conv(self.out_width, name='conv2')(out)
    out = layers.BatchNorm(axis_name=self.axis_name, name='bn2')(out, train)
    residual = x
    if self.stride != 1 or x.shape[-1] != self.out_width:
      residual = _downsample(x, self.out_width, self.stride,
                             self.downsample_bias, self.axis_name, train)
    return fusion_cut.cut(layers.relu(out + residual))


class Bottleneck(nn.Module):
  """torchvision v1.5 bottleneck with [c1, c2] widths and input selection."""
  widths: tuple[int, int]
  out_width: int
  stride: int = 1
  selection: tuple[int, ...] | None = None
  downsample_bias: bool = False
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    out = layers.select_channels(x, self.selection)
    out = layers.Conv(self.widths[0], kernel_size=1, padding=0,
                      name='conv1')(out)
    out = layers.BatchNorm(axis_name=self.axis_name, name='bn1')(out, train)
    out = layers.relu(out)
    out = layers.Conv(self.widths[1], strides=self.stride, name='conv2')(out)
    out = layers.BatchNorm(axis_name=self.axis_name, name='bn2')(out, train)
    out = layers.relu(out)
    out = layers.Conv(self.out_width, kernel_size=1, padding=0,
                      name='conv3')(out)
    out = layers.BatchNorm(axis_name=self.axis_name, name='bn3')(out, train)
    residual = x
    if self.stride != 1 or x.shape[-1] != self.out_width:
      residual = _downsample(x, self.out_width, self.stride,
                             self.downsample_bias, self.axis_name, train)
    return fusion_cut.cut(layers.relu(out + residual))


class ImageNetResNet(nn.Module):
  """torchvision-layout ResNet built from a width config.

  Attributes:
    stem_width: stem conv width.
    stage_widths: block output width per stage.
    block_widths: per stage, per block: an int (basic) or (c1, c2)
      (bottleneck).
    bottleneck: bottleneck (ResNet-50) or basic (ResNet-34) blocks.
    selections: per bottleneck block, static input-channel indices or None.
    downsample_bias: downsample convs have a bias (ThiNet file layout).
    num_classes: classifier outputs.
    axis_name: pmap axis for synchronised BatchNorm.
  """
  stem_width: int
  stage_widths: tuple[int, ...]
  block_widths: tuple[Any, ...]
  bottleneck: bool = False
  selections: tuple[tuple[int, ...] | None, ...] | None = None
  downsample_bias: bool = False
  num_classes: int = 1000
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = layers.Conv(self.stem_width, kernel_size=7, strides=2, padding=3,
                    name='stem_conv')(x)
    x = layers.BatchNorm(axis_name=self.axis_name, name='stem_bn')(x, train)
    x = layers.relu(x)
    x = _common.max_pool_padded(x, 3, 2, 1)  # nn.MaxPool2d(3, 2, 1) module
    j = 0
    for s, (width, blocks) in enumerate(zip(self.stage_widths,
                                            self.block_widths)):
      for b, w in enumerate(blocks):
        stride = 2 if s > 0 and b == 0 else 1
        name = f'stage{s + 1}_block{b}'
        if self.bottleneck:
          sel = self.selections[j] if self.selections else None
          if sel is not None:
            sel = _common.selection_indices(sel, len(sel), x.shape[-1])
          x = Bottleneck(tuple(w), width, stride, sel, self.downsample_bias,
                         self.axis_name, name=name)(x, train)
        else:
          x = BasicBlock(w, width, stride, self.downsample_bias,
                         self.axis_name, name=name)(x, train)
        j += 1
    # nn.AvgPool2d(7, stride=1), a counted module: 7x7 at 224x224; the
    # whole map at other sizes (small CPU runs), like an adaptive pool.
    x = layers.avg_pool(x, x.shape[1], 1)
    x = _common.flatten_nchw(x)
    return layers.Dense(self.num_classes, name='classifier')(x)


def resnet34_default() -> dict[str, Any]:
  stages = [64, 128, 256, 512]
  return {'stem_width': 64, 'stage_widths': stages,
          'block_widths': [[w] * n for w, n in zip(stages, BLOCKS)]}


def resnet50_default() -> dict[str, Any]:
  planes = [64, 128, 256, 512]
  return {'stem_width': 64, 'stage_widths': [4 * p for p in planes],
          'block_widths': [[[p, p] for _ in range(n)]
                           for p, n in zip(planes, BLOCKS)],
          'selections': None}


def block_input_widths(widths: dict[str, Any]) -> list[int]:
  """Width of every block's input, in block order."""
  out = []
  c = widths['stem_width']
  for s, n in enumerate(BLOCKS):
    for _ in range(n):
      out.append(c)
      c = widths['stage_widths'][s]
  return out


def _validator(bottleneck: bool):
  def validate(widths):
    _common.check_keys(widths, ('stem_width', 'stage_widths', 'block_widths'),
                       ('selections',) if bottleneck else ())
    _common.check_width(widths['stem_width'], 'stem_width')
    _common.check_int_list(widths['stage_widths'], 4, 'stage_widths')
    stages = _common.check_list(widths['block_widths'], 4, 'block_widths')
    for s, (stage, n) in enumerate(zip(stages, BLOCKS)):
      if not bottleneck:
        _common.check_int_list(stage, n, f'block_widths[{s}]')
        continue
      _common.check_list(stage, n, f'block_widths[{s}]')
      for b, pair in enumerate(stage):
        _common.check_int_list(pair, 2, f'block_widths[{s}][{b}]')
    if bottleneck and widths.get('selections') is not None:
      full = block_input_widths(widths)
      sels = _common.check_list(widths['selections'], len(full),
                                'selections')
      for j, (sel, f) in enumerate(zip(sels, full)):
        if sel is not None:
          _common.check_list(sel, None, f'selections[{j}]')
          if not sel:
            raise ValueError(f'width config: selections[{j}] is empty')
          _common.check_index_list(sel, len(sel), f, f'selections[{j}]')
  return validate


def _build(bottleneck: bool, downsample_bias: bool):
  def build(num_classes, widths, axis_name):
    return ImageNetResNet(
        widths['stem_width'], tuple(widths['stage_widths']),
        _common.freeze(widths['block_widths']), bottleneck,
        _common.freeze(widths.get('selections')), downsample_bias,
        num_classes, axis_name)
  return build


def _compact_basic(widths, params, batch_stats, keep):
  t = structure.TreeSlicer(params, batch_stats)
  return (structure.compact_basic_blocks(widths, keep, t, params), *t.out())


spec_lib.register_model(spec_lib.ModelSpec(
    name='resnet34',
    build=_build(False, False),
    default_widths=lambda nc: resnet34_default(),
    validate_widths=_validator(False),
    input_shape=(224, 224, 3),
    description='ImageNet ResNet-34 (L1-norm, per-block first-conv widths)',
    units_fn=structure.basic_block_units,
    compact_fn=_compact_basic,
    torch_name_fn=_common.torchvision_resnet_name))

def _compact_bottleneck(widths, params, batch_stats, keep):
  t = structure.TreeSlicer(params, batch_stats)
  new = structure.compact_bottlenecks(widths, keep, t, params,
                                      block_input_widths(widths))
  return (new, *t.out())


spec_lib.register_model(spec_lib.ModelSpec(
    name='resnet50',
    build=_build(True, False),
    default_widths=lambda nc: resnet50_default(),
    validate_widths=_validator(True),
    input_shape=(224, 224, 3),
    description='ImageNet ResNet-50, torchvision v1.5 layout',
    units_fn=structure.bottleneck_units,
    compact_fn=_compact_bottleneck,
    torch_name_fn=_common.torchvision_resnet_name))

spec_lib.register_model(spec_lib.ModelSpec(
    name='resnet50_thinet',
    build=_build(True, True),
    default_widths=lambda nc: resnet50_default(),
    validate_widths=_validator(True),
    input_shape=(224, 224, 3),
    description='ImageNet ResNet-50, ThiNet file layout (downsample bias)',
    units_fn=structure.bottleneck_units,
    compact_fn=_compact_bottleneck))
