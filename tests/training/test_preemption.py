"""Signals become a flag; preempted, crashed and diverged stages."""

import json
import os
import signal

import chex
import jax
import numpy as np
import pytest

from jaxprune import models
from jaxprune.training import checkpoint
from jaxprune.training import preemption
from tests import helpers
from tests.training.common import (checkpoint_steps, crash_at, Crash, finite,
                                   run_stage, signal_at, strip_timing)


def test_watch_signals_turns_sigterm_and_sigint_into_a_flag():
  before = signal.getsignal(signal.SIGTERM)
  with preemption.watch_signals() as flag:
    assert not flag.requested
    os.kill(os.getpid(), signal.SIGTERM)
    assert flag.requested and flag.signum == signal.SIGTERM
    with preemption.watch_signals() as inner:  # nested blocks share it
      assert inner is flag
    with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C stops at once
      os.kill(os.getpid(), signal.SIGINT)
  assert signal.getsignal(signal.SIGTERM) is before


@pytest.fixture(scope='module')
def dataset():
  return helpers.tiny_dataset(n_train=320, n_test=64, augment=True)


@pytest.fixture(scope='module')
def uninterrupted(dataset, tmp_path_factory):
  return run_stage(tmp_path_factory.mktemp('full'), 'full', dataset, 2,
                   epochs=3)


def _same(resumed, full):
  assert strip_timing(resumed.history) == strip_timing(full.history)
  chex.assert_trees_all_equal(resumed.state.trainable, full.state.trainable)
  chex.assert_trees_all_equal(resumed.state.opt_state, full.state.opt_state)
  chex.assert_trees_all_equal(resumed.state.batch_stats,
                              full.state.batch_stats)


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_a_signal_checkpoints_the_exact_step_and_resume_equals_uninterrupted(
    tmp_path, dataset, uninterrupted, signum):
  with pytest.raises(preemption.Preempted,
                     match=r"stage 'run' saved at epoch 2, step 3 of the "
                     'epoch') as err:
    run_stage(tmp_path, 'run', dataset, 2, epochs=3,
              hook=signal_at(1, 2, signum))
  assert err.value.signal_name == signal.Signals(signum).name
  meta = checkpoint.latest_meta(str(tmp_path / 'run'))
  assert (meta['epoch'], meta['epoch_step']) == (1, 3)
  assert len(meta['epoch_metrics']) == 3
  resumed = run_stage(tmp_path, 'run', dataset, 2, epochs=3)
  _same(resumed, uninterrupted)


def test_a_signal_at_an_epochs_last_step_saves_once_after_its_evaluation(
    tmp_path, dataset, uninterrupted):
  # Regression: it saved a mid-epoch checkpoint at that step, and the
  # resumed run's epoch end saved the same step again, moving the good one
  # aside as "damaged" (over two processes the managers then disagreed on
  # the steps and the run hung in orbax's save barrier).
  with pytest.raises(preemption.Preempted,
                     match=r"stage 'run' saved at epoch 3, step 0 of the "
                     'epoch'):
    run_stage(tmp_path, 'run', dataset, 2, epochs=3,
              hook=signal_at(1, 4, signal.SIGTERM))
  meta = checkpoint.latest_meta(str(tmp_path / 'run'))
  assert meta['epoch'] == 2 and 'epoch_step' not in meta
  assert len(meta['history']) == 2  # the epoch was evaluated before saving
  resumed = run_stage(tmp_path, 'run', dataset, 2, epochs=3)
  _same(resumed, uninterrupted)
  assert not list((tmp_path / 'run' / 'checkpoints').glob('*.damaged*'))


def test_mid_epoch_checkpoints_resume_a_crash_exactly(tmp_path, dataset,
                                                      uninterrupted):
  with pytest.raises(Crash):
    run_stage(tmp_path, 'run', dataset, 2, epochs=3, hook=crash_at(2, 4),
              checkpoint_every_steps=2)
  meta = checkpoint.latest_meta(str(tmp_path / 'run'))
  assert (meta['epoch'], meta['epoch_step']) == (2, 4)  # saved at step 4
  resumed = run_stage(tmp_path, 'run', dataset, 2, epochs=3,
                      checkpoint_every_steps=2)
  _same(resumed, uninterrupted)
  lines = (tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()
  assert [json.loads(l)['step'] for l in lines] == [1, 2, 3]


def test_divergence_stops_at_once_and_saves_nothing_of_it(tmp_path, dataset):
  # Regression: an LR of 1e6 ran to the end with NaN, exit 0 and NaN
  # checkpoints.
  with pytest.raises(preemption.Diverged,
                     match=r"stage 'run' diverged at epoch 1, step \d of 5 "
                     r'\(optimizer step \d\): loss .*, gradient norm nan; '
                     'nothing of it was saved'):
    run_stage(tmp_path, 'run', dataset, 2, epochs=2, lr=1e30)
  assert checkpoint_steps(tmp_path / 'run') == []
  assert (tmp_path / 'run' / 'metrics.jsonl').read_text() == ''


def test_a_late_divergence_keeps_the_checkpoints_before_it(tmp_path, dataset,
                                                           monkeypatch):
  from jaxprune.training import loop
  real = loop._check_finite

  def nan_in_epoch_2(name, epoch, step, *args):
    if epoch == 1 and step == 3:
      metrics = dict(args[2], loss=np.float32('nan'))
      return real(name, epoch, step, args[0], args[1], metrics, args[3])
    return real(name, epoch, step, *args)

  monkeypatch.setattr(loop, '_check_finite', nan_in_epoch_2)
  with pytest.raises(preemption.Diverged, match='epoch 2, step 4 of 5') as e:
    run_stage(tmp_path, 'run', dataset, 2, epochs=3, checkpoint_every_steps=3)
  assert 'checkpoints/8' in str(e.value)  # the last finite one, named
  # Epoch 1 (step 5) and the mid-epoch one at step 8 stay; step 9 never saved.
  assert checkpoint_steps(tmp_path / 'run') == [5, 8]
  spec = models.get_spec('digits_cnn').bind(10)
  variables, meta = checkpoint.restore_variables(str(tmp_path / 'run'),
                                                 spec.abstract_variables())
  assert finite(variables) and meta['epoch_step'] == 3


def test_a_streamed_stage_resumes_mid_epoch_exactly(tmp_path):
  from jaxprune import data as data_lib
  from jaxprune.training import loop, optim, step as step_lib
  from tests.data.common import make_folder
  from tests.training.common import Hooked
  root = make_folder(tmp_path / 'f', counts={'train': 6, 'test': 2},
                     size=(12, 12), fmt='JPEG')
  spec = models.get_spec('digits_cnn').bind(3, [4, 'M', 8], (8, 8, 3))

  def fit(name, hook=None):
    source = data_lib.StreamingSource(data_lib.make_folder_iterators(
        root, global_batch=4, num_devices=2, seed=1, image_size=8,
        resize_size=10))
    if hook:
      source = Hooked(source, hook)
    v = spec.init(jax.random.key(0))
    tx = optim.sgd_coupled(0.1)
    return loop.fit(name=name, workdir=str(tmp_path / name),
                    model=spec.module(step_lib.AXIS_NAME), tx=tx,
                    state=step_lib.create_train_state(v['params'],
                                                      v['batch_stats'], tx),
                    source=source, epochs=3, seed=0, config_dict={},
                    checkpoint_every_steps=2, tensorboard=False)

  full = fit('full')
  with pytest.raises(Crash):
    fit('run', crash_at(1, 3))
  assert checkpoint.latest_meta(str(tmp_path / 'run'))['epoch_step'] == 2
  _same(fit('run'), full)
