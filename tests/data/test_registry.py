"""Datasets by name."""


import pytest

from jaxprune import data


def test_registry():
  assert data.dataset_names() == ['cifar10', 'cifar100', 'digits', 'image_folder', 'imagenet2012']
  ds = data.load_dataset('digits')
  assert ds.train_images.shape == (1437, 8, 8, 1)
  with pytest.raises(ValueError, match=r"unknown dataset 'mnist'.*cifar10.*digits.*image_folder.*imagenet2012"):
    data.load_dataset('mnist')
  with pytest.raises(ValueError, match='path'):
    data.load_dataset('image_folder')
