"""What a layer of a registered model reads and writes on a batch.

Data-driven channel criteria (ThiNet, regression; rethinking.md §3.2-3.3)
reconstruct a layer's output from its inputs. :func:`layer_io` runs the
model once (eval mode, jitted) with the ``'intermediates'`` collection
mutable: every :class:`jaxprune.models.layers.Conv` and ``Dense`` sows its
input and output there, and only the requested layer's pair leaves the
compiled function (XLA drops the rest), so there is no second copy of the
model and the shapes are the model's own. The layer's static geometry
(kernel size, stride, padding) is read from the module itself through
``flax.linen.intercept_methods`` while tracing.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxprune import tree as tree_lib
from jaxprune.models import layers


@dataclasses.dataclass(frozen=True)
class LayerIO:
  """One layer's input and output on a batch (host float32 arrays).

  Attributes:
    name: the layer's module path (``'stage1_block0/conv2'``).
    kind: ``'conv'`` or ``'dense'``.
    inputs: conv ``(N, H, W, C_in)``; dense ``(N, D)``.
    outputs: conv ``(N, H_out, W_out, C_out)``; dense ``(N, C_out)``.
    kernel_size, strides, padding: a conv's geometry (symmetric padding).
  """
  name: str
  kind: str
  inputs: np.ndarray
  outputs: np.ndarray
  kernel_size: int = 1
  strides: int = 1
  padding: int = 0


def _layer_names(module, x) -> dict[str, dict[str, Any]]:
  """``{path: geometry}`` of every Conv / Dense the module calls on ``x``."""
  found = {}

  def record(next_fun, args, kwargs, context):
    m = context.module
    if context.method_name == '__call__' and isinstance(
        m, (layers.Conv, layers.Dense)):
      path = '/'.join(str(p) for p in m.scope.path)
      found[path] = (dict(kind='conv', kernel_size=m.kernel_size,
                          strides=m.strides, padding=m.padding)
                     if isinstance(m, layers.Conv) else dict(kind='dense'))
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record):
    jax.eval_shape(lambda: module.init(jax.random.key(0), x, train=False))
  return found


_COMPILED: dict[tuple[str, str], Any] = {}


def _compiled(spec, layer: str):
  """The jitted capture of ``layer`` (one per model and layer)."""
  key = (_build_key(spec), layer)
  if key not in _COMPILED:
    module = spec.module()

    def run(variables, images):
      _, state = module.apply(variables, images, train=False,
                              mutable=['intermediates'])
      sown = tree_lib.get(state['intermediates'], layer)
      return sown['inputs'][0], sown['outputs'][0]
    if len(_COMPILED) > 64:
      _COMPILED.clear()
    _COMPILED[key] = jax.jit(run)
  return _COMPILED[key]


def _build_key(spec) -> str:
  return json.dumps([spec.name, spec.num_classes, spec.widths], default=str,
                    sort_keys=True)


_GEOMETRY: dict[str, dict[str, Any]] = {}


def layer_geometry(spec, layer: str) -> dict[str, Any]:
  """The static geometry of ``layer`` in a bound spec, or ValueError naming
  the known layers."""
  key = _build_key(spec)
  if key not in _GEOMETRY:
    x = jnp.zeros((1, *spec.input_shape), jnp.float32)
    if len(_GEOMETRY) > 64:
      _GEOMETRY.clear()
    _GEOMETRY[key] = _layer_names(spec.module(), x)
  found = _GEOMETRY[key]
  if layer not in found:
    raise ValueError(f'{spec.name} has no conv or dense layer {layer!r} '
                     f'(layers: {", ".join(list(found)[:6])}, ...)')
  return found[layer]


def layer_io(spec, variables, images, layer: str, *, chunk: int = 64
             ) -> LayerIO:
  """The input and output of ``layer`` on ``images`` (eval mode).

  Args:
    spec: a bound :class:`~jaxprune.models.ModelSpec`.
    variables: ``{'params', 'batch_stats'}`` (apply any masks first).
    images: ``(N, H, W, C)`` float32, normalised as the model sees them.
    layer: a conv or dense module path of the model.
    chunk: examples per forward pass (bounds device memory).
  """
  geometry = layer_geometry(spec, layer)
  variables = {'params': variables['params'],
               'batch_stats': variables.get('batch_stats', {})}
  run = _compiled(spec, layer)
  ins, outs = [], []
  images = np.asarray(images, np.float32)
  for start in range(0, images.shape[0], chunk):
    i, o = run(variables, jnp.asarray(images[start:start + chunk]))
    ins.append(np.asarray(i))
    outs.append(np.asarray(o))
  return LayerIO(name=layer, inputs=np.concatenate(ins),
                 outputs=np.concatenate(outs), **geometry)


_SHAPES: dict[str, dict[str, Any]] = {}


def layer_shapes(spec, layer: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
  """``(input shape, output shape)`` of ``layer`` for one example (abstract
  evaluation of every layer at once, cached per model: nothing is
  computed)."""
  layer_geometry(spec, layer)  # a clear error for an unknown layer
  key = _build_key(spec)
  if key not in _SHAPES:
    module = spec.module()
    x = jax.ShapeDtypeStruct((1, *spec.input_shape), jnp.float32)

    def run(images):
      variables = module.init(jax.random.key(0), images, train=False)
      variables = {k: v for k, v in variables.items()
                   if k != 'intermediates'}
      _, state = module.apply(variables, images, train=False,
                              mutable=['intermediates'])
      return state['intermediates']
    sown = jax.eval_shape(run, x)
    if len(_SHAPES) > 64:
      _SHAPES.clear()
    _SHAPES[key] = dict(_sown_pairs(sown))
  i, o = _SHAPES[key][layer]
  return tuple(i.shape[1:]), tuple(o.shape[1:])


def _sown_pairs(node, prefix=''):
  """``(layer path, (input, output))`` of every layer that sowed both."""
  if isinstance(node, dict) and 'inputs' in node and 'outputs' in node:
    yield prefix.rstrip('/'), (node['inputs'][0], node['outputs'][0])
  if isinstance(node, dict):
    for k, v in node.items():
      if k not in ('inputs', 'outputs'):
        yield from _sown_pairs(v, f'{prefix}{k}/')
