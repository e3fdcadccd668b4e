"""CIFAR VGGs: inits of the registered builds."""

import math

import numpy as np

from tests.models.common import max_abs


def test_vgg_inits(inits):
  l1 = inits['vgg16_l1']
  np.testing.assert_allclose(np.std(l1['conv1']['kernel']),
                             math.sqrt(2 / (9 * 128)), rtol=0.03)  # fan-out
  np.testing.assert_array_equal(l1['bn1']['scale'], 0.5)
  np.testing.assert_allclose(np.std(l1['fc1']['kernel']), 0.01, rtol=0.03)
  np.testing.assert_array_equal(l1['fc1']['bias'], 0.0)
  gamma = l1['fc1_bn']['scale']  # PyTorch 0.3.1 BN1d default: U(0, 1)
  assert gamma.min() >= 0 and gamma.max() < 1 and gamma.std() > 0.2
  np.testing.assert_allclose(np.std(l1['classifier']['kernel']), 0.01,
                             rtol=0.1)
  np.testing.assert_array_equal(l1['classifier']['bias'], 0.0)

  wl = inits['vgg19_wl']
  np.testing.assert_allclose(np.std(wl['conv1']['kernel']),
                             math.sqrt(2 / (9 * 64)), rtol=0.03)  # fan-in
  np.testing.assert_array_equal(wl['conv1']['bias'], 0.0)
  np.testing.assert_array_equal(wl['bn1']['scale'], 1.0)

  jp = inits['vgg19_jackpot']  # PyTorch >= 1.0 defaults
  limit = 1 / math.sqrt(9 * 64)
  assert 0.9 * limit < max_abs(jp['conv1']['kernel']) <= limit
  assert 'bias' not in jp['conv1']
  np.testing.assert_array_equal(jp['bn1']['scale'], 1.0)
  limit = 1 / math.sqrt(128)  # the 1x1-conv classifier's default init
  assert 0.5 * limit < max_abs(jp['classifier']['bias']) <= limit
  assert 0.9 * limit < max_abs(jp['classifier']['kernel']) <= limit
