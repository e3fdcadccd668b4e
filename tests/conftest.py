"""Test-session setup: 8 forced host devices for multi-device tests.

XLA_FLAGS must be set before JAX starts its backend, so it is set here, at the
top of the first module pytest imports. Tests choose how many of the 8 devices
they use through the leading axis of what they pmap.
"""

import os

os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=8').strip()
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tempfile  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

# Many tests compile the same small programs; a persistent cache shares them.
jax.config.update('jax_compilation_cache_dir',
                  os.path.join(tempfile.gettempdir(), 'jaxprune_test_jit_cache'))
jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.5)

# ---- data fixtures (jaxprune.data) below --------------------------------

CIFAR10_JPEG_ENV = 'JAXPRUNE_CIFAR10_JPEG'


@pytest.fixture(scope='session')
def data_cache_dir(tmp_path_factory):
  """A session-wide jaxprune.data cache dir, so an archive is extracted and decoded once per run."""
  return tmp_path_factory.mktemp('jaxprune_data_cache')


@pytest.fixture(scope='session')
def cifar10_jpeg_archive():
  """Path of cifar10-jpeg.tar.gz from $JAXPRUNE_CIFAR10_JPEG; skips when unset."""
  path = os.environ.get(CIFAR10_JPEG_ENV)
  if not path:
    pytest.skip(f'{CIFAR10_JPEG_ENV} is not set: set it to the path of cifar10-jpeg.tar.gz '
                '(e.g. ../shared/data/cifar10-jpeg.tar.gz) to test the real CIFAR-10 data')
  if not os.path.isfile(path):
    pytest.fail(f'{CIFAR10_JPEG_ENV}={path} does not name an existing file')
  return path
