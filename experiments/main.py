"""Launches a jaxprune experiment.

    python -m experiments.main --config=experiments/configs/digits.py \
        --workdir=runs/digits --config.epochs=10

This file is intentionally kept short: the logic lives in ``jaxprune`` where it
can be tested and imported in a notebook.
"""

import json
import logging as pylogging
import sys

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


class _QuietLibraries(pylogging.Filter):
  """Drops INFO chatter of orbax (one line per save) from the run log."""

  def filter(self, record):
    return record.levelno >= pylogging.WARNING or (
        '/orbax/' not in record.pathname)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.get_absl_handler().addFilter(_QuietLibraries())
  logging.info('JAX devices: %s', jax.local_devices())
  config = FLAGS.config
  runner = train.train_and_evaluate
  if config.get('pipeline'):
    from jaxprune import pipelines  # pylint: disable=g-import-not-at-top
    runner = pipelines.get_pipeline(config.pipeline)
  try:
    results = runner(config, FLAGS.workdir)
  except (ValueError, FileNotFoundError) as e:  # bad input: message, no trace
    sys.exit(f'error: {e}')
  if results.get('report_markdown'):
    print(results['report_markdown'])
    return
  print(json.dumps(results.get('summary', {
      k: results[k] for k in ('model', 'dataset', 'best_test_accuracy',
                              'last_test_accuracy', 'params', 'flops',
                              'wall_time_s') if k in results}), indent=2))


def parse_flags(argv):
  """absl flag parsing that names an unknown --config.<field> clearly."""
  try:
    return FLAGS(argv)
  except (AttributeError, KeyError) as e:
    fields = [a.split('=')[0] for a in argv[1:] if a.startswith('--config.')]
    sys.exit(f'error: unknown config field {e} (overrides given: {fields}); '
             'see the config file for the valid fields')
  except flags.UnrecognizedFlagError as e:
    if e.flagname.startswith('config.'):
      sys.exit(f'error: unknown config field {e.flagname[7:]!r}; see the '
               'config file for the valid fields')
    sys.exit(f'error: {e}')
  except flags.Error as e:
    sys.exit(f'error: {e}')


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
