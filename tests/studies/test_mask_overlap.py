"""The mask-overlap study, standalone and on streamed data."""

import json

import numpy as np
import pytest

from jaxprune import data
from jaxprune import pruning
from jaxprune import studies
from tests.data.common import make_folder
from tests.studies.common import jackpot_config

JACKPOT = studies.get_study('jackpot')
OVERLAP = studies.get_study('mask_overlap')


@pytest.fixture(scope='module')
def jackpot_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('jackpot')
  JACKPOT(jackpot_config(**{'jackpot.overlap': False}), str(workdir))
  return workdir


def test_a_criterion_from_outside_runs_in_the_overlap_study(jackpot_run,
                                                             tmp_path):
  def largest_gradient_free(variables, spec, target, *, batch=None,
                            rng=None):
    """|w| times the mean |activation| proxy 1: plain magnitude, renamed."""
    scores = {p: np.abs(w) for p, w in pruning.conv_kernels(variables,
                                                            target)}
    return pruning.PruneResult(masks=pruning.masks_from_scores(
        variables['params'], scores, target))

  if 'outside_magnitude' not in pruning.criterion_names():
    pruning.register_criterion('outside_magnitude', largest_gradient_free,
                               kind='unstructured')
  config = jackpot_config(**{
      'study': 'mask_overlap',
      'mask_overlap.criteria': ('outside_magnitude', 'magnitude', 'random'),
      'mask_overlap.reference': str(jackpot_run)})
  results = OVERLAP(config, str(tmp_path))
  overall = results['details']['overall']
  assert overall['outside_magnitude'] == overall['magnitude']  # same rule
  assert 0 < overall['random'] < overall['magnitude'] <= 1
  assert 'classifier/kernel' not in results['details']['per_layer']['random']
  md = (tmp_path / 'overlap.md').read_text()
  assert 'outside_magnitude' in md
  counts = results['details']['prune_counts']
  ref = json.loads((jackpot_run / 'results.json').read_text())['details']
  assert {k: v['pruned'] for k, v in ref['per_layer'].items()} == counts


@pytest.mark.parametrize('overrides, match', [
    ({'mask_overlap.reference': ''}, 'must name the reference'),
    ({'mask_overlap.criteria': ('l1_norm',)}, 'channel criterion'),
    ({'mask_overlap.criteria': ('lasso',)}, "unknown criterion 'lasso'"),
])
def test_bad_overlap_input(tmp_path, overrides, match):
  config = jackpot_config(**{'study': 'mask_overlap', **overrides})
  with pytest.raises(ValueError, match=match):
    OVERLAP(config, str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()


def test_overlap_after_a_search_on_streamed_data(tmp_path):
  # Regression: the overlap study built its examples with the on-device batch
  # builder of the source, so every streamed (ImageNet) jackpot run raised a
  # KeyError after its search.
  root = make_folder(tmp_path / 'folder', counts={'train': 6, 'test': 2},
                     size=(12, 12), fmt='JPEG')
  if 'tiny_stream' not in data.dataset_names():
    data.register_dataset('tiny_stream', lambda path=None: (
        data.make_folder_iterators(path, global_batch=8, num_devices=1,
                                   seed=0, image_size=8, resize_size=10)))
  config = jackpot_config(**{
      'data.name': 'tiny_stream', 'data.path': str(root),
      'data.batch_size': 8, 'num_devices': 1, 'jackpot.batch_size': 8,
      'optim.epochs': 1, 'jackpot.epochs': 1, 'prune.examples': 5,
      'model.widths': [4, 'M', 8],
      'mask_overlap.criteria': ('magnitude', 'snip')})
  results = JACKPOT(config, str(tmp_path / 'run'))
  assert set(results['details']['mask_overlap']) == {'magnitude', 'snip'}
  assert results['details']['mask_overlap']['magnitude'] <= 1.0
