"""Regression-based channel pruning (He et al. 2017; rethinking.md §3.3) as a
``channel`` criterion.

For a unit whose channels feed a consumer with weights ``W`` (``(K, C,
C_out)``) and sampled inputs ``P`` (``(m, K, C)``), the consumer's output is
``Y = sum_c Z_c`` with ``Z_c = P[:, :, c] W[:, c, :]`` (``(m, C_out)``).
Channel selection is a LASSO over a per-channel coefficient ``beta``::

    min_beta  1/(2 m C_out) ||Y - sum_c beta_c Z_c||_F^2 + lam ||beta||_1

with ``lam`` raised (a bisection on log ``lam``) until at most the target
count of coefficients is non-zero; the kept channels are those with the
largest ``|beta|``. The kept weights are then refit by least squares,
``W_S = argmin ||Y - P_S W_S||``, which needs at least ``K * kept`` sampled
positions. ``Y`` is the *unpruned* model's output while ``P`` comes from the
model pruned so far, so the refit also absorbs earlier layers' error (the
paper's accumulated-error correction). Everything heavy runs in jax.numpy
(FISTA on the Gram matrix ``G = sum Z_c^T Z_c``, ``jnp.linalg.lstsq``).

Works on any unit whose consumer reads every one of its channels: VGG convs,
ResNet-50 bottleneck convs and block inputs (the 2x variant's channel
selection, units ``<block>/input``), CIFAR ResNet blocks.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxprune.pruning import api
from jaxprune.pruning import reconstruction

SAMPLES_PER_EXAMPLE = 10
FISTA_STEPS = 300
BISECTION_STEPS = 30
OUT_CHUNK = 64


def gram(layer: reconstruction.Layer, reference) -> tuple[jax.Array, ...]:
  """``(G, q, n)``: ``G[c, d] = sum <Z_c, Z_d>``, ``q[c] = <Z_c, Y>`` and the
  number of entries ``n = m * C_out`` (``Z`` built ``OUT_CHUNK`` outputs at a
  time, never whole)."""
  p = jnp.asarray(layer.patches)
  w = jnp.asarray(layer.kernel)
  y = jnp.asarray(reference)
  c = p.shape[2]
  g = jnp.zeros((c, c), jnp.float32)
  q = jnp.zeros((c,), jnp.float32)
  for o in range(0, w.shape[2], OUT_CHUNK):
    z = _z_chunk(p, w[:, :, o:o + OUT_CHUNK])
    g = g + jnp.einsum('mco,mdo->cd', z, z)
    q = q + jnp.einsum('mco,mo->c', z, y[:, o:o + OUT_CHUNK])
  return g, q, p.shape[0] * w.shape[2]


@jax.jit
def _z_chunk(p, w):
  return jnp.einsum('mkc,kco->mco', p, w)


@functools.partial(jax.jit, static_argnames='steps')
def lasso(g, q, n, lam, lipschitz, steps: int = FISTA_STEPS):
  """FISTA for ``min 1/(2n) (b^T G b - 2 q^T b) + lam |b|_1`` from ``b = 0``
  (a channel that contributes nothing stays exactly 0); ``lipschitz`` bounds the largest eigenvalue of
  ``G / n``. Returns ``b`` ``(C,)``."""
  step = 1.0 / lipschitz

  def body(_, carry):
    b, z, t = carry
    grad = (g @ z - q) / n
    u = z - step * grad
    b_new = jnp.sign(u) * jnp.maximum(jnp.abs(u) - step * lam, 0.0)
    t_new = (1 + jnp.sqrt(1 + 4 * t * t)) / 2
    z_new = b_new + (t - 1) / t_new * (b_new - b)
    return b_new, z_new, t_new
  b0 = jnp.zeros_like(q)
  return jax.lax.fori_loop(0, steps, body, (b0, b0, jnp.float32(1.0)))[0]


def select_by_lasso(g, q, n, keep: int) -> tuple[np.ndarray, float]:
  """The ``keep`` channels of the LASSO at the smallest ``lam`` (bisection
  on log ``lam``) whose solution has at most ``keep`` non-zeros; ties and
  a short support are filled by ``|beta|`` at the largest ``lam`` that had
  more. Returns ``(kept, lam)``."""
  lam_max = float(jnp.max(jnp.abs(q)) / n) or 1e-12  # b = 0 is optimal
  lipschitz = max(float(jnp.linalg.eigvalsh(g)[-1]) / n, 1e-30)
  lo, hi = np.log(lam_max * 1e-7), np.log(lam_max * 1.01)
  b_hi = np.zeros(q.shape)  # at hi: every coefficient zero
  b_lo = np.asarray(lasso(g, q, n, float(np.exp(lo)), lipschitz))
  for _ in range(BISECTION_STEPS):
    mid = (lo + hi) / 2
    b = np.asarray(lasso(g, q, n, float(np.exp(mid)), lipschitz))
    if np.count_nonzero(b) <= keep:
      hi, b_hi = mid, b
    else:
      lo, b_lo = mid, b
  order = np.lexsort((-np.abs(b_lo), -np.abs(b_hi)))  # primary: |b_hi|
  return np.sort(order[:keep]), float(np.exp(hi))


def refit(layer: reconstruction.Layer, kept, reference) -> np.ndarray:
  """Least-squares consumer weights from the kept channels:
  ``(K, len(kept), C_out)``."""
  m, k, _ = layer.patches.shape
  a = layer.patches[:, :, kept].reshape(m, k * len(kept))
  w = reconstruction.lstsq(a, reference)
  return np.asarray(w).reshape(k, len(kept), -1)


def select(layer: reconstruction.Layer, count: int, rng, reference):
  """One unit: ``(kept, refit consumer rows, info)``."""
  del rng  # deterministic given the sampled positions
  c = layer.patches.shape[2]
  g, q, n = gram(layer, reference)
  kept, lam = select_by_lasso(g, q, n, c - count)
  rows = refit(layer, kept, reference)
  return kept, rows, {
      'lambda': lam,
      'relative_error_removed': reconstruction.relative_error(
          layer, kept, layer.kernel[:, kept, :], reference),
      'relative_error_refit': reconstruction.relative_error(
          layer, kept, rows, reference)}


def regression(variables, spec, target, *, batch=None, rng=None,
               samples_per_example: int = SAMPLES_PER_EXAMPLE):
  """The regression criterion (module docstring)."""
  if batch is None or rng is None:
    raise ValueError('regression needs a batch of training examples and an '
                     'rng')
  params = variables['params']
  _check(spec, params, target, num_examples=len(batch['image']),
         samples_per_example=samples_per_example)
  counts = reconstruction.check_counts('regression', spec, params, target)
  keep, new, info = reconstruction.prune_sequentially(
      variables, spec, counts, batch['image'], rng, select,
      per_example=samples_per_example, reference='original')
  return api.PruneResult(
      keep=reconstruction.with_unpruned_units(spec, params, keep),
      variables=new, info={'units': info})


def _check(spec, params, target, *, num_examples: int,
           samples_per_example: int = SAMPLES_PER_EXAMPLE) -> None:
  reconstruction.check_samples(
      'regression', spec, params, target, num_examples=num_examples,
      samples_per_example=samples_per_example,
      unknowns=lambda window, kept: window * kept)


api.register_criterion('regression', regression, kind='channel',
                       check=_check)
