"""Mixed precision: a model's activations and convs in a compute dtype.

``with_compute_dtype(model, 'bfloat16')`` returns an object whose ``apply``
casts the images to bfloat16 and the model's output back to float32, so the
one train/eval step (:mod:`jaxprune.training.step`) computes its loss,
gradients and metrics in float32 as before. Nothing else changes: params,
gradients and optimizer state stay float32 (every layer casts its float32
kernel to the activations' dtype, :mod:`jaxprune.models.layers`), BatchNorm
computes its batch statistics in float32 and keeps float32 running
statistics, and the param tree is the model's own (checkpoints of a
bfloat16 run restore into a float32 model and back). Pruning criteria are
computed on the float32 model whatever the training dtype.

Meant for GPUs and TPUs, where bfloat16 convs and matmuls run at several
times the float32 rate; it runs (slowly) on CPU too, which is where it is
tested.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

COMPUTE_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def check_compute_dtype(name: str) -> None:
  """One-line error for a dtype name mixed precision does not support."""
  if name not in COMPUTE_DTYPES:
    raise ValueError(f'unknown compute dtype {name!r}; use one of '
                     f'{", ".join(COMPUTE_DTYPES)}')


@dataclasses.dataclass(frozen=True)
class ComputeDtypeModel:
  """``model`` applied with its input in ``dtype`` and its output in f32.

  Attributes:
    model: the Linen module (float32 params).
    dtype: the compute dtype of activations, convs and matmuls.
  """
  model: Any
  dtype: Any

  def apply(self, variables, x, *args, **kwargs):
    """``model.apply`` on ``x.astype(dtype)``; the output (the first item
    when ``mutable`` is given) cast to float32."""
    out = self.model.apply(variables, x.astype(self.dtype), *args, **kwargs)
    if kwargs.get('mutable'):
      y, new_vars = out
      return jax.tree.map(lambda a: a.astype(jnp.float32), y), new_vars
    return jax.tree.map(lambda a: a.astype(jnp.float32), out)


def with_compute_dtype(model, dtype: str = 'float32'):
  """``model`` itself for float32, else a :class:`ComputeDtypeModel`."""
  check_compute_dtype(dtype)
  if dtype == 'float32':
    return model
  return ComputeDtypeModel(model, COMPUTE_DTYPES[dtype])
