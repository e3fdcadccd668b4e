"""Saliency criteria at initialisation or after training: SNIP, GraSP, SynFlow.

All three are ``'unstructured'`` criteria over the kernels a target covers
(:func:`jaxprune.pruning.targets.scored_kernels`: the conv kernels for a
ratio, the counted kernels for per-layer counts). A ratio prunes globally
(the lowest scores over all kernels together); per-layer counts prune exactly
that many per kernel. Derivatives are taken with respect to those kernels
only; every other param is held fixed.

* ``'snip'`` (Lee et al. 2019): connection sensitivity ``|g ⊙ w|``, ``g`` the
  gradient of the mean cross-entropy on ``batch`` with BatchNorm in train
  mode (as the original code scores). Needs ``batch``.
* ``'grasp'`` (Wang et al. 2020): ``-(H g) ⊙ w`` with ``H g`` a Hessian-vector
  product (forward-over-reverse) of the loss with logits divided by
  ``temperature`` (200 in GraSP's code); the **highest** scores are pruned
  (removing them reduces gradient flow least). Needs ``batch``.
* ``'synflow'`` (Tanaka et al. 2020): data-free. ``R = sum(f(|θ|, 1))`` on an
  all-ones input with every param replaced by its absolute value (the scored
  kernels also masked), BatchNorm in eval mode with mean 0 / var 1 (a fresh
  network, :func:`neutral_batch_stats`); scores ``(∂R/∂θ) ⊙ θ``, re-pruned
  from scratch over ``iterations`` rounds on an exponential schedule (per
  layer for counts: layer ``l`` keeps ``round(n_l * d_l^(k/iterations))``
  after round ``k``). Float32: very deep nets may over/underflow ``R`` (the
  original uses float64).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxprune import tree as tree_lib
from jaxprune.pruning import api
from jaxprune.pruning import targets

GRASP_TEMPERATURE = 200.0
SYNFLOW_ITERATIONS = 20


def _need_batch(batch, name):
  if batch is None or 'image' not in batch or 'label' not in batch:
    raise ValueError(f'criterion {name!r} is data-driven: it needs a batch '
                     "{'image': (N, H, W, C), 'label': (N,)}")
  return jnp.asarray(batch['image'], jnp.float32), jnp.asarray(
      batch['label'], jnp.int32)


def make_apply_fn(spec, batch_stats, train: bool
                  ) -> Callable[[Any, jax.Array], jax.Array]:
  """``apply_fn(params, x) -> logits`` of a bound spec's module.

  ``train=True`` normalises with the batch's statistics (the running
  statistics' update is discarded); ``train=False`` uses ``batch_stats``.
  """
  model = spec.module()

  def apply_fn(params, x):
    variables = {'params': params, 'batch_stats': batch_stats}
    if train:
      return model.apply(variables, x, train=True, mutable=['batch_stats'])[0]
    return model.apply(variables, x, train=False)
  return apply_fn


def make_loss_fn(apply_fn, temperature: float = 1.0):
  """``loss_fn(params, (x, labels))``: mean softmax cross-entropy of
  ``logits / temperature``."""
  def loss_fn(params, batch):
    x, y = batch
    logits = apply_fn(params, x) / temperature
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
  return loss_fn


def _kernel_loss(loss_fn, params):
  """``f(kernels, batch)``: ``loss_fn`` with the scored kernels replaced."""
  return lambda kernels, batch: loss_fn(tree_lib.scatter(params, kernels),
                                        batch)


def snip_scores(params, loss_fn, batch, paths) -> dict:
  """``|g ⊙ w|`` per kernel of ``paths`` (``g = ∂loss/∂w`` on ``batch``)."""
  kernels = tree_lib.gather(params, paths)
  g = jax.jit(jax.grad(_kernel_loss(loss_fn, params)))(kernels, batch)
  return jax.tree.map(lambda gi, wi: jnp.abs(gi * wi), g, kernels)


def grasp_scores(params, loss_fn, batch, paths) -> dict:
  """``-(H g) ⊙ w`` per kernel of ``paths`` (``g`` held constant)."""
  f = _kernel_loss(loss_fn, params)
  kernels = tree_lib.gather(params, paths)
  g = jax.jit(jax.grad(f))(kernels, batch)

  @jax.jit
  def hvp(kk, v):
    return jax.jvp(lambda q: jax.grad(f)(q, batch), (kk,), (v,))[1]

  return jax.tree.map(lambda h, w: -h * w, hvp(kernels, g), kernels)


def neutral_batch_stats(batch_stats) -> Any:
  """BN running statistics of a fresh network: mean 0, var 1."""
  return tree_lib.map_with_path(
      lambda p, v: jnp.zeros_like(v) if p[-1] == 'mean' else jnp.ones_like(v),
      batch_stats)


def synflow_scores(params, sub_masks, apply_fn, input_shape) -> dict:
  """One SynFlow pass: ``(∂R/∂θ) ⊙ θ`` for the kernels of ``sub_masks``."""
  abs_params = jax.tree.map(jnp.abs, params)
  kernels = tree_lib.gather(abs_params, [p for p, _ in
                                         tree_lib.flatten(sub_masks)])
  x = jnp.ones((1, *input_shape), jnp.float32)

  @jax.jit
  def score(kk, masks):
    def r(q):
      eff = jax.tree.map(jnp.multiply, q, masks)
      return jnp.sum(apply_fn(tree_lib.scatter(abs_params, eff), x))
    return jax.tree.map(jnp.multiply, jax.grad(r)(kk), kk)

  return score(kernels, sub_masks)


def _flat_scores(score_tree) -> dict:
  return {p: np.asarray(s) for p, s in tree_lib.flatten(score_tree)}


def snip(variables, spec, target, *, batch=None, rng=None
         ) -> api.PruneResult:
  del rng
  params = variables['params']
  x, y = _need_batch(batch, 'snip')
  loss = make_loss_fn(make_apply_fn(spec, variables['batch_stats'], True))
  paths = targets.scored_kernels(params, target)
  scores = _flat_scores(snip_scores(params, loss, (x, y), paths))
  return api.PruneResult(masks=targets.masks_from_scores(params, scores,
                                                         target))


def grasp(variables, spec, target, *, batch=None, rng=None,
          temperature: float = GRASP_TEMPERATURE) -> api.PruneResult:
  del rng
  params = variables['params']
  x, y = _need_batch(batch, 'grasp')
  loss = make_loss_fn(make_apply_fn(spec, variables['batch_stats'], True),
                      temperature)
  paths = targets.scored_kernels(params, target)
  scores = _flat_scores(grasp_scores(params, loss, (x, y), paths))
  # Prune the highest scores: the lowest of the negated ones.
  return api.PruneResult(masks=targets.masks_from_scores(
      params, {p: -s for p, s in scores.items()}, target))


def synflow(variables, spec, target, *, batch=None, rng=None,
            iterations: int = SYNFLOW_ITERATIONS) -> api.PruneResult:
  del batch, rng
  if iterations < 1:
    raise ValueError(f'iterations must be >= 1; got {iterations}')
  params = variables['params']
  apply_fn = make_apply_fn(
      spec, neutral_batch_stats(variables['batch_stats']), False)
  paths = targets.scored_kernels(params, target)
  sub = tree_lib.unflatten([(p, jnp.ones(np.shape(tree_lib.get(params, p)),
                                         jnp.float32)) for p in paths])
  if targets.is_ratio(target):
    final = targets.check_ratio(target, 'sparsity')
    step_target = lambda k: final if k == iterations else (
        1.0 - (1.0 - final) ** (k / iterations))
  else:
    counts = targets.kernel_counts(target, params)
    sizes = {p: int(np.size(tree_lib.get(params, p))) for p in counts}

    def step_target(k):
      if k == iterations:
        return counts
      return {p: min(c, sizes[p] - int(round(
          sizes[p] * (1.0 - c / sizes[p]) ** (k / iterations))))
              for p, c in counts.items()}
  masks = None
  for k in range(1, iterations + 1):
    scores = _flat_scores(synflow_scores(params, sub, apply_fn,
                                         spec.input_shape))
    masks = targets.masks_from_scores(params, scores, step_target(k))
    sub = tree_lib.gather(masks, paths)
  return api.PruneResult(masks=masks)


api.register_criterion('snip', snip, kind='unstructured')
api.register_criterion('grasp', grasp, kind='unstructured')
api.register_criterion('synflow', synflow, kind='unstructured')
