"""The reshape max pool equals ``lax.reduce_window`` max bit for bit: values,
gradients (ties go to the first maximum, as ``select_and_scatter_add``) and
forward-mode derivatives, Hessian-vector products away from ties (at a tie
the second derivative is undefined, and JAX's reduce_window rule moves it
elsewhere), and a model's logits and gradients under either lowering."""

from hypothesis import given, settings, strategies as st
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import models
from jaxprune.models import pool_lowering


def _reduce_window(x, window):
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max,
                               (1, window, window, 1),
                               (1, window, window, 1), 'VALID')


def _tiled(x, window):
  return pool_lowering.tiled_max_pool(x, window)


def _assert_same(a, b):
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _derivatives(pool, x, cotangent, tangent, window):
  """Value, VJP and JVP of ``pool``."""
  f = lambda x: pool(x, window)  # noqa: E731
  y, vjp = jax.vjp(f, x)
  _, jvp = jax.jvp(f, (x,), (tangent,))
  return y, vjp(cotangent)[0], jvp


def _hvp(pool, x, cotangent, tangent, window):
  loss = lambda x: jnp.sum(jnp.sin(pool(x, window)) * cotangent)  # noqa: E731
  return jax.jvp(jax.grad(loss), (x,), (tangent,))[1]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), tiles_h=st.integers(1, 4),
       tiles_w=st.integers(1, 4), c=st.integers(1, 5),
       window=st.sampled_from([2, 3]), levels=st.integers(1, 4),
       nan=st.booleans(), seed=st.integers(0, 2**16))
def test_equals_reduce_window_with_ties_and_nans(n, tiles_h, tiles_w, c,
                                                 window, levels, nan, seed):
  rng = np.random.default_rng(seed)
  shape = (n, tiles_h * window, tiles_w * window, c)
  # Few distinct values, so most windows hold ties (as ReLU zeros do).
  x = rng.integers(-levels, levels + 1, shape).astype(np.float32)
  if nan:
    x[tuple(rng.integers(0, s) for s in shape)] = np.nan
  out_shape = (n, tiles_h, tiles_w, c)
  cotangent = rng.normal(size=out_shape).astype(np.float32)
  tangent = rng.normal(size=shape).astype(np.float32)
  ours = jax.jit(_derivatives, static_argnums=(0, 4))(
      _tiled, x, cotangent, tangent, window)
  ref = jax.jit(_derivatives, static_argnums=(0, 4))(
      _reduce_window, x, cotangent, tangent, window)
  chex.assert_shape(ours[0], out_shape)
  for a, b in zip(ours, ref):
    _assert_same(a, b)


@settings(max_examples=10, deadline=None)
@given(window=st.sampled_from([2, 3]), seed=st.integers(0, 2**16))
def test_hessian_vector_products_equal_without_ties(window, seed):
  rng = np.random.default_rng(seed)
  shape = (2, 2 * window, 3 * window, 3)
  x, tangent = rng.normal(size=(2, *shape)).astype(np.float32)
  cotangent = rng.normal(size=(2, 2, 3, 3)).astype(np.float32)
  hvp = jax.jit(_hvp, static_argnums=(0, 4))
  _assert_same(hvp(_tiled, x, cotangent, tangent, window),
               hvp(_reduce_window, x, cotangent, tangent, window))


def test_vmap_and_bfloat16():
  x = jax.random.normal(jax.random.key(0), (3, 2, 8, 8, 4), jnp.bfloat16)
  g = jax.vmap(jax.grad(lambda x: jnp.sum(_tiled(x, 2).astype(jnp.float32))))
  r = jax.vmap(jax.grad(lambda x: jnp.sum(
      _reduce_window(x, 2).astype(jnp.float32))))
  chex.assert_trees_all_equal(g(x), r(x))
  assert _tiled(x[0], 2).dtype == jnp.bfloat16


@pytest.mark.parametrize('backend,shape,window,stride,expected', [
    ('cpu', (2, 32, 32, 64), 2, 2, 'reshape'),
    ('cpu', (2, 9, 9, 3), 3, 3, 'reshape'),
    ('cpu', (2, 7, 8, 3), 2, 2, 'reduce_window'),   # H not divisible
    ('cpu', (2, 114, 114, 64), 3, 2, 'reduce_window'),  # overlapping
    ('gpu', (2, 32, 32, 64), 2, 2, 'reduce_window'),
    ('tpu', (2, 32, 32, 64), 2, 2, 'reduce_window'),
])
def test_lowering_choice(monkeypatch, backend, shape, window, stride,
                         expected):
  monkeypatch.delenv(pool_lowering.ENV_VAR, raising=False)
  assert pool_lowering.max_pool_lowering(backend, shape, window,
                                         stride) == expected


def test_forced_lowering(monkeypatch):
  monkeypatch.setenv(pool_lowering.ENV_VAR, 'reshape')
  assert pool_lowering.max_pool_lowering('gpu', (1, 4, 4, 1), 2,
                                         2) == 'reshape'
  # A pool with no reshape form keeps reduce_window whatever is forced.
  assert pool_lowering.max_pool_lowering('cpu', (1, 5, 5, 1), 3,
                                         2) == 'reduce_window'
  monkeypatch.setenv(pool_lowering.ENV_VAR, 'Reduce_Window ')
  assert pool_lowering.forced_lowering() == 'reduce_window'
  monkeypatch.setenv(pool_lowering.ENV_VAR, 'select')
  with pytest.raises(ValueError, match='JAXPRUNE_POOL_LOWERING'):
    pool_lowering.forced_lowering()


def test_model_logits_and_gradients_equal_under_both(monkeypatch):
  """A small VGG (four 2x2 pools after BN + ReLU) in train mode: logits,
  batch statistics and parameter gradients are identical."""
  spec = models.get_spec('vgg16_l1').bind(10)
  variables = spec.init(jax.random.key(0))
  x = jax.random.normal(jax.random.key(1), (4, *spec.input_shape))
  module = spec.module()

  def loss(params):
    logits, state = module.apply(
        {'params': params, 'batch_stats': variables['batch_stats']}, x,
        train=True, mutable=['batch_stats'])
    return jnp.sum(jnp.sin(logits)), (logits, state)

  out = {}
  for lowering in pool_lowering.LOWERINGS:
    monkeypatch.setenv(pool_lowering.ENV_VAR, lowering)
    out[lowering] = jax.jit(jax.grad(loss, has_aux=True))(variables['params'])
  chex.assert_trees_all_equal(out['reshape'], out['reduce_window'])
