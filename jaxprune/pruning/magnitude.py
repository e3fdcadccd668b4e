"""Unstructured magnitude pruning (Han et al. 2015; rethinking.md §3.6).

Registered criteria (kind ``'unstructured'``), scoring ``|w|`` of the conv
kernels (first, block and downsample convs; Dense and BN leaves stay dense):

* ``'magnitude'``: a ratio ``s`` uses one global threshold over every conv
  kernel, the official ``cifar_prune.py`` rule ``thr = sorted(|w|)[int(N*s)]``,
  keep ``|w| > thr`` (so ``int(N*s) + 1`` weights and ties go; ``s = 0`` keeps
  every non-zero weight). Per-layer counts zero exactly that many smallest
  ``|w|`` per kernel (ties: lower flat index first), which is the Lottery-
  Jackpot magnitude start (``lottery_jackpots.md`` §2.3).
* ``'magnitude_layerwise'``: the same threshold rule per conv kernel.
* ``'magnitude_iterative'``: one round of iterative pruning
  (``cifar_prune_iterative.py``): ``variables['params']`` already hold the
  earlier rounds' zeros; with ``z`` zeros and ``nnz`` non-zeros,
  ``thr = sorted(|w|)[z + int(nnz*s)]`` and ``|w| > thr`` is kept, i.e. a
  fraction ``s`` of the *remaining* weights goes.
"""

from __future__ import annotations

import numpy as np

from jaxprune import masks as masks_lib
from jaxprune import tree as tree_lib
from jaxprune.pruning import api
from jaxprune.pruning import targets


def _threshold_masks(params, kernels, keep_fn):
  """Full masks from ``keep_fn(path, w) -> bool array`` per scored kernel."""
  sub = tree_lib.unflatten([(p, keep_fn(p, w).astype(np.float32))
                            for p, w in kernels])
  return masks_lib.full_masks(params, sub)


def _sorted_abs(kernels) -> np.ndarray:
  return np.sort(np.concatenate([np.abs(w).ravel() for _, w in kernels]))


def magnitude(variables, spec, target, *, batch=None, rng=None
              ) -> api.PruneResult:
  """Global magnitude pruning (module docstring)."""
  del spec, batch, rng
  params = variables['params']
  kernels = targets.conv_kernels(variables, target)
  if not targets.is_ratio(target):
    scores = {p: np.abs(w) for p, w in kernels}
    return api.PruneResult(masks=targets.masks_from_scores(params, scores,
                                                           target))
  s = targets.check_ratio(target, 'sparsity')
  if s == 0.0:
    return api.PruneResult(masks=_threshold_masks(
        params, kernels, lambda p, w: w != 0))
  allw = _sorted_abs(kernels)
  thr = float(allw[int(allw.size * s)])
  return api.PruneResult(
      masks=_threshold_masks(params, kernels, lambda p, w: np.abs(w) > thr),
      info={'threshold': thr})


def magnitude_layerwise(variables, spec, target, *, batch=None, rng=None
                        ) -> api.PruneResult:
  """The threshold rule of ``'magnitude'`` in every conv kernel alone."""
  if not targets.is_ratio(target):
    return magnitude(variables, spec, target)
  s = targets.check_ratio(target, 'sparsity')

  def keep(p, w):
    if s == 0.0:
      return w != 0
    a = np.sort(np.abs(w).ravel())
    return np.abs(w) > a[int(a.size * s)]
  return api.PruneResult(masks=_threshold_masks(
      variables['params'], targets.conv_kernels(variables, target), keep))


def magnitude_iterative(variables, spec, target, *, batch=None, rng=None
                        ) -> api.PruneResult:
  """Prunes a fraction ``target`` of the remaining (non-zero) conv weights;
  per-layer counts prune that many more weights per kernel."""
  del spec, batch, rng
  params = variables['params']
  kernels = targets.conv_kernels(variables, target)
  if not targets.is_ratio(target):
    counts = targets.kernel_counts(target, params)
    zeros = {p: int(np.size(w) - np.count_nonzero(w)) for p, w in kernels}
    more = {p: min(zeros[p] + c, int(np.size(tree_lib.get(params, p))))
            for p, c in counts.items()}
    return api.PruneResult(masks=targets.masks_from_scores(
        params, {p: np.abs(w) for p, w in kernels}, more))
  f = targets.check_ratio(target, 'fraction')
  allw = _sorted_abs(kernels)
  nnz = int(np.count_nonzero(allw))
  idx = allw.size - nnz + int(nnz * f)
  if f == 0.0 or idx >= allw.size:
    return api.PruneResult(masks=_threshold_masks(
        params, kernels, lambda p, w: w != 0))
  thr = float(allw[idx])
  return api.PruneResult(
      masks=_threshold_masks(params, kernels, lambda p, w: np.abs(w) > thr),
      info={'threshold': thr})


api.register_criterion('magnitude', magnitude, kind='unstructured')
api.register_criterion('magnitude_layerwise', magnitude_layerwise,
                       kind='unstructured')
api.register_criterion('magnitude_iterative', magnitude_iterative,
                       kind='unstructured')
