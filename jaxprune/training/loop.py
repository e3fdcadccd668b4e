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
from jaxprune.training import distributed
from jaxprune.training import metrics as metrics_lib
from jaxprune.training import parallel as parallel_lib
from jaxprune.training import preemption
from jaxprune.training import progress as progress_lib
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


def evaluate(p_eval, state, source, eval_data,
             parallel: parallel_lib.Parallel | None = None
             ) -> dict[str, float]:
  parallel = parallel or parallel_lib.Parallel('pmap', source.num_devices)
  totals = None
  for inputs in source.eval_inputs():
    sums = p_eval(state, eval_data, parallel.feed(inputs, _local(source)))
    totals = sums if totals is None else jax.tree.map(
        lambda a, b: a + b, totals, sums)
  totals = jax.device_get(totals)
  count = max(float(totals['count']), 1.0)
  return {'test_loss': float(totals['loss']) / count,
          'test_accuracy': float(totals['correct']) / count,
          'test_top5': float(totals['correct_top5']) / count}


def evaluate_params(model, source, variables, masks=None,
                    parallel: parallel_lib.Parallel | None = None
                    ) -> dict[str, float]:
  """Test metrics of fixed ``variables`` (params masked by ``masks``)."""
  parallel = parallel or parallel_lib.Parallel('pmap', source.num_devices)
  params = variables['params']
  if masks is not None:
    params = masks_lib.apply_masks(params, masks)
  state = steps_lib.create_train_state(params, variables['batch_stats'],
                                       optax.identity())
  state = parallel.replicate(state)
  _, eval_data = parallel.replicate(source.device_data())
  p_eval = parallel.eval_step(model=model,
                              model_params=steps_lib.dense_params,
                              prepare_batch=source.prepare_batch)
  return evaluate(p_eval, state, source, eval_data, parallel)


@dataclasses.dataclass
class _EpochProgress:
  """Where a stage is inside an epoch (what a mid-epoch checkpoint holds)."""
  epoch: int = 0
  step: int = 0  # steps of ``epoch`` done
  step_metrics: list = dataclasses.field(default_factory=list)  # [loss, acc, n]
  train_time_s: float = 0.0

  @classmethod
  def from_meta(cls, meta: dict) -> _EpochProgress:
    history = meta.get('history', [])
    return cls(epoch=int(meta.get('epoch', len(history))),
               step=int(meta.get('epoch_step', 0)),
               step_metrics=[list(m) for m in meta.get('epoch_metrics', [])],
               train_time_s=float(meta.get('epoch_train_time_s', 0.0)))


def _check_finite(name, epoch, step, steps_per_epoch, global_step, metrics,
                  last_saved):
  loss, norm = float(metrics['loss']), float(metrics['grad_norm'])
  if not (np.isfinite(loss) and np.isfinite(norm)):
    raise preemption.Diverged(
        f'stage {name!r} diverged at epoch {epoch + 1}, step {step + 1} of '
        f'{steps_per_epoch} (optimizer step {global_step}): loss {loss}, '
        f'gradient norm {norm}; nothing of it was saved, the last finite '
        f'checkpoint is {last_saved or "none (the stage had saved none)"}')


def fit(*, name: str, workdir: str, model, tx: optax.GradientTransformation,
        state: steps_lib.TrainState, source,
        model_params: steps_lib.ModelParams = steps_lib.dense_params,
        epochs: int, seed: int, config_dict: dict, extra_meta: dict | None = None,
        learning_rate_fn: Callable[[int], Any] | None = None,
        checkpoint_every: int = 1, checkpoint_every_steps: int = 0,
        keep_checkpoints: int = 2, tensorboard: bool = True,
        after_epoch: Callable[[int, steps_lib.TrainState], dict] | None = None,
        parallel: parallel_lib.Parallel | None = None,
        progress_every_steps: int = 100, progress_after_s: float = 60.0
        ) -> FitResult:
  """Trains ``state`` for ``epochs`` epochs, resuming from ``workdir``.

  Checkpoints are numbered by optimizer step. Besides every
  ``checkpoint_every`` epochs (and the last), one is written every
  ``checkpoint_every_steps`` steps inside an epoch (0: never) and on
  SIGTERM/SIGINT (then :class:`~jaxprune.training.preemption.Preempted` is
  raised); a resumed stage continues at the exact step, with the same data,
  the same partial-epoch metrics and rewritten metric files. The newest
  ``keep_checkpoints`` and the best-accuracy epoch checkpoint are kept. A
  non-finite loss or gradient norm raises
  :class:`~jaxprune.training.preemption.Diverged` before anything of that
  step is saved. Damaged checkpoints are passed over (an older one is used).

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
    checkpoint_every_steps: also save every this many steps of an epoch.
    keep_checkpoints: how many of the newest checkpoints to keep.
    tensorboard: write TensorBoard events beside metrics.jsonl.
    after_epoch: optional hook returning extra scalars to log for an epoch.
    parallel: how the step is mapped over devices (default: ``jax.pmap``
      over ``source.num_devices``), see :mod:`jaxprune.training.parallel`.
    progress_every_steps, progress_after_s: inside epochs of streamed data,
      or expected to take longer than ``progress_after_s`` seconds, a line
      every ``progress_every_steps`` steps with the loss, images/s and the
      ETA of the epoch and the stage (:mod:`jaxprune.training.progress`).

  Returns:
    :class:`FitResult` with the final state and per-epoch metrics.
  """
  ckpt_lib.check_stage(workdir, config_dict)  # before any write/compile
  mngr = ckpt_lib.manager(workdir)
  history: list[dict[str, float]] = []
  wall_before, progress, last_saved = 0.0, _EpochProgress(), None
  restored = ckpt_lib.restore_latest(mngr, state)
  if restored is not None:
    state, meta, last_saved = restored
    history = list(meta.get('history', []))
    wall_before = float(meta.get('wall_time_s', 0.0))
    progress = _EpochProgress.from_meta(meta)
    logging.info('%s: resumed from %s at epoch %d, step %d', name, workdir,
                 progress.epoch + 1, progress.step)

  parallel = parallel or parallel_lib.Parallel('pmap', source.num_devices)
  p_train = parallel.train_step(model=model, tx=tx, model_params=model_params,
                                prepare_batch=source.prepare_batch)
  p_eval = parallel.eval_step(model=model, model_params=model_params,
                              prepare_batch=source.prepare_batch)
  state = parallel.replicate(state)
  train_data, eval_data = parallel.replicate(source.device_data())
  root_key = jax.random.key(seed)
  aug_rng, step_rng = parallel.replicate(jax.random.split(root_key))
  writer = metrics_lib.MetricWriter(workdir, tensorboard=tensorboard,
                                    history=history,
                                    active=distributed.is_writer())
  t_start = time.time()
  spe = source.steps_per_epoch
  steps_log = progress_lib.StepProgress(
      name, epochs, spe, every=progress_every_steps, after_s=progress_after_s,
      streamed=not jax.tree.leaves(train_data))

  def save(step_id, epoch_done, progress_meta):
    nonlocal last_saved
    meta = {'config': config_dict, 'history': history,
            'wall_time_s': wall_before + time.time() - t_start,
            'epoch': epoch_done, **progress_meta, **(extra_meta or {})}
    ckpt_lib.save(mngr, step_id, state, meta)
    last_saved = f'{mngr.directory}/{step_id}'
    best = max(range(len(history)), default=None,
               key=lambda i: history[i]['test_accuracy'])
    ckpt_lib.retain(mngr, keep_checkpoints,
                    history[best].get('checkpoint_step') if best is not None
                    else None)

  try:
    with preemption.watch_signals() as signals:
      if signals.requested:  # a signal arrived before this stage began
        raise preemption.Preempted(name, workdir, progress.epoch,
                                   progress.step, signals.signum)
      for epoch in range(progress.epoch, epochs):
        t0 = time.time()
        resumed = progress if epoch == progress.epoch else _EpochProgress()
        context = {'epoch': np.int32(epoch), 'aug_rng': aug_rng,
                   'rng': step_rng}
        step_metrics = [list(m) for m in resumed.step_metrics]
        steps_log.start_epoch(epoch, resumed.step)
        pending = None  # (metrics on device, examples, step): checked lagged

        def settle():
          nonlocal pending
          if pending is not None:
            metrics, n, k = jax.device_get(pending[0]), pending[1], pending[2]
            _check_finite(name, epoch, k, spe, epoch * spe + k + 1, metrics,
                          last_saved)
            step_metrics.append([float(metrics['loss']),
                                 float(metrics['accuracy']), n])
            steps_log.step_done(k, float(metrics['loss']), n)
            pending = None

        for k, inputs in enumerate(source.train_inputs(epoch, resumed.step),
                                   start=resumed.step):
          state, metrics = p_train(
              state, train_data, parallel.feed(inputs, _local(source)),
              context)
          settle()
          pending = (metrics, inputs_size(inputs, source, parallel), k)
          mid = (checkpoint_every_steps and k + 1 < spe and
                 (k + 1) % checkpoint_every_steps == 0)
          # Every process polls after every step (they agree on the step);
          # a signal at an epoch's last step is saved by the epoch's end
          # below, so one step never holds two checkpoints.
          stop = signals.poll() and k + 1 < spe
          if stop or mid:
            settle()
            save(int(state.step), epoch, {
                'epoch_step': k + 1, 'epoch_metrics': step_metrics,
                'epoch_train_time_s': resumed.train_time_s + time.time() - t0})
            if signals.requested:
              raise preemption.Preempted(name, workdir, epoch, k + 1,
                                         signals.signum)
        settle()
        steps = np.asarray(step_metrics, np.float64).reshape(-1, 3)
        train_time = resumed.train_time_s + time.time() - t0
        record = {'epoch': epoch + 1,
                  'train_loss': float(np.average(steps[:, 0],
                                                 weights=steps[:, 2])),
                  'train_accuracy': float(np.average(steps[:, 1],
                                                     weights=steps[:, 2])),
                  'learning_rate': float(learning_rate_fn(
                      int(state.step) - 1)) if learning_rate_fn else 0.0}
        record.update(evaluate(p_eval, state, source, eval_data, parallel))
        if after_epoch is not None:
          record.update(after_epoch(epoch, state))
        record['images_per_sec'] = float(steps[:, 2].sum()) / max(train_time,
                                                                  1e-9)
        record['epoch_time_s'] = time.time() - t0
        save_now = (epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs
        if save_now or signals.requested:
          record['checkpoint_step'] = int(state.step)
        history.append(record)
        done = epoch + 1 - progress.epoch
        eta = (time.time() - t_start) / done * (epochs - epoch - 1)
        metrics_lib.log_epoch(name, epoch, epochs, record,
                              record['images_per_sec'], eta,
                              progress_lib.memory_words())
        if save_now or signals.requested:
          save(int(state.step), epoch + 1, {})
        writer.write(epoch + 1, {k: v for k, v in record.items()
                                 if k not in ('epoch', 'checkpoint_step')})
        if signals.requested:
          raise preemption.Preempted(name, workdir, epoch + 1, 0,
                                     signals.signum)
  finally:
    writer.close()
    mngr.close()
  return FitResult(state=state, history=history,
                   wall_time_s=wall_before + time.time() - t_start)


def _local(source) -> bool:
  """Whether ``source`` yields this process's rows only (streams)."""
  return bool(getattr(source, 'local_inputs', False))


def inputs_size(inputs, source=None, parallel=None) -> int:
  """Examples of a global batch (``inputs`` of this process alone are
  counted for every process)."""
  leaf = jax.tree.leaves(inputs)[0]
  n = int(np.prod(np.shape(leaf)[:2]))
  if source is not None and _local(source) and parallel is not None:
    n = n * parallel.num_devices // np.shape(leaf)[0]
  return n
