"""The Rethinking study end to end on the digits, with very few epochs."""

import json

import numpy as np
import pytest

from jaxprune import data
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import pruning
from jaxprune import studies
from jaxprune.training import checkpoint
from tests import helpers
from tests.studies.common import rethinking_config

RETHINKING = studies.get_study('rethinking')


@pytest.mark.parametrize('method,ratio,lam', [('l1_norm', 0.5, 0.0),
                                              ('slimming', 0.5, 1e-4),
                                              ('magnitude', 0.6, 0.0)])
def test_end_to_end_and_resume(tmp_path, method, ratio, lam):
  config = rethinking_config(**{'prune.method': method, 'prune.ratio': ratio,
                                'prune.sparsity_lambda': lam})
  results = RETHINKING(config, str(tmp_path))
  stored = json.loads((tmp_path / 'results.json').read_text())
  stages = stored['stages']
  assert set(stages) == {'baseline', 'pruned', 'finetune', 'scratch_e',
                         'scratch_b'}
  assert stages['pruned']['flops'] < stages['baseline']['flops']
  assert stages['pruned']['params'] < stages['baseline']['params']
  details = stored['details']['pruned']
  assert stages['scratch_e']['epochs'] == 2
  assert stages['scratch_b']['epochs'] == min(details['scratch_b_epochs'], 3)
  assert details['scratch_b_epochs'] == int(2 * details['flops_ratio'])
  digits = data.load_dataset('digits')
  small = models.get_spec('digits_cnn').bind(10, details['widths'])
  restored = {}
  for s in ('baseline', 'finetune', 'scratch_e', 'scratch_b'):
    spec = small if s != 'baseline' else small.with_widths(None)
    variables, meta = checkpoint.restore_variables(
        str(tmp_path / s), spec.abstract_variables())
    restored[s] = variables
    # The recorded last accuracy is the final checkpoint's, computed apart.
    assert stages[s]['last_test_accuracy'] == pytest.approx(
        helpers.independent_test_accuracy(spec, variables, digits), abs=1e-6)
    assert stages[s]['best_test_accuracy'] == max(
        h['test_accuracy'] for h in meta['history'])
  if method == 'magnitude':
    # Every sparse stage keeps exactly the pruned model's zeros.
    mask = pruning.get_criterion('magnitude')(restored['baseline'], small,
                                              ratio).masks
    for s in ('finetune', 'scratch_e', 'scratch_b'):
      for p in masks_lib.conv_kernel_paths(mask):
        w = np.asarray(restored[s]['params'][p[0]]['kernel'])
        m = np.asarray(mask[p[0]]['kernel'])
        assert np.all(w[m == 0] == 0) and np.count_nonzero(w) == \
            np.count_nonzero(m), (s, p)
  assert 'finetune' in results['summary']
  again = RETHINKING(config, str(tmp_path))  # every stage resumes
  strip = lambda d: {k: v for k, v in d.items() if k not in ('wall_time_s',
                                                             'runs')}
  for s in stages:
    assert strip(again['stages'][s]) == strip(stages[s])


def test_seeds_are_aggregated_with_the_sample_std(tmp_path):
  config = rethinking_config(**{'seeds': 2, 'stages': ('scratch_e',),
                                'optim.epochs': 1})
  results = RETHINKING(config, str(tmp_path))
  e = results['stages']['scratch_e']
  accs = [r['best_test_accuracy'] for r in e['runs']]
  assert e['seeds'] == 2
  assert e['best_test_accuracy_std'] == pytest.approx(np.std(accs, ddof=1))
  losses = [json.loads((tmp_path / f'seed{i}' / 'scratch_e' / 'metrics.jsonl'
                        ).read_text().splitlines()[0])['train_loss']
            for i in range(2)]
  assert losses[0] != losses[1]  # two independent runs
  assert 'ddof=1' in results['std']


def test_large_model_from_another_run(tmp_path):
  first = rethinking_config(**{'prune.method': 'slimming',
                               'prune.sparsity_lambda': 1e-4,
                               'stages': ('finetune',)})
  ran = RETHINKING(first, str(tmp_path / 'a'))  # slimming: extra opt state
  reuse = rethinking_config(**{'stages': ('finetune',),
                               'model.pretrained': str(tmp_path / 'a')})
  out = RETHINKING(reuse, str(tmp_path / 'b'))
  assert out['stages']['baseline']['last_test_accuracy'] == \
      ran['stages']['baseline']['last_test_accuracy']
  assert not (tmp_path / 'b' / 'baseline').exists()
  missing = rethinking_config(**{'model.pretrained': str(tmp_path / 'none')})
  with pytest.raises(ValueError, match='holds no jaxprune checkpoint'):
    RETHINKING(missing, str(tmp_path / 'c'))
  assert not (tmp_path / 'none').exists()
  other = rethinking_config(**{
      'model.widths': [8, 8, 'M', 16, 16],
      'model.pretrained': str(tmp_path / 'a' / 'baseline')})
  with pytest.raises(ValueError, match='does not fit this model'):
    RETHINKING(other, str(tmp_path / 'd'))


@pytest.mark.parametrize('overrides, message', [
    ({'prune.ratio': 1.2}, r'config.prune.ratio must be in \[0, 1\)'),
    ({'prune.layer_ratios': {9: 0.5}}, 'layer 9'),
    ({'prune.skip': (42,)}, 'layer 42'),
    ({'prune.layer_ratios': {1: 0.5, 2: 2.0}}, r'in \[0, 1\)'),
    ({'stages': ('finetune', 'scratch_x')}, 'unknown stage'),
    ({'prune.method': 'lasso'}, "unknown criterion 'lasso'"),
    ({'prune.method': 'magnitude', 'prune.skip': (1,)}, 'unstructured'),
    ({'scratch.b_rule': 'mnist'}, 'b_rule'),
    # ThiNet / regression (issue: bad input before any training or write).
    ({'prune.method': 'thinet', 'prune.ratio': 0.0},
     r'thinet compression rate must be in \(0, 1\)'),
    ({'prune.method': 'thinet', 'prune.layer_ratios': {'bn7': 0.5}},
     "names layer 'bn7', which is not a prunable layer"),
    ({'prune.method': 'regression', 'prune.examples': 2},
     'regression: the least squares of unit bn0 .* use at least'),
    ({'prune.method': 'thinet', 'prune.options': {'samples': 3}},
     "criterion 'thinet' has no option.*samples_per_example"),
    ({'prune.method': 'thinet', 'prune.head': 'gap'},
     "digits_cnn has no head 'gap'"),
    ({'prune.keep_counts': {'bn1': 40}},
     r'kept count of bn1 must be an int in \[1, 32\]'),
    ({'prune.method': 'magnitude', 'prune.layerwise_finetune_epochs': 1},
     'for channel criteria'),
    ({'scratch.b_epochs': -3}, 'b_epochs must be an int >= 0'),
    ({'prune.keep_masks_path': '/nonexistent/masks.npz'},
     "keep masks file '/nonexistent/masks.npz' does not exist"),
])
def test_bad_pruning_input_fails_before_training(tmp_path, overrides,
                                                 message):
  with pytest.raises(ValueError, match=message):
    RETHINKING(rethinking_config(**overrides), str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()


def test_a_criterion_from_outside_the_package(tmp_path, monkeypatch):
  monkeypatch.setattr(pruning.api, '_CRITERIA', pruning.api._CRITERIA.__class__(
      'criterion', 'criteria'))
  for name, crit in [('l1_norm', pruning.l1_filter.l1_norm)]:
    pruning.register_criterion(name, crit, kind='channel')

  def last_filters(variables, spec, target, *, batch=None, rng=None):
    """Keeps the last channels of every conv unit (a deliberately odd rule)."""
    counts = pruning.unit_counts(spec, variables['params'], target, ('conv',))
    keep = pruning.all_kept(spec, variables['params'])
    keep.update({n: keep[n][c:] for n, c in counts.items()})
    return pruning.PruneResult(keep=keep)

  pruning.register_criterion('last_filters', last_filters, kind='channel')
  config = rethinking_config(**{'prune.method': 'last_filters',
                                'stages': ('finetune',)})
  results = RETHINKING(config, str(tmp_path))
  assert results['details']['pruned']['widths'] == [16, 16, 'M', 32, 32]
  assert results['summary']['method'] == 'last_filters'
  assert models.get_spec('digits_cnn')  # untouched registry of models


@pytest.mark.parametrize('method', ['thinet', 'regression'])
def test_data_driven_criteria_layer_by_layer(tmp_path, method):
  """Layer by layer with a fine-tune between units; the pruned stage is the
  criterion's own rewritten weights, compacted."""
  config = rethinking_config(**{
      'prune.method': method, 'prune.ratio': 0.5,
      'prune.layerwise_finetune_epochs': 1, 'stages': ('finetune',)})
  results = RETHINKING(config, str(tmp_path))
  units = ['bn0', 'bn1', 'bn2', 'bn3']
  for k in range(len(units)):  # one short fine-tune per unit
    assert (tmp_path / f'prune_layer{k:03d}' / 'checkpoints').is_dir()
  details = results['details']['pruned']
  assert details['widths'] == [16, 16, 'M', 32, 32]
  assert set(details['criterion_info']['layers']) == set(units)
  again = RETHINKING(config, str(tmp_path))  # resumes: nothing retrained
  fields = ('best_test_accuracy', 'last_test_accuracy', 'params', 'flops',
            'epochs')
  assert ({s: [e[f] for f in fields] for s, e in again['stages'].items()}
          == {s: [e[f] for f in fields]
              for s, e in results['stages'].items()})


def test_thinet_at_once_matches_its_own_prediction(tmp_path):
  """The pruned stage evaluates exactly the compact form of the criterion's
  result (its rescaled weights), recomputed here from the baseline."""
  config = rethinking_config(**{'prune.method': 'thinet',
                                'prune.ratio': 0.5, 'stages': ()})
  results = RETHINKING(config, str(tmp_path))
  spec = models.get_spec('digits_cnn').bind(10)
  baseline, _ = checkpoint.restore_variables(
      str(tmp_path / 'baseline'), spec.abstract_variables())
  digits = data.load_dataset('digits')
  source = data.make_source(config.data, digits, num_devices=1,
                            seed=config.seed)
  from jaxprune.studies import context  # pylint: disable=g-import-not-at-top
  result = pruning.get_criterion('thinet')(
      baseline, spec, 0.5, batch=source.examples(config.prune.examples),
      rng=context.stage_key(config.seed, 'prune/thinet'))
  widths, params, stats = pruning.compact(
      spec, result.variables['params'], result.variables['batch_stats'],
      result.keep)
  small = spec.with_widths(widths)
  assert results['stages']['pruned']['last_test_accuracy'] == pytest.approx(
      helpers.independent_test_accuracy(
          small, {'params': params, 'batch_stats': stats}, digits), abs=1e-6)


def test_keep_masks_fix_the_block_inputs(tmp_path):
  """A masks file fixes some units' keeps; the criterion prunes the rest,
  and a file that does not fit the model is refused before training."""
  good = tmp_path / 'masks.npz'
  keep_bn1 = np.zeros(32, np.uint8)
  keep_bn1[::4] = 1
  np.savez(good, bn1=keep_bn1)
  config = rethinking_config(**{'prune.method': 'l1_norm',
                                'prune.ratio': 0.5, 'stages': (),
                                'prune.keep_masks_path': str(good)})
  results = RETHINKING(config, str(tmp_path / 'run'))
  assert results['details']['pruned']['keep_counts']['bn1'] == 8
  assert results['details']['pruned']['widths'] == [16, 8, 'M', 32, 32]
  bad = tmp_path / 'bad.npz'
  np.savez(bad, bn1=np.ones(31, np.uint8))
  corrupt = tmp_path / 'corrupt.npz'
  corrupt.write_bytes(good.read_bytes()[:40])
  for path, message in ((bad, "mask 'bn1' has length 31 but bn1 has 32"),
                        (corrupt, 'cannot read keep masks file')):
    config = rethinking_config(**{'prune.method': 'l1_norm',
                                  'prune.keep_masks_path': str(path)})
    with pytest.raises(ValueError, match=message):
      RETHINKING(config, str(tmp_path / 'refused'))
    assert not (tmp_path / 'refused').exists()
