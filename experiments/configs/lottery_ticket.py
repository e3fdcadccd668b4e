"""Rethinking §9: winning tickets against random re-initialisation.

    python -m experiments.main \
        --config=experiments/configs/lottery_ticket.py:vgg16_iterative \
        --workdir=runs/lt_vgg16_iter --config.seeds=5

``get_config('<row>[,small]')``: one setting of the comparison
(:data:`LOTTERY_ROWS`): the CIFAR-10 model, the criterion and its target,
the pruning rounds; both arms train with the CIFAR protocol (160 epochs,
batch 64, x0.1 at 80/120) at LR 0.1 and at 0.01, 5 seeds. The reference has
no published numbers for this study (rethinking.md §8.7): the report says
"unknown". The one-shot ratio and the number of iterative rounds are not in
the reference either; 80 % one-shot and 5 rounds of 20 % (67.2 % sparse)
are this library's choice.

``,small`` is the CPU variant: the 2,000-image CIFAR-10 subset of the image
folder (``--config.data.path=<cifar10-jpeg folder or .tar.gz>``), 2 epochs
per stage, at most 2 pruning rounds, one seed.

The CIFAR ResNet-50 of the unstructured runs (bearpaw, 8 basic blocks per
stage, projection shortcuts) is not one of jaxprune's models; the
unstructured rows use VGG-16-BN.
"""

from experiments.configs import base
from experiments.configs import paper

VARIANTS = ('small',)

# row -> (model, criterion, config.prune overrides, rounds)
LOTTERY_ROWS = {
    # Unstructured (weight-level): global magnitude over the conv weights.
    'vgg16_oneshot': ('vgg16_wl', 'magnitude', {'ratio': 0.8}, 1),
    'vgg16_iterative': ('vgg16_wl', 'magnitude_iterative', {'ratio': 0.2}, 5),
    # Structured: L1-norm filters at the paper's targets (§3.1), masks.
    'vgg16_a_l1': ('vgg16_l1', 'l1_norm', paper.L1_TARGETS['vgg16_a'], 1),
    'resnet56_a_l1': ('resnet56', 'l1_norm', paper.L1_TARGETS['resnet56_a'],
                      1),
    'resnet56_b_l1': ('resnet56', 'l1_norm', paper.L1_TARGETS['resnet56_b'],
                      1),
}

SMALL = {'data.train_subset': 2000, 'data.eval_batch_size': 500,
         'optim.epochs': 2, 'seeds': 1}


def get_config(arg: str = 'vgg16_iterative'):
  row, *variants = [a.strip() for a in arg.split(',')]
  if row not in LOTTERY_ROWS:
    raise ValueError(f'unknown lottery-ticket row {row!r}; known rows: '
                     f'{sorted(LOTTERY_ROWS)}')
  unknown = sorted(set(variants) - set(VARIANTS))
  if unknown:
    raise ValueError(f'unknown row variants {unknown}; known: '
                     f'{", ".join(VARIANTS)}')
  model, method, prune, rounds = LOTTERY_ROWS[row]
  config = base.get_config()
  base.override(config, {
      'study': 'lottery_ticket', 'row': arg, 'model.name': model,
      'data.name': 'cifar10', 'prune.method': method, 'seeds': 5,
      'lottery.rounds': rounds,
      **{f'prune.{k}': v for k, v in prune.items()}})
  if 'small' in variants:
    base.override(config, SMALL)
    config.lottery.rounds = min(rounds, 2)
  else:
    config.paper = {'ticket': paper.U, 'random': paper.U}
  return config
