"""The digits CNN: a VGG cfg, so channel pruning applies as to the VGGs."""

import jax
import numpy as np

from jaxprune import flops
from jaxprune import models


def test_units_compaction_and_counts():
  spec = models.get_spec('digits_cnn').bind(10)
  assert spec.widths == [32, 32, 'M', 64, 64] and spec.input_shape == (8, 8, 1)
  params = spec.abstract_variables()['params']
  units = spec.units(params)
  assert [(u.name, u.producer, u.layer_id, u.kind) for u in units] == [
      (f'bn{i}', f'conv{i}', i + 1, 'conv') for i in range(4)]
  counts = flops.count(spec.module(), spec.input_shape)
  assert (counts.params, counts.flops) == (65_834, 3_007_754)
  small = spec.with_widths([16, 16, 'M', 32, 32])
  assert small.num_classes == 10 and small.input_shape == (8, 8, 1)
  v = jax.device_get(small.init(jax.random.key(0)))
  assert v['params']['classifier']['kernel'].shape == (32, 10)
  assert np.all(v['batch_stats']['bn0']['var'] == 1)
