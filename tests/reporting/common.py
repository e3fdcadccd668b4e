"""Results dicts in the one schema, built by hand for the report tests."""

from jaxprune import results as results_lib


def stage(best, last, seeds=1, std=0.0, params=10, flops=100):
  runs = [results_lib.stage_entry(params=params, flops=flops, best=best,
                                  last=last)] * seeds
  out = results_lib.aggregate([{'s': r} for r in runs])['s']
  out.update(best_test_accuracy_std=std, last_test_accuracy_std=std)
  return out


def rethinking_result(row='', paper=None, best=0.93, last=0.92, seeds=2):
  stages = {s: stage(best, last, seeds, 0.001)
            for s in ('baseline', 'finetune', 'scratch_e', 'scratch_b')}
  stages['pruned'] = stage(0.1, 0.1, seeds, 0.0, params=5, flops=40)
  return results_lib.make(
      'rethinking',
      summary={'model': 'resnet56', 'dataset': 'cifar10', 'method': 'l1_norm',
               'ratio': 0.0, 'row': row},
      stages=stages,
      details={'seeds': [{'scratch_b_epochs': 220,
                          'scratch_b_epochs_run': 220}]},
      config={'paper': paper or {}}, device={}, wall_time_s=1.0)
