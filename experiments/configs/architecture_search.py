"""Pruning as architecture search (rethinking.md §10).

    python -m experiments.main \
        --config=experiments/configs/architecture_search.py:vgg16_c10_channel \
        --workdir=runs/arch_vgg16_c10
    python -m experiments.main \
        --config=experiments/configs/architecture_search.py:vgg19_c100_channel \
        --workdir=runs/arch_vgg19_c100 \
        --config.arch_search.pattern_from=runs/arch_vgg16_c10

``get_config('<row>[,small]')``: ``vgg{16,19}_{c10,c100}_{channel,weight}``.
``channel``: Network Slimming (lambda 1e-4) on the slimming VGG-19 / the L1
VGG-16 against uniform channel pruning at the same parameter count and
guided pruning; ``weight``: global magnitude pruning on the weight-level
VGG-16/19-BN against uniform random sparsification and guided
sparsification. Pruned fractions 0.3 / 0.5 / 0.7 (several sizes), every arm
trained from scratch with the CIFAR protocol (160 epochs), 5 seeds (guided
patterns average over them). The transfer of §10 (VGG-16 on CIFAR-10 ->
VGG-19 on CIFAR-100) is the second command above: a finished run's
``pattern.json`` applied to this model (the stage counts must agree).

``,small``: the 2,000-image CIFAR subset of the image folder
(``--config.data.path=...``), 2 epochs per stage, fractions 0.3 / 0.6, two
seeds (so the guided pattern averages two runs).
"""

from experiments.configs import base

VARIANTS = ('small',)
MODELS = {('16', 'channel'): 'vgg16_l1', ('19', 'channel'): 'vgg19_slim',
          ('16', 'weight'): 'vgg16_wl', ('19', 'weight'): 'vgg19_wl'}
DATASETS = {'c10': 'cifar10', 'c100': 'cifar100'}
ROWS = tuple(f'vgg{d}_{data}_{mode}' for d in ('16', '19')
             for data in DATASETS for mode in ('channel', 'weight'))
SMALL = {'data.train_subset': 2000, 'data.eval_batch_size': 500,
         'optim.epochs': 2, 'seeds': 2, 'arch_search.ratios': (0.3, 0.6)}


def get_config(arg: str = 'vgg19_c10_channel'):
  row, *variants = [a.strip() for a in arg.split(',')]
  if row not in ROWS:
    raise ValueError(f'unknown architecture-search row {row!r}; known rows: '
                     f'{list(ROWS)}')
  unknown = sorted(set(variants) - set(VARIANTS))
  if unknown:
    raise ValueError(f'unknown row variants {unknown}; known: '
                     f'{", ".join(VARIANTS)}')
  depth, data, mode = row[len('vgg'):].split('_')
  config = base.get_config()
  base.override(config, {
      'study': 'architecture_search', 'row': arg,
      'model.name': MODELS[(depth, mode)], 'data.name': DATASETS[data],
      'arch_search.mode': mode, 'seeds': 5,
      'prune.sparsity_lambda': 1e-4 if mode == 'channel' else 0.0})
  if 'small' in variants:
    base.override(config, SMALL)
  return config
