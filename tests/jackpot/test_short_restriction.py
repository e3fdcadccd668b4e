"""The short-restriction mask update (lottery_jackpots.md §2.7, §4).

Hand-made mask-update cases are written out by hand from the rule; an
independent list-based re-implementation of that rule is compared on random
inputs with injected ties."""

import math

import chex
from hypothesis import given, settings, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxprune import masks as masks_lib
import jaxprune.jackpot as jp
from tests.helpers import magnitude_start
# By name: jaxprune.jackpot.short_restriction is also the re-exported function.
from jaxprune.jackpot.short_restriction import _device_swap_count
from jaxprune.jackpot.short_restriction import _encode_rate
from jaxprune.jackpot.short_restriction import _ordered_keys
from jaxprune.jackpot.short_restriction import _threshold_bracket
from jaxprune.jackpot.short_restriction import _threshold_search
from jaxprune.jackpot.short_restriction import ShortRestrictionState
from tests.jackpot.common import toy_params


K = ('layer', 'kernel')


def _tree(x):
  return {'layer': {'kernel': jnp.asarray(x, jnp.float32)}}


def _apply_rule(s_new, mask, prune_count, tie_rule='skip_layer', rate_fn=None,
                num_epochs=None, count=0, steps_per_epoch=1):
  """One short-restriction update with candidate scores ``s_new``."""
  tx = jp.short_restriction({K: prune_count}, _tree(mask),
                            steps_per_epoch=steps_per_epoch, rate_fn=rate_fn,
                            num_epochs=num_epochs, tie_rule=tie_rule)
  scores = _tree(np.zeros(len(s_new)))  # 0 + s_new == s_new exactly
  state = tx.init(scores)._replace(count=jnp.int32(count))
  updates = _tree(s_new)
  out, new_state = jax.jit(tx.update)(updates, state, scores)
  chex.assert_trees_all_equal(out, updates)  # updates pass through
  assert int(new_state.count) == count + 1
  return np.asarray(new_state.masks['layer']['kernel'])


def _mask_with_zeros(n, zeros):
  m = np.ones(n, np.float32)
  m[list(zeros)] = 0
  return m


@pytest.mark.parametrize('tie_rule', ['skip_layer', 'index'])
def test_plain_swap(tie_rule):
  # P = 2; sorted s': 0.1(4) 0.2(1) | 0.9 1.0 1.05 1.1 -> t = 0.2.
  # C0 = {0} (pruned, 1.0 > t), C1 = {4} (kept, 0.1 <= t): swap.
  mask = [0, 0, 1, 1, 1, 1]
  s = [1.0, 0.2, 0.9, 1.1, 0.1, 1.05]
  np.testing.assert_array_equal(_apply_rule(s, mask, 2, tie_rule),
                                [1, 0, 1, 1, 0, 1])


def test_no_candidates_no_change():
  mask = [0, 0, 1, 1, 1, 1]
  s = [0.1, 0.2, 0.9, 1.1, 0.3, 1.05]  # already the top-4
  np.testing.assert_array_equal(_apply_rule(s, mask, 2), mask)


def test_multi_swap_rate_one_and_half():
  # P = 3; sorted: 0.1(3) 0.2(6) 0.3(4) | 0.5(0) 1.2(5) 1.3(7) 1.5(2) 2.0(1).
  # C0 = {0, 1, 2}, C1 = {3, 4, 6}.
  mask = [0, 0, 0, 1, 1, 1, 1, 1]
  s = [0.5, 2.0, 1.5, 0.1, 0.3, 1.2, 0.2, 1.3]
  np.testing.assert_array_equal(_apply_rule(s, mask, 3),
                                [1, 1, 1, 0, 0, 1, 0, 1])
  # rate 0.5: m = ceil(1.5) = 2: revive 1 (2.0), 2 (1.5); prune 3 (0.1),
  # 6 (0.2).
  np.testing.assert_array_equal(_apply_rule(s, mask, 3, rate_fn=0.5),
                                [0, 1, 1, 0, 1, 1, 0, 1])


def test_tie_straddling_threshold_skip_vs_index():
  # P = 2; t = 0.5 and three entries equal 0.5.
  # skip_layer: C0 = {0}, C1 = {2, 3}: |C0| != |C1| -> unchanged.
  # index: ranks 1(0.5) 2(0.5) | 3(0.5) 0(1.0) 4 5 -> C0 = {0}, C1 = {2}.
  mask = [0, 0, 1, 1, 1, 1]
  s = [1.0, 0.5, 0.5, 0.5, 2.0, 3.0]
  np.testing.assert_array_equal(_apply_rule(s, mask, 2, 'skip_layer'), mask)
  np.testing.assert_array_equal(_apply_rule(s, mask, 2, 'index'),
                                [1, 0, 0, 1, 1, 1])


def test_tie_with_empty_revive_set():
  # P = 2; sorted 0.1(3) 0.5(0) | 0.5(1) 0.5(2) 2 3 -> t = 0.5.
  # skip_layer: C0 = {} -> unchanged.
  # index: ranks 3, 0 | 1, 2, 4, 5 -> C0 = {1}, C1 = {3}.
  mask = [0, 0, 1, 1, 1, 1]
  s = [0.5, 0.5, 0.5, 0.1, 2.0, 3.0]
  np.testing.assert_array_equal(_apply_rule(s, mask, 2, 'skip_layer'), mask)
  np.testing.assert_array_equal(_apply_rule(s, mask, 2, 'index'),
                                [0, 1, 1, 0, 1, 1])


_V = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.0]


_RATE_MASK = [0] * 10 + [1] * 10


_RATE_S = [2.0 + v for v in _V] + _V  # |C0| = |C1| = 10


def test_rate_below_one_float64_ceil():
  # float64: 10 * 0.3 == 3.0 -> 3 swaps (revive 2, 6, 4; prune 19, 11, 15).
  got = _apply_rule(_RATE_S, _RATE_MASK, 10, rate_fn=0.3)
  zeros3 = {0, 1, 3, 5, 7, 8, 9, 19, 11, 15}
  np.testing.assert_array_equal(got, _mask_with_zeros(20, zeros3))
  # float64: 10 * (1 - 0.7) == 3.0000000000000004 -> 4 swaps (+ 8 / 13).
  assert 10 * (1 - 0.7) > 3
  got = _apply_rule(_RATE_S, _RATE_MASK, 10, rate_fn=1 - 0.7)
  zeros4 = {0, 1, 3, 5, 7, 9, 19, 11, 15, 13}
  np.testing.assert_array_equal(got, _mask_with_zeros(20, zeros4))


def test_rate_follows_epoch_of_count():
  table = [1.0, 0.3]
  tx = jp.short_restriction({K: 10}, _tree(_RATE_MASK), steps_per_epoch=2,
                            rate_fn=lambda e: table[e], num_epochs=2)
  zero = _tree(np.zeros(20))
  update = jax.jit(tx.update)
  all_swapped = _mask_with_zeros(20, range(10, 20))
  three = _mask_with_zeros(20, {0, 1, 3, 5, 7, 8, 9, 19, 11, 15})
  for count, want in [(0, all_swapped), (1, all_swapped), (2, three),
                      (3, three), (100, three)]:  # past the table: last rate
    state = tx.init(zero)._replace(count=jnp.int32(count))
    _, new_state = update(_tree(_RATE_S), state, zero)
    np.testing.assert_array_equal(new_state.masks['layer']['kernel'], want)


@pytest.mark.parametrize('tie_rule', ['skip_layer', 'index'])
def test_zero_and_full_budget_layers_never_change(tie_rule):
  masks = {'classifier': {'kernel': jnp.asarray([[1., 0.], [1., 1.]])},
           'full': {'kernel': jnp.asarray([[0., 1.], [0., 0.]])}}
  counts = {('classifier', 'kernel'): 0, ('full', 'kernel'): 4}
  tx = jp.short_restriction(counts, masks, tie_rule=tie_rule)
  scores = jax.tree.map(jnp.zeros_like, masks)
  state = tx.init(scores)
  updates = {'classifier': {'kernel': jnp.asarray([[-5., 9.], [1., 2.]])},
             'full': {'kernel': jnp.asarray([[7., -3.], [8., 9.]])}}
  _, new_state = jax.jit(tx.update)(updates, state, scores)
  chex.assert_trees_all_equal(new_state.masks, masks)


def _reference_rule(s, b, p, rate, tie_rule):
  """§2.7/§4 with Python lists and float64 ``math.ceil``."""
  s = [float(x) for x in s]
  b = [int(x) for x in b]
  n = len(s)
  if p in (0, n):
    return b
  if tie_rule == 'skip_layer':
    t = sorted(s)[p - 1]
    c0 = [i for i in range(n) if b[i] == 0 and s[i] > t]
    c1 = [i for i in range(n) if b[i] == 1 and s[i] <= t]
  else:
    ranked = sorted(range(n), key=lambda i: (s[i], i))
    rank = {i: r for r, i in enumerate(ranked)}
    c0 = [i for i in range(n) if b[i] == 0 and rank[i] >= p]
    c1 = [i for i in range(n) if b[i] == 1 and rank[i] < p]
  if not c0 or not c1 or len(c0) != len(c1):
    return b
  m = len(c0)
  if m > 1:
    m = math.ceil(m * min(rate, 1.0))
  revive = sorted(c0, key=lambda i: (s[i], i), reverse=True)[:m]
  prune = sorted(c1, key=lambda i: (s[i], i))[:m]
  for i in revive:
    b[i] = 1
  for i in prune:
    b[i] = 0
  return b


# One score tree with a layer per (n, P), and the rate picked by the step
# count from a table (steps_per_epoch = 1): one compile per tie rule.
_LAYERS = [(5, p) for p in range(1, 5)] + [(12, p) for p in (1, 2, 3, 5, 6, 8,
                                                              11)]


_LAYER_COUNTS = {(f'l{n}_{p}', 'kernel'): p for n, p in _LAYERS}


_RATES = [1.0, 0.5, 1 - 0.7, 0.05, 0.37]


_UPDATES = {}


def _layers_tree(arrays):
  return {f'l{n}_{p}': {'kernel': jnp.asarray(a, jnp.float32)}
          for (n, p), a in zip(_LAYERS, arrays)}


def _cached_update(tie_rule):
  if tie_rule not in _UPDATES:
    tx = jp.short_restriction(
        _LAYER_COUNTS, _layers_tree([np.ones(n) for n, _ in _LAYERS]),
        rate_fn=lambda e: _RATES[e], num_epochs=len(_RATES),
        tie_rule=tie_rule)
    _UPDATES[tie_rule] = jax.jit(tx.update)
  return _UPDATES[tie_rule]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), rate_index=st.integers(0, len(_RATES) - 1),
       tie_rule=st.sampled_from(['skip_layer', 'index']))
def test_matches_reference_with_ties(data, rate_index, tie_rule):
  # Few distinct values per layer: ties everywhere, also at the threshold.
  # (Subnormals are excluded: XLA flushes them to zero.)
  levels = data.draw(st.lists(st.floats(-2, 2, width=32,
                                        allow_subnormal=False),
                              min_size=1, max_size=5), label='levels')
  masks, scores = [], []
  for n, p in _LAYERS:
    zeros = data.draw(st.permutations(range(n)))[:p]
    masks.append(_mask_with_zeros(n, zeros))
    scores.append(np.asarray(data.draw(st.lists(
        st.sampled_from(levels), min_size=n, max_size=n)), np.float32))
  zero = _layers_tree([np.zeros(n) for n, _ in _LAYERS])
  state = ShortRestrictionState(masks=_layers_tree(masks),
                                count=jnp.int32(rate_index))
  _, new_state = _cached_update(tie_rule)(_layers_tree(scores), state, zero)
  for (n, p), b, s in zip(_LAYERS, masks, scores):
    got = np.asarray(new_state.masks[f'l{n}_{p}']['kernel'])
    np.testing.assert_array_equal(
        got, _reference_rule(s, b, p, _RATES[rate_index], tie_rule))
    assert int((got == 0).sum()) == p


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_default_rate_fast_path_matches_reference(data):
  """rate 1.0 + 'skip_layer' (the default) uses a sort-free closed form."""
  levels = data.draw(st.lists(st.floats(-2, 2, width=32,
                                        allow_subnormal=False),
                              min_size=1, max_size=6), label='levels')
  masks, scores = [], []
  for n, p in _LAYERS:
    zeros = data.draw(st.permutations(range(n)))[:p]
    masks.append(_mask_with_zeros(n, zeros))
    scores.append(np.asarray(data.draw(st.lists(
        st.sampled_from(levels), min_size=n, max_size=n)), np.float32))
  if 'fast' not in _UPDATES:
    tx = jp.short_restriction(
        _LAYER_COUNTS, _layers_tree([np.ones(n) for n, _ in _LAYERS]))
    _UPDATES['fast'] = jax.jit(tx.update)
  zero = _layers_tree([np.zeros(n) for n, _ in _LAYERS])
  state = ShortRestrictionState(masks=_layers_tree(masks),
                                count=jnp.int32(0))
  _, new_state = _UPDATES['fast'](_layers_tree(scores), state, zero)
  for (n, p), b, s in zip(_LAYERS, masks, scores):
    got = np.asarray(new_state.masks[f'l{n}_{p}']['kernel'])
    np.testing.assert_array_equal(got,
                                  _reference_rule(s, b, p, 1.0, 'skip_layer'))


_BRACKETED_SPLIT = {}


def _assert_split(keys, k, split, count):
  """``(split, count)`` obeys :func:`_threshold_search`'s contract."""
  ordered = np.sort(keys)
  assert int(count) == int(np.sum(keys <= split))
  if int(count) == k:  # split after the k-th smallest
    assert ordered[k - 1] <= split < ordered[k]
  else:  # a tie straddles the k-th smallest, which is the split
    assert int(count) > k and split == ordered[k - 1]


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_bracketed_split_is_exact_for_any_mask(data):
  """The threshold bracket from the current mask is verified by counting,
  and the interpolating search ends on an exact split (or the tied k-th
  smallest key) whatever the mask (k zeros or not)."""
  n = 24
  k = data.draw(st.integers(1, n - 1), label='k')
  levels = data.draw(st.lists(st.floats(-3, 3, width=32,
                                        allow_subnormal=False),
                              min_size=1, max_size=8), label='levels')
  scores = np.asarray(data.draw(st.lists(st.sampled_from(levels),
                                         min_size=n, max_size=n)), np.float32)
  zeros = data.draw(st.integers(0, n), label='zeros')  # often != k
  keep = np.ones(n, bool)
  keep[data.draw(st.permutations(range(n)))[:zeros]] = False
  if k not in _BRACKETED_SPLIT:
    def split(s, keep, k=k):
      keys = _ordered_keys(s)
      return _threshold_search(keys, k,
                               *_threshold_bracket(s, keys, keep, k))
    _BRACKETED_SPLIT[k] = jax.jit(split)
  got, count = _BRACKETED_SPLIT[k](jnp.asarray(scores), jnp.asarray(keep))
  keys = np.asarray(_ordered_keys(jnp.asarray(scores)))
  _assert_split(keys, k, np.uint32(got), count)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1000, 200_000), fraction=st.floats(0.01, 0.99),
       noise=st.sampled_from([0.0, 1e-6, 1e-3, 1e-1, 10.0]),
       seed=st.integers(0, 2**16))
def test_search_split_from_a_moved_magnitude_mask(n, fraction, noise, seed):
  """Large layers as the search sees them: a magnitude mask, then scores
  moved by noise of any scale (the bracket narrow or nearly everything)."""
  rng = np.random.default_rng(seed)
  k = min(max(int(fraction * n), 1), n - 1)
  scores = np.abs(rng.normal(size=n)).astype(np.float32)
  keep = np.ones(n, bool)
  keep[np.argsort(scores, kind='stable')[:k]] = False
  moved = (scores + noise * rng.normal(size=n)).astype(np.float32)
  keys = _ordered_keys(jnp.asarray(moved))
  got, count = jax.jit(_threshold_search, static_argnums=1)(
      keys, k, *_threshold_bracket(jnp.asarray(moved), keys,
                                    jnp.asarray(keep), k))
  _assert_split(np.asarray(keys), k, np.uint32(got), count)


_swap_count_dev = jax.jit(jax.vmap(_device_swap_count))


def _device_counts(pairs):
  enc = [_encode_rate(r) for _, r in pairs]
  return np.asarray(_swap_count_dev(
      jnp.asarray([n for n, _ in pairs], jnp.int32),
      jnp.asarray([m for m, _ in enc], jnp.int32),
      jnp.asarray([d for _, d in enc], jnp.int32)))


def test_float64_ceil_known_cases():
  n = np.arange(0, 5000)
  pairs = [(int(i), 0.3) for i in n]
  want = [jp.swap_count(int(i), 0.3) for i in n]
  np.testing.assert_array_equal(_device_counts(pairs), want)
  # float32 would give ceil(50 * 0.3) = 16; float64 gives 15.
  assert jp.swap_count(50, 0.3) == 15
  assert jp.swap_count(10, 0.3) == 3 and jp.swap_count(10, 1 - 0.7) == 4
  assert jp.swap_count(1, 0.0) == 1 and jp.swap_count(5, 0.0) == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(2, 2**31 - 1), st.integers(0, 2**40),
                          st.integers(-1, 1)), min_size=50, max_size=50),
       st.lists(st.tuples(st.integers(0, 2**31 - 1),
                          st.floats(-0.5, 1.5, allow_nan=False)),
                min_size=50, max_size=50))
def test_float64_ceil_matches_python(near_integer, random_pairs):
  pairs = list(random_pairs)
  for n, c, nudge in near_integer:  # rate c/n: n*rate lands near c
    rate = (c % (n - 1) + 1) / n
    if nudge:
      rate = math.nextafter(rate, 2.0 if nudge > 0 else -1.0)
    pairs.append((n, rate))
  want = [jp.swap_count(n, r) for n, r in pairs]
  np.testing.assert_array_equal(_device_counts(pairs), want)


@pytest.mark.parametrize('tie_rule', ['skip_layer', 'index'])
def test_multi_step_run_exact_counts_and_single_compile(tie_rule):
  params = toy_params(6)
  params_before = jax.tree.map(np.array, params)
  counts, masks0, scores = magnitude_start(params, 0.7)
  tx = jp.score_optimizer(2.0, weight_decay=5e-4, epochs=3, steps_per_epoch=4,
                          prune_counts=counts, initial_masks=masks0,
                          rate_fn=jp.decaying_rate(3), tie_rule=tie_rule)
  opt_state = tx.init(scores)
  x = jnp.asarray(np.random.default_rng(7).standard_normal((8, 8, 8, 1)),
                  jnp.float32)

  def loss(p):  # uses every prunable kernel
    h = jax.lax.conv_general_dilated(x, p['conv0']['kernel'], (1, 1), 'SAME',
                                     dimension_numbers=('NHWC', 'HWIO',
                                                        'NHWC'))
    h = jax.nn.relu(h * p['bn0']['scale'] + p['bn0']['bias'])
    h = jax.lax.conv_general_dilated(h, p['conv1']['kernel'], (1, 1), 'SAME',
                                     dimension_numbers=('NHWC', 'HWIO',
                                                        'NHWC'))
    h = jnp.einsum('bhwc,cd->bhwd', jax.nn.relu(h),
                   p['block']['conv2']['kernel'][0, 0]).mean((1, 2))
    logits = h @ p['classifier']['kernel'] + p['classifier']['bias']
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, jnp.arange(8) % 10).mean()

  chex.clear_trace_counter()

  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(params, scores, opt_state):
    masks = jp.short_restriction_masks(opt_state)
    g = jax.grad(lambda s: loss(jp.effective_params(params, s, masks)))(
        scores)
    # Zero the gradient of every other entry: identical score trajectories,
    # hence ties at the threshold.
    g = jax.tree.map(
        lambda a: a * (jnp.arange(a.size).reshape(a.shape) % 2), g)
    updates, opt_state = tx.update(g, opt_state, scores)
    return optax.apply_updates(scores, updates), opt_state

  changed = 0
  for _ in range(12):
    scores, opt_state = step(params, scores, opt_state)
    masks = jp.short_restriction_masks(opt_state)
    assert masks_lib.zero_counts(masks) == counts
    np.testing.assert_array_equal(masks['classifier']['kernel'], 1)
    changed += sum(int(np.sum(np.asarray(a) != np.asarray(b)))
                   for a, b in zip(jax.tree.leaves(masks),
                                   jax.tree.leaves(masks0)))
  assert changed > 0
  assert int(jp.find_short_restriction_state(opt_state).count) == 12
  chex.assert_trees_all_equal(params, params_before)  # frozen params


def test_validation_errors():
  masks = _tree(np.ones(4))
  with pytest.raises(ValueError, match='tie_rule'):
    jp.short_restriction({K: 1}, masks, tie_rule='random')
  with pytest.raises(ValueError, match='missing'):
    jp.short_restriction({('x', 'kernel'): 1}, masks)
  with pytest.raises(ValueError, match='num_epochs'):
    jp.short_restriction({K: 1}, masks, rate_fn=jp.decaying_rate(5))
  with pytest.raises(ValueError, match='steps_per_epoch'):
    jp.short_restriction({K: 1}, masks, steps_per_epoch=0)
  tx = jp.short_restriction({K: 1}, masks)
  state = tx.init(_tree(np.zeros(4)))
  with pytest.raises(ValueError, match='params'):
    tx.update(_tree(np.zeros(4)), state)
  with pytest.raises(ValueError, match='does not match'):
    tx.init(_tree(np.zeros(5)))
  with pytest.raises(ValueError, match='ShortRestrictionState'):
    jp.short_restriction_masks((optax.EmptyState(),))
