"""The report tables: the papers' layouts, best and last, published numbers."""

from experiments.configs import paper
from jaxprune import results as results_lib
from jaxprune.reporting import tables
from tests.reporting.common import rethinking_result, stage


def test_best_and_last_are_both_shown():
  # Regression: the tables showed only the best accuracy.
  md = tables.rethinking_table([rethinking_result(best=0.95, last=0.90,
                                                  seeds=1)])
  assert '| 95.00 / 90.00 |' in md
  assert '| 10.00 |' in md  # the pruned model: no training, one number
  assert 'best / last epoch' in md


def test_paper_numbers_beside_paper_rows_only():
  r = rethinking_result('resnet56_b', paper.rethinking_paper('resnet56_b'))
  md = tables.rethinking_table([r])
  assert '93.00 ± 0.10 / 92.00 ± 0.10 (paper: 93.05 ± 0.18)' in md  # §8.1
  assert '(paper: 92.54 ± 0.19)' in md  # Scratch-E
  assert '(paper: unknown)' in md  # fine-tuned: the reference has none
  assert 'resnet56 [resnet56_b]' in md
  assert '(paper:' not in tables.rethinking_table([rethinking_result(
      'resnet56_b,cifar100')])
  assert '| resnet56 | l1_norm | 10 → 5 | 100 → 40 | 220 |' in md


def test_jackpot_baseline_and_overlap_tables():
  j = results_lib.make(
      'jackpot', summary={'model': 'resnet32_jackpot', 'dataset': 'cifar10',
                          'row': 'resnet32_c10_s90_e30', 'sparsity': 0.8994,
                          'weights_updated': False},
      stages={'baseline': stage(0.94, 0.94), 'magnitude_mask':
              stage(0.5, 0.5), 'search': stage(0.937, 0.93)},
      details={}, config={'paper': paper.jackpot_paper(
          'resnet32_c10_s90_e30')}, device={}, wall_time_s=1)
  md = tables.markdown([j])
  assert '| 89.94% | 94.00 | 50.00 | 93.70 / 93.00 (paper: 93.7) | – | no |' \
      in md
  b = results_lib.make('baseline', summary={'model': 'digits_cnn',
                                            'dataset': 'digits'},
                       stages={'baseline': stage(1.0, 0.99)}, details={},
                       config={}, device={}, wall_time_s=1)
  assert '| digits | digits_cnn | 100.00 / 99.00 | 10 | 100 |' in \
      tables.markdown([b])
  o = results_lib.make('mask_overlap', summary={'model': 'm', 'dataset': 'd'},
                       stages={}, details={'overall': {'snip': 0.25}},
                       config={}, device={}, wall_time_s=1)
  assert '| d | m | 0.250 |' in tables.markdown([o])


def _lottery_result(method, ratio, rounds):
  entry = {'best_test_accuracy': 0.5, 'last_test_accuracy': 0.5, 'seeds': 1}
  stages = {'baseline': entry}
  for r in range(1, rounds + 1):
    suffix = 'lr0.1' + (f'_round{r}' if rounds > 1 else '')
    stages.update({f'ticket_{suffix}': entry, f'random_{suffix}': entry})
  return {'study': 'lottery_ticket', 'stages': stages,
          'summary': {'model': 'resnet56', 'dataset': 'cifar10',
                      'method': method, 'ratio': ratio, 'rounds': rounds,
                      'learning_rates': [0.1]},
          'details': {'seeds': [{'conv_density': {'0.1': [0.8] * rounds}}]}}


def test_lottery_table_names_the_pruning():
  ratio = tables.lottery_table([_lottery_result('magnitude', 0.8, 1)])
  targets = tables.lottery_table([_lottery_result('l1_norm', 0.0, 1)])
  rounds = tables.lottery_table([_lottery_result('magnitude_iterative', 0.2,
                                                 2)])
  assert '| magnitude 80% | 1 | 80.00% | 0.1 |' in ratio
  assert '| l1_norm at per-layer targets | 1 |' in targets
  assert rounds.count('| magnitude_iterative 20% per round |') == 2
