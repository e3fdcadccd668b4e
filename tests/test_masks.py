"""Full-structure masks, prunable kernels, density (jaxprune.masks)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import tree as tree_lib


def _toy():
  rng = np.random.default_rng(0)
  n = lambda *s: jnp.asarray(rng.standard_normal(s), jnp.float32)
  return {'conv0': {'kernel': n(3, 3, 1, 4)},
          'bn0': {'scale': jnp.ones(4), 'bias': jnp.zeros(4)},
          'block': {'conv2': {'kernel': n(1, 1, 4, 4)}},
          'hidden': {'kernel': n(4, 4), 'bias': jnp.zeros(4)},
          'head': {'kernel': n(4, 10), 'bias': jnp.zeros(10)}}


def test_prunable_paths_are_convs_and_the_named_classifier():
  params = _toy()
  assert masks_lib.conv_kernel_paths(params) == [('block', 'conv2', 'kernel'),
                                                 ('conv0', 'kernel')]
  assert masks_lib.prunable_paths(params, classifier='head') == [
      ('block', 'conv2', 'kernel'), ('conv0', 'kernel'), ('head', 'kernel')]
  # Another Dense layer is never prunable; a missing classifier is not added.
  assert masks_lib.prunable_paths(params) == masks_lib.conv_kernel_paths(
      params)


def test_prunable_paths_of_a_registered_model():
  spec = models.get_spec('digits_cnn').bind(10, [4, 'M', 8])
  params = spec.abstract_variables()['params']
  assert masks_lib.prunable_paths(params, spec.classifier) == [
      ('classifier', 'kernel'), ('conv0', 'kernel'), ('conv1', 'kernel')]


@pytest.mark.parametrize('name,num_classes,conv,classifier', [
    ('vgg19_jackpot', 10, 20_018_880, 5_120),
    ('vgg19_jackpot', 100, 20_018_880, 51_200),
    ('resnet32_jackpot', 10, 1_844_064, 1_280),
    ('resnet32_jackpot', 100, 1_844_064, 12_800),
])
def test_jackpot_prunable_counts(name, num_classes, conv, classifier):
  """lottery_jackpots.md §7: conv kernels + the classifier kernel."""
  spec = models.get_spec(name).bind(num_classes)
  params = spec.abstract_variables()['params']
  paths = masks_lib.prunable_paths(params, spec.classifier)
  sizes = {tree_lib.path_str(p): math.prod(tree_lib.get(params, p).shape)
           for p in paths}
  assert sizes.pop('classifier/kernel') == classifier
  assert sum(sizes.values()) == conv
  biased = [tree_lib.path_str(p) for p, _ in tree_lib.flatten(params)
            if p[-1] == 'bias' and 'bn' not in p[-2]]
  assert biased == ['classifier/bias']  # convs are bias-free


def test_zero_lowest_ties_prune_the_lower_index_first():
  m = masks_lib.zero_lowest(jnp.asarray([3., 1., 1., 1., 1., 2.]), 3)
  np.testing.assert_array_equal(m, [1, 0, 0, 0, 1, 1])
  assert m.dtype == masks_lib.MASK_DTYPE
  np.testing.assert_array_equal(masks_lib.zero_lowest(jnp.ones((2, 2)), 0), 1)
  m = jax.jit(lambda s: masks_lib.zero_lowest(s, 2))(jnp.arange(6.).reshape(2, 3))
  np.testing.assert_array_equal(m, [[0, 0, 1], [1, 1, 1]])


def test_full_masks_density_and_checks():
  params = _toy()
  sub = {'conv0': {'kernel': jnp.zeros((3, 3, 1, 4)).at[0].set(1.0)}}
  masks = masks_lib.full_masks(params, sub)
  masks_lib.check_masks(masks, params)
  assert np.all(masks['hidden']['kernel'] == 1)
  assert masks_lib.zero_counts(masks)[('conv0', 'kernel')] == 24
  # density over the conv kernels: 12 + 16 kept of 36 + 16
  assert masks_lib.density(masks) == pytest.approx(28 / 52)
  sp = masks_lib.sparsity(masks)
  assert sp['conv0/kernel'] == pytest.approx(24 / 36)
  masked = masks_lib.apply_masks(params, masks)
  assert np.all(masked['conv0']['kernel'][1:] == 0)
  bad = tree_lib.scatter(masks, {'conv0': {'kernel': jnp.ones(3)}})
  with pytest.raises(ValueError, match='conv0/kernel: shape'):
    masks_lib.check_masks(bad, params)
  with pytest.raises(ValueError, match='other than 0 and 1'):
    masks_lib.check_binary(jax.tree.map(lambda m: m * 0.5, masks))
