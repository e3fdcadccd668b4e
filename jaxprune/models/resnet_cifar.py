"""CIFAR ResNets with parameter-free option-A shortcuts.

Registered names:

* ``resnet20``, ``resnet32``, ``resnet56``, ``resnet110``: the L1-norm models
  of Rethinking (``cifar/l1-norm-pruning/models/resnet.py``), 6n+2 layers,
  n = 3/5/9/18 basic blocks per stage, stage widths 16/32/64. Stem conv3x3 ->
  BN -> ReLU; block conv3x3(w_b, stride s) -> BN -> ReLU -> conv3x3(stage
  width) -> BN, add shortcut, ReLU. Option-A shortcut of a stage's first block
  (stride 2 or a width change): ``nn.AvgPool2d(2, 2)(x)`` created in forward
  (functional, **not counted**), then zero channels concatenated *after* the
  input channels; no parameters. Head: AvgPool2d(8) module (counted) ->
  Linear(64 -> C). Init: conv He fan-out, BN gamma 1, Linear PyTorch default
  U(+-1/sqrt(fan_in)).
* ``resnet32_jackpot``: the Lottery-Jackpots ResNet-32
  (``models/resnet_cifar.py``), stage widths 32/64/128, 5 blocks per stage.
  Option-A shortcut ``F.pad(x[:, :, ::2, ::2], ...)``: strided subsampling and
  **symmetric** zero padding of ``(out-in)//2`` channels before and the rest
  after (no parameters, not counted); global AdaptiveAvgPool2d(1) (not an
  ``nn.AvgPool2d``, so the convention's counter does not count it);
  classifier = 1x1 conv with bias,
  realised as the equivalent Dense. PyTorch >= 1.0 default inits (conv
  U(+-1/sqrt(fan_in)), BN gamma 1); weights are meant to be loaded.

Width config (JSON)::

  {'stage_widths': [16, 32, 64],                # residual-stream widths
   'block_widths': [[16]*n, [32]*n, [64]*n]}    # first-conv width per block

The stem outputs ``stage_widths[0]``; every block's second conv outputs its
stage width. Option-A shortcuts can only pad, so stage widths must not
decrease. L1-norm pruning changes ``block_widths`` only.

Param paths (``batch_stats`` mirrors the BN names with ``mean``/``var``):
``stem_conv/kernel``, ``stem_bn/{scale,bias}``,
``stage{s}_block{b}/conv1/kernel``, ``stage{s}_block{b}/bn1/{scale,bias}``,
``stage{s}_block{b}/conv2/kernel``, ``stage{s}_block{b}/bn2/{scale,bias}``
(s = 1..3, b = 0..n-1), ``classifier/{kernel,bias}``.
Rethinking's conv numbering (stem = 1, block b first conv = 2+2b) maps to
``stage{b//n+1}_block{b%n}/conv1``.

Channel units: each block's ``bn1`` (the first conv's outputs); the residual
stream is never pruned. ``resnet32_jackpot`` imports the official PyTorch
checkpoints (torchvision module names).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from jaxprune.models import _common
from jaxprune.models import fusion_cut
from jaxprune.models import layers
from jaxprune.models import spec as spec_lib
from jaxprune.models import structure

DEPTHS = {'resnet20': 20, 'resnet32': 32, 'resnet56': 56, 'resnet110': 110}


class BasicBlock(nn.Module):
  """Post-activation basic block with an option-A shortcut."""
  width: int
  out_width: int
  stride: int = 1
  shortcut: str = 'avgpool'  # 'avgpool' (Rethinking L1) or 'stride' (jackpot)
  kernel_init: layers.Initializer = layers.he_normal_fan_out
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    cin = x.shape[-1]
    out = layers.Conv(self.width, strides=self.stride,
                      kernel_init=self.kernel_init, name='conv1')(x)
    out = layers.BatchNorm(axis_name=self.axis_name, name='bn1')(out, train)
    out = layers.relu(out)
    out = layers.Conv(self.out_width, kernel_init=self.kernel_init,
                      name='conv2')(out)
    out = layers.BatchNorm(axis_name=self.axis_name, name='bn2')(out, train)
    residual = x
    if self.stride != 1 or cin != self.out_width:
      if self.stride != 1:
        if self.shortcut == 'avgpool':
          residual = layers.avg_pool(x, self.stride, counted=False)
        else:
          residual = x[:, ::self.stride, ::self.stride, :]
      extra = self.out_width - cin
      before = extra // 2 if self.shortcut == 'stride' else 0
      residual = jnp.pad(residual, ((0, 0), (0, 0), (0, 0),
                                    (before, extra - before)))
    return fusion_cut.cut(layers.relu(out + residual))


class CifarResNet(nn.Module):
  """CIFAR ResNet (3 stages of basic blocks) built from a width config.

  Attributes:
    stage_widths: residual-stream width of each stage (stem = stage 1).
    block_widths: first-conv width of every block, per stage.
    num_classes: classifier outputs.
    shortcut: 'avgpool' (Rethinking L1: AvgPool2d(2,2) + zeros appended) or
      'stride' (jackpot: ``x[::2, ::2]`` + symmetric zero padding).
    torch_default_init: PyTorch-default conv init (jackpot) instead of He.
    count_global_pool: the global pool is a counted AvgPool2d module
      (Rethinking) rather than an uncounted AdaptiveAvgPool2d (jackpot).
    axis_name: pmap axis for synchronised BatchNorm.
  """
  stage_widths: tuple[int, ...]
  block_widths: tuple[tuple[int, ...], ...]
  num_classes: int = 10
  shortcut: str = 'avgpool'
  torch_default_init: bool = False
  count_global_pool: bool = True
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    kinit = (_common.torch_default_conv_init if self.torch_default_init
             else layers.he_normal_fan_out)
    x = layers.Conv(self.stage_widths[0], kernel_init=kinit,
                    name='stem_conv')(x)
    x = layers.BatchNorm(axis_name=self.axis_name, name='stem_bn')(x, train)
    x = layers.relu(x)
    for s, (width, blocks) in enumerate(zip(self.stage_widths,
                                            self.block_widths)):
      for b, w in enumerate(blocks):
        stride = 2 if s > 0 and b == 0 else 1
        x = BasicBlock(w, width, stride, self.shortcut, kinit,
                       self.axis_name, name=f'stage{s + 1}_block{b}')(x, train)
    # AvgPool2d(8) (counted) / AdaptiveAvgPool2d(1) (not counted)
    x = layers.avg_pool(x, x.shape[1], counted=self.count_global_pool)
    x = _common.flatten_nchw(x)
    return layers.Dense(self.num_classes, name='classifier')(x)


def default_widths(blocks_per_stage: int, stage_widths=(16, 32, 64)):
  return {'stage_widths': list(stage_widths),
          'block_widths': [[w] * blocks_per_stage for w in stage_widths]}


def _validator(blocks_per_stage: int):
  def validate(widths):
    _common.check_keys(widths, ('stage_widths', 'block_widths'))
    stages = _common.check_int_list(widths['stage_widths'], 3,
                                     'stage_widths')
    for s in range(1, 3):
      if stages[s] < stages[s - 1]:
        raise ValueError(
            f'width config: stage_widths[{s}] = {stages[s]} is smaller than '
            f'stage_widths[{s - 1}] = {stages[s - 1]}; option-A shortcuts '
            'can only zero-pad channels')
    blocks = _common.check_list(widths['block_widths'], 3, 'block_widths')
    for s, stage in enumerate(blocks):
      _common.check_int_list(stage, blocks_per_stage, f'block_widths[{s}]')
  return validate


def _build(shortcut: str, torch_default_init: bool, count_global_pool: bool):
  def build(num_classes, widths, axis_name):
    return CifarResNet(tuple(widths['stage_widths']),
                       _common.freeze(widths['block_widths']), num_classes,
                       shortcut=shortcut,
                       torch_default_init=torch_default_init,
                       count_global_pool=count_global_pool,
                       axis_name=axis_name)
  return build


def _compact(widths, params, batch_stats, keep):
  t = structure.TreeSlicer(params, batch_stats)
  return (structure.compact_basic_blocks(widths, keep, t, params), *t.out())


def _register(name, build, default, validate, description,
              torch_name_fn=None):
  spec_lib.register_model(spec_lib.ModelSpec(
      name=name, build=build, default_widths=default,
      validate_widths=validate, input_shape=(32, 32, 3),
      description=description,
      units_fn=structure.basic_block_units, compact_fn=_compact,
      torch_name_fn=torch_name_fn))


for _name, _depth in DEPTHS.items():
  _n = (_depth - 2) // 6
  _register(_name, _build('avgpool', False, True),
            lambda nc, n=_n: default_widths(n), _validator(_n),
            f'CIFAR ResNet-{_depth} (L1-norm, option-A shortcuts)')

_register('resnet32_jackpot', _build('stride', True, False),
          lambda nc: default_widths(5, (32, 64, 128)), _validator(5),
          'Lottery-Jackpots CIFAR ResNet-32, widths 32/64/128',
          torch_name_fn=_common.torchvision_resnet_name)
