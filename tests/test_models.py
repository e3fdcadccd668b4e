"""Model families: reference counts, forwards, inits and width validation.

Counts use ``flops.count`` (an abstract ``jax.eval_shape`` trace), so the
full-size models are never run. Real forwards run the cheap CIFAR/digits
models on a batch of 2 (params filled on the host from the abstract shapes,
one jit per model); the deep CIFAR nets run their forwards abstractly at full
depth and for real at reduced depth through the same classes.
"""

import copy
import functools
import json
import math
import pathlib

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import flops
from jaxprune.models import create_model, default_widths, get_spec
from jaxprune.models import layers
from jaxprune.models import model_names
from jaxprune.models import densenet
from jaxprune.models import preresnet
from jaxprune.models import resnet_cifar
from jaxprune.models import resnet_imagenet

M = 'M'

FAMILY_NAMES = {
    'vgg16_l1', 'vgg19_slim', 'vgg19_wl', 'vgg19_jackpot', 'resnet20',
    'resnet32', 'resnet56', 'resnet110', 'resnet32_jackpot', 'preresnet164',
    'preresnet110', 'densenet40', 'densenet_bc100', 'resnet34', 'resnet50',
    'resnet50_thinet', 'vgg16_imagenet', 'vgg16_bn_imagenet',
    'vgg11_slim_imagenet',
}
IMAGENET = {'resnet34', 'resnet50', 'resnet50_thinet', 'vgg16_imagenet',
            'vgg16_bn_imagenet', 'vgg11_slim_imagenet'}


def _classes(name):
  return 1000 if name in IMAGENET else 10


@functools.lru_cache(maxsize=None)
def _default_counts(name, num_classes):
  return flops.count(create_model(name, num_classes),
                     get_spec(name).input_shape)


def _counts(name, widths, num_classes=None):
  nc = num_classes or _classes(name)
  return flops.count(create_model(name, nc, widths), get_spec(name).input_shape)


def _abstract_vars(model, input_shape):
  x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  return jax.eval_shape(lambda x: model.init(jax.random.key(0), x), x)


def _host_vars(model, input_shape, seed=0):
  """Random variables on the host (no jitted RNG): params ~ N(0, 0.1^2)."""
  abstract = _abstract_vars(model, input_shape)
  rng = np.random.default_rng(seed)
  out = {'params': jax.tree.map(
      lambda s: (0.1 * rng.standard_normal(s.shape)).astype(np.float32),
      abstract['params'])}
  if 'batch_stats' in abstract:
    out['batch_stats'] = jax.tree_util.tree_map_with_path(
        lambda p, s: (rng.normal(0, 0.1, s.shape) if p[-1].key == 'mean'
                      else rng.uniform(0.5, 1.5, s.shape)).astype(np.float32),
        abstract['batch_stats'])
  return out


def _leaves(tree):
  flat = jax.tree_util.tree_flatten_with_path(tree)[0]
  return {'/'.join(str(k.key) for k in path): v for path, v in flat}


# Compile at XLA optimisation level 0: these programs run once, and level 0
# halves their compile time on CPU.
_FAST = {'xla_backend_optimization_level': 0,
         'xla_llvm_disable_expensive_passes': True}


def _run(f, *args):
  """jit-compiles ``f`` for ``args`` with the fast options and runs it."""
  return jax.jit(f).lower(*args).compile(_FAST)(*args)


# ---- registry ---------------------------------------------------------------


def test_every_family_name_is_registered():
  missing = FAMILY_NAMES - set(model_names())
  assert not missing, missing


def test_default_widths_are_json_serialisable():
  for name in FAMILY_NAMES:
    w = default_widths(name)
    assert json.loads(json.dumps(w)) == w, name


# ---- reference counts (rethinking.md sections 4 and 7) ----------------------

REFERENCE = [
    # section 7
    ('vgg16_l1', 10, 14_987_722, 627_880_970),
    ('vgg19_slim', 10, 20_035_018, 797_304_842),
    ('vgg19_slim', 100, 20_081_188, 797_397_092),
    ('resnet20', 10, 269_722, 81_671_434),
    ('resnet32', 10, 464_154, 138_638_602),
    ('resnet56', 10, 853_018, 252_572_938),
    ('resnet110', 10, 1_727_962, 508_925_194),
    ('preresnet164', 10, 1_703_258, 504_759_306),
    ('densenet40', 10, 1_059_298, 573_052_330),
    ('resnet34', 1000, 21_797_672, 7_340_393_960),
    ('resnet50_thinet', 1000, 25_560_872, 8_213_618_152),
    ('resnet50', 1000, 25_557_032, 8_212_112_872),
    ('vgg16_imagenet', 1000, 138_357_544, 30_973_762_536),
    # section 4
    ('vgg19_wl', 10, 20_040_522, 797_607_946),
    ('preresnet110', 10, 1_146_842, 341_230_602),
    ('vgg11_slim_imagenet', 1000, 132_885_224, 15_254_023_144),
    ('densenet_bc100', 10, 769_162, None),
]


@pytest.mark.parametrize('name,num_classes,params,model_flops', REFERENCE)
def test_reference_counts(name, num_classes, params, model_flops):
  c = _default_counts(name, num_classes)
  assert c.params == params
  if model_flops is not None:
    assert c.flops == model_flops


def test_preresnet164_selection_entries():
  # section 4: "+8,080 selection-index entries if counted as parameters".
  assert sum(preresnet.input_widths(18)) == 8_080


@pytest.mark.parametrize('name,num_classes,conv,classifier', [
    ('vgg19_jackpot', 10, 20_018_880, 5_120),
    ('vgg19_jackpot', 100, 20_018_880, 51_200),
    ('resnet32_jackpot', 10, 1_844_064, 1_280),
    ('resnet32_jackpot', 100, 1_844_064, 12_800),
])
def test_jackpot_prunable_counts(name, num_classes, conv, classifier):
  """lottery_jackpots.md section 7: conv kernels + the classifier kernel."""
  model = create_model(name, num_classes)
  params = _leaves(_abstract_vars(model, get_spec(name).input_shape)['params'])
  kernels = {k: v for k, v in params.items() if k.endswith('/kernel')}
  conv_total = sum(math.prod(v.shape) for v in kernels.values()
                   if len(v.shape) == 4)
  assert conv_total == conv
  assert math.prod(kernels['classifier/kernel'].shape) == classifier
  assert params['classifier/bias'].shape == (num_classes,)
  # every conv is bias-free; the classifier is the only biased non-BN layer
  biased = [k for k in params
            if k.endswith('/bias') and 'bn' not in k.split('/')[-2]]
  assert biased == ['classifier/bias']


# ---- pruned width configs ---------------------------------------------------

VGG16_A = [32, 64, M, 128, 128, M, 256, 256, 256, M, 256, 256, 256, M, 256,
           256, 256]


def _cifar_resnet(block_widths, stages=(16, 32, 64)):
  return {'stage_widths': list(stages), 'block_widths': block_widths}


RESNET56_A = _cifar_resnet([[14] * 7 + [16, 14], [32] + [28] * 8,
                            [64] + [57] * 7 + [64]])
RESNET56_B = _cifar_resnet([[6] * 7 + [16, 16], [32] + [22] * 6 + [32, 22],
                            [64] + [57] * 7 + [64]])
RESNET110_A = _cifar_resnet([[8] * 17 + [16], [32] * 18, [64] * 18])
RESNET110_B = _cifar_resnet([[8] * 17 + [16], [32] + [19] * 17,
                             [64] + [44] * 17])


def _resnet34(block_widths):
  return dict(default_widths('resnet34'), block_widths=block_widths)


RESNET34_A = _resnet34([[64, 44, 44], [128, 89, 89, 128],
                        [256] + [179] * 4 + [256], [512] * 3])
RESNET34_B = _resnet34([[64, 32, 32], [128, 51, 51, 128],
                        [256] + [153] * 4 + [256], [512] * 3])


def _thinet(stage_widths):
  return dict(default_widths('resnet50_thinet'),
              block_widths=[[[w, w]] * n for w, n in
                            zip(stage_widths, resnet_imagenet.BLOCKS)])


CFG_2X = [35, 64, 55, 101, 51, 39, 97, 50, 37, 144, 128, 106, 205, 105, 72,
          198, 105, 72, 288, 128, 110, 278, 256, 225, 418, 209, 147, 407, 204,
          158, 423, 212, 155, 412, 211, 148, 595, 256, 213, 606, 512, 433,
          1222, 512, 437, 1147, 512, 440]


def _resnet50_2x(selections=None):
  block_widths, sels, j = [], [], 0
  for n in resnet_imagenet.BLOCKS:
    stage = []
    for _ in range(n):
      stage.append([CFG_2X[3 * j + 1], CFG_2X[3 * j + 2]])
      sels.append(list(range(CFG_2X[3 * j])))
      j += 1
    block_widths.append(stage)
  return dict(default_widths('resnet50_thinet'), block_widths=block_widths,
              selections=selections or sels)


def _cifar_epochs(name, widths):
  r = _default_counts(name, 10).flops / _counts(name, widths).flops
  return int(160 * r)


def _imagenet_ratio(name, widths):
  return _default_counts(name, 1000).flops / _counts(name, widths).flops


@pytest.mark.parametrize('name,widths,epochs', [
    ('vgg16_l1', VGG16_A, 243),
    ('resnet56', RESNET56_A, 178),
    ('resnet56', RESNET56_B, 220),
    ('resnet110', RESNET110_A, 190),
    ('resnet110', RESNET110_B, 260),
])
def test_cifar_scratch_b_epochs(name, widths, epochs):
  """rethinking.md 3.1: Scratch-B epochs int(160 * r) of the L1 models."""
  assert _cifar_epochs(name, widths) == epochs


@pytest.mark.parametrize('name,widths,epochs', [
    ('resnet34', RESNET34_A, 106),
    ('resnet34', RESNET34_B, 118),
    ('resnet50_thinet', _thinet([44, 89, 179, 358]), 141),  # ThiNet-70
    ('resnet50_thinet', _resnet50_2x(), 134),  # ResNet-50-2x, section-6 rule
])
def test_imagenet_scratch_b_epochs_below_cap(name, widths, epochs):
  r = _imagenet_ratio(name, widths)
  assert r < 2
  assert int(90 * r) == epochs


@pytest.mark.parametrize('name,widths', [
    ('resnet50_thinet', _thinet([19, 38, 76, 153])),  # ThiNet-30
    ('resnet50_thinet', _thinet([32, 64, 128, 256])),  # ThiNet-50
    ('vgg16_imagenet', {'cfg': [32, 32, M, 64, 64, M, 128, 128, 128, M, 256,
                                256, 256, M, 512, 512, 512, M],
                        'fc_widths': [4096, 4096]}),  # VGG-Conv
    ('vgg16_imagenet', {'cfg': [24, 22, M, 41, 51, M, 108, 89, 111, M, 184,
                                276, 228, M, 512, 512, 512, M],
                        'fc_widths': [4096, 4096]}),  # VGG-16-5x
])
def test_imagenet_scratch_b_capped(name, widths):
  """r >= 2: Scratch-B is capped at 180 epochs (README)."""
  assert _imagenet_ratio(name, widths) >= 2


def _mask_file():
  rel = pathlib.Path('shared/data/resnet50_2x_input_channel_masks.npz')
  roots = [pathlib.Path(__file__).resolve().parents[1], pathlib.Path('/work')]
  for root in roots:
    if (root / rel).is_file():
      return root / rel
  return None


@pytest.mark.skipif(_mask_file() is None, reason='ResNet-50-2x masks absent')
def test_resnet50_2x_real_masks():
  masks = np.load(_mask_file())
  sels = [np.flatnonzero(masks[f'block{j:02d}']).tolist() for j in range(16)]
  assert [len(s) for s in sels] == CFG_2X[0::3]
  widths = _resnet50_2x(sels)
  assert int(90 * _imagenet_ratio('resnet50_thinet', widths)) == 134
  model = create_model('resnet50_thinet', 1000, widths)
  params = _abstract_vars(model, (224, 224, 3))['params']
  assert params['stage3_block0']['conv1']['kernel'].shape == (1, 1, 278, 256)
  assert params['stage3_block2']['conv1']['kernel'].shape == (1, 1, 407, 204)


def _cifar_resnet_params(widths, num_classes=10):
  stages, blocks = widths['stage_widths'], widths['block_widths']
  cin = stages[0]
  total = 27 * cin + 2 * cin
  for out, stage in zip(stages, blocks):
    for w in stage:
      total += 9 * cin * w + 2 * w + 9 * w * out + 2 * out
      cin = out
  return total + cin * num_classes + num_classes


def _vgg_l1_params(cfg, num_classes=10):
  total, cin = 0, 3
  for v in cfg:
    if v != M:
      total += 9 * cin * v + 2 * v
      cin = v
  return total + cin * 512 + 512 + 2 * 512 + 512 * num_classes + num_classes


@pytest.mark.parametrize('name,widths', [
    ('resnet56', RESNET56_A), ('resnet56', RESNET56_B),
    ('resnet110', RESNET110_B), ('resnet20', default_widths('resnet20')),
])
def test_pruned_cifar_resnet_params(name, widths):
  assert _counts(name, widths).params == _cifar_resnet_params(widths)


def test_pruned_vgg16_a_params():
  assert _counts('vgg16_l1', VGG16_A).params == _vgg_l1_params(VGG16_A)
  assert _vgg_l1_params(VGG16_A) < 14_987_722
  assert _vgg_l1_params(default_widths('vgg16_l1')) == 14_987_722


def test_preresnet_selection_counts():
  """A BN before a selection counts its full input; ReLU/conv the selected."""
  base = _default_counts('preresnet164', 10)
  widths = default_widths('preresnet164')
  widths['cfg'][3] = 40  # block 1 (input 64) keeps 40 channels for conv1
  pruned = _counts('preresnet164', widths)
  assert base.params - pruned.params == 24 * 16
  assert base.flops - pruned.flops == 2 * 24 * 16 * 32 * 32 + 24 * 32 * 32
  sels = [None] * 55
  sels[1] = list(range(64))[::-1][:40]  # arbitrary kept channels
  with_sel = _counts('preresnet164', dict(widths, selections=sels))
  assert (with_sel.params, with_sel.flops) == (pruned.params, pruned.flops)
  model = create_model('preresnet164', 10, dict(widths, selections=sels))
  params = _abstract_vars(model, (32, 32, 3))['params']
  assert params['stage1_block1']['conv1']['kernel'].shape == (1, 1, 40, 16)
  assert params['stage1_block1']['bn1']['scale'].shape == (64,)


def test_densenet40_selection_counts():
  base = _default_counts('densenet40', 10)
  widths = default_widths('densenet40')
  widths['cfg'][1] = 30  # dense1_layer1 reads 30 of its 36 input channels
  pruned = _counts('densenet40', widths)
  assert base.params - pruned.params == 6 * 9 * 12
  assert base.flops - pruned.flops == 2 * 9 * 6 * 12 * 32 * 32 + 6 * 32 * 32
  widths['cfg'][-1] = 400  # classifier input
  assert _counts('densenet40', widths).params == (
      pruned.params - 56 * 10)


def test_densenet_bc100_pruned_widths():
  widths = default_widths('densenet_bc100')
  assert widths['transition_widths'] == [108, 150]
  base = _default_counts('densenet_bc100', 10)
  widths['bottleneck_widths'][0][0] = 40  # 48 -> 40
  pruned = _counts('densenet_bc100', widths)
  # conv1 (24 -> w), bn2 (2w), conv2 (9*w*12)
  assert base.params - pruned.params == 8 * (24 + 2 + 9 * 12)


def test_vgg11_slim_hidden_fc_widths():
  base = _default_counts('vgg11_slim_imagenet', 1000)
  widths = default_widths('vgg11_slim_imagenet')
  widths['fc_widths'] = [2048, 4096]
  pruned = _counts('vgg11_slim_imagenet', widths)
  # fc1 columns + bias + BN1d gamma/beta, and fc2 rows
  assert base.params - pruned.params == 2048 * (512 * 49 + 1 + 2 + 4096)
  assert base.flops - pruned.flops == 2048 * (2 * 512 * 49 + 1 + 2 * 4096 +
                                              1)


# ---- forwards ---------------------------------------------------------------

# Cheap enough for a real forward on a batch of 2 at full width and depth; the
# others (deep CIFAR nets, ImageNet nets) run it abstractly with
# jax.eval_shape, and the deep CIFAR classes run for real at reduced depth
# below.
REAL_FORWARD = {'digits_cnn', 'resnet20', 'resnet32', 'resnet32_jackpot',
                'vgg16_l1', 'vgg19_slim', 'vgg19_wl', 'vgg19_jackpot'}
# Deep CIFAR nets: eval forward abstractly at full depth; their train-mode
# forward runs for real at reduced depth (same classes) in the tests below.
DEEP_CIFAR = {'resnet56', 'resnet110', 'preresnet164', 'preresnet110',
              'densenet40', 'densenet_bc100'}


@pytest.mark.parametrize('name', sorted(FAMILY_NAMES | {'digits_cnn'}))
def test_forward_every_model(name):
  """Eval and train forwards; every BatchNorm gets the model's axis_name.

  Train forwards run under a named (size-1) vmap axis, so each BatchNorm's
  ``pmean`` over ``axis_name`` must bind; an interceptor records the
  ``axis_name`` of every BatchNorm call.
  """
  spec = get_spec(name)
  nc = 7
  model = create_model(name, nc, axis_name='batch')
  real = name in REAL_FORWARD
  seen = []

  def interceptor(next_fun, args, kwargs, context):
    if (isinstance(context.module, layers.BatchNorm) and
        context.method_name == '__call__'):
      seen.append(context.module.axis_name)
    return next_fun(*args, **kwargs)

  def train_forward(v, x):
    return model.apply(v, x, train=True, mutable=['batch_stats'],
                       rngs={'dropout': jax.random.key(1)})

  def forward(v, x):
    return model.apply(v, x), *train_forward(v, x)

  named = lambda f: jax.vmap(f, axis_name='batch', in_axes=None, axis_size=1)
  unbatch = lambda f: lambda v, x: jax.tree.map(lambda a: a[0],
                                                named(f)(v, x))
  with nn.intercept_methods(interceptor):
    if real:
      v = _host_vars(model, spec.input_shape)
      x = jnp.asarray(np.random.default_rng(1).normal(
          size=(2, *spec.input_shape)), jnp.float32)
      y_eval, y_train, upd = _run(unbatch(forward), v, x)
    else:
      # init traces the eval-mode forward (at batch 2 here)
      x = jax.ShapeDtypeStruct((2, *spec.input_shape), jnp.float32)
      y_eval, v = jax.eval_shape(
          lambda x: model.init_with_output(jax.random.key(0), x), x)
      if name in DEEP_CIFAR:
        y_train, upd = y_eval, None
      else:
        y_train, upd = jax.eval_shape(unbatch(train_forward), v, x)
  assert y_eval.shape == (2, nc) and y_train.shape == (2, nc)
  if name == 'vgg16_imagenet':  # the only model without BatchNorm
    assert not seen and 'batch_stats' not in v
    return
  assert seen and all(a == 'batch' for a in seen)
  if upd is not None:
    assert jax.tree.structure(upd['batch_stats']) == jax.tree.structure(
        v['batch_stats'])
  if real:
    assert np.all(np.isfinite(y_eval)) and np.all(np.isfinite(y_train))
    assert not np.allclose(y_eval, y_train)  # batch vs running statistics
    old, new = _leaves(v['batch_stats']), _leaves(upd['batch_stats'])
    assert any(not np.allclose(old[k], new[k]) for k in old)


def test_dropout_is_train_only_and_needs_rng():
  widths = {'cfg': [4, 4, M, 4, 4, M, 4, 4, 4, M, 4, 4, 4, M, 4, 4, 4, M],
            'fc_widths': [16, 16]}
  model = create_model('vgg16_imagenet', 5, widths)
  variables = _host_vars(model, (224, 224, 3))
  variables['params'] = jax.tree.map(lambda p: p * 5.0, variables['params'])
  x = jnp.asarray(np.random.default_rng(2).normal(size=(2, 224, 224, 3)),
                  jnp.float32)
  run = jax.jit(lambda v, x, key: (
      model.apply(v, x), model.apply(v, x, train=True, rngs={'dropout': key})))
  run = run.lower(variables, x, jax.random.key(0)).compile(_FAST)
  e1, t1 = run(variables, x, jax.random.key(0))
  e2, t2 = run(variables, x, jax.random.key(1))
  assert e1.shape == (2, 5)
  np.testing.assert_array_equal(e1, e2)
  assert not np.allclose(t1, t2)
  assert not np.allclose(e1, t1)
  with pytest.raises(flax.errors.InvalidRngError, match='dropout'):
    jax.eval_shape(lambda v, x: model.apply(v, x, train=True), variables, x)
  no_dropout = model.clone(dropout_rate=0.0)
  t0 = _run(lambda v, x: no_dropout.apply(v, x, train=True), variables, x)
  np.testing.assert_allclose(t0, e1, rtol=1e-5, atol=1e-5)


# ---- reduced-depth real forwards of the deep families -----------------------


def _eval(model, variables, x):
  return _run(model.apply, variables, x)


def test_preresnet_selection_gathers_channels():
  """Selection == the full model whose consumer weights are permuted/zeroed."""
  n = 1
  cfg = preresnet.default_cfg(n)  # [16,16,16, 64,32,32, 128,64,64, 256]
  full = preresnet.PreResNet(tuple(cfg), None, 10)
  x = jnp.asarray(np.random.default_rng(3).normal(size=(2, 16, 16, 3)),
                  jnp.float32)
  variables = _host_vars(full, (16, 16, 3))
  y_full = _eval(full, variables, x)
  assert y_full.shape == (2, 10)
  # (a) a permutation at block 1 with conv1's input rows permuted alike
  perm = np.random.default_rng(4).permutation(64)
  permuted = preresnet.PreResNet(
      tuple(cfg), (None, tuple(int(i) for i in perm), None, None), 10)
  v = copy.deepcopy(variables)
  k = v['params']['stage2_block0']['conv1']['kernel']
  v['params']['stage2_block0']['conv1']['kernel'] = k[:, :, perm, :]
  np.testing.assert_allclose(_eval(permuted, v, x), y_full, rtol=1e-4,
                             atol=1e-4)
  # (b) a subset after the final BN == zeroed classifier rows
  keep = np.sort(np.random.default_rng(5).permutation(256)[:40])
  sub_cfg = cfg[:-1] + [40]
  subset = preresnet.PreResNet(
      tuple(sub_cfg), (None, None, None, tuple(int(i) for i in keep)), 10)
  v_sub = copy.deepcopy(variables)
  fc = variables['params']['classifier']['kernel']
  v_sub['params']['classifier']['kernel'] = fc[keep]
  v_zero = copy.deepcopy(variables)
  mask = np.zeros((256, 1), np.float32)
  mask[keep] = 1
  v_zero['params']['classifier']['kernel'] = fc * mask
  np.testing.assert_allclose(_eval(subset, v_sub, x),
                             _eval(full, v_zero, x), rtol=1e-4, atol=1e-4)
  y, upd = _run(lambda v, x: subset.apply(
      v, x, train=True, mutable=['batch_stats']), v_sub, x)
  assert y.shape == (2, 10) and np.all(np.isfinite(y))
  assert upd['batch_stats']['final_bn']['mean'].shape == (256,)


def test_densenet40_class_selection_and_train_forward():
  n = 1
  full_widths = densenet.densenet40_input_widths(n)
  assert full_widths == [24, 36, 36, 48, 48, 60]
  assert len(densenet.densenet40_selection_points(n)) == len(full_widths)
  model = densenet.DenseNet40(tuple(full_widths), None, 10)
  x = jnp.asarray(np.random.default_rng(6).normal(size=(2, 16, 16, 3)),
                  jnp.float32)
  variables = _host_vars(model, (16, 16, 3))
  y_full = _eval(model, variables, x)
  # the transition of block 1 reads 20 of its 36 channels
  keep = np.sort(np.random.default_rng(7).permutation(36)[:20])
  cfg = list(full_widths)
  cfg[1] = 20
  sels = [None] * 6
  sels[1] = tuple(int(i) for i in keep)
  subset = densenet.DenseNet40(tuple(cfg), tuple(sels), 10)
  k = variables['params']['trans1']['conv1']['kernel']
  v_sub = copy.deepcopy(variables)
  v_sub['params']['trans1']['conv1']['kernel'] = k[:, :, keep, :]
  v_zero = copy.deepcopy(variables)
  mask = np.zeros((1, 1, 36, 1), np.float32)
  mask[:, :, keep] = 1
  v_zero['params']['trans1']['conv1']['kernel'] = k * mask
  np.testing.assert_allclose(_eval(subset, v_sub, x),
                             _eval(model, v_zero, x), rtol=1e-4, atol=1e-4)
  assert y_full.shape == (2, 10)
  y, upd = _run(lambda v, x: subset.apply(
      v, x, train=True, mutable=['batch_stats']), v_sub, x)
  assert y.shape == (2, 10) and np.all(np.isfinite(y))


def test_densenet_bc_and_preresnet110_reduced_forward():
  bc = densenet.DenseNetBC(8, 4, ((16, 16), (16, 16), (16, 16)), (12, 10), 10,
                           bn_scale=1.0)
  pre = create_model('preresnet110', 10).clone(
      cfg=tuple(preresnet.default_cfg(1)))
  for model in (bc, pre):
    variables = _host_vars(model, (16, 16, 3))
    x = jnp.ones((2, 16, 16, 3))
    y, upd = _run(lambda v, x: model.apply(
        v, x, train=True, mutable=['batch_stats']), variables, x)
    assert y.shape == (2, 10) and np.all(np.isfinite(y))


@pytest.mark.parametrize('shortcut', ['avgpool', 'stride'])
def test_option_a_shortcut(shortcut):
  """L1: AvgPool2d(2, 2) + zeros appended; jackpot: x[::2, ::2] + symmetric."""
  block = resnet_cifar.BasicBlock(4, 8, 2, shortcut)
  x = jnp.asarray(np.random.default_rng(8).normal(size=(2, 6, 6, 4)),
                  jnp.float32)
  v = _host_vars(block, (6, 6, 4))
  v = jax.tree.map(np.zeros_like, v)  # zero convs, BN(0) == 0
  v['batch_stats'] = jax.tree_util.tree_map_with_path(
      lambda p, a: np.ones_like(a) if p[-1].key == 'var' else a,
      v['batch_stats'])
  y = _run(block.apply, v, x)
  if shortcut == 'avgpool':
    sub = x.reshape(2, 3, 2, 3, 2, 4).mean(axis=(2, 4))
    expected = jnp.concatenate([sub, jnp.zeros((2, 3, 3, 4))], -1)
  else:
    sub = x[:, ::2, ::2, :]
    expected = jnp.concatenate([jnp.zeros((2, 3, 3, 2)), sub,
                                jnp.zeros((2, 3, 3, 2))], -1)
  np.testing.assert_allclose(y, jax.nn.relu(expected), rtol=1e-5, atol=1e-6)


# ---- inits ------------------------------------------------------------------

_TINY_RESNET50 = dict(stem_width=8, stage_widths=(16, 16, 32, 32),
                      block_widths=(((4, 4),), ((4, 4),), ((4, 4),),
                                    ((4, 4),)))
_INIT_MODELS = {
    # (model, input shape): the registered settings on a small structure
    'vgg16_l1': (create_model('vgg16_l1', 10).clone(cfg=(64, M, 128)),
                 (32, 32, 3)),
    'vgg19_wl': (create_model('vgg19_wl', 10).clone(cfg=(64, M, 128)),
                 (32, 32, 3)),
    'vgg19_jackpot': (create_model('vgg19_jackpot', 10).clone(
        cfg=(64, M, 128, M, M, M, M)), (32, 32, 3)),
    'resnet20': (create_model('resnet20', 10).clone(
        block_widths=((16,), (32,), (64,))), (32, 32, 3)),
    'thinet_block': (resnet_imagenet.Bottleneck((4, 4), 16, 2,
                                                downsample_bias=True),
                     (8, 8, 8)),
    'preresnet164': (create_model('preresnet164', 10).clone(
        cfg=tuple(preresnet.default_cfg(1))), (8, 8, 3)),
    'densenet40': (create_model('densenet40', 10).clone(
        cfg=tuple(densenet.densenet40_input_widths(1))), (8, 8, 3)),
}


@pytest.fixture(scope='module')
def inits():
  """Real ``init`` of every model above, in one compiled program."""
  def init_all(key):
    return {name: model.init(jax.random.fold_in(key, i),
                             jnp.ones((1, *shape)))['params']
            for i, (name, (model, shape)) in enumerate(_INIT_MODELS.items())}
  out = _run(init_all, jax.random.key(0))
  return jax.tree.map(np.asarray, out)


def _bound(kernel):
  return np.abs(kernel).max()


def test_vgg_inits(inits):
  l1 = inits['vgg16_l1']
  np.testing.assert_allclose(np.std(l1['conv1']['kernel']),
                             math.sqrt(2 / (9 * 128)), rtol=0.03)  # fan-out
  np.testing.assert_array_equal(l1['bn1']['scale'], 0.5)
  np.testing.assert_allclose(np.std(l1['fc1']['kernel']), 0.01, rtol=0.03)
  np.testing.assert_array_equal(l1['fc1']['bias'], 0.0)
  gamma = l1['fc1_bn']['scale']  # PyTorch 0.3.1 BN1d default: U(0, 1)
  assert gamma.min() >= 0 and gamma.max() < 1 and gamma.std() > 0.2
  np.testing.assert_allclose(np.std(l1['classifier']['kernel']), 0.01,
                             rtol=0.1)
  np.testing.assert_array_equal(l1['classifier']['bias'], 0.0)

  wl = inits['vgg19_wl']
  np.testing.assert_allclose(np.std(wl['conv1']['kernel']),
                             math.sqrt(2 / (9 * 64)), rtol=0.03)  # fan-in
  np.testing.assert_array_equal(wl['conv1']['bias'], 0.0)
  np.testing.assert_array_equal(wl['bn1']['scale'], 1.0)

  jp = inits['vgg19_jackpot']  # PyTorch >= 1.0 defaults
  bound = 1 / math.sqrt(9 * 64)
  assert 0.9 * bound < _bound(jp['conv1']['kernel']) <= bound
  assert 'bias' not in jp['conv1']
  np.testing.assert_array_equal(jp['bn1']['scale'], 1.0)
  bound = 1 / math.sqrt(128)  # the 1x1-conv classifier's default init
  assert 0.5 * bound < _bound(jp['classifier']['bias']) <= bound
  assert 0.9 * bound < _bound(jp['classifier']['kernel']) <= bound


def test_resnet_inits(inits):
  p = inits['resnet20']
  np.testing.assert_array_equal(p['stage1_block0']['bn1']['scale'], 1.0)
  fc = p['classifier']['kernel']  # PyTorch default U(+-1/sqrt(64))
  assert 0.1 < _bound(fc) <= 1 / 8
  assert 0.1 < _bound(p['classifier']['bias']) <= 1 / 8
  np.testing.assert_allclose(np.std(p['stage3_block0']['conv2']['kernel']),
                             math.sqrt(2 / (9 * 64)), rtol=0.05)
  jackpot = create_model('resnet32_jackpot', 10)
  assert jackpot.torch_default_init and jackpot.shortcut == 'stride'
  p = inits['thinet_block']
  bias = p['downsample_conv']['bias']  # PyTorch 0.3.1 U(+-1/sqrt(C_in))
  assert 0.5 / math.sqrt(8) < _bound(bias) <= 1 / math.sqrt(8)
  assert 'bias' not in p['conv1']
  np.testing.assert_allclose(np.std(p['conv2']['kernel']),
                             math.sqrt(2 / (9 * 4)), rtol=0.3)
  thinet = create_model('resnet50_thinet', 10).clone(**_TINY_RESNET50)
  p = _abstract_vars(thinet, (224, 224, 3))['params']
  assert p['stage1_block0']['downsample_conv']['bias'].shape == (16,)
  torchvision = create_model('resnet50', 10).clone(**_TINY_RESNET50)
  p = _abstract_vars(torchvision, (224, 224, 3))['params']
  assert 'bias' not in p['stage1_block0']['downsample_conv']


@pytest.mark.parametrize('name', ['preresnet164', 'densenet40'])
def test_slimming_gamma(inits, name):
  for path, leaf in _leaves(inits[name]).items():
    if path.endswith('/scale'):
      np.testing.assert_array_equal(leaf, 0.5, err_msg=path)
  fc = inits[name]['classifier']['kernel']
  assert _bound(fc) <= 1 / math.sqrt(fc.shape[0])  # PyTorch default Linear


@pytest.mark.parametrize('name,gamma', [
    ('vgg16_l1', 0.5), ('vgg19_slim', 0.5), ('vgg19_wl', 1.0),
    ('preresnet164', 0.5), ('preresnet110', 1.0), ('densenet40', 0.5),
    ('densenet_bc100', 1.0), ('vgg11_slim_imagenet', 0.5),
    ('vgg16_bn_imagenet', 1.0)])
def test_registered_bn_gamma(name, gamma):
  """The registered builds carry the reference's initial BN gamma."""
  assert create_model(name, 10).bn_scale == gamma


# ---- width validation -------------------------------------------------------


def _find(tree, pred, path=()):
  if pred(tree):
    return path
  items = (tree.items() if isinstance(tree, dict) else
           enumerate(tree) if isinstance(tree, list) else ())
  for k, v in items:
    p = _find(v, pred, path + (k,))
    if p is not None:
      return p
  return None


def _replace(tree, path, value):
  if not path:
    return value
  tree = copy.deepcopy(tree)
  node = tree
  for k in path[:-1]:
    node = node[k]
  node[path[-1]] = value
  return tree


def _is_int(v):
  return isinstance(v, int) and not isinstance(v, bool)


@pytest.mark.parametrize('name', sorted(FAMILY_NAMES))
@pytest.mark.parametrize('bad', ['short', 'long', 0, -3, 16.0, True, '16'])
def test_bad_widths_raise_value_error(name, bad):
  widths = default_widths(name)
  if bad in ('short', 'long'):
    path = _find(widths, lambda v: isinstance(v, list))
    lst = _find_value(widths, path)
    new = lst[:-1] if bad == 'short' else lst + [lst[-1]]
    widths = _replace(widths, path, new)
  else:
    widths = _replace(widths, _find(widths, _is_int), bad)
  with pytest.raises(ValueError, match='width config'):
    create_model(name, _classes(name), widths)


def _find_value(tree, path):
  for k in path:
    tree = tree[k]
  return tree


@pytest.mark.parametrize('name', sorted(FAMILY_NAMES))
def test_last_width_is_checked_too(name):
  widths = default_widths(name)
  paths = []

  def walk(t, p):
    if _is_int(t):
      paths.append(p)
    items = (t.items() if isinstance(t, dict) else
             enumerate(t) if isinstance(t, list) else ())
    for k, v in items:
      walk(v, p + (k,))
  walk(widths, ())
  bad = _replace(widths, paths[-1], 0)
  with pytest.raises(ValueError, match='width config'):
    create_model(name, _classes(name), bad)


@pytest.mark.parametrize('name,widths,match', [
    ('resnet56', _replace(RESNET56_A, ('block_widths', 1, 3), 0),
     r'block_widths\[1\]\[3\]'),
    ('resnet56', _replace(RESNET56_A, ('block_widths', 2), [64] * 8),
     r'block_widths\[2\] must have 9'),
    ('resnet56', _replace(RESNET56_A, ('stage_widths',), [16, 32, 16]),
     'option-A'),
    ('resnet56', dict(RESNET56_A, extra=1), 'unknown key'),
    ('resnet56', {'stage_widths': [16, 32, 64]}, 'missing key'),
    ('resnet56', [16, 32, 64], 'must be a dict'),
    ('vgg16_l1', _replace(VGG16_A, (2,), 64), r'cfg\[2\] must be "M"'),
    ('vgg16_l1', _replace(VGG16_A, (3,), M), r'cfg\[3\]'),
    ('vgg16_l1', _replace(VGG16_A, (4,), 12.5), r'cfg\[4\]'),
    ('preresnet164', {'cfg': _replace(preresnet.default_cfg(18), (3,), 65)},
     'consumes 65'),
    ('preresnet164', {'cfg': preresnet.default_cfg(18),
                      'selections': [None] * 54}, 'selections must have 55'),
    ('preresnet164', {'cfg': preresnet.default_cfg(18),
                      'selections': [None] * 54 + [[0] * 256]}, 'repeats'),
    ('preresnet164', {'cfg': _replace(preresnet.default_cfg(18), (163 - 1,),
                                      2),
                      'selections': [None] * 54 + [[0, 256]]},
     r'selections\[54\]\[1\]'),
    ('preresnet164', {'cfg': preresnet.default_cfg(18),
                      'selections': [None] * 54 + [list(range(100))]},
     r'selections\[54\] must have 256'),
    ('preresnet110', {'cfg': _replace(preresnet.default_cfg(12), (3,), 60)},
     r'cfg\[3\] = 60 must equal'),
    ('preresnet110', {'cfg': preresnet.default_cfg(12),
                      'selections': [None] * 37}, 'no channel selection'),
    ('densenet40', {'cfg': densenet.densenet40_input_widths()[:-1]},
     'cfg must have 39'),
    ('resnet50', dict(default_widths('resnet50'),
                      selections=[None] * 15 + [[]]), 'empty'),
    ('resnet50', dict(default_widths('resnet50'),
                      selections=[None] * 15 + [[2048]]),
     r'selections\[15\]\[0\]'),
    ('resnet50', _replace(default_widths('resnet50'), ('block_widths', 3, 1),
                          [512]), r'block_widths\[3\]\[1\] must have 2'),
    ('vgg11_slim_imagenet', dict(default_widths('vgg11_slim_imagenet'),
                                 fc_widths=[4096]), 'fc_widths must have 2'),
    ('densenet_bc100', _replace(default_widths('densenet_bc100'),
                                ('transition_widths', 1), -1),
     r'transition_widths\[1\]'),
])
def test_width_errors_name_the_entry(name, widths, match):
  with pytest.raises(ValueError, match=match):
    create_model(name, _classes(name), widths)


def test_create_model_rejects_before_tracing():
  """Validation happens in create_model: no op is recorded, nothing traced."""
  with flops.recording() as rec:
    with pytest.raises(ValueError):
      create_model('resnet110', 10, _replace(RESNET110_A,
                                             ('block_widths', 0, 0), -1))
  assert rec.records == []
