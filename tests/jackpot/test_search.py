"""The score search on the shared pmap-ed step."""

import chex
import jax
import numpy as np

from jaxprune import data as data_lib
from jaxprune import jackpot
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import pruning
from jaxprune.training import devices
from jaxprune.training import loop
from jaxprune.training import step as step_lib
from tests import helpers


def _setup(num_devices, n_train=192, epochs=2, batch_size=64,
           pruned_value=0.99):
  ds = helpers.tiny_dataset(n_train=n_train, n_test=64, augment=True)
  spec = models.get_spec('digits_cnn').bind(10)
  source = data_lib.ArraySource(ds, batch_size, 64, num_devices, 0)
  variables = spec.init(jax.random.key(0))
  counts = pruning.global_prune_counts(variables['params'], 0.9)
  start = pruning.get_criterion('magnitude')(variables, spec, counts).masks
  setup = jackpot.create_search_state(
      variables, prune_counts=counts, initial_masks=start, learning_rate=0.1,
      weight_decay=5e-4, epochs=epochs,
      steps_per_epoch=source.steps_per_epoch, pruned_value=pruned_value)
  return spec, source, variables, start, setup


def _changed(masks, start):
  return sum(int(np.sum(np.asarray(a) != np.asarray(b)))
             for a, b in zip(jax.tree.leaves(masks), jax.tree.leaves(start)))


def test_every_step_keeps_exact_layer_sparsity_and_frozen_weights():
  # A tiny score gap so that a few steps on random weights move the mask.
  spec, source, variables, start, setup = _setup(2, pruned_value=0.9999)
  step = step_lib.pmap_train_step(model=spec.module(step_lib.AXIS_NAME),
                                  tx=setup.tx,
                                  model_params=setup.model_params,
                                  prepare_batch=source.prepare_batch)
  state = devices.replicate(setup.state, 2)
  data, _ = devices.replicate(source.device_data(), 2)
  context = devices.replicate({'epoch': np.int32(0),
                               'aug_rng': jax.random.key(0),
                               'rng': jax.random.key(1)}, 2)
  for inputs in list(source.train_inputs(0)) * 3:
    state, _ = step(state, data, inputs, context)
    masks = jax.device_get(jackpot.searched_masks(state))
    assert masks_lib.zero_counts(masks, setup.prune_counts) == \
        setup.prune_counts
  assert _changed(masks, start) > 0  # the search moved the mask
  state = jax.device_get(state)
  # Weights, biases and BN scale/bias are bit-identical; BN stats moved.
  chex.assert_trees_all_equal(state.frozen['params'], variables['params'])
  assert not np.allclose(state.batch_stats['bn0']['mean'],
                         variables['batch_stats']['bn0']['mean'])
  # Only the score tree was trained; the masks it exposes are full-structure.
  jackpot.check_score_tree(state.trainable, variables['params'])
  masks_lib.check_masks(masks, variables['params'])


def test_eight_devices_give_the_same_masks_and_accuracy_as_one(tmp_path):
  results = {}
  for n in (1, 8):
    spec, source, _, start, setup = _setup(n, pruned_value=0.9999)
    results[n] = loop.fit(
        name=f'search{n}', workdir=str(tmp_path / f's{n}'),
        model=spec.module(step_lib.AXIS_NAME), tx=setup.tx,
        state=setup.state, model_params=setup.model_params, source=source,
        epochs=2, seed=0, config_dict={'n': 'same'}, tensorboard=False)
  m1 = jackpot.searched_masks(jax.device_get(results[1].state))
  m8 = jackpot.searched_masks(jax.device_get(results[8].state))
  chex.assert_trees_all_equal(m1, m8)
  assert _changed(m1, start) > 0
  chex.assert_trees_all_close(results[1].state.trainable,
                              results[8].state.trainable, atol=1e-5)
  for h1, h8 in zip(results[1].history, results[8].history):
    assert abs(h1['test_accuracy'] - h8['test_accuracy']) <= 1e-5
    assert abs(h1['train_loss'] - h8['train_loss']) <= 1e-5
