"""Progress lines inside long epochs, and the device memory a run peaked at.

An ImageNet epoch takes hours; one log line per epoch says nothing for that
long. :class:`StepProgress` logs every ``every`` steps of an epoch, when the
data is streamed or the epoch is expected to take longer than ``after_s``
seconds (measured on its first steps):

    search epoch 3/90 step 1200/5004  loss 2.7311  812 img/s  ETA epoch 1h18m02s, stage 102h41m10s  peak 21.3 GiB
"""

from __future__ import annotations

import dataclasses
import time

from absl import logging
import jax

from jaxprune.training.metrics import format_duration


def peak_memory_bytes() -> int | None:
  """The largest peak bytes in use over this process's devices, where the
  backend reports it (GPU, TPU); None elsewhere (XLA:CPU)."""
  peaks = []
  for device in jax.local_devices():
    try:
      stats = device.memory_stats()
    except Exception:  # pylint: disable=broad-except
      stats = None
    if stats and 'peak_bytes_in_use' in stats:
      peaks.append(int(stats['peak_bytes_in_use']))
  return max(peaks) if peaks else None


def memory_words() -> str:
  """'  peak 21.3 GiB' for a log line, or '' where nothing is reported."""
  peak = peak_memory_bytes()
  return '' if peak is None else f'  peak {peak / 2**30:.1f} GiB'


@dataclasses.dataclass
class StepProgress:
  """Logs steps of long epochs (module docstring).

  Attributes:
    name: the stage, first word of every line.
    epochs: the stage's epochs.
    steps_per_epoch: steps of one epoch.
    every: log every this many steps (0: never).
    after_s: epochs expected to take longer than this are logged.
    streamed: streamed data (always logged: its epochs are long).
  """
  name: str
  epochs: int
  steps_per_epoch: int
  every: int = 100
  after_s: float = 60.0
  streamed: bool = False

  def start_epoch(self, epoch: int, first_step: int) -> None:
    """An epoch starts (or resumes) at step ``first_step``."""
    self._epoch, self._first = epoch, first_step
    self._t0, self._images = time.time(), 0

  def wanted(self, step: int, seconds_per_step: float) -> bool:
    """Whether step ``step`` (0-based) of the epoch gets a line."""
    spe = self.steps_per_epoch
    long_epoch = self.streamed or seconds_per_step * spe > self.after_s
    return (self.every > 0 and long_epoch and (step + 1) % self.every == 0
            and step + 1 < spe)

  def step_done(self, step: int, loss: float, images: int) -> str | None:
    """Step ``step`` (0-based) is done; returns the line it logged, if any.

    Rates are timed from the end of the epoch's first step on, so a
    compilation does not count.
    """
    if step == self._first:
      self._t0 = time.time()
      return None
    self._images += images
    elapsed = time.time() - self._t0
    per_step = elapsed / (step - self._first)
    if not self.wanted(step, per_step):
      return None
    spe = self.steps_per_epoch
    epoch_left = per_step * (spe - step - 1)
    stage_left = epoch_left + per_step * spe * (self.epochs - self._epoch - 1)
    line = (f'{self.name} epoch {self._epoch + 1}/{self.epochs} step '
            f'{step + 1}/{spe}  loss {loss:.4f}  '
            f'{self._images / max(elapsed, 1e-9):.0f} img/s  ETA epoch '
            f'{format_duration(epoch_left)}, stage '
            f'{format_duration(stage_left)}{memory_words()}')
    logging.info('%s', line)
    return line
