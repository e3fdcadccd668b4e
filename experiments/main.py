"""Launches a jaxprune study.

    python -m experiments.main --config=experiments/configs/digits.py \
        --workdir=runs/digits --config.optim.epochs=10

This file is intentionally kept short: ``config.study`` names a registered
study (``jaxprune.studies``), which runs and writes ``results.json``; the logic
lives in ``jaxprune`` where it can be tested and imported in a notebook.
"""

import logging as pylogging
import sys

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from jaxprune import reporting
from jaxprune import studies

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
  try:
    results = studies.get_study(config.study)(config, FLAGS.workdir)
  except (ValueError, FileNotFoundError) as e:  # bad input: message, no trace
    sys.exit(f'error: {e}')
  print(reporting.summary_text(results))


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
