"""The extension example: a criterion from outside the package."""

from experiments.examples import custom_criterion
from jaxprune import pruning


def test_custom_criterion_example_runs_the_rethinking_study(tmp_path):
  assert pruning.get_criterion('layer_normalized_magnitude').kind == \
      'unstructured'
  results = custom_criterion.run(str(tmp_path), **{
      'optim.epochs': 1, 'finetune.epochs': 1, 'scratch.b_max_epochs': 1})
  stages = results['stages']
  assert set(stages) == {'baseline', 'pruned', 'finetune', 'scratch_e',
                         'scratch_b'}
  assert results['details']['pruned']['conv_density'] < 0.21
  assert stages['pruned']['flops'] < stages['baseline']['flops'] / 3
