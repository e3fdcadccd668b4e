"""Rethinking the Value of Network Pruning: the paper's rows.

    python -m experiments.main \
        --config=experiments/configs/rethinking.py:resnet56_a \
        --workdir=runs/r56a --config.seeds=5

``get_config('<row>[,cifar100][,small]')`` returns the config of one table
row (``paper.RETHINKING_ROWS``). ``,cifar100`` runs a CIFAR row on CIFAR-100
(the paper's CIFAR-100 columns). ``,small`` is the row's small-budget variant
for a CPU: the same model, criterion and targets on a 2,000-image subset of
the CIFAR-10 image folder (``--config.data.path=<cifar10-jpeg folder or
.tar.gz>``), 2 epochs per stage, Scratch-B capped at 4 epochs, one seed. For
ImageNet rows ``,small`` is a CPU smoke run of the ImageNet architecture: 64
training and 64 test images of the CIFAR-10 folder resized to 224x224, batch
16, 2 epochs (fine-tune 1, Scratch-B capped at 2): a check that the whole
study runs, not an accuracy (the ThiNet and regression rows at 112x112,
96 training images, all given to the criterion). The row's published numbers (§8) go into
``config.paper`` (not for the ``,cifar100`` or ``,small`` variants, whose
data differ).
"""

from experiments.configs import base
from experiments.configs import paper

VARIANTS = ('cifar100', 'small')

# Images the data-driven criteria see in a CIFAR ,small run (see below).
SMALL_CRITERION_EXAMPLES = 640

SMALL_BUDGET = {'data.name': 'cifar10', 'data.train_subset': 2000,
                'data.eval_batch_size': 500, 'optim.epochs': 2,
                'finetune.epochs': 1, 'scratch.b_max_epochs': 4, 'seeds': 1}

SMALL_IMAGENET = {'data.name': 'cifar10', 'data.train_subset': 64,
                  'data.test_subset': 64, 'data.image_size': 224,
                  'data.batch_size': 16, 'data.eval_batch_size': 32,
                  'optim.epochs': 2, 'optim.lr_step_every': 0,
                  'finetune.epochs': 1, 'scratch.b_max_epochs': 2,
                  'seeds': 1}

# rethinking.md §5.2: 90 epochs, batch 256, LR 0.1 x0.1 every 30 epochs,
# fine-tune 20 epochs at 0.001; one run.
IMAGENET = {'optim.epochs': 90, 'optim.lr_step_every': 30,
            'data.batch_size': 256, 'finetune.epochs': 20,
            'scratch.b_rule': 'imagenet', 'seeds': 1}


def get_config(arg: str = 'resnet56_a'):
  row, *variants = [a.strip() for a in arg.split(',')]
  if row not in paper.RETHINKING_ROWS:
    raise ValueError(f'unknown row {row!r}; known rows: '
                     f'{sorted(paper.RETHINKING_ROWS)}')
  unknown = sorted(set(variants) - set(VARIANTS))
  if unknown:
    raise ValueError(f'unknown row variants {unknown}; known: '
                     f'{", ".join(VARIANTS)}')
  dataset, model, method, prune = paper.RETHINKING_ROWS[row]
  imagenet = dataset == 'imagenet2012'
  if imagenet and 'cifar100' in variants:
    raise ValueError(f'ImageNet row {row!r} has no cifar100 variant')
  config = base.get_config()
  base.override(config, {
      'study': 'rethinking', 'row': arg, 'model.name': model,
      'data.name': 'cifar100' if 'cifar100' in variants else dataset,
      'prune.method': method, 'seeds': 5,  # §5.1: mean ± std of 5 runs
      **{f'prune.{k}': v for k, v in prune.items()}})
  if imagenet:
    base.override(config, IMAGENET)
  base.override(config, paper.ROW_SETTINGS.get(row, {}))
  if not variants:
    config.paper = paper.rethinking_paper(row)
  if 'small' in variants:
    base.override(config, SMALL_IMAGENET if imagenet else SMALL_BUDGET)
    if method in ('thinet', 'regression'):
      # Enough images and sampled positions for the least squares (CIFAR:
      # 640, since VGG-16's regression refit into a 3x3 conv on 2x2 maps
      # needs 2,304 equations from 4 positions per image, 576 images);
      # ImageNet models at 112x112 (4x cheaper), every training image.
      base.override(config, {
          'prune.examples': SMALL_CRITERION_EXAMPLES,
          'prune.options': {'samples_per_example': 40},
          **({'data.image_size': 112, 'data.train_subset': 96,
              'prune.examples': 96} if imagenet else {})})
  return config
