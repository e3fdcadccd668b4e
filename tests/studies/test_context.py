"""The run context: checks once, builds data/source/model/FLOPs once."""

import jax
import numpy as np
import pytest

from jaxprune import models
from jaxprune.studies import context
from jaxprune.training import checkpoint
from tests.studies.common import baseline_config, rethinking_config


def test_create_binds_the_model_to_the_data_and_writes_the_manifest(tmp_path):
  ctx = context.RunContext.create(baseline_config(), str(tmp_path / 'r'),
                                  'baseline')
  assert ctx.spec.bound and ctx.spec.num_classes == 10
  assert ctx.spec.input_shape == (8, 8, 1)
  assert (ctx.counts.params, ctx.counts.flops) == (65_834, 3_007_754)
  assert (tmp_path / 'r' / checkpoint.MANIFEST).exists()
  # The same data config in one process gives the same loaded dataset.
  again = context.RunContext.create(baseline_config(), str(tmp_path / 'r2'),
                                    'baseline')
  assert again.dataset is ctx.dataset


@pytest.mark.parametrize('overrides, match', [
    ({'seed': -1}, r'config.seed must be an int >= 0, got -1'),
    ({'seeds': 0}, r'config.seeds must be an int >= 1'),
    ({'model.name': 'resnet9000'}, "unknown model 'resnet9000'"),
    ({'model.widths': '[32, 0, "M"]'}, 'positive'),
    ({'model.widths': '[32, '}, 'model.widths is not valid JSON'),
    ({'data.name': 'mnist'}, 'unknown dataset'),
    ({'data.batch_size': 60}, 'does not divide over 8 devices'),
    ({'optim.schedule': 'linear'}, 'unknown schedule'),
    ({'optim.epochs': 0}, 'epochs must be positive'),
    ({'model.dtype': 'float16'}, "unknown compute dtype 'float16'"),
    ({'num_devices': 9}, 'only 8 local devices'),
    ({'data.name': 'image_folder', 'data.path': '/nonexistent/folder'},
     '/nonexistent/folder'),
])
def test_bad_input_fails_before_any_write(tmp_path, overrides, match):
  with pytest.raises((ValueError, FileNotFoundError), match=match):
    context.RunContext.create(baseline_config(**overrides),
                              str(tmp_path / 'run'), 'baseline')
  assert not (tmp_path / 'run').exists()


def test_channel_pruning_a_model_without_units_fails_at_validation(tmp_path):
  from jaxprune.studies import rethinking
  config = rethinking_config(**{'model.name': 'preresnet110'})
  with pytest.raises(ValueError, match="'preresnet110' declares no channel-prunable"
                     " units.*'l1_norm'"):
    rethinking.rethinking(config, str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()


def test_stage_keys_never_collide():
  # Regression: Scratch-E and Scratch-B shared one init, key(seed + 1), the
  # next seed's baseline init.
  data = lambda k: tuple(np.asarray(jax.random.key_data(k)).ravel())
  keys = {(s, st): data(context.stage_key(s, st)) for s in range(3)
          for st in ('baseline', 'scratch_e', 'scratch_b', 'finetune')}
  assert len(set(keys.values())) == len(keys)
  assert keys[(0, 'baseline')] == data(jax.random.key(0))
  spec = models.get_spec('digits_cnn').bind(10, [16, 16, 'M', 32, 32])
  ctx = context.RunContext.__new__(context.RunContext)
  e, b = ctx.init(spec, 0, 'scratch_e'), ctx.init(spec, 0, 'scratch_b')
  old = jax.device_get(spec.init(jax.random.key(1)))
  for tree in (b, old):
    assert not np.allclose(e['params']['conv0']['kernel'],
                           tree['params']['conv0']['kernel'])
  assert not np.allclose(b['params']['conv0']['kernel'],
                         old['params']['conv0']['kernel'])


def test_mid_epoch_checkpoints_are_automatic_for_streamed_data(tmp_path):
  from jaxprune import data
  ctx = context.RunContext.create(baseline_config(), str(tmp_path / 'r'),
                                  'baseline')
  assert ctx.checkpoint_every_steps(ctx.source) == 0  # arrays: epochs only
  streamed = data.StreamingSource.__new__(data.StreamingSource)
  assert ctx.checkpoint_every_steps(streamed) == \
      context.STREAM_CHECKPOINT_STEPS == 1000
  explicit = context.RunContext.create(
      baseline_config(checkpoint_every_steps=5), str(tmp_path / 'e'),
      'baseline')
  assert explicit.checkpoint_every_steps(streamed) == 5
