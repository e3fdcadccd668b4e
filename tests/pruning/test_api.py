"""The criterion contract and its one registry (jaxprune.pruning.api)."""

import jax
import numpy as np
import pytest

from jaxprune import models
from jaxprune import pruning
from tests.pruning.common import toy_variables

BUILT_IN = {'magnitude', 'magnitude_layerwise', 'magnitude_iterative',
            'random', 'l1_filter', 'snip', 'grasp', 'synflow', 'l1_norm',
            'slimming', 'uniform', 'random_channel'}


def test_every_built_in_criterion_is_registered_with_its_kind():
  assert BUILT_IN <= set(pruning.criterion_names())
  assert set(pruning.criterion_names('channel')) >= {
      'l1_norm', 'slimming', 'uniform', 'random_channel'}
  assert pruning.get_criterion('snip').kind == 'unstructured'
  with pytest.raises(ValueError, match='known criteria: .*l1_norm'):
    pruning.get_criterion('lasso')


def test_an_outside_criterion_registers_and_runs(monkeypatch):
  monkeypatch.setattr(pruning.api, '_CRITERIA',
                      pruning.api.Registry('criterion', 'criteria'))

  def every_other(variables, spec, target, *, batch=None, rng=None):
    scores = {p: np.arange(w.size).reshape(w.shape) % 2
              for p, w in pruning.conv_kernels(variables, target)}
    return pruning.PruneResult(masks=pruning.masks_from_scores(
        variables['params'], scores, target))

  c = pruning.register_criterion('every_other', every_other,
                                 kind='unstructured')
  assert pruning.get_criterion('every_other') is c
  variables = toy_variables()
  masks = c(variables, models.get_spec('digits_cnn'), 0.5).masks
  assert int(np.count_nonzero(masks['conv0']['kernel'] == 0)) > 0
  with pytest.raises(ValueError, match="already registered"):
    pruning.register_criterion('every_other', every_other, kind='channel')
  with pytest.raises(ValueError, match='kind must be one of'):
    pruning.register_criterion('x', every_other, kind='filter')


@pytest.mark.parametrize('result, kind, match', [
    (pruning.PruneResult(keep={'bn0': [0]}), 'unstructured', 'must return masks'),
    ('masks', 'unstructured', 'not a PruneResult'),
    (pruning.PruneResult(masks={'conv0': {}}), 'unstructured', 'does not match'),
    (pruning.PruneResult(masks=None, keep={'bn9': [0]}), 'channel', "'bn9'"),
    (pruning.PruneResult(keep={'bn0': []}), 'channel', 'keeps no channel'),
    (pruning.PruneResult(keep={'bn0': [7]}), 'channel', r'in \[0, 4\)'),
])
def test_a_wrong_result_is_named(result, kind, match):
  c = pruning.Criterion('bad', lambda *a, **k: result, kind)
  with pytest.raises(ValueError, match=match):
    c(toy_variables(), models.get_spec('digits_cnn'), 0.5)


def test_non_binary_masks_are_refused():
  variables = toy_variables()
  half = jax.tree.map(lambda p: np.full(np.shape(p), 0.5, np.float32),
                      variables['params'])
  c = pruning.Criterion('soft', lambda *a, **k: pruning.PruneResult(masks=half),
                        'unstructured')
  with pytest.raises(ValueError, match='other than 0 and 1'):
    c(variables, models.get_spec('digits_cnn'), 0.5)


def test_channel_criterion_on_a_model_without_units():
  spec = models.get_spec('preresnet110')
  with pytest.raises(ValueError, match="'preresnet110' declares no channel-prunable"
                     r" units.*channel criterion 'l1_norm'.*resnet56"):
    pruning.get_criterion('l1_norm')({'params': {}, 'batch_stats': {}}, spec,
                                     0.5)
