"""Uniform / random channel pruning and random weights (Rethinking §10)."""

import jax
import numpy as np
import pytest

from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import pruning
from tests.pruning.common import toy_variables

SPEC = models.get_spec('digits_cnn')


def test_uniform_and_random_channel_keep_counts():
  v = toy_variables()
  u = pruning.get_criterion('uniform')(v, SPEC, 0.5).keep
  assert pruning.keep_counts(u) == {'bn0': 2, 'bn1': 3}
  np.testing.assert_array_equal(u['bn1'], [0, 1, 2])
  r = pruning.get_criterion('random_channel')(v, SPEC, 0.5,
                                              rng=jax.random.key(3)).keep
  assert pruning.keep_counts(r) == {'bn0': 2, 'bn1': 3}
  r2 = pruning.get_criterion('random_channel')(v, SPEC, 0.5,
                                               rng=jax.random.key(3)).keep
  assert all(np.array_equal(r[k], r2[k]) for k in r)  # deterministic
  masks = pruning.channel_masks(SPEC, v['params'], u)
  assert np.all(masks['conv1']['kernel'][..., 3:] == 0)
  assert np.all(masks['conv1']['kernel'][..., :3] == 1)
  np.testing.assert_array_equal(masks['bn1']['scale'], [1, 1, 1, 0, 0, 0])
  assert np.all(masks['classifier']['kernel'] == 1)
  with pytest.raises(ValueError, match='rng'):
    pruning.get_criterion('random_channel')(v, SPEC, 0.5)


@pytest.mark.parametrize('name', ['uniform', 'random_channel'])
@pytest.mark.parametrize('model', ['densenet40', 'preresnet164'])
def test_baselines_prune_selection_units_too(model, name):
  # Regression: the uniform and random channel baselines pruned nothing on
  # DenseNet-40 and only bn2/bn3 on PreResNet-164 (selection units skipped).
  spec = models.get_spec(model).bind(10)
  variables = jax.tree.map(lambda a: np.ones(a.shape, np.float32),
                           spec.abstract_variables())
  keep = pruning.get_criterion(name)(variables, spec, 0.5,
                                     rng=jax.random.key(0)).keep
  units = spec.units(variables['params'])
  for kind in ('conv', 'select'):
    of_kind = [u for u in units if u.kind == kind]
    pruned = [u for u in of_kind
              if len(keep[u.name]) < u.num_channels(variables['params'])]
    assert len(pruned) == len(of_kind), (kind, len(pruned), len(of_kind))
  assert sum(u.kind == 'select' for u in units) > 0
  widths, params, _ = pruning.compact(spec, variables['params'],
                                      variables['batch_stats'], keep)
  small = spec.with_widths(widths)
  assert small.abstract_variables()['params']['classifier']['kernel'].shape[
      0] < spec.abstract_variables()['params']['classifier']['kernel'].shape[0]


def test_random_weights_same_density_per_layer_or_exact_counts():
  v = toy_variables()
  r = pruning.get_criterion('random')(v, SPEC, 0.75, rng=jax.random.key(1))
  assert np.count_nonzero(r.masks['conv1']['kernel']) == round(216 * 0.25)
  assert np.count_nonzero(r.masks['conv0']['kernel']) == 9
  r = pruning.get_criterion('random')(v, SPEC, {'conv1/kernel': 7},
                                      rng=jax.random.key(1))
  assert masks_lib.zero_counts(r.masks)[('conv1', 'kernel')] == 7
  assert masks_lib.zero_counts(r.masks)[('conv0', 'kernel')] == 0
