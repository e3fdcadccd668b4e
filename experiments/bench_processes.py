"""One machine's devices as one process or as several, timed end to end.

    python -m experiments.bench_processes --layouts=1x2,2x1 \
        --output=experiments/results/bench_processes_cpu.json \
        -- --config=experiments/configs/digits_jackpot.py --config.jackpot.overlap=false

Each layout ``PxD`` launches ``python -m experiments.main`` as P local
processes with D CPU devices each (JAX's gloo collectives over 127.0.0.1,
the README's launch guide), in a fresh workdir, with the arguments after
``--``. A row gives the wall time of the whole run and, per stage, the
median images/s of its epochs after the first (the first compiles).
:func:`start_processes` is the launcher the multi-process tests use too.
"""

if __name__ == '__main__':  # before the imports below, so a relaunch costs none
  from jaxprune.training import host_memory
  host_memory.relaunch_with_huge_pages()

import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER_VARS = ('JAX_COORDINATOR_ADDRESS', 'JAX_NUM_PROCESSES',
                'JAX_PROCESS_ID')


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def start_processes(args, workdir, processes, devices, per_process=None,
                    **popen):
  """Launches ``experiments.main`` as ``processes`` local processes.

  Args:
    args: the launcher's arguments (``--workdir`` is added).
    workdir: the run's workdir (shared: one machine).
    processes: how many processes; 1 starts a plain one-process run.
    devices: CPU devices per process.
    per_process: ``{i: [args]}`` appended to process i's arguments.
    **popen: passed to ``subprocess.Popen`` (default: text pipes).

  Returns:
    The ``Popen`` objects, process 0 first.
  """
  port = free_port()
  procs = []
  for i in range(processes):
    env = {k: v for k, v in os.environ.items() if k not in CLUSTER_VARS}
    env['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={devices}'
    if processes > 1:
      env.update(JAX_COORDINATOR_ADDRESS=f'127.0.0.1:{port}',
                 JAX_NUM_PROCESSES=str(processes), JAX_PROCESS_ID=str(i))
    own = (per_process or {}).get(i, ())
    options = dict(cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)
    options.update(popen)
    procs.append(subprocess.Popen(
        [sys.executable, '-m', 'experiments.main', *args,
         f'--workdir={workdir}', *own], **options))
  return procs


def _stage_rates(workdir):
  rates = {}
  for stage in sorted(os.listdir(workdir)):
    path = os.path.join(workdir, stage, 'metrics.jsonl')
    if os.path.isfile(path):
      with open(path) as f:
        rows = [json.loads(line) for line in f]
      later = [r['images_per_sec'] for r in rows[1:]] or [
          r['images_per_sec'] for r in rows]
      rates[stage] = round(statistics.median(later), 1)
  return rates


def time_layout(args, processes, devices):
  """One row: wall time and per-stage images/s of a ``processes x devices``
  run of ``experiments.main`` with ``args``."""
  workdir = tempfile.mkdtemp(prefix='jaxprune-bench-processes-')
  try:
    start = time.time()
    procs = start_processes(args, os.path.join(workdir, 'run'), processes,
                            devices)
    errors = [p.communicate()[1] for p in procs]
    wall = time.time() - start
    for p, err in zip(procs, errors):
      if p.returncode:
        raise RuntimeError(f'a process of layout {processes}x{devices} '
                           f'failed: {err.strip().splitlines()[-1]}')
    return {'processes': processes, 'devices_per_process': devices,
            'wall_time_s': round(wall, 1),
            'images_per_s': _stage_rates(os.path.join(workdir, 'run'))}
  finally:
    shutil.rmtree(workdir, ignore_errors=True)


def parse_layout(text):
  try:
    processes, devices = (int(x) for x in text.lower().split('x'))
  except ValueError:
    raise ValueError(f'a layout is PxD (processes x devices), got '
                     f'{text!r}') from None
  if processes < 1 or devices < 1:
    raise ValueError(f'layout {text!r}: processes and devices must be >= 1')
  return processes, devices


def main(argv):
  args = argv[1:]
  try:
    layouts = [parse_layout(t) for t in flags.FLAGS.layouts]
  except ValueError as e:
    raise app.UsageError(str(e))
  if not any(a.startswith('--config=') for a in args):
    raise app.UsageError('give the run after --, e.g. -- '
                         '--config=experiments/configs/digits.py')
  rows = []
  for _ in range(flags.FLAGS.repeats):
    for processes, devices in layouts:
      row = time_layout(args, processes, devices)
      print(json.dumps(row), flush=True)
      rows.append(row)
  report = {'machine': {'host_cpus': os.cpu_count(),
                        'processor': platform.processor() or
                                     platform.machine()},
            'args': args, 'results': rows}
  if flags.FLAGS.output:
    os.makedirs(os.path.dirname(os.path.abspath(flags.FLAGS.output)),
                exist_ok=True)
    with open(flags.FLAGS.output, 'w') as f:
      json.dump(report, f, indent=2)


if __name__ == '__main__':
  flags.DEFINE_list('layouts', ['1x2', '2x1'],
                    'PxD: P local processes with D CPU devices each.')
  flags.DEFINE_integer('repeats', 1, 'Times each layout is run.')
  flags.DEFINE_string('output', '', 'JSON file to write.')
  app.run(main)
