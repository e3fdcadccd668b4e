"""L1-norm filter pruning: the paper's targets, and exact-count filling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import paper
from jaxprune import models
from jaxprune import pruning
from tests.models.common import M

EXPECTED_L1 = {
    'resnet56_a': [[14] * 7 + [16, 14], [32] + [28] * 8,
                   [64] + [57] * 7 + [64]],
    'resnet56_b': [[6] * 7 + [16, 16], [32] + [22] * 6 + [32, 22],
                   [64] + [57] * 7 + [64]],
    'resnet110_a': [[8] * 17 + [16], [32] * 18, [64] * 18],
    'resnet110_b': [[8] * 17 + [16], [32] + [19] * 17, [64] + [44] * 17],
    'resnet34_a': [[64, 44, 44], [128, 89, 89, 128], [256] + [179] * 4 + [256],
                   [512] * 3],
    'resnet34_b': [[64, 32, 32], [128, 51, 51, 128], [256] + [153] * 4 + [256],
                   [512] * 3],
}


def _random_variables(spec, seed=0):
  abstract = spec.abstract_variables()
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda a: rng.normal(size=a.shape).astype(np.float32),
                      abstract)


def _prune(row):
  _, model, method, target = paper.RETHINKING_ROWS[row]
  spec = models.get_spec(model).bind(10)
  variables = _random_variables(spec)
  counts = pruning.channel_counts(spec, variables['params'], **target)
  keep = pruning.get_criterion(method)(variables, spec, counts).keep
  return spec, variables, keep


@pytest.mark.parametrize('row', sorted(EXPECTED_L1))
def test_paper_targets_give_the_paper_widths(row):
  spec, variables, keep = _prune(row)
  widths, params, _ = pruning.compact(spec, variables['params'],
                                      variables['batch_stats'], keep)
  assert widths['block_widths'] == EXPECTED_L1[row]
  small = spec.with_widths(widths)
  assert jax.tree.map(np.shape, small.abstract_variables()['params']) == \
      jax.tree.map(np.shape, params)


def test_vgg16_a_widths_and_the_largest_filters_kept():
  spec, variables, keep = _prune('vgg16_a')
  widths, _, _ = pruning.compact(spec, variables['params'],
                                 variables['batch_stats'], keep)
  assert widths == [32, 64, M, 128, 128, M, 256, 256, 256, M, 256, 256, 256,
                    M, 256, 256, 256]
  scores = pruning.l1_filter_scores(variables['params']['conv0']['kernel'])
  dropped = np.setdiff1d(np.arange(64), keep['bn0'])
  assert scores[keep['bn0']].min() >= scores[dropped].max()


def test_l1_norm_ratio_prunes_every_conv_unit():
  spec = models.get_spec('digits_cnn').bind(10)
  variables = _random_variables(spec)
  keep = pruning.get_criterion('l1_norm')(variables, spec, 0.5).keep
  assert pruning.keep_counts(keep) == {'bn0': 16, 'bn1': 16, 'bn2': 32,
                                       'bn3': 32}


def test_l1_filter_fills_exact_counts():
  w4 = jnp.asarray(np.arange(1, 25, dtype=np.float32).reshape(1, 2, 3, 4))
  params = {'classifier': {'kernel': jnp.asarray(
      [[1., 2.], [3., -9.], [0.5, 4.]])}, 'c': {'kernel': w4}}
  m = pruning.get_criterion('l1_filter')(
      {'params': params, 'batch_stats': {}}, None,
      {'c/kernel': 8, 'classifier/kernel': 4}).masks
  mc = np.asarray(m['c']['kernel'])
  np.testing.assert_array_equal(mc[..., 0], 0)  # the whole smallest filter
  # two more in the next smallest filter: its two smallest |w| (2 and 6)
  np.testing.assert_array_equal(mc[..., 1].ravel(), [0, 0, 1, 1, 1, 1])
  np.testing.assert_array_equal(mc[..., 2:], 1)
  # classifier: column norms 4.5 and 15 -> column 0 (3) + smallest of col 1
  np.testing.assert_array_equal(np.asarray(m['classifier']['kernel']),
                                [[0, 0], [0, 1], [0, 1]])
