"""Parameter and FLOPs counting under the Rethinking convention.

Implements section 6 of ``rethinking.md`` (``compute_flops.py`` of the official
code): one multiply-add is 2 FLOPs; a conv costs
``(2*k_h*k_w*C_in + bias) * C_out * H_out * W_out``; a Linear ``2*W.size +
b.size``; BatchNorm2d ``2*numel(input)`` (BatchNorm1d is not counted); ReLU
``numel(input)`` per call; pooling *modules* ``k*k*numel(output)``; functional
pooling and channel selection cost nothing.

The layers in :mod:`jaxprune.models.layers` report their cost to the active
:class:`OpRecorder` while the model is traced. :func:`count` traces the model
abstractly with :func:`jax.eval_shape`, so no FLOP is computed to count FLOPs.
The unstructured variant (:func:`count` with ``masks``) charges a conv only for
the non-zero entries of its mask: ``(2*nnz(mask) + bias*C_out)*H_out*W_out``
(``count_model_param_flops`` of the official code); Linear layers stay dense.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from typing import Any, Iterator, Sequence

import jax
import numpy as np

_RECORDER: contextvars.ContextVar['OpRecorder | None'] = contextvars.ContextVar(
    'jaxprune_op_recorder', default=None)


@dataclasses.dataclass(frozen=True)
class OpRecord:
  """One counted operation.

  Attributes:
    kind: 'conv', 'linear', 'bn', 'relu' or 'pool'.
    path: module path of the layer that produced it (tuple of names).
    flops: dense FLOPs of this call under the convention.
    spatial: H_out*W_out for convs (1 otherwise).
    bias_flops: the part of ``flops`` due to the bias (convs only).
  """
  kind: str
  path: tuple[str, ...]
  flops: int
  spatial: int = 1
  bias_flops: int = 0


class OpRecorder:
  """Collects :class:`OpRecord` s while a model is traced."""

  def __init__(self):
    self.records: list[OpRecord] = []

  def add(self, record: OpRecord) -> None:
    self.records.append(record)


def record(kind: str, path: Sequence[str], flops: int, spatial: int = 1,
           bias_flops: int = 0) -> None:
  """Reports an operation to the active recorder (no-op when none is active)."""
  recorder = _RECORDER.get()
  if recorder is not None:
    recorder.add(OpRecord(kind, tuple(path), int(flops), int(spatial),
                          int(bias_flops)))


@contextlib.contextmanager
def recording() -> Iterator[OpRecorder]:
  recorder = OpRecorder()
  token = _RECORDER.set(recorder)
  try:
    yield recorder
  finally:
    _RECORDER.reset(token)


@dataclasses.dataclass(frozen=True)
class Counts:
  """Parameters and FLOPs of a model for one input (batch size factored out)."""
  params: int
  flops: int
  by_kind: dict[str, int]

  def as_dict(self) -> dict[str, Any]:
    return {'params': self.params, 'flops': self.flops,
            'flops_by_kind': dict(self.by_kind)}


def _leaf_size(x) -> int:
  return int(np.prod(np.shape(x), dtype=np.int64))


def trace_ops(model, input_shape: Sequence[int], variables=None) -> tuple[
    list[OpRecord], Any]:
  """Traces ``model`` on one example of ``input_shape`` (HWC) in eval mode.

  Returns the op records and the (abstract, if ``variables`` is None)
  variables.
  """
  x = jax.ShapeDtypeStruct((1, *input_shape), np.float32)
  with recording() as recorder:
    if variables is None:
      variables = jax.eval_shape(
          lambda x: model.init(jax.random.key(0), x, train=False), x)
      variables = {k: v for k, v in variables.items()
                   if k != 'intermediates'}  # what the layers sow
    else:
      jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, x)
  return recorder.records, variables


def _get_path(tree, path: Sequence[str]):
  node = tree
  for name in path:
    node = node[name]
  return node


def count(model, input_shape: Sequence[int], masks=None) -> Counts:
  """Counts params and FLOPs of ``model`` for a single ``input_shape`` input.

  Args:
    model: a Linen model built from :mod:`jaxprune.models`.
    input_shape: (H, W, C) of one example, e.g. (32, 32, 3) for CIFAR.
    masks: optional mask pytree with the structure of ``variables['params']``.
      When given, conv FLOPs and parameters count only non-zero mask entries
      (the convention's unstructured variant); the mask of any other leaf
      reduces the parameter count too.

  Returns:
    :class:`Counts` with the convention's params and FLOPs.
  """
  records, abstract = trace_ops(model, input_shape)
  params_tree = abstract['params']
  params = sum(_leaf_size(p) for p in jax.tree.leaves(params_tree))
  by_kind: dict[str, int] = {}
  total = 0
  if masks is not None:
    mask_leaves = jax.tree.leaves(masks)
    param_leaves = jax.tree.leaves(params_tree)
    if len(mask_leaves) != len(param_leaves) or any(
        np.shape(m) != np.shape(p) for m, p in zip(mask_leaves, param_leaves)):
      raise ValueError('masks do not match the model params: '
                       f'{len(mask_leaves)} mask leaves vs {len(param_leaves)} '
                       'param leaves, or differing shapes')
    params = sum(int(np.count_nonzero(np.asarray(m))) for m in mask_leaves)
  for rec in records:
    flops = rec.flops
    if masks is not None and rec.kind == 'conv':
      kernel_mask = np.asarray(_get_path(masks, rec.path)['kernel'])
      flops = 2 * int(np.count_nonzero(kernel_mask)) * rec.spatial + rec.bias_flops
    by_kind[rec.kind] = by_kind.get(rec.kind, 0) + flops
    total += flops
  return Counts(params=params, flops=total, by_kind=by_kind)
