"""A cut in XLA:CPU's loop fusion at residual-block outputs (issue 12).

A residual stream is a chain of element-wise ops: block ``k`` outputs
``relu(bn(conv(...)) + x_{k-1})`` (or ``x_{k-1} + branch`` pre-activation).
XLA duplicates cheap element-wise producers into every fusion that reads
them, and the backward pass reads each block output through a transposed
copy (the layout of its weight-gradient convs). On CPU each such copy so
recomputed the whole stage's BN/add/ReLU chain up to that block: quadratic
in depth, 46 % of the device time of ResNet-56's train step (2 devices,
batch 64).
``lax.optimization_barrier`` does not help: XLA:CPU removes barriers before
it fuses.

:func:`cut` materialises a block output by multiplying it by the identity
matrix, a dot XLA:CPU runs as a library call and never fuses. The product
is exact (every output is ``x * 1`` plus zeros), so results are bit for bit
those without the cut (tested); it costs ``2 C^2`` FLOPs per pixel, ~1/9 of
one 3x3 conv of the block, and is not counted by :mod:`jaxprune.flops`.
GPU and TPU fuse differently and get ``x`` unchanged. :func:`materialise`
is the same product on every backend, for a lowering that needs it
whatever the choice here (:mod:`jaxprune.models.conv_lowering`'s per-tap
conv).

``JAXPRUNE_FUSION_CUT=off`` (or ``on``) forces the choice everywhere, e.g.
to time the difference.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxprune.models import env_switch

ENV_VAR = 'JAXPRUNE_FUSION_CUT'
CHOICES = ('on', 'off')
env_switch.register(ENV_VAR, CHOICES)


def forced() -> str | None:
  """``'on'``/``'off'`` from ``JAXPRUNE_FUSION_CUT``, or None when unset.

  Raises:
    ValueError: the variable names neither (checked by the launcher and the
      bench before anything is built).
  """
  return env_switch.forced_choice(ENV_VAR, CHOICES)


def enabled(backend: str | None = None) -> bool:
  """Whether :func:`cut` materialises on ``backend`` (default: JAX's)."""
  choice = forced()
  if choice:
    return choice == 'on'
  return (backend or jax.default_backend()) == 'cpu'


def materialise(x: jax.Array) -> jax.Array:
  """``x`` (..., C) times the identity: the same values, on every backend,
  as a dot XLA:CPU does not fuse into its consumers."""
  return jnp.dot(x, jnp.eye(x.shape[-1], dtype=x.dtype))


def cut(x: jax.Array) -> jax.Array:
  """``x`` (..., C), unchanged in value, materialised on CPU (module doc)."""
  return materialise(x) if enabled() else x
