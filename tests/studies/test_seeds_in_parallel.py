"""``config.seeds_in_parallel``: a study's seeds train their stages of one name
in one step, with the results of seeds trained one at a time."""

import os

import chex
import jax
import numpy as np
import pytest

from jaxprune import models
from jaxprune import studies
from jaxprune.studies import seed_gang
from jaxprune.training import checkpoint
from jaxprune.training import loop
from tests.studies.common import baseline_config
from tests.studies.common import jackpot_config
from tests.studies.common import rethinking_config

RETHINKING = studies.get_study('rethinking')
STAGES = ('baseline', 'finetune', 'scratch_e')


def _config(**overrides):
  return rethinking_config(**{
      'prune.method': 'magnitude', 'prune.ratio': 0.6, 'seeds': 2,
      'stages': ('finetune', 'scratch_e'), 'optim.epochs': 1,
      'num_devices': 2, **overrides})


def _counting_fit_runs(monkeypatch):
  calls = []
  fit_runs = loop.fit_runs

  def counted(runs, **kw):
    calls.append((kw['name'], len(runs)))
    return fit_runs(runs, **kw)
  monkeypatch.setattr(loop, 'fit_runs', counted)
  return calls


def _variables(workdir, seed_index, stage):
  spec = models.get_spec('digits_cnn').bind(10)
  variables, meta = checkpoint.restore_variables(
      os.path.join(workdir, f'seed{seed_index}', stage),
      spec.abstract_variables())
  return variables, meta


def test_seeds_in_one_step_equal_seeds_one_at_a_time(tmp_path, monkeypatch):
  calls = _counting_fit_runs(monkeypatch)
  together = RETHINKING(_config(seeds_in_parallel=2), str(tmp_path / 'gang'))
  # Every stage of both seeds ran as one fit of two runs (the masked stages
  # too: each seed's own masks live in its optimizer state).
  assert calls == [(s, 2) for s in STAGES]
  calls.clear()
  alone = RETHINKING(_config(), str(tmp_path / 'alone'))
  assert calls == [(s, 1) for _ in range(2) for s in STAGES]  # seed-major
  for stage in ('baseline', 'pruned', 'finetune', 'scratch_e'):
    got, want = together['stages'][stage], alone['stages'][stage]
    assert got['params'] == want['params'] and got['flops'] == want['flops']
    for g, w in zip(got['runs'], want['runs'], strict=True):
      for key in ('best_test_accuracy', 'last_test_accuracy'):
        assert g[key] == pytest.approx(w[key], abs=1e-5), (stage, key)
  for i in range(2):
    for stage in STAGES:
      got, got_meta = _variables(str(tmp_path / 'gang'), i, stage)
      want, want_meta = _variables(str(tmp_path / 'alone'), i, stage)
      chex.assert_trees_all_close(got, want, atol=1e-5, rtol=1e-5)
      assert got_meta['config']['seed'] == want_meta['config']['seed'] == i
      for g, w in zip(got_meta['history'], want_meta['history'], strict=True):
        assert g['train_loss'] == pytest.approx(w['train_loss'], abs=1e-5)
  a, b = (jax.tree.leaves(_variables(str(tmp_path / 'gang'), i,
                                     'scratch_e')[0])[0] for i in (0, 1))
  assert not (a == b).all()  # two independent seeds

  # The same workdir resumes one seed at a time: every stage is found done.
  calls.clear()
  again = RETHINKING(_config(), str(tmp_path / 'gang'))
  for stage in together['stages']:
    for g, w in zip(again['stages'][stage]['runs'],
                    together['stages'][stage]['runs'], strict=True):
      assert g['best_test_accuracy'] == w['best_test_accuracy']
      assert g['epochs'] == w['epochs']


def test_stages_of_other_widths_run_one_after_another(tmp_path, monkeypatch):
  """Network slimming's global threshold gives each seed its own widths:
  their pruned stages cannot share a step, the baseline still does."""
  calls = _counting_fit_runs(monkeypatch)
  results = RETHINKING(_config(**{
      'prune.method': 'slimming', 'prune.ratio': 0.5,
      'prune.sparsity_lambda': 1e-4, 'seeds_in_parallel': 2,
      'stages': ('scratch_e',)}), str(tmp_path))
  widths = [d['widths'] for d in results['details']['seeds']]
  assert widths[0] != widths[1]  # e.g. [16, 15, 'M', 34, 30] and [18, ...]
  assert calls == [('baseline', 2), ('scratch_e', 1), ('scratch_e', 1)]
  for i in range(2):  # each in its own seed's directory, at its own widths
    meta = checkpoint.latest_meta(str(tmp_path / f'seed{i}' / 'scratch_e'))
    assert meta['widths'] == widths[i]


@pytest.mark.parametrize('value', [0, -1])
def test_a_bad_value_is_refused_before_anything_is_written(tmp_path, value):
  with pytest.raises(ValueError, match='config.seeds_in_parallel must be an '
                     'int >= 1'):
    RETHINKING(_config(seeds_in_parallel=value), str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()


def test_an_error_in_one_seed_stops_the_gang_with_that_error():
  def work(i):
    if i == 1:
      raise KeyError('seed 1 failed')
    return seed_gang.submit(i)

  with pytest.raises(KeyError, match='seed 1 failed'):
    seed_gang.run(work, [0, 1, 2], lambda requests: requests, lambda r: 0)
  assert not seed_gang.in_gang()


def test_a_gang_groups_requests_by_key_in_order():
  ran = []

  def run_together(requests):
    ran.append(list(requests))
    return [r * 10 for r in requests]

  def work(i):  # seed 2 asks for one stage less
    out = [seed_gang.submit(i)]
    if i < 2:
      out.append(seed_gang.submit(100 + i))
    return out

  results = seed_gang.run(work, [0, 1, 2], run_together,
                          lambda r: None if r >= 100 else 'first')
  assert results == [[0, 1000], [10, 1010], [20]]
  assert ran == [[0, 1, 2], [100], [101]]


def test_jackpot_seeds_of_one_pretrained_model_search_in_one_step(
    tmp_path, monkeypatch):
  """One pre-trained model gives every seed the same per-layer budgets, so
  the seeds' searches (each its own data order) share a step; the tuning
  stage too (each seed's own searched mask in its optimizer state)."""
  dense = str(tmp_path / 'dense')
  studies.get_study('baseline')(baseline_config(), dense)
  calls = _counting_fit_runs(monkeypatch)
  overrides = {'model.pretrained': dense, 'seeds': 2, 'jackpot.epochs': 1,
               'jackpot.tune_epochs': 1, 'num_devices': 2,
               'data.train_subset': 384, 'data.test_subset': 256,
               'jackpot.sparsity': 0.5, 'jackpot.overlap': False}
  together = studies.get_study('jackpot')(
      jackpot_config(seeds_in_parallel=2, **overrides), str(tmp_path / 'gang'))
  assert calls == [('search', 2), ('tune', 2)]
  alone = studies.get_study('jackpot')(jackpot_config(**overrides),
                                       str(tmp_path / 'alone'))
  for stage in ('search', 'tune'):
    for g, w in zip(together['stages'][stage]['runs'],
                    alone['stages'][stage]['runs'], strict=True):
      assert g['best_test_accuracy'] == pytest.approx(
          w['best_test_accuracy'], abs=1e-5)
  for i in range(2):  # each seed's searched mask, equal to its run alone
    got = np.load(tmp_path / 'gang' / f'seed{i}' / 'searched_masks.npz')
    want = np.load(tmp_path / 'alone' / f'seed{i}' / 'searched_masks.npz')
    for key in want.files:
      np.testing.assert_array_equal(got[key], want[key])
  seeds = together['details']['seeds']
  assert together['details']['masks_file'] == 'seed0/searched_masks.npz'
  assert seeds[0]['masks_changed_vs_magnitude'] != 0
  assert together['summary']['weights_updated'] is False
