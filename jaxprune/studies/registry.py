"""The study registry: ``get_study(name)(config, workdir) -> results``.

A study is a function of a config and a workdir that runs its stages on one
:class:`~jaxprune.studies.context.RunContext` and returns (and writes) the
results of :mod:`jaxprune.results`. Studies compose only through this
registry and the results/artifacts they write, never through each other's
internals.
"""

from __future__ import annotations

from typing import Any, Callable

from jaxprune.registry import Registry

Study = Callable[[Any, str], dict]

_STUDIES: Registry[Study] = Registry('study', 'studies')


def register_study(name: str, fn: Study) -> Study:
  """Adds a study; ``--config.study=<name>`` runs it."""
  return _STUDIES.register(name, fn)


def get_study(name: str) -> Study:
  return _STUDIES.get(name)


def study_names() -> list[str]:
  return _STUDIES.names()
