"""The one results schema every study writes (``<workdir>/results.json``).

::

  {'study': 'rethinking',            # the registered study name
   'summary': {...},                 # a few headline values, printed by main
   'stages': {                       # per stage, over seeds
     'baseline': {'params': 65834, 'flops': 3007754, 'epochs': 6,
                  'best_test_accuracy': 0.9944, 'last_test_accuracy': 0.99,
                  'best_test_accuracy_std': 0.0, 'last_test_accuracy_std': 0.0,
                  'seeds': 1,
                  'runs': [{'seed': 0, 'best_test_accuracy': ..., ...}]},
     ...},
   'details': {...},                 # study-specific (widths, per-layer ...)
   'std': 'sample standard deviation over seeds (ddof=1); 0 for one seed',
   'config': {...}, 'device_kind': ..., 'platform': ..., 'device_count': ...,
   'wall_time_s': ...}

Accuracies are fractions in [0, 1]; ``best`` is the best test accuracy over
the stage's epochs, ``last`` the final epoch's. A stage that does not train
(the pruned model before fine-tuning, a mask evaluation) has best == last.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Sequence

import numpy as np

from jaxprune.training import checkpoint as ckpt_lib

RESULTS_FILE = 'results.json'
STD_DDOF = 1
STD_NOTE = 'sample standard deviation over seeds (ddof=1); 0 for one seed'
ACCURACIES = ('best_test_accuracy', 'last_test_accuracy')


def stage_entry(*, params: int, flops: int, best: float, last: float,
                **extra) -> dict[str, Any]:
  """One seed's entry of one stage."""
  return {'params': int(params), 'flops': int(flops),
          'best_test_accuracy': float(best), 'last_test_accuracy': float(last),
          **extra}


def sample_std(values: Sequence[float]) -> float:
  """Sample standard deviation (ddof=1); 0.0 for fewer than two values."""
  return float(np.std(values, ddof=STD_DDOF)) if len(values) > 1 else 0.0


def aggregate(runs: Sequence[Mapping[str, Mapping[str, Any]]]
              ) -> dict[str, dict[str, Any]]:
  """``[{stage: entry} per seed]`` -> ``{stage: aggregated entry}``.

  Means and sample stds of the accuracies over the seeds that ran the
  stage; params, FLOPs and epochs of the first seed; every seed's entry
  under ``runs``.
  """
  out: dict[str, dict[str, Any]] = {}
  for run in runs:
    for stage in run:
      out.setdefault(stage, {})
  for stage in out:
    entries = [r[stage] for r in runs if stage in r]
    first = entries[0]
    agg = {k: first[k] for k in ('params', 'flops', 'epochs') if k in first}
    for key in ACCURACIES:
      values = [e[key] for e in entries]
      agg[key] = float(np.mean(values))
      agg[key + '_std'] = sample_std(values)
    agg['seeds'] = len(entries)
    agg['runs'] = [dict(e) for e in entries]
    out[stage] = agg
  return out


def make(study: str, *, summary: Mapping[str, Any],
         stages: Mapping[str, Any], details: Mapping[str, Any],
         config: Mapping[str, Any], device: Mapping[str, Any],
         wall_time_s: float) -> dict[str, Any]:
  return {'study': study, 'summary': dict(summary), 'stages': dict(stages),
          'details': dict(details), 'std': STD_NOTE, 'config': dict(config),
          **dict(device), 'wall_time_s': float(wall_time_s)}


def write(workdir: str, results: Mapping[str, Any]) -> str:
  path = os.path.join(workdir, RESULTS_FILE)
  ckpt_lib.write_json(path, results)
  return path


def load(workdir: str) -> dict[str, Any]:
  """``<workdir>/results.json``, checked against the schema.

  Raises:
    ValueError: a missing or unreadable file, or one without the schema's
      ``study``, ``summary`` and ``stages`` (e.g. an older jaxprune's).
  """
  path = os.path.join(workdir, RESULTS_FILE)
  try:
    with open(path) as f:
      results = json.load(f)
  except FileNotFoundError:
    raise ValueError(f'{workdir} holds no {RESULTS_FILE} (has the run '
                     'finished?)') from None
  except (OSError, json.JSONDecodeError) as e:
    raise ValueError(f'{path} is unreadable: {e}') from e
  missing = [k for k in ('study', 'summary', 'stages') if k not in results]
  if missing:
    raise ValueError(f'{path} is not a jaxprune results file (missing '
                     f'{missing})')
  return results
