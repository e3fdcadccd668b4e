"""``ModelSpec``: what a registered model is, what can be pruned, how to compact it.

Every model is built from a name and an explicit *width config*: plain JSON
data (lists of ints, ``'M'`` for a VGG max-pool, dicts for families with
several parts), so a pruned architecture is just another width config; it is
stored in checkpoints and results.json, and ``spec.bind(num_classes,
widths).module()`` rebuilds it.

A spec also says what its model's structure is, so that nothing outside the
model's own file needs to know it:

* ``units_fn(params) -> [ChannelUnit]``: its channel-prunable units (the
  BatchNorms whose channels a channel criterion keeps or removes); ``None``
  for a model that cannot be channel-pruned (unstructured criteria still
  work on it);
* ``compact_fn(widths, params, batch_stats, keep)``: how a channel-keep dict
  ``{unit name: kept indices}`` becomes a smaller width config with sliced
  params and statistics (see :mod:`jaxprune.pruning.surgery`);
* ``classifier``: the module name of the last Dense layer (kept dense by the
  Lottery-Jackpot search);
* ``torch_name_fn(path, widths)``: the module name of a param module in the
  official PyTorch code, for checkpoint importers (``None``: not importable).

A spec from the registry is *unbound*; ``spec.bind(num_classes, widths)``
returns a copy that knows its class count and (validated) widths, and builds
its Linen module with ``spec.module()``. Criteria receive bound specs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxprune import tree as tree_lib
from jaxprune.registry import Registry

UNIT_KINDS = ('conv', 'select')


@dataclasses.dataclass(frozen=True)
class ChannelUnit:
  """One channel-prunable group of channels (usually a BatchNorm's).

  Attributes:
    name: the key of channel-keep dicts: the module path of the BN
      (``'bn3'``, ``'stage1_block4/bn1'``), or of the selection point of a
      unit without a BN (``'stage2_block0/input'``).
    kind: ``'conv'``: the BN normalises the outputs of ``producer``; removing
      a channel removes that layer's output filter, the BN entries and the
      next layer's input rows. ``'select'``: a channel selection before the
      consumer (Network Slimming's after a BN, or a bottleneck's input
      selection); removing a channel removes it only from what the consumer
      reads.
    producer: path of the conv (or Dense) whose outputs the BN normalises
      (``'conv'`` units).
    layer_id: Rethinking's 1-based conv number of ``producer`` where the
      paper numbers layers (VGG: conv index + 1; CIFAR ResNet and ResNet-34:
      block b's first conv is 2 + 2b), else None.
    stage: 0-based stage of a ResNet block, else None.
    consumer: path of the layer that reads the unit's channels (the next
      conv, or the Dense head), where the family says; data-driven criteria
      (ThiNet, regression) reconstruct its output.
    channels_of: for a unit without a BN, the layer whose outputs are the
      unit's channels (a BN-free conv itself; for a block input, the layer
      that produced it); None where the unit is a BN.
  """
  name: str
  kind: str
  producer: str | None = None
  layer_id: int | None = None
  stage: int | None = None
  consumer: str | None = None
  channels_of: str | None = None

  @property
  def has_bn(self) -> bool:
    return self.channels_of is None

  def num_channels(self, params) -> int:
    """The unit's channel count in ``params``."""
    if self.channels_of is not None:
      return int(tree_lib.get(params, self.channels_of)['kernel'].shape[-1])
    return int(tree_lib.get(params, self.name)['scale'].shape[0])


# XLA compiler options of the one-off init program, per backend.
INIT_COMPILER_OPTIONS = {'cpu': {'xla_backend_optimization_level': 0}}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """A registered model (see the module docstring).

  Attributes:
    name: registry key, e.g. ``'resnet56'``.
    build: ``(num_classes, widths, axis_name) -> nn.Module``.
    default_widths: ``num_classes -> `` the unpruned width config.
    validate_widths: raises ValueError naming the bad entry of a width config.
    input_shape: (H, W, C) of one example: the usual dataset's, or (bound)
      the data the model runs on.
    description: one line for listings and errors.
    units_fn: ``params -> [ChannelUnit]`` in forward order, or None.
    compact_fn: ``(widths, params, batch_stats, keep) -> (widths, params,
      batch_stats)``, or None.
    classifier: module name of the classifier Dense layer.
    torch_name_fn: ``(module path, widths) -> official PyTorch module name``,
      or None.
    heads: ``{name: widths -> widths}``: other classifier heads of the
      family (ImageNet VGG: ``'gap'``, ThiNet's VGG-GAP); see
      :meth:`with_head`.
    num_classes: set by :meth:`bind`.
    widths: set by :meth:`bind` (validated).
  """
  name: str
  build: Callable[[int, Any, str | None], nn.Module]
  default_widths: Callable[[int], Any]
  validate_widths: Callable[[Any], None]
  input_shape: tuple[int, int, int]
  description: str = ''
  units_fn: Callable[[Any], list[ChannelUnit]] | None = None
  compact_fn: Callable[..., tuple[Any, Any, Any]] | None = None
  classifier: str = 'classifier'
  torch_name_fn: Callable[[tree_lib.Path, Any], str] | None = None
  heads: Mapping[str, Callable[[Any], Any]] = dataclasses.field(
      default_factory=dict)
  num_classes: int | None = None
  widths: Any = None

  @property
  def bound(self) -> bool:
    return self.num_classes is not None

  @property
  def channel_prunable(self) -> bool:
    return self.units_fn is not None and self.compact_fn is not None

  def bind(self, num_classes: int, widths: Any = None,
           input_shape: tuple[int, int, int] | None = None) -> ModelSpec:
    """This spec for ``num_classes`` classes and ``widths`` (default:
    unpruned), on examples of ``input_shape`` (default: the usual dataset's).

    Raises:
      ValueError: a non-positive class count or a malformed width config.
    """
    if (isinstance(num_classes, bool) or not isinstance(num_classes, int)
        or num_classes <= 0):
      raise ValueError(f'num_classes must be a positive int, got '
                       f'{num_classes!r}')
    if widths is None:
      widths = self.default_widths(num_classes)
    self.validate_widths(widths)
    return dataclasses.replace(
        self, num_classes=num_classes, widths=widths,
        input_shape=tuple(input_shape or self.input_shape))

  def with_widths(self, widths: Any) -> ModelSpec:
    """A bound spec's pruned architecture: the same classes and input."""
    self._require_bound()
    return self.bind(self.num_classes, widths, self.input_shape)

  def with_head(self, head: str) -> ModelSpec:
    """This bound spec with the family's ``head`` (e.g. ``'gap'``): the same
    conv widths, another classifier; ValueError naming the known heads."""
    self._require_bound()
    if head not in self.heads:
      known = ', '.join(sorted(self.heads)) or 'none'
      raise ValueError(f'{self.name} has no head {head!r} (its heads: '
                       f'{known})')
    return self.with_widths(self.heads[head](self.widths))

  def module(self, axis_name: str | None = None) -> nn.Module:
    """The Linen module of a bound spec (BN synchronised over ``axis_name``)."""
    self._require_bound()
    return self.build(self.num_classes, self.widths, axis_name)

  def init(self, rng) -> dict[str, Any]:
    """Fresh ``{'params', 'batch_stats'}`` of a bound spec (a jitted init
    on one zero example of ``input_shape``).

    On CPU the init program is compiled without LLVM's optimisations: it
    runs once, and XLA:CPU spent most of a model's start-up optimising its
    per-parameter random number code (ResNet-56: 13 s against 4 s; the
    values agree within 1e-7).
    """
    x = jnp.zeros((1, *self.input_shape), jnp.float32)
    init = jax.jit(lambda k: self.module().init(k, x, train=False))
    options = INIT_COMPILER_OPTIONS.get(jax.default_backend(), {})
    variables = init.lower(rng).compile(compiler_options=options)(rng)
    return {'params': variables['params'],
            'batch_stats': variables.get('batch_stats', {})}

  def abstract_variables(self) -> dict[str, Any]:
    """``init``'s result as ``jax.ShapeDtypeStruct`` leaves (no compute)."""
    x = jax.ShapeDtypeStruct((1, *self.input_shape), jnp.float32)
    variables = jax.eval_shape(
        lambda x: self.module().init(jax.random.key(0), x, train=False), x)
    return {'params': variables['params'],
            'batch_stats': variables.get('batch_stats', {})}

  def units(self, params) -> list[ChannelUnit]:
    """The channel-prunable units of ``params``.

    Raises:
      ValueError: if the model declares no channel units.
    """
    self.require_channel_units()
    return self.units_fn(params)

  def require_channel_units(self, what: str = 'channel pruning') -> None:
    if not self.channel_prunable:
      raise ValueError(
          f'model {self.name!r} declares no channel-prunable units, so '
          f'{what} cannot run on it (unstructured criteria can); '
          f'channel-prunable models: {", ".join(channel_prunable_models())}')

  def _require_bound(self):
    if not self.bound:
      raise ValueError(f'model spec {self.name!r} is not bound: use '
                       'spec.bind(num_classes, widths) first')


_REGISTRY: Registry[ModelSpec] = Registry('model')


def register_model(spec: ModelSpec) -> ModelSpec:
  """Adds ``spec`` under ``spec.name``; ``--config.model.name`` finds it."""
  return _REGISTRY.register(spec.name, spec)


def model_names() -> list[str]:
  return _REGISTRY.names()


def channel_prunable_models() -> list[str]:
  return [n for n in _REGISTRY.names() if _REGISTRY.get(n).channel_prunable]


def get_spec(name: str) -> ModelSpec:
  """The unbound spec of ``name``; ValueError listing the known models."""
  return _REGISTRY.get(name)


def default_widths(name: str, num_classes: int = 10) -> Any:
  return get_spec(name).default_widths(num_classes)


def create_model(name: str, num_classes: int, widths: Any = None,
                 axis_name: str | None = None) -> nn.Module:
  """``get_spec(name).bind(num_classes, widths).module(axis_name)``."""
  return get_spec(name).bind(num_classes, widths).module(axis_name)
