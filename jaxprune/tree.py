"""Key paths into nested-dict pytrees: the one path convention of jaxprune.

Param, mask, score and BatchNorm-statistics trees are nested dicts with
``str`` keys (Linen's ``variables['params']`` and ``['batch_stats']``). A
*path* addresses one node of such a tree as a tuple of keys, e.g.
``('stage1_block0', 'conv1', 'kernel')``; its string form joins the keys with
``'/'`` (``'stage1_block0/conv1/kernel'``), which is what messages, logs,
results.json and channel-keep dicts use. Every function here accepts either
form.

Leaves are listed in JAX's canonical flattening order (dict keys sorted), the
order of ``jax.tree.leaves``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Iterable, Sequence

import jax
import numpy as np

Path = tuple[str, ...]
"""A key path, e.g. ``('conv0', 'kernel')``."""


def as_path(path: Path | str | Sequence[str]) -> Path:
  """``'a/b'`` or ``('a', 'b')`` -> ``('a', 'b')``."""
  if isinstance(path, str):
    return tuple(p for p in path.split('/') if p)
  return tuple(path)


def path_str(path) -> str:
  """A path (tuple, string or jax key path) -> ``'a/b/c'``."""
  if isinstance(path, str):
    return path
  parts = []
  for k in path:
    parts.append(str(getattr(k, 'key', getattr(k, 'name', k))))
  return '/'.join(parts)


def _key_name(key: Any) -> str | None:
  if isinstance(key, jax.tree_util.DictKey) and isinstance(key.key, str):
    return key.key
  return None


def _to_path(keypath) -> Path:
  names = tuple(_key_name(k) for k in keypath)
  if any(n is None for n in names):
    raise TypeError('expected nested mappings with str keys; got a leaf at '
                    f'{jax.tree_util.keystr(keypath)}')
  return names


def flatten(tree: Any) -> list[tuple[Path, Any]]:
  """``[(path, leaf), ...]`` of a nested-dict tree, in flattening order.

  Raises:
    TypeError: if a leaf sits below a non-mapping container or a non-``str``
      key (it cannot be addressed by a path).
  """
  return [(_to_path(kp), leaf) for kp, leaf in
          jax.tree_util.tree_flatten_with_path(tree)[0]]


def unflatten(items: Iterable[tuple[Path | str, Any]]) -> dict[str, Any]:
  """Nested dicts from ``[(path, leaf), ...]`` (the inverse of flatten)."""
  root: dict[str, Any] = {}
  for path, leaf in items:
    path = as_path(path)
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


def get(tree: Any, path: Path | str) -> Any:
  """``tree[p0][p1]...``; raises ``KeyError`` naming the missing key."""
  path = as_path(path)
  node = tree
  for i, key in enumerate(path):
    if not isinstance(node, Mapping) or key not in node:
      raise KeyError(f'path {path_str(path)!r} not found (no key {key!r} at '
                     f'{path_str(path[:i]) or "<root>"})')
    node = node[key]
  return node


def has(tree: Any, path: Path | str) -> bool:
  try:
    get(tree, path)
  except KeyError:
    return False
  return True


def gather(tree: Any, paths: Iterable[Path | str]) -> dict[str, Any]:
  """The subtree of ``tree`` holding only the leaves at ``paths`` (same
  nesting and key names; leaves are not copied)."""
  return unflatten([(as_path(p), get(tree, p)) for p in paths])


def scatter(tree: Any, subtree: Any) -> Any:
  """``tree`` with the leaves at ``subtree``'s paths replaced.

  Only the dicts along the replaced paths are copied; ``tree`` itself is not
  modified and every other leaf is shared.

  Raises:
    KeyError: if a path of ``subtree`` is not in ``tree``.
  """
  def replace(node, rel, leaf, full):
    if not isinstance(node, Mapping) or rel[0] not in node:
      raise KeyError(f'path {path_str(full)!r} not found')
    new = dict(node)
    new[rel[0]] = leaf if len(rel) == 1 else replace(node[rel[0]], rel[1:],
                                                     leaf, full)
    return new

  out = tree
  for path, leaf in flatten(subtree):
    out = replace(out, path, leaf, path)
  return out


def map_with_path(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
  """``jax.tree.map`` whose ``fn`` gets the leaf's :data:`Path` first."""
  return jax.tree_util.tree_map_with_path(
      lambda kp, *leaves: fn(_to_path(kp), *leaves), tree, *rest)


def shapes(tree: Any) -> dict[str, tuple[int, ...]]:
  """``{'a/b': shape}`` of every leaf (works on arrays and ShapeDtypeStructs)."""
  return {path_str(p): tuple(np.shape(leaf)) for p, leaf in flatten(tree)}


def shape_mismatches(got: Any, want: Any) -> list[str]:
  """Lines naming every leaf that is missing, extra or of another shape.

  Empty when ``got`` has exactly ``want``'s paths and shapes.
  """
  g, w = shapes(got), shapes(want)
  out = [f'{p}: missing' for p in w if p not in g]
  out += [f'{p}: unexpected' for p in g if p not in w]
  out += [f'{p}: shape {g[p]}, expected {w[p]}' for p in w
          if p in g and g[p] != w[p]]
  return out


def merge_matching(fresh: Any, source: Any) -> Any:
  """``fresh`` with every leaf that ``source`` has at the same path and
  shape taken from ``source`` (e.g. a new classifier head on inherited
  convs: the head stays fresh, the rest is copied)."""
  have = {p: leaf for p, leaf in flatten(source)}

  def pick(path, leaf):
    old = have.get(path)
    return old if old is not None and np.shape(old) == np.shape(leaf) else leaf
  return map_with_path(pick, fresh)
