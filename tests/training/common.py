"""Shared training-test setup: one stage of digits_cnn on a tiny dataset."""

from jaxprune import data as data_lib
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune.training import loop
from jaxprune.training import optim
from jaxprune.training import step as step_lib

import jax


def run_stage(tmp_path, name, dataset, num_devices, *, epochs=2, masks_fn=None,
              after_epoch=None, lr=0.05, weight_decay=5e-4, batch_size=64,
              schedule='cosine', seed=0):
  """Trains digits_cnn for ``epochs`` in ``tmp_path/name`` (resumable)."""
  spec = models.get_spec('digits_cnn').bind(dataset.num_classes)
  model = spec.module(step_lib.AXIS_NAME)
  source = data_lib.ArraySource(dataset, batch_size, 64, num_devices, seed)
  variables = spec.init(jax.random.key(seed))
  params = variables['params']
  lr_fn = optim.per_epoch_schedule(lr, epochs, source.steps_per_epoch,
                                   schedule)
  tx = optim.sgd_coupled(lr_fn, 0.9, weight_decay)
  if masks_fn is not None:
    masks = masks_fn(params)
    params = masks_lib.apply_masks(params, masks)
    tx = optim.masked_training(tx, masks)
  state = step_lib.create_train_state(params, variables['batch_stats'], tx)
  return loop.fit(name=name, workdir=str(tmp_path / name), model=model, tx=tx,
                  state=state, source=source, epochs=epochs, seed=seed,
                  config_dict={'name': 'test', 'epochs': epochs, 'lr': lr},
                  learning_rate_fn=lr_fn, tensorboard=False,
                  after_epoch=after_epoch)


def strip_timing(history):
  return [{k: v for k, v in h.items()
           if k not in ('images_per_sec', 'epoch_time_s')} for h in history]
