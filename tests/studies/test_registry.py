"""The study registry."""

import pytest

from jaxprune import studies


def test_every_study_is_registered():
  # Other test files in the same worker may have registered their own studies.
  names = studies.study_names()
  assert names == sorted(names)
  assert {'architecture_search', 'baseline', 'jackpot', 'lottery_ticket',
          'mask_overlap', 'rethinking', 'sss', 'suite'} <= set(names)
  with pytest.raises(ValueError, match='known studies: architecture_search, '
                     'baseline, jackpot'):
    studies.get_study('lottery')


def test_the_readme_study_example(tmp_path, monkeypatch):
  from jaxprune import pruning, results
  from jaxprune.studies import registry
  from tests.studies.common import baseline_config
  monkeypatch.setattr(registry, '_STUDIES', registry.Registry('study',
                                                              'studies'))

  def dense_then_magnitude(config, workdir):
    ctx = studies.RunContext.create(config, workdir, 'dense_then_magnitude')
    variables, base = ctx.large_model(config.seed)
    masks = ctx.prune(pruning.get_criterion('magnitude'), ctx.spec, variables,
                      config.prune.ratio, config.seed).masks
    stages = {'baseline': base,
              'pruned': ctx.evaluated_entry(ctx.spec, variables, masks)}
    return ctx.finish({'model': ctx.spec.name}, results.aggregate([stages]))

  studies.register_study('dense_then_magnitude', dense_then_magnitude)
  config = baseline_config(**{'study': 'dense_then_magnitude',
                              'prune.ratio': 0.5, 'optim.epochs': 1})
  out = studies.get_study(config.study)(config, str(tmp_path))
  assert out['stages']['pruned']['flops'] < out['stages']['baseline']['flops']
  assert results.load(str(tmp_path))['study'] == 'dense_then_magnitude'
