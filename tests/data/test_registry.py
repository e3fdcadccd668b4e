"""Datasets by name."""


import pytest

from jaxprune import data


def test_registry():
  # Other test files in the same worker may have registered their own datasets.
  names = data.dataset_names()
  assert names == sorted(names)
  assert {'cifar10', 'cifar100', 'digits', 'image_folder', 'imagenet2012'} <= set(names)
  ds = data.load_dataset('digits')
  assert ds.train_images.shape == (1437, 8, 8, 1)
  with pytest.raises(ValueError, match=r"unknown dataset 'mnist'.*cifar10.*digits.*image_folder.*imagenet2012"):
    data.load_dataset('mnist')
  with pytest.raises(ValueError, match='path'):
    data.load_dataset('image_folder')
