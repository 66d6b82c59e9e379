"""GPU work on a Hugging Face ZeroGPU Space: bounded ``@spaces.GPU`` calls; elsewhere nothing changes.

On ZeroGPU (the platform sets ``SPACES_ZERO_GPU``) a GPU is lent to the app only while a function
decorated with ``@spaces.GPU`` runs. Such a call runs in a forked worker process (its arguments and
result travel by pickle), is refused when its declared duration exceeds what the visitor may use,
is cut off when it runs past it, and counts against the visitor's daily GPU quota (Hugging Face's
``spaces-zerogpu.md``: 60 s by default; free accounts get a few minutes a day). So here:

- **training is the only GPU work.** :func:`train_piece` trains for at most :data:`PIECE_SECONDS`
  from a :class:`~vae_demo.training.RunState` to the next one; the training job calls it again and
  again (its progress, loss curves and Stop work between calls, and the checkpoint is saved
  atomically after each call that finished an epoch). The declared duration is the piece's budget
  plus :data:`OVERHEAD_SECONDS` for the worker's start, moving the data to the GPU and an epoch's
  test pass.
- **everything else runs on the CPU**: the registry loads every model on the CPU, and restore, the
  sliders, the latent map and interpolation never enter a decorated function, so a class browsing
  the app spends no one's GPU quota.

Off ZeroGPU ``spaces.GPU`` returns the function unchanged (and without the ``spaces`` package the
decorator here is the identity), and the training job runs in one go as it always has: the CPU path
and a plain CUDA machine are not affected. tests/test_zerogpu.py drives this module with a fake
``spaces`` that pickles arguments and results and enforces the declared duration; nothing here can
reach the real ZeroGPU.
"""

from __future__ import annotations

import os
import threading

from vae_demo.training import RunState, TrainConfig, TrainingError, advance

try:  # on a Space `spaces` is installed and must be imported before torch touches CUDA (app.py does)
    import spaces
except ImportError:  # pragma: no cover - requirements.txt installs it
    spaces = None

ZEROGPU_ENV = "SPACES_ZERO_GPU"
PIECE_SECONDS = 20.0  # training per GPU call: Stop and the curves respond within this
OVERHEAD_SECONDS = 25.0  # worker start, data to the GPU, an epoch's test pass: declared on top


def on_zerogpu() -> bool:
    """True on a ZeroGPU Space (as the ``spaces`` package itself decides)."""
    return os.environ.get(ZEROGPU_ENV, "").strip().lower() in ("1", "t", "true")


def gpu(duration):
    """``spaces.GPU(duration=...)`` where the package is installed (effect-free off ZeroGPU), else the identity."""
    if spaces is None:
        return lambda fn: fn
    return spaces.GPU(duration=duration)


# The data of the run in progress, loaded once by the job (on the CPU) before the first GPU call: the
# ZeroGPU worker is forked from this process and inherits it, so no call pickles 50-150 MB of images.
_DATA: dict[tuple, tuple] = {}
_DATA_LOCK = threading.Lock()


def run_data(cfg: TrainConfig, data_dir=None, download: bool = False):
    """(train split, test split) for ``cfg``, cached for the run in progress (one dataset at a time)."""
    from vae_demo.train import load_run_data

    key = (cfg.dataset, str(data_dir))
    with _DATA_LOCK:
        if key not in _DATA:
            _DATA.clear()
            _DATA[key] = load_run_data(cfg, data_dir, download)
        return _DATA[key]


def piece_duration(state, cfg, data_dir=None, seconds=PIECE_SECONDS) -> int:
    """The duration a call declares (ZeroGPU's dynamic duration: called with the call's arguments)."""
    return int(round(float(seconds) + OVERHEAD_SECONDS))


@gpu(duration=piece_duration)
def train_piece(state: RunState | None, cfg: TrainConfig, data_dir=None, seconds: float = PIECE_SECONDS):
    """Train ``cfg`` from ``state`` (None: from the start) for about ``seconds`` on the GPU (``cfg.device``
    'auto' picks it), and return ``(state, error)``: the new state, and None or ``(kind, message)`` for
    a failure the job explains (``"nan"``: the loss diverged; ``"oom"``: out of memory). Errors are
    returned, not raised, because ZeroGPU re-raises a worker's exception as a bare "worker error"."""
    import torch

    train_set, test_set = run_data(cfg, data_dir)
    try:
        return advance(state, cfg, train_set, test_set, seconds), None
    except TrainingError as err:
        return state, ("nan", str(err))
    except (torch.OutOfMemoryError, MemoryError) as err:
        return state, ("oom", str(err)[:200])
