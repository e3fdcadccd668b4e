"""The ``lottery_ticket`` study (rethinking.md §9): is the winning ticket's
initialisation worth more than a random one, at LR 0.1 and at 0.01?

Per seed:

1. ``theta0.npz``: the large model's initial variables θ₀ (the ``baseline``
   init key of the seed), written **before** the baseline trains and
   restored from that file (bit-identical) for every winning ticket;
2. ``baseline``: the large model trained from θ₀ (``config.optim``);
3. pruning, ``config.lottery.rounds`` rounds: round 1 prunes the trained
   large model with the registered criterion ``config.prune.method`` at the
   target of ``config.prune`` (as in the rethinking study: a ratio, or the
   paper's per-layer targets for channel criteria); a later round prunes the
   previous round's trained winning ticket again (iterative pruning: with
   ``magnitude_iterative`` and ``config.prune.ratio = 0.2``, 20 % of the
   remaining conv weights per round; unstructured criteria only), the masks
   of all rounds multiplied. Each learning rate has its own chain, since each
   round's mask comes from that LR's trained ticket;
4. per round and per learning rate of ``config.lottery.learning_rates``, two
   arms with the same mask, the same data order (the seed's), the same
   epochs and schedule (``config.optim``), differing only in the init:

   * ``ticket_lr{lr}[_round{r}]``: θ₀ ⊙ mask (the winning ticket);
   * ``random_lr{lr}[_round{r}]``: a fresh init of the ``random_init`` key:
     for unstructured masks the density-scaled He init of §3.6
     (:func:`jaxprune.pruning.sparse_he_reinit`), for channel masks the
     model's own (fan-out He) init; then masked.

   Both train masked (pruned weights stay exactly 0).

**Channel masks (the §9 caveat).** A channel criterion's keep becomes masks
on the full model by :func:`jaxprune.pruning.channel_masks`: the pruned
filters *and* their BN γ/β are zeroed (and held at 0), so a pruned channel
outputs exactly 0, as in the compact model. The official lottery code zeroes
only the filters and leaves γ/β trained, so its pruned channels output the
constant ReLU(β); this study does not reproduce that.

Results: per stage over seeds (best/last accuracy, params, non-zero FLOPs);
``details.rounds``: the conv density of each round's mask per LR.
"""

from __future__ import annotations

import os
from typing import Any

from jaxprune import masks as masks_lib
from jaxprune import pruning
from jaxprune import results as results_lib
from jaxprune import tree as tree_lib
from jaxprune.studies import context
from jaxprune.studies import prune_config
from jaxprune.studies import registry

THETA0_FILE = 'theta0.npz'
ARMS = ('ticket', 'random')


def check_config(config) -> None:
  """Bad lottery inputs fail before any data is loaded."""
  criterion = prune_config.check_prune_config(config)
  lt = config.lottery
  rounds = lt.rounds
  if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
    raise ValueError(f'config.lottery.rounds must be an int >= 1, got '
                     f'{rounds!r}')
  if rounds > 1 and criterion.kind == 'channel':
    raise ValueError(f'config.lottery.rounds={rounds}: iterative rounds are '
                     f'for unstructured criteria, {config.prune.method!r} is '
                     'a channel criterion (use rounds=1)')
  lrs = tuple(lt.learning_rates)
  if not lrs or any(isinstance(v, bool) or not isinstance(v, (int, float))
                    or v <= 0 for v in lrs) or len(set(lrs)) != len(lrs):
    raise ValueError('config.lottery.learning_rates must be distinct '
                     f'positive numbers, got {lrs!r}')
  if config.model.pretrained:
    raise ValueError('the lottery_ticket study trains the large model from '
                     'its saved initialisation theta0; config.model.'
                     'pretrained must be empty')
  if config.prune.head or config.prune.layerwise_finetune_epochs:
    raise ValueError('config.prune.head and layerwise_finetune_epochs are '
                     'not used by the lottery_ticket study; leave them unset')


def stage_name(arm: str, lr: float, round_index: int, rounds: int) -> str:
  """``ticket_lr0.1`` (one round) or ``random_lr0.01_round3``."""
  name = f'{arm}_lr{lr:g}'
  return name if rounds == 1 else f'{name}_round{round_index}'


def theta0(ctx, seed: int, seed_index: int) -> dict[str, Any]:
  """θ₀ of the seed: written to ``<seed dir>/theta0.npz`` on first use and
  read back from it (also on resume), so every ticket starts from the saved
  file's values."""
  path = os.path.join(ctx.seed_dir(seed_index), THETA0_FILE)
  if not os.path.isfile(path):
    ctx.save_arrays(path, ctx.init(ctx.spec, seed))
  variables = ctx.load_arrays(path)
  wrong = tree_lib.shape_mismatches(variables, ctx.abstract_variables())
  if wrong:
    raise ValueError(f'{path} does not hold the variables of {ctx.spec.name} '
                     f'at these widths ({wrong[0]})')
  return variables


def round_masks(ctx, criterion, variables, seed: int, tag: str,
                previous=None):
  """The masks of one pruning round of ``variables`` (times ``previous``)."""
  target = prune_config.resolve_target(ctx, variables['params'])
  result = ctx.prune(criterion, ctx.spec, variables, target, seed, tag=tag)
  if criterion.kind == 'channel':
    masks = pruning.channel_masks(ctx.spec, variables['params'], result.keep)
  else:
    masks = result.masks
  if previous is not None:
    masks = masks_lib.apply_masks(masks, previous)
  return masks


def arm_init(ctx, arm: str, theta, masks, seed: int, sparse: bool
             ) -> dict[str, Any]:
  """The starting variables of an arm: θ₀ ⊙ mask, or a fresh (sparse-aware
  for unstructured masks) init ⊙ mask; BN statistics as initialised."""
  if arm == 'ticket':
    start = theta
  else:
    start = ctx.init(ctx.spec, seed, 'random_init')
    if sparse:
      start['params'] = pruning.sparse_he_reinit(
          start['params'], masks, context.stage_key(seed, 'random_init/sparse'))
  return {'params': masks_lib.apply_masks(start['params'], masks),
          'batch_stats': start['batch_stats']}


def run_seed(ctx, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
  """One seed: θ₀, baseline, every LR's rounds and arms -> (stages,
  details)."""
  c = ctx.config
  seed = c.seed + index
  rounds = c.lottery.rounds
  criterion = pruning.get_criterion(c.prune.method)
  sparse = criterion.kind == 'unstructured'
  theta = theta0(ctx, seed, index)
  trained, base = ctx.large_model(seed, index, init=theta)
  stages = {'baseline': base}
  first = round_masks(ctx, criterion, trained, seed, 'round1')
  stages['pruned'] = ctx.evaluated_entry(
      ctx.spec, {'params': masks_lib.apply_masks(trained['params'], first),
                 'batch_stats': trained['batch_stats']}, first)
  density: dict[str, list[float]] = {}
  for lr in c.lottery.learning_rates:
    masks, chain = first, []
    for r in range(1, rounds + 1):
      if r > 1:
        masks = round_masks(ctx, criterion, ticket_run.variables, seed,
                            f'lr{lr:g}/round{r}', previous=masks)
      chain.append(masks_lib.density(masks))
      for arm in ARMS:
        name = stage_name(arm, lr, r, rounds)
        run = ctx.train(name, ctx.spec,
                        arm_init(ctx, arm, theta, masks, seed, sparse),
                        seed=seed, seed_index=index, epochs=c.optim.epochs,
                        learning_rate=lr, masks=masks)
        stages[name] = run.entry
        if arm == 'ticket':
          ticket_run = run
    density[f'{lr:g}'] = chain
  return stages, {'seed': seed, 'conv_density': density}


def _line(stages, lr: float, r: int, rounds: int) -> str:
  cells = []
  for arm in ARMS:
    e = stages[stage_name(arm, lr, r, rounds)]
    text = '%.2f' % (100 * e['best_test_accuracy'])
    if e['seeds'] > 1:
      text += ' ± %.2f' % (100 * e['best_test_accuracy_std'])
    cells.append(f'{arm} {text}')
  return ', '.join(cells)


def lottery_ticket(config, workdir: str) -> dict[str, Any]:
  """Runs the study; writes and returns results.json."""
  lt = config.lottery
  plan = ['theta0', f'baseline ({config.optim.epochs} epochs)',
          f'{lt.rounds} round(s) of {config.prune.method} x LR '
          f'{", ".join(f"{lr:g}" for lr in lt.learning_rates)}: ticket and '
          f'random init ({config.optim.epochs} epochs each)']
  if config.seeds > 1:
    plan = [f'{config.seeds} seeds of: {" -> ".join(plan)}']
  ctx = context.RunContext.create(config, workdir, 'lottery_ticket',
                                  check_config=check_config,
                                  check_model=prune_config.check_target,
                                  plan=plan)
  per_seed = ctx.map_seeds(lambda i: run_seed(ctx, i))
  stages = results_lib.aggregate([s for s, _ in per_seed])
  density = per_seed[0][1]['conv_density']
  summary = {
      'model': ctx.spec.name, 'dataset': config.data.name,
      'method': config.prune.method, 'ratio': config.prune.ratio,
      'kind': pruning.get_criterion(config.prune.method).kind,
      'rounds': lt.rounds, 'learning_rates': list(lt.learning_rates),
      'row': config.row, 'seeds': config.seeds,
      **{f'lr{lr:g}_round{r}' if lt.rounds > 1 else f'lr{lr:g}':
         f'density {density[f"{lr:g}"][r - 1]:.4f}: '
         + _line(stages, lr, r, lt.rounds)
         for lr in lt.learning_rates for r in range(1, lt.rounds + 1)}}
  details = {'seeds': [d for _, d in per_seed],
             'mask_implementation': 'channel masks zero the pruned filters '
                                    'and their BN gamma/beta'}
  return ctx.finish(summary, stages, details)


registry.register_study('lottery_ticket', lottery_ticket)
