"""Test-session setup: 8 forced host devices for multi-device tests.

XLA_FLAGS must be set before JAX starts its backend, so it is set here, at the
top of the first module pytest imports. Tests choose how many of the 8 devices
they use through the leading axis of what they pmap.
"""

import os

# LLVM at -O0: the suite's programs are small and run a few steps each, so
# XLA:CPU's compile (mostly LLVM optimising) dominated it; the HLO passes
# are unchanged (processes the tests launch inherit it unless they set
# XLA_FLAGS themselves; the multi-process ones do).
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=8'
                           ' --xla_backend_optimization_level=0').strip()
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tempfile  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

# Many tests compile the same small programs; a persistent cache shares them
# (also across the module boundaries where _release_compiled_programs drops
# the in-memory ones).
# Under pytest-xdist each worker has a cache of its own: JAX writes entries in
# place, and a worker reading another's half-written entry would crash.
WORKER_SUFFIX = ('_' + os.environ['PYTEST_XDIST_WORKER']
                 if os.environ.get('PYTEST_XDIST_WORKER') else '')
jax.config.update('jax_compilation_cache_dir',
                  os.path.join(tempfile.gettempdir(),
                               'jaxprune_test_jit_cache' + WORKER_SUFFIX))
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


MAPPINGS_BEFORE_RELEASE = 20_000


def _mappings() -> int:
  try:
    with open('/proc/self/maps') as f:
      return sum(1 for _ in f)
  except OSError:  # not Linux: no such limit to watch
    return 0


@pytest.fixture(autouse=True)
def _release_compiled_programs():
  """Drops JAX's compiled programs when they hold too many memory mappings.

  One pytest process compiles well over a thousand XLA:CPU programs; each
  loaded executable holds memory mappings (about 3.5 each), and a session
  that kept them all ran into the kernel's per-process mapping limit
  (vm.max_map_count, 65,530 by default), where XLA:CPU segfaults while
  compiling or loading the next program instead of raising. After any test
  that leaves more than MAPPINGS_BEFORE_RELEASE mappings, the in-memory
  caches are cleared (later compiles come from the persistent cache).
  """
  yield
  if _mappings() > MAPPINGS_BEFORE_RELEASE:
    import gc  # pylint: disable=g-import-not-at-top
    jax.clear_caches()
    gc.collect()
