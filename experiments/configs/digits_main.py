"""The README's main job: both papers on the embedded digits, a few CPU minutes.

1. Rethinking, for L1-norm and Network Slimming: train digits_cnn (slimming
   with the lambda*sign(gamma) sparsity term), prune half the channels,
   then fine-tune / Scratch-E / Scratch-B the pruned architecture;
2. Lottery Jackpots: train the dense model, then search a 90%-sparse mask on
   its frozen weights (no weight updated), against the magnitude mask, and
   compare six criteria's masks with it;
3. the comparison tables (``<workdir>/report/table.md``).
"""

from experiments.configs import base
from experiments.configs import digits_rethinking


def get_config():
  return base.override(digits_rethinking.get_config(), {
      'study': 'suite',
      'suite.methods': {'l1_norm': {}, 'slimming': {'sparsity_lambda': 1e-4}},
      'jackpot.sparsity': 0.9, 'jackpot.epochs': 10,
      'jackpot.batch_size': 64})
