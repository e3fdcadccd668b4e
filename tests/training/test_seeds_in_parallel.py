"""N seeds in one vmap-ed step equal N separate runs of the same steps."""

import jax
import numpy as np
import pytest

from jaxprune import data as data_lib
from jaxprune import jackpot
from jaxprune import models
from jaxprune import pruning
from jaxprune.training import devices
from jaxprune.training import optim
from jaxprune.training import step as step_lib
from tests import helpers

SEEDS = (0, 1, 2)
NUM_DEVICES = 2
STEPS = 3


def _setup(mode, seed, spec, source):
  variables = jax.device_get(spec.init(jax.random.key(seed)))
  tx = optim.sgd_coupled(0.05, 0.9, 5e-4)
  if mode == 'train':
    return (step_lib.create_train_state(variables['params'],
                                        variables['batch_stats'], tx),
            tx, step_lib.dense_params)
  counts = pruning.global_prune_counts(variables['params'], 0.5,
                                       spec.classifier)
  masks = pruning.get_criterion('magnitude')(variables, spec, counts).masks
  setup = jackpot.create_search_state(
      variables, prune_counts=counts, initial_masks=masks, learning_rate=0.1,
      weight_decay=5e-4, epochs=2, steps_per_epoch=source.steps_per_epoch,
      classifier=spec.classifier)
  return setup.state, setup.tx, setup.model_params


def _context(seed):
  return {'epoch': np.int32(0), 'aug_rng': jax.random.key(100 + seed),
          'rng': jax.random.key(200 + seed)}


@pytest.mark.parametrize('mode, strategy', [
    ('train', 'vmap'), ('search', 'vmap'), ('train', 'unroll'),
    ('search', 'unroll')])
def test_seeds_in_parallel_equal_separate_runs(mode, strategy):
  ds = helpers.tiny_dataset(n_train=96, n_test=16)
  spec = models.get_spec('digits_cnn').bind(10, [4, 'M', 8])
  model = spec.module(step_lib.AXIS_NAME)
  sources = [data_lib.ArraySource(ds, 32, 32, NUM_DEVICES, s) for s in SEEDS]
  train_data, _ = devices.replicate(sources[0].device_data(), NUM_DEVICES)
  setups = [_setup(mode, s, spec, src) for s, src in zip(SEEDS, sources)]
  tx, model_params = setups[0][1], setups[0][2]
  static = dict(model=model, tx=tx, model_params=model_params,
                prepare_batch=sources[0].prepare_batch)
  batches = [list(src.train_inputs(0))[:STEPS] for src in sources]

  # N separate runs, one after the other.
  single = step_lib.pmap_train_step(**static)
  separate = []
  for i, s in enumerate(SEEDS):
    state = devices.replicate(setups[i][0], NUM_DEVICES)
    context = devices.replicate(_context(s), NUM_DEVICES)
    history = []
    for inputs in batches[i]:
      state, metrics = single(state, train_data, inputs, context)
      history.append(jax.device_get(metrics))
    separate.append((jax.device_get(state), history))

  # The same N runs as one vmap-ed step.
  parallel = step_lib.pmap_train_step(seeds_in_parallel=len(SEEDS),
                                      seeds_strategy_name=strategy, **static)
  state = devices.replicate(step_lib.stack_runs([st for st, _, _ in setups]),
                            NUM_DEVICES)
  context = devices.replicate(
      step_lib.stack_runs([_context(s) for s in SEEDS]), NUM_DEVICES)
  histories = []
  for k in range(STEPS):
    inputs = step_lib.stack_run_inputs(
        [batches[i][k] for i in range(len(SEEDS))])
    state, metrics = parallel(state, train_data, inputs, context)
    histories.append(jax.device_get(metrics))
  state = jax.device_get(state)

  for i in range(len(SEEDS)):
    want_state, want_history = separate[i]
    got_state = jax.tree.map(lambda x, i=i: x[i], state)
    jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, atol=1e-5,
                                                         rtol=1e-5),
                 got_state.trainable, want_state.trainable)
    jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, atol=1e-5,
                                                         rtol=1e-5),
                 got_state.batch_stats, want_state.batch_stats)
    for k in range(STEPS):
      for name in ('loss', 'accuracy', 'grad_norm'):
        np.testing.assert_allclose(histories[k][name][i],
                                   want_history[k][name], atol=1e-5,
                                   rtol=1e-5)
    # Optimizer state: momentum, step counts and (search) the short
    # restriction's masks, which are 0/1 and so compared exactly.
    assert (jax.tree.structure(got_state.opt_state)
            == jax.tree.structure(want_state.opt_state))
    jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, atol=1e-5,
                                                         rtol=1e-5),
                 got_state.opt_state, want_state.opt_state)
    if mode == 'search':  # the last transform is the short restriction
      jax.tree.map(np.testing.assert_array_equal,
                   got_state.opt_state[-1].masks,
                   want_state.opt_state[-1].masks)
  # The runs really differ (their own init, data order and rngs).
  a, b = (jax.tree.leaves(separate[i][0].trainable)[0] for i in (0, 1))
  assert not np.allclose(a, b)


def test_seeds_strategy_by_backend():
  assert step_lib.seeds_strategy('cpu') == 'unroll'
  assert step_lib.seeds_strategy('gpu') == step_lib.seeds_strategy('tpu') == (
      'vmap')
  with pytest.raises(ValueError, match="unknown seeds strategy 'scan'"):
    step_lib.over_seeds(lambda *a: a, 'scan')
