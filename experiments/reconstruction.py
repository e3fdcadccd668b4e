"""How well each channel criterion keeps the next layer's output, as JSON.

    python -m experiments.reconstruction --row=vgg16_a \
        --data=<cifar10-jpeg folder or .tar.gz> --workdir=runs/recon_vgg \
        --output=experiments/results/reconstruction_vgg16_cpu.json

For a Rethinking row's model and per-unit counts (``--row``, e.g. the L1
targets ``vgg16_a`` / ``resnet56_b``), the model is trained briefly
(``--epochs`` on ``--train_subset`` CIFAR-10 images, the ``baseline`` study
in ``--workdir``, resumed if already there). Then, unit by unit, each
criterion prunes that unit alone at its count and the unit's consumer
output is compared with the unpruned model's on ``--held_out`` images that
the criteria never saw: the relative error ``||Y - Y'||^2 / ||Y||^2``
(:func:`jaxprune.pruning.reconstruction.output_error`; ThiNet and
regression include their rescale / refit). Also the wall time of each
criterion on the whole target (every unit, as a study runs it).
"""

if __name__ == '__main__':  # before the imports below, so a relaunch costs none
  from jaxprune.training import host_memory
  host_memory.relaunch_with_huge_pages()

import json
import os
import platform
import statistics
import sys
import time

from absl import app
from absl import flags
import jax
import numpy as np

from experiments.configs import base
from experiments.configs import paper
from jaxprune import pruning
from jaxprune.pruning import reconstruction
from jaxprune.studies import context
from jaxprune.studies import prune_config

FLAGS = flags.FLAGS
CRITERIA = ('thinet', 'regression', 'l1_norm', 'random_channel')


def define_flags():
  flags.DEFINE_string('row', 'vgg16_a', 'A Rethinking row (its model and '
                      'per-unit counts).')
  flags.DEFINE_string('data', '', 'CIFAR-10 image folder or .tar.gz.')
  flags.DEFINE_string('workdir', '', 'Where the short baseline trains.')
  flags.DEFINE_integer('epochs', 3, 'Baseline epochs.')
  flags.DEFINE_integer('train_subset', 5000, 'Training images.')
  flags.DEFINE_integer('examples', 256, 'Images the criteria see.')
  flags.DEFINE_integer('held_out', 128, 'Images the errors are measured on.')
  flags.DEFINE_list('criteria', list(CRITERIA), 'Channel criteria.')
  flags.DEFINE_integer('samples_per_example', 0, 'Sampled output positions '
                       'per image for ThiNet and regression (0: their '
                       'default).')
  flags.DEFINE_string('output', '', 'JSON file to write (else stdout).')


def _config(row: str):
  _, model, _, target = paper.RETHINKING_ROWS[row]  # a CIFAR-10 row
  config = base.get_config()
  base.override(config, {
      'study': 'baseline', 'model.name': model, 'data.name': 'cifar10',
      'data.path': FLAGS.data, 'data.train_subset': FLAGS.train_subset,
      'optim.epochs': FLAGS.epochs, 'prune.method': 'l1_norm',
      'tensorboard': False,  # --examples is not the baseline's: resumable
      **{f'prune.{k}': v for k, v in target.items()}})
  return config


def _check_flags() -> None:
  """One-line errors for bad flags, before any data is read or written."""
  rows = sorted(r for r, v in paper.RETHINKING_ROWS.items()
                if v[0] == 'cifar10')
  if FLAGS.row not in rows:
    sys.exit(f'error: --row={FLAGS.row!r} is not a CIFAR-10 Rethinking row; '
             f'known: {", ".join(rows)}')
  if not FLAGS.data or not os.path.exists(FLAGS.data):
    sys.exit(f'error: --data={FLAGS.data!r} does not exist (the CIFAR-10 '
             'image folder or .tar.gz)')
  if not FLAGS.workdir:
    sys.exit('error: --workdir is required')
  for flag in ('epochs', 'train_subset', 'examples', 'held_out'):
    if getattr(FLAGS, flag) <= 0:
      sys.exit(f'error: --{flag} must be positive, got {getattr(FLAGS, flag)}')
  for name in FLAGS.criteria:
    try:
      kind = pruning.get_criterion(name).kind
    except (KeyError, ValueError) as e:
      sys.exit(f'error: {e}')
    if kind != 'channel':
      sys.exit(f'error: {name!r} is not a channel criterion')


def main(argv):
  del argv
  _check_flags()
  config = _config(FLAGS.row)
  ctx = context.RunContext.create(config, FLAGS.workdir, 'baseline')
  variables, entry = ctx.large_model(config.seed)
  params = variables['params']
  counts = {k: v for k, v in prune_config.resolve_target(ctx, params).items()
            if v}
  images = ctx.source.examples(FLAGS.examples + FLAGS.held_out)
  batch = {k: v[:FLAGS.examples] for k, v in images.items()}
  held_out = images['image'][FLAGS.examples:]
  per_unit = {name: {} for name in FLAGS.criteria}
  wall = {}
  for name in FLAGS.criteria:
    criterion = pruning.get_criterion(name)
    options = ({'samples_per_example': FLAGS.samples_per_example}
               if FLAGS.samples_per_example and 'samples_per_example' in
               criterion.option_names() else {})
    for unit, count in counts.items():
      result = criterion(variables, ctx.spec, {unit: count}, batch=batch,
                         rng=jax.random.key(0), **options)
      per_unit[name][unit] = reconstruction.output_error(
          ctx.spec, variables, result.variables or variables, result.keep,
          unit, held_out)
    t0 = time.perf_counter()
    criterion(variables, ctx.spec, counts, batch=batch, rng=jax.random.key(0),
              **options)
    wall[name] = time.perf_counter() - t0
  summary = {name: {'mean_relative_error': statistics.fmean(errs.values()),
                    'median_relative_error': statistics.median(errs.values()),
                    'wall_time_s_whole_target': wall[name]}
             for name, errs in per_unit.items()}
  out = {'row': FLAGS.row, 'model': ctx.spec.name,
         'baseline_test_accuracy': entry['last_test_accuracy'],
         'baseline_epochs': FLAGS.epochs, 'train_subset': FLAGS.train_subset,
         'examples': FLAGS.examples, 'held_out': FLAGS.held_out,
         'samples_per_example': FLAGS.samples_per_example or 'default',
         'units': counts, 'summary': summary, 'per_unit': per_unit,
         'machine': {'platform': platform.platform(),
                     'processor': platform.processor(),
                     'cpus': os.cpu_count(),
                     'devices': [str(d) for d in jax.devices()]}}
  text = json.dumps(out, indent=1, sort_keys=True)
  if FLAGS.output:
    with open(FLAGS.output, 'w') as f:
      f.write(text + '\n')
  for name, s in summary.items():
    print(f'{name:16s} mean {s["mean_relative_error"]:.4f} median '
          f'{s["median_relative_error"]:.4f} whole target '
          f'{s["wall_time_s_whole_target"]:.1f} s')
  if not FLAGS.output:
    print(text)


if __name__ == '__main__':
  define_flags()
  app.run(main)
