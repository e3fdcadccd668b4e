"""ImageNet VGGs: dropout only in training, and only with an rng."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import models
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


def test_the_gap_head_is_thinets_vgg_gap():
  """§3.2: no last max-pool, a functional average over the 14x14 map (the
  same as AvgPool2d(14) at 224x224), one Linear; with_head keeps the convs."""
  spec = models.get_spec('vgg16_imagenet').bind(1000)
  gap = spec.with_head('gap')
  assert gap.widths == {'cfg': VGG16_CFG_NO_LAST_POOL, 'fc_widths': [],
                        'head': 'gap'}
  small = models.get_spec('vgg16_imagenet').bind(5, {
      'cfg': [4, 4, 'M', 4, 4, 'M', 4, 4, 4, 'M', 4, 4, 4, 'M', 4, 4, 8],
      'fc_widths': [], 'head': 'gap'})
  variables = small.init(jax.random.key(0))
  assert set(variables['params']) == {f'conv{i}' for i in range(13)} | {
      'classifier'}
  x = jax.random.normal(jax.random.key(1), (2, 224, 224, 3))
  _, state = small.module().apply(variables, x, mutable=['intermediates'])
  features = state['intermediates']['conv12']['outputs'][0]
  assert features.shape == (2, 14, 14, 8)
  pooled = jax.lax.reduce_window(jax.nn.relu(features), 0.0, jax.lax.add,
                                 (1, 14, 14, 1), (1, 2, 2, 1), 'VALID') / 196
  w = variables['params']['classifier']
  np.testing.assert_allclose(
      small.module().apply(variables, x),
      pooled.reshape(2, 8) @ w['kernel'] + w['bias'], rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match='cfg must have 17 entries'):
    spec.with_widths({'cfg': VGG16_CFG_NO_LAST_POOL + ['M'], 'fc_widths': [],
                      'head': 'gap'})
  with pytest.raises(ValueError, match="head must be one of"):
    spec.with_widths(dict(spec.widths, head='attention'))
  with pytest.raises(ValueError, match="vgg16_bn_imagenet has no head 'gap'"):
    models.get_spec('vgg16_bn_imagenet').bind(10).with_head('gap')


VGG16_CFG_NO_LAST_POOL = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M',
                          512, 512, 512, 'M', 512, 512, 512]
