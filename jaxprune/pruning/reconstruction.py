"""Layer-output reconstruction: the shared machinery of ThiNet and regression.

A channel unit's channels are read by one *consumer* layer (the next conv, or
a Dense head; ``ChannelUnit.consumer``). Removing a channel removes its
contribution to the consumer's output, which is linear in the channels::

    y[n, i, j, o] - bias[o] = sum_c  x_hat_c[n, i, j, o],
    x_hat_c[n, i, j, o]    = sum_k  P[n, i, j, k, c] * W[k, c, o]

with ``P`` the consumer's input patch at output position (i, j) (``k`` runs
over the kernel window; for a Dense consumer over the ``S`` features each
channel owns in the channel-major, PyTorch-order flattening).

The criteria prune units one at a time in forward order
(:func:`prune_sequentially`): the consumer's input is captured on the model
as pruned so far (the mask implementation, so earlier choices are seen),
the criterion picks the unit's kept channels from a sample of output
positions and rewrites the consumer's kept input weights (ThiNet's
rescale, regression's least-squares refit), and the next unit follows.
Shapes: ``P`` ``(m, K, C)``, ``W`` ``(K, C, C_out)`` for ``m`` sampled
positions.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxprune import masks as masks_lib
from jaxprune import tree as tree_lib
from jaxprune.pruning import activations
from jaxprune.pruning import surgery
from jaxprune.pruning import targets


@dataclasses.dataclass(frozen=True)
class Layer:
  """A consumer's sampled inputs and its kernel, channel axis explicit.

  Attributes:
    patches: ``(m, K, C)`` inputs at the sampled output positions.
    kernel: ``(K, C, C_out)`` the consumer's weights per channel.
    outputs: ``(m, C_out)`` the consumer's outputs there, bias removed.
    example: ``(m,)`` the example each position belongs to.
    dense: the consumer is a Dense layer (one position per example).
  """
  patches: np.ndarray
  kernel: np.ndarray
  outputs: np.ndarray
  example: np.ndarray
  dense: bool = False


def _check_unit(spec, params, unit) -> None:
  if unit.consumer is None:
    raise ValueError(f'{spec.name} unit {unit.name!r} names no consumer layer '
                     '(the layer reading its channels); reconstruction '
                     'criteria need one')
  kernel = np.shape(tree_lib.get(params, unit.consumer)['kernel'])
  c = unit.num_channels(params)
  reads = kernel[2] if len(kernel) == 4 else kernel[0]
  if (len(kernel) == 4 and reads != c) or (len(kernel) == 2 and reads % c):
    raise ValueError(f'{unit.consumer} reads {reads} inputs but unit '
                     f'{unit.name} has {c} channels (a channel selection '
                     'sits between them); reconstruction criteria need the '
                     'consumer to read every channel')


def positions_per_example(geometry, output_shape, per_example: int,
                          scalar_entries: bool = False) -> int:
  """How many output positions one example contributes: distinct ones, at
  most ``per_example``. A Dense consumer has one position, or, where the
  criterion samples scalar entries (ThiNet), ``per_example`` of its
  outputs."""
  if geometry['kind'] == 'dense':
    return min(per_example, int(output_shape[-1])) if scalar_entries else 1
  return min(per_example, int(output_shape[0] * output_shape[1]))


def window(kernel_shape, channels: int) -> int:
  """``K``: a conv's kernel window ``k*k``, or the features each channel owns
  in a Dense consumer's input."""
  if len(kernel_shape) == 4:
    return int(kernel_shape[0] * kernel_shape[1])
  return int(kernel_shape[0]) // channels


def sample_layer(io: activations.LayerIO, kernel, bias, channels: int,
                 per_example: int, rng: np.random.Generator) -> Layer:
  """Samples ``per_example`` distinct output positions of every example and
  extracts the consumer's input patches there (host numpy)."""
  kernel = np.asarray(kernel, np.float32)
  if io.kind == 'dense':
    n, d = io.inputs.shape
    s = d // channels
    patches = io.inputs.reshape(n, channels, s).transpose(0, 2, 1)
    w = kernel.reshape(channels, s, -1).transpose(1, 0, 2)
    outputs = io.outputs
    example = np.arange(n)
  else:
    n, h_out, w_out, _ = io.outputs.shape
    k, st, pad = io.kernel_size, io.strides, io.padding
    per = positions_per_example({'kind': 'conv'}, (h_out, w_out), per_example)
    flat = np.stack([rng.choice(h_out * w_out, per, replace=False)
                     for _ in range(n)])  # (n, per)
    example = np.repeat(np.arange(n), per)
    ii, jj = flat.ravel() // w_out, flat.ravel() % w_out
    x = np.pad(io.inputs, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    di, dj = np.meshgrid(np.arange(k), np.arange(k), indexing='ij')
    rows = ii[:, None] * st + di.ravel()[None]  # (m, K)
    cols = jj[:, None] * st + dj.ravel()[None]
    patches = x[example[:, None], rows, cols]  # (m, K, C)
    w = kernel.reshape(k * k, channels, -1)
    outputs = io.outputs[example, ii, jj]
  if bias is not None:
    outputs = outputs - np.asarray(bias, np.float32)
  return Layer(patches=np.asarray(patches, np.float32), kernel=w,
               outputs=np.asarray(outputs, np.float32), example=example,
               dense=io.kind == 'dense')


def sample_consumer(spec, variables, images, layer: str, channels: int,
                    per_example: int, rng: np.random.Generator, *,
                    chunk: int = 64) -> Layer:
  """:func:`sample_layer` of ``layer`` on ``images``, captured and sampled
  ``chunk`` examples at a time (host memory holds one chunk's activations,
  not the batch's)."""
  params = variables['params']
  module = tree_lib.get(params, layer)
  parts = []
  for start in range(0, len(images), chunk):
    io = activations.layer_io(spec, variables, images[start:start + chunk],
                              layer, chunk=chunk)
    part = sample_layer(io, module['kernel'], module.get('bias'), channels,
                        per_example, rng)
    parts.append(dataclasses.replace(part, example=part.example + start))
  return dataclasses.replace(
      parts[0], patches=np.concatenate([p.patches for p in parts]),
      outputs=np.concatenate([p.outputs for p in parts]),
      example=np.concatenate([p.example for p in parts]))


def set_consumer_rows(kernel, channels: int, kept, new_rows) -> np.ndarray:
  """The consumer kernel with the kept channels' weights replaced.

  ``new_rows``: ``(K, len(kept), C_out)`` in :class:`Layer` layout."""
  kernel = np.array(kernel, np.float32)
  kept = np.asarray(kept)
  if kernel.ndim == 4:
    kh, kw, _, c_out = kernel.shape
    kernel[:, :, kept, :] = np.asarray(new_rows).reshape(kh, kw, kept.size,
                                                         c_out)
    return kernel
  s = kernel.shape[0] // channels
  view = kernel.reshape(channels, s, -1)
  view[kept] = np.asarray(new_rows).transpose(1, 0, 2)
  return view.reshape(kernel.shape)


# A selector: (layer, count, key, reference outputs) -> (kept, new rows, info)
Selector = Callable[[Layer, int, Any, np.ndarray], tuple[np.ndarray,
                                                          np.ndarray, dict]]


def prune_sequentially(variables, spec, counts: Mapping[str, int], images,
                       rng, select: Selector, *, per_example: int,
                       reference: str = 'current'):
  """Prunes the counted units one at a time in forward order.

  Args:
    variables: ``{'params', 'batch_stats'}`` of the model.
    spec: the bound spec (its units name their consumers).
    counts: ``{unit: channels to remove}`` (checked by the caller).
    images: ``(N, H, W, C)`` examples.
    rng: a JAX key; positions are sampled with a numpy generator seeded
      from it.
    select: the criterion's choice for one unit.
    per_example: output positions sampled per example.
    reference: the outputs to reconstruct: ``'current'`` (the consumer's
      output on the model pruned so far: ThiNet) or ``'original'`` (the
      unpruned model's: regression, which so also undoes the error of
      earlier layers).

  Returns:
    ``(keep, variables, info)``: the kept channels of every unit, the
    variables with rewritten consumer weights (pruned channels not zeroed),
    and per-unit details.
  """
  params = jax.device_get(variables['params'])
  stats = jax.device_get(variables.get('batch_stats', {}))
  original = {'params': params, 'batch_stats': stats}
  units = [u for u in spec.units(params) if counts.get(u.name, 0) > 0]
  for u in units:
    _check_unit(spec, params, u)
  seed = int(jax.random.randint(rng, (), 0, 2 ** 31 - 1))
  np_rng = np.random.default_rng(seed)
  keep: dict[str, np.ndarray] = {}
  info = {}
  for u in units:
    c = u.num_channels(params)
    masks = surgery.channel_masks(spec, params, keep) if keep else None
    current = {'params': masks_lib.apply_masks(params, masks) if keep
               else params, 'batch_stats': stats}
    consumer = tree_lib.get(params, u.consumer)
    state = np_rng.bit_generator.state
    layer = sample_consumer(spec, current, images, u.consumer, c,
                            per_example, np_rng)
    ref = layer.outputs
    if reference == 'original' and keep:
      np_rng.bit_generator.state = state  # the same positions
      ref = sample_consumer(spec, original, images, u.consumer, c,
                            per_example, np_rng).outputs
    kept, rows, unit_info = select(layer, counts[u.name],
                                   jax.random.fold_in(rng, len(keep)), ref)
    kept = np.sort(np.asarray(kept))
    new_kernel = set_consumer_rows(consumer['kernel'], c, kept, rows)
    params = tree_lib.scatter(params, tree_lib.unflatten(
        [(tree_lib.as_path(u.consumer) + ('kernel',), new_kernel)]))
    keep[u.name] = kept
    info[u.name] = unit_info
  return keep, {'params': params, 'batch_stats': stats}, info


def relative_error(layer: Layer, kept, rows, reference=None) -> float:
  """``||Y - Y_hat||^2 / ||Y||^2`` at the sampled positions, ``Y_hat`` the
  consumer's output from the kept channels with weights ``rows``."""
  y = layer.outputs if reference is None else reference
  kept = np.asarray(kept)
  y_hat = np.einsum('mkc,kco->mo', layer.patches[:, :, kept],
                    np.asarray(rows))
  return float(np.sum((y - y_hat) ** 2) / max(np.sum(y ** 2), 1e-30))


def check_counts(criterion: str, spec, params, target) -> dict[str, int]:
  """The per-unit counts of ``target`` for a reconstruction criterion (a
  ratio must be in (0, 1): the same compression rate in every unit)."""
  if targets.is_ratio(target):
    targets.check_ratio(target, f'{criterion} compression rate',
                        exclude_zero=True)
  counts = targets.unit_counts(spec, params, target)
  units = {u.name: u for u in spec.units(params)}
  for name, count in counts.items():
    if count:
      _check_unit(spec, params, units[name])
  return counts


def check_samples(name: str, spec, params, target, *, num_examples: int,
                  samples_per_example: int, unknowns,
                  scalar_entries: bool = False) -> None:
  """Enough sampled positions for every counted unit's least squares:
  ``unknowns(window, kept)`` per unit, a ValueError naming the unit and the
  examples needed otherwise."""
  if (isinstance(samples_per_example, bool)
      or not isinstance(samples_per_example, int) or samples_per_example < 1):
    raise ValueError(f'{name}: samples_per_example must be a positive int, '
                     f'got {samples_per_example!r}')
  counts = check_counts(name, spec, params, target)
  units = {u.name: u for u in spec.units(params)}
  for unit, count in counts.items():
    if not count:
      continue
    u = units[unit]
    c = u.num_channels(params)
    kernel = np.shape(tree_lib.get(params, u.consumer)['kernel'])
    geometry = activations.layer_geometry(spec, u.consumer)
    _, out_shape = activations.layer_shapes(spec, u.consumer)
    per = positions_per_example(geometry, out_shape, samples_per_example,
                                scalar_entries)
    need = unknowns(window(kernel, c), c - count)
    if num_examples * per < need:
      raise ValueError(
          f'{name}: the least squares of unit {unit} (kept {c - count} of {c}'
          f' channels into {u.consumer}) has {need} unknowns but '
          f'{num_examples} examples x {per} sampled positions give '
          f'{num_examples * per}; use at least {-(-need // per)} examples '
          '(config.prune.examples) or more samples_per_example')


def lstsq(a, b) -> jax.Array:
  """Least squares ``argmin_x ||a x - b||`` (jax.numpy, minimum norm)."""
  return jnp.linalg.lstsq(jnp.asarray(a), jnp.asarray(b))[0]


def output_error(spec, original, pruned, keep: Mapping[str, Any], unit: str,
                 images) -> float:
  """``||Y - Y'||^2 / ||Y||^2`` over every output of ``unit``'s consumer:
  ``Y`` on ``original``, ``Y'`` on ``pruned`` (e.g. a criterion's rewritten
  variables) with the channels outside ``keep`` masked (every unit of
  ``keep``). The figure the criteria are compared by."""
  params = jax.device_get(pruned['params'])
  masks = surgery.channel_masks(spec, params, keep)
  masked = {'params': masks_lib.apply_masks(params, masks),
            'batch_stats': pruned.get('batch_stats', {})}
  consumer = next(u.consumer for u in spec.units(params) if u.name == unit)
  y = activations.layer_io(spec, original, images, consumer).outputs
  y_hat = activations.layer_io(spec, masked, images, consumer).outputs
  return float(np.sum((y - y_hat) ** 2) / max(np.sum(y ** 2), 1e-30))


def with_unpruned_units(spec, params, keep: Mapping[str, Any]
                        ) -> dict[str, np.ndarray]:
  """``keep`` completed with every other unit of ``spec`` kept whole
  (``arange(C)``), the keep a layer-by-layer criterion returns."""
  full = {u.name: np.arange(u.num_channels(params))
          for u in spec.units(params)}
  full.update(keep)
  return full
