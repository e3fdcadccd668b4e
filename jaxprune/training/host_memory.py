"""Transparent huge pages for XLA:CPU's step buffers (glibc's malloc).

XLA:CPU allocates each step's temporary buffers afresh; glibc serves
allocations this large with a new ``mmap`` and returns them with
``munmap``, so the kernel faults in and zeroes every 4 KiB page again on
every step. On the 2-vCPU development machine a ResNet-32 jackpot search
step (batch 64, 2 devices) took 130,000 page faults and 270-330 ms of
kernel time per step, about a sixth of its CPU time. With glibc's
``glibc.malloc.hugetlb=1`` tunable malloc asks for transparent huge pages
(``madvise``), and the same step took 1,000-1,400 faults and 50-60 ms
(``experiments/results/README.md``, issue 12).

A glibc tunable is read once, when the process starts, so
:func:`relaunch_with_huge_pages` runs the same command again with the
tunable added (``os.execve``: same process id, arguments and open files)
when it would help: Linux with glibc 2.35 or later and transparent huge
pages in ``madvise`` mode (in ``always`` mode the kernel already uses them;
in ``never`` mode nothing can). The launchers call it first thing; a
library import never does. ``JAXPRUNE_HOST_HUGE_PAGES=0`` keeps the C
library's default, and a ``GLIBC_TUNABLES`` that already names
``glibc.malloc.hugetlb`` is left as the user set it.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Mapping

TUNABLE = 'glibc.malloc.hugetlb'
TUNABLE_SETTING = f'{TUNABLE}=1'
OPT_OUT = 'JAXPRUNE_HOST_HUGE_PAGES'
THP_MODE_FILE = '/sys/kernel/mm/transparent_hugepage/enabled'
MIN_GLIBC = (2, 35)  # the first glibc with glibc.malloc.hugetlb


def thp_mode(path: str = THP_MODE_FILE) -> str | None:
  """The kernel's transparent-huge-page mode (``'always'``, ``'madvise'``,
  ``'never'``), or None where the file is missing or unreadable."""
  try:
    with open(path, encoding='ascii') as f:
      text = f.read()
  except OSError:
    return None
  for word in text.split():
    if word.startswith('[') and word.endswith(']'):
      return word[1:-1]
  return None


def _version(text: str) -> tuple[int, ...]:
  parts = []
  for part in text.split('.'):
    if not part.isdigit():
      break
    parts.append(int(part))
  return tuple(parts)


_OFF = ('0', 'false', 'off', 'no')
_ON = ('', '1', 'true', 'on', 'yes')


def _hugetlb_tunable(environ: Mapping[str, str]) -> str | None:
  """The ``glibc.malloc.hugetlb=...`` entry of ``GLIBC_TUNABLES``, or None."""
  return next((t for t in environ.get('GLIBC_TUNABLES', '').split(':')
               if t.split('=')[0] == TUNABLE), None)


def huge_page_environment(environ: Mapping[str, str], system: str,
                          libc: tuple[str, str],
                          mode: str | None) -> dict[str, str] | None:
  """The environment to relaunch with, or None when relaunching would not
  help or the user decided.

  Args:
    environ: the current environment.
    system: ``platform.system()``.
    libc: ``platform.libc_ver()``, e.g. ``('glibc', '2.36')``.
    mode: :func:`thp_mode`.

  Returns:
    ``environ`` with :data:`TUNABLE_SETTING` added to ``GLIBC_TUNABLES``
    (colon-separated, the user's tunables kept), or None.

  Raises:
    ValueError: :data:`OPT_OUT` is neither on nor off.
  """
  choice = environ.get(OPT_OUT, '').strip().lower()
  if choice not in _OFF + _ON:
    raise ValueError(f'{OPT_OUT}={environ[OPT_OUT]!r}; use 0 (glibc\'s '
                     'default malloc) or 1 (huge pages where they help)')
  if choice in _OFF or _hugetlb_tunable(environ) is not None:
    return None
  current = environ.get('GLIBC_TUNABLES', '')
  if system != 'Linux' or mode != 'madvise':
    return None
  if libc[0] != 'glibc' or _version(libc[1]) < MIN_GLIBC:
    return None
  env = dict(environ)
  env['GLIBC_TUNABLES'] = ':'.join(t for t in (current, TUNABLE_SETTING)
                                   if t)
  return env


def relaunch_with_huge_pages() -> None:
  """Runs this command again with glibc's huge-page tunable, if it helps.

  Call it first thing in a launcher's ``__main__`` (before a backend
  starts, so nothing is computed twice); when it acts it does not return.
  Where :func:`huge_page_environment` says no, it returns at once.
  """
  try:
    env = huge_page_environment(os.environ, platform.system(),
                                platform.libc_ver(), thp_mode())
  except ValueError as e:
    sys.exit(f'error: {e}')
  if env is None:
    return
  argv = [sys.executable, *sys.orig_argv[1:]]
  print(f'jaxprune: running again with GLIBC_TUNABLES={env["GLIBC_TUNABLES"]}'
        f' (huge pages for XLA:CPU buffers; {OPT_OUT}=0 skips this)',
        file=sys.stderr, flush=True)
  sys.stdout.flush()
  os.execve(sys.executable, argv, env)


def describe(environ: Mapping[str, str] | None = None) -> str:
  """Whether this process's malloc asks for huge pages, for run records:
  ``'huge pages (glibc.malloc.hugetlb=1, THP madvise)'`` or
  ``'default (THP madvise)'``."""
  setting = _hugetlb_tunable(os.environ if environ is None else environ)
  mode = f'THP {thp_mode() or "unknown"}'
  if setting and setting != f'{TUNABLE}=0':
    return f'huge pages ({setting}, {mode})'
  return f'default ({mode})'
