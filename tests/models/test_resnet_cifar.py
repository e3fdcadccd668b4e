"""CIFAR ResNets: option-A shortcuts and inits."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune.models import create_model
from jaxprune.models import resnet_cifar
from tests.models.common import host_vars, max_abs, run_fast


@pytest.mark.parametrize('shortcut', ['avgpool', 'stride'])
def test_option_a_shortcut(shortcut):
  """L1: AvgPool2d(2, 2) + zeros appended; jackpot: x[::2, ::2] + symmetric."""
  block = resnet_cifar.BasicBlock(4, 8, 2, shortcut)
  x = jnp.asarray(np.random.default_rng(8).normal(size=(2, 6, 6, 4)),
                  jnp.float32)
  v = host_vars(block, (6, 6, 4))
  v = jax.tree.map(np.zeros_like, v)  # zero convs, BN(0) == 0
  v['batch_stats'] = jax.tree_util.tree_map_with_path(
      lambda p, a: np.ones_like(a) if p[-1].key == 'var' else a,
      v['batch_stats'])
  y = run_fast(block.apply, v, x)
  if shortcut == 'avgpool':
    sub = x.reshape(2, 3, 2, 3, 2, 4).mean(axis=(2, 4))
    expected = jnp.concatenate([sub, jnp.zeros((2, 3, 3, 4))], -1)
  else:
    sub = x[:, ::2, ::2, :]
    expected = jnp.concatenate([jnp.zeros((2, 3, 3, 2)), sub,
                                jnp.zeros((2, 3, 3, 2))], -1)
  np.testing.assert_allclose(y, jax.nn.relu(expected), rtol=1e-5, atol=1e-6)


def test_resnet_inits(inits):
  p = inits['resnet20']
  np.testing.assert_array_equal(p['stage1_block0']['bn1']['scale'], 1.0)
  fc = p['classifier']['kernel']  # PyTorch default U(+-1/sqrt(64))
  assert 0.1 < max_abs(fc) <= 1 / 8
  assert 0.1 < max_abs(p['classifier']['bias']) <= 1 / 8
  np.testing.assert_allclose(np.std(p['stage3_block0']['conv2']['kernel']),
                             math.sqrt(2 / (9 * 64)), rtol=0.05)
  jackpot = create_model('resnet32_jackpot', 10)
  assert jackpot.torch_default_init and jackpot.shortcut == 'stride'
