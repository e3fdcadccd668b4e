"""Markdown tables of study results, in the papers' layouts.

Every table reads the one results schema (:mod:`jaxprune.results`). Cells
give our best and last test accuracy (%) as ``best / last``, with ``± std``
(sample std, ddof=1) over several seeds. Published numbers are not stored
here: a paper row's config carries them in ``config.paper`` (filled from
``experiments/configs/paper.py``), ``{stage: value}``, and they appear as
``(paper: ...)`` beside ours ("unknown" where the reference has none).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

RETHINKING_STAGES = ('baseline', 'pruned', 'finetune', 'scratch_e',
                     'scratch_b')
RETHINKING_HEADERS = ('Unpruned', 'Pruned', 'Fine-tuned', 'Scratch-E',
                      'Scratch-B')


def accuracy_cell(entry: Mapping[str, Any] | None) -> str:
  """``'best / last'`` in %, ``± std`` each over several seeds; '–' if the
  stage did not run; one number when best == last (no training)."""
  if entry is None:
    return '–'
  several = entry.get('seeds', 1) > 1

  def one(key):
    text = f'{100 * entry[key]:.2f}'
    if several:
      text += f' ± {100 * entry.get(key + "_std", 0.0):.2f}'
    return text
  best, last = one('best_test_accuracy'), one('last_test_accuracy')
  return best if best == last else f'{best} / {last}'


def _paper(results: Mapping[str, Any], stage: str) -> str | None:
  paper = (results.get('config') or {}).get('paper') or {}
  return None if stage not in paper else str(paper[stage])


def _with_paper(results, stage: str, cell: str) -> str:
  paper = _paper(results, stage)
  return cell if paper is None else f'{cell} (paper: {paper})'


def rethinking_table(results: Sequence[Mapping[str, Any]]) -> str:
  lines = ['| Dataset | Model | Method | ' + ' | '.join(RETHINKING_HEADERS)
           + ' |', '|' + '---|' * (3 + len(RETHINKING_HEADERS))]
  for r in results:
    s, stages = r['summary'], r['stages']
    cells = [_with_paper(r, st, accuracy_cell(stages.get(st)))
             for st in RETHINKING_STAGES]
    model = s['model'] + (f' [{s["row"]}]' if s.get('row') else '')
    method = s['method'] + (f' {s["ratio"]:.0%}' if s.get('ratio') else '')
    lines.append(f'| {s["dataset"]} | {model} | {method} | '
                 + ' | '.join(cells) + ' |')
  lines += ['', 'Ours: test accuracy (%) as best / last epoch (one number '
            'where they agree), ± sample std (ddof=1) over seeds; paper '
            'numbers from rethinking.md §8 where the row has them '
            '("unknown" where the reference has none). Pruned = before '
            'fine-tuning.', '',
            '| Model | Method | Params (unpruned → pruned) | FLOPs (unpruned '
            '→ pruned) | Scratch-B epochs |', '|---|---|---|---|---|']
  for r in results:
    st, s = r['stages'], r['summary']
    seed0 = r['details']['seeds'][0]
    rule, ran = seed0['scratch_b_epochs'], seed0['scratch_b_epochs_run']
    epochs = f'{rule}' if ran == rule else f'{rule} (capped to {ran})'
    lines.append(
        f'| {s["model"]} | {s["method"]} | {st["baseline"]["params"]:,} → '
        f'{st["pruned"]["params"]:,} | {st["baseline"]["flops"]:,} → '
        f'{st["pruned"]["flops"]:,} | {epochs} |')
  return '\n'.join(lines) + '\n'


def jackpot_table(results: Sequence[Mapping[str, Any]]) -> str:
  """Dense vs magnitude mask vs jackpot (no weight updated), top-1 %."""
  lines = ['| Dataset | Model | Sparsity | Dense | Magnitude mask | '
           'Jackpot | Tuned | Weights updated |',
           '|---|---|---|---|---|---|---|---|']
  for r in results:
    s, st = r['summary'], r['stages']
    model = s['model'] + (f' [{s["row"]}]' if s.get('row') else '')
    lines.append(
        f'| {s["dataset"]} | {model} | {100 * s["sparsity"]:.2f}% | '
        f'{_with_paper(r, "baseline", accuracy_cell(st.get("baseline")))} | '
        f'{accuracy_cell(st.get("magnitude_mask"))} | '
        f'{_with_paper(r, "search", accuracy_cell(st.get("search")))} | '
        f'{_with_paper(r, "tune", accuracy_cell(st.get("tune")))} | '
        f'{"yes" if s["weights_updated"] else "no"} |')
  lines += ['', 'Test accuracy (%) as best / last epoch; the jackpot is the '
            'searched mask on the frozen dense weights; paper numbers are '
            'the published top-1 of the row (lottery_jackpots.md §6.2).']
  return '\n'.join(lines) + '\n'


def baseline_table(results: Sequence[Mapping[str, Any]]) -> str:
  lines = ['| Dataset | Model | Test accuracy (best / last) | Params | FLOPs |',
           '|---|---|---|---|---|']
  for r in results:
    s, e = r['summary'], r['stages']['baseline']
    lines.append(f'| {s["dataset"]} | {s["model"]} | '
                 f'{_with_paper(r, "baseline", accuracy_cell(e))} | '
                 f'{e["params"]:,} | {e["flops"]:,} |')
  return '\n'.join(lines) + '\n'


def overlap_summary_table(results: Sequence[Mapping[str, Any]]) -> str:
  names = sorted({n for r in results for n in r['details']['overall']})
  lines = ['| Dataset | Model | ' + ' | '.join(names) + ' |',
           '|---|---|' + '---|' * len(names)]
  for r in results:
    s, o = r['summary'], r['details']['overall']
    lines.append(f'| {s["dataset"]} | {s["model"]} | ' + ' | '.join(
        f'{o[n]:.3f}' if n in o else '–' for n in names) + ' |')
  lines += ['', 'Overall overlap with the reference mask, '
            '|keep_A ∧ keep_ref| / |keep_ref| over the pruned layers (the '
            'project\'s metric).']
  return '\n'.join(lines) + '\n'


def lottery_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
  """One point per (learning rate, round) of a lottery_ticket result:
  ``{'lr', 'round', 'density', 'ticket': entry, 'random': entry}``."""
  s, st = result['summary'], result['stages']
  rounds = s['rounds']
  density = result['details']['seeds'][0]['conv_density']
  out = []
  for lr in s['learning_rates']:
    for r in range(1, rounds + 1):
      suffix = f'lr{lr:g}' + (f'_round{r}' if rounds > 1 else '')
      out.append({'lr': lr, 'round': r, 'density': density[f'{lr:g}'][r - 1],
                  'ticket': st.get(f'ticket_{suffix}'),
                  'random': st.get(f'random_{suffix}')})
  return out


def lottery_table(results: Sequence[Mapping[str, Any]]) -> str:
  """Rethinking §9: winning ticket vs random init, per LR and round."""
  lines = ['| Dataset | Model | Pruning | Round | Conv density | LR | '
           'Unpruned | Winning ticket | Random init |',
           '|---|---|---|---|---|---|---|---|---|']
  for r in results:
    s = r['summary']
    model = s['model'] + (f' [{s["row"]}]' if s.get('row') else '')
    # A ratio of 0 means the row's own per-layer targets (L1-norm rows).
    pruning = ((f'{s["method"]} {s["ratio"]:.0%}' if s.get('ratio')
                else f'{s["method"]} at per-layer targets')
               + (' per round' if s['rounds'] > 1 else ''))
    base = accuracy_cell(r['stages'].get('baseline'))
    for p in lottery_rows(r):
      lines.append(
          f'| {s["dataset"]} | {model} | {pruning} | {p["round"]} | '
          f'{100 * p["density"]:.2f}% | {p["lr"]:g} | {base} | '
          f'{_with_paper(r, "ticket", accuracy_cell(p["ticket"]))} | '
          f'{_with_paper(r, "random", accuracy_cell(p["random"]))} |')
  lines += ['', 'Both arms: the same mask, data order, epochs and schedule; '
            'the winning ticket starts from the large model\'s saved '
            'initialisation θ₀ ⊙ mask, the random arm from a fresh init '
            '(density-scaled He for unstructured masks) ⊙ mask. Channel '
            'masks also zero the pruned filters\' BN γ/β. The reference '
            'has no published numbers for this study (rethinking.md §8.7).']
  return '\n'.join(lines) + '\n'


def sss_table(results: Sequence[Mapping[str, Any]]) -> str:
  """Rethinking's Table 5: SSS block configs, searched or published, and
  their scratch training, top-1 %."""
  lines = ['| Dataset | Model | Blocks (kept, first kept) | Depth | Search '
           '(gated) | Pruned | Scratch-E | Scratch-B | Scratch-B epochs |',
           '|---|---|---|---|---|---|---|---|---|']
  for r in results:
    s, st = r['summary'], r['stages']
    model = s['model'] + (f' [{s["row"]}]' if s.get('row') else '')
    blocks = ', '.join(f'({k}, {"T" if f else "F"})' for k, f in s['blocks'])
    cells = [_with_paper(r, stage, accuracy_cell(st.get(stage)))
             for stage in ('search', 'pruned', 'scratch_e', 'scratch_b')]
    lines.append(f'| {s["dataset"]} | {model} | {blocks} | {s["depth"]} | '
                 + ' | '.join(cells) + f' | {s["scratch_b_epochs"]} |')
  lines += ['', 'Test accuracy (%) as best / last epoch. Pruned = the '
            'searched model with its zero-lambda blocks removed, before any '
            'training; paper numbers (top-1 / top-5) from rethinking.md §8.5 '
            '("unknown" where the reference has none).']
  return '\n'.join(lines) + '\n'


def arch_search_table(results: Sequence[Mapping[str, Any]]) -> str:
  """Rethinking §10: per ratio, the pruned, uniform, guided and transferred
  architectures (or sparsity patterns) trained from scratch."""
  lines = ['| Dataset | Model | Mode | Ratio | Pruned | Uniform | Guided | '
           'Transferred |', '|---|---|---|---|---|---|---|---|']
  for r in results:
    s, st = r['summary'], r['stages']
    model = s['model'] + (f' [{s["row"]}]' if s.get('row') else '')
    for ratio in s['ratios']:
      cells = []
      for arm in ('pruned', 'uniform', 'guided', 'transfer'):
        e = st.get(f'{arm}_r{ratio:g}')
        cells.append('–' if e is None else
                     f'{accuracy_cell(e)} ({e["params"]:,} params)')
      lines.append(f'| {s["dataset"]} | {model} | {s["mode"]} | {ratio:g} | '
                   + ' | '.join(cells) + ' |')
  lines += ['', 'All trained from scratch with the same epochs (Scratch-E); '
            'params count non-zero weights for sparsity patterns. The '
            'reference has no published numbers for this study.']
  return '\n'.join(lines) + '\n'


TABLES = {'rethinking': rethinking_table, 'jackpot': jackpot_table,
          'architecture_search': arch_search_table,
          'lottery_ticket': lottery_table, 'sss': sss_table,
          'baseline': baseline_table, 'mask_overlap': overlap_summary_table}


def markdown(results: Sequence[Mapping[str, Any]]) -> str:
  """One table per study present (in the order of :data:`TABLES`)."""
  parts = []
  for study, table in TABLES.items():
    rows = [r for r in results if r['study'] == study]
    if rows:
      parts.append(table(rows))
  return '\n'.join(parts)
