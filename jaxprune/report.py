"""Tables and plots of Rethinking pipeline runs.

    python -m experiments.report runs/r56a runs/r56b --output=runs/report

Reads ``results.json`` of each workdir (written by the ``rethinking`` or
``jackpot`` pipeline). For Rethinking runs it writes ``<output>/table.md`` in the
paper's layout (Dataset | Model | Unpruned | Pruned | Fine-tuned | Scratch-E
| Scratch-B), our mean +- std (best test accuracy, %) beside the paper's
number from rethinking.md §8 ('unknown' where the reference says so), and one
accuracy-vs-FLOPs PNG per method (``<output>/acc_vs_flops_<method>.png``).
For jackpot runs it adds a table of dense, magnitude-mask and jackpot accuracy
beside the published top-1 of the row (lottery_jackpots.md §6.2).
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

U = 'unknown'
# row -> (Unpruned, Fine-tuned, Scratch-E, Scratch-B), rethinking.md §8.
PAPER: dict[str, tuple[str, str, str, str]] = {
    'vgg16_a': (U, U, U, U),
    'resnet56_a': ('93.14 ± 0.12', U, '92.96 ± 0.26', '93.09 ± 0.14'),
    'resnet56_b': ('93.14 ± 0.12', U, '92.54 ± 0.19', '93.05 ± 0.18'),
    'resnet110_a': ('93.14 ± 0.24', U, '93.25 ± 0.29', '93.22 ± 0.22'),
    'resnet110_b': ('93.14 ± 0.24', U, '92.89 ± 0.43', '93.60 ± 0.25'),
    'resnet34_a': ('73.31', U, '72.77', '73.03'),
    'resnet34_b': ('73.31', U, '72.55', '72.91'),
    'vgg19_slim70_c10': (U, U, U, U),
    'vgg19_slim50_c100': (U, U, U, U),
    'preresnet164_slim40': (U, U, U, U),
    'preresnet164_slim60': (U, U, U, U),
    'densenet40_slim40': (U, U, U, U),
    'densenet40_slim60': (U, U, U, U),
    'vgg11_slim50': (U, '68.62', '70.00', '71.18'),
    'vgg19_wl30': (U, U, U, U), 'vgg19_wl80': (U, U, U, U),
    'preresnet110_wl30': (U, U, U, U), 'preresnet110_wl80': (U, U, U, U),
    'densenet_bc100_wl30': (U, U, U, U), 'densenet_bc100_wl60': (U, U, U, U),
    'vgg16_wl30_imagenet': (U, '73.68', '72.75', '74.02'),
    'vgg16_wl60_imagenet': (U, '73.63', '71.50', '73.42'),
    'resnet50_wl30': (U, '76.06', '74.77', '75.60'),
    'resnet50_wl60': (U, '76.09', '73.69', '74.90'),
}

STAGES = ('baseline', 'pruned', 'finetune', 'scratch_e', 'scratch_b')
HEADERS = ('Unpruned', 'Pruned', 'Fine-tuned', 'Scratch-E', 'Scratch-B')


def load(workdir: str) -> dict[str, Any]:
  path = os.path.join(workdir, 'results.json')
  with open(path) as f:
    results = json.load(f)
  if results.get('pipeline') not in ('rethinking', 'jackpot'):
    raise ValueError(f'{path} is not a rethinking or jackpot pipeline result')
  return results


def _ours(agg: dict[str, Any], stage: str) -> str:
  e = agg.get(stage)
  if e is None:
    return '–'
  mean = 100 * e['best_test_accuracy_mean']
  if len(e['best_test_accuracy_all']) > 1:
    return f'{mean:.2f} ± {100 * e["best_test_accuracy_std"]:.2f}'
  return f'{mean:.2f}'


def _scratch_b_epochs(run: dict[str, Any]) -> str:
  rule = run.get('scratch_b_epochs', '–')
  ran = run.get('scratch_b_epochs_run', rule)
  return f'{rule}' if ran == rule else f'{rule} (capped to {ran})'


def table(results: Sequence[dict[str, Any]]) -> str:
  lines = ['| Dataset | Model | Method | ' + ' | '.join(HEADERS) + ' |',
           '|' + '---|' * (3 + len(HEADERS))]
  for r in results:
    row = r.get('row') or ''
    base_row, *variants = row.split(',')
    # The paper's numbers are for the row's own dataset (CIFAR-10/ImageNet).
    paper = None if 'cifar100' in variants else PAPER.get(base_row)
    agg = r['aggregate']
    cells = []
    for i, stage in enumerate(STAGES):
      ours = _ours(agg, stage)
      if stage == 'pruned':
        cells.append(ours)  # the paper has no accuracy for the pruned model
        continue
      if base_row in PAPER and paper is not None:
        cells.append(f'{ours} (paper: {paper[[0, None, 1, 2, 3][i]]})')
      else:
        cells.append(ours)  # not a paper row: nothing to put beside it
    model = r['model'] + (f' [{row}]' if row else '')
    method = r['method'] + (f' {r["prune_ratio"]:.0%}'
                            if r.get('prune_ratio') else '')
    lines.append(f'| {r["dataset"]} | {model} | {method} | '
                 + ' | '.join(cells) + ' |')
  lines.append('')
  lines.append('Ours: best test accuracy (%), mean ± std over seeds; '
               'paper numbers from rethinking.md §8 ("unknown" where the '
               'reference has none). Pruned = before fine-tuning.')
  lines.append('')
  lines.append('| Model | Method | Params (unpruned → pruned) | '
               'FLOPs (unpruned → pruned) | Scratch-B epochs |')
  lines.append('|---|---|---|---|---|')
  for r in results:
    a = r['aggregate']
    lines.append(
        f'| {r["model"]} | {r["method"]} | {a["baseline"]["params"]:,} → '
        f'{a["pruned"]["params"]:,} | {a["baseline"]["flops"]:,} → '
        f'{a["pruned"]["flops"]:,} | '
        f'{_scratch_b_epochs(r["runs"][0])} |')
  return '\n'.join(lines) + '\n'


def plots(results: Sequence[dict[str, Any]], output: str) -> list[str]:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  by_method: dict[str, list] = {}
  for r in results:
    by_method.setdefault(r['method'], []).append(r)
  paths = []
  markers = {'baseline': 'o', 'finetune': 's', 'scratch_e': '^',
             'scratch_b': 'v'}
  for method, rs in sorted(by_method.items()):
    fig, ax = plt.subplots(figsize=(6, 4))
    for stage, marker in markers.items():
      xs, ys, es = [], [], []
      for r in rs:
        e = r['aggregate'].get(stage)
        if e is None:
          continue
        xs.append(e['flops'])
        ys.append(100 * e['best_test_accuracy_mean'])
        es.append(100 * e['best_test_accuracy_std'])
      if xs:
        ax.errorbar(xs, ys, yerr=es, fmt=marker, label=stage, capsize=3)
    ax.set_xscale('log')
    ax.set_xlabel('FLOPs (multiply-add = 2)')
    ax.set_ylabel('best test accuracy (%)')
    ax.set_title(f'{method}: accuracy vs FLOPs')
    ax.legend()
    fig.tight_layout()
    path = os.path.join(output, f'acc_vs_flops_{method}.png')
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths.append(path)
  return paths


def jackpot_table(results: Sequence[dict[str, Any]]) -> str:
  """Dense vs magnitude mask vs jackpot (no weight updated), test top-1 %."""
  lines = ['| Dataset | Model | Sparsity | Dense | Magnitude mask | '
           'Jackpot best / last | Weights updated | Published |',
           '|---|---|---|---|---|---|---|---|']
  for r in results:
    s = r['summary']
    published = r.get('config', {}).get('published_top1')
    lines.append(
        f'| {r["dataset"]} | {r["model"]} | {100 * s["sparsity"]:.2f}% | '
        f'{100 * s["dense_best_accuracy"]:.2f} | '
        f'{100 * s["magnitude_mask_accuracy"]:.2f} | '
        f'{100 * s["jackpot_best_accuracy"]:.2f} / '
        f'{100 * s["jackpot_last_accuracy"]:.2f} | '
        f'{"yes" if s["weights_updated"] else "no"} | '
        f'{published if published else "–"} |')
  return '\n'.join(lines) + '\n'


def markdown(results: Sequence[dict[str, Any]]) -> str:
  """The Rethinking table and/or the jackpot table of ``results``."""
  rethinking = [r for r in results if r.get('pipeline') == 'rethinking']
  jackpots = [r for r in results if r.get('pipeline') == 'jackpot']
  parts = []
  if rethinking:
    parts.append(table(rethinking))
  if jackpots:
    parts.append(jackpot_table(jackpots))
  return '\n'.join(parts)


def write_report(workdirs: Sequence[str], output: str) -> dict[str, Any]:
  results = [load(w) for w in workdirs]
  os.makedirs(output, exist_ok=True)
  md = markdown(results)
  with open(os.path.join(output, 'table.md'), 'w') as f:
    f.write(md)
  rethinking = [r for r in results if r.get('pipeline') == 'rethinking']
  return {'table': os.path.join(output, 'table.md'), 'markdown': md,
          'plots': plots(rethinking, output) if rethinking else []}
