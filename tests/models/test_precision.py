"""bfloat16 compute with float32 params, optimizer and BN statistics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import models
from jaxprune import pruning
from jaxprune.models import precision
from jaxprune.studies import context
from tests.studies.common import baseline_config


def _dtypes(tree):
  return {str(a.dtype) for a in jax.tree.leaves(tree)}


# One residual BN model; the digits CNN is trained in bf16 below.
@pytest.mark.parametrize('name', ['resnet20'])
def test_bfloat16_model_is_close_to_float32_with_float32_state(name):
  spec = models.get_spec(name).bind(10)
  variables = spec.init(jax.random.key(0))
  x = jax.random.normal(jax.random.key(1), (4, *spec.input_shape))
  f32 = spec.module()
  bf16 = precision.with_compute_dtype(f32, 'bfloat16')
  # Jitted: eagerly, every op of the model would be compiled on its own.
  y32 = jax.jit(lambda v, x: f32.apply(v, x, train=False))(variables, x)
  y16 = jax.jit(lambda v, x: bf16.apply(v, x, train=False))(variables, x)
  assert y16.dtype == jnp.float32 and y16.shape == y32.shape
  # bfloat16 has an 8-bit mantissa: about 1 % of the logits' scale.
  scale = float(jnp.max(jnp.abs(y32)))
  np.testing.assert_allclose(y16, y32, atol=0.05 * scale)

  def loss(params):
    logits, new_vars = bf16.apply({**variables, 'params': params}, x,
                                  train=True, mutable=['batch_stats'])
    return jnp.mean(logits ** 2), new_vars

  grads, new_vars = jax.jit(jax.grad(loss, has_aux=True))(
      variables['params'])
  assert _dtypes(grads) == {'float32'}
  assert _dtypes(new_vars['batch_stats']) == {'float32'}
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
  jax.tree.map(lambda g, p: np.testing.assert_equal(g.shape, p.shape), grads,
               variables['params'])


def test_float32_is_the_model_itself():
  model = models.get_spec('digits_cnn').bind(10).module()
  assert precision.with_compute_dtype(model, 'float32') is model
  with pytest.raises(ValueError, match="unknown compute dtype 'float16'"):
    precision.with_compute_dtype(model, 'float16')


def test_bfloat16_run_trains_finite_and_criteria_match_float32(tmp_path):
  ctx16 = context.RunContext.create(
      baseline_config(**{'model.dtype': 'bfloat16', 'optim.epochs': 2}),
      str(tmp_path / 'bf16'), 'baseline')
  run = ctx16.train('baseline', ctx16.spec, ctx16.init(ctx16.spec, 0),
                    seed=0, epochs=2, learning_rate=0.1)
  variables = run.variables
  assert _dtypes(variables['params']) == {'float32'}
  assert _dtypes(variables['batch_stats']) == {'float32'}
  assert all(np.all(np.isfinite(a)) for a in jax.tree.leaves(variables))
  accuracy = run.entry['last_test_accuracy']
  assert accuracy > 0.5, run.entry  # 10 classes: far above chance
  assert len(run.history) == 2
  assert all(np.isfinite(h['train_loss']) for h in run.history), run.history
  ctx32 = context.RunContext.create(baseline_config(), str(tmp_path / 'f32'),
                                    'baseline')
  for name, target in [('magnitude', 0.8), ('l1_norm', 0.5),
                       ('slimming', 0.5), ('thinet', 0.5)]:
    criterion = pruning.get_criterion(name)
    got = ctx16.prune(criterion, ctx16.spec, variables, target, 0)
    want = ctx32.prune(criterion, ctx32.spec, variables, target, 0)
    same = jax.tree.map(np.array_equal, got.masks, want.masks)
    assert all(jax.tree.leaves(same)), name
    assert jax.tree.structure(got.keep) == jax.tree.structure(want.keep)
    assert all(jax.tree.leaves(jax.tree.map(np.array_equal, got.keep,
                                            want.keep))), name
