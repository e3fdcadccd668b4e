"""The per-device step bodies (without pmap: axis_name None)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxprune import data as data_lib
from jaxprune import models
from jaxprune.training import step as step_lib
from tests import helpers


def test_cross_entropy_weights_drop_padded_examples():
  logits = jnp.asarray([[2.0, 0.0], [0.0, 2.0], [5.0, -5.0]])
  labels = jnp.asarray([0, 0, 1])
  full = step_lib.cross_entropy(logits[:2], labels[:2])
  padded = step_lib.cross_entropy(logits, labels, jnp.asarray([1., 1., 0.]))
  np.testing.assert_allclose(padded, full, rtol=1e-6)


def test_one_unmapped_train_and_eval_step():
  ds = helpers.tiny_dataset(n_train=32, n_test=10)
  source = data_lib.ArraySource(ds, 16, 16, 1, 0)
  spec = models.get_spec('digits_cnn').bind(10, [4, 'M', 8])
  v = spec.init(jax.random.key(0))
  tx = optax.sgd(0.1)
  state = step_lib.create_train_state(v['params'], v['batch_stats'], tx)
  train_data, eval_data = source.device_data()
  ids = {'ids': next(source.train_inputs(0))['ids'][0]}
  context = {'epoch': np.int32(0), 'aug_rng': jax.random.key(1),
             'rng': jax.random.key(2)}
  new, metrics = step_lib.train_step_body(
      state, train_data, ids, context, model=spec.module(), tx=tx,
      model_params=step_lib.dense_params, prepare_batch=source.prepare_batch,
      axis_name=None)
  assert int(new.step) == 1 and np.isfinite(float(metrics['loss']))
  assert not np.allclose(new.trainable['conv0']['kernel'],
                         state.trainable['conv0']['kernel'])
  batch = next(source.eval_inputs())
  sums = step_lib.eval_step_body(
      new, eval_data, {k: b[0] for k, b in batch.items()},
      model=spec.module(), model_params=step_lib.dense_params,
      prepare_batch=source.prepare_batch, axis_name=None)
  assert float(sums['count']) == 10.0  # 16 slots, 6 padded
  assert 0 <= float(sums['correct']) <= 10
