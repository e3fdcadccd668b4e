"""Model-test fixtures: one compiled init of every registered build's
settings on a small structure."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune.models import create_model
from jaxprune.models import densenet
from jaxprune.models import preresnet
from jaxprune.models import resnet_imagenet
from tests.models.common import M, run_fast


TINY_RESNET50 = dict(stem_width=8, stage_widths=(16, 16, 32, 32),
                      block_widths=(((4, 4),), ((4, 4),), ((4, 4),),
                                    ((4, 4),)))
INIT_MODELS = {
    # (model, input shape): the registered settings on a small structure
    'vgg16_l1': (create_model('vgg16_l1', 10).clone(cfg=(64, M, 128)),
                 (32, 32, 3)),
    'vgg19_wl': (create_model('vgg19_wl', 10).clone(cfg=(64, M, 128)),
                 (32, 32, 3)),
    'vgg19_jackpot': (create_model('vgg19_jackpot', 10).clone(
        cfg=(64, M, 128, M, M, M, M)), (32, 32, 3)),
    'resnet20': (create_model('resnet20', 10).clone(
        block_widths=((16,), (32,), (64,))), (32, 32, 3)),
    'thinet_block': (resnet_imagenet.Bottleneck((4, 4), 16, 2,
                                                downsample_bias=True),
                     (8, 8, 8)),
    'preresnet164': (create_model('preresnet164', 10).clone(
        cfg=tuple(preresnet.default_cfg(1))), (8, 8, 3)),
    'densenet40': (create_model('densenet40', 10).clone(
        cfg=tuple(densenet.densenet40_input_widths(1))), (8, 8, 3)),
}


@pytest.fixture(scope='module')
def inits():
  """Real ``init`` of every model above, in one compiled program."""
  def init_all(key):
    return {name: model.init(jax.random.fold_in(key, i),
                             jnp.ones((1, *shape)))['params']
            for i, (name, (model, shape)) in enumerate(INIT_MODELS.items())}
  out = run_fast(init_all, jax.random.key(0))
  return jax.tree.map(np.asarray, out)
