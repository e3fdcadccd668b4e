"""Reports of finished runs of any study (jaxprune.reporting)."""

import json

import pytest

from jaxprune import reporting
from jaxprune import results as results_lib
from tests.reporting.common import rethinking_result, stage


def test_write_report_reads_every_study(tmp_path):
  results_lib.write(str(tmp_path / 'r'), rethinking_result())
  results_lib.write(str(tmp_path / 'b'), results_lib.make(
      'baseline', summary={'model': 'digits_cnn', 'dataset': 'digits'},
      stages={'baseline': stage(1.0, 1.0)}, details={}, config={},
      device={}, wall_time_s=1))
  out = reporting.write_report([str(tmp_path / 'r'), str(tmp_path / 'b')],
                               str(tmp_path / 'report'))
  md = (tmp_path / 'report' / 'table.md').read_text()
  assert md == out['markdown']
  assert '| Dataset | Model | Method | Unpruned' in md and 'digits_cnn' in md
  assert len(out['plots']) == 1
  with pytest.raises(ValueError, match='holds no results.json'):
    reporting.write_report([str(tmp_path / 'none')], str(tmp_path / 'x'))


def test_summary_text():
  r = rethinking_result()
  text = reporting.summary_text(r)
  assert 'Scratch-B' in text and json.dumps(r['summary'], indent=2) in text
  suite = results_lib.make('suite', summary={}, stages={},
                           details={'report_markdown': '| table |'},
                           config={}, device={}, wall_time_s=1)
  assert reporting.summary_text(suite) == '| table |'
