"""Pruning criteria, registry and the Scratch-B budgets."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxprune import criteria
from jaxprune import flops
from jaxprune import models
from jaxprune import scratch

M = 'M'


def _params(seed=0):
  rng = np.random.default_rng(seed)
  return {
      'conv0': {'kernel': rng.normal(size=(3, 3, 1, 4)).astype(np.float32)},
      'bn0': {'scale': rng.normal(size=4).astype(np.float32),
              'bias': np.zeros(4, np.float32)},
      'conv1': {'kernel': rng.normal(size=(3, 3, 4, 6)).astype(np.float32)},
      'bn1': {'scale': rng.normal(size=6).astype(np.float32),
              'bias': np.zeros(6, np.float32)},
      'classifier': {'kernel': rng.normal(size=(6, 10)).astype(np.float32),
                     'bias': np.zeros(10, np.float32)},
  }


def test_global_magnitude_threshold_and_structure():
  params = _params()
  masks = criteria.global_magnitude_masks(params, 0.5)
  assert jax.tree.structure(masks) == jax.tree.structure(params)
  allw = np.sort(np.concatenate([np.abs(params['conv0']['kernel']).ravel(),
                                 np.abs(params['conv1']['kernel']).ravel()]))
  thr = allw[int(allw.size * 0.5)]
  for c in ('conv0', 'conv1'):
    np.testing.assert_array_equal(
        masks[c]['kernel'], np.abs(params[c]['kernel']) > thr)
  for leaf in (masks['classifier']['kernel'], masks['bn0']['scale']):
    assert np.all(np.asarray(leaf) == 1) and leaf.dtype == jnp.float32
  assert criteria.density(masks) == pytest.approx(
      1 - (int(allw.size * 0.5) + 1) / allw.size)


def test_iterative_prunes_fraction_of_remaining():
  params = _params()
  m1 = criteria.global_magnitude_masks(params, 0.5)
  m2 = criteria.iterative_magnitude_masks(params, m1, 0.5)
  nnz1 = sum(int(np.count_nonzero(m1[c]['kernel'])) for c in ('conv0', 'conv1'))
  nnz2 = sum(int(np.count_nonzero(m2[c]['kernel'])) for c in ('conv0', 'conv1'))
  assert nnz2 == nnz1 - int(nnz1 * 0.5) - 1
  for c in ('conv0', 'conv1'):  # pruned weights stay pruned
    assert np.all(np.asarray(m2[c]['kernel'])[np.asarray(m1[c]['kernel']) == 0]
                  == 0)


def test_layerwise_and_random_unstructured():
  params = _params()
  m = criteria.layerwise_magnitude_masks(params, 0.25)
  for c in ('conv0', 'conv1'):
    n = params[c]['kernel'].size
    assert np.count_nonzero(m[c]['kernel']) == n - int(n * 0.25) - 1
  r = criteria.random_unstructured_masks(params, 0.75, seed=1)
  assert np.count_nonzero(r['conv1']['kernel']) == round(216 * 0.25)


def test_sparse_reinit_std_and_mask():
  params = {'c': {'kernel': np.zeros((3, 3, 64, 64), np.float32)}}
  masks = criteria.global_magnitude_masks(
      {'c': {'kernel': np.random.default_rng(0).normal(
          size=(3, 3, 64, 64)).astype(np.float32)}}, 0.75)
  new = criteria.sparse_he_reinit(params, masks, jax.random.key(0))
  w, m = np.asarray(new['c']['kernel']), np.asarray(masks['c']['kernel'])
  assert np.all(w[m == 0] == 0)
  n = m.sum() / 64
  assert w[m == 1].std() == pytest.approx(np.sqrt(2 / n), rel=0.05)


def test_bad_ratio_and_unknown_names():
  params = _params()
  for bad in (-0.1, 1.0, 1.5):
    with pytest.raises(ValueError, match=r'\[0, 1\)'):
      criteria.global_magnitude_masks(params, bad)
    with pytest.raises(ValueError, match=r'\[0, 1\)'):
      criteria.slimming_channel_keep(params, 'digits_cnn', bad)
  with pytest.raises(ValueError, match='known criteria: .*l1_norm'):
    criteria.get_criterion('nope')
  assert criteria.get_criterion('magnitude') is criteria.global_magnitude_masks
  p56 = _resnet_params('resnet56')
  with pytest.raises(ValueError, match='layer 17'):
    criteria.l1_filter_channel_keep(p56, 'resnet56',
                                    stage_ratios=(.1, .1, .1), skip=(16, 17))
  with pytest.raises(ValueError, match='layer 200'):
    criteria.l1_filter_channel_keep(p56, 'resnet56',
                                    stage_ratios=(.1, .1, .1), skip=(200,))
  with pytest.raises(ValueError, match=r'\[0, 1\)'):
    criteria.l1_filter_channel_keep(p56, 'resnet56', stage_ratios=(1, 0, 0))


def _resnet_params(name):
  model = models.create_model(name, 10)
  abstract = jax.eval_shape(lambda: model.init(
      jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False))
  rng = np.random.default_rng(0)
  return jax.tree.map(lambda a: rng.normal(size=a.shape).astype(np.float32),
                      abstract['params'])


def test_slimming_global_threshold_and_empty_layer_rule():
  params = _params()
  params['bn0']['scale'] = np.array([0.01, 0.02, 0.03, 0.04], np.float32)
  params['bn1']['scale'] = np.array([0.5, -0.6, 0.1, 0.05, 0.9, 0.2],
                                    np.float32)
  keep = criteria.slimming_channel_keep(params, 'digits_cnn', 0.5)
  # sorted |g| = .01 .02 .03 .04 .05 .1 .2 .5 .6 .9; thr = sorted[5] = .1
  np.testing.assert_array_equal(keep['bn1'], [0, 1, 4, 5])
  np.testing.assert_array_equal(keep['bn0'], [3])  # emptied: keep argmax
  params['bn0']['scale'] = np.full(4, 0.5, np.float32)
  params['bn1']['scale'] = np.full(6, 0.5, np.float32)
  with pytest.raises(ValueError, match='removes every channel'):
    criteria.slimming_channel_keep(params, 'digits_cnn', 0.3)


def test_bn_l1_subgradient_only_touches_scales():
  params = {'bn': {'scale': jnp.array([0.5, -2.0, 0.0]),
                   'bias': jnp.array([1.0, 1.0, 1.0])},
            'conv': {'kernel': jnp.ones((1, 1, 1, 3))}}
  grads = jax.tree.map(jnp.zeros_like, params)
  tx = criteria.bn_l1_subgradient(1e-4)
  out, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(out['bn']['scale'], [1e-4, -1e-4, 0.0])
  assert float(jnp.abs(out['bn']['bias']).sum()) == 0
  assert float(jnp.abs(out['conv']['kernel']).sum()) == 0
  chained = optax.chain(tx, optax.sgd(1.0))
  upd, _ = chained.update(grads, chained.init(params), params)
  np.testing.assert_allclose(upd['bn']['scale'], [-1e-4, 1e-4, 0.0])


def test_uniform_and_random_channel_keep():
  params = _params()
  u = criteria.uniform_channel_keep(params, 'digits_cnn', 0.5)
  assert criteria.keep_counts(u) == {'bn0': 2, 'bn1': 3}
  r = criteria.random_channel_keep(params, 'digits_cnn', 0.5, seed=3)
  assert criteria.keep_counts(r) == {'bn0': 2, 'bn1': 3}
  masks = criteria.channel_masks(params, 'digits_cnn', u)
  assert np.all(np.asarray(masks['conv1']['kernel'])[..., 3:] == 0)
  assert np.all(np.asarray(masks['conv1']['kernel'])[..., :3] == 1)
  np.testing.assert_array_equal(masks['bn1']['scale'], [1, 1, 1, 0, 0, 0])
  np.testing.assert_array_equal(masks['bn1']['bias'], [1, 1, 1, 0, 0, 0])
  assert np.all(np.asarray(masks['classifier']['kernel']) == 1)


def _flops(name, widths, shape=(32, 32, 3), nc=10):
  return flops.count(models.create_model(name, nc, widths), shape).flops


def _rn(block_widths):
  return {'stage_widths': [16, 32, 64], 'block_widths': block_widths}


def test_scratch_b_epochs_from_flops_counter():
  vgg_a = [32, 64, M, 128, 128, M, 256, 256, 256, M, 256, 256, 256, M, 256,
           256, 256]
  full = _flops('vgg16_l1', None)
  assert scratch.scratch_b_epochs(full, _flops('vgg16_l1', vgg_a)) == 243
  full = _flops('resnet56', None)
  assert scratch.scratch_b_epochs(full, _flops('resnet56', _rn(
      [[14] * 7 + [16, 14], [32] + [28] * 8, [64] + [57] * 7 + [64]]))) == 178
  assert scratch.scratch_b_epochs(full, _flops('resnet56', _rn(
      [[6] * 7 + [16, 16], [32] + [22] * 6 + [32, 22],
       [64] + [57] * 7 + [64]]))) == 220
  full = _flops('resnet110', None)
  assert scratch.scratch_b_epochs(full, _flops('resnet110', _rn(
      [[8] * 17 + [16], [32] * 18, [64] * 18]))) == 190
  assert scratch.scratch_b_epochs(full, _flops('resnet110', _rn(
      [[8] * 17 + [16], [32] + [19] * 17, [64] + [44] * 17]))) == 260
  full = _flops('resnet34', None, (224, 224, 3), 1000)
  for bw, epochs, step in (
      ([[64, 44, 44], [128, 89, 89, 128], [256] + [179] * 4 + [256],
        [512] * 3], 106, 35),
      ([[64, 32, 32], [128, 51, 51, 128], [256] + [153] * 4 + [256],
        [512] * 3], 118, 39)):
    w = {'stem_width': 64, 'stage_widths': [64, 128, 256, 512],
         'block_widths': bw}
    e, ms = scratch.scratch_b_schedule(
        full, _flops('resnet34', w, (224, 224, 3), 1000), 'imagenet')
    assert (e, ms[0]) == (epochs, step)


def test_scratch_b_rules():
  assert scratch.scratch_b_schedule(100, 50, 'cifar') == (320, [160, 240])
  assert scratch.scratch_b_schedule(100, 10, 'cifar')[0] == 1600  # no cap
  assert scratch.scratch_b_schedule(100, 40, 'imagenet') == (180, [60, 120])
  assert scratch.scratch_b_schedule(100, 50, 'imagenet') == (180, [60, 120])
  e, ms = scratch.scratch_b_schedule(150, 100, 'imagenet')
  assert (e, ms) == (135, [45, 90])
  with pytest.raises(ValueError):
    scratch.scratch_b_schedule(100, 0)
  with pytest.raises(ValueError):
    scratch.scratch_b_schedule(100, 50, 'mnist')
