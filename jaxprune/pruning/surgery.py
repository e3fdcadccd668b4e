"""Channel keep -> a compact model, or the mask implementation of the same keep.

A *channel keep* ``{unit name: kept channel indices}`` (the ``keep`` of a
channel criterion's :class:`~jaxprune.pruning.PruneResult`; indices in the
unit's own channel space, units left out keep everything) becomes either

* a physically smaller model, :func:`compact`: a new width config with
  sliced params and BatchNorm statistics, computed by the model's own
  ``ModelSpec.compact_fn`` (each family file says what to slice), or
* masks on the full model, :func:`channel_masks` (the *mask
  implementation*): for every dropped channel the BN's ``scale`` and
  ``bias`` are 0 and, for ``'conv'`` units, the producing layer's output
  filter (``kernel[..., c]``, ``bias[c]``) too; a unit without a BN (a
  bottleneck's input selection) zeroes its consumer's input channels.

With gamma and beta zeroed a dropped channel outputs exactly 0 after BN (and
ReLU) whatever its running statistics, so in eval mode the masked full model
computes the logits of the compact one (tested for every channel-prunable
model). The official lottery-ticket code instead keeps gamma/beta of zeroed
filters, which then output the constant ReLU(beta).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from jaxprune import tree as tree_lib


def check_keep(spec, params, keep: Mapping[str, Any],
               what: str = 'channel keep') -> dict[str, np.ndarray]:
  """Sorted unique int64 indices per unit; ValueError for unknown units,
  empty keeps or out-of-range indices."""
  units = {u.name: u for u in spec.units(params)}
  out = {}
  for name, idx in keep.items():
    if name not in units:
      raise ValueError(f'{what} names {name!r}, not a channel unit of '
                       f'{spec.name} (units: {", ".join(list(units)[:4])}, '
                       '...)')
    c = units[name].num_channels(params)
    idx = np.unique(np.asarray(idx, np.int64))
    if idx.size == 0:
      raise ValueError(f'{what}: {name} keeps no channel; every unit needs '
                       'one')
    if idx[0] < 0 or idx[-1] >= c:
      raise ValueError(f'{what}: kept indices of {name} must be in [0, {c})')
    out[name] = idx
  return out


def compact(spec, params, batch_stats, keep: Mapping[str, Any]):
  """``(new_widths, new_params, new_batch_stats)`` (numpy leaves).

  Args:
    spec: the bound spec of ``params`` (its widths are the starting point).
    params, batch_stats: the model's variables.
    keep: ``{unit name: kept indices}``; missing units keep all channels.

  ``spec.with_widths(new_widths)`` is the compact model; applied to the new
  variables it computes, in eval mode, exactly what the full model computes
  with :func:`channel_masks` applied.

  Raises:
    ValueError: a model without channel units, unknown units, empty or
      out-of-range keep lists.
  """
  spec.require_channel_units('channel surgery')
  keep = check_keep(spec, params, keep)
  return spec.compact_fn(spec.widths, params, batch_stats, keep)


def channel_masks(spec, params, keep: Mapping[str, Any]):
  """The mask implementation of ``keep`` (module docstring): a float32 mask
  pytree with the structure of ``params``."""
  keep = check_keep(spec, params, keep)
  units = {u.name: u for u in spec.units(params)}
  dropped: dict[str, np.ndarray] = {}  # module -> bool vector of dropped
  inputs_dropped: dict[str, np.ndarray] = {}  # consumer conv -> dropped
  for name, idx in keep.items():
    u = units[name]
    gone = np.ones(u.num_channels(params), bool)
    gone[idx] = False
    if not u.has_bn and u.kind == 'select':  # no BN: the consumer
      kernel = tree_lib.get(params, u.consumer)['kernel']  # stops reading
      if np.shape(kernel)[2] != gone.size:
        raise ValueError(f'the mask implementation of {name} needs its '
                         'consumer to read every channel (no selection yet)')
      inputs_dropped[u.consumer] = gone
      continue
    dropped[name] = gone
    if u.producer is not None:
      dropped[u.producer] = gone

  def one(path, leaf):
    module, leaf_name = tree_lib.path_str(path[:-1]), path[-1]
    m = np.ones(np.shape(leaf), np.float32)
    gone = dropped.get(module)
    if (gone is not None and leaf_name in ('kernel', 'bias', 'scale')
        and m.shape[-1] == gone.size):
      m[..., gone] = 0.0
    gone = inputs_dropped.get(module)
    if gone is not None and leaf_name == 'kernel':
      m[:, :, gone, :] = 0.0
    return m
  return tree_lib.map_with_path(one, params)


def keep_from_masks(spec, params, masks) -> dict[str, np.ndarray]:
  """The channel keep of a mask implementation (units whose BN scale mask
  has zeros)."""
  keep = {}
  for u in spec.units(params):
    if not u.has_bn and u.kind == 'select':  # a consumer's inputs
      k = np.asarray(tree_lib.get(masks, u.consumer)['kernel'])
      m = k.reshape(-1, k.shape[2], k.shape[3]).any(axis=(0, 2))
    elif not u.has_bn:  # a BN-free conv's output filters
      k = np.asarray(tree_lib.get(masks, u.producer)['kernel'])
      m = k.reshape(-1, k.shape[-1]).any(axis=0)
    else:
      m = np.asarray(tree_lib.get(masks, u.name)['scale'])
    if not np.all(m):
      keep[u.name] = np.nonzero(m)[0]
  return keep


def keep_counts(keep: Mapping[str, Any]) -> dict[str, int]:
  """``{unit: number of kept channels}``."""
  return {k: int(len(v)) for k, v in keep.items()}

