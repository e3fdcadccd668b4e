"""SNIP, GraSP and SynFlow against independent computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import pruning
from jaxprune import tree as tree_lib
from jaxprune.pruning import saliency


def _toy():
  rng = np.random.default_rng(0)
  params = {
      'conv': {'kernel': jnp.asarray(rng.normal(size=(1, 1, 4, 5)),
                                     jnp.float32)},
      'classifier': {'kernel': jnp.asarray(rng.normal(size=(5, 3)),
                                           jnp.float32),
                     'bias': jnp.asarray(rng.normal(size=(3,)), jnp.float32)},
  }

  def loss_fn(p, batch):
    x, y = batch
    h = x @ p['conv']['kernel'][0, 0]
    logits = h @ p['classifier']['kernel'] + p['classifier']['bias']
    return 0.5 * jnp.mean(jnp.sum((logits - y) ** 2, axis=1))

  x = rng.normal(size=(6, 4)).astype(np.float32)
  y = rng.normal(size=(6, 3)).astype(np.float32)
  return params, loss_fn, x, y


PATHS = [('classifier', 'kernel'), ('conv', 'kernel')]


def test_snip_scores_match_numpy():
  params, loss_fn, x, y = _toy()
  k = np.asarray(params['conv']['kernel'][0, 0], np.float64)
  wc = np.asarray(params['classifier']['kernel'], np.float64)
  b = np.asarray(params['classifier']['bias'], np.float64)
  h = x @ k
  d = (h @ wc + b - y) / len(x)
  s = saliency.snip_scores(params, loss_fn, (jnp.asarray(x), jnp.asarray(y)),
                           PATHS)
  np.testing.assert_allclose(s['classifier']['kernel'], np.abs(h.T @ d * wc),
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(s['conv']['kernel'][0, 0],
                             np.abs(x.T @ (d @ wc.T) * k), rtol=1e-5,
                             atol=1e-6)


def test_grasp_hvp_matches_finite_difference():
  params, loss_fn, x, y = _toy()
  batch = (jnp.asarray(x), jnp.asarray(y))
  s = saliency.grasp_scores(params, loss_fn, batch, PATHS)
  kern = tree_lib.gather(params, PATHS)

  def grad_k(kk):
    return jax.grad(lambda q: loss_fn(tree_lib.scatter(params, q), batch))(kk)

  g = grad_k(kern)
  eps = 1e-3
  plus = grad_k(jax.tree.map(lambda a, v: a + eps * v, kern, g))
  minus = grad_k(jax.tree.map(lambda a, v: a - eps * v, kern, g))
  hg = jax.tree.map(lambda p, m: (p - m) / (2 * eps), plus, minus)
  want = jax.tree.map(lambda h, w: -h * w, hg, kern)
  for a, b in zip(jax.tree.leaves(s), jax.tree.leaves(want)):
    np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-3)


@pytest.fixture(scope='module')
def digits():
  spec = models.get_spec('digits_cnn').bind(10)
  variables = spec.init(jax.random.key(0))
  counts = pruning.global_prune_counts(variables['params'], 0.7)
  counts[('classifier', 'kernel')] = 17  # exercise every layer
  batch = {'image': np.asarray(jax.random.normal(jax.random.key(1),
                                                 (8, 8, 8, 1))),
           'label': np.arange(8) % 10}
  return spec, variables, counts, batch


def _criterion(name):
  if name == 'synflow':  # fewer rounds: the same rule, cheaper
    return pruning.Criterion('synflow4', lambda *a, **k: saliency.synflow(
        *a, **k, iterations=4), 'unstructured')
  return pruning.get_criterion(name)


@pytest.mark.parametrize('name', ['snip', 'grasp', 'synflow', 'random',
                                  'magnitude', 'l1_filter'])
def test_exact_per_layer_counts_on_a_model(digits, name):
  spec, variables, counts, batch = digits
  masks = _criterion(name)(variables, spec, counts, batch=batch,
                           rng=jax.random.key(2)).masks
  assert masks_lib.zero_counts(masks, counts) == counts


@pytest.mark.parametrize('name', ['snip', 'grasp', 'synflow'])
def test_a_ratio_prunes_globally(digits, name):
  spec, variables, _, batch = digits
  masks = _criterion(name)(variables, spec, 0.6, batch=batch).masks
  convs = masks_lib.conv_kernel_paths(variables['params'])
  n = sum(np.size(tree_lib.get(variables['params'], p)) for p in convs)
  assert sum(masks_lib.zero_counts(masks, convs).values()) == int(n * 0.6)
  np.testing.assert_array_equal(masks['classifier']['kernel'], 1)


def test_grasp_prunes_the_highest_scores(digits):
  spec, variables, counts, batch = digits
  masks = pruning.get_criterion('grasp')(variables, spec, counts,
                                         batch=batch).masks
  loss = saliency.make_loss_fn(saliency.make_apply_fn(
      spec, variables['batch_stats'], True), saliency.GRASP_TEMPERATURE)
  scores = saliency.grasp_scores(
      variables['params'], loss,
      (jnp.asarray(batch['image']), jnp.asarray(batch['label'])),
      list(counts))
  s = np.asarray(scores['conv1']['kernel']).ravel()
  pruned = np.asarray(masks['conv1']['kernel']).ravel() == 0
  assert s[pruned].min() >= s[~pruned].max()


def test_data_driven_criteria_need_a_batch(digits):
  spec, variables, counts, _ = digits
  with pytest.raises(ValueError, match="'snip' is data-driven"):
    pruning.get_criterion('snip')(variables, spec, counts)
