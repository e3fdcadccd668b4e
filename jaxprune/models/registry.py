"""Model registry: every model is built from a name and an explicit width config.

A width config is plain JSON data (lists of ints, 'M' for a max-pool in VGG
cfgs, dicts for families with several parts), so a pruned architecture is just
another config: it is stored in checkpoints and results.json, and
``create_model(name, num_classes, widths)`` rebuilds it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import flax.linen as nn

from jaxprune.naming import Registry


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """How to build one registered model.

  Attributes:
    name: registry key, e.g. 'resnet56'.
    build: (num_classes, widths, axis_name) -> Linen module.
    default_widths: num_classes -> the unpruned width config.
    validate_widths: raises ValueError for a malformed width config.
    input_shape: (H, W, C) of one example for the usual dataset.
    description: one line for listings and errors.
  """
  name: str
  build: Callable[[int, Any, str | None], nn.Module]
  default_widths: Callable[[int], Any]
  validate_widths: Callable[[Any], None]
  input_shape: tuple[int, int, int]
  description: str = ''


_REGISTRY: Registry[ModelSpec] = Registry('model')


def register_model(spec: ModelSpec) -> ModelSpec:
  return _REGISTRY.register(spec.name, spec)


def model_names() -> list[str]:
  return _REGISTRY.names()


def get_spec(name: str) -> ModelSpec:
  return _REGISTRY.get(name)


def default_widths(name: str, num_classes: int = 10) -> Any:
  return get_spec(name).default_widths(num_classes)


def create_model(name: str, num_classes: int, widths: Any = None,
                 axis_name: str | None = None) -> nn.Module:
  """Builds model ``name`` for ``num_classes`` from ``widths`` (default: unpruned).

  Raises:
    ValueError: unknown name, non-positive class count or a malformed width
      config (wrong length, non-positive or non-integer width).
  """
  spec = get_spec(name)
  if not isinstance(num_classes, int) or num_classes <= 0:
    raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
  if widths is None:
    widths = spec.default_widths(num_classes)
  spec.validate_widths(widths)
  return spec.build(num_classes, widths, axis_name)


# ---- shared validation helpers -------------------------------------------


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
