"""Physical channel pruning == the mask implementation, for every
channel-prunable model (each model file's ``compact_fn``)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import flops
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import pruning
from tests.models.common import M

# (model, small full width config, input shape); widths are scaled down so the
# test is cheap, the family structure is the real one.
CASES = [
    ('digits_cnn', [8, 8, M, 16, 16], (8, 8, 1)),
    ('vgg16_l1', [8, 8, M, 8, 16, M, 16, 16, 16, M, 16, 16, 16, M, 16, 8, 16],
     (32, 32, 3)),
    ('vgg19_slim', [8, 8, M, 8, 8, M, 8, 8, 8, 8, M, 8, 8, 8, 8, M, 8, 8, 8,
                    16], (32, 32, 3)),
    ('vgg19_wl', [8, 8, M, 8, 8, M, 8, 8, 8, 8, M, 8, 8, 8, 8, M, 8, 8, 8,
                  16], (32, 32, 3)),
    ('resnet20', {'stage_widths': [8, 16, 16],
                  'block_widths': [[8] * 3, [16] * 3, [16] * 3]}, (8, 8, 3)),
    ('resnet34', {'stem_width': 8, 'stage_widths': [8, 8, 16, 16],
                  'block_widths': [[8] * 3, [8] * 4, [16] * 6, [16] * 3]},
     (224, 224, 3)),
    ('vgg11_slim_imagenet', {'cfg': [8, M, 8, M, 8, 16, M, 16, 8, M, 8, 16,
                                      M], 'fc_widths': [16, 12]},
     (224, 224, 3)),
    ('vgg16_bn_imagenet', {'cfg': [4, 4, M, 4, 8, M, 8, 8, 4, M, 8, 4, 8, M,
                                   4, 8, 4, M], 'fc_widths': [16, 12]},
     (224, 224, 3)),
    ('resnet50', {'stem_width': 8, 'stage_widths': [16, 16, 32, 32],
                  'block_widths': [[[4, 4]] * 3, [[8, 4]] * 4, [[8, 8]] * 6,
                                   [[4, 8]] * 3], 'selections': None},
     (224, 224, 3)),
    ('resnet50_thinet', {'stem_width': 8, 'stage_widths': [16, 16, 32, 32],
                         'block_widths': [[[4, 4]] * 3, [[8, 4]] * 4,
                                          [[8, 8]] * 6, [[4, 8]] * 3],
                         'selections': None}, (224, 224, 3)),
    ('vgg16_imagenet', {'cfg': [4, 4, M, 4, 8, M, 8, 8, 4, M, 8, 4, 8, M,
                                4, 8, 4, M], 'fc_widths': [16, 12]},
     (224, 224, 3)),
    ('vgg16_imagenet', {'cfg': [4, 4, M, 4, 8, M, 8, 8, 4, M, 8, 4, 8, M,
                                4, 8, 4], 'fc_widths': [], 'head': 'gap'},
     (224, 224, 3)),  # ThiNet's VGG-GAP head
    ('preresnet164', None, (8, 8, 3)),
    ('densenet40', None, (8, 8, 3)),
]


def test_every_channel_prunable_model_is_covered():
  # vgg16_wl is vgg19_wl's class (CifarVGG, conv bias) at the VGG-16 cfg.
  covered = {c[0] for c in CASES} | {'resnet32', 'resnet56', 'resnet110',
                                     'resnet32_jackpot', 'vgg19_jackpot',
                                     'vgg16_wl'}
  assert covered == set(models.channel_prunable_models())


def _randomize(variables, seed):
  """He-scaled random params, random BN affine and statistics (var > 0)."""
  rng = np.random.default_rng(seed)

  def p(path, a):
    name = path[-1].key
    if name in ('scale', 'bias') and len(a.shape) == 1:
      return jnp.asarray(rng.normal(0.5 if name == 'scale' else 0.0, 0.3,
                                    a.shape), jnp.float32)
    fan_in = int(np.prod(a.shape[:-1])) if len(a.shape) > 1 else 1
    return jnp.asarray(rng.normal(size=a.shape) * np.sqrt(2.0 / fan_in),
                       jnp.float32)

  def s(path, a):
    if path[-1].key == 'mean':
      return jnp.asarray(rng.normal(0, 0.1, a.shape), jnp.float32)
    return jnp.asarray(rng.uniform(0.5, 1.5, a.shape), jnp.float32)
  return {'params': jax.tree_util.tree_map_with_path(p, variables['params']),
          'batch_stats': jax.tree_util.tree_map_with_path(
              s, variables['batch_stats'])}


def _random_keep(spec, params, seed):
  rng = np.random.default_rng(seed)
  keep = {}
  for u in spec.units(params):
    c = u.num_channels(params)
    if rng.random() < 0.8:
      keep[u.name] = np.sort(rng.permutation(c)[:int(rng.integers(1, c + 1))])
  return keep


@pytest.mark.parametrize('name,widths,shape', CASES, ids=[c[0] for c in CASES])
def test_compact_equals_masked_full_model(name, widths, shape):
  spec = models.get_spec(name).bind(10, widths, shape)
  variables = _randomize(spec.abstract_variables(), 2)
  params, stats = variables['params'], variables['batch_stats']
  keep = _random_keep(spec, params, 3)
  x = jnp.asarray(np.random.default_rng(1).normal(size=(2, *shape)),
                  jnp.float32)
  masks = pruning.channel_masks(spec, params, keep)
  full = jax.jit(functools.partial(spec.module().apply, train=False))(
      {'params': masks_lib.apply_masks(params, masks), 'batch_stats': stats},
      x)
  new_widths, new_params, new_stats = pruning.compact(spec, params, stats,
                                                      keep)
  small = spec.with_widths(new_widths)
  abstract = small.abstract_variables()
  assert jax.tree.map(np.shape, abstract['params']) == jax.tree.map(
      np.shape, new_params)
  assert jax.tree.map(np.shape, abstract['batch_stats']) == jax.tree.map(
      np.shape, new_stats)
  compact_logits = jax.jit(functools.partial(small.module().apply,
                                             train=False))(
      {'params': new_params, 'batch_stats': new_stats}, x)
  np.testing.assert_allclose(compact_logits, full, atol=1e-5, rtol=1e-5)
  counts = flops.count(small.module(), shape)
  assert counts.params == sum(np.size(v) for v in jax.tree.leaves(new_params))
  assert counts.flops < flops.count(spec.module(), shape).flops
  for u in spec.units(params):
    if u.name in keep and u.kind == 'conv':
      assert u.num_channels(new_params) == len(keep[u.name])
  # The keep of a mask implementation round-trips.
  again = pruning.keep_from_masks(spec, params, masks)
  assert all(np.array_equal(again[k], np.unique(keep[k])) for k in again)


def test_selections_compose():
  spec = models.get_spec('densenet40').bind(10, None, (8, 8, 3))
  variables = _randomize(spec.abstract_variables(), 0)
  first = {'dense1_layer3/bn1': np.arange(0, 60, 2)}
  w1, p1, s1 = pruning.compact(spec, variables['params'],
                               variables['batch_stats'], first)
  assert w1['selections'][3] == list(range(0, 60, 2))
  second = {'dense1_layer3/bn1': np.arange(0, 60, 4)}
  w2, _, _ = pruning.compact(spec.with_widths(w1), p1, s1, second)
  assert w2['selections'][3] == list(range(0, 60, 4))


@pytest.mark.parametrize('keep, match', [
    ({'bn9': [0]}, "'bn9'"), ({'bn0': []}, 'keeps no channel'),
    ({'bn0': [8]}, r'in \[0, 8\)')])
def test_bad_keeps_are_named(keep, match):
  spec = models.get_spec('digits_cnn').bind(10, [8, 8, M, 16, 16])
  variables = spec.abstract_variables()
  with pytest.raises(ValueError, match=match):
    pruning.compact(spec, variables['params'], variables['batch_stats'], keep)


def test_models_without_units_refuse_surgery():
  spec = models.get_spec('preresnet110').bind(10)
  with pytest.raises(ValueError, match='channel surgery cannot run'):
    pruning.compact(spec, {}, {}, {})
