"""Preemption and divergence: how a stage stops without losing good state.

* SIGTERM (what a cluster sends before it takes the machine) and SIGINT
  (Ctrl-C) do not kill a stage at once: :func:`watch_signals` sets a flag that
  the epoch loop checks after every step; the loop then writes a checkpoint
  at that exact step, closes its metric writers and raises :class:`Preempted`.
  The launcher turns it into a one-line message naming where to resume and
  exit code :data:`EXIT_PREEMPTED`. A second SIGINT interrupts at once.
  In a multi-process run SIGTERM is left to JAX's preemption notifier and
  the loop asks :meth:`SignalFlag.poll` after every step, so every process
  stops (and saves) at the same step, whichever of them got the signal.
* A non-finite loss or gradient norm raises :class:`Diverged` naming the
  stage, epoch and step; the state that produced it is never checkpointed,
  so the last finite checkpoint stays the newest.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

from absl import logging
import jax

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: try again (resume) later
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preempted(Exception):
  """A stage stopped on a signal after checkpointing its exact position."""

  def __init__(self, stage: str, workdir: str, epoch: int, step: int,
               signum: int):
    self.stage, self.workdir, self.epoch, self.step = stage, workdir, epoch, step
    self.signal_name = signal.Signals(signum).name
    super().__init__(
        f'{self.signal_name}: stage {stage!r} saved at epoch {epoch + 1}, '
        f'step {step} of the epoch, in {workdir}; run the same command '
        'again to resume')


class Diverged(ValueError):
  """A step gave a non-finite loss or gradient norm."""


class SignalFlag:
  """Set by the handlers of :func:`watch_signals`."""

  def __init__(self):
    self.signum: int | None = None
    self._polls = 0

  @property
  def requested(self) -> bool:
    return self.signum is not None

  def poll(self) -> bool:
    """:attr:`requested`, after a step. Over several processes every one
    must call it after every step: they agree (JAX's preemption sync point)
    on one step at which all of them see a SIGTERM any of them got."""
    if jax.distributed.is_initialized() and not self.requested:
      from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
      self._polls += 1
      if multihost_utils.reached_preemption_sync_point(self._polls):
        self.signum = signal.SIGTERM
        logging.warning('SIGTERM reached a process of the run: every '
                        'process checkpoints this step')
    return self.requested


_ACTIVE: list[SignalFlag] = []


@contextlib.contextmanager
def watch_signals(on_exit=None) -> Iterator[SignalFlag]:
  """Turns SIGTERM/SIGINT into a flag for the duration of the block.

  ``on_exit``: the handler to leave installed after the block (default: the
  previous ones); the launcher leaves ``signal.SIG_IGN``, since a finished
  study has nothing left to save.

  Nested blocks share the outermost flag (the launcher watches a whole
  study; each stage's loop checks the same flag). Off the main thread
  (where Python cannot install handlers) the flag never fires and the
  signals keep their previous behaviour.
  """
  if _ACTIVE:
    yield _ACTIVE[-1]
    return
  flag = SignalFlag()
  if threading.current_thread() is not threading.main_thread():
    yield flag
    return

  def handler(signum, frame):
    del frame
    if flag.requested and signum == signal.SIGINT:
      raise KeyboardInterrupt  # a second Ctrl-C: stop now
    flag.signum = signum
    logging.warning('%s received: finishing the step, then checkpointing',
                    signal.Signals(signum).name)

  # Over several processes JAX's preemption notifier owns SIGTERM (poll).
  watched = ((signal.SIGINT,) if jax.distributed.is_initialized()
             else SIGNALS)
  previous = {s: signal.getsignal(s) for s in watched}
  for s in watched:
    signal.signal(s, handler)
  _ACTIVE.append(flag)
  try:
    yield flag
  finally:
    _ACTIVE.pop()
    for s, h in previous.items():
      signal.signal(s, h if on_exit is None else on_exit)
