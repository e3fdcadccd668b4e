"""The matmul (im2col) and per-tap convs equal ``lax.conv_general_dilated``
forward and backward, on the conv shapes of every registered model and on
random shapes."""

from hypothesis import given, settings, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import models
from jaxprune.models import conv_inventory, conv_lowering


def _conv_shapes(name):
  """{(H, W, C_in, k, C_out, stride, padding)} of ``name``'s convs."""
  return sorted(set(conv_inventory.conv_shapes(
      models.get_spec(name).bind(10))))


ALL_SHAPES = sorted({s for name in models.model_names()
                     for s in _conv_shapes(name)})


def _both(x, k, stride, pad):
  def loss(lowering):
    return lambda x, k: jnp.sum(
        jnp.sin(conv_lowering.conv2d(x, k, stride, pad, lowering)))
  out = {}
  for lowering in conv_lowering.LOWERINGS:
    y = conv_lowering.conv2d(x, k, stride, pad, lowering)
    g = jax.grad(loss(lowering), argnums=(0, 1))(x, k)
    out[lowering] = (y, *g)
  return out


def _check(shape, batch=1):
  h, w, cin, k, cout, stride, pad = shape
  kx, kk = jax.random.split(jax.random.key(sum(shape)))
  x = jax.random.normal(kx, (batch, h, w, cin))
  kern = jax.random.normal(kk, (k, k, cin, cout)) / np.sqrt(k * k * cin)
  # One compiled program per shape (op by op, every primitive of the
  # gradient compiled on its own, cost seconds per shape).
  out = jax.jit(_both, static_argnums=(2, 3))(x, kern, stride, pad)
  for lowering in ('matmul', 'taps'):
    for a, b in zip(out[lowering], out['library']):
      scale = max(1.0, float(jnp.max(jnp.abs(b))))
      np.testing.assert_allclose(np.asarray(a), np.asarray(b),
                                 atol=1e-5 * scale, rtol=1e-5,
                                 err_msg=lowering)


def test_every_registered_model_has_conv_shapes():
  assert len(ALL_SHAPES) > 20


@pytest.mark.parametrize('shape', [
    s for s in ALL_SHAPES
    if conv_lowering.conv_lowering('cpu', (1, *s[:3]), (s[3], s[3], s[2],
                                                         s[4]), s[5], s[6])
    != 'library' and s[0] * s[1] * s[2] * s[4] <= 2 ** 22])
def test_lowerings_equal_library_forward_and_backward(shape):
  """Every model conv shape CPU lowers by matmul or taps."""
  _check(shape)


@pytest.mark.parametrize('shape', [
    (5, 7, 3, 3, 4, 2, 1), (4, 4, 2, 3, 3, 1, 0), (6, 6, 3, 1, 5, 2, 0),
    (3, 3, 2, 1, 2, 1, 1), (9, 9, 2, 5, 3, 3, 2)])
def test_lowerings_equal_library_on_odd_shapes(shape):
  _check(shape)


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 3),
       st.sampled_from([1, 3, 5]), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 2))
def test_lowerings_equal_library_on_random_shapes(h, w, cin, k, cout, stride,
                                                  pad):
  """Taps that only ever see padding, windows wider than the image, any
  stride: the per-tap conv (and im2col) still equal the library conv."""
  if h + 2 * pad < k or w + 2 * pad < k:
    return  # no output
  _check((h, w, cin, k, cout, stride, pad), batch=2)


def test_choice_per_backend_and_shape():
  choose = conv_lowering.conv_lowering
  assert choose('cpu', (64, 2, 2, 512), (3, 3, 512, 512), 1, 1) == 'taps'
  assert choose('cpu', (64, 4, 4, 512), (3, 3, 512, 512), 1, 1) == 'taps'
  assert choose('cpu', (64, 8, 8, 256), (3, 3, 256, 256), 1, 1) == 'library'
  assert choose('cpu', (64, 4, 4, 128), (3, 3, 128, 128), 1, 1) == 'library'
  assert choose('cpu', (64, 2, 2, 128), (3, 3, 128, 256), 1, 1) == 'matmul'
  assert choose('cpu', (64, 4, 4, 512), (3, 3, 512, 512), 1, 0) == 'matmul'
  assert choose('cpu', (64, 32, 32, 16), (3, 3, 16, 16), 1, 1) == 'library'
  assert choose('cpu', (64, 32, 32, 16), (1, 1, 16, 64), 1, 0) == 'matmul'
  for backend in ('gpu', 'tpu'):
    assert choose(backend, (64, 2, 2, 512), (3, 3, 512, 512), 1, 1) == (
        'library')
    assert choose(backend, (64, 32, 32, 16), (1, 1, 16, 64), 1, 0) == (
        'library')


def test_forced_lowering_and_bad_names(monkeypatch):
  monkeypatch.setenv('JAXPRUNE_CONV_LOWERING', 'library')
  assert conv_lowering.conv_lowering(
      'cpu', (64, 2, 2, 512), (3, 3, 512, 512), 1, 1) == 'library'
  monkeypatch.setenv('JAXPRUNE_CONV_LOWERING', 'winograd')
  with pytest.raises(ValueError, match='JAXPRUNE_CONV_LOWERING'):
    conv_lowering.conv_lowering('cpu', (1, 2, 2, 1), (3, 3, 1, 1), 1, 1)
  monkeypatch.delenv('JAXPRUNE_CONV_LOWERING')
  with pytest.raises(ValueError, match='unknown conv lowering'):
    conv_lowering.conv2d(jnp.zeros((1, 2, 2, 1)), jnp.zeros((3, 3, 1, 1)),
                         1, 1, 'winograd')


def test_lowering_counts_of_vgg16():
  # VGG-16 on CIFAR: 13 3x3 convs, the last six on 4x4 and 2x2 maps.
  spec = models.get_spec('vgg16_l1').bind(10)
  assert [s.h for s in conv_inventory.conv_shapes(spec)] == (
      [32] * 2 + [16] * 2 + [8] * 3 + [4] * 3 + [2] * 3)
  assert conv_inventory.lowering_counts(spec, 'cpu') == {
      'library': 7, 'matmul': 0, 'taps': 6}
  assert conv_inventory.lowering_counts(spec, 'gpu') == {
      'library': 13, 'matmul': 0, 'taps': 0}
