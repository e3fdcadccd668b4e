"""Plain PyTorch versions of jaxprune's models and steps, for speed ratios.

``experiments.bench --reference=torch`` times the steps of :func:`step_runner`
in blocks alternating with those of the pmap-ed jaxprune step of the same
model, mode and batch size, so that one run measures the jaxprune/PyTorch
speed ratio on one machine, under the same load; :func:`time_step` times
PyTorch's steps alone. PyTorch is the
optional ``torch`` extra: this module imports without it, and using it
without PyTorch raises a one-line ``RuntimeError``.

Models (:func:`build_model`) have exactly the architecture and parameter
count of the registered jaxprune model of the same name at its default
widths (NCHW float32 input; PyTorch BatchNorm eps 1e-5 and momentum 0.1 as
:mod:`jaxprune.models.layers`; inits follow the jaxprune family files):

* ``resnet20/32/56/110``: CIFAR ResNets, stages 16/32/64, option-A shortcut
  ``avg_pool2d(2)`` then zero channels appended after the input's;
* ``resnet32_jackpot``: stages 32/64/128, option-A shortcut
  ``x[:, :, ::2, ::2]`` with symmetric zero padding; Linear classifier (the
  1x1 conv with bias of the official code, as jaxprune realises it);
* ``vgg16_l1``, ``vgg19_slim``, ``vgg19_wl``, ``vgg19_jackpot``: the CIFAR
  VGGs (conv3x3 -> BN -> ReLU, 2x2 max-pools; vgg16_l1's Linear-BN1d-ReLU-
  Linear head; vgg19_wl's conv biases);
* ``resnet34``, ``resnet50``: torchvision-layout ImageNet ResNets (v1.5
  bottleneck), 224x224 input;
* ``digits_cnn``: the 8x8 digits CNN (1 input channel).

Modes of :func:`time_step` (the names of ``experiments.bench``):

* ``'train'``: SGD(0.1, momentum 0.9, weight decay 1e-4) on every parameter;
* ``'masked'``: the same step with every conv weight multiplied in forward by
  a fixed 90 %-sparse magnitude mask (a buffer keeping the top 10 % of
  ``|w|`` of each conv; jaxprune's per-layer counts come from one global
  threshold, which changes the pattern, not the cost); as in jaxprune the
  masked leaves are the conv kernels only (``jaxprune.masks.prunable_paths``:
  the classifier stays dense and other Linears, vgg16_l1's ``fc1``, are not
  prunable);
* ``'search'``: the Lottery-Jackpot score search at 90 % sparsity. As in
  ``jaxprune.jackpot`` every model parameter is frozen (conv, Linear and
  BatchNorm weights and biases; BatchNorm still runs in train mode and updates
  its running statistics) and only the scores train, with SGD(0.1, momentum
  0.9, weight decay 5e-4). There is one score tensor (initialised to ``|w|``)
  per conv weight and one for the classifier weight; the forward uses
  ``w * mask`` with ``mask`` the straight-through top-k of the scores per
  layer (the top 10 % of each conv; the classifier keeps everything, as its
  jaxprune prune count is 0), so ``dL/dscores = dL/dw_eff * w``. jaxprune's
  per-layer budgets come from a global magnitude threshold and its mask
  update is the short-restriction rule; the fixed per-layer 10 % top-k here
  costs the same kind of per-step sort and dense compute.
* ``'eval'``: ``model.eval()`` forward under ``torch.no_grad()``.

Data are random float images and integer labels created once on the device
(CUDA where available, else CPU; cuDNN autotuning on, as XLA autotunes its
convs), so the figures measure the step only.

Module names equal jaxprune's param paths (``stage2_block0.conv1.weight`` is
``stage2_block0/conv1/kernel`` in OIHW layout, BN ``weight`` is ``scale``,
``running_mean``/``running_var`` are ``batch_stats`` ``mean``/``var``), so
jaxprune weights load by name.
"""

from __future__ import annotations

import contextlib
import functools
import statistics
import time
import types
from typing import Any

from jaxprune import models

NO_TORCH = '--reference=torch needs PyTorch: pip install jaxprune[torch]'

MODELS = ('resnet20', 'resnet32', 'resnet56', 'resnet110', 'resnet32_jackpot',
          'vgg16_l1', 'vgg19_slim', 'vgg19_wl', 'vgg19_jackpot', 'resnet34',
          'resnet50', 'digits_cnn')
MODES = ('train', 'masked', 'eval', 'search')
SPARSITY = 0.9

_CIFAR = (3, 32, 32)
_IMAGENET = (3, 224, 224)
INPUT_SHAPES = {name: _CIFAR for name in MODELS}
INPUT_SHAPES.update(resnet34=_IMAGENET, resnet50=_IMAGENET,
                    digits_cnn=(1, 8, 8))

M = 'M'  # a VGG max-pool in a width config
CIFAR_RESNETS = ('resnet20', 'resnet32', 'resnet56', 'resnet110')
IMAGENET_BLOCKS = (3, 4, 6, 3)


def _widths(name: str, num_classes: int):
  """The registered jaxprune model's default width config: the reference is
  built from the same widths (VGG cfgs, CIFAR ResNet stages and blocks)."""
  return models.get_spec(name).default_widths(num_classes)


def _cifar_resnet(lib, name: str, num_classes: int, shortcut: str):
  widths = _widths(name, num_classes)
  return lib.CifarResNet(len(widths['block_widths'][0]),
                         tuple(widths['stage_widths']), num_classes, shortcut)


def _require_torch():
  """The ``torch`` module, or the one-line RuntimeError of a missing extra."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise RuntimeError(NO_TORCH) from None
  return torch


def check_model(name: str) -> None:
  if name not in MODELS:
    raise ValueError(f'no PyTorch reference for model {name!r}; valid: '
                     f'{", ".join(MODELS)}')


def check_mode(mode: str) -> None:
  if mode not in MODES:
    raise ValueError(f'unknown mode {mode!r}; valid: {", ".join(MODES)}')


def check_available(model_names, modes) -> None:
  """One-line errors before anything runs: unsupported names or modes
  (``ValueError``), PyTorch not installed (``RuntimeError``)."""
  for name in model_names:
    check_model(name)
  for mode in modes:
    check_mode(mode)
  _require_torch()


def _check_count(value, what: str, minimum: int) -> int:
  if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
    raise ValueError(f'{what} must be an int >= {minimum}, got {value!r}')
  return value


@functools.lru_cache(maxsize=None)
def _lib() -> types.SimpleNamespace:
  """The torch module classes (defined once torch is known to import)."""
  torch = _require_torch()
  nn = torch.nn
  F = torch.nn.functional  # pylint: disable=invalid-name

  def conv_bn(cin, cout, k, stride, padding, bias=False):
    return (nn.Conv2d(cin, cout, k, stride, padding, bias=bias),
            nn.BatchNorm2d(cout))

  class CifarBlock(nn.Module):
    """Post-activation basic block with a parameter-free option-A shortcut."""

    def __init__(self, cin, width, out_width, stride, shortcut):
      super().__init__()
      self.conv1, self.bn1 = conv_bn(cin, width, 3, stride, 1)
      self.conv2, self.bn2 = conv_bn(width, out_width, 3, 1, 1)
      self.stride, self.shortcut = stride, shortcut
      self.extra = out_width - cin
      self.project = stride != 1 or self.extra != 0

    def forward(self, x):
      out = F.relu(self.bn1(self.conv1(x)))
      out = self.bn2(self.conv2(out))
      residual = x
      if self.project:
        if self.stride != 1:
          if self.shortcut == 'avgpool':
            residual = F.avg_pool2d(x, self.stride)
          else:
            residual = x[:, :, ::self.stride, ::self.stride]
        before = self.extra // 2 if self.shortcut == 'stride' else 0
        residual = F.pad(residual, (0, 0, 0, 0, before, self.extra - before))
      return F.relu(out + residual)

  def add_blocks(module, blocks_per_stage, make_block):
    """Adds ``stage{s}_block{b}`` children (jaxprune's names); returns their
    names in forward order."""
    names = []
    for s, n in enumerate(blocks_per_stage):
      for b in range(n):
        names.append(f'stage{s + 1}_block{b}')
        module.add_module(names[-1], make_block(s, b,
                                                2 if s > 0 and b == 0 else 1))
    return names

  class CifarResNet(nn.Module):
    """3 stages of basic blocks; global average pool; Linear classifier."""

    def __init__(self, blocks, stage_widths, num_classes, shortcut):
      super().__init__()
      self.stem_conv, self.stem_bn = conv_bn(3, stage_widths[0], 3, 1, 1)
      cin = [stage_widths[0]]

      def make(s, b, stride):
        del b
        block = CifarBlock(cin[0], stage_widths[s], stage_widths[s], stride,
                           shortcut)
        cin[0] = stage_widths[s]
        return block
      self._blocks = add_blocks(self, (blocks,) * len(stage_widths), make)
      self.classifier = nn.Linear(cin[0], num_classes)

    def forward(self, x):
      x = F.relu(self.stem_bn(self.stem_conv(x)))
      for block in self._blocks:
        x = getattr(self, block)(x)
      x = F.avg_pool2d(x, x.shape[-1])
      return self.classifier(torch.flatten(x, 1))

  class VGGBase(nn.Module):
    """VGG feature stack: conv3x3 -> BN -> ReLU per int of ``cfg``
    (``conv{i}``/``bn{i}``, i counting convs), MaxPool2d(2) per 'M'."""

    def add_features(self, cin, cfg, conv_bias):
      self._plan = []
      for v in cfg:
        if v == M:
          self._plan.append(None)
          continue
        i = sum(p is not None for p in self._plan)
        conv, bn = conv_bn(cin, v, 3, 1, 1, bias=conv_bias)
        self.add_module(f'conv{i}', conv)
        self.add_module(f'bn{i}', bn)
        self._plan.append(i)
        cin = v
      return cin

    def features(self, x):
      for i in self._plan:
        if i is None:
          x = F.max_pool2d(x, 2)
        else:  # looked up by name: prepare() may have wrapped the conv
          x = F.relu(getattr(self, f'bn{i}')(getattr(self, f'conv{i}')(x)))
      return x

  class CifarVGG(VGGBase):
    """Rethinking VGG: features, avg_pool2d(2), Linear or the L1 head."""

    def __init__(self, cfg, num_classes, head, conv_bias=False, hidden=512):
      super().__init__()
      cin = self.add_features(3, cfg, conv_bias)
      self.head = head
      if head == 'l1':
        self.fc1 = nn.Linear(cin, hidden)
        self.fc1_bn = nn.BatchNorm1d(hidden)
        cin = hidden
      self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
      x = F.avg_pool2d(self.features(x), 2)
      x = torch.flatten(x, 1)
      if self.head == 'l1':
        x = F.relu(self.fc1_bn(self.fc1(x)))
      return self.classifier(x)

  class JackpotVGG(VGGBase):
    """Lottery-Jackpots VGG-19: 5 pools to 1x1, AvgPool2d(1), classifier."""

    def __init__(self, cfg, num_classes):
      super().__init__()
      cin = self.add_features(3, cfg, False)
      self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
      x = F.avg_pool2d(self.features(x), 1)
      return self.classifier(torch.flatten(x, 1))

  class DigitsCNN(VGGBase):
    """VGG-style digits CNN: features, global mean, Linear."""

    def __init__(self, cfg, num_classes):
      super().__init__()
      cin = self.add_features(1, cfg, False)
      self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
      return self.classifier(self.features(x).mean((2, 3)))

  class ImageNetBlock(nn.Module):
    """torchvision basic block or v1.5 bottleneck (stride on the 3x3 conv),
    with the conv1x1(stride) + BN ``downsample_conv``/``downsample_bn``
    shortcut where the stride or the width changes."""

    def __init__(self, cin, width, out_width, stride, bottleneck):
      super().__init__()
      self.bottleneck = bottleneck
      if bottleneck:
        self.conv1, self.bn1 = conv_bn(cin, width, 1, 1, 0)
        self.conv2, self.bn2 = conv_bn(width, width, 3, stride, 1)
        self.conv3, self.bn3 = conv_bn(width, out_width, 1, 1, 0)
      else:
        self.conv1, self.bn1 = conv_bn(cin, width, 3, stride, 1)
        self.conv2, self.bn2 = conv_bn(width, out_width, 3, 1, 1)
      self.project = stride != 1 or cin != out_width
      if self.project:
        self.downsample_conv, self.downsample_bn = conv_bn(
            cin, out_width, 1, stride, 0)

    def forward(self, x):
      out = F.relu(self.bn1(self.conv1(x)))
      out = self.bn2(self.conv2(out))
      if self.bottleneck:
        out = self.bn3(self.conv3(F.relu(out)))
      residual = (self.downsample_bn(self.downsample_conv(x)) if self.project
                  else x)
      return F.relu(out + residual)

  class ImageNetResNet(nn.Module):
    """Stem conv7x7/2, MaxPool2d(3, 2, 1), 4 stages, global pool, Linear."""

    def __init__(self, bottleneck, num_classes):
      super().__init__()
      self.stem_conv, self.stem_bn = conv_bn(3, 64, 7, 2, 3)
      planes = (64, 128, 256, 512)
      expansion = 4 if bottleneck else 1
      cin = [64]

      def make(s, b, stride):
        del b
        out = planes[s] * expansion
        block = ImageNetBlock(cin[0], planes[s], out, stride, bottleneck)
        cin[0] = out
        return block
      self._blocks = add_blocks(self, IMAGENET_BLOCKS, make)
      self.classifier = nn.Linear(cin[0], num_classes)

    def forward(self, x):
      x = F.relu(self.stem_bn(self.stem_conv(x)))
      x = F.max_pool2d(x, 3, 2, 1)
      for block in self._blocks:
        x = getattr(self, block)(x)
      x = F.avg_pool2d(x, x.shape[-1], 1)  # AvgPool2d(7, 1) at 224x224
      return self.classifier(torch.flatten(x, 1))

  class TopKMask(torch.autograd.Function):
    """Forward: 1 at the ``k`` largest scores, else 0. Backward: identity
    (the straight-through estimator)."""

    @staticmethod
    def forward(ctx, scores, k):  # pylint: disable=arguments-differ
      del ctx
      return top_k_mask(scores, k)

    @staticmethod
    def backward(ctx, grad):  # pylint: disable=arguments-differ
      del ctx
      return grad, None

  def top_k_mask(values, k):
    flat = values.detach().reshape(-1)
    if k >= flat.numel():
      return torch.ones_like(values)
    mask = torch.zeros_like(flat)
    mask.scatter_(0, torch.topk(flat, k, sorted=False).indices, 1.0)
    return mask.view_as(values)

  class MaskedLayer(nn.Module):
    """A conv or Linear whose forward weight is ``weight * mask``: a fixed
    magnitude mask buffer, or the STE top-k of trainable scores."""

    def __init__(self, layer, keep, search):
      super().__init__()
      self.layer, self.keep, self.search = layer, keep, search
      self.is_conv = isinstance(layer, nn.Conv2d)
      w = layer.weight.detach()
      if search:
        self.scores = nn.Parameter(w.abs().clone())
      else:
        self.register_buffer('mask', top_k_mask(w.abs(), keep))
        with torch.no_grad():
          layer.weight.mul_(self.mask)

    def forward(self, x):
      layer = self.layer
      mask = (TopKMask.apply(self.scores, self.keep) if self.search
              else self.mask)
      w = layer.weight * mask
      if self.is_conv:
        return F.conv2d(x, w, layer.bias, layer.stride, layer.padding,
                        layer.dilation, layer.groups)
      return F.linear(x, w, layer.bias)

  return types.SimpleNamespace(
      CifarResNet=CifarResNet, CifarVGG=CifarVGG, JackpotVGG=JackpotVGG,
      DigitsCNN=DigitsCNN, ImageNetResNet=ImageNetResNet,
      MaskedLayer=MaskedLayer, TopKMask=TopKMask, top_k_mask=top_k_mask)


def _init(model, conv: str = 'fan_out', bn_scale: float = 1.0,
          linear_std: float | None = None, bn1d_uniform: bool = False):
  """jaxprune's inits: conv He normal over ``fan_out``/``fan_in`` (zero conv
  biases), BN2d gamma ``bn_scale``, Linear N(0, std) with zero bias (None:
  PyTorch's default, as jaxprune's Dense), BN1d gamma U(0, 1). Models without
  it keep PyTorch's defaults (the jackpot models, as in jaxprune)."""
  torch = _require_torch()
  nn = torch.nn
  for m in model.modules():
    if isinstance(m, nn.Conv2d):
      nn.init.kaiming_normal_(m.weight, mode=conv, nonlinearity='relu')
      if m.bias is not None:
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
      nn.init.constant_(m.weight, bn_scale)
    elif isinstance(m, nn.BatchNorm1d) and bn1d_uniform:
      nn.init.uniform_(m.weight, 0.0, 1.0)
    elif isinstance(m, nn.Linear) and linear_std is not None:
      nn.init.normal_(m.weight, 0.0, linear_std)
      nn.init.zeros_(m.bias)
  return model


def build_model(name: str, num_classes: int):
  """The PyTorch model of the registered jaxprune model ``name`` (default
  widths), as a ``torch.nn.Module`` taking NCHW float32 input.

  Raises:
    ValueError: ``name`` is not in :data:`MODELS`.
    RuntimeError: PyTorch is not installed.
  """
  check_model(name)
  _check_count(num_classes, 'num_classes', 1)
  lib = _lib()
  if name in CIFAR_RESNETS:
    return _init(_cifar_resnet(lib, name, num_classes, 'avgpool'))
  if name == 'resnet32_jackpot':
    return _cifar_resnet(lib, name, num_classes, 'stride')
  cfg = (tuple(_widths(name, num_classes))
         if name.startswith(('vgg', 'digits')) else None)
  if name == 'vgg16_l1':
    return _init(lib.CifarVGG(cfg, num_classes, 'l1'), bn_scale=0.5,
                 linear_std=0.01, bn1d_uniform=True)
  if name == 'vgg19_slim':
    return _init(lib.CifarVGG(cfg, num_classes, 'linear'),
                 bn_scale=0.5, linear_std=0.01)
  if name == 'vgg19_wl':
    return _init(lib.CifarVGG(cfg, num_classes, 'linear', conv_bias=True),
                 conv='fan_in', linear_std=0.01)
  if name == 'vgg19_jackpot':
    return lib.JackpotVGG(cfg, num_classes)
  if name == 'digits_cnn':
    return _init(lib.DigitsCNN(cfg, num_classes), linear_std=0.01)
  return _init(lib.ImageNetResNet(name == 'resnet50', num_classes))


def param_count(module) -> int:
  """Number of parameter entries (BatchNorm running statistics excluded)."""
  return sum(p.numel() for p in module.parameters())


def _keep_count(n: int, sparsity: float = SPARSITY) -> int:
  """Weights kept of ``n`` (jaxprune's uniform rule prunes ``int(n * p)``)."""
  return n - int(n * sparsity)


def prepare(model, mode: str) -> list[Any]:
  """Sets ``model`` up for ``mode`` in place; returns what the optimizer
  trains (every parameter, or the scores of ``'search'``)."""
  check_mode(mode)
  torch = _require_torch()
  lib = _lib()
  if mode in ('train', 'eval'):
    return list(model.parameters())
  search = mode == 'search'
  if search:
    for p in model.parameters():
      p.requires_grad_(False)
  targets = []
  for parent in model.modules():
    for child_name, child in parent.named_children():
      if isinstance(child, torch.nn.Conv2d):
        targets.append((parent, child_name, child,
                        _keep_count(child.weight.numel())))
  if search:  # the classifier is scored but keeps every weight
    targets.append((model, 'classifier', model.classifier,
                    model.classifier.weight.numel()))
  scores = []
  for parent, child_name, child, keep in targets:
    wrapped = lib.MaskedLayer(child, keep, search)
    setattr(parent, child_name, wrapped)
    if search:
      scores.append(wrapped.scores)
  return scores if search else list(model.parameters())


def _step_fn(model, mode, images, labels):
  """A no-argument callable running one step of ``mode``."""
  torch = _require_torch()
  F = torch.nn.functional  # pylint: disable=invalid-name
  trainable = prepare(model, mode)
  if mode == 'eval':
    model.eval()

    def step():
      with torch.no_grad():
        return model(images)
    return step
  model.train()
  weight_decay = 5e-4 if mode == 'search' else 1e-4
  opt = torch.optim.SGD(trainable, lr=0.1, momentum=0.9,
                        weight_decay=weight_decay)

  def step():
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss
  return step


@contextlib.contextmanager
def step_runner(name: str, mode: str, batch_size: int, num_classes: int = 10,
                threads: int | None = None, device: str | None = None):
  """A PyTorch step of ``mode`` on model ``name``, to time step by step.

  Yields ``(run, info)``: ``run()`` does one step and returns its seconds
  (synchronised on CUDA); ``info`` is ``{'torch' (version), 'threads',
  'device'}``. The first ``run()`` is the one that sets kernels up
  (``compile_s`` of :func:`time_step`). ``torch.set_num_threads`` (and
  cuDNN's benchmark mode on CUDA) hold inside the ``with`` block only, so a
  caller may interleave these steps with jaxprune's (``experiments.bench
  --reference=torch``).

  Args:
    name: a model of :data:`MODELS`.
    mode: one of :data:`MODES`.
    batch_size: images per step.
    num_classes: classes of the model and the random labels.
    threads: ``torch.set_num_threads`` inside the block (None: leave it).
    device: torch device (None: ``'cuda'`` where available, else ``'cpu'``).

  Raises:
    ValueError: an unknown model or mode, or a bad count (before anything is
      built).
    RuntimeError: PyTorch is not installed.
  """
  check_model(name)
  check_mode(mode)
  _check_count(batch_size, 'batch_size', 1)
  _check_count(num_classes, 'num_classes', 1)
  if threads is not None:
    _check_count(threads, 'threads', 1)
  torch = _require_torch()
  dev = torch.device(device or ('cuda' if torch.cuda.is_available()
                                else 'cpu'))
  sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
  previous_threads = torch.get_num_threads()
  previous_benchmark = torch.backends.cudnn.benchmark
  if threads is not None:
    torch.set_num_threads(threads)
  if dev.type == 'cuda':
    torch.backends.cudnn.benchmark = True
  try:
    used_threads = torch.get_num_threads()
    torch.manual_seed(0)
    model = build_model(name, num_classes)
    gen = torch.Generator().manual_seed(1)
    images = torch.rand((batch_size, *INPUT_SHAPES[name]), generator=gen)
    labels = torch.randint(0, num_classes, (batch_size,), generator=gen)
    model.to(dev)
    step = _step_fn(model, mode, images.to(dev), labels.to(dev))
    sync()

    def run() -> float:
      t = time.perf_counter()
      step()
      sync()
      return time.perf_counter() - t
    yield run, {'torch': torch.__version__, 'threads': used_threads,
                'device': str(dev)}
  finally:
    torch.set_num_threads(previous_threads)
    torch.backends.cudnn.benchmark = previous_benchmark


def time_step(name: str, mode: str, batch_size: int, steps: int, warmup: int,
              num_classes: int = 10, threads: int | None = None,
              device: str | None = None) -> dict[str, Any]:
  """Times ``steps`` PyTorch steps of ``mode`` on model ``name`` in a row.

  Args:
    name, mode, batch_size, num_classes, threads, device: as
      :func:`step_runner`.
    steps: timed steps (>= 1); ``ms_per_step`` is their median.
    warmup: untimed steps after the first call.

  Returns:
    ``{'ms_per_step', 'images_per_s', 'compile_s' (the first call, s),
    'torch' (version), 'threads', 'device'}``.

  Raises:
    ValueError, RuntimeError: as :func:`step_runner`.
  """
  _check_count(steps, 'steps', 1)
  _check_count(warmup, 'warmup', 0)
  with step_runner(name, mode, batch_size, num_classes, threads,
                   device) as (run, info):
    compile_s = run()
    for _ in range(warmup):
      run()
    times = [run() for _ in range(steps)]
  step_s = statistics.median(times)
  return {'ms_per_step': round(1e3 * step_s, 3),
          'images_per_s': round(batch_size / step_s, 1),
          'compile_s': round(compile_s, 3), **info}
