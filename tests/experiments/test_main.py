"""The launcher: one study per config, no branch; one-line errors."""

import os
import subprocess
import sys

import pytest

from experiments import main as main_lib

CONFIGS = os.path.join(os.path.dirname(main_lib.__file__), 'configs')


def test_unknown_config_field_on_the_command_line(tmp_path):
  config_file = os.path.join(CONFIGS, 'digits.py')
  with pytest.raises(SystemExit, match='unknown config field'):
    main_lib.parse_flags(['main', f'--config={config_file}',
                          f'--workdir={tmp_path}', '--config.nope=1'])
  with pytest.raises(SystemExit, match='unknown config field'):
    main_lib.parse_flags(['main', f'--config={config_file}',
                          f'--workdir={tmp_path}', '--config.optim.nope=1'])


def _launch(*args, cwd):
  env = dict(os.environ, XLA_FLAGS='')
  return subprocess.run([sys.executable, '-m', 'experiments.main', *args],
                        capture_output=True, text=True, cwd=cwd, env=env,
                        timeout=600)


def test_launcher_runs_the_configured_study_and_prints_its_table(tmp_path):
  root = os.path.dirname(os.path.dirname(main_lib.__file__))
  out = _launch(f'--config={os.path.join(CONFIGS, "digits.py")}',
                f'--workdir={tmp_path / "run"}', '--config.optim.epochs=1',
                '--config.model.widths=[8, "M", 8]', '--config.tensorboard=false',
                cwd=root)
  assert out.returncode == 0, out.stderr[-2000:]
  assert '| digits | digits_cnn |' in out.stdout
  assert (tmp_path / 'run' / 'results.json').exists()
  bad = _launch(f'--config={os.path.join(CONFIGS, "digits.py")}',
                f'--workdir={tmp_path / "run2"}', '--config.seed=-1', cwd=root)
  assert bad.returncode != 0
  assert bad.stderr.strip().splitlines()[-1] == (
      'error: config.seed must be an int >= 0, got -1')
  assert not (tmp_path / 'run2').exists()


BAD_INPUTS = [
    ('missing-config', ['--config=/nonexistent/config.py'],
     'error: config file /nonexistent/config.py does not exist'),
    ('syntax', ['--config={tmp}/bad.py'],
     "error: cannot load the config file {tmp}/bad.py: SyntaxError: '(' was "
     'never closed'),
    ('row', ['--config=experiments/configs/rethinking.py:nope'],
     "error: --config=experiments/configs/rethinking.py:nope: ValueError: "
     "unknown row 'nope'"),
    ('workdir-file', ['--config=experiments/configs/digits.py',
                      '--workdir={tmp}/file'],
     'error: workdir {tmp}/file exists and is not a directory'),
    ('seed', ['--config=experiments/configs/digits.py', '--config.seed=-1'],
     'error: config.seed must be an int >= 0, got -1'),
    ('archive', ['--config=experiments/configs/digits.py',
                 '--config.data.name=cifar10',
                 '--config.data.path={tmp}/broken.tar.gz'],
     'error: cannot read archive {tmp}/broken.tar.gz:'),
    # A huge learning rate on one short epoch of a small subset: it
    # diverges within the first few of its 4 steps.
    ('diverged', ['--config=experiments/configs/digits.py',
                  '--config.optim.learning_rate=1e6', '--config.optim.epochs=1',
                  '--config.data.train_subset=256',
                  '--config.data.test_subset=64', '--config.tensorboard=false'],
     "error: stage 'baseline' diverged at epoch 1, step"),
]


@pytest.mark.parametrize('args, message', [b[1:] for b in BAD_INPUTS],
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_line_nonzero_and_writes_nothing(tmp_path, args,
                                                          message):
  (tmp_path / 'bad.py').write_text('x = (\n')
  (tmp_path / 'file').write_text('not a directory')
  (tmp_path / 'broken.tar.gz').write_bytes(b'\x1f\x8b' + bytes(100))
  args = [a.format(tmp=tmp_path) for a in args]
  if not any(a.startswith('--workdir') for a in args):
    args.append(f'--workdir={tmp_path / "run"}')
  root = os.path.dirname(os.path.dirname(main_lib.__file__))
  out = _launch(*args, cwd=root)
  assert out.returncode not in (0, None)
  last = out.stderr.strip().splitlines()[-1]
  assert last.startswith(message.format(tmp=tmp_path)), last
  assert 'Traceback' not in out.stderr
  if 'diverged' not in message:
    assert not (tmp_path / 'run').exists()
  else:  # the stage saved nothing of the diverged state
    assert not list((tmp_path / 'run' / 'baseline').glob('checkpoints/*'))


def test_a_read_only_workdir_is_one_line(tmp_path):
  """Root ignores file modes, so the refusal a read-only mount gives is
  injected: every directory creation under the workdir fails with EACCES."""
  ro = tmp_path / 'ro'
  ro.mkdir()
  code = f'''
import errno, os, sys
real = os.makedirs
def makedirs(path, *args, **kwargs):
  if os.fspath(path).startswith({str(ro)!r}):
    raise PermissionError(errno.EACCES, 'Permission denied', os.fspath(path))
  return real(path, *args, **kwargs)
os.makedirs = makedirs
sys.argv = ['main', '--config=experiments/configs/digits.py',
            '--workdir={ro / "run"}']
from absl import app
from experiments import main
app.run(main.main, flags_parser=main.parse_flags)
'''
  root = os.path.dirname(os.path.dirname(main_lib.__file__))
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, cwd=root, env=dict(os.environ, XLA_FLAGS=''),
                       timeout=600)
  assert out.returncode not in (0, None)
  assert out.stderr.strip().splitlines()[-1].startswith(
      f'error: Permission denied: {ro / "run"}'), out.stderr[-500:]
  assert 'Traceback' not in out.stderr
  assert not (ro / 'run').exists()
