"""Lottery Jackpots: the README rows of the official code (lottery_jackpots.md
§6.2), one config per row.

    python -m experiments.main --config=experiments/configs/jackpot.py:vgg19_c10_s90_e30 \
        --workdir=runs/vgg19_c10_s90_e30 \
        [--config.jackpot.pretrained_torch=vgg19_cifar10.pt]

Row names: ``<model>_<c10|c100|in>_s<sparsity %>_e<search epochs>``; ImageNet
rows ending in ``_t10`` add the 10-epoch weight-tuning stage (30(S)+10(T)).
Without ``pretrained_torch`` the dense model is trained first with the CIFAR
protocol of rethinking.md §5.1 (160 epochs) or the ImageNet one (90 epochs).
Search: batch 256, lr 0.1, momentum 0.9, per-epoch cosine, weight decay on the
scores 5e-4 (CIFAR) / 1e-4 (ImageNet), score init 0.99, short restriction rate
1.0 with the 'skip_layer' tie rule (exactly the released code; the published
numbers came from the 2021 code's 0.95 init: ``--config.jackpot.pruned_value
=0.95``). ``PUBLISHED`` holds the README top-1 of each row.
"""

from experiments.configs import base
from experiments.configs import jackpot_defaults

MODELS = {'vgg19': 'vgg19_jackpot', 'resnet32': 'resnet32_jackpot',
          'resnet50': 'resnet50'}
DATASETS = {'c10': 'cifar10', 'c100': 'cifar100', 'in': 'imagenet2012'}

# Published top-1 (README @ 1b802ea6, §6.2); tuned rows from 5f3398cc.
PUBLISHED = {
    'vgg19_c10_s90_e30': 93.88, 'vgg19_c10_s90_e160': 93.94,
    'vgg19_c10_s95_e30': 93.49, 'vgg19_c10_s95_e160': 93.74,
    'vgg19_c100_s90_e30': 72.59, 'vgg19_c100_s90_e160': 74.61,
    'vgg19_c100_s95_e30': 71.76, 'vgg19_c100_s95_e160': 73.35,
    'resnet32_c10_s90_e30': 93.70, 'resnet32_c10_s90_e160': 94.39,
    'resnet32_c10_s95_e30': 92.90, 'resnet32_c10_s95_e160': 93.41,
    'resnet32_c100_s90_e30': 72.22, 'resnet32_c100_s90_e160': 73.43,
    'resnet32_c100_s95_e30': 69.38, 'resnet32_c100_s95_e160': 70.31,
    'resnet50_in_s80_e30': 75.19, 'resnet50_in_s90_e30': 72.43,
    'resnet50_in_s80_e30_t10': 76.66, 'resnet50_in_s90_e30_t10': 74.62,
}
ROWS = tuple(PUBLISHED)


def get_config(row: str = 'resnet32_c10_s90_e30'):
  if row not in PUBLISHED:
    raise ValueError(f'unknown jackpot row {row!r}; known rows: {ROWS}')
  parts = row.split('_')
  model, dataset = MODELS[parts[0]], DATASETS[parts[1]]
  config = base.get_base_config()
  config.pipeline = 'jackpot'
  config.row = row
  config.published_top1 = PUBLISHED[row]
  config.model = model
  config.dataset = dataset
  config.jackpot = jackpot_defaults.get_jackpot_config()
  config.jackpot.sparsity = int(parts[2][1:]) / 100
  config.jackpot.epochs = int(parts[3][1:])
  if dataset == 'imagenet2012':
    config.epochs = 90
    config.lr_step_every = 30
    config.batch_size = 256
    config.jackpot.weight_decay = 1e-4
    config.jackpot.overlap_examples = 64
    if len(parts) > 4:
      config.jackpot.tune_epochs = int(parts[4][1:])
  return config
