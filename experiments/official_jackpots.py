"""The official Lottery Jackpots code's CIFAR search step, timed from your checkout.

``experiments.bench --reference=official --official_checkout=PATH`` times
this step in blocks alternating with jaxprune's search step of the same
model, so that one run gives the jaxprune/official speed ratio that issue
12's table states (its "official PyTorch" column). Nothing of the official
code is in this project: ``PATH`` is a checkout of
``github.com/zyxxmu/lottery-jackpots`` that you provide, imported as it is.

The step is the body of the official ``cifar.py`` training loop with
``freeze_weights`` (the paper's search, Zhang et al. TPAMI 2023, Sec. 3):
``zero_grad``, forward, the loss (the official loss: ``LabelSmoothing`` at the
config's smoothing 0.0), backward, ``loss.item()``, ``optimizer.step()``,
then every prunable layer's ``final_pop_up(rate)`` (the official short
restriction, sorts and host round trips included) and the top-1 accuracy.
It is set up as the official ``get_model`` leaves it: a freshly initialised
model whose per-layer prune rates come from one global magnitude threshold
at ``sparsity`` (``layerwise: l1``; the classifier keeps everything), every
weight and bias frozen, SGD on the scores (lr 0.1, momentum 0.9, weight decay
5e-4, the configs' values), ``rate`` 1 (``adjust_rate`` before the last
epoch). Data are random float images and labels made once, at ``batch_size``,
as :mod:`experiments.torch_reference`'s.

The official modules read ``sys.argv`` when imported (``utils.options``
parses a YAML config); :func:`step_runner` imports them with a command line
naming the checkout's own config, then restores ``sys.argv``, ``sys.path``
and ``sys.modules``. CPU only (the official code moves some masks with
``.cpu()``).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator

# jaxprune model -> (official architecture, config under configs/)
ARCHITECTURES = {
    'resnet32_jackpot': ('resnet32_cifar10',
                         'resnet32_cifar10/90sparsity30epoch.yaml'),
    'vgg19_jackpot': ('vgg19_cifar10', 'vgg19_cifar10/90sparsity30epoch.yaml'),
}
MODES = ('search',)
_NEEDED = ('models/__init__.py', 'utils/options.py', 'utils/common.py',
           'utils/conv_type.py')
# the official checkout's top-level packages, dropped from sys.modules after
_PACKAGES = ('models', 'utils', 'configs', 'data')


def check_checkout(path: str, model_names, modes) -> None:
  """One-line ``ValueError`` unless ``path`` holds the official code and the
  models and modes have an official step here."""
  if not path:
    raise ValueError('--reference=official needs --official_checkout=PATH, '
                     'a checkout of github.com/zyxxmu/lottery-jackpots')
  unknown = sorted(set(model_names) - set(ARCHITECTURES))
  if unknown:
    raise ValueError(f'no official Lottery Jackpots step for {unknown}; '
                     f'models: {sorted(ARCHITECTURES)}')
  other = sorted(set(modes) - set(MODES))
  if other:
    raise ValueError(f'the official Lottery Jackpots step is the search; '
                     f'modes {other} have none (use --modes=search)')
  if not os.path.isdir(path):
    raise ValueError(f'--official_checkout={path!r} is not a directory')
  needed = list(_NEEDED) + [os.path.join('configs', ARCHITECTURES[m][1])
                            for m in model_names]
  missing = [f for f in needed if not os.path.isfile(os.path.join(path, f))]
  if missing:
    raise ValueError(f'--official_checkout={path!r} is not a Lottery '
                     f'Jackpots checkout: it has no {", ".join(missing)}')


def checkout_commit(path: str) -> str | None:
  """The checkout's git commit, or None where ``path`` is not the top of a
  git work tree (a copy inside another repository is not that one's commit)."""
  try:
    out = subprocess.run(['git', '-C', path, 'rev-parse', '--show-toplevel',
                          'HEAD'], capture_output=True, text=True, check=True)
  except (OSError, subprocess.CalledProcessError):
    return None
  lines = out.stdout.split()
  if len(lines) != 2 or (os.path.realpath(lines[0])
                         != os.path.realpath(path)):
    return None
  return lines[1]


@contextlib.contextmanager
def _official_imports(path: str, config: str, job_dir: str) -> Iterator[None]:
  """``path`` first on ``sys.path`` and its config on ``sys.argv`` while the
  official modules import; afterwards both are restored and the official
  packages leave ``sys.modules`` (their names are generic; what was built
  from them keeps working)."""
  saved_argv, saved_path = sys.argv, list(sys.path)
  clashing = [m for m in sys.modules if m.split('.')[0] in _PACKAGES]
  if clashing:
    raise RuntimeError(f'modules named like the official packages are '
                       f'already imported: {sorted(clashing)[:3]}')
  sys.argv = ['cifar.py', '--config', os.path.join(path, 'configs', config),
              '--job_dir', job_dir]
  sys.path.insert(0, path)
  try:
    yield
  finally:
    sys.argv, sys.path[:] = saved_argv, saved_path
    for name in [m for m in sys.modules if m.split('.')[0] in _PACKAGES]:
      del sys.modules[name]


def prune_rates(torch, layers, sparsity: float) -> list[float]:
  """Per-layer prune rates of the official ``layerwise: l1``: one threshold,
  the magnitude of the ``(1 - sparsity) * n``-th largest conv weight, and
  each conv's fraction of weights below it; the classifier (last) gets 0."""
  weights = [m.weight.detach().reshape(-1) for _, m in layers[:-1]]
  flat = torch.cat(weights).abs()
  keep = int(flat.numel() * (1 - sparsity))
  threshold = torch.topk(flat, keep).values[keep - 1]
  return [float((w.abs() < threshold).sum()) / w.numel()
          for w in weights] + [0.0]


@contextlib.contextmanager
def step_runner(path: str, model_name: str, batch_size: int,
                sparsity: float = 0.9, threads: int | None = None,
                seed: int = 0):
  """The official search step of ``model_name`` from the checkout at
  ``path``, to time step by step (see the module doc).

  Yields ``(run, info)``: ``run()`` does one step and returns its seconds;
  ``info``: ``{'torch', 'threads', 'commit', 'architecture',
  'pop_up_layers'}``. ``torch.set_num_threads(threads or os.cpu_count())``
  holds inside the ``with`` block only.

  Raises:
    ValueError: as :func:`check_checkout`, or a batch size below 1.
    RuntimeError: PyTorch is not installed (the ``torch`` extra), or the
      official code does not import (e.g. its ``pyyaml`` is missing).
  """
  check_checkout(path, [model_name], ['search'])
  if batch_size < 1:
    raise ValueError(f'batch_size must be >= 1, got {batch_size}')
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise RuntimeError('--reference=official needs PyTorch (pip install '
                       '"jaxprune[torch]")') from e
  architecture, config = ARCHITECTURES[model_name]
  saved_threads = torch.get_num_threads()
  torch.set_num_threads(threads or os.cpu_count() or 1)
  try:
    # the official setup prints every frozen parameter: keep it quiet; its
    # modules leave sys.modules here, their functions keep working
    with tempfile.TemporaryDirectory() as job_dir, _official_imports(
        path, config, job_dir), contextlib.redirect_stdout(io.StringIO()):
      try:
        import models  # pylint: disable=g-import-not-at-top,import-error
        from utils import common  # pylint: disable=g-import-not-at-top,import-error
        from utils.options import args  # pylint: disable=g-import-not-at-top,import-error
      except (ImportError, SystemExit) as e:  # SystemExit: its argparse
        raise RuntimeError(f'the official code at {path!r} could not be '
                           f'imported: {e!r}') from e
      torch.manual_seed(seed)
      model = getattr(models, architecture)()
      layers = [(n, m) for n, m in model.named_modules()
                if hasattr(m, 'set_prune_rate')]
      for (_, module), rate in zip(layers,
                                   prune_rates(torch, layers, sparsity)):
        module.set_prune_rate(rate)
      common.freeze_model_weights(model)
      scores = [p for p in model.parameters() if p.requires_grad]
      optimizer = torch.optim.SGD(scores, args.lr, momentum=args.momentum,
                                  weight_decay=args.weight_decay,
                                  nesterov=args.nesterov)
      loss_fn = common.LabelSmoothing(smoothing=args.label_smoothing)
      pop_up_rate = math.ceil((1 - 0 / args.num_epochs) ** 4)
      generator = torch.Generator().manual_seed(seed)
      inputs = torch.randn(batch_size, 3, 32, 32, generator=generator)
      targets = torch.randint(0, 10, (batch_size,), generator=generator)
      model.train()

    def run() -> float:
      start = time.perf_counter()
      optimizer.zero_grad()
      outputs = model(inputs)
      loss = loss_fn(outputs, targets)
      loss.backward()
      loss.item()
      optimizer.step()
      for _, module in layers:
        module.final_pop_up(pop_up_rate)
      common.accuracy(outputs, targets)
      return time.perf_counter() - start

    yield run, {'torch': torch.__version__,
                'threads': torch.get_num_threads(),
                'commit': checkout_commit(path),
                'architecture': architecture,
                'pop_up_layers': len(layers)}
  finally:
    torch.set_num_threads(saved_threads)


def as_row(step_s: float, first_s: float, reference_s: float,
           info: dict[str, Any], blocks: int) -> dict[str, Any]:
  """The bench row's fields of an official reference timing."""
  return {'official_ms_per_step': round(1e3 * reference_s, 3),
          'official_first_step_s': round(first_s, 3),
          'official_commit': info['commit'],
          'official_architecture': info['architecture'],
          'official_threads': info['threads'],
          'torch_version': info['torch'],
          'reference_blocks': blocks,
          'speed_vs_official': round(reference_s / step_s, 3)}
