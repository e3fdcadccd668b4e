"""Environment switches that force a lowering choice at trace time.

``JAXPRUNE_CONV_LOWERING``, ``JAXPRUNE_POOL_LOWERING`` and
``JAXPRUNE_FUSION_CUT`` are read while a step is traced, so two builds of one
step in one process may differ by them (``experiments.bench --compare_env``).
Each module that owns a switch registers it here (:func:`register`), so the
launchers check every switch in one call (:func:`check_all`) and the bench
lists them (:func:`switches`).
"""

from __future__ import annotations

import os
from typing import Sequence

_SWITCHES: dict[str, tuple[str, ...]] = {}


def forced_choice(env_var: str, choices: Sequence[str]) -> str | None:
  """The choice ``env_var`` forces (case and surrounding blanks ignored), or
  None when it is unset or empty.

  Raises:
    ValueError: the variable names none of ``choices`` (launchers and the
      bench check this before anything is built).
  """
  value = os.environ.get(env_var, '').strip().lower()
  if value and value not in choices:
    raise ValueError(f'{env_var}={value!r}; use one of {", ".join(choices)}')
  return value or None


def register(env_var: str, choices: Sequence[str]) -> None:
  """Declares ``env_var`` a trace-time switch with these ``choices``."""
  _SWITCHES[env_var] = tuple(choices)


def switches() -> dict[str, tuple[str, ...]]:
  """``{env_var: choices}`` of every registered switch."""
  return dict(_SWITCHES)


def check_all() -> None:
  """One-line ``ValueError`` for any registered switch set to no choice
  (the launchers and the bench call it before anything is built)."""
  for env_var, choices in _SWITCHES.items():
    forced_choice(env_var, choices)
