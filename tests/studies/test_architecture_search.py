"""The architecture_search study (rethinking.md §10) on a tiny 32x32 image
folder with narrow VGGs: pruned vs uniform vs guided (and a transfer), for
channels and for weights; bad input before anything is written."""

import json

import numpy as np
from PIL import Image
import pytest

from experiments.configs import architecture_search as rows
from experiments.configs import base
from jaxprune import models
from jaxprune import reporting
from jaxprune import studies
from jaxprune.pruning import guided

SEARCH = studies.get_study('architecture_search')
M = 'M'
NARROW19 = [8, 8, M, 8, 8, M, 8, 8, 8, 8, M, 8, 8, 8, 8, M, 8, 8, 8, 8]
NARROW16 = [8, 8, M, 8, 8, M, 8, 8, 8, M, 8, 8, 8, M, 8, 8, 8]


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
  """A 32x32 RGB image folder: 10 classes, 16 train / 4 test images each."""
  root = tmp_path_factory.mktemp('folder')
  rng = np.random.default_rng(0)
  protos = rng.integers(0, 256, (10, 32, 32, 3))
  for split, n in (('train', 16), ('test', 4)):
    for c in range(10):
      d = root / split / f'class{c}'
      d.mkdir(parents=True)
      for i in range(n):
        img = np.clip(protos[c] + rng.normal(0, 30, (32, 32, 3)), 0, 255)
        Image.fromarray(img.astype(np.uint8)).save(d / f'{i}.png')
  return str(root)


def search_config(folder, **overrides):
  config = base.get_config()
  base.override(config, {
      'study': 'architecture_search', 'model.name': 'vgg19_slim',
      'model.widths': NARROW19, 'data.name': 'image_folder',
      'data.path': folder, 'data.batch_size': 32, 'optim.epochs': 1,
      'seeds': 1, 'prune.sparsity_lambda': 1e-4,
      'arch_search.ratios': (0.5,), 'tensorboard': False,
      'num_devices': 1})
  return base.override(config, overrides)


def test_channel_mode_pruned_uniform_guided_and_a_transfer(folder,
                                                           tmp_path):
  # A VGG-16 run's pattern (five stages, as the study writes it).
  src = tmp_path / 'vgg16'
  src.mkdir()
  fractions16 = [1.0, 0.75, 0.5, 0.375, 0.25]
  (src / 'pattern.json').write_text(json.dumps(
      {'mode': 'channel', 'full_cfg': NARROW16,
       'ratios': {'0.5': {'fractions': fractions16}}}))
  results = SEARCH(search_config(folder, **{
      'arch_search.pattern_from': str(src), 'seeds': 1}),
                   str(tmp_path / 'vgg19'))
  pattern = json.loads((tmp_path / 'vgg19' / 'pattern.json').read_text())
  assert pattern['mode'] == 'channel' and pattern['full_cfg'] == NARROW19
  stages = results['stages']
  assert set(stages) == {'baseline', 'pruned_r0.5', 'uniform_r0.5',
                         'guided_r0.5', 'transfer_r0.5'}
  d = results['details']['ratios']['0.5']
  cfgs = d['pruned_cfgs']
  assert len(cfgs) == 1
  spec = models.get_spec('vgg19_slim').bind(10, NARROW19)
  # Guided: the stage fractions are the runs' average (one run here; the
  # average over several is tested in tests/pruning/test_guided.py), and
  # the guided cfg applies them to every conv of the stage.
  assert d['stage_fractions'] == pytest.approx(
      guided.stage_average_widths(cfgs, NARROW19))
  assert d['guided'] == guided.guided_cfg(d['stage_fractions'], NARROW19)
  assert pattern['ratios']['0.5']['fractions'] == pytest.approx(
      d['stage_fractions'])
  # Transfer: VGG-16's stage fractions on VGG-19.
  assert d['transfer'] == guided.guided_cfg(fractions16, NARROW19)
  assert d['transfer'][:3] == [8, 8, M] and d['transfer'][-1] == 2
  # Uniform: within one channel per layer of the pruned runs' mean params.
  target = stages['pruned_r0.5']['params']
  uniform = d['uniform']

  def params(cfg):
    from jaxprune import flops  # pylint: disable=g-import-not-at-top
    s = spec.with_widths(cfg)
    return flops.count(s.module(), s.input_shape).params
  assert params(uniform) == stages['uniform_r0.5']['params']
  minus = [v if v == M else max(1, v - 1) for v in uniform]
  plus = [v if v == M else v + 1 for v in uniform]
  assert params(minus) <= target <= params(plus)
  out = reporting.write_report([str(tmp_path / 'vgg19')],
                               str(tmp_path / 'report'))
  assert '| image_folder | vgg19_slim | channel | 0.5 |' in out['markdown']
  assert out['plots'][-1].endswith('arch_vgg19_slim_channel.png')


def test_weight_mode_uniform_random_and_guided_sparsification(folder,
                                                              tmp_path):
  results = SEARCH(search_config(folder, **{
      'arch_search.mode': 'weight', 'model.name': 'vgg19_wl',
      'prune.sparsity_lambda': 0.0, 'seeds': 1}), str(tmp_path))
  stages = results['stages']
  assert set(stages) == {'baseline', 'pruned_r0.5', 'uniform_r0.5',
                         'guided_r0.5'}
  # The same density: the uniform pattern keeps as many conv weights.
  assert abs(stages['uniform_r0.5']['params']
             - stages['pruned_r0.5']['params']) <= 16
  pattern = json.loads((tmp_path / 'pattern.json').read_text())
  probs = pattern['ratios']['0.5']['probabilities']
  assert len(probs) == 5 and np.shape(probs[0]) == (3, 3)


def test_weight_mode_seeds_in_one_step_equal_one_at_a_time(folder, tmp_path):
  overrides = {'arch_search.mode': 'weight', 'model.name': 'vgg19_wl',
               'prune.sparsity_lambda': 0.0, 'seeds': 2}
  alone = SEARCH(search_config(folder, **overrides), str(tmp_path / 'alone'))
  together = SEARCH(search_config(folder, seeds_in_parallel=2, **overrides),
                    str(tmp_path / 'gang'))
  assert together['stages'].keys() == alone['stages'].keys()
  for stage, entry in alone['stages'].items():
    got = together['stages'][stage]
    assert got['params'] == entry['params'], stage  # the same masks
    for g, w in zip(got['runs'], entry['runs'], strict=True):
      assert g['last_test_accuracy'] == pytest.approx(
          w['last_test_accuracy'], abs=1e-5), stage
  assert ((tmp_path / 'gang' / 'pattern.json').read_text()
          == (tmp_path / 'alone' / 'pattern.json').read_text())


@pytest.mark.parametrize('overrides,message', [
    ({'arch_search.ratios': (0.0,)}, r'density 1 - 0.0 must be in \(0, 1\)'),
    ({'arch_search.ratios': (1.0,)}, r'must be in \(0, 1\)'),
    ({'arch_search.mode': 'both'}, 'mode must be one of'),
    ({'model.name': 'resnet20', 'model.widths': None}, 'needs a VGG'),
    ({'arch_search.pattern_from': '/nonexistent'}, 'cannot read'),
])
def test_bad_input_is_refused_before_anything_is_written(folder, tmp_path,
                                                         overrides, message):
  workdir = tmp_path / 'run'
  with pytest.raises(ValueError, match=message):
    SEARCH(search_config(folder, **overrides), str(workdir))
  assert not workdir.exists() or not any(workdir.iterdir())


def test_a_transfer_between_different_stage_counts_is_refused(folder,
                                                             tmp_path):
  (tmp_path / 'pattern.json').write_text(json.dumps(
      {'mode': 'channel', 'full_cfg': [8, M, 8, M, 8], 'ratios': {'0.5': {}}}))
  workdir = tmp_path / 'run'
  with pytest.raises(ValueError, match='stage counts must be equal'):
    SEARCH(search_config(folder, **{'arch_search.pattern_from':
                                    str(tmp_path)}), str(workdir))
  assert not workdir.exists()


def test_rows_build():
  for row in rows.ROWS:
    for variant in ('', ',small'):
      config = rows.get_config(row + variant)
      assert config.study == 'architecture_search'
  assert rows.get_config('vgg19_c100_weight').model.name == 'vgg19_wl'
  with pytest.raises(ValueError, match='unknown architecture-search row'):
    rows.get_config('vgg11_c10_channel')
