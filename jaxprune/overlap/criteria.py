"""Pruning-at-a-given-sparsity criteria with shared per-layer prune counts.

Every criterion returns a *mask tree* with the structure of
``jaxprune.jackpot.gather(params, prunable_paths(params))`` (float32, 1 kept,
0 pruned) holding **exactly** ``counts[path]`` zeros per prunable kernel,
where ``counts`` is ``{path: P_l}`` (e.g. ``jackpot.global_prune_counts``).
Sharing the counts makes masks of different criteria directly comparable in
the overlap study (only *which* weights are pruned differs, not how many).

Score-based criteria (SNIP, GraSP, SynFlow, random, magnitude) prune, per
layer, the ``P_l`` entries of lowest score (GraSP: highest, per its
convention); ties are broken by flat row-major index, the lower index being
pruned first (stable sort), as ``jackpot.magnitude_masks``.

Loss / apply functions: the criteria that need the network take
``loss_fn(params, batch) -> scalar`` or ``apply_fn(params, x) -> logits``
over the **full** param tree; :func:`make_apply_fn` and :func:`make_loss_fn`
build them for a Linen jaxprune model. Derivatives are taken with respect to
the prunable kernels only (other params are held fixed).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxprune.jackpot import prunable
from jaxprune.jackpot import rates
from jaxprune.jackpot import scores as jscores

Path = prunable.Path
MASK_DTYPE = jnp.float32


# ---- shared helpers -------------------------------------------------------


def _paths_and_check(params, counts: Mapping[Path, int]) -> list[Path]:
  paths = prunable.prunable_paths(params)
  rates.check_prune_counts(
      counts, {p: tuple(prunable.get_leaf(params, p).shape) for p in paths})
  return paths


def _prune_lowest(score: jax.Array, count: int) -> jax.Array:
  """Mask with 0 on the ``count`` lowest scores (ties: lower index first)."""
  flat = jnp.asarray(score, jnp.float32).reshape(-1)
  if count == 0:
    return jnp.ones(score.shape, MASK_DTYPE)
  order = jnp.argsort(flat, stable=True)
  mask = jnp.ones(flat.shape, MASK_DTYPE).at[order[:count]].set(0.0)
  return mask.reshape(score.shape)


def masks_from_scores(score_tree: Any, counts: Mapping[Path, int],
                      prune: str = 'lowest') -> dict:
  """Per layer, zero the ``P_l`` lowest (or ``'highest'``) scores.

  Args:
    score_tree: a score tree (nested dicts, one array per prunable kernel).
    counts: ``{path: P_l}`` covering exactly the score tree's paths.
    prune: ``'lowest'`` or ``'highest'``. For ``'highest'`` the scores are
      negated, so ties are still broken by lower flat index first.

  Returns:
    A float32 mask tree with the structure of ``score_tree`` and exactly
    ``P_l`` zeros per layer.
  """
  if prune not in ('lowest', 'highest'):
    raise ValueError(f"prune must be 'lowest' or 'highest'; got {prune!r}")
  items = prunable.flatten_paths(score_tree)
  rates.check_prune_counts(counts, {p: tuple(np.shape(s)) for p, s in items})
  sign = 1.0 if prune == 'lowest' else -1.0
  return prunable.unflatten_paths([
      (p, _prune_lowest(sign * jnp.asarray(s, jnp.float32), int(counts[p])))
      for p, s in items])


def _kernels(params, paths):
  return prunable.gather(params, paths)


def make_apply_fn(model, batch_stats: Any, train: bool = False
                  ) -> Callable[[Any, jax.Array], jax.Array]:
  """``apply_fn(params, x) -> logits`` for a Linen jaxprune model.

  ``train=True`` normalises with the batch statistics and discards the
  running-statistic updates (the original SNIP/GraSP code scores in train
  mode); ``train=False`` uses ``batch_stats``.
  """
  def apply_fn(params, x):
    variables = {'params': params, 'batch_stats': batch_stats}
    if train:
      out, _ = model.apply(variables, x, train=True,
                           mutable=['batch_stats'])
      return out
    return model.apply(variables, x, train=False)
  return apply_fn


def make_loss_fn(apply_fn, temperature: float = 1.0
                 ) -> Callable[[Any, tuple], jax.Array]:
  """``loss_fn(params, (x, labels))``: mean softmax cross-entropy.

  ``temperature`` divides the logits (GraSP's code uses T = 200).
  """
  def loss_fn(params, batch):
    x, y = batch
    logits = apply_fn(params, x) / temperature
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
  return loss_fn


def _as_batches(batches) -> list:
  if isinstance(batches, tuple) and len(batches) == 2 and hasattr(
      batches[0], 'shape'):
    return [batches]
  return list(batches)


def _kernel_loss(loss_fn, params, paths):
  """``f(kernels, batch)``: ``loss_fn`` with the prunable kernels replaced."""
  def f(kernels, batch):
    return loss_fn(prunable.scatter(params, kernels), batch)
  return f


def _mean_grad(loss_fn, params, paths, batches):
  f = _kernel_loss(loss_fn, params, paths)
  grad = jax.jit(jax.grad(f))
  k = _kernels(params, paths)
  batches = _as_batches(batches)
  total = None
  for b in batches:
    g = grad(k, b)
    total = g if total is None else jax.tree.map(jnp.add, total, g)
  return jax.tree.map(lambda t: t / len(batches), total)


# ---- criteria -------------------------------------------------------------


def magnitude_masks(params, counts) -> dict:
  """Per-layer magnitude masks (``jackpot.magnitude_masks``)."""
  return jscores.magnitude_masks(params, counts)


def random_masks(params, counts, key: jax.Array) -> dict:
  """Per layer, ``P_l`` weights chosen uniformly at random (without repeats).

  Each layer gets its own key ``jax.random.fold_in(key, layer index)`` (layer
  index in prunable-path order); the pruned set is the first ``P_l`` entries
  of a random permutation.
  """
  paths = _paths_and_check(params, counts)
  out = []
  for i, p in enumerate(paths):
    shape = tuple(prunable.get_leaf(params, p).shape)
    n = math.prod(shape)
    perm = jax.random.permutation(jax.random.fold_in(key, i), n)
    m = jnp.ones((n,), MASK_DTYPE).at[perm[:int(counts[p])]].set(0.0)
    out.append((p, m.reshape(shape)))
  return prunable.unflatten_paths(out)


def l1_filter_masks(params, counts) -> dict:
  """Structured L1-norm filter pruning filled to exactly ``P_l`` zeros.

  Rule (per layer, kernel of ``n`` weights, ``F`` output filters = last axis,
  i.e. HWIO ``O`` or the classifier's ``C``, each of ``s = n / F`` weights):

  1. Rank filters by ``sum |W|`` over all but the output axis, ascending (ties:
     lower filter index first).
  2. Prune the ``f = P_l // s`` lowest-norm filters entirely.
  3. Prune the remaining ``r = P_l - f*s`` weights inside the next filter in
     that ranking (the ``(f+1)``-th smallest norm), choosing its ``r``
     smallest ``|w|`` (ties: lower flat index within the filter first).

  So every layer has exactly ``P_l`` zeros, with at most one partially pruned
  filter.
  """
  paths = _paths_and_check(params, counts)
  out = []
  for p in paths:
    w = np.asarray(jax.device_get(prunable.get_leaf(params, p)), np.float32)
    shape = w.shape
    filters = np.abs(w).reshape(-1, shape[-1]).T  # (F, s)
    nf, s = filters.shape
    count = int(counts[p])
    order = np.argsort(filters.sum(axis=1), kind='stable')
    keep = np.ones((nf, s), np.float32)
    f, r = divmod(count, s)
    keep[order[:f]] = 0.0
    if r:
      nxt = order[f]
      within = np.argsort(filters[nxt], kind='stable')[:r]
      keep[nxt, within] = 0.0
    out.append((p, jnp.asarray(keep.T.reshape(shape), MASK_DTYPE)))
  return prunable.unflatten_paths(out)


def snip_scores(params, loss_fn, batches) -> dict:
  """SNIP connection sensitivity ``|g ⊙ w|`` per prunable kernel.

  ``g`` is the gradient of ``loss_fn`` w.r.t. the kernel, averaged over
  ``batches`` (one ``(x, y)`` batch or a sequence of them). This equals
  SNIP's ``|∂L/∂c|`` at ``c = 1`` for the multiplicative mask ``c``.
  """
  paths = prunable.prunable_paths(params)
  g = _mean_grad(loss_fn, params, paths, batches)
  return jax.tree.map(lambda gi, wi: jnp.abs(gi * wi), g,
                      _kernels(params, paths))


def snip_masks(params, counts, loss_fn, batches) -> dict:
  """Prunes the ``P_l`` lowest SNIP scores per layer."""
  _paths_and_check(params, counts)
  return masks_from_scores(snip_scores(params, loss_fn, batches), counts)


def grasp_scores(params, loss_fn, batches) -> dict:
  """GraSP scores ``-(H g) ⊙ w`` per prunable kernel.

  ``g = ∇L`` (averaged over ``batches``, treated as a constant) and ``H g`` is
  a Hessian-vector product of the averaged loss w.r.t. the prunable kernels,
  by forward-over-reverse differentiation. GraSP's code divides the logits
  by a temperature T = 200 (``make_loss_fn(apply_fn, temperature=200.)``).
  """
  paths = prunable.prunable_paths(params)
  batches = _as_batches(batches)
  f = _kernel_loss(loss_fn, params, paths)
  k = _kernels(params, paths)
  g = _mean_grad(loss_fn, params, paths, batches)

  @jax.jit
  def hvp(kernels, v, batch):
    return jax.jvp(lambda kk: jax.grad(f)(kk, batch), (kernels,), (v,))[1]

  hg = None
  for b in batches:
    h = hvp(k, g, b)
    hg = h if hg is None else jax.tree.map(jnp.add, hg, h)
  hg = jax.tree.map(lambda t: t / len(batches), hg)
  return jax.tree.map(lambda h, w: -h * w, hg, k)


def grasp_masks(params, counts, loss_fn, batches) -> dict:
  """Prunes the ``P_l`` **highest** GraSP scores per layer (GraSP's rule:
  removing them reduces the gradient flow least / increases it)."""
  _paths_and_check(params, counts)
  return masks_from_scores(grasp_scores(params, loss_fn, batches), counts,
                           prune='highest')


def neutral_batch_stats(batch_stats) -> Any:
  """BN running statistics mean 0, var 1 (a freshly initialised net)."""
  return jax.tree_util.tree_map_with_path(
      lambda kp, v: (jnp.zeros_like(v) if getattr(kp[-1], 'key', '') == 'mean'
                     else jnp.ones_like(v)), batch_stats)


def synflow_scores(params, masks, apply_fn, input_shape: Sequence[int]
                   ) -> dict:
  """One SynFlow scoring pass: ``(∂R/∂θ) ⊙ θ`` on the linearised network.

  ``θ = |params|`` for **every** param (kernels, biases, BN scale/bias), the
  prunable kernels also multiplied by ``masks``; ``R = sum(apply_fn(θ, 1))``
  with an all-ones input of shape ``(1, *input_shape)``. Scores are
  non-negative.
  """
  paths = prunable.prunable_paths(params)
  abs_params = jax.tree.map(jnp.abs, params)
  k = _kernels(abs_params, paths)
  x = jnp.ones((1, *input_shape), jnp.float32)

  @jax.jit
  def score(kernels, masks):
    def r(kk):
      eff = jax.tree.map(jnp.multiply, kk, masks)
      return jnp.sum(apply_fn(prunable.scatter(abs_params, eff), x))
    g = jax.grad(r)(kernels)
    return jax.tree.map(jnp.multiply, g, kernels)

  return score(k, masks)


def synflow_masks(params, counts, apply_fn, input_shape: Sequence[int],
                  iterations: int = 20) -> dict:
  """Iterative SynFlow (Tanaka et al. 2020) with per-layer counts.

  Data-free: no batch, no labels. Procedure (our adaptation to fixed
  per-layer counts ``P_l``, layer size ``n_l``, final keep fraction
  ``d_l = 1 - P_l / n_l``): for ``k = 1..iterations``, score with
  :func:`synflow_scores` under the current mask, then re-prune from scratch
  the ``n_l - round(n_l * d_l^(k/iterations))`` lowest-scoring weights of
  each layer (already-pruned weights score 0, so they stay pruned up to
  ties). This is SynFlow's exponential schedule applied per layer; the last
  iteration uses exactly ``P_l``. ``apply_fn`` should be eval-mode; SynFlow
  scores a fresh network, so pass BN statistics from
  :func:`neutral_batch_stats` to mimic it (a choice left to the caller).
  Runs in float32: very deep nets may over/underflow ``R`` (the original
  uses float64).
  """
  paths = _paths_and_check(params, counts)
  if iterations < 1:
    raise ValueError(f'iterations must be >= 1; got {iterations}')
  masks = prunable.unflatten_paths(
      [(p, jnp.ones(prunable.get_leaf(params, p).shape, MASK_DTYPE))
       for p in paths])
  for it in range(1, iterations + 1):
    s = synflow_scores(params, masks, apply_fn, input_shape)
    step_counts = {}
    for p in paths:
      n = math.prod(prunable.get_leaf(params, p).shape)
      if it == iterations:
        step_counts[p] = int(counts[p])
      else:
        d = 1.0 - counts[p] / n
        step_counts[p] = min(int(counts[p]),
                             n - int(round(n * d ** (it / iterations))))
    masks = masks_from_scores(s, step_counts)
  return masks


CRITERIA = ('magnitude', 'random', 'l1_filter', 'snip', 'grasp', 'synflow')


def all_masks(params, batch_stats, model, counts, batches, key,
              input_shape, synflow_iterations: int = 20,
              grasp_temperature: float = 200.0) -> dict[str, dict]:
  """Every criterion of :data:`CRITERIA` for a Linen jaxprune model.

  SNIP and GraSP score in train-mode BN (as their original code);
  SynFlow uses eval mode with :func:`neutral_batch_stats`.
  """
  train_apply = make_apply_fn(model, batch_stats, train=True)
  syn_apply = make_apply_fn(model, neutral_batch_stats(batch_stats),
                            train=False)
  return {
      'magnitude': magnitude_masks(params, counts),
      'random': random_masks(params, counts, key),
      'l1_filter': l1_filter_masks(params, counts),
      'snip': snip_masks(params, counts, make_loss_fn(train_apply), batches),
      'grasp': grasp_masks(params, counts,
                           make_loss_fn(train_apply, grasp_temperature),
                           batches),
      'synflow': synflow_masks(params, counts, syn_apply, input_shape,
                               synflow_iterations),
  }
