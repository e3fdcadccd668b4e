"""Which devices a run uses, and placing replicated values on them."""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np

from jaxprune.training.step import AXIS_NAME


_HOST_DEVICE_FLAG = '--xla_force_host_platform_device_count'


def one_cpu_device_per_core() -> int | None:
  """Gives the CPU backend one XLA device per usable core, unless set.

  XLA:CPU runs one program per device, so a batch split over one device per
  core uses the cores better than Eigen's threads inside one device (issue
  12: a ResNet-32 step 1.36x faster on 2 cores). Call it before anything
  starts a JAX backend (the launcher and the bench call it first thing).
  Nothing changes when the user already chose a count through
  ``XLA_FLAGS=--xla_force_host_platform_device_count=N``,
  ``JAX_NUM_CPU_DEVICES`` or ``jax.config``; GPU and TPU devices are never
  affected.

  Returns:
    The CPU device count set, or None when the user's choice was kept.

  Raises:
    RuntimeError: a JAX backend already started, so the count cannot change.
  """
  if (_HOST_DEVICE_FLAG in os.environ.get('XLA_FLAGS', '')
      or os.environ.get('JAX_NUM_CPU_DEVICES')
      or jax.config.jax_num_cpu_devices != -1):
    return None
  cores = (len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
           else os.cpu_count() or 1)
  jax.config.update('jax_num_cpu_devices', cores)
  return cores


def resolve_num_devices(requested: int = 0) -> int:
  """``requested`` devices (0: all), checked against what exists.

  One process: its local devices. Several: every process's, and a run
  uses all of them.
  """
  processes = jax.process_count()
  available = jax.device_count() if processes > 1 else jax.local_device_count()
  wanted = requested or available
  if (isinstance(requested, bool) or not isinstance(requested, int)
      or requested < 0):
    raise ValueError(f'num_devices must be a non-negative int (0: all '
                     f'{available}), got {requested!r}')
  if wanted > available:
    raise ValueError(f'num_devices={wanted} but only {available} local '
                     'devices exist')
  if processes > 1 and wanted != available:
    raise ValueError(f'a run over {processes} processes uses all their '
                     f'{available} devices; num_devices={wanted} (use 0)')
  return wanted


def replicate(tree: Any, num_devices: int) -> Any:
  """Places ``tree`` replicated on the first ``num_devices`` local devices.

  This is the sharding pmap gives its ``out_axes=None`` outputs, so a state
  placed this way is not re-placed (nor the step recompiled) after a step.
  """
  mesh = jax.sharding.Mesh(np.asarray(jax.local_devices()[:num_devices]),
                           (AXIS_NAME,))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  return jax.device_put(tree, sharding)


def device_info(num_devices: int | None = None) -> dict[str, Any]:
  """Kind, platform and count of the devices a run uses (for results)."""
  devices = jax.local_devices()
  return {'device_kind': devices[0].device_kind,
          'platform': devices[0].platform,
          'device_count': num_devices or len(devices)}
