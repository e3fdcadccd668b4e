"""The criterion contract and its one registry.

A *criterion* is a pure function::

    fn(variables, spec, target, *, batch=None, rng=None) -> PruneResult

* ``variables``: ``{'params': ..., 'batch_stats': ...}`` of the trained model
  (host or device arrays; nested dicts with ``str`` keys);
* ``spec``: the model's bound :class:`~jaxprune.models.ModelSpec` (its channel
  units, its classifier's name, ``spec.module()`` to apply the model);
* ``target``: how much to prune, either a ratio in [0, 1) or per-layer prune
  counts ``{layer: count}`` (layers are channel-unit names for ``'channel'``
  criteria, kernel paths such as ``'conv1/kernel'`` for ``'unstructured'``
  ones; see :mod:`jaxprune.pruning.targets`);
* ``batch``: a dict of host arrays (``'image'`` float32 ``(N, H, W, C)``,
  normalised as the model sees them, and ``'label'`` int32 ``(N,)``) for
  data-driven criteria; ``rng``: a JAX PRNG key for random ones.

It returns a :class:`PruneResult`: full-structure 0/1 ``masks`` (an
``'unstructured'`` criterion) or the kept channel indices per unit ``keep``
(a ``'channel'`` criterion).

Register one with :func:`register_criterion`; every study, the overlap study
and the launcher (``--config.prune.method=<name>``) find it by name::

    from jaxprune import pruning

    def my_criterion(variables, spec, target, *, batch=None, rng=None):
      scores = {p: abs(w) for p, w in pruning.conv_kernels(variables, target)}
      return pruning.PruneResult(
          masks=pruning.masks_from_scores(variables['params'], scores, target))

    pruning.register_criterion('mine', my_criterion, kind='unstructured')
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

from jaxprune import masks as masks_lib
from jaxprune.pruning import surgery
from jaxprune.registry import Registry

KINDS = ('unstructured', 'channel')

CriterionFn = Callable[..., 'PruneResult']


@dataclasses.dataclass(frozen=True)
class PruneResult:
  """What a criterion returns.

  Attributes:
    masks: ``'unstructured'``: a float32 0/1 pytree with the structure of
      ``variables['params']`` (ones on leaves that are not pruned).
    keep: ``'channel'``: ``{unit name: sorted kept channel indices}``; units
      left out keep every channel.
    info: anything else worth recording in results.json (thresholds, ...),
      JSON-serialisable.
  """
  masks: Any = None
  keep: Mapping[str, Any] | None = None
  info: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Criterion:
  """A registered criterion: call it like its function."""
  name: str
  fn: CriterionFn
  kind: str

  def __call__(self, variables, spec, target, *, batch=None, rng=None
               ) -> PruneResult:
    if self.kind == 'channel':
      spec.require_channel_units(f'channel criterion {self.name!r}')
    result = self.fn(variables, spec, target, batch=batch, rng=rng)
    return check_result(self, result, variables, spec)


_CRITERIA: Registry[Criterion] = Registry('criterion', 'criteria')


def register_criterion(name: str, fn: CriterionFn, *, kind: str) -> Criterion:
  """Registers ``fn`` under ``name``; ``kind`` is 'unstructured' or 'channel'.

  Raises:
    ValueError: an unknown kind, a taken name, or ``fn`` not callable.
  """
  if kind not in KINDS:
    raise ValueError(f'criterion kind must be one of {KINDS}, got {kind!r}')
  if not callable(fn):
    raise ValueError(f'criterion {name!r}: {fn!r} is not callable')
  return _CRITERIA.register(name, Criterion(name, fn, kind))


def get_criterion(name: str) -> Criterion:
  """The criterion registered as ``name`` (ValueError listing the known)."""
  return _CRITERIA.get(name)


def criterion_names(kind: str | None = None) -> list[str]:
  """Registered names, optionally only those of one kind."""
  return [n for n in _CRITERIA.names()
          if kind is None or _CRITERIA.get(n).kind == kind]


def check_result(criterion: Criterion, result, variables, spec
                 ) -> PruneResult:
  """A criterion's result has the form its kind promises, or ValueError."""
  where = f'criterion {criterion.name!r} ({criterion.kind})'
  if not isinstance(result, PruneResult):
    raise ValueError(f'{where} returned {type(result).__name__}, not a '
                     'PruneResult')
  params = variables['params']
  if criterion.kind == 'unstructured':
    if result.masks is None or result.keep is not None:
      raise ValueError(f'{where} must return masks (and no keep)')
    masks_lib.check_masks(result.masks, params, f'{where}: masks')
    masks_lib.check_binary(result.masks, f'{where}: masks')
    return result
  if result.keep is None or result.masks is not None:
    raise ValueError(f'{where} must return keep (and no masks)')
  keep = surgery.check_keep(spec, params, result.keep, f'{where}: keep')
  return dataclasses.replace(result, keep=keep)
