"""Reports of finished runs: tables in the papers' layouts, plots, overlap.

``write_report(workdirs, output)`` reads every ``results.json`` (any study)
and writes ``table.md`` plus the accuracy-vs-FLOPs and lottery-ticket plots;
``summary_text(results)`` is what the launcher prints for a run.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Sequence

from jaxprune import results as results_lib
from jaxprune.reporting import plots
from jaxprune.reporting import tables
from jaxprune.reporting.tables import markdown


def write_report(workdirs: Sequence[str], output: str) -> dict[str, Any]:
  """``table.md`` and plots of the runs in ``workdirs`` into ``output``.

  Returns ``{'table': path, 'markdown': text, 'plots': [paths]}``.
  """
  runs = [results_lib.load(w) for w in workdirs]
  os.makedirs(output, exist_ok=True)
  md = tables.markdown(runs)
  path = os.path.join(output, 'table.md')
  with open(path, 'w', encoding='utf-8') as f:
    f.write(md)
  def of(study):
    return [r for r in runs if r['study'] == study]
  return {'table': path, 'markdown': md,
          'plots': plots.accuracy_vs_flops(of('rethinking'), output)
                   + plots.lottery_ticket(of('lottery_ticket'), output)
                   + plots.accuracy_vs_params(of('architecture_search'),
                                              output)}


def summary_text(results: Mapping[str, Any]) -> str:
  """A finished run for the terminal: its report tables if it composed
  others, else its table and its JSON summary."""
  details = results.get('details') or {}
  if details.get('report_markdown'):
    return details['report_markdown']
  table = (tables.markdown([results]) if results['study'] in tables.TABLES
           else '')
  return table + '\n' + json.dumps(results['summary'], indent=2,
                                   default=str)


__all__ = ['markdown', 'summary_text', 'write_report']
