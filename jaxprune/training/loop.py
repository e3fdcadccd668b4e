"""The epoch loop shared by every stage: train, evaluate, log, checkpoint.

``fit`` runs one stage (baseline training, masked fine-tuning, Scratch-E/B or
the jackpot score search) from a :class:`jaxprune.training.step.TrainState`
to the end of its epochs, resuming from the stage's directory if a checkpoint
is there. The per-stage specifics arrive as arguments: the Linen module, the
optax transformation, ``model_params`` (see :mod:`jaxprune.training.step`)
and the batch source.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

from absl import logging
import jax
import numpy as np
import optax

from jaxprune import masks as masks_lib
from jaxprune.training import checkpoint as ckpt_lib
from jaxprune.training import devices
from jaxprune.training import metrics as metrics_lib
from jaxprune.training import step as steps_lib


@dataclasses.dataclass
class FitResult:
  state: steps_lib.TrainState
  history: list[dict[str, float]]
  wall_time_s: float

  @property
  def best_accuracy(self) -> float:
    return max((h['test_accuracy'] for h in self.history), default=0.0)

  @property
  def last_accuracy(self) -> float:
    return self.history[-1]['test_accuracy'] if self.history else 0.0

  def summary(self) -> dict[str, Any]:
    return {'best_test_accuracy': self.best_accuracy,
            'last_test_accuracy': self.last_accuracy,
            'last_test_top5': self.history[-1].get('test_top5', 0.0)
                              if self.history else 0.0,
            'epochs': len(self.history), 'wall_time_s': self.wall_time_s}


def evaluate(p_eval, state, source, eval_data) -> dict[str, float]:
  totals = None
  for inputs in source.eval_inputs():
    sums = p_eval(state, eval_data, inputs)
    totals = sums if totals is None else jax.tree.map(
        lambda a, b: a + b, totals, sums)
  totals = jax.device_get(totals)
  count = max(float(totals['count']), 1.0)
  return {'test_loss': float(totals['loss']) / count,
          'test_accuracy': float(totals['correct']) / count,
          'test_top5': float(totals['correct_top5']) / count}


def evaluate_params(model, source, variables, masks=None
                    ) -> dict[str, float]:
  """Test metrics of fixed ``variables`` (params masked by ``masks``)."""
  params = variables['params']
  if masks is not None:
    params = masks_lib.apply_masks(params, masks)
  state = steps_lib.create_train_state(params, variables['batch_stats'],
                                       optax.identity())
  state = devices.replicate(state, source.num_devices)
  _, eval_data = devices.replicate(source.device_data(), source.num_devices)
  p_eval = steps_lib.pmap_eval_step(model=model,
                                    model_params=steps_lib.dense_params,
                                    prepare_batch=source.prepare_batch)
  return evaluate(p_eval, state, source, eval_data)


def fit(*, name: str, workdir: str, model, tx: optax.GradientTransformation,
        state: steps_lib.TrainState, source,
        model_params: steps_lib.ModelParams = steps_lib.dense_params,
        epochs: int, seed: int, config_dict: dict, extra_meta: dict | None = None,
        learning_rate_fn: Callable[[int], Any] | None = None,
        checkpoint_every: int = 1, tensorboard: bool = True,
        after_epoch: Callable[[int, steps_lib.TrainState], dict] | None = None
        ) -> FitResult:
  """Trains ``state`` for ``epochs`` epochs, resuming from ``workdir``.

  Args:
    name: stage name used in logs.
    workdir: the stage's directory (checkpoints, metrics, TensorBoard).
    model, tx, state, model_params: see :mod:`jaxprune.training.step`.
    source: a batch source (:mod:`jaxprune.data.sources`).
    epochs: total epochs of the stage.
    seed: seeds data order, augmentation and dropout.
    config_dict: the stage's config; a workdir holding another is refused.
    extra_meta: JSON data stored with every checkpoint (e.g. width config).
    learning_rate_fn: step -> lr, for logging.
    checkpoint_every: save every this many epochs (and always at the end).
    after_epoch: optional hook returning extra scalars to log for an epoch.

  Returns:
    :class:`FitResult` with the final state and per-epoch metrics.
  """
  ckpt_lib.check_stage(workdir, config_dict)  # before any write/compile
  mngr = ckpt_lib.manager(workdir)
  history: list[dict[str, float]] = []
  wall_before = 0.0
  restored = ckpt_lib.restore_latest(mngr, state)
  if restored is not None:
    state, meta = restored
    history = list(meta.get('history', []))
    wall_before = float(meta.get('wall_time_s', 0.0))
    logging.info('%s: resumed from %s at epoch %d', name, workdir,
                 len(history))
  start_epoch = len(history)

  p_train = steps_lib.pmap_train_step(model=model, tx=tx,
                                      model_params=model_params,
                                      prepare_batch=source.prepare_batch)
  p_eval = steps_lib.pmap_eval_step(model=model, model_params=model_params,
                                    prepare_batch=source.prepare_batch)
  state = devices.replicate(state, source.num_devices)
  train_data, eval_data = devices.replicate(source.device_data(),
                                            source.num_devices)
  root_key = jax.random.key(seed)
  aug_rng, step_rng = devices.replicate(jax.random.split(root_key),
                                        source.num_devices)
  writer = metrics_lib.MetricWriter(workdir, tensorboard=tensorboard)
  t_start = time.time()
  try:
    for epoch in range(start_epoch, epochs):
      t0 = time.time()
      context = {'epoch': np.int32(epoch), 'aug_rng': aug_rng,
                 'rng': step_rng}
      step_metrics = []
      images = 0
      for inputs in source.train_inputs(epoch):
        state, metrics = p_train(state, train_data, inputs, context)
        step_metrics.append((metrics, inputs_size(inputs)))
        images += inputs_size(inputs)
      fetched = jax.device_get([m for m, _ in step_metrics])
      weights = np.array([n for _, n in step_metrics], np.float64)
      train_loss = float(np.average([m['loss'] for m in fetched],
                                    weights=weights))
      train_acc = float(np.average([m['accuracy'] for m in fetched],
                                   weights=weights))
      train_time = time.time() - t0
      record = {'epoch': epoch + 1, 'train_loss': train_loss,
                'train_accuracy': train_acc,
                'learning_rate': float(learning_rate_fn(
                    int(state.step) - 1)) if learning_rate_fn else 0.0}
      record.update(evaluate(p_eval, state, source, eval_data))
      if after_epoch is not None:
        record.update(after_epoch(epoch, state))
      epoch_time = time.time() - t0
      record['images_per_sec'] = images / max(train_time, 1e-9)
      record['epoch_time_s'] = epoch_time
      history.append(record)
      done = len(history) - start_epoch
      eta = (time.time() - t_start) / done * (epochs - epoch - 1)
      metrics_lib.log_epoch(name, epoch, epochs, record,
                              record['images_per_sec'], eta)
      writer.write(epoch + 1, {k: v for k, v in record.items()
                               if k != 'epoch'})
      if (epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs:
        meta = {'config': config_dict, 'history': history,
                'wall_time_s': wall_before + time.time() - t_start,
                **(extra_meta or {})}
        ckpt_lib.save(mngr, epoch + 1, state, meta)
  finally:
    writer.close()
    mngr.close()
  return FitResult(state=state, history=history,
                   wall_time_s=wall_before + time.time() - t_start)


def inputs_size(inputs) -> int:
  leaf = jax.tree.leaves(inputs)[0]
  return int(np.prod(np.shape(leaf)[:2]))
