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
(a ``'channel'`` criterion), and, where the criterion also rewrites weights
(ThiNet's rescale, regression's refit), the new ``variables``.

A criterion may take keyword-only *options* after ``rng`` (``fn(...,
rng=None, samples_per_example=10)``); studies pass
``config.prune.options`` to them, and unknown option names are an error at
config validation. A ``check(spec, params, target, *, num_examples,
**options)`` given at registration lets a criterion refuse a target or a
batch before any training (e.g. too few examples to sample from).

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
import inspect
from typing import Any, Callable, Mapping

import jax
import numpy as np

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
    variables: None (the weights are the input's), or ``{'params',
      'batch_stats'}`` of the input's structure and shapes with weights the
      criterion rewrote (the pruned channels need not be zero; the masks or
      the surgery remove them).
  """
  masks: Any = None
  keep: Mapping[str, Any] | None = None
  info: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  variables: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class Criterion:
  """A registered criterion: call it like its function."""
  name: str
  fn: CriterionFn
  kind: str
  check_fn: Callable[..., None] | None = None

  def option_names(self) -> list[str]:
    """The keyword-only options ``fn`` takes besides ``batch`` and ``rng``."""
    params = inspect.signature(self.fn).parameters.values()
    return [p.name for p in params if p.kind == p.KEYWORD_ONLY
            and p.name not in ('batch', 'rng')]

  def check_options(self, options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(self.option_names()))
    if unknown:
      known = ', '.join(self.option_names()) or 'none'
      raise ValueError(f'criterion {self.name!r} has no option(s) {unknown} '
                       f'(its options: {known})')

  def check(self, spec, params, target, *, num_examples: int,
            options: Mapping[str, Any] | None = None) -> None:
    """Refuses, before any training, what this criterion cannot do: unknown
    options, and whatever its registered ``check`` refuses."""
    options = dict(options or {})
    self.check_options(options)
    if self.kind == 'channel':
      spec.require_channel_units(f'channel criterion {self.name!r}')
    if self.check_fn is not None:
      self.check_fn(spec, params, target, num_examples=num_examples,
                    **options)

  def __call__(self, variables, spec, target, *, batch=None, rng=None,
               **options) -> PruneResult:
    if self.kind == 'channel':
      spec.require_channel_units(f'channel criterion {self.name!r}')
    self.check_options(options)
    result = self.fn(variables, spec, target, batch=batch, rng=rng, **options)
    return check_result(self, result, variables, spec)


_CRITERIA: Registry[Criterion] = Registry('criterion', 'criteria')


def register_criterion(name: str, fn: CriterionFn, *, kind: str,
                       check: Callable[..., None] | None = None
                       ) -> Criterion:
  """Registers ``fn`` under ``name``; ``kind`` is 'unstructured' or 'channel';
  ``check`` (optional) refuses targets or batches early (module docstring).

  Raises:
    ValueError: an unknown kind, a taken name, or ``fn`` not callable.
  """
  if kind not in KINDS:
    raise ValueError(f'criterion kind must be one of {KINDS}, got {kind!r}')
  if not callable(fn):
    raise ValueError(f'criterion {name!r}: {fn!r} is not callable')
  return _CRITERIA.register(name, Criterion(name, fn, kind, check))


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
  if result.variables is not None:
    _check_variables(where, result.variables, variables)
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


def _check_variables(where: str, new, old) -> None:
  """Rewritten variables have the structure and shapes of the input's."""
  if not isinstance(new, Mapping) or set(new) != {'params', 'batch_stats'}:
    raise ValueError(f"{where}: variables must be {{'params', "
                     "'batch_stats'}")
  for part in ('params', 'batch_stats'):
    got = jax.tree_util.tree_structure(new[part])
    want = jax.tree_util.tree_structure(old[part])
    if got != want:
      raise ValueError(f'{where}: variables[{part!r}] has another structure '
                       'than the input')
    bad = [a.shape for a, b in zip(jax.tree.leaves(new[part]),
                                   jax.tree.leaves(old[part]))
           if np.shape(a) != np.shape(b)]
    if bad:
      raise ValueError(f'{where}: variables[{part!r}] changed shapes')
