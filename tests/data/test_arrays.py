"""ArrayDataset: validation, subsets, resizing."""


import numpy as np
import pytest

from jaxprune import data


def test_array_dataset_validates():
  ds = data.load_digits()
  with pytest.raises(ValueError, match='uint8'):
    ds.replace(train_images=ds.train_images.astype(np.float32))
  with pytest.raises(ValueError, match='int32'):
    ds.replace(test_labels=ds.test_labels.astype(np.int64))
  with pytest.raises(ValueError, match='one value per channel'):
    ds.replace(mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))


def test_train_subset_test_subset_and_resized():
  ds = data.load_dataset('digits')
  sub = ds.train_subset(50, seed=1).test_subset(7)
  assert sub.num_train == 50 and sub.num_test == 7
  keep = np.sort(np.random.default_rng(1).permutation(ds.num_train)[:50])
  np.testing.assert_array_equal(sub.train_images, ds.train_images[keep])
  big = sub.resized(16)
  assert big.image_shape == (16, 16, 1) and big.train_images.dtype == np.uint8
  with pytest.raises(ValueError, match='exceeds'):
    ds.train_subset(ds.num_train + 1)
