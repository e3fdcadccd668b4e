"""Network Slimming: the sparsity term and the global |gamma| threshold."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxprune import models
from jaxprune import pruning
from tests.pruning.common import toy_variables

SPEC = models.get_spec('digits_cnn')
SLIM = pruning.get_criterion('slimming')


def test_global_threshold_strict_and_the_empty_layer_rule():
  v = toy_variables()
  v['params']['bn0']['scale'] = np.array([0.01, 0.02, 0.03, 0.04], np.float32)
  v['params']['bn1']['scale'] = np.array([0.5, -0.6, 0.1, 0.05, 0.9, 0.2],
                                         np.float32)
  result = SLIM(v, SPEC, 0.5)
  # sorted |g| = .01 .02 .03 .04 .05 .1 .2 .5 .6 .9; thr = sorted[5] = .1
  assert result.info['threshold'] == pytest.approx(0.1)
  np.testing.assert_array_equal(result.keep['bn1'], [0, 1, 4, 5])
  np.testing.assert_array_equal(result.keep['bn0'], [3])  # emptied: argmax
  v['params']['bn0']['scale'] = np.full(4, 0.5, np.float32)
  v['params']['bn1']['scale'] = np.full(6, 0.5, np.float32)
  with pytest.raises(ValueError, match='removes every channel'):
    SLIM(v, SPEC, 0.3)
  for bad in (-0.1, 1.0):
    with pytest.raises(ValueError, match=r'\[0, 1\)'):
      SLIM(v, SPEC, bad)


def test_per_unit_counts_drop_the_smallest_gammas():
  v = toy_variables()
  v['params']['bn1']['scale'] = np.array([0.5, -0.6, 0.1, 0.05, 0.9, 0.2],
                                         np.float32)
  keep = SLIM(v, SPEC, {'bn1': 2}).keep
  np.testing.assert_array_equal(keep['bn1'], [0, 1, 4, 5])
  np.testing.assert_array_equal(keep['bn0'], [0, 1, 2, 3])


def test_bn_l1_subgradient_only_touches_scales():
  params = {'bn': {'scale': jnp.array([0.5, -2.0, 0.0]),
                   'bias': jnp.array([1.0, 1.0, 1.0])},
            'conv': {'kernel': jnp.ones((1, 1, 1, 3))}}
  grads = jax.tree.map(jnp.zeros_like, params)
  tx = pruning.bn_l1_subgradient(1e-4)
  out, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(out['bn']['scale'], [1e-4, -1e-4, 0.0])
  assert float(jnp.abs(out['bn']['bias']).sum()) == 0
  assert float(jnp.abs(out['conv']['kernel']).sum()) == 0
  chained = optax.chain(tx, optax.sgd(1.0))
  upd, _ = chained.update(grads, chained.init(params), params)
  np.testing.assert_allclose(upd['bn']['scale'], [-1e-4, 1e-4, 0.0])
  with pytest.raises(ValueError, match='>= 0'):
    pruning.bn_l1_subgradient(-1.0)
