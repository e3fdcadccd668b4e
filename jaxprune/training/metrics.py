"""Per-epoch metrics: a log line, a JSON-lines file and TensorBoard events.

The files always agree with the stage's checkpoint: a writer opened on a
resumed stage first rewrites ``metrics.jsonl`` and the TensorBoard events
from the restored history, so an epoch that ran after the last checkpoint
(and will run again) never appears twice.
"""

from __future__ import annotations

import glob
import json
import os
from typing import Any, Mapping, Sequence

from absl import logging

METRICS_FILE = 'metrics.jsonl'
NOT_SCALARS = ('epoch', 'checkpoint_step')


class MetricWriter:
  """Writes scalars to ``<logdir>/metrics.jsonl`` and TensorBoard events.

  Args:
    logdir: the stage directory.
    tensorboard: also write TensorBoard event files.
    history: the restored per-epoch records (``{'epoch': e, ...}``); the
      files are rewritten to hold exactly these before anything is added.
    active: False writes nothing (every process but 0 of a multi-process
      run).
  """

  def __init__(self, logdir: str, tensorboard: bool = True,
               history: Sequence[Mapping[str, Any]] = (), active: bool = True):
    self._jsonl = os.path.join(logdir, METRICS_FILE)
    self._tb = None
    self._active = active
    if not active:  # another process of a multi-process run writes
      return
    os.makedirs(logdir, exist_ok=True)
    rows = [(int(h['epoch']), _scalars(h)) for h in history]
    tmp = self._jsonl + '.tmp'
    with open(tmp, 'w') as f:
      for step, scalars in rows:
        f.write(json.dumps({'step': step, **scalars}) + '\n')
    os.replace(tmp, self._jsonl)
    if tensorboard:
      # tf.summary.write (TF core) with the 'scalars' plugin metadata is what
      # tensorboard's own scalar summary emits; it avoids needing the
      # tensorboard package to *write* event files.
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      from tensorflow.core.framework import summary_pb2  # pylint: disable=g-import-not-at-top
      self._tf = tf
      self._metadata = summary_pb2.SummaryMetadata(
          plugin_data=summary_pb2.SummaryMetadata.PluginData(
              plugin_name='scalars')).SerializeToString()
      # Events are rewritten from the history too (TensorBoard would show a
      # re-run epoch twice otherwise).
      for old in glob.glob(os.path.join(logdir, 'events.out.tfevents.*')):
        os.remove(old)
      self._tb = tf.summary.create_file_writer(logdir)
      for step, scalars in rows:
        self._write_tb(step, scalars)
      self._tb.flush()

  def _write_tb(self, step: int, scalars: Mapping[str, float]) -> None:
    with self._tb.as_default():
      for k, v in scalars.items():
        self._tf.summary.write(k, self._tf.constant(v, self._tf.float32),
                               step=int(step), metadata=self._metadata)

  def write(self, step: int, scalars: Mapping[str, Any]) -> None:
    if not self._active:
      return
    clean = _scalars(scalars)
    with open(self._jsonl, 'a') as f:
      f.write(json.dumps({'step': int(step), **clean}) + '\n')
    if self._tb is not None:
      self._write_tb(step, clean)
      self._tb.flush()

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def _scalars(record: Mapping[str, Any]) -> dict[str, float]:
  return {k: float(v) for k, v in record.items() if k not in NOT_SCALARS}


def format_duration(seconds: float) -> str:
  seconds = int(max(seconds, 0))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f'{h}h{m:02d}m{s:02d}s' if h else f'{m}m{s:02d}s'


def log_epoch(prefix: str, epoch: int, epochs: int, metrics: dict,
              images_per_sec: float, eta_s: float, suffix: str = '') -> None:
  """The epoch line; ``suffix`` e.g. the peak device memory."""
  logging.info(
      '%s epoch %d/%d  train_loss %.4f  train_acc %.4f  test_loss %.4f  '
      'test_acc %.4f  lr %.5g  %.0f img/s  ETA %s%s', prefix, epoch + 1,
      epochs, metrics['train_loss'], metrics['train_accuracy'],
      metrics['test_loss'], metrics['test_accuracy'],
      metrics['learning_rate'], images_per_sec, format_duration(eta_s),
      suffix)
