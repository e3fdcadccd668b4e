"""The report command line."""

import os
import subprocess
import sys

from experiments import report
from tests.reporting.common import rethinking_result
from jaxprune import results as results_lib


def test_report_command_writes_the_table(tmp_path):
  results_lib.write(str(tmp_path / 'run'), rethinking_result())
  root = os.path.dirname(os.path.dirname(report.__file__))
  out = subprocess.run([sys.executable, '-m', 'experiments.report',
                        str(tmp_path / 'run'), f'--output={tmp_path / "rep"}'],
                       capture_output=True, text=True, cwd=root, timeout=300)
  assert out.returncode == 0, out.stderr[-1000:]
  assert '| cifar10 | resnet56 | l1_norm |' in out.stdout
  assert (tmp_path / 'rep' / 'table.md').exists()
  bad = subprocess.run([sys.executable, '-m', 'experiments.report',
                        str(tmp_path / 'none'), f'--output={tmp_path / "x"}'],
                       capture_output=True, text=True, cwd=root, timeout=300)
  assert bad.returncode != 0 and 'holds no results.json' in bad.stderr
