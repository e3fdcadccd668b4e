"""Tables and plots of finished runs of any study (:mod:`jaxprune.reporting`).

    python -m experiments.report runs/r56a runs/r56b --output=runs/report
"""

import json

from absl import app
from absl import flags

from jaxprune.reporting import write_report

FLAGS = flags.FLAGS


def define_flags():
  """Flags of the command line only (importing the module defines none)."""
  flags.DEFINE_string('output', None, 'Directory for table.md and the plots.')


def main(argv):
  if len(argv) < 2:
    raise app.UsageError('usage: python -m experiments.report WORKDIR... '
                         '--output=DIR')
  if not FLAGS.output:
    raise app.UsageError('--output is required')
  try:
    out = write_report(argv[1:], FLAGS.output)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  print(out.pop('markdown'))
  print(json.dumps(out, indent=2))


if __name__ == '__main__':
  define_flags()
  app.run(main)
