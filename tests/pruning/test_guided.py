"""Architecture-search helpers (rethinking.md §10): uniform baselines matched
to a pruned model's parameter count, guided pruning's stage widths, guided
sparsification's kernel-position probabilities, transfers between VGGs."""

import jax
import numpy as np
import pytest

from jaxprune import flops
from jaxprune import masks as masks_lib
from jaxprune import models
from jaxprune import tree as tree_lib
from jaxprune.models import vgg_cifar
from jaxprune.pruning import guided

M = 'M'
VGG16 = list(vgg_cifar.VGG16_CFG)
VGG19 = list(vgg_cifar.VGG19_CFG)


def vgg_params(cfg, num_classes=10, in_channels=3):
  """Params of the slimming VGG (conv3x3 no bias + BN, one Linear), counted
  by hand: 9*cin*cout + 2*cout per conv, cfg[-1]*C + C for the head."""
  total, cin = 0, in_channels
  for v in cfg:
    if v != M:
      total += 9 * cin * v + 2 * v
      cin = v
  return total + cin * num_classes + num_classes


def random_pruned(cfg, rng):
  return [v if v == M else int(rng.integers(max(1, v // 8), v + 1))
          for v in cfg]


def test_the_hand_count_is_the_library_count():
  cfg = random_pruned(VGG19, np.random.default_rng(0))
  spec = models.get_spec('vgg19_slim').bind(10, cfg)
  assert flops.count(spec.module(), spec.input_shape).params == vgg_params(
      cfg)


def test_guided_cfgs_reproduce_the_stage_averages_they_were_built_from():
  rng = np.random.default_rng(1)
  runs = [random_pruned(VGG16, rng) for _ in range(4)]
  fractions = guided.stage_average_widths(runs, VGG16)
  by_hand = [np.mean([np.mean(np.asarray(s) / np.asarray(f))
                      for s, f in zip(guided.stages(r), guided.stages(VGG16))
                      ][i:i + 1]) for r in runs for i in range(5)]
  np.testing.assert_allclose(
      fractions, np.asarray(by_hand).reshape(4, 5).mean(0), rtol=1e-12)
  for scale in (0.5, 1.0, 1.5):
    cfg = guided.guided_cfg(fractions, VGG16, scale)
    assert [v == M for v in cfg] == [v == M for v in VGG16]
    got = guided.stage_average_widths([cfg], VGG16)
    for s, (f, g) in enumerate(zip(fractions, got)):
      # Rounding to whole channels: at most half a channel per layer.
      half = 0.5 / min(guided.stages(VGG16)[s])
      assert abs(g - scale * f) <= half + 1e-12, (scale, s)
  # Transfer: VGG-16's stage pattern on VGG-19 (both five stages).
  guided.check_transfer(VGG16, VGG19)
  cfg19 = guided.guided_cfg(fractions, VGG19)
  assert len(guided.stages(cfg19)[2]) == 4


def test_a_transfer_between_different_stage_counts_is_refused():
  with pytest.raises(ValueError, match='stage counts must be equal'):
    guided.check_transfer(VGG16, VGG16[:10])
  with pytest.raises(ValueError, match='4 stage fractions'):
    guided.guided_cfg([0.5] * 4, VGG19)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_uniform_baselines_match_the_pruned_parameter_count(seed):
  pruned = random_pruned(VGG19, np.random.default_rng(seed))
  target = vgg_params(pruned)
  cfg, q = guided.uniform_cfg_matching(VGG19, target, vgg_params)
  assert 0.0 < q <= 1.0
  # Uniform: every layer keeps round(q * width).
  assert cfg == [v if v == M else max(1, int(round(q * v))) for v in VGG19]
  # Within one channel per layer of the pruned model's count.
  minus = [v if v == M else max(1, v - 1) for v in cfg]
  plus = [v if v == M else v + 1 for v in cfg]
  assert vgg_params(minus) <= target <= vgg_params(plus)


def _vgg_variables(cfg=(8, M, 8, 8, M, 8)):
  spec = models.get_spec('vgg19_slim').bind(10)
  model = spec.module().clone(cfg=tuple(cfg))
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  return model.init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))['params']


def test_guided_sparsification_keeps_the_position_probabilities():
  params = _vgg_variables()
  kernel_stages = [['conv0/kernel'], ['conv1/kernel', 'conv2/kernel'],
                   ['conv3/kernel']]
  rng = np.random.default_rng(0)
  pattern = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32)

  def one_masks():
    sub = []
    for s, paths in enumerate(kernel_stages):
      for p in paths:
        shape = np.shape(tree_lib.get(params, p))
        m = (rng.random(shape) < 0.5).astype(np.float32)
        if s == 1:  # a fixed pattern: probabilities exactly 0 or 1
          m = np.broadcast_to(pattern[:, :, None, None], shape).copy()
        sub.append((p, m))
    return masks_lib.full_masks(params, tree_lib.unflatten(sub))
  masks_list = [one_masks() for _ in range(3)]
  probs = guided.stage_keep_probabilities(masks_list, kernel_stages)
  hand = np.mean([np.asarray(tree_lib.get(m, 'conv0/kernel'),
                             np.float64).mean((2, 3)) for m in masks_list], 0)
  np.testing.assert_allclose(probs[0], hand, rtol=1e-12)
  np.testing.assert_array_equal(probs[1], pattern)
  sampled = guided.guided_masks(params, probs, kernel_stages,
                                jax.random.key(3))
  for p in kernel_stages[1]:
    np.testing.assert_array_equal(
        np.asarray(tree_lib.get(sampled, p)),
        np.broadcast_to(pattern[:, :, None, None],
                        np.shape(tree_lib.get(params, p))))
  with pytest.raises(ValueError, match='stage counts must be equal'):
    guided.guided_masks(params, probs[:2], kernel_stages, jax.random.key(0))


def test_uniform_random_sparsification_has_the_density_in_every_kernel():
  params = _vgg_variables()
  masks = guided.uniform_random_masks(params, 0.3, jax.random.key(0))
  for p in masks_lib.conv_kernel_paths(masks):
    m = np.asarray(tree_lib.get(masks, p))
    assert np.count_nonzero(m) == max(1, round(m.size * 0.3)), p
  for bad in (0.0, 1.0, 1.5, -0.1):
    with pytest.raises(ValueError, match=r'density must be in \(0, 1\)'):
      guided.uniform_random_masks(params, bad, jax.random.key(0))
