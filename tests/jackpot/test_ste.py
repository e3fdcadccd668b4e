"""The straight-through estimator from the binary mask to the scores."""


import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxprune import masks as masks_lib
from jaxprune import tree as tree_lib
import jaxprune.jackpot as jp
from tests.helpers import magnitude_start, magnitude_subtree


def _tiny_apply(p, x):
  h = jax.nn.relu(x @ p['conv0']['kernel'].reshape(3, 5))  # 1x1 conv
  return h @ p['classifier']['kernel'] + p['classifier']['bias']


def _tiny_loss(p, x, y):
  return optax.softmax_cross_entropy_with_integer_labels(
      _tiny_apply(p, x), y).mean()


def test_ste_gradient_matches_independent_computation():
  rng = np.random.default_rng(2)
  normal = lambda *shape: jnp.asarray(rng.standard_normal(shape), jnp.float32)
  params = {'conv0': {'kernel': normal(1, 1, 3, 5)},
            'classifier': {'kernel': normal(5, 2),
                           'bias': jnp.asarray([0.1, -0.2])}}
  x = normal(16, 3)
  y = jnp.asarray(rng.integers(0, 2, 16))
  counts = {('conv0', 'kernel'): 6, ('classifier', 'kernel'): 0}
  masks = magnitude_subtree(params, counts)
  scores = jp.init_scores(masks)

  def score_loss(s, b):
    return _tiny_loss(jp.effective_params(params, s, b), x, y)

  g_s = jax.jit(jax.grad(score_loss))(scores, masks)

  # Independent: dL/dW_eff at W_eff = W * B, times W.
  w_eff = jax.tree.map(lambda w, b: w * b, tree_lib.gather(params, counts), masks)
  g_eff = jax.jit(jax.grad(
      lambda we: _tiny_loss(tree_lib.scatter(params, we), x, y)))(w_eff)
  want = jax.tree.map(lambda g, w: g * w, g_eff, tree_lib.gather(params, counts))
  chex.assert_trees_all_close(g_s, want, rtol=1e-6, atol=1e-7)
  # Dense: pruned positions get gradients too.
  pruned = np.asarray(masks['conv0']['kernel']) == 0
  assert np.count_nonzero(np.asarray(g_s['conv0']['kernel'])[pruned]) > 0
  # Forward is exactly W * B.
  eff = jax.jit(jp.effective_params)(params, scores, masks)
  chex.assert_trees_all_equal(eff, masks_lib.apply_masks(params, masks_lib.full_masks(params, masks)))
  # Frozen: no gradient reaches W, the biases or the masks.
  g_p = jax.jit(jax.grad(lambda p: _tiny_loss(
      jp.effective_params(p, scores, masks), x, y)))(params)
  chex.assert_trees_all_equal(g_p, jax.tree.map(jnp.zeros_like, params))
  g_b = jax.jit(jax.grad(score_loss, argnums=1))(scores, masks)
  chex.assert_trees_all_equal(g_b, jax.tree.map(jnp.zeros_like, masks))


def test_ste_on_digits_cnn():
  from jaxprune.models import digits_cnn
  model = digits_cnn.DigitsCNN((4, 'M', 8))
  x = jnp.asarray(np.random.default_rng(3).standard_normal((4, 8, 8, 1)),
                  jnp.float32)
  y = jnp.asarray([0, 1, 2, 3])
  variables = jax.jit(model.init)(jax.random.key(4), x)
  params, stats = variables['params'], variables['batch_stats']
  counts, masks, scores = magnitude_start(params, 0.6)
  assert counts[('classifier', 'kernel')] == 0

  def loss(p):
    logits = model.apply({'params': p, 'batch_stats': stats}, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  g_s = jax.jit(jax.grad(
      lambda s: loss(jp.effective_params(params, s, masks))))(scores)
  w = tree_lib.gather(params, list(counts))
  g_eff = jax.jit(jax.grad(lambda we: loss(tree_lib.scatter(params, we))))(
      jax.tree.map(lambda a, b: a * b, w, masks))
  chex.assert_trees_all_close(g_s, jax.tree.map(lambda g, a: g * a, g_eff, w),
                              rtol=1e-5, atol=1e-7)
