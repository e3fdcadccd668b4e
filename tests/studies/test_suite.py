"""The suite study: the README's main job at a tiny budget."""

import json

import pytest

from jaxprune import studies
from tests.studies.common import rethinking_config

SUITE = studies.get_study('suite')


def _config(**overrides):
  config = rethinking_config(**{
      'study': 'suite', 'optim.epochs': 1, 'finetune.epochs': 1,
      'scratch.b_max_epochs': 1, 'jackpot.epochs': 1,
      'jackpot.batch_size': 64, 'jackpot.overlap': False,
      'suite.methods': {'l1_norm': {}}})
  for k, v in overrides.items():
    *parents, leaf = k.split('.')
    node = config
    for p in parents:
      node = node[p]
    node[leaf] = v
  return config


def test_suite_runs_both_papers_and_ends_with_the_report(tmp_path):
  results = SUITE(_config(), str(tmp_path))
  md = results['details']['report_markdown']
  assert 'l1_norm 50%' in md and 'Magnitude mask' in md
  assert (tmp_path / 'report' / 'table.md').read_text() == md
  jackpot = json.loads((tmp_path / 'jackpot' / 'results.json').read_text())
  assert jackpot['details']['frozen_weights_unchanged']
  assert json.loads((tmp_path / 'results.json').read_text())[
      'study'] == 'suite'


@pytest.mark.parametrize('methods, match', [
    ({'l1_norm': {}, 'lasso': {}}, "unknown criterion 'lasso'"),
    ({'slimming': {'lambda': 1e-4}}, r'unknown field config.prune.lambda'),
    ({}, 'non-empty'),
])
def test_bad_methods_fail_before_anything_runs(tmp_path, methods, match):
  with pytest.raises(ValueError, match=match):
    SUITE(_config(**{'suite.methods': methods}), str(tmp_path / 'bad'))
  assert not (tmp_path / 'bad').exists()
