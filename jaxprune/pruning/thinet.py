"""ThiNet (Luo et al. 2017; rethinking.md §3.2) as a ``channel`` criterion.

Layer i's channels are chosen by how well layer i+1 (the unit's consumer)
still computes its output without them. From the consumer's output, ``m``
entries ``y = sum_c x_hat_c`` are sampled (``samples_per_example`` output
positions of every example, each with a random output channel); a removal
set ``T`` is grown greedily, each step adding the channel that keeps
``sum_entries (sum_{c in T} x_hat_c)^2`` smallest. The kept channels are
then rescaled by least squares, ``r = argmin ||y - X_hat_S r||^2``, which
multiplies the consumer's input weights of channel c by ``r_c``. Units are
pruned one at a time in forward order on the model pruned so far
(:func:`jaxprune.pruning.reconstruction.prune_sequentially`); the rethinking
study can fine-tune between them (``config.prune.layerwise_finetune_epochs``).

The target is a per-layer compression rate (a ratio in (0, 1), the same in
every unit) or per-unit counts. ThiNet's papers prune VGG-16's conv1-conv4
and, in ResNet-50, the first two convs of every bottleneck (``bn1``/``bn2``
units); block inputs and outputs are left alone unless counted.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxprune.pruning import api
from jaxprune.pruning import reconstruction

SAMPLES_PER_EXAMPLE = 10


@jax.jit
def greedy_removal(xhat, count):
  """ThiNet's greedy removal set.

  Args:
    xhat: ``(m, C)`` per-channel contributions to ``m`` sampled outputs.
    count: how many channels to remove.

  Returns:
    ``(C,)`` int32: the removed channels in the order chosen (the first
    ``count`` entries; the rest -1).
  """
  m, c = xhat.shape

  def body(t, carry):
    s, removed, order = carry
    cost = jnp.sum(jnp.square(s[:, None] + xhat), axis=0)
    pick = jnp.argmin(jnp.where(removed, jnp.inf, cost))
    return s + xhat[:, pick], removed.at[pick].set(True), order.at[t].set(
        pick.astype(jnp.int32))
  init = (jnp.zeros((m,), xhat.dtype), jnp.zeros((c,), bool),
          jnp.full((c,), -1, jnp.int32))
  return jax.lax.fori_loop(0, count, body, init)[2]


def rescale(xhat_kept, y) -> np.ndarray:
  """ThiNet's least-squares scales ``argmin_r ||y - xhat_kept r||^2``:
  ``(len(kept),)``."""
  return np.asarray(reconstruction.lstsq(xhat_kept, y))


def contributions(layer: reconstruction.Layer, out_channel) -> np.ndarray:
  """``x_hat[e, c]``: channel c's share of entry e, the output channel
  ``out_channel[e]`` at sampled position e. ``(m, C)``."""
  w = layer.kernel[:, :, out_channel]  # (K, C, m)
  return np.einsum('mkc,kcm->mc', layer.patches, w)


def _entries(layer: reconstruction.Layer, reference, per_example: int, rng):
  """The sampled entries: one random output channel per sampled position;
  for a Dense consumer (one position per example) ``per_example`` distinct
  outputs of each example. -> (layer rows, output channel, y)."""
  m, c_out = reference.shape
  if layer.dense:
    per = min(per_example, c_out)
    keys = jax.random.split(rng, m)
    out = np.concatenate([np.asarray(jax.random.choice(
        k, c_out, (per,), replace=False)) for k in keys])
    rows = np.repeat(np.arange(m), per)
  else:
    out = np.asarray(jax.random.randint(rng, (m,), 0, c_out))
    rows = np.arange(m)
  return rows, out, reference[rows, out]


def select(layer: reconstruction.Layer, count: int, rng, reference, *,
           per_example: int = SAMPLES_PER_EXAMPLE):
  """One unit: ``(kept, new consumer rows, info)``."""
  c = layer.patches.shape[2]
  rows_, out_channel, y = _entries(layer, reference, per_example, rng)
  xhat = contributions(dataclasses.replace(layer,
                                           patches=layer.patches[rows_]),
                       out_channel)
  removed = np.asarray(greedy_removal(jnp.asarray(xhat), count))[:count]
  kept = np.setdiff1d(np.arange(c), removed)
  r = rescale(xhat[:, kept], y)
  rows = layer.kernel[:, kept, :] * r[None, :, None]
  before = float(np.sum(np.square(y - xhat[:, kept].sum(1))))
  after = float(np.sum(np.square(y - xhat[:, kept] @ r)))
  norm = max(float(np.sum(np.square(y))), 1e-30)
  return kept, rows, {'relative_error_removed': before / norm,
                      'relative_error_rescaled': after / norm,
                      'scale_min': float(r.min()), 'scale_max': float(r.max())}


def thinet(variables, spec, target, *, batch=None, rng=None,
           samples_per_example: int = SAMPLES_PER_EXAMPLE):
  """The ThiNet criterion (module docstring)."""
  if batch is None or rng is None:
    raise ValueError('thinet needs a batch of training examples and an rng')
  _check(spec, variables['params'], target, num_examples=len(batch['image']),
         samples_per_example=samples_per_example)
  counts = reconstruction.check_counts('thinet', spec, variables['params'],
                                       target)
  keep, new, info = reconstruction.prune_sequentially(
      variables, spec, counts, batch['image'], rng,
      functools.partial(select, per_example=samples_per_example),
      per_example=samples_per_example, reference='current')
  return api.PruneResult(
      keep=reconstruction.with_unpruned_units(spec, variables['params'],
                                              keep),
      variables=new, info={'units': info})


def _check(spec, params, target, *, num_examples: int,
           samples_per_example: int = SAMPLES_PER_EXAMPLE) -> None:
  reconstruction.check_samples(
      'thinet', spec, params, target, num_examples=num_examples,
      samples_per_example=samples_per_example,
      unknowns=lambda window, kept: kept, scalar_entries=True)


api.register_criterion('thinet', thinet, kind='channel', check=_check)
