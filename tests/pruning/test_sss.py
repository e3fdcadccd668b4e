"""Sparse Structure Selection (rethinking.md §3.5): the APG update against a
hand computation, the block surgery against the gated model with those
lambdas at 0, the published Scratch-B budgets from our FLOPs, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxprune import flops
from jaxprune import models
from jaxprune import pruning
from jaxprune.models import sss_resnet
from jaxprune.pruning import sss


def _hand_apg(lam, grads, lrs, gamma, mu):
  """The SSS code's APG-NAG update written out in float64 numpy."""
  lam = np.asarray(lam, np.float64)
  v = np.zeros_like(lam)
  for g, lr in zip(grads, lrs):
    z = lam - lr * np.asarray(g, np.float64)
    z = np.sign(z) * np.maximum(np.abs(z) - lr * gamma, 0.0)
    v = mu * v + (z - lam)
    lam = np.maximum(z + mu * v, 0.0)
  return lam


def test_apg_update_equals_the_hand_computed_soft_threshold_momentum_step():
  lam0 = np.array([1.0, 0.004, 0.5, 0.02], np.float32)
  grads = [np.array([0.1, 0.02, -0.3, 0.0], np.float32),
           np.array([-0.2, 0.01, 0.4, 0.5], np.float32),
           np.array([0.05, -0.5, 0.0, 0.1], np.float32)]
  lrs = [0.1, 0.1, 0.01]
  schedule = lambda count: jnp.asarray(lrs)[count]
  tx = sss.apg_soft_threshold(schedule, gamma=0.01, momentum=0.9)
  lam = jnp.asarray(lam0)
  state = tx.init(lam)
  for k, g in enumerate(grads):
    updates, state = tx.update(jnp.asarray(g), state, lam)
    lam = optax.apply_updates(lam, updates)
    hand = _hand_apg(lam0, grads[:k + 1], lrs[:k + 1], 0.01, 0.9)
    np.testing.assert_allclose(np.asarray(lam), hand, atol=1e-7)
    # Thresholded lambdas are exactly 0 (clipped there, never negative).
    assert np.all(np.asarray(lam)[hand == 0] == 0)
    assert np.all(np.asarray(lam) >= 0)
    if k == 0:
      assert float(lam[1]) == 0.0  # |z| = 0.002 < lr * gamma
  assert float(lam[3]) == 0.0


def test_sss_optimizer_puts_apg_on_block_scales_and_nag_elsewhere():
  params = {'b': {'block_scale': jnp.float32(1.0),
                  'conv3': {'kernel': jnp.full((2,), 0.5, jnp.float32)}}}
  grads = {'b': {'block_scale': jnp.float32(0.0),
                 'conv3': {'kernel': jnp.full((2,), 0.2, jnp.float32)}}}
  lr, gamma, mu, wd = 0.1, 0.01, 0.9, 1e-4
  tx = sss.sss_optimizer(lr, gamma, mu, wd)
  updates, _ = tx.update(grads, tx.init(params), params)
  new = optax.apply_updates(params, updates)
  # No weight decay on lambda: a zero gradient only soft-thresholds it.
  z = 1.0 - lr * gamma
  assert float(new['b']['block_scale']) == pytest.approx(
      z + mu * (z - 1.0), abs=1e-7)
  # NAG with coupled decay, first step: d = g + wd*w, buf = d,
  # w -= lr * (d + mu * buf).
  d = 0.2 + wd * 0.5
  np.testing.assert_allclose(np.asarray(new['b']['conv3']['kernel']),
                             0.5 - lr * (d + mu * d), atol=1e-7)


def _randomised(spec, seed=0):
  """Init variables with random BN statistics and block scales."""
  variables = jax.device_get(spec.init(jax.random.key(seed)))
  rng = np.random.default_rng(seed)

  def stats(tree):
    return {k: (stats(v) if isinstance(v, dict) else
                (rng.uniform(0.5, 2.0, v.shape) if k == 'var'
                 else rng.normal(0, 0.2, v.shape)).astype(np.float32))
            for k, v in tree.items()}
  params = jax.tree.map(np.asarray, variables['params'])
  for name, block in params.items():
    if 'block_scale' in block:
      block['block_scale'] = np.float32(rng.uniform(0.2, 1.5))
  return {'params': params, 'batch_stats': stats(variables['batch_stats'])}


def test_blocks_with_zero_lambda_are_removed_with_the_same_logits():
  spec = models.get_spec('preresnet_sss_cifar').bind(
      10, {'blocks': [[2, True], [3, True], [2, True]], 'gated': True},
      (8, 8, 3))
  variables = _randomised(spec)
  p = variables['params']
  for name in ('stage1_block0', 'stage2_block1', 'stage3_block1'):
    p[name]['block_scale'] = np.float32(0.0)
  x = jax.random.normal(jax.random.key(1), (4, 8, 8, 3))
  full = jax.jit(spec.module().apply)(variables, x)
  widths, params, stats = sss_resnet.remove_blocks(
      spec.widths, variables['params'], variables['batch_stats'])
  assert widths == {'blocks': [[1, False], [2, True], [1, True]],
                    'gated': False}
  assert sss_resnet.depth(widths['blocks']) == 14
  small = spec.with_widths(widths)
  compact = jax.jit(small.module().apply)(
      {'params': params, 'batch_stats': stats}, x)
  np.testing.assert_allclose(np.asarray(compact), np.asarray(full),
                             atol=1e-5, rtol=1e-5)
  # The removed first block kept its projection shortcut (and its BN1).
  assert set(params['stage1_block0']) == {'bn1', 'downsample'}
  assert (flops.count(small.module(), small.input_shape).params
          < flops.count(spec.module(), spec.input_shape).params)
  assert sss.block_scales(variables['params'])['stage1_block0'] == 0.0


def test_a_few_sss_steps_remove_blocks_and_the_surgery_keeps_the_function():
  """A tiny search: large gamma drives some lambdas to 0 within a few
  steps; the compact model then computes the gated model's logits."""
  spec = models.get_spec('preresnet_sss_cifar').bind(
      10, {'blocks': [[2, True], [1, True], [1, True]], 'gated': True},
      (8, 8, 3))
  variables = jax.device_get(spec.init(jax.random.key(0)))
  x = jax.random.normal(jax.random.key(2), (8, 8, 8, 3))
  y = jnp.arange(8) % 10
  tx = sss.sss_optimizer(0.1, gamma=3.0)
  params, state = variables['params'], None
  state = tx.init(params)

  def loss(p):
    logits, _ = spec.module().apply({'params': p, 'batch_stats':
                                     variables['batch_stats']}, x,
                                    train=True, mutable=['batch_stats'])
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
  step = jax.jit(lambda p, s: tx.update(jax.grad(loss)(p), s, p))
  for _ in range(3):
    updates, state = step(params, state)
    params = optax.apply_updates(params, updates)
  scales = sss.block_scales(params)
  assert any(v == 0.0 for v in scales.values()), scales
  widths, cparams, cstats = sss_resnet.remove_blocks(
      spec.widths, params, variables['batch_stats'])
  full = jax.jit(spec.module().apply)(
      {'params': params, 'batch_stats': variables['batch_stats']}, x)
  compact = jax.jit(spec.with_widths(widths).module().apply)(
      {'params': cparams, 'batch_stats': cstats}, x)
  np.testing.assert_allclose(np.asarray(compact), np.asarray(full),
                             atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('rows', [
    ('resnet41', [[0, False], [4, True], [6, True], [3, True]], 117,
     [35, 70, 105]),
    ('resnet32', [[1, False], [4, True], [4, True], [1, True]], 145,
     [43, 86, 129]),
    ('resnet26', [[0, False], [2, False], [5, False], [1, True]], 179,
     [53, 106, 159]),
])
def test_sss_scratch_b_budgets_are_the_published_ones(rows):
  name, blocks, epochs, milestones = rows
  spec = models.get_spec('preresnet50_sss')
  full = spec.bind(1000)
  pruned = spec.bind(1000, {'blocks': blocks, 'gated': False})
  assert sss_resnet.depth(blocks) == int(name[len('resnet'):])
  f_full = flops.count(full.module(), full.input_shape).flops
  f_pruned = flops.count(pruned.module(), pruned.input_shape).flops
  assert pruning.scratch_b_schedule(f_full, f_pruned, 'sss') == (
      epochs, milestones)


@pytest.mark.parametrize('gamma', [0.0, -0.01, True, 'x'])
def test_a_non_positive_gamma_is_refused(gamma):
  with pytest.raises(ValueError, match='gamma must be > 0'):
    sss.apg_soft_threshold(0.1, gamma)


@pytest.mark.parametrize('blocks,message', [
    ([[0, True], [4, True], [6, True], [3, True]], 'keeps the first block '
     'but no block'),
    ([[3, False], [4, True], [6, True], [3, True]], 'removes the first block '
     'but keeps 3 others'),
    ([[4, True], [4, True], [6, True], [3, True]], 'stage 1 has 3'),
    ([[3, True], [4, True], [6, True]], 'must list 4 stages'),
    ([[3, 1], [4, True], [6, True], [3, True]], 'must be true or false'),
])
def test_bad_block_configs_are_one_line_errors(blocks, message):
  with pytest.raises(ValueError, match=message):
    models.get_spec('preresnet50_sss').bind(1000, {'blocks': blocks})
