"""Lottery Jackpots: the README rows of the official code (lottery_jackpots.md
§6.2), one config per row.

    python -m experiments.main --config=experiments/configs/jackpot.py:vgg19_c10_s90_e30 \
        --workdir=runs/vgg19_c10_s90_e30 \
        [--config.model.pretrained=vgg19_cifar10.pt]

Row names: ``<model>_<c10|c100|in>_s<sparsity %>_e<search epochs>``; ImageNet
rows ending in ``_t10`` add the 10-epoch weight-tuning stage (30(S)+10(T)).
Without ``model.pretrained`` the dense model is trained first with the CIFAR
protocol of rethinking.md §5.1 (160 epochs) or the ImageNet one (90 epochs).
Search: batch 256, lr 0.1, momentum 0.9, per-epoch cosine, weight decay on the
scores 5e-4 (CIFAR) / 1e-4 (ImageNet), score init 0.99, short restriction rate
1.0 with the 'skip_layer' tie rule (exactly the released code; the published
numbers came from the 2021 code's 0.95 init: ``--config.jackpot.pruned_value
=0.95``). The published top-1 goes into ``config.paper``.
"""

from experiments.configs import base
from experiments.configs import paper

ROWS = tuple(paper.JACKPOT_PUBLISHED)


def get_config(row: str = 'resnet32_c10_s90_e30'):
  if row not in paper.JACKPOT_PUBLISHED:
    raise ValueError(f'unknown jackpot row {row!r}; known rows: {ROWS}')
  parts = row.split('_')
  dataset = paper.JACKPOT_DATASETS[parts[1]]
  config = base.override(base.get_config(), {
      'study': 'jackpot', 'row': row,
      'model.name': paper.JACKPOT_MODELS[parts[0]], 'data.name': dataset,
      'jackpot.sparsity': int(parts[2][1:]) / 100,
      'jackpot.epochs': int(parts[3][1:])})
  config.paper = paper.jackpot_paper(row)
  if dataset == 'imagenet2012':
    base.override(config, {
        'optim.epochs': 90, 'optim.lr_step_every': 30, 'data.batch_size': 256,
        'jackpot.weight_decay': 1e-4, 'prune.examples': 64,
        'jackpot.tune_epochs': int(parts[4][1:]) if len(parts) > 4 else 0})
  return config
