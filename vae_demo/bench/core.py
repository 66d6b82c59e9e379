"""What every benchmark section shares: the settings, the run context, scoring helpers, the
Markdown table helpers and the section registry."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vae_demo.checkpoints import CheckpointError, list_checkpoints, load_checkpoint, read_meta, update_meta
from vae_demo.data import DataNotFoundError, load_dataset
from vae_demo.metrics import psnr_from_mse, ssim_per_image
from vae_demo.training import cpu_name

CORRUPTIONS = ("gaussian:0.3", "gaussian:0.5", "erasure:0.5", "erasure:0.9", "blur:2", "blur:4",
               "block:10", "block:16", "saltpepper:0.2", "lowres:2")
MNIST_BAR_SPECS = CORRUPTIONS[:8]  # the 8 seed corruptions of the MNIST ≥ 4 dB bar
# MNIST's blur as other libraries implement it (kernel radius and border: corruptions.BLUR_VARIANTS), after the
# others (their seeds follow): the ≥ 4 dB bar must hold under them too
# (σ = 2, where the margin is smallest: blur:4's is over 5 dB; each row costs Richardson-Lucy minutes)
BLUR_VARIANT_SPECS = tuple(f"blur:2:{v}" for v in ("scipy", "opencv", "skimage"))
MNIST_HEADROOM_DB = 4.3  # the margin each MNIST bar row (the 8 and the blur variants) is held to: the bar with headroom
MNIST_BAR_DB = 4.0
TEST_SEED = 2024  # corruption seed of the test split: TEST_SEED + index of the corruption
SPEED_BAR_LOSS = 105.6
SPEED_BAR_WALL_S = 35.0
SPEED_COMMAND = ("python -m vae_demo.train --dataset mnist --model mlp_vae --latent-dim 20 --epochs 10 "
                 "--batch-size 128 --lr 1e-3 --seed 0 --device auto --precision bf16 --name speedbar --checkpoint-dir {dir}")
APP_JSON = "bench_app.json"
REPO_ROOT = Path(__file__).resolve().parents[2]
JPEG_NOTE = ("CIFAR-10 here is JPEG-derived (quality 75, 4:2:0; mean abs error ≈ 5.8/255 against the "
             "official pixels, see shared/data/README.md): the 'clean' targets carry JPEG artefacts.")


def corruptions_for(dataset: str) -> tuple[str, ...]:
    """The corruptions a dataset is benchmarked on: the ten, and for MNIST the blur variants."""
    return CORRUPTIONS + (BLUR_VARIANT_SPECS if dataset == "mnist" else ())


# --- settings and context ------------------------------------------------------------------------

QUICK = {"test_limit": 200, "tune_images": 100, "sweep_epochs": 1, "sweep_train_limit": 5000,
         "nll_images": 50}
FULL = {"test_limit": 0, "tune_images": 300, "sweep_epochs": 3, "sweep_train_limit": 0,
        "nll_images": 0}


@dataclass
class Ctx:
    args: argparse.Namespace
    out: Path
    datasets: list[str]
    data_dir: Path
    ckpt_dir: str | None
    params_out: Path
    device: torch.device
    quick: bool
    test_limit: int
    tune_images: int
    classical_names: list[str] | None = None  # None: every classical restorer
    tuned: dict = field(default_factory=dict)  # dataset -> spec -> {restorer: TuneResult}
    command: str = ""  # this run's command line (recorded with every number)
    _sets: dict = field(default_factory=dict)

    @property
    def json_path(self) -> Path:
        return self.out.with_name("benchmarks.json")

    @property
    def grid_dir(self) -> Path:
        return self.out.parent / "docs" / "bench"

    def load(self, name: str, split: str):
        key = (name, split)
        if key not in self._sets:
            self._sets[key] = load_dataset(name, split, self.data_dir, download=False)
        return self._sets[key]

    def test_images(self, name: str) -> torch.Tensor:
        test = self.load(name, "test")
        n = min(len(test), self.test_limit) if self.test_limit else len(test)
        return test.floats(slice(0, n))

    def test_splits(self, out: dict):
        """(dataset, its test images) for each dataset of the run; one whose data is missing is recorded
        in ``out["datasets"]`` as skipped, with the reason."""
        for ds in self.datasets:
            try:
                x = self.test_images(ds)
            except DataNotFoundError as err:
                out["datasets"][ds] = {"skipped": str(err)}
                continue
            yield ds, x

    def heldout(self, name: str) -> torch.Tensor:
        train = self.load(name, "train")
        n = min(self.tune_images, max(1, len(train) // 2))
        return train.floats(slice(len(train) - n, len(train)))


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def machine_info() -> dict:
    info = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info


# --- helpers -------------------------------------------------------------------------------------

@torch.no_grad()
def reconstruct(model, x: torch.Tensor, device, batch: int = 1000, mask=None) -> torch.Tensor:
    outs = []
    for i in range(0, len(x), batch):
        m = None if mask is None else mask[i:i + batch].to(device)
        outs.append(model.reconstruct(x[i:i + batch].to(device), m).float().clamp(0, 1).cpu())
    return torch.cat(outs)


def scores(restored: torch.Tensor, clean: torch.Tensor, batch: int = 2000) -> tuple[float, float]:
    """(PSNR from the set's MSE, mean per-image SSIM)."""
    sq, ss = 0.0, []
    for i in range(0, len(clean), batch):
        r, c = restored[i:i + batch], clean[i:i + batch]
        sq += float((r.double() - c.double()).pow(2).sum())
        ss.append(ssim_per_image(r, c))
    return psnr_from_mse(sq / clean.numel()), float(torch.cat(ss).double().mean())


def load_checkpoints(ctx: Ctx, dataset: str) -> tuple[list, list[str]]:
    ckpts, warnings = [], []
    for meta in list_checkpoints(ctx.ckpt_dir, dataset=dataset):
        try:
            ckpts.append(load_checkpoint(meta["name"], ctx.ckpt_dir, device=ctx.device))
        except CheckpointError as err:
            warnings.append(f"skipped {meta['name']}: {err}")
    return ckpts, warnings


def clean_codes(ckpts: list) -> list:
    """The checkpoints whose model has a latent code and was trained on clean images (not a restorer)."""
    return [c for c in ckpts if c.model.has_latent_code and c.meta.get("corruption", "none") == "none"]


def rounded(v, nd=4):
    return None if v is None else round(float(v), nd)


def record_in_checkpoints(ctx: Ctx, section: str, numbers: dict[str, dict], **common) -> None:
    """Write each checkpoint's own numbers of ``section`` into its JSON under ``benchmark``
    (with the date, the benchmark command and ``common`` facts such as the number of test images).
    Not in --quick mode, unless --record yes."""
    record = ctx.args.record == "yes" or (ctx.args.record == "auto" and not ctx.quick)
    if not record:
        return
    stamp = {"generated": now(), "command": ctx.command, **common}
    for name, values in numbers.items():  # each name: a checkpoint this section loaded (and verified)
        try:
            bench_meta = dict(read_meta(name, ctx.ckpt_dir).get("benchmark") or {})
            bench_meta[section] = {**stamp, **values}
            update_meta(name, ctx.ckpt_dir, benchmark=bench_meta)
        except (CheckpointError, OSError) as err:
            print(f"warning: could not record {section} numbers in {name}: {err}", file=sys.stderr)


def spec_seed(ctx: Ctx, i: int) -> int:
    return int(ctx.args.seed) + i


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run with ``n`` torch threads. PCA's float64 ``eigh`` of 784×784 takes ~0.15 s on one MKL
    thread but 5-12 s on two when other processes share the two cores."""
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


# --- the report ----------------------------------------------------------------------------------

def fmt(v, nd=2):
    return "—" if v is None else f"{v:.{nd}f}"


def md_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def section_head(title: str, sec: dict) -> list[str]:
    lines = [f"## {title}", ""]
    meta = sec.get("_meta", {})
    if meta:
        q = " — **quick mode: small subsets, not results**" if meta.get("quick") else ""
        took = f" in {meta['time_s']:g} s" if meta.get("time_s") is not None else ""
        lines += [f"_Run {meta.get('generated')}{took} with `{meta.get('command')}`{q}_", ""]
        for ds, m in meta.get("kept_from_earlier_run", {}).items():
            q = " (quick mode)" if m.get("quick") else ""
            lines += [f"_{ds}: kept from the run of {m.get('generated')} with `{m.get('command')}`{q}_", ""]
    return lines


# --- the sections ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Section:
    """One benchmark section: ``run(ctx)`` measures and returns its JSON; ``render(sec)`` is its part of
    BENCHMARKS.md; ``report_rank`` places it in the report; ``after_merge(sec)`` recomputes what depends on
    all of its datasets once a run for some of them is merged into an earlier one."""

    name: str
    run: Callable[[Ctx], dict]
    render: Callable[[dict], str]
    report_rank: int
    after_merge: Callable[[dict], dict] | None = None


REGISTRY: dict[str, Section] = {}  # in the order the sections run (each module registers its own)


def register(name: str, run, render, report_rank: int, after_merge=None) -> Section:
    REGISTRY[name] = Section(name, run, render, report_rank, after_merge)
    return REGISTRY[name]
