"""Training: the one pmap-ed step, optimizers and the per-epoch schedule, the
epoch loop, checkpoints, metric writers and devices.

Modules: :mod:`.step` (``TrainState``, the per-device train/eval step
bodies on axis ``AXIS_NAME``), :mod:`.optim` (PyTorch SGD, the one
per-epoch schedule, fixed-mask training), :mod:`.loop` (``fit``: train,
evaluate, log, checkpoint, resume), :mod:`.checkpoint` (orbax stage
checkpoints and the run manifest), :mod:`.metrics`, :mod:`.devices`,
:mod:`.host_memory` (the launchers' relaunch with huge-page malloc).
"""
