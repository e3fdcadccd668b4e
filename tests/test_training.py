"""The core train/eval step, the loop, checkpoints and resume."""

import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments.configs import digits as digits_config
from jaxprune import checkpoint
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import optim
from jaxprune import sources
from jaxprune import steps as steps_lib
from jaxprune import train
from tests import helpers


def _config(**overrides):
  config = digits_config.get_config()
  config.epochs = 2
  config.tensorboard = False
  config.batch_size = 64
  config.eval_batch_size = 64
  for k, v in overrides.items():
    config[k] = v
  return config


def _run(tmp_path, name, config, dataset, num_devices, masks_fn=None,
         epochs=None, after_epoch=None):
  model = models.create_model('digits_cnn', dataset.num_classes,
                              axis_name=steps_lib.AXIS_NAME)
  source = train.build_source(config, dataset, num_devices)
  params, batch_stats = train.init_variables(model, source.input_shape,
                                             config.seed)
  masks = masks_fn(params) if masks_fn else None
  tx, lr_fn = train.build_optimizer(config, source.steps_per_epoch,
                                    config.epochs, config.learning_rate)
  if masks is None:
    param_map, frozen = steps_lib.dense_param_map(), None
  else:
    param_map, frozen = steps_lib.masked_param_map(), {'masks': masks}
    params = masks_lib.apply_masks(params, masks)
  state = steps_lib.create_train_state(params, batch_stats, tx, frozen)
  from jaxprune import trainer
  return trainer.fit(name=name, workdir=str(tmp_path / name), model=model,
                     tx=tx, state=state, param_map=param_map, source=source,
                     epochs=epochs or config.epochs, seed=config.seed,
                     config_dict=train.config_to_dict(config),
                     learning_rate_fn=lr_fn, tensorboard=False,
                     after_epoch=after_epoch)


def _strip_timing(history):
  return [{k: v for k, v in h.items()
           if k not in ('images_per_sec', 'epoch_time_s')} for h in history]


def test_eight_devices_match_one(tmp_path):
  assert jax.local_device_count() == 8
  # 328 examples: 5 full batches of 64 + a partial batch of 8 (1 per device).
  ds = helpers.tiny_dataset(n_train=328, n_test=100, augment=True)
  config = _config()
  one = _run(tmp_path, 'one', config, ds, 1)
  eight = _run(tmp_path, 'eight', config, ds, 8)
  for h1, h8 in zip(_strip_timing(one.history), _strip_timing(eight.history)):
    for k in h1:
      assert abs(h1[k] - h8[k]) <= 1e-5, (k, h1[k], h8[k])
  chex.assert_trees_all_close(one.state.trainable, eight.state.trainable,
                              atol=1e-5)
  chex.assert_trees_all_close(one.state.batch_stats, eight.state.batch_stats,
                              atol=1e-5)


def test_resume_equals_uninterrupted(tmp_path):
  ds = helpers.tiny_dataset(n_train=192, augment=True)
  config = _config(epochs=3)
  full = _run(tmp_path, 'full', config, ds, 2)

  class Interrupt(Exception):
    pass

  def crash_in_third_epoch(epoch, state):
    if epoch == 2:
      raise Interrupt()
    return {}

  with pytest.raises(Interrupt):
    _run(tmp_path, 'resumed', config, ds, 2, after_epoch=crash_in_third_epoch)
  assert checkpoint.latest_meta(str(tmp_path / 'resumed'))['history'][-1][
      'epoch'] == 2
  resumed = _run(tmp_path, 'resumed', config, ds, 2)
  assert _strip_timing(resumed.history) == _strip_timing(full.history)
  chex.assert_trees_all_equal(resumed.state.trainable, full.state.trainable)
  chex.assert_trees_all_equal(resumed.state.opt_state, full.state.opt_state)
  chex.assert_trees_all_equal(resumed.state.batch_stats,
                              full.state.batch_stats)


def _random_kernel_masks(params, density=0.3, seed=0):
  rng = np.random.default_rng(seed)
  return jax.tree_util.tree_map_with_path(
      lambda path, p: jnp.asarray(
          (rng.random(p.shape) < density) if p.ndim > 1 else np.ones(p.shape),
          jnp.float32), params)


def test_masked_training_keeps_pruned_weights_exactly_zero(tmp_path):
  ds = helpers.tiny_dataset(n_train=192)
  config = _config(epochs=2, weight_decay=1e-3)
  result = _run(tmp_path, 'masked', config, ds, 2,
                masks_fn=_random_kernel_masks)
  params = result.state.trainable
  masks = result.state.frozen['masks']
  for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(masks)):
    p, m = np.asarray(p), np.asarray(m)
    assert np.all(p[m == 0] == 0.0)
    if p.ndim > 1:
      assert np.count_nonzero(p[m == 1]) == np.count_nonzero(m)
  # Momentum buffers of pruned weights stay zero too.
  trace = [s for s in jax.tree.leaves(
      result.state.opt_state, is_leaf=lambda x: isinstance(x, optax.TraceState))
           if isinstance(s, optax.TraceState)][0]
  for t, m in zip(jax.tree.leaves(trace.trace), jax.tree.leaves(masks)):
    assert np.all(np.asarray(t)[np.asarray(m) == 0] == 0.0)
  initial = _random_kernel_masks(params)  # same seed: same masks
  del initial


def test_sgd_coupled_matches_pytorch_formula():
  lr, mu, wd = 0.1, 0.9, 1e-4
  tx = optim.sgd_coupled(lr, mu, wd)
  w = jnp.array([1.0, -2.0, 0.5])
  state = tx.init(w)
  buf = None
  w_ref = np.array(w, np.float64)
  rng = np.random.default_rng(0)
  for _ in range(5):
    g = rng.normal(size=3)
    d = g + wd * w_ref
    buf = d if buf is None else mu * buf + d
    w_ref = w_ref - lr * buf
    updates, state = tx.update(jnp.asarray(g, jnp.float32), state, w)
    w = optax.apply_updates(w, updates)
  np.testing.assert_allclose(w, w_ref, rtol=1e-6)


def test_per_epoch_schedules():
  step = optim.per_epoch_schedule(0.1, 160, 10, 'step')
  assert [float(step(e * 10)) for e in (0, 79, 80, 119, 120, 159)] == \
      pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
  assert float(step(805)) == pytest.approx(0.01)  # constant within epoch 80
  cos = optim.per_epoch_schedule(0.1, 30, 7, 'cosine')
  for e in (0, 1, 15, 29):
    assert float(cos(e * 7 + 3)) == pytest.approx(
        0.5 * 0.1 * (1 + np.cos(np.pi * e / 30)), rel=1e-5)
  assert optim.step_milestones(243) == [121, 182]


def test_epoch_batches_keep_partial_batch_and_divide_over_devices():
  batches = sources.epoch_batches(100, 32, 4, seed=0, epoch=0)
  assert [b.shape for b in batches] == [(4, 8)] * 3 + [(4, 1)]
  ids = np.concatenate([b.ravel() for b in batches])
  assert len(set(ids)) == 100
  assert sources.steps_per_epoch(100, 32, 4) == 4
  # Deterministic per (seed, epoch), different across epochs.
  again = sources.epoch_batches(100, 32, 4, seed=0, epoch=0)
  assert all(np.array_equal(a, b) for a, b in zip(batches, again))
  other = sources.epoch_batches(100, 32, 4, seed=0, epoch=1)
  assert not np.array_equal(batches[0], other[0])
  with pytest.raises(ValueError, match='does not divide over 8 devices'):
    sources.epoch_batches(100, 12, 8, seed=0, epoch=0)


def test_eval_pads_and_masks_last_batch(tmp_path):
  ds = helpers.tiny_dataset(n_train=128, n_test=37)
  batches = list(sources.eval_batches(37, 16, 8))
  assert sum(float(b['mask'].sum()) for b in batches) == 37
  assert all(b['ids'].shape == (8, 2) for b in batches)
  del ds, tmp_path


def test_workdir_with_other_config_is_refused_and_kept(tmp_path):
  ds = helpers.tiny_dataset(n_train=128)
  config = _config(epochs=1)
  _run(tmp_path, 'run', config, ds, 1)
  workdir = tmp_path / 'run'
  before = {p: os.path.getmtime(p) for p in workdir.rglob('*')}
  other = _config(epochs=1, learning_rate=0.2)
  with pytest.raises(checkpoint.WorkdirConflictError,
                     match='learning_rate: 0.05 -> 0.2'):
    _run(tmp_path, 'run', other, ds, 1)
  after = {p: os.path.getmtime(p) for p in workdir.rglob('*')}
  assert before == after


def test_corrupt_checkpoint_metadata_is_named(tmp_path):
  ds = helpers.tiny_dataset(n_train=128)
  config = _config(epochs=1)
  _run(tmp_path, 'run', config, ds, 1)
  meta = next((tmp_path / 'run' / 'checkpoints').glob('*/meta/metadata'))
  meta.write_text('{not json')
  with pytest.raises(ValueError, match='corrupt'):
    _run(tmp_path, 'run', config, ds, 1)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
  ds = helpers.tiny_dataset(n_train=128)
  config = _config(epochs=1)
  _run(tmp_path, 'run', config, ds, 1)
  model = models.create_model('digits_cnn', 10, widths=[8, 'M', 16])
  params, bs = train.init_variables(model, (8, 8, 1), 0)
  tx = optim.sgd_coupled(0.1)
  state = steps_lib.create_train_state(params, bs, tx)
  mngr = checkpoint.manager(str(tmp_path / 'run'))
  with pytest.raises(ValueError, match='cannot restore checkpoint'):
    checkpoint.restore_latest(mngr, state)


def test_subsets_and_resize_of_array_datasets():
  config = _config(train_subset=100, test_subset=20, image_size=12)
  ds = train.load_data(config)
  assert ds.train_images.shape == (100, 12, 12, 1)
  assert ds.test_images.shape == (20, 12, 12, 1) and len(ds.test_labels) == 20
  assert ds.train_images.dtype == np.uint8
  with pytest.raises(ValueError, match='exceeds'):
    train.load_data(_config(train_subset=10**6))
