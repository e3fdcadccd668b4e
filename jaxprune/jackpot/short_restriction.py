"""Short restriction: the per-step binary-mask update as an optax transform.

Implements ``lottery_jackpots.md`` §4 (jaxprune's decision), i.e. the released
code's ``final_pop_up`` (§2.7), as the **last** element of the score optimizer
chain. Its state holds the binary mask (one array per prunable layer, score
tree structure) and a step count; the forward pass of step ``t + 1`` reads the
mask produced at step ``t`` (step 0 uses the magnitude mask).

Rule, per layer with flattened candidate scores ``s' = scores + updates``,
mask ``b`` and static budget ``P = P_l``:

1. ``t`` = the ``P``-th smallest ``s'``.
2. Revive candidates ``C0 = {b = 0, s' > t}``; prune candidates
   ``C1 = {b = 1, s' <= t}``.
3. If ``|C0| != |C1|`` or either is empty: no change in this layer.
4. Else ``m = |C0|`` and, if ``m > 1``, ``m = ceil(rate * |C0|)`` (float64,
   see below); revive the ``m`` members of ``C0`` with the highest ``s'`` and
   prune the ``m`` members of ``C1`` with the lowest ``s'``.

Layers with ``P = 0`` (the classifier) or ``P = n`` never change (skipped
statically). The updates are returned unchanged.

Tie rules (``tie_rule``):

* ``'skip_layer'`` (default, the released code): ``C0``/``C1`` are defined by
  value as above, so a tie straddling ``t`` gives ``|C0| != |C1|`` and freezes
  the layer for that step.
* ``'index'``: entries are ranked by ``(s', flat index)`` (equal scores: lower
  index ranks lower) and candidates are defined by rank: ``C0`` = pruned
  entries at rank ``>= P`` (0-based), ``C1`` = kept entries at rank ``< P``.
  With exactly ``P`` zeros in the mask ``|C0| == |C1|`` always holds, so no
  layer is frozen by a tie (close to the 2021 code's per-forward top-k).

Under both rules, members of ``C0`` (``C1``) are ranked for the ``rate < 1``
selection by ``(s', flat index)``: among equal scores the higher index is
revived first and the lower index is pruned first. ``-0.0`` is ranked as
``+0.0``; scores must be finite (XLA on CPU/GPU also flushes subnormal scores
to zero, which only matters for scores below 1.2e-38).

Rate and its ``ceil``. ``rate = rate_fn(epoch)`` with ``epoch = count //
steps_per_epoch``. ``rate_fn`` is a *host* Python function of an int epoch
(default: constant 1.0, the released behaviour, under which every candidate
pair swaps); it is tabulated in float64 at construction for epochs
``0 .. num_epochs - 1`` (later epochs reuse the last entry) and clipped to
``[0, 1]``. The released code evaluates ``ceil(len(C0) * rate)`` in float64
Python; a float32 evaluation differs for 166 values of ``|C0| < 5000`` at rate
0.3 (e.g. ``50 * 0.3``: float64 ``15.0 -> 15``, float32 ``15.000001 -> 16``).
To reproduce it on device with ``jax_enable_x64`` off, the float64 rate is
encoded on the host as 7 exact base-2^12 digits and ``ceil(fl64(rate * n))``
is evaluated in int32 limb arithmetic (:func:`_device_swap_count`): the exact
product ``x = K + f`` is formed, and for ``K >= 1`` ``ceil(fl64(x)) = K``
when ``f <= 2^(floor(log2 K) - 53)`` (``x`` rounds down to ``K``), else
``K + 1`` (``K = 0``: 1 if ``f > 0``). Rates below 2^-32 give ``rate * n <
1/2``, hence 1. This equals :func:`swap_count` bit for bit, with no host sync
(tested against Python on 0.3 for ``n < 5000`` and on random and
near-integer products).

Note: in float64 ``10 * 0.3 == 3.0``, so rate 0.3 with ``|C0| = 10`` swaps 3
pairs; ``10 * (1 - 0.7)`` is ``3.0000000000000004`` and swaps 4.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, NamedTuple

import jax
from jax import lax
import jax.numpy as jnp
import numpy as np
import optax

from jaxprune import masks as masks_lib
from jaxprune import tree as tree_lib
from jaxprune.pruning import budgets

Path = tree_lib.Path
RateFn = Callable[[int], float]

TIE_RULES = ('skip_layer', 'index')

# Rate encodings (host -> device table).
_ZERO, _TINY, _FULL, _DIGITS = 0, 1, 2, 3
_DIGIT_BITS = 12
_NUM_DIGITS = 7  # 84 fractional bits: exact for every float64 in [2^-32, 1)
_DIGIT_MASK = (1 << _DIGIT_BITS) - 1
_TINY_BELOW = 2.0 ** -32  # rate * n < 1/2 for n < 2^31: ceil is 1


class ShortRestrictionState(NamedTuple):
  """State of :func:`short_restriction`.

  Attributes:
    masks: binary mask score tree (float32 0/1, kernel shapes). The forward
      pass of the next step uses these masks.
    count: int32 scalar, number of updates applied so far.
  """
  masks: Any
  count: jax.Array


def constant_rate(value: float = 1.0) -> RateFn:
  """``rate_fn`` returning ``value`` for every epoch (1.0: released code)."""
  value = float(value)
  return lambda epoch: value


def decaying_rate(num_epochs: int, power: float = 4.0) -> RateFn:
  """``rate(e) = (1 - e / E) ** power`` in float64, *without* the ``ceil``.

  The released CIFAR code computes ``ceil((1 - e/E)**4)``, which is always 1
  (§2.7); this is the decaying alternative of §4.

  Args:
    num_epochs: ``E``.
    power: the exponent (4 in the released code).

  Returns:
    A host function of the int epoch.
  """
  if num_epochs < 1:
    raise ValueError(f'num_epochs must be >= 1; got {num_epochs}')
  return lambda epoch: (1.0 - epoch / num_epochs) ** power


def swap_count(n0: int, rate: float) -> int:
  """Host reference: pairs swapped when ``|C0| = |C1| = n0``, float64 rule.

  ``m = n0`` if ``n0 <= 1``, else ``ceil(n0 * rate)`` in float64 Python, with
  the rate clipped to ``[0, 1]`` (so ``0 <= m <= n0``).
  """
  rate = min(max(float(rate), 0.0), 1.0)
  if n0 <= 1:
    return n0
  return min(max(math.ceil(n0 * rate), 0), n0)


def _encode_rate(rate: float) -> tuple[int, list[int]]:
  """Float64 rate -> (mode, 7 base-2^12 fractional digits, most significant
  first), exact for rates in [2^-32, 1)."""
  rate = float(rate)
  if math.isnan(rate):
    raise ValueError('rate_fn returned NaN')
  if rate >= 1.0:
    return _FULL, [0] * _NUM_DIGITS
  if rate <= 0.0:
    return _ZERO, [0] * _NUM_DIGITS
  if rate < _TINY_BELOW:
    return _TINY, [0] * _NUM_DIGITS
  num, den = rate.as_integer_ratio()
  k = den.bit_length() - 1  # den == 2**k
  total_bits = _DIGIT_BITS * _NUM_DIGITS
  assert den == 1 << k and k <= total_bits, (rate, k)
  scaled = num << (total_bits - k)
  digits = [(scaled >> (_DIGIT_BITS * (_NUM_DIGITS - 1 - j))) & _DIGIT_MASK
            for j in range(_NUM_DIGITS)]
  return _DIGITS, digits


def _bit_length(x: jax.Array) -> jax.Array:
  return jnp.int32(32) - lax.clz(x).astype(jnp.int32)


def _ceil_mul_digits(n: jax.Array, digits: jax.Array) -> jax.Array:
  """``ceil(fl64(rate * n))`` for ``rate = sum_j digits[j-1] 2^(-12 j)``.

  Args:
    n: int32 array, ``0 <= n < 2^31``.
    digits: int32 ``(7,)``, ``digits[j - 1]`` is the digit at ``2^(-12 j)``.

  Returns:
    int32 array like ``n``.
  """
  n = n.astype(jnp.int32)
  n_limbs = [n & _DIGIT_MASK, (n >> _DIGIT_BITS) & _DIGIT_MASK,
             n >> (2 * _DIGIT_BITS)]
  # Slot q holds base-2^12 position q - 7 (q = 0..8; positions -7..1).
  slots = _NUM_DIGITS + 2
  acc = [jnp.zeros_like(n) for _ in range(slots)]
  for i, n_i in enumerate(n_limbs):
    for j in range(1, _NUM_DIGITS + 1):
      q = i - j + _NUM_DIGITS
      if 0 <= q < slots:
        acc[q] = acc[q] + n_i * digits[j - 1]  # each product < 2^24
  carry = jnp.zeros_like(n)
  d = []
  for q in range(slots):
    v = acc[q] + carry
    d.append(v & _DIGIT_MASK)
    carry = v >> _DIGIT_BITS
  k_int = d[_NUM_DIGITS] + (d[_NUM_DIGITS + 1] << _DIGIT_BITS) + (
      carry << (2 * _DIGIT_BITS))
  frac = d[:_NUM_DIGITS]  # frac[q] at 2^(12 q) of F = f * 2^84
  # Bit length of F and whether F is a power of two.
  bitlen = jnp.zeros_like(n)
  nonzero = jnp.zeros_like(n)
  top_pop = jnp.zeros_like(n)
  for q in range(_NUM_DIGITS):  # ascending: the last nonzero digit wins
    nz = frac[q] != 0
    bitlen = jnp.where(nz, _DIGIT_BITS * q + _bit_length(frac[q]), bitlen)
    top_pop = jnp.where(nz, lax.population_count(frac[q]), top_pop)
    nonzero = nonzero + nz.astype(jnp.int32)
  is_pow2 = (nonzero == 1) & (top_pop == 1)
  # f > 2^(e - 53)  <=>  F > 2^(31 + e), e = floor(log2 K), K >= 1.
  e = _bit_length(jnp.maximum(k_int, 1)) - 1
  s = 31 + e
  above = (bitlen > s + 1) | ((bitlen == s + 1) & ~is_pow2)
  return jnp.where(k_int == 0, (nonzero > 0).astype(jnp.int32),
                   k_int + above.astype(jnp.int32))


def _device_swap_count(n0: jax.Array, mode: jax.Array,
                       digits: jax.Array) -> jax.Array:
  """Jittable :func:`swap_count` for an encoded rate (int32 arithmetic)."""
  n0 = n0.astype(jnp.int32)
  m = jnp.select(
      [mode == _ZERO, mode == _TINY, mode == _FULL],
      [jnp.zeros_like(n0), jnp.minimum(n0, 1), n0],
      _ceil_mul_digits(n0, digits))
  m = jnp.where(n0 > 1, m, n0)
  return jnp.clip(m, 0, n0)


def _layer_candidates(s: jax.Array, b: jax.Array, prune_count: int,
                      tie_rule: str) -> dict[str, jax.Array]:
  """Sorted view and candidate sets of one layer (any shape)."""
  s = s.reshape(-1)
  keep = b.reshape(-1) != 0
  iota = lax.iota(jnp.int32, s.size)
  key = jnp.where(s == 0, jnp.zeros_like(s), s)  # rank -0.0 as +0.0
  s_sorted, order = lax.sort((key, iota), num_keys=1, is_stable=True)
  keep_sorted = keep[order]
  if tie_rule == 'skip_layer':
    above = s_sorted > s_sorted[prune_count - 1]
  else:  # 'index': candidates by rank
    above = iota >= prune_count
  c0 = ~keep_sorted & above
  c1 = keep_sorted & ~above
  c0_cum = jnp.cumsum(c0, dtype=jnp.int32)
  c1_cum = jnp.cumsum(c1, dtype=jnp.int32)
  return dict(order=order, keep_sorted=keep_sorted, c0=c0, c1=c1,
              c0_cum=c0_cum, c1_cum=c1_cum, n0=c0_cum[-1], n1=c1_cum[-1])


def _apply_swaps(c: dict[str, jax.Array], m: jax.Array,
                 shape: tuple[int, ...]) -> jax.Array:
  """New mask of one layer: swap the ``m`` most confident pairs."""
  revive = c['c0'] & (c['c0_cum'] > c['n0'] - m)  # m highest-ranked of C0
  prune = c['c1'] & (c['c1_cum'] <= m)  # m lowest-ranked of C1
  new_sorted = (c['keep_sorted'] | revive) & ~prune
  n = new_sorted.size
  new_keep = jnp.zeros((n,), bool).at[c['order']].set(new_sorted,
                                                      unique_indices=True)
  return new_keep.astype(masks_lib.MASK_DTYPE).reshape(shape)


def _ordered_keys(x: jax.Array) -> jax.Array:
  """uint32 keys whose order is the float order of ``x`` (-0.0 as +0.0)."""
  x = jnp.where(x == 0, jnp.zeros_like(x), x)
  bits = lax.bitcast_convert_type(x.astype(jnp.float32), jnp.uint32)
  return jnp.where(bits >> 31 == 1, ~bits, bits | jnp.uint32(0x80000000))


# Every third step of :func:`_threshold_search` halves the interval, whatever
# the interpolation guesses: at most 3 * 32 counting passes.
_BISECT_EVERY = 3


def _threshold_search(keys: jax.Array, k: int, lo: jax.Array, hi: jax.Array,
                      below: jax.Array, upto: jax.Array
                      ) -> tuple[jax.Array, jax.Array]:
  """A key ``h`` that splits uint32 ``keys`` after the k-th smallest, in few
  counting passes and without a sort.

  Starts from an interval with ``below = #{keys < lo} < k <= upto =
  #{keys <= hi}`` (:func:`_threshold_bracket`) and shrinks it, one
  vectorised count per step, until ``#{keys <= hi} == k`` or ``lo == hi``.
  The step's pivot interpolates the counts linearly in key space, aiming
  half an entry past the k-th (scores are locally near uniform, so a few
  steps land between the k-th and the next key); every
  ``_BISECT_EVERY``-th step bisects instead, which bounds the passes. From
  the full key range (no bracket) every step bisects: interpolation is
  only good where keys are near linear in the scores.

  Args:
    keys: uint32 ``(n,)``, from :func:`_ordered_keys`.
    k: static, ``1 <= k < n``.
    lo, hi, below, upto: the starting interval and its counts (uint32,
      uint32, int32, int32 scalars).

  Returns:
    ``(h, count)`` with ``count = #{keys <= h}``. Either ``count == k`` and
    ``keys > h`` marks exactly the ``n - k`` largest keys, or ``count > k``
    and ``h`` is the k-th smallest key, shared by entries on both sides of
    the split (a tie straddles it).
  """
  full_range = (lo == 0) & (hi == jnp.uint32(0xFFFFFFFF))

  def body(carry):
    lo, hi, below, upto, step = carry
    width = hi - lo  # >= 1 inside the loop
    aim = (k - below + 0.5) / (upto - below).astype(jnp.float32)
    offset = jnp.minimum(width.astype(jnp.float32) * aim, 4294967040.0)
    guess = lo + jnp.minimum(offset.astype(jnp.uint32), width - 1)
    bisect = (step % _BISECT_EVERY == _BISECT_EVERY - 1) | full_range
    mid = jnp.where(bisect, lo + width // 2, guess)
    count = jnp.sum(keys <= mid, dtype=jnp.int32)
    enough = count >= k
    return (jnp.where(enough, lo, mid + 1), jnp.where(enough, mid, hi),
            jnp.where(enough, below, count), jnp.where(enough, count, upto),
            step + 1)

  def searching(carry):
    lo, hi, _, upto, _ = carry
    return (lo < hi) & (upto != k)

  _, hi, _, upto, _ = lax.while_loop(
      searching, body, (lo, hi, below, upto, jnp.int32(0)))
  return hi, upto


def _threshold_bracket(scores: jax.Array, keys: jax.Array, keep: jax.Array,
                       k: int) -> tuple[jax.Array, ...]:
  """An interval holding the k-th smallest key, from the current mask.

  With ``A`` the ``k`` pruned entries, ``a = max keys[A]`` and ``c = min
  keys[not A]``: the k-th smallest lies in ``[c, a]`` when ``a >= c`` and is
  ``a`` otherwise. Scores move little per step, so this interval is narrow
  and the search short (the search's exact threshold at a fraction of 32
  passes). ``a`` and ``c`` are taken over the float scores (the order of
  their keys, and twice as fast on CPU as over uint32 keys). Both bounds are
  verified by counting (``#{keys < lo} < k <= #{keys <= hi}``); a mask
  without exactly ``k`` zeros, or any other miss, falls back to the full
  key range.

  Args:
    scores: float ``(n,)``, finite.
    keys: ``_ordered_keys(scores)``.
    keep: bool ``(n,)``, the current mask.
    k: static, ``1 <= k < n``.

  Returns:
    ``(lo, hi, below, upto)``: the interval and its counts ``#{keys < lo}``
    and ``#{keys <= hi}``, as :func:`_threshold_search` takes them.
  """
  a = _ordered_keys(jnp.max(jnp.where(keep, -jnp.inf, scores)))
  c = _ordered_keys(jnp.min(jnp.where(keep, scores, jnp.inf)))
  lo = jnp.minimum(a, c)
  below = jnp.sum(keys < lo, dtype=jnp.int32)
  upto = jnp.sum(keys <= a, dtype=jnp.int32)
  valid = (below < k) & (upto >= k)
  return (jnp.where(valid, lo, jnp.uint32(0)),
          jnp.where(valid, a, jnp.uint32(0xFFFFFFFF)),
          jnp.where(valid, below, 0),
          jnp.where(valid, upto, keys.size))


def _full_swap_skip_layer(s: jax.Array, b: jax.Array,
                          prune_count: int) -> jax.Array:
  """Closed form of rate 1 with the 'skip_layer' tie rule (§2.7).

  With ``t`` the P-th smallest score, ``|C0| == |C1|`` iff ``#{s <= t} == P``
  (no tie straddles the threshold); swapping every candidate pair then gives
  ``B = 1[s > t]``; otherwise the layer keeps ``B``. (When C0 and C1 are both
  empty, ``1[s > t]`` already equals ``B``.) The split comes from counting
  passes instead of a sort (about 25x faster on CPU), bracketed by the
  current mask (:func:`_threshold_bracket`) and narrowed by interpolation
  (:func:`_threshold_search`), which also tells whether a tie straddles
  it: the fast path of the default configuration.
  """
  s = s.reshape(-1)
  keys = _ordered_keys(s)
  bracket = _threshold_bracket(s, keys, b.reshape(-1) != 0, prune_count)
  split, count = _threshold_search(keys, prune_count, *bracket)
  new = (keys > split).astype(masks_lib.MASK_DTYPE).reshape(b.shape)
  return jnp.where(count == prune_count, new, b)


def _shapes(tree: Any) -> dict[Path, tuple[int, ...]]:
  return {p: tuple(leaf.shape) for p, leaf in tree_lib.flatten(tree)}


def short_restriction(
    prune_counts: Mapping[Path, int],
    initial_masks: Any,
    *,
    steps_per_epoch: int = 1,
    rate_fn: RateFn | float | None = None,
    num_epochs: int | None = None,
    tie_rule: str = 'skip_layer',
) -> optax.GradientTransformation:
  """The short-restriction mask update as an optax transformation (§4).

  Place it **last** in the score chain so that ``updates`` are the final
  score updates; ``params`` passed to ``update`` must be the current scores.

  Args:
    prune_counts: ``{path: P_l}``, static ints, one per leaf of the score tree
      (paths as tuples or ``'a/kernel'`` strings).
    initial_masks: the step-0 binary mask score tree (the magnitude masks of
      the prunable kernels), with exactly ``P_l`` zeros per layer (not
      re-checked here).
    steps_per_epoch: optimizer steps per epoch (``epoch = count //
      steps_per_epoch``).
    rate_fn: host function ``epoch -> rate`` (float64), or a float, or
      ``None`` for the constant 1.0 of the released code.
    num_epochs: number of epochs to tabulate ``rate_fn`` over; required when
      ``rate_fn`` is callable (epochs past the table reuse its last entry).
    tie_rule: ``'skip_layer'`` (released code) or ``'index'``.

  Returns:
    An ``optax.GradientTransformation`` with state
    :class:`ShortRestrictionState`; ``update(updates, state, params)`` returns
    ``updates`` unchanged and the state with the new masks and ``count + 1``.
    The update is jittable, runs fully on device and compiles once.

  Raises:
    ValueError: for a bad ``tie_rule``, ``steps_per_epoch``, ``num_epochs``,
      or counts that do not match ``initial_masks``.
  """
  if tie_rule not in TIE_RULES:
    raise ValueError(f'tie_rule must be one of {TIE_RULES}; got {tie_rule!r}')
  if isinstance(steps_per_epoch, bool) or not isinstance(
      steps_per_epoch, (int, np.integer)) or steps_per_epoch < 1:
    raise ValueError(f'steps_per_epoch must be an int >= 1; got '
                     f'{steps_per_epoch!r}')
  steps_per_epoch = int(steps_per_epoch)
  mask_shapes = _shapes(initial_masks)
  prune_counts = {tree_lib.as_path(p): c for p, c in prune_counts.items()}
  budgets.check_prune_counts(prune_counts, mask_shapes)
  counts = {p: int(c) for p, c in prune_counts.items()}
  mask_treedef = jax.tree.structure(initial_masks)

  if rate_fn is None or isinstance(rate_fn, (int, float)):
    table = [float(1.0 if rate_fn is None else rate_fn)]
  else:
    if num_epochs is None or num_epochs < 1:
      raise ValueError('num_epochs (>= 1) is required to tabulate a callable '
                       'rate_fn')
    table = [float(rate_fn(e)) for e in range(int(num_epochs))]
  encoded = [_encode_rate(r) for r in table]
  all_full = all(mode == _FULL for mode, _ in encoded)
  modes_np = np.asarray([mode for mode, _ in encoded], np.int32)
  digits_np = np.asarray([d for _, d in encoded], np.int32)

  def init_fn(params):
    got = _shapes(params)
    if got != mask_shapes or jax.tree.structure(params) != mask_treedef:
      raise ValueError('short_restriction: the score tree does not match '
                       f'initial_masks: {got} vs {mask_shapes}')
    masks = jax.tree.map(lambda b: jnp.asarray(b, masks_lib.MASK_DTYPE),
                         initial_masks)
    return ShortRestrictionState(masks=masks, count=jnp.zeros([], jnp.int32))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError('short_restriction needs params (the current scores)')
    new_scores = optax.apply_updates(params, updates)
    if jax.tree.structure(new_scores) != jax.tree.structure(state.masks):
      raise ValueError('short_restriction: scores and masks differ in '
                       'structure')
    score_items = dict(tree_lib.flatten(new_scores))
    mask_items = tree_lib.flatten(state.masks)
    active = [(path, b) for path, b in mask_items
              if 0 < counts[path] < math.prod(b.shape)]
    if all_full and tie_rule == 'skip_layer':
      fast = {path: _full_swap_skip_layer(score_items[path], b, counts[path])
              for path, b in active}
      masks = jax.tree.unflatten(
          jax.tree.structure(state.masks),
          [fast.get(path, b) for path, b in mask_items])
      return updates, ShortRestrictionState(
          masks=masks, count=optax.safe_increment(state.count))
    cands = [_layer_candidates(score_items[path], b, counts[path], tie_rule)
             for path, b in active]
    new_by_path = {}
    if cands:
      n0 = jnp.stack([c['n0'] for c in cands])
      n1 = jnp.stack([c['n1'] for c in cands])
      if all_full:
        m = n0
      else:  # one vectorised float64-exact ceil for all layers
        epoch = state.count // steps_per_epoch
        row = jnp.clip(epoch, 0, len(table) - 1)
        m = _device_swap_count(n0, jnp.asarray(modes_np)[row],
                               jnp.asarray(digits_np)[row])
      m = jnp.where((n0 == n1) & (n0 > 0), m, 0)  # else: layer unchanged
      for i, ((path, b), c) in enumerate(zip(active, cands)):
        new_by_path[path] = _apply_swaps(c, m[i], b.shape)
    new_masks = [(path, new_by_path.get(path, b)) for path, b in mask_items]
    masks = jax.tree.unflatten(jax.tree.structure(state.masks),
                               [b for _, b in new_masks])
    return updates, ShortRestrictionState(
        masks=masks, count=optax.safe_increment(state.count))

  return optax.GradientTransformation(init_fn, update_fn)


def find_short_restriction_state(opt_state: Any) -> ShortRestrictionState:
  """The unique :class:`ShortRestrictionState` inside an optax state.

  Raises:
    ValueError: if there is none or more than one.
  """
  is_sr = lambda x: isinstance(x, ShortRestrictionState)
  found = [x for x in jax.tree.leaves(opt_state, is_leaf=is_sr) if is_sr(x)]
  if len(found) != 1:
    raise ValueError(f'expected exactly one ShortRestrictionState in the '
                     f'optimizer state; found {len(found)}')
  return found[0]


def short_restriction_masks(opt_state: Any) -> Any:
  """The binary mask score tree held by the short-restriction state.

  Args:
    opt_state: the state of a chain containing :func:`short_restriction`
      (e.g. :func:`~jaxprune.jackpot.optim.score_optimizer`'s).

  Returns:
    The masks to use in the next forward pass.
  """
  return find_short_restriction_state(opt_state).masks
