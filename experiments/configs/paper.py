"""The papers' data in one place: pruning targets, table rows, published numbers.

Rethinking the Value of Network Pruning (rethinking.md §3.1, §5, §8) and
Lottery Jackpots Exist in Pre-trained Models (lottery_jackpots.md §6.2). The
row configs (``rethinking.py``, ``jackpot.py``) are built from these tables;
the published numbers reach the report through each row's ``config.paper``.
"""

U = 'unknown'

# ---- Rethinking: L1-norm targets (Li et al.; rethinking.md §3.1) -----------
# Layer ids are Rethinking's 1-based conv numbers (VGG: conv index + 1;
# ResNet: block b's first conv = 2 + 2b; the stem is 1).
L1_TARGETS = {
    # conv1_1 64 -> 32, conv4_1 ... conv5_3 512 -> 256.
    'vgg16_a': {'layer_ratios': {1: 0.5, 8: 0.5, 9: 0.5, 10: 0.5, 11: 0.5,
                                 12: 0.5, 13: 0.5}},
    'resnet56_a': {'stage_ratios': (0.1, 0.1, 0.1), 'skip': (16, 20, 38, 54)},
    'resnet56_b': {'stage_ratios': (0.6, 0.3, 0.1),
                   'skip': (16, 18, 20, 34, 38, 54)},
    'resnet110_a': {'stage_ratios': (0.5, 0.0, 0.0), 'skip': (36,)},
    'resnet110_b': {'stage_ratios': (0.5, 0.4, 0.3), 'skip': (36, 38, 74)},
    'resnet34_a': {'stage_ratios': (0.3, 0.3, 0.3, 0.0),
                   'skip': (2, 8, 14, 16, 26, 28, 30, 32)},
    'resnet34_b': {'stage_ratios': (0.5, 0.6, 0.4, 0.0),
                   'skip': (2, 8, 14, 16, 26, 28, 30, 32)},
}

# ---- Rethinking: table rows ---------------------------------------------------
# row -> (dataset, model, criterion, config.prune overrides)
RETHINKING_ROWS = {
    # Table 1: L1-norm filter pruning (CIFAR-10 and ImageNet).
    'vgg16_a': ('cifar10', 'vgg16_l1', 'l1_norm', L1_TARGETS['vgg16_a']),
    'resnet56_a': ('cifar10', 'resnet56', 'l1_norm',
                   L1_TARGETS['resnet56_a']),
    'resnet56_b': ('cifar10', 'resnet56', 'l1_norm',
                   L1_TARGETS['resnet56_b']),
    'resnet110_a': ('cifar10', 'resnet110', 'l1_norm',
                    L1_TARGETS['resnet110_a']),
    'resnet110_b': ('cifar10', 'resnet110', 'l1_norm',
                    L1_TARGETS['resnet110_b']),
    'resnet34_a': ('imagenet2012', 'resnet34', 'l1_norm',
                   L1_TARGETS['resnet34_a']),
    'resnet34_b': ('imagenet2012', 'resnet34', 'l1_norm',
                   L1_TARGETS['resnet34_b']),
    # Table 4: Network Slimming.
    'vgg19_slim70_c10': ('cifar10', 'vgg19_slim', 'slimming',
                         dict(ratio=0.7, sparsity_lambda=1e-4)),
    'vgg19_slim50_c100': ('cifar100', 'vgg19_slim', 'slimming',
                          dict(ratio=0.5, sparsity_lambda=1e-4)),
    'preresnet164_slim40': ('cifar10', 'preresnet164', 'slimming',
                            dict(ratio=0.4, sparsity_lambda=1e-5)),
    'preresnet164_slim60': ('cifar10', 'preresnet164', 'slimming',
                            dict(ratio=0.6, sparsity_lambda=1e-5)),
    'densenet40_slim40': ('cifar10', 'densenet40', 'slimming',
                          dict(ratio=0.4, sparsity_lambda=1e-5)),
    'densenet40_slim60': ('cifar10', 'densenet40', 'slimming',
                          dict(ratio=0.6, sparsity_lambda=1e-5)),
    # ImageNet VGG-11 slimming: the global threshold covers the conv BNs and
    # the head's BN1d layers, so hidden FC widths shrink too.
    'vgg11_slim50': ('imagenet2012', 'vgg11_slim_imagenet', 'slimming',
                     dict(ratio=0.5, sparsity_lambda=1e-5)),
    # Table 6: unstructured magnitude pruning. The CIFAR ratios are unknown
    # in the reference (unverified 30 %/80 % VGG-19 and PreResNet-110,
    # 30 %/60 % DenseNet-BC-100).
    'vgg19_wl30': ('cifar10', 'vgg19_wl', 'magnitude', dict(ratio=0.3)),
    'vgg19_wl80': ('cifar10', 'vgg19_wl', 'magnitude', dict(ratio=0.8)),
    'preresnet110_wl30': ('cifar10', 'preresnet110', 'magnitude',
                          dict(ratio=0.3)),
    'preresnet110_wl80': ('cifar10', 'preresnet110', 'magnitude',
                          dict(ratio=0.8)),
    'densenet_bc100_wl30': ('cifar10', 'densenet_bc100', 'magnitude',
                            dict(ratio=0.3)),
    'densenet_bc100_wl60': ('cifar10', 'densenet_bc100', 'magnitude',
                            dict(ratio=0.6)),
    'vgg16_wl30_imagenet': ('imagenet2012', 'vgg16_bn_imagenet', 'magnitude',
                            dict(ratio=0.3)),
    'vgg16_wl60_imagenet': ('imagenet2012', 'vgg16_bn_imagenet', 'magnitude',
                            dict(ratio=0.6)),
    'resnet50_wl30': ('imagenet2012', 'resnet50', 'magnitude',
                      dict(ratio=0.3)),
    'resnet50_wl60': ('imagenet2012', 'resnet50', 'magnitude',
                      dict(ratio=0.6)),
}

# row -> published (Unpruned, Fine-tuned, Scratch-E, Scratch-B), §8; for the
# row's own dataset (CIFAR-10 / ImageNet; CIFAR-100 for vgg19_slim50_c100).
RETHINKING_PUBLISHED = {
    'vgg16_a': (U, U, U, U),
    'resnet56_a': ('93.14 ± 0.12', U, '92.96 ± 0.26', '93.09 ± 0.14'),
    'resnet56_b': ('93.14 ± 0.12', U, '92.54 ± 0.19', '93.05 ± 0.18'),
    'resnet110_a': ('93.14 ± 0.24', U, '93.25 ± 0.29', '93.22 ± 0.22'),
    'resnet110_b': ('93.14 ± 0.24', U, '92.89 ± 0.43', '93.60 ± 0.25'),
    'resnet34_a': ('73.31', U, '72.77', '73.03'),
    'resnet34_b': ('73.31', U, '72.55', '72.91'),
    'vgg19_slim70_c10': (U, U, U, U),
    'vgg19_slim50_c100': (U, U, U, U),
    'preresnet164_slim40': (U, U, U, U),
    'preresnet164_slim60': (U, U, U, U),
    'densenet40_slim40': (U, U, U, U),
    'densenet40_slim60': (U, U, U, U),
    'vgg11_slim50': (U, '68.62', '70.00', '71.18'),
    'vgg19_wl30': (U, U, U, U), 'vgg19_wl80': (U, U, U, U),
    'preresnet110_wl30': (U, U, U, U), 'preresnet110_wl80': (U, U, U, U),
    'densenet_bc100_wl30': (U, U, U, U), 'densenet_bc100_wl60': (U, U, U, U),
    'vgg16_wl30_imagenet': (U, '73.68', '72.75', '74.02'),
    'vgg16_wl60_imagenet': (U, '73.63', '71.50', '73.42'),
    'resnet50_wl30': (U, '76.06', '74.77', '75.60'),
    'resnet50_wl60': (U, '76.09', '73.69', '74.90'),
}
RETHINKING_STAGES = ('baseline', 'finetune', 'scratch_e', 'scratch_b')

# ---- Lottery Jackpots: the README rows ---------------------------------------
JACKPOT_MODELS = {'vgg19': 'vgg19_jackpot', 'resnet32': 'resnet32_jackpot',
                  'resnet50': 'resnet50'}
JACKPOT_DATASETS = {'c10': 'cifar10', 'c100': 'cifar100', 'in': 'imagenet2012'}
# Published top-1 (README @ 1b802ea6, §6.2); tuned rows from 5f3398cc.
JACKPOT_PUBLISHED = {
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


def rethinking_paper(row: str) -> dict[str, str]:
  """``config.paper`` of a Rethinking row: ``{stage: published}``."""
  return dict(zip(RETHINKING_STAGES, RETHINKING_PUBLISHED[row]))


def jackpot_paper(row: str) -> dict[str, float]:
  """``config.paper`` of a jackpot row: the published top-1 of the mask it
  reports (the tuned stage for ``_t10`` rows, else the search)."""
  stage = 'tune' if row.endswith('_t10') else 'search'
  return {stage: JACKPOT_PUBLISHED[row]}
