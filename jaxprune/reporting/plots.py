"""Plots of study results: accuracy against FLOPs per pruning method, and
the lottery-ticket arms against conv density."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from jaxprune.reporting import tables

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


def lottery_ticket(results: Sequence[Mapping[str, Any]], output: str
                   ) -> list[str]:
  """``lottery_<model>_<method>[_<row>].png`` per lottery_ticket result:
  best test accuracy (mean ± sample std over seeds) of the winning ticket
  and of the random init against the conv density of each round's mask, one
  line per arm and learning rate. Returns the written paths."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  paths = []
  for r in results:
    s = r['summary']
    points = tables.lottery_rows(r)
    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for lr in s['learning_rates']:
      mine = [p for p in points if p['lr'] == lr]
      for arm, fmt in (('ticket', 'o-'), ('random', 's--')):
        done = [p for p in mine if p[arm] is not None]
        if done:
          ax.errorbar([100 * p['density'] for p in done],
                      [100 * p[arm]['best_test_accuracy'] for p in done],
                      yerr=[100 * p[arm]['best_test_accuracy_std']
                            for p in done],
                      fmt=fmt, capsize=3,
                      label=f'{"winning ticket" if arm == "ticket" else "random init"}, LR {lr:g}')
    ax.invert_xaxis()
    ax.set_xlabel('conv weights kept (%)')
    ax.set_ylabel('best test accuracy (%)')
    ax.set_title(f'{s["model"]} {s["method"]}: winning ticket vs random init')
    ax.legend(fontsize=8)
    fig.tight_layout()
    tag = '_'.join(x for x in (s['model'], s['method'],
                               (s.get('row') or '').replace(',', '_')) if x)
    path = os.path.join(output, f'lottery_{tag}.png')
    fig.savefig(path, dpi=100)
    paths.append(path)
  return paths


def accuracy_vs_params(results: Sequence[Mapping[str, Any]], output: str
                       ) -> list[str]:
  """``arch_<model>_<mode>.png`` per architecture_search result: best test
  accuracy (mean ± sample std over seeds) against parameters (non-zero for
  masks), one series per arm (pruned, uniform, guided, transferred)."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  paths = []
  for r in results:
    s, st = r['summary'], r['stages']
    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for arm, fmt in (('pruned', 'o-'), ('uniform', 's--'), ('guided', '^-.'),
                     ('transfer', 'v:')):
      pts = [st[f'{arm}_r{x:g}'] for x in s['ratios']
             if f'{arm}_r{x:g}' in st]
      if pts:
        ax.errorbar([e['params'] for e in pts],
                    [100 * e['best_test_accuracy'] for e in pts],
                    yerr=[100 * e['best_test_accuracy_std'] for e in pts],
                    fmt=fmt, capsize=3, label=arm)
    ax.set_xscale('log')
    ax.set_xlabel('parameters (non-zero)')
    ax.set_ylabel('best test accuracy (%)')
    ax.set_title(f'{s["model"]} ({s["mode"]}): accuracy vs parameters')
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(output, f'arch_{s["model"]}_{s["mode"]}.png')
    fig.savefig(path, dpi=100)
    paths.append(path)
  return paths
