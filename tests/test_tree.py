"""Key paths into nested-dict pytrees (jaxprune.tree)."""

import chex
from hypothesis import given, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import tree as tree_lib


def _params():
  return {'conv0': {'kernel': jnp.ones((3, 3, 1, 4))},
          'block': {'conv1': {'kernel': jnp.zeros((1, 1, 4, 4)),
                              'bias': jnp.zeros(4)}},
          'classifier': {'kernel': jnp.ones((4, 2)), 'bias': jnp.ones(2)}}


def test_path_forms_agree():
  params = _params()
  kp = jax.tree_util.tree_flatten_with_path(params)[0][0][0]
  assert tree_lib.path_str(kp) == 'block/conv1/bias'
  assert tree_lib.path_str(('block', 'conv1', 'bias')) == 'block/conv1/bias'
  assert tree_lib.as_path('block/conv1/bias') == ('block', 'conv1', 'bias')
  assert tree_lib.get(params, 'block/conv1/kernel') is tree_lib.get(
      params, ('block', 'conv1', 'kernel'))


def test_flatten_order_is_jax_order_and_unflatten_inverts():
  params = _params()
  items = tree_lib.flatten(params)
  assert [leaf for _, leaf in items] == jax.tree.leaves(params)
  chex.assert_trees_all_equal(tree_lib.unflatten(items), params)
  with pytest.raises(ValueError, match='duplicate'):
    tree_lib.unflatten(items + items[:1])
  with pytest.raises(TypeError, match='str keys'):
    tree_lib.flatten({'a': [jnp.zeros(1)]})


def test_gather_scatter_share_untouched_leaves():
  params = _params()
  paths = [('conv0', 'kernel'), ('classifier', 'kernel')]
  sub = tree_lib.gather(params, paths)
  assert set(sub) == {'conv0', 'classifier'} and set(sub['classifier']) == {
      'kernel'}
  new = tree_lib.scatter(params, jax.tree.map(jnp.zeros_like, sub))
  assert not np.any(new['conv0']['kernel'])
  assert new['classifier']['bias'] is params['classifier']['bias']
  assert new['block'] is params['block']
  assert np.all(params['conv0']['kernel'] == 1)  # not mutated
  with pytest.raises(KeyError, match='nope'):
    tree_lib.scatter(params, {'nope': {'kernel': jnp.zeros(1)}})
  with pytest.raises(KeyError, match="no key 'x'"):
    tree_lib.get(params, 'block/x')


def test_shape_mismatches_name_every_leaf():
  params = _params()
  other = tree_lib.scatter(params, {'conv0': {'kernel': jnp.ones((3, 3, 1, 5))}})
  assert tree_lib.shape_mismatches(params, params) == []
  assert tree_lib.shape_mismatches(other, params) == [
      'conv0/kernel: shape (3, 3, 1, 5), expected (3, 3, 1, 4)']
  fewer = {k: v for k, v in params.items() if k != 'classifier'}
  bad = tree_lib.shape_mismatches(fewer, params)
  assert bad == ['classifier/bias: missing', 'classifier/kernel: missing']


@given(st.dictionaries(st.text('abc', min_size=1, max_size=3),
                       st.dictionaries(st.text('xyz', min_size=1, max_size=2),
                                       st.integers(1, 4), min_size=1,
                                       max_size=3), min_size=1, max_size=4))
def test_round_trip_any_nesting(spec):
  tree = {a: {b: np.full(n, i, np.float32) for i, (b, n) in enumerate(d.items())}
          for a, d in spec.items()}
  chex.assert_trees_all_equal(tree_lib.unflatten(tree_lib.flatten(tree)), tree)
  mapped = tree_lib.map_with_path(lambda p, x: len(p) + x, tree)
  chex.assert_trees_all_equal(mapped, jax.tree.map(lambda x: x + 2, tree))
