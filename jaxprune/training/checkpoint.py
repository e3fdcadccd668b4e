"""Orbax checkpoints of a stage, and the workdir's run manifest.

A stage checkpoint holds the whole :class:`jaxprune.training.step.TrainState`
(params or scores, frozen trees, BN statistics, optimizer state with any
masks, step) and a JSON ``meta`` item: the stage's config, the width config,
the epoch and the metrics history. A stage resumes from its latest
checkpoint.

A run's workdir holds ``run.json``, its manifest: the study and the full
config. :func:`check_run` refuses, before anything is compiled or written, a
workdir that holds a run with another config (listing the differing fields),
a workdir path that is a regular file, and a workdir it cannot write to.
"""

from __future__ import annotations

import json
import os
from typing import Any

from absl import logging
import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxprune import tree as tree_lib
from jaxprune.training import distributed

CHECKPOINT_DIR = 'checkpoints'
MANIFEST = 'run.json'


class WorkdirConflictError(ValueError):
  """The workdir holds a run with a different config."""


def _canonical(obj) -> Any:
  return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _dotted(obj, prefix: str = '') -> dict[str, Any]:
  """``{'optim': {'epochs': 3}}`` -> ``{'optim.epochs': 3}``."""
  if not isinstance(obj, dict) or not obj:
    return {prefix: obj}
  out = {}
  for k, v in obj.items():
    out.update(_dotted(v, f'{prefix}.{k}' if prefix else str(k)))
  return out


# Fields that say how a run is executed, not what it computes: a run may
# resume with another value (a pmap run under shard_map, one process or
# several on the same devices, seeds one at a time or N in one step).
EXECUTION_FIELDS = ('parallel', 'distributed', 'progress_every_steps',
                    'progress_after_s', 'seeds_in_parallel')


def _is_execution_field(key: str) -> bool:
  return key in EXECUTION_FIELDS or key in {f'config.{f}'
                                            for f in EXECUTION_FIELDS}


def config_differences(stored: dict, current: dict) -> list[str]:
  """``'optim.learning_rate: 0.05 -> 0.2'`` for every differing field
  (except :data:`EXECUTION_FIELDS`)."""
  a, b = _dotted(_canonical(stored)), _dotted(_canonical(current))
  return [f'{k}: {a.get(k)!r} -> {b.get(k)!r}' for k in sorted(set(a) | set(b))
          if a.get(k) != b.get(k) and not _is_execution_field(k)]


def _refuse(workdir: str, stored: dict, current: dict) -> None:
  diffs = config_differences(stored, current)
  if diffs:
    raise WorkdirConflictError(
        f'workdir {workdir} holds a run with a different config '
        f'({", ".join(diffs[:6])}{", ..." if len(diffs) > 6 else ""}). Use '
        'another --workdir, or the same config to resume.')


def check_run(workdir: str, study: str, config_dict: dict) -> None:
  """Refuses a workdir that cannot hold this run (module docstring).

  Reads only; creates nothing.
  """
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise ValueError(f'workdir {workdir} exists and is not a directory')
  path = os.path.join(workdir, MANIFEST)
  if os.path.exists(path):
    try:
      with open(path) as f:
        stored = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
      raise ValueError(f'run manifest {path} is unreadable: {e}') from e
    _refuse(workdir, {'study': stored.get('study'), **stored.get('config', {})},
            {'study': study, **config_dict})
  parent = distributed.nearest_existing_folder(workdir)
  if not os.access(parent, os.W_OK):
    raise ValueError(f'workdir {workdir} is not writable')


def write_run(workdir: str, study: str, config_dict: dict) -> None:
  """Writes the manifest (after :func:`check_run` passed)."""
  write_json(os.path.join(workdir, MANIFEST),
             {'study': study, 'config': config_dict})


def write_json(path: str, obj) -> None:
  """Writes ``obj`` as JSON atomically (temp file + rename); only process 0
  of a multi-process run writes."""
  if not distributed.is_writer():
    return
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump(obj, f, indent=2, sort_keys=True, default=str)
  os.replace(tmp, path)


class CheckpointWriteError(ValueError):
  """A checkpoint could not be written (a full disk, a vanished directory)."""


def manager(workdir: str) -> ocp.CheckpointManager:
  """The stage's checkpoints; retention is :func:`retain`'s (best + last N)."""
  directory = os.path.abspath(os.path.join(workdir, CHECKPOINT_DIR))
  return ocp.CheckpointManager(
      directory, item_names=('state', 'meta'),
      options=ocp.CheckpointManagerOptions(max_to_keep=None, create=True))


def _step_dirs(directory: str) -> list[int]:
  """Step numbers of the checkpoint directories, newest first."""
  if not os.path.isdir(directory):
    return []
  return sorted((int(d) for d in os.listdir(directory) if d.isdigit()),
                reverse=True)


def latest_meta(workdir: str) -> dict | None:
  """The JSON metadata of the newest readable checkpoint, or None.

  Unreadable (damaged) checkpoints are passed over with a warning. Reads
  files only; creates nothing.

  Raises:
    ValueError: there are checkpoints but none is readable.
  """
  directory = os.path.join(workdir, CHECKPOINT_DIR)
  steps = _step_dirs(directory)
  for step in steps:
    path = os.path.join(directory, str(step), 'meta', 'metadata')
    try:
      with open(path) as f:
        return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
      logging.warning('checkpoint %s/%d is damaged (%s); looking at an older '
                      'one', directory, step, e)
  if steps:
    raise ValueError(f'every checkpoint in {directory} is damaged (steps '
                     f'{steps}: unreadable or corrupt metadata); move them '
                     'away to start the stage again')
  return None


def check_stage(stage_dir: str, config_dict: dict) -> dict | None:
  """Refuses a stage directory whose checkpoints hold another stage config.

  Returns the stored metadata (None for a fresh stage).
  """
  meta = latest_meta(stage_dir)
  if meta is None:
    return None
  _refuse(stage_dir, meta.get('config') or {}, config_dict)
  return meta


def save(mngr: ocp.CheckpointManager, step: int, state, meta: dict) -> None:
  """Saves host copies of ``state`` (replicated, so any copy is the state).

  A damaged directory already at ``step`` is moved aside first
  (``<step>.damaged``), never overwritten or deleted.

  Raises:
    CheckpointWriteError: the checkpoint could not be written (e.g. a full
      disk); the checkpoints written before are untouched.
  """
  directory = os.fspath(mngr.directory)
  path = os.path.join(directory, str(step))
  if os.path.exists(path):
    # Every process sees it (one shared directory); process 0 alone moves
    # it, and every manager forgets it, or orbax would skip the save in a
    # process that still lists the step while the others wait for it.
    distributed.barrier(f'jaxprune: checkpoint {step} seen')
    if distributed.is_writer():
      aside, n = path + '.damaged', 1
      while os.path.exists(aside):
        n += 1
        aside = f'{path}.damaged{n}'
      os.replace(path, aside)
      logging.warning('moved the unreadable checkpoint %s aside to %s', path,
                      aside)
    distributed.barrier(f'jaxprune: checkpoint {step} moved aside')
    mngr.reload()
  try:
    mngr.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(jax.device_get(state)),
        meta=ocp.args.JsonSave(_canonical(meta))))
    mngr.wait_until_finished()
  except OSError as e:
    raise CheckpointWriteError(
        f'cannot write checkpoint {path}: {e.strerror or e}; the checkpoints '
        f'saved before stay in {directory}') from None


def retain(mngr: ocp.CheckpointManager, keep: int, best_step: int | None
           ) -> None:
  """Deletes all but the newest ``keep`` checkpoints and ``best_step``."""
  steps = sorted(mngr.all_steps(), reverse=True)
  wanted = set(steps[:max(keep, 1)]) | ({best_step} if best_step else set())
  for step in steps:
    if step not in wanted:
      mngr.delete(step)


def restore_latest(mngr: ocp.CheckpointManager, target_state):
  """``(state, meta, step)`` of the newest readable checkpoint, or None.

  A checkpoint that cannot be read (a truncated file, garbage metadata, an
  empty directory) is passed over with a warning naming it, and the next
  older one is tried; nothing is deleted.

  Raises:
    ValueError: there are checkpoints but none is readable, or they do not
      fit ``target_state`` (another architecture); the message names them.
  """
  directory = os.fspath(mngr.directory)
  steps = _step_dirs(directory)
  if not steps:
    return None
  target = jax.tree.map(
      lambda x: np.zeros(np.shape(x), np.asarray(x).dtype)
      if hasattr(x, 'shape') else x, jax.device_get(target_state))
  errors = []
  for step in steps:
    try:
      restored = mngr.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(target),
          meta=ocp.args.JsonRestore()))
      if errors:
        logging.warning('resuming from checkpoint %s/%d; newer ones are '
                        'unreadable: %s', directory, step, '; '.join(errors))
      return restored['state'], restored['meta'], step
    except Exception as e:  # orbax raises many types for unreadable files
      errors.append(f'{step}: {type(e).__name__}: {str(e)[:200]}')
      logging.warning('cannot restore checkpoint %s/%d (%s); trying an older '
                      'one', directory, step, errors[-1])
  raise ValueError(f'cannot restore any checkpoint of {directory} (another '
                   'architecture, or every one damaged): ' + ' | '.join(errors))


def restore_variables(stage_dir: str, template: dict[str, Any]):
  """``(variables, meta)`` of the newest checkpoint of a stage directory.

  Only the model variables are read (``{'params', 'batch_stats'}``; params
  are the state's ``trainable``), so the run that wrote the checkpoint may
  have used any optimizer. Nothing is created or written.

  Args:
    stage_dir: a stage directory (holding ``checkpoints/``).
    template: ``{'params': ..., 'batch_stats': ...}`` of the model the
      variables must fit (arrays or ``ShapeDtypeStruct`` leaves).

  Raises:
    ValueError: no checkpoint in ``stage_dir``, none readable (damaged ones
      are passed over), or one whose variables do not fit ``template``
      (another architecture); the message names the directory and the
      mismatching leaves.
  """
  directory = os.path.abspath(os.path.join(stage_dir, CHECKPOINT_DIR))
  steps = _step_dirs(directory)
  if not steps:
    raise ValueError(f'{stage_dir} holds no jaxprune checkpoint '
                     f'(expected {directory}/<step>/)')
  errors = []
  for step in steps:  # the newest readable one
    path = os.path.join(directory, str(step))
    try:
      restored = ocp.Checkpointer(ocp.CompositeCheckpointHandler()).restore(
          path, args=ocp.args.Composite(state=ocp.args.StandardRestore(),
                                        meta=ocp.args.JsonRestore()))
      break
    except Exception as e:  # orbax raises many types for unreadable files
      errors.append(f'{path}: {type(e).__name__}: {str(e)[:200]}')
      logging.warning('cannot read checkpoint %s; trying an older one',
                      errors[-1])
  else:
    raise ValueError('cannot read any checkpoint: ' + ' | '.join(errors))
  state = restored['state']
  out = {}
  for name, field in (('params', 'trainable'), ('batch_stats', 'batch_stats')):
    tree = state.get(field) if isinstance(state, dict) else None
    if tree is None:
      raise ValueError(f'checkpoint {path} has no {field}')
    bad = tree_lib.shape_mismatches(tree, template[name])
    if bad:
      raise ValueError(
          f'checkpoint {path} does not fit this model (another '
          f'architecture?): {name} {"; ".join(bad[:3])} ({len(bad)} '
          'mismatching leaves)')
    out[name] = jax.tree.map(np.asarray, tree)
  return out, restored['meta']
