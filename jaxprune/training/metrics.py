"""Per-epoch metrics: a log line, a JSON-lines file and TensorBoard events."""

from __future__ import annotations

import json
import os
from typing import Any

from absl import logging


class MetricWriter:
  """Writes scalars to ``<logdir>/metrics.jsonl`` and TensorBoard events."""

  def __init__(self, logdir: str, tensorboard: bool = True):
    os.makedirs(logdir, exist_ok=True)
    self._jsonl = os.path.join(logdir, 'metrics.jsonl')
    self._tb = None
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
      self._tb = tf.summary.create_file_writer(logdir)

  def write(self, step: int, scalars: dict[str, Any]) -> None:
    clean = {k: float(v) for k, v in scalars.items()}
    with open(self._jsonl, 'a') as f:
      f.write(json.dumps({'step': int(step), **clean}) + '\n')
    if self._tb is not None:
      with self._tb.as_default():
        for k, v in clean.items():
          self._tf.summary.write(k, self._tf.constant(v, self._tf.float32),
                                 step=int(step), metadata=self._metadata)
      self._tb.flush()

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def format_duration(seconds: float) -> str:
  seconds = int(max(seconds, 0))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f'{h}h{m:02d}m{s:02d}s' if h else f'{m}m{s:02d}s'


def log_epoch(prefix: str, epoch: int, epochs: int, metrics: dict,
              images_per_sec: float, eta_s: float) -> None:
  logging.info(
      '%s epoch %d/%d  train_loss %.4f  train_acc %.4f  test_loss %.4f  '
      'test_acc %.4f  lr %.5g  %.0f img/s  ETA %s', prefix, epoch + 1, epochs,
      metrics['train_loss'], metrics['train_accuracy'], metrics['test_loss'],
      metrics['test_accuracy'], metrics['learning_rate'], images_per_sec,
      format_duration(eta_s))
