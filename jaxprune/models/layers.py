"""Linen layers with PyTorch semantics that report their cost to jaxprune.flops.

``Conv`` and ``Dense`` ``sow`` their input and output into the
``'intermediates'`` collection (``inputs``/``outputs``), a no-op unless a
caller makes that collection mutable (:mod:`jaxprune.pruning.activations`).

Kernels are HWIO (convs) and (in, out) (dense); parameter names follow Flax
(``kernel``, ``bias``, ``scale``) so param trees look like any Linen model's.
BatchNorm follows PyTorch: eps 1e-5, running-stat momentum 0.1 (Flax 0.9),
and the running variance is updated with the *unbiased* batch variance.
With ``axis_name`` set, batch statistics are averaged over that pmap/shard_map
axis (synchronised BN: the statistics of the global batch).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxprune import flops as flops_lib
from jaxprune.models import conv_lowering as conv_lowering_lib
from jaxprune.models import pool_lowering as pool_lowering_lib

Initializer = Callable[..., jax.Array]


def he_normal_fan_out(key, shape, dtype=jnp.float32):
  """N(0, sqrt(2 / (k_h*k_w*C_out))) for an HWIO kernel (PyTorch-style He)."""
  kh, kw, _, cout = shape
  std = math.sqrt(2.0 / (kh * kw * cout))
  return std * jax.random.normal(key, shape, dtype)


def he_normal_fan_in(key, shape, dtype=jnp.float32):
  """N(0, sqrt(2 / (k_h*k_w*C_in))) for an HWIO kernel."""
  kh, kw, cin, _ = shape
  std = math.sqrt(2.0 / (kh * kw * cin))
  return std * jax.random.normal(key, shape, dtype)


def normal_init(std: float) -> Initializer:
  def init(key, shape, dtype=jnp.float32):
    return std * jax.random.normal(key, shape, dtype)
  return init


def torch_default_uniform(fan_in: int) -> Initializer:
  """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch 0.3.1 Linear/Conv default."""
  bound = 1.0 / math.sqrt(fan_in)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return init


def constant_init(value: float) -> Initializer:
  def init(key, shape, dtype=jnp.float32):
    del key
    return jnp.full(shape, value, dtype)
  return init


def uniform01_init(key, shape, dtype=jnp.float32):
  """U(0, 1): PyTorch 0.3.1's default BN scale."""
  return jax.random.uniform(key, shape, dtype)


def _path(module: nn.Module) -> tuple[str, ...]:
  return tuple(str(p) for p in module.scope.path)


class Conv(nn.Module):
  """2-D convolution with PyTorch-style symmetric integer padding (NHWC)."""
  features: int
  kernel_size: int = 3
  strides: int = 1
  padding: int = 1
  use_bias: bool = False
  kernel_init: Initializer = he_normal_fan_out
  bias_init: Initializer = nn.initializers.zeros

  @nn.compact
  def __call__(self, x):
    if self.features <= 0:
      raise ValueError(f'conv {"/".join(_path(self))} has width '
                       f'{self.features}; widths must be positive')
    cin = x.shape[-1]
    k = self.kernel_size
    self.sow('intermediates', 'inputs', x)  # a no-op unless captured
    kernel = self.param('kernel', self.kernel_init, (k, k, cin, self.features))
    y = conv_lowering_lib.conv2d(x, kernel.astype(x.dtype), self.strides,
                                 self.padding)
    if self.use_bias:
      bias = self.param('bias', self.bias_init, (self.features,))
      y = y + bias.astype(y.dtype)
    self.sow('intermediates', 'outputs', y)
    spatial = y.shape[1] * y.shape[2]
    bias_flops = spatial * self.features if self.use_bias else 0
    flops_lib.record('conv', _path(self),
                     2 * k * k * cin * self.features * spatial + bias_flops,
                     spatial=spatial, bias_flops=bias_flops)
    return y


class Dense(nn.Module):
  """Fully connected layer; costs ``2*W.size + b.size`` FLOPs."""
  features: int
  use_bias: bool = True
  kernel_init: Initializer | None = None  # None: PyTorch default uniform
  bias_init: Initializer | None = None

  @nn.compact
  def __call__(self, x):
    if self.features <= 0:
      raise ValueError(f'dense {"/".join(_path(self))} has width '
                       f'{self.features}; widths must be positive')
    fan_in = x.shape[-1]
    self.sow('intermediates', 'inputs', x)
    default = torch_default_uniform(fan_in)
    kernel = self.param('kernel', self.kernel_init or default,
                        (fan_in, self.features))
    y = x @ kernel.astype(x.dtype)
    flops = 2 * fan_in * self.features
    if self.use_bias:
      bias = self.param('bias', self.bias_init or default, (self.features,))
      y = y + bias.astype(y.dtype)
      flops += self.features
    self.sow('intermediates', 'outputs', y)
    flops_lib.record('linear', _path(self), flops)
    return y


class BatchNorm(nn.Module):
  """BatchNorm over all axes but the last, with PyTorch semantics.

  Attributes:
    momentum: Flax convention (0.9 == PyTorch momentum 0.1).
    epsilon: 1e-5 as PyTorch.
    scale_init: initial gamma (0.5 for the slimming/L1 models, 1 otherwise).
    axis_name: if set, batch statistics are averaged over this named axis.
    count_flops: BatchNorm2d counts 2*numel(input); BatchNorm1d is not
      counted (set False).
  """
  momentum: float = 0.9
  epsilon: float = 1e-5
  scale_init: Initializer = nn.initializers.ones
  axis_name: str | None = None
  count_flops: bool = True

  @nn.compact
  def __call__(self, x, train: bool):
    c = x.shape[-1]
    scale = self.param('scale', self.scale_init, (c,))
    bias = self.param('bias', nn.initializers.zeros, (c,))
    ra_mean = self.variable('batch_stats', 'mean', jnp.zeros, (c,), jnp.float32)
    ra_var = self.variable('batch_stats', 'var', jnp.ones, (c,), jnp.float32)
    if train:
      axes = tuple(range(x.ndim - 1))
      xf = x.astype(jnp.float32)
      mean = jnp.mean(xf, axes)
      mean_sq = jnp.mean(jnp.square(xf), axes)
      n = math.prod(x.shape[:-1])
      if self.axis_name is not None:
        mean, mean_sq = jax.lax.pmean((mean, mean_sq), self.axis_name)
        n = n * jax.lax.psum(1, self.axis_name)
      var = jnp.maximum(mean_sq - jnp.square(mean), 0.0)
      if not self.is_initializing():
        unbiased = var * (n / max(n - 1, 1)) if isinstance(n, int) else (
            var * n / jnp.maximum(n - 1, 1))
        ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
        ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * unbiased
    else:
      mean, var = ra_mean.value, ra_var.value
    inv = jax.lax.rsqrt(var + self.epsilon) * scale
    y = (x - mean.astype(x.dtype)) * inv.astype(x.dtype) + bias.astype(x.dtype)
    if self.count_flops:
      flops_lib.record('bn', _path(self), 2 * math.prod(x.shape[1:]))
    return y


def relu(x):
  """ReLU; counts numel(input) per call."""
  flops_lib.record('relu', (), math.prod(x.shape[1:]))
  return jax.nn.relu(x)


def _pool(x, window: int, stride: int, op: str, counted: bool):
  dims = (1, window, window, 1)
  strides = (1, stride, stride, 1)
  if op == 'max':
    y = pool_lowering_lib.max_pool(x, window, stride)
  else:
    y = jax.lax.reduce_window(x, 0.0, jax.lax.add, dims, strides,
                              'VALID') / (window * window)
  if counted:
    flops_lib.record('pool', (), window * window * math.prod(y.shape[1:]))
  return y


def max_pool(x, window: int = 2, stride: int | None = None,
             counted: bool = True):
  """Max pooling; a pooling *module* in the reference counts k*k*numel(out)."""
  return _pool(x, window, stride or window, 'max', counted)


def avg_pool(x, window: int = 2, stride: int | None = None,
             counted: bool = True):
  """Average pooling; pass counted=False for the reference's functional pools."""
  return _pool(x, window, stride or window, 'avg', counted)


def select_channels(x, indices: Sequence[int] | None):
  """Network Slimming's channel_selection: a static gather, 0 FLOPs."""
  if indices is None:
    return x
  return jnp.take(x, jnp.asarray(np.asarray(indices, np.int32)), axis=-1)


def vgg_features(x, cfg: Sequence[Any], train: bool, *,
                 axis_name: str | None = None,
                 kernel_init: Initializer = he_normal_fan_out,
                 conv_bias: bool = False, bn_scale: float | None = 1.0):
  """The VGG feature stack of a cfg: conv3x3 [-> BN] -> ReLU per int, a
  counted 2x2 max-pool per 'M'. Call it inside a compact ``__call__``; layers
  are named ``conv{i}`` / ``bn{i}`` with i counting convs from 0.

  ``bn_scale`` is the initial BN gamma; None builds no BN (VGG without BN).
  """
  i = 0
  for v in cfg:
    if v == 'M':
      x = max_pool(x, 2)
      continue
    x = Conv(v, use_bias=conv_bias, kernel_init=kernel_init,
             name=f'conv{i}')(x)
    if bn_scale is not None:
      x = BatchNorm(scale_init=constant_init(bn_scale), axis_name=axis_name,
                    name=f'bn{i}')(x, train)
    x = relu(x)
    i += 1
  return x
