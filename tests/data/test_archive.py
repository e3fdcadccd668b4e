"""Archives of image folders: extracted once into the cache."""

import os
import tarfile

import numpy as np
import pytest

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


def test_a_damaged_archive_is_refused_and_nothing_is_cached(tmp_path):
  """A copy with a zeroed block reads, to tar, as a shorter archive; it
  must not be extracted in part and cached as complete."""
  src = tmp_path / 'src' / 'noise'
  rng = np.random.default_rng(0)
  for split in ('train', 'test'):
    for cls in ('a', 'b'):
      (src / split / cls).mkdir(parents=True)
      for i in range(20):  # incompressible, so the archive is long
        (src / split / cls / f'{i}.bin').write_bytes(rng.bytes(20000))
  archive = tmp_path / 'noise.tar.gz'
  with tarfile.open(archive, 'w:gz') as tar:
    tar.add(src, arcname='noise')
  raw = bytearray(archive.read_bytes())
  raw[len(raw) // 2:len(raw) // 2 + 1000] = bytes(1000)
  archive.write_bytes(bytes(raw))
  cache = tmp_path / 'cache'
  with pytest.raises(ValueError, match=r'noise.tar.gz: it is damaged \('):
    data.extract_archive(archive, cache_dir=cache)
  assert not list((cache / 'extracted').iterdir())
