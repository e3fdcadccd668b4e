"""Channel keeps read from a file of 0/1 masks (ResNet-50-2x's fixed input
channel selection, rethinking.md §3.3).

A ``.npz`` maps either unit names to masks, or (the official release's form,
``block00`` ... ``block15``) its sorted keys, one per selection point
without a BN (a bottleneck's ``<block>/input``), in forward order. Each
mask has the unit's channel count as its length, 1 for a kept channel.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np


def _selection_units(spec, params):
  return [u for u in spec.units(params) if u.kind == 'select'
          and not u.has_bn]


def load_keep_masks(path: str, spec, params) -> dict[str, np.ndarray]:
  """``{unit: kept indices}`` from the masks file at ``path``.

  Raises:
    ValueError: a missing or unreadable file, keys that are neither unit
      names nor one per selection point, a mask of the wrong length, values
      other than 0/1, or a mask keeping nothing.
  """
  if not os.path.isfile(path):
    raise ValueError(f'keep masks file {path!r} does not exist')
  try:
    with np.load(path, allow_pickle=False) as f:
      masks = {k: np.asarray(f[k]) for k in f.files}
  except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
    raise ValueError(f'cannot read keep masks file {path!r}: '
                     f'{type(e).__name__}: {e}') from None
  units = {u.name: u for u in spec.units(params)}
  if masks and set(masks) <= set(units):
    named = {k: units[k] for k in masks}
  else:
    points = _selection_units(spec, params)
    if len(masks) != len(points):
      raise ValueError(
          f'keep masks file {path!r} holds {len(masks)} masks '
          f'({", ".join(sorted(masks)[:3])}, ...) but {spec.name} has '
          f'{len(points)} selection points ({points[0].name if points else "none"}'
          ', ...); keys must be unit names or one per selection point')
    named = dict(zip(sorted(masks), points))
  out = {}
  for key, unit in named.items():
    m = masks[key].ravel()
    c = unit.num_channels(params)
    if m.size != c:
      raise ValueError(f'keep masks file {path!r}: mask {key!r} has length '
                       f'{m.size} but {unit.name} has {c} channels')
    if not np.isin(m, (0, 1)).all():
      raise ValueError(f'keep masks file {path!r}: mask {key!r} is not 0/1')
    if not m.any():
      raise ValueError(f'keep masks file {path!r}: mask {key!r} keeps no '
                       'channel')
    out[unit.name] = np.nonzero(m)[0]
  return out
