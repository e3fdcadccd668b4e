"""Score-search fields (lottery_jackpots.md §2.6, CIFAR column)."""

import ml_collections


def get_jackpot_config(**overrides) -> ml_collections.ConfigDict:
  """The score-search fields with their defaults, then ``overrides``."""
  jp = ml_collections.ConfigDict()
  jp.sparsity = 0.9
  jp.epochs = 30
  jp.batch_size = 256
  jp.learning_rate = 0.1
  jp.weight_decay = 5e-4  # on the scores; 1e-4 on ImageNet
  jp.layerwise = 'global'  # per-layer counts from one global |W| threshold
  jp.pruned_value = 0.99  # initial score of pruned weights (0.95: 2021 code)
  jp.rate = 'constant'  # short-restriction rate: 'constant' (1.0) or 'decay'
  jp.tie_rule = 'skip_layer'  # or 'index'
  jp.pretrained_torch = ''  # official PyTorch checkpoint to import instead
  # Optional weight tuning with the searched mask fixed (§2.9, ImageNet
  # "30(S)+10(T)"): 0 epochs = off.
  jp.tune_epochs = 0
  jp.tune_learning_rate = 0.01
  jp.tune_weight_decay = 0.0
  # Mask-overlap study after the search: magnitude, random, L1-filter, SNIP,
  # GraSP and SynFlow masks at the same per-layer counts vs the jackpot mask.
  jp.overlap_study = True
  jp.overlap_examples = 256  # examples scoring SNIP/GraSP
  jp.update(overrides)
  return jp
