"""Streaming (tf.data) pipelines on ImageNet-style folders."""

import re

import numpy as np
import pytest

from jaxprune import data
from tests.data.common import make_folder, raises_naming


def test_streaming_pipeline_on_a_tiny_folder(tmp_path):
  root = make_folder(tmp_path / 'stream', counts={'train': 5, 'test': 3}, size=(40, 48), fmt='JPEG')
  kwargs = dict(global_batch=4, num_devices=2, seed=0, image_size=32, resize_size=36)
  stream = data.make_folder_iterators(root, **kwargs)
  assert stream.num_train == 15 and stream.num_eval == 9 and stream.num_classes == 3
  assert stream.steps_per_epoch == 3 and stream.eval_steps == 3
  assert stream.mean == data.IMAGENET_MEAN
  train = stream.train_iterator()
  batches = [next(train) for _ in range(5)]  # repeats past one epoch
  for batch in batches:
    assert batch['image'].shape == (2, 2, 32, 32, 3) and batch['image'].dtype == np.float32
    assert batch['label'].shape == (2, 2) and batch['label'].dtype == np.int32
    np.testing.assert_array_equal(batch['mask'], np.ones((2, 2), np.float32))
    assert np.all(np.isfinite(batch['image']))
  # Reproducible for a seed.
  again = data.make_folder_iterators(root, **kwargs).train_iterator()
  for batch in batches:
    b2 = next(again)
    np.testing.assert_array_equal(batch['image'], b2['image'])
    np.testing.assert_array_equal(batch['label'], b2['label'])

  evals = list(stream.eval_iterator())
  assert len(evals) == 3
  masks = np.stack([b['mask'] for b in evals])
  assert masks.shape == (3, 2, 2) and masks.sum() == 9
  np.testing.assert_array_equal(masks[-1].reshape(-1), [1, 0, 0, 0])
  assert np.all(evals[-1]['image'].reshape(4, -1)[1:] == 0)
  # Eval images are nearly constant per image (JPEG of a flat colour plus a marker pixel):
  # the centre crop removes the marker and normalisation is (v / 255 - mean) / std.
  labels = np.concatenate([b['label'].reshape(-1) for b in evals])[:9]
  images = np.concatenate([b['image'].reshape(4, 32, 32, 3) for b in evals])[:9]
  pixel = images * np.array(data.IMAGENET_STD) + np.array(data.IMAGENET_MEAN)
  assert np.all(np.abs(pixel[:, 16, 16, 0] * 255 - (40 * labels + 10)) <= 3 * 2 + 4)
  assert sorted(np.bincount(labels).tolist()) == [3, 3, 3]


def test_streaming_pipeline_reads_png(tmp_path):
  root = make_folder(tmp_path / 'pngs', counts={'train': 2, 'test': 1}, size=(40, 48))
  stream = data.make_folder_iterators(root, global_batch=2, num_devices=1, seed=1, image_size=24,
                                      resize_size=28, mean=(0.5,) * 3, std=(0.5,) * 3)
  batch = next(stream.train_iterator())
  assert batch['image'].shape == (1, 2, 24, 24, 3) and np.all(np.abs(batch['image']) <= 1.0 + 1e-5)
  evals = list(stream.eval_iterator())
  assert [b['mask'].sum() for b in evals] == [2, 1]


def test_streaming_rejects_bad_layout(tmp_path):
  with pytest.raises(ValueError, match='multiple of num_devices'):
    data.make_folder_iterators(make_folder(tmp_path / 'f', size=(40, 48)), global_batch=3, num_devices=2,
                               image_size=32, resize_size=36)
  with raises_naming(tmp_path / 'missing', FileNotFoundError):
    data.make_folder_iterators(tmp_path / 'missing', global_batch=4, num_devices=2)


def test_imagenet_missing_is_a_clear_error(tmp_path):
  with pytest.raises(FileNotFoundError, match=r"'imagenet2012'.*" + re.escape(str(tmp_path / 'manual'))):
    data.make_imagenet_iterators(tmp_path / 'tfds', tmp_path / 'manual', global_batch=8, num_devices=1)


def test_a_resumed_stream_gives_the_batches_of_an_uninterrupted_one(tmp_path):
  # Regression: a streamed run restarted its stream from the seed on resume,
  # so it saw another data order than an uninterrupted run.
  root = make_folder(tmp_path / 'f', counts={'train': 5, 'test': 2},
                     size=(20, 24), fmt='JPEG')
  kwargs = dict(global_batch=4, num_devices=2, seed=3, image_size=16,
                resize_size=18)
  stream = data.make_folder_iterators(root, **kwargs)
  it = stream.train_iterator()
  full = [next(it) for _ in range(9)]  # 3 epochs of 3 batches, reshuffled
  again = data.make_folder_iterators(root, **kwargs)
  for skip in (1, 4, 7):
    resumed = again.train_iterator(skip_batches=skip)
    for want in full[skip:skip + 2]:
      got = next(resumed)
      np.testing.assert_array_equal(got['image'], want['image'])
      np.testing.assert_array_equal(got['label'], want['label'])
  source = data.StreamingSource(data.make_folder_iterators(root, **kwargs))
  assert source.steps_per_epoch == 3
  epoch2 = list(source.train_inputs(1, start=1))
  assert len(epoch2) == 2
  np.testing.assert_array_equal(epoch2[0]['image'], full[4]['image'])
  continued = list(source.train_inputs(2))  # continues the same stream
  np.testing.assert_array_equal(continued[2]['label'], full[8]['label'])


def _assert_rows_stack_to(parts, whole):
  """Per-process batches, stacked in process order, equal ``whole``."""
  for key in ('image', 'label', 'mask'):
    np.testing.assert_array_equal(np.concatenate([b[key] for b in parts]),
                                  whole[key])


def test_processes_stream_their_own_rows_of_the_one_process_batches(tmp_path):
  # 4 devices over 2 processes: each process decodes only its 2 devices'
  # rows; stacked in process order they are the one-process batches, in
  # training (also resumed mid-stream) and eval (padded, same batch count).
  root = make_folder(tmp_path / 'f', counts={'train': 5, 'test': 3},
                     size=(20, 24), fmt='JPEG')
  kwargs = dict(global_batch=8, num_devices=4, seed=2, image_size=16,
                resize_size=18)
  one = data.make_folder_iterators(root, **kwargs)
  parts = [data.make_folder_iterators(root, process_index=i, process_count=2,
                                      **kwargs) for i in range(2)]
  assert one.eval_steps == 2  # 9 test images at batch 8: the last padded
  for skip in (0, 3):
    want = one.train_iterator(skip)
    got = [p.train_iterator(skip) for p in parts]
    for _ in range(4):  # past an epoch (15 // 8 = 1 step each)
      w, g = next(want), [next(it) for it in got]
      assert g[0]['image'].shape == (2, 2, 16, 16, 3)
      _assert_rows_stack_to(g, w)
  want = list(one.eval_iterator())
  got = [list(p.eval_iterator()) for p in parts]
  assert len(got[0]) == len(got[1]) == len(want) == 2
  for w, g0, g1 in zip(want, *got):
    _assert_rows_stack_to([g0, g1], w)
  assert float(sum(b['mask'].sum() for b in got[1])) == 4.0  # 9 = 4 + 1 + 4


def test_a_process_cannot_feed_a_device_count_it_does_not_divide(tmp_path):
  root = make_folder(tmp_path / 'f', counts={'train': 2, 'test': 1},
                     size=(20, 24), fmt='JPEG')
  with pytest.raises(ValueError, match='process 1 of 3 cannot feed 4'):
    data.make_folder_iterators(root, global_batch=8, num_devices=4,
                               process_index=1, process_count=3)
