"""Normalisation statistics."""


import pytest

from jaxprune import data


def test_dataset_stats():
  for name in ('cifar10', 'cifar100', 'cifar10-jpeg', '/x/y/cifar10-jpeg', '/x/cifar10-jpeg.tar.gz'):
    assert data.dataset_stats(name) == ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
  assert data.dataset_stats('imagenet2012') == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
  with pytest.raises(ValueError, match='svhn'):
    data.dataset_stats('svhn')
