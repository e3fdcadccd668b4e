"""Shared jackpot-test data."""

import jax.numpy as jnp
import numpy as np


def toy_params(seed):
  rng = np.random.default_rng(seed)
  normal = lambda *shape: jnp.asarray(rng.standard_normal(shape), jnp.float32)
  return {
      'conv0': {'kernel': normal(3, 3, 1, 4)},
      'bn0': {'scale': jnp.ones(4), 'bias': jnp.zeros(4)},
      'conv1': {'kernel': normal(3, 3, 4, 8)},
      'block': {'conv2': {'kernel': normal(1, 1, 8, 8)}},
      'hidden': {'kernel': normal(8, 8), 'bias': jnp.zeros(8)},
      'classifier': {'kernel': normal(8, 10), 'bias': jnp.zeros(10)},
  }
