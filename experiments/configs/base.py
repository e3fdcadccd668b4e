"""Every default of every experiment, in one nested config.

Config files start from ``get_config()`` and override a few fields; every
field is overridable on the command line (``--config.optim.epochs=10``;
tuples as ``'(0.1, 0.1)'``, dicts and width configs as Python/JSON literals,
``--config.model.widths='[16, 16, "M", 32, 32]'``). An unknown field is an
error. Sections, one concern each: ``data``, ``model``, ``optim``,
``prune``, ``finetune``, ``scratch``, ``jackpot``, ``lottery``, ``sss``,
``arch_search``, ``mask_overlap``, ``suite``.
"""

import ml_collections
from ml_collections import config_dict


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  # The registered study to run: baseline, rethinking, jackpot,
  # lottery_ticket, sss, architecture_search, mask_overlap, suite
  # (jaxprune.studies).
  config.study = 'baseline'
  config.row = ''  # a paper row's name (experiments/configs/paper.py)
  config.paper = {}  # that row's published numbers, {stage: value}
  config.seed = 0
  config.seeds = 1  # independent runs (seed, seed + 1, ...) in seed{i}/
  # Seeds trained at a time, their stages of one name in one compiled step
  # (rethinking, jackpot, lottery_ticket, sss, architecture_search): each keeps
  # its own init, data order, masks, checkpoints and results, equal to a run
  # of one seed at a time within float rounding; 1: one seed at a time.
  config.seeds_in_parallel = 1
  config.num_devices = 0  # 0: every local device
  # How the step is mapped over the devices: 'pmap' or 'shard_map' (jit of
  # shard_map over a one-axis mesh); both give the same results.
  config.parallel = 'pmap'
  # 'auto': join the cluster the environment describes (JAX_COORDINATOR_
  # ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID, a TPU pod, SLURM); one
  # process otherwise. 'off': always one process.
  config.distributed = 'auto'
  config.checkpoint_every_epochs = 1
  # Also inside an epoch, every this many steps: 0 never, -1 auto (1000 for
  # streamed data, whose epochs are long; never for array data).
  config.checkpoint_every_steps = -1
  config.keep_checkpoints = 2  # the newest N per stage, plus the best epoch
  config.tensorboard = True
  # Inside epochs of streamed data, or expected to take longer than
  # progress_after_s seconds: a log line every progress_every_steps steps
  # (loss, images/s, ETA of the epoch and the stage; 0: never).
  config.progress_every_steps = 100
  config.progress_after_s = 60.0
  # Rethinking stages after pruning (any of these, in this order).
  config.stages = ('finetune', 'scratch_e', 'scratch_b')

  config.data = ml_collections.ConfigDict(dict(
      # 'digits' (embedded), 'cifar10' / 'cifar100' (tfds, or an image
      # folder / .tar.gz in path), 'image_folder' (path), 'imagenet2012'
      # (tfds; built from the tars in manual_dir when not prepared).
      name='digits', path='', data_dir='', manual_dir='',
      # Array datasets, for small CPU budgets (0 = off): a fixed random
      # training subset, the first test examples, a bilinear resize.
      train_subset=0, test_subset=0, image_size=0,
      batch_size=64, eval_batch_size=256,
      drop_last=False))  # PyTorch default: keep the last partial batch

  config.model = ml_collections.ConfigDict(dict(
      name='digits_cnn',
      # None: the unpruned default; else a width config (a pruned
      # architecture is just another width config).
      widths=config_dict.placeholder(object),
      # Synchronised BN: batch statistics of the global batch (like one
      # device); False keeps per-device statistics (like DataParallel).
      sync_bn=True,
      # Compute dtype of activations, convs and matmuls in the train/eval
      # steps: 'float32' or 'bfloat16' (GPU/TPU mixed precision; params,
      # optimizer state and BN statistics stay float32).
      dtype='float32',
      # '' trains the dense model; else a jaxprune run or stage directory,
      # or an official PyTorch checkpoint (.pt/.pth/.tar/.npz) to load.
      pretrained=''))

  config.optim = ml_collections.ConfigDict(dict(  # rethinking.md §5.1
      epochs=160, learning_rate=0.1, momentum=0.9, weight_decay=1e-4,
      schedule='step',  # 'step' (x0.1 at 50 %/75 %), 'cosine', 'constant'
      lr_step_every=0))  # >0: x0.1 every this many epochs (ImageNet: 30)

  config.prune = ml_collections.ConfigDict(dict(
      method='l1_norm',  # a registered criterion (jaxprune.pruning)
      ratio=0.0,  # in [0, 1); its meaning is the criterion's
      # Channel criteria, paper-style per-layer targets (override ratio):
      # {layer id or unit name: ratio}, per-stage ratios, layers to skip.
      layer_ratios={}, stage_ratios=(), skip=(),
      # {unit name: channels kept}: a paper's pruned widths written per unit
      # (VGG-16-5x, ResNet-50-2x); overrides the ratios for those units.
      keep_counts={},
      sparsity_lambda=0.0,  # >0: train the large model with lambda*sign(gamma)
      examples=256,  # training examples given to data-driven criteria
      # The criterion's options (keyword-only args of its function), e.g.
      # {'samples_per_example': 20} for thinet / regression.
      options={},
      # Channel criteria: prune one unit at a time in forward order,
      # fine-tuning this many epochs (config.finetune's LR) after each
      # (ThiNet's layer by layer); 0 prunes every unit at once.
      layerwise_finetune_epochs=0,
      # A .npz of 0/1 masks fixing the kept channels of some units
      # (ResNet-50-2x's block-input selection, rethinking.md §3.3).
      keep_masks_path='',
      # '' keeps the model's head; else one of its family's heads after
      # pruning ('gap': ThiNet's VGG-GAP / VGG-Tiny; the new Linear is
      # freshly initialised, everything else inherited).
      head=''))

  config.finetune = ml_collections.ConfigDict(dict(
      epochs=40, learning_rate=0.001, schedule='constant'))

  config.scratch = ml_collections.ConfigDict(dict(
      b_rule='cifar',  # Scratch-B budget: 'cifar', 'imagenet', 'sss' (§5.3)
      b_max_epochs=0,  # >0: cap Scratch-B (small-budget runs only)
      # >0: Scratch-B runs this many epochs instead of the rule's (the
      # README's 132 for ResNet-50-2x, where §5.3's rule gives 134).
      b_epochs=0))

  config.jackpot = ml_collections.ConfigDict(dict(  # lottery_jackpots.md §2.6
      sparsity=0.9, epochs=30, batch_size=256, learning_rate=0.1,
      weight_decay=5e-4,  # on the scores; 1e-4 on ImageNet
      layerwise='global',  # per-layer counts from one global |W| threshold
      pruned_value=0.99,  # initial score of pruned weights (0.95: 2021 code)
      rate='constant',  # short-restriction rate: 'constant' (1.0), 'decay'
      tie_rule='skip_layer',  # or 'index'
      # Weight tuning with the searched mask fixed (§2.9, "30(S)+10(T)").
      tune_epochs=0, tune_learning_rate=0.01, tune_weight_decay=0.0,
      overlap=True))  # then the mask_overlap study against the jackpot

  config.lottery = ml_collections.ConfigDict(dict(  # rethinking.md §9
      # Pruning rounds: 1 is one-shot; >1 prunes the previous round's
      # trained winning ticket again (unstructured criteria; with
      # prune.method='magnitude_iterative', prune.ratio of the remaining).
      rounds=1,
      # Each trains the winning ticket and the random re-init, same mask.
      learning_rates=(0.1, 0.01)))

  config.sss = ml_collections.ConfigDict(dict(  # rethinking.md §3.5
      gamma=0.01,  # weight of sum |lambda_b| (APG soft threshold lr*gamma)
      # None: search the block config; else [[kept, first_kept], ...] per
      # stage (the published ResNet-41/32/26): scratch stages only.
      blocks=config_dict.placeholder(object)))

  config.arch_search = ml_collections.ConfigDict(dict(  # rethinking.md §10
      # 'channel': Network Slimming widths vs uniform / guided cfgs;
      # 'weight': magnitude patterns vs uniform random / guided masks.
      mode='channel',
      ratios=(0.3, 0.5, 0.7),  # pruned fractions: several sizes
      pattern_from=''))  # a finished run whose pattern.json to transfer

  config.mask_overlap = ml_collections.ConfigDict(dict(
      criteria=('magnitude', 'random', 'l1_filter', 'snip', 'grasp',
                'synflow'),
      reference=''))  # workdir of the run holding the reference mask

  config.suite = ml_collections.ConfigDict(dict(
      # {criterion: {config.prune field: value}}: one rethinking run each.
      methods={'l1_norm': {}, 'slimming': {'sparsity_lambda': 1e-4}},
      jackpot=True))
  return config


def override(config: ml_collections.ConfigDict, values: dict
             ) -> ml_collections.ConfigDict:
  """Sets ``{'optim.epochs': 2, ...}`` (dotted paths) on ``config``."""
  for dotted, value in values.items():
    *parents, field = dotted.split('.')
    node = config
    for p in parents:
      node = node[p]
    if field not in node:
      raise KeyError(f'config has no field {dotted!r}')
    node[field] = value
  return config
