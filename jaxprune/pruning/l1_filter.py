"""L1-norm filter pruning (Li et al. 2017; rethinking.md §3.1).

One score, :func:`l1_filter_scores` (``s_j = sum |W[..., j]|`` per output
filter), behind two registered criteria:

* ``'l1_norm'`` (kind ``'channel'``): each conv unit keeps its
  ``max(1, int(C*(1-p)))`` filters of largest L1 norm (ties: the lower index
  stays). A ratio prunes every conv unit at that ratio; per-unit counts (e.g.
  the paper's targets resolved by :func:`jaxprune.pruning.targets.
  channel_counts`, which is how ``VGG-16-A`` or ``ResNet-56-B`` are named)
  prune exactly that many filters.
* ``'l1_filter'`` (kind ``'unstructured'``, used by the mask-overlap study):
  structured filter pruning filled to an exact weight count per kernel: the
  ``f = P // s`` lowest-norm filters (``s`` weights each) go entirely, then
  the ``P - f*s`` smallest ``|w|`` of the next filter in that ranking. A
  ratio ``r`` gives each conv kernel ``P = int(n * r)``.
"""

from __future__ import annotations

import numpy as np

from jaxprune import masks as masks_lib
from jaxprune import tree as tree_lib
from jaxprune.pruning import api
from jaxprune.pruning import targets


def l1_filter_scores(kernel) -> np.ndarray:
  """``sum |W|`` over every axis but the last (the output filters), float64.

  Args:
    kernel: an HWIO conv kernel ``(kh, kw, C_in, C_out)`` or a Dense kernel
      ``(in, out)``.

  Returns:
    ``(C_out,)`` filter norms.
  """
  w = np.abs(np.asarray(kernel, np.float64))
  return w.reshape(-1, w.shape[-1]).sum(axis=0)


def l1_norm(variables, spec, target, *, batch=None, rng=None
            ) -> api.PruneResult:
  """Keeps the largest-L1 filters of each conv unit (module docstring)."""
  del batch, rng
  params = variables['params']
  counts = targets.unit_counts(spec, params, target, kinds=('conv',))
  units = {u.name: u for u in spec.units(params)}
  scores = {n: l1_filter_scores(tree_lib.get(params, units[n].producer)
                                ['kernel']) for n in counts}
  keep = targets.all_kept(spec, params)
  keep.update(targets.keep_from_scores(scores, counts))
  return api.PruneResult(keep=keep)


def _filled_filter_mask(w: np.ndarray, count: int) -> np.ndarray:
  filters = np.abs(np.asarray(w, np.float64)).reshape(-1, w.shape[-1]).T
  nf, s = filters.shape
  order = np.argsort(l1_filter_scores(w), kind='stable')
  keep = np.ones((nf, s), np.float32)
  f, r = divmod(count, s)
  keep[order[:f]] = 0.0
  if r:
    nxt = order[f]
    keep[nxt, np.argsort(filters[nxt], kind='stable')[:r]] = 0.0
  return keep.T.reshape(w.shape)


def l1_filter(variables, spec, target, *, batch=None, rng=None
              ) -> api.PruneResult:
  """Whole lowest-norm filters to an exact weight count (module docstring)."""
  del spec, batch, rng
  params = variables['params']
  kernels = targets.conv_kernels(variables, target)
  if targets.is_ratio(target):
    r = targets.check_ratio(target)
    counts = {p: int(w.size * r) for p, w in kernels}
  else:
    counts = targets.kernel_counts(target, params)
  sub = tree_lib.unflatten([(p, _filled_filter_mask(w, counts[p]))
                            for p, w in kernels])
  return api.PruneResult(masks=masks_lib.full_masks(params, sub))


api.register_criterion('l1_norm', l1_norm, kind='channel')
api.register_criterion('l1_filter', l1_filter, kind='unstructured')
