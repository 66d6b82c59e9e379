"""The training loop: plain PyTorch over whole-split tensors on the training device.

``train(config, train_set, test_set)`` returns the trained model and its per-epoch history.
Hooks let a caller watch and stop it: ``on_epoch(metrics, model)`` after each epoch and
``on_batch(done, total)`` after each batch; either may return True to request a stop (the
epoch in progress is abandoned, the model keeps the last finished epoch's weights).
Any model can be trained as a denoiser: give a corruption spec and inputs are corrupted while
targets stay clean.
"""

from __future__ import annotations

import copy
import math
import os
import platform
import time
from dataclasses import dataclass, field

import torch

from vae_demo.corruptions import corrupt, parse_spec
from vae_demo.data import ImageSet
from vae_demo.metrics import psnr_from_mse
from vae_demo.models import build_model
from vae_demo.training.config import TrainConfig

TEST_CORRUPTION_SEED = 1234  # the test inputs of a denoiser are corrupted the same way every epoch


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); earlier results are untouched."""


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: list[dict] = field(default_factory=list)
    wall_time_s: float = 0.0
    device: str = "cpu"
    stopped: bool = False
    config: TrainConfig | None = None

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def metrics(self) -> dict:
        return dict(self.history[-1]) if self.history else {}


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA if present, else Apple's MPS, else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but no CUDA GPU is available")
    return torch.device(name)


def uses_bf16(cfg: TrainConfig, device: torch.device) -> bool:
    """bf16 autocast: on CUDA by default; on a CPU only when asked (fast where it has native bf16)."""
    return cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")


def cpu_name() -> str:
    """The processor's model name (Linux's /proc/cpuinfo), else what ``platform`` knows."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(cfg: TrainConfig, device: torch.device) -> dict:
    """What a run's wall time was measured on: the device's name, CPU threads and the precision used."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    elif device.type == "mps":
        name = f"Apple MPS ({cpu_name()})"
    else:
        name = cpu_name()
    return {"device_name": name, "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "precision": "bf16" if uses_bf16(cfg, device) else "fp32"}


def make_model(cfg: TrainConfig, image_shape):
    """The model ``cfg`` asks for, with its hyperparameters (its kind's defaults unless ``cfg.hparams`` sets
    them): no list of kinds here."""
    return build_model(cfg.model, image_shape, cfg.latent_dim, **cfg.model_settings())


def told(model, labels: torch.Tensor | None) -> dict:
    """What ``model.loss`` is told besides the images: the labels, for a conditional model only."""
    return {"labels": labels} if model.num_classes and labels is not None else {}


def check_labels(model, labels: torch.Tensor | None) -> None:
    """A conditional model needs labels within its classes."""
    if not model.num_classes:
        return
    if labels is None or not len(labels):
        raise ValueError(f"{model.kind} is told the class: it needs labelled images")
    if int(labels.max()) >= model.num_classes or int(labels.min()) < 0:
        raise ValueError(f"{model.kind} has {model.num_classes} classes, but the labels run "
                         f"{int(labels.min())}..{int(labels.max())}: set --classes")


@torch.no_grad()
def evaluate(model, x_clean: torch.Tensor, corruption: str = "none", batch: int = 1000,
             bf16: bool = False, labels: torch.Tensor | None = None) -> dict:
    """Mean loss terms and reconstruction PSNR on ``x_clean`` (inputs corrupted if a spec is given).

    ``bf16``: run under bf16 autocast, as training does when asked (the per-epoch test numbers of a
    bf16 run; the benchmark always measures in float32). ``labels``: the images' classes (a conditional
    model's loss decodes with them; its reconstruction reads the class from the image itself)."""
    model.eval()
    spec = parse_spec(corruption)
    gen = torch.Generator().manual_seed(TEST_CORRUPTION_SEED)
    sums: dict[str, float] = {}
    sq_err = 0.0
    for i in range(0, len(x_clean), batch):
        target = x_clean[i:i + batch]
        x_in, mask = (target, None) if spec.kind == "none" else corrupt(target, spec, gen)
        with torch.autocast(x_in.device.type, dtype=torch.bfloat16, enabled=bf16):
            terms = model.loss(x_in, target, mask, **told(model, None if labels is None else labels[i:i + batch]))
            recon = model.reconstruct(x_in, mask).float()
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(target)
        sq_err += float((recon - target).pow(2).sum())
    n = len(x_clean)
    out = {k: v / n for k, v in sums.items()}
    out["psnr"] = psnr_from_mse(sq_err / x_clean.numel())
    return out


@dataclass
class RunState:
    """Everything a run needs to go on where it stopped: plain CPU tensors, numbers and lists, so it can
    be pickled (a ZeroGPU call runs in another process) and resumed bit for bit (same weights as a run
    in one go: tests/test_training.py checks it)."""

    cfg: TrainConfig
    epoch: int = 0  # finished epochs
    step: int = 0  # batches done in the epoch in progress
    steps: int = 0  # batches per epoch
    model: dict = field(default_factory=dict)  # weights now
    last_good: dict = field(default_factory=dict)  # weights after the last finished epoch
    optimizer: dict | None = None
    scheduler: dict | None = None
    rng: dict = field(default_factory=dict)  # the data generator's and torch's own random states
    perm: torch.Tensor | None = None  # the order of the epoch in progress
    sums: dict = field(default_factory=dict)  # the epoch in progress's loss sums
    history: list[dict] = field(default_factory=list)
    elapsed_s: float = 0.0  # time spent training so far, over every piece
    device: str = ""
    hardware: dict = field(default_factory=dict)
    stopped: bool = False
    trainable: bool = True

    @property
    def done(self) -> bool:
        return self.stopped or self.epoch >= (self.cfg.epochs if self.trainable else 1)

    @property
    def total_batches(self) -> int:
        return self.steps * self.cfg.epochs

    @property
    def done_batches(self) -> int:
        return self.epoch * self.steps + self.step


def _cpu(obj):
    """A copy of ``obj`` with every tensor in it on the CPU (state dicts, lists, dicts)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


class Trainer:
    """One training run over whole-split tensors on the training device, advanced by :meth:`run`: all at
    once (``train``), or in pieces of at most ``seconds`` each, resumed from :meth:`state` (ZeroGPU)."""

    def __init__(self, cfg: TrainConfig, train_set: ImageSet, test_set: ImageSet | None = None,
                 state: RunState | None = None):
        self.cfg = cfg  # valid: a TrainConfig checks itself when it is made
        self.device = device = pick_device(cfg.device)
        if state is None:
            torch.manual_seed(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        images = train_set.images[: cfg.train_limit or None]
        self.x_train = images.to(device).float().div_(255.0)
        self.y_train = train_set.labels[: cfg.train_limit or None].to(device)
        self.x_test = test_set.floats(device=device) if test_set is not None else None
        self.y_test = test_set.labels.to(device) if test_set is not None else None
        model = make_model(cfg, tuple(self.x_train.shape[1:])).to(device)
        check_labels(model, self.y_train)
        if model.channels_last:  # measured: a U-Net's training step ~25% faster on a CPU
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.spec = parse_spec(cfg.corruption)
        self.use_bf16 = uses_bf16(cfg, device)
        self.n = len(self.x_train)
        self.steps = math.ceil(self.n / cfg.batch_size)
        self.opt = self.sched = None
        if model.trainable:
            fused = device.type in ("cpu", "cuda")  # one kernel for the whole update: ~25% faster on CPU
            self.opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=fused)
            if cfg.lr_schedule == "cosine":
                self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=self.steps * cfg.epochs)
        if state is None:
            self.epoch = self.step = 0
            self.perm, self.sums, self.history = None, {}, []
            self.last_good = copy.deepcopy(model.state_dict())
            self.elapsed_s, self.stopped = 0.0, False
        else:
            self._resume(state)

    def _resume(self, s: RunState) -> None:
        dev = self.device
        self.model.load_state_dict(s.model)
        if self.opt is not None and s.optimizer is not None:
            self.opt.load_state_dict(s.optimizer)
        if self.sched is not None and s.scheduler is not None:
            self.sched.load_state_dict(s.scheduler)
        self.gen.set_state(s.rng["generator"])
        torch.set_rng_state(s.rng["cpu"])
        if dev.type == "cuda" and s.rng.get("cuda") is not None:
            torch.cuda.set_rng_state(s.rng["cuda"], dev)
        self.epoch, self.step, self.history = s.epoch, s.step, [dict(h) for h in s.history]
        self.perm = None if s.perm is None else s.perm.to(dev)
        self.sums = {k: v.to(dev) for k, v in s.sums.items()}
        self.last_good = {k: v.to(dev) for k, v in s.last_good.items()}
        self.elapsed_s, self.stopped = s.elapsed_s, s.stopped

    def state(self) -> RunState:
        """Where the run is, as plain CPU tensors (picklable)."""
        rng = {"generator": self.gen.get_state(), "cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return RunState(
            cfg=self.cfg, epoch=self.epoch, step=self.step, steps=self.steps,
            model=_cpu(self.model.state_dict()), last_good=_cpu(self.last_good),
            optimizer=_cpu(self.opt.state_dict()) if self.opt is not None else None,
            scheduler=self.sched.state_dict() if self.sched is not None else None,
            rng=rng, perm=_cpu(self.perm), sums=_cpu(self.sums), history=[dict(h) for h in self.history],
            elapsed_s=self.elapsed_s, device=str(self.device), hardware=hardware(self.cfg, self.device),
            stopped=self.stopped, trainable=self.model.trainable,
        )

    def run(self, seconds: float | None = None, on_epoch=None, on_batch=None, progress: bool = False) -> bool:
        """Train until the run is done, a hook asks to stop, or (with ``seconds``) the time is up, checked
        before each batch: the epoch in progress is then kept as it is, to go on from :meth:`state`.
        Returns True when the run is over (done or stopped)."""
        t0 = time.perf_counter()
        deadline = None if seconds is None else t0 + seconds
        cfg, model = self.cfg, self.model

        def elapsed() -> float:
            return self.elapsed_s + (time.perf_counter() - t0)

        try:
            if not model.trainable:  # closed form (PCA): one "epoch"
                if self.epoch == 0:
                    model.fit(self.x_train)
                    metrics = {"epoch": 1, **_prefixed(evaluate(model, self.x_train[:10000], cfg.corruption,
                                                                 labels=self.y_train[:10000]), "train")}
                    if self.x_test is not None:
                        metrics.update(_prefixed(evaluate(model, self.x_test, cfg.corruption, labels=self.y_test),
                                                 "test"))
                    metrics["time_s"] = round(elapsed(), 3)
                    self.history.append(metrics)
                    self.last_good = copy.deepcopy(model.state_dict())
                    self.epoch = 1
                    if on_epoch:
                        on_epoch(metrics, model)
                return True
            return self._train(deadline, elapsed, on_epoch, on_batch, progress)
        finally:
            self.elapsed_s = elapsed()

    def _train(self, deadline, elapsed, on_epoch, on_batch, progress) -> bool:
        cfg, model, opt, device = self.cfg, self.model, self.opt, self.device
        n, steps = self.n, self.steps
        bar = None
        batches = 0  # in this call: at least one, so a run in pieces always moves on
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=steps * cfg.epochs, initial=self.epoch * steps + self.step, unit="batch",
                       dynamic_ncols=True)
        try:
            while self.epoch < cfg.epochs:
                epoch = self.epoch + 1
                model.train()
                if self.perm is None:  # a new epoch
                    self.perm = torch.randperm(n, generator=self.gen).to(device)
                    self.sums, self.step = {}, 0
                sums = self.sums
                while self.step < steps:
                    if deadline is not None and batches and time.perf_counter() >= deadline:
                        return False  # paused: go on from state()
                    batches += 1
                    idx = self.perm[self.step * cfg.batch_size:(self.step + 1) * cfg.batch_size]
                    target = self.x_train[idx]
                    x_in, mask = (target, None) if self.spec.kind == "none" else corrupt(target, self.spec, self.gen)
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.use_bf16):
                        terms = model.loss(x_in, target, mask, **told(model, self.y_train[idx]))
                    loss = terms["loss"]
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    if self.sched is not None:
                        self.sched.step()
                    for k, v in terms.items():
                        sums[k] = sums.get(k, 0) + v.detach().float() * len(idx)
                    self.step += 1
                    if bar is not None:
                        bar.update(1)
                    if on_batch is not None and on_batch(self.step + (epoch - 1) * steps, steps * cfg.epochs):
                        model.load_state_dict(self.last_good)
                        self.stopped = True
                        return True
                metrics = {"epoch": epoch}
                metrics.update({f"train_{k}": float(v) / n for k, v in sums.items()})
                if not math.isfinite(metrics["train_loss"]):
                    model.load_state_dict(self.last_good)
                    raise TrainingError(
                        f"loss became {metrics['train_loss']} in epoch {epoch}; "
                        "try a smaller learning rate. Nothing was saved from this epoch."
                    )
                if self.x_test is not None:
                    metrics.update(_prefixed(evaluate(model, self.x_test, cfg.corruption, bf16=self.use_bf16,
                                                             labels=self.y_test), "test"))
                metrics["time_s"] = round(elapsed(), 3)
                self.last_good = copy.deepcopy(model.state_dict())
                self.history.append(metrics)
                self.epoch, self.step, self.perm, self.sums = epoch, 0, None, {}
                if bar is not None:
                    shown = {k: round(v, 2) for k, v in metrics.items() if k.endswith("loss")}
                    bar.set_postfix(shown, refresh=False)
                    bar.write(f"epoch {epoch}: " + "  ".join(f"{k} {v:.3f}" for k, v in metrics.items()
                                                             if k not in ("epoch", "time_s")))
                if on_epoch is not None and on_epoch(metrics, model):
                    self.stopped = epoch < cfg.epochs
                    return True
            return True
        finally:
            if bar is not None:
                bar.close()
            model.eval()

    def result(self) -> TrainResult:
        self.model.eval()
        return TrainResult(model=self.model, history=list(self.history), wall_time_s=self.elapsed_s,
                           device=str(self.device), stopped=self.stopped, config=self.cfg)


def train(
    cfg: TrainConfig,
    train_set: ImageSet,
    test_set: ImageSet | None = None,
    on_epoch=None,
    on_batch=None,
    progress: bool = False,
) -> TrainResult:
    """Train ``cfg`` in one go (see :class:`Trainer` for a run in pieces)."""
    trainer = Trainer(cfg, train_set, test_set)
    trainer.run(on_epoch=on_epoch, on_batch=on_batch, progress=progress)
    return trainer.result()


def advance(state: RunState | None, cfg: TrainConfig, train_set: ImageSet, test_set: ImageSet | None,
            seconds: float, on_batch=None) -> RunState:
    """Go on with a run (from the start when ``state`` is None) for at most about ``seconds`` of training
    (checked before each batch; an epoch's test pass may add to it), and return where it got to.
    ``on_batch(done, total)``: after each batch (its return value is ignored: a piece is not stopped)."""
    def watch(done, total):
        on_batch(done, total)
        return False

    trainer = Trainer(cfg, train_set, test_set, state)
    trainer.run(seconds=seconds, on_batch=None if on_batch is None else watch)
    return trainer.state()


def _prefixed(d: dict, prefix: str) -> dict:
    return {f"{prefix}_{k}": v for k, v in d.items()}


