"""The one results schema (jaxprune.results)."""

import json

import numpy as np
import pytest

from jaxprune import results as results_lib


def _entry(best, last, params=10):
  return results_lib.stage_entry(params=params, flops=100, best=best,
                                 last=last, epochs=2)


def test_aggregate_uses_the_sample_std_and_says_so():
  # Regression: the std over seeds was numpy's default ddof=0 (0.01 for
  # [0.90, 0.92]) and no field said which.
  runs = [{'baseline': _entry(0.90, 0.89)}, {'baseline': _entry(0.92, 0.91)}]
  agg = results_lib.aggregate(runs)['baseline']
  assert agg['best_test_accuracy'] == pytest.approx(0.91)
  assert agg['best_test_accuracy_std'] == pytest.approx(
      np.std([0.90, 0.92], ddof=1)) == pytest.approx(0.0141421356)
  assert agg['last_test_accuracy_std'] == pytest.approx(0.0141421356)
  assert agg['seeds'] == 2 and [r['best_test_accuracy'] for r in agg['runs']
                                ] == [0.90, 0.92]
  assert (agg['params'], agg['flops'], agg['epochs']) == (10, 100, 2)
  assert results_lib.aggregate([runs[0]])['baseline'][
      'best_test_accuracy_std'] == 0.0
  out = results_lib.make('rethinking', summary={}, stages={'baseline': agg},
                         details={}, config={}, device={}, wall_time_s=1.0)
  assert 'ddof=1' in out['std']


def test_a_stage_missing_in_some_seeds_averages_the_others():
  runs = [{'a': _entry(0.5, 0.5), 'b': _entry(0.7, 0.6)},
          {'a': _entry(0.7, 0.7)}]
  agg = results_lib.aggregate(runs)
  assert agg['b']['seeds'] == 1 and agg['b']['best_test_accuracy'] == 0.7
  assert agg['a']['seeds'] == 2


def test_write_and_load_check_the_schema(tmp_path):
  out = results_lib.make('baseline', summary={'x': 1}, stages={}, details={},
                         config={}, device={'platform': 'cpu'},
                         wall_time_s=0.5)
  results_lib.write(str(tmp_path), out)
  assert results_lib.load(str(tmp_path))['summary'] == {'x': 1}
  with pytest.raises(ValueError, match='holds no results.json'):
    results_lib.load(str(tmp_path / 'none'))
  (tmp_path / 'old').mkdir()
  (tmp_path / 'old' / 'results.json').write_text(json.dumps({'pipeline': 1}))
  with pytest.raises(ValueError, match='missing'):
    results_lib.load(str(tmp_path / 'old'))
  (tmp_path / 'bad').mkdir()
  (tmp_path / 'bad' / 'results.json').write_text('{oops')
  with pytest.raises(ValueError, match='unreadable'):
    results_lib.load(str(tmp_path / 'bad'))
