"""Multi-process runs: joining a cluster, who writes, and start-up checks.

A run over several processes (TPU pod slices, SLURM GPU clusters, or local
processes on one machine) calls :func:`initialize` before anything starts a
JAX backend. Every process then feeds only its own devices (its rows of the
global batch, see :mod:`jaxprune.training.parallel`), collectives span every
device, orbax coordinates the checkpoints, and only process 0 writes logs,
metrics, TensorBoard events, ``results.json`` and reports
(:func:`is_writer`).

The cluster is described either explicitly, by ``JAX_COORDINATOR_ADDRESS``
(``host:port`` of process 0), ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``,
or by the environment JAX detects itself (a multi-host TPU VM, SLURM with
several tasks, Open MPI); otherwise the run is one process and nothing
happens.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Mapping

from absl import logging
import jax
import numpy as np

MODES = ('auto', 'off')
ENV_VARS = ('JAX_COORDINATOR_ADDRESS', 'JAX_NUM_PROCESSES', 'JAX_PROCESS_ID')


def explicit_cluster(env: Mapping[str, str]) -> dict | None:
  """The coordinator, process count and id the environment names, or None.

  Raises:
    ValueError: some but not all of :data:`ENV_VARS` are set, or they are
      malformed.
  """
  given = {k: env.get(k, '') for k in ENV_VARS}
  if not any(given.values()):
    return None
  missing = [k for k, v in given.items() if not v]
  if missing:
    raise ValueError(f'a half-specified cluster: {", ".join(missing)} unset '
                     f'while {", ".join(k for k in ENV_VARS if given[k])} '
                     'set; set all three or none')
  address = given['JAX_COORDINATOR_ADDRESS']
  host, _, port = address.rpartition(':')
  if not host or not port.isdigit():
    raise ValueError(f'JAX_COORDINATOR_ADDRESS={address!r} is not host:port')
  try:
    count, index = (int(given['JAX_NUM_PROCESSES']),
                    int(given['JAX_PROCESS_ID']))
  except ValueError:
    raise ValueError('JAX_NUM_PROCESSES and JAX_PROCESS_ID must be integers, '
                     f'got {given["JAX_NUM_PROCESSES"]!r} and '
                     f'{given["JAX_PROCESS_ID"]!r}') from None
  if count < 1 or not 0 <= index < count:
    raise ValueError(f'JAX_PROCESS_ID={index} is not in [0, '
                     f'JAX_NUM_PROCESSES={count})')
  return {'coordinator_address': address, 'num_processes': count,
          'process_id': index}


def detected_cluster(env: Mapping[str, str]) -> str | None:
  """The multi-process environment JAX's own detection would use, or None."""
  if int(env.get('SLURM_NTASKS', '1') or 1) > 1 and env.get('SLURM_JOB_ID'):
    return 'SLURM'
  if int(env.get('OMPI_COMM_WORLD_SIZE', '1') or 1) > 1:
    return 'Open MPI'
  hosts = [h for h in env.get('TPU_WORKER_HOSTNAMES', '').split(',') if h]
  if len(hosts) > 1:
    return 'a multi-host TPU slice'
  return None


def initialize(mode: str = 'auto', env: Mapping[str, str] | None = None
               ) -> int:
  """Joins the cluster the environment describes (module docstring).

  Call it first thing, before anything starts a JAX backend. On CPU it
  selects JAX's gloo collectives, so local processes work together.

  Returns:
    The number of processes of the run (1 when nothing was joined).

  Raises:
    ValueError: an unknown mode or a half-specified cluster.
  """
  if mode not in MODES:
    raise ValueError(f'config.distributed must be one of {MODES}, got '
                     f'{mode!r}')
  env = os.environ if env is None else env
  if mode == 'off':
    return 1
  explicit = explicit_cluster(env)
  detected = None if explicit else detected_cluster(env)
  if explicit is None and detected is None:
    return 1
  if jax.distributed.is_initialized():
    return jax.process_count()
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  if explicit is not None:
    jax.distributed.initialize(**explicit)
  else:
    logging.info('joining the cluster of %s', detected)
    jax.distributed.initialize()
  return jax.process_count()


def nearest_existing_folder(path: str) -> str:
  """``path`` itself if it is a folder, else its nearest existing ancestor
  folder (where a new workdir would be created)."""
  parent = os.path.abspath(path)
  while not os.path.isdir(parent):
    parent = os.path.dirname(parent)
  return parent


def is_writer() -> bool:
  """Whether this process writes logs, metrics, results and reports."""
  return jax.process_index() == 0


def barrier(name: str) -> None:
  """Waits until every process got here (nothing in a one-process run)."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices(name)


def config_hash(config_dict: dict) -> int:
  text = json.dumps(config_dict, sort_keys=True, default=str)
  return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], 'little')


def check_processes_agree(config_dict: dict, workdir: str) -> None:
  """Refuses processes that disagree on the config or the workdir.

  Every process must run the same config (a hash of it is compared) and see
  the same workdir: process 0 leaves a token in the workdir's nearest
  existing folder, every process must find it there, and process 0 removes
  it. Nothing is checked (nor written) in a one-process run.

  Raises:
    ValueError: naming the processes that differ.
  """
  if jax.process_count() == 1:
    return
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  hashes = np.asarray(multihost_utils.process_allgather(
      np.asarray([config_hash(config_dict)], np.uint32))).reshape(-1)
  differ = [i for i, h in enumerate(hashes) if h != hashes[0]]
  if differ:
    raise ValueError(f'process(es) {differ} run another config than process '
                     '0 (the config hashes differ); launch every process '
                     'with the same flags')
  parent = nearest_existing_folder(workdir)
  token = multihost_utils.broadcast_one_to_all(
      np.frombuffer(uuid.uuid4().bytes, np.uint8))
  name = os.path.join(parent, '.jaxprune-shared-' + bytes(
      np.asarray(token, np.uint8)).hex())
  if is_writer():
    with open(name, 'w') as f:
      f.write('a jaxprune start-up check; removed at once\n')
  multihost_utils.sync_global_devices('jaxprune workdir token written')
  seen = np.asarray(multihost_utils.process_allgather(
      np.asarray([os.path.exists(name)], np.int32))).reshape(-1)
  multihost_utils.sync_global_devices('jaxprune workdir token read')
  if is_writer():
    os.remove(name)
  blind = [i for i, s in enumerate(seen) if not s]
  if blind:
    raise ValueError(f'process(es) {blind} do not see the workdir {workdir} '
                     'of process 0; every process needs the same shared '
                     'workdir')
