"""``Registry``: name -> value maps whose errors list the known names.

Models, datasets, criteria and studies are each registered by name (the
big_vision pattern), so a config names them and a researcher adds one with a
single ``register`` call.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar('T')


class Registry(Generic[T]):
  """A name -> value map with clear errors.

  Args:
    kind: what is registered, for messages ('model', 'criterion', ...).
    plural: its plural (default ``kind + 's'``).
  """

  def __init__(self, kind: str, plural: str | None = None):
    self.kind = kind
    self.plural = plural or kind + 's'
    self._items: dict[str, T] = {}

  def register(self, name: str, value: T) -> T:
    if name in self._items:
      raise ValueError(f'{self.kind} {name!r} is already registered')
    self._items[name] = value
    return value

  def get(self, name: str) -> T:
    try:
      return self._items[name]
    except KeyError:
      raise ValueError(f'unknown {self.kind} {name!r}; known {self.plural}: '
                       f'{", ".join(self.names())}') from None

  def names(self) -> list[str]:
    return sorted(self._items)

  def __contains__(self, name: str) -> bool:
    return name in self._items
