"""The baseline study: results.json, TensorBoard, resume, refusals."""

import json

import pytest

from jaxprune import data
from jaxprune import models
from jaxprune import studies
from jaxprune.training import checkpoint
from tests import helpers
from tests.studies.common import baseline_config

BASELINE = studies.get_study('baseline')


def test_digits_baseline_writes_results_and_tensorboard(tmp_path):
  results = BASELINE(baseline_config(tensorboard=True), str(tmp_path))
  on_disk = json.loads((tmp_path / 'results.json').read_text())
  assert on_disk['study'] == 'baseline' and on_disk == json.loads(
      json.dumps(results, default=str))
  entry = on_disk['stages']['baseline']
  assert entry['params'] == 65834 and entry['flops'] == 3007754
  spec = models.get_spec('digits_cnn').bind(10)
  variables, meta = checkpoint.restore_variables(str(tmp_path / 'baseline'),
                                                 spec.abstract_variables())
  assert entry['last_test_accuracy'] == pytest.approx(
      helpers.independent_test_accuracy(spec, variables,
                                        data.load_dataset('digits')),
      abs=1e-6)
  assert entry['best_test_accuracy'] == max(h['test_accuracy']
                                            for h in meta['history'])
  assert entry['epochs'] == 2 and entry['seeds'] == 1
  assert on_disk['device_count'] == 8 and on_disk['platform'] == 'cpu'
  assert on_disk['summary']['params'] == 65834
  assert list((tmp_path / 'baseline').glob('events.out.tfevents*'))
  lines = (tmp_path / 'baseline' / 'metrics.jsonl').read_text().splitlines()
  assert [json.loads(l)['step'] for l in lines] == [1, 2]
  # A rerun resumes from the finished checkpoint: the same results.
  again = BASELINE(baseline_config(tensorboard=True), str(tmp_path))
  strip = lambda r: {k: v for k, v in r['stages']['baseline'].items()
                     if k not in ('wall_time_s', 'runs')}
  assert strip(again) == strip(results)


def test_workdir_holding_another_run_is_refused_and_kept(tmp_path):
  BASELINE(baseline_config(**{'optim.epochs': 1}), str(tmp_path))
  files = {p: p.stat().st_mtime for p in tmp_path.rglob('*')}
  with pytest.raises(checkpoint.WorkdirConflictError,
                     match='optim.epochs: 1 -> 2'):
    BASELINE(baseline_config(), str(tmp_path))
  assert {p: p.stat().st_mtime for p in tmp_path.rglob('*')} == files
