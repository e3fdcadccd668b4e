"""Launches a jaxprune experiment.

    python -m experiments.main --config=experiments/configs/digits.py \
        --workdir=/tmp/digits --config.epochs=10

This file is intentionally kept short: the logic lives in ``jaxprune`` where it
can be tested and imported in a notebook.
"""

import json

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from jaxprune import train

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and '
                    'results.json. A run resumes from it.')
config_flags.DEFINE_config_file(
    'config', None, 'Experiment configuration file.', lock_config=True)
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.info('JAX devices: %s', jax.local_devices())
  config = FLAGS.config
  runner = train.train_and_evaluate
  if config.get('pipeline'):
    from jaxprune import pipelines  # pylint: disable=g-import-not-at-top
    runner = pipelines.get_pipeline(config.pipeline)
  results = runner(config, FLAGS.workdir)
  print(json.dumps(results.get('summary', {
      k: results[k] for k in ('model', 'dataset', 'best_test_accuracy',
                              'last_test_accuracy', 'params', 'flops',
                              'wall_time_s') if k in results}), indent=2))


if __name__ == '__main__':
  app.run(main)
