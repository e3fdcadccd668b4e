"""The official-step reference: checks, the step it times, and the bench row.

The official code is not part of jaxprune, so these tests build a stand-in
checkout with the same layout and interfaces (``models.resnet32_cifar10``,
``utils.options.args`` parsed from ``sys.argv`` with a ``--config`` file,
``utils.common``'s ``freeze_model_weights``, ``LabelSmoothing`` and
``accuracy``, layers with ``set_prune_rate`` and ``final_pop_up``) whose
layers count their mask updates.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from experiments import official_jackpots

torch = pytest.importorskip('torch')

_FILES = {
    'configs/resnet32_cifar10/90sparsity30epoch.yaml': 'lr: 0.1\n',
    'utils/options.py': '''
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument('--config')
        parser.add_argument('--job_dir')
        args = parser.parse_args()
        for line in open(args.config):  # the official code reads YAML
          key, value = line.split(':')
          setattr(args, key.strip(), float(value))
        args.momentum, args.weight_decay, args.nesterov = 0.9, 5e-4, False
        args.label_smoothing, args.num_epochs = 0.0, 30
        ''',
    'utils/common.py': '''
        import torch
        from torch import nn
        from utils.options import args

        class LabelSmoothing(nn.Module):
          def __init__(self, smoothing=0.0):
            super().__init__()
            self.smoothing = smoothing
          def forward(self, x, target):
            return nn.functional.cross_entropy(x, target)

        def freeze_model_weights(model):
          for m in model.modules():
            if getattr(m, 'weight', None) is not None:
              print('==> No gradient to weight')
              m.weight.requires_grad = False

        def accuracy(output, target):
          return [(output.argmax(1) == target).float().mean() * 100]
        ''',
    'utils/conv_type.py': '''
        import os
        import torch
        from torch import nn

        class PretrainLinear(nn.Linear):
          def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.mask = nn.Parameter(torch.ones(self.weight.shape))
          def set_prune_rate(self, rate):
            self.prune_rate = rate
          def forward(self, x):
            return nn.functional.linear(x, self.weight * self.mask, self.bias)
          def final_pop_up(self, rate):
            os.environ['FAKE_POP_UPS'] = str(
                int(os.environ.get('FAKE_POP_UPS', '0')) + 1)
            os.environ['FAKE_PRUNE_RATES'] = (
                os.environ.get('FAKE_PRUNE_RATES', '') + f'{self.prune_rate},')
        ''',
    'models/__init__.py': '''
        from torch import nn
        from utils.options import args
        from utils.conv_type import PretrainLinear

        class Net(nn.Module):
          def __init__(self):
            super().__init__()
            self.conv1 = PretrainLinear(3 * 32 * 32, 16, bias=False)
            self.conv2 = PretrainLinear(16, 16, bias=False)
            self.fc = PretrainLinear(16, 10)
          def forward(self, x):
            x = nn.functional.relu(self.conv1(x.flatten(1)))
            return self.fc(nn.functional.relu(self.conv2(x)))

        def resnet32_cifar10():
          return Net()
        ''',
}


@pytest.fixture
def checkout(tmp_path, monkeypatch):
  for name, text in _FILES.items():
    path = tmp_path / 'lottery-jackpots' / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
  monkeypatch.delenv('FAKE_POP_UPS', raising=False)
  monkeypatch.delenv('FAKE_PRUNE_RATES', raising=False)
  return str(tmp_path / 'lottery-jackpots')


@pytest.mark.parametrize('path, models, modes, shown', [
    ('', ['resnet32_jackpot'], ['search'], 'needs --official_checkout'),
    ('CHECKOUT', ['resnet56'], ['search'], "official Lottery Jackpots step "
     "for ['resnet56']"),
    ('CHECKOUT', ['resnet32_jackpot'], ['train'], '--modes=search'),
    ('CHECKOUT/nowhere', ['resnet32_jackpot'], ['search'],
     'is not a directory'),
    ('CHECKOUT', ['vgg19_jackpot'], ['search'],
     'no configs/vgg19_cifar10/90sparsity30epoch.yaml'),
])
def test_check_checkout_refuses_in_one_line(checkout, path, models, modes,
                                            shown):
  with pytest.raises(ValueError, match=shown.replace('[', r'\[').replace(
      ']', r'\]')) as e:
    official_jackpots.check_checkout(path.replace('CHECKOUT', checkout),
                                     models, modes)
  assert '\n' not in str(e.value)


def test_prune_rates_are_one_global_magnitude_threshold():
  layers = [(n, torch.nn.Linear(4, k, bias=False))
            for n, k in (('a', 3), ('b', 5), ('fc', 2))]
  for _, m in layers:
    torch.nn.init.normal_(m.weight, generator=torch.Generator().manual_seed(
        m.weight.numel()))
  rates = official_jackpots.prune_rates(torch, layers, sparsity=0.75)
  w = [np.abs(m.weight.detach().numpy()).ravel() for _, m in layers[:-1]]
  flat = np.sort(np.concatenate(w))[::-1]
  threshold = flat[int(flat.size * 0.25) - 1]  # the kept count's smallest
  assert rates == pytest.approx([float((x < threshold).mean()) for x in w]
                                + [0.0])
  assert 0 < rates[0] < 1 and rates[-1] == 0


def test_step_runner_runs_the_official_step_and_restores_the_process(
    checkout):
  argv, path, threads = list(sys.argv), list(sys.path), torch.get_num_threads()
  with official_jackpots.step_runner(checkout, 'resnet32_jackpot', 8,
                                     sparsity=0.5, threads=1) as (run, info):
    assert torch.get_num_threads() == 1
    # imports are done: the process looks as before while steps run
    assert sys.argv == argv and sys.path == path
    assert not any(m.split('.')[0] in ('models', 'utils')
                   for m in sys.modules)
    seconds = [run() for _ in range(3)]
  assert all(s > 0 for s in seconds)
  assert info['architecture'] == 'resnet32_cifar10'
  assert info['pop_up_layers'] == 3 and info['commit'] is None
  # every prunable layer's mask update ran once a step
  assert os.environ['FAKE_POP_UPS'] == '9'
  rates = [float(r) for r in os.environ['FAKE_PRUNE_RATES'].split(',')[:3]]
  assert rates[2] == 0.0 and 0 < rates[0] < 1
  assert torch.get_num_threads() == threads


def test_step_runner_leaves_the_process_as_it_was_when_the_import_fails(
    checkout):
  with open(os.path.join(checkout, 'models', '__init__.py'), 'a') as f:
    f.write('import a_module_nobody_installed\n')
  argv, path = list(sys.argv), list(sys.path)
  with pytest.raises(RuntimeError, match='could not be imported'):
    with official_jackpots.step_runner(checkout, 'resnet32_jackpot', 8):
      pass
  assert sys.argv == argv and sys.path == path
  assert not any(m.split('.')[0] in ('models', 'utils') for m in sys.modules)


def test_checkout_commit_only_at_the_top_of_a_git_work_tree(tmp_path):
  git = ['git', '-c', 'user.name=t', '-c', 'user.email=t@t', '-C',
         str(tmp_path)]
  assert official_jackpots.checkout_commit(str(tmp_path)) is None
  subprocess.run(git + ['init', '-q'], check=True)
  (tmp_path / 'inner').mkdir()
  (tmp_path / 'inner' / 'f').write_text('x')
  subprocess.run(git + ['add', '.'], check=True)
  subprocess.run(git + ['commit', '-qm', 'c'], check=True)
  head = subprocess.run(git + ['rev-parse', 'HEAD'], check=True,
                        capture_output=True, text=True).stdout.strip()
  assert official_jackpots.checkout_commit(str(tmp_path)) == head
  # a copy inside another repository is not that repository's commit
  assert official_jackpots.checkout_commit(str(tmp_path / 'inner')) is None


def test_bench_row_against_the_official_step(checkout):
  from experiments import bench  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  row = bench.bench_one('resnet32_jackpot', jax.local_device_count(),
                        'search', steps=2, warmup=0,
                        num_classes=10, reference='official',
                        reference_blocks=2, official_checkout=checkout)
  assert row['official_ms_per_step'] > 0 and row['reference_blocks'] == 2
  assert row['official_architecture'] == 'resnet32_cifar10'
  assert row['speed_vs_official'] == pytest.approx(  # rounded to 3 places
      row['official_ms_per_step'] / row['ms_per_step'], rel=1e-2, abs=1e-3)


@pytest.mark.parametrize('args, shown', [
    (['--reference=official'], 'needs --official_checkout'),
    (['--reference=torch', '--official_checkout=CHECKOUT'],
     'with --reference=official only'),
    (['--reference=official', '--official_checkout=CHECKOUT',
      '--modes=train'], '--modes=search'),
    (['--reference=official', '--official_checkout=BROKEN'],
     'could not be imported'),
])
def test_bench_refuses_official_flags_before_any_work(checkout, tmp_path, args,
                                                      shown):
  broken = tmp_path / 'broken'
  subprocess.run(['cp', '-r', checkout, str(broken)], check=True)
  with open(broken / 'models' / '__init__.py', 'a') as f:
    f.write('import a_module_nobody_installed\n')
  out = tmp_path / 'bench.json'
  run = subprocess.run(
      [sys.executable, '-m', 'experiments.bench', '--models=resnet32_jackpot',
       '--modes=search', '--batch_sizes=8', '--steps=5',
       f'--output={out}'] + [a.replace('CHECKOUT', checkout).replace(
           'BROKEN', str(broken)) for a in args],
      capture_output=True, text=True)
  assert run.returncode != 0
  assert shown in run.stderr and 'Traceback' not in run.stderr
  assert not out.exists()
