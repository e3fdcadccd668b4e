"""Archives of image folders: extracted once into the cache."""

import os
import tarfile

import numpy as np

from jaxprune import data
from tests.data.common import make_folder


def test_image_folder_from_tar_gz_extracts_once(tmp_path):
  root = make_folder(tmp_path / 'src' / 'tiny-set', fmt='JPEG')
  archive = tmp_path / 'tiny-set.tar.gz'
  with tarfile.open(archive, 'w:gz') as tar:
    tar.add(root, arcname='tiny-set')
  cache = tmp_path / 'cache'
  ds = data.load_image_folder(archive, cache_dir=cache)
  assert ds.train_images.shape == (12, 6, 5, 3) and ds.name == 'tiny-set'
  extracted = list((cache / 'extracted').iterdir())
  assert len(extracted) == 1
  stamp = os.stat(extracted[0]).st_mtime_ns
  again = data.load_image_folder(archive, cache_dir=cache)
  np.testing.assert_array_equal(ds.train_images, again.train_images)
  assert list((cache / 'extracted').iterdir()) == extracted
  assert os.stat(extracted[0]).st_mtime_ns == stamp
