"""Pruning targets: ratios, per-layer counts, scores -> masks / keeps."""

import numpy as np
import pytest

from experiments.configs import paper
from jaxprune import models
from jaxprune import pruning
from tests.pruning.common import toy_params


@pytest.mark.parametrize('bad', [-0.1, 1.0, 1.5, float('nan'), True, '0.5',
                                 None])
def test_check_ratio_is_the_one_validator(bad):
  with pytest.raises(ValueError, match=r'in \[0, 1\)'):
    pruning.check_ratio(bad)
  assert pruning.check_ratio(0) == 0.0
  with pytest.raises(ValueError, match=r'sparsity must be in \(0, 1\)'):
    pruning.check_ratio(0.0, 'sparsity', exclude_zero=True)


def test_masks_from_scores_global_ratio_and_exact_counts():
  params = {'a': {'kernel': np.zeros((1, 1, 1, 4), np.float32)},
            'b': {'kernel': np.zeros((1, 1, 1, 2), np.float32)},
            'classifier': {'kernel': np.zeros((2, 3), np.float32)}}
  scores = {('a', 'kernel'): np.array([4., 1., 1., 5.]).reshape(1, 1, 1, 4),
            'b/kernel': np.array([1., 0.]).reshape(1, 1, 1, 2)}
  # ratio 0.5 of 6 weights: the 3 lowest over both, ties by position.
  m = pruning.masks_from_scores(params, scores, 0.5)
  np.testing.assert_array_equal(m['a']['kernel'].ravel(), [1, 0, 0, 1])
  np.testing.assert_array_equal(m['b']['kernel'].ravel(), [1, 0])
  np.testing.assert_array_equal(m['classifier']['kernel'], 1)
  m = pruning.masks_from_scores(params, scores, {'a/kernel': 3, 'b/kernel': 0})
  np.testing.assert_array_equal(m['a']['kernel'].ravel(), [0, 0, 0, 1])
  np.testing.assert_array_equal(m['b']['kernel'].ravel(), [1, 1])
  with pytest.raises(ValueError, match=r'in \[0, 4\]'):
    pruning.masks_from_scores(params, scores, {'a/kernel': 5})
  with pytest.raises(ValueError, match='not a param'):
    pruning.masks_from_scores(params, scores, {'c/kernel': 1})


def test_scored_kernels_and_the_unstructured_domain():
  params = toy_params()
  assert pruning.scored_kernels(params, 0.3) == [('conv0', 'kernel'),
                                                 ('conv1', 'kernel')]
  assert pruning.scored_kernels(params, {'classifier/kernel': 2}) == [
      ('classifier', 'kernel')]
  with pytest.raises(ValueError, match='no conv kernel'):
    pruning.scored_kernels({'fc': {'kernel': np.ones((2, 2))}}, 0.5)


def _resnet56():
  spec = models.get_spec('resnet56').bind(10)
  return spec, spec.abstract_variables()['params']


def test_channel_counts_of_the_paper_targets():
  spec, params = _resnet56()
  t = paper.L1_TARGETS['resnet56_a']
  counts = pruning.channel_counts(spec, params, **t)
  # 27 blocks, stage ratios 0.1, skip 16 20 38 54 -> 23 units pruned.
  assert len(counts) == 23
  assert counts['stage1_block0/bn1'] == 16 - 14
  assert counts['stage3_block1/bn1'] == 64 - 57
  assert 'stage3_block0/bn1' not in counts  # layer 38 is skipped
  assert 'stage1_block7/bn1' not in counts  # layer 16 is skipped
  by_name = pruning.channel_counts(spec, params, layer_ratios={
      'stage2_block0/bn1': 0.5, 4: 0.25})
  assert by_name == {'stage2_block0/bn1': 16, 'stage1_block1/bn1': 4}


@pytest.mark.parametrize('kwargs, match', [
    (dict(skip=(16, 17)), 'layer 17'),
    (dict(skip=(200,)), 'layer 200'),
    (dict(layer_ratios={9: 1.5}), r'layer ratio must be in \[0, 1\)'),
    (dict(stage_ratios=(1, 0, 0)), r'stage ratio must be in \[0, 1\)'),
    (dict(stage_ratios=(0.1, 0.1)), 'has 3 stages, got 2'),
    (dict(layer_ratios={'stage9_block0/bn1': 0.5}), 'stage9_block0'),
])
def test_channel_counts_errors_name_the_layer(kwargs, match):
  spec, params = _resnet56()
  with pytest.raises(ValueError, match=match):
    pruning.channel_counts(spec, params, **kwargs)


def test_unit_counts_and_keep_from_scores():
  spec = models.get_spec('digits_cnn')
  params = toy_params()
  assert pruning.unit_counts(spec, params, 0.5) == {'bn0': 2, 'bn1': 3}
  with pytest.raises(ValueError, match=r'in \[0, 4\)'):
    pruning.unit_counts(spec, params, {'bn0': 4})
  with pytest.raises(ValueError, match="'bn7'"):
    pruning.unit_counts(spec, params, {'bn7': 1})
  keep = pruning.keep_from_scores({'u': np.array([1., 3., 3., 0.])}, {'u': 2})
  np.testing.assert_array_equal(keep['u'], [1, 2])
  keep = pruning.keep_from_scores({'u': np.array([2., 2., 2.])}, {'u': 1})
  np.testing.assert_array_equal(keep['u'], [0, 1])  # ties: lower index stays
