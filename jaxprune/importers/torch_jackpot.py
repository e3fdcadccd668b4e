"""Strict importer for the official Lottery-Jackpots PyTorch checkpoints.

``lottery_jackpots.md`` §7 (checkpoint formats), §8.1 bug 2 (the released code
loads with ``strict=False`` and silently keeps random weights on a key
mismatch) and §9 (layout conversion). This importer is **strict**: it refuses
(``ValueError`` naming every offending key) unless every weight tensor of the
checkpoint is used and every ``params`` / ``batch_stats`` leaf of the jaxprune
model is filled, and on any shape mismatch.

Supported models are those whose :class:`~jaxprune.models.ModelSpec` has a
``torch_name_fn`` (:func:`supported_models`); the official key layouts (the
module names of the official ``models/vgg_cifar.py``,
``models/resnet_cifar.py`` and the torchvision-style ``models/resnet.py``)
live in the model files:

* ``vgg19_jackpot``: ``features.{k}`` is a ``Sequential`` of
  [conv3x3, BN, ReLU] per cfg int and one MaxPool per ``'M'``; jaxprune conv
  ``i`` (``conv{i}``/``bn{i}``) is at ``features.{k}``/``features.{k+1}``
  where ``k`` counts 3 modules per earlier conv and 1 per earlier max-pool.
  Classifier: ``classifier.{weight,bias}`` (1x1 conv, weight ``(C, 512, 1,
  1)``).
* ``resnet32_jackpot``: ``conv1``/``bn1`` (stem), ``layer{s}.{b}.conv{1,2}``,
  ``layer{s}.{b}.bn{1,2}`` (s = 1..3), ``fc`` (1x1 conv, ``(C, 128, 1, 1)``).
* ``resnet50``: torchvision names ``conv1``/``bn1``,
  ``layer{s}.{b}.conv{1,2,3}``/``bn{1,2,3}``, ``layer{s}.{b}.downsample.0``
  (conv) / ``.downsample.1`` (BN), ``fc`` with ``fc.weight`` either 2-D
  ``(C, 2048)`` (torchvision Linear) or 4-D ``(C, 2048, 1, 1)``.

Tensor mapping (per module):

* conv ``weight`` (O, I, kh, kw) -> ``params/.../kernel`` HWIO (kh, kw, I, O);
* classifier ``weight`` (C, in, 1, 1) or (C, in) -> ``classifier/kernel``
  (in, C); ``bias`` -> ``classifier/bias``;
* BN ``weight``/``bias`` -> ``params/.../scale``/``bias``; ``running_mean``/
  ``running_var`` -> ``batch_stats/.../mean``/``var``;
* ignored: ``num_batches_tracked`` of a mapped BN, and the score tensors
  ``mask`` (real-valued scores S) and ``b_mask`` (binary mask B, [HEAD]) of a
  mapped conv / classifier. They are converted like the kernel and returned by
  :func:`import_scores` (or ``import_state_dict(..., with_scores=True)``).

Container handling: a ``{'state_dict': {...}}`` wrapper (the CIFAR and [C21]
checkpoints, which also carry ``cfg``, ``best_acc``, optimizer state, ...) is
unwrapped, and a ``'module.'`` prefix (DataParallel) is stripped from every
key that has it. Values may be numpy arrays, anything ``np.asarray`` accepts,
or torch tensors (``.detach().cpu().numpy()`` is called; torch itself is never
imported here except by :func:`load_checkpoint_file` for ``.pt``/``.pth``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxprune import masks as masks_lib
from jaxprune import models as models_lib
from jaxprune import tree as tree_lib

MODULE_PREFIX = 'module.'
SCORE_SUFFIXES = ('mask', 'b_mask')
"""Score tensors of a ``PretrainConv``: ``mask`` = scores S, ``b_mask`` = B."""

_CONV, _BN, _CLASSIFIER = 'conv', 'bn', 'classifier'


@dataclasses.dataclass(frozen=True)
class _Module:
  torch_prefix: str
  jax_path: tuple[str, ...]
  kind: str  # _CONV, _BN or _CLASSIFIER


# ---- value and container normalisation ------------------------------------


def _to_numpy(value: Any) -> np.ndarray:
  if hasattr(value, 'detach') and hasattr(value, 'cpu'):
    value = value.detach().cpu()
    if hasattr(value, 'float') and str(getattr(value, 'dtype', '')) in (
        'torch.bfloat16',):
      value = value.float()
    value = value.numpy()
  return np.asarray(value)


def unwrap_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
  """The flat ``{key: tensor}`` dict of a checkpoint.

  Unwraps ``{'state_dict': ...}`` (repeatedly) and strips ``'module.'`` from
  every key that starts with it.

  Raises:
    ValueError: if ``checkpoint`` is not a mapping with ``str`` keys, or two
      keys collide once the prefix is stripped.
  """
  sd = checkpoint
  while (isinstance(sd, Mapping) and 'state_dict' in sd
         and isinstance(sd['state_dict'], Mapping)):
    sd = sd['state_dict']
  if not isinstance(sd, Mapping):
    raise ValueError(f'expected a state_dict mapping, got {type(sd).__name__}')
  out: dict[str, Any] = {}
  for key, value in sd.items():
    if not isinstance(key, str):
      raise ValueError(f'state_dict keys must be str; got {key!r}')
    name = key[len(MODULE_PREFIX):] if key.startswith(MODULE_PREFIX) else key
    if name in out:
      raise ValueError(f'key {key!r} collides with {name!r} after stripping '
                       f'the {MODULE_PREFIX!r} prefix')
    out[name] = value
  return out


# ---- layouts --------------------------------------------------------------


def supported_models() -> list[str]:
  """Registered models whose spec names their official PyTorch modules."""
  return [n for n in models_lib.model_names()
          if models_lib.get_spec(n).torch_name_fn is not None]


def _module_kind(jax_path, subtree, classifier: str) -> str:
  if jax_path[-1] == classifier:
    return _CLASSIFIER
  if 'kernel' in subtree:
    return _CONV
  if 'scale' in subtree:
    return _BN
  raise ValueError(f'cannot classify module {"/".join(jax_path)} with '
                   f'leaves {sorted(subtree)}')


def _modules_of(params: Mapping[str, Any]) -> list[tuple[tuple[str, ...],
                                                         Mapping]]:
  """(module path, leaf dict) for every innermost module of ``params``."""
  out = []

  def walk(node, path):
    if all(not isinstance(v, Mapping) for v in node.values()):
      out.append((path, node))
      return
    for k, v in node.items():
      if not isinstance(v, Mapping):
        raise ValueError(f'mixed module/leaf node at {"/".join(path + (k,))}')
      walk(v, path + (k,))

  walk(params, ())
  return out


def _layout(spec, params_shape) -> list[_Module]:
  return [_Module(spec.torch_name_fn(path, spec.widths), path,
                  _module_kind(path, sub, spec.classifier))
          for path, sub in _modules_of(params_shape)]


def _bound_spec(model_name: str, num_classes: int, widths: Any = None):
  spec = models_lib.get_spec(model_name)
  if spec.torch_name_fn is None:
    raise ValueError(f'no official PyTorch layout for {model_name!r}; '
                     f'supported: {supported_models()}')
  return spec.bind(num_classes, widths)


def model_shapes(model_name: str, num_classes: int, widths: Any = None):
  """``(params, batch_stats)`` of ``jax.ShapeDtypeStruct`` (no compute)."""
  variables = _bound_spec(model_name, num_classes, widths).abstract_variables()
  return variables['params'], variables['batch_stats']


def official_key_map(model_name: str, num_classes: int, widths: Any = None
                     ) -> dict[str, tuple[str, tuple[str, ...]]]:
  """``{official torch key: (collection, jaxprune path)}`` for every leaf.

  ``collection`` is ``'params'`` or ``'batch_stats'``. Ignored keys
  (``num_batches_tracked``, ``mask``, ``b_mask``) are not listed.
  """
  spec = _bound_spec(model_name, num_classes, widths)
  params = spec.abstract_variables()['params']
  out = {}
  for mod in _layout(spec, params):
    t, j = mod.torch_prefix, mod.jax_path
    if mod.kind == _BN:
      out[f'{t}.weight'] = ('params', j + ('scale',))
      out[f'{t}.bias'] = ('params', j + ('bias',))
      out[f'{t}.running_mean'] = ('batch_stats', j + ('mean',))
      out[f'{t}.running_var'] = ('batch_stats', j + ('var',))
    else:
      out[f'{t}.weight'] = ('params', j + ('kernel',))
      if mod.kind == _CLASSIFIER or 'bias' in tree_lib.get(params, j):
        out[f'{t}.bias'] = ('params', j + ('bias',))
  return out


# ---- conversion -----------------------------------------------------------


def _convert(kind: str, leaf_name: str, value: np.ndarray,
             expected: tuple[int, ...]):
  """Torch tensor -> jaxprune leaf, or ``None`` if the shape cannot match."""
  if leaf_name != 'kernel':
    return value if value.shape == expected else None
  if kind == _CONV:
    if value.ndim != 4:
      return None
    out = np.transpose(value, (2, 3, 1, 0))  # OIHW -> HWIO
  else:  # classifier: (C, in, 1, 1) or (C, in) -> (in, C)
    if value.ndim == 4 and value.shape[2:] == (1, 1):
      value = value.reshape(value.shape[:2])
    if value.ndim != 2:
      return None
    out = value.T
  return out if out.shape == expected else None


def _torch_shape(kind: str, expected: tuple[int, ...]) -> tuple[int, ...]:
  """The official torch shape of a jaxprune kernel (for error messages)."""
  if kind == _CONV:
    kh, kw, i, o = expected
    return (o, i, kh, kw)
  i, c = expected
  return (c, i, 1, 1)


def _import(state_dict, model_name, num_classes, widths):
  sd = unwrap_state_dict(state_dict)
  spec = _bound_spec(model_name, num_classes, widths)
  abstract = spec.abstract_variables()
  params_shape, stats_shape = abstract['params'], abstract['batch_stats']
  layout = _layout(spec, params_shape)
  key_map = official_key_map(model_name, num_classes, spec.widths)
  kinds = {m.torch_prefix: m for m in layout}
  shapes = {'params': params_shape, 'batch_stats': stats_shape}

  leaves: dict[str, list] = {'params': [], 'batch_stats': []}
  score_items: dict[str, list] = {s: [] for s in SCORE_SUFFIXES}
  missing, bad_shape = [], []
  used = set()
  for key, (coll, path) in key_map.items():
    if key not in sd:
      missing.append(key)
      continue
    used.add(key)
    leaf = tree_lib.get(shapes[coll], path)
    expected = tuple(leaf.shape)
    prefix = key.rsplit('.', 1)[0]
    kind = kinds[prefix].kind
    value = _to_numpy(sd[key])
    conv = _convert(kind, path[-1], value, expected)
    if conv is None:
      want = (_torch_shape(kind, expected) if path[-1] == 'kernel'
              else expected)
      bad_shape.append(f'{key}: checkpoint shape {tuple(value.shape)}, '
                       f'expected {want} (-> {coll}/{"/".join(path)} '
                       f'{expected})')
      continue
    leaves[coll].append((path, jnp.asarray(conv, dtype=leaf.dtype)))

  ignored, unused = set(), []
  for key in sd:
    if key in used:
      continue
    prefix, _, suffix = key.rpartition('.')
    mod = kinds.get(prefix)
    if mod is not None and mod.kind == _BN and suffix == 'num_batches_tracked':
      ignored.add(key)
    elif (mod is not None and mod.kind != _BN and suffix in SCORE_SUFFIXES
          and f'{prefix}.weight' in sd):
      ignored.add(key)
      path = mod.jax_path + ('kernel',)
      expected = tuple(tree_lib.get(params_shape, path).shape)
      value = _to_numpy(sd[key])
      conv = _convert(mod.kind, 'kernel', value, expected)
      if conv is None:
        bad_shape.append(f'{key}: checkpoint shape {tuple(value.shape)}, '
                         f'expected {_torch_shape(mod.kind, expected)}')
      else:
        score_items[suffix].append(
            (path, jnp.asarray(conv, dtype=jnp.float32)))
    else:
      unused.append(key)

  if missing or unused or bad_shape:
    raise ValueError(
        f'checkpoint does not match jaxprune {model_name!r} '
        f'(num_classes={num_classes}); refusing a partial load: '
        f'missing keys {sorted(missing)}; unused checkpoint keys '
        f'{sorted(unused)}; shape mismatches {bad_shape}')

  params = tree_lib.unflatten(leaves['params'])
  batch_stats = tree_lib.unflatten(leaves['batch_stats'])
  # Structure check: every leaf of the model was filled, nothing else.
  for coll, tree in (('params', params), ('batch_stats', batch_stats)):
    if jax.tree.structure(tree) != jax.tree.structure(shapes[coll]):
      raise ValueError(f'internal error: imported {coll} structure differs '
                       'from the model')
  score_trees = _score_trees(score_items, params, spec.classifier)
  return params, batch_stats, score_trees


def _score_trees(items, params, classifier) -> dict[str, Any]:
  want = masks_lib.prunable_paths(params, classifier)
  out = {}
  for suffix, lst in items.items():
    name = {'mask': 'scores', 'b_mask': 'masks'}[suffix]
    if not lst:
      out[name] = None
      continue
    got = {p for p, _ in lst}
    lacking = [tree_lib.path_str(p) for p in want if p not in got]
    if lacking:
      raise ValueError(f'checkpoint has {suffix!r} tensors for some but not '
                       f'all prunable layers; missing for {lacking}')
    by_path = dict(lst)
    out[name] = tree_lib.unflatten([(p, by_path[p]) for p in want])
  return out


def import_state_dict(state_dict: Mapping[str, Any], model_name: str,
                      num_classes: int, widths: Any = None, *,
                      with_scores: bool = False):
  """Converts an official Lottery-Jackpots state_dict to jaxprune trees.

  Args:
    state_dict: the checkpoint: a flat ``{key: tensor}`` dict, possibly
      wrapped in ``{'state_dict': ...}`` and/or with ``'module.'`` prefixes.
      Values: numpy arrays, array-likes or torch tensors.
    model_name: a model of :func:`supported_models` (``'vgg19_jackpot'``,
      ``'resnet32_jackpot'``, ``'resnet50'``, ...).
    num_classes: classifier outputs (10 / 100 / 1000).
    widths: jaxprune width config (default: the unpruned model).
    with_scores: also return ``{'scores': tree | None, 'masks': tree | None}``
      built from the ``mask`` (scores S) and ``b_mask`` (binary B) tensors, as
      score trees (the prunable kernels' subtree of ``params``,
      HWIO / ``(in, C)`` layout, float32); ``None`` when absent.

  Returns:
    ``(params, batch_stats)`` as nested dicts of ``jnp`` arrays with exactly
    the structure, shapes and dtypes of ``create_model(...).init(...)``, or
    ``(params, batch_stats, score_trees)`` with ``with_scores=True``.

  Raises:
    ValueError: listing every missing key (a model leaf not filled), unused
      key (a checkpoint tensor not used, other than the ignored
      ``num_batches_tracked``/``mask``/``b_mask`` of mapped modules) and shape
      mismatch (key, checkpoint shape, expected torch shape); also for an
      unsupported model or a ``mask``/``b_mask`` set covering only part of the
      prunable layers.
  """
  params, batch_stats, scores = _import(state_dict, model_name, num_classes,
                                        widths)
  if with_scores:
    return params, batch_stats, scores
  return params, batch_stats


def import_scores(state_dict, model_name, num_classes, widths=None):
  """``{'scores': ..., 'masks': ...}`` of a jackpot checkpoint (see above)."""
  return _import(state_dict, model_name, num_classes, widths)[2]


def load_checkpoint_file(path: str | os.PathLike, *,
                         weights_only: bool = True) -> dict[str, Any]:
  """Reads a checkpoint file into a dict (pass it to :func:`import_state_dict`).

  * ``.npz``: ``{name: np.ndarray}`` (e.g. written by
    ``np.savez(f, **{k: v.numpy() for k, v in sd.items()})``); no torch needed.
  * ``.pt`` / ``.pth`` / ``.tar`` / other: ``torch.load(path,
    map_location='cpu', weights_only=weights_only)``; needs torch (optional
    dependency, ``pip install jaxprune[torch]``). Tensors are converted to
    numpy arrays; the ``{'state_dict': ...}`` wrapper and other entries are
    kept (non-tensor values unchanged). Pass ``weights_only=False`` only for
    a trusted file that ``weights_only`` loading rejects (it unpickles
    arbitrary objects).

  Raises:
    FileNotFoundError: no such file.
    ImportError: a torch file but torch is not installed.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(path)
  if path.endswith('.npz'):
    with np.load(path, allow_pickle=False) as data:
      return {k: np.asarray(data[k]) for k in data.files}
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(
        f'loading {path!r} needs PyTorch, which is not installed (it is an '
        'optional dependency: pip install torch). Alternatively convert the '
        'checkpoint elsewhere with np.savez(out, **{k: v.numpy() for k, v in '
        'sd.items()}) and load the .npz.') from e
  obj = torch.load(path, map_location='cpu', weights_only=weights_only)

  def conv(x):
    if isinstance(x, torch.Tensor):
      return _to_numpy(x)
    if isinstance(x, Mapping):
      return {k: conv(v) for k, v in x.items()}
    return x

  return conv(obj)


def num_weights(tree) -> int:
  """Total number of elements of a tree (for logging)."""
  return sum(math.prod(np.shape(x)) for x in jax.tree.leaves(tree))
