"""Training from the app: one job at a time, in a background thread, stoppable, observable.

``JobManager.start(cfg)`` validates the settings, caps the epochs (``$VAE_DEMO_MAX_EPOCHS``, default
20) and the training images (``$VAE_DEMO_MAX_TRAIN_IMAGES``, default all), and runs
:func:`vae_demo.training.run.run`, which saves the checkpoint after every epoch. On a ZeroGPU Space it trains
instead in pieces, one bounded GPU call each (:mod:`vae_demo.services.gpu`), carrying the run's state
from call to call and saving the checkpoint after each call that finished an epoch; each call's duration
fits what the platform last reported of the visitor's quota, and a refusal ends the job saying what is
left and what to do. ``snapshot()`` is what the UI polls: status, progress, ETA, per-epoch metrics, a grid
of test reconstructions after each epoch, and on ZeroGPU the wait for a GPU, the current call's progress
and the GPU time used (:func:`gpu_status`). :func:`quota_estimate` says before a run how much training
the visitor's quota buys; :func:`train_defaults` are the Train tab's settings (on a Space: ones that fit
an unauthenticated visitor's 2 minutes).
Failures (NaN loss, missing data, a full disk, anything else) end the job with a clear message; the
rest of the app keeps serving. When a job ends, the registry is refreshed so the new checkpoint
appears in every picker.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import logging
import math
import os
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from vae_demo.checkpoints import CheckpointError
from vae_demo.data import DataNotFoundError
from vae_demo.language import _, deferred, translate
from vae_demo.models import MODELS
from vae_demo.services import gpu
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import display, grid
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
        return deferred("ZeroGPU ({gpu}, lent for each piece of up to {s:g} s of training; the visitor's daily GPU "
                        "quota applies)", gpu=gpu.hardware_name(), s=gpu.PIECE_SECONDS)
    dev = pick_device("auto")
    if dev.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(0)})"
    if dev.type == "mps":
        return "Apple GPU (MPS)"
    return deferred("CPU ({n} cores; no GPU found)", n=os.cpu_count())


def _num(value, name: str, lo: float, hi: float, integer: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserInputError(_("{name} must be a number", name=name)) from None
    if not math.isfinite(v):
        raise UserInputError(_("{name} must be a finite number", name=name))
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
    e = _num(epochs, _("epochs"), 1, 10_000, integer=True)
    if e > cap:
        notes.append(deferred("epochs capped at {cap} (set {env} to change)", cap=cap, env=MAX_EPOCHS_ENV))
        e = cap
    limit = _num(train_limit or 0, _("training images"), 0, 10_000_000, integer=True)
    img_cap = max_train_images()
    if img_cap and (limit == 0 or limit > img_cap):
        notes.append(deferred("training images capped at {cap} (set {env} to change)", cap=img_cap,
                              env=MAX_IMAGES_ENV))
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
            value = _num(value, translate(s.title), s.lo if s.lo is not None else -math.inf,
                         s.hi if s.hi is not None else math.inf, integer=s.kind == "int")
        chosen[name] = value
    try:
        cfg = _config(dataset, model, latent_dim, e, batch_size, lr, corruption, limit, seed, chosen)
    except ValueError as err:  # the config's own check, the one it gets
        raise UserInputError(str(err)) from None
    return cfg, notes


def _config(dataset, model, latent_dim, epochs, batch_size, lr, corruption, limit, seed, hparams) -> TrainConfig:
    return TrainConfig(
        dataset=str(dataset), model=str(model),
        latent_dim=_num(latent_dim, _("latent size"), 1, 512, integer=True),
        epochs=epochs,
        batch_size=_num(batch_size, _("batch size"), 1, 4096, integer=True),
        lr=_num(lr, _("learning rate"), 1e-6, 1.0),
        corruption=str(corruption or "none"),
        train_limit=limit,
        seed=_num(seed, _("seed"), 0, 2**31 - 1, integer=True),
        hparams=hparams,
    )


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
    # on ZeroGPU (see gpu_status): the GPU calls, the wait for each, and the visitor's quota
    phase: str = ""  # "waiting for a GPU", "training on the GPU", "saving the checkpoint", "" between
    gpu_calls: int = 0  # calls asked for so far (the current one included)
    call_asked: float = 0.0  # when the current call asked for a GPU (time.time())
    call_started: float = 0.0  # when it got one and started (0: still waiting)
    call_train_s: float = 0.0  # how long it trains
    call_request_s: int = 0  # the GPU seconds it asked the platform for (declared × the hardware factor)
    gpu_wait_s: float = 0.0  # the time calls waited for a GPU, all calls together
    gpu_used_s: float = 0.0  # the GPU time the calls of this run held (what the visitor's quota is charged)
    quota_left_s: float | None = None  # what the platform reported left (a refusal says), less use since
    quota_wait: str | None = None  # the platform's "try again in ..."

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
        self._visitor = ""  # whose quota the running job's GPU calls count against (visitor_key)

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
        from vae_demo.training import default_name

        with self._lock:
            if self._state.running:
                raise UserInputError(_("a training job is already running ({name}); wait for it or press Stop",
                                       name=self._state.name))
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            name = name or f"{default_name(cfg)}_app{stamp}"
            self._stop.clear()
            self._visitor = visitor_key()
            self._state = JobState(status="running", name=name, config=cfg, device=device_description(),
                                   message=deferred("loading data …"), notes=list(notes or []), started=time.time(),
                                   quota_left_s=QUOTAS.left(self._visitor) if gpu.on_zerogpu() else None)
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
            return deferred("after the current GPU call (at most about {s:g} s)", s=gpu.PIECE_SECONDS)
        return deferred("after the current batch")

    def stop(self) -> bool:
        with self._lock:
            if not self._state.running:
                return False
            self._state.status = "stopping"
            self._state.message = deferred("stopping {when} …", when=self.stop_note())
        self._stop.set()
        return True

    def wait(self, timeout: float | None = None) -> JobState:
        t = self._thread
        if t is not None:
            t.join(timeout)
        return self.snapshot()

    def _run(self, cfg: TrainConfig, name: str) -> None:
        from vae_demo.training.run import run

        # every core but one: the other tabs stay responsive while a job runs (UI handlers use one thread)
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))

        grid_x = None

        def on_batch(done, total):
            steps = max(1, total // cfg.epochs)
            self._update(done_batches=done, total_batches=total,
                         message=deferred("epoch {i} of {n}", i=min(cfg.epochs, (done - 1) // steps + 1), n=cfg.epochs))
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
                self._state.message = deferred("epoch {i} of {n} done, checkpoint saved", i=metrics.get("epoch"),
                                               n=cfg.epochs)
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
                message = (deferred("stopped after {n} epoch(s); checkpoint {name} saved", n=result.epochs_done, name=name)
                           if result.epochs_done else
                           deferred("stopped after {n} epoch(s); nothing was saved", n=result.epochs_done))
            else:
                message = deferred("finished {n} epoch(s) in {s:.1f} s; checkpoint {name} saved", n=result.epochs_done,
                                   s=result.wall_time_s, name=name)
        except (torch.OutOfMemoryError, MemoryError):
            status, message = "failed", deferred(
                "training ran out of memory ({dataset}, {model}, batch size {batch}): try a smaller batch size or "
                "model. Checkpoints of earlier epochs and other models are untouched.", dataset=cfg.dataset,
                model=cfg.model, batch=cfg.batch_size)
        except GpuRefused as err:
            status, message = "failed", err.args[0] if err.args else str(err)  # (a Deferred: in the reader's language)
        except TrainingError as err:
            status, message = "failed", deferred("training failed: {why}", why=str(err))
        except DataNotFoundError as err:
            status, message = "failed", deferred("no training data: {why}", why=str(err))
        except (CheckpointError, ValueError) as err:
            status, message = "failed", deferred("failed: {why}", why=str(err))
        except OSError as err:
            status, message = "failed", deferred(
                "could not write the checkpoint to {folder}: {why} (disk full or read-only?); the checkpoint of the "
                "last finished epoch, if any, and every other checkpoint are untouched",
                folder=self.registry.user_directory, why=err.strerror or str(err))
        except Exception as err:  # never let a job take the app down
            log.error("training job crashed:\n%s", traceback.format_exc())
            status, message = "failed", deferred("training crashed: {why}", why=f"{type(err).__name__}: {err}")
        try:
            self.registry.refresh()
        except Exception as err:
            log.warning("registry refresh after training failed: %s", err)
        self._update(status=status, message=message, finished=time.time(), phase="")

    def _run_in_pieces(self, cfg: TrainConfig, name: str, on_epoch) -> TrainResult:
        """ZeroGPU: train in bounded GPU calls (:func:`gpu.train_piece`), the state carried from call to
        call as bytes; between calls update the progress, honour Stop, and save the checkpoint (atomically)
        when an epoch has finished. The data is loaded here, on the CPU, before the first call. Each call
        asks for what fits the quota the platform last reported for this visitor (:func:`gpu.plan_piece`);
        a refusal that says how much is left is answered by asking again for that much (or, for a duration
        above the platform's maximum, for half), once per refusal; any other refusal ends the job, saying
        what is left and what to do."""
        from vae_demo.training.run import CheckpointWriter

        train_set, test_set = gpu.run_data(cfg, self.data_dir, download_allowed())
        writer = CheckpointWriter(cfg, name, train_set, test_set, self.registry.user_directory)
        visitor = self._visitor
        state, blob, saved, model = None, None, 0, None
        max_request: int | None = None  # learned from an "illegal duration" refusal
        refused_request: int | None = None  # a retry must ask for less than what was refused
        last_failure: gpu.GpuFailure | None = None
        while state is None or not state.done:
            if self._stop.is_set():
                break
            plan = gpu.plan_piece(left_s=QUOTAS.left(visitor), needed_s=self._needed_s(cfg, state),
                                  max_request_s=max_request)
            if refused_request is not None and plan.request_s >= refused_request:
                raise GpuRefused(self._refusal_text(last_failure, plan, saved, name))
            try:
                kind, payload, info, ended = self._gpu_call(blob, cfg, plan)
            except Exception as err:  # refused (quota, duration, no GPU), cut off, or the worker died
                last_failure = gpu.explain_failure(err)
                log.info("GPU call refused or failed: %s (%s)", last_failure.kind, last_failure.message)
                if last_failure.kind == "quota" and last_failure.left_s is not None:
                    QUOTAS.report(visitor, last_failure.left_s)
                self._update(quota_left_s=QUOTAS.left(visitor), quota_wait=last_failure.wait)
                f, low = last_failure, gpu.min_request_s()
                if f.kind == "quota" and f.left_s is not None and low <= f.left_s < plan.request_s:
                    refused_request = plan.request_s
                    continue
                if f.kind == "illegal" and plan.request_s > low:
                    max_request = max(low, plan.request_s // 2)
                    refused_request = plan.request_s
                    continue
                raise GpuRefused(self._refusal_text(f, plan, saved, name)) from None
            refused_request = None
            held = max(0.0, ended - float(info.get("started") or ended))
            QUOTAS.charge(visitor, held)
            if info.get("train_s", 0) >= 0.5 and info.get("batches"):
                gpu.record_speed(cfg, info["batches"] * cfg.batch_size / info["train_s"])
            with self._lock:
                self._state.gpu_used_s += held
                self._state.quota_left_s = QUOTAS.left(visitor)
            if kind == "oom":
                raise torch.OutOfMemoryError(payload)
            if kind == "nan":
                raise TrainingError(payload)
            if kind != "ok":
                raise TrainingError(f"the GPU call failed: {payload}")
            state, blob = gpu.unpack_state(payload), payload
            self._update(done_batches=state.done_batches, total_batches=state.total_batches,
                         message=deferred("epoch {i} of {n} ({done} of {total} batches)",
                                          i=min(cfg.epochs, state.epoch + 1), n=cfg.epochs, done=state.done_batches,
                                          total=state.total_batches))
            if len(state.history) > saved:
                self._update(phase="saving the checkpoint")
                model = make_model(cfg, train_set.images.shape[1:])
                model.load_state_dict(state.last_good)
                model.eval()
                writer.save(model, state.history, state.device, state.hardware)
                for metrics in state.history[saved:]:
                    on_epoch(metrics, model)
                saved = len(state.history)
                self._update(phase="")
        stopped = state is None or not state.done
        return TrainResult(model=model, history=list(state.history) if state else [],
                           wall_time_s=state.elapsed_s if state else 0.0,
                           device=state.device if state else "", stopped=stopped, config=cfg)

    def _gpu_call(self, blob, cfg: TrainConfig, plan: gpu.PiecePlan):
        """One GPU call, its wait and progress shown as they happen (the worker reports on a pipe).
        Returns ``(kind, payload, info, ended)``; raises what the call raised."""
        piece_id = uuid.uuid4().hex
        asked = time.time()
        with self._lock:
            st = self._state
            st.gpu_calls += 1
            st.phase, st.call_asked, st.call_started = "waiting for a GPU", asked, 0.0
            st.call_train_s, st.call_request_s = plan.train_s, plan.request_s

        def on_message(kind, data):
            with self._lock:
                st = self._state
                if st.call_asked != asked:
                    return
                if kind == "start" and not st.call_started:
                    st.call_started, st.phase = float(data.get("t") or time.time()), "training on the GPU"
                elif kind == "progress":
                    st.done_batches, st.total_batches = int(data["done"]), int(data["total"])
                    steps = max(1, st.total_batches // max(1, cfg.epochs))
                    st.message = deferred("epoch {i} of {n} ({done} of {total} batches)",
                                          i=min(cfg.epochs, (st.done_batches - 1) // steps + 1), n=cfg.epochs,
                                          done=st.done_batches, total=st.total_batches)

        ended = None
        try:
            with gpu.listen(piece_id, on_message):
                kind, payload, info = gpu.train_piece(blob, cfg, self.data_dir, plan.train_s, piece_id,
                                                      plan.declared_s)
            ended = time.time()
            return kind, payload, info, ended
        finally:
            with self._lock:
                st = self._state
                started = (info.get("started") if ended is not None else None) or st.call_started or time.time()
                st.call_started = float(started)
                st.gpu_wait_s += max(0.0, float(started) - asked)
                st.phase = ""

    def _needed_s(self, cfg: TrainConfig, state) -> float | None:
        """Training seconds the run still needs, at the speed measured here (None: not measured yet)."""
        speed, measured = gpu.training_speed(cfg)
        if not measured:
            return None
        steps = math.ceil(gpu.train_images(cfg) / max(1, cfg.batch_size))
        left = steps * cfg.epochs - (state.done_batches if state is not None else 0)
        return 1.25 * left * cfg.batch_size / speed + 1.0

    def _refusal_text(self, f: gpu.GpuFailure, plan: gpu.PiecePlan, saved: int, name: str) -> str:
        kept = (deferred("your {n} finished epoch(s) are saved as {name}", n=saved, name=name) if saved
                else deferred("no epoch had finished, so nothing was saved"))
        said = deferred(" (the platform said: {what})", what=f.message) if f.message else ""
        if f.kind == "quota":
            left = (deferred("{s} s of GPU time left, and a GPU call needs at least {need} s", s=f.left_s,
                             need=gpu.min_request_s()) if f.left_s is not None else deferred("no GPU time left"))
            wait = deferred("wait ({when})", when=f.wait) if f.wait else deferred("wait (it recharges over the day)")
            return deferred("ZeroGPU refused the next GPU call: your daily GPU quota is used up ({left}); {kept}. To "
                            "train on: log in to Hugging Face (a free account gets {free} min a day, {anon} min "
                            "without logging in), or {wait}, then press Train again{said}", left=left, kept=kept,
                            free=_tier_quota(1) // 60, anon=_tier_quota(0) // 60, wait=wait, said=said)
        if f.kind == "illegal":
            return deferred("ZeroGPU refused a GPU call of {s} s as longer than it allows, even at the shortest this "
                            "app asks ({least} s); {kept}{said}", s=plan.request_s, least=gpu.min_request_s(),
                            kept=kept, said=said)
        if f.kind in ("no_gpu", "queue"):
            return deferred("no GPU was free on ZeroGPU; {kept}. Press Train again in a minute{said}", kept=kept,
                            said=said)
        if f.kind == "aborted":
            return deferred("the GPU call was cut off (the worker stopped: killed, out of memory, or past its {s} s); "
                            "{kept}. Press Train again to start over{said}", s=plan.request_s, kept=kept, said=said)
        return deferred("the GPU call failed ({what}); {kept}", what=f.message, kept=kept)


class GpuRefused(TrainingError):
    """The platform refused a GPU call (or cut it off): the message says what is left and what to do."""


def _tier_quota(i: int) -> int:
    return int(gpu.QUOTA_TIERS[i][1])


# --- the visitors' quota -----------------------------------------------------------------------------

def visitor_key(request=None) -> str:
    """Whose quota a GPU call counts against: the visitor's ZeroGPU token (X-IP-Token, sent by the Hub's
    page), else the address the request came from; from the Gradio request in progress if not given."""
    if request is None:
        try:
            from gradio.context import LocalContext

            request = LocalContext.request.get(None)
        except Exception:  # noqa: BLE001
            request = None
    if request is None:
        return ""
    headers = getattr(request, "headers", None)
    token = headers.get("x-ip-token") if headers is not None and hasattr(headers, "get") else None
    if token:
        return "t:" + hashlib.sha256(str(token).encode()).hexdigest()[:16]
    host = getattr(getattr(request, "client", None), "host", None)
    return f"h:{host}" if host else ""


class QuotaBook:
    """What the app knows of each visitor's GPU quota: the GPU time its calls held for them (since the app
    started), and the seconds left the platform last reported (a refusal carries it; trusted for
    :data:`gpu.REPORT_TTL_S`, as the quota recharges)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._used: dict[str, float] = {}
        self._reported: dict[str, tuple[float, float, float]] = {}  # left, when, used at that moment

    def report(self, visitor: str, left_s: float) -> None:
        with self._lock:
            self._reported[visitor] = (float(left_s), time.time(), self._used.get(visitor, 0.0))

    def charge(self, visitor: str, seconds: float) -> None:
        with self._lock:
            self._used[visitor] = self._used.get(visitor, 0.0) + float(seconds)

    def used(self, visitor: str) -> float:
        with self._lock:
            return self._used.get(visitor, 0.0)

    def left(self, visitor: str) -> float | None:
        """The platform's last report less the use since, while fresh; None when unknown."""
        with self._lock:
            rep = self._reported.get(visitor)
            if rep is None or time.time() - rep[1] > gpu.REPORT_TTL_S:
                return None
            return max(0.0, rep[0] - (self._used.get(visitor, 0.0) - rep[2]))


QUOTAS = QuotaBook()


# --- for the Train tab ----------------------------------------------------------------------------

def gpu_status(s: JobState, now: float | None = None) -> str:
    """On ZeroGPU, the job's GPU calls in a line (empty elsewhere): the current call's wait for a GPU or
    its progress, the time waited, the GPU time used and what the platform reported left."""
    if not s.gpu_calls:
        return ""
    now = time.time() if now is None else now
    parts = []
    if s.running and s.phase == "waiting for a GPU":
        parts.append(_("GPU call {n}: waiting for a GPU, {s:.0f} s so far", n=s.gpu_calls,
                       s=max(0.0, now - s.call_asked)))
    elif s.running and s.phase == "training on the GPU":
        parts.append(_("GPU call {n}: training, {done:.0f} of {s:.0f} s", n=s.gpu_calls,
                       done=min(s.call_train_s, max(0.0, now - s.call_started)), s=s.call_train_s))
    elif s.running and s.phase:
        parts.append(_("GPU call {n}: {phase}", n=s.gpu_calls, phase=_(s.phase)))
    else:
        parts.append(_("{n} GPU call(s)", n=s.gpu_calls))
    if s.gpu_wait_s >= 1:
        parts.append(_("waited {s:.0f} s for GPUs", s=s.gpu_wait_s))
    parts.append(_("GPU time used: {s:.0f} s", s=s.gpu_used_s))
    if s.quota_left_s is not None:
        parts.append(_("the platform reported about {s:.0f} s of your quota left", s=s.quota_left_s)
                     + (_(" (try again in {when})", when=s.quota_wait) if s.quota_wait else ""))
    return " · ".join(parts)


def call_fraction(s: JobState, now: float | None = None) -> float | None:
    """How far the current GPU call is (0-1; None when no call is training)."""
    if not (s.running and s.phase == "training on the GPU" and s.call_train_s > 0):
        return None
    now = time.time() if now is None else now
    return min(1.0, max(0.0, (now - s.call_started) / s.call_train_s))


@dataclass
class QuotaEstimate:
    needed_s: float  # GPU training seconds the run needs (estimated)
    images_per_s: float  # training speed on the GPU used for the estimate
    measured: bool  # measured by an earlier call here (else the prior)
    tiers: list[tuple[str, int, float, int, float]]  # who, daily quota s, training s bought, calls, epochs bought
    left_s: float | None  # the platform's last report for this visitor, if fresh
    text: str  # for the Train tab (markdown)


def _epochs_for(seconds: float, speed: float, cfg: TrainConfig) -> float:
    return seconds * speed / max(1, gpu.train_images(cfg))


def quota_estimate(cfg: TrainConfig, visitor: str = "") -> QuotaEstimate | None:
    """Before a run on ZeroGPU (None elsewhere): how much GPU training the run needs, and how much the
    daily quota of each kind of visitor buys (epochs of the chosen images); what the platform last
    reported for this ``visitor`` (:func:`visitor_key`) if known."""
    if not gpu.on_zerogpu():
        return None
    speed, measured = gpu.training_speed(cfg)
    n = gpu.train_images(cfg)
    needed = cfg.epochs * n / speed
    factor = gpu.duration_factor()
    tiers = []
    for who, quota in gpu.QUOTA_TIERS:
        bought, calls = gpu.training_bought(quota, factor)
        tiers.append((who, quota, bought, calls, _epochs_for(bought, speed, cfg)))
    left = QUOTAS.left(visitor) if visitor else None
    how = _("measured here") if measured else _("estimated")
    lines = [_("**GPU quota** (ZeroGPU, per visitor and day): this run needs about **{s:.0f} s** of GPU training "
               "({epochs} epoch(s) of {n:,} images at ~{speed:,.0f} images/s, {how}).", s=needed, epochs=cfg.epochs,
               n=n, speed=speed, how=how)]
    for who, quota, bought, calls, epochs in tiers[:2]:
        fits = _("the whole run") if epochs >= cfg.epochs else _("about {k:.1f} of its {n} epochs", k=epochs,
                                                                   n=cfg.epochs)
        lines.append(_("{who} ({min} min a day): about {s:.0f} s of training in {calls} GPU call(s), {fits}.",
                       who=_(who).capitalize(), min=quota // 60, s=bought, calls=calls, fits=fits))
    if left is not None:
        bought, _secs = gpu.training_bought(left, factor)
        lines.append(_("The platform reported about {left:.0f} s left for you: about {s:.0f} s of training.",
                       left=left, s=bought))
    lines.append(_("If the quota runs out, the finished epochs stay saved."))
    return QuotaEstimate(needed, speed, measured, tiers, left, " ".join(lines))


BASE_DEFAULTS = {"model": "conv_vae", "latent_dim": 16, "corruption": "none", "epochs": 2, "batch_size": 128,
                 "lr": 1e-3, "train_limit": 10000}
ESTIMATE_SAFETY = 0.5  # the run the Space defaults to needs at most half of what the estimate says 2 min buy


def train_defaults(dataset: str = "mnist") -> dict:
    """The Train tab's starting settings. On ZeroGPU: the most epochs (up to the cap) whose estimated GPU
    training fits half of what an unauthenticated visitor's 2 minutes buy; elsewhere the usual ones."""
    out = dict(BASE_DEFAULTS)
    if not gpu.on_zerogpu():
        return out
    cfg = TrainConfig(dataset=dataset if dataset in gpu.TRAIN_IMAGES else "mnist", model=out["model"],
                      latent_dim=out["latent_dim"], epochs=1, batch_size=out["batch_size"],
                      train_limit=out["train_limit"])
    speed, _how = gpu.training_speed(cfg)
    bought, _secs = gpu.training_bought(gpu.QUOTA_TIERS[0][1])
    per_epoch = gpu.train_images(cfg) / speed
    out["epochs"] = int(max(1, min(max_epochs(), math.floor(ESTIMATE_SAFETY * bought / per_epoch))))
    return out
