"""Baseline training from a config: ``train_and_evaluate(config, workdir)``.

config -> dataset + model (from an explicit width config) -> params ->
one pmap-ed step -> orbax checkpoints -> ``results.json``. The helpers here
(``build_source``, ``build_optimizer``, ``init_variables``, ``run_stage``) are
what the pruning pipelines reuse for fine-tuning and Scratch-E/B.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxprune import data as data_lib
from jaxprune import flops as flops_lib
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import optim
from jaxprune import sources
from jaxprune import steps as steps_lib
from jaxprune import trainer


def config_to_dict(config) -> dict:
  if isinstance(config, ml_collections.ConfigDict):
    return json.loads(config.to_json_best_effort(sort_keys=True))
  return dict(config)


def parse_widths(widths_json: str):
  """'' -> None (the model's default); else the JSON width config."""
  if not widths_json:
    return None
  try:
    return json.loads(widths_json)
  except json.JSONDecodeError as e:
    raise ValueError(f'config.widths is not valid JSON: {e}') from e


def resize_images(dataset, size: int):
  """Bilinear resize of both splits to ``size`` x ``size`` (uint8)."""
  def resize(images):
    n, _, _, c = images.shape
    out = jax.image.resize(jnp.asarray(images, jnp.float32),
                           (n, size, size, c), 'bilinear')
    return np.asarray(jnp.clip(jnp.round(out), 0, 255), np.uint8)
  return dataset.replace(train_images=resize(dataset.train_images),
                         test_images=resize(dataset.test_images))


def take_train_subset(dataset, size: int):
  """A fixed random subset of ``size`` training examples (test set kept)."""
  n = len(dataset.train_images)
  if size > n:
    raise ValueError(f'config.train_subset={size} exceeds the {n} training '
                     'examples')
  keep = np.sort(np.random.default_rng(0).permutation(n)[:size])
  return dataset.replace(train_images=dataset.train_images[keep],
                         train_labels=dataset.train_labels[keep])


def load_data(config):
  """The dataset of ``config`` (arrays, or a stream for ImageNet)."""
  dataset = _load_data(config)
  resizing = {k: config.get(k, 0) for k in
              ('train_subset', 'test_subset', 'image_size')}
  if any(resizing.values()) and isinstance(dataset, data_lib.StreamingData):
    raise ValueError(f'config fields {sorted(k for k, v in resizing.items() if v)} '
                     'apply to array datasets only')
  if resizing['train_subset']:
    dataset = take_train_subset(dataset, resizing['train_subset'])
  if resizing['test_subset']:
    n = min(resizing['test_subset'], len(dataset.test_images))
    dataset = dataset.replace(test_images=dataset.test_images[:n],
                              test_labels=dataset.test_labels[:n])
  if resizing['image_size']:
    dataset = resize_images(dataset, resizing['image_size'])
  return dataset


def _load_data(config):
  options = {}
  if config.dataset == 'imagenet2012':
    return data_lib.load_dataset(
        'imagenet2012', data_dir=config.data_dir or None,
        manual_dir=config.get('manual_dir') or config.data_dir or None,
        global_batch=config.batch_size, num_devices=num_devices_of(config),
        seed=config.seed)
  if config.get('data_path'):
    options['path'] = config.data_path
  if config.get('data_dir'):
    options['data_dir'] = config.data_dir
  return data_lib.load_dataset(config.dataset, **options)


def num_devices_of(config) -> int:
  """config.num_devices (0: all local devices), checked against what exists."""
  available = jax.local_device_count()
  wanted = config.get('num_devices', 0) or available
  if wanted > available:
    raise ValueError(f'config.num_devices={wanted} but only {available} '
                     'local devices exist')
  return wanted


def build_source(config, dataset, num_devices: int | None = None):
  """An on-device ArraySource for array datasets, else a StreamingSource."""
  num_devices = num_devices or num_devices_of(config)
  if isinstance(dataset, data_lib.StreamingData):
    return sources.StreamingSource(dataset)
  return sources.ArraySource(dataset, batch_size=config.batch_size,
                             eval_batch_size=config.eval_batch_size,
                             num_devices=num_devices, seed=config.seed,
                             drop_last=config.get('drop_last', False))


def lr_milestones(config, epochs: int) -> list[int] | None:
  """Step-schedule milestones: ``config.lr_step_every`` epochs if set (the
  ImageNet protocol: x0.1 every 30 of 90 epochs), else None (50%/75%)."""
  every = config.get('lr_step_every', 0)
  if every:
    return list(range(every, epochs, every))
  return None


def build_optimizer(config, steps_per_epoch: int, epochs: int,
                    learning_rate: float, schedule: str | None = None,
                    pre=(), milestones=None,
                    weight_decay: float | None = None):
  """SGD with momentum and coupled weight decay, per-epoch LR schedule.

  ``milestones`` (epochs of the x0.1 steps) default to ``lr_milestones``;
  ``weight_decay`` defaults to ``config.weight_decay``.
  """
  if milestones is None:
    milestones = lr_milestones(config, epochs)
  lr_fn = optim.per_epoch_schedule(learning_rate, epochs, steps_per_epoch,
                                   schedule or config.schedule, milestones)
  if weight_decay is None:
    weight_decay = config.weight_decay
  tx = optim.sgd_coupled(lr_fn, config.momentum, weight_decay, pre=pre)
  return tx, lr_fn


def init_variables(model, input_shape, seed: int):
  x = jnp.zeros((1, *input_shape), jnp.float32)
  variables = jax.jit(lambda k: model.init(k, x, train=False))(
      jax.random.key(seed))
  return variables['params'], variables.get('batch_stats', {})


def device_info() -> dict[str, Any]:
  devices = jax.local_devices()
  return {'device_kind': devices[0].device_kind,
          'platform': devices[0].platform, 'device_count': len(devices)}


def write_json(path: str, obj) -> None:
  """Writes ``obj`` atomically (temp file + rename)."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump(obj, f, indent=2, sort_keys=True, default=str)
  os.replace(tmp, path)


def run_stage(*, name: str, config, workdir: str, model, source, params,
              batch_stats, epochs: int, learning_rate: float,
              schedule: str | None = None, masks=None, seed: int,
              config_dict: dict, extra_meta: dict | None = None, pre=(),
              milestones=None, weight_decay: float | None = None):
  """Trains ``params`` (masked if ``masks``) for ``epochs``; resumable."""
  tx, lr_fn = build_optimizer(config, source.steps_per_epoch, epochs,
                              learning_rate, schedule, pre=pre,
                              milestones=milestones, weight_decay=weight_decay)
  if masks is None:
    param_map = steps_lib.dense_param_map()
    frozen = None
  else:
    masks_lib.check_masks(masks, params)
    param_map = steps_lib.masked_param_map()
    frozen = {'masks': masks}
    params = masks_lib.apply_masks(params, masks)
  state = steps_lib.create_train_state(params, batch_stats, tx, frozen)
  return trainer.fit(name=name, workdir=workdir, model=model, tx=tx,
                     state=state, param_map=param_map, source=source,
                     epochs=epochs, seed=seed, config_dict=config_dict,
                     extra_meta=extra_meta, learning_rate_fn=lr_fn,
                     checkpoint_every=config.get('checkpoint_every_epochs', 1),
                     tensorboard=config.get('tensorboard', True))


def validate_config(config) -> None:
  """Checks values a typo would break, before anything is loaded or written."""
  models.get_spec(config.model)  # unknown model -> ValueError
  data_lib.check_dataset(config.dataset)  # unknown dataset -> ValueError
  for field in ('epochs', 'batch_size', 'eval_batch_size'):
    if config[field] <= 0:
      raise ValueError(f'config.{field} must be positive, got {config[field]}')
  if config.schedule not in optim.SCHEDULES:
    raise ValueError(f'unknown schedule {config.schedule!r}; '
                     f'known: {optim.SCHEDULES}')
  sources.check_batch_size(config.batch_size, num_devices_of(config))


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> dict[str, Any]:
  """Trains the baseline of ``config`` in ``workdir``; returns results.json."""
  t0 = time.time()
  validate_config(config)
  widths = parse_widths(config.widths)
  dataset = load_data(config)
  model = models.create_model(config.model, dataset.num_classes, widths,
                              axis_name=steps_lib.AXIS_NAME
                              if config.sync_bn else None)
  source = build_source(config, dataset)
  config_dict = config_to_dict(config)
  # Refuse a workdir holding another run before compiling anything.
  from jaxprune import checkpoint  # pylint: disable=g-import-not-at-top
  checkpoint.check_workdir(os.path.join(workdir, 'baseline'), config_dict)
  widths = widths or models.default_widths(config.model, dataset.num_classes)
  counts = flops_lib.count(model, source.input_shape)
  logging.info('%s on %s: %s params, %s FLOPs, %d train / %d test, '
               '%d steps/epoch on %d device(s)', config.model, config.dataset,
               f'{counts.params:,}', f'{counts.flops:,}', source.num_train,
               source.num_test, source.steps_per_epoch, source.num_devices)
  params, batch_stats = init_variables(model, source.input_shape, config.seed)
  result = run_stage(name='baseline', config=config,
                     workdir=os.path.join(workdir, 'baseline'), model=model,
                     source=source, params=params, batch_stats=batch_stats,
                     epochs=config.epochs, learning_rate=config.learning_rate,
                     seed=config.seed, config_dict=config_dict,
                     extra_meta={'widths': widths, 'model': config.model})
  results = {
      'model': config.model, 'dataset': config.dataset, 'widths': widths,
      'params': counts.params, 'flops': counts.flops,
      **result.summary(), 'total_wall_time_s': time.time() - t0,
      **device_info(), 'config': config_dict,
  }
  write_json(os.path.join(workdir, 'results.json'), results)
  logging.info('baseline: best test accuracy %.4f, last %.4f, %s params, '
               '%s FLOPs, %.1fs', results['best_test_accuracy'],
               results['last_test_accuracy'], f'{counts.params:,}',
               f'{counts.flops:,}', result.wall_time_s)
  return results
