"""GPU work on a Hugging Face ZeroGPU Space: bounded ``@spaces.GPU`` calls; elsewhere nothing changes.

On ZeroGPU (the platform sets ``SPACES_ZERO_GPU``) a GPU is lent to the app only while a function
decorated with ``@spaces.GPU`` runs. What the installed ``spaces`` package (0.51) does with such a call,
read from its source, and what this module does about it:

- **the call runs in a forked worker process**, reused from call to call while it lives; its arguments
  and result cross through multiprocessing queues, which put every CPU *tensor* in shared memory
  (/dev/shm, 64 MiB in a default Docker container). So the run's state crosses as **bytes**
  (:func:`pack_state`: a 40 MiB state is 40 MiB of pickled bytes through a pipe, never /dev/shm), and
  the training data is never an argument: the job loads it before the first call and the worker,
  forked afterwards, inherits it (:func:`run_data`).
- **the declared duration** (a number, or a callable of the call's arguments) is multiplied by the
  hardware's ``duration_factor`` (the package's ``configs.json``: 1.5 on the RTX PRO 6000 Blackwell
  ZeroGPU now runs on, 1.0 on an H200) and the product is what the platform checks against what the
  visitor has left of the daily quota (hub-docs ``spaces-zerogpu.md``: 2 min unauthenticated, 5 min for
  a free account) and what it allows the call to run. :func:`plan_piece` picks each call's duration
  from that: it asks for :data:`PIECE_SECONDS` of training plus :data:`OVERHEAD_SECONDS`, less when the
  run needs less, and no more than the quota the platform last *reported* (a refusal says how many
  seconds are left: the job then asks again for what is left, :func:`explain_failure`).
- **the worker's messages do not reach the page** (they are addressed to the Train event, which has
  already returned): the worker reports its start and its progress through a pipe it inherits
  (:func:`listen`), so the job shows the wait for a GPU, each call's progress and the GPU time used.
- **a worker's exception reaches the caller as its class name only**: :func:`train_piece` returns
  every error as ``(kind, message)`` instead; and **a worker outlives a killed app** (the package's
  workers are daemonic, which only helps at a clean exit): each worker watches its parent and exits
  when it is gone.

Everything but training runs on the CPU (restore, the sliders, the latent map, interpolation never enter
a decorated function), so a class browsing the app spends no one's quota. Off ZeroGPU ``spaces.GPU``
returns the function unchanged (and without the ``spaces`` package the decorator here is the identity),
and the training job runs in one go as it always has.

Tests: tests/test_zerogpu_real.py runs the app and the job under the real package in ZeroGPU mode
against a loopback stand-in for the device API (vae_demo/bench/zerogpu/standin.py); tests/test_zerogpu.py drives
this module in-process with a fake ``spaces`` (tests/helpers/fake_spaces.py) where a test needs to reach
inside a call.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import re
import threading
import time
from dataclasses import dataclass

from vae_demo.training import RunState, TrainConfig, TrainingError, advance

try:  # on a Space `spaces` is installed and must be imported before torch touches CUDA (app.py does)
    import spaces
except ImportError:  # pragma: no cover - requirements.txt installs it
    spaces = None

ZEROGPU_ENV = "SPACES_ZERO_GPU"
PIECE_SECONDS = 20.0  # training per GPU call: Stop and the curves respond within this
OVERHEAD_SECONDS = 25.0  # worker start, data to the GPU, an epoch's test pass: asked for on top
MIN_TRAIN_SECONDS = 5.0  # a call that could train less than this is not asked for
CALL_COST_SECONDS = 6.0  # what a call is expected to hold the GPU beyond its training (estimates only)
PROGRESS_EVERY_S = 0.5  # how often a call reports its progress
REPORT_TTL_S = 600.0  # how long the quota the platform reported is trusted (it recharges over time)

# the daily GPU quota per kind of visitor (hub-docs spaces-zerogpu.md; PRO: the package's PRO_QUOTA_MINUTES)
QUOTA_TIERS = (("not logged in", 120), ("free account", 300), ("PRO account", 2400))
TRAIN_IMAGES = {"mnist": 60000, "fashion-mnist": 60000, "cifar10": 50000}

# Gradio's queue (vae_demo/app/launch.py's main() and vae_demo/bench/latency.launch). On ZeroGPU Gradio's default holds ONE waiting event:
# a burst of 16 restores (a class moving the severity slider at once) had 13 refused ("Queue is full").
# Measured with the committed checkpoints on this project's 2-core machine, the app as on ZeroGPU (the real
# package, the load test's zerogpu_burst): Gradio runs up to 40 events at once (its threads) and this bound
# lets 128 more wait: bursts of 16, 32, 64 and 128 restores were all answered, the last after 0.7, 1.1, 3.7
# and 7.7 s; of 200 at once, 168 (40 + 128) were answered within 14 s and 32 refused with Gradio's message.
# A class of 30-40 has a few events each in flight at most.
QUEUE_MAX_SIZE = 128
DEFAULT_CONCURRENCY_LIMIT = 2  # handlers without their own limit: one per core of a Space's 2 vCPUs


def on_zerogpu() -> bool:
    """True on a ZeroGPU Space (as the ``spaces`` package itself decides)."""
    return os.environ.get(ZEROGPU_ENV, "").strip().lower() in ("1", "t", "true")


def queue_settings() -> dict:
    """``demo.queue(**queue_settings())``: the same bound on and off ZeroGPU (where Gradio's own default
    would be a queue of one)."""
    return {"max_size": QUEUE_MAX_SIZE, "default_concurrency_limit": DEFAULT_CONCURRENCY_LIMIT}


def gpu(duration):
    """``spaces.GPU(duration=...)`` where the package is installed (effect-free off ZeroGPU), else the identity."""
    if spaces is None:
        return lambda fn: fn
    return spaces.GPU(duration=duration)


def _zero_config() -> dict:
    """The package's hardware entry (its configs.json, picked by the GPU model the driver reports)."""
    config = getattr(getattr(spaces, "zero", None), "config", None)  # the real package, in ZeroGPU mode
    if not on_zerogpu() or config is None:
        return {}
    try:
        return dict(config.get_config())
    except Exception:  # noqa: BLE001  (another package version: no factor known)
        return {}


def duration_factor() -> float:
    """What the package multiplies a declared duration by before the platform checks it (1.0 off ZeroGPU)."""
    try:
        return float(_zero_config().get("duration_factor", 1.0)) or 1.0
    except (TypeError, ValueError):
        return 1.0


def hardware_name() -> str:
    return str(_zero_config().get("model", "")) or "GPU"


# --- how long a call asks for ------------------------------------------------------------------------

@dataclass(frozen=True)
class PiecePlan:
    request_s: int  # what the platform checks against the visitor's quota: declared × factor
    declared_s: int  # what the call declares (``@spaces.GPU(duration=...)``)
    train_s: float  # how long it trains (the rest of the allowed time is the overhead)


def min_request_s() -> int:
    return int(math.ceil(MIN_TRAIN_SECONDS + OVERHEAD_SECONDS))


def plan_piece(left_s: float | None = None, needed_s: float | None = None,
               max_request_s: int | None = None, factor: float | None = None) -> PiecePlan:
    """The next call's duration: :data:`PIECE_SECONDS` of training plus the overhead, less if the run
    needs less (``needed_s``: training seconds still to do, estimated), no more than the quota the
    platform reported (``left_s``) or the longest call it allowed (``max_request_s``), and never less
    than :func:`min_request_s` (whether that fits is the platform's to say). The declared duration is the
    request divided by the hardware factor, so declared × factor (what the platform checks) ≤ request."""
    f = duration_factor() if factor is None else factor
    want = PIECE_SECONDS if needed_s is None else min(PIECE_SECONDS, max(MIN_TRAIN_SECONDS, needed_s))
    request = want + OVERHEAD_SECONDS
    for cap in (left_s, max_request_s):
        if cap is not None:
            request = min(request, cap)
    low = min_request_s()
    declared = int(math.floor(max(low, math.floor(request)) / f))
    if declared * f < low:  # the factor's rounding must not leave less than the shortest useful call
        declared = int(math.ceil(low / f))
    allowed = declared * f
    return PiecePlan(request_s=int(round(allowed)), declared_s=declared,
                     train_s=round(min(want, allowed - OVERHEAD_SECONDS), 3))


def training_bought(quota_s: float, factor: float | None = None) -> tuple[float, int]:
    """(seconds of training, GPU calls) a quota of ``quota_s`` buys when every call asks for the most it
    may (:func:`plan_piece`) and is charged its training plus :data:`CALL_COST_SECONDS`."""
    left, total, calls = float(quota_s), 0.0, 0
    while left >= min_request_s() and calls < 10_000:
        plan = plan_piece(left_s=left, factor=factor)
        if plan.request_s > left:
            break
        total += plan.train_s
        calls += 1
        left -= plan.train_s + CALL_COST_SECONDS
    return total, calls


# --- how fast training goes on the GPU ----------------------------------------------------------------

# Training images per second on ONE CPU thread (batch 128, latent 16; measured on this project's 2-core
# development machine): the prior for a model's GPU speed until a call here measured it. On the GPU a
# step costs about 1/100 of one CPU thread (the committed CIFAR-10 U-Nets: 134 images/s on one thread,
# 13,800 on a lent CUDA GPU), and small models are bound by kernel launches (~300 steps/s).
CPU_IMAGES_PER_S = {
    (1, "conv_ae"): 2638, (1, "conv_vae"): 2491, (1, "mlp_ae"): 13702, (1, "mlp_vae"): 13086,
    (1, "unet"): 168, (1, "vqvae"): 1614,
    (3, "conv_ae"): 2028, (3, "conv_vae"): 1902, (3, "mlp_ae"): 2911, (3, "mlp_vae"): 2293,
    (3, "unet"): 134, (3, "vqvae"): 1266,
}
GPU_OVER_ONE_CPU_THREAD = 100.0
GPU_STEPS_PER_S = 300.0

_SPEEDS: dict[tuple, float] = {}  # measured by the calls of this app: images/s per run setting
_SPEEDS_LOCK = threading.Lock()


def _speed_key(cfg: TrainConfig) -> tuple:
    return (cfg.dataset, cfg.model, int(cfg.latent_dim), int(cfg.batch_size), str(cfg.corruption),
            json.dumps(cfg.hparams, sort_keys=True, default=str))


def record_speed(cfg: TrainConfig, images_per_s: float) -> None:
    if images_per_s > 0 and math.isfinite(images_per_s):
        with _SPEEDS_LOCK:
            _SPEEDS[_speed_key(cfg)] = float(images_per_s)


def training_speed(cfg: TrainConfig) -> tuple[float, bool]:
    """(training images per second on the GPU, measured here?) for ``cfg``: what an earlier call of the
    same settings measured, else the prior (:data:`CPU_IMAGES_PER_S`)."""
    with _SPEEDS_LOCK:
        measured = _SPEEDS.get(_speed_key(cfg))
    if measured:
        return measured, True
    channels = 3 if cfg.dataset == "cifar10" else 1
    cpu = CPU_IMAGES_PER_S.get((channels, cfg.model), 1500)
    return min(cpu * GPU_OVER_ONE_CPU_THREAD, GPU_STEPS_PER_S * max(1, int(cfg.batch_size))), False


def train_images(cfg: TrainConfig) -> int:
    n = TRAIN_IMAGES.get(cfg.dataset, 50000)
    return min(n, cfg.train_limit) if cfg.train_limit else n


# --- the run's state across the call boundary ---------------------------------------------------------

def pack_state(state: RunState | None) -> bytes | None:
    """``state`` as bytes (plain pickle: tensors are copied into the bytes). Through the package's
    multiprocessing queues bytes go down a pipe, where tensors would go through /dev/shm."""
    return None if state is None else pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def unpack_state(blob: bytes | None) -> RunState | None:
    return None if blob is None else pickle.loads(blob)  # noqa: S301  (this app's own bytes, never a visitor's)


# The data of the run in progress, loaded once by the job (on the CPU) before the first GPU call: the
# ZeroGPU worker is forked from this process and inherits it, so no call pickles 50-150 MB of images.
_DATA: dict[tuple, tuple] = {}
_DATA_LOCK = threading.Lock()


def run_data(cfg: TrainConfig, data_dir=None, download: bool = False):
    """(train split, test split) for ``cfg``, cached for the run in progress (one dataset at a time)."""
    from vae_demo.training.run import load_run_data

    key = (cfg.dataset, str(data_dir))
    with _DATA_LOCK:
        if key not in _DATA:
            _DATA.clear()
            _DATA[key] = load_run_data(cfg, data_dir, download)
        return _DATA[key]


# --- messages from inside a call -------------------------------------------------------------------

_MAIN_PID = os.getpid()


class _Channel:
    """A pipe made before the first worker is forked: workers inherit its write end and report on it
    (one ``os.write`` of a short line each, atomic); a thread here hands each line to its listener."""

    def __init__(self):
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)  # a full pipe drops a progress line, never blocks training
        self.listeners: dict[str, object] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._read, name="gpu-channel", daemon=True).start()

    def send(self, piece_id: str, kind: str, **data) -> None:
        line = (json.dumps([piece_id, kind, data], default=str) + "\n").encode()
        if len(line) < 4096:  # PIPE_BUF: written whole or not at all
            with contextlib.suppress(OSError):
                os.write(self.write_fd, line)

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            *lines, buf = (buf + chunk).split(b"\n")
            for line in lines:
                try:
                    piece_id, kind, data = json.loads(line)
                except ValueError:
                    continue
                with self.lock:
                    listener = self.listeners.get(piece_id)
                if listener is not None:
                    with contextlib.suppress(Exception):
                        listener(kind, data)


_CHANNEL: _Channel | None = None
_CHANNEL_LOCK = threading.Lock()


def _channel() -> _Channel:
    global _CHANNEL
    with _CHANNEL_LOCK:
        if _CHANNEL is None:
            _CHANNEL = _Channel()
        return _CHANNEL


@contextlib.contextmanager
def listen(piece_id: str, listener):
    """Hand the messages of call ``piece_id`` (``listener(kind, data)``: ``"start"``, ``"progress"``) to
    ``listener`` while the block runs. Call it (it makes the pipe) before the first GPU call."""
    ch = _channel()
    with ch.lock:
        ch.listeners[piece_id] = listener
    try:
        yield
    finally:
        with ch.lock:
            ch.listeners.pop(piece_id, None)


def _send(piece_id: str, kind: str, **data) -> None:
    if _CHANNEL is not None and piece_id:
        _CHANNEL.send(piece_id, kind, **data)


_WATCHING = False


def _exit_with_parent() -> None:
    """In a worker: exit when the process that forked it is gone (the package's workers are daemonic,
    which ends them only at a clean exit of the app; a killed app would leave them holding memory)."""
    global _WATCHING
    if _WATCHING or os.getpid() == _MAIN_PID:
        return
    _WATCHING = True
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# --- the GPU call ------------------------------------------------------------------------------------

def piece_duration(blob=None, cfg=None, data_dir=None, train_s: float = PIECE_SECONDS, piece_id: str = "",
                   declared_s: int | None = None) -> int:
    """The duration a call declares (ZeroGPU's dynamic duration: called with the call's own arguments):
    the one its plan chose (:func:`plan_piece`), else the training time plus the overhead."""
    if declared_s:
        return int(declared_s)
    return int(round(float(train_s) + OVERHEAD_SECONDS))


@gpu(duration=piece_duration)
def train_piece(blob: bytes | None, cfg: TrainConfig, data_dir=None, train_s: float = PIECE_SECONDS,
                piece_id: str = "", declared_s: int | None = None):
    """Train ``cfg`` from the packed state ``blob`` (None: from the start) for about ``train_s`` seconds on
    the GPU (``cfg.device`` 'auto' picks it). Returns ``(kind, payload, info)``: ``("ok", new packed
    state, info)`` or, for a failure, ``(kind, message, info)`` with kind ``"nan"`` (the loss diverged),
    ``"oom"`` (out of memory) or ``"error"`` (anything else, with its type, message and where it
    happened): the package would re-raise an exception as its class name only. ``info``: the worker's
    pid, when the call started (wall clock), the seconds trained and batches done."""
    t_start = time.time()
    _exit_with_parent()
    _send(piece_id, "start", t=t_start, pid=os.getpid())
    info = {"pid": os.getpid(), "started": t_start, "train_s": 0.0, "batches": 0}
    try:
        import torch

        state = unpack_state(blob)
        before = state.done_batches if state is not None else 0
        train_set, test_set = run_data(cfg, data_dir)
        last = [0.0]

        def on_batch(done, total):
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                _send(piece_id, "progress", done=done, total=total, t=time.time())
            return False

        t0 = time.perf_counter()
        new = advance(state, cfg, train_set, test_set, train_s, on_batch=on_batch)
        info.update(train_s=time.perf_counter() - t0, batches=new.done_batches - before)
        return "ok", pack_state(new), info
    except TrainingError as err:
        return "nan", str(err), info
    except (torch.OutOfMemoryError, MemoryError) as err:
        return "oom", str(err)[:300], info
    except Exception as err:  # noqa: BLE001  (the message must reach the job: the package would drop it)
        import traceback

        where = traceback.extract_tb(err.__traceback__)[-1:]
        at = f" (at {os.path.basename(where[0].filename)}:{where[0].lineno})" if where else ""
        return "error", f"{type(err).__name__}: {err}"[:400] + at, info


# --- what a failed call means ---------------------------------------------------------------------

@dataclass
class GpuFailure:
    kind: str  # quota, illegal, no_gpu, queue, aborted, other
    message: str  # the platform's (or the package's) own words
    requested_s: int | None = None
    left_s: int | None = None
    wait: str | None = None  # "Try again in ...", as the platform said it


_QUOTA_RE = re.compile(r"\((\d+)s requested vs\.? (\d+)s left\)")
_WAIT_RE = re.compile(r"[Tt]ry again in ([0-9:. a-z,]+?)\.?(?:\s|$)")
_ILLEGAL_RE = re.compile(r"requested GPU duration \((\d+)s\) is larger than the maximum allowed")


def explain_failure(err: BaseException) -> GpuFailure:
    """Sort an exception raised by a ``@spaces.GPU`` call (the package raises ``gr.Error`` with the
    platform's words; their ``title``: "ZeroGPU quota exceeded", "ZeroGPU illegal duration", ...)."""
    message = str(getattr(err, "message", "") or err).strip()
    title = str(getattr(err, "title", "") or "")
    low = (title + " " + message).lower()
    wait = m.group(1).strip() if (m := _WAIT_RE.search(message)) else None
    if m := _ILLEGAL_RE.search(message):
        return GpuFailure("illegal", message, requested_s=int(m.group(1)))
    if "illegal duration" in low:
        return GpuFailure("illegal", message)
    if m := _QUOTA_RE.search(message):
        return GpuFailure("quota", message, requested_s=int(m.group(1)), left_s=int(m.group(2)), wait=wait)
    if "no gpu was available after" in low:
        return GpuFailure("queue", message)
    if "no gpu was available" in low:
        return GpuFailure("no_gpu", message)
    if "quota" in low or "gpu limit" in low or "runs limit" in low:
        return GpuFailure("quota", message, wait=wait)
    if "aborted" in low or "worker error" in low:
        return GpuFailure("aborted", message)
    return GpuFailure("other", f"{type(err).__name__}: {message}"[:400])
