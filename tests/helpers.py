"""Small shared builders for the tests."""

import numpy as np

from jaxprune.data import arrays


def tiny_dataset(n_train=256, n_test=96, shape=(8, 8, 1), num_classes=10,
                 augment=False, seed=0):
  """A learnable synthetic dataset: class-dependent mean images + noise."""
  rng = np.random.default_rng(seed)
  protos = rng.integers(0, 256, (num_classes, *shape))

  def make(n):
    labels = rng.integers(0, num_classes, n).astype(np.int32)
    noise = rng.normal(0, 40, (n, *shape))
    images = np.clip(protos[labels] + noise, 0, 255).astype(np.uint8)
    return images, labels

  tr_x, tr_y = make(n_train)
  te_x, te_y = make(n_test)
  c = shape[-1]
  return arrays.ArrayDataset(
      train_images=tr_x, train_labels=tr_y, test_images=te_x,
      test_labels=te_y, num_classes=num_classes,
      class_names=tuple(str(i) for i in range(num_classes)),
      mean=(0.5,) * c, std=(0.25,) * c, augment=augment, name='tiny')
