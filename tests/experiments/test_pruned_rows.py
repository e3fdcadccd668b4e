"""Tables 2 and 3 (rethinking.md §3.2-3.3, §8.2-8.3): each row's target
gives the paper's architecture, whose params and FLOPs the core counter
computes as hand-derived from the §6 convention, with the reference's
Scratch-B epochs."""

import numpy as np
import pytest

from experiments.configs import paper
from experiments.configs import rethinking as rows
from jaxprune import flops
from jaxprune import models
from jaxprune import pruning
from jaxprune.studies import context
from jaxprune.studies import prune_config
from tests.models.common import M

CONV1_4 = [32, 32, M, 64, 64, M, 128, 128, 128, M, 256, 256, 256, M]
PAPER_VGG = {  # rethinking.md §3.2-3.3
    'vgg_conv': ({'cfg': CONV1_4 + [512, 512, 512, M],
                  'fc_widths': [4096, 4096]}),
    'vgg_gap': ({'cfg': CONV1_4 + [512, 512, 512], 'fc_widths': [],
                 'head': 'gap'}),
    'vgg_tiny': ({'cfg': [16, 16, M, 32, 32, M, 64, 64, 64, M, 128, 128, 128,
                          M, 128, 128, 256], 'fc_widths': [], 'head': 'gap'}),
    'vgg16_5x': ({'cfg': paper.VGG16_5X_CFG, 'fc_widths': [4096, 4096]}),
}
THINET_PLANES = {'thinet_30': [19, 38, 76, 153], 'thinet_50': [32, 64, 128, 256],
                 'thinet_70': [44, 89, 179, 358]}


def vgg_counts(widths, hw=224, classes=1000):
  """§6 by hand: conv (2*9*C_in + 1)*C_out*H*W, ReLU numel, counted 2x2
  pools 4*numel(out), Linear 2W + b; the GAP head's average pool is
  functional (uncounted)."""
  params = flops_ = 0
  c, h = 3, hw
  cfg = widths['cfg']
  for v in cfg:
    if v == M:
      h //= 2
      flops_ += 4 * c * h * h
      continue
    params += 9 * c * v + v
    flops_ += (2 * 9 * c + 1) * v * h * h + v * h * h
    c = v
  d = c if widths.get('head') == 'gap' else c * 7 * 7
  for w in widths['fc_widths'] + [classes]:
    params += d * w + w
    flops_ += 2 * d * w + w + (w if w != classes else 0)  # + ReLU
    d = w
  return params, flops_


def resnet50_counts(blocks, downsample_bias=True, hw=224, classes=1000):
  """§6 by hand for a bottleneck ResNet-50: ``blocks`` lists per block
  ``(kept inputs, c1, c2)``; BN 2*numel, ReLU numel per call, the stem's
  3x3 max-pool and the final 7x7 average pool are counted modules."""
  h = hw // 2
  params = 49 * 3 * 64 + 2 * 64
  flops_ = 2 * 49 * 3 * 64 * h * h + 2 * 64 * h * h + 64 * h * h
  h //= 2
  flops_ += 9 * 64 * h * h
  c_in, j = 64, 0
  for s, (planes, n) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
    out = 4 * planes
    for b in range(n):
      k, c1, c2 = blocks[j]
      stride = 2 if s > 0 and b == 0 else 1
      h_out = h // stride
      params += k * c1 + 2 * c1 + 9 * c1 * c2 + 2 * c2 + c2 * out + 2 * out
      flops_ += (2 * k * c1 + 3 * c1) * h * h
      flops_ += (2 * 9 * c1 * c2 + 3 * c2) * h_out * h_out
      flops_ += (2 * c2 * out + 2 * out + out) * h_out * h_out  # + last ReLU
      if b == 0:  # the downsample conv (+ bias) and its BN
        bias = 1 if downsample_bias else 0
        params += c_in * out + bias * out + 2 * out
        flops_ += ((2 * c_in + bias) * out + 2 * out) * h_out * h_out
      c_in, h, j = out, h_out, j + 1
  flops_ += 49 * c_in
  params += c_in * classes + classes
  flops_ += 2 * c_in * classes + classes
  return params, flops_


def _counts(name, widths):
  spec = models.get_spec(name).bind(1000, widths)
  c = flops.count(spec.module(), (224, 224, 3))
  return c.params, c.flops


def test_the_hand_formulas_give_the_reference_unpruned_counts():
  # rethinking.md §7.
  assert vgg_counts({'cfg': [64, 64, M, 128, 128, M, 256, 256, 256, M, 512,
                             512, 512, M, 512, 512, 512, M],
                     'fc_widths': [4096, 4096]}) == (138357544, 30973762536)
  blocks, c_in = [], 64
  for planes, n in zip((64, 128, 256, 512), (3, 4, 6, 3)):
    for _ in range(n):
      blocks.append((c_in, planes, planes))
      c_in = 4 * planes
  assert resnet50_counts(blocks) == (25560872, 8213618152)
  assert resnet50_counts(blocks, False) == (25557032, 8212112872)


def _row_widths(row):
  """The pruned width config a row's target gives on the unpruned model
  (kept counts per unit, channels taken in order; criteria choose which)."""
  config = rows.get_config(row)
  spec = models.get_spec(config.model.name).bind(1000)
  ctx = type('Ctx', (), {'config': config, 'spec': spec})()
  params = spec.abstract_variables()['params']
  target = prune_config.resolve_target(ctx, params)
  kept = {u.name: u.num_channels(params) - target.get(u.name, 0)
          for u in spec.units(params)}
  return spec, kept, config


@pytest.mark.parametrize('row', sorted(PAPER_VGG))
def test_vgg_rows_are_the_papers_models(row):
  spec, kept, config = _row_widths(row)
  widths = spec.widths
  convs = iter(kept[f'conv{i}'] for i in range(13))
  cfg = [v if v == M else next(convs) for v in widths['cfg']]
  widths = {'cfg': cfg, 'fc_widths': widths['fc_widths']}
  pruned = spec.with_widths(widths)
  if config.prune.head:
    pruned = pruned.with_head(config.prune.head)
  assert pruned.widths == PAPER_VGG[row]
  params, flops_ = _counts('vgg16_imagenet', pruned.widths)
  assert (params, flops_) == vgg_counts(PAPER_VGG[row])
  full = _counts('vgg16_imagenet', None)[1]
  epochs = pruning.scratch_b_schedule(full, flops_, 'imagenet',
                                      base_epochs=90,
                                      epochs=config.scratch.b_epochs or None)
  assert epochs[0] == paper.SCRATCH_B_EPOCHS[row]
  assert config.optim.learning_rate == 0.01
  print(row, format(params, ','), format(flops_, ','), epochs[0])


def _resnet_blocks(kept):
  return [(kept[f'{b}/input'], kept[f'{b}/bn1'], kept[f'{b}/bn2'])
          for b in paper.RESNET50_BLOCKS]


@pytest.mark.parametrize('row', ['thinet_30', 'thinet_50', 'thinet_70',
                                 'resnet50_2x'])
def test_resnet_rows_are_the_papers_models(row):
  spec, kept, config = _row_widths(row)
  blocks = _resnet_blocks(kept)
  if row == 'resnet50_2x':
    assert [list(b) for b in blocks] == paper.RESNET50_2X_CFG
  else:
    planes = THINET_PLANES[row]
    sizes = [p for p, n in zip(planes, (3, 4, 6, 3)) for _ in range(n)]
    assert [b[1:] for b in blocks] == [(p, p) for p in sizes]
    assert all(b[0] == c for b, c in zip(blocks, [64, 256, 256, 256, 512,
                                                  512, 512, 512] + [1024] * 6
                                          + [2048, 2048]))
  # The compact model the surgery builds from such a keep.
  widths = dict(spec.widths)
  widths['block_widths'] = [[list(b[1:]) for b in blocks[a:a + n]]
                            for a, n in ((0, 3), (3, 4), (7, 6), (13, 3))]
  inputs = [64, 256, 256, 256, 512, 512, 512, 512] + [1024] * 6 + [2048] * 2
  widths['selections'] = (None if all(b[0] == c for b, c in
                                      zip(blocks, inputs))
                          else [list(range(b[0])) for b in blocks])
  params, flops_ = _counts('resnet50_thinet', widths)
  assert (params, flops_) == resnet50_counts(blocks)
  full = _counts('resnet50_thinet', None)[1]
  epochs = pruning.scratch_b_schedule(full, flops_, 'imagenet',
                                      base_epochs=90,
                                      epochs=config.scratch.b_epochs or None)
  assert epochs[0] == paper.SCRATCH_B_EPOCHS[row]
  assert config.optim.learning_rate == 0.1
  if row == 'resnet50_2x':  # the README's 132; §5.3's rule gives 134
    assert pruning.scratch_b_schedule(full, flops_, 'imagenet',
                                      base_epochs=90)[0] == 134
  print(row, format(params, ','), format(flops_, ','), epochs[0])


def test_rows_show_the_published_scratch_numbers():
  for row, (e, b) in (('vgg_conv', ('68.76', '71.72')),
                      ('thinet_70', ('74.42', '75.14')),
                      ('resnet50_2x', ('71.26', '74.58'))):
    config = rows.get_config(row)
    assert (config.paper.scratch_e, config.paper.scratch_b) == (e, b)
