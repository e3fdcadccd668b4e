"""Cost of the short restriction's mask update alone, as JSON.

    python -m experiments.restriction_bench --models=vgg16_l1,resnet32_jackpot \
        --noise=0.001,0.05 --baseline_rev=0bcdba8 \
        --output=experiments/results/restriction_bench_cpu.json

For each model, the score tree of the jackpot search at 90 % sparsity (the
bench's setup: global magnitude counts, the magnitude mask), scores ``|w|``
moved by relative Gaussian ``--noise`` (how far one search step moves them),
and the time of one ``short_restriction`` update (the default: rate 1,
``'skip_layer'``) on every local device at once, as in the pmap-ed step.
With ``--baseline_rev`` the module as it was at that git revision is timed
in alternating blocks in the same process, its masks checked equal, and the
row gains ``baseline_ms`` and ``speedup`` (baseline over current). Run it
from a git checkout for that.
"""

if __name__ == '__main__':  # before the imports below, so a relaunch costs none
  from jaxprune.training import host_memory
  host_memory.relaunch_with_huge_pages()

import importlib
import importlib.util
import json
import os
import subprocess
import tempfile

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from experiments import bench
from jaxprune import models
from jaxprune import pruning
from jaxprune import tree as tree_lib
from jaxprune.jackpot import scores as scores_lib
from jaxprune.training import devices

FLAGS = flags.FLAGS
MODULE = 'jaxprune.jackpot.short_restriction'
SPARSITY = 0.9


def define_flags():
  flags.DEFINE_list('models', ['vgg16_l1'], 'Registered model names.')
  flags.DEFINE_list('noise', ['0.001'], 'Relative score moves to time.')
  flags.DEFINE_integer('steps', 40, 'Timed updates per figure (median).')
  flags.DEFINE_integer('blocks', 8, 'Alternating blocks with a baseline.')
  flags.DEFINE_string('baseline_rev', '', 'Git revision whose short '
                      'restriction is timed alongside (default: none).')
  flags.DEFINE_string('output', '', 'JSON file to write (default: stdout).')


def module_at(rev: str):
  """The short-restriction module as it was at git revision ``rev``."""
  path = MODULE.replace('.', '/') + '.py'
  source = subprocess.run(['git', 'show', f'{rev}:{path}'], check=True,
                          capture_output=True, text=True).stdout
  with tempfile.NamedTemporaryFile('w', suffix='.py', delete=False) as f:
    f.write(source)
  spec = importlib.util.spec_from_file_location(f'baseline_{rev}', f.name)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  os.unlink(f.name)
  return module


def search_scores(model_name: str, noise: float, seed: int = 0):
  """``(prune_counts, masks, scores)`` score trees of ``model_name``'s
  search: the magnitude mask at 90 % and ``|w| * (1 + noise * N(0, 1))``."""
  spec = models.get_spec(model_name).bind(10)
  variables = jax.device_get(spec.init(jax.random.key(0)))
  params = variables['params']
  counts = pruning.global_prune_counts(params, SPARSITY, spec.classifier)
  masks = pruning.get_criterion('magnitude')(variables, spec, counts).masks
  sub_masks = scores_lib.score_subtree(masks, params, spec.classifier)
  weights = dict(tree_lib.flatten(params))
  rng = np.random.default_rng(seed)
  scores = tree_lib.unflatten([
      (p, (np.abs(np.asarray(weights[p]))
           * (1 + noise * rng.normal(size=m.shape))).astype(np.float32))
      for p, m in tree_lib.flatten(sub_masks)])
  counts = {tree_lib.as_path(p): int(c) for p, c in counts.items()}
  return counts, sub_masks, scores


def update_call(module, counts, masks, scores):
  """A call running one update on every local device; returns the masks."""
  tx = module.short_restriction(counts, masks)
  n = jax.local_device_count()
  stack = lambda tree: jax.tree.map(  # noqa: E731
      lambda x: np.stack([np.asarray(x)] * n), tree)
  args = jax.pmap(lambda *a: a)(
      stack(jax.tree.map(np.zeros_like, scores)), stack(tx.init(scores)),
      stack(scores))
  update = jax.pmap(lambda u, s, p: tx.update(u, s, p)[1].masks)
  return lambda: update(*args)


def bench_row(model_name: str, noise: float, baseline) -> dict:
  counts, masks, scores = search_scores(model_name, noise)
  current = update_call(importlib.import_module(MODULE), counts, masks,
                        scores)
  row = dict(model=model_name, noise=noise, devices=jax.local_device_count(),
             scores=sum(int(np.size(s)) for s in jax.tree.leaves(scores)))
  if baseline is None:
    compile_s, update_s, _ = bench.time_calls(current, FLAGS.steps, warmup=0)
  else:
    previous = update_call(baseline, counts, masks, scores)
    compile_s, update_s, _, _, previous_s = bench.time_alternating(
        current, lambda: bench.seconds(previous), FLAGS.steps, 0,
        FLAGS.blocks)
    if not all(bool(jnp.array_equal(a, b)) for a, b in
               zip(jax.tree.leaves(current()), jax.tree.leaves(previous()))):
      raise AssertionError(f'{model_name}: masks differ from the baseline')
  row.update(compile_s=round(compile_s, 3), ms=round(1e3 * update_s, 2))
  if baseline is not None:
    row['baseline_rev'] = FLAGS.baseline_rev
    row['baseline_ms'] = round(1e3 * previous_s, 2)
    row['speedup'] = round(row['baseline_ms'] / row['ms'], 3)
  return row


def main(argv):
  del argv
  devices.one_cpu_device_per_core()  # before anything starts a backend
  try:
    noises = [float(x) for x in FLAGS.noise]
    if any(not np.isfinite(x) or x < 0 for x in noises):
      raise ValueError
  except ValueError:
    raise app.UsageError(f'--noise must be finite numbers >= 0; got '
                         f'{FLAGS.noise}') from None
  unknown = [m for m in FLAGS.models if m not in models.model_names()]
  if unknown:
    raise app.UsageError(f'unknown model(s) {unknown}; registered: '
                         f'{", ".join(models.model_names())}')
  if FLAGS.steps < 1 or (FLAGS.baseline_rev
                         and not 1 <= FLAGS.blocks <= FLAGS.steps):
    raise app.UsageError('--steps must be >= 1 and, with --baseline_rev, '
                         '--blocks in 1..steps')
  try:
    bench.read_reports(FLAGS.output)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  baseline = None
  if FLAGS.baseline_rev:
    try:
      baseline = module_at(FLAGS.baseline_rev)
    except (subprocess.CalledProcessError, OSError) as e:
      raise app.UsageError(f'--baseline_rev={FLAGS.baseline_rev}: no '
                           f'{MODULE} there ({e})') from None
  rows = []
  for model_name in FLAGS.models:
    for noise in noises:
      rows.append(bench_row(model_name, noise, baseline))
      print(json.dumps(rows[-1]), flush=True)
  bench.append_report(FLAGS.output, {'machine': bench.machine_record(),
                                     'results': rows})


if __name__ == '__main__':
  define_flags()
  app.run(main)
