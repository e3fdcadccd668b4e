"""The benchmark runs every mode and reports sane figures."""

import os

import jax
import pytest

from experiments import bench
from jaxprune import flops
from jaxprune import models
from jaxprune.models import pool_lowering


@pytest.mark.parametrize('mode, parallel', [
    ('train', 'pmap'), ('masked', 'pmap'), ('search', 'pmap'), ('eval', 'pmap'),
    ('train', 'shard_map'), ('eval', 'shard_map')])
def test_bench_modes(mode, parallel):
  row = bench.bench_one('digits_cnn', 16, mode, steps=2, warmup=1,
                        num_classes=10, parallel=parallel)
  assert row['mode'] == mode and row['batch_size'] == 16
  assert row['parallel'] == parallel
  assert row['ms_per_step'] > 0 and row['images_per_s'] > 0
  assert row['compile_s'] > 0
  assert row['devices'] == jax.local_device_count()
  assert row['per_device_batch'] * row['devices'] == 16
  spec = models.get_spec('digits_cnn').bind(10)
  per_image = flops.count(spec.module(), spec.input_shape).flops
  assert row['step_flops'] == (1 if mode == 'eval' else 3) * 16 * per_image
  assert row['bf16_peak_fraction'] is None  # CPU: no bf16 peak
  assert sum(row['conv_lowering'].values()) == 4  # the digits CNN's convs


def test_bench_bfloat16_train_step():
  row = bench.bench_one('digits_cnn', 16, 'train', steps=1, warmup=0,
                        num_classes=10, dtype='bfloat16')
  assert row['dtype'] == 'bfloat16' and row['ms_per_step'] > 0


def test_bench_seeds_in_parallel_counts_every_run():
  one = bench.bench_one('digits_cnn', 16, 'search', steps=1, warmup=0,
                        num_classes=10)
  three = bench.bench_one('digits_cnn', 16, 'search', steps=1, warmup=0,
                          num_classes=10, seeds_in_parallel=3)
  assert three['seeds_in_parallel'] == 3
  assert three['step_flops'] == 3 * one['step_flops']


def test_bench_rejects_bad_flags_in_one_line():
  with pytest.raises(ValueError, match='unknown model'):
    bench.check_args(['resnet57'], ['train'], ['64'], 1)
  with pytest.raises(ValueError, match='unknown mode'):
    bench.check_args(['resnet56'], ['trian'], ['64'], 1)
  with pytest.raises(ValueError, match='multiple of the 8 devices'):
    bench.check_args(['resnet56'], ['train'], ['60'], 8)


def test_report_file_is_appended_to_and_a_bad_one_refused(tmp_path):
  path = str(tmp_path / 'out' / 'bench.json')
  assert bench.read_reports(path) == []
  bench.append_report(path, {'results': [1]})
  bench.append_report(path, {'results': [2]})
  assert bench.read_reports(path) == [{'results': [1]}, {'results': [2]}]
  assert os.listdir(tmp_path / 'out') == ['bench.json']
  bad = tmp_path / 'bad.json'
  bad.write_text('{"results": [')
  with pytest.raises(ValueError, match='holds no JSON reports'):
    bench.read_reports(str(bad))
  assert bad.read_text() == '{"results": ['


class _Device:

  def __init__(self, platform, kind):
    self.platform, self.device_kind = platform, kind


def test_bf16_peaks():
  assert bench.bf16_peak_tflops(_Device('gpu', 'NVIDIA H100 80GB HBM3')) == 989
  assert bench.bf16_peak_tflops(_Device('tpu', 'TPU v5 lite')) == 197
  assert bench.bf16_peak_tflops(_Device('gpu', 'NVIDIA Quadro K1')) is None
  assert bench.bf16_peak_tflops(_Device('cpu', 'cpu')) is None


def test_matmul_rate_is_measured():
  tflops = bench.matmul_tflops(size=256, steps=2)
  assert 0 < tflops < 1e3


def test_reference_steps_alternate_in_blocks():
  order = []

  def step():
    order.append('j')
    return jax.numpy.zeros(())

  def reference():
    order.append('t')
    return 0.25

  compile_s, step_s, host, ref_first, ref_step = bench.time_alternating(
      step, reference, steps=5, warmup=1, blocks=2)
  assert ''.join(order) == 'jt' + 'jt' + 'jjjttt' + 'jjtt'
  assert ref_first == ref_step == 0.25
  assert compile_s > 0 and step_s > 0 and host['page_faults_per_step'] >= 0


def test_bench_row_with_torch_reference():
  pytest.importorskip('torch')
  row = bench.bench_one('digits_cnn', 16, 'train', steps=2, warmup=0,
                        num_classes=10, reference='torch', reference_blocks=2)
  assert row['torch_ms_per_step'] > 0 and row['reference_blocks'] == 2
  assert row['speed_vs_torch'] == pytest.approx(
      row['torch_ms_per_step'] / row['ms_per_step'], rel=1e-2)


def test_compare_env_parses_only_trace_time_switches(monkeypatch):
  monkeypatch.delenv('JAXPRUNE_POOL_LOWERING', raising=False)
  assert bench.parse_compare_env('') is None
  assert bench.parse_compare_env('JAXPRUNE_POOL_LOWERING=reduce_window') == (
      'JAXPRUNE_POOL_LOWERING', 'reduce_window')
  assert 'JAXPRUNE_POOL_LOWERING' not in os.environ
  for bad in ('XLA_FLAGS=--foo', 'JAXPRUNE_FUSION_CUT', 'JAXPRUNE_FUSION_CUT'
              '=maybe', 'JAXPRUNE_CONV_LOWERING=winograd'):
    with pytest.raises(ValueError):
      bench.parse_compare_env(bad)


def test_bench_row_compares_a_second_build_under_a_switch(monkeypatch):
  """The second build is traced under the switch (the digits CNN's max
  pool asks for its lowering then), the default build without it."""
  monkeypatch.delenv('JAXPRUNE_POOL_LOWERING', raising=False)
  seen = []
  forced = pool_lowering.forced_lowering
  monkeypatch.setattr(pool_lowering, 'forced_lowering',
                      lambda: seen.append(forced()) or seen[-1])
  row = bench.bench_one('digits_cnn', 16, 'train', steps=2, warmup=0,
                        num_classes=10, reference_blocks=2,
                        compare_env=('JAXPRUNE_POOL_LOWERING',
                                     'reduce_window'))
  assert None in seen and 'reduce_window' in seen
  assert 'JAXPRUNE_POOL_LOWERING' not in os.environ
  assert row['compare_env'] == 'JAXPRUNE_POOL_LOWERING=reduce_window'
  assert row['compare_ms_per_step'] > 0 and row['compare_compile_s'] > 0
  assert row['speed_vs_compare'] == pytest.approx(
      row['compare_ms_per_step'] / row['ms_per_step'], rel=1e-2)
