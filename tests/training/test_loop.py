"""The epoch loop: devices, resume, masked training, streamed data, traces."""

import logging as py_logging

from absl import logging as absl_logging
import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import tensorflow as tf

from jaxprune import data as data_lib
from jaxprune import models
from jaxprune.training import checkpoint
from jaxprune.training import loop
from jaxprune.training import optim
from jaxprune.training import step as step_lib
from tests import helpers
from tests.training.common import run_stage, strip_timing


def test_eight_devices_match_one(tmp_path):
  assert jax.local_device_count() == 8
  # 328 examples: 5 full batches of 64 + a partial batch of 8 (1 per device).
  ds = helpers.tiny_dataset(n_train=328, n_test=100, augment=True)
  one = run_stage(tmp_path, 'one', ds, 1)
  eight = run_stage(tmp_path, 'eight', ds, 8)
  for h1, h8 in zip(strip_timing(one.history), strip_timing(eight.history)):
    for k in h1:
      assert abs(h1[k] - h8[k]) <= 1e-5, (k, h1[k], h8[k])
  chex.assert_trees_all_close(one.state.trainable, eight.state.trainable,
                              atol=1e-5)
  chex.assert_trees_all_close(one.state.batch_stats, eight.state.batch_stats,
                              atol=1e-5)


def test_resume_equals_uninterrupted(tmp_path):
  ds = helpers.tiny_dataset(n_train=192, augment=True)
  full = run_stage(tmp_path, 'full', ds, 2, epochs=3)

  class Interrupt(Exception):
    pass

  def crash_in_third_epoch(epoch, state):
    if epoch == 2:
      raise Interrupt()
    return {}

  with pytest.raises(Interrupt):
    run_stage(tmp_path, 'resumed', ds, 2, epochs=3,
              after_epoch=crash_in_third_epoch)
  assert checkpoint.latest_meta(str(tmp_path / 'resumed'))['history'][-1][
      'epoch'] == 2
  resumed = run_stage(tmp_path, 'resumed', ds, 2, epochs=3)
  assert strip_timing(resumed.history) == strip_timing(full.history)
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


def test_masked_training_keeps_pruned_weights_and_momentum_exactly_zero(
    tmp_path):
  ds = helpers.tiny_dataset(n_train=192)
  result = run_stage(tmp_path, 'masked', ds, 2, weight_decay=1e-3,
                     masks_fn=_random_kernel_masks)
  params = result.state.trainable
  state = optim.find_state(result.state.opt_state, optim.MaskedTrainingState)
  masks = state.masks  # the masks live in the optimizer state
  for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(masks)):
    p, m = np.asarray(p), np.asarray(m)
    assert np.all(p[m == 0] == 0.0)
    if p.ndim > 1:
      assert np.count_nonzero(p[m == 1]) == np.count_nonzero(m)
  trace = optim.find_state(result.state.opt_state, optax.TraceState)
  for t, m in zip(jax.tree.leaves(trace.trace), jax.tree.leaves(masks)):
    assert np.all(np.asarray(t)[np.asarray(m) == 0] == 0.0)


def test_the_step_compiles_once_per_stage(tmp_path, monkeypatch):
  """Three epochs and a resume of one stage trace each step body once."""
  ds = helpers.tiny_dataset(n_train=128, n_test=64)  # 2 full batches
  chex.clear_trace_counter()
  monkeypatch.setattr(step_lib, 'train_step_body', chex.assert_max_traces(
      step_lib.train_step_body, n=1))
  monkeypatch.setattr(step_lib, 'eval_step_body', chex.assert_max_traces(
      step_lib.eval_step_body, n=1))
  run_stage(tmp_path, 'once', ds, 2, epochs=3)
  chex.clear_trace_counter()
  # A new stage (another optimizer, another state) compiles its own step.
  run_stage(tmp_path, 'other', ds, 2, epochs=1, lr=0.01)


def _write_folder(root, n_per_class=8, size=(20, 24)):
  rng = np.random.default_rng(0)
  for split in ('train', 'test'):
    for c, name in enumerate(('ant', 'bee')):
      d = root / split / name
      d.mkdir(parents=True)
      for i in range(n_per_class):
        img = np.full((*size, 3), 60 + 120 * c, np.uint8)
        img = np.clip(img + rng.integers(-20, 20, img.shape), 0, 255)
        (d / f'{i}.jpg').write_bytes(
            tf.io.encode_jpeg(img.astype(np.uint8)).numpy())


def _streamed_stage(tmp_path, global_batch, widths):
  """A 2-class image folder streamed through tf.data on 2 devices, and the
  fit arguments of a small digits_cnn stage on it."""
  _write_folder(tmp_path / 'folder')
  streaming = data_lib.make_folder_iterators(
      tmp_path / 'folder', global_batch=global_batch, num_devices=2, seed=0,
      image_size=16, resize_size=18, cache_dir=tmp_path / 'cache')
  source = data_lib.StreamingSource(streaming)
  spec = models.get_spec('digits_cnn').bind(2, widths, (16, 16, 3))
  variables = spec.init(jax.random.key(0))
  tx = optim.sgd_coupled(0.05)
  state = step_lib.create_train_state(variables['params'],
                                      variables['batch_stats'], tx)
  return dict(name='stream', workdir=str(tmp_path / 'run'),
              model=spec.module(step_lib.AXIS_NAME), tx=tx, state=state,
              source=source, epochs=2, seed=0, config_dict={},
              tensorboard=False)


def test_fit_on_a_streamed_folder(tmp_path):
  stage = _streamed_stage(tmp_path, 8, [8, 'M', 8])
  source = stage['source']
  assert source.input_shape == (16, 16, 3) and source.steps_per_epoch == 2
  result = loop.fit(**stage)
  assert [h['epoch'] for h in result.history] == [1, 2]
  assert 0.0 <= result.last_accuracy <= 1.0
  assert int(result.state.step) == 4


def test_one_step_on_eight_devices_equals_one_up_to_float_rounding():
  """What the README claims: one step agrees to float rounding."""
  ds = helpers.tiny_dataset(n_train=64, n_test=16, augment=True)
  spec = models.get_spec('digits_cnn').bind(10)
  v = spec.init(jax.random.key(0))
  tx = optim.sgd_coupled(0.1, 0.9, 5e-4)
  out = {}
  for n in (1, 8):
    source = data_lib.ArraySource(ds, 64, 16, n, 0)
    step = step_lib.pmap_train_step(
        model=spec.module(step_lib.AXIS_NAME), tx=tx,
        model_params=step_lib.dense_params,
        prepare_batch=source.prepare_batch)
    from jaxprune.training import devices
    state = devices.replicate(step_lib.create_train_state(
        v['params'], v['batch_stats'], tx), n)
    data, _ = devices.replicate(source.device_data(), n)
    context = devices.replicate({'epoch': np.int32(0),
                                 'aug_rng': jax.random.key(1),
                                 'rng': jax.random.key(2)}, n)
    out[n] = jax.device_get(step(state, data, next(source.train_inputs(0)),
                                 context))
  (s1, m1), (s8, m8) = out[1], out[8]
  chex.assert_trees_all_close(s1.trainable, s8.trainable, atol=1e-6,
                              rtol=1e-6)
  chex.assert_trees_all_close(s1.batch_stats, s8.batch_stats, atol=1e-6,
                              rtol=1e-6)
  assert abs(float(m1['loss']) - float(m8['loss'])) < 1e-6


def test_a_streamed_epoch_logs_progress_lines(tmp_path):
  """Streamed epochs get a line every N steps: step/total, loss, img/s, ETA."""
  stage = _streamed_stage(tmp_path, 2, [4, 'M', 4])
  assert stage['source'].steps_per_epoch == 8
  lines = []

  class Collect(py_logging.Handler):
    def emit(self, record):
      lines.append(record.getMessage())

  handler = Collect()
  logger = absl_logging.get_absl_logger()
  level = logger.level
  logger.addHandler(handler)
  logger.setLevel(py_logging.INFO)
  try:
    loop.fit(**stage, progress_every_steps=3)
  finally:
    logger.removeHandler(handler)
    logger.setLevel(level)
  progress = [l for l in lines if ' step ' in l and 'ETA epoch' in l]
  assert [l.split(' step ')[1].split()[0] for l in progress] == [
      '3/8', '6/8', '3/8', '6/8'], progress
  assert progress[0].startswith('stream epoch 1/2 step 3/8  loss ')
  assert 'img/s  ETA epoch ' in progress[0] and ', stage ' in progress[0]
