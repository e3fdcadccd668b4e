"""The score tree: prunable paths, the magnitude start, validation."""


import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import masks as masks_lib
from jaxprune import tree as tree_lib
import jaxprune.jackpot as jp
from tests.helpers import magnitude_start, magnitude_subtree
from tests.jackpot.common import toy_params


def test_prunable_paths_gather_scatter():
  params = toy_params(0)
  paths = masks_lib.prunable_paths(params)
  assert paths == [('block', 'conv2', 'kernel'), ('classifier', 'kernel'),
                   ('conv0', 'kernel'), ('conv1', 'kernel')]
  sub = tree_lib.gather(params, paths)
  assert set(sub) == {'block', 'classifier', 'conv0', 'conv1'}
  assert set(sub['classifier']) == {'kernel'}
  assert [tree_lib.path_str(p) for p, _ in tree_lib.flatten(sub)] == [
      tree_lib.path_str(p) for p in paths]
  new = tree_lib.scatter(params, jax.tree.map(jnp.zeros_like, sub))
  for p in paths:
    assert not np.any(np.asarray(new[p[0]][p[1]] if len(p) == 2
                                 else new[p[0]][p[1]][p[2]]))
  assert new['classifier']['bias'] is params['classifier']['bias']
  assert new['hidden'] is params['hidden']
  assert np.any(np.asarray(params['conv0']['kernel']))  # not mutated
  chex.assert_trees_all_equal(tree_lib.scatter(params, sub), params)
  with pytest.raises(KeyError):
    tree_lib.scatter(params, {'nope': {'kernel': jnp.zeros(1)}})


def test_magnitude_masks_and_scores():
  params = {'c': {'kernel': jnp.asarray([3., -1., 1., 1., -1., 2.]).reshape(
      1, 1, 2, 3)}, 'classifier': {'kernel': jnp.ones((3, 2))}}
  counts = {('c', 'kernel'): 3, ('classifier', 'kernel'): 0}
  masks = magnitude_subtree(params, counts)
  # |w| = 3 1 1 1 1 2: four ties at 1 -> the three lowest flat indices.
  np.testing.assert_array_equal(np.asarray(masks['c']['kernel']).ravel(),
                                [1, 0, 0, 0, 1, 1])
  assert masks['c']['kernel'].dtype == masks_lib.MASK_DTYPE
  chex.assert_shape(masks['c']['kernel'], (1, 1, 2, 3))
  assert masks_lib.zero_counts(masks) == counts
  scores = jp.init_scores(masks)
  np.testing.assert_array_equal(np.asarray(scores['c']['kernel']).ravel(),
                                np.float32([1, .99, .99, .99, 1, 1]))
  assert scores['c']['kernel'].dtype == jnp.float32
  s95 = jp.init_scores(masks, jp.C21_PRUNED_SCORE)
  assert set(np.unique(np.asarray(s95['c']['kernel'])).tolist()) == {
      np.float32(0.95).item(), 1.0}
  with pytest.raises(ValueError, match=r'in \[0, 6\]'):
    magnitude_subtree(params, {**counts, ('c', 'kernel'): 7})
  with pytest.raises(ValueError, match='not a param'):
    magnitude_subtree(params, {('d', 'kernel'): 1})


def test_check_score_tree():
  params = toy_params(1)
  counts, masks, scores = magnitude_start(params, 0.5)
  jp.check_score_tree(scores, params)
  jp.check_score_tree(masks, params)
  missing = {k: v for k, v in scores.items() if k != 'conv1'}
  with pytest.raises(ValueError, match='missing'):
    jp.check_score_tree(missing, params)
  extra = {**scores, 'hidden': {'kernel': jnp.zeros((8, 8))}}
  with pytest.raises(ValueError, match='unexpected'):
    jp.check_score_tree(extra, params)
  bad_shape = {**scores, 'conv0': {'kernel': jnp.zeros((3, 3, 4, 1))}}
  with pytest.raises(ValueError, match='shape'):
    jp.check_score_tree(bad_shape, params)
  with pytest.raises(ValueError):
    jp.check_score_tree([scores], params)
