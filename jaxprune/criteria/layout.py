"""Channel-prunable units of the supported model families.

A *unit* is one BatchNorm whose channels a structured criterion keeps or
removes, named by its module path (``'bn3'``, ``'stage1_block4/bn1'``,
``'final_bn'``). Every channel-keep dict in :mod:`jaxprune.criteria` and
:mod:`jaxprune.surgery` maps such a BN path to the sorted kept channel
indices (``np.int64`` array) of that BN. Two kinds of unit exist:

* ``'conv'``: the BN normalises the outputs of a conv (``producer``); removing
  a channel removes that conv's output filter, the BN entries and the next
  layer's input rows (VGG convs, the first conv of a ResNet basic block,
  PreResNet bn2/bn3);
* ``'select'``: the BN sits before a Network-Slimming ``channel_selection``
  (PreResNet bn1 and final BN, every DenseNet-40 BN); removing a channel
  removes it from what the following conv / classifier consumes only.

Families (model names): ``vgg`` (digits_cnn, vgg16_l1, vgg19_slim, vgg19_wl,
vgg19_jackpot), ``resnet`` (resnet20/32/56/110, resnet32_jackpot, resnet34:
basic blocks, only each block's first conv), ``preresnet`` (preresnet164),
``densenet`` (densenet40), ``vgg_head`` (vgg11_slim_imagenet: the conv BNs
plus the BN1d after each hidden Linear, ``fc1_bn``/``fc2_bn``, whose producer
is that Linear; the ImageNet slimming threshold covers them too).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

FAMILIES = {
    'digits_cnn': 'vgg', 'vgg16_l1': 'vgg', 'vgg19_slim': 'vgg',
    'vgg19_wl': 'vgg', 'vgg19_jackpot': 'vgg',
    'resnet20': 'resnet', 'resnet32': 'resnet', 'resnet56': 'resnet',
    'resnet110': 'resnet', 'resnet32_jackpot': 'resnet', 'resnet34': 'resnet',
    'preresnet164': 'preresnet', 'densenet40': 'densenet',
    'vgg11_slim_imagenet': 'vgg_head',
}


@dataclasses.dataclass(frozen=True)
class Unit:
  """One channel-prunable BN.

  Attributes:
    bn: module path of the BN, '/'-joined.
    kind: 'conv' (prunes ``producer``'s outputs) or 'select'.
    producer: path of the conv whose outputs the BN normalises ('conv' units).
    layer_id: Rethinking's 1-based conv number of ``producer`` (L1-norm ids:
      VGG conv index + 1; ResNet block first conv 2+2b), else None.
    stage: 0-based stage of a ResNet block (None elsewhere).
  """
  bn: str
  kind: str
  producer: str | None = None
  layer_id: int | None = None
  stage: int | None = None


def family(model_name: str) -> str:
  try:
    return FAMILIES[model_name]
  except KeyError:
    raise ValueError(f'no channel-pruning layout for model {model_name!r}; '
                     f'supported: {sorted(FAMILIES)}') from None


def _blocks(params, prefix='stage'):
  """(s, b, name) for 'stage{s}_block{b}' keys, in stage/block order."""
  out = []
  for k in params:
    m = re.fullmatch(rf'{prefix}(\d+)_block(\d+)', k)
    if m:
      out.append((int(m.group(1)), int(m.group(2)), k))
  return sorted(out)


def units(model_name: str, params: Any) -> list[Unit]:
  """The prunable units of ``params`` (a model's params tree), in order."""
  fam = family(model_name)
  if fam in ('vgg', 'vgg_head'):
    ids = sorted(int(k[2:]) for k in params if re.fullmatch(r'bn\d+', k))
    convs = [Unit(f'bn{i}', 'conv', f'conv{i}', layer_id=i + 1) for i in ids]
    if fam == 'vgg':
      return convs
    return convs + [Unit(f'fc{k}_bn', 'conv', f'fc{k}') for k in (1, 2)]
  if fam == 'resnet':
    return [Unit(f'{name}/bn1', 'conv', f'{name}/conv1', layer_id=2 + 2 * g,
                 stage=s - 1)
            for g, (s, _, name) in enumerate(_blocks(params))]
  if fam == 'preresnet':
    out = []
    for _, _, name in _blocks(params):
      out += [Unit(f'{name}/bn1', 'select'),
              Unit(f'{name}/bn2', 'conv', f'{name}/conv1'),
              Unit(f'{name}/bn3', 'conv', f'{name}/conv2')]
    return out + [Unit('final_bn', 'select')]
  # densenet40: dense layers and transitions in forward order, final BN.
  out = []
  for d in range(1, 4):
    layers_ = sorted(int(m.group(1)) for k in params
                     if (m := re.fullmatch(rf'dense{d}_layer(\d+)', k)))
    out += [Unit(f'dense{d}_layer{l}/bn1', 'select') for l in layers_]
    if f'trans{d}' in params:
      out.append(Unit(f'trans{d}/bn1', 'select'))
  return out + [Unit('final_bn', 'select')]


def get_path(tree, path: str):
  node = tree
  for part in path.split('/'):
    node = node[part]
  return node


def num_channels(params, unit: Unit) -> int:
  return int(get_path(params, unit.bn)['scale'].shape[0])
