"""PreResNets: channel selection, reduced-depth forwards, slimming gamma."""

import copy
import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune.models import preresnet
from tests.models.common import eval_fast, host_vars, leaves, max_abs, run_fast


def test_preresnet_selection_gathers_channels():
  """Selection == the full model whose consumer weights are permuted/zeroed."""
  n = 1
  cfg = preresnet.default_cfg(n)  # [16,16,16, 64,32,32, 128,64,64, 256]
  full = preresnet.PreResNet(tuple(cfg), None, 10)
  x = jnp.asarray(np.random.default_rng(3).normal(size=(2, 16, 16, 3)),
                  jnp.float32)
  variables = host_vars(full, (16, 16, 3))
  y_full = eval_fast(full, variables, x)
  assert y_full.shape == (2, 10)
  # (a) a permutation at block 1 with conv1's input rows permuted alike
  perm = np.random.default_rng(4).permutation(64)
  permuted = preresnet.PreResNet(
      tuple(cfg), (None, tuple(int(i) for i in perm), None, None), 10)
  v = copy.deepcopy(variables)
  k = v['params']['stage2_block0']['conv1']['kernel']
  v['params']['stage2_block0']['conv1']['kernel'] = k[:, :, perm, :]
  np.testing.assert_allclose(eval_fast(permuted, v, x), y_full, rtol=1e-4,
                             atol=1e-4)
  # (b) a subset after the final BN == zeroed classifier rows
  keep = np.sort(np.random.default_rng(5).permutation(256)[:40])
  sub_cfg = cfg[:-1] + [40]
  subset = preresnet.PreResNet(
      tuple(sub_cfg), (None, None, None, tuple(int(i) for i in keep)), 10)
  v_sub = copy.deepcopy(variables)
  fc = variables['params']['classifier']['kernel']
  v_sub['params']['classifier']['kernel'] = fc[keep]
  v_zero = copy.deepcopy(variables)
  mask = np.zeros((256, 1), np.float32)
  mask[keep] = 1
  v_zero['params']['classifier']['kernel'] = fc * mask
  np.testing.assert_allclose(eval_fast(subset, v_sub, x),
                             eval_fast(full, v_zero, x), rtol=1e-4, atol=1e-4)
  y, upd = run_fast(lambda v, x: subset.apply(
      v, x, train=True, mutable=['batch_stats']), v_sub, x)
  assert y.shape == (2, 10) and np.all(np.isfinite(y))
  assert upd['batch_stats']['final_bn']['mean'].shape == (256,)


@pytest.mark.parametrize('name', ['preresnet164', 'densenet40'])
def test_slimming_gamma(inits, name):
  for path, leaf in leaves(inits[name]).items():
    if path.endswith('/scale'):
      np.testing.assert_array_equal(leaf, 0.5, err_msg=path)
  fc = inits[name]['classifier']['kernel']
  assert max_abs(fc) <= 1 / math.sqrt(fc.shape[0])  # PyTorch default Linear
