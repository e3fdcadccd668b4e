"""channel_criteria.py: every row's criteria accept its ,small budget.

The data-driven criteria refuse, before any training, a batch too small for
their least squares (VGG-16's last convs see 2x2 maps: 4 positions per image);
each row's config must give them enough images, checked here on abstract
params exactly as the Rethinking study checks a row before it trains.
"""

import pytest

from experiments.configs import channel_criteria
from experiments.configs import rethinking as rethinking_config
from jaxprune import models
from jaxprune import pruning


def _counts(config, spec, params):
  p = config.prune
  return pruning.in_forward_order(spec, params, pruning.channel_counts(
      spec, params, ratio=p.ratio, layer_ratios=dict(p.layer_ratios or {}),
      stage_ratios=tuple(p.stage_ratios), skip=tuple(p.skip)))


@pytest.mark.parametrize('row', channel_criteria.ROWS)
def test_every_criterion_of_a_small_row_accepts_its_budget(row):
  config = channel_criteria.get_config(f'{row},small')
  spec = models.get_spec(config.model.name).bind(10)
  params = spec.abstract_variables()['params']
  counts = _counts(config, spec, params)
  assert counts
  methods = config.suite.methods.to_dict()
  assert set(methods) == {'l1_norm', 'thinet', 'regression', 'slimming'}
  for name, settings in methods.items():
    criterion = pruning.get_criterion(name)
    assert criterion.kind == 'channel'
    criterion.check(spec, params, counts,
                    num_examples=config.prune.examples,
                    options=settings.get('options', {}))


@pytest.mark.parametrize('row', ['vgg16_a_thinet', 'vgg16_a_regression',
                                 'resnet56_b_thinet', 'resnet56_b_regression'])
def test_the_cifar_thinet_and_regression_rows_accept_their_small_budget(row):
  config = rethinking_config.get_config(f'{row},small')
  spec = models.get_spec(config.model.name).bind(10)
  params = spec.abstract_variables()['params']
  pruning.get_criterion(config.prune.method).check(
      spec, params, _counts(config, spec, params),
      num_examples=min(config.prune.examples, config.data.train_subset),
      options=config.prune.options.to_dict())
