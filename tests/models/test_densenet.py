"""DenseNets: DenseNet-40 selection and the reduced-depth forwards."""

import copy

import jax.numpy as jnp
import numpy as np

from jaxprune.models import create_model
from jaxprune.models import densenet
from jaxprune.models import preresnet
from tests.models.common import eval_fast, host_vars, run_fast


def test_densenet40_class_selection_and_train_forward():
  n = 1
  full_widths = densenet.densenet40_input_widths(n)
  assert full_widths == [24, 36, 36, 48, 48, 60]
  assert len(densenet.densenet40_selection_points(n)) == len(full_widths)
  model = densenet.DenseNet40(tuple(full_widths), None, 10)
  x = jnp.asarray(np.random.default_rng(6).normal(size=(2, 16, 16, 3)),
                  jnp.float32)
  variables = host_vars(model, (16, 16, 3))
  y_full = eval_fast(model, variables, x)
  # the transition of block 1 reads 20 of its 36 channels
  keep = np.sort(np.random.default_rng(7).permutation(36)[:20])
  cfg = list(full_widths)
  cfg[1] = 20
  sels = [None] * 6
  sels[1] = tuple(int(i) for i in keep)
  subset = densenet.DenseNet40(tuple(cfg), tuple(sels), 10)
  k = variables['params']['trans1']['conv1']['kernel']
  v_sub = copy.deepcopy(variables)
  v_sub['params']['trans1']['conv1']['kernel'] = k[:, :, keep, :]
  v_zero = copy.deepcopy(variables)
  mask = np.zeros((1, 1, 36, 1), np.float32)
  mask[:, :, keep] = 1
  v_zero['params']['trans1']['conv1']['kernel'] = k * mask
  np.testing.assert_allclose(eval_fast(subset, v_sub, x),
                             eval_fast(model, v_zero, x), rtol=1e-4, atol=1e-4)
  assert y_full.shape == (2, 10)
  y, upd = run_fast(lambda v, x: subset.apply(
      v, x, train=True, mutable=['batch_stats']), v_sub, x)
  assert y.shape == (2, 10) and np.all(np.isfinite(y))


def test_densenet_bc_and_preresnet110_reduced_forward():
  bc = densenet.DenseNetBC(8, 4, ((16, 16), (16, 16), (16, 16)), (12, 10), 10,
                           bn_scale=1.0)
  pre = create_model('preresnet110', 10).clone(
      cfg=tuple(preresnet.default_cfg(1)))
  for model in (bc, pre):
    variables = host_vars(model, (16, 16, 3))
    x = jnp.ones((2, 16, 16, 3))
    y, upd = run_fast(lambda v, x: model.apply(
        v, x, train=True, mutable=['batch_stats']), variables, x)
    assert y.shape == (2, 10) and np.all(np.isfinite(y))
