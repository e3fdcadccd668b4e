"""The convolutions a model runs: static shapes and the lowering each gets.

The bench prints this next to its timings (issue 12: the conv choice visible)
and the lowering tests check both lowerings on every shape it lists.
"""

from __future__ import annotations

import collections
from typing import NamedTuple

import flax.linen as nn

from jaxprune.models import conv_lowering
from jaxprune.models import layers
from jaxprune.models.spec import ModelSpec


class ConvShape(NamedTuple):
  """One conv of a model: input map (H, W, C_in), kernel k, C_out, stride,
  symmetric padding."""
  h: int
  w: int
  cin: int
  k: int
  cout: int
  stride: int
  padding: int


def conv_shapes(spec: ModelSpec) -> list[ConvShape]:
  """Every :class:`layers.Conv` call of ``spec``'s model, one per call, in
  call order (an abstract trace at batch 1; nothing is computed)."""
  shapes = []

  def record(next_fun, args, kwargs, context):
    mod = context.module
    if isinstance(mod, layers.Conv) and context.method_name == '__call__':
      x = args[0]
      shapes.append(ConvShape(x.shape[1], x.shape[2], x.shape[3],
                              mod.kernel_size, mod.features, mod.strides,
                              mod.padding))
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record):
    spec.abstract_variables()
  return shapes


def lowering_of(shape: ConvShape, backend: str) -> str:
  """The lowering ``conv2d`` picks for ``shape`` on ``backend`` (the choice
  does not depend on the batch size)."""
  return conv_lowering.conv_lowering(
      backend, (1, shape.h, shape.w, shape.cin),
      (shape.k, shape.k, shape.cin, shape.cout), shape.stride, shape.padding)


def lowering_counts(spec: ModelSpec, backend: str) -> dict[str, int]:
  """``{lowering: number of conv calls}`` of ``spec``'s model on ``backend``."""
  counts = collections.Counter(lowering_of(s, backend)
                               for s in conv_shapes(spec))
  return {name: counts.get(name, 0) for name in conv_lowering.LOWERINGS}
