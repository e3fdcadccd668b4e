"""Pre-activation bottleneck ResNets with removable residual blocks, for
Sparse Structure Selection (Huang & Wang 2018; rethinking.md §3.5).

Registered names:

* ``preresnet50_sss``: the MXNet pre-activation ResNet-50 of the SSS code
  (ImageNet, 224x224): stem conv7x7/2 (64) -> BN -> ReLU -> max-pool 3x3/2;
  stages of bottlenecks, planes 64/128/256/512 (expansion 4), [3, 4, 6, 3]
  blocks, strides 1/2/2/2; final BN -> ReLU -> global average pool ->
  Linear.
* ``preresnet_sss_cifar``: the same block design on CIFAR (32x32): stem
  conv3x3 (16), planes 16/32/64, [3, 3, 3] blocks (a 29-layer net),
  strides 1/2/2, final BN -> ReLU -> AvgPool(8) -> Linear; small enough to
  run the SSS search end to end on a CPU.

Block (pre-activation): ``a = ReLU(BN1(x))``; branch ``conv1x1(p) -> BN ->
ReLU -> conv3x3(p, stride) -> BN -> ReLU -> conv1x1(4p)``; shortcut
``conv1x1(4p, stride)(a)`` (projection, taken from ``a`` as in the MXNet
code) for each stage's first block, the identity ``x`` otherwise; output
``branch * lambda + shortcut`` where ``lambda`` (param ``block_scale``, a
scalar initialised to 1) exists only in a *gated* model (the SSS search).

Width config (JSON)::

  {'blocks': [[kept, first_kept], ...],   # one pair per stage
   'gated': false}

``kept`` residual branches survive in the stage (``0 <= kept <= n_s``);
``first_kept`` says whether the stage's first block keeps its branch. A
removed first block keeps its projection shortcut (``BN1 -> ReLU ->
conv1x1``), so a stage always changes width and resolution; ``[0, false]``
leaves only that shortcut. Depth = 3 * sum(kept) + 2 (ResNet-50: 16 blocks).
``[kept, true]`` with kept = 0 is contradictory and refused.

Param paths: ``stage{s}_block{b}`` with b = 0 the stage's first block (its
``downsample/kernel`` always, its branch if ``first_kept``), b = 1.. the
remaining kept blocks; in each block ``bn1``, ``conv1``, ``bn2``, ``conv2``,
``bn3``, ``conv3``, ``downsample`` (first only), ``block_scale`` (gated
only); ``final_bn``, ``classifier``.

:func:`remove_blocks` is the SSS surgery: blocks whose ``lambda`` is 0 lose
their branch (a non-first block disappears: it is the identity), the other
``lambda`` are folded into their ``conv3`` kernels, and the result is the
ungated model of the smaller block config with the same function.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from jaxprune.models import _common
from jaxprune.models import fusion_cut
from jaxprune.models import layers
from jaxprune.models import spec as spec_lib

EXPANSION = 4
BLOCK_SCALE = 'block_scale'


class SSSBottleneck(nn.Module):
  """One pre-activation bottleneck; ``branch=False``: the shortcut only."""
  planes: int
  stride: int = 1
  projection: bool = False
  branch: bool = True
  gated: bool = False
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    bn = lambda name: layers.BatchNorm(axis_name=self.axis_name, name=name)
    a = layers.relu(bn('bn1')(x, train))
    shortcut = x
    if self.projection:
      shortcut = layers.Conv(self.planes * EXPANSION, kernel_size=1,
                             strides=self.stride, padding=0,
                             name='downsample')(a)
    if not self.branch:
      return shortcut
    y = layers.Conv(self.planes, kernel_size=1, padding=0, name='conv1')(a)
    y = layers.relu(bn('bn2')(y, train))
    y = layers.Conv(self.planes, strides=self.stride, name='conv2')(y)
    y = layers.relu(bn('bn3')(y, train))
    y = layers.Conv(self.planes * EXPANSION, kernel_size=1, padding=0,
                    name='conv3')(y)
    if self.gated:
      scale = self.param(BLOCK_SCALE, nn.initializers.ones, ())
      y = y * scale.astype(y.dtype)
    return fusion_cut.cut(y + shortcut)


class SSSPreResNet(nn.Module):
  """Pre-activation bottleneck ResNet of a block config (module docstring)."""
  blocks: tuple[tuple[int, bool], ...]
  planes: tuple[int, ...]
  strides: tuple[int, ...]
  imagenet_stem: bool
  gated: bool = False
  num_classes: int = 1000
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.imagenet_stem:
      x = layers.Conv(64, kernel_size=7, strides=2, padding=3,
                      name='stem_conv')(x)
      x = layers.relu(layers.BatchNorm(axis_name=self.axis_name,
                                       name='stem_bn')(x, train))
      x = layers.max_pool(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)),
                                  constant_values=-jnp.inf), 3, 2)
    else:
      x = layers.Conv(16, name='stem_conv')(x)
    for s, ((kept, first), planes, stride) in enumerate(
        zip(self.blocks, self.planes, self.strides)):
      block = lambda b, **kw: SSSBottleneck(
          planes, gated=self.gated, axis_name=self.axis_name,
          name=f'stage{s + 1}_block{b}', **kw)
      x = block(0, stride=stride, projection=True, branch=bool(first))(
          x, train)
      for b in range(1, kept - int(bool(first)) + 1):
        x = block(b)(x, train)
    x = layers.relu(layers.BatchNorm(axis_name=self.axis_name,
                                     name='final_bn')(x, train))
    x = layers.avg_pool(x, x.shape[1])
    x = _common.flatten_nchw(x)
    return layers.Dense(self.num_classes, name='classifier')(x)


def check_blocks(blocks, full: tuple[int, ...]) -> list[list]:
  """A block config against the stage sizes ``full``; ValueError naming the
  bad stage."""
  if not isinstance(blocks, (list, tuple)) or len(blocks) != len(full):
    raise ValueError(f'width config: blocks must list {len(full)} stages as '
                     f'[kept, first_kept], got {blocks!r}')
  out = []
  for s, (pair, n) in enumerate(zip(blocks, full)):
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
      raise ValueError(f'width config: blocks[{s}] must be [kept, '
                       f'first_kept], got {pair!r}')
    kept, first = pair
    if isinstance(kept, bool) or not isinstance(kept, int) or not (
        0 <= kept <= n):
      raise ValueError(f'width config: blocks[{s}] keeps {kept!r} blocks; '
                       f'stage {s + 1} has {n}')
    if not isinstance(first, bool):
      raise ValueError(f'width config: blocks[{s}][1] (first block kept) '
                       f'must be true or false, got {first!r}')
    if first and kept == 0:
      raise ValueError(f'width config: blocks[{s}] = [0, true] keeps the '
                       'first block but no block')
    if not first and kept == n:
      raise ValueError(f'width config: blocks[{s}] = [{n}, false] removes the '
                       f'first block but keeps {n} others; stage {s + 1} has '
                       f'only {n - 1} besides its first')
    out.append([kept, first])
  return out


def depth(blocks) -> int:
  """3 * (kept blocks) + 2: ResNet-50, -41, -32, -26 (rethinking.md §3.5)."""
  return 3 * sum(k for k, _ in blocks) + 2


def remove_blocks(widths, params, batch_stats):
  """The SSS surgery (module docstring): ``(new widths, params, stats)``
  with numpy leaves; the new model is ungated."""
  new_params: dict[str, Any] = {}
  new_stats: dict[str, Any] = {}
  blocks = []
  for s, (kept, first) in enumerate(widths['blocks']):
    names = [f'stage{s + 1}_block{b}'
             for b in range(kept - int(first) + 1)]
    alive = []
    for b, name in enumerate(names):
      if b == 0 and not first:
        alive.append((name, False, None))
        continue
      scale = float(np.asarray(params[name][BLOCK_SCALE])) if (
          BLOCK_SCALE in params[name]) else 1.0
      if scale == 0.0:
        if b == 0:
          alive.append((name, False, None))
        continue
      alive.append((name, True, scale))
    first_alive = alive[0][1]
    rest = alive[1:]
    blocks.append([int(first_alive) + len(rest), first_alive])
    for b, (name, branch, scale) in enumerate([alive[0]] + rest):
      new = f'stage{s + 1}_block{b}'
      block = {}
      for key, leaf in params[name].items():
        if key == BLOCK_SCALE:
          continue
        if not branch and key not in ('bn1', 'downsample'):
          continue
        block[key] = jax_tree_np(leaf)
      if branch and scale != 1.0:
        block['conv3'] = {'kernel': block['conv3']['kernel'] * np.float32(
            scale)}
      new_params[new] = block
      new_stats[new] = {k: jax_tree_np(v) for k, v in
                        batch_stats.get(name, {}).items()
                        if branch or k == 'bn1'}
  for name in params:
    if not name.startswith('stage'):
      new_params[name] = jax_tree_np(params[name])
      if name in batch_stats:
        new_stats[name] = jax_tree_np(batch_stats[name])
  return {'blocks': blocks, 'gated': False}, new_params, new_stats


def jax_tree_np(tree):
  """Nested dicts of arrays -> the same with numpy leaves."""
  if isinstance(tree, dict):
    return {k: jax_tree_np(v) for k, v in tree.items()}
  return np.asarray(tree)


def _register(name, full, planes, strides, imagenet, input_shape,
              description):
  def validate(widths):
    _common.check_keys(widths, ('blocks',), ('gated',))
    check_blocks(widths['blocks'], full)
    if not isinstance(widths.get('gated', False), bool):
      raise ValueError('width config: gated must be true or false')

  def build(num_classes, widths, axis_name):
    blocks = tuple((int(k), bool(f)) for k, f in widths['blocks'])
    return SSSPreResNet(blocks, planes, strides, imagenet,
                        bool(widths.get('gated', False)), num_classes,
                        axis_name)

  spec_lib.register_model(spec_lib.ModelSpec(
      name=name, build=build,
      default_widths=lambda nc: {'blocks': [[n, True] for n in full],
                                 'gated': False},
      validate_widths=validate, input_shape=input_shape,
      description=description))


IMAGENET_BLOCKS = (3, 4, 6, 3)
CIFAR_BLOCKS = (3, 3, 3)
_register('preresnet50_sss', IMAGENET_BLOCKS, (64, 128, 256, 512),
          (1, 2, 2, 2), True, (224, 224, 3),
          'pre-activation ResNet-50 with removable blocks (SSS, MXNet layout)')
_register('preresnet_sss_cifar', CIFAR_BLOCKS, (16, 32, 64), (1, 2, 2), False,
          (32, 32, 3),
          'CIFAR pre-activation ResNet-29 with removable blocks (SSS on CPU)')
