"""Shared model-test data: width configs of the papers' pruned models and
helpers that build random host variables and compile programs cheaply."""

import copy
import functools
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxprune import flops
from jaxprune.models import create_model, default_widths, get_spec
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


def classes(name):
  return 1000 if name in IMAGENET else 10


@functools.lru_cache(maxsize=None)
def default_counts(name, num_classes):
  return flops.count(create_model(name, num_classes),
                     get_spec(name).input_shape)


def counts(name, widths, num_classes=None):
  nc = num_classes or classes(name)
  return flops.count(create_model(name, nc, widths), get_spec(name).input_shape)


def abstract_vars(model, input_shape):
  x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  return jax.eval_shape(lambda x: model.init(jax.random.key(0), x), x)


def host_vars(model, input_shape, seed=0):
  """Random variables on the host (no jitted RNG): params ~ N(0, 0.1^2)."""
  abstract = abstract_vars(model, input_shape)
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


def leaves(tree):
  flat = jax.tree_util.tree_flatten_with_path(tree)[0]
  return {'/'.join(str(k.key) for k in path): v for path, v in flat}


# Compile at XLA optimisation level 0: these programs run once, and level 0
# halves their compile time on CPU.
FAST = {'xla_backend_optimization_level': 0,
         'xla_llvm_disable_expensive_passes': True}


def run_fast(f, *args):
  """jit-compiles ``f`` for ``args`` with the fast options and runs it."""
  return jax.jit(f).lower(*args).compile(FAST)(*args)


def eval_fast(model, variables, x):
  return run_fast(model.apply, variables, x)


VGG16_A = [32, 64, M, 128, 128, M, 256, 256, 256, M, 256, 256, 256, M, 256,
           256, 256]


def cifar_resnet(block_widths, stages=(16, 32, 64)):
  return {'stage_widths': list(stages), 'block_widths': block_widths}


RESNET56_A = cifar_resnet([[14] * 7 + [16, 14], [32] + [28] * 8,
                            [64] + [57] * 7 + [64]])


RESNET56_B = cifar_resnet([[6] * 7 + [16, 16], [32] + [22] * 6 + [32, 22],
                            [64] + [57] * 7 + [64]])


RESNET110_A = cifar_resnet([[8] * 17 + [16], [32] * 18, [64] * 18])


RESNET110_B = cifar_resnet([[8] * 17 + [16], [32] + [19] * 17,
                             [64] + [44] * 17])


def resnet34(block_widths):
  return dict(default_widths('resnet34'), block_widths=block_widths)


RESNET34_A = resnet34([[64, 44, 44], [128, 89, 89, 128],
                        [256] + [179] * 4 + [256], [512] * 3])


RESNET34_B = resnet34([[64, 32, 32], [128, 51, 51, 128],
                        [256] + [153] * 4 + [256], [512] * 3])


def thinet(stage_widths):
  return dict(default_widths('resnet50_thinet'),
              block_widths=[[[w, w]] * n for w, n in
                            zip(stage_widths, resnet_imagenet.BLOCKS)])


CFG_2X = [35, 64, 55, 101, 51, 39, 97, 50, 37, 144, 128, 106, 205, 105, 72,
          198, 105, 72, 288, 128, 110, 278, 256, 225, 418, 209, 147, 407, 204,
          158, 423, 212, 155, 412, 211, 148, 595, 256, 213, 606, 512, 433,
          1222, 512, 437, 1147, 512, 440]


def resnet50_2x(selections=None):
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


def find(tree, pred, path=()):
  if pred(tree):
    return path
  items = (tree.items() if isinstance(tree, dict) else
           enumerate(tree) if isinstance(tree, list) else ())
  for k, v in items:
    p = find(v, pred, path + (k,))
    if p is not None:
      return p
  return None


def replace(tree, path, value):
  if not path:
    return value
  tree = copy.deepcopy(tree)
  node = tree
  for k in path[:-1]:
    node = node[k]
  node[path[-1]] = value
  return tree


def is_int(v):
  return isinstance(v, int) and not isinstance(v, bool)


def find_value(tree, path):
  for k in path:
    tree = tree[k]
  return tree


def max_abs(kernel):
  return np.abs(kernel).max()


MASKS_ENV = 'JAXPRUNE_RESNET50_2X_MASKS'


def mask_file():
  """The shared ResNet-50-2x masks (``$JAXPRUNE_RESNET50_2X_MASKS``, set by
  .ci/run when ../shared/data has them), or None."""
  path = os.environ.get(MASKS_ENV)
  return pathlib.Path(path) if path and os.path.isfile(path) else None

