"""Fields shared by every experiment config; each config file overrides some.

Every field is overridable on the command line: ``--config.<field>=value``.
"""

import ml_collections


def get_base_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  # Model: a registry name and an explicit width config ('' = unpruned
  # default; else JSON, e.g. '[32, 32, "M", 64, 64]').
  config.model = 'digits_cnn'
  config.widths = ''
  # Data: 'digits' (embedded), 'cifar10', 'cifar100' (tfds), 'image_folder'
  # (needs data_path: a split/class/*.jpg folder or a .tar.gz of one),
  # 'imagenet2012' (tfds manual dir in data_dir).
  config.dataset = 'digits'
  config.data_path = ''
  config.data_dir = ''
  # >0: train on a fixed random subset of this many training examples (the
  # same subset for every run and seed), for small CPU budgets.
  config.train_subset = 0
  config.test_subset = 0  # >0: evaluate on the first this many test images
  # >0: resize array-dataset images to image_size x image_size (e.g. 224 to
  # run an ImageNet architecture on a few CIFAR images in a CPU smoke run).
  config.image_size = 0
  # Optimisation (rethinking.md §5.1 defaults).
  config.epochs = 160
  config.batch_size = 64
  config.eval_batch_size = 256
  config.learning_rate = 0.1
  config.momentum = 0.9
  config.weight_decay = 1e-4
  config.schedule = 'step'  # 'step' (x0.1 at 50%/75%), 'cosine', 'constant'
  config.lr_step_every = 0  # >0: step x0.1 every this many epochs instead
  config.drop_last = False  # PyTorch default: keep the last partial batch
  # Synchronised BN: batch statistics over the global batch (like a single
  # device); False keeps per-device statistics (like DataParallel) and
  # averages the running statistics after every step.
  config.sync_bn = True
  config.seed = 0
  config.num_devices = 0  # 0: all local devices
  config.checkpoint_every_epochs = 1
  config.tensorboard = True
  return config
