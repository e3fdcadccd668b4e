"""Network Slimming (Liu et al. 2017; rethinking.md §3.4).

* :func:`bn_l1_subgradient`: the sparsity-training term ``lambda *
  sign(gamma)`` on every BatchNorm scale, an optax ``GradientTransformation``
  placed first in the optimizer chain (``updateBN`` before
  ``optimizer.step()``).
* ``'slimming'`` (kind ``'channel'``): scores every channel unit (conv and
  selection units) by ``|gamma|``. A ratio ``p`` uses one global threshold
  ``thr = sorted(|gamma|)[int(total*p)]`` over all units and keeps
  ``|gamma| > thr`` (strict). **Empty-layer rule:** a unit left with no
  channel keeps its single largest-|gamma| channel (the official PyTorch code
  would build a zero-width layer). A threshold that empties the whole
  network raises. Per-unit counts drop that many smallest-|gamma| channels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxprune import tree as tree_lib
from jaxprune.pruning import api
from jaxprune.pruning import targets


def bn_l1_subgradient(lam: float, scale_name: str = 'scale'
                      ) -> optax.GradientTransformation:
  """Adds ``lam * sign(gamma)`` (``sign(0) = 0``) to every BN scale gradient.

  Leaves named ``scale`` (this package's BatchNorm gamma) get the term; every
  other leaf passes unchanged. Chain it before weight decay and momentum.
  """
  if lam < 0:
    raise ValueError(f'sparsity lambda must be >= 0, got {lam}')

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError('bn_l1_subgradient needs params')

    def one(path, g, p):
      if path[-1] == scale_name:
        return g + lam * jnp.sign(p).astype(g.dtype)
      return g
    return tree_lib.map_with_path(one, updates, params), state

  return optax.GradientTransformation(init_fn, update_fn)


def _gammas(spec, params) -> dict[str, np.ndarray]:
  """|gamma| of every unit with a BN (units without one are not scored)."""
  return {u.name: np.abs(np.asarray(jax.device_get(
      tree_lib.get(params, u.name)['scale']))) for u in spec.units(params)
          if u.has_bn}


def slimming_threshold(spec, params, percent: float) -> float:
  """The global |gamma| threshold of ratio ``percent``."""
  percent = targets.check_ratio(percent, 'prune percent')
  allg = np.sort(np.concatenate(list(_gammas(spec, params).values())))
  return float(allg[int(allg.size * percent)])


def slimming(variables, spec, target, *, batch=None, rng=None
             ) -> api.PruneResult:
  """Global |gamma| threshold (module docstring)."""
  del batch, rng
  params = variables['params']
  gammas = _gammas(spec, params)
  if not targets.is_ratio(target):
    counts = targets.unit_counts(spec, params, target)
    unscored = sorted(set(counts) - set(gammas))
    if unscored:
      raise ValueError(f'slimming scores BN scales; {unscored} have no BN')
    keep = targets.all_kept(spec, params)
    keep.update(targets.keep_from_scores(gammas, counts))
    return api.PruneResult(keep=keep)
  percent = targets.check_ratio(target, 'prune percent')
  thr = slimming_threshold(spec, params, percent)
  keep, survivors = targets.all_kept(spec, params), 0
  for name, g in gammas.items():
    idx = np.nonzero(g > thr)[0]
    survivors += idx.size
    keep[name] = idx if idx.size else np.array([int(np.argmax(g))])
  if survivors == 0:
    raise ValueError(f'slimming threshold {thr:g} (percent {percent}) '
                     'removes every channel of the network; all |gamma| '
                     '<= threshold (was the model sparsity-trained?)')
  return api.PruneResult(keep=keep, info={'threshold': thr})


api.register_criterion('slimming', slimming, kind='channel')
