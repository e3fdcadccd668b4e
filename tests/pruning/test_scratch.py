"""Scratch-B budgets from the FLOPs counter, and the sparse scratch init."""

import jax
import numpy as np
import pytest

from jaxprune import pruning
from tests.models.common import (VGG16_A, RESNET56_A, RESNET56_B, RESNET110_A,
                                 RESNET110_B, RESNET34_A, RESNET34_B, M,
                                 counts, default_counts, resnet50_2x, thinet)


def cifar_epochs(name, widths):
  r = default_counts(name, 10).flops / counts(name, widths).flops
  return int(160 * r)


def imagenet_ratio(name, widths):
  return default_counts(name, 1000).flops / counts(name, widths).flops


@pytest.mark.parametrize('name,widths,epochs', [
    ('vgg16_l1', VGG16_A, 243),
    ('resnet56', RESNET56_A, 178),
    ('resnet56', RESNET56_B, 220),
    ('resnet110', RESNET110_A, 190),
    ('resnet110', RESNET110_B, 260),
])
def test_cifar_scratch_b_epochs(name, widths, epochs):
  """rethinking.md 3.1: Scratch-B epochs int(160 * r) of the L1 models."""
  assert cifar_epochs(name, widths) == epochs


@pytest.mark.parametrize('name,widths,epochs', [
    ('resnet34', RESNET34_A, 106),
    ('resnet34', RESNET34_B, 118),
    ('resnet50_thinet', thinet([44, 89, 179, 358]), 141),  # ThiNet-70
    ('resnet50_thinet', resnet50_2x(), 134),  # ResNet-50-2x, section-6 rule
])
def test_imagenet_scratch_b_epochs_below_cap(name, widths, epochs):
  r = imagenet_ratio(name, widths)
  assert r < 2
  assert int(90 * r) == epochs


@pytest.mark.parametrize('name,widths', [
    ('resnet50_thinet', thinet([19, 38, 76, 153])),  # ThiNet-30
    ('resnet50_thinet', thinet([32, 64, 128, 256])),  # ThiNet-50
    ('vgg16_imagenet', {'cfg': [32, 32, M, 64, 64, M, 128, 128, 128, M, 256,
                                256, 256, M, 512, 512, 512, M],
                        'fc_widths': [4096, 4096]}),  # VGG-Conv
    ('vgg16_imagenet', {'cfg': [24, 22, M, 41, 51, M, 108, 89, 111, M, 184,
                                276, 228, M, 512, 512, 512, M],
                        'fc_widths': [4096, 4096]}),  # VGG-16-5x
])
def test_imagenet_scratch_b_capped(name, widths):
  """r >= 2: Scratch-B is capped at 180 epochs (README)."""
  assert imagenet_ratio(name, widths) >= 2


def test_scratch_b_rules():
  assert pruning.scratch_b_schedule(100, 50, 'cifar') == (320, [160, 240])
  assert pruning.scratch_b_schedule(100, 10, 'cifar')[0] == 1600  # no cap
  assert pruning.scratch_b_schedule(100, 40, 'imagenet') == (180, [60, 120])
  assert pruning.scratch_b_schedule(100, 50, 'imagenet') == (180, [60, 120])
  assert pruning.scratch_b_schedule(150, 100, 'imagenet') == (135, [45, 90])
  with pytest.raises(ValueError):
    pruning.scratch_b_schedule(100, 0)
  with pytest.raises(ValueError):
    pruning.scratch_b_schedule(100, 50, 'mnist')


def test_sparse_reinit_std_and_mask():
  rng = np.random.default_rng(0)
  kernel = rng.normal(size=(3, 3, 64, 64)).astype(np.float32)
  masks = pruning.get_criterion('magnitude')(
      {'params': {'c': {'kernel': kernel}}, 'batch_stats': {}}, None,
      0.75).masks
  new = pruning.sparse_he_reinit({'c': {'kernel': np.zeros_like(kernel)},
                                  'b': {'bias': np.ones(3, np.float32)}},
                                 {**masks, 'b': {'bias': np.ones(3)}},
                                 jax.random.key(0))
  w, m = np.asarray(new['c']['kernel']), np.asarray(masks['c']['kernel'])
  assert np.all(w[m == 0] == 0)
  n = m.sum() / 64
  assert w[m == 1].std() == pytest.approx(np.sqrt(2 / n), rel=0.05)
  np.testing.assert_array_equal(new['b']['bias'], 1)  # other leaves kept
