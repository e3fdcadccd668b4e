"""Environment switches that force a lowering choice at trace time.

``JAXPRUNE_CONV_LOWERING``, ``JAXPRUNE_POOL_LOWERING`` and
``JAXPRUNE_FUSION_CUT`` are read while a step is traced, so two builds of one
step in one process may differ by them (``experiments.bench --compare_env``).
"""

from __future__ import annotations

import os
from typing import Sequence


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
