"""The sss study end to end on the digits (rethinking.md §3.5): a gated
search removes blocks, the compact model scores what the gated one did, the
scratch stages train the found block config; published configs skip the
search; bad input is refused before anything is written."""

import pytest

from experiments.configs import base
from experiments.configs import digits
from jaxprune import models
from jaxprune import reporting
from jaxprune import studies
from jaxprune.models import sss_resnet

SSS = studies.get_study('sss')
WIDTHS = {'blocks': [[1, True], [2, True], [1, True]], 'gated': False}


def sss_config(**overrides):
  config = digits.get_config()
  base.override(config, {
      'study': 'sss', 'model.name': 'preresnet_sss_cifar',
      'model.widths': WIDTHS, 'optim.epochs': 2, 'data.train_subset': 320,
      'sss.gamma': 2.0, 'stages': ('scratch_e', 'scratch_b'),
      'scratch.b_max_epochs': 2, 'tensorboard': False, 'num_devices': 1})
  return base.override(config, overrides)


def test_search_removes_blocks_and_the_compact_model_keeps_the_accuracy(
    tmp_path):
  results = SSS(sss_config(), str(tmp_path))
  stages, seed0 = results['stages'], results['details']['seeds'][0]
  assert set(stages) == {'search', 'pruned', 'scratch_e', 'scratch_b'}
  scales = seed0['block_scales']
  assert len(scales) == 4 and any(v == 0.0 for v in scales.values())
  assert all(v >= 0.0 for v in scales.values())
  # The found config drops exactly the zero-lambda branches.
  kept = [sum(1 for name, v in scales.items()
              if name.startswith(f'stage{s}_') and v > 0) for s in (1, 2, 3)]
  firsts = [scales[f'stage{s}_block0'] > 0 for s in (1, 2, 3)]
  assert seed0['blocks'] == [[k, f] for k, f in zip(kept, firsts)]
  assert seed0['depth'] == sss_resnet.depth(seed0['blocks'])
  # Removing zero blocks does not change the function: same accuracy.
  assert stages['pruned']['last_test_accuracy'] == pytest.approx(
      stages['search']['last_test_accuracy'], abs=1e-9)
  assert stages['pruned']['flops'] < stages['search']['flops']
  assert stages['scratch_e']['flops'] == stages['pruned']['flops']
  assert seed0['scratch_b_epochs'] == int(2 * seed0['flops_ratio'])
  table = reporting.tables.markdown([results])
  assert '| digits | preresnet_sss_cifar |' in table
  again = SSS(sss_config(), str(tmp_path))
  for name, entry in stages.items():
    assert again['stages'][name]['best_test_accuracy'] == entry[
        'best_test_accuracy']


def test_a_given_block_config_trains_only_from_scratch(tmp_path):
  results = SSS(sss_config(**{'optim.epochs': 1,
                              'sss.blocks': [[0, False], [1, True],
                                             [1, True]],
                              'stages': ('scratch_e',)}), str(tmp_path))
  assert set(results['stages']) == {'scratch_e'}
  assert results['summary']['blocks'] == [[0, False], [1, True], [1, True]]
  assert results['summary']['depth'] == 8


@pytest.mark.parametrize('overrides,message', [
    ({'sss.gamma': 0.0}, 'gamma must be > 0'),
    ({'sss.gamma': -1.0}, 'gamma must be > 0'),
    ({'sss.blocks': [[0, True], [1, True], [1, True]]},
     'keeps the first block but no block'),
    ({'sss.blocks': [[3, False], [1, True], [1, True]]},
     'removes the first block'),
    ({'model.name': 'resnet20', 'model.widths': None},
     'needs a removable-block model'),
    ({'stages': ('scratch_x',)}, 'unknown stage'),
])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, overrides,
                                                         message):
  workdir = tmp_path / 'run'
  with pytest.raises(ValueError, match=message):
    SSS(sss_config(**overrides), str(workdir))
  assert not workdir.exists() or not any(workdir.iterdir())


def test_rows_build():
  from experiments.configs import sss as rows  # pylint: disable=g-import-not-at-top
  for row in rows.ROWS:
    for variant in ('', ',small'):
      config = rows.get_config(row + variant)
      studies.sss.check_config(config)
  assert rows.get_config('resnet41').paper.to_dict() == {
      'pruned': 'unknown', 'scratch_e': '75.70 / 92.74',
      'scratch_b': '76.17 / 92.90'}
  spec = models.get_spec('preresnet50_sss')
  spec.validate_widths({'blocks': rows.SSS_BLOCKS['resnet26']})
  with pytest.raises(ValueError, match='unknown SSS row'):
    rows.get_config('resnet18')
