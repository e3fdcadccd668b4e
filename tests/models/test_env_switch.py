"""The trace-time switches: every one registered by importing the models,
each checked in one line."""

import pytest

from jaxprune.models import env_switch


def test_importing_the_models_registers_every_switch():
  assert env_switch.switches() == {
      'JAXPRUNE_CONV_LOWERING': ('library', 'matmul', 'taps'),
      'JAXPRUNE_POOL_LOWERING': ('reduce_window', 'reshape'),
      'JAXPRUNE_FUSION_CUT': ('on', 'off')}


@pytest.mark.parametrize('name', ['JAXPRUNE_CONV_LOWERING',
                                  'JAXPRUNE_POOL_LOWERING',
                                  'JAXPRUNE_FUSION_CUT'])
def test_check_all_names_the_bad_switch(monkeypatch, name):
  for other in env_switch.switches():
    monkeypatch.delenv(other, raising=False)
  env_switch.check_all()
  monkeypatch.setenv(name, ' Bogus ')
  with pytest.raises(ValueError, match=f"{name}='bogus'; use one of "):
    env_switch.check_all()


def test_forced_choice_ignores_case_and_blanks(monkeypatch):
  monkeypatch.setenv('JAXPRUNE_FUSION_CUT', ' OFF ')
  assert env_switch.forced_choice('JAXPRUNE_FUSION_CUT', ('on', 'off')) == 'off'
  monkeypatch.setenv('JAXPRUNE_FUSION_CUT', '')
  assert env_switch.forced_choice('JAXPRUNE_FUSION_CUT', ('on', 'off')) is None
