"""Damaged checkpoints, retention, metric files that agree with checkpoints."""

import errno
import json
import os
import shutil

import chex
import pytest

from jaxprune.training import checkpoint
from jaxprune.training import loop
from tests import helpers
from tests.training.common import (checkpoint_steps, Crash, crash_at,
                                   run_stage, strip_timing)


@pytest.fixture(scope='module')
def dataset():
  return helpers.tiny_dataset(n_train=320, n_test=64, augment=True)


@pytest.fixture(scope='module')
def uninterrupted(dataset, tmp_path_factory):
  return run_stage(tmp_path_factory.mktemp('full'), 'full', dataset, 2,
                   epochs=3)


def _damage(step_dir, how):
  if how == 'empty':
    shutil.rmtree(step_dir)
    os.makedirs(step_dir)
  elif how == 'metadata':
    (step_dir / 'meta' / 'metadata').write_text('{garbage')
  else:  # a truncated state file
    biggest = max((p for p in (step_dir / 'state').rglob('*') if p.is_file()),
                  key=lambda p: p.stat().st_size)
    biggest.write_bytes(biggest.read_bytes()[:len(biggest.read_bytes()) // 3])


@pytest.mark.parametrize('how', ['truncated', 'metadata', 'empty'])
def test_a_damaged_newest_checkpoint_is_passed_over(tmp_path, dataset,
                                                    uninterrupted, how):
  # Regression: one damaged newest checkpoint blocked resume although an
  # intact older one sat beside it.
  with pytest.raises(Crash):
    run_stage(tmp_path, 'run', dataset, 2, epochs=3, keep_checkpoints=3,
              hook=crash_at(2, 0))
  assert checkpoint_steps(tmp_path / 'run') == [5, 10]
  _damage(tmp_path / 'run' / 'checkpoints' / '10', how)
  resumed = run_stage(tmp_path, 'run', dataset, 2, epochs=3,
                      keep_checkpoints=3)
  # Resumed from step 5 (epoch 1), so epochs 2 and 3 ran again.
  assert strip_timing(resumed.history)[1:] == strip_timing(
      uninterrupted.history)[1:]
  chex.assert_trees_all_equal(resumed.state.trainable,
                              uninterrupted.state.trainable)
  # Nothing was deleted: the damaged checkpoint was moved aside.
  names = sorted(os.listdir(tmp_path / 'run' / 'checkpoints'))
  assert '10.damaged' in names and {'5', '10', '15'} <= set(names)


def test_every_checkpoint_damaged_is_a_clear_error(tmp_path, dataset):
  run_stage(tmp_path, 'run', dataset, 2, epochs=1)
  _damage(tmp_path / 'run' / 'checkpoints' / '5', 'metadata')
  with pytest.raises(ValueError, match=r'every checkpoint .* is damaged'):
    run_stage(tmp_path, 'run', dataset, 2, epochs=1)


def test_keeps_the_best_and_the_newest_n(tmp_path, dataset, monkeypatch):
  accuracies = iter([0.9, 0.5, 0.6, 0.4])
  real = loop.evaluate

  def scripted(*args):
    return dict(real(*args), test_accuracy=next(accuracies))

  monkeypatch.setattr(loop, 'evaluate', scripted)
  run_stage(tmp_path, 'run', dataset, 2, epochs=4, keep_checkpoints=1)
  assert checkpoint_steps(tmp_path / 'run') == [5, 20]  # best, newest


def test_metric_files_never_hold_an_epoch_twice(tmp_path, dataset,
                                                uninterrupted):
  # Regression: killed after an epoch's metrics line but before its
  # checkpoint, the resumed stage wrote the epoch again.
  with pytest.raises(Crash):
    run_stage(tmp_path, 'run', dataset, 2, epochs=3, hook=crash_at(1, 0))
  jsonl = tmp_path / 'run' / 'metrics.jsonl'
  with open(jsonl, 'a') as f:  # what a kill between the two left behind
    f.write(json.dumps({'step': 2, 'train_loss': 9.0}) + '\n')
  resumed = run_stage(tmp_path, 'run', dataset, 2, epochs=3, tensorboard=True)
  rows = [json.loads(l) for l in jsonl.read_text().splitlines()]
  assert [r['step'] for r in rows] == [1, 2, 3]
  assert [r['test_accuracy'] for r in rows] == [
      h['test_accuracy'] for h in resumed.history]
  assert len(list((tmp_path / 'run').glob('events.out.tfevents*'))) == 1
  assert strip_timing(resumed.history) == strip_timing(uninterrupted.history)


def test_a_full_disk_is_a_clear_error_and_keeps_what_was_saved(
    tmp_path, dataset, monkeypatch):
  real = checkpoint.ocp.CheckpointManager.save

  def full_at_10(self, step, *a, **k):
    if step == 10:
      raise OSError(errno.ENOSPC, 'No space left on device')
    return real(self, step, *a, **k)

  monkeypatch.setattr(checkpoint.ocp.CheckpointManager, 'save', full_at_10)
  with pytest.raises(checkpoint.CheckpointWriteError,
                     match=r'cannot write checkpoint .*/10: No space left on '
                     r'device; the checkpoints saved before stay'):
    run_stage(tmp_path, 'run', dataset, 2, epochs=2)
  monkeypatch.setattr(checkpoint.ocp.CheckpointManager, 'save', real)
  assert checkpoint_steps(tmp_path / 'run') == [5]
  assert len(run_stage(tmp_path, 'run', dataset, 2, epochs=2).history) == 2
