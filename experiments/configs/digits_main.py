"""The README's main job: both papers on the embedded digits, a few CPU minutes.

1. Rethinking, for L1-norm and Network Slimming: train digits_cnn (slimming
   with the lambda*sign(gamma) sparsity term), prune half the channels,
   then fine-tune / Scratch-E / Scratch-B the pruned architecture;
2. Lottery Jackpots: train the dense model, then search a 90%-sparse mask on
   its frozen weights (no weight updated), against the magnitude mask;
3. the comparison tables (``<workdir>/report/table.md``).
"""

from experiments.configs import digits_rethinking
from experiments.configs import jackpot_defaults


def get_config():
  config = digits_rethinking.get_config()
  config.pipeline = 'suite'
  config.suite_methods = 'l1_norm,slimming'
  config.jackpot = jackpot_defaults.get_jackpot_config(
      sparsity=0.9, epochs=10, batch_size=64)
  return config
