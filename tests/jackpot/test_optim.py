"""The score optimizer: PyTorch SGD on the scores with the per-epoch cosine."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxprune.jackpot as jp
from jaxprune.training import optim as training_optim
from tests.helpers import magnitude_start
from tests.jackpot.common import toy_params


def test_score_optimizer_matches_pytorch_sgd_formula():
  params = toy_params(5)
  counts, masks, scores = magnitude_start(params, 0.5)
  lr, wd, mu, epochs, spe = 0.1, 5e-4, 0.9, 3, 2
  tx = jp.score_optimizer(lr, weight_decay=wd, epochs=epochs,
                          steps_per_epoch=spe, prune_counts=counts,
                          initial_masks=masks)
  state = tx.init(scores)
  s_ref = jax.tree.map(lambda a: np.asarray(a, np.float64), scores)
  buf = None

  @jax.jit
  def update(g, state, scores):
    updates, state = tx.update(g, state, scores)
    return optax.apply_updates(scores, updates), state

  for t in range(7):
    rng = np.random.default_rng(t)
    g = jax.tree.map(lambda a: jnp.asarray(rng.standard_normal(a.shape),
                                           jnp.float32), scores)
    scores, state = update(g, state, scores)
    lr_e = 0.5 * lr * (1 + math.cos(math.pi * min(t // spe, epochs) / epochs))
    d = jax.tree.map(lambda gg, s: np.asarray(gg, np.float64) + wd * s, g,
                     s_ref)
    buf = d if buf is None else jax.tree.map(lambda b, dd: mu * b + dd, buf, d)
    s_ref = jax.tree.map(lambda s, b, l=lr_e: s - l * b, s_ref, buf)
    chex.assert_trees_all_close(scores, s_ref, rtol=1e-6, atol=1e-6)
  sched = training_optim.per_epoch_schedule(lr, epochs, spe, 'cosine')
  assert float(sched(0)) == float(sched(1)) == np.float32(lr)
  assert float(sched(2)) == np.float32(0.5 * lr * (1 + math.cos(math.pi / 3)))
  assert float(sched(6)) == 0.0 and float(sched(1000)) == 0.0
