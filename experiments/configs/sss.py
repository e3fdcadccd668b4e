"""Sparse Structure Selection rows (rethinking.md §3.5, Table 5 / §8.5).

    python -m experiments.main --config=experiments/configs/sss.py:resnet41 \
        --workdir=runs/sss41 --config.data.manual_dir=/data/imagenet

``get_config('<row>[,small]')``:

* ``resnet41`` / ``resnet32`` / ``resnet26``: the published block configs of
  the pre-activation ResNet-50 (``preresnet50_sss``) trained from scratch on
  ImageNet: Scratch-E 100 epochs, x0.1 at 30/60/90; Scratch-B ``int(100 r)``
  epochs with the steps stretched by ``r`` (117 / 145 / 179); NAG, LR 0.1,
  wd 1e-4, batch 128 (the SSS code). The "pruned" column of the paper quotes
  the SSS paper; not in the reference ("unknown").
* ``resnet50_search``: the SSS search itself on ImageNet (gamma 0.01, 100
  epochs), then its block config from scratch.
* ``cifar_search``: the search on CIFAR-10 with ``preresnet_sss_cifar``
  (the CIFAR protocol of §5.1 with NAG), so it runs end to end on a CPU.

``,small``: ImageNet rows become a CPU smoke run (64 CIFAR-10 images
resized to 224, batch 16, 2 epochs, Scratch-B capped at 2); ``cifar_search``
runs on the 2,000-image subset for 2 epochs with gamma 0.1, large enough
that a 2-epoch search removes blocks (with 0.01 none would reach 0).
"""

from experiments.configs import base
from experiments.configs import paper

VARIANTS = ('small',)

# §3.5: (blocks kept, first block kept) per stage.
SSS_BLOCKS = {
    'resnet41': [[0, False], [4, True], [6, True], [3, True]],
    'resnet32': [[1, False], [4, True], [4, True], [1, True]],
    'resnet26': [[0, False], [2, False], [5, False], [1, True]],
}
# §8.5: Scratch-E, Scratch-B (top-1 / top-5).
SSS_PUBLISHED = {
    'resnet26': ('72.31 / 90.90', '73.41 / 91.39'),
    'resnet32': ('73.79 / 91.80', '74.67 / 92.22'),
    'resnet41': ('75.70 / 92.74', '76.17 / 92.90'),
}
ROWS = (*SSS_BLOCKS, 'resnet50_search', 'cifar_search')

IMAGENET = {'data.name': 'imagenet2012', 'model.name': 'preresnet50_sss',
            'optim.epochs': 100, 'optim.lr_step_every': 30,
            'data.batch_size': 128, 'scratch.b_rule': 'sss', 'seeds': 1}
SMALL_IMAGENET = {'data.name': 'cifar10', 'data.train_subset': 64,
                  'data.test_subset': 64, 'data.image_size': 224,
                  'data.batch_size': 16, 'data.eval_batch_size': 32,
                  'optim.epochs': 2, 'optim.lr_step_every': 0,
                  'scratch.b_max_epochs': 2}
SMALL_CIFAR = {'data.train_subset': 2000, 'data.eval_batch_size': 500,
               'optim.epochs': 2, 'scratch.b_max_epochs': 4, 'seeds': 1,
               'sss.gamma': 0.1}


def get_config(arg: str = 'cifar_search'):
  row, *variants = [a.strip() for a in arg.split(',')]
  if row not in ROWS:
    raise ValueError(f'unknown SSS row {row!r}; known rows: {list(ROWS)}')
  unknown = sorted(set(variants) - set(VARIANTS))
  if unknown:
    raise ValueError(f'unknown row variants {unknown}; known: '
                     f'{", ".join(VARIANTS)}')
  config = base.get_config()
  base.override(config, {'study': 'sss', 'row': arg,
                         'stages': ('scratch_e', 'scratch_b')})
  small = 'small' in variants
  if row == 'cifar_search':
    base.override(config, {'data.name': 'cifar10',
                           'model.name': 'preresnet_sss_cifar', 'seeds': 5})
    if small:
      base.override(config, SMALL_CIFAR)
    return config
  base.override(config, IMAGENET)
  if row in SSS_BLOCKS:
    config.sss.blocks = SSS_BLOCKS[row]
  if small:
    base.override(config, SMALL_IMAGENET)
  elif row in SSS_PUBLISHED:
    e, b = SSS_PUBLISHED[row]
    config.paper = {'pruned': paper.U, 'scratch_e': e, 'scratch_b': b}
  return config
