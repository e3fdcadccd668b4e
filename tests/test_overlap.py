"""Tests of jaxprune.overlap (criteria at shared prune counts, overlap report)."""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from jaxprune import jackpot
from jaxprune import models
from jaxprune import overlap


@pytest.fixture(scope='module')
def digits():
  model = models.create_model('digits_cnn', 10)
  x = jax.random.normal(jax.random.key(1), (8, 8, 8, 1))
  y = jnp.arange(8) % 10
  variables = model.init(jax.random.key(0), x[:1])
  params, stats = variables['params'], variables['batch_stats']
  counts = jackpot.global_prune_counts(params, 0.7)
  # A non-zero classifier count too, to exercise every layer.
  cls = ('classifier', 'kernel')
  counts[cls] = 17
  masks = overlap.all_masks(params, stats, model, counts, [(x, y)],
                            jax.random.key(2), (8, 8, 1),
                            synflow_iterations=4)
  return params, stats, model, counts, masks, (x, y)


def test_exact_prune_counts_every_criterion(digits):
  params, _, _, counts, masks, _ = digits
  assert set(masks) == set(overlap.CRITERIA)
  want = jax.tree.structure(
      jackpot.gather(params, jackpot.prunable_paths(params)))
  for name, m in masks.items():
    assert jax.tree.structure(m) == want, name
    jackpot.check_score_tree(m, params, name)
    assert jackpot.mask_zero_counts(m) == counts, name
    for leaf in jax.tree.leaves(m):
      assert leaf.dtype == jnp.float32
      assert set(np.unique(np.asarray(leaf))) <= {0.0, 1.0}


def test_magnitude_equals_jackpot_and_criteria_differ(digits):
  params, _, _, counts, masks, _ = digits
  for a, b in zip(jax.tree.leaves(masks['magnitude']),
                  jax.tree.leaves(jackpot.magnitude_masks(params, counts))):
    np.testing.assert_array_equal(a, b)
  table = overlap.overlap_table(masks, masks['magnitude'])
  assert table.overall[table.criteria.index('magnitude')] == 1.0
  assert table.overall[table.criteria.index('random')] < 1.0


def test_l1_filter_rule():
  w = np.array([[1., 2.], [3., -9.], [0.5, 4.]])  # (in=3, out=2) "classifier"
  w4 = jnp.asarray(np.arange(1, 25, dtype=np.float32).reshape(1, 2, 3, 4))
  params = {'classifier': {'kernel': jnp.asarray(w, jnp.float32)},
            'c': {'kernel': w4}}
  # Filter L1 norms of c: output channel j sums w4[..., j]; j=0 smallest.
  m = overlap.l1_filter_masks(params, {('c', 'kernel'): 8,
                                       ('classifier', 'kernel'): 4})
  mc = np.asarray(m['c']['kernel'])
  np.testing.assert_array_equal(mc[..., 0], 0)  # 6 weights: whole filter 0
  # 2 more in filter 1 (next smallest norm): its two smallest |w| (2 and 6).
  np.testing.assert_array_equal(mc[..., 1].ravel(), [0, 0, 1, 1, 1, 1])
  np.testing.assert_array_equal(mc[..., 2:], 1)
  # Classifier: column norms 4.5 and 15; prune column 0 (3) + smallest of
  # column 1 (|2|).
  np.testing.assert_array_equal(np.asarray(m['classifier']['kernel']),
                                [[0, 0], [0, 1], [0, 1]])


def _toy():
  rng = np.random.default_rng(0)
  params = {
      'conv': {'kernel': jnp.asarray(rng.normal(size=(1, 1, 4, 5)),
                                     jnp.float32)},
      'classifier': {'kernel': jnp.asarray(rng.normal(size=(5, 3)),
                                           jnp.float32),
                     'bias': jnp.asarray(rng.normal(size=(3,)), jnp.float32)},
  }

  def loss_fn(p, batch):
    x, y = batch
    h = x @ p['conv']['kernel'][0, 0]
    logits = h @ p['classifier']['kernel'] + p['classifier']['bias']
    return 0.5 * jnp.mean(jnp.sum((logits - y) ** 2, axis=1))

  x = rng.normal(size=(6, 4)).astype(np.float32)
  y = rng.normal(size=(6, 3)).astype(np.float32)
  return params, loss_fn, x, y


def test_snip_scores_match_numpy():
  params, loss_fn, x, y = _toy()
  k = np.asarray(params['conv']['kernel'][0, 0], np.float64)
  wc = np.asarray(params['classifier']['kernel'], np.float64)
  b = np.asarray(params['classifier']['bias'], np.float64)
  h = x @ k
  d = (h @ wc + b - y) / len(x)
  g_wc = h.T @ d
  g_k = x.T @ (d @ wc.T)
  s = overlap.snip_scores(params, loss_fn, (jnp.asarray(x), jnp.asarray(y)))
  np.testing.assert_allclose(s['classifier']['kernel'], np.abs(g_wc * wc),
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(s['conv']['kernel'][0, 0], np.abs(g_k * k),
                             rtol=1e-5, atol=1e-6)
  # Two identical batches average to the same scores.
  s2 = overlap.snip_scores(params, loss_fn, [(x, y), (x, y)])
  np.testing.assert_allclose(s2['conv']['kernel'], s['conv']['kernel'],
                             rtol=1e-6)
  counts = {('classifier', 'kernel'): 4, ('conv', 'kernel'): 7}
  m = overlap.snip_masks(params, counts, loss_fn, (x, y))
  flat = np.abs(g_k * k).ravel()
  pruned = np.asarray(m['conv']['kernel'][0, 0]).ravel() == 0
  assert pruned.sum() == 7
  assert flat[pruned].max() <= flat[~pruned].min()


def test_grasp_hvp_matches_finite_difference():
  params, loss_fn, x, y = _toy()
  batch = (jnp.asarray(x), jnp.asarray(y))
  s = overlap.grasp_scores(params, loss_fn, batch)
  kern = jackpot.gather(params, jackpot.prunable_paths(params))

  def grad_k(kk):
    return jax.grad(lambda q: loss_fn(jackpot.scatter(params, q), batch))(kk)

  g = grad_k(kern)
  eps = 1e-3
  plus = grad_k(jax.tree.map(lambda a, v: a + eps * v, kern, g))
  minus = grad_k(jax.tree.map(lambda a, v: a - eps * v, kern, g))
  hg = jax.tree.map(lambda p, m: (p - m) / (2 * eps), plus, minus)
  want = jax.tree.map(lambda h, w: -h * w, hg, kern)
  for a, b in zip(jax.tree.leaves(s), jax.tree.leaves(want)):
    np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-3)
  counts = {('classifier', 'kernel'): 5, ('conv', 'kernel'): 3}
  m = overlap.grasp_masks(params, counts, loss_fn, batch)
  sc = np.asarray(s['classifier']['kernel']).ravel()
  pruned = np.asarray(m['classifier']['kernel']).ravel() == 0
  assert pruned.sum() == 5 and sc[pruned].min() >= sc[~pruned].max()


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


def test_report_files(digits, tmp_path):
  _, _, _, _, masks, _ = digits
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
  for name in overlap.CRITERIA:
    assert name in md
