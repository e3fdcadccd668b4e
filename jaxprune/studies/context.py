"""One run context: what every stage of a study shares, built once.

``RunContext.create(config, workdir, study)`` is the only place a study turns
its config into the things stages use:

1. the workdir is checked once (a run manifest holding another config, a
   path that is a file, a read-only place: a one-line error before anything
   is compiled or written);
2. the config is validated (model, widths, data, optimizer, seeds, then the
   study's own ``check_config``);
3. the dataset is loaded and its batch source built (once per process for
   the same ``config.data``, so sub-studies share it);
4. the model's spec is bound to the data (classes, input shape, widths) and
   its params/FLOPs counted; the study's ``check_model`` dry-runs what it
   can on abstract variables (e.g. a pruning target naming a missing layer);
5. the manifest is written.

Stages then hand params, masks and results to the next through the context:
:meth:`RunContext.large_model` (train or load the dense model),
:meth:`RunContext.prune` (a registered criterion), :meth:`RunContext.train`
(SGD stages, dense or masked) and the score search, both through the one
stage runner :meth:`RunContext.run_stage`, :meth:`RunContext.evaluate`,
:meth:`RunContext.finish` (results.json).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import zlib
from typing import Any, Callable, Mapping, Sequence

from absl import logging
import jax
import ml_collections
import numpy as np

from jaxprune import data as data_lib
from jaxprune import flops as flops_lib
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import pruning
from jaxprune import results as results_lib
from jaxprune import tree as tree_lib
from jaxprune.models import precision
from jaxprune.studies import seed_gang
from jaxprune.training import checkpoint as ckpt_lib
from jaxprune.training import devices
from jaxprune.training import distributed
from jaxprune.training import loop
from jaxprune.training import optim
from jaxprune.training import parallel as parallel_lib
from jaxprune.training import step as step_lib

IMPORTABLE_SUFFIXES = ('.pt', '.pth', '.tar', '.npz')
STREAM_CHECKPOINT_STEPS = 1000
_DATASETS: dict[str, Any] = {}


def large_model_plan(config) -> list[str]:
  """The banner words of :meth:`RunContext.large_model`'s stage."""
  if config.model.pretrained:
    return [f'load {config.model.pretrained}']
  return [f'baseline ({config.optim.epochs} epochs)']


def config_to_dict(config) -> dict:
  if isinstance(config, ml_collections.ConfigDict):
    return json.loads(config.to_json_best_effort(sort_keys=True))
  return json.loads(json.dumps(dict(config), sort_keys=True, default=str))


def native(value, field: str):
  """A config value given as a JSON string on the command line -> data."""
  if isinstance(value, str):
    try:
      return json.loads(value)
    except json.JSONDecodeError as e:
      raise ValueError(f'config.{field} is not valid JSON: {e}') from None
  if isinstance(value, ml_collections.ConfigDict):
    return value.to_dict()
  return value


def stage_key(seed: int, stage: str) -> jax.Array:
  """The init key of ``stage`` for ``seed``: ``key(seed)`` for the large
  model, ``fold_in(key(seed), crc32(stage))`` for any other stage, so no two
  stages of any seeds share an init."""
  key = jax.random.key(seed)
  if stage == 'baseline':
    return key
  return jax.random.fold_in(key, zlib.crc32(stage.encode()) & 0x7fffffff)


@dataclasses.dataclass
class StageRun:
  """What a finished stage hands on: host variables and its results entry."""
  name: str
  variables: dict[str, Any]
  state: step_lib.TrainState
  history: list[dict[str, float]]
  entry: dict[str, Any]


@dataclasses.dataclass
class _Stage:
  """One seed's stage as :meth:`RunContext.run_stage` asks for it (what
  :func:`jaxprune.training.loop.fit_runs` needs of it)."""
  name: str
  spec: Any
  state: step_lib.TrainState
  tx: Any
  seed: int
  seed_index: int
  epochs: int
  model_params: step_lib.ModelParams
  lr_fn: Any
  after_epoch: Any
  source: Any
  share: Any  # see RunContext.run_stage


def _share_key(stage: _Stage):
  """Stages of several seeds with one key run in one step: the same stage
  and model, epochs and batches, a state of one structure and shapes, and a
  ``share`` the caller vouches builds ``tx`` alike; None (no ``share``):
  alone."""
  if stage.share is None:
    return None
  leaves = jax.tree.leaves(stage.state)
  return (stage.name, stage.spec.name,
          json.dumps(stage.spec.widths, sort_keys=True, default=str),
          stage.epochs, stage.source.steps_per_epoch, stage.source.batch_size,
          str(jax.tree.structure(stage.state)),
          tuple((np.shape(x), str(np.asarray(x).dtype)) for x in leaves),
          stage.share)


def _check_common(config, num_devices: int) -> None:
  spec = models.get_spec(config.model.name)
  widths = native(config.model.widths, 'model.widths')
  if widths is not None:
    spec.validate_widths(widths)
  data_lib.check_data_config(config.data, num_devices)
  precision.check_compute_dtype(config.model.dtype)
  parallel_lib.check_mode(config.parallel)
  if config.distributed not in distributed.MODES:
    raise ValueError(f'config.distributed must be one of '
                     f'{distributed.MODES}, got {config.distributed!r}')
  o = config.optim
  if o.epochs <= 0:
    raise ValueError(f'config.optim.epochs must be positive, got {o.epochs}')
  if o.schedule not in optim.SCHEDULES:
    raise ValueError(f'unknown schedule config.optim.schedule={o.schedule!r}; '
                     f'known: {optim.SCHEDULES}')
  if o.lr_step_every < 0:
    raise ValueError('config.optim.lr_step_every must be >= 0')
  if config.checkpoint_every_epochs < 1 or config.keep_checkpoints < 1:
    raise ValueError('config.checkpoint_every_epochs and '
                     'config.keep_checkpoints must be >= 1')
  if config.progress_every_steps < 0 or config.progress_after_s < 0:
    raise ValueError('config.progress_every_steps and progress_after_s must '
                     'be >= 0')
  if config.checkpoint_every_steps < -1:
    raise ValueError('config.checkpoint_every_steps must be >= 0 (or -1: '
                     'auto)')
  for field, low in (('seed', 0), ('seeds', 1), ('seeds_in_parallel', 1)):
    v = config[field]
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
      raise ValueError(f'config.{field} must be an int >= {low}, got {v!r}')


def _load_dataset(config, num_devices: int):
  key = json.dumps([config_to_dict(config.data), num_devices, config.seed],
                   sort_keys=True)
  if key not in _DATASETS:
    _DATASETS[key] = data_lib.load_data(config.data, num_devices=num_devices,
                                        seed=config.seed)
  return _DATASETS[key]


class RunContext:
  """Data, source, bound model spec and FLOPs of one run (module docstring).

  Attributes:
    config: the (locked) config; ``config_dict`` its JSON form.
    workdir: the run's directory.
    study: the study's registered name.
    num_devices: local devices the steps are mapped over.
    dataset: the loaded dataset (arrays or a stream).
    source: its batch source.
    spec: the model's spec bound to the data and ``config.model.widths``.
    counts: params and FLOPs of ``spec``'s model.
  """

  def __init__(self, config, workdir: str, study: str, num_devices: int,
               dataset, source, spec, counts: flops_lib.Counts):
    self.config = config
    self.config_dict = config_to_dict(config)
    self.workdir = workdir
    self.study = study
    self.num_devices = num_devices
    self.parallel = parallel_lib.Parallel(config.parallel, num_devices)
    self.dataset = dataset
    self.source = source
    self.spec = spec
    self.counts = counts
    self.started = time.time()
    self._examples = None

  @classmethod
  def create(cls, config, workdir: str, study: str, *,
             check_config: Callable[[Any], None] | None = None,
             check_model: Callable[['RunContext'], None] | None = None,
             plan: Sequence[str] = ()) -> RunContext:
    """Checks, loads and binds everything (module docstring, steps 1-5).

    ``plan`` names the stages the study will run, for the start banner.
    """
    ckpt_lib.check_run(workdir, study, config_to_dict(config))
    distributed.check_processes_agree(config_to_dict(config), workdir)
    num_devices = devices.resolve_num_devices(config.num_devices)
    _check_common(config, num_devices)
    if check_config is not None:
      check_config(config)
    dataset = _load_dataset(config, num_devices)
    source = data_lib.make_source(config.data, dataset,
                                  num_devices=num_devices, seed=config.seed)
    spec = models.get_spec(config.model.name).bind(
        source.num_classes, native(config.model.widths, 'model.widths'),
        source.input_shape)
    counts = flops_lib.count(spec.module(), spec.input_shape)
    ctx = cls(config, workdir, study, num_devices, dataset, source, spec,
              counts)
    if check_model is not None:
      check_model(ctx)
    ckpt_lib.write_run(workdir, study, ctx.config_dict)
    logging.info(
        '%s: %s on %s, %s params, %s FLOPs; %d train / %d test examples; %d '
        '%s device(s) over %d process(es) (%s), batch %d (%d per device), %d '
        'steps/epoch; stages: %s', study, spec.name, config.data.name,
        f'{counts.params:,}', f'{counts.flops:,}', source.num_train,
        source.num_test, num_devices, jax.local_devices()[0].platform,
        jax.process_count(), config.parallel, source.batch_size,
        source.batch_size // num_devices, source.steps_per_epoch,
        ' -> '.join(plan) or study)
    return ctx

  # ---- places ------------------------------------------------------------

  def seed_dir(self, seed_index: int) -> str:
    """The workdir of one seed (``seed{i}/`` when the run has several)."""
    if self.config.seeds == 1:
      return self.workdir
    return os.path.join(self.workdir, f'seed{seed_index}')

  def stage_dir(self, stage: str, seed_index: int = 0) -> str:
    return os.path.join(self.seed_dir(seed_index), stage)

  def source_for(self, seed: int, batch_size: int | None = None):
    """The batch source with ``seed``'s data order (and a batch size)."""
    source = self.source
    if batch_size is not None:
      source = source.with_batch_size(batch_size)
    if isinstance(source, data_lib.ArraySource) and source.seed != seed:
      source = dataclasses.replace(source, seed=seed)
    return source

  def map_seeds(self, fn: Callable[[int], Any]) -> list[Any]:
    """``[fn(i) for i in range(config.seeds)]``, ``fn`` one seed's work.

    With ``config.seeds_in_parallel`` N > 1, N seeds at a time run as a
    gang (:mod:`jaxprune.studies.seed_gang`): their stages of one name
    (:meth:`train`'s, same arguments but the seed's own variables, masks,
    init and data order) train as one step over a stacked state, each seed
    still with its own directories, checkpoints and results. Stages that
    cannot share a step (other widths or epochs) run one after another.
    """
    seeds = self.config.seeds
    n = min(self.config.seeds_in_parallel, seeds)
    if n <= 1 or seed_gang.in_gang():
      return [fn(i) for i in range(seeds)]
    out: list[Any] = []
    for start in range(0, seeds, n):
      indices = range(start, min(start + n, seeds))
      logging.info('%s: seeds %d-%d of %d as one gang (their stages of one '
                   'name in one step)', self.study, indices[0], indices[-1],
                   seeds)
      out += seed_gang.run(fn, indices, self._fit_stages, _share_key)
    return out

  # ---- models ------------------------------------------------------------

  def module(self, spec):
    """``spec``'s module for the steps (BN synchronised if configured)."""
    return precision.with_compute_dtype(
        spec.module(step_lib.AXIS_NAME if self.config.model.sync_bn
                    else None), self.config.model.dtype)

  def count(self, spec, masks=None) -> flops_lib.Counts:
    """Params and FLOPs of ``spec``'s model (non-zeros only with masks)."""
    return flops_lib.count(spec.module(), spec.input_shape, masks=masks)

  def init(self, spec, seed: int, stage: str = 'baseline'
           ) -> dict[str, Any]:
    """Fresh host variables of ``spec`` for ``stage`` of ``seed``."""
    return jax.device_get(spec.init(stage_key(seed, stage)))

  def abstract_variables(self, spec=None) -> dict[str, Any]:
    return (spec or self.spec).abstract_variables()

  # ---- the dense model ---------------------------------------------------

  def large_model(self, seed: int, seed_index: int = 0, pre: Sequence = (),
                  init: Mapping[str, Any] | None = None
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trained dense model and its results entry.

    ``config.model.pretrained`` empty: the ``baseline`` stage trains it
    (resumable) from ``init`` (default :meth:`init` of ``seed``). Else it is loaded: a jaxprune stage directory (or a run
    directory with a ``baseline/`` stage) restores its latest checkpoint; a
    ``.pt``/``.pth``/``.tar``/``.npz`` file is imported from the official
    PyTorch layout. Either is validated against the model and evaluated.
    """
    pretrained = self.config.model.pretrained
    if not pretrained:
      start = dict(init) if init is not None else self.init(self.spec, seed)
      run = self.train('baseline', self.spec, start,
                       seed=seed, seed_index=seed_index,
                       epochs=self.config.optim.epochs,
                       learning_rate=self.config.optim.learning_rate,
                       pre=pre)
      return run.variables, run.entry
    variables, history = self.load_pretrained(pretrained)
    metrics = self.evaluate(self.spec, variables)
    best = max([h['test_accuracy'] for h in history],
               default=metrics['test_accuracy'])
    return variables, results_lib.stage_entry(
        params=self.counts.params, flops=self.counts.flops, best=best,
        last=metrics['test_accuracy'], epochs=len(history), source=pretrained)

  def load_pretrained(self, path: str) -> tuple[dict[str, Any], list]:
    """``(variables, history)`` of a checkpoint (see :meth:`large_model`)."""
    if os.path.isfile(path):
      if not path.endswith(IMPORTABLE_SUFFIXES):
        raise ValueError(f'config.model.pretrained={path!r} is a file but not '
                         f'a PyTorch/npz checkpoint {IMPORTABLE_SUFFIXES}')
      from jaxprune import importers  # pylint: disable=g-import-not-at-top
      params, stats = importers.import_state_dict(
          importers.load_checkpoint_file(path), self.spec.name,
          self.spec.num_classes, self.spec.widths)
      return jax.device_get({'params': params, 'batch_stats': stats}), []
    stage_dir = path
    if (not os.path.isdir(os.path.join(path, ckpt_lib.CHECKPOINT_DIR))
        and os.path.isdir(os.path.join(path, 'baseline'))):
      stage_dir = os.path.join(path, 'baseline')
    variables, meta = ckpt_lib.restore_variables(stage_dir,
                                                 self.abstract_variables())
    return variables, list(meta.get('history', []))

  # ---- pruning -----------------------------------------------------------

  def examples(self) -> dict[str, np.ndarray]:
    """``config.prune.examples`` training examples for data-driven
    criteria (host arrays, read once)."""
    if self._examples is None:
      self._examples = self.source.examples(self.config.prune.examples)
    return self._examples

  def prune(self, criterion: pruning.Criterion, spec, variables, target,
            seed: int, tag: str = '') -> pruning.PruneResult:
    """Runs a registered criterion with this run's batch, an rng (one per
    ``tag``) and ``config.prune.options``."""
    options = native(self.config.prune.options, 'prune.options') or {}
    key = 'prune/' + criterion.name + (f'/{tag}' if tag else '')
    batch = self.examples()
    start = time.perf_counter()
    result = criterion(variables, spec, target, batch=batch,
                       rng=stage_key(seed, key), **options)
    jax.block_until_ready((result.masks, result.keep, result.variables))
    logging.info('prune: %s%s on %s in %.1fs', criterion.name,
                 f' ({tag})' if tag else '', _target_words(target, batch),
                 time.perf_counter() - start)
    return result

  # ---- stages --------------------------------------------------------------

  def evaluate(self, spec, variables, masks=None) -> dict[str, float]:
    """Test metrics of fixed variables (params masked by ``masks``)."""
    return loop.evaluate_params(self.module(spec), self.source, variables,
                                masks, parallel=self.parallel)

  def checkpoint_every_steps(self, source) -> int:
    """``config.checkpoint_every_steps``; -1 means 1000 for streamed data
    (an ImageNet epoch is not lost whole) and never for array data."""
    every = self.config.checkpoint_every_steps
    if every >= 0:
      return every
    return STREAM_CHECKPOINT_STEPS if isinstance(
        source, data_lib.StreamingSource) else 0

  def milestones(self, epochs: int) -> list[int] | None:
    """Step-schedule milestones: every ``config.optim.lr_step_every``
    epochs if set (ImageNet), else None (50 % / 75 %)."""
    every = self.config.optim.lr_step_every
    return optim.every_n_milestones(epochs, every) if every else None

  def train(self, name: str, spec, variables, *, seed: int,
            seed_index: int = 0, epochs: int, learning_rate: float,
            schedule: str | None = None, milestones=None,
            weight_decay: float | None = None, masks=None, pre: Sequence = (),
            source=None, optimizer: Callable[[Any], Any] | None = None
            ) -> StageRun:
    """SGD training of ``variables`` (masked if ``masks``) as one stage.

    Optimizer: :func:`jaxprune.training.optim.sgd_coupled` with
    ``config.optim``'s momentum and weight decay (unless given), the
    per-epoch ``schedule`` (default ``config.optim.schedule``) and
    ``milestones`` (default :meth:`milestones`), ``pre`` transforms first;
    with ``masks`` wrapped in :func:`~jaxprune.training.optim.
    masked_training` (pruned weights stay exactly 0). ``optimizer``, given,
    builds the transformation from the schedule instead (e.g. SSS's APG +
    NAG, :func:`jaxprune.pruning.sss.sss_optimizer`).
    """
    source = source or self.source_for(seed)
    o = self.config.optim
    schedule = schedule or o.schedule
    milestones = self.milestones(epochs) if milestones is None else milestones
    lr_fn = optim.per_epoch_schedule(learning_rate, epochs,
                                     source.steps_per_epoch, schedule,
                                     milestones)
    if optimizer is not None:
      tx = optimizer(lr_fn)
    else:
      tx = optim.sgd_coupled(lr_fn, o.momentum,
                             o.weight_decay if weight_decay is None
                             else weight_decay, pre=pre)
    params = variables['params']
    if masks is not None:
      masks_lib.check_masks(masks, params)
      params = masks_lib.apply_masks(params, masks)
      tx = optim.masked_training(tx, masks)
    state = step_lib.create_train_state(params, variables['batch_stats'], tx)
    # Everything tx is built from but the seed's masks (held in the state).
    share = (learning_rate, schedule, repr(milestones), weight_decay,
             optimizer is None, masks is None, len(pre))
    return self.run_stage(name, spec, state, tx, seed=seed,
                          seed_index=seed_index, epochs=epochs, lr_fn=lr_fn,
                          source=source, masks=masks, share=share)

  def run_stage(self, name: str, spec, state: step_lib.TrainState, tx, *,
                seed: int, seed_index: int = 0, epochs: int,
                model_params: step_lib.ModelParams = step_lib.dense_params,
                lr_fn=None, after_epoch=None, source=None, masks=None,
                params_of: Callable[[Any], Any] | None = None,
                share: Any = None) -> StageRun:
    """The one stage runner: every training stage and the score search.

    Runs :func:`jaxprune.training.loop.fit_runs` in ``stage_dir(name)`` (it
    resumes from the stage's checkpoint) and returns the stage's host
    variables (``params_of(state)``, default ``state.trainable``) and its
    results entry (params and FLOPs of ``spec``, non-zeros only with
    ``masks``). In a gang of seeds (:meth:`map_seeds`) the stage waits for
    the other seeds' and trains with those of the same ``share`` (a
    hashable the caller vouches makes ``tx``, ``model_params`` and
    ``lr_fn`` alike for every seed; None: alone).
    """
    stage = _Stage(name, spec, state, tx, seed, seed_index, epochs,
                   model_params, lr_fn, after_epoch,
                   source or self.source_for(seed), share)
    if seed_gang.in_gang():
      fitted = seed_gang.submit(stage)
    else:
      fitted, = self._fit_stages([stage])
    host = jax.device_get(fitted.state)
    params = params_of(host) if params_of else host.trainable
    counts = self.count(spec, masks)
    entry = results_lib.stage_entry(
        params=counts.params, flops=counts.flops, best=fitted.best_accuracy,
        last=fitted.last_accuracy, epochs=len(fitted.history),
        wall_time_s=fitted.wall_time_s,
        last_test_top5=fitted.history[-1].get('test_top5', 0.0)
        if fitted.history else 0.0)
    logging.info('%s: best test accuracy %.4f, last %.4f, %s params, %s '
                 'FLOPs, %.1fs', name, entry['best_test_accuracy'],
                 entry['last_test_accuracy'], f'{counts.params:,}',
                 f'{counts.flops:,}', fitted.wall_time_s)
    return StageRun(name, {'params': params,
                           'batch_stats': host.batch_stats}, host,
                    fitted.history, entry)

  def _fit_stages(self, stages: list[_Stage]) -> list[loop.FitResult]:
    """One stage of one seed, or of several seeds in one step (their
    ``_share_key`` is the same)."""
    first = stages[0]
    runs = [loop.Run(
        workdir=self.stage_dir(s.name, s.seed_index), state=s.state,
        source=s.source, seed=s.seed,
        config_dict={'study': self.study, 'config': self.config_dict,
                     'stage': s.name, 'seed': s.seed},
        extra_meta={'model': s.spec.name, 'widths': s.spec.widths},
        after_epoch=s.after_epoch) for s in stages]
    return loop.fit_runs(
        runs, name=first.name, model=self.module(first.spec), tx=first.tx,
        model_params=first.model_params, epochs=first.epochs,
        learning_rate_fn=first.lr_fn,
        checkpoint_every=self.config.checkpoint_every_epochs,
        checkpoint_every_steps=self.checkpoint_every_steps(first.source),
        keep_checkpoints=self.config.keep_checkpoints,
        tensorboard=self.config.tensorboard, parallel=self.parallel,
        progress_every_steps=self.config.progress_every_steps,
        progress_after_s=self.config.progress_after_s)

  def evaluated_entry(self, spec, variables, masks=None, **extra
                      ) -> dict[str, Any]:
    """A results entry of fixed variables (no training: best == last)."""
    acc = self.evaluate(spec, variables, masks)['test_accuracy']
    counts = self.count(spec, masks)
    return results_lib.stage_entry(params=counts.params, flops=counts.flops,
                                   best=acc, last=acc, epochs=0, **extra)

  # ---- artifacts and results -------------------------------------------------

  def save_arrays(self, path: str, tree, dtype=None) -> str:
    """``path`` (.npz): one array per leaf path of ``tree`` (cast to
    ``dtype`` if given, else exact), written atomically by process 0; every
    process returns once it is there."""
    if distributed.is_writer():
      os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
      tmp = path + '.tmp.npz'
      np.savez(tmp, **{tree_lib.path_str(p): np.asarray(m, dtype)
                       for p, m in tree_lib.flatten(tree)})
      os.replace(tmp, path)
    distributed.barrier(f'saved {path}')
    return path

  def load_arrays(self, path: str, dtype=None) -> dict[str, Any]:
    """The tree :meth:`save_arrays` wrote (leaves cast to ``dtype``)."""
    try:
      with np.load(path) as data:
        return tree_lib.unflatten([(k, data[k] if dtype is None
                                    else data[k].astype(dtype))
                                   for k in data.files])
    except (OSError, ValueError) as e:
      raise ValueError(f'{path} is not a readable .npz of arrays: {e}'
                       ) from None

  def save_masks(self, name: str, masks) -> str:
    """``<workdir>/<name>.npz``: a full mask tree, one array per path
    (written by process 0; every process returns once it is there)."""
    return self.save_arrays(os.path.join(self.workdir, f'{name}.npz'),
                            masks, np.uint8)

  def load_masks(self, path: str, params) -> Any:
    """A mask tree saved by :meth:`save_masks`, checked against ``params``."""
    if not os.path.isfile(path):
      raise ValueError(f'no mask file {path}')
    masks = self.load_arrays(path, np.float32)
    masks_lib.check_masks(masks, params, f'masks of {path}')
    return masks

  def finish(self, summary: Mapping[str, Any], stages: Mapping[str, Any],
             details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Writes and returns ``results.json`` (the schema of
    :mod:`jaxprune.results`)."""
    out = results_lib.make(
        self.study, summary=summary, stages=stages, details=details or {},
        config=self.config_dict, device=devices.device_info(self.num_devices),
        wall_time_s=time.time() - self.started)
    results_lib.write(self.workdir, out)
    return out


def open_run(config, workdir: str, study: str) -> dict:
  """The manifest check and write of a study that builds no data itself
  (one that only composes other studies); returns the config dict."""
  config_dict = config_to_dict(config)
  ckpt_lib.check_run(workdir, study, config_dict)
  ckpt_lib.write_run(workdir, study, config_dict)
  return config_dict


def _target_words(target, batch) -> str:
  """'3 units, 512 examples' for the prune log line."""
  units = (f'{len(target)} units' if isinstance(target, dict)
           else f'target {target!r}')
  if batch is None:
    return units
  n = len(next(iter(batch.values())))
  return f'{units}, {n} examples'
