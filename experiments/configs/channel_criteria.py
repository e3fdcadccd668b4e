"""The four channel criteria on one architecture, in one report.

    python -m experiments.main \
        --config=experiments/configs/channel_criteria.py:vgg16_a,small \
        --workdir=runs/criteria_vgg16 --config.data.path=<cifar10-jpeg>

``get_config('<row>[,small]')`` takes a CIFAR-10 L1-norm row
(``vgg16_a``, ``resnet56_a``, ``resnet56_b``, ``resnet110_a``,
``resnet110_b``: its model and per-layer targets) and runs the ``suite``
study: one Rethinking run per criterion (L1-norm, ThiNet, regression,
Network Slimming at the same per-layer counts, slimming's large model
trained with its sparsity term), then the comparison report. ``,small`` is
the CPU budget of the rethinking rows' ``,small`` (2,000 images, 2 epochs
per stage, Scratch-B capped at 4), with 640 images for the data-driven
criteria.
"""

from experiments.configs import base
from experiments.configs import paper
from experiments.configs import rethinking

ROWS = ('vgg16_a', 'resnet56_a', 'resnet56_b', 'resnet110_a', 'resnet110_b')


def get_config(arg: str = 'vgg16_a'):
  row, *variants = [a.strip() for a in arg.split(',')]
  if row not in ROWS:
    raise ValueError(f'unknown row {row!r}; known: {", ".join(ROWS)}')
  if set(variants) - {'small'}:
    raise ValueError(f'unknown variants {sorted(set(variants) - {"small"})};'
                     ' known: small')
  dataset, model, _, target = paper.RETHINKING_ROWS[row]
  config = base.get_config()
  base.override(config, {
      'study': 'suite', 'row': arg, 'model.name': model, 'data.name': dataset,
      'seeds': 5, **{f'prune.{k}': v for k, v in target.items()}})
  lam = 1e-4 if model.startswith('vgg') else 1e-5
  config.suite.methods = {'l1_norm': {}, 'thinet': {}, 'regression': {},
                          'slimming': {'sparsity_lambda': lam}}
  config.suite.jackpot = False
  if 'small' in variants:
    base.override(config, rethinking.SMALL_BUDGET)
    config.prune.examples = rethinking.SMALL_CRITERION_EXAMPLES
    for m in ('thinet', 'regression'):
      config.suite.methods[m] = {'options': {'samples_per_example': 40}}
  return config
