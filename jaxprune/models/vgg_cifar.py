"""CIFAR VGGs: the Rethinking L1-norm / slimming / weight-level models and the
Lottery-Jackpots VGG-19.

Registered names and width configs (a VGG cfg list: a positive int per
conv3x3, ``'M'`` per counted 2x2 max-pool module; the 'M' positions and the
number of convs are fixed per family, only the ints may change):

* ``vgg16_l1`` (``cifar/l1-norm-pruning/models/vgg.py``): cfg
  ``[64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512,
  512]``; conv3x3 (no bias) -> BN -> ReLU; functional AvgPool2d(2) (not
  counted) -> Linear(cfg[-1] -> 512) -> BN1d -> ReLU -> Linear(512 -> C).
  Init: conv He fan-out, BN2d gamma 0.5, Linear N(0, 0.01) bias 0, BN1d gamma
  U(0, 1) (PyTorch 0.3.1 default; it is not in the init loop).
* ``vgg19_slim`` (``cifar/network-slimming/models/vgg.py``): cfg
  ``[64, 64, M, 128, 128, M, 256 x4, M, 512 x4, M, 512 x4]``; functional
  AvgPool2d(2); one Linear(cfg[-1] -> C). Init: conv He fan-out, BN gamma 0.5,
  Linear N(0, 0.01) bias 0.
* ``vgg19_wl`` (``cifar/weight-level/models/cifar/vgg.py``): the slimming cfg
  and head, but conv bias=True (init 0), conv He **fan-in**
  N(0, sqrt(2/(9*C_in))), BN gamma 1.
* ``vgg16_wl`` (``--arch vgg16_bn`` of ``cifar/lottery-ticket/weight-level``):
  ``vgg19_wl`` with the VGG-16 cfg (no 5th pool).
* ``vgg19_jackpot`` (Lottery Jackpots ``models/vgg_cifar.py``): cfg
  ``[64, 64, M, 128, 128, M, 256 x4, M, 512 x4, M, 512 x4, M]`` (a max-pool
  after the last stage too); conv no bias -> BN -> ReLU; AvgPool2d(1) module
  (identity, counted as 1*numel); classifier = 1x1 conv with bias on a 1x1 map,
  realised as an equivalent Dense. Inits are PyTorch >= 1.0 defaults (conv and
  classifier U(+-1/sqrt(fan_in)), BN gamma 1); the weights are meant to be
  loaded from the pre-trained checkpoint.

Param paths (``params`` collection; BN running statistics live under the same
names in ``batch_stats`` as ``mean``/``var``):

* features: ``conv{i}/kernel`` (HWIO) [``conv{i}/bias`` for ``vgg19_wl``],
  ``bn{i}/scale``, ``bn{i}/bias``, with i = 0..num_convs-1 counting convs only
  (max-pools are skipped);
* L1 head: ``fc1/kernel`` (cfg[-1], 512), ``fc1/bias``, ``fc1_bn/scale``,
  ``fc1_bn/bias``, then ``classifier/kernel`` (512, C), ``classifier/bias``;
* other heads: ``classifier/kernel`` (cfg[-1], C), ``classifier/bias``.

Channel units: ``bn{i}`` for every conv (Rethinking layer id i + 1); the L1
head's ``fc1_bn`` is not pruned. ``vgg19_jackpot`` imports the official
PyTorch checkpoints (:func:`jackpot_torch_name`).
"""

from __future__ import annotations

import re
from typing import Any

import flax.linen as nn

from jaxprune.models import _common
from jaxprune.models import layers
from jaxprune.models import spec as spec_lib
from jaxprune.models import structure

M = 'M'
VGG16_CFG = (64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M,
             512, 512, 512)
VGG19_CFG = (64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512,
             512, M, 512, 512, 512, 512)
VGG19_JACKPOT_CFG = VGG19_CFG + (M,)


class CifarVGG(nn.Module):
  """Rethinking CIFAR VGG (L1-norm, slimming or weight-level variant).

  Attributes:
    cfg: VGG cfg (ints and 'M').
    num_classes: classifier outputs.
    head: 'l1' (Linear-BN1d-ReLU-Linear, hidden ``hidden_width``) or
      'linear' (one Linear).
    conv_bias: conv layers have a bias (weight-level variant).
    fan_in_init: He init with fan-in instead of fan-out (weight-level).
    bn_scale: initial BN2d gamma.
    hidden_width: hidden width of the L1 head.
    axis_name: pmap axis for synchronised BatchNorm.
  """
  cfg: tuple[Any, ...]
  num_classes: int = 10
  head: str = 'linear'
  conv_bias: bool = False
  fan_in_init: bool = False
  bn_scale: float = 0.5
  hidden_width: int = 512
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    kernel_init = (layers.he_normal_fan_in if self.fan_in_init
                   else layers.he_normal_fan_out)
    x = layers.vgg_features(x, self.cfg, train, axis_name=self.axis_name,
                            kernel_init=kernel_init, conv_bias=self.conv_bias,
                            bn_scale=self.bn_scale)
    x = layers.avg_pool(x, 2, counted=False)  # nn.AvgPool2d(2)(x) in forward
    x = _common.flatten_nchw(x)
    linear = dict(kernel_init=layers.normal_init(0.01),
                  bias_init=layers.constant_init(0.0))
    if self.head == 'l1':
      x = layers.Dense(self.hidden_width, name='fc1', **linear)(x)
      x = layers.BatchNorm(scale_init=layers.uniform01_init,
                           axis_name=self.axis_name, count_flops=False,
                           name='fc1_bn')(x, train)
      x = layers.relu(x)
    elif self.head != 'linear':
      raise ValueError(f'unknown head {self.head!r}')
    return layers.Dense(self.num_classes, name='classifier', **linear)(x)


class JackpotVGG(nn.Module):
  """Lottery-Jackpots CIFAR VGG (``models/vgg_cifar.py``)."""
  cfg: tuple[Any, ...]
  num_classes: int = 10
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = layers.vgg_features(x, self.cfg, train, axis_name=self.axis_name,
                            kernel_init=_common.torch_default_conv_init)
    x = layers.avg_pool(x, 1)  # nn.AvgPool2d(kernel_size=1): a counted module
    # 1x1-conv classifier with bias on the (1x1) map == Dense on the flattened
    # features; Dense's default init is the conv default U(+-1/sqrt(C_in)).
    x = _common.flatten_nchw(x)
    return layers.Dense(self.num_classes, name='classifier')(x)


def _validator(default):
  def validate(widths):
    _common.check_vgg_pattern(widths, default)
  return validate


def _compactor(head: str):
  """Channel surgery of the conv stack; after the last conv the input rows
  of ``head`` (``fc1`` for the L1 head, else ``classifier``)."""
  def compact(widths, params, batch_stats, keep):
    t = structure.TreeSlicer(params, batch_stats)
    cfg = structure.compact_vgg_stack(widths, keep, t, params, head)
    return (cfg, *t.out())
  return compact


def feature_index(cfg) -> list[int]:
  """Index in PyTorch's ``features`` Sequential of each conv (its BN is the
  next index): 3 modules (conv, BN, ReLU) per conv and 1 per max-pool."""
  idx, out = 0, []
  for v in cfg:
    if v == 'M':
      idx += 1
    else:
      out.append(idx)
      idx += 3
  return out


def jackpot_torch_name(path, widths) -> str:
  """Official module names of ``models/vgg_cifar.py`` (Lottery Jackpots):
  ``features.{k}`` for ``conv{i}``/``bn{i}``, ``classifier`` (a 1x1 conv)."""
  top = path[0]
  if top == 'classifier':
    return 'classifier'
  m = re.fullmatch(r'(conv|bn)(\d+)', top)
  if m is None or len(path) != 1:
    raise ValueError(f'unexpected VGG module {"/".join(path)}')
  idx = feature_index(widths)[int(m.group(2))]
  return f'features.{idx + (m.group(1) == "bn")}'


def _register(name, default, build, description, head='classifier',
              torch_name_fn=None):
  spec_lib.register_model(spec_lib.ModelSpec(
      name=name,
      build=build,
      default_widths=lambda nc, d=default: list(d),
      validate_widths=_validator(default),
      input_shape=(32, 32, 3),
      description=description,
      units_fn=structure.vgg_units,
      compact_fn=_compactor(head),
      torch_name_fn=torch_name_fn))


_register('vgg16_l1', VGG16_CFG,
          lambda nc, w, ax: CifarVGG(tuple(w), nc, head='l1', bn_scale=0.5,
                                     axis_name=ax),
          'CIFAR VGG-16 with the L1-norm head (Linear-BN1d-ReLU-Linear)',
          head='fc1')
_register('vgg19_slim', VGG19_CFG,
          lambda nc, w, ax: CifarVGG(tuple(w), nc, head='linear',
                                     bn_scale=0.5, axis_name=ax),
          'CIFAR VGG-19 (Network Slimming), single Linear head')
_register('vgg19_wl', VGG19_CFG,
          lambda nc, w, ax: CifarVGG(tuple(w), nc, head='linear',
                                     conv_bias=True, fan_in_init=True,
                                     bn_scale=1.0, axis_name=ax),
          'CIFAR VGG-19-BN (weight-level): conv bias, fan-in He init')
_register('vgg16_wl', VGG16_CFG,
          lambda nc, w, ax: CifarVGG(tuple(w), nc, head='linear',
                                     conv_bias=True, fan_in_init=True,
                                     bn_scale=1.0, axis_name=ax),
          'CIFAR VGG-16-BN (weight-level lottery-ticket runs): conv bias, '
          'fan-in He init')
_register('vgg19_jackpot', VGG19_JACKPOT_CFG,
          lambda nc, w, ax: JackpotVGG(tuple(w), nc, axis_name=ax),
          'Lottery-Jackpots CIFAR VGG-19 (5 max-pools, 1x1-conv classifier)',
          torch_name_fn=jackpot_torch_name)
