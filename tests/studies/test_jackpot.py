"""The jackpot study end to end on the digits, with very few epochs."""

import json

import numpy as np
import pytest

from jaxprune import models
from jaxprune import studies
from jaxprune.training import checkpoint
from tests.studies.common import jackpot_config

JACKPOT = studies.get_study('jackpot')


def test_end_to_end_with_tuning_and_the_overlap_study(tmp_path):
  # Three overlap criteria (every criterion's own counts are tested in
  # tests/pruning): the study's wiring is the same for all.
  config = jackpot_config(**{'jackpot.tune_epochs': 1,
                             'mask_overlap.criteria': ('magnitude',
                                                       'random', 'snip')})
  results = JACKPOT(config, str(tmp_path))
  on_disk = json.loads((tmp_path / 'results.json').read_text())
  stages, details = on_disk['stages'], on_disk['details']
  assert set(stages) == {'baseline', 'magnitude_mask', 'search', 'tune'}
  assert stages['tune']['epochs'] == 1 and stages['search']['epochs'] == 2
  assert details['frozen_weights_unchanged'] is True
  assert on_disk['summary']['weights_updated'] is False
  for layer in details['per_layer'].values():
    assert layer['pruned'] == layer['target_pruned']
  assert details['per_layer']['classifier/kernel']['pruned'] == 0
  assert 0.88 < details['overall_sparsity'] < 0.9
  assert stages['search']['flops'] < stages['baseline']['flops']
  masks = np.load(tmp_path / details['masks_file'])
  assert int((masks['conv1/kernel'] == 0).sum()) == \
      details['per_layer']['conv1/kernel']['pruned']
  overlap = details['mask_overlap']
  assert set(overlap) == {'magnitude', 'random', 'snip'}
  # The magnitude row, recomputed apart: the counts' smallest |w| of the
  # dense model against the saved jackpot mask, over the pruned layers.
  spec = models.get_spec('digits_cnn').bind(10)
  dense, _ = checkpoint.restore_variables(str(tmp_path / 'baseline'),
                                          spec.abstract_variables())
  inter = kept = 0
  for path, layer in details['per_layer'].items():
    if not layer['pruned']:
      continue
    w = np.abs(dense['params'][path.split('/')[0]]['kernel']).ravel()
    keep_mag = np.ones(w.size, bool)
    keep_mag[np.argsort(w, kind='stable')[:layer['pruned']]] = False
    keep_j = masks[path].ravel() != 0
    inter += int(np.sum(keep_mag & keep_j))
    kept += int(keep_j.sum())
  assert overlap['magnitude'] == pytest.approx(inter / kept)
  assert overlap['random'] < overlap['magnitude']
  assert (tmp_path / 'mask_overlap' / 'overlap_heatmap.png').stat().st_size
  assert results['summary']['overlap_with_jackpot'] == overlap
  other = jackpot_config(**{'jackpot.tune_epochs': 1,
                            'jackpot.sparsity': 0.95})
  with pytest.raises(checkpoint.WorkdirConflictError,
                     match='jackpot.sparsity: 0.9 -> 0.95'):
    JACKPOT(other, str(tmp_path))


@pytest.mark.parametrize('overrides, match', [
    ({'jackpot.batch_size': 60}, 'does not divide over 8 devices'),
    ({'jackpot.sparsity': 0.0}, r'sparsity must be in \(0, 1\)'),
    ({'jackpot.sparsity': 1.0}, r'sparsity must be in \(0, 1\)'),
    ({'jackpot.layerwise': 'l2'}, 'layerwise'),
    ({'jackpot.tie_rule': 'random'}, 'tie_rule'),
    ({'jackpot.rate': 'linear'}, 'rate'),
])
def test_bad_search_input_is_refused_before_any_work(tmp_path, overrides,
                                                     match):
  with pytest.raises(ValueError, match=match):
    JACKPOT(jackpot_config(**overrides), str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()
