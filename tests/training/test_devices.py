"""Device counts and replicated placement."""

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
