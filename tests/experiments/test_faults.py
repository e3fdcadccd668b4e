"""Fault injection: a digits study killed at random points, then resumed.

Each trial launches the Rethinking study on the digits as a real process,
kills it a seeded random time after a seeded random epoch line (SIGKILL: no
chance to save; SIGTERM: the preemption path), runs the same command again
until it finishes, and compares every result with one uninterrupted run: results.json
and every stage's metrics.jsonl must be identical but for timings, and no
stage may refuse to resume.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from experiments import main as main_lib

ROOT = os.path.dirname(os.path.dirname(main_lib.__file__))
# A 512-example subset: 8 steps of 64 an epoch, a checkpoint every 3 steps,
# so kills land mid-epoch and between epochs, in every stage.
ARGS = ['--config=experiments/configs/digits_rethinking.py',
        '--config.optim.epochs=2', '--config.finetune.epochs=2',
        '--config.scratch.b_max_epochs=2', '--config.checkpoint_every_steps=3',
        '--config.data.train_subset=512', '--config.data.test_subset=128']
TIMING = ('wall_time_s', 'images_per_sec', 'epoch_time_s')
# The processes share a compilation cache of their own, apart from the test
# session's. JAX writes a cache entry in place, so a process killed while
# writing one leaves a truncated file that crashes whoever reads it next
# (a segfault in deserialisation): only the uninterrupted reference run
# writes entries; the trials that get killed, and their resumes, only read.
CACHE = os.path.join(tempfile.gettempdir(), 'jaxprune_test_fault_jit_cache' + (
    '_' + os.environ['PYTEST_XDIST_WORKER']
    if os.environ.get('PYTEST_XDIST_WORKER') else ''))
# The writer caches every program (not only those over JAX's default 1 s of
# compile time), so the trials and resumes compile next to nothing.
WRITER_ENV = dict(os.environ, XLA_FLAGS='', JAX_COMPILATION_CACHE_DIR=CACHE,
                  JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0')
READER_ENV = dict(WRITER_ENV, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='1e9')


def _launch(workdir, env=READER_ENV):
  return subprocess.Popen(
      [sys.executable, '-m', 'experiments.main', *ARGS,
       f'--workdir={workdir}'], cwd=ROOT, env=env, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True)


def _run(workdir):
  proc = _launch(workdir)
  out, err = proc.communicate(timeout=600)
  return proc.returncode, out, err


def _strip(obj):
  if isinstance(obj, dict):
    return {k: _strip(v) for k, v in obj.items() if k not in TIMING}
  if isinstance(obj, list):
    return [_strip(v) for v in obj]
  return obj


def _outputs(workdir):
  out = {'results': _strip(json.loads(
      open(os.path.join(workdir, 'results.json')).read()))}
  out['results'].pop('config')  # holds the workdir-independent config only
  for stage in ('baseline', 'finetune', 'scratch_e', 'scratch_b'):
    lines = open(os.path.join(workdir, stage, 'metrics.jsonl')).read()
    out[stage] = [_strip(json.loads(l)) for l in lines.splitlines()]
  return out


EPOCH_LINE = re.compile(r' epoch \d+/\d+ ')


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
  """The uninterrupted run's outputs and the times of its epoch lines."""
  workdir = tmp_path_factory.mktemp('reference')
  proc = _launch(workdir, env=WRITER_ENV)
  epoch_times = []

  def watch():
    for line in proc.stderr:
      if EPOCH_LINE.search(line):
        epoch_times.append(time.time())

  reader = threading.Thread(target=watch, daemon=True)
  reader.start()
  proc.wait(timeout=600)
  reader.join(timeout=10)
  assert proc.returncode == 0
  assert len(epoch_times) >= 4, epoch_times
  return _outputs(workdir), epoch_times


# Two SIGKILL points and one SIGTERM point (the multi-process tests kill
# and preempt too), within the suite's 15-minute budget.
TRIALS = [('kill', signal.SIGKILL, s) for s in range(2)] + [
    ('term', signal.SIGTERM, 0)]


@pytest.mark.parametrize('kind,signum,seed', TRIALS,
                         ids=[f'{k}{s}' for k, _, s in TRIALS])
def test_killed_and_resumed_equals_uninterrupted(tmp_path, reference, kind,
                                                 signum, seed):
  want, epoch_times = reference
  # The signal goes a seeded random time after a seeded random epoch line
  # (never the last one, so some training is always left to interrupt):
  # SIGKILL anywhere, SIGTERM early. The times come from the trial's own
  # lines, not the reference's: the reference compiles (and fills the cache),
  # the trials read the cache and run several times faster.
  rng = random.Random(seed)
  n = len(epoch_times)
  after = rng.randrange(n - 1) if kind == 'kill' else n // 4
  gaps = [b - a for a, b in zip(epoch_times, epoch_times[1:])]
  delay = rng.uniform(0.0, 0.5) * min(gaps)
  proc = _launch(tmp_path)
  lines = []

  def watch():
    seen = 0
    for line in proc.stderr:
      lines.append(line)
      if EPOCH_LINE.search(line):
        if seen == after:
          threading.Timer(delay, lambda: proc.poll() is None and
                          proc.send_signal(signum)).start()
        seen += 1

  reader = threading.Thread(target=watch, daemon=True)
  reader.start()
  rc = proc.wait(timeout=600)
  reader.join(timeout=10)
  last = [l for l in lines if EPOCH_LINE.search(l)][-1:] or [
      '(before training)']
  print(f'\n{kind}{seed}: rc {rc} {delay:.2f}s after epoch line {after + 1}'
        f'/{n}, last: {last[0].split("]")[-1].strip()[:60]}')
  if kind == 'kill':
    assert rc in (-signal.SIGKILL, 0), ''.join(lines[-5:])
  else:
    # Preempted mid-study: exit 75 with the resume line (0 if the signal
    # landed after the last stage had finished: nothing left to save).
    assert rc in (75, 0), ''.join(lines[-5:])
    if rc == 75:
      assert 'run the same command again to resume' in lines[-1]
  rc, _, err = _run(tmp_path)
  assert rc == 0, err[-2000:]  # no stage refused to resume
  assert _outputs(tmp_path) == want
