"""Params and FLOPs under the paper's convention (rethinking.md §4, §6, §7)."""

import pytest

from jaxprune.models import create_model, default_widths
from jaxprune.models import preresnet
from tests.models.common import (M, VGG16_A, RESNET56_A, RESNET56_B, RESNET110_B,
                                 abstract_vars, counts, default_counts)

REFERENCE = [
    # section 7
    ('vgg16_l1', 10, 14_987_722, 627_880_970),
    ('vgg19_slim', 10, 20_035_018, 797_304_842),
    ('vgg19_slim', 100, 20_081_188, 797_397_092),
    ('resnet20', 10, 269_722, 81_671_434),
    ('resnet32', 10, 464_154, 138_638_602),
    ('resnet56', 10, 853_018, 252_572_938),
    ('resnet110', 10, 1_727_962, 508_925_194),
    ('preresnet164', 10, 1_703_258, 504_759_306),
    ('densenet40', 10, 1_059_298, 573_052_330),
    ('resnet34', 1000, 21_797_672, 7_340_393_960),
    ('resnet50_thinet', 1000, 25_560_872, 8_213_618_152),
    ('resnet50', 1000, 25_557_032, 8_212_112_872),
    ('vgg16_imagenet', 1000, 138_357_544, 30_973_762_536),
    # section 4
    ('vgg19_wl', 10, 20_040_522, 797_607_946),
    ('preresnet110', 10, 1_146_842, 341_230_602),
    ('vgg11_slim_imagenet', 1000, 132_885_224, 15_254_023_144),
    ('densenet_bc100', 10, 769_162, None),
]



@pytest.mark.parametrize('name,num_classes,params,model_flops', REFERENCE)
def test_reference_counts(name, num_classes, params, model_flops):
  c = default_counts(name, num_classes)
  assert c.params == params
  if model_flops is not None:
    assert c.flops == model_flops



def test_preresnet164_selection_entries():
  # section 4: "+8,080 selection-index entries if counted as parameters".
  assert sum(preresnet.input_widths(18)) == 8_080



def _cifar_resnet_params(widths, num_classes=10):
  stages, blocks = widths['stage_widths'], widths['block_widths']
  cin = stages[0]
  total = 27 * cin + 2 * cin
  for out, stage in zip(stages, blocks):
    for w in stage:
      total += 9 * cin * w + 2 * w + 9 * w * out + 2 * out
      cin = out
  return total + cin * num_classes + num_classes



def _vgg_l1_params(cfg, num_classes=10):
  total, cin = 0, 3
  for v in cfg:
    if v != M:
      total += 9 * cin * v + 2 * v
      cin = v
  return total + cin * 512 + 512 + 2 * 512 + 512 * num_classes + num_classes



@pytest.mark.parametrize('name,widths', [
    ('resnet56', RESNET56_A), ('resnet56', RESNET56_B),
    ('resnet110', RESNET110_B), ('resnet20', default_widths('resnet20')),
])
def test_pruned_cifar_resnet_params(name, widths):
  assert counts(name, widths).params == _cifar_resnet_params(widths)



def test_pruned_vgg16_a_params():
  assert counts('vgg16_l1', VGG16_A).params == _vgg_l1_params(VGG16_A)
  assert _vgg_l1_params(VGG16_A) < 14_987_722
  assert _vgg_l1_params(default_widths('vgg16_l1')) == 14_987_722



def test_preresnet_selection_counts():
  """A BN before a selection counts its full input; ReLU/conv the selected."""
  base = default_counts('preresnet164', 10)
  widths = default_widths('preresnet164')
  widths['cfg'][3] = 40  # block 1 (input 64) keeps 40 channels for conv1
  pruned = counts('preresnet164', widths)
  assert base.params - pruned.params == 24 * 16
  assert base.flops - pruned.flops == 2 * 24 * 16 * 32 * 32 + 24 * 32 * 32
  sels = [None] * 55
  sels[1] = list(range(64))[::-1][:40]  # arbitrary kept channels
  with_sel = counts('preresnet164', dict(widths, selections=sels))
  assert (with_sel.params, with_sel.flops) == (pruned.params, pruned.flops)
  model = create_model('preresnet164', 10, dict(widths, selections=sels))
  params = abstract_vars(model, (32, 32, 3))['params']
  assert params['stage1_block1']['conv1']['kernel'].shape == (1, 1, 40, 16)
  assert params['stage1_block1']['bn1']['scale'].shape == (64,)



def test_densenet40_selection_counts():
  base = default_counts('densenet40', 10)
  widths = default_widths('densenet40')
  widths['cfg'][1] = 30  # dense1_layer1 reads 30 of its 36 input channels
  pruned = counts('densenet40', widths)
  assert base.params - pruned.params == 6 * 9 * 12
  assert base.flops - pruned.flops == 2 * 9 * 6 * 12 * 32 * 32 + 6 * 32 * 32
  widths['cfg'][-1] = 400  # classifier input
  assert counts('densenet40', widths).params == (
      pruned.params - 56 * 10)



def test_densenet_bc100_pruned_widths():
  widths = default_widths('densenet_bc100')
  assert widths['transition_widths'] == [108, 150]
  base = default_counts('densenet_bc100', 10)
  widths['bottleneck_widths'][0][0] = 40  # 48 -> 40
  pruned = counts('densenet_bc100', widths)
  # conv1 (24 -> w), bn2 (2w), conv2 (9*w*12)
  assert base.params - pruned.params == 8 * (24 + 2 + 9 * 12)



def test_vgg11_slim_hidden_fc_widths():
  base = default_counts('vgg11_slim_imagenet', 1000)
  widths = default_widths('vgg11_slim_imagenet')
  widths['fc_widths'] = [2048, 4096]
  pruned = counts('vgg11_slim_imagenet', widths)
  # fc1 columns + bias + BN1d gamma/beta, and fc2 rows
  assert base.params - pruned.params == 2048 * (512 * 49 + 1 + 2 + 4096)
  assert base.flops - pruned.flops == 2048 * (2 * 512 * 49 + 1 + 2 * 4096 +
                                              1)

