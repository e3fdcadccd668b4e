"""Baseline criteria: uniform and random channel pruning, random weights.

Rethinking §10 compares the architectures a criterion finds with uniform
ones; the weight-level counterpart is uniform random sparsification.

* ``'uniform'`` (``'channel'``): every channel unit, convs and Network
  Slimming selection points alike, keeps its first ``max(1, int(C*(1-p)))``
  channels (the architecture is what matters: it is trained from scratch);
  per-unit counts keep the first ``C - count``.
* ``'random_channel'`` (``'channel'``): the same counts, a random channel
  subset per unit (``rng`` folded with the unit's index).
* ``'random'`` (``'unstructured'``): a ratio ``s`` keeps a random
  ``max(1, round(n*(1-s)))`` weights of every conv kernel (the same density
  in each layer); per-layer counts prune exactly that many random weights.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxprune.pruning import api
from jaxprune.pruning import targets


def _rng(rng):
  if rng is None:
    raise ValueError('random criteria need an rng (a jax.random key)')
  return rng


def uniform(variables, spec, target, *, batch=None, rng=None
            ) -> api.PruneResult:
  del batch, rng
  params = variables['params']
  counts = targets.unit_counts(spec, params, target)
  keep = targets.all_kept(spec, params)
  keep.update({n: np.arange(len(keep[n]) - c) for n, c in counts.items()})
  return api.PruneResult(keep=keep)


def random_channel(variables, spec, target, *, batch=None, rng=None
                   ) -> api.PruneResult:
  del batch
  rng = _rng(rng)
  params = variables['params']
  counts = targets.unit_counts(spec, params, target)
  keep = targets.all_kept(spec, params)
  for i, (name, count) in enumerate(counts.items()):
    c = len(keep[name])
    perm = np.asarray(jax.random.permutation(jax.random.fold_in(rng, i), c))
    keep[name] = np.sort(perm[:c - count])
  return api.PruneResult(keep=keep)


def random(variables, spec, target, *, batch=None, rng=None
           ) -> api.PruneResult:
  del spec, batch
  rng = _rng(rng)
  params = variables['params']
  kernels = targets.conv_kernels(variables, target)
  if targets.is_ratio(target):
    s = targets.check_ratio(target, 'sparsity')
    counts = {p: w.size - max(1, int(round(w.size * (1 - s))))
              for p, w in kernels}
  else:
    counts = targets.kernel_counts(target, params)
  scores = {p: np.asarray(jax.random.uniform(jax.random.fold_in(rng, i),
                                             np.shape(w)))
            for i, (p, w) in enumerate(kernels)}
  return api.PruneResult(masks=targets.masks_from_scores(params, scores,
                                                         counts))


api.register_criterion('uniform', uniform, kind='channel')
api.register_criterion('random_channel', random_channel, kind='channel')
api.register_criterion('random', random, kind='unstructured')
