"""The residual-block fusion cut: exact (bit for bit) and on CPU only."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune.models import fusion_cut
from jaxprune.models import preresnet
from jaxprune.models import resnet_cifar
from jaxprune.models import resnet_imagenet
from jaxprune.models import sss_resnet
from tests.models.common import host_vars

# One small build of every block family that cuts its output; two blocks
# per stage, so a residual chain runs through a cut.
BLOCKS = {
    'resnet_cifar': (lambda: resnet_cifar.CifarResNet(
        (8, 8, 16), ((8, 8), (8, 8), (16, 16))), (16, 16, 3)),
    'resnet_imagenet_basic': (lambda: resnet_imagenet.BasicBlock(8, 8),
                              (8, 8, 8)),
    'resnet_imagenet_bottleneck': (
        lambda: resnet_imagenet.Bottleneck((4, 4), 16, 2), (8, 8, 8)),
    'preresnet': (lambda: preresnet.Bottleneck((16, 4, 4), 4), (8, 8, 16)),
    'sss': (lambda: sss_resnet.SSSBottleneck(4, gated=True), (8, 8, 16)),
}


def _logits_and_grads(model, variables, x):
  """Train-mode output and its gradient w.r.t. params and input, traced
  afresh (the cut is decided when the model is traced)."""
  def loss(params, x):
    y, _ = model.apply({**variables, 'params': params}, x, train=True,
                       mutable=['batch_stats'])
    return jnp.sum(jnp.sin(y)), y
  (_, y), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1),
                                             has_aux=True))(
                                                 variables['params'], x)
  return y, grads


@pytest.mark.parametrize('family', sorted(BLOCKS))
def test_the_cut_changes_no_bit(monkeypatch, family):
  build, shape = BLOCKS[family]
  model = build()
  variables = host_vars(model, shape)
  x = np.random.default_rng(0).normal(size=(4, *shape)).astype(np.float32)
  monkeypatch.setenv(fusion_cut.ENV_VAR, 'on')
  cut = _logits_and_grads(model, variables, x)
  jaxpr = str(jax.make_jaxpr(lambda x: model.apply(variables, x))(x))
  monkeypatch.setenv(fusion_cut.ENV_VAR, 'off')
  plain = _logits_and_grads(model, variables, x)
  plain_jaxpr = str(jax.make_jaxpr(lambda x: model.apply(variables, x))(x))
  assert jaxpr.count('dot_general') > plain_jaxpr.count('dot_general')
  for a, b in zip(jax.tree.leaves(cut), jax.tree.leaves(plain)):
    np.testing.assert_array_equal(a, b)


def test_on_cpu_by_default_and_forced(monkeypatch):
  monkeypatch.delenv(fusion_cut.ENV_VAR, raising=False)
  assert fusion_cut.forced() is None
  assert fusion_cut.enabled('cpu') and not fusion_cut.enabled('gpu')
  assert not fusion_cut.enabled('tpu')
  x = jnp.arange(6.0).reshape(2, 3)
  assert 'dot_general' in str(jax.make_jaxpr(fusion_cut.cut)(x))
  monkeypatch.setenv(fusion_cut.ENV_VAR, 'off')
  assert not fusion_cut.enabled('cpu')
  assert fusion_cut.cut(x) is x
  monkeypatch.setenv(fusion_cut.ENV_VAR, 'ON')
  assert fusion_cut.enabled('gpu')
  monkeypatch.setenv(fusion_cut.ENV_VAR, 'maybe')
  with pytest.raises(ValueError, match="JAXPRUNE_FUSION_CUT='maybe'; use "
                     'one of on, off'):
    fusion_cut.forced()
