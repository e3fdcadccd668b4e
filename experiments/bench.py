"""Throughput of the pmap-ed steps for models and batch sizes, as JSON.

    python -m experiments.bench --models=resnet32_jackpot,vgg16_l1 \
        --batch_sizes=64 --modes=train,search --reference=torch \
        --output=experiments/results/bench_cpu.json

Modes: 'train' (dense train step), 'masked' (masked train step), 'eval', and
'search' (the Lottery-Jackpot score-search step at 90% sparsity). Each row
gives compile time, ms/step (median of timed steps), images/s, peak device
memory where the backend reports it, the step's FLOPs (Rethinking
convention, x3 for a train step) and the achieved TFLOP/s, with its fraction
of the device's bf16 peak where the device is known (GPU/TPU) and of a
matmul's rate measured at the start on every device at once
(``matmul_fraction``; the machine record's ``matmul_tflops_measured``), and how many
convs got each lowering (:mod:`jaxprune.models.conv_lowering`) and whether
residual-block outputs are cut out of XLA:CPU's fusions
(:mod:`jaxprune.models.fusion_cut`), and the process's user and kernel CPU
time and minor page faults per timed step; the machine record names the
host malloc setting (:mod:`jaxprune.training.host_memory`). Data are
synthetic uint8 images held on the device, so the figures measure the step,
not the input pipeline.

On CPU the bench, like the launcher, uses one XLA device per core unless
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` says otherwise.
``--reference=torch`` times a plain PyTorch implementation of the same model
and step (:mod:`experiments.torch_reference`, the ``torch`` extra) in the same
run, its timed steps in ``--reference_blocks`` blocks alternating with
jaxprune's (so that a shared machine's load falls on both alike), and adds
``torch_ms_per_step`` and ``speed_vs_torch`` (torch time over jaxprune time:
above 1 means jaxprune is faster). ``--compare_env=NAME=VALUE`` does the same
with the step built a second time under one of the switches read while a step
is traced (``JAXPRUNE_CONV_LOWERING``, ``JAXPRUNE_POOL_LOWERING``,
``JAXPRUNE_FUSION_CUT``): ``compare_ms_per_step`` and ``speed_vs_compare``
(above 1: the default build is faster), an A/B in one process.
"""

if __name__ == '__main__':  # before the imports below, so a relaunch costs none
  from jaxprune.training import host_memory
  host_memory.relaunch_with_huge_pages()

import contextlib
import json
import os
import platform
import resource
import statistics
import time

from absl import app
from absl import flags
import jax
import numpy as np

from jaxprune import data as data_lib
from jaxprune import flops as flops_lib
from jaxprune import jackpot
from jaxprune import models
from jaxprune import pruning
from jaxprune.models import conv_inventory
from jaxprune.models import conv_lowering
from jaxprune.models import env_switch
from jaxprune.models import fusion_cut
from jaxprune.models import pool_lowering
from jaxprune.models import precision
from jaxprune.training import devices
from jaxprune.training import host_memory
from jaxprune.training import optim
from jaxprune.training import parallel as parallel_lib
from jaxprune.training import step as step_lib

FLAGS = flags.FLAGS


def define_flags():
  """Flags of the command line only (importing the module defines none)."""
  flags.DEFINE_list('models', ['resnet56'], 'Registered model names.')
  flags.DEFINE_list('batch_sizes', ['64', '256'], 'Global batch sizes.')
  flags.DEFINE_list('modes', ['train', 'eval'],
                    'Any of train, masked, eval, search.')
  flags.DEFINE_integer('steps', 20, 'Timed steps per measurement.')
  flags.DEFINE_integer('warmup', 3, 'Untimed steps after compilation.')
  flags.DEFINE_integer('num_classes', 10, 'Classes of the synthetic data.')
  flags.DEFINE_string('output', '', 'JSON file to write (default: stdout only).')
  flags.DEFINE_enum('dtype', 'float32', ['float32', 'bfloat16'],
                    'Compute dtype of the steps (jaxprune.models.precision).')
  flags.DEFINE_integer('seeds_in_parallel', 0,
                       'N >= 1: N runs in one train/search step, vmap-ed '
                       '(GPU/TPU) or unrolled (CPU) (images/s counts all N).')
  flags.DEFINE_list('parallel', ['pmap'],
                    'How the step is mapped: any of pmap, shard_map (a row '
                    'each).')
  flags.DEFINE_enum('reference', '', ['', 'torch', 'official'],
                    'Also time, in the same run, a plain PyTorch '
                    'implementation of the same model and step (torch), or '
                    'the official Lottery Jackpots search step from '
                    '--official_checkout (official; experiments/'
                    'official_jackpots.py).')
  flags.DEFINE_string('official_checkout', '',
                      'With --reference=official: a checkout of '
                      'github.com/zyxxmu/lottery-jackpots (not part of '
                      'jaxprune).')
  flags.DEFINE_string('compare_env', '',
                      'NAME=VALUE: also time the step built with one of the '
                      'trace-time switches ' + ', '.join(env_switch.switches())
                      + ' set so, in blocks alternating with the default '
                      'build, in one process (an A/B under the same load).')
  flags.DEFINE_integer('reference_blocks', 5,
                       'With --reference or --compare_env: blocks of timed '
                       'steps in which the two steps alternate (1 <= blocks '
                       '<= steps).')


MODES = ('train', 'masked', 'eval', 'search')


@contextlib.contextmanager
def environment(name: str, value: str):
  """``os.environ[name] = value`` inside the block, restored after."""
  previous = os.environ.get(name)
  os.environ[name] = value
  try:
    yield
  finally:
    if previous is None:
      os.environ.pop(name, None)
    else:
      os.environ[name] = previous


def parse_compare_env(text: str) -> tuple[str, str] | None:
  """``'NAME=VALUE'`` of ``--compare_env`` as ``(NAME, VALUE)``; None for ''.

  Raises:
    ValueError: not ``NAME=VALUE``, a NAME that is no trace-time switch, or
      a VALUE its validator rejects.
  """
  if not text:
    return None
  switches = env_switch.switches()
  name, sep, value = text.partition('=')
  if not sep or name not in switches:
    raise ValueError(f'--compare_env={text!r}: use NAME=VALUE with NAME one '
                     f'of {", ".join(switches)}')
  with environment(name, value):
    env_switch.forced_choice(name, switches[name])
  return name, value


# Dense bf16 peak TFLOP/s per chip, by a substring of ``device_kind``
# (vendor data sheets; SXM parts for NVIDIA). Unknown devices: no fraction.
BF16_PEAK_TFLOPS = (
    ('H200', 989.0), ('H100', 989.0), ('A100', 312.0), ('L40S', 362.0),
    ('A10', 125.0), ('L4', 121.0), ('V100', 125.0),
    ('TPU v6', 918.0), ('TPU v5p', 459.0), ('TPU v5 lite', 197.0),
    ('TPU v5e', 197.0), ('TPU v4', 275.0), ('TPU v3', 123.0))


def bf16_peak_tflops(device) -> float | None:
  """The device's dense bf16 peak, or None for CPUs and unknown kinds."""
  if device.platform == 'cpu':
    return None
  return next((peak for kind, peak in BF16_PEAK_TFLOPS
               if kind.lower() in device.device_kind.lower()), None)


def check_args(model_names, modes, batch_sizes, n_dev):
  """One-line errors for bad flags, before anything is built or compiled."""
  env_switch.check_all()
  known = models.model_names()
  bad = [m for m in model_names if m not in known]
  if bad:
    raise ValueError(f'unknown model(s) {bad}; registered: {", ".join(known)}')
  bad = [m for m in modes if m not in MODES]
  if bad:
    raise ValueError(f'unknown mode(s) {bad}; use any of {", ".join(MODES)}')
  for bs in batch_sizes:
    if not str(bs).isdigit() or int(bs) <= 0 or int(bs) % n_dev:
      raise ValueError(f'batch size {bs!r} must be a positive multiple of the '
                       f'{n_dev} devices (set XLA_FLAGS=--xla_force_host_'
                       'platform_device_count=N on CPU)')


def synthetic_dataset(input_shape, num_classes, n):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (n, *input_shape), dtype=np.uint8)
  labels = rng.integers(0, num_classes, n).astype(np.int32)
  c = input_shape[-1]
  return data_lib.ArrayDataset(
      train_images=images, train_labels=labels, test_images=images,
      test_labels=labels, num_classes=num_classes,
      class_names=tuple(str(i) for i in range(num_classes)),
      mean=(0.5,) * c, std=(0.25,) * c, augment=True, name='synthetic')


def peak_memory():
  stats = jax.local_devices()[0].memory_stats()
  if not stats:
    return None
  return stats.get('peak_bytes_in_use')


def seconds(fn) -> float:
  """Wall seconds of ``fn()``, until its result is ready."""
  t = time.perf_counter()
  jax.block_until_ready(fn())
  return time.perf_counter() - t


class _HostUsage:
  """This process's CPU time and minor page faults over the timed spans."""

  def __init__(self):
    self.user = self.kernel = self.faults = 0.0

  def time(self, fn) -> float:
    before = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = seconds(fn)
    after = resource.getrusage(resource.RUSAGE_SELF)
    self.user += after.ru_utime - before.ru_utime
    self.kernel += after.ru_stime - before.ru_stime
    self.faults += after.ru_minflt - before.ru_minflt
    return elapsed

  def per_step(self, steps: int) -> dict[str, float]:
    return {'user_cpu_ms_per_step': round(1e3 * self.user / steps, 1),
            'kernel_cpu_ms_per_step': round(1e3 * self.kernel / steps, 1),
            'page_faults_per_step': round(self.faults / steps)}


def time_calls(fn, steps, warmup):
  """``(compile_s, median step s, host)`` of ``fn``: ``host`` is this
  process's CPU time and minor page faults per timed step (``resource``;
  the page faults of fresh buffers, :mod:`jaxprune.training.host_memory`)."""
  compile_s = seconds(fn)
  for _ in range(warmup):
    seconds(fn)
  usage = _HostUsage()
  times = [usage.time(fn) for _ in range(steps)]
  return compile_s, statistics.median(times), usage.per_step(steps)


def time_alternating(fn, reference_run, steps, warmup, blocks):
  """:func:`time_calls` of ``fn`` with a reference step timed alongside:
  after both compile and warm up, ``blocks`` blocks of ``fn``'s steps
  alternate with as many blocks of ``reference_run()`` (which returns its
  own seconds), so that load on a shared machine falls on both alike.

  Returns:
    ``(compile_s, median step s, host, reference first-call s, reference
    median step s)``; ``host`` counts ``fn``'s steps only.
  """
  compile_s, reference_first_s = seconds(fn), reference_run()
  for _ in range(warmup):
    seconds(fn)
    reference_run()
  usage = _HostUsage()
  times, reference_times = [], []
  sizes = [len(part) for part in np.array_split(np.arange(steps), blocks)]
  for size in sizes:
    times += [usage.time(fn) for _ in range(size)]
    reference_times += [reference_run() for _ in range(size)]
  return (compile_s, statistics.median(times), usage.per_step(steps),
          reference_first_s, statistics.median(reference_times))


def matmul_tflops(dtype='float32', size=2048, steps=10) -> float:
  """Measured TFLOP/s of a ``size``-cubed matmul in ``dtype`` on every local
  device at once (pmap-ed, summed over devices), from the fastest of
  ``steps`` calls: the rate the step's dots and convs could at best reach on
  this machine, to set its ``tflops_per_s`` against where no published
  peak applies (a CPU)."""
  n_dev = jax.local_device_count()
  a = jax.pmap(lambda x: x)(np.full(  # one matrix on each device
      (n_dev, size, size), 1.0 / size, precision.COMPUTE_DTYPES[dtype]))
  product = jax.pmap(lambda x: x @ x)
  seconds(lambda: product(a))  # compiles
  best_s = min(seconds(lambda: product(a)) for _ in range(steps))
  return 2 * size ** 3 * n_dev / best_s / 1e12


def train_setup(mode, spec, variables, tx, steps_per_epoch):
  """(state, tx, model_params) of a train-like step: dense, masked (a 90 %
  magnitude mask) or the jackpot score search at 90 %."""
  params = variables['params']
  if mode == 'train':
    return (step_lib.create_train_state(params, variables['batch_stats'], tx),
            tx, step_lib.dense_params)
  counts = pruning.global_prune_counts(params, 0.9, spec.classifier)
  masks = pruning.get_criterion('magnitude')(variables, spec, counts).masks
  if mode == 'masked':
    tx = optim.masked_training(tx, masks)
    return (step_lib.create_train_state(
        jax.tree.map(lambda p, m: p * m, params, masks),
        variables['batch_stats'], tx), tx, step_lib.dense_params)
  if mode == 'search':
    setup = jackpot.create_search_state(
        variables, prune_counts=counts, initial_masks=masks,
        learning_rate=0.1, weight_decay=5e-4, epochs=10,
        steps_per_epoch=steps_per_epoch, classifier=spec.classifier)
    return setup.state, setup.tx, setup.model_params
  raise ValueError(f'unknown mode {mode!r}')


def step_call(model_name, batch_size, mode, num_classes, dtype='float32',
              seeds_in_parallel=0, parallel='pmap'):
  """``(call, spec)``: ``call()`` runs one step of ``mode`` for the model
  on synthetic on-device data (a train-like step carries its state on);
  see :func:`bench_one` for the arguments."""
  spec = models.get_spec(model_name).bind(num_classes)
  model = precision.with_compute_dtype(spec.module(step_lib.AXIS_NAME), dtype)
  n_dev = jax.local_device_count()
  ds = synthetic_dataset(spec.input_shape, num_classes,
                         max(2 * batch_size, 512))
  source = data_lib.ArraySource(ds, batch_size, batch_size, n_dev, 0)
  variables = jax.device_get(spec.init(jax.random.key(0)))
  tx = optim.sgd_coupled(optim.per_epoch_schedule(
      0.1, 10, source.steps_per_epoch, 'cosine'), 0.9, 1e-4)
  par = parallel_lib.Parallel(parallel, n_dev)
  train_data, eval_data = par.replicate(source.device_data())
  ids = par.feed(next(source.train_inputs(0)))
  context = par.replicate({'epoch': np.int32(0), 'aug_rng': jax.random.key(1),
                           'rng': jax.random.key(2)})
  if mode == 'eval':
    state = par.replicate(step_lib.create_train_state(
        variables['params'], variables['batch_stats'], tx))
    p = par.eval_step(model=model, model_params=step_lib.dense_params,
                      prepare_batch=source.prepare_batch)
    inputs = par.feed(next(source.eval_inputs()))

    def call():
      return p(state, eval_data, inputs)
    return call, spec
  state, tx, model_params = train_setup(mode, spec, variables, tx,
                                        source.steps_per_epoch)
  static = dict(model=model, tx=tx, model_params=model_params,
                prepare_batch=source.prepare_batch)
  p = par.train_step(runs=seeds_in_parallel, **static)
  if seeds_in_parallel:
    n = seeds_in_parallel
    state = step_lib.stack_runs([state] * n)
    ids = par.feed(step_lib.stack_run_inputs(
        [next(source.train_inputs(0))] * n))
    context = par.replicate(step_lib.stack_runs(
        [{'epoch': np.int32(0), 'aug_rng': jax.random.key(1 + 2 * i),
          'rng': jax.random.key(2 + 2 * i)} for i in range(n)]))
  holder = [par.replicate(state)]

  def call():
    holder[0], metrics = p(holder[0], train_data, ids, context)
    return metrics
  return call, spec


def _torch_row(step_s, first_s, reference_s, info, blocks) -> dict:
  """The bench row's fields of a plain PyTorch reference timing."""
  return {'torch_ms_per_step': round(1e3 * reference_s, 3),
          'torch_compile_s': round(first_s, 3),
          'torch_threads': info['threads'], 'torch_version': info['torch'],
          'reference_blocks': blocks,
          'speed_vs_torch': round(reference_s / step_s, 3)}


def _reference_step(reference, model_name, mode, batch_size, num_classes,
                    official_checkout):
  """``(runner, as_row)`` of ``--reference``: ``runner`` yields ``(run,
  info)`` (:func:`experiments.torch_reference.step_runner` or
  :func:`experiments.official_jackpots.step_runner`), ``as_row`` turns the
  timings into the row's fields."""
  # pylint: disable=g-import-not-at-top
  if reference == 'torch':
    from experiments import torch_reference
    return (torch_reference.step_runner(model_name, mode, batch_size,
                                        num_classes), _torch_row)
  if reference == 'official':
    from experiments import official_jackpots
    return (official_jackpots.step_runner(official_checkout, model_name,
                                          batch_size),
            official_jackpots.as_row)
  raise ValueError(f'unknown reference {reference!r}')


def bench_one(model_name, batch_size, mode, steps, warmup, num_classes,
              dtype='float32', seeds_in_parallel=0, parallel='pmap',
              reference='', reference_blocks=5, compare_env=None,
              official_checkout=''):
  """One row; ``seeds_in_parallel`` N >= 1 times N independent runs of a
  train-like mode in one step (``batch_size`` examples each; vmap-ed or
  unrolled, :func:`jaxprune.training.step.seeds_strategy`);
  ``parallel``: the step under 'pmap' or 'shard_map'
  (:mod:`jaxprune.training.parallel`); ``reference='torch'``: the plain
  PyTorch step of the same model and mode timed in ``reference_blocks``
  blocks alternating with jaxprune's (:func:`time_alternating`);
  ``reference='official'``: the same with the official Lottery Jackpots
  search step from the checkout at ``official_checkout``
  (:mod:`experiments.official_jackpots`);
  ``compare_env=(NAME, VALUE)``: the same step built (traced) with that
  trace-time switch set, timed so against the default build."""
  call, spec = step_call(model_name, batch_size, mode, num_classes, dtype,
                         seeds_in_parallel, parallel)
  n_dev = jax.local_device_count()
  ref = {}
  if reference:
    runner, as_row = _reference_step(reference, model_name, mode, batch_size,
                                     num_classes, official_checkout)
    with runner as (run, info):
      compile_s, step_s, host, ref_first_s, ref_step_s = time_alternating(
          call, run, steps, warmup, reference_blocks)
    ref = as_row(step_s, ref_first_s, ref_step_s, info, reference_blocks)
  elif compare_env:
    with environment(*compare_env):  # the step is traced at its first call
      other, _ = step_call(model_name, batch_size, mode, num_classes, dtype,
                           seeds_in_parallel, parallel)
      other_compile_s = seconds(other)
    compile_s, step_s, host, _, other_s = time_alternating(
        call, lambda: seconds(other), steps, warmup, reference_blocks)
    ref = {'compare_env': '='.join(compare_env),
           'compare_ms_per_step': round(1e3 * other_s, 3),
           'compare_compile_s': round(other_compile_s, 3),
           'reference_blocks': reference_blocks,
           'speed_vs_compare': round(other_s / step_s, 3)}
  else:
    compile_s, step_s, host = time_calls(call, steps, warmup)
  runs = max(seeds_in_parallel, 1)
  step_flops = (1 if mode == 'eval' else 3) * runs * batch_size * (
      flops_lib.count(spec.module(), spec.input_shape).flops)
  tflops = step_flops / step_s / 1e12
  peak = bf16_peak_tflops(jax.local_devices()[0])
  return {'model': model_name, 'mode': mode, 'batch_size': batch_size,
          'dtype': dtype, 'parallel': parallel, 'devices': n_dev,
          'per_device_batch': batch_size // n_dev,
          'compile_s': round(compile_s, 3), 'ms_per_step': round(1e3 * step_s, 3),
          'seeds_in_parallel': seeds_in_parallel,
          'seeds_strategy': (step_lib.seeds_strategy() if seeds_in_parallel
                             else None),
          'images_per_s': round(runs * batch_size / step_s, 1),
          'peak_memory_bytes': peak_memory(),
          'step_flops': step_flops, 'tflops_per_s': round(tflops, 4),
          'bf16_peak_fraction': round(tflops / peak, 4) if peak else None,
          'conv_lowering': conv_inventory.lowering_counts(
              spec, jax.default_backend()),
          'fusion_cut': fusion_cut.enabled(), **host, **ref}


def machine_record() -> dict:
  """The machine and switches a figure came from (JSON-ready)."""
  dev = jax.local_devices()[0]
  return {'device_kind': dev.device_kind,
          'platform': dev.platform,
          'device_count': jax.local_device_count(),
          'host_cpus': os.cpu_count(),
          'processor': platform.processor() or platform.machine(),
          'jax': jax.__version__,
          'conv_lowering_forced': conv_lowering.forced_lowering(),
          'fusion_cut_forced': fusion_cut.forced(),
          'pool_lowering_forced': pool_lowering.forced_lowering(),
          'host_malloc': host_memory.describe()}


def read_reports(path: str) -> list:
  """The reports of the JSON file at ``path`` ([] when it does not exist).

  Raises:
    ValueError: the file is not readable JSON (the launchers check their
      ``--output`` so before they time anything, and never overwrite it).
  """
  if not path or not os.path.exists(path):
    return []
  try:
    with open(path) as f:
      existing = json.load(f)
  except (OSError, ValueError) as e:
    raise ValueError(f'--output={path} holds no JSON reports to append to: '
                     f'{type(e).__name__}: {e}') from None
  return existing if isinstance(existing, list) else [existing]


def append_report(path: str, report: dict) -> None:
  """Appends ``report`` to the JSON list at ``path`` (none: no file), by
  writing a new file beside it and renaming it over the old one."""
  if not path:
    return
  existing = read_reports(path)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  partial = path + '.partial'
  with open(partial, 'w') as f:
    json.dump(existing + [report], f, indent=2)
  os.replace(partial, path)


def main(argv):
  del argv
  devices.one_cpu_device_per_core()  # before anything starts a backend
  try:
    check_args(FLAGS.models, FLAGS.modes, FLAGS.batch_sizes,
               jax.local_device_count())
    if FLAGS.seeds_in_parallel < 0 or (FLAGS.seeds_in_parallel and (
        'eval' in FLAGS.modes or FLAGS.reference)):
      raise ValueError('--seeds_in_parallel must be >= 0, and N >= 1 times '
                       'train, masked and search modes without --reference')
    for mode in FLAGS.parallel:
      parallel_lib.check_mode(mode)
    if FLAGS.seeds_in_parallel and FLAGS.parallel != ['pmap']:
      raise ValueError('--seeds_in_parallel times the pmap-ed step only')
    if FLAGS.steps < 1 or FLAGS.warmup < 0:
      raise ValueError('--steps must be >= 1 and --warmup >= 0')
    read_reports(FLAGS.output)
    compare_env = parse_compare_env(FLAGS.compare_env)
    if compare_env and FLAGS.reference:
      raise ValueError('--compare_env and --reference: one comparison a run')
    if ((FLAGS.reference or compare_env)
        and not 1 <= FLAGS.reference_blocks <= FLAGS.steps):
      raise ValueError(f'--reference_blocks={FLAGS.reference_blocks} must '
                       f'be between 1 and --steps={FLAGS.steps}')
    if FLAGS.official_checkout and FLAGS.reference != 'official':
      raise ValueError('--official_checkout is read with '
                       '--reference=official only')
    if FLAGS.reference == 'official':
      from experiments import official_jackpots  # pylint: disable=g-import-not-at-top
      official_jackpots.check_checkout(FLAGS.official_checkout, FLAGS.models,
                                       FLAGS.modes)
      if jax.default_backend() != 'cpu':
        raise ValueError('--reference=official runs the official step on '
                         'the CPU: compare it with a CPU run of jaxprune')
      for model_name in FLAGS.models:  # it imports and builds (1 image)
        with official_jackpots.step_runner(FLAGS.official_checkout,
                                           model_name, 1):
          pass
    if FLAGS.reference and FLAGS.modes:
      from experiments import torch_reference  # pylint: disable=g-import-not-at-top
      torch_reference.check_available(FLAGS.models, FLAGS.modes)
  except (ValueError, RuntimeError) as e:
    raise app.UsageError(str(e))
  matmul = matmul_tflops(FLAGS.dtype)
  rows = []
  for model_name in FLAGS.models:
    for bs in FLAGS.batch_sizes:
      for mode in FLAGS.modes:
        for parallel in FLAGS.parallel:
          row = bench_one(model_name, int(bs), mode, FLAGS.steps,
                          FLAGS.warmup, FLAGS.num_classes, FLAGS.dtype,
                          FLAGS.seeds_in_parallel, parallel, FLAGS.reference,
                          FLAGS.reference_blocks, compare_env,
                          FLAGS.official_checkout)
          row['matmul_fraction'] = round(row['tflops_per_s'] / matmul, 4)
          print(json.dumps(row), flush=True)
          rows.append(row)
  machine = machine_record()
  machine['matmul_tflops_measured'] = round(matmul, 4)
  append_report(FLAGS.output, {'machine': machine, 'results': rows})


if __name__ == '__main__':
  define_flags()
  app.run(main)
