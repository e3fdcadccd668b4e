"""ThiNet and regression channel pruning (rethinking.md §3.2-3.3): what they
remove, how well they reconstruct, and their least squares."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from jaxprune import models
from jaxprune import pruning
from jaxprune.pruning import activations
from jaxprune.pruning import reconstruction
from jaxprune.pruning import regression
from jaxprune.pruning import thinet
from tests.models.common import M

DATA_DRIVEN = ('thinet', 'regression')


def _variables(spec, seed=0):
  """He-scaled random params, BN statistics near the identity."""
  rng = np.random.default_rng(seed)
  abstract = spec.abstract_variables()

  def p(path, a):
    name = path[-1].key
    if name == 'scale':
      return rng.uniform(0.5, 1.5, a.shape).astype(np.float32)
    if name == 'bias':
      return rng.normal(0, 0.1, a.shape).astype(np.float32)
    fan_in = int(np.prod(a.shape[:-1]))
    return (rng.normal(size=a.shape) * np.sqrt(2 / fan_in)).astype(np.float32)

  def s(path, a):
    return (np.zeros(a.shape, np.float32) if path[-1].key == 'mean'
            else np.ones(a.shape, np.float32))
  return {'params': jax.tree_util.tree_map_with_path(p, abstract['params']),
          'batch_stats': jax.tree_util.tree_map_with_path(
              s, abstract['batch_stats'])}


def _batch(n, shape, seed=1):
  rng = np.random.default_rng(seed)
  return {'image': rng.normal(size=(n, *shape)).astype(np.float32),
          'label': np.zeros(n, np.int32)}


@pytest.mark.parametrize('criterion', DATA_DRIVEN)
def test_channels_that_contribute_nothing_are_exactly_the_ones_removed(
    criterion):
  spec = models.get_spec('digits_cnn').bind(10, [8, 8, M, 16, 16])
  variables = _variables(spec)
  dead = [1, 4, 6]  # bn1's channels that conv2 ignores
  kernel = np.array(variables['params']['conv2']['kernel'])
  kernel[:, :, dead, :] = 0.0
  variables['params']['conv2']['kernel'] = kernel
  result = pruning.get_criterion(criterion)(
      variables, spec, {'bn1': len(dead)}, batch=_batch(64, (8, 8, 1)),
      rng=jax.random.key(0))
  np.testing.assert_array_equal(result.keep['bn1'],
                                [0, 2, 3, 5, 7])
  # Nothing else pruned, and the rewritten weights reconstruct exactly.
  assert len(result.keep['bn0']) == 8 and len(result.keep['bn2']) == 16
  err = reconstruction.output_error(spec, variables, result.variables,
                                    result.keep, 'bn1',
                                    _batch(16, (8, 8, 1), seed=5)['image'])
  assert err < 1e-8


# (model, width config, unit, count, input shape)
RANDOM_CASES = [
    ('vgg16_l1', [16, 16, M, 32, 32, M, 32, 32, 32, M, 32, 32, 32, M, 32,
                  32, 32], 'bn3', 16, (32, 32, 3)),
    ('resnet56', None, 'stage2_block3/bn1', 16, (32, 32, 3)),
]


def _errors(name, widths, unit, count, shape):
  spec = models.get_spec(name).bind(10, widths)
  variables = _variables(spec)
  batch = _batch(128, shape)
  held_out = _batch(32, shape, seed=9)['image']
  out = {}
  for criterion in ('thinet', 'regression', 'l1_norm', 'random_channel'):
    result = pruning.get_criterion(criterion)(
        variables, spec, {unit: count}, batch=batch, rng=jax.random.key(3))
    assert len(result.keep[unit]) == \
        [u for u in spec.units(variables['params'])
         if u.name == unit][0].num_channels(variables['params']) - count
    out[criterion] = reconstruction.output_error(
        spec, variables, result.variables or variables, result.keep, unit,
        held_out)
  return out


@pytest.mark.parametrize('name,widths,unit,count,shape', RANDOM_CASES,
                         ids=[c[0] for c in RANDOM_CASES])
def test_data_driven_criteria_reconstruct_better_than_l1_and_random(
    name, widths, unit, count, shape):
  errors = _errors(name, widths, unit, count, shape)
  print(name, unit, {k: round(v, 4) for k, v in errors.items()})
  for data_driven in DATA_DRIVEN:
    assert errors[data_driven] < errors['l1_norm'], errors
    assert errors[data_driven] < errors['random_channel'], errors


def test_thinet_rescale_is_numpy_lstsq():
  rng = np.random.default_rng(0)
  xhat = rng.normal(size=(400, 12)).astype(np.float32)
  y = (xhat @ rng.uniform(0.5, 1.5, 12) + rng.normal(0, 0.1, 400)).astype(
      np.float32)
  want = np.linalg.lstsq(xhat.astype(np.float64), y.astype(np.float64),
                         rcond=None)[0]
  np.testing.assert_allclose(thinet.rescale(xhat, y), want, atol=1e-5)


def test_regression_refit_is_numpy_lstsq():
  rng = np.random.default_rng(1)
  layer = reconstruction.Layer(
      patches=rng.normal(size=(300, 9, 6)).astype(np.float32),
      kernel=rng.normal(size=(9, 6, 5)).astype(np.float32),
      outputs=np.zeros((300, 5), np.float32), example=np.arange(300))
  y = rng.normal(size=(300, 5)).astype(np.float32)
  kept = np.array([0, 2, 5])
  a = layer.patches[:, :, kept].reshape(300, -1).astype(np.float64)
  want = np.linalg.lstsq(a, y.astype(np.float64), rcond=None)[0]
  np.testing.assert_allclose(regression.refit(layer, kept, y).reshape(-1, 5),
                             want, atol=1e-5)


def _greedy_reference(xhat, count):
  """ThiNet's greedy step written out plainly (float64)."""
  xhat = np.asarray(xhat, np.float64)
  chosen, s = [], np.zeros(xhat.shape[0])
  for _ in range(count):
    costs = [np.inf if c in chosen else np.sum((s + xhat[:, c]) ** 2)
             for c in range(xhat.shape[1])]
    c = int(np.argmin(costs))
    chosen.append(c)
    s = s + xhat[:, c]
  return chosen


@settings(max_examples=25, deadline=None)
@given(m=st.integers(4, 40), c=st.integers(2, 12), seed=st.integers(0, 99),
       data=st.data())
def test_greedy_removal_matches_the_plain_loop(m, c, seed, data):
  count = data.draw(st.integers(1, c - 1))
  xhat = np.random.default_rng(seed).normal(size=(m, c)).astype(np.float32)
  got = np.asarray(thinet.greedy_removal(jnp.asarray(xhat), count))
  assert list(got[:count]) == _greedy_reference(xhat, count)
  assert np.all(got[count:] == -1)


def _lasso_cd(g, q, n, lam, sweeps=3000):
  """Coordinate descent on the same objective (an independent solver)."""
  b = np.zeros(q.shape)
  for _ in range(sweeps):
    for c in range(b.size):
      r = q[c] - g[c] @ b + g[c, c] * b[c]
      b[c] = np.sign(r) * max(abs(r) - n * lam, 0.0) / g[c, c]
  return b


def test_lasso_matches_coordinate_descent():
  rng = np.random.default_rng(2)
  z = rng.normal(size=(200, 6))
  g = z.T @ z
  q = z.T @ (z @ np.array([1.0, 0.0, 0.5, 0.0, -1.0, 0.2])
             + rng.normal(0, 0.1, 200))
  n = 200
  for lam in (0.01, 0.1, 0.3):
    lipschitz = np.linalg.eigvalsh(g)[-1] / n
    got = np.asarray(regression.lasso(jnp.asarray(g, jnp.float32),
                                      jnp.asarray(q, jnp.float32), n, lam,
                                      lipschitz, steps=3000))
    np.testing.assert_allclose(got, _lasso_cd(g, q, n, lam), atol=1e-4)


def test_lasso_selection_reaches_the_count():
  rng = np.random.default_rng(3)
  z = rng.normal(size=(300, 10))
  g, q = z.T @ z, z.T @ (z @ rng.uniform(0.1, 2.0, 10))
  for keep in (1, 4, 9):
    kept, lam = regression.select_by_lasso(jnp.asarray(g, jnp.float32),
                                           jnp.asarray(q, jnp.float32), 300,
                                           keep)
    assert len(kept) == keep and lam > 0


def test_bottleneck_units_ride_through_both_criteria():
  widths = {'stem_width': 8, 'stage_widths': [16, 16, 32, 32],
            'block_widths': [[[4, 4]] * 3, [[8, 4]] * 4, [[8, 8]] * 6,
                             [[4, 8]] * 3], 'selections': None}
  spec = models.get_spec('resnet50_thinet').bind(10, widths,
                                                input_shape=(224, 224, 3))
  variables = _variables(spec)
  counts = {'stage2_block1/input': 6, 'stage2_block1/bn1': 4,
            'stage3_block0/bn2': 4}
  batch = _batch(24, (224, 224, 3))
  for criterion in DATA_DRIVEN:
    result = pruning.get_criterion(criterion)(variables, spec, counts,
                                              batch=batch,
                                              rng=jax.random.key(0))
    assert {k: len(v) for k, v in result.keep.items() if k in counts} == {
        'stage2_block1/input': 10, 'stage2_block1/bn1': 4,
        'stage3_block0/bn2': 4}
    # The compact model computes what the masked one does.
    widths2, params, stats = pruning.compact(
        spec, result.variables['params'], result.variables['batch_stats'],
        result.keep)
    small = spec.with_widths(widths2)
    masks = pruning.channel_masks(spec, result.variables['params'],
                                  result.keep)
    x = batch['image'][:4]
    full = spec.module().apply(
        {'params': jax.tree.map(lambda a, b: a * b,
                                result.variables['params'], masks),
         'batch_stats': result.variables['batch_stats']}, x, train=False)
    compact = small.module().apply({'params': params, 'batch_stats': stats},
                                   x, train=False)
    np.testing.assert_allclose(compact, full, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('target,match', [
    (0.0, r'thinet compression rate must be in \(0, 1\)'),
    (1.0, r'must be in \(0, 1\)'),
    (-0.2, r'must be in \(0, 1\)'),
    ({'bn9': 2}, "name 'bn9', which is not a conv/select channel unit"),
    ({'bn1': 8}, r'prune count of bn1 must be an int in \[0, 8\)'),
])
def test_bad_targets_are_refused(target, match):
  spec = models.get_spec('digits_cnn').bind(10, [8, 8, M, 16, 16])
  with pytest.raises(ValueError, match=match):
    pruning.get_criterion('thinet').check(
        spec, spec.abstract_variables()['params'], target, num_examples=64)


def test_a_batch_too_small_for_the_least_squares_is_refused():
  spec = models.get_spec('vgg16_l1').bind(10)
  params = spec.abstract_variables()['params']
  with pytest.raises(ValueError, match=r'regression: the least squares of '
                     r'unit bn9 .* 2304 unknowns but 16 examples x 4 sampled '
                     r'positions give 64; use at least 576 examples'):
    pruning.get_criterion('regression').check(spec, params, {'bn9': 256},
                                              num_examples=16)
  pruning.get_criterion('thinet').check(spec, params, {'bn9': 256},
                                        num_examples=64)
  with pytest.raises(ValueError, match="no option.*'locations'.*"
                     'samples_per_example'):
    pruning.get_criterion('thinet').check(spec, params, 0.5, num_examples=64,
                                          options={'locations': 3})


def test_a_consumer_behind_a_selection_is_refused():
  spec = models.get_spec('preresnet164').bind(10)
  variables = _variables(spec)
  unit = [u for u in spec.units(variables['params'])
          if u.kind == 'select'][1]
  keep = {unit.name: np.arange(1, unit.num_channels(variables['params']))}
  widths, params, _ = pruning.compact(spec, variables['params'],
                                      variables['batch_stats'], keep)
  small = spec.with_widths(widths)  # the BN keeps its channels, the
  with pytest.raises(ValueError, match=f'{unit.consumer} reads 63 inputs '
                     f'but unit {unit.name} has 64 channels'):  # conv reads 63
    pruning.get_criterion('regression').check(small, params, {unit.name: 1},
                                              num_examples=64)


def test_layer_io_is_the_layer_input_and_output():
  spec = models.get_spec('digits_cnn').bind(10, [4, 4, M, 8, 8])
  v = _variables(spec)
  x = _batch(6, (8, 8, 1))['image']
  io = activations.layer_io(spec, v, x, 'conv0', chunk=4)
  np.testing.assert_array_equal(io.inputs, x)
  want = jax.lax.conv_general_dilated(
      x, v['params']['conv0']['kernel'], (1, 1), [(1, 1)] * 2,
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  np.testing.assert_allclose(io.outputs, want, atol=1e-5)
  assert (io.kernel_size, io.strides, io.padding) == (3, 1, 1)
  nxt = activations.layer_io(spec, v, x, 'conv1')
  bn = v['params']['bn0']
  relu = np.maximum((io.outputs - 0) / np.sqrt(1 + 1e-5) * bn['scale']
                    + bn['bias'], 0)
  np.testing.assert_allclose(nxt.inputs, relu, atol=1e-5)
  with pytest.raises(ValueError, match="no conv or dense layer 'conv9'"):
    activations.layer_io(spec, v, x, 'conv9')


@pytest.mark.parametrize('criterion', DATA_DRIVEN)
def test_a_model_without_units_is_refused(criterion):
  spec = models.get_spec('preresnet110').bind(10)
  with pytest.raises(ValueError, match="'preresnet110' declares no channel-"
                     f"prunable units.*channel criterion '{criterion}'"):
    pruning.get_criterion(criterion).check(
        spec, spec.abstract_variables()['params'], 0.5, num_examples=64)
