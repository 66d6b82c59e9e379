"""Training from the app: one job at a time, in a background thread, stoppable, observable.

``JobManager.start(cfg)`` validates the settings, caps the epochs (``$VAE_DEMO_MAX_EPOCHS``, default
20) and the training images (``$VAE_DEMO_MAX_TRAIN_IMAGES``, default all), and runs
:func:`vae_demo.train.run`, which saves the checkpoint after every epoch. On a ZeroGPU Space it trains
instead in pieces, one bounded GPU call each (:mod:`vae_demo.services.gpu`), carrying the run's state
from call to call and saving the checkpoint after each call that finished an epoch. ``snapshot()`` is what the
UI polls: status, progress, ETA, per-epoch metrics, a grid of test reconstructions after each epoch.
Failures (NaN loss, missing data, a full disk, anything else) end the job with a clear message; the
rest of the app keeps serving. When a job ends, the registry is refreshed so the new checkpoint
appears in every picker.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import math
import os
import threading
import time
import traceback
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from vae_demo.checkpoints import CheckpointError
from vae_demo.data import DataNotFoundError
from vae_demo.models import MODELS
from vae_demo.services import gpu
from vae_demo.services.images import UserInputError, display, grid
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.testdata import download_allowed
from vae_demo.training import (
    TrainConfig,
    TrainingError,
    TrainResult,
    all_model_settings,
    make_model,
    pick_device,
)

log = logging.getLogger(__name__)

MAX_EPOCHS_ENV = "VAE_DEMO_MAX_EPOCHS"
MAX_IMAGES_ENV = "VAE_DEMO_MAX_TRAIN_IMAGES"
DEFAULT_MAX_EPOCHS = 20
GRID_IMAGES = 8


def max_epochs() -> int:
    try:
        return max(1, int(os.environ.get(MAX_EPOCHS_ENV, DEFAULT_MAX_EPOCHS)))
    except ValueError:
        return DEFAULT_MAX_EPOCHS


def max_train_images() -> int:
    try:
        return max(0, int(os.environ.get(MAX_IMAGES_ENV, 0)))
    except ValueError:
        return 0


def device_description() -> str:
    if gpu.on_zerogpu():  # CUDA is emulated outside GPU calls there: do not ask torch
        return (f"ZeroGPU (a GPU is lent for each {gpu.PIECE_SECONDS:g}-second piece of training; "
                "the visitor's daily GPU quota applies)")
    dev = pick_device("auto")
    if dev.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(0)})"
    if dev.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({os.cpu_count()} cores; no GPU found)"


def _num(value, name: str, lo: float, hi: float, integer: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserInputError(f"{name} must be a number") from None
    if not math.isfinite(v):
        raise UserInputError(f"{name} must be a finite number")
    v = min(max(v, lo), hi)
    return int(round(v)) if integer else v


def _at_default(s, value) -> bool:
    try:
        return s.check(value) == s.default
    except ValueError:
        return False


def make_config(dataset, model, latent_dim, corruption, epochs, batch_size, lr, train_limit=0, seed=0,
                hparams: dict | None = None) -> tuple[TrainConfig, list[str]]:
    """A validated TrainConfig from UI/API values (numbers clamped), plus notes on what was capped.
    ``hparams``: the Train tab's model settings by name. The tab sends every control, shown or not: one the
    chosen kind does not take is dropped at its default (the tab resets hidden controls to it), and an error
    otherwise (an API call asking for something the kind cannot do)."""
    notes = []
    cap = max_epochs()
    e = _num(epochs, "epochs", 1, 10_000, integer=True)
    if e > cap:
        notes.append(f"epochs capped at {cap} (set {MAX_EPOCHS_ENV} to change)")
        e = cap
    limit = _num(train_limit or 0, "training images", 0, 10_000_000, integer=True)
    img_cap = max_train_images()
    if img_cap and (limit == 0 or limit > img_cap):
        notes.append(f"training images capped at {img_cap} (set {MAX_IMAGES_ENV} to change)")
        limit = img_cap
    taken = MODELS[model].settings() if model in MODELS else {}
    chosen = {}
    for name, value in (hparams or {}).items():
        s = taken.get(name)
        if value is None:
            continue
        if s is None:
            declared = all_model_settings().get(name)
            if declared is not None and _at_default(declared, value):
                continue
            chosen[name] = value  # validate() says which kinds take it
            continue
        if s.kind in ("int", "float"):
            value = _num(value, s.title, s.lo if s.lo is not None else -math.inf,
                         s.hi if s.hi is not None else math.inf, integer=s.kind == "int")
        chosen[name] = value
    cfg = TrainConfig(
        dataset=str(dataset), model=str(model),
        latent_dim=_num(latent_dim, "latent size", 1, 512, integer=True),
        epochs=e,
        batch_size=_num(batch_size, "batch size", 1, 4096, integer=True),
        lr=_num(lr, "learning rate", 1e-6, 1.0),
        corruption=str(corruption or "none"),
        train_limit=limit,
        seed=_num(seed, "seed", 0, 2**31 - 1, integer=True),
        hparams=chosen,
    )
    try:
        cfg.validate()
    except ValueError as err:
        raise UserInputError(str(err)) from None
    return cfg, notes


@dataclass
class JobState:
    status: str = "idle"  # idle, running, stopping, done, stopped, failed
    name: str = ""
    config: TrainConfig | None = None
    device: str = ""
    message: str = ""
    notes: list[str] = field(default_factory=list)
    done_batches: int = 0
    total_batches: int = 0
    started: float = 0.0
    finished: float = 0.0
    history: list[dict] = field(default_factory=list)
    grid: np.ndarray | None = None  # originals (top) and reconstructions (bottom), display-ready

    @property
    def running(self) -> bool:
        return self.status in ("running", "stopping")

    @property
    def fraction(self) -> float:
        return self.done_batches / self.total_batches if self.total_batches else 0.0

    @property
    def eta_s(self) -> float | None:
        if not self.running or self.done_batches == 0 or not self.total_batches:
            return None
        spent = time.time() - self.started
        return spent / self.done_batches * (self.total_batches - self.done_batches)


class JobManager:
    def __init__(self, registry: ModelRegistry, data_dir=None):
        self.registry = registry
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._state = JobState()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def snapshot(self) -> JobState:
        with self._lock:
            s = replace(self._state)
            s.history = [dict(h) for h in self._state.history]
            s.notes = list(self._state.notes)
            return s

    def _update(self, **kw) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(self._state, k, v)

    def start(self, cfg: TrainConfig, name: str | None = None, notes: list[str] | None = None) -> JobState:
        """Start a job; UserInputError if one is running. Returns the first snapshot."""
        from vae_demo.train import default_name

        with self._lock:
            if self._state.running:
                raise UserInputError(f"a training job is already running ({self._state.name}); "
                                     "wait for it or press Stop")
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            name = name or f"{default_name(cfg)}_app{stamp}"
            self._stop.clear()
            self._state = JobState(status="running", name=name, config=cfg, device=device_description(),
                                   message="loading data …", notes=list(notes or []), started=time.time())
            # the thread carries the caller's context: on ZeroGPU the GPU calls are then counted against
            # the quota of the visitor who pressed Train (the request lives in a context variable)
            self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run, cfg, name),
                                            name=f"train-{name}", daemon=True)
            self._thread.start()
            return replace(self._state)

    @staticmethod
    def stop_note() -> str:
        """When a Stop takes effect."""
        if gpu.on_zerogpu():
            return f"after the current GPU call (at most about {gpu.PIECE_SECONDS:g} s)"
        return "after the current batch"

    def stop(self) -> bool:
        with self._lock:
            if not self._state.running:
                return False
            self._state.status = "stopping"
            self._state.message = f"stopping {self.stop_note()} …"
        self._stop.set()
        return True

    def wait(self, timeout: float | None = None) -> JobState:
        t = self._thread
        if t is not None:
            t.join(timeout)
        return self.snapshot()

    def _run(self, cfg: TrainConfig, name: str) -> None:
        from vae_demo.train import run

        # every core but one: the other tabs stay responsive while a job runs (UI handlers use one thread)
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))

        grid_x = None

        def on_batch(done, total):
            steps = max(1, total // cfg.epochs)
            self._update(done_batches=done, total_batches=total,
                         message=f"epoch {min(cfg.epochs, (done - 1) // steps + 1)} of {cfg.epochs}")
            return self._stop.is_set()

        def on_epoch(metrics, model):
            nonlocal grid_x
            picture = None
            try:
                if grid_x is None:
                    from vae_demo.data import load_dataset

                    test = load_dataset(cfg.dataset, "test", self.data_dir, download=False)
                    grid_x = test.floats(slice(0, GRID_IMAGES))
                with torch.no_grad():
                    model.eval()
                    recon = model.reconstruct(grid_x.to(model.device)).float().cpu()
                picture = display(grid(torch.cat([grid_x, recon]), GRID_IMAGES), 720)
            except Exception as err:  # a picture is nice to have, never worth failing the job
                log.warning("recon grid failed: %s", err)
            with self._lock:
                self._state.history.append(dict(metrics))
                if picture is not None:
                    self._state.grid = picture
                self._state.message = f"epoch {metrics.get('epoch')} of {cfg.epochs} done, checkpoint saved"
                if not self._state.total_batches:  # PCA: no batches
                    self._state.done_batches = self._state.total_batches = 1
            return self._stop.is_set()

        status, message = "done", ""
        try:
            if gpu.on_zerogpu():
                result = self._run_in_pieces(cfg, name, on_epoch)
            else:
                result = run(cfg, name, self.data_dir, download_allowed(), self.registry.user_directory,
                             on_epoch=on_epoch, on_batch=on_batch, progress=False)
            if result.stopped or self._stop.is_set():
                status = "stopped"
                message = (f"stopped after {result.epochs_done} epoch(s); " +
                           (f"checkpoint {name} saved" if result.epochs_done else "nothing was saved"))
            else:
                message = f"finished {result.epochs_done} epoch(s) in {result.wall_time_s:.1f} s; checkpoint {name} saved"
        except (torch.OutOfMemoryError, MemoryError):
            status, message = "failed", (
                f"training ran out of memory ({cfg.dataset}, {cfg.model}, batch size {cfg.batch_size}): try a "
                "smaller batch size or model. Checkpoints of earlier epochs and other models are untouched.")
        except TrainingError as err:
            status, message = "failed", f"training failed: {err}"
        except DataNotFoundError as err:
            status, message = "failed", f"no training data: {err}"
        except (CheckpointError, ValueError) as err:
            status, message = "failed", f"failed: {err}"
        except OSError as err:
            status, message = "failed", (f"could not write the checkpoint to {self.registry.user_directory}: "
                                         f"{err.strerror or err} (disk full or read-only?); the checkpoint of "
                                         "the last finished epoch, if any, and every other checkpoint are untouched")
        except Exception as err:  # never let a job take the app down
            log.error("training job crashed:\n%s", traceback.format_exc())
            status, message = "failed", f"training crashed: {type(err).__name__}: {err}"
        try:
            self.registry.refresh()
        except Exception as err:
            log.warning("registry refresh after training failed: %s", err)
        self._update(status=status, message=message, finished=time.time())

    def _run_in_pieces(self, cfg: TrainConfig, name: str, on_epoch) -> TrainResult:
        """ZeroGPU: train in bounded GPU calls (:func:`gpu.train_piece`), the state carried from call to
        call; between calls update the progress, honour Stop, and save the checkpoint (atomically) when
        an epoch has finished. The data is loaded here, on the CPU, before the first call."""
        from vae_demo.train import CheckpointWriter

        train_set, test_set = gpu.run_data(cfg, self.data_dir, download_allowed())
        writer = CheckpointWriter(cfg, name, train_set, test_set, self.registry.user_directory)
        state, saved, model = None, 0, None
        while state is None or not state.done:
            if self._stop.is_set():
                break
            try:
                state, error = gpu.train_piece(state, cfg, self.data_dir, gpu.PIECE_SECONDS)
            except Exception as err:  # refused (quota, duration), cut off, or the worker died
                raise TrainingError(f"the GPU call failed ({type(err).__name__}: {str(err)[:200]})") from None
            if error is not None:
                kind, text = error
                raise (torch.OutOfMemoryError if kind == "oom" else TrainingError)(text)
            self._update(done_batches=state.done_batches, total_batches=state.total_batches,
                         message=f"epoch {min(cfg.epochs, state.epoch + 1)} of {cfg.epochs} "
                                 f"({state.done_batches} of {state.total_batches} batches)")
            if len(state.history) > saved:
                model = make_model(cfg, train_set.images.shape[1:])
                model.load_state_dict(state.last_good)
                model.eval()
                writer.save(model, state.history, state.device, state.hardware)
                for metrics in state.history[saved:]:
                    on_epoch(metrics, model)
                saved = len(state.history)
        stopped = state is None or not state.done
        return TrainResult(model=model, history=list(state.history) if state else [],
                           wall_time_s=state.elapsed_s if state else 0.0,
                           device=state.device if state else "", stopped=stopped, config=cfg)
