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
from typing import Any, Callable, Sequence

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
             parallel: parallel_lib.Parallel | None = None,
             runs: int = 0) -> dict[str, float] | list[dict[str, float]]:
  """Test metrics of ``state``; with ``runs`` N >= 1 (a state stacked over
  N runs, ``p_eval`` of as many) the list of each run's metrics."""
  parallel = parallel or parallel_lib.Parallel('pmap', source.num_devices)
  totals = None
  for inputs in source.eval_inputs():
    sums = p_eval(state, eval_data, parallel.feed(inputs, _local(source)))
    totals = sums if totals is None else jax.tree.map(
        lambda a, b: a + b, totals, sums)
  totals = jax.device_get(totals)

  def metrics(t):
    count = max(float(t['count']), 1.0)
    return {'test_loss': float(t['loss']) / count,
            'test_accuracy': float(t['correct']) / count,
            'test_top5': float(t['correct_top5']) / count}
  if runs:
    return [metrics(steps_lib.pick_run(totals, i)) for i in range(runs)]
  return metrics(totals)


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
                  last_saved, run=None):
  loss, norm = float(metrics['loss']), float(metrics['grad_norm'])
  if not (np.isfinite(loss) and np.isfinite(norm)):
    raise preemption.Diverged(
        f'stage {name!r}{f" (run {run})" if run else ""} diverged at epoch '
        f'{epoch + 1}, step {step + 1} of '
        f'{steps_per_epoch} (optimizer step {global_step}): loss {loss}, '
        f'gradient norm {norm}; nothing of it was saved, the last finite '
        f'checkpoint is {last_saved or "none (the stage had saved none)"}')


@dataclasses.dataclass
class Run:
  """One run of a stage in :func:`fit_runs`: what differs between runs.

  Attributes:
    workdir: the run's stage directory (checkpoints, metrics, TensorBoard).
    state: its starting :class:`~jaxprune.training.step.TrainState` (host or
      device values; a checkpoint in ``workdir`` replaces it).
    source: its batch source (its data order).
    seed: seeds its data order, augmentation and dropout.
    config_dict: its config; a workdir holding another is refused.
    extra_meta: JSON data stored with every checkpoint (e.g. width config).
    after_epoch: optional hook ``(epoch, state) -> scalars`` to log.
  """
  workdir: str
  state: steps_lib.TrainState
  source: Any
  seed: int
  config_dict: dict
  extra_meta: dict | None = None
  after_epoch: Callable[[int, steps_lib.TrainState], dict] | None = None


def fit(*, name: str, workdir: str, model, tx: optax.GradientTransformation,
        state: steps_lib.TrainState, source,
        model_params: steps_lib.ModelParams = steps_lib.dense_params,
        epochs: int, seed: int, config_dict: dict, extra_meta: dict | None = None,
        after_epoch: Callable[[int, steps_lib.TrainState], dict] | None = None,
        **options) -> FitResult:
  """Trains ``state`` for ``epochs`` epochs, resuming from ``workdir``.

  One run of :func:`fit_runs` (see there for ``options``).

  Args:
    name: stage name used in logs.
    workdir, state, source, seed, config_dict, extra_meta, after_epoch: the
      run's :class:`Run`.
    model, tx, model_params: see :mod:`jaxprune.training.step`.
    epochs: total epochs of the stage.

  Returns:
    :class:`FitResult` with the final state and per-epoch metrics.
  """
  return fit_runs([Run(workdir, state, source, seed, config_dict, extra_meta,
                       after_epoch)], name=name, model=model, tx=tx,
                  model_params=model_params, epochs=epochs, **options)[0]


@dataclasses.dataclass
class _Track:
  """The host-side record of one run inside :func:`fit_runs`."""
  run: Run
  mngr: Any
  history: list = dataclasses.field(default_factory=list)
  wall_before: float = 0.0
  progress: _EpochProgress = dataclasses.field(default_factory=_EpochProgress)
  last_saved: str | None = None
  writer: Any = None

  def restore(self, name: str):
    """The run's state: its newest checkpoint's, or its starting one."""
    restored = ckpt_lib.restore_latest(self.mngr, self.run.state)
    if restored is None:
      return self.run.state
    state, meta, self.last_saved = restored
    self.history = list(meta.get('history', []))
    self.wall_before = float(meta.get('wall_time_s', 0.0))
    self.progress = _EpochProgress.from_meta(meta)
    logging.info('%s: resumed from %s at epoch %d, step %d', name,
                 self.run.workdir, self.progress.epoch + 1, self.progress.step)
    return state


def fit_runs(runs: Sequence[Run], *, name: str, model,
             tx: optax.GradientTransformation,
             model_params: steps_lib.ModelParams = steps_lib.dense_params,
             epochs: int, learning_rate_fn: Callable[[int], Any] | None = None,
             checkpoint_every: int = 1, checkpoint_every_steps: int = 0,
             keep_checkpoints: int = 2, tensorboard: bool = True,
             parallel: parallel_lib.Parallel | None = None,
             progress_every_steps: int = 100, progress_after_s: float = 60.0
             ) -> list[FitResult]:
  """Trains every run of ``runs`` for ``epochs`` epochs, in one step.

  Several runs (e.g. N seeds of one stage) train as one compiled step over
  a leading run axis of the state (``seeds_in_parallel`` of
  :func:`jaxprune.training.step.pmap_train_step`): each keeps its own
  params, statistics, optimizer state (masks included), data order and
  rngs, and gets the results it would get alone (within float rounding).
  Their states must share one tree structure and shapes, and ``tx`` and
  ``model_params`` must serve all of them (build them alike). Each run
  reads and writes only its own ``workdir``, exactly as alone, so a stage
  resumes with or without the others; runs whose checkpoints stand at
  different positions run one after another instead.

  Checkpoints are numbered by optimizer step. Besides every
  ``checkpoint_every`` epochs (and the last), one is written every
  ``checkpoint_every_steps`` steps inside an epoch (0: never) and on
  SIGTERM/SIGINT (then :class:`~jaxprune.training.preemption.Preempted` is
  raised); a resumed stage continues at the exact step, with the same data,
  the same partial-epoch metrics and rewritten metric files. The newest
  ``keep_checkpoints`` and the best-accuracy epoch checkpoint are kept. A
  non-finite loss or gradient norm of any run raises
  :class:`~jaxprune.training.preemption.Diverged` before anything of that
  step is saved. Damaged checkpoints are passed over (an older one is used).

  Args:
    runs: the :class:`Run` of each run.
    name: stage name used in logs.
    model, tx, model_params: see :mod:`jaxprune.training.step`.
    epochs: total epochs of the stage.
    learning_rate_fn: step -> lr, for logging.
    checkpoint_every: save every this many epochs (and always at the end).
    checkpoint_every_steps: also save every this many steps of an epoch.
    keep_checkpoints: how many of the newest checkpoints to keep.
    tensorboard: write TensorBoard events beside metrics.jsonl.
    parallel: how the step is mapped over devices (default: ``jax.pmap``
      over the source's devices), see :mod:`jaxprune.training.parallel`.
    progress_every_steps, progress_after_s: inside epochs of streamed data,
      or expected to take longer than ``progress_after_s`` seconds, a line
      every ``progress_every_steps`` steps with the loss, images/s and the
      ETA of the epoch and the stage (:mod:`jaxprune.training.progress`).

  Returns:
    A :class:`FitResult` per run, in order.
  """
  options = dict(name=name, model=model, tx=tx, model_params=model_params,
                 epochs=epochs, learning_rate_fn=learning_rate_fn,
                 checkpoint_every=checkpoint_every,
                 checkpoint_every_steps=checkpoint_every_steps,
                 keep_checkpoints=keep_checkpoints, tensorboard=tensorboard,
                 parallel=parallel, progress_every_steps=progress_every_steps,
                 progress_after_s=progress_after_s)
  if not runs:
    return []
  for run in runs:  # before any write/compile
    ckpt_lib.check_stage(run.workdir, run.config_dict)
  tracks = [_Track(run, ckpt_lib.manager(run.workdir)) for run in runs]
  states = [t.restore(name) for t in tracks]
  positions = {(t.progress.epoch, t.progress.step) for t in tracks}
  if len(runs) > 1 and len(positions) > 1:
    for t in tracks:
      t.mngr.close()
    logging.info('%s: the runs were saved at different positions %s; they '
                 'resume one after another', name, sorted(positions))
    return [fit_runs([run], **options)[0] for run in runs]
  stacked = len(runs) > 1
  source = runs[0].source
  progress = tracks[0].progress
  parallel = parallel or parallel_lib.Parallel('pmap', source.num_devices)
  n_runs = len(runs) if stacked else 0
  p_train = parallel.train_step(runs=n_runs, model=model, tx=tx,
                                model_params=model_params,
                                prepare_batch=source.prepare_batch)
  p_eval = parallel.eval_step(runs=n_runs, model=model,
                              model_params=model_params,
                              prepare_batch=source.prepare_batch)

  def over_runs(trees):  # one run's tree as it is, several stacked
    return steps_lib.stack_runs(trees) if stacked else trees[0]

  def of_run(tree, i):
    return steps_lib.pick_run(tree, i) if stacked else tree

  state = parallel.replicate(over_runs(
      [jax.device_get(s) for s in states] if stacked else states))
  train_data, eval_data = parallel.replicate(source.device_data())
  keys = [jax.random.split(jax.random.key(run.seed)) for run in runs]
  aug_rng, step_rng = parallel.replicate(
      (over_runs([k[0] for k in keys]), over_runs([k[1] for k in keys])))
  for t in tracks:
    t.writer = metrics_lib.MetricWriter(t.run.workdir, tensorboard=tensorboard,
                                        history=t.history,
                                        active=distributed.is_writer())
  t_start = time.time()
  spe = source.steps_per_epoch
  steps_log = progress_lib.StepProgress(
      name + (f' ({len(runs)} runs)' if stacked else ''), epochs, spe,
      every=progress_every_steps, after_s=progress_after_s,
      streamed=not jax.tree.leaves(train_data))

  def save(step_id, epoch_done, progress_meta):
    host = jax.device_get(state) if stacked else state
    for i, t in enumerate(tracks):
      meta = {'config': t.run.config_dict, 'history': t.history,
              'wall_time_s': t.wall_before + time.time() - t_start,
              'epoch': epoch_done, **progress_meta.get(i, {}),
              **(t.run.extra_meta or {})}
      ckpt_lib.save(t.mngr, step_id, of_run(host, i), meta)
      t.last_saved = f'{t.mngr.directory}/{step_id}'
      best = max(range(len(t.history)), default=None,
                 key=lambda j, h=t.history: h[j]['test_accuracy'])
      ckpt_lib.retain(t.mngr, keep_checkpoints,
                      t.history[best].get('checkpoint_step')
                      if best is not None else None)

  try:
    with preemption.watch_signals() as signals:
      if signals.requested:  # a signal arrived before this stage began
        raise preemption.Preempted(name, runs[0].workdir, progress.epoch,
                                   progress.step, signals.signum)
      for epoch in range(progress.epoch, epochs):
        t0 = time.time()
        resumed = [t.progress if epoch == progress.epoch else _EpochProgress()
                   for t in tracks]
        first_step = resumed[0].step
        context = {'epoch': np.int32(epoch), 'aug_rng': aug_rng,
                   'rng': step_rng}
        if stacked:
          context['epoch'] = np.full(len(runs), epoch, np.int32)
        step_metrics = [[list(m) for m in r.step_metrics] for r in resumed]
        steps_log.start_epoch(epoch, first_step)
        pending = None  # (metrics on device, examples, step): checked lagged

        def settle():
          nonlocal pending
          if pending is not None:
            metrics, n, k = jax.device_get(pending[0]), pending[1], pending[2]
            for i, t in enumerate(tracks):
              m = of_run(metrics, i)
              _check_finite(name, epoch, k, spe, epoch * spe + k + 1, m,
                            t.last_saved, t.run.workdir if stacked else None)
              step_metrics[i].append([float(m['loss']), float(m['accuracy']),
                                      n])
            steps_log.step_done(k, float(np.mean(metrics['loss'])),
                                n * len(runs))
            pending = None

        def partial_meta(k):
          return {i: {'epoch_step': k + 1, 'epoch_metrics': step_metrics[i],
                      'epoch_train_time_s': r.train_time_s + time.time() - t0}
                  for i, r in enumerate(resumed)}

        for k, inputs in enumerate(_train_inputs(runs, epoch, first_step),
                                   start=first_step):
          state, metrics = p_train(
              state, train_data, parallel.feed(inputs, _local(source)),
              context)
          settle()
          pending = (metrics, inputs_size(
              _run_inputs(inputs, 0) if stacked else inputs, source,
              parallel), k)
          mid = (checkpoint_every_steps and k + 1 < spe and
                 (k + 1) % checkpoint_every_steps == 0)
          # Every process polls after every step (they agree on the step);
          # a signal at an epoch's last step is saved by the epoch's end
          # below, so one step never holds two checkpoints.
          stop = signals.poll() and k + 1 < spe
          if stop or mid:
            settle()
            save(int(jax.device_get(state.step).flat[0]), epoch,
                 partial_meta(k))
            if signals.requested:
              raise preemption.Preempted(name, runs[0].workdir, epoch, k + 1,
                                         signals.signum)
        settle()
        epoch_time = time.time() - t0  # of training
        step_id = int(jax.device_get(state.step).flat[0])
        tests = evaluate(p_eval, state, source, eval_data, parallel, n_runs)
        tests = tests if stacked else [tests]
        save_now = (epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs
        for i, t in enumerate(tracks):
          steps = np.asarray(step_metrics[i], np.float64).reshape(-1, 3)
          train_time = resumed[i].train_time_s + epoch_time
          record = {'epoch': epoch + 1,
                    'train_loss': float(np.average(steps[:, 0],
                                                   weights=steps[:, 2])),
                    'train_accuracy': float(np.average(steps[:, 1],
                                                       weights=steps[:, 2])),
                    'learning_rate': float(learning_rate_fn(
                        step_id - 1)) if learning_rate_fn else 0.0}
          record.update(tests[i])
          if t.run.after_epoch is not None:
            record.update(t.run.after_epoch(epoch, of_run(state, i)))
          record['images_per_sec'] = float(steps[:, 2].sum()) / max(
              train_time, 1e-9)
          record['epoch_time_s'] = time.time() - t0
          if save_now or signals.requested:
            record['checkpoint_step'] = step_id
          t.history.append(record)
          done = epoch + 1 - progress.epoch
          eta = (time.time() - t_start) / done * (epochs - epoch - 1)
          metrics_lib.log_epoch(
              name + (f' [{t.run.workdir}]' if stacked else ''), epoch,
              epochs, record, record['images_per_sec'], eta,
              progress_lib.memory_words())
        if save_now or signals.requested:
          save(step_id, epoch + 1, {})
        for t in tracks:
          record = t.history[-1]
          t.writer.write(epoch + 1, {k: v for k, v in record.items()
                                     if k not in ('epoch', 'checkpoint_step')})
        if signals.requested:
          raise preemption.Preempted(name, runs[0].workdir, epoch + 1, 0,
                                     signals.signum)
  finally:
    for t in tracks:
      if t.writer is not None:
        t.writer.close()
      t.mngr.close()
  wall = time.time() - t_start
  return [FitResult(state=of_run(state, i), history=t.history,
                    wall_time_s=t.wall_before + wall)
          for i, t in enumerate(tracks)]


def _train_inputs(runs: Sequence[Run], epoch: int, start: int):
  """The step inputs of ``epoch`` from its ``start``-th batch: one run's
  batches, or every run's stacked on axis 1 (``(devices, runs, ...)``).
  Runs on one source object (a stream, which has one order) share it."""
  if len(runs) == 1:
    yield from runs[0].source.train_inputs(epoch, start)
    return
  sources = [run.source for run in runs]
  if all(s is sources[0] for s in sources):
    for inputs in sources[0].train_inputs(epoch, start):
      yield steps_lib.stack_run_inputs([inputs] * len(runs))
    return
  for batches in zip(*[s.train_inputs(epoch, start) for s in sources]):
    yield steps_lib.stack_run_inputs(batches)


def _run_inputs(inputs, index: int):
  """Run ``index``'s inputs of a stacked batch of :func:`_train_inputs`."""
  return jax.tree.map(lambda x: x[:, index], inputs)


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
