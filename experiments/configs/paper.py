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

# ---- Rethinking: ThiNet and regression targets (rethinking.md §3.2-3.3) ----
# ThiNet-VGG: conv1-conv4 (layers 1-10) halved, conv5 kept (VGG-Conv and
# VGG-GAP); VGG-Tiny also prunes conv5 (512 -> 128, 128, 256).
_CONV1_4 = range(1, 11)
THINET_TARGETS = {
    'vgg_conv': {'layer_ratios': {i: 0.5 for i in _CONV1_4}},
    'vgg_gap': {'layer_ratios': {i: 0.5 for i in _CONV1_4}, 'head': 'gap'},
    'vgg_tiny': {'layer_ratios': {**{i: 0.75 for i in range(1, 13)},
                                  13: 0.5}, 'head': 'gap'},
    # ResNet-50: the first two convs of every bottleneck keep 30/50/70 %
    # (64 -> 19/32/44 in stage 1, ..., 512 -> 153/256/358 in stage 4).
    'thinet_30': {'stage_ratios': (0.7, 0.7, 0.7, 0.7)},
    'thinet_50': {'stage_ratios': (0.5, 0.5, 0.5, 0.5)},
    'thinet_70': {'stage_ratios': (0.3, 0.3, 0.3, 0.3)},
}
# VGG-16-5x conv widths (conv5 kept) and ResNet-50-2x's per-block
# [block input kept, conv1, conv2] (cfg_2x).
VGG16_5X_CFG = [24, 22, 'M', 41, 51, 'M', 108, 89, 111, 'M', 184, 276, 228,
                'M', 512, 512, 512, 'M']
RESNET50_2X_CFG = [
    [35, 64, 55], [101, 51, 39], [97, 50, 37], [144, 128, 106],
    [205, 105, 72], [198, 105, 72], [288, 128, 110], [278, 256, 225],
    [418, 209, 147], [407, 204, 158], [423, 212, 155], [412, 211, 148],
    [595, 256, 213], [606, 512, 433], [1222, 512, 437], [1147, 512, 440]]
RESNET50_BLOCKS = [f'stage{s}_block{b}' for s, n in zip((1, 2, 3, 4),
                                                         (3, 4, 6, 3))
                   for b in range(n)]
REGRESSION_TARGETS = {
    'vgg16_5x': {'keep_counts': {
        f'conv{i}': w for i, w in enumerate(
            v for v in VGG16_5X_CFG[:13] if v != 'M') if i < 10}},
    'resnet50_2x': {'keep_counts': {
        f'{block}/{unit}': w for block, widths in zip(RESNET50_BLOCKS,
                                                      RESNET50_2X_CFG)
        for unit, w in zip(('input', 'bn1', 'bn2'), widths)}},
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
    # Table 2: ThiNet (the criterion run here, not the released models).
    'vgg_conv': ('imagenet2012', 'vgg16_imagenet', 'thinet',
                 THINET_TARGETS['vgg_conv']),
    'vgg_gap': ('imagenet2012', 'vgg16_imagenet', 'thinet',
                THINET_TARGETS['vgg_gap']),
    'vgg_tiny': ('imagenet2012', 'vgg16_imagenet', 'thinet',
                 THINET_TARGETS['vgg_tiny']),
    'thinet_30': ('imagenet2012', 'resnet50_thinet', 'thinet',
                  THINET_TARGETS['thinet_30']),
    'thinet_50': ('imagenet2012', 'resnet50_thinet', 'thinet',
                  THINET_TARGETS['thinet_50']),
    'thinet_70': ('imagenet2012', 'resnet50_thinet', 'thinet',
                  THINET_TARGETS['thinet_70']),
    # Table 3: regression-based channel pruning. ResNet-50-2x's block-input
    # selection is chosen by the criterion too, unless
    # --config.prune.keep_masks_path names the official masks (the
    # resnet50_2x_input_channel_masks.npz of the reference data).
    'vgg16_5x': ('imagenet2012', 'vgg16_imagenet', 'regression',
                 REGRESSION_TARGETS['vgg16_5x']),
    'resnet50_2x': ('imagenet2012', 'resnet50_thinet', 'regression',
                    REGRESSION_TARGETS['resnet50_2x']),
    # The four channel criteria on the CIFAR models, at the L1 targets.
    **{f'{row}_{m}': ('cifar10', model, m, L1_TARGETS[row])
       for row, model in (('vgg16_a', 'vgg16_l1'), ('resnet56_a', 'resnet56'),
                          ('resnet56_b', 'resnet56'))
       for m in ('thinet', 'regression')},
}

# Settings of a row beyond its data, model and criterion (rethinking.md
# §3.2-3.3): LR 0.01 for the BN-free VGGs, the README's Scratch-B epochs
# where the §5.3 rule does not give them.
ROW_SETTINGS = {
    **{row: {'optim.learning_rate': 0.01}
       for row in ('vgg_conv', 'vgg_gap', 'vgg_tiny', 'vgg16_5x')},
    'resnet50_2x': {'scratch.b_epochs': 132},
}
# The Scratch-B epochs the reference gives for the rows (the ImageNet rule
# of §5.3 on our FLOPs, or the README's): checked by the tests.
SCRATCH_B_EPOCHS = {'vgg_conv': 180, 'vgg_gap': 180, 'vgg_tiny': 180,
                    'thinet_30': 180, 'thinet_50': 180, 'thinet_70': 141,
                    'vgg16_5x': 180, 'resnet50_2x': 132}

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
    # §8.2-8.3: top-1 (top-5 in SCRATCH_TOP5); fine-tuned values unknown.
    'vgg_conv': (U, U, '68.76', '71.72'), 'vgg_gap': (U, U, '66.85', '68.66'),
    'vgg_tiny': (U, U, '57.15', '59.93'),
    'thinet_30': (U, U, '70.91', '71.57'),
    'thinet_50': (U, U, '73.31', '73.90'),
    'thinet_70': (U, U, '74.42', '75.14'),
    'vgg16_5x': (U, U, '68.05', '71.00'),
    'resnet50_2x': (U, U, '71.26', '74.58'),
    **{f'{row}_{m}': (U, U, U, U) for row in ('vgg16_a', 'resnet56_a',
                                               'resnet56_b')
       for m in ('thinet', 'regression')},
}
# Top-5 of the scratch-trained ThiNet / regression models (§8.2-8.3).
SCRATCH_TOP5 = {'vgg_conv': ('88.71', '90.34'), 'vgg_gap': ('87.07', '88.13'),
                'vgg_tiny': ('79.92', '82.07'),
                'thinet_30': ('90.14', '90.49'),
                'thinet_50': ('91.49', '91.98'),
                'thinet_70': ('92.07', '92.34'),
                'vgg16_5x': ('88.15', '89.96'),
                'resnet50_2x': ('90.68', '92.23')}
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
