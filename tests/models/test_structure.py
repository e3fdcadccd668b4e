"""The slicing behind the families' compaction (jaxprune.models.structure)."""

import numpy as np

from jaxprune.models import structure
from jaxprune.models.spec import ChannelUnit


def test_slice_rows_follow_the_pytorch_chw_flatten_order():
  # A Dense reading a 3-channel 2x2 map flattened as (C, H, W): rows 4c..4c+3.
  w = np.arange(12 * 2).reshape(12, 2)
  t = structure.TreeSlicer({'fc': {'kernel': w, 'bias': np.zeros(2)}}, {})
  t.slice_rows('fc', [0, 2], channels=3)
  params, _ = t.out()
  np.testing.assert_array_equal(params['fc']['kernel'],
                                np.concatenate([w[0:4], w[8:12]]))


def test_slice_out_covers_params_and_statistics():
  t = structure.TreeSlicer({'bn': {'scale': np.arange(4.), 'bias': np.ones(4)}},
                           {'bn': {'mean': np.arange(4.), 'var': np.ones(4)}})
  t.slice_out('bn', [1, 3])
  params, stats = t.out()
  np.testing.assert_array_equal(params['bn']['scale'], [1, 3])
  np.testing.assert_array_equal(stats['bn']['mean'], [1, 3])
  assert t.has('bn') and not t.has('nothing')


def test_a_selection_that_would_empty_keeps_its_largest_gamma():
  params = {'bn1': {'scale': np.array([0.1, -0.9, 0.5, 0.2])},
            'conv1': {'kernel': np.ones((1, 1, 3, 2))}}
  t = structure.TreeSlicer(params, {})
  # The point passes channels [0, 1, 3] on; the keep names none of them.
  sel = structure.compact_selection(t, params, ChannelUnit('bn1', 'select'),
                                    [0, 1, 3], np.array([2]), 'conv1', False)
  assert sel == [1]  # |gamma| 0.9 is the largest of the selected
  assert t.out()[0]['conv1']['kernel'].shape == (1, 1, 1, 2)


def test_vgg_and_basic_block_units():
  vgg = {'conv0': {}, 'bn0': {}, 'conv1': {}, 'bn1': {}, 'classifier': {}}
  units = structure.vgg_units(vgg, (('fc1_bn', 'fc1', 'classifier'),))
  assert [(u.name, u.producer, u.layer_id, u.consumer) for u in units] == [
      ('bn0', 'conv0', 1, 'conv1'), ('bn1', 'conv1', 2, 'classifier'),
      ('fc1_bn', 'fc1', None, 'classifier')]
  res = {'stage1_block0': {}, 'stage1_block1': {}, 'stage2_block0': {},
         'stem_conv': {}}
  assert [(u.name, u.layer_id, u.stage, u.consumer) for u in
          structure.basic_block_units(res)] == [
              ('stage1_block0/bn1', 2, 0, 'stage1_block0/conv2'),
              ('stage1_block1/bn1', 4, 0, 'stage1_block1/conv2'),
              ('stage2_block0/bn1', 6, 1, 'stage2_block0/conv2')]
