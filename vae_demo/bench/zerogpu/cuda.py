"""CPU stand-ins for what a CUDA build of torch has, so that the REAL ``spaces`` package runs in ZeroGPU mode
on a CPU-only machine (tests only; vae_demo/bench/zerogpu/standin.py starts the processes that use it).

Import this module, and let it finish importing, before ``spaces``; then call :func:`import_spaces`, which
imports the package and points it at the GPU model to emulate. At import the package checks, in a forked
child process, that CUDA was not initialised: it sends the check (``torch.cuda._is_in_bad_fork``, here
this module's function) to the child by name, and the child imports this module to find it. Were this
module still being imported in the parent at that moment, its import lock would be held in the child by a
thread the child does not have, and the check would wait forever.

What the package needs that a CPU build lacks, and the stand-in for each:

- ``torch.version.cuda`` (read at import, to pick its CUDA memory statistics): "12.8";
- ``torch._C._cuda_init`` (kept at import, restored inside a call): raises as a CPU build does;
- ``torch.cuda._is_in_bad_fork``, which the import-time check runs in a forked child, sent there by name:
  a CPU build's is a lambda (no name); the stand-in is this module's function (hence the order above);
- ``torch.Tensor.cuda``: the worker's init moves a tensor to the GPU (``torch.Tensor([0]).cuda()``) after
  undoing the CUDA emulation: here it returns the tensor, on the CPU;
- ``torch.cuda.synchronize``: called after moving the app's CUDA tensors to the GPU (there are none
  here): a no-op;
- the GPU model the driver reports (``/proc/driver/nvidia/gpus/*/information``), which picks the hardware's
  entry in the package's own configs.json and so the duration factor: read from
  ``$ZEROGPU_TEST_GPU_MODEL`` (default "NVIDIA RTX PRO 6000 Blackwell Server Edition", factor 1.5).

Inside a call the package undoes its emulation, so ``torch.cuda.is_available()`` is the real answer
(False) and training runs on the CPU; outside calls the app sees the package's emulated CUDA, as on a
Space.
"""

from __future__ import annotations

import os

import torch

if torch.version.cuda is None:
    torch.version.cuda = "12.8"
if not hasattr(torch._C, "_cuda_init"):  # the package keeps it to restore after its emulation

    def _cuda_init():
        raise AssertionError("Torch not compiled with CUDA enabled")

    torch._C._cuda_init = _cuda_init


def _is_in_bad_fork() -> bool:
    """A CPU build's is a lambda, which the package's fork check cannot send to its child process (by
    name): this one it can, once this module has finished importing."""
    return False


if not torch.cuda.is_available():
    torch.cuda._is_in_bad_fork = _is_in_bad_fork
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # the worker's CUDA init: stays on the CPU
    torch.cuda.synchronize = lambda *args, **kwargs: None

GPU_MODEL_ENV = "ZEROGPU_TEST_GPU_MODEL"
DEFAULT_GPU_MODEL = "NVIDIA RTX PRO 6000 Blackwell Server Edition"


def import_spaces():
    """Import the real ``spaces`` package (ZeroGPU mode when ``SPACES_ZERO_GPU`` is set) and make its
    hardware the one ``$ZEROGPU_TEST_GPU_MODEL`` names (its entry in the package's configs.json)."""
    import spaces

    if os.environ.get("SPACES_ZERO_GPU"):
        from spaces.zero import config

        model = os.environ.get(GPU_MODEL_ENV, DEFAULT_GPU_MODEL)
        config._read_gpu_information = lambda: f"Model: \t {model}\nIRQ: 0\n"
        config.get_config.cache_clear()
    return spaces


GPU_ENV = {"ZEROGPU_TEST_PIECE_S": "PIECE_SECONDS", "ZEROGPU_TEST_OVERHEAD_S": "OVERHEAD_SECONDS",
           "ZEROGPU_TEST_MIN_TRAIN_S": "MIN_TRAIN_SECONDS"}


def apply_gpu_env() -> None:
    """The app's call durations (vae_demo.services.gpu) from the environment: tests make calls of a second
    or two where a Space's are 45 s."""
    from vae_demo.services import gpu

    for env, name in GPU_ENV.items():
        if os.environ.get(env):
            setattr(gpu, name, float(os.environ[env]))
    if os.environ.get("ZEROGPU_TEST_GRADIO_QUEUE") == "default":  # Gradio's own queue (the control)
        gpu.queue_settings = lambda: {"default_concurrency_limit": gpu.DEFAULT_CONCURRENCY_LIMIT}
