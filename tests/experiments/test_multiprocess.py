"""Two real local processes (4 CPU devices each, gloo over 127.0.0.1) against
one process with 8 devices: dense training, then a jackpot search.

Each run is ``python -m experiments.main`` launched with JAX_COORDINATOR_ADDRESS
/ JAX_NUM_PROCESSES / JAX_PROCESS_ID, as the README's launch guide does.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from experiments import bench_processes

pytestmark = pytest.mark.multiprocess

ROOT = bench_processes.ROOT
ARGS = ('--config=experiments/configs/digits_jackpot.py',
        '--config.optim.epochs=2', '--config.jackpot.epochs=2',
        '--config.data.train_subset=256', '--config.data.test_subset=64',
        '--config.jackpot.overlap=false', '--config.tensorboard=false',
        '--config.checkpoint_every_steps=2')
STAGES = ('baseline', 'search')


def _start(workdir, processes, devices, *extra, per_process=None):
  """Launches the run; ``per_process[i]``: process i's own extra flags."""
  return bench_processes.start_processes(
      [*ARGS, *extra], workdir, processes, devices, per_process)


def _finish(procs):
  outs = [p.communicate(timeout=600) for p in procs]
  for p, (out, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
  return [out for out, _ in outs]


def _run(workdir, processes, devices, *extra):
  return _finish(_start(workdir, processes, devices, *extra))


def _metrics(workdir, stage):
  with open(os.path.join(workdir, stage, 'metrics.jsonl')) as f:
    return [{k: v for k, v in json.loads(line).items()
             if k not in ('images_per_sec', 'epoch_time_s')} for line in f]


def _last_state(workdir, stage):
  # The newest complete one (a killed save may leave a partial directory).
  steps = sorted((p for p in glob.glob(os.path.join(
      workdir, stage, 'checkpoints', '*', 'state'))
                  if p.split(os.sep)[-2].isdigit() and os.path.exists(
                      os.path.join(os.path.dirname(p), 'commit_success.txt'))),
                 key=lambda p: int(p.split(os.sep)[-2]))
  return ocp.StandardCheckpointer().restore(steps[-1])


def _files(workdir):
  """The run's files, orbax's content-addressed chunk names left out."""
  out = set()
  for path in glob.glob(os.path.join(workdir, '**'), recursive=True):
    rel = os.path.relpath(path, workdir)
    if os.path.isfile(path) and f'{os.sep}d{os.sep}' not in rel:
      out.add(rel)
  return out


def _assert_same_run(a, b):
  for stage in STAGES:
    ma, mb = _metrics(a, stage), _metrics(b, stage)
    assert len(ma) == len(mb) == 2
    for ra, rb in zip(ma, mb):
      for k in ra:
        assert abs(ra[k] - rb[k]) <= 1e-5, (stage, k, ra[k], rb[k])
    sa, sb = _last_state(a, stage), _last_state(b, stage)
    flat_a = jax.tree_util.tree_leaves_with_path(sa)
    flat_b = jax.tree_util.tree_leaves_with_path(sb)
    assert [k for k, _ in flat_a] == [k for k, _ in flat_b]
    for (path, x), (_, y) in zip(flat_a, flat_b):
      x, y = np.asarray(x), np.asarray(y)
      if 'masks' in jax.tree_util.keystr(path):
        np.testing.assert_array_equal(x, y, err_msg=str(path))  # the masks
      else:
        np.testing.assert_allclose(x, y, atol=1e-5, err_msg=str(path))


@pytest.fixture(scope='module')
def one_process(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('one') / 'run')
  out, = _run(workdir, 1, 8)
  return workdir, out


def test_two_processes_equal_one_and_only_process_0_writes(one_process,
                                                           tmp_path):
  one, one_out = one_process
  two = str(tmp_path / 'run')
  out0, out1 = _run(two, 2, 4)
  _assert_same_run(one, two)
  with open(os.path.join(two, 'results.json')) as f:
    assert json.load(f)['device_count'] == 8
  assert _files(two) == _files(one)  # no file of process 1's own
  summary = '"masks_changed_vs_magnitude"'
  assert summary in out0 and summary in one_out
  # Process 1 prints nothing of its own. Gloo's threads print connection
  # lines ('[Gloo] Rank 5 is connected to 7 peer ranks. Expected number of
  # connected peer ranks is : 7') concurrently, so a line may arrive cut
  # into pieces (fresh-clone CI runs showed '' and '7' as lines): every word
  # left must be one of theirs.
  gloo_words = set('[Gloo] Rank is connected to peer ranks. Expected number '
                   'of connected peer ranks is :'.split())
  words = ' '.join(out1.splitlines()).split()
  assert not [w for w in words if w not in gloo_words and not w.isdigit()]


def test_two_processes_train_a_gang_of_seeds(one_process, tmp_path):
  """``seeds_in_parallel`` over two processes: the gang runs the seeds'
  stages in one fixed order in every process (the baselines as one step,
  then each seed's search, their budgets differing), and seed 0 equals the
  one-process run of that seed alone."""
  one, _ = one_process
  two = str(tmp_path / 'run')
  _run(two, 2, 4, '--config.seeds=2', '--config.seeds_in_parallel=2')
  _assert_same_run(one, os.path.join(two, 'seed0'))
  seed1 = _metrics(os.path.join(two, 'seed1'), 'baseline')
  assert seed1[-1]['train_loss'] != _metrics(one, 'baseline')[-1][
      'train_loss']  # its own init and data order


def _wait_for(path, procs, timeout_s=500):
  """Until ``path`` exists; fails if a process ends first, or after
  ``timeout_s`` with every process's thread stacks (SIGUSR1, see
  experiments/main.py), as when a two-process resume hung in orbax's save
  barrier (fixed: a signal at an epoch's last step saved that step twice)."""
  deadline = time.time() + timeout_s
  while not os.path.exists(path):
    assert all(p.poll() is None for p in procs), 'a process ended early'
    if time.time() > deadline:
      for p in procs:
        p.send_signal(signal.SIGUSR1)
      time.sleep(2)
      for p in procs:
        p.kill()
      tails = [p.communicate()[1][-6000:] for p in procs]
      pytest.fail(f'{path} did not appear in {timeout_s} s; the processes\' '
                  'stacks:\n' + '\n-----\n'.join(tails))
    time.sleep(0.05)


def test_shard_map_over_two_processes_preempted_killed_and_resumed(
    one_process, tmp_path):
  """SIGTERM to process 1 alone stops both at one step (exit 75, saved)
  and the same command resumes; SIGKILL of both later loses only the steps
  after the last checkpoint, and one process with all 8 devices resumes
  the run; the end equals one uninterrupted process."""
  one, _ = one_process
  two = str(tmp_path / 'run')
  procs = _start(two, 2, 4, '--config.parallel=shard_map')
  _wait_for(os.path.join(two, 'baseline', 'checkpoints', '2',
                         'commit_success.txt'), procs)
  procs[1].send_signal(signal.SIGTERM)
  outs = [p.communicate(timeout=300) for p in procs]
  assert [p.returncode for p in procs] == [75, 75], [o[1][-2000:]
                                                     for o in outs]
  assert 'preempted: SIGTERM' in outs[0][1]

  procs = _start(two, 2, 4, '--config.parallel=shard_map')
  _wait_for(os.path.join(two, 'search', 'checkpoints', '2',
                         'commit_success.txt'), procs)
  for p in procs:
    p.send_signal(signal.SIGKILL)
    p.communicate()
  assert not os.path.exists(os.path.join(two, 'results.json'))
  _run(two, 1, 8)  # fewer processes, the same 8 devices, pmap
  _assert_same_run(one, two)


@pytest.mark.parametrize('env, flags, message', [
    ({'JAX_COORDINATOR_ADDRESS': '127.0.0.1:1'}, [],
     'error: a half-specified cluster: JAX_NUM_PROCESSES, JAX_PROCESS_ID '
     'unset'),
    ({}, ['--config.distributed=on'],
     "error: config.distributed must be one of ('auto', 'off'), got 'on'"),
    ({}, ['--config.parallel=xmap'],
     "error: config.parallel must be one of ('pmap', 'shard_map'), got "
     "'xmap'"),
], ids=['half-cluster', 'distributed', 'parallel'])
def test_bad_launch_is_one_line_and_writes_nothing(tmp_path, env, flags,
                                                   message):
  workdir = tmp_path / 'run'
  out = subprocess.run(
      [sys.executable, '-m', 'experiments.main',
       '--config=experiments/configs/digits.py', f'--workdir={workdir}',
       *flags], cwd=ROOT, env={**os.environ, 'XLA_FLAGS': '', **env},
      capture_output=True, text=True, timeout=300)
  assert out.returncode not in (0, None)
  last = out.stderr.strip().splitlines()[-1]
  assert last.startswith(message), last
  assert 'Traceback' not in out.stderr
  assert not workdir.exists()


@pytest.mark.parametrize('extra, per_process, message', [
    (['--config.data.batch_size=60'], {},
     'error: process {i} of 2: batch size 60 does not divide over 8 devices'),
    ([], {1: ['--config.seed=1']},
     'error: process {i} of 2: process(es) [1] run another config than '
     'process 0'),
    ([], {1: ['--workdir={tmp}/elsewhere/run']},
     'error: process {i} of 2: process(es) [1] do not see the workdir'),
], ids=['batch', 'config', 'workdir'])
def test_processes_refuse_bad_input_in_one_line_each(tmp_path, extra,
                                                     per_process, message):
  (tmp_path / 'elsewhere').mkdir()
  per_process = {i: [a.format(tmp=tmp_path) for a in args]
                 for i, args in per_process.items()}
  procs = _start(str(tmp_path / 'run'), 2, 4, *extra,
                 per_process=per_process)
  for i, p in enumerate(procs):
    _, err = p.communicate(timeout=300)
    assert p.returncode not in (0, None)
    last = err.strip().splitlines()[-1]
    assert last.startswith(message.format(i=i)), last
    assert 'Traceback' not in err
  assert not (tmp_path / 'run').exists()
  assert os.listdir(tmp_path / 'elsewhere') == []


def test_bench_layouts():
  assert bench_processes.parse_layout('2x4') == (2, 4)
  for bad in ('2', '0x4', 'twoxfour'):
    with pytest.raises(ValueError, match='layout'):
      bench_processes.parse_layout(bad)
