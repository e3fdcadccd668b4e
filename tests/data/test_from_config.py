"""The data stage from ``config.data``."""

import numpy as np
import pytest

from experiments.configs import base
from jaxprune import data


def _data(**kw):
  return base.override(base.get_config(), {f'data.{k}': v for k, v in
                                           kw.items()}).data


def test_subsets_and_resize_of_array_datasets():
  ds = data.load_data(_data(train_subset=100, test_subset=20, image_size=12),
                      num_devices=1, seed=0)
  assert ds.train_images.shape == (100, 12, 12, 1)
  assert ds.test_images.shape == (20, 12, 12, 1) and len(ds.test_labels) == 20
  assert ds.train_images.dtype == np.uint8
  again = data.load_data(_data(train_subset=100), num_devices=1, seed=5)
  full = data.load_dataset('digits')
  # The same fixed subset whatever the run's seed.
  keep = np.sort(np.random.default_rng(0).permutation(full.num_train)[:100])
  np.testing.assert_array_equal(again.train_labels, full.train_labels[keep])
  with pytest.raises(ValueError, match='exceeds'):
    data.load_data(_data(train_subset=10**6), num_devices=1, seed=0)


@pytest.mark.parametrize('kw, match', [
    (dict(name='mnist'), 'unknown dataset'),
    (dict(batch_size=0), 'batch_size must be positive'),
    (dict(batch_size=60), 'does not divide over 8 devices'),
    (dict(train_subset=-1), 'train_subset must be >= 0'),
])
def test_bad_data_config(kw, match):
  with pytest.raises(ValueError, match=match):
    data.check_data_config(_data(**kw), 8)


def test_make_source_from_config():
  cfg = _data(batch_size=32, eval_batch_size=64)
  ds = data.load_data(cfg, num_devices=2, seed=0)
  source = data.make_source(cfg, ds, num_devices=2, seed=3)
  assert isinstance(source, data.ArraySource) and source.seed == 3
  assert source.steps_per_epoch == 45 and source.num_classes == 10


def test_imagenet_options_reach_the_loader(monkeypatch):
  # manual_dir used to be read from the config but could never be set.
  from jaxprune.data import registry
  seen = {}

  class Reached(Exception):
    pass

  def loader(**kw):
    seen.update(kw)
    raise Reached()

  fake = registry.Registry('dataset')
  fake.register('imagenet2012', loader)
  monkeypatch.setattr(registry, '_LOADERS', fake)
  cfg = _data(name='imagenet2012', data_dir='/data/tfds',
              manual_dir='/data/tars', batch_size=16)
  with pytest.raises(Reached):
    data.load_data(cfg, num_devices=2, seed=4)
  assert seen == {'data_dir': '/data/tfds', 'manual_dir': '/data/tars',
                  'global_batch': 16, 'num_devices': 2, 'seed': 4,
                  'process_index': 0, 'process_count': 1}  # one process
