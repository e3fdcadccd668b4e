"""The ``baseline`` study: train (or load) the dense model and evaluate it.

config -> run context -> ``baseline/`` stage (``config.optim``; resumable) or
``config.model.pretrained`` -> results.json with its accuracy, params and
FLOPs under the paper's convention.
"""

from __future__ import annotations

from typing import Any

from jaxprune import results as results_lib
from jaxprune.studies import context
from jaxprune.studies import registry


def baseline(config, workdir: str) -> dict[str, Any]:
  ctx = context.RunContext.create(config, workdir, 'baseline',
                                  plan=context.large_model_plan(config))
  _, entry = ctx.large_model(config.seed)
  summary = {'model': ctx.spec.name, 'dataset': config.data.name,
             'best_test_accuracy': entry['best_test_accuracy'],
             'last_test_accuracy': entry['last_test_accuracy'],
             'params': entry['params'], 'flops': entry['flops']}
  return ctx.finish(summary, results_lib.aggregate([{'baseline': entry}]),
                    {'model': ctx.spec.name, 'widths': ctx.spec.widths})


registry.register_study('baseline', baseline)
