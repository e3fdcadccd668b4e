"""Per-layer prune budgets P_l (the Lottery-Jackpot rule, §2.2).

Implements ``lottery_jackpots.md`` §2.2 (``generate_pr_cfg``, ``layerwise:
l1``) and the fixed ``layerwise: uniform`` variant. Counts are computed once,
on the host, from the **pre-trained** kernels and returned as static Python
ints keyed by :data:`jaxprune.tree.Path` over the prunable kernels
(:func:`jaxprune.masks.prunable_paths`: conv kernels and the classifier);
they are a criterion ``target`` (per-layer counts) and fix the shapes of the
compiled mask update (``short_restriction``), so they are never traced.

Global rule (default). Over all prunable kernels except the classifier (the
first conv and downsample convs included), with ``N`` weights in total::

  keep = int(N * (1 - p))              # Python float64, as the released code
  thr  = keep-th largest |w|           # over the whole network, float32 |w|
  P_l  = #{w in layer l : |w| < thr}   # strict <
  P_classifier = 0                      # the classifier stays dense

Deviation from the released code: it stores ``r_l = #{|w| < thr} / n_l`` and
later prunes ``int(n_l * r_l)`` weights, which in float64 can truncate to one
less than the count (e.g. ``int(22 * (15 / 22)) == 14``). jaxprune uses the
exact integer count ``P_l = #{|w| < thr}``. The masks then agree with "prune
exactly the weights below the global threshold". Ties at ``thr`` are kept, so
the total pruned count is at most ``N - keep``.

Uniform rule. Every prunable non-classifier layer (first conv included) prunes
``int(n_l * p)`` weights; the classifier gets 0. (In the released code this
option raises ``KeyError`` for every shipped architecture, §2.2.)
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import jax
import numpy as np

from jaxprune import masks as masks_lib
from jaxprune import tree as tree_lib
from jaxprune.pruning import targets

Path = tree_lib.Path

LAYERWISE_RULES = ('global', 'uniform')
CLASSIFIER = 'classifier'


def _check_sparsity(sparsity: float) -> float:
  return targets.check_ratio(sparsity, 'sparsity', exclude_zero=True)


def is_classifier_path(path: Path, classifier: str = CLASSIFIER) -> bool:
  """True for ``(..., classifier, 'kernel')``."""
  path = tree_lib.as_path(path)
  return len(path) >= 2 and path[-2] == classifier and path[-1] == 'kernel'


def _host_abs(leaf: Any) -> np.ndarray:
  return np.abs(np.asarray(jax.device_get(leaf), dtype=np.float32)).ravel()


def _layers(params: Any, classifier: str) -> tuple[list[Path], list[Path]]:
  """(all prunable paths, the non-classifier ones)."""
  paths = masks_lib.prunable_paths(params, classifier)
  body = [p for p in paths if not is_classifier_path(p, classifier)]
  if not body:
    raise ValueError('params have no prunable conv kernel (4-D "kernel" '
                     'leaf) besides the classifier')
  return paths, body


def global_threshold(params: Any, sparsity: float,
                     classifier: str = CLASSIFIER) -> float:
  """The global magnitude threshold ``thr`` of §2.2.

  Args:
    params: the pre-trained param tree.
    sparsity: target fraction ``p`` in (0, 1).

  Returns:
    The ``keep``-th largest ``|w|`` (float32 value, as a Python float) over all
    prunable kernels except the classifier, ``keep = int(N * (1 - p))``.

  Raises:
    ValueError: for ``p`` outside (0, 1), no prunable conv kernel, or
      ``keep == 0`` (sparsity too high for so few weights).
  """
  p = _check_sparsity(sparsity)
  _, body = _layers(params, classifier)
  mags = np.concatenate([_host_abs(tree_lib.get(params, q))
                         for q in body])
  n_total = mags.size
  keep = int(n_total * (1 - p))
  if keep < 1:
    raise ValueError(f'sparsity {p} keeps int({n_total} * (1 - p)) = 0 of '
                     f'{n_total} weights')
  # keep-th largest == (N - keep)-th smallest (0-based).
  return float(np.partition(mags, n_total - keep)[n_total - keep])


def global_prune_counts(params: Any, sparsity: float,
                        classifier: str = CLASSIFIER) -> dict[Path, int]:
  """Per-layer counts from one global magnitude threshold (§2.2).

  Args:
    params: the pre-trained param tree (nested dicts; conv kernels 4-D HWIO,
      classifier kernel ``(in, C)``).
    sparsity: target fraction ``p`` in (0, 1).

  Returns:
    ``{path: P_l}`` for every prunable kernel, in
    :func:`jaxprune.masks.prunable_paths` order, with
    ``P_l = #{|w| < thr}`` (Python ``int``) and 0 for the classifier.

  Raises:
    ValueError: see :func:`global_threshold`.
  """
  thr = np.float32(global_threshold(params, sparsity, classifier))
  paths, _ = _layers(params, classifier)
  counts = {}
  for path in paths:
    if is_classifier_path(path, classifier):
      counts[path] = 0
    else:
      mags = _host_abs(tree_lib.get(params, path))
      counts[path] = int(np.count_nonzero(mags < thr))
  return counts


def uniform_prune_counts(params: Any, sparsity: float,
                         classifier: str = CLASSIFIER) -> dict[Path, int]:
  """``P_l = int(n_l * p)`` for every prunable non-classifier layer.

  Args:
    params: a param tree (only shapes are read).
    sparsity: target fraction ``p`` in (0, 1).

  Returns:
    ``{path: P_l}`` in prunable-path order; the classifier gets 0 and the
    first conv is pruned like every other conv.

  Raises:
    ValueError: for ``p`` outside (0, 1) or no prunable conv kernel.
  """
  p = _check_sparsity(sparsity)
  paths, _ = _layers(params, classifier)
  return {
      path: 0 if is_classifier_path(path, classifier) else int(
          math.prod(tree_lib.get(params, path).shape) * p)
      for path in paths
  }


def layerwise_prune_counts(params: Any, sparsity: float,
                           layerwise: str = 'global',
                           classifier: str = CLASSIFIER) -> dict[Path, int]:
  """Dispatches to :func:`global_prune_counts` or :func:`uniform_prune_counts`.

  Args:
    params: the pre-trained param tree.
    sparsity: target fraction in (0, 1).
    layerwise: ``'global'`` (the released default, ``l1``) or ``'uniform'``.

  Returns:
    ``{path: P_l}`` with static Python ints.

  Raises:
    ValueError: for an unknown ``layerwise`` or an invalid sparsity.
  """
  if layerwise == 'global':
    return global_prune_counts(params, sparsity, classifier)
  if layerwise == 'uniform':
    return uniform_prune_counts(params, sparsity, classifier)
  raise ValueError(f'layerwise must be one of {LAYERWISE_RULES}; got '
                   f'{layerwise!r}')


def check_prune_counts(prune_counts: Mapping[Path, int],
                       shapes: Mapping[Path, tuple[int, ...]]) -> None:
  """Checks that counts cover exactly ``shapes``' paths, with 0 <= P <= n.

  Raises:
    ValueError: naming the missing/extra paths or the bad count.
  """
  missing = [tree_lib.path_str(p) for p in shapes if p not in prune_counts]
  extra = [tree_lib.path_str(p) for p in prune_counts if p not in shapes]
  if missing or extra:
    raise ValueError(f'prune_counts do not match the score tree: missing '
                     f'{missing}, extra {extra}')
  for path, shape in shapes.items():
    count, n = prune_counts[path], math.prod(shape)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
      raise ValueError(f'prune count of {tree_lib.path_str(path)} must be a '
                       f'static int; got {count!r}')
    if not 0 <= count <= n:
      raise ValueError(f'prune count {count} of {tree_lib.path_str(path)} '
                       f'is outside [0, {n}]')


def overall_sparsity(prune_counts: Mapping[Path, int], params: Any,
                     include_classifier: bool = True,
                     classifier: str = CLASSIFIER) -> float:
  """Fraction of prunable weights that are pruned.

  Args:
    prune_counts: ``{path: P_l}``.
    params: the param tree (only shapes are read).
    include_classifier: count the (dense) classifier kernel in the
      denominator, as the released code's report does (89.94 % for ResNet-32
      at p = 0.9, §2.2). With ``False`` the ratio is over the conv kernels,
      i.e. the population the global threshold was computed on.

  Returns:
    ``sum(P_l) / sum(n_l)`` over the selected prunable kernels.
  """
  pruned = total = 0
  for path, count in prune_counts.items():
    if not include_classifier and is_classifier_path(path, classifier):
      continue
    pruned += int(count)
    total += math.prod(tree_lib.get(params, path).shape)
  if total == 0:
    raise ValueError('no prunable weights')
  return pruned / total
