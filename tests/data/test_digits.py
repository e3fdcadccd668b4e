"""The embedded scikit-learn digits."""


import numpy as np

from jaxprune import data


def test_digits_shapes_dtypes_and_labels():
  ds = data.load_digits()
  assert ds.train_images.shape == (1437, 8, 8, 1)
  assert ds.test_images.shape == (360, 8, 8, 1)
  assert ds.train_images.dtype == np.uint8 and ds.test_images.dtype == np.uint8
  assert ds.train_labels.dtype == np.int32 and ds.test_labels.dtype == np.int32
  assert ds.num_classes == 10 and ds.class_names == tuple('0123456789')
  for labels in (ds.train_labels, ds.test_labels):
    assert labels.min() == 0 and labels.max() == 9
  assert ds.train_images.max() == 255 and ds.train_images.min() == 0
  # Stratified: every class has 35-37 test examples.
  assert set(np.bincount(ds.test_labels, minlength=10)) <= {35, 36, 37}
  assert not ds.augment and ds.name == 'digits'
  x = ds.train_images.astype(np.float64) / 255
  np.testing.assert_allclose(ds.mean, [x.mean()], rtol=1e-6)
  np.testing.assert_allclose(ds.std, [x.std()], rtol=1e-6)


def test_digits_deterministic():
  a, b = data.load_digits(), data.load_digits()
  for field in ('train_images', 'train_labels', 'test_images', 'test_labels'):
    np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
  assert a.mean == b.mean and a.std == b.std
