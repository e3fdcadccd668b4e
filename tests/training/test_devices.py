"""Device counts and replicated placement."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxprune.training import devices


def test_resolve_num_devices():
  assert devices.resolve_num_devices(0) == jax.local_device_count() == 8
  assert devices.resolve_num_devices(2) == 2
  with pytest.raises(ValueError, match='only 8 local devices'):
    devices.resolve_num_devices(9)
  with pytest.raises(ValueError, match='non-negative int'):
    devices.resolve_num_devices(-1)


def test_replicate_places_on_the_first_devices():
  x = devices.replicate({'a': np.arange(3)}, 2)['a']
  assert len(x.sharding.device_set) == 2
  np.testing.assert_array_equal(x, np.arange(3))
  info = devices.device_info(2)
  assert info['platform'] == 'cpu' and info['device_count'] == 2


def _cpu_devices_in_fresh_process(env_update, drop=('XLA_FLAGS',
                                                    'JAX_NUM_CPU_DEVICES')):
  env = {k: v for k, v in os.environ.items() if k not in drop}
  env.update(env_update)
  code = ('from jaxprune.training import devices; '
          'set_to = devices.one_cpu_device_per_core(); import jax; '
          'print(set_to, jax.local_device_count("cpu"))')
  out = subprocess.run([sys.executable, '-c', code], env=env, check=True,
                       capture_output=True, text=True).stdout.split()
  return out[0], int(out[1])


def test_one_cpu_device_per_core_by_default():
  cores = len(os.sched_getaffinity(0))
  assert _cpu_devices_in_fresh_process({}) == (str(cores), cores)


@pytest.mark.parametrize('env', [
    {'XLA_FLAGS': '--xla_force_host_platform_device_count=3'},
    {'JAX_NUM_CPU_DEVICES': '3'}])
def test_one_cpu_device_per_core_keeps_the_users_count(env):
  assert _cpu_devices_in_fresh_process(env) == ('None', 3)


def test_one_cpu_device_per_core_after_the_backend_started():
  # conftest forces 8 host devices: the user's choice is kept, silently.
  jax.local_devices()
  assert devices.one_cpu_device_per_core() is None
