"""Stage checkpoints and the run manifest."""

import json
import os

import jax
import numpy as np
import pytest

from jaxprune import models
from jaxprune.training import checkpoint
from jaxprune.training import optim
from jaxprune.training import step as step_lib
from tests import helpers
from tests.training.common import run_stage


def test_run_manifest_refuses_another_config_and_lists_the_fields(tmp_path):
  config = {'optim': {'learning_rate': 0.05, 'epochs': 3}, 'seed': 0}
  checkpoint.check_run(str(tmp_path / 'run'), 'baseline', config)
  assert not (tmp_path / 'run').exists()  # checking writes nothing
  checkpoint.write_run(str(tmp_path / 'run'), 'baseline', config)
  checkpoint.check_run(str(tmp_path / 'run'), 'baseline', config)  # resume
  other = {'optim': {'learning_rate': 0.2, 'epochs': 3}, 'seed': 0}
  with pytest.raises(checkpoint.WorkdirConflictError,
                     match=r'optim.learning_rate: 0.05 -> 0.2'):
    checkpoint.check_run(str(tmp_path / 'run'), 'baseline', other)
  with pytest.raises(checkpoint.WorkdirConflictError,
                     match="study: 'baseline' -> 'rethinking'"):
    checkpoint.check_run(str(tmp_path / 'run'), 'rethinking', config)


def test_workdir_that_is_a_file_or_not_writable(tmp_path):
  (tmp_path / 'file').write_text('x')
  with pytest.raises(ValueError, match='is not a directory'):
    checkpoint.check_run(str(tmp_path / 'file'), 'baseline', {})
  ro = tmp_path / 'ro'
  ro.mkdir()
  # os.access answers as the OS would for this user (root may write
  # anywhere), so ask it about a directory it says is read-only.
  real_access = os.access
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(os, 'access', lambda p, mode: False if str(p) == str(ro)
               else real_access(p, mode))
    with pytest.raises(ValueError, match='not writable'):
      checkpoint.check_run(str(ro / 'run'), 'baseline', {})
  assert not (ro / 'run').exists()
  (tmp_path / 'bad').mkdir()
  (tmp_path / 'bad' / checkpoint.MANIFEST).write_text('{oops')
  with pytest.raises(ValueError, match='unreadable'):
    checkpoint.check_run(str(tmp_path / 'bad'), 'baseline', {})


def test_stage_with_other_config_is_refused_and_kept(tmp_path):
  ds = helpers.tiny_dataset(n_train=128)
  run_stage(tmp_path, 'run', ds, 1, epochs=1)
  workdir = tmp_path / 'run'
  before = {p: os.path.getmtime(p) for p in workdir.rglob('*')}
  with pytest.raises(checkpoint.WorkdirConflictError, match='lr: 0.05 -> 0.2'):
    run_stage(tmp_path, 'run', ds, 1, epochs=1, lr=0.2)
  assert before == {p: os.path.getmtime(p) for p in workdir.rglob('*')}


def test_corrupt_checkpoint_metadata_is_named(tmp_path):
  ds = helpers.tiny_dataset(n_train=128)
  run_stage(tmp_path, 'run', ds, 1, epochs=1)
  meta = next((tmp_path / 'run' / 'checkpoints').glob('*/meta/metadata'))
  meta.write_text('{not json')
  with pytest.raises(ValueError, match='corrupt'):
    run_stage(tmp_path, 'run', ds, 1, epochs=1)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
  ds = helpers.tiny_dataset(n_train=128)
  run_stage(tmp_path, 'run', ds, 1, epochs=1)
  spec = models.get_spec('digits_cnn').bind(10, [8, 'M', 16])
  v = spec.init(jax.random.key(0))
  state = step_lib.create_train_state(v['params'], v['batch_stats'],
                                      optim.sgd_coupled(0.1))
  mngr = checkpoint.manager(str(tmp_path / 'run'))
  with pytest.raises(ValueError, match='cannot restore any checkpoint'):
    checkpoint.restore_latest(mngr, state)
  with pytest.raises(ValueError, match='does not fit this model'):
    checkpoint.restore_variables(str(tmp_path / 'run'),
                                 spec.abstract_variables())


def test_restore_variables_reads_any_optimizer_and_creates_nothing(tmp_path):
  ds = helpers.tiny_dataset(n_train=128)
  fitted = run_stage(tmp_path, 'run', ds, 1, epochs=1)
  spec = models.get_spec('digits_cnn').bind(10)
  variables, meta = checkpoint.restore_variables(str(tmp_path / 'run'),
                                                 spec.abstract_variables())
  np.testing.assert_array_equal(variables['params']['conv0']['kernel'],
                                fitted.state.trainable['conv0']['kernel'])
  assert len(meta['history']) == 1
  with pytest.raises(ValueError, match='holds no jaxprune checkpoint'):
    checkpoint.restore_variables(str(tmp_path / 'nowhere'),
                                 spec.abstract_variables())
  assert not (tmp_path / 'nowhere').exists()


def test_write_json_is_atomic(tmp_path):
  path = tmp_path / 'a' / 'r.json'
  checkpoint.write_json(str(path), {'x': 1.5, 'y': [1, 'M']})
  assert json.loads(path.read_text()) == {'x': 1.5, 'y': [1, 'M']}
  assert not list(tmp_path.glob('a/*.tmp'))
