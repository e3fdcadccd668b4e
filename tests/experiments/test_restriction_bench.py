"""The mask-update bench times the real update and checks its baseline."""

import importlib
import json
import subprocess
import sys

import jax
import numpy as np
import pytest

from experiments import restriction_bench
from jaxprune import tree as tree_lib

_IN_GIT = subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True,
                         check=False).returncode == 0
needs_git = pytest.mark.skipif(not _IN_GIT, reason='--baseline_rev reads the '
                               'module from git: not a git checkout')

def test_search_scores_are_the_magnitude_start_moved():
  counts, masks, scores = restriction_bench.search_scores('digits_cnn', 0.0)
  for path, mask in tree_lib.flatten(masks):
    assert int(np.sum(np.asarray(mask) == 0)) == counts[path]
  call = restriction_bench.update_call(
      importlib.import_module(restriction_bench.MODULE), counts, masks, scores)
  # Unmoved magnitude scores keep the magnitude mask, on every device.
  got = call()
  for (path, mask), new in zip(tree_lib.flatten(masks), jax.tree.leaves(got)):
    for device_mask in np.asarray(new):
      np.testing.assert_array_equal(device_mask, np.asarray(mask), path)


@needs_git
def test_module_at_a_revision_is_the_file_there():
  module = restriction_bench.module_at('HEAD')
  assert callable(module.short_restriction)


@pytest.mark.parametrize('args, shown', [
    pytest.param(['--models=digits_cnn', '--noise=0.01', '--steps=2',
                  '--blocks=2', '--baseline_rev=HEAD'], '"speedup"',
                 marks=needs_git),
    (['--models=digits_cnn', '--steps=2'], '"ms"'),  # blocks: baseline only
    (['--models=resnet57'], 'unknown model'),
    (['--models=digits_cnn', '--steps=2', '--blocks=3', '--baseline_rev=HEAD'],
     '--blocks in 1..steps'),
    (['--noise=-1'], '--noise must be'),
    (['--baseline_rev=no-such-rev'], '--baseline_rev=no-such-rev'),
    (['--models=digits_cnn'], 'holds no JSON reports')])
def test_restriction_bench_command(args, shown, tmp_path):
  out = tmp_path / 'r.json'
  if shown == 'holds no JSON reports':
    out.write_text('not json')
  run = subprocess.run([sys.executable, '-m', 'experiments.restriction_bench',
                        *args, f'--output={out}'], capture_output=True,
                       text=True, check=False)
  assert shown in run.stdout + run.stderr
  if shown in ('"speedup"', '"ms"'):
    assert run.returncode == 0
    report = json.loads(out.read_text())[0]
    assert report['results'][0].get('baseline_rev') == (
        'HEAD' if shown == '"speedup"' else None)
    assert report['machine']['platform'] == 'cpu'
  elif shown == 'holds no JSON reports':  # refused, and left as it was
    assert run.returncode != 0 and out.read_text() == 'not json'
  else:
    assert run.returncode != 0 and not out.exists()
