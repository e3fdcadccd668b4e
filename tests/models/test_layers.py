"""Layers with PyTorch semantics that report their cost to the FLOPs counter."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxprune import flops
from jaxprune.models import layers


def test_batchnorm_matches_pytorch_train_and_eval():
  bn = layers.BatchNorm()
  x = jnp.asarray(np.random.default_rng(0).normal(2.0, 3.0, (4, 3, 3, 2)),
                  jnp.float32)
  v = bn.init(jax.random.key(0), x, train=False)
  y, upd = bn.apply(v, x, train=True, mutable=['batch_stats'])
  xs = np.asarray(x, np.float64).reshape(-1, 2)
  mean, var = xs.mean(0), xs.var(0)
  np.testing.assert_allclose(np.asarray(y).reshape(-1, 2),
                             (xs - mean) / np.sqrt(var + 1e-5), rtol=1e-4,
                             atol=1e-4)
  n = xs.shape[0]
  # running stats: momentum 0.1, unbiased variance (PyTorch)
  np.testing.assert_allclose(upd['batch_stats']['mean'], 0.1 * mean,
                             rtol=1e-5)
  np.testing.assert_allclose(upd['batch_stats']['var'],
                             0.9 + 0.1 * var * n / (n - 1), rtol=1e-5)
  y_eval = bn.apply({**v, **upd}, x, train=False)
  want = (xs - 0.1 * mean) / np.sqrt(0.9 + 0.1 * var * n / (n - 1) + 1e-5)
  np.testing.assert_allclose(np.asarray(y_eval).reshape(-1, 2), want,
                             rtol=1e-4, atol=1e-4)


def test_conv_padding_and_recorded_cost():
  conv = layers.Conv(4, kernel_size=3, strides=2, padding=1, use_bias=True)
  x = jnp.ones((1, 8, 8, 3))
  with flops.recording() as rec:
    v = conv.init(jax.random.key(0), x)
    y = conv.apply(v, x)
  assert y.shape == (1, 4, 4, 4)
  r = [r for r in rec.records if r.kind == 'conv'][-1]
  assert r.flops == (2 * 9 * 3 + 1) * 4 * 16 and r.spatial == 16
  assert r.bias_flops == 4 * 16


def test_select_channels_is_a_free_gather():
  x = jnp.arange(12.).reshape(1, 1, 2, 6)
  np.testing.assert_array_equal(layers.select_channels(x, (5, 0)),
                                x[..., [5, 0]])
  assert layers.select_channels(x, None) is x
