"""The Rethinking pipeline end to end on the digits, with very few epochs."""

import json
import os

import pytest

from jaxprune import report
from experiments.configs import digits_rethinking
from experiments.configs import rethinking as rethinking_configs
from jaxprune import pipelines


def _config(**overrides):
  config = digits_rethinking.get_config()
  config.epochs = 2
  config.finetune_epochs = 1
  config.scratch_b_max_epochs = 3
  config.num_devices = 1
  for k, v in overrides.items():
    config[k] = v
  return config


@pytest.mark.parametrize('method,ratio', [('l1_norm', 0.5),
                                          ('slimming', 0.5),
                                          ('magnitude', 0.6)])
def test_pipeline_end_to_end_and_resume(tmp_path, method, ratio):
  config = _config(method=method, prune_ratio=ratio)
  runner = pipelines.get_pipeline('rethinking')
  results = runner(config, str(tmp_path))
  with open(tmp_path / 'results.json') as f:
    stored = json.load(f)
  run = stored['runs'][0]
  assert set(run['stages']) == {'baseline', 'pruned', 'finetune',
                                'scratch_e', 'scratch_b'}
  base, pruned = run['stages']['baseline'], run['stages']['pruned']
  assert pruned['flops'] < base['flops']
  assert pruned['params'] < base['params']
  assert run['stages']['scratch_e']['epochs'] == 2
  assert run['stages']['scratch_b']['epochs'] == min(run['scratch_b_epochs'],
                                                     3)
  assert run['scratch_b_epochs'] >= 2
  for s in ('baseline', 'finetune', 'scratch_e', 'scratch_b'):
    assert 0.0 <= run['stages'][s]['best_test_accuracy'] <= 1.0
    assert os.path.isdir(tmp_path / s / 'checkpoints')
  if method == 'l1_norm':
    assert run['pruned']['widths'] == [16, 16, 'M', 32, 32]
  elif method == 'slimming':
    assert sum(run['pruned']['keep_counts'].values()) == 95  # 192 - (int(192 * 0.5) + 1): strict >
  else:
    assert run['pruned']['conv_density'] == pytest.approx(0.4, abs=0.01)
  assert 'summary' in results and 'finetune' in results['summary']
  # Rerun: every stage resumes from its finished checkpoint (no training).
  again = runner(config, str(tmp_path))
  strip = lambda d: {k: v for k, v in d.items() if k != 'wall_time_s'}
  for s in ('baseline', 'finetune', 'scratch_e', 'scratch_b'):
    assert strip(again['runs'][0]['stages'][s]) == strip(run['stages'][s])
  out = report.write_report([str(tmp_path)], str(tmp_path / 'report'))
  with open(out['table']) as f:
    md = f.read()
  assert '| Dataset | Model | Method | Unpruned | Pruned | Fine-tuned' in md
  assert 'digits_cnn' in md and '(paper:' not in md  # not a paper row
  assert all(os.path.getsize(p) > 0 for p in out['plots'])


def test_report_puts_paper_numbers_beside_paper_rows():
  entry = lambda acc: {'best_test_accuracy_mean': acc,
                       'best_test_accuracy_std': 0.001,
                       'best_test_accuracy_all': [acc, acc], 'params': 10,
                       'flops': 100}
  result = {'pipeline': 'rethinking', 'row': 'resnet56_b', 'model': 'resnet56',
            'method': 'l1_norm', 'dataset': 'cifar10',
            'runs': [{'scratch_b_epochs': 220}],
            'aggregate': {s: entry(0.93) for s in report.STAGES}}
  md = report.table([result])
  assert '93.00 ± 0.10 (paper: 93.05 ± 0.18)' in md  # Scratch-B, §8.1
  assert '(paper: 92.54 ± 0.19)' in md  # Scratch-E
  small = dict(result, row='resnet56_b,cifar100')
  assert '(paper:' not in report.table([small])


def test_unknown_pipeline_and_rows():
  with pytest.raises(ValueError, match='known pipelines: jackpot, rethinking, suite'):
    pipelines.get_pipeline('nope')
  with pytest.raises(ValueError, match='known rows'):
    rethinking_configs.get_config('nope')
  config = rethinking_configs.get_config('resnet56_b')
  assert config.l1_target == 'resnet56_b' and config.seeds == 5
  assert config.finetune_epochs == 40 and config.finetune_lr == 0.001


def test_row_variants():
  small = rethinking_configs.get_config('resnet56_a,small')
  assert (small.model, small.l1_target, small.train_subset, small.epochs,
          small.seeds) == ('resnet56', 'resnet56_a', 2000, 2, 1)
  assert rethinking_configs.get_config('vgg16_a,cifar100').dataset == 'cifar100'
  assert rethinking_configs.get_config('resnet34_a').lr_step_every == 30
  with pytest.raises(ValueError, match='unknown row variants'):
    rethinking_configs.get_config('resnet56_a,tiny')
  tiny = rethinking_configs.get_config('resnet34_a,small')
  assert (tiny.dataset, tiny.image_size, tiny.train_subset, tiny.test_subset,
          tiny.scratch_b_rule) == ('cifar10', 224, 64, 64, 'imagenet')
  with pytest.raises(ValueError, match='no cifar100 variant'):
    rethinking_configs.get_config('resnet34_a,cifar100')


def test_suite_main_job_runs_both_papers(tmp_path):
  from experiments.configs import digits_main
  config = digits_main.get_config()
  config.suite_methods = 'l1_norm'
  config.epochs = 1
  config.finetune_epochs = 1
  config.scratch_b_max_epochs = 1
  config.jackpot.epochs = 1
  config.jackpot.overlap_study = False
  results = pipelines.get_pipeline('suite')(config, str(tmp_path))
  md = results['report_markdown']
  assert 'l1_norm 50%' in md and 'Magnitude mask' in md
  assert (tmp_path / 'report' / 'table.md').read_text() == md
  assert json.loads((tmp_path / 'jackpot' / 'results.json').read_text())[
      'frozen_weights_unchanged']
  with pytest.raises(ValueError, match='unknown methods'):
    config.suite_methods = 'l1_norm,lasso'
    pipelines.get_pipeline('suite')(config, str(tmp_path / 'bad'))


def test_baseline_checkpoint_of_another_run(tmp_path):
  first = _config(method='slimming', prune_ratio=0.5, stages='finetune')
  pipelines.rethinking(first, str(tmp_path / 'a'))  # slimming: extra opt state
  reuse = _config(method='l1_norm', prune_ratio=0.5, stages='finetune',
                  baseline_checkpoint=str(tmp_path / 'a' / 'baseline'))
  out = pipelines.rethinking(reuse, str(tmp_path / 'b'))
  ran = json.loads((tmp_path / 'a' / 'results.json').read_text())
  assert out['runs'][0]['stages']['baseline']['last_test_accuracy'] == \
      ran['runs'][0]['stages']['baseline']['last_test_accuracy']
  assert not (tmp_path / 'b' / 'baseline').exists()
  missing = _config(baseline_checkpoint=str(tmp_path / 'nowhere'))
  with pytest.raises(ValueError, match='holds no jaxprune checkpoint'):
    pipelines.rethinking(missing, str(tmp_path / 'c'))
  assert not (tmp_path / 'nowhere').exists()
  other = _config(widths='[8, 8, "M", 16, 16]',
                  baseline_checkpoint=str(tmp_path / 'a' / 'baseline'))
  with pytest.raises(ValueError, match='does not fit this model'):
    pipelines.rethinking(other, str(tmp_path / 'd'))


@pytest.mark.parametrize('overrides, message', [
    (dict(prune_ratio=1.2), r'prune_ratio must be in \[0, 1\)'),
    (dict(method='l1_norm', l1_ratios='{"9": 0.5}'), '9'),
    (dict(method='l1_norm', l1_ratios='', l1_skip='[42]'), '42'),
    (dict(stages='finetune,scratch_x'), 'unknown stage'),
    (dict(method='lasso'), 'unknown pruning method'),
])
def test_bad_pruning_input_fails_before_training(tmp_path, overrides, message):
  with pytest.raises(ValueError, match=message):
    pipelines.rethinking(_config(**overrides), str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()
