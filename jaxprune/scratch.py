"""Scratch-E / Scratch-B epoch budgets (rethinking.md §2, §5.3)."""

from __future__ import annotations


def scratch_b_schedule(flops_unpruned: int, flops_pruned: int,
                       dataset: str = 'cifar', base_epochs: int | None = None
                       ) -> tuple[int, list[int]]:
  """(epochs, LR x0.1 milestones) of Scratch-B.

  ``r = flops_unpruned / flops_pruned`` (pruned FLOPs of a sparse model must
  count only non-zero conv weights, *after* the mask is applied).

  * ``'cifar'``: ``E = int(base*r)`` (base 160), no cap; milestones
    ``int(0.5E)``, ``int(0.75E)``.
  * ``'imagenet'``: ``r >= 2``: 180 epochs (2x90), x0.1 every 60; else
    ``E = int(90*r)`` with x0.1 every ``int(E/3)``.
  """
  if flops_pruned <= 0 or flops_unpruned <= 0:
    raise ValueError('FLOPs must be positive, got '
                     f'{flops_unpruned} and {flops_pruned}')
  r = flops_unpruned / flops_pruned
  if dataset == 'cifar':
    epochs = int((base_epochs or 160) * r)
    return epochs, [int(0.5 * epochs), int(0.75 * epochs)]
  if dataset == 'imagenet':
    base = base_epochs or 90
    if r >= 2:
      epochs, step = 2 * base, 2 * base // 3
    else:
      epochs = int(base * r)
      step = max(int(epochs / 3), 1)
    return epochs, list(range(step, epochs, step))
  raise ValueError(f"dataset must be 'cifar' or 'imagenet', got {dataset!r}")


def scratch_b_epochs(flops_unpruned: int, flops_pruned: int,
                     dataset: str = 'cifar',
                     base_epochs: int | None = None) -> int:
  return scratch_b_schedule(flops_unpruned, flops_pruned, dataset,
                            base_epochs)[0]
