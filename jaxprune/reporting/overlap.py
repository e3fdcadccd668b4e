"""Mask-overlap table and report (markdown + heatmap PNG) of the mask_overlap study.

Overlap metric (**the project's own definition**; the paper's overlap numbers
and metric are unknown, ``lottery_jackpots.md`` §6.3). For a criterion's mask
A and the reference mask B (the lottery-jackpot mask), per layer ``l``::

  overlap_l(A, B) = |keep_A ∧ keep_B| / |keep_B|

i.e. the fraction of the reference's kept weights that A keeps too, and
overall ``sum_l |keep_A ∧ keep_B|_l / sum_l |keep_B|_l`` (kept-weight
weighted, over all layers of the mask trees, classifier included). A layer
where B keeps nothing gets NaN per layer and adds 0 to both overall sums. With equal per-layer counts (shared ``P_l``) the metric is
symmetric in A and B.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Mapping

import numpy as np

from jaxprune import tree as tree_lib


@dataclasses.dataclass(frozen=True)
class OverlapTable:
  """Overlaps of several criteria with one reference mask.

  Attributes:
    criteria: criterion names (rows).
    layers: layer path strings (columns), in mask-tree flattening order.
    values: ``(len(criteria), len(layers))`` per-layer overlaps.
    overall: ``(len(criteria),)`` overall overlaps.
    kept_reference: ``|keep_B|`` per layer.
  """
  criteria: tuple[str, ...]
  layers: tuple[str, ...]
  values: np.ndarray
  overall: np.ndarray
  kept_reference: tuple[int, ...]

  def as_dict(self) -> dict[str, dict[str, float]]:
    """``{criterion: {layer: overlap, ..., 'overall': overlap}}``."""
    out = {}
    for i, c in enumerate(self.criteria):
      row = {l: float(v) for l, v in zip(self.layers, self.values[i])}
      row['overall'] = float(self.overall[i])
      out[c] = row
    return out


def _flat(mask_tree) -> dict[str, np.ndarray]:
  return {tree_lib.path_str(p): np.asarray(m) != 0
          for p, m in tree_lib.flatten(mask_tree)}


def overlap_table(masks_by_name: Mapping[str, Any],
                  reference_mask: Any) -> OverlapTable:
  """Per-layer and overall ``|keep_A ∧ keep_B| / |keep_B|``, B = reference.

  Args:
    masks_by_name: ``{criterion name: mask tree}``; each tree must have the
      reference's paths and shapes (nonzero = kept).
    reference_mask: mask tree B (e.g. the lottery-jackpot mask).

  Returns:
    An :class:`OverlapTable` (definition in the module docstring; this is the
    project's definition, not the paper's).

  Raises:
    ValueError: if a mask tree's paths or shapes differ from the reference.
  """
  ref = _flat(reference_mask)
  layers = tuple(ref)
  kept_b = np.array([ref[l].sum() for l in layers], np.int64)
  rows, overall = [], []
  for name, tree in masks_by_name.items():
    a = _flat(tree)
    if set(a) != set(ref):
      raise ValueError(f'mask {name!r} has layers {sorted(a)} but the '
                       f'reference has {sorted(ref)}')
    inter = []
    for l in layers:
      if a[l].shape != ref[l].shape:
        raise ValueError(f'mask {name!r} layer {l}: shape {a[l].shape} != '
                         f'reference {ref[l].shape}')
      inter.append(int(np.logical_and(a[l], ref[l]).sum()))
    inter = np.array(inter, np.int64)
    with np.errstate(invalid='ignore', divide='ignore'):
      rows.append(np.where(kept_b > 0, inter / np.maximum(kept_b, 1),
                           np.nan))
    overall.append(inter.sum() / kept_b.sum() if kept_b.sum() else math.nan)
  return OverlapTable(tuple(masks_by_name), layers,
                      np.array(rows, np.float64).reshape(len(rows),
                                                         len(layers)),
                      np.array(overall, np.float64),
                      tuple(int(k) for k in kept_b))


def _fmt(v: float) -> str:
  return 'nan' if not np.isfinite(v) else f'{v:.4f}'


def overlap_markdown(table: OverlapTable) -> str:
  """Markdown: one row per layer (plus 'overall'), one column per criterion."""
  lines = [
      '# Mask overlap with the reference (jackpot) mask',
      '',
      'Metric (project definition, not the paper\'s): per layer '
      '`|keep_A ∧ keep_B| / |keep_B|`, B = reference mask; overall = '
      'sum of intersections / sum of `|keep_B|` over layers.',
      '',
      '| layer | kept (ref) | ' + ' | '.join(table.criteria) + ' |',
      '|---|---:|' + '---:|' * len(table.criteria),
  ]
  for j, layer in enumerate(table.layers):
    cells = [_fmt(table.values[i, j]) for i in range(len(table.criteria))]
    lines.append(f'| {layer} | {table.kept_reference[j]} | '
                 + ' | '.join(cells) + ' |')
  lines.append(f'| **overall** | {sum(table.kept_reference)} | '
               + ' | '.join(_fmt(v) for v in table.overall) + ' |')
  return '\n'.join(lines) + '\n'


def write_overlap_report(table: OverlapTable, out_dir: str | os.PathLike
                         ) -> dict[str, str]:
  """Writes ``overlap.md`` and ``overlap_heatmap.png`` into ``out_dir``.

  The heatmap has one row per criterion and one column per layer (plus an
  'overall' column), colour range [0, 1]; it is drawn with matplotlib's Agg
  canvas directly (no global backend change).

  Returns:
    ``{'markdown': path, 'heatmap': path}``.
  """
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top

  out_dir = os.fspath(out_dir)
  os.makedirs(out_dir, exist_ok=True)
  md_path = os.path.join(out_dir, 'overlap.md')
  with open(md_path, 'w', encoding='utf-8') as f:
    f.write(overlap_markdown(table))

  data = np.concatenate([table.values, table.overall[:, None]], axis=1)
  cols = list(table.layers) + ['overall']
  nr, nc = data.shape
  fig = Figure(figsize=(max(4.0, 0.35 * nc + 2.5), max(2.0, 0.45 * nr + 1.8)))
  FigureCanvasAgg(fig)
  ax = fig.add_subplot(1, 1, 1)
  im = ax.imshow(np.ma.masked_invalid(data), vmin=0.0, vmax=1.0,
                 cmap='viridis', aspect='auto')
  ax.set_yticks(range(nr), labels=list(table.criteria))
  ax.set_xticks(range(nc), labels=[c.removesuffix('/kernel') for c in cols],
                rotation=90, fontsize=6)
  ax.set_title('|keep_A ∧ keep_B| / |keep_B| (B = reference)')
  fig.colorbar(im, ax=ax)
  fig.tight_layout()
  png_path = os.path.join(out_dir, 'overlap_heatmap.png')
  fig.savefig(png_path, dpi=120)
  return {'markdown': md_path, 'heatmap': png_path}
