"""The lottery-ticket study (rethinking.md §9) on the digits, 1 epoch per
stage: θ₀ saved and restored bit-identically, the two arms differing only in
their init, iterative rounds, the channel-mask variant, resume, bad input."""

import json
import os

import jax
import numpy as np
import pytest

from experiments.configs import base
from experiments.configs import digits
from experiments.configs import lottery_ticket as rows
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import reporting
from jaxprune import studies
from jaxprune import tree as tree_lib
from jaxprune.studies import context

LOTTERY = studies.get_study('lottery_ticket')


def lottery_config(**overrides):
  config = digits.get_config()
  base.override(config, {
      'study': 'lottery_ticket', 'optim.epochs': 1, 'data.train_subset': 320,
      'optim.learning_rate': 0.05, 'tensorboard': False, 'num_devices': 1,
      'prune.method': 'magnitude_iterative', 'prune.ratio': 0.2,
      'lottery.rounds': 2, 'lottery.learning_rates': (0.05, 0.005)})
  return base.override(config, overrides)


@pytest.fixture
def recorded_train(monkeypatch):
  """Every ``RunContext.train`` call: (name, starting variables, kwargs)."""
  calls = []
  original = context.RunContext.train

  def train(self, name, spec, variables, **kwargs):
    calls.append((name, jax.device_get(variables), kwargs))
    return original(self, name, spec, variables, **kwargs)
  monkeypatch.setattr(context.RunContext, 'train', train)
  return calls


def _leaves(tree):
  return {tree_lib.path_str(p): np.asarray(v)
          for p, v in tree_lib.flatten(tree)}


def _assert_bit_identical(a, b):
  a, b = _leaves(a), _leaves(b)
  assert set(a) == set(b)
  for k in a:
    assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


def test_iterative_tickets_and_random_arms_differ_only_in_init(
    tmp_path, recorded_train):
  config = lottery_config()
  results = LOTTERY(config, str(tmp_path))
  spec = models.get_spec('digits_cnn').bind(10)
  # θ₀ on disk is the seed's baseline init, computed here independently.
  theta = np.load(tmp_path / 'theta0.npz')
  independent = jax.device_get(spec.init(jax.random.key(config.seed)))
  _assert_bit_identical(tree_lib.unflatten(
      [(k, theta[k]) for k in theta.files]), independent)
  calls = {name: (v, kw) for name, v, kw in recorded_train}
  # The baseline trained from exactly θ₀.
  _assert_bit_identical(calls['baseline'][0], independent)
  stages = results['stages']
  assert set(stages) == {'baseline', 'pruned'} | {
      f'{arm}_lr{lr}_round{r}' for arm in ('ticket', 'random')
      for lr in ('0.05', '0.005') for r in (1, 2)}
  density = results['details']['seeds'][0]['conv_density']
  for lr in ('0.05', '0.005'):
    previous = None
    for r in (1, 2):
      ticket, tkw = calls[f'ticket_lr{lr}_round{r}']
      rand, rkw = calls[f'random_lr{lr}_round{r}']
      masks = tkw['masks']
      # Same mask, seed (so data order), epochs and LR: only the init
      # differs.
      _assert_bit_identical(masks, rkw['masks'])
      assert {k: v for k, v in tkw.items() if k != 'masks'} == {
          k: v for k, v in rkw.items() if k != 'masks'}
      assert tkw['learning_rate'] == float(lr) and tkw['epochs'] == 1
      # The winning ticket is θ₀ ⊙ mask, bit for bit.
      _assert_bit_identical(ticket, {
          'params': masks_lib.apply_masks(independent['params'], masks),
          'batch_stats': independent['batch_stats']})
      # The random arm: other values on the kept weights, zeros where
      # pruned, the same BN statistics (both freshly initialised).
      for path in masks_lib.conv_kernel_paths(masks):
        m = np.asarray(tree_lib.get(masks, path))
        w = np.asarray(tree_lib.get(rand['params'], path))
        w0 = np.asarray(tree_lib.get(ticket['params'], path))
        assert np.all(w[m == 0] == 0)
        assert not np.allclose(w[m == 1], w0[m == 1])
      _assert_bit_identical(rand['batch_stats'], ticket['batch_stats'])
      d = masks_lib.density(masks)
      assert d == pytest.approx(density[lr][r - 1])
      if previous is not None:
        # Round 2 prunes 20 % of round 1's remaining conv weights (+1 for
        # the threshold weight itself, the official rule) and keeps every
        # zero of round 1.
        for path in masks_lib.conv_kernel_paths(masks):
          assert np.all(np.asarray(tree_lib.get(masks, path))[
              np.asarray(tree_lib.get(previous, path)) == 0] == 0)
        assert d == pytest.approx(density[lr][0] * 0.8, abs=2e-3)
      previous = masks
  assert density['0.05'][0] == density['0.005'][0]
  assert density['0.05'][0] == pytest.approx(0.8, abs=2e-3)
  assert (tmp_path / 'ticket_lr0.05_round2').is_dir()

  # Report: one table row per (LR, round), one plot.
  out = reporting.write_report([str(tmp_path)], str(tmp_path / 'report'))
  table = [line for line in out['markdown'].splitlines()
           if line.startswith('| digits')]
  assert len(table) == 4
  assert [os.path.basename(p) for p in out['plots']] == [
      'lottery_digits_cnn_magnitude_iterative.png']

  # Resume: the finished run gives the same results without retraining.
  recorded_train.clear()
  again = LOTTERY(config, str(tmp_path))
  for name, entry in results['stages'].items():
    for key in ('best_test_accuracy', 'last_test_accuracy', 'params',
                'flops'):
      assert again['stages'][name][key] == entry[key], (name, key)


def test_structured_l1_tickets_mask_filters_and_their_bn(tmp_path,
                                                         recorded_train):
  config = lottery_config(**{'prune.method': 'l1_norm', 'prune.ratio': 0.5,
                             'lottery.rounds': 1,
                             'lottery.learning_rates': (0.05,)})
  results = LOTTERY(config, str(tmp_path))
  assert set(results['stages']) == {'baseline', 'pruned', 'ticket_lr0.05',
                                    'random_lr0.05'}
  calls = {name: (v, kw) for name, v, kw in recorded_train}
  masks = calls['ticket_lr0.05'][1]['masks']
  rand = calls['random_lr0.05'][0]
  spec = models.get_spec('digits_cnn').bind(10)
  fresh = jax.device_get(spec.init(context.stage_key(config.seed,
                                                     'random_init')))
  # The random arm of a channel mask is the model's own init, masked.
  _assert_bit_identical(rand['params'],
                        masks_lib.apply_masks(fresh['params'], masks))
  for path in masks_lib.conv_kernel_paths(masks):
    m = np.asarray(tree_lib.get(masks, path))
    per_filter = m.reshape(-1, m.shape[-1])
    assert np.all((per_filter == 0).all(0) | (per_filter == 1).all(0))
    dropped = (per_filter == 0).all(0)
    assert dropped.sum() == m.shape[-1] // 2
  # Every dropped filter also has its BN scale/bias masked (§9 caveat).
  flat = _leaves(masks)
  scales = [k for k in flat if k.endswith('/scale')]
  assert scales and any((flat[k] == 0).any() for k in scales)
  assert 'gamma/beta' in results['details']['mask_implementation']
  assert results['summary']['lr0.05'].startswith('density 0.')


@pytest.mark.parametrize('overrides,message', [
    ({'lottery.rounds': 0}, 'config.lottery.rounds must be an int >= 1'),
    ({'prune.method': 'l1_norm', 'lottery.rounds': 2},
     'iterative rounds are for unstructured criteria'),
    ({'lottery.learning_rates': ()}, 'learning_rates must be distinct'),
    ({'lottery.learning_rates': (0.1, -0.1)},
     'learning_rates must be distinct'),
    ({'model.pretrained': '/nonexistent'}, 'pretrained must be empty'),
    ({'prune.method': 'nope'}, 'nope'),
    ({'prune.ratio': 1.5}, 'config.prune.ratio'),
])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, overrides,
                                                         message):
  workdir = tmp_path / 'run'
  with pytest.raises(ValueError, match=message):
    LOTTERY(lottery_config(**overrides), str(workdir))
  assert not workdir.exists() or not any(workdir.iterdir())


def test_a_corrupt_theta0_is_one_error(tmp_path):
  (tmp_path / 'theta0.npz').write_bytes(b'not an npz')
  with pytest.raises(ValueError, match='theta0.npz is not a readable .npz'):
    LOTTERY(lottery_config(**{'lottery.rounds': 1,
                              'lottery.learning_rates': (0.05,)}),
            str(tmp_path))


def test_rows_build_and_small_variants_are_cheap():
  for row in rows.LOTTERY_ROWS:
    full = rows.get_config(row)
    assert full.study == 'lottery_ticket' and full.seeds == 5
    assert tuple(full.lottery.learning_rates) == (0.1, 0.01)
    assert full.paper.to_dict() == {'ticket': 'unknown', 'random': 'unknown'}
    small = rows.get_config(f'{row},small')
    assert small.seeds == 1 and small.lottery.rounds <= 2
    assert small.data.train_subset == 2000 and not small.paper
    studies.lottery_ticket.check_config(small)
  assert rows.get_config('vgg16_iterative').lottery.rounds == 5
  with pytest.raises(ValueError, match='unknown lottery-ticket row'):
    rows.get_config('nope')
  with pytest.raises(ValueError, match='unknown row variants'):
    rows.get_config('vgg16_oneshot,cifar100')
  json.dumps(rows.get_config('resnet56_a_l1').to_dict())
