"""The mask-overlap metric, its table and report files."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune.reporting import overlap


def test_overlap_self_is_one_and_hand_computed():
  a = {'l1': {'kernel': jnp.array([1., 1., 0., 0.])},
       'l2': {'kernel': jnp.array([[1., 0.], [1., 1.]])}}
  b = {'l1': {'kernel': jnp.array([1., 0., 1., 0.])},
       'l2': {'kernel': jnp.array([[1., 1.], [0., 1.]])}}
  t = overlap.overlap_table({'a': a, 'b': b}, b)
  assert t.layers == ('l1/kernel', 'l2/kernel')
  # l1: keep_B = {0, 2}; A keeps 0 -> 1/2. l2: keep_B = {00, 01, 11}; A keeps
  # 00 and 11 -> 2/3. Overall (1 + 2) / (2 + 3).
  np.testing.assert_allclose(t.values[0], [0.5, 2 / 3])
  np.testing.assert_allclose(t.overall[0], 3 / 5)
  np.testing.assert_array_equal(t.values[1], [1.0, 1.0])
  assert t.overall[1] == 1.0
  assert t.as_dict()['a']['overall'] == pytest.approx(0.6)
  with pytest.raises(ValueError):
    overlap.overlap_table({'bad': {'l1': a['l1']}}, b)


def test_report_files(tmp_path):
  rng = np.random.default_rng(0)
  mask = lambda: {'a': {'kernel': jnp.asarray(rng.random((3, 3, 2, 4)) > .5,
                                             jnp.float32)},
                  'b': {'kernel': jnp.asarray(rng.random((4, 5)) > .5,
                                             jnp.float32)}}
  masks = {name: mask() for name in ('magnitude', 'snip', 'random')}
  table = overlap.overlap_table(masks, masks['snip'])
  paths = overlap.write_overlap_report(table, tmp_path / 'report')
  for p in paths.values():
    with open(p, 'rb') as f:
      data = f.read()
    assert len(data) > 100
  with open(paths['heatmap'], 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  md = open(paths['markdown'], encoding='utf-8').read()
  assert '|keep_A ∧ keep_B| / |keep_B|' in md
  for name in masks:
    assert name in md

