"""Channel keeps from a 0/1 masks file (ResNet-50-2x's input selection)."""

import numpy as np
import pytest

from experiments.configs import paper
from experiments.configs import rethinking as rows
from jaxprune import models
from jaxprune import pruning
from jaxprune.studies import prune_config
from tests.models.common import mask_file


def _resnet50_2x():
  spec = models.get_spec('resnet50_thinet').bind(1000)
  return spec, spec.abstract_variables()['params']


@pytest.mark.skipif(
    mask_file() is None,
    reason='$JAXPRUNE_RESNET50_2X_MASKS is not set to the shared '
    'resnet50_2x_input_channel_masks.npz (.ci/run sets it from ../shared/data)')
def test_the_official_masks_fix_the_2x_rows_block_inputs():
  spec, params = _resnet50_2x()
  keep = pruning.load_keep_masks(str(mask_file()), spec, params)
  assert [len(keep[f'{b}/input']) for b in paper.RESNET50_BLOCKS] == [
      w[0] for w in paper.RESNET50_2X_CFG]
  raw = np.load(mask_file())
  np.testing.assert_array_equal(keep['stage3_block1/input'],
                                np.flatnonzero(raw['block08']))
  config = rows.get_config('resnet50_2x')
  config.prune.keep_masks_path = str(mask_file())
  ctx = type('Ctx', (), {'config': config, 'spec': spec})()
  target = prune_config.resolve_target(ctx, params)
  assert not any(k.endswith('/input') for k in target)  # the file's
  assert target['stage4_block2/bn2'] == 512 - 440


def test_bad_masks_files_are_named(tmp_path):
  spec, params = _resnet50_2x()
  cases = []
  few = tmp_path / 'few.npz'
  np.savez(few, block00=np.ones(64, np.uint8))
  cases.append((few, 'holds 1 masks .* but resnet50_thinet has 16 selection '
                'points'))
  short = tmp_path / 'short.npz'
  np.savez(short, **{f'block{j:02d}': np.ones(64, np.uint8)
                     for j in range(16)})
  cases.append((short, "mask 'block01' has length 64 but "
                'stage1_block1/input has 256 channels'))
  values = tmp_path / 'values.npz'
  np.savez(values, **{'stage1_block0/input': np.full(64, 2, np.uint8)})
  cases.append((values, "'stage1_block0/input' is not 0/1"))
  empty = tmp_path / 'empty.npz'
  np.savez(empty, **{'stage1_block0/input': np.zeros(64, np.uint8)})
  cases.append((empty, 'keeps no channel'))
  junk = tmp_path / 'junk.npz'
  junk.write_text('not a zip')
  cases.append((junk, 'cannot read keep masks file'))
  for path, message in cases:
    with pytest.raises(ValueError, match=message):
      pruning.load_keep_masks(str(path), spec, params)
