"""tfds array datasets."""

import re

import pytest

from jaxprune import data


def test_tfds_arrays_missing_dataset_is_a_clear_error(tmp_path):
  empty = tmp_path / 'tfds'
  with pytest.raises(FileNotFoundError, match=r"'cifar100'.*" + re.escape(str(empty))):
    data.load_tfds_arrays('cifar100', data_dir=empty)
  with pytest.raises(FileNotFoundError, match=r"'cifar10'.*" + re.escape(str(empty))):
    data.load_dataset('cifar10', data_dir=empty)
  with pytest.raises(ValueError, match='mnist'):
    data.load_tfds_arrays('mnist')
