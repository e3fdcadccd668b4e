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
