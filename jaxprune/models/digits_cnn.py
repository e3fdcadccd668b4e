"""A small VGG-style CNN for scikit-learn's 8x8 digits (the embedded default).

Width config: a VGG cfg (default ``[32, 32, 'M', 64, 64]``): conv3x3 -> BN ->
ReLU per int, a counted 2x2 max-pool per 'M', then global average pooling and
one Linear. Because it is a VGG cfg, L1-norm and slimming pruning apply to it
exactly as to the CIFAR VGGs: its channel units are ``bn{i}`` (the outputs
of ``conv{i}``), and compaction slices the next conv's inputs or, after the
last conv, the classifier's input rows.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn

from jaxprune.models import _common
from jaxprune.models import layers
from jaxprune.models import spec as spec_lib
from jaxprune.models import structure

DEFAULT_CFG = (32, 32, 'M', 64, 64)


class DigitsCNN(nn.Module):
  cfg: tuple[Any, ...]
  num_classes: int = 10
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    x = layers.vgg_features(x, self.cfg, train, axis_name=self.axis_name)
    x = x.mean(axis=(1, 2))  # functional global pool: not counted
    return layers.Dense(self.num_classes, kernel_init=layers.normal_init(0.01),
                        bias_init=layers.constant_init(0.0),
                        name='classifier')(x)


def _validate(widths):
  _common.check_vgg_cfg(widths, None, None)


def _compact(widths, params, batch_stats, keep):
  t = structure.TreeSlicer(params, batch_stats)
  cfg = structure.compact_vgg_stack(widths, keep, t, params, 'classifier')
  return (cfg, *t.out())


spec_lib.register_model(spec_lib.ModelSpec(
    name='digits_cnn',
    build=lambda nc, w, ax: DigitsCNN(tuple(w), nc, ax),
    default_widths=lambda nc: list(DEFAULT_CFG),
    validate_widths=_validate,
    input_shape=(8, 8, 1),
    description='small VGG-style CNN for the 8x8 digits',
    units_fn=structure.vgg_units,
    compact_fn=_compact))
