"""The jackpot score search on the shared pmap-ed step, and its pipeline."""

import json

import chex
import jax
import numpy as np
import pytest

from experiments.configs import digits_jackpot
from jaxprune import checkpoint
from jaxprune import jackpot
from jaxprune import models
from jaxprune import steps as steps_lib
from jaxprune import train
from jaxprune import trainer
from jaxprune.jackpot import pipeline
from jaxprune.jackpot import search
from tests import helpers


def _setup(num_devices, n_train=192, epochs=2, batch_size=64,
           pruned_value=0.99):
  ds = helpers.tiny_dataset(n_train=n_train, n_test=64, augment=True)
  config = digits_jackpot.get_config()
  config.batch_size = batch_size
  model = models.create_model('digits_cnn', 10, axis_name=steps_lib.AXIS_NAME)
  source = train.build_source(config, ds, num_devices)
  params, batch_stats = train.init_variables(model, source.input_shape, 0)
  setup = search.create_search_state(
      params, batch_stats, sparsity=0.9, learning_rate=0.1,
      weight_decay=5e-4, epochs=epochs,
      steps_per_epoch=source.steps_per_epoch, pruned_value=pruned_value)
  return model, source, params, batch_stats, setup


def test_every_step_keeps_exact_layer_sparsity_and_frozen_weights():
  # A tiny score gap so that a few steps on random weights move the mask.
  model, source, params, batch_stats, setup = _setup(2, pruned_value=0.9999)
  step = steps_lib.pmap_train_step(model=model, tx=setup.tx,
                                   param_map=setup.param_map,
                                   prepare_batch=source.prepare_batch)
  state = steps_lib.replicate(setup.state, 2)
  data, _ = steps_lib.replicate(source.device_data(), 2)
  context = steps_lib.replicate({'epoch': np.int32(0),
                                 'aug_rng': jax.random.key(0),
                                 'rng': jax.random.key(1)}, 2)
  changed = 0
  for inputs in list(source.train_inputs(0)) * 3:
    state, _ = step(state, data, inputs, context)
    masks = jax.device_get(search.searched_masks(state))
    for path, m in jackpot.flatten_paths(masks):
      assert int(m.size - np.count_nonzero(m)) == setup.prune_counts[path]
    changed = sum(int(np.sum(np.asarray(a) != np.asarray(b))) for a, b in zip(
        jax.tree.leaves(masks), jax.tree.leaves(setup.initial_masks)))
  assert changed > 0  # the search moved the mask
  state = jax.device_get(state)
  # Weights, biases and BN scale/bias are bit-identical; BN stats moved.
  chex.assert_trees_all_equal(state.frozen['params'], params)
  assert not np.allclose(state.batch_stats['bn0']['mean'],
                         batch_stats['bn0']['mean'])
  # Only the score tree was trained: it has the prunable-kernel structure.
  jackpot.check_score_tree(state.trainable, params)


def test_eight_devices_give_the_same_masks_and_accuracy_as_one(tmp_path):
  results = {}
  for n in (1, 8):
    model, source, params, batch_stats, setup = _setup(n, pruned_value=0.9999)
    fitted = trainer.fit(
        name=f'search{n}', workdir=str(tmp_path / f's{n}'), model=model,
        tx=setup.tx, state=setup.state, param_map=setup.param_map,
        source=source, epochs=2, seed=0, config_dict={'n': 'same'},
        tensorboard=False)
    results[n] = fitted
  m1 = search.searched_masks(jax.device_get(results[1].state))
  m8 = search.searched_masks(jax.device_get(results[8].state))
  chex.assert_trees_all_equal(m1, m8)
  moved = sum(int(np.sum(np.asarray(a) != np.asarray(b))) for a, b in zip(
      jax.tree.leaves(m1), jax.tree.leaves(setup.initial_masks)))
  assert moved > 0
  chex.assert_trees_all_close(results[1].state.trainable,
                              results[8].state.trainable, atol=1e-5)
  for h1, h8 in zip(results[1].history, results[8].history):
    assert abs(h1['test_accuracy'] - h8['test_accuracy']) <= 1e-5
    assert abs(h1['train_loss'] - h8['train_loss']) <= 1e-5


def _small_config():
  config = digits_jackpot.get_config()
  config.epochs = 3
  config.jackpot.epochs = 2
  config.tensorboard = False
  return config


def test_pipeline_end_to_end_and_resume_with_other_sparsity(tmp_path):
  config = _small_config()
  config.jackpot.tune_epochs = 1  # the 30(S)+10(T) weight-tuning stage
  results = pipeline.run_jackpot(config, str(tmp_path))
  assert results['tune']['epochs'] == 1
  on_disk = json.loads((tmp_path / 'results.json').read_text())
  assert on_disk['frozen_weights_unchanged'] is True
  assert on_disk['summary']['weights_updated'] is False
  for layer in on_disk['per_layer'].values():
    assert layer['pruned'] == layer['target_pruned']
  assert 0.88 < results['overall_sparsity'] < 0.9
  assert results['jackpot']['flops_nonzero'] < results['baseline']['flops']
  overlap = results['mask_overlap']
  assert set(overlap) == {'magnitude', 'random', 'l1_filter', 'snip', 'grasp',
                          'synflow'}
  assert all(0.0 <= row['overall'] <= 1.0 for row in overlap.values())
  assert not any('classifier' in layer for layer in overlap['magnitude'])
  assert (tmp_path / 'overlap_heatmap.png').stat().st_size > 0
  assert 'overlap' in (tmp_path / 'overlap.md').read_text()
  other = _small_config()
  other.jackpot.tune_epochs = 1
  other.jackpot.sparsity = 0.95
  with pytest.raises(checkpoint.WorkdirConflictError,
                     match='different config'):
    pipeline.run_jackpot(other, str(tmp_path))


def test_bad_search_batch_size_is_refused_before_any_work(tmp_path):
  config = _small_config()
  config.jackpot.batch_size = 60  # 8 devices in the tests
  with pytest.raises(ValueError, match='does not divide over 8 devices'):
    pipeline.run_jackpot(config, str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('sparsity', [0.0, 1.0, -0.1, 1.5])
def test_sparsity_outside_open_unit_interval_is_refused(tmp_path, sparsity):
  config = _small_config()
  config.jackpot.sparsity = sparsity
  with pytest.raises(ValueError, match=r'sparsity must be in \(0, 1\)'):
    pipeline.run_jackpot(config, str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()


def test_jackpot_row_configs():
  from experiments.configs import jackpot as jackpot_rows
  for row in jackpot_rows.ROWS:
    config = jackpot_rows.get_config(row)
    assert 0 < config.jackpot.sparsity < 1 and config.jackpot.epochs in (30,
                                                                         160)
  config = jackpot_rows.get_config('resnet50_in_s80_e30_t10')
  assert (config.model, config.dataset, config.jackpot.tune_epochs,
          config.jackpot.weight_decay) == ('resnet50', 'imagenet2012', 10,
                                           1e-4)
  with pytest.raises(ValueError, match='unknown jackpot row'):
    jackpot_rows.get_config('vgg19_c10_s98_e30')
