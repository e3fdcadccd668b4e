"""Launches a jaxprune study.

    python -m experiments.main --config=experiments/configs/digits.py \
        --workdir=runs/digits --config.optim.epochs=10

This file is intentionally kept short: ``config.study`` names a registered
study (``jaxprune.studies``), which runs and writes ``results.json``; the logic
lives in ``jaxprune`` where it can be tested and imported in a notebook.
"""

if __name__ == '__main__':  # before the imports below, so a relaunch costs none
  from jaxprune.training import host_memory
  host_memory.relaunch_with_huge_pages()

import faulthandler
import logging as pylogging
import os
import signal
import sys

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from jaxprune import reporting
from jaxprune import studies
from jaxprune.models import env_switch
from jaxprune.training import devices
from jaxprune.training import distributed
from jaxprune.training import host_memory
from jaxprune.training import preemption

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
  # `kill -USR1 <pid>` prints every thread's stack to stderr (a hung
  # multi-process run shows where each process waits) and the run goes on.
  if hasattr(signal, 'SIGUSR1'):
    faulthandler.register(signal.SIGUSR1, all_threads=True)
  try:
    config = FLAGS.config  # a missing file is reported here, lazily
    study = config.study
  except Exception as e:  # pylint: disable=broad-except
    sys.exit(_config_error(e))
  try:
    # Both before anything starts a backend.
    processes = distributed.initialize(config.distributed)
    devices.one_cpu_device_per_core()
    env_switch.check_all()
  except ValueError as e:
    sys.exit(f'error: {e}')
  if not distributed.is_writer():  # process 0 logs for the run
    logging.set_verbosity(logging.WARNING)
  logging.info('JAX devices: %d local, %d over %d process(es): %s',
               jax.local_device_count(), jax.device_count(), processes,
               jax.local_devices())
  logging.info('host malloc: %s', host_memory.describe())
  try:
    # Leaves the signals ignored: a finished study has nothing to save.
    with preemption.watch_signals(on_exit=signal.SIG_IGN):
      results = studies.get_study(study)(config, FLAGS.workdir)
  except preemption.Preempted as e:
    print(f'preempted: {e}', file=sys.stderr)
    sys.exit(preemption.EXIT_PREEMPTED)
  except (ValueError, OSError) as e:  # bad input, full disk: one line
    sys.exit(f'error: {_process_words()}{_one_line(e)}')
  if distributed.is_writer():
    print(reporting.summary_text(results))


def _process_words() -> str:
  """'process 1 of 2: ' in a multi-process run, else ''."""
  if not jax.distributed.is_initialized() or jax.process_count() == 1:
    return ''
  return f'process {jax.process_index()} of {jax.process_count()}: '


def _one_line(e: BaseException) -> str:
  text = str(e) if not isinstance(e, OSError) or not e.strerror else (
      f'{e.strerror}: {e.filename}' if e.filename else e.strerror)
  return ' '.join(text.split())


def _config_arg_text() -> str:
  return next((a for a in sys.argv[1:] if a.startswith('--config=')),
              '--config')


def _config_error(e: BaseException) -> str:
  """One line for a config file that cannot be loaded."""
  arg = _config_arg_text()[len('--config='):]
  path = arg.split(':', 1)[0]
  if path and not os.path.isfile(path):
    return f'error: config file {path} does not exist'
  cause = e
  while cause.__cause__ is not None:
    cause = cause.__cause__
  return (f'error: cannot load the config file {arg}: '
          f'{type(cause).__name__}: {_one_line(cause)}')


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
    text = str(e)
    if 'Traceback (most recent call last)' in text:  # get_config raised
      last = [l for l in text.splitlines() if l.strip()][-1].strip()
      sys.exit(f'error: {_config_arg_text()}: {last}')
    sys.exit(f'error: {_one_line(e)}')
  except Exception as e:  # pylint: disable=broad-except
    sys.exit(_config_error(e))  # the config file raised while loading


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
