"""The same step body under jax.pmap and jax.jit(jax.shard_map(...))."""

import chex
import jax
import pytest

from jaxprune import data as data_lib
from jaxprune import jackpot
from jaxprune import models
from jaxprune import pruning
from jaxprune.training import loop
from jaxprune.training import parallel as parallel_lib
from jaxprune.training import step as step_lib
from tests import helpers
from tests.training.common import Crash, crash_at, run_stage, strip_timing

NUM_DEVICES = 4


def _close(a, b):
  for ha, hb in zip(strip_timing(a.history), strip_timing(b.history)):
    for k in ha:
      assert abs(ha[k] - hb[k]) <= 1e-5, (k, ha[k], hb[k])
  chex.assert_trees_all_close(a.state.trainable, b.state.trainable, atol=1e-5)
  chex.assert_trees_all_close(a.state.batch_stats, b.state.batch_stats,
                              atol=1e-5)


def test_training_under_shard_map_equals_pmap(tmp_path):
  # 136 examples at batch 64: 2 full batches and a partial one of 8.
  ds = helpers.tiny_dataset(n_train=136, n_test=40, augment=True)
  runs = {mode: run_stage(tmp_path, mode, ds, NUM_DEVICES, epochs=2,
                          parallel=parallel_lib.Parallel(mode, NUM_DEVICES))
          for mode in parallel_lib.MODES}
  assert len(runs['pmap'].history) == 2
  _close(runs['pmap'], runs['shard_map'])


def test_search_under_shard_map_equals_pmap(tmp_path):
  ds = helpers.tiny_dataset(n_train=128, n_test=32)
  spec = models.get_spec('digits_cnn').bind(10, [4, 'M', 8])
  variables = jax.device_get(spec.init(jax.random.key(0)))
  counts = pruning.global_prune_counts(variables['params'], 0.5,
                                       spec.classifier)
  masks = pruning.get_criterion('magnitude')(variables, spec, counts).masks
  source = data_lib.ArraySource(ds, 32, 32, NUM_DEVICES, 0)
  runs = {}
  for mode in parallel_lib.MODES:
    setup = jackpot.create_search_state(
        variables, prune_counts=counts, initial_masks=masks,
        learning_rate=0.1, weight_decay=5e-4, epochs=1,
        steps_per_epoch=source.steps_per_epoch, classifier=spec.classifier)
    runs[mode] = loop.fit(
        name=mode, workdir=str(tmp_path / mode),
        model=spec.module(step_lib.AXIS_NAME), tx=setup.tx,
        state=setup.state, source=source, model_params=setup.model_params,
        epochs=1, seed=0, config_dict={'mode': 'search'}, tensorboard=False,
        parallel=parallel_lib.Parallel(mode, NUM_DEVICES))
  _close(runs['pmap'], runs['shard_map'])
  final = {m: jackpot.searched_masks(r.state) for m, r in runs.items()}
  chex.assert_trees_all_equal(final['pmap'], final['shard_map'])


def test_a_pmap_run_resumes_under_shard_map(tmp_path):
  ds = helpers.tiny_dataset(n_train=128, n_test=32)
  full = run_stage(tmp_path, 'full', ds, 2, epochs=2)
  with pytest.raises(Crash):  # a pmap run stopped in its second epoch
    run_stage(tmp_path, 'switched', ds, 2, epochs=2, hook=crash_at(1, 1))
  resumed = run_stage(tmp_path, 'switched', ds, 2, epochs=2,
                      parallel=parallel_lib.Parallel('shard_map', 2))
  _close(full, resumed)


def test_unknown_mode():
  with pytest.raises(ValueError, match="config.parallel must be one of"):
    parallel_lib.Parallel('xmap', 2)
