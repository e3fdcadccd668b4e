"""N runs of a stage in one step (``loop.fit_runs``) equal N separate fits:
dense, masked and the score search, with resume and per-run checkpoints."""

import os

import chex
import jax
import numpy as np
import pytest

from jaxprune import data as data_lib
from jaxprune import jackpot
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import pruning
from jaxprune.training import checkpoint
from jaxprune.training import loop
from jaxprune.training import optim
from jaxprune.training import parallel as parallel_lib
from jaxprune.training import preemption
from jaxprune.training import step as step_lib
from tests import helpers
from tests.training.common import Hooked, checkpoint_steps, signal_at
from tests.training.common import strip_timing

SEEDS = (3, 8)
EPOCHS = 2
DEVICES = 2


def _spec():
  return models.get_spec('digits_cnn').bind(10, [4, 'M', 8])


def _runs(tmp_path, mode, ds, tag, hook=None, **source_kw):
  """``(runs, tx, model_params, lr_fn)`` of every seed, built alike."""
  spec = _spec()
  runs, setup = [], None
  for seed in SEEDS:
    source = data_lib.ArraySource(ds, 32, 64, DEVICES, seed, **source_kw)
    if hook is not None and seed == SEEDS[-1]:
      source = Hooked(source, hook)
    variables = jax.device_get(spec.init(jax.random.key(seed)))
    params = variables['params']
    lr_fn = optim.per_epoch_schedule(0.05, EPOCHS, source.steps_per_epoch,
                                     'cosine')
    tx = optim.sgd_coupled(lr_fn, 0.9, 5e-4)
    model_params = step_lib.dense_params
    if mode == 'masked':  # each seed its own random masks
      rng = np.random.default_rng(seed)
      masks = jax.tree.map(
          lambda p, rng=rng: (rng.random(p.shape) < 0.4).astype(np.float32)
          if p.ndim > 1 else np.ones(p.shape, np.float32), params)
      params = masks_lib.apply_masks(params, masks)
      tx = optim.masked_training(tx, masks)
    if mode == 'search':
      counts = pruning.global_prune_counts(params, 0.5, spec.classifier)
      masks = pruning.get_criterion('magnitude')(variables, spec,
                                                 counts).masks
      search = jackpot.create_search_state(
          variables, prune_counts=counts, initial_masks=masks,
          learning_rate=0.1, weight_decay=5e-4, epochs=EPOCHS,
          steps_per_epoch=source.steps_per_epoch, classifier=spec.classifier)
      state, tx, model_params = search.state, search.tx, search.model_params
      lr_fn = search.learning_rate_fn
    else:
      state = step_lib.create_train_state(params, variables['batch_stats'],
                                          tx)
    if setup is None:
      setup = (tx, model_params, lr_fn)
    runs.append(loop.Run(
        workdir=str(tmp_path / f'{tag}_seed{seed}'), state=state,
        source=source, seed=seed,
        config_dict={'mode': mode, 'seed': seed}))
  return runs, setup


def _fit(runs, setup, **kw):
  tx, model_params, lr_fn = setup
  return loop.fit_runs(runs, name='stage', model=_spec().module(
      step_lib.AXIS_NAME), tx=tx, model_params=model_params, epochs=EPOCHS,
                       learning_rate_fn=lr_fn, tensorboard=False, **kw)


def _assert_close(got, want):
  for h_got, h_want in zip(strip_timing(got.history),
                           strip_timing(want.history), strict=True):
    assert h_got.keys() == h_want.keys()
    for k in h_want:
      assert abs(h_got[k] - h_want[k]) <= 1e-5, (k, h_got[k], h_want[k])
  chex.assert_trees_all_close(jax.device_get(got.state),
                              jax.device_get(want.state), atol=1e-5,
                              rtol=1e-5)


@pytest.mark.parametrize('mode', ['dense', 'masked', 'search'])
def test_runs_in_one_step_equal_separate_fits(tmp_path, mode):
  ds = helpers.tiny_dataset(n_train=160, n_test=64, augment=True)
  runs, setup = _runs(tmp_path, mode, ds, 'together')
  together = _fit(runs, setup)
  alone_runs, alone_setup = _runs(tmp_path, mode, ds, 'alone')
  alone = [_fit([run], alone_setup)[0] for run in alone_runs]
  for got, want in zip(together, alone, strict=True):
    _assert_close(got, want)
  # Each run wrote its own checkpoints and metrics, as a fit alone does.
  for run, want in zip(runs, alone):
    meta = checkpoint.latest_meta(run.workdir)
    assert meta['config'] == run.config_dict
    assert strip_timing(meta['history']) == strip_timing(
        _fit([run], setup)[0].history)  # a finished stage: restored as is
    assert os.path.isfile(os.path.join(run.workdir, 'metrics.jsonl'))
  if mode == 'masked':  # pruned weights stay exactly zero in every run
    for got in together:
      masks = optim.find_state(got.state.opt_state,
                               optim.MaskedTrainingState).masks
      for p, m in zip(jax.tree.leaves(got.state.trainable),
                      jax.tree.leaves(masks)):
        assert np.all(np.asarray(p)[np.asarray(m) == 0] == 0.0)
  a, b = (jax.tree.leaves(r.state.trainable)[0] for r in together)
  assert not np.allclose(a, b)  # the runs really differ


def test_stacked_runs_resume_after_a_signal_like_uninterrupted(tmp_path):
  ds = helpers.tiny_dataset(n_train=160, n_test=64, augment=True)
  runs, setup = _runs(tmp_path, 'dense', ds, 'full')
  full = _fit(runs, setup)
  stopped, setup = _runs(tmp_path, 'dense', ds, 'cut', hook=signal_at(1, 2))
  with pytest.raises(preemption.Preempted):
    _fit(stopped, setup)
  for run in stopped:  # both runs saved the same position
    assert checkpoint_steps(run.workdir)[-1] == 5 + 3
  resumed, setup = _runs(tmp_path, 'dense', ds, 'cut')
  for got, want in zip(_fit(resumed, setup), full, strict=True):
    assert strip_timing(got.history) == strip_timing(want.history)
    chex.assert_trees_all_equal(got.state.trainable, want.state.trainable)


def test_runs_at_different_positions_resume_one_after_another(tmp_path):
  ds = helpers.tiny_dataset(n_train=160, n_test=64)
  runs, setup = _runs(tmp_path, 'dense', ds, 'mixed')
  first = _fit(runs[:1], setup)  # run 0 finished alone, run 1 not begun
  results = _fit(runs, setup)
  assert strip_timing(results[0].history) == strip_timing(first[0].history)
  alone_runs, alone_setup = _runs(tmp_path, 'dense', ds, 'alone')
  _assert_close(results[1], _fit(alone_runs[1:], alone_setup)[0])


def test_runs_under_shard_map_equal_pmap(tmp_path):
  ds = helpers.tiny_dataset(n_train=96, n_test=64)
  runs, setup = _runs(tmp_path, 'dense', ds, 'pmap')
  pmapped = _fit(runs, setup)
  runs, setup = _runs(tmp_path, 'dense', ds, 'shard')
  sharded = _fit(runs, setup,
                 parallel=parallel_lib.Parallel('shard_map', DEVICES))
  for got, want in zip(sharded, pmapped, strict=True):
    _assert_close(got, want)


def test_a_diverged_run_is_named(tmp_path):
  ds = helpers.tiny_dataset(n_train=96, n_test=64)
  runs, setup = _runs(tmp_path, 'dense', ds, 'nan')
  tx = setup[0]
  runs[1].state = runs[1].state.replace(trainable=jax.tree.map(
      lambda p: np.full_like(p, np.nan), runs[1].state.trainable))
  with pytest.raises(preemption.Diverged, match=r'run .*nan_seed8'):
    _fit(runs, (tx,) + setup[1:])
  assert not os.path.isdir(os.path.join(runs[0].workdir, 'checkpoints', '3'))
