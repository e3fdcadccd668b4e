"""Rethinking the Value of Network Pruning: the paper's rows.

    python -m experiments.main \
        --config=experiments/configs/rethinking.py:resnet56_a \
        --workdir=runs/r56a --config.seeds=5

``get_config('<row>[,cifar100][,small]')`` returns the config of one table
row (see ROWS). ``,cifar100`` runs a CIFAR row on CIFAR-100 (the paper's
CIFAR-100 columns). ``,small`` is the row's small-budget variant for a CPU: the
same model, method and pruning targets on a 2,000-image subset of the CIFAR-10
image folder (``--config.data_path=<cifar10-jpeg folder or .tar.gz>``), 2
epochs per stage, Scratch-B capped at 4 epochs, one seed. For ImageNet rows
``,small`` is a CPU smoke run of the ImageNet architecture: 64 training and 64
test images of the CIFAR-10 folder resized to 224x224 (the models need 224
input), batch 16, 2 epochs (fine-tune 1, Scratch-B capped at 2): minutes per stage
on 2 cores, a check that the whole pipeline runs, not an accuracy.
rethinking.md §3 (methods), §5 (protocols) and §8 (published numbers, used by
experiments/report.py through the ``row`` field).
"""

import ml_collections

from experiments.configs import base

# row -> (dataset, model, method, overrides)
ROWS = {
    # Table 1: L1-norm filter pruning (CIFAR-10 and ImageNet).
    'vgg16_a': ('cifar10', 'vgg16_l1', 'l1_norm', dict(l1_target='vgg16_a')),
    'resnet56_a': ('cifar10', 'resnet56', 'l1_norm',
                   dict(l1_target='resnet56_a')),
    'resnet56_b': ('cifar10', 'resnet56', 'l1_norm',
                   dict(l1_target='resnet56_b')),
    'resnet110_a': ('cifar10', 'resnet110', 'l1_norm',
                    dict(l1_target='resnet110_a')),
    'resnet110_b': ('cifar10', 'resnet110', 'l1_norm',
                    dict(l1_target='resnet110_b')),
    'resnet34_a': ('imagenet2012', 'resnet34', 'l1_norm',
                   dict(l1_target='resnet34_a')),
    'resnet34_b': ('imagenet2012', 'resnet34', 'l1_norm',
                   dict(l1_target='resnet34_b')),
    # Table 4: Network Slimming.
    'vgg19_slim70_c10': ('cifar10', 'vgg19_slim', 'slimming',
                         dict(prune_ratio=0.7, sparsity_lambda=1e-4)),
    'vgg19_slim50_c100': ('cifar100', 'vgg19_slim', 'slimming',
                          dict(prune_ratio=0.5, sparsity_lambda=1e-4)),
    'preresnet164_slim40': ('cifar10', 'preresnet164', 'slimming',
                            dict(prune_ratio=0.4, sparsity_lambda=1e-5)),
    'preresnet164_slim60': ('cifar10', 'preresnet164', 'slimming',
                            dict(prune_ratio=0.6, sparsity_lambda=1e-5)),
    'densenet40_slim40': ('cifar10', 'densenet40', 'slimming',
                          dict(prune_ratio=0.4, sparsity_lambda=1e-5)),
    'densenet40_slim60': ('cifar10', 'densenet40', 'slimming',
                          dict(prune_ratio=0.6, sparsity_lambda=1e-5)),
    # ImageNet VGG-11 slimming: the global threshold covers the conv BNs and
    # the head's BN1d layers (fc1_bn, fc2_bn), so hidden FC widths shrink too.
    'vgg11_slim50': ('imagenet2012', 'vgg11_slim_imagenet', 'slimming',
                     dict(prune_ratio=0.5, sparsity_lambda=1e-5)),
    # Table 6: unstructured magnitude pruning. CIFAR ratios are unknown in
    # the reference (unverified 30%/80% VGG-19 and PreResNet-110, 30%/60%
    # DenseNet-BC-100).
    'vgg19_wl30': ('cifar10', 'vgg19_wl', 'magnitude', dict(prune_ratio=0.3)),
    'vgg19_wl80': ('cifar10', 'vgg19_wl', 'magnitude', dict(prune_ratio=0.8)),
    'preresnet110_wl30': ('cifar10', 'preresnet110', 'magnitude',
                          dict(prune_ratio=0.3)),
    'preresnet110_wl80': ('cifar10', 'preresnet110', 'magnitude',
                          dict(prune_ratio=0.8)),
    'densenet_bc100_wl30': ('cifar10', 'densenet_bc100', 'magnitude',
                            dict(prune_ratio=0.3)),
    'densenet_bc100_wl60': ('cifar10', 'densenet_bc100', 'magnitude',
                            dict(prune_ratio=0.6)),
    'vgg16_wl30_imagenet': ('imagenet2012', 'vgg16_bn_imagenet', 'magnitude',
                            dict(prune_ratio=0.3)),
    'vgg16_wl60_imagenet': ('imagenet2012', 'vgg16_bn_imagenet', 'magnitude',
                            dict(prune_ratio=0.6)),
    'resnet50_wl30': ('imagenet2012', 'resnet50', 'magnitude',
                      dict(prune_ratio=0.3)),
    'resnet50_wl60': ('imagenet2012', 'resnet50', 'magnitude',
                      dict(prune_ratio=0.6)),
}


def add_pipeline_fields(config: ml_collections.ConfigDict) -> None:
  """The fields jaxprune.pipelines.rethinking reads, with CIFAR defaults."""
  config.pipeline = 'rethinking'
  config.row = ''
  config.method = 'l1_norm'
  config.prune_ratio = 0.0
  config.l1_target = ''
  config.l1_ratios = ''        # JSON {layer_id: p}
  config.l1_stage_ratios = ''  # JSON list
  config.l1_skip = ''          # JSON list
  config.sparsity_lambda = 0.0
  config.finetune_epochs = 40
  config.finetune_lr = 0.001
  config.finetune_schedule = 'constant'
  config.scratch_b_rule = 'cifar'
  config.scratch_b_max_epochs = 0  # 0: no cap (the reference has none)
  config.seeds = 1
  config.baseline_checkpoint = ''
  config.stages = 'finetune,scratch_e,scratch_b'


SMALL_BUDGET = dict(dataset='cifar10', train_subset=2000, epochs=2,
                    finetune_epochs=1, scratch_b_max_epochs=4, seeds=1,
                    eval_batch_size=500)


SMALL_IMAGENET = dict(dataset='cifar10', train_subset=64, test_subset=64,
                      image_size=224, batch_size=16, eval_batch_size=32,
                      epochs=2, lr_step_every=0, finetune_epochs=1,
                      scratch_b_max_epochs=2, seeds=1)


def get_config(arg: str = 'resnet56_a') -> ml_collections.ConfigDict:
  row, *variants = [a.strip() for a in arg.split(',')]
  if row not in ROWS:
    raise ValueError(f'unknown row {row!r}; known rows: {sorted(ROWS)}')
  unknown = set(variants) - {'cifar100', 'small'}
  if unknown:
    raise ValueError(f'unknown row variants {sorted(unknown)}; known: '
                     'cifar100, small')
  dataset, model, method, overrides = ROWS[row]
  if dataset == 'imagenet2012' and 'cifar100' in variants:
    raise ValueError(f'ImageNet row {row!r} has no cifar100 variant')
  small_imagenet = dataset == 'imagenet2012' and 'small' in variants
  if 'cifar100' in variants:
    dataset = 'cifar100'
  if 'small' in variants:
    overrides = {**overrides, **SMALL_BUDGET}
  config = base.get_base_config()
  add_pipeline_fields(config)
  config.row = arg
  config.model = model
  config.dataset = dataset
  config.method = method
  if dataset == 'imagenet2012':
    # rethinking.md §5.2: 90 epochs, batch 256, LR 0.1 x0.1 every 30 epochs,
    # fine-tune 20 epochs at 0.001; torchvision pre-trained bases are loaded
    # through baseline_checkpoint.
    config.epochs = 90
    config.lr_step_every = 30
    config.batch_size = 256
    config.finetune_epochs = 20
    config.scratch_b_rule = 'imagenet'
    config.seeds = 1
  else:
    config.seeds = 5  # §5.1: mean +- std of 5 runs
  for k, v in overrides.items():
    config[k] = v
  if small_imagenet:  # after the ImageNet protocol fields above
    for k, v in SMALL_IMAGENET.items():
      config[k] = v
  return config
