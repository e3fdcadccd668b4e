"""The step profile adds up a real trace by op kind."""

import gzip
import json
import subprocess
import sys

import pytest

from experiments import profile_step


def test_op_times_sum_kinds_per_step_and_skip_host_events(tmp_path):
  events = [
      {'ph': 'X', 'name': '$api.py:2479 block_until_ready', 'dur': 9000,
       'tid': 1},
      {'ph': 'X', 'name': 'shard_args', 'dur': 9000, 'tid': 1},  # Python's
      {'ph': 'X', 'name': 'transpose_copy_fusion.1', 'dur': 3000},
      {'ph': 'X', 'name': 'transpose_copy_fusion.17', 'dur': 1000},
      {'ph': 'X', 'name': 'ynn_fusion.2', 'dur': 2000},
      {'ph': 'X', 'name': 'all-reduce', 'dur': 500},
      {'ph': 'X', 'name': 'ThunkExecutor::Execute', 'dur': 9000},
      {'ph': 'X', 'name': 'end: ynn_fusion.2', 'dur': 9000},
      {'ph': 'i', 'name': 'ynn_fusion.3', 'dur': 7000},  # not a span
  ]
  path = tmp_path / 'x.perfetto_trace.json.gz'
  with gzip.open(path, 'wt') as f:
    json.dump({'traceEvents': events}, f)
  per_kind, per_op = profile_step.op_times(str(path), steps=2)
  assert per_kind == {'transpose_copy_fusion': 2.0, 'ynn_fusion': 1.0,
                      'all-reduce': 0.25}
  assert per_op['transpose_copy_fusion.1'] == 1.5 and len(per_op) == 4


def test_collective_times_split_cost_from_the_wait_for_the_last_device(
    tmp_path):
  def span(name, dur, device, run):
    return {'ph': 'X', 'name': name, 'dur': dur, 'tid': 10 + device,
            'args': {'device_ordinal': str(device), 'run_id': run}}
  events = [
      # step 1: device 0 waits 700 us for device 1 at all-reduce.1
      span('all-reduce.1', 1000, 0, 'r1'), span('all-reduce.1', 300, 1, 'r1'),
      span('all-reduce.2', 200, 0, 'r1'), span('all-reduce.2', 500, 1, 'r1'),
      # step 2: the same ops in another run
      span('all-reduce.1', 400, 0, 'r2'), span('all-reduce.1', 400, 1, 'r2'),
      span('all-reduce.2', 200, 0, 'r2'), span('all-reduce.2', 200, 1, 'r2'),
      span('ynn_fusion.3', 9000, 0, 'r1'),  # not a collective
      {'ph': 'X', 'name': '$profiler.py:1 trace', 'dur': 1, 'tid': 1},
      {'ph': 'X', 'name': 'all-reduce.1', 'dur': 5000, 'tid': 1},  # Python's
  ]
  path = tmp_path / 'x.perfetto_trace.json.gz'
  with gzip.open(path, 'wt') as f:
    json.dump({'traceEvents': events}, f)
  got = profile_step.collective_times(str(path), steps=2)
  # cost: the shortest span of each (op, run): 0.3 + 0.2 + 0.4 + 0.2 ms
  # wait: 0.7 + 0.3 ms over the two steps
  assert got == pytest.approx({'per_step': 2.0, 'cost_ms': 0.55,
                               'wait_ms': 0.5})
  empty = tmp_path / 'y.perfetto_trace.json.gz'
  with gzip.open(empty, 'wt') as f:
    json.dump({'traceEvents': events[8:9]}, f)
  assert profile_step.collective_times(str(empty), steps=1) == {
      'per_step': 0.0, 'cost_ms': 0.0, 'wait_ms': 0.0}


@pytest.mark.parametrize('args, shown', [
    (['--model=digits_cnn', '--mode=train', '--batch_size=16', '--steps=1',
      '--top=3'], 'digits_cnn train, batch 16'),
    (['--model=resnet57'], 'unknown model')])
def test_profile_step_command(args, shown):
  run = subprocess.run([sys.executable, '-m', 'experiments.profile_step',
                        *args], capture_output=True, text=True)
  out = run.stdout + run.stderr
  assert shown in out
  if run.returncode == 0:
    assert 'device time per step' in out
    assert 'costliest single ops' in out
    if ' on 1 ' not in out:  # the gradients' all-reduce across devices
      assert 'collectives: ' in out and 'waiting for the slowest' in out
  else:
    assert 'Traceback' not in out
