"""The one pmap-ed train step and eval step of jaxprune.

One step body serves baseline training, masked training (fine-tuning and
Scratch-E/B of sparse models) and the Lottery-Jackpot score search. What
differs is what the optimizer trains and how it becomes the model's params:

* dense and masked training: ``trainable`` is the params pytree and the
  model sees it as is (:func:`dense_params`); masked training keeps its masks
  in the optimizer state (:func:`jaxprune.training.optim.masked_training`);
* score search: ``trainable`` is the score tree, ``frozen`` holds the
  pre-trained params, and ``model_params`` applies the straight-through
  estimator with the masks held in the ``short_restriction`` state
  (:mod:`jaxprune.jackpot.search`).

The step body is written per device with explicit collectives over
``AXIS_NAME`` (gradients, BN statistics and metrics are averaged with
``lax.pmean``), so it runs unchanged under ``jax.pmap`` or ``jax.shard_map``.
The state is passed unreplicated (``in_axes=None``/``out_axes=None``); every
value it returns is computed from reduced quantities, so it is identical on
every device.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

AXIS_NAME = 'batch'

ModelParams = Callable[[Any, Any, Any], Any]
"""``(trainable, frozen, opt_state) -> params`` the model is applied with."""


@flax.struct.dataclass
class TrainState:
  """Everything a run carries from step to step (a pytree).

  Attributes:
    step: int32 scalar, optimizer steps taken.
    trainable: the pytree that receives optax updates.
    frozen: pytrees used but never updated (masks, pre-trained params).
    batch_stats: BatchNorm running statistics.
    opt_state: optax state of ``trainable``.
  """
  step: jax.Array
  trainable: Any
  frozen: Any
  batch_stats: Any
  opt_state: Any


def dense_params(trainable, frozen, opt_state):
  """The trainable tree is the params (dense and masked training)."""
  del frozen, opt_state
  return trainable


def create_train_state(trainable, batch_stats, tx: optax.GradientTransformation,
                       frozen=None) -> TrainState:
  return TrainState(step=jnp.zeros((), jnp.int32), trainable=trainable,
                    frozen={} if frozen is None else frozen,
                    batch_stats=batch_stats, opt_state=tx.init(trainable))


def cross_entropy(logits, labels, weights=None):
  """Mean softmax cross-entropy; ``weights`` (0/1) drop padded examples."""
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  if weights is None:
    return losses.mean()
  return (losses * weights).sum() / jnp.maximum(weights.sum(), 1.0)


def train_step_body(state: TrainState, data, inputs, context, *, model,
                    tx: optax.GradientTransformation,
                    model_params: ModelParams, prepare_batch: Callable,
                    axis_name: str | None = AXIS_NAME):
  """One optimizer step on one device's share of the batch.

  Args:
    state: the (replicated) :class:`TrainState`.
    data: replicated data the batch is built from (the whole small dataset
      on device), or ``{}`` for streamed batches.
    inputs: this device's share: example ids for on-device datasets, or the
      ready batch for streamed ones. Equal sizes on every device.
    context: replicated dict with 'epoch' (int32) and 'rng' (PRNG key).
    model: Linen model whose apply takes ``train=True``.
    prepare_batch: ``(data, inputs, context, train) -> {'image', 'label'}``
      (gather, augment and normalise on device).
    tx: optax transformation of ``state.trainable``.
    model_params: how the trainable/frozen trees become the model's params
      (:func:`dense_params`, or the score search's STE).
    axis_name: the data-parallel axis (None when not mapped).

  Returns:
    (new_state, metrics) with metrics averaged over devices.
  """
  batch = prepare_batch(data, inputs, context, True)
  rng = jax.random.fold_in(context['rng'], state.step)
  if axis_name is not None:
    rng = jax.random.fold_in(rng, jax.lax.axis_index(axis_name))

  def loss_fn(trainable):
    params = model_params(trainable, state.frozen, state.opt_state)
    logits, new_vars = model.apply(
        {'params': params, 'batch_stats': state.batch_stats}, batch['image'],
        train=True, mutable=['batch_stats'], rngs={'dropout': rng})
    loss = cross_entropy(logits, batch['label'])
    return loss, (logits, new_vars['batch_stats'])

  (loss, (logits, batch_stats)), grads = jax.value_and_grad(
      loss_fn, has_aux=True)(state.trainable)
  accuracy = jnp.mean(jnp.argmax(logits, -1) == batch['label'])
  metrics = {'loss': loss, 'accuracy': accuracy}
  if axis_name is not None:
    grads, batch_stats, metrics = jax.lax.pmean(
        (grads, batch_stats, metrics), axis_name)
  # The norm of the reduced gradient: identical on every device; the loop
  # stops the stage when it or the loss is not finite.
  metrics['grad_norm'] = optax.tree.norm(grads)
  updates, opt_state = tx.update(grads, state.opt_state, state.trainable)
  trainable = optax.apply_updates(state.trainable, updates)
  new_state = state.replace(step=state.step + 1, trainable=trainable,
                            batch_stats=batch_stats, opt_state=opt_state)
  return new_state, metrics


def eval_step_body(state: TrainState, data, inputs, *, model,
                   model_params: ModelParams, prepare_batch: Callable,
                   axis_name: str | None = AXIS_NAME):
  """Sums of loss, top-1/top-5 correct and examples (``batch['mask']`` = 1)."""
  batch = prepare_batch(data, inputs, None, False)
  params = model_params(state.trainable, state.frozen, state.opt_state)
  logits = model.apply({'params': params, 'batch_stats': state.batch_stats},
                       batch['image'], train=False)
  weights = batch['mask']
  losses = optax.softmax_cross_entropy_with_integer_labels(logits,
                                                           batch['label'])
  top1 = jnp.argmax(logits, -1) == batch['label']
  top5 = jnp.any(jax.lax.top_k(logits, min(5, logits.shape[-1]))[1]
                 == batch['label'][:, None], axis=-1)
  sums = {'loss': jnp.sum(losses * weights), 'correct': jnp.sum(top1 * weights),
          'correct_top5': jnp.sum(top5 * weights), 'count': jnp.sum(weights)}
  if axis_name is not None:
    sums = jax.lax.psum(sums, axis_name)
  return sums


SEED_STRATEGIES = ('vmap', 'unroll')


def seeds_strategy(backend: str | None = None) -> str:
  """How N seeds share one step on ``backend`` (default: JAX's default).

  ``'vmap'`` batches the runs (one program, every op over N runs at once);
  on CPU that turns each conv with per-run kernels into one grouped conv,
  which XLA:CPU runs several times slower than N separate convs (ResNet-20:
  2 seeds 5.5x, 5 seeds 13.8x one seed's step), so CPU uses ``'unroll'``:
  the step body written out once per run in the one program, each op the
  one of a single run. (``lax.map``, a loop over the runs, was 25x slower
  than one run's step on XLA:CPU.)
  """
  return 'unroll' if (backend or jax.default_backend()) == 'cpu' else 'vmap'


def over_seeds(fn: Callable, strategy: str, shared: tuple[int, ...] = (1,)
               ) -> Callable:
  """``fn(*args)`` over a leading run axis of every argument but those at
  the positions ``shared`` (default: ``data`` of ``fn(state, data, inputs,
  context)``), by ``strategy`` (:data:`SEED_STRATEGIES`); both give the same
  results, and every output gets the run axis."""
  if strategy == 'vmap':
    def vmapped(*args):
      axes = tuple(None if i in shared else 0 for i in range(len(args)))
      return jax.vmap(fn, in_axes=axes)(*args)
    return vmapped
  if strategy != 'unroll':
    raise ValueError(f'unknown seeds strategy {strategy!r}; use one of '
                     f'{SEED_STRATEGIES}')

  def unrolled(*args):
    runs = jax.tree.leaves(args[0])[0].shape[0]
    outs = [fn(*[a if k in shared else pick_run(a, i)
                 for k, a in enumerate(args)]) for i in range(runs)]
    return stack_runs(outs)
  return unrolled


def pick_run(tree, index: int):
  """Run ``index`` of a pytree stacked by :func:`stack_runs`."""
  return jax.tree.map(lambda x: x[index], tree)


def pmap_train_step(*, seeds_in_parallel: int = 0,
                    seeds_strategy_name: str | None = None,
                    **static) -> Callable:
  """``jax.pmap`` of :func:`train_step_body`; only ``inputs`` is split.

  Args:
    seeds_in_parallel: 0 for one run. N >= 1 trains N independent runs in
      one compiled step over a leading seed axis of the state (each run's
      own params, batch statistics and optimizer state, stacked), of this
      device's ``inputs`` (each run's own examples: ``(devices, N,
      per-device batch)``) and of ``context`` (each run's own rngs), and the
      metrics come back with that axis. The collectives stay per run.
    seeds_strategy_name: how the runs share the step, ``'vmap'`` or
      ``'unroll'`` (default: :func:`seeds_strategy` of the backend).
    **static: see :func:`train_step_body`.
  """
  fn = functools.partial(train_step_body, **static)
  if seeds_in_parallel:
    fn = over_seeds(fn, seeds_strategy_name or seeds_strategy())
  return jax.pmap(fn, axis_name=AXIS_NAME, in_axes=(None, None, 0, None),
                  out_axes=(None, None))


def stack_runs(trees):
  """Stacks N per-run pytrees (states, contexts) on a new leading axis."""
  return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def stack_run_inputs(batches):
  """N runs' step inputs, each ``(devices, ...)``, as one host batch
  ``(devices, N, ...)`` (the run axis after the device axis)."""
  return jax.tree.map(lambda *xs: np.stack(xs, 1), *batches)


def pmap_eval_step(*, seeds_in_parallel: int = 0,
                   seeds_strategy_name: str | None = None,
                   **static) -> Callable:
  """``jax.pmap`` of :func:`eval_step_body`; only ``inputs`` is split.

  ``seeds_in_parallel`` N >= 1: the state has a leading run axis (see
  :func:`pmap_train_step`), every run sees the same ``inputs`` and the sums
  come back per run.
  """
  fn = functools.partial(eval_step_body, **static)
  if seeds_in_parallel:
    fn = over_seeds(fn, seeds_strategy_name or seeds_strategy(), shared=(1, 2))
  return jax.pmap(fn, axis_name=AXIS_NAME, in_axes=(None, None, 0),
                  out_axes=None)
