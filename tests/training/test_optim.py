"""PyTorch SGD, the one per-epoch schedule, fixed-mask training."""

import math

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxprune.training import optim


def test_sgd_coupled_matches_pytorch_formula():
  lr, mu, wd = 0.1, 0.9, 1e-4
  tx = optim.sgd_coupled(lr, mu, wd)
  w = jnp.array([1.0, -2.0, 0.5])
  state = tx.init(w)
  buf = None
  w_ref = np.array(w, np.float64)
  rng = np.random.default_rng(0)
  for _ in range(5):
    g = rng.normal(size=3)
    d = g + wd * w_ref
    buf = d if buf is None else mu * buf + d
    w_ref = w_ref - lr * buf
    updates, state = tx.update(jnp.asarray(g, jnp.float32), state, w)
    w = optax.apply_updates(w, updates)
  np.testing.assert_allclose(w, w_ref, rtol=1e-6)


def test_per_epoch_schedules_are_float64_closed_forms_rounded_once():
  step = optim.per_epoch_schedule(0.1, 160, 10, 'step')
  got = [float(step(e * 10)) for e in (0, 79, 80, 119, 120, 159)]
  want = [np.float32(0.1 * 0.1 ** k) for k in (0, 0, 1, 1, 2, 2)]
  assert got == [float(v) for v in want]
  assert float(step(805)) == float(np.float32(0.1 * 0.1))  # within epoch 80
  cos = optim.per_epoch_schedule(0.1, 30, 7, 'cosine')
  for e in (0, 1, 15, 29):
    assert float(cos(e * 7 + 3)) == float(np.float32(
        0.5 * 0.1 * (1 + math.cos(math.pi * e / 30))))
  assert float(cos(30 * 7)) == 0.0 and float(cos(10**6)) == 0.0
  const = optim.per_epoch_schedule(0.01, 5, 3, 'constant')
  assert float(const(14)) == float(np.float32(0.01))
  assert optim.step_milestones(243) == [121, 182]
  assert optim.every_n_milestones(90, 30) == [30, 60]
  imagenet = optim.per_epoch_schedule(0.1, 90, 1, 'step', [30, 60])
  assert float(imagenet(60)) == float(np.float32(0.1 * 0.1 ** 2))
  with pytest.raises(ValueError, match='unknown schedule'):
    optim.per_epoch_schedule(0.1, 10, 1, 'linear')
  with pytest.raises(ValueError, match='positive'):
    optim.per_epoch_schedule(0.1, 0, 1)


def test_masked_training_masks_gradients_and_updates():
  masks = {'w': jnp.array([1.0, 0.0, 1.0])}
  params = {'w': jnp.array([0.5, 0.0, -1.0])}
  tx = optim.masked_training(optim.sgd_coupled(0.1, 0.9, 0.1), masks)
  state = tx.init(params)
  assert optim.find_state(state, optim.MaskedTrainingState) is state
  for _ in range(3):
    updates, state = tx.update({'w': jnp.ones(3)}, state, params)
    params = optax.apply_updates(params, updates)
  assert float(params['w'][1]) == 0.0
  trace = optim.find_state(state, optax.TraceState)
  assert float(trace.trace['w'][1]) == 0.0
  assert float(params['w'][0]) != 0.5
  with pytest.raises(ValueError, match='does not match'):
    optim.masked_training(optax.sgd(0.1), {'v': jnp.ones(3)}).init(params)
  assert optim.find_state(optax.EmptyState(), optim.MaskedTrainingState) is None
