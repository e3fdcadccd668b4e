"""Unstructured magnitude pruning (rethinking.md §3.6; the jackpot start)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import masks as masks_lib
from jaxprune import pruning
from tests.pruning.common import toy_variables

MAG = pruning.get_criterion('magnitude')


def _conv_abs(params):
  return np.sort(np.concatenate([np.abs(params[c]['kernel']).ravel()
                                 for c in ('conv0', 'conv1')]))


def test_global_threshold_rule_of_the_official_code():
  v = toy_variables()
  params = v['params']
  masks = MAG(v, None, 0.5).masks
  assert jax.tree.structure(masks) == jax.tree.structure(params)
  allw = _conv_abs(params)
  thr = allw[int(allw.size * 0.5)]
  for c in ('conv0', 'conv1'):
    np.testing.assert_array_equal(masks[c]['kernel'],
                                  np.abs(params[c]['kernel']) > thr)
  for leaf in (masks['classifier']['kernel'], masks['bn0']['scale']):
    assert np.all(np.asarray(leaf) == 1)
  assert masks_lib.density(masks) == pytest.approx(
      1 - (int(allw.size * 0.5) + 1) / allw.size)


def test_per_layer_counts_are_the_jackpot_start():
  v = toy_variables()
  counts = {('conv0', 'kernel'): 5, ('conv1', 'kernel'): 100,
            ('classifier', 'kernel'): 0}
  masks = MAG(v, None, counts).masks
  for path, c in counts.items():
    w = np.abs(v['params'][path[0]]['kernel']).ravel()
    want = np.ones(w.size)
    want[np.argsort(w, kind='stable')[:c]] = 0
    np.testing.assert_array_equal(np.asarray(masks[path[0]]['kernel']).ravel(),
                                  want)
  assert masks_lib.zero_counts(masks, counts) == counts


def test_iterative_prunes_a_fraction_of_the_remaining():
  v = toy_variables()
  m1 = MAG(v, None, 0.5).masks
  masked = {'params': masks_lib.apply_masks(v['params'], m1),
            'batch_stats': {}}
  m2 = pruning.get_criterion('magnitude_iterative')(masked, None, 0.5).masks
  nnz = lambda m: sum(int(np.count_nonzero(m[c]['kernel']))
                      for c in ('conv0', 'conv1'))
  assert nnz(m2) == nnz(m1) - int(nnz(m1) * 0.5) - 1
  for c in ('conv0', 'conv1'):  # pruned weights stay pruned
    assert np.all(np.asarray(m2[c]['kernel'])[np.asarray(m1[c]['kernel'])
                                              == 0] == 0)


def test_layerwise_threshold_per_kernel():
  v = toy_variables()
  m = pruning.get_criterion('magnitude_layerwise')(v, None, 0.25).masks
  for c in ('conv0', 'conv1'):
    n = v['params'][c]['kernel'].size
    assert np.count_nonzero(m[c]['kernel']) == n - int(n * 0.25) - 1


@pytest.mark.parametrize('bad', [-0.1, 1.0, 1.5])
def test_bad_sparsity(bad):
  with pytest.raises(ValueError, match=r'\[0, 1\)'):
    MAG(toy_variables(), None, bad)


def test_sparsity_zero_keeps_every_non_zero_weight():
  v = toy_variables()
  v['params']['conv0']['kernel'][0, 0, 0, :2] = 0.0
  m = MAG(v, None, 0.0).masks
  assert masks_lib.zero_counts(m)[('conv0', 'kernel')] == 2
  np.testing.assert_array_equal(jnp.asarray(m['conv1']['kernel']), 1)
