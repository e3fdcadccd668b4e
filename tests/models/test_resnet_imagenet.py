"""ImageNet ResNets: ThiNet-layout inits, ResNet-50-2x input selections."""

import math

import numpy as np
import pytest

from jaxprune.models import create_model
from tests.models.common import (CFG_2X, abstract_vars, max_abs, mask_file,
                                 resnet50_2x)
from tests.models.conftest import TINY_RESNET50
from tests.pruning.test_scratch import imagenet_ratio


@pytest.mark.skipif(
    mask_file() is None,
    reason='$JAXPRUNE_RESNET50_2X_MASKS is not set to the shared '
    'resnet50_2x_input_channel_masks.npz (.ci/run sets it from ../shared/data)')
def test_resnet50_2x_real_masks():
  masks = np.load(mask_file())
  sels = [np.flatnonzero(masks[f'block{j:02d}']).tolist() for j in range(16)]
  assert [len(s) for s in sels] == CFG_2X[0::3]
  widths = resnet50_2x(sels)
  assert int(90 * imagenet_ratio('resnet50_thinet', widths)) == 134
  model = create_model('resnet50_thinet', 1000, widths)
  params = abstract_vars(model, (224, 224, 3))['params']
  assert params['stage3_block0']['conv1']['kernel'].shape == (1, 1, 278, 256)
  assert params['stage3_block2']['conv1']['kernel'].shape == (1, 1, 407, 204)


def test_thinet_layout_inits(inits):
  p = inits['thinet_block']
  bias = p['downsample_conv']['bias']  # PyTorch 0.3.1 U(+-1/sqrt(C_in))
  assert 0.5 / math.sqrt(8) < max_abs(bias) <= 1 / math.sqrt(8)
  assert 'bias' not in p['conv1']
  np.testing.assert_allclose(np.std(p['conv2']['kernel']),
                             math.sqrt(2 / (9 * 4)), rtol=0.3)
  thinet = create_model('resnet50_thinet', 10).clone(**TINY_RESNET50)
  p = abstract_vars(thinet, (224, 224, 3))['params']
  assert p['stage1_block0']['downsample_conv']['bias'].shape == (16,)
  torchvision = create_model('resnet50', 10).clone(**TINY_RESNET50)
  p = abstract_vars(torchvision, (224, 224, 3))['params']
  assert 'bias' not in p['stage1_block0']['downsample_conv']
