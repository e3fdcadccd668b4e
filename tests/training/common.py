"""Shared training-test setup: one stage of digits_cnn on a tiny dataset."""

import os
import signal

import jax
import numpy as np

from jaxprune import data as data_lib
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune.training import loop
from jaxprune.training import optim
from jaxprune.training import step as step_lib


class Hooked:
  """A batch source that calls ``hook(epoch, step, inputs)`` before each
  training batch (to send a signal, raise, or poison a batch)."""

  def __init__(self, source, hook):
    self._source, self._hook = source, hook

  def __getattr__(self, name):
    return getattr(self._source, name)

  def train_inputs(self, epoch, start=0):
    for k, inputs in enumerate(self._source.train_inputs(epoch, start),
                               start=start):
      yield self._hook(epoch, k, inputs) or inputs


class Crash(Exception):
  pass


def crash_at(epoch, step):
  def hook(e, k, inputs):
    if (e, k) == (epoch, step):
      raise Crash(f'crash at epoch {e} step {k}')
  return hook


def signal_at(epoch, step, signum=signal.SIGTERM):
  def hook(e, k, inputs):
    if (e, k) == (epoch, step):
      os.kill(os.getpid(), signum)
  return hook


def run_stage(tmp_path, name, dataset, num_devices, *, epochs=2, masks_fn=None,
              after_epoch=None, lr=0.05, weight_decay=5e-4, batch_size=64,
              schedule='cosine', seed=0, hook=None, tensorboard=False,
              **fit_kwargs):
  """Trains digits_cnn for ``epochs`` in ``tmp_path/name`` (resumable)."""
  spec = models.get_spec('digits_cnn').bind(dataset.num_classes)
  model = spec.module(step_lib.AXIS_NAME)
  source = data_lib.ArraySource(dataset, batch_size, 64, num_devices, seed)
  if hook is not None:
    source = Hooked(source, hook)
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
                  learning_rate_fn=lr_fn, tensorboard=tensorboard,
                  after_epoch=after_epoch, **fit_kwargs)


def strip_timing(history):
  return [{k: v for k, v in h.items()
           if k not in ('images_per_sec', 'epoch_time_s')} for h in history]


def checkpoint_steps(stage_dir):
  d = os.path.join(stage_dir, 'checkpoints')
  return sorted(int(x) for x in os.listdir(d) if x.isdigit())


def finite(tree):
  return all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(tree))
