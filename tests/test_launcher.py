"""The launcher and train_and_evaluate: results.json and bad input."""

import json
import os

import pytest

from experiments import main as main_lib
from experiments.configs import digits as digits_config
from jaxprune import checkpoint
from jaxprune import train


def _config(**overrides):
  config = digits_config.get_config()
  config.epochs = 2
  config.batch_size = 64
  config.tensorboard = True
  for k, v in overrides.items():
    config[k] = v
  return config


def test_digits_baseline_writes_results_and_tensorboard(tmp_path):
  results = train.train_and_evaluate(_config(), str(tmp_path))
  on_disk = json.loads((tmp_path / 'results.json').read_text())
  assert on_disk['params'] == results['params'] == 65834
  assert on_disk['flops'] == 3007754
  assert 0.0 <= on_disk['last_test_accuracy'] <= on_disk['best_test_accuracy']
  assert on_disk['device_count'] == 8 and on_disk['platform'] == 'cpu'
  assert list((tmp_path / 'baseline').glob('events.out.tfevents*'))
  lines = (tmp_path / 'baseline' / 'metrics.jsonl').read_text().splitlines()
  assert [json.loads(l)['step'] for l in lines] == [1, 2]


@pytest.mark.parametrize('overrides, message', [
    ({'model': 'resnet9000'}, 'unknown model'),
    ({'dataset': 'mnist'}, 'unknown dataset'),
    ({'widths': '[32, 0, "M"]'}, 'positive'),
    ({'widths': '[32, '}, 'not valid JSON'),
    ({'batch_size': 60}, 'does not divide over 8 devices'),
    ({'schedule': 'linear'}, 'unknown schedule'),
    ({'dataset': 'image_folder', 'data_path': '/nonexistent/folder'},
     '/nonexistent/folder'),
])
def test_bad_input_fails_before_any_write(tmp_path, overrides, message):
  workdir = tmp_path / 'run'
  with pytest.raises((ValueError, FileNotFoundError), match=message):
    train.train_and_evaluate(_config(**overrides), str(workdir))
  assert not workdir.exists()


def test_workdir_holding_another_run_is_refused(tmp_path):
  train.train_and_evaluate(_config(epochs=1, tensorboard=False), str(tmp_path))
  files = sorted(p for p in tmp_path.rglob('*'))
  with pytest.raises(checkpoint.WorkdirConflictError, match='epochs: 1 -> 2'):
    train.train_and_evaluate(_config(tensorboard=False), str(tmp_path))
  assert sorted(p for p in tmp_path.rglob('*')) == files


def test_unknown_config_field_on_the_command_line(tmp_path):
  config_file = os.path.join(os.path.dirname(main_lib.__file__), 'configs',
                             'digits.py')
  with pytest.raises(SystemExit, match='unknown config field'):
    main_lib.parse_flags(['main', f'--config={config_file}',
                          f'--workdir={tmp_path}', '--config.nope=1'])
