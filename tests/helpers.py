"""Small shared builders for the tests."""

import jax
import jax.numpy as jnp
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


def magnitude_subtree(params, counts):
  """The magnitude criterion's masks at per-layer ``counts``, as the score
  subtree of the counted kernels."""
  from jaxprune import pruning  # pylint: disable=g-import-not-at-top
  from jaxprune import tree as tree_lib  # pylint: disable=g-import-not-at-top
  full = pruning.get_criterion('magnitude')(
      {'params': params, 'batch_stats': {}}, None, counts).masks
  return jax.tree.map(jnp.asarray, tree_lib.gather(full, list(counts)))


def magnitude_start(params, sparsity, classifier='classifier'):
  """``(counts, masks, scores)`` of the jackpot's magnitude start: the
  global budgets, their magnitude masks (score subtree) and initial scores."""
  from jaxprune import jackpot  # pylint: disable=g-import-not-at-top
  from jaxprune import pruning  # pylint: disable=g-import-not-at-top
  counts = pruning.global_prune_counts(params, sparsity, classifier)
  masks = magnitude_subtree(params, counts)
  return counts, masks, jackpot.init_scores(masks)


def independent_test_accuracy(spec, variables, dataset):
  """Test accuracy of ``variables`` computed apart from the library's eval
  step: numpy normalisation, one jitted eval-mode forward, numpy argmax."""
  images = (dataset.test_images.astype(np.float32) / 255.0
            - np.asarray(dataset.mean, np.float32)) / np.asarray(
                dataset.std, np.float32)
  logits = jax.jit(lambda v, x: spec.module().apply(v, x, train=False))(
      variables, jnp.asarray(images))
  return float(np.mean(np.argmax(np.asarray(logits), -1) ==
                       dataset.test_labels))
