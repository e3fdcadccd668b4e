"""Seeds of a study in lockstep, so their stages of one name share one step.

A study writes its work for one seed (``run_seed(ctx, index)``) and runs it
for every seed with :meth:`jaxprune.studies.context.RunContext.map_seeds`.
With ``config.seeds_in_parallel`` N > 1 that runs N seeds as a *gang*
(:func:`run`): each seed's function runs in a thread of its own, but only one
runs at a time, in seed order, until it asks for a stage
(:func:`submit`, from the one stage runner) or returns. Once every seed of
the gang waits on a stage or is done, the waiting stages run: those with one
``key`` together (``run_together``, e.g. one
:func:`jaxprune.training.loop.fit_runs` over a stacked state), the others
alone, in the order they were asked for; then the seeds go on, in order.

Nothing runs concurrently and the order is fixed, so every process of a
multi-process run takes the same steps in the same order, and every stage
(and every signal handler) runs in the calling thread. A seed's stages read
and write only its own directories, as without a gang, so a run may resume
with another ``seeds_in_parallel``.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Hashable, Sequence

_LOCAL = threading.local()


class _Aborted(BaseException):
  """Ends a waiting seed's thread when the gang stops on an error."""


class _Seed:
  """One seed's thread and its hand-over with the gang (one side runs at a
  time: the gang waits on ``paused`` while the seed runs, the seed waits on
  ``resume`` while the gang runs)."""

  def __init__(self, index: int, fn: Callable[[int], Any]):
    self.index, self.fn = index, fn
    self.resume, self.paused = threading.Event(), threading.Event()
    self.request: Any = None
    self.response: Any = None
    self.done, self.aborted = False, False
    self.result: Any = None
    self.error: BaseException | None = None
    self.thread = threading.Thread(target=self._main, daemon=True,
                                   name=f'jaxprune-seed{index}')

  def _main(self):
    _LOCAL.seed = self
    self._wait()
    try:
      if not self.aborted:
        self.result = self.fn(self.index)
    except _Aborted:
      pass
    except BaseException as e:  # pylint: disable=broad-except
      self.error = e  # re-raised by the gang, in its thread
    self.done = True
    self.paused.set()

  def _wait(self):
    self.resume.wait()
    self.resume.clear()

  def ask(self, request):
    """In the seed's thread: hands ``request`` over and waits for it."""
    self.request = request
    self.paused.set()
    self._wait()
    if self.aborted:
      raise _Aborted()
    response, self.response = self.response, None
    return response

  def run_until_paused(self):
    """In the gang's thread: lets the seed run to its next request or end."""
    self.paused.clear()
    self.resume.set()
    self.paused.wait()

  def stop(self):
    if not self.done:
      self.aborted = True
      self.resume.set()
      self.thread.join()


def in_gang() -> bool:
  """Whether the calling code runs as a seed of a gang."""
  return getattr(_LOCAL, 'seed', None) is not None


def submit(request):
  """From a seed of a gang: the result of ``request`` once the gang ran it
  (if it raised, the gang stops with its exception)."""
  return _LOCAL.seed.ask(request)


def run(fn: Callable[[int], Any], indices: Sequence[int],
        run_together: Callable[[list], list],
        key: Callable[[Any], Hashable | None]) -> list[Any]:
  """``[fn(i) for i in indices]``, the seeds as one gang (module docstring).

  Args:
    fn: one seed's work; it calls :func:`submit` for every stage.
    indices: the seeds' indices.
    run_together: ``requests -> results`` of requests that share a key (or
      of one request).
    key: a request's key; requests with equal keys that are not None run
      together, a None key runs alone.

  Raises:
    Whatever a seed or a stage raised first (the other seeds are stopped).
  """
  seeds = [_Seed(i, fn) for i in indices]
  for seed in seeds:
    seed.thread.start()
  try:
    while True:
      for seed in seeds:
        if not seed.done:
          seed.run_until_paused()
          if seed.error is not None:
            raise seed.error
      waiting = [s for s in seeds if not s.done]
      if not waiting:
        return [s.result for s in seeds]
      for group in _groups(waiting, key):
        results = run_together([s.request for s in group])
        for seed, result in zip(group, results, strict=True):
          seed.request, seed.response = None, result
  finally:
    for seed in seeds:
      seed.stop()


def _groups(seeds: list[_Seed], key) -> list[list[_Seed]]:
  """Seeds whose requests share a key, in the order of their first."""
  groups: dict[Any, list[_Seed]] = {}
  for n, seed in enumerate(seeds):
    k = key(seed.request)
    groups.setdefault(('alone', n) if k is None else ('key', k), []).append(
        seed)
  return list(groups.values())
