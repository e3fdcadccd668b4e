"""The benchmark runs every mode and reports sane figures."""

import pytest

from experiments import bench


@pytest.mark.parametrize('mode', ['train', 'masked', 'search', 'eval'])
def test_bench_modes(mode):
  row = bench.bench_one('digits_cnn', 16, mode, steps=2, warmup=1,
                        num_classes=10)
  assert row['mode'] == mode and row['batch_size'] == 16
  assert row['ms_per_step'] > 0 and row['images_per_s'] > 0
  assert row['compile_s'] > 0
