"""Every config file loads; paper rows and their published numbers."""

import glob
import importlib
import os

import pytest

from experiments.configs import jackpot as jackpot_rows
from experiments.configs import paper
from experiments.configs import rethinking as rethinking_rows
from jaxprune import models
from jaxprune import pruning
from jaxprune import studies

CONFIG_FILES = sorted(
    os.path.basename(p)[:-3] for p in glob.glob(os.path.join(
        os.path.dirname(paper.__file__), '*.py'))
    if not p.endswith(('__init__.py', 'paper.py', 'base.py')))


@pytest.mark.parametrize('name', CONFIG_FILES)
def test_every_config_file_names_a_known_study_model_and_criterion(name):
  module = importlib.import_module(f'experiments.configs.{name}')
  config = module.get_config()
  studies.get_study(config.study)
  models.get_spec(config.model.name)
  pruning.get_criterion(config.prune.method)


def test_rethinking_rows():
  with pytest.raises(ValueError, match='known rows'):
    rethinking_rows.get_config('nope')
  config = rethinking_rows.get_config('resnet56_b')
  assert config.prune.stage_ratios == (0.6, 0.3, 0.1)
  assert config.prune.skip == (16, 18, 20, 34, 38, 54) and config.seeds == 5
  assert config.finetune.epochs == 40 and config.finetune.learning_rate == 0.001
  assert config.paper.scratch_b == '93.05 ± 0.18'
  for row, (dataset, model, method, _) in paper.RETHINKING_ROWS.items():
    c = rethinking_rows.get_config(row)
    assert (c.data.name, c.model.name, c.prune.method) == (dataset, model,
                                                           method)
    assert set(c.paper) == set(paper.RETHINKING_STAGES)
    kind = pruning.get_criterion(method).kind
    assert kind == 'unstructured' or models.get_spec(model).channel_prunable


def test_row_variants():
  small = rethinking_rows.get_config('resnet56_a,small')
  assert (small.model.name, small.data.train_subset, small.optim.epochs,
          small.seeds) == ('resnet56', 2000, 2, 1)
  assert not small.paper  # other data: nothing to put beside it
  assert rethinking_rows.get_config('vgg16_a,cifar100').data.name == 'cifar100'
  assert rethinking_rows.get_config('resnet34_a').optim.lr_step_every == 30
  with pytest.raises(ValueError, match='unknown row variants'):
    rethinking_rows.get_config('resnet56_a,tiny')
  tiny = rethinking_rows.get_config('resnet34_a,small')
  assert (tiny.data.name, tiny.data.image_size, tiny.data.train_subset,
          tiny.data.test_subset, tiny.scratch.b_rule) == (
              'cifar10', 224, 64, 64, 'imagenet')
  with pytest.raises(ValueError, match='no cifar100 variant'):
    rethinking_rows.get_config('resnet34_a,cifar100')


def test_jackpot_rows():
  for row in jackpot_rows.ROWS:
    config = jackpot_rows.get_config(row)
    assert 0 < config.jackpot.sparsity < 1
    assert config.jackpot.epochs in (30, 160)
    assert list(config.paper.values()) == [paper.JACKPOT_PUBLISHED[row]]
  config = jackpot_rows.get_config('resnet50_in_s80_e30_t10')
  assert (config.model.name, config.data.name, config.jackpot.tune_epochs,
          config.jackpot.weight_decay) == ('resnet50', 'imagenet2012', 10,
                                           1e-4)
  assert config.paper.tune == 76.66
  with pytest.raises(ValueError, match='unknown jackpot row'):
    jackpot_rows.get_config('vgg19_c10_s98_e30')
