"""Where one pmap-ed step spends its time, by XLA op kind, from a profile.

    python -m experiments.profile_step --model=resnet56 --mode=train \
        --batch_size=64 --top=15

Builds the step as :mod:`experiments.bench` does (synthetic data on the
device), warms it up, records ``--steps`` steps with ``jax.profiler`` (a
Perfetto trace under ``--trace_dir``, or a temporary folder) and prints the
device time per step of each op kind (``transpose_copy_fusion``,
``ynn_fusion``, ``all-reduce``, ... with the numeric suffix of the HLO name
dropped), summed over the devices, how the collectives' time splits into
their own cost and the wait for the slowest device (sync BatchNorm's
all-reduces on CPU: :func:`collective_times`), and then the ``--top`` single
ops. This is
the profile that found the residual-chain recomputation
(:mod:`jaxprune.models.fusion_cut`): ``transpose_copy_fusion`` took 46 % of
ResNet-56's train step's device time on CPU
(``experiments/results/profile_resnet56_train_cpu_2026-12-06.txt``). On CPU the op names are XLA:CPU's thunks; on
GPU they are the kernels.
"""

if __name__ == '__main__':  # before the imports below, so a relaunch costs none
  from jaxprune.training import host_memory
  host_memory.relaunch_with_huge_pages()

import collections
import glob
import gzip
import json
import os
import re
import tempfile

from absl import app
from absl import flags
import jax

from experiments import bench
from jaxprune.models import conv_lowering
from jaxprune.models import fusion_cut
from jaxprune.models import pool_lowering
from jaxprune.training import devices

FLAGS = flags.FLAGS
# XLA op names (``transpose_copy_fusion.12``, ``all-reduce``): runtime events
# (``ThunkExecutor::Execute``, ``end: ...``, ``[0] ...``) do not match.
_OP_NAME = re.compile(r'^[a-z][a-z0-9_\-]*(\.[0-9]+)?$')
_COLLECTIVE = re.compile(
    r'^(all-reduce|all-gather|all-to-all|reduce-scatter|collective-permute)'
    r'(-start|-done)?(\.[0-9]+)?$')


def define_flags():
  flags.DEFINE_string('model', 'resnet56', 'Registered model name.')
  flags.DEFINE_enum('mode', 'train', list(bench.MODES), 'Which step.')
  flags.DEFINE_integer('batch_size', 64, 'Global batch size.')
  flags.DEFINE_integer('steps', 3, 'Profiled steps.')
  flags.DEFINE_integer('top', 15, 'Single ops to list.')
  flags.DEFINE_string('trace_dir', '', 'Where the trace goes (default: a '
                      'temporary folder, removed).')


def op_spans(trace_file: str) -> list[dict]:
  """The spans of a Perfetto trace named like XLA ops, outside the Python
  thread (whose spans start with ``$``, and which also records runtime calls
  named like ops)."""
  with gzip.open(trace_file) as f:
    events = json.load(f)
  events = events['traceEvents'] if isinstance(events, dict) else events
  spans = [e for e in events if e.get('ph') == 'X']
  python = {(e.get('pid'), e.get('tid')) for e in spans
            if e['name'].startswith('$')}
  return [e for e in spans if (e.get('pid'), e.get('tid')) not in python
          and _OP_NAME.match(e['name'])]


def op_times(trace_file: str, steps: int):
  """({kind: ms per step}, {op: ms per step}) of a Perfetto trace's op spans
  (:func:`op_spans`), summed over the devices."""
  per_op = collections.Counter()
  for e in op_spans(trace_file):
    per_op[e['name']] += e['dur'] / 1e3 / steps
  per_kind = collections.Counter()
  for name, ms in per_op.items():
    per_kind[re.sub(r'\.[0-9]+$', '', name)] += ms
  return per_kind, per_op


def collective_times(trace_file: str, steps: int) -> dict[str, float]:
  """How a step's collectives (``all-reduce``, ``all-gather``, ...) split
  into their own cost and the wait for the slowest device.

  Each collective's spans are grouped across devices by op name and
  ``run_id`` (XLA:CPU's trace args; a step's run). The device that arrives
  last waits for nobody, so the group's shortest span is the collective's
  own cost, and each other device's excess over it is time spent waiting
  for that device: the devices' imbalance, not the collective.

  Returns:
    ``{'per_step'``: collectives per step (groups), ``'cost_ms'``: their
    cost per step on one device, ``'wait_ms'``: the waits per step summed
    over the devices``}``; zeros where the trace has none.
  """
  groups = collections.defaultdict(list)
  for e in op_spans(trace_file):
    if _COLLECTIVE.match(e['name']):
      args = e.get('args', {})
      groups[(e['name'], args.get('run_id'))].append(e['dur'] / 1e3)
  cost = sum(min(durs) for durs in groups.values())
  wait = sum(sum(durs) - len(durs) * min(durs) for durs in groups.values())
  return {'per_step': len(groups) / steps, 'cost_ms': cost / steps,
          'wait_ms': wait / steps}


def main(argv):
  del argv
  devices.one_cpu_device_per_core()  # before anything starts a backend
  try:
    bench.check_args([FLAGS.model], [FLAGS.mode], [FLAGS.batch_size],
                     jax.local_device_count())
    if FLAGS.steps <= 0 or FLAGS.top < 0:
      raise ValueError('--steps must be positive and --top non-negative')
  except ValueError as e:
    raise app.UsageError(str(e))
  call, _ = bench.step_call(FLAGS.model, FLAGS.batch_size, FLAGS.mode,
                            num_classes=10)
  _, step_s, _ = bench.time_calls(call, steps=3, warmup=2)  # compiles too
  with tempfile.TemporaryDirectory() as tmp:
    trace_dir = FLAGS.trace_dir or tmp
    jax.profiler.start_trace(trace_dir, create_perfetto_trace=True)
    for _ in range(FLAGS.steps):
      jax.block_until_ready(call())
    jax.profiler.stop_trace()
    trace = sorted(glob.glob(os.path.join(
        trace_dir, '**', '*perfetto_trace.json.gz'), recursive=True))[-1]
    per_kind, per_op = op_times(trace, FLAGS.steps)
    collectives = collective_times(trace, FLAGS.steps)
  print(f'{FLAGS.model} {FLAGS.mode}, batch {FLAGS.batch_size} on '
        f'{jax.local_device_count()} {jax.default_backend()} device(s): '
        f'{1e3 * step_s:.1f} ms/step (median of 3, '
        f'unprofiled); fusion cut {"on" if fusion_cut.enabled() else "off"}, '
        f'conv lowering forced: {conv_lowering.forced_lowering()}, '
        f'pool lowering forced: {pool_lowering.forced_lowering()}')
  total = sum(per_kind.values())
  print(f'device time per step, summed over devices: {total:.1f} ms')
  for kind, ms in per_kind.most_common():
    if ms >= 0.005 * total:
      print(f'  {ms:9.1f} ms  {100 * ms / total:5.1f} %  {kind}')
  if collectives['per_step']:
    print(f'collectives: {collectives["per_step"]:.0f} per step, '
          f'{collectives["cost_ms"]:.1f} ms each device once all have '
          f'arrived, {collectives["wait_ms"]:.1f} ms waiting for the '
          f'slowest device (summed over devices)')
  if FLAGS.top:
    print(f'the {FLAGS.top} costliest single ops:')
    for name, ms in per_op.most_common(FLAGS.top):
      print(f'  {ms:9.1f} ms  {name}')


if __name__ == '__main__':
  define_flags()
  app.run(main)
