"""Physical channel pruning == the mask implementation, per model family."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import criteria
from jaxprune import flops
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import surgery

M = 'M'

# (model, small full width config, input shape); widths are scaled down so the
# test is cheap, the family structure is the real one.
CASES = [
    ('digits_cnn', [8, 8, M, 16, 16], (8, 8, 1)),
    ('vgg16_l1', [8, 8, M, 8, 16, M, 16, 16, 16, M, 16, 16, 16, M, 16, 8, 16],
     (32, 32, 3)),
    ('vgg19_slim', [8, 8, M, 8, 8, M, 8, 8, 8, 8, M, 8, 8, 8, 8, M, 8, 8, 8,
                    16], (32, 32, 3)),
    ('resnet20', {'stage_widths': [8, 16, 16],
                  'block_widths': [[8] * 3, [16] * 3, [16] * 3]}, (8, 8, 3)),
    ('resnet34', {'stem_width': 8, 'stage_widths': [8, 8, 16, 16],
                  'block_widths': [[8] * 3, [8] * 4, [16] * 6, [16] * 3]},
     (224, 224, 3)),
    ('vgg11_slim_imagenet', {'cfg': [8, M, 8, M, 8, 16, M, 16, 8, M, 8, 16,
                                      M], 'fc_widths': [16, 12]},
     (224, 224, 3)),
    ('preresnet164', None, (8, 8, 3)),
    ('densenet40', None, (8, 8, 3)),
]


def _randomize(params, batch_stats, seed):
  """Random BN scale/bias/mean/var (valid: var > 0) and small random stats."""
  rng = np.random.default_rng(seed)

  def p(path, x):
    name = path[-1].key
    if name in ('scale', 'bias') and x.ndim == 1:
      return jnp.asarray(rng.normal(0.5 if name == 'scale' else 0.0, 0.3,
                                    x.shape), jnp.float32)
    return x

  def s(path, x):
    if path[-1].key == 'mean':
      return jnp.asarray(rng.normal(0, 0.1, x.shape), jnp.float32)
    return jnp.asarray(rng.uniform(0.5, 1.5, x.shape), jnp.float32)
  return (jax.tree_util.tree_map_with_path(p, params),
          jax.tree_util.tree_map_with_path(s, batch_stats))


def _he_variables(model, shape, seed=0):
  """He-scaled random params from eval_shape (no eager init: deep models
  would run op by op)."""
  abstract = jax.eval_shape(lambda: model.init(
      jax.random.key(0), jnp.zeros((1, *shape)), train=False))
  rng = np.random.default_rng(seed)

  def one(a):
    fan_in = int(np.prod(a.shape[:-1])) if len(a.shape) > 1 else 1
    return jnp.asarray(rng.normal(size=a.shape) * np.sqrt(2.0 / fan_in),
                       jnp.float32)
  return jax.tree.map(one, abstract)


def _random_keep(model_name, params, seed):
  rng = np.random.default_rng(seed)
  keep = {}
  for u in criteria.units(model_name, params):
    c = criteria.layout.num_channels(params, u)
    k = int(rng.integers(1, c + 1))
    if rng.random() < 0.8:
      keep[u.bn] = np.sort(rng.permutation(c)[:k])
  return keep


@pytest.mark.parametrize('name,widths,shape', CASES,
                         ids=[c[0] for c in CASES])
def test_compact_equals_masked_full_model(name, widths, shape):
  widths = widths or models.default_widths(name, 10)
  model = models.create_model(name, 10, widths)
  x = jnp.asarray(np.random.default_rng(1).normal(size=(2, *shape)),
                  jnp.float32)
  variables = _he_variables(model, shape)
  params, stats = _randomize(variables['params'], variables['batch_stats'], 2)
  keep = _random_keep(name, params, 3)
  masks = criteria.channel_masks(params, name, keep)
  masked = masks_lib.apply_masks(params, masks)
  full_logits = jax.jit(functools.partial(model.apply, train=False))(
      {'params': masked, 'batch_stats': stats}, x)
  new_widths, new_params, new_stats = surgery.compact(name, widths, params,
                                                      stats, keep)
  small = models.create_model(name, 10, new_widths)
  # The sliced trees have exactly the compact model's shapes.
  abstract = jax.eval_shape(lambda: small.init(jax.random.key(0), x,
                                               train=False))
  assert jax.tree.map(np.shape, abstract['params']) == jax.tree.map(
      np.shape, new_params)
  assert jax.tree.map(np.shape, abstract['batch_stats']) == jax.tree.map(
      np.shape, new_stats)
  small_logits = jax.jit(functools.partial(small.apply, train=False))(
      {'params': new_params, 'batch_stats': new_stats}, x)
  np.testing.assert_allclose(small_logits, full_logits, atol=1e-5, rtol=1e-5)
  counts = flops.count(small, shape)
  assert counts.params == sum(np.size(v) for v in jax.tree.leaves(new_params))
  assert counts.flops < flops.count(model, shape).flops
  # The keep dict's sizes are the new widths.
  for u in criteria.units(name, params):
    if u.bn in keep and u.kind == 'conv':
      assert np.shape(criteria.layout.get_path(new_params, u.bn)['scale']) \
          == (len(keep[u.bn]),)


def _random_params(name, num_classes, shape, seed=0):
  """Random numpy params of the unpruned model (shapes via eval_shape)."""
  model = models.create_model(name, num_classes)
  abstract = jax.eval_shape(lambda: model.init(
      jax.random.key(0), jnp.zeros((1, *shape)), train=False))
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda a: rng.normal(size=a.shape).astype(np.float32),
                      abstract['params']), abstract


EXPECTED_L1 = {
    'resnet56_a': [[14] * 7 + [16, 14], [32] + [28] * 8,
                   [64] + [57] * 7 + [64]],
    'resnet56_b': [[6] * 7 + [16, 16], [32] + [22] * 6 + [32, 22],
                   [64] + [57] * 7 + [64]],
    'resnet110_a': [[8] * 17 + [16], [32] * 18, [64] * 18],
    'resnet110_b': [[8] * 17 + [16], [32] + [19] * 17, [64] + [44] * 17],
    'resnet34_a': [[64, 44, 44], [128, 89, 89, 128], [256] + [179] * 4 + [256],
                   [512] * 3],
    'resnet34_b': [[64, 32, 32], [128, 51, 51, 128], [256] + [153] * 4 + [256],
                   [512] * 3],
}


@pytest.mark.parametrize('target', sorted(EXPECTED_L1))
def test_l1_targets_give_paper_widths(target):
  name = criteria.L1_TARGETS[target]['model']
  shape = (224, 224, 3) if name == 'resnet34' else (32, 32, 3)
  params, abstract = _random_params(name, 10, shape)
  keep = criteria.l1_target_keep(params, target)
  widths = models.default_widths(name, 10)
  stats = jax.tree.map(lambda a: np.zeros(a.shape, np.float32),
                       abstract['batch_stats'])
  new_widths, new_params, _ = surgery.compact(name, widths, params, stats,
                                              keep)
  assert new_widths['block_widths'] == EXPECTED_L1[target]
  small = models.create_model(name, 10, new_widths)
  assert flops.count(small, shape).params == sum(
      np.size(v) for v in jax.tree.leaves(new_params))


def test_vgg16_a_widths_and_largest_l1_filters_kept():
  params, abstract = _random_params('vgg16_l1', 10, (32, 32, 3))
  keep = criteria.l1_target_keep(params, 'vgg16_a')
  stats = jax.tree.map(lambda a: np.zeros(a.shape, np.float32),
                       abstract['batch_stats'])
  new_widths, _, _ = surgery.compact(
      'vgg16_l1', models.default_widths('vgg16_l1'), params, stats, keep)
  assert new_widths == [32, 64, M, 128, 128, M, 256, 256, 256, M, 256, 256,
                        256, M, 256, 256, 256]
  scores = criteria.l1_filter_scores(params['conv0']['kernel'])
  kept = keep['bn0']
  dropped = np.setdiff1d(np.arange(64), kept)
  assert scores[kept].min() >= scores[dropped].max()


def test_vgg11_slimming_threshold_covers_head_bn1d():
  widths = {'cfg': [8, M, 8, M, 8, 8, M, 8, 8, M, 8, 8, M],
            'fc_widths': [16, 16]}
  model = models.create_model('vgg11_slim_imagenet', 10, widths)
  variables = _he_variables(model, (224, 224, 3))
  params, stats = _randomize(variables['params'], variables['batch_stats'], 4)
  keep = criteria.slimming_channel_keep(params, 'vgg11_slim_imagenet', 0.5)
  assert {'fc1_bn', 'fc2_bn'} <= set(keep)
  new_widths, _, _ = surgery.compact('vgg11_slim_imagenet', widths, params,
                                     stats, keep)
  assert new_widths['fc_widths'] == [len(keep['fc1_bn']), len(keep['fc2_bn'])]
  kept = sum(len(v) for v in keep.values())
  assert kept < (8 * 8 + 32) and kept > 0
