"""The ``suite`` study: both papers on one dataset (the README's main job).

For each entry of ``config.suite.methods`` (``{criterion: {prune field:
value}}``, e.g. ``{'l1_norm': {}, 'slimming': {'sparsity_lambda': 1e-4}}``)
the ``rethinking`` study runs in ``<workdir>/<criterion>`` with those
``config.prune`` overrides; then, with ``config.suite.jackpot``, the
``jackpot`` study in ``<workdir>/jackpot``. It ends with the comparison
tables of every run (:func:`jaxprune.reporting.write_report`) in
``<workdir>/report``. The sub-studies are found through the registry and
read back through their results, like any other run.
"""

from __future__ import annotations

import os
import time
from typing import Any

from jaxprune import pruning
from jaxprune import reporting
from jaxprune import results as results_lib
from jaxprune.studies import context
from jaxprune.studies import registry
from jaxprune.training import devices
from jaxprune.training import distributed


def _method_configs(config) -> list[tuple[str, Any]]:
  """``(criterion, sub-config)`` per method, checked before anything runs."""
  methods = context.native(config.suite.methods, 'suite.methods') or {}
  if not isinstance(methods, dict) or not methods:
    raise ValueError('config.suite.methods must be a non-empty dict '
                     '{criterion: {prune field: value}}')
  out = []
  for method, overrides in methods.items():
    pruning.get_criterion(method)
    sub = config.copy_and_resolve_references()
    sub.prune.method = method
    for field, value in (overrides or {}).items():
      if field not in sub.prune:
        raise ValueError(f'config.suite.methods[{method!r}] overrides '
                         f'unknown field config.prune.{field}')
      sub.prune[field] = value
    out.append((method, sub))
  return out


def suite(config, workdir: str) -> dict[str, Any]:
  t0 = time.time()
  runs = _method_configs(config)
  config_dict = context.open_run(config, workdir, 'suite')
  dirs = []
  for method, sub in runs:
    dirs.append(os.path.join(workdir, method))
    registry.get_study('rethinking')(sub, dirs[-1])
  if config.suite.jackpot:
    dirs.append(os.path.join(workdir, 'jackpot'))
    registry.get_study('jackpot')(config, dirs[-1])
  # Only process 0 of a multi-process run wrote the runs' results and
  # writes the report.
  report = (reporting.write_report(dirs, os.path.join(workdir, 'report'))
            if distributed.is_writer()
            else {'table': '', 'markdown': '', 'plots': []})
  out = results_lib.make(
      'suite', summary={'report': report['table'], 'runs': dirs},
      stages={}, details={'runs': dirs, 'report_markdown': report['markdown'],
                          'plots': report['plots']},
      config=config_dict, device=devices.device_info(), wall_time_s=time.time() - t0)
  results_lib.write(workdir, out)
  return out


registry.register_study('suite', suite)
