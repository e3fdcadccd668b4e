"""ImageNet VGGs: VGG-16 (no BN), VGG-16-BN and the slimming VGG-11-BN.

Registered names:

* ``vgg16_imagenet``: torchvision 0.2.0 ``vgg16`` (ThiNet / regression
  pruning base): conv3x3 with bias -> ReLU, five counted 2x2 max-pool
  modules, then ``Linear(C*7*7 -> 4096) -> ReLU -> Dropout -> Linear(4096 ->
  4096) -> ReLU -> Dropout -> Linear(4096 -> C)``. Init: conv He fan-out
  (``normal(0, sqrt(2/(k*k*C_out)))``), conv bias 0, Linear N(0, 0.01), bias 0.
* ``vgg16_bn_imagenet``: torchvision ``vgg16_bn`` (weight-level): conv (with
  bias) -> BN -> ReLU; same head; BN gamma 1.
* ``vgg11_slim_imagenet`` (``imagenet/network-slimming/vgg.py``): conv (with
  bias) -> BN2d -> ReLU on cfg ``[64, M, 128, M, 256, 256, M, 512, 512, M,
  512, 512, M]``; head ``Linear(C*7*7 -> h1) -> BN1d -> ReLU -> Linear(h1 ->
  h2) -> BN1d -> ReLU -> Linear(h2 -> C)``, no dropout; conv kaiming_normal
  fan-out, BN2d and BN1d gamma 0.5 (BN1d not counted as FLOPs), Linear
  N(0, 0.01), bias 0.

Dropout (``dropout_rate``, default 0.5) is active only with ``train=True``
and then needs an rng named ``'dropout'``; with ``train=False`` the model is
deterministic. Features are flattened in PyTorch's (C, H, W) order, so the
first Linear's rows match the PyTorch checkpoints.

Width config (JSON)::

  {'cfg': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M',
           512, 512, 512, 'M', 512, 512, 512, 'M'],      # VGG-16
   'fc_widths': [4096, 4096]}                           # hidden FC widths

(VGG-11: ``cfg = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512,
'M']``.) The 'M' positions are fixed per family; e.g. VGG-16-5x is ``cfg =
[24, 22, M, 41, 51, M, 108, 89, 111, M, 184, 276, 228, M, 512, 512, 512, M]``.

Param paths (``batch_stats`` mirrors BN names with ``mean``/``var``):
``conv{i}/{kernel,bias}`` and ``bn{i}/{scale,bias}`` (i counts convs from 0),
``fc1/{kernel,bias}``, ``fc2/{kernel,bias}``, ``fc1_bn``/``fc2_bn`` (slimming
VGG-11 only), ``classifier/{kernel,bias}``.

Channel units: ``bn{i}`` of every conv for the BN models, plus ``fc1_bn`` and
``fc2_bn`` (producers ``fc1``/``fc2``) for the slimming VGG-11, whose global
threshold covers them, so its hidden FC widths shrink too. The BN-free
``vgg16_imagenet`` has a unit per conv, named by the conv (its outputs).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from jaxprune.models import _common
from jaxprune.models import layers
from jaxprune.models import spec as spec_lib
from jaxprune.models import structure

M = 'M'
VGG16_CFG = (64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M,
             512, 512, 512, M)
VGG11_CFG = (64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M)
FC_WIDTHS = (4096, 4096)


class ImageNetVGG(nn.Module):
  """ImageNet VGG with a two-hidden-layer FC head.

  Attributes:
    cfg: VGG cfg (ints and 'M').
    fc_widths: the two hidden FC widths (none with the GAP head).
    num_classes: classifier outputs.
    head: ``'fc'`` (flatten -> the FC head) or ``'gap'`` (ThiNet's VGG-GAP,
      rethinking.md §3.2: the conv stack without its last max-pool, a
      functional, uncounted average over all positions (``AvgPool2d(14)``
      at 224x224), one ``Linear(C -> num_classes)``).
    batch_norm: BN2d after every conv.
    head_bn: BN1d after the hidden Linears (slimming VGG-11); no dropout.
    bn_scale: initial gamma of every BN.
    dropout_rate: dropout after the hidden ReLUs (torchvision heads).
    axis_name: pmap axis for synchronised BatchNorm.
  """
  cfg: tuple[Any, ...]
  fc_widths: tuple[int, ...] = FC_WIDTHS
  num_classes: int = 1000
  head: str = 'fc'
  batch_norm: bool = False
  head_bn: bool = False
  bn_scale: float = 1.0
  dropout_rate: float = 0.5
  axis_name: str | None = None

  def _bn(self, name: str, count_flops: bool = True):
    return layers.BatchNorm(scale_init=layers.constant_init(self.bn_scale),
                            axis_name=self.axis_name, count_flops=count_flops,
                            name=name)

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = layers.vgg_features(
        x, self.cfg, train, axis_name=self.axis_name, conv_bias=True,
        bn_scale=self.bn_scale if self.batch_norm else None)
    linear = dict(kernel_init=layers.normal_init(0.01),
                  bias_init=layers.constant_init(0.0))
    if self.head == 'gap':
      x = jnp.mean(x, axis=(1, 2))
      return layers.Dense(self.num_classes, name='classifier', **linear)(x)
    x = _common.flatten_nchw(x)
    for k, width in enumerate(self.fc_widths, start=1):
      x = layers.Dense(width, name=f'fc{k}', **linear)(x)
      if self.head_bn:
        x = self._bn(f'fc{k}_bn', count_flops=False)(x, train)
      x = layers.relu(x)
      if not self.head_bn and self.dropout_rate > 0:
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return layers.Dense(self.num_classes, name='classifier', **linear)(x)


HEADS = ('fc', 'gap')


def _validator(default_cfg):
  def validate(widths):
    _common.check_keys(widths, ('cfg', 'fc_widths'), ('head',))
    head = widths.get('head', 'fc')
    if head not in HEADS:
      raise ValueError(f'width config: head must be one of {HEADS}, got '
                       f'{head!r}')
    if head == 'gap':  # no last max-pool, no hidden FCs (§3.2)
      _common.check_vgg_pattern(widths['cfg'], default_cfg[:-1], 'cfg')
      _common.check_int_list(widths['fc_widths'], 0, 'fc_widths')
    else:
      _common.check_vgg_pattern(widths['cfg'], default_cfg, 'cfg')
      _common.check_int_list(widths['fc_widths'], 2, 'fc_widths')
  return validate


def gap_head(widths):
  """The VGG-GAP form of a width config (ThiNet's GAP and Tiny models):
  the same conv widths without the last max-pool, no hidden FCs."""
  cfg = list(widths['cfg'])
  if widths.get('head', 'fc') == 'gap':
    return dict(widths)
  return {'cfg': cfg[:-1] if cfg[-1] == 'M' else cfg, 'fc_widths': [],
          'head': 'gap'}


HEAD_BNS = (('fc1_bn', 'fc1', 'fc2'), ('fc2_bn', 'fc2', 'classifier'))


def _head_bn_units(params):
  """Conv BNs, then the head's BN1d after each hidden Linear (slimming)."""
  return structure.vgg_units(params, HEAD_BNS)


def _compact(widths, params, batch_stats, keep):
  """Conv stack (the first Linear loses the rows of dropped channels), then
  the hidden FC widths where the head has BN1d units."""
  t = structure.TreeSlicer(params, batch_stats)
  cfg = structure.compact_vgg_stack(widths['cfg'], keep, t, params,
                                    structure.vgg_head(params))
  fc_widths = list(widths['fc_widths'])
  for k, (bn, dense, nxt) in enumerate(HEAD_BNS):
    if bn in keep:
      idx = keep[bn]
      t.slice_out(dense, idx)
      t.slice_out(bn, idx)
      t.slice_rows(nxt, idx, fc_widths[k])
      fc_widths[k] = int(idx.size)
  new = {'cfg': cfg, 'fc_widths': fc_widths}
  if 'head' in widths:
    new['head'] = widths['head']
  return (new, *t.out())


def _register(name, default_cfg, description, units_fn=None, **kwargs):
  spec_lib.register_model(spec_lib.ModelSpec(
      name=name,
      build=lambda nc, w, ax: ImageNetVGG(
          tuple(w['cfg']), tuple(w['fc_widths']), nc,
          head=w.get('head', 'fc'), axis_name=ax, **kwargs),
      default_widths=lambda nc: {'cfg': list(default_cfg),
                                 'fc_widths': list(FC_WIDTHS)},
      validate_widths=_validator(default_cfg),
      input_shape=(224, 224, 3),
      description=description,
      units_fn=units_fn,
      compact_fn=_compact if units_fn else None,
      heads={'gap': gap_head} if not kwargs.get('batch_norm') else {}))


_register('vgg16_imagenet', VGG16_CFG,
          'ImageNet VGG-16 (torchvision, no BN, dropout 0.5)',
          units_fn=structure.vgg_units_without_bn)
_register('vgg16_bn_imagenet', VGG16_CFG,
          'ImageNet VGG-16-BN (torchvision vgg16_bn)',
          units_fn=structure.vgg_units, batch_norm=True)
_register('vgg11_slim_imagenet', VGG11_CFG,
          'ImageNet VGG-11-BN (Network Slimming, BN1d head, gamma 0.5)',
          units_fn=_head_bn_units, batch_norm=True, head_bn=True,
          bn_scale=0.5)
