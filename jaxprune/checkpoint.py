"""Orbax checkpoints of a run: the TrainState plus JSON metadata.

A checkpoint holds the whole :class:`jaxprune.steps.TrainState` (params or
scores, frozen trees such as masks, BN statistics, optimizer state and step)
and a JSON ``meta`` item: the experiment config, the width config, the epoch
and the metrics history. A run resumes from the latest checkpoint of its
workdir; a workdir whose stored config differs from the current one is refused
before anything is compiled or written.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

CHECKPOINT_DIR = 'checkpoints'


class WorkdirConflictError(ValueError):
  """The workdir holds a run with a different config."""


def _canonical(obj) -> Any:
  return json.loads(json.dumps(obj, sort_keys=True, default=str))


def manager(workdir: str, max_to_keep: int = 2) -> ocp.CheckpointManager:
  directory = os.path.abspath(os.path.join(workdir, CHECKPOINT_DIR))
  return ocp.CheckpointManager(
      directory, item_names=('state', 'meta'),
      options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                           create=True))


def latest_meta(workdir: str) -> dict | None:
  """The JSON metadata of the newest checkpoint in ``workdir``, or None.

  Reads files only; creates nothing.
  """
  directory = os.path.join(workdir, CHECKPOINT_DIR)
  if not os.path.isdir(directory):
    return None
  steps = sorted((int(d) for d in os.listdir(directory) if d.isdigit()),
                 reverse=True)
  for step in steps:
    path = os.path.join(directory, str(step), 'meta', 'metadata')
    if os.path.exists(path):
      try:
        with open(path) as f:
          return json.load(f)
      except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f'checkpoint metadata {path} is corrupt: {e}') from e
  return None


def check_workdir(workdir: str, config_dict: dict) -> dict | None:
  """Refuses a workdir that holds a run with a different config.

  Returns the stored metadata (None for a fresh workdir).
  """
  meta = latest_meta(workdir)
  if meta is None:
    return None
  stored = _canonical(meta.get('config'))
  current = _canonical(config_dict)
  if stored != current:
    diffs = sorted(k for k in set(stored) | set(current)
                   if stored.get(k) != current.get(k))
    details = ', '.join(f'{k}: {stored.get(k)!r} -> {current.get(k)!r}'
                        for k in diffs[:6])
    raise WorkdirConflictError(
        f'workdir {workdir} holds a run with a different config ({details}). '
        'Use another --workdir, or the same config to resume.')
  return meta


def save(mngr: ocp.CheckpointManager, step: int, state, meta: dict) -> None:
  """Saves host copies of ``state`` (replicated, so any copy is the state)."""
  mngr.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave(jax.device_get(state)),
      meta=ocp.args.JsonSave(_canonical(meta))))
  mngr.wait_until_finished()


def restore_latest(mngr: ocp.CheckpointManager, target_state):
  """Restores (state, meta) of the latest step into ``target_state``'s tree.

  Returns None when there is no checkpoint. Raises ValueError naming the
  checkpoint when it cannot be read or does not fit the target (another
  architecture, a corrupt file).
  """
  step = mngr.latest_step()
  if step is None:
    return None
  target = jax.tree.map(
      lambda x: np.zeros(np.shape(x), np.asarray(x).dtype)
      if hasattr(x, 'shape') else x, jax.device_get(target_state))
  try:
    restored = mngr.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(target), meta=ocp.args.JsonRestore()))
  except Exception as e:  # orbax raises many types for unreadable files
    raise ValueError(f'cannot restore checkpoint {mngr.directory}/{step}: '
                     f'{type(e).__name__}: {e}') from e
  return restored['state'], restored['meta']


def restore_variables(stage_dir: str, params_template, stats_template):
  """(params, batch_stats, meta) of the newest checkpoint of another run.

  Only the model variables are read, so the run that wrote the checkpoint may
  have used any optimizer. Nothing is created or written.

  Raises:
    ValueError: no checkpoint in ``stage_dir``, an unreadable one, or one
      whose variables do not fit the templates (another architecture); the
      message names the directory and the first mismatching leaf.
  """
  directory = os.path.abspath(os.path.join(stage_dir, CHECKPOINT_DIR))
  steps = sorted(int(d) for d in os.listdir(directory) if d.isdigit()) if (
      os.path.isdir(directory)) else []
  if not steps:
    raise ValueError(f'{stage_dir} holds no jaxprune checkpoint '
                     f'(expected {directory}/<step>/)')
  path = os.path.join(directory, str(steps[-1]))
  try:
    with ocp.CheckpointManager(
        directory, item_names=('state', 'meta'),
        options=ocp.CheckpointManagerOptions(create=False,
                                             read_only=True)) as mngr:
      restored = mngr.restore(steps[-1], args=ocp.args.Composite(
          state=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()))
  except Exception as e:  # orbax raises many types for unreadable files
    raise ValueError(f'cannot read checkpoint {path}: {type(e).__name__}: '
                     f'{e}') from e
  state = restored['state']
  out = []
  for name, template in (('trainable', params_template),
                         ('batch_stats', stats_template)):
    tree = state.get(name) if isinstance(state, dict) else None
    if tree is None:
      raise ValueError(f'checkpoint {path} has no {name}')
    want = {jax.tree_util.keystr(k): np.shape(v) for k, v in
            jax.tree_util.tree_leaves_with_path(template)}
    got = {jax.tree_util.keystr(k): np.shape(v) for k, v in
           jax.tree_util.tree_leaves_with_path(tree)}
    if want != got:
      diff = sorted(k for k in set(want) | set(got)
                    if want.get(k) != got.get(k))
      k = diff[0]
      raise ValueError(
          f'checkpoint {path} does not fit this model (another '
          f'architecture?): {name}{k} is {got.get(k)} in the checkpoint, '
          f'{want.get(k)} in the model ({len(diff)} mismatching leaves)')
    out.append(jax.tree.map(np.asarray, tree))
  return out[0], out[1], restored['meta']
