"""Shared data-test builders: tiny image folders and random images."""

import re

import numpy as np
import pytest
from PIL import Image



def numpy_windows(image, pad=4):
  """All (dy, dx, flip) -> crop of the zero-padded image, independently of jaxprune."""
  h, w, _ = image.shape
  padded = np.zeros((h + 2 * pad, w + 2 * pad, image.shape[2]), image.dtype)
  padded[pad:pad + h, pad:pad + w] = image
  out = {}
  for dy in range(2 * pad + 1):
    for dx in range(2 * pad + 1):
      crop = padded[dy:dy + h, dx:dx + w]
      out[(dy, dx, False)] = crop
      out[(dy, dx, True)] = crop[:, ::-1]
  return out


def random_images(b=8, h=12, w=10, c=3, seed=0):
  # Values >= 1 so that zero padding is distinguishable from image content.
  return np.random.default_rng(seed).integers(1, 256, (b, h, w, c), dtype=np.uint8)


CLASSES = ('zebra', 'ant', 'mole')  # created unsorted on purpose


def class_value(label, index):
  return 40 * label + 3 * index + 10


def make_folder(root, counts=None, size=(6, 5), fmt='PNG', classes=CLASSES):
  """<root>/{train,test}/<class>/NN.png; pixel value encodes (sorted label, index)."""
  counts = counts or {'train': 4, 'test': 2}
  sorted_classes = sorted(classes)
  for split, n in counts.items():
    for name in classes:
      folder = root / split / name
      folder.mkdir(parents=True, exist_ok=True)
      label = sorted_classes.index(name)
      for i in range(n):
        img = np.full((size[0], size[1], 3), class_value(label, i), np.uint8)
        img[0, 0] = (label, i, 200)
        ext = 'png' if fmt == 'PNG' else 'jpg'
        Image.fromarray(img).save(folder / f'{i:02d}.{ext}', format=fmt)
  return root


def raises_naming(path, exc=ValueError):
  return pytest.raises(exc, match=re.escape(str(path)))
