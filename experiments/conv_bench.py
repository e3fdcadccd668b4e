"""Per-conv cost of a model under each lowering, as JSON.

    python -m experiments.conv_bench --models=resnet56,vgg16_l1 --batch=32 \
        --output=experiments/results/conv_bench_cpu.json

For every distinct conv shape of each model (:mod:`jaxprune.models.
conv_inventory`), times the forward and the forward+backward (grads of the
input and the kernel) of one conv at ``--batch`` (the per-device batch of a
run) under each lowering of :mod:`jaxprune.models.conv_lowering`, and says
which one the model uses. Summed over a model's calls this is the profile
behind the lowering rule: where ``matmul`` beats ``library`` for a shape the
rule should choose it. One XLA device (the per-device cost is what matters).
"""

if __name__ == '__main__':  # before the imports below, so a relaunch costs none
  from jaxprune.training import host_memory
  host_memory.relaunch_with_huge_pages()

import collections
import json
import os
import statistics
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

from jaxprune import models
from jaxprune.models import conv_inventory
from jaxprune.models import conv_lowering

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_list('models', ['resnet56'], 'Registered model names.')
  flags.DEFINE_integer('batch', 32, 'Per-device batch of each conv call.')
  flags.DEFINE_integer('steps', 5, 'Timed calls per figure (median).')
  flags.DEFINE_string('output', '', 'JSON file to write (default: stdout).')


def _median_ms(fn, *args, steps):
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(steps):
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t)
  return round(1e3 * statistics.median(times), 3)


def time_conv(shape: conv_inventory.ConvShape, batch: int, steps: int):
  """{lowering: (forward ms, forward+backward ms)} of one conv shape."""
  kx, kk = jax.random.split(jax.random.key(0))
  x = jax.random.normal(kx, (batch, shape.h, shape.w, shape.cin))
  k = jax.random.normal(kk, (shape.k, shape.k, shape.cin, shape.cout))
  out = {}
  for lowering in conv_lowering.LOWERINGS:
    def fwd(x, k, lowering=lowering):
      return conv_lowering.conv2d(x, k, shape.stride, shape.padding, lowering)
    grad = jax.jit(jax.grad(lambda x, k, f=fwd: jnp.sum(f(x, k) ** 2),
                            argnums=(0, 1)))
    out[lowering] = (_median_ms(jax.jit(fwd), x, k, steps=steps),
                     _median_ms(grad, x, k, steps=steps))
  return out


def profile_model(name: str, batch: int, steps: int) -> dict:
  spec = models.get_spec(name).bind(10)  # the class count moves no conv
  calls = collections.Counter(conv_inventory.conv_shapes(spec))
  backend = jax.default_backend()
  rows, totals = [], collections.Counter()
  for shape, n in calls.items():
    times = time_conv(shape, batch, steps)
    chosen = conv_inventory.lowering_of(shape, backend)
    rows.append({'shape': shape._asdict(), 'calls': n, 'chosen': chosen,
                 **{f'{low}_ms': t for low, t in times.items()}})
    for low, (f, fb) in times.items():
      totals[f'{low}_fwd_ms'] += n * f
      totals[f'{low}_fwd_bwd_ms'] += n * fb
    totals['chosen_fwd_bwd_ms'] += n * times[chosen][1]
    print(json.dumps(rows[-1]), flush=True)
  return {'model': name, 'batch': batch, 'backend': backend,
          'totals': {k: round(v, 1) for k, v in totals.items()},
          'shapes': rows}


def main(argv):
  del argv
  unknown = [m for m in FLAGS.models if m not in models.model_names()]
  if unknown or FLAGS.batch <= 0 or FLAGS.steps <= 0:
    raise app.UsageError(f'unknown model(s) {unknown}' if unknown else
                         '--batch and --steps must be positive')
  jax.config.update('jax_num_cpu_devices', 1)
  report = [profile_model(m, FLAGS.batch, FLAGS.steps) for m in FLAGS.models]
  for r in report:
    print(r['model'], json.dumps(r['totals']))
  if FLAGS.output:
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
    with open(FLAGS.output, 'w') as f:
      json.dump({'machine': {'host_cpus': os.cpu_count(),
                             'jax': jax.__version__}, 'models': report},
                f, indent=2)


if __name__ == '__main__':
  define_flags()
  app.run(main)
