"""Accuracy-vs-FLOPs plots."""

from jaxprune.reporting import plots
from tests.reporting.common import rethinking_result


def test_one_png_per_method(tmp_path):
  paths = plots.accuracy_vs_flops([rethinking_result(), rethinking_result()],
                                  str(tmp_path))
  assert [p.rsplit('/', 1)[1] for p in paths] == ['acc_vs_flops_l1_norm.png']
  assert open(paths[0], 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
