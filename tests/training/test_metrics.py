"""Per-epoch metric writers."""

import json

from jaxprune.training import metrics


def test_jsonl_and_tensorboard(tmp_path):
  w = metrics.MetricWriter(str(tmp_path), tensorboard=True)
  w.write(1, {'loss': 0.5, 'acc': 1})
  w.write(2, {'loss': 0.25, 'acc': 1})
  w.close()
  lines = [json.loads(l) for l in
           (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert lines == [{'step': 1, 'loss': 0.5, 'acc': 1.0},
                   {'step': 2, 'loss': 0.25, 'acc': 1.0}]
  assert list(tmp_path.glob('events.out.tfevents*'))
  assert metrics.format_duration(3725) == '1h02m05s'
  assert metrics.format_duration(65) == '1m05s'
