"""How the one step body is mapped over devices: ``jax.pmap`` or ``shard_map``.

:mod:`jaxprune.training.step` writes the train and eval bodies per device,
with explicit collectives over ``AXIS_NAME``. A :class:`Parallel` maps them:

* ``'pmap'`` (the default): ``jax.pmap`` over this process's devices, the
  state passed unmapped (``in_axes=None``) and every input with a leading
  axis of local devices;
* ``'shard_map'``: ``jax.jit(jax.shard_map(...))`` over a one-axis mesh
  named ``AXIS_NAME`` of all the run's devices (every process's), the state
  replicated (``P()``) and the inputs split on their leading device axis
  (``P(AXIS_NAME)``), made from each process's rows with
  ``jax.make_array_from_process_local_data``.

Both see the same per-device shapes and run the same collectives, so they
give the same metrics (tests/training/test_parallel.py). In a multi-process
run (:mod:`jaxprune.training.distributed`) each process passes only its own
devices' rows of the inputs (:meth:`Parallel.local_rows`); the collectives
span every process's devices.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import numpy as np

from jaxprune.training import step as steps_lib

MODES = ('pmap', 'shard_map')
AXIS_NAME = steps_lib.AXIS_NAME


def check_mode(mode: str) -> None:
  if mode not in MODES:
    raise ValueError(f'config.parallel must be one of {MODES}, got {mode!r}')


def run_devices(num_devices: int) -> list[jax.Device]:
  """The devices of a run on ``num_devices`` devices, process by process.

  One process: its first ``num_devices`` local devices. Several: every
  device of every process (a multi-process run uses all of them), ordered
  by process so that each process's devices are one contiguous block of the
  device axis (its rows of the global batch).
  """
  if jax.process_count() == 1:
    return list(jax.local_devices()[:num_devices])
  devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
  if num_devices != len(devices):
    raise ValueError(f'a run over {jax.process_count()} processes uses all '
                     f'their {len(devices)} devices; num_devices='
                     f'{num_devices} (use 0)')
  return devices


@dataclasses.dataclass(frozen=True)
class Parallel:
  """Maps step bodies over ``num_devices`` devices (module docstring).

  Attributes:
    mode: 'pmap' or 'shard_map'.
    num_devices: devices of the run, over all processes.
  """
  mode: str = 'pmap'
  num_devices: int = 1

  def __post_init__(self):
    check_mode(self.mode)

  @functools.cached_property
  def mesh(self) -> Mesh:
    return Mesh(np.asarray(run_devices(self.num_devices)), (AXIS_NAME,))

  @property
  def local_devices(self) -> int:
    """How many of the run's devices this process feeds."""
    return self.num_devices // jax.process_count()

  def local_rows(self, tree: Any) -> Any:
    """This process's rows of host arrays shaped (num_devices, ...)."""
    if jax.process_count() == 1:
      return tree
    start = jax.process_index() * self.local_devices
    return jax.tree.map(lambda x: x[start:start + self.local_devices], tree)

  def replicate(self, tree: Any) -> Any:
    """``tree`` replicated on every device of the run.

    This is the sharding both maps give their replicated outputs, so a state
    placed this way is not re-placed (nor the step recompiled) after a step.
    With several processes every process must pass the same values.
    """
    sharding = NamedSharding(self.mesh, P())
    if jax.process_count() == 1:
      return jax.device_put(tree, sharding)

    def place(x):  # across processes device_put takes host values only
      if isinstance(x, jax.Array) and jax.dtypes.issubdtype(
          x.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(place(jax.random.key_data(x)),
                                        impl=jax.random.key_impl(x))
      return jax.device_put(np.asarray(x), sharding)
    return jax.tree.map(place, tree)

  def feed(self, inputs: Any, local: bool = False) -> Any:
    """A step's inputs as the map takes them: this process's rows of
    ``inputs`` (the global rows, or only this process's with ``local``)."""
    local_inputs = inputs if local else self.local_rows(inputs)
    if self.mode == 'pmap':
      return local_inputs
    sharding = NamedSharding(self.mesh, P(AXIS_NAME))

    def place(x):
      x = np.asarray(x)
      return jax.make_array_from_process_local_data(
          sharding, x, (self.num_devices,) + x.shape[1:])
    return jax.tree.map(place, local_inputs)

  def train_step(self, runs: int = 0, **static) -> Callable:
    """``(state, data, inputs, context) -> (state, metrics)``, see
    :func:`jaxprune.training.step.train_step_body`; ``runs`` N >= 1: N runs
    in one step (:func:`jaxprune.training.step.pmap_train_step`)."""
    if self.mode == 'pmap':
      return steps_lib.pmap_train_step(seeds_in_parallel=runs, **static)
    body = functools.partial(steps_lib.train_step_body, **static)
    if runs:
      body = steps_lib.over_seeds(body, steps_lib.seeds_strategy())
    return self._shard_mapped(body, 4, out=(P(), P()))

  def eval_step(self, runs: int = 0, **static) -> Callable:
    """``(state, data, inputs) -> sums``, see
    :func:`jaxprune.training.step.eval_step_body`; ``runs`` as in
    :meth:`train_step` (every run sees the same inputs)."""
    if self.mode == 'pmap':
      return steps_lib.pmap_eval_step(seeds_in_parallel=runs, **static)
    body = functools.partial(steps_lib.eval_step_body, **static)
    if runs:
      body = steps_lib.over_seeds(body, steps_lib.seeds_strategy(),
                                  shared=(1, 2))
    return self._shard_mapped(body, 3, out=P())

  def _shard_mapped(self, body: Callable, nargs: int, out) -> Callable:
    """``jit(shard_map(body))`` with argument 2 (the inputs) split on its
    leading device axis, each device's block seen without that axis (as under
    pmap), and the rest replicated."""

    def per_device(*args):
      args = list(args)
      args[2] = jax.tree.map(lambda x: x[0], args[2])
      return body(*args)

    in_specs = tuple(P(AXIS_NAME) if i == 2 else P() for i in range(nargs))
    # check_vma=False: the body reduces its gradients itself (lax.pmean, as
    # under pmap); with the varying-axes check on, the gradient of the
    # replicated state would already be summed over devices.
    return jax.jit(jax.shard_map(per_device, mesh=self.mesh,
                                 in_specs=in_specs, out_specs=out,
                                 check_vma=False))
