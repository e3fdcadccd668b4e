"""Shared pruning-test data: a digits_cnn-shaped toy param tree."""

import numpy as np


def toy_params(seed=0):
  """conv0 (4 filters) -> bn0 -> conv1 (6) -> bn1 -> classifier, the
  digits_cnn layout (its spec's units are bn0 and bn1)."""
  rng = np.random.default_rng(seed)
  return {
      'conv0': {'kernel': rng.normal(size=(3, 3, 1, 4)).astype(np.float32)},
      'bn0': {'scale': rng.normal(size=4).astype(np.float32),
              'bias': np.zeros(4, np.float32)},
      'conv1': {'kernel': rng.normal(size=(3, 3, 4, 6)).astype(np.float32)},
      'bn1': {'scale': rng.normal(size=6).astype(np.float32),
              'bias': np.zeros(6, np.float32)},
      'classifier': {'kernel': rng.normal(size=(6, 10)).astype(np.float32),
                     'bias': np.zeros(10, np.float32)},
  }


def toy_variables(seed=0):
  return {'params': toy_params(seed), 'batch_stats': {}}
