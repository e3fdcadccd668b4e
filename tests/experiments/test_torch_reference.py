"""The PyTorch reference models match jaxprune's, and its steps run."""

import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

torch = pytest.importorskip(
    'torch', reason='PyTorch (the jaxprune[torch] extra) is not installed')

from experiments import torch_reference  # noqa: E402
from jaxprune import models  # noqa: E402
from jaxprune import tree as tree_lib  # noqa: E402

_TORCH_LEAF = {'running_mean': 'mean', 'running_var': 'var'}


def _bn_names(module):
  return {n for n, m in module.named_modules()
          if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))}


def _jax_path(torch_name, bns):
  """jaxprune path of a torch state_dict key (same module names)."""
  *mods, leaf = torch_name.split('.')
  if leaf == 'weight':
    leaf = 'scale' if '.'.join(mods) in bns else 'kernel'
  return (*mods, _TORCH_LEAF.get(leaf, leaf))


def _to_torch_layout(a):
  a = np.array(a)  # a writable copy
  if a.ndim == 4:  # HWIO -> OIHW
    a = a.transpose(3, 2, 0, 1)
  elif a.ndim == 2:  # (in, out) -> (out, in)
    a = a.T
  return np.ascontiguousarray(a)


def _torch_tensors(module):
  """{jaxprune path: (collection, tensor)} of every param and BN statistic."""
  bns = _bn_names(module)
  out = {}
  for name, t in module.state_dict(keep_vars=True).items():
    if name.endswith('num_batches_tracked'):
      continue
    coll = 'batch_stats' if 'running_' in name else 'params'
    out[_jax_path(name, bns)] = (coll, t)
  return out


@pytest.mark.parametrize('name', torch_reference.MODELS)
def test_param_count_matches_jaxprune(name):
  spec = models.get_spec(name).bind(10)
  v = spec.abstract_variables()
  expected = sum(x.size for x in jax.tree.leaves(v['params']))
  assert torch_reference.param_count(
      torch_reference.build_model(name, 10)) == expected


@pytest.mark.parametrize('name', torch_reference.MODELS)
def test_module_names_and_shapes_match_jaxprune(name):
  """Every torch param / BN statistic is the jaxprune leaf of the same name,
  with its shape in PyTorch layout, and nothing is left over."""
  v = models.get_spec(name).bind(7).abstract_variables()
  got = _torch_tensors(torch_reference.build_model(name, 7))
  for coll in ('params', 'batch_stats'):
    want = {p: tuple(x.shape) for p, x in tree_lib.flatten(v[coll])}
    have = {p: tuple(t.shape) for p, (c, t) in got.items() if c == coll}
    assert set(have) == set(want), coll
    for p, shape in want.items():
      layout = _to_torch_layout(np.zeros(shape, np.float32)).shape
      assert have[p] == layout, (p, have[p], layout)


@pytest.mark.parametrize('name', ['resnet20', 'resnet32_jackpot'])
def test_forward_equals_jaxprune_with_its_weights(name):
  """Both option-A shortcuts (avg-pool + zeros after, stride + symmetric
  zeros), BN in eval and train mode; small 8x8 inputs keep it cheap."""
  spec = models.get_spec(name).bind(10, input_shape=(8, 8, 3))
  v = spec.init(jax.random.key(0))
  rng = np.random.default_rng(0)
  stats = jax.tree_util.tree_map_with_path(
      lambda p, s: (rng.uniform(0.5, 1.5, s.shape) if p[-1].key == 'var'
                    else rng.normal(0.0, 0.1, s.shape)).astype(np.float32),
      v['batch_stats'])
  variables = {'params': v['params'], 'batch_stats': stats}
  model = torch_reference.build_model(name, 10)
  with torch.no_grad():
    for path, (coll, t) in _torch_tensors(model).items():
      t.copy_(torch.from_numpy(_to_torch_layout(
          tree_lib.get(variables[coll], path))))
  x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
  xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
  module = spec.module()
  want_eval = module.apply(variables, x, train=False)
  want_train, _ = module.apply(variables, x, train=True,
                               mutable=['batch_stats'])
  with torch.no_grad():
    got_eval = model.eval()(xt).numpy()
    got_train = model.train()(xt).numpy()
  np.testing.assert_allclose(got_eval, want_eval, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(got_train, want_train, rtol=1e-4, atol=1e-5)


def test_forward_shape():
  model = torch_reference.build_model('resnet20', 10).eval()
  with torch.no_grad():
    out = model(torch.zeros(2, 3, 32, 32))
  assert out.shape == (2, 10) and out.dtype == torch.float32


def test_search_step_reports_positive_figures():
  row = torch_reference.time_step('resnet20', 'search', batch_size=2, steps=1,
                                  warmup=0)
  assert row['ms_per_step'] > 0 and row['images_per_s'] > 0
  assert row['compile_s'] > 0
  assert row['torch'] == torch.__version__
  assert row['threads'] == torch.get_num_threads()


@pytest.mark.parametrize('mode', ['train', 'masked', 'eval'])
def test_other_modes_run(mode):
  row = torch_reference.time_step('digits_cnn', mode, 2, 1, 0, threads=1)
  assert row['ms_per_step'] > 0 and row['threads'] == 1


def test_search_trains_only_the_scores_through_the_ste():
  torch.manual_seed(0)
  model = torch_reference.build_model('vgg16_l1', 10)
  scores = torch_reference.prepare(model, 'search')
  # A score per conv (13) and one for the classifier; fc1 is not prunable.
  assert len(scores) == 14
  assert all(p.requires_grad == any(p is s for s in scores)
             for p in model.parameters())
  lib = torch_reference._lib()
  conv = model.conv3
  mask = lib.top_k_mask(conv.scores, conv.keep)
  assert int(mask.sum()) == conv.keep == 14746  # 10 % of 147456
  assert bool(lib.top_k_mask(model.classifier.scores,
                             model.classifier.keep).all())
  x = torch.rand(2, 128, 4, 4)
  (conv(x) ** 2).sum().backward()
  w_eff = (conv.layer.weight * mask).requires_grad_(True)
  (torch.nn.functional.conv2d(x, w_eff, None, 1, 1) ** 2).sum().backward()
  torch.testing.assert_close(conv.scores.grad, w_eff.grad * conv.layer.weight)


def test_masked_mode_masks_convs_only():
  model = torch_reference.build_model('vgg16_l1', 10)
  torch_reference.prepare(model, 'masked')
  for i in range(13):
    layer = getattr(model, f'conv{i}')
    n = layer.mask.numel()
    assert int(layer.mask.sum()) == n - int(n * 0.9)
    assert bool((layer.layer.weight[layer.mask == 0] == 0).all())
  assert isinstance(model.fc1, torch.nn.Linear)
  assert isinstance(model.classifier, torch.nn.Linear)


def test_unknown_name_or_mode_raises_value_error():
  with pytest.raises(ValueError, match='valid: resnet20'):
    torch_reference.time_step('resnet57', 'train', 2, 1, 0)
  with pytest.raises(ValueError, match='valid: resnet20'):
    torch_reference.build_model('resnet57', 10)
  with pytest.raises(ValueError, match='valid: train, masked, eval, search'):
    torch_reference.time_step('resnet20', 'trian', 2, 1, 0)
  with pytest.raises(ValueError, match='valid:'):
    torch_reference.check_available(['resnet20'], ['bogus'])
  torch_reference.check_available(['resnet20', 'vgg16_l1'], ['train'])


def test_imports_without_torch_and_says_how_to_install():
  code = ('import sys; sys.modules["torch"] = None\n'
          'from experiments import torch_reference as t\n'
          'try:\n'
          '  t.build_model("resnet20", 10)\n'
          'except RuntimeError as e:\n'
          '  print(e)\n')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, check=True, cwd=str(pathlib.Path(__file__).resolve().parents[2]))
  assert out.stdout.strip() == (
      '--reference=torch needs PyTorch: pip install jaxprune[torch]')
