"""The package's layers: no module imports one above it, none imports a study.

Layers, bottom to top (a module may import its own layer and the ones below):

0. ``tree``, ``registry``, ``flops``
1. ``masks``
2. ``models``, ``data``
3. ``pruning``, ``training``, ``importers``
4. ``jackpot``, ``results``
5. ``reporting``
6. ``studies``

Inside ``studies`` a study may use ``studies.context``,
``studies.prune_config`` and ``studies.registry`` but never another study's
module.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / 'jaxprune'
LAYERS = {'tree': 0, 'registry': 0, 'flops': 0, 'masks': 1, 'models': 2,
          'data': 2, 'pruning': 3, 'training': 3, 'importers': 3,
          'jackpot': 4, 'results': 4, 'reporting': 5, 'studies': 6}
STUDY_SHARED = {'context', 'registry', 'prune_config', '__init__'}


def _part(module: str) -> str:
  return module.split('.')[1] if module.startswith('jaxprune.') else ''


def _imports(path: pathlib.Path) -> list[str]:
  out = []
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      out += [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module:
      out.append(node.module)
      out += [f'{node.module}.{a.name}' for a in node.names
              if node.module == 'jaxprune']
  return [m for m in out if m.startswith('jaxprune.')]


MODULES = sorted(p for p in ROOT.rglob('*.py'))


def test_every_part_has_a_layer():
  parts = {p.relative_to(ROOT).parts[0].removesuffix('.py') for p in MODULES}
  assert parts - {'__init__'} == set(LAYERS)


@pytest.mark.parametrize('path', MODULES,
                         ids=[str(p.relative_to(ROOT)) for p in MODULES])
def test_no_import_runs_up_or_into_another_study(path):
  rel = path.relative_to(ROOT).parts
  own = rel[0].removesuffix('.py')
  if own == '__init__':
    return
  for module in _imports(path):
    other = _part(module)
    if not other or other == own:
      continue
    assert LAYERS[other] <= LAYERS[own], (
        f'{"/".join(rel)} (layer {LAYERS[own]}) imports {module} '
        f'(layer {LAYERS[other]})')
  if own == 'studies' and rel[-1] not in ('__init__.py',):
    for module in _imports(path):
      if module.startswith('jaxprune.studies.'):
        assert module.split('.')[2] in STUDY_SHARED, (
            f'{"/".join(rel)} imports another study: {module}')
