"""Per-layer prune budgets of the Lottery-Jackpot rule (§2.2)."""


from hypothesis import given, settings, strategies as st
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune.pruning import budgets


def _rate_params(conv_a, conv_b):
  return {'conv_a': {'kernel': jnp.asarray(conv_a, jnp.float32).reshape(
              1, 1, 1, 4)},
          'conv_b': {'kernel': jnp.asarray(conv_b, jnp.float32).reshape(
              1, 1, 2, 3)},
          'classifier': {'kernel': jnp.full((2, 2), 0.01),
                         'bias': jnp.zeros(2)}}


def test_global_counts_hand_computed():
  params = _rate_params([0.1, 0.5, 0.9, 0.3], [0.2, -0.8, 0.05, 0.7, -0.6, 0.4])
  ca, cb, cc = ('conv_a', 'kernel'), ('conv_b', 'kernel'), ('classifier',
                                                            'kernel')
  # p = 0.5: keep = 5, thr = 0.5 -> a: {0.1, 0.3}, b: {0.2, 0.05, 0.4}.
  assert budgets.global_prune_counts(params, 0.5) == {cc: 0, ca: 2, cb: 3}
  # p = 0.75: keep = int(2.5) = 2, thr = 0.8 -> a: 3, b: 5.
  assert budgets.global_prune_counts(params, 0.75) == {cc: 0, ca: 3, cb: 5}
  assert budgets.global_threshold(params, 0.75) == pytest.approx(0.8)
  # p = 0.9: int(10 * (1 - 0.9)) == int(0.9999999999999998) == 0 -> error.
  with pytest.raises(ValueError, match='keeps'):
    budgets.global_prune_counts(params, 0.9)
  # Ties at thr are kept: |w| = 0.5 three times, keep = 5, thr = 0.5.
  tied = _rate_params([0.5, 0.5, 0.9, 0.3], [0.2, 0.8, 0.05, 0.5, 0.6, 0.4])
  assert budgets.global_prune_counts(tied, 0.5) == {cc: 0, ca: 1, cb: 3}
  counts = budgets.global_prune_counts(params, 0.5)
  assert budgets.overall_sparsity(counts, params) == pytest.approx(5 / 14)
  assert budgets.overall_sparsity(counts, params,
                             include_classifier=False) == pytest.approx(0.5)


def test_uniform_counts_and_validation():
  params = _rate_params([0.1, 0.5, 0.9, 0.3], [0.2, -0.8, 0.05, 0.7, -0.6, 0.4])
  counts = budgets.layerwise_prune_counts(params, 0.7, 'uniform')
  # int(4 * 0.7) = 2, int(6 * 0.7) = int(4.199...) = 4; classifier 0.
  assert counts == {('classifier', 'kernel'): 0, ('conv_a', 'kernel'): 2,
                    ('conv_b', 'kernel'): 4}
  assert all(type(c) is int for c in counts.values())
  for bad in (0, 1, 0.0, 1.0, -0.1, 1.5, float('nan'), True, '0.5'):
    with pytest.raises(ValueError):
      budgets.layerwise_prune_counts(params, bad, 'global')
    with pytest.raises(ValueError):
      budgets.layerwise_prune_counts(params, bad, 'uniform')
  with pytest.raises(ValueError, match='layerwise'):
    budgets.layerwise_prune_counts(params, 0.5, 'l2')


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from([1, 6, 40]), min_size=1, max_size=3),
       st.floats(0.05, 0.95), st.randoms(use_true_random=False))
def test_global_counts_property(sizes, p, rnd):
  # Distinct magnitudes: the total pruned is exactly N - keep.
  n_total = sum(sizes)
  mags = list(range(1, n_total + 1))
  rnd.shuffle(mags)
  params, start = {}, 0
  for i, size in enumerate(sizes):
    w = np.asarray(mags[start:start + size], np.float32) * 1e-3
    w *= np.where(np.arange(size) % 2, -1, 1)
    params[f'conv{i}'] = {'kernel': jnp.asarray(w.reshape(1, 1, 1, size))}
    start += size
  params['classifier'] = {'kernel': jnp.full((3, 2), 1e-6)}
  keep = int(n_total * (1 - p))
  if keep == 0:
    with pytest.raises(ValueError):
      budgets.global_prune_counts(params, p)
    return
  counts = budgets.global_prune_counts(params, p)
  assert counts[('classifier', 'kernel')] == 0
  assert sum(counts.values()) == n_total - keep
  assert abs(sum(counts.values()) - p * n_total) <= 1
  thr = budgets.global_threshold(params, p)
  for i in range(len(sizes)):
    w = np.abs(np.asarray(params[f'conv{i}']['kernel']))
    assert counts[(f'conv{i}', 'kernel')] == np.count_nonzero(w < thr)
