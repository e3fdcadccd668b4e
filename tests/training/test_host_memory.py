"""The launchers' relaunch with glibc's huge-page malloc tunable."""

import os
import platform
import subprocess
import sys

import pytest

from jaxprune.training import host_memory

GLIBC = ('glibc', '2.36')
HERE = host_memory.huge_page_environment(
    {}, platform.system(), platform.libc_ver(), host_memory.thp_mode())


def test_thp_mode_reads_the_bracketed_word(tmp_path):
  f = tmp_path / 'enabled'
  f.write_text('always [madvise] never\n')
  assert host_memory.thp_mode(str(f)) == 'madvise'
  f.write_text('[always] madvise never\n')
  assert host_memory.thp_mode(str(f)) == 'always'
  assert host_memory.thp_mode(str(tmp_path / 'missing')) is None


@pytest.mark.parametrize('environ, system, libc, mode', [
    ({}, 'Linux', GLIBC, 'always'),  # the kernel already uses huge pages
    ({}, 'Linux', GLIBC, 'never'),
    ({}, 'Linux', GLIBC, None),
    ({}, 'Darwin', ('', ''), 'madvise'),
    ({}, 'Linux', ('glibc', '2.34'), 'madvise'),  # no such tunable yet
    ({}, 'Linux', ('musl', '1.2'), 'madvise'),
    ({'JAXPRUNE_HOST_HUGE_PAGES': '0'}, 'Linux', GLIBC, 'madvise'),
    ({'JAXPRUNE_HOST_HUGE_PAGES': 'off'}, 'Linux', GLIBC, 'madvise'),
    ({'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=0'}, 'Linux', GLIBC, 'madvise'),
])
def test_no_relaunch(environ, system, libc, mode):
  assert host_memory.huge_page_environment(environ, system, libc,
                                           mode) is None


def test_relaunch_adds_the_tunable_and_keeps_the_users():
  env = host_memory.huge_page_environment(
      {'PATH': '/bin', 'GLIBC_TUNABLES': 'glibc.malloc.arena_max=2'},
      'Linux', ('glibc', '2.35'), 'madvise')
  assert env == {'PATH': '/bin', 'GLIBC_TUNABLES':
                 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1'}
  env = host_memory.huge_page_environment({}, 'Linux', ('glibc', '2.40'),
                                          'madvise')
  assert env == {'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=1'}


def test_a_bad_opt_out_value_is_refused_in_one_line():
  with pytest.raises(ValueError, match='JAXPRUNE_HOST_HUGE_PAGES=.maybe.'):
    host_memory.huge_page_environment({'JAXPRUNE_HOST_HUGE_PAGES': 'maybe'},
                                      'Linux', GLIBC, 'madvise')
  run = subprocess.run(
      [sys.executable, '-c', 'from jaxprune.training import host_memory; '
       'host_memory.relaunch_with_huge_pages(); print("ran")'],
      env=dict(_fresh_env(), JAXPRUNE_HOST_HUGE_PAGES='maybe'),
      capture_output=True, text=True)
  assert run.returncode == 1 and run.stdout == ''
  assert run.stderr.strip().splitlines() == [
      "error: JAXPRUNE_HOST_HUGE_PAGES='maybe'; use 0 (glibc's default "
      "malloc) or 1 (huge pages where they help)"]


def _fresh_env():
  return {k: v for k, v in os.environ.items()
          if k not in ('GLIBC_TUNABLES', host_memory.OPT_OUT)}


def test_relaunch_runs_the_same_command_again():
  """A fresh process relaunches (where this machine supports it) with the
  same arguments, once, and says so in one line."""
  code = ('import os, sys; from jaxprune.training import host_memory; '
          'print("start", flush=True); host_memory.relaunch_with_huge_pages(); '
          'print(repr(os.environ.get("GLIBC_TUNABLES")), sys.argv[1:])')
  run = subprocess.run([sys.executable, '-c', code, 'a b', '--x=1'],
                       env=_fresh_env(), check=True, capture_output=True,
                       text=True)
  want = HERE['GLIBC_TUNABLES'] if HERE else None
  starts = 2 if HERE else 1
  assert run.stdout.splitlines() == ['start'] * starts + [
      f"{want!r} ['a b', '--x=1']"]
  assert run.stderr.count('running again with GLIBC_TUNABLES') == starts - 1


@pytest.mark.skipif(HERE is None, reason='this machine has no glibc huge-page'
                    ' malloc tunable (needs Linux, glibc >= 2.35 and '
                    'transparent huge pages in madvise mode)')
def test_the_tunable_removes_the_page_faults_of_big_buffers():
  """What the relaunch is for: a 64 MiB malloc-ed buffer written and freed
  again and again faults its pages in every time without the tunable
  (16,384 faults of 4 KiB each), about 550 times with it (2 MiB pages but
  for the unaligned ends; 4,352 for the 8 buffers here). (NumPy asks for
  huge pages itself, XLA:CPU does not.)"""
  code = ('import ctypes, resource\n'
          'libc = ctypes.CDLL(None)\n'
          'libc.malloc.restype = ctypes.c_void_p\n'
          'libc.free.argtypes = [ctypes.c_void_p]\n'
          'def touch():\n'
          '  p = libc.malloc(1 << 26); ctypes.memset(p, 1, 1 << 26); '
          'libc.free(p)\n'
          'touch()\n'
          'before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n'
          'for _ in range(8): touch()\n'
          'print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)')
  faults = {}
  tunable = dict(_fresh_env(), GLIBC_TUNABLES=HERE['GLIBC_TUNABLES'])
  for name, env in (('default', _fresh_env()), ('tunable', tunable)):
    faults[name] = int(subprocess.run(
        [sys.executable, '-c', code], env=env, check=True,
        capture_output=True, text=True).stdout)
  assert faults['default'] >= 8 * 16384 * 0.9, faults
  assert faults['tunable'] <= 8 * 16384 * 0.1, faults


def test_describe_names_the_setting():
  assert host_memory.describe(
      {'GLIBC_TUNABLES': 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1'}
  ).startswith('huge pages (glibc.malloc.hugetlb=1, THP ')
  assert host_memory.describe({}).startswith('default (THP ')
  assert host_memory.describe(
      {'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=0'}).startswith('default (')
