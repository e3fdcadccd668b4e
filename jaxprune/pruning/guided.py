"""Pruning read as architecture search (rethinking.md §10): uniform baselines
matched to a pruned model, guided pruning and guided sparsification.

VGG width configs are lists of ints with ``'M'`` for a max-pool; a *stage*
is a run of convs between pools (the layers of one feature-map size).

* :func:`uniform_cfg_matching`: uniform channel pruning (one keep fraction
  for every conv) whose parameter count matches a target (a pruned model's)
  within one channel per layer;
* :func:`stage_average_widths` / :func:`guided_cfg`: guided pruning: the
  per-stage average kept widths over several pruned cfgs, and new cfgs with
  those stage widths, scaled to several sizes;
* :func:`stage_keep_probabilities` / :func:`guided_masks`: guided
  sparsification: per stage, the average keep probability of each of the
  9 positions of the 3x3 kernels over pruned masks, and fresh masks sampled
  from it;
* :func:`uniform_random_masks`: the same density in every conv kernel, a
  random pattern;
* transfers (VGG-16/CIFAR-10 -> VGG-19/CIFAR-100): the stage statistics of
  one cfg applied to another with the same number of stages
  (:func:`check_transfer`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import numpy as np

from jaxprune import masks as masks_lib
from jaxprune import tree as tree_lib

M = 'M'


def stages(cfg: Sequence[Any]) -> list[list[int]]:
  """The conv widths of each stage of a VGG cfg (split at the pools)."""
  out: list[list[int]] = [[]]
  for v in cfg:
    if v == M:
      out.append([])
    else:
      out[-1].append(int(v))
  return [s for s in out if s]


def kernel_stages(cfg: Sequence[Any]) -> list[list[str]]:
  """The conv kernel paths (``conv{i}/kernel``, convs counted in order) of
  each stage of a VGG cfg."""
  out, i = [], 0
  for st in stages(cfg):
    out.append([f'conv{i + k}/kernel' for k in range(len(st))])
    i += len(st)
  return out


def _rebuild(template: Sequence[Any], stage_widths: Sequence[Sequence[int]]
             ) -> list[Any]:
  it = iter(w for s in stage_widths for w in s)
  return [v if v == M else next(it) for v in template]


def check_transfer(source_cfg: Sequence[Any], target_cfg: Sequence[Any]
                   ) -> None:
  """Stage statistics transfer only between cfgs with as many stages."""
  a, b = len(stages(source_cfg)), len(stages(target_cfg))
  if a != b:
    raise ValueError(f'cannot transfer a {a}-stage pattern to a model with '
                     f'{b} stages; the stage counts must be equal')


def check_density(density: float, what: str = 'target density') -> float:
  if isinstance(density, bool) or not isinstance(density, (int, float)) or (
      not 0.0 < density < 1.0):
    raise ValueError(f'{what} must be in (0, 1), got {density!r}')
  return float(density)


def stage_average_widths(cfgs: Sequence[Sequence[Any]],
                         full_cfg: Sequence[Any]) -> list[float]:
  """Per stage, the average kept fraction ``width / full width`` over the
  convs of the stage and over ``cfgs`` (pruned runs of ``full_cfg``)."""
  full = stages(full_cfg)
  sums = np.zeros(len(full))
  for cfg in cfgs:
    st = stages(cfg)
    if [len(s) for s in st] != [len(s) for s in full]:
      raise ValueError(f'cfg {list(cfg)} does not have the stages of '
                       f'{list(full_cfg)}')
    sums += [np.mean(np.asarray(s) / np.asarray(f))
             for s, f in zip(st, full)]
  return list(sums / len(cfgs))


def guided_cfg(fractions: Sequence[float], full_cfg: Sequence[Any],
               scale: float = 1.0) -> list[Any]:
  """A cfg of ``full_cfg``'s layout whose convs in stage ``s`` keep
  ``round(scale * fractions[s] * full width)`` channels (at least 1)."""
  full = stages(full_cfg)
  if len(fractions) != len(full):
    raise ValueError(f'{len(fractions)} stage fractions for a model with '
                     f'{len(full)} stages')
  widths = [[max(1, int(round(scale * f * w))) for w in s]
            for f, s in zip(fractions, full)]
  return _rebuild(full_cfg, widths)


def uniform_cfg_matching(full_cfg: Sequence[Any], target_params: int,
                         count_params: Callable[[list[Any]], int]
                         ) -> tuple[list[Any], float]:
  """The uniform cfg (every conv keeps ``round(q * width)``) with the
  parameter count closest to ``target_params``, and its ``q``.

  ``count_params(cfg)`` counts a cfg's model (monotone in the widths). A
  bisection on ``q``; the result is within one channel per layer of the
  exact match: moving every layer by one channel crosses the target.
  """
  def cfg_of(q):
    return _rebuild(full_cfg, [[max(1, int(round(q * w))) for w in s]
                               for s in stages(full_cfg)])
  counted: dict[tuple, int] = {}

  def count(q):
    key = tuple(cfg_of(q))
    if key not in counted:
      counted[key] = count_params(list(key))
    return counted[key]
  lo, hi = 0.0, 1.0
  for _ in range(40):
    if cfg_of(lo) == cfg_of(hi):
      break
    mid = (lo + hi) / 2
    if count(mid) < target_params:
      lo = mid
    else:
      hi = mid
  q = min((lo, hi), key=lambda v: abs(count(v) - target_params))
  return cfg_of(q), q


def stage_keep_probabilities(masks_list: Sequence[Any],
                             kernel_stages: Sequence[Sequence[str]]
                             ) -> list[np.ndarray]:
  """Per stage, the (3, 3) average keep probability of each kernel position
  over the stage's 3x3 conv kernels (paths in ``kernel_stages[s]``) and over
  ``masks_list``."""
  out = []
  for paths in kernel_stages:
    acc, n = np.zeros((3, 3)), 0
    for masks in masks_list:
      for p in paths:
        m = np.asarray(tree_lib.get(masks, p), np.float64)
        if m.shape[:2] != (3, 3):
          raise ValueError(f'{p} is not a 3x3 kernel: {m.shape}')
        acc += m.reshape(3, 3, -1).sum(-1)
        n += m[0, 0].size
    out.append(acc / max(n, 1))
  return out


def guided_masks(params, probabilities: Sequence[np.ndarray],
                 kernel_stages: Sequence[Sequence[str]], key) -> Any:
  """Full masks of ``params``: each 3x3 kernel of stage ``s`` keeps position
  ``(i, j)`` of every (in, out) filter with probability
  ``probabilities[s][i, j]`` (independent draws; ``key`` folded with the
  kernel's index)."""
  check_transfer_count(probabilities, kernel_stages)
  sub = []
  k = 0
  for prob, paths in zip(probabilities, kernel_stages):
    for p in paths:
      w = tree_lib.get(params, p)
      u = np.asarray(jax.random.uniform(jax.random.fold_in(key, k),
                                        np.shape(w)))
      sub.append((p, (u < np.asarray(prob)[:, :, None, None]).astype(
          np.float32)))
      k += 1
  return masks_lib.full_masks(params, tree_lib.unflatten(sub))


def check_transfer_count(probabilities, kernel_stages) -> None:
  if len(probabilities) != len(kernel_stages):
    raise ValueError(f'{len(probabilities)} stage patterns for a model with '
                     f'{len(kernel_stages)} stages; the stage counts must be '
                     'equal')


def uniform_random_masks(params, density: float, key,
                         paths: Sequence[str] | None = None) -> Any:
  """Every conv kernel (or ``paths``) keeps ``round(n * density)`` random
  weights (at least 1): uniform random sparsification."""
  density = check_density(density)
  paths = paths or [tree_lib.path_str(p)
                    for p in masks_lib.conv_kernel_paths(params)]
  sub = []
  for k, p in enumerate(paths):
    shape = np.shape(tree_lib.get(params, p))
    n = int(np.prod(shape))
    keep = max(1, int(round(n * density)))
    order = np.asarray(jax.random.permutation(jax.random.fold_in(key, k), n))
    m = np.zeros(n, np.float32)
    m[order[:keep]] = 1.0
    sub.append((p, m.reshape(shape)))
  return masks_lib.full_masks(params, tree_lib.unflatten(sub))
