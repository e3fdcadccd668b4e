"""Tests of jaxprune.importers.torch_jackpot (lottery_jackpots.md §7, §8.1, §9).

The official key names are generated here independently of the importer,
from the reference's description of the official models (VGG ``features``
Sequential of [conv, BN, ReLU] per int and MaxPool per 'M'; ResNet-32
``conv1``/``bn1``/``layer{s}.{b}.{conv,bn}{1,2}``/``fc``), with torch-layout
shapes computed from the channel widths, not from the jaxprune model.
"""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from jaxprune import models
from jaxprune.importers import torch_jackpot as tj

VGG19_CFG = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M',
             512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M']


def _bn(sd, prefix, c, rng, expect, jax_prefix):
  sd[f'{prefix}.weight'] = rng.uniform(0.5, 1.5, c).astype(np.float32)
  sd[f'{prefix}.bias'] = rng.normal(0, 0.1, c).astype(np.float32)
  sd[f'{prefix}.running_mean'] = rng.normal(0, 0.1, c).astype(np.float32)
  sd[f'{prefix}.running_var'] = rng.uniform(0.5, 1.5, c).astype(np.float32)
  sd[f'{prefix}.num_batches_tracked'] = np.array(7, np.int64)
  expect[('params', jax_prefix + ('scale',))] = sd[f'{prefix}.weight']
  expect[('params', jax_prefix + ('bias',))] = sd[f'{prefix}.bias']
  expect[('batch_stats', jax_prefix + ('mean',))] = sd[f'{prefix}.running_mean']
  expect[('batch_stats', jax_prefix + ('var',))] = sd[f'{prefix}.running_var']


def _conv(sd, prefix, cin, cout, rng, expect, jax_prefix, scores=True):
  w = rng.normal(0, np.sqrt(2.0 / (9 * cin)), (cout, cin, 3, 3))
  sd[f'{prefix}.weight'] = w.astype(np.float32)
  expect[('params', jax_prefix + ('kernel',))] = np.transpose(
      sd[f'{prefix}.weight'], (2, 3, 1, 0))
  if scores:
    sd[f'{prefix}.mask'] = rng.uniform(0, 1, w.shape).astype(np.float32)
    sd[f'{prefix}.b_mask'] = (rng.uniform(0, 1, w.shape) > 0.5).astype(
        np.float32)


def _fc(sd, prefix, cin, c, rng, expect, four_d=True):
  w = rng.normal(0, 0.1, (c, cin)).astype(np.float32)
  sd[f'{prefix}.weight'] = w.reshape(c, cin, 1, 1) if four_d else w
  sd[f'{prefix}.bias'] = rng.normal(0, 0.1, c).astype(np.float32)
  sd[f'{prefix}.mask'] = rng.uniform(0, 1, (c, cin, 1, 1)).astype(np.float32)
  sd[f'{prefix}.b_mask'] = np.ones((c, cin, 1, 1), np.float32)
  expect[('params', ('classifier', 'kernel'))] = w.T
  expect[('params', ('classifier', 'bias'))] = sd[f'{prefix}.bias']


def official_vgg19(num_classes=10, seed=0):
  """(state_dict, {(collection, jax path): expected array})."""
  rng = np.random.default_rng(seed)
  sd, expect = {}, {}
  idx, cin, i = 0, 3, 0
  for v in VGG19_CFG:
    if v == 'M':
      idx += 1
      continue
    _conv(sd, f'features.{idx}', cin, v, rng, expect, (f'conv{i}',))
    _bn(sd, f'features.{idx + 1}', v, rng, expect, (f'bn{i}',))
    idx += 3
    cin, i = v, i + 1
  _fc(sd, 'classifier', 512, num_classes, rng, expect)
  return sd, expect


def official_resnet32(num_classes=10, seed=0, fc_4d=True):
  rng = np.random.default_rng(seed)
  sd, expect = {}, {}
  _conv(sd, 'conv1', 3, 32, rng, expect, ('stem_conv',))
  _bn(sd, 'bn1', 32, rng, expect, ('stem_bn',))
  cin = 32
  for s, width in enumerate((32, 64, 128), start=1):
    for b in range(5):
      name = f'stage{s}_block{b}'
      _conv(sd, f'layer{s}.{b}.conv1', cin, width, rng, expect,
            (name, 'conv1'))
      _bn(sd, f'layer{s}.{b}.bn1', width, rng, expect, (name, 'bn1'))
      _conv(sd, f'layer{s}.{b}.conv2', width, width, rng, expect,
            (name, 'conv2'))
      _bn(sd, f'layer{s}.{b}.bn2', width, rng, expect, (name, 'bn2'))
      cin = width
  _fc(sd, 'fc', 128, num_classes, rng, expect, four_d=fc_4d)
  return sd, expect


def _leaf(tree, path):
  for k in path:
    tree = tree[k]
  return tree


def _check_all(params, batch_stats, expect):
  trees = {'params': params, 'batch_stats': batch_stats}
  n_leaves = len(jax.tree.leaves(params)) + len(jax.tree.leaves(batch_stats))
  assert n_leaves == len(expect)
  for (coll, path), want in expect.items():
    got = np.asarray(_leaf(trees[coll], path))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want, err_msg=f'{coll}/{path}')


@pytest.fixture(scope='module')
def resnet_sd():
  return official_resnet32(10)


def test_vgg19_all_leaves_match_transposed_source():
  sd, expect = official_vgg19(100, seed=1)
  params, stats = tj.import_state_dict({'state_dict': sd}, 'vgg19_jackpot',
                                       100)
  _check_all(params, stats, expect)
  shapes = tj.model_shapes('vgg19_jackpot', 100)
  assert jax.tree.structure(params) == jax.tree.structure(shapes[0])
  assert jax.tree.structure(stats) == jax.tree.structure(shapes[1])


def test_resnet32_all_leaves_and_scores(resnet_sd):
  sd, expect = resnet_sd
  params, stats, extra = tj.import_state_dict(sd, 'resnet32_jackpot', 10,
                                              with_scores=True)
  _check_all(params, stats, expect)
  np.testing.assert_array_equal(
      extra['scores']['stage2_block3']['conv1']['kernel'],
      np.transpose(sd['layer2.3.conv1.mask'], (2, 3, 1, 0)))
  np.testing.assert_array_equal(extra['masks']['classifier']['kernel'],
                                sd['fc.b_mask'][:, :, 0, 0].T)
  from jaxprune.jackpot import check_score_tree
  check_score_tree(extra['scores'], params)
  check_score_tree(extra['masks'], params)


def test_resnet32_forward_matches_independent_numpy(resnet_sd):
  """Stem conv+BN and the 1x1-conv classifier, in torch (NCHW/OIHW) terms."""
  sd, _ = resnet_sd
  params, stats = tj.import_state_dict(sd, 'resnet32_jackpot', 10)
  model = models.create_model('resnet32_jackpot', 10)
  x = np.random.default_rng(3).normal(size=(1, 32, 32, 3)).astype(np.float32)
  logits, state = model.apply({'params': params, 'batch_stats': stats},
                              jnp.asarray(x), train=False,
                              capture_intermediates=True)
  inter = state['intermediates']
  # Independent torch-semantics conv: cross-correlation, padding 1, OIHW.
  x_chw = np.transpose(x[0], (2, 0, 1)).astype(np.float64)
  w = sd['conv1.weight'].astype(np.float64)
  xp = np.pad(x_chw, ((0, 0), (1, 1), (1, 1)))
  ref = np.zeros((32, 32, 32))
  for dy in range(3):
    for dx in range(3):
      ref += np.einsum('oi,ihw->ohw', w[:, :, dy, dx],
                       xp[:, dy:dy + 32, dx:dx + 32])
  got = np.transpose(np.asarray(inter['stem_conv']['__call__'][0][0]),
                     (2, 0, 1))
  np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
  # Eval-mode BN with the torch running statistics.
  bn = ((ref - sd['bn1.running_mean'][:, None, None])
        / np.sqrt(sd['bn1.running_var'][:, None, None] + 1e-5)
        * sd['bn1.weight'][:, None, None] + sd['bn1.bias'][:, None, None])
  got_bn = np.transpose(np.asarray(inter['stem_bn']['__call__'][0][0]),
                        (2, 0, 1))
  np.testing.assert_allclose(got_bn, bn, rtol=1e-4, atol=1e-4)
  # Classifier as the official 1x1 conv on the pooled last block output.
  feat = np.asarray(inter['stage3_block4']['__call__'][0][0]).mean((0, 1))
  ref_logits = np.einsum('oi,i->o', sd['fc.weight'][:, :, 0, 0],
                         feat) + sd['fc.bias']
  np.testing.assert_allclose(np.asarray(logits[0]), ref_logits, rtol=1e-4,
                             atol=1e-5)


def test_wrappers_and_prefixes_accepted(resnet_sd):
  sd, expect = resnet_sd
  prefixed = {f'module.{k}': v for k, v in sd.items()}
  for ckpt in (prefixed, {'state_dict': prefixed, 'cfg': [0.5] * 33,
                          'best_acc': 93.0}, {'state_dict': sd}):
    params, stats = tj.import_state_dict(ckpt, 'resnet32_jackpot', 10)
    _check_all(params, stats, expect)


def test_2d_fc_and_torch_like_values(resnet_sd):
  sd, expect = official_resnet32(10, seed=0, fc_4d=False)

  class FakeTensor:
    def __init__(self, a):
      self.a = a

    def detach(self):
      return self

    def cpu(self):
      return self

    def numpy(self):
      return self.a

  params, stats = tj.import_state_dict(
      {k: FakeTensor(v) for k, v in sd.items()}, 'resnet32_jackpot', 10)
  _check_all(params, stats, expect)


def test_refuses_missing_key(resnet_sd):
  sd = dict(resnet_sd[0])
  del sd['layer2.3.bn1.running_var']
  del sd['fc.bias']
  with pytest.raises(ValueError, match='missing keys') as e:
    tj.import_state_dict(sd, 'resnet32_jackpot', 10)
  assert 'layer2.3.bn1.running_var' in str(e.value)
  assert 'fc.bias' in str(e.value)


def test_refuses_extra_unused_key(resnet_sd):
  for extra in ('layer4.0.conv1.weight', 'linear.weight', 'foo.mask',
                'layer1.0.bn1.mask'):
    sd = dict(resnet_sd[0])
    sd[extra] = np.zeros((3,), np.float32)
    with pytest.raises(ValueError, match='unused checkpoint keys') as e:
      tj.import_state_dict(sd, 'resnet32_jackpot', 10)
    assert extra in str(e.value)


def test_refuses_wrong_shape(resnet_sd):
  sd = dict(resnet_sd[0])
  sd['layer1.1.conv2.weight'] = np.zeros((32, 32, 1, 1), np.float32)
  with pytest.raises(ValueError, match='shape mismatches') as e:
    tj.import_state_dict(sd, 'resnet32_jackpot', 10)
  msg = str(e.value)
  assert 'layer1.1.conv2.weight' in msg and '(32, 32, 1, 1)' in msg
  assert '(32, 32, 3, 3)' in msg
  # Wrong number of classes: the classifier shapes mismatch.
  with pytest.raises(ValueError, match='fc.weight'):
    tj.import_state_dict(resnet_sd[0], 'resnet32_jackpot', 100)
  # A transposed (non-OIHW) kernel is refused, not silently accepted.
  sd = dict(resnet_sd[0])
  sd['layer3.0.conv1.weight'] = np.transpose(sd['layer3.0.conv1.weight'],
                                             (1, 0, 2, 3))
  with pytest.raises(ValueError, match='layer3.0.conv1.weight'):
    tj.import_state_dict(sd, 'resnet32_jackpot', 10)


def test_refuses_unsupported_model(resnet_sd):
  with pytest.raises(ValueError, match='no official'):
    tj.import_state_dict(resnet_sd[0], 'resnet56', 10)


def test_load_checkpoint_file_npz_and_torch(tmp_path, resnet_sd):
  sd, expect = resnet_sd
  path = tmp_path / 'ckpt.npz'
  np.savez(path, **{f'module.{k}': v for k, v in sd.items()})
  params, stats = tj.import_state_dict(tj.load_checkpoint_file(path),
                                       'resnet32_jackpot', 10)
  _check_all(params, stats, expect)
  with pytest.raises(FileNotFoundError):
    tj.load_checkpoint_file(tmp_path / 'nope.pt')
  pt = tmp_path / 'x.pt'
  pt.write_bytes(b'not a real checkpoint')
  try:
    import torch  # noqa: F401
  except ImportError:
    with pytest.raises(ImportError, match='PyTorch'):
      tj.load_checkpoint_file(pt)


@pytest.mark.parametrize('fc_4d', [False, True])
def test_resnet50_torchvision_layout(fc_4d):
  """torchvision names; each tensor a distinct constant (cheap, checks the
  mapping and the shapes; the transposition is covered above)."""
  sd, expect = {}, {}
  counter = iter(range(1, 10_000))

  def put(key, shape, coll, path):
    v = float(next(counter))
    sd[key] = np.full(shape, v, np.float32)
    expect[(coll, path)] = v

  def conv(key, o, i, k, path):
    put(key + '.weight', (o, i, k, k), 'params', path + ('kernel',))

  def bn(key, c, path):
    put(key + '.weight', (c,), 'params', path + ('scale',))
    put(key + '.bias', (c,), 'params', path + ('bias',))
    put(key + '.running_mean', (c,), 'batch_stats', path + ('mean',))
    put(key + '.running_var', (c,), 'batch_stats', path + ('var',))
    sd[key + '.num_batches_tracked'] = np.array(0)

  conv('conv1', 64, 3, 7, ('stem_conv',))
  bn('bn1', 64, ('stem_bn',))
  inplanes = 64
  for s, (n, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), 1):
    for b in range(n):
      j = (f'stage{s}_block{b}',)
      t = f'layer{s}.{b}'
      conv(f'{t}.conv1', planes, inplanes, 1, j + ('conv1',))
      bn(f'{t}.bn1', planes, j + ('bn1',))
      conv(f'{t}.conv2', planes, planes, 3, j + ('conv2',))
      bn(f'{t}.bn2', planes, j + ('bn2',))
      conv(f'{t}.conv3', 4 * planes, planes, 1, j + ('conv3',))
      bn(f'{t}.bn3', 4 * planes, j + ('bn3',))
      if b == 0:
        conv(f'{t}.downsample.0', 4 * planes, inplanes, 1,
             j + ('downsample_conv',))
        bn(f'{t}.downsample.1', 4 * planes, j + ('downsample_bn',))
      inplanes = 4 * planes
  put('fc.weight', (10, 2048, 1, 1) if fc_4d else (10, 2048), 'params',
      ('classifier', 'kernel'))
  put('fc.bias', (10,), 'params', ('classifier', 'bias'))
  params, stats = tj.import_state_dict({'state_dict': sd}, 'resnet50', 10)
  trees = {'params': params, 'batch_stats': stats}
  assert (len(jax.tree.leaves(params)) + len(jax.tree.leaves(stats))
          == len(expect))
  for (coll, path), v in expect.items():
    leaf = np.asarray(_leaf(trees[coll], path))
    assert leaf.min() == v and leaf.max() == v, (coll, path)
  assert _leaf(params, ('classifier', 'kernel')).shape == (2048, 10)
