"""Plots of study results: accuracy against FLOPs per pruning method."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

MARKERS = {'baseline': 'o', 'finetune': 's', 'scratch_e': '^',
           'scratch_b': 'v'}


def accuracy_vs_flops(results: Sequence[Mapping[str, Any]], output: str
                      ) -> list[str]:
  """``acc_vs_flops_<method>.png`` per method of the rethinking results:
  best test accuracy (mean ± sample std over seeds) against FLOPs per stage,
  log x axis. Drawn on matplotlib's Agg canvas (no global backend change).
  Returns the written paths."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  by_method: dict[str, list] = {}
  for r in results:
    by_method.setdefault(r['summary']['method'], []).append(r)
  paths = []
  for method, rs in sorted(by_method.items()):
    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for stage, marker in MARKERS.items():
      points = [r['stages'][stage] for r in rs if stage in r['stages']]
      if points:
        ax.errorbar([e['flops'] for e in points],
                    [100 * e['best_test_accuracy'] for e in points],
                    yerr=[100 * e['best_test_accuracy_std'] for e in points],
                    fmt=marker, label=stage, capsize=3)
    ax.set_xscale('log')
    ax.set_xlabel('FLOPs (multiply-add = 2)')
    ax.set_ylabel('best test accuracy (%)')
    ax.set_title(f'{method}: accuracy vs FLOPs')
    ax.legend()
    fig.tight_layout()
    path = os.path.join(output, f'acc_vs_flops_{method}.png')
    fig.savefig(path, dpi=100)
    paths.append(path)
  return paths
