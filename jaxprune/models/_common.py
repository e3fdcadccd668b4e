"""Private helpers shared by the model families (validation, inits, pooling,
official PyTorch module names).

Width-config validation raises ``ValueError`` with a message that names the
offending entry (e.g. ``width config: block_widths[1][3] must be a positive
int, got 0``), so a malformed pruned architecture fails before any tracing.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Sequence

import jax
import jax.numpy as jnp

from jaxprune.models import layers




def check_width(value, where: str) -> int:
  if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
    raise ValueError(f'width config: {where} must be a positive int, '
                     f'got {value!r}')
  return value


def check_int_list(values, length: int | None, where: str) -> list[int]:
  if not isinstance(values, (list, tuple)):
    raise ValueError(f'width config: {where} must be a list, got {values!r}')
  if length is not None and len(values) != length:
    raise ValueError(f'width config: {where} must have {length} entries, '
                     f'got {len(values)}')
  return [check_width(v, f'{where}[{i}]') for i, v in enumerate(values)]


def check_vgg_cfg(cfg, num_convs: int | None, num_pools: int | None,
                  where: str = 'cfg') -> None:
  """A VGG cfg: positive ints for convs and 'M' for max-pools."""
  if not isinstance(cfg, (list, tuple)) or not cfg:
    raise ValueError(f'width config: {where} must be a non-empty list')
  convs = [v for v in cfg if v != 'M']
  pools = len(cfg) - len(convs)
  for i, v in enumerate(cfg):
    if v != 'M':
      check_width(v, f'{where}[{i}]')
  if num_convs is not None and len(convs) != num_convs:
    raise ValueError(f'width config: {where} must have {num_convs} conv '
                     f'widths, got {len(convs)}')
  if num_pools is not None and pools != num_pools:
    raise ValueError(f'width config: {where} must have {num_pools} "M" '
                     f'entries, got {pools}')


def check_keys(widths: Any, required: Iterable[str],
               optional: Iterable[str] = ()) -> None:
  """``widths`` must be a dict with exactly the required (+ optional) keys."""
  required = tuple(required)
  optional = tuple(optional)
  if not isinstance(widths, dict):
    raise ValueError(f'width config must be a dict with keys '
                     f'{list(required)}, got {type(widths).__name__}')
  missing = [k for k in required if k not in widths]
  if missing:
    raise ValueError(f'width config: missing key(s) {missing}')
  unknown = [k for k in widths if k not in required + optional]
  if unknown:
    raise ValueError(f'width config: unknown key(s) {unknown}; expected '
                     f'{list(required + optional)}')


def check_list(values: Any, length: int | None, where: str) -> list[Any]:
  """A list (or tuple) of the given length; items are not checked."""
  if not isinstance(values, (list, tuple)):
    raise ValueError(f'width config: {where} must be a list, got {values!r}')
  if length is not None and len(values) != length:
    raise ValueError(f'width config: {where} must have {length} entries, '
                     f'got {len(values)}')
  return list(values)


def check_vgg_pattern(cfg: Any, default: Sequence[Any],
                      where: str = 'cfg') -> None:
  """A VGG cfg with the same length and 'M' positions as ``default``."""
  check_list(cfg, len(default), where)
  for i, (v, d) in enumerate(zip(cfg, default)):
    if d == 'M':
      if v != 'M':
        raise ValueError(f'width config: {where}[{i}] must be "M" (a '
                         f'max-pool position of this family), got {v!r}')
    else:
      if v == 'M':
        raise ValueError(f'width config: {where}[{i}] must be a conv width, '
                         f'got "M"')
      check_width(v, f'{where}[{i}]')
  check_vgg_cfg(cfg, sum(d != 'M' for d in default),
                         sum(d == 'M' for d in default), where)


def check_index_list(indices: Any, length: int, full: int,
                     where: str) -> None:
  """Channel-selection indices: ``length`` distinct ints in [0, full)."""
  check_list(indices, length, where)
  seen = set()
  for i, v in enumerate(indices):
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < full:
      raise ValueError(f'width config: {where}[{i}] must be an int in '
                       f'[0, {full}), got {v!r}')
    if v in seen:
      raise ValueError(f'width config: {where} repeats channel {v}')
    seen.add(v)


def check_selections(selections: Any, consumed: Sequence[int],
                     full: Sequence[int], where: str = 'selections') -> None:
  """None, or one entry per selection point: None or an index list.

  Args:
    selections: the config entry.
    consumed: width consumed after each selection point (its cfg entry).
    full: width of the tensor each selection point selects from.
    where: name used in error messages.
  """
  for i, (c, f) in enumerate(zip(consumed, full)):
    if c > f:
      raise ValueError(f'width config: selection point {i} consumes {c} '
                       f'channels but its input has only {f}')
  if selections is None:
    return
  check_list(selections, len(consumed), where)
  for i, (sel, c, f) in enumerate(zip(selections, consumed, full)):
    if sel is not None:
      check_index_list(sel, c, f, f'{where}[{i}]')


def selection_indices(selection: Sequence[int] | None, consumed: int,
                      full: int) -> tuple[int, ...] | None:
  """Static indices for :func:`layers.select_channels` (None = identity).

  A missing selection keeps the first ``consumed`` channels (identity when
  nothing is pruned).
  """
  if selection is None:
    return None if consumed == full else tuple(range(consumed))
  sel = tuple(int(i) for i in selection)
  return None if sel == tuple(range(full)) else sel


def freeze(value: Any) -> Any:
  """Nested lists -> nested tuples (hashable Linen attributes)."""
  if isinstance(value, (list, tuple)):
    return tuple(freeze(v) for v in value)
  return value


def torch_default_conv_init(key, shape, dtype=jnp.float32):
  """PyTorch >= 1.0 default conv kernel init for an HWIO kernel.

  ``kaiming_uniform_(a=sqrt(5))`` == U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
  ``fan_in = k_h*k_w*C_in`` (also PyTorch 0.3.1's conv default).
  """
  kh, kw, cin, _ = shape
  bound = 1.0 / math.sqrt(kh * kw * cin)
  return jax.random.uniform(key, shape, dtype, -bound, bound)


def max_pool_padded(x, window: int, stride: int, padding: int):
  """A counted MaxPool2d module with PyTorch's implicit -inf padding."""
  if padding:
    x = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)),
                constant_values=-jnp.inf)
  return layers.max_pool(x, window, stride)


def flatten_nchw(x):
  """Flattens NHWC features in PyTorch's ``x.view(N, -1)`` (C, H, W) order.

  Keeps the first Linear's input ordering identical to the PyTorch models, so
  converted checkpoints and per-channel surgery line up.
  """
  return jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)


_STAGE_BLOCK = re.compile(r'^stage(\d+)_block(\d+)$')
_TORCHVISION_SUB = {'downsample_conv': 'downsample.0',
                    'downsample_bn': 'downsample.1'}


def torchvision_resnet_name(path, widths) -> str:
  """Official PyTorch module name of a ResNet param module.

  torchvision layout (also the Lottery-Jackpots CIFAR ResNet's): ``conv1`` /
  ``bn1`` (stem), ``layer{s}.{b}.{conv,bn}{k}``, ``layer{s}.{b}.downsample.0``
  (conv) / ``.1`` (BN), ``fc`` (classifier).
  """
  del widths
  top = path[0]
  fixed = {'stem_conv': 'conv1', 'stem_bn': 'bn1', 'classifier': 'fc'}
  if top in fixed and len(path) == 1:
    return fixed[top]
  m = _STAGE_BLOCK.match(top)
  if m is None or len(path) != 2:
    raise ValueError(f'unexpected ResNet module {"/".join(path)}')
  sub = _TORCHVISION_SUB.get(path[1], path[1])
  return f'layer{int(m.group(1))}.{int(m.group(2))}.{sub}'
