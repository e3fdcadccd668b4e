"""The model registry and ModelSpec: names, widths, forwards, validation."""

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxprune import flops
from jaxprune.models import create_model, default_widths, get_spec
from jaxprune.models import densenet
from jaxprune.models import layers
from jaxprune.models import model_names
from jaxprune.models import preresnet
from tests.models.common import (FAMILY_NAMES, M, RESNET56_A, RESNET110_A,
                                 VGG16_A, classes, find, find_value,
                                 host_vars, is_int, leaves, replace,
                                 run_fast)


def test_every_family_name_is_registered():
  missing = FAMILY_NAMES - set(model_names())
  assert not missing, missing


def test_default_widths_are_json_serialisable():
  for name in FAMILY_NAMES:
    w = default_widths(name)
    assert json.loads(json.dumps(w)) == w, name


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
      v = host_vars(model, spec.input_shape)
      x = jnp.asarray(np.random.default_rng(1).normal(
          size=(2, *spec.input_shape)), jnp.float32)
      y_eval, y_train, upd = run_fast(unbatch(forward), v, x)
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
    old, new = leaves(v['batch_stats']), leaves(upd['batch_stats'])
    assert any(not np.allclose(old[k], new[k]) for k in old)


@pytest.mark.parametrize('name,gamma', [
    ('vgg16_l1', 0.5), ('vgg19_slim', 0.5), ('vgg19_wl', 1.0),
    ('preresnet164', 0.5), ('preresnet110', 1.0), ('densenet40', 0.5),
    ('densenet_bc100', 1.0), ('vgg11_slim_imagenet', 0.5),
    ('vgg16_bn_imagenet', 1.0)])
def test_registered_bn_gamma(name, gamma):
  """The registered builds carry the reference's initial BN gamma."""
  assert create_model(name, 10).bn_scale == gamma


@pytest.mark.parametrize('name', sorted(FAMILY_NAMES))
@pytest.mark.parametrize('bad', ['short', 'long', 0, -3, 16.0, True, '16'])
def test_bad_widths_raise_value_error(name, bad):
  widths = default_widths(name)
  if bad in ('short', 'long'):
    path = find(widths, lambda v: isinstance(v, list))
    lst = find_value(widths, path)
    new = lst[:-1] if bad == 'short' else lst + [lst[-1]]
    widths = replace(widths, path, new)
  else:
    widths = replace(widths, find(widths, is_int), bad)
  with pytest.raises(ValueError, match='width config'):
    create_model(name, classes(name), widths)


@pytest.mark.parametrize('name', sorted(FAMILY_NAMES))
def test_last_width_is_checked_too(name):
  widths = default_widths(name)
  paths = []

  def walk(t, p):
    if is_int(t):
      paths.append(p)
    items = (t.items() if isinstance(t, dict) else
             enumerate(t) if isinstance(t, list) else ())
    for k, v in items:
      walk(v, p + (k,))
  walk(widths, ())
  bad = replace(widths, paths[-1], 0)
  with pytest.raises(ValueError, match='width config'):
    create_model(name, classes(name), bad)


@pytest.mark.parametrize('name,widths,match', [
    ('resnet56', replace(RESNET56_A, ('block_widths', 1, 3), 0),
     r'block_widths\[1\]\[3\]'),
    ('resnet56', replace(RESNET56_A, ('block_widths', 2), [64] * 8),
     r'block_widths\[2\] must have 9'),
    ('resnet56', replace(RESNET56_A, ('stage_widths',), [16, 32, 16]),
     'option-A'),
    ('resnet56', dict(RESNET56_A, extra=1), 'unknown key'),
    ('resnet56', {'stage_widths': [16, 32, 64]}, 'missing key'),
    ('resnet56', [16, 32, 64], 'must be a dict'),
    ('vgg16_l1', replace(VGG16_A, (2,), 64), r'cfg\[2\] must be "M"'),
    ('vgg16_l1', replace(VGG16_A, (3,), M), r'cfg\[3\]'),
    ('vgg16_l1', replace(VGG16_A, (4,), 12.5), r'cfg\[4\]'),
    ('preresnet164', {'cfg': replace(preresnet.default_cfg(18), (3,), 65)},
     'consumes 65'),
    ('preresnet164', {'cfg': preresnet.default_cfg(18),
                      'selections': [None] * 54}, 'selections must have 55'),
    ('preresnet164', {'cfg': preresnet.default_cfg(18),
                      'selections': [None] * 54 + [[0] * 256]}, 'repeats'),
    ('preresnet164', {'cfg': replace(preresnet.default_cfg(18), (163 - 1,),
                                      2),
                      'selections': [None] * 54 + [[0, 256]]},
     r'selections\[54\]\[1\]'),
    ('preresnet164', {'cfg': preresnet.default_cfg(18),
                      'selections': [None] * 54 + [list(range(100))]},
     r'selections\[54\] must have 256'),
    ('preresnet110', {'cfg': replace(preresnet.default_cfg(12), (3,), 60)},
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
    ('resnet50', replace(default_widths('resnet50'), ('block_widths', 3, 1),
                          [512]), r'block_widths\[3\]\[1\] must have 2'),
    ('vgg11_slim_imagenet', dict(default_widths('vgg11_slim_imagenet'),
                                 fc_widths=[4096]), 'fc_widths must have 2'),
    ('densenet_bc100', replace(default_widths('densenet_bc100'),
                                ('transition_widths', 1), -1),
     r'transition_widths\[1\]'),
])
def test_width_errors_name_the_entry(name, widths, match):
  with pytest.raises(ValueError, match=match):
    create_model(name, classes(name), widths)


def test_create_model_rejects_before_tracing():
  """Validation happens in create_model: no op is recorded, nothing traced."""
  with flops.recording() as rec:
    with pytest.raises(ValueError):
      create_model('resnet110', 10, replace(RESNET110_A,
                                             ('block_widths', 0, 0), -1))
  assert rec.records == []


def test_init_equals_flax_init_op_by_op():
  # spec.init compiles its program without LLVM optimisation on CPU
  # (INIT_COMPILER_OPTIONS); the values are flax's init, run op by op.
  spec = get_spec('resnet20').bind(10)
  key = jax.random.key(3)
  ours = spec.init(key)
  x = jnp.zeros((1, *spec.input_shape), jnp.float32)
  theirs = spec.module().init(key, x, train=False)
  assert jax.tree.structure(ours['params']) == jax.tree.structure(
      theirs['params'])
  for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(
      {'params': theirs['params'], 'batch_stats': theirs['batch_stats']})):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
