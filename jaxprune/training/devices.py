"""Which devices a run uses, and placing replicated values on them."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxprune.training.step import AXIS_NAME


def resolve_num_devices(requested: int = 0) -> int:
  """``requested`` local devices (0: all), checked against what exists."""
  available = jax.local_device_count()
  wanted = requested or available
  if (isinstance(requested, bool) or not isinstance(requested, int)
      or requested < 0):
    raise ValueError(f'num_devices must be a non-negative int (0: all '
                     f'{available}), got {requested!r}')
  if wanted > available:
    raise ValueError(f'num_devices={wanted} but only {available} local '
                     'devices exist')
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
