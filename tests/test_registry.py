"""The one Registry class behind models, datasets, criteria and studies."""

import pytest

from jaxprune.registry import Registry


def test_registry_errors_list_the_known_names():
  reg = Registry('criterion', 'criteria')
  reg.register('b', 2)
  reg.register('a', 1)
  assert reg.get('a') == 1 and reg.names() == ['a', 'b'] and 'a' in reg
  with pytest.raises(ValueError, match="unknown criterion 'c'; known criteria: a, b"):
    reg.get('c')
  with pytest.raises(ValueError, match="criterion 'a' is already registered"):
    reg.register('a', 3)
