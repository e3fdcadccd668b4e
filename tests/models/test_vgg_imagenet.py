"""ImageNet VGGs: dropout only in training, and only with an rng."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune.models import create_model
from tests.models.common import FAST, M, host_vars, run_fast


def test_dropout_is_train_only_and_needs_rng():
  widths = {'cfg': [4, 4, M, 4, 4, M, 4, 4, 4, M, 4, 4, 4, M, 4, 4, 4, M],
            'fc_widths': [16, 16]}
  model = create_model('vgg16_imagenet', 5, widths)
  variables = host_vars(model, (224, 224, 3))
  variables['params'] = jax.tree.map(lambda p: p * 5.0, variables['params'])
  x = jnp.asarray(np.random.default_rng(2).normal(size=(2, 224, 224, 3)),
                  jnp.float32)
  run = jax.jit(lambda v, x, key: (
      model.apply(v, x), model.apply(v, x, train=True, rngs={'dropout': key})))
  run = run.lower(variables, x, jax.random.key(0)).compile(FAST)
  e1, t1 = run(variables, x, jax.random.key(0))
  e2, t2 = run(variables, x, jax.random.key(1))
  assert e1.shape == (2, 5)
  np.testing.assert_array_equal(e1, e2)
  assert not np.allclose(t1, t2)
  assert not np.allclose(e1, t1)
  with pytest.raises(flax.errors.InvalidRngError, match='dropout'):
    jax.eval_shape(lambda v, x: model.apply(v, x, train=True), variables, x)
  no_dropout = model.clone(dropout_rate=0.0)
  t0 = run_fast(lambda v, x: no_dropout.apply(v, x, train=True), variables,
                x)
  np.testing.assert_allclose(t0, e1, rtol=1e-5, atol=1e-5)
