"""Batch sources: epoch plans, eval padding, examples for criteria."""

import numpy as np
import pytest

from jaxprune import data
from jaxprune.data import sources
from tests import helpers
from tests.data.common import make_folder


def test_epoch_batches_keep_partial_batch_and_divide_over_devices():
  batches = sources.epoch_batches(100, 32, 4, seed=0, epoch=0)
  assert [b.shape for b in batches] == [(4, 8)] * 3 + [(4, 1)]
  ids = np.concatenate([b.ravel() for b in batches])
  assert len(set(ids)) == 100
  assert sources.steps_per_epoch(100, 32, 4) == 4
  again = sources.epoch_batches(100, 32, 4, seed=0, epoch=0)
  assert all(np.array_equal(a, b) for a, b in zip(batches, again))
  other = sources.epoch_batches(100, 32, 4, seed=0, epoch=1)
  assert not np.array_equal(batches[0], other[0])
  with pytest.raises(ValueError, match='does not divide over 8 devices'):
    sources.epoch_batches(100, 12, 8, seed=0, epoch=0)


def test_eval_pads_and_masks_last_batch():
  batches = list(sources.eval_batches(37, 16, 8))
  assert sum(float(b['mask'].sum()) for b in batches) == 37
  assert all(b['ids'].shape == (8, 2) for b in batches)


def test_array_source_examples_are_the_normalised_training_images():
  ds = helpers.tiny_dataset(n_train=40, n_test=8, augment=True)
  source = data.ArraySource(ds, 8, 8, 2, seed=0)
  ex = source.examples(10)
  assert ex['image'].shape == (10, 8, 8, 1) and ex['image'].dtype == np.float32
  np.testing.assert_allclose(ex['image'],
                             (ds.train_images[:10] / 255.0 - 0.5) / 0.25,
                             rtol=1e-6, atol=1e-6)
  np.testing.assert_array_equal(ex['label'], ds.train_labels[:10])
  assert source.examples(1000)['image'].shape[0] == 40
  assert source.with_batch_size(16).steps_per_epoch == 3


def test_streamed_source_examples_too(tmp_path):
  # The overlap study reads its examples through this method; the streamed
  # source had no way to give them (the batch builder wanted example ids).
  root = make_folder(tmp_path / 'f', counts={'train': 5, 'test': 3},
                     size=(40, 48), fmt='JPEG')
  stream = data.make_folder_iterators(root, global_batch=4, num_devices=2,
                                      seed=0, image_size=32, resize_size=36)
  source = data.StreamingSource(stream)
  ex = source.examples(7)
  assert ex['image'].shape == (7, 32, 32, 3) and ex['label'].shape == (7,)
  assert np.all(np.isfinite(ex['image']))
  assert source.examples(100)['image'].shape[0] == 15  # every training image
  assert source.with_batch_size(4) is source
  with pytest.raises(ValueError, match='batched at 4'):
    source.with_batch_size(8)
