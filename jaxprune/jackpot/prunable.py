"""Which leaves of a param tree the Lottery-Jackpot search masks.

Implements ``lottery_jackpots.md`` §2.1 and §2.5: every convolution **and** the
classifier is a masked layer (the first conv and downsample convs included).
In a Linen param tree (nested dicts, kernels HWIO for convs and ``(in, out)``
for Dense layers) these are

* every 4-D leaf named ``kernel`` (a conv kernel, shape ``(kh, kw, C_in,
  C_out)``), and
* the 2-D ``kernel`` of the module named ``classifier`` (shape ``(in, C)``).

Biases, BatchNorm ``scale``/``bias`` and any other Dense kernel are not masked.

Scores, binary masks and the score optimizer's state all use the *score tree*
structure: the nested-dict subtree of ``params`` that holds only the prunable
kernels, with the same nesting and key names (:func:`gather`). Paths are tuples
of ``str`` keys, e.g. ``('conv0', 'kernel')``, listed in JAX's canonical
flattening order (dict keys sorted), which is the order of
``jax.tree.leaves(gather(params, paths))``.

Nothing here imports a module system: any nested mapping with ``str`` keys
works.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Sequence

import jax

Path = tuple[str, ...]
"""A key path into a nested-dict tree, e.g. ``('conv0', 'kernel')``."""

CLASSIFIER_NAME = 'classifier'
"""Module name of the last Dense layer: its kernel is masked, never pruned."""

KERNEL_NAME = 'kernel'


def path_str(path: Path) -> str:
  """``('conv0', 'kernel')`` -> ``'conv0/kernel'`` (for messages and logs)."""
  return '/'.join(path)


def _key_name(key: Any) -> str | None:
  if isinstance(key, jax.tree_util.DictKey) and isinstance(key.key, str):
    return key.key
  return None


def flatten_paths(tree: Any) -> list[tuple[Path, Any]]:
  """Leaves of a nested-dict tree with their ``str`` key paths.

  Args:
    tree: nested mappings with ``str`` keys (a param, score or mask tree).

  Returns:
    ``[(path, leaf), ...]`` in JAX's flattening order.

  Raises:
    TypeError: if a leaf sits below a non-mapping container or a non-``str``
      key (such a leaf cannot be addressed by a path of ``str``).
  """
  out = []
  for keypath, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    names = tuple(_key_name(k) for k in keypath)
    if any(n is None for n in names):
      raise TypeError(
          'expected nested mappings with str keys; got a leaf at '
          f'{jax.tree_util.keystr(keypath)}')
    out.append((names, leaf))
  return out


def is_classifier_path(path: Path) -> bool:
  """True for the classifier kernel, i.e. ``(..., 'classifier', 'kernel')``."""
  return (len(path) >= 2 and path[-2] == CLASSIFIER_NAME
          and path[-1] == KERNEL_NAME)


def _is_prunable(path: Path, leaf: Any) -> bool:
  ndim = getattr(leaf, 'ndim', None)
  if path[-1] != KERNEL_NAME or ndim is None:
    return False
  if ndim == 4:
    return True
  return ndim == 2 and is_classifier_path(path)


def prunable_paths(params: Any) -> list[Path]:
  """Key paths of every conv kernel and of the classifier kernel.

  Args:
    params: a param tree (nested dicts with ``str`` keys), e.g. a Linen
      ``variables['params']``. Conv kernels are HWIO ``(kh, kw, C_in, C_out)``;
      the classifier kernel is ``(in, C)`` under a module named
      ``'classifier'``.

  Returns:
    The paths (tuples of ``str``) of all 4-D leaves named ``'kernel'`` and of
    the 2-D ``('...', 'classifier', 'kernel')`` leaf, in JAX's flattening order
    (sorted dict keys). Works on concrete arrays, tracers and
    ``jax.ShapeDtypeStruct`` leaves alike.

  Raises:
    TypeError: if ``params`` is not addressable by ``str`` key paths.
  """
  return [p for p, leaf in flatten_paths(params) if _is_prunable(p, leaf)]


def get_leaf(tree: Any, path: Path) -> Any:
  """``tree[path[0]][path[1]]...``; raises ``KeyError`` naming the path."""
  node = tree
  for i, key in enumerate(path):
    if not isinstance(node, Mapping) or key not in node:
      raise KeyError(f'path {path_str(path)!r} not found (no key {key!r} at '
                     f'{path_str(path[:i]) or "<root>"})')
    node = node[key]
  return node


def unflatten_paths(items: Sequence[tuple[Path, Any]]) -> dict[str, Any]:
  """Builds nested dicts from ``[(path, leaf), ...]`` (inverse of flatten)."""
  root: dict[str, Any] = {}
  for path, leaf in items:
    if not path:
      raise ValueError('empty path')
    node = root
    for key in path[:-1]:
      node = node.setdefault(key, {})
      if not isinstance(node, dict):
        raise ValueError(f'path {path_str(path)!r} passes through a leaf')
    if path[-1] in node:
      raise ValueError(f'duplicate path {path_str(path)!r}')
    node[path[-1]] = leaf
  return root


def gather(params: Any, paths: Sequence[Path]) -> dict[str, Any]:
  """The score-tree subtree of ``params`` holding only the leaves at ``paths``.

  Args:
    params: nested dicts with ``str`` keys.
    paths: key paths, usually :func:`prunable_paths` of ``params``.

  Returns:
    New nested dicts with the same nesting and key names as ``params`` but only
    the leaves at ``paths`` (the leaves themselves are not copied).

  Raises:
    KeyError: if a path is not in ``params``.
  """
  return unflatten_paths([(tuple(p), get_leaf(params, tuple(p)))
                          for p in paths])


def scatter(params: Any, subtree: Any) -> Any:
  """``params`` with the leaves at ``subtree``'s paths replaced.

  Only the dicts along the replaced paths are copied; ``params`` itself is not
  modified and all other leaves are shared.

  Args:
    params: nested dicts with ``str`` keys.
    subtree: nested dicts whose leaf paths all exist in ``params`` (a score
      tree as returned by :func:`gather`).

  Returns:
    The updated tree (plain dicts along the replaced paths).

  Raises:
    KeyError: if a path of ``subtree`` is not in ``params``.
  """
  def replace(node, rel_path, leaf, full):
    if not isinstance(node, Mapping) or rel_path[0] not in node:
      raise KeyError(f'path {path_str(full)!r} not found in params')
    new = dict(node)
    if len(rel_path) == 1:
      new[rel_path[0]] = leaf
    else:
      new[rel_path[0]] = replace(node[rel_path[0]], rel_path[1:], leaf, full)
    return new

  out = params
  for path, leaf in flatten_paths(subtree):
    out = replace(out, path, leaf, path)
  return out
