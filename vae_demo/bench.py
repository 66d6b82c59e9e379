"""The quality benchmark: ``python -m vae_demo.bench --help``.

Sections (``--only`` picks some; the others are kept from an earlier ``benchmarks.json``):

- ``tune``: tune every classical restorer on held-out TRAINING images, per dataset and corruption,
  and write ``classical_params.json`` (what the app's live classical restorer uses).
- ``restore``: for each dataset's test split and each seed corruption: PSNR/SSIM of the corrupted
  input, of each tuned classical restorer, of the PCA projection and of every learned checkpoint;
  the best classical, the best learned and the margin, the quality bars, and a PNG grid per dataset.
- ``losses``: test-set loss terms (recon, KL, loss) of every VAE checkpoint.
- ``sweep``: reconstruction error against latent size, PCA against a conv AE trained just for this
  (nothing is written to the checkpoints folder).
- ``nll``: importance-weighted test NLL of the MNIST conv VAE checkpoint(s) on binarized images.
- ``speed``: the training speed bar (``python -m vae_demo.train ...`` in a subprocess).
- ``app``: speed figures measured by the app, read from ``bench_app.json`` if present (as written by
  ``python -m vae_demo.bench_app``, or in the generic schema below).
- ``load``: the load test (``python -m vae_demo.loadtest``: 20 simulated users through the app's API
  for 60 s with a training job running, then 2,000 more requests while memory is watched).

``--quick`` runs every section on small subsets (for development; its numbers are not results).
Outputs: ``BENCHMARKS.md`` (``--out``), ``benchmarks.json`` beside it, and grids in ``docs/bench/``
beside it.

The ``app`` section also takes a generic JSON file, for figures that ``bench_app`` does not make::

    {"machine": "...", "date": "...", "command": "...",
     "figures": [{"key": "startup", "name": "app start to first page", "unit": "ms",
                  "median": 850.0, "runs": 5, "bar": 3000, "bar_op": "<=", "notes": "..."}]}

Only ``figures[].name``, ``unit`` and ``median`` are required. Add a figure by adding an entry;
:func:`render_app` shows every entry, with PASS/FAIL where a bar is given.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from vae_demo import classical
from vae_demo.checkpoints import CheckpointError, list_checkpoints, load_checkpoint, read_meta, update_meta
from vae_demo.corruptions import corrupt, describe
from vae_demo.data import DATASETS, DataNotFoundError, default_data_dir, load_dataset
from vae_demo.files import atomic_write
from vae_demo.metrics import psnr_from_mse, ssim_per_image
from vae_demo.training import TrainConfig, cpu_name, evaluate, pick_device, train

CORRUPTIONS = ("gaussian:0.3", "gaussian:0.5", "erasure:0.5", "erasure:0.9", "blur:2", "blur:4",
               "block:10", "block:16", "saltpepper:0.2", "lowres:2")
MNIST_BAR_SPECS = CORRUPTIONS[:8]  # the 8 seed corruptions of the MNIST ≥ 4 dB bar
MNIST_BAR_DB = 4.0
TEST_SEED = 2024  # corruption seed of the test split: TEST_SEED + index of the corruption
SECTIONS = ("tune", "restore", "losses", "sweep", "nll", "speed", "app", "load")
SPEED_BAR_LOSS = 105.6
SPEED_BAR_WALL_S = 35.0
SPEED_COMMAND = ("python -m vae_demo.train --dataset mnist --model mlp_vae --latent-dim 20 --epochs 10 "
                 "--batch-size 128 --lr 1e-3 --seed 0 --device auto --precision bf16 --name speedbar --checkpoint-dir {dir}")
APP_JSON = "bench_app.json"
REPO_ROOT = Path(__file__).resolve().parent.parent
JPEG_NOTE = ("CIFAR-10 here is JPEG-derived (quality 75, 4:2:0; mean abs error ≈ 5.8/255 against the "
             "official pixels, see shared/data/README.md): the 'clean' targets carry JPEG artefacts.")


# --- settings and context ------------------------------------------------------------------------

QUICK = {"test_limit": 200, "tune_images": 100, "sweep_epochs": 1, "sweep_train_limit": 5000,
         "nll_images": 50}
FULL = {"test_limit": 0, "tune_images": 300, "sweep_epochs": 3, "sweep_train_limit": 0,
        "nll_images": 0}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vae_demo.bench", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"small subsets for development ({', '.join(f'{k}={v}' for k, v in QUICK.items())})")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--data-dir", default=None, help="data dir (default: $VAE_DEMO_DATA or ./data)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="checkpoints to benchmark (default: $VAE_DEMO_CHECKPOINTS or ./checkpoints)")
    p.add_argument("--out", default=None,
                   help="the Markdown report; benchmarks.json and docs/bench/ go beside it "
                        "(default: BENCHMARKS.md, or bench_out/BENCHMARKS.md with --quick)")
    p.add_argument("--only", default=None,
                   help=f"comma-separated sections to run ({','.join(SECTIONS)}); default: all")
    p.add_argument("--params-out", default=None,
                   help="where tuned classical parameters go (default: vae_demo/classical_params.json, "
                        "or beside --out with --quick)")
    p.add_argument("--app-json", default=None, help=f"app speed figures (default: {APP_JSON} beside --out)")
    p.add_argument("--test-limit", type=int, default=None, help="first N test images (0: all)")
    p.add_argument("--tune-images", type=int, default=None,
                   help="held-out images for tuning: the LAST N of the training split")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes for the slow per-image classical restorers (BM3D, TV, Richardson-Lucy)")
    p.add_argument("--classical", default=None,
                   help="comma-separated classical restorers to run (default: all: "
                        + ",".join(classical.RESTORERS) + ")")
    p.add_argument("--bm3d-nf", type=int, default=None,
                   help="BM3D profile nf: 0 = white-noise mode (default, ~35× faster), 32 = the library default")
    p.add_argument("--grid-images", type=int, default=3, help="test images per corruption in the PNG grids")
    p.add_argument("--sweep-dims", default="2,4,8,16,32", help="latent sizes of the sweep")
    p.add_argument("--sweep-epochs", type=int, default=None, help="epochs of each conv AE in the sweep")
    p.add_argument("--sweep-train-limit", type=int, default=None,
                   help="train the sweep on the first N training images (0: all)")
    p.add_argument("--nll-k", type=int, default=500, help="importance samples per image")
    p.add_argument("--nll-images", type=int, default=None, help="first N test images for the NLL (0: all)")
    p.add_argument("--nll-models", default="conv_vae", help="comma-separated model kinds for the NLL")
    p.add_argument("--nll-any-beta", action="store_true",
                   help="also β-VAEs (default: only checkpoints with β = 1, trained on clean images)")
    p.add_argument("--speed-runs", type=int, default=1, help="runs of the speed bar (the median is reported)")
    p.add_argument("--load-users", type=int, default=20, help="load test: simulated users")
    p.add_argument("--load-duration", type=float, default=60.0, help="load test: seconds of the latency phase")
    p.add_argument("--load-requests", type=int, default=2000, help="load test: requests of the memory phase")
    p.add_argument("--record", choices=["auto", "yes", "no"], default="auto",
                   help="write each checkpoint's numbers into its JSON (auto: yes, except with --quick)")
    p.add_argument("--device", default="cpu", help="device for learned models (auto, cpu, cuda, mps)")
    p.add_argument("--seed", type=int, default=TEST_SEED, help="test corruption seed (plus the corruption's index)")
    return p


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

    def heldout(self, name: str) -> torch.Tensor:
        train = self.load(name, "train")
        n = min(self.tune_images, max(1, len(train) // 2))
        return train.floats(slice(len(train) - n, len(train)))


def _now() -> str:
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
def _reconstruct(model, x: torch.Tensor, device, batch: int = 1000, mask=None) -> torch.Tensor:
    outs = []
    for i in range(0, len(x), batch):
        m = None if mask is None else mask[i:i + batch].to(device)
        outs.append(model.reconstruct(x[i:i + batch].to(device), m).float().clamp(0, 1).cpu())
    return torch.cat(outs)


def _scores(restored: torch.Tensor, clean: torch.Tensor, batch: int = 2000) -> tuple[float, float]:
    """(PSNR from the set's MSE, mean per-image SSIM)."""
    sq, ss = 0.0, []
    for i in range(0, len(clean), batch):
        r, c = restored[i:i + batch], clean[i:i + batch]
        sq += float((r.double() - c.double()).pow(2).sum())
        ss.append(ssim_per_image(r, c))
    return psnr_from_mse(sq / clean.numel()), float(torch.cat(ss).double().mean())


def _load_checkpoints(ctx: Ctx, dataset: str) -> tuple[list, list[str]]:
    ckpts, warnings = [], []
    for meta in list_checkpoints(ctx.ckpt_dir, dataset=dataset):
        try:
            ckpts.append(load_checkpoint(meta["name"], ctx.ckpt_dir, device=ctx.device))
        except CheckpointError as err:
            warnings.append(f"skipped {meta['name']}: {err}")
    return ckpts, warnings


def _r(v, nd=4):
    return None if v is None else round(float(v), nd)


def record_in_checkpoints(ctx: Ctx, section: str, numbers: dict[str, dict], **common) -> None:
    """Write each checkpoint's own numbers of ``section`` into its JSON under ``benchmark``
    (with the date, the benchmark command and ``common`` facts such as the number of test images).
    Not in --quick mode, unless --record yes."""
    record = ctx.args.record == "yes" or (ctx.args.record == "auto" and not ctx.quick)
    if not record:
        return
    stamp = {"generated": _now(), "command": ctx.command, **common}
    for name, values in numbers.items():  # each name: a checkpoint this section loaded (and verified)
        try:
            bench_meta = dict(read_meta(name, ctx.ckpt_dir).get("benchmark") or {})
            bench_meta[section] = {**stamp, **values}
            update_meta(name, ctx.ckpt_dir, benchmark=bench_meta)
        except (CheckpointError, OSError) as err:
            print(f"warning: could not record {section} numbers in {name}: {err}", file=sys.stderr)


def _spec_seed(ctx: Ctx, i: int) -> int:
    return int(ctx.args.seed) + i


# --- section: tune -------------------------------------------------------------------------------

def tuned_for(ctx: Ctx, dataset: str, progress=None, write: bool = False) -> dict:
    """Tune every classical restorer for every corruption on ``dataset``'s held-out train images.

    Only the ``tune`` section (``write``) rewrites the parameters file the app reads; ``restore``
    alone tunes the same way (same images, same seed) but leaves that file alone."""
    if dataset not in ctx.tuned:
        held = ctx.heldout(dataset)
        results = {}
        for spec in CORRUPTIONS:
            t0 = time.perf_counter()
            results[spec] = classical.tune_spec(spec, held, seed=classical.TUNE_SEED,
                                                workers=ctx.args.workers, progress=True,
                                                names=ctx.classical_names)
            if progress is not None:
                progress.set_postfix_str(f"tuned {dataset} {spec} in {time.perf_counter() - t0:.1f} s")
        ctx.tuned[dataset] = results
    if write:
        held, results = ctx.heldout(dataset), ctx.tuned[dataset]
        entries = {spec: classical.params_entry(spec, res) for spec, res in results.items()}
        classical.write_params(ctx.params_out, {dataset: entries}, {
            "note": "written by python -m vae_demo.bench; tuned on held-out TRAINING images",
            "heldout": f"the last {len(held)} images of each training split",
            "tune_seed": classical.TUNE_SEED,
            "bm3d_nf": classical.bm3d_nf(),
            "generated": _now(),
        })
    return ctx.tuned[dataset]


def run_tune(ctx: Ctx) -> dict:
    from tqdm import tqdm

    out = {"params_file": str(ctx.params_out), "datasets": {}}
    bar = tqdm(ctx.datasets, desc="tune", unit="dataset")
    for ds in bar:
        try:
            t0 = time.perf_counter()
            res = tuned_for(ctx, ds, bar, write=True)
        except DataNotFoundError as err:
            out["datasets"][ds] = {"skipped": str(err)}
            continue
        out["datasets"][ds] = {
            "heldout_images": min(ctx.tune_images, len(ctx.load(ds, "train")) // 2),
            "time_s": round(time.perf_counter() - t0, 1),
            "corruptions": {spec: classical.params_entry(spec, r, full=True) for spec, r in res.items()},
        }
    return out


# --- section: restore ----------------------------------------------------------------------------

def run_restore(ctx: Ctx) -> dict:
    from tqdm import tqdm

    out = {"datasets": {}, "seed": ctx.args.seed, "bm3d_nf": classical.bm3d_nf()}
    for ds in ctx.datasets:
        try:
            x = ctx.test_images(ds)
        except DataNotFoundError as err:
            out["datasets"][ds] = {"skipped": str(err)}
            continue
        t_ds = time.perf_counter()
        ckpts, warnings = _load_checkpoints(ctx, ds)
        pcas = [c for c in ckpts if c.meta["model"] == "pca"]
        learned = [c for c in ckpts if c.meta["model"] != "pca"]
        bar = tqdm(CORRUPTIONS, desc=f"restore {ds}", unit="corruption")
        tuned = tuned_for(ctx, ds, bar)
        g = min(ctx.args.grid_images, len(x))
        result = {
            "test_images": len(x),
            "test_split_size": len(ctx.load(ds, "test")),
            "heldout_images": len(ctx.heldout(ds)),
            "checkpoints": [{"name": c.name, "model": c.meta["model"], "latent_dim": c.meta["latent_dim"],
                             "corruption": c.meta.get("corruption", "none")} for c in ckpts],
            "warnings": warnings,
            "corruptions": {},
        }
        grid_rows = {}
        for i, spec in enumerate(bar):
            seed = _spec_seed(ctx, i)
            y, mask = corrupt(x, spec, seed)
            board = _Scoreboard(x, g)
            add = board.add
            add("corrupted input", "input", "—", y)
            for name, tr in tuned[spec].items():
                r = classical.get_restorer(name)
                bar.set_postfix_str(f"{spec} {name}")
                t0 = time.perf_counter()
                restored = classical.apply(r, y, mask, spec, tr.params, workers=ctx.args.workers)
                add(r.describe(tr.params), "classical", r.label, restored, time.perf_counter() - t0,
                    restorer=name, params=tr.params, heldout_psnr=_r(tr.psnr), knows=r.knows or "")
            for c in pcas + learned:
                bar.set_postfix_str(f"{spec} {c.name}")
                t0 = time.perf_counter()
                restored = _reconstruct(c.model, y, ctx.device)
                elapsed = time.perf_counter() - t0
                kind = "pca" if c.meta["model"] == "pca" else "learned"
                trained_on = c.meta.get("corruption", "none")
                add(c.name, kind, "blind", restored, elapsed, model=c.meta["model"], trained_on=trained_on)
                if mask is not None:  # keep the observed pixels: the mask-aware use of the same model
                    label = f"{c.name} + keep observed"
                    if c.model.mask_input:  # ... and tell a model trained with the mask where the damage is
                        t0 = time.perf_counter()
                        restored = _reconstruct(c.model, y, ctx.device, mask=mask)
                        elapsed = time.perf_counter() - t0
                        label = f"{c.name} given the mask"
                    kept = y * (1 - mask) + restored * mask
                    add(label, kind, "mask-aware", kept, elapsed, model=c.meta["model"], trained_on=trained_on)
            rows, examples = board.rows, board.examples
            best_c = _best(rows, "classical")
            best_l = _best(rows, "learned")
            result["corruptions"][spec] = {
                "seed": seed,
                "description": describe(spec),
                "rows": rows,
                "best_classical": best_c,
                "best_learned": best_l,
                "margin_db": _r(best_l["psnr"] - best_c["psnr"]) if best_c and best_l else None,
            }
            grid_rows[spec] = [x[:g], y[:g],
                               examples[best_c["method"]] if best_c else None,
                               examples[best_l["method"]] if best_l else None]
        mine: dict[str, dict] = {}
        for spec, res in result["corruptions"].items():
            for row in res["rows"]:
                if row["type"] in ("pca", "learned"):
                    name = row["method"].removesuffix(" + keep observed").removesuffix(" given the mask")
                    keep = name != row["method"]
                    mine.setdefault(name, {}).setdefault(spec, {}).update(
                        {("keep_observed_" if keep else "") + k: row[k] for k in ("psnr", "ssim")})
        record_in_checkpoints(ctx, "restore", {n: {"corruptions": v} for n, v in mine.items()},
                              test_images=len(x), test_split_size=result["test_split_size"],
                              seed=ctx.args.seed)
        result["time_s"] = round(time.perf_counter() - t_ds, 1)  # tuning included unless done before
        if g > 0:
            path = ctx.grid_dir / f"{ds}.png"
            save_grid(path, grid_rows)
            result["grid"] = os.path.relpath(path, ctx.out.parent)
        out["datasets"][ds] = result
    out["bars"] = quality_bars(out["datasets"])
    return out


class _Scoreboard:
    """The rows of one corruption's table, and the first few restored images of each row."""

    def __init__(self, clean: torch.Tensor, keep: int):
        self.clean, self.keep = clean, keep
        self.rows: list[dict] = []
        self.examples: dict[str, torch.Tensor] = {}

    def add(self, method, kind, label, restored, elapsed=None, **extra):
        p, s = _scores(restored, self.clean)
        row = {"method": method, "type": kind, "label": label, "psnr": _r(p), "ssim": _r(s)}
        if elapsed is not None:
            row["ms_per_image"] = _r(1000 * elapsed / len(self.clean), 3)
        row.update(extra)
        self.rows.append(row)
        self.examples[method] = restored[:self.keep].clone()


def _best(rows: list[dict], kind: str) -> dict | None:
    cands = [r for r in rows if r["type"] == kind]
    if not cands:
        return None
    b = max(cands, key=lambda r: r["psnr"])
    return {"method": b["method"], "label": b["label"], "psnr": b["psnr"], "ssim": b["ssim"]}


def quality_bars(datasets: dict) -> list[dict]:
    """The bars of the brief, checked (not asserted) on whatever was measured."""
    bars = []

    def check(ds, specs, threshold, strict, text):
        res = datasets.get(ds)
        bar = {"dataset": ds, "text": text, "per_corruption": {}}
        if res is None or "skipped" in res:
            bar["status"] = "NOT RUN"
            bar["reason"] = "dataset not benchmarked" if res is None else res["skipped"]
            bars.append(bar)
            return
        ok = True
        for spec in specs:
            m = res["corruptions"].get(spec, {}).get("margin_db")
            passed = m is not None and (m > threshold if strict else m >= threshold)
            bar["per_corruption"][spec] = {"margin_db": m, "pass": passed}
            ok &= passed
        bar["status"] = "PASS" if ok else "FAIL"
        if not any(r["type"] == "learned" for c in res["corruptions"].values() for r in c["rows"]):
            bar["reason"] = "no learned checkpoint for this dataset"
        bars.append(bar)

    check("mnist", MNIST_BAR_SPECS, MNIST_BAR_DB, False,
          "MNIST: best learned ≥ best classical + 4 dB PSNR on each of the 8 seed corruptions")
    check("fashion-mnist", CORRUPTIONS, 0.0, True,
          "Fashion-MNIST: best learned beats best classical (PSNR) on every corruption")
    check("cifar10", CORRUPTIONS, 0.0, True,
          "CIFAR-10: best learned beats best classical (PSNR) on every corruption")
    return bars


def save_grid(path: Path, rows_by_spec: dict) -> Path:
    """One PNG: per corruption a block of columns; rows original / corrupted / classical / learned."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=13)
    except TypeError:  # Pillow without FreeType
        font = ImageFont.load_default()
    first = next(iter(rows_by_spec.values()))[0]
    g, c, h, w = first.shape
    scale = 2
    tile_h, tile_w = h * scale, w * scale
    gap, left, top = 10, 104, 22
    names = ("original", "corrupted", "best classical", "best learned")
    specs = list(rows_by_spec)
    width = left + len(specs) * (g * tile_w + gap)
    height = top + len(names) * tile_h
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for r, name in enumerate(names):
        draw.text((4, top + r * tile_h + tile_h // 2 - 7), name, fill="black", font=font)
    for k, spec in enumerate(specs):
        x0 = left + k * (g * tile_w + gap)
        draw.text((x0 + 2, 4), spec, fill="black", font=font)
        for r, imgs in enumerate(rows_by_spec[spec]):
            for j in range(g):
                if imgs is None:
                    tile = Image.new("RGB", (tile_w, tile_h), (200, 200, 200))
                else:
                    arr = (imgs[j].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
                    mode_img = Image.fromarray(arr[:, :, 0], "L") if c == 1 else Image.fromarray(arr, "RGB")
                    tile = mode_img.convert("RGB").resize((tile_w, tile_h), Image.NEAREST)
                canvas.paste(tile, (x0 + j * tile_w, top + r * tile_h))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, optimize=True)
    return path


# --- section: losses -----------------------------------------------------------------------------

def run_losses(ctx: Ctx) -> dict:
    out = {"datasets": {}}
    for ds in ctx.datasets:
        try:
            x = ctx.test_images(ds)
        except DataNotFoundError as err:
            out["datasets"][ds] = {"skipped": str(err)}
            continue
        ckpts, warnings = _load_checkpoints(ctx, ds)
        rows = []
        for c in ckpts:
            if not getattr(c.model, "generative", False):
                continue
            corruption = c.meta.get("corruption", "none")
            torch.manual_seed(0)  # the loss samples z once per image
            ev = evaluate(c.model, x.to(ctx.device), corruption)
            recorded = c.meta.get("metrics", {}).get("test_loss")
            rows.append({"name": c.name, "model": c.meta["model"], "latent_dim": c.meta["latent_dim"],
                         "beta": c.meta.get("hparams", {}).get("beta"), "corruption": corruption,
                         "recon": _r(ev.get("recon")), "kl": _r(ev.get("kl")), "loss": _r(ev.get("loss")),
                         "psnr": _r(ev.get("psnr")), "recorded_test_loss": _r(recorded)})
        out["datasets"][ds] = {"test_images": len(x), "rows": rows, "warnings": warnings}
        record_in_checkpoints(ctx, "losses", {r["name"]: {k: r[k] for k in ("recon", "kl", "loss", "psnr")}
                                              for r in rows}, test_images=len(x))
    return out


# --- section: sweep ------------------------------------------------------------------------------

@contextlib.contextmanager
def _torch_threads(n: int | None):
    """Run with ``n`` torch threads. PCA's float64 ``eigh`` of 784×784 takes ~0.15 s on one MKL
    thread but 5-12 s on two when other processes share the two cores."""
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def run_sweep(ctx: Ctx) -> dict:
    from tqdm import tqdm

    a = ctx.args
    dims = [int(d) for d in str(a.sweep_dims).split(",") if d.strip()]
    epochs = a.sweep_epochs if a.sweep_epochs is not None else (QUICK if ctx.quick else FULL)["sweep_epochs"]
    limit = a.sweep_train_limit if a.sweep_train_limit is not None else (
        QUICK if ctx.quick else FULL)["sweep_train_limit"]
    try:
        train_set = ctx.load("mnist", "train")
        x = ctx.test_images("mnist")
    except DataNotFoundError as err:
        return {"skipped": str(err)}
    rows = []
    for d in tqdm(dims, desc="sweep", unit="dim"):
        row = {"latent_dim": d}
        for kind in ("pca", "conv_ae"):
            cfg = TrainConfig(dataset="mnist", model=kind, latent_dim=d, epochs=epochs, batch_size=128,
                              lr=1e-3, seed=0, device=str(ctx.device), train_limit=limit)
            t0 = time.perf_counter()
            with _torch_threads(1 if kind == "pca" else None):
                res = train(cfg, train_set, None)  # not saved anywhere: the sweep's models are throwaway
            rec = _reconstruct(res.model, x, ctx.device)
            mse = float((rec.double() - x.double()).pow(2).mean())
            row[kind] = {"mse": _r(mse, 6), "psnr": _r(psnr_from_mse(mse)),
                         "sse_per_image": _r(mse * x[0].numel(), 3), "time_s": _r(time.perf_counter() - t0, 1)}
        rows.append(row)
    return {"epochs": epochs, "train_images": min(limit or len(train_set), len(train_set)),
            "test_images": len(x), "rows": rows}


# --- section: nll --------------------------------------------------------------------------------

@torch.no_grad()
def iw_log_likelihood(model, x_bin: torch.Tensor, k: int = 500, seed: int = 0, batch: int = 100,
                      max_decodes: int = 5000, desc: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image importance-weighted log p(x) (nats) and the ELBO, Bernoulli likelihood.

    log p(x) ≈ logsumexp_k [log p(x|z_k) + log p(z_k) − log q(z_k|x)] − log k, z_k ~ q(z|x).
    ``desc``: show a progress bar with this label (the full test split takes minutes on a CPU).
    """
    from tqdm import tqdm

    gen = torch.Generator().manual_seed(seed)
    device = model.device
    log2pi = math.log(2 * math.pi)
    lls, elbos = [], []
    starts = range(0, len(x_bin), batch)
    for i in tqdm(starts, desc=desc, unit="batch", disable=desc is None):
        xb = x_bin[i:i + batch].to(device)
        b = len(xb)
        mu, logvar = model.encode(xb)
        std = (0.5 * logvar).exp()
        target = xb.flatten(1)
        chunk = max(1, max_decodes // b)
        logws = []
        for j in range(0, k, chunk):
            m = min(chunk, k - j)
            eps = torch.randn(m, b, mu.shape[1], generator=gen).to(device)
            z = mu + std * eps
            logits = model.decode_logits(z.reshape(m * b, -1)).reshape(m, b, -1)
            log_px = -F.binary_cross_entropy_with_logits(
                logits, target.expand(m, -1, -1), reduction="none").sum(-1)
            log_pz = -0.5 * (z.pow(2) + log2pi).sum(-1)
            log_qz = -0.5 * (eps.pow(2) + log2pi + logvar).sum(-1)
            logws.append((log_px + log_pz - log_qz).double())
        logw = torch.cat(logws)  # (k, b)
        lls.append((torch.logsumexp(logw, 0) - math.log(k)).cpu())
        elbos.append(logw.mean(0).cpu())
    return torch.cat(lls), torch.cat(elbos)


def run_nll(ctx: Ctx) -> dict:
    a = ctx.args
    n_img = a.nll_images if a.nll_images is not None else (QUICK if ctx.quick else FULL)["nll_images"]
    kinds = [k.strip() for k in a.nll_models.split(",") if k.strip()]
    try:
        test = ctx.load("mnist", "test")
    except DataNotFoundError as err:
        return {"skipped": str(err)}
    n = min(n_img, len(test)) if n_img else len(test)
    x_bin = (test.floats(slice(0, n)) > 0.5).float()
    ckpts, warnings = _load_checkpoints(ctx, "mnist")
    rows = []
    for c in ckpts:
        if c.meta["model"] not in kinds or c.meta.get("corruption", "none") != "none":
            continue
        if not a.nll_any_beta and c.meta.get("hparams", {}).get("beta", 1.0) != 1.0:
            continue
        t0 = time.perf_counter()
        ll, elbo = iw_log_likelihood(c.model, x_bin, k=a.nll_k, seed=0, desc=f"nll {c.name}")
        nll = -ll
        rows.append({"name": c.name, "model": c.meta["model"], "latent_dim": c.meta["latent_dim"],
                     "beta": c.meta.get("hparams", {}).get("beta"),
                     "nll": _r(float(nll.mean())),
                     "nll_sem": _r(float(nll.std() / math.sqrt(len(nll))) if len(nll) > 1 else 0.0),
                     "neg_elbo": _r(float(-elbo.mean())), "time_s": _r(time.perf_counter() - t0, 1)})
    record_in_checkpoints(ctx, "nll", {r["name"]: {k: r[k] for k in ("nll", "nll_sem", "neg_elbo")} for r in rows},
                          test_images=n, k=a.nll_k, binarization="threshold 0.5")
    return {"binarization": "threshold: pixel > 0.5 (of 1) → 1, else 0 (deterministic)",
            "k": a.nll_k, "test_images": n, "models": kinds, "rows": rows, "warnings": warnings}


# --- section: speed ------------------------------------------------------------------------------

def run_speed(ctx: Ctx) -> dict:
    runs = []
    env = dict(os.environ)
    env["VAE_DEMO_DATA"] = str(ctx.data_dir)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    load_before = machine_info().get("load_avg_1m")
    for _ in range(max(1, ctx.args.speed_runs)):
        with tempfile.TemporaryDirectory(prefix="vae_speedbar_") as tmp:
            cmd = shlex.split(SPEED_COMMAND.format(dir=shlex.quote(tmp)))
            cmd[0] = sys.executable
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            run = {"wall_s": round(wall, 2), "returncode": proc.returncode}
            meta_path = Path(tmp) / "speedbar.json"
            if proc.returncode == 0 and meta_path.is_file():
                meta = json.loads(meta_path.read_text())
                run["test_loss"] = _r(meta["metrics"]["test_loss"])
                run["train_time_s"] = meta.get("wall_time_s")
                run["device"] = meta.get("device")
                run["train_images"] = meta.get("data", {}).get("train_images")
            else:
                run["error"] = (proc.stderr or proc.stdout)[-2000:]
            runs.append(run)
    good = [r for r in runs if "test_loss" in r]
    out = {"command": SPEED_COMMAND.format(dir="<tmp dir>"), "runs": runs,
           "bar": {"test_loss_max": SPEED_BAR_LOSS, "wall_s_max": SPEED_BAR_WALL_S},
           "load_avg_1m_before": load_before}
    if good:
        out["median_wall_s"] = round(statistics.median(r["wall_s"] for r in good), 2)
        out["median_test_loss"] = _r(statistics.median(r["test_loss"] for r in good))
        out["pass_loss"] = out["median_test_loss"] <= SPEED_BAR_LOSS
        out["pass_wall"] = out["median_wall_s"] <= SPEED_BAR_WALL_S
        out["status"] = "PASS" if out["pass_loss"] and out["pass_wall"] else "FAIL"
    else:
        out["status"] = "FAIL"
    return out


# --- section: app (hooks) ------------------------------------------------------------------------

def _figures_from_bench_app(data: dict) -> dict:
    """``python -m vae_demo.bench_app``'s JSON (slider handler and browser timings) as figures."""
    handler = data.get("handler_median_ms") or {}
    figures = [{
        "key": "slider_handler", "name": "latent-slider decode handler, slowest model (CPU)", "unit": "ms",
        "median": data.get("handler_median_ms_max"),
        "notes": ", ".join(f"{k}: {v:g} ms" for k, v in handler.items())
        + ("; untrained weights (decode time does not depend on them)" if data.get("untrained_weights") else ""),
    }]
    browser = data.get("browser") or {}
    figures.append({
        "key": "slider_browser", "name": "slider change → new image on screen (headless Chromium)",
        "unit": "ms", "median": browser.get("median_ms"), "runs": browser.get("repeats"),
        "notes": f"skipped: {browser['skipped']}" if "skipped" in browser else
        (f"min {browser.get('min_ms')} ms, max {browser.get('max_ms')} ms" if browser else ""),
    })
    machine = data.get("machine")
    if isinstance(machine, dict):
        machine = ", ".join(f"{k} {v}" for k, v in machine.items())
    return {"machine": machine, "what": data.get("what"), "figures": figures}


def load_app_figures(path: Path) -> dict:
    """Read and check the app's speed figures: the schema in the module doc, or the JSON that
    ``python -m vae_demo.bench_app`` writes (converted to that schema)."""
    data = json.loads(Path(path).read_text())
    if isinstance(data, dict) and "figures" not in data and "handler_median_ms" in data:
        data = _figures_from_bench_app(data)
    if not isinstance(data, dict) or not isinstance(data.get("figures"), list):
        raise ValueError(f"{path}: expected an object with a 'figures' list")
    figures = []
    for f in data["figures"]:
        if not isinstance(f, dict) or not all(k in f for k in ("name", "unit", "median")):
            raise ValueError(f"{path}: each figure needs 'name', 'unit' and 'median', got {f!r}")
        if f["median"] is not None and not isinstance(f["median"], (int, float)):
            raise ValueError(f"{path}: figure {f['name']!r} has a non-numeric median {f['median']!r}")
        fig = dict(f)
        bar, op = f.get("bar"), f.get("bar_op", "<=")
        if bar is not None and f["median"] is not None:
            fig["status"] = "PASS" if (f["median"] <= bar if op == "<=" else f["median"] >= bar) else "FAIL"
        figures.append(fig)
    return {**{k: v for k, v in data.items() if k != "figures"}, "figures": figures}


def run_app(ctx: Ctx) -> dict:
    path = Path(ctx.args.app_json) if ctx.args.app_json else ctx.out.parent / APP_JSON
    shown = os.path.relpath(path, ctx.out.parent)  # no machine paths in the report
    if not path.is_file():
        return {"source": None, "expected": shown, "figures": []}
    try:
        return {"source": shown, **load_app_figures(path)}
    except (ValueError, json.JSONDecodeError) as err:
        return {"source": shown, "error": str(err), "figures": []}


def run_load(ctx: Ctx) -> dict:
    from vae_demo import loadtest

    a = ctx.args
    if ctx.quick:
        out = loadtest.run(users=3, duration=5, requests=30, checkpoint_dir=ctx.ckpt_dir, data_dir=ctx.data_dir,
                           solo=3)
    else:
        out = loadtest.run(users=a.load_users, duration=a.load_duration, requests=a.load_requests,
                           checkpoint_dir=ctx.ckpt_dir, data_dir=ctx.data_dir)
    path = loadtest.save_memory_plot(ctx.grid_dir / "load_memory.png", out["memory_phase"]["samples"],
                                     out["memory_phase"]["growth_mb"])
    out["memory_plot"] = os.path.relpath(path, ctx.out.parent)
    return out


RUNNERS = {"tune": run_tune, "restore": run_restore, "losses": run_losses, "sweep": run_sweep,
           "nll": run_nll, "speed": run_speed, "app": run_app, "load": run_load}


# --- the report ----------------------------------------------------------------------------------

def _f(v, nd=2):
    return "—" if v is None else f"{v:.{nd}f}"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _section_head(title: str, sec: dict) -> list[str]:
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


def render_restore(sec: dict) -> str:
    lines = _section_head("Restoration quality (test split)", sec)
    lines += [
        "PSNR (dB) from the MSE of the whole set; SSIM is the mean per-image SSIM (data range 1). "
        "Every restorer gets the same corrupted images (seed = "
        f"{sec.get('seed', TEST_SEED)} + the corruption's index). Classical restorers are tuned on held-out "
        "TRAINING images (the last images of the training split), never on the test split. "
        "Labels follow CONVENTIONS.md: *mask-aware* restorers are given the corruption mask; learned models "
        "are blind, and their '+ keep observed' rows are the same reconstruction pasted into the masked "
        "pixels only (mask-aware); a model trained with the mask as an input (`--mask-input`) is also given "
        "the mask in its 'given the mask' row (mask-aware, observed pixels kept). PCA is reported but not counted as 'learned'. Tuned classical "
        "restorers know the corruption kind and level, as does a learned restorer trained on it.",
        "",
        (classical.BM3D_GAP_NOTE if sec.get("bm3d_nf", 0) == 0 else
         f"BM3D ran with the library's profile nf = {sec.get('bm3d_nf')}."),
        "",
    ]
    lines += ["### Quality bars", ""]
    for bar in sec.get("bars", []):
        detail = ", ".join(f"{s}: {_f(v['margin_db'])} dB {'✓' if v['pass'] else '✗'}"
                           for s, v in bar.get("per_corruption", {}).items() if v["margin_db"] is not None)
        reason = f" ({bar['reason']})" if bar.get("reason") else ""
        lines.append(f"- **{bar['status']}** — {bar['text']}{reason}" + (f"  \n  {detail}" if detail else ""))
    lines.append("")
    for ds, res in sec.get("datasets", {}).items():
        lines += [f"### {ds}", ""]
        if "skipped" in res:
            lines += [f"Skipped: {res['skipped']}", ""]
            continue
        sub = "" if res["test_images"] == res["test_split_size"] else \
            f" (**subset: the first {res['test_images']} of {res['test_split_size']}**)"
        lines += [f"Test images: {res['test_images']}{sub}; tuning: {res['heldout_images']} held-out "
                  f"training images. Checkpoints: "
                  + (", ".join(f"`{c['name']}` ({c['model']}, z={c['latent_dim']}, trained on {c['corruption']})"
                               for c in res["checkpoints"]) or "none found") + ".", ""]
        if ds == "cifar10":
            lines += [f"> {JPEG_NOTE}", ""]
        for w in res.get("warnings", []):
            lines += [f"> warning: {w}", ""]
        summary = []
        for spec, c in res["corruptions"].items():
            bc, bl = c["best_classical"], c["best_learned"]
            inp = next(r for r in c["rows"] if r["type"] == "input")
            summary.append([spec, f"{_f(inp['psnr'])} / {_f(inp['ssim'], 3)}",
                            f"{bc['method']} ({bc['label']})" if bc else "—",
                            f"{_f(bc['psnr'])} / {_f(bc['ssim'], 3)}" if bc else "—",
                            f"{bl['method']} ({bl['label']})" if bl else "—",
                            f"{_f(bl['psnr'])} / {_f(bl['ssim'], 3)}" if bl else "—",
                            _f(c["margin_db"])])
        lines += [_table(["corruption", "input PSNR / SSIM", "best classical", "PSNR / SSIM",
                          "best learned", "PSNR / SSIM", "margin (dB)"], summary), ""]
        if res.get("grid"):
            lines += [f"![{ds} restorations]({res['grid']})", "",
                      "_Grid: rows original / corrupted / best classical / best learned; the first "
                      "test images; one block of columns per corruption._", ""]
        lines += ["<details><summary>All restorers</summary>", ""]
        for spec, c in res["corruptions"].items():
            rows = [[r["method"], r["type"], r["label"], _f(r["psnr"]), _f(r["ssim"], 3),
                     _f(r.get("heldout_psnr")), r.get("trained_on", r.get("knows", "")) or "",
                     _f(r.get("ms_per_image"), 3)] for r in c["rows"]]
            lines += [f"**{spec}** ({c['description']}, seed {c['seed']})", "",
                      _table(["method", "type", "label", "PSNR", "SSIM", "held-out PSNR",
                              "trained on / knows", "ms / image"], rows), ""]
        lines += ["</details>", ""]
    return "\n".join(lines)


def render_tune(sec: dict) -> str:
    lines = _section_head("Classical restorers: tuned parameters", sec)
    lines += [f"Written to `{os.path.relpath(sec.get('params_file', ''), REPO_ROOT)}`. "
              "Each parameter maximises PSNR on held-out training images.", ""]
    for ds, res in sec.get("datasets", {}).items():
        if "skipped" in res:
            lines += [f"- {ds}: skipped ({res['skipped']})"]
            continue
        rows = []
        for spec, e in res["corruptions"].items():
            app = e.get("app") or {}
            for name, t in e["restorers"].items():
                r = classical.get_restorer(name)
                lat = t.get("latency_ms")
                in_app = r.describe(app["params"]) if app.get("restorer") == name else ""
                rows.append([spec, name + (" ★" if name == e["best"] else ""), t["label"],
                             r.describe(t["params"]), _f(t["psnr"]), _f(lat, 1), in_app])
        lines += [f"### {ds} ({res['heldout_images']} held-out images, {res['time_s']} s)", "",
                  _table(["corruption", "restorer (★ best)", "label", "chosen", "held-out PSNR",
                          "ms for 1 image", f"app's choice (≤ {classical.APP_LATENCY_MS:g} ms)"], rows), ""]
    return "\n".join(lines)


def render_losses(sec: dict) -> str:
    lines = _section_head("VAE test-set loss terms", sec)
    lines += ["Per image, in nats (BCE recon) or squared error (MSE recon), with `training.evaluate` "
              "(one z sample per image, torch seed 0); a restorer VAE is scored on inputs corrupted "
              "as in its training (its checkpoint's test seed).", ""]
    for ds, res in sec.get("datasets", {}).items():
        if "skipped" in res:
            lines += [f"- {ds}: skipped ({res['skipped']})", ""]
            continue
        if not res["rows"]:
            lines += [f"- {ds}: no VAE checkpoint", ""]
            continue
        rows = [[r["name"], r["model"], r["latent_dim"], r["beta"], r["corruption"], _f(r["recon"]),
                 _f(r["kl"]), _f(r["loss"]), _f(r["recorded_test_loss"]), _f(r["psnr"])] for r in res["rows"]]
        lines += [f"### {ds} ({res['test_images']} test images)", "",
                  _table(["checkpoint", "model", "z", "β", "input corruption", "recon", "KL", "loss",
                          "recorded test loss", "PSNR"], rows), ""]
    return "\n".join(lines)


def render_sweep(sec: dict) -> str:
    lines = _section_head("Reconstruction error vs latent size (MNIST): PCA vs conv AE", sec)
    if "skipped" in sec:
        return "\n".join(lines + [f"Skipped: {sec['skipped']}", ""])
    lines += [f"conv_ae trained for {sec['epochs']} epoch(s) on {sec['train_images']} training images "
              f"(seed 0, batch 128, lr 1e-3, BCE), PCA fit on the same images; scored on "
              f"{sec['test_images']} test images. These models are trained for this table only and "
              "not saved.", ""]
    rows = [[r["latent_dim"], _f(r["pca"]["mse"], 5), _f(r["pca"]["psnr"]), _f(r["conv_ae"]["mse"], 5),
             _f(r["conv_ae"]["psnr"]), _f(r["conv_ae"]["psnr"] - r["pca"]["psnr"])] for r in sec["rows"]]
    lines += [_table(["latent d", "PCA MSE", "PCA PSNR", "conv AE MSE", "conv AE PSNR", "AE − PCA (dB)"],
                     rows), ""]
    return "\n".join(lines)


def render_nll(sec: dict) -> str:
    lines = _section_head("Importance-weighted test NLL (MNIST)", sec)
    if "skipped" in sec:
        return "\n".join(lines + [f"Skipped: {sec['skipped']}", ""])
    lines += [f"log p(x) ≈ logsumexp_k [log p(x|z_k) + log p(z_k) − log q(z_k|x)] − log k with k = {sec['k']}, "
              f"Bernoulli likelihood from `decode_logits`, on {sec['test_images']} test images binarized by "
              f"{sec['binarization']}. The models were trained on grey levels, and thresholded MNIST is "
              "not the stochastically binarized MNIST of the literature, so compare these numbers with each "
              "other, not with published ones.", ""]
    if not sec["rows"]:
        return "\n".join(lines + [f"No MNIST checkpoint of kind {', '.join(sec['models'])} trained on clean "
                                  "images (with β = 1 unless --nll-any-beta) was found.", ""])
    rows = [[r["name"], r["model"], r["latent_dim"], r["beta"], f"{_f(r['nll'])} ± {_f(r['nll_sem'])}",
             _f(r["neg_elbo"]), _f(r["time_s"], 1)] for r in sec["rows"]]
    lines += [_table(["checkpoint", "model", "z", "β", "NLL (nats) ± s.e.", "−ELBO (same samples)",
                      "time (s)"], rows), ""]
    return "\n".join(lines)


def render_speed(sec: dict) -> str:
    lines = _section_head("Training speed bar", sec)
    lines += [f"`{sec['command']}` (with `VAE_DEMO_DATA` set), wall time from process start to exit, "
              f"start-up included; the test loss is `metrics.test_loss` of the checkpoint it writes. "
              f"Bar: test loss ≤ {SPEED_BAR_LOSS} per image in ≤ {SPEED_BAR_WALL_S:g} s. "
              f"Load average (1 min) before the runs: {sec.get('load_avg_1m_before')}.", ""]
    rows = [[i + 1, _f(r["wall_s"]), _f(r.get("test_loss")), r.get("train_images", "—"), r.get("device", "—"),
             "ok" if r["returncode"] == 0 else f"exit {r['returncode']}"] for i, r in enumerate(sec["runs"])]
    lines += [_table(["run", "wall (s)", "test loss", "train images", "device", "status"], rows), ""]
    if "median_wall_s" in sec:
        lines += [f"- **{sec['status']}** — median of {len(sec['runs'])} run(s): test loss "
                  f"{_f(sec['median_test_loss'])} ({'≤' if sec['pass_loss'] else '>'} {SPEED_BAR_LOSS}), "
                  f"wall {_f(sec['median_wall_s'])} s ({'≤' if sec['pass_wall'] else '>'} {SPEED_BAR_WALL_S:g} s)", ""]
    else:
        lines += ["- **FAIL** — no run finished; see benchmarks.json for the error", ""]
    return "\n".join(lines)


def render_app(sec: dict) -> str:
    lines = _section_head("App speed", sec)
    if not sec.get("source"):
        return "\n".join(lines + [f"Not supplied yet: the app's two speed figures are read from "
                                  f"`{APP_JSON}` beside this file (written by `python -m vae_demo.bench_app`; "
                                  "other figures: the schema in `vae_demo/bench.py`).", ""])
    if sec.get("error"):
        return "\n".join(lines + [f"Could not read `{sec['source']}`: {sec['error']}", ""])
    extra = ", ".join(f"{k}: {sec[k]}" for k in ("what", "machine", "date", "command") if sec.get(k))
    rows = [[f["name"], "—" if f["median"] is None else f"{f['median']:g} {f['unit']}", f.get("runs") or "—",
             f"{f.get('bar_op', '<=')} {f['bar']:g} {f['unit']}" if f.get("bar") is not None else "—",
             f.get("status", "—"), f.get("notes", "")] for f in sec["figures"]]
    lines += ([extra, ""] if extra else []) + [
        _table(["figure", "median", "runs", "bar", "status", "notes"], rows), ""]
    return "\n".join(lines)


def render_load(sec: dict) -> str:
    lines = _section_head("Load test (concurrent users)", sec)
    lat, mem = sec["latency"], sec["memory_phase"]
    ok = sec.get("pass_errors") and sec.get("pass_memory")
    lines += [
        f"{sec['users']} simulated users, each its own session (gradio_client on loopback, think time "
        f"{sec['think_s'][0]:g}-{sec['think_s'][1]:g} s), spread over {', '.join(sec['datasets'])}; "
        f"training in the app: {sec['training']} ({sec.get('training_epochs_done')} epochs finished). "
        "The load generator runs on the same 2-core machine as the app"
        + (f" and itself used {_f(sec['cpu_s']['load_generator'], 0)} CPU-seconds of the latency phase "
           f"(the app {_f(sec['cpu_s']['server'], 0)}; {sec['cpu_s']['cores']} cores × {sec['cpu_s']['wall']:g} s "
           "available), so the latencies include waiting for the client's own share of the CPU"
           if sec.get("cpu_s") else "") + ".",
        "",
        f"- **{'PASS' if sec.get('pass_errors') else 'FAIL'}** — errors: {sec['errors']} of {sec['requests']} "
        "requests" + (f" ({'; '.join(sec['error_examples'])})" if sec["error_examples"] else "")
        + ("" if sec.get("server_alive") else "; the server died"),
        f"- **{'PASS' if sec.get('pass_memory') else 'FAIL'}** — memory over {mem['requests']} requests after "
        f"the {sec['duration_s']:g} s phase: {_f(mem['rss_start_mb'], 0)} → {_f(mem['rss_end_mb'], 0)} MB "
        f"(growth {_f(mem['growth_mb'], 1)} MB; bar ≤ {mem['bar_mb']:g} MB); peak (VmHWM) {_f(sec['peak_rss_mb'], 0)} MB",
        "",
    ]
    if sec.get("memory_plot"):
        lines += [f"![server memory during the load test]({sec['memory_plot']})", ""]
    def row(label, r):
        return [label, r["requests"], _f(r["p50_ms"], 0), _f(r["p95_ms"], 0), _f(r["max_ms"], 0)]

    def phase(label, r):  # the phase's row, then one per endpoint
        return [row(label, r)] + [row(f"… {ep}", e) for ep, e in r["by_endpoint"].items()]

    rows = []
    solo = sec.get("solo") or {}
    if solo.get("requests"):
        rows += phase(f"one user alone, training running ({solo['duration_s']:g} s)", solo)
    rows += phase(f"{sec['users']} users, training running (latency phase)", lat)
    rows.append(row(f"{sec['users']} users, training stopped (memory phase)", mem))
    lines += [_table(["requests", "n", "p50 (ms)", "p95 (ms)", "max (ms)"], rows), "",
              f"Throughput {lat['throughput_rps']} requests/s over {sec['duration_s']:g} s. `restore` is a severity "
              "slider move in Corrupt & restore (every model of the dataset and a classical restorer), `slide` a "
              "latent slider move, `pick_random` a new test image, `choose_corruption` another corruption kind.", ""]
    if not ok:
        lines += ["(see `benchmarks.json` for the server log tail)", ""]
    return "\n".join(lines)


RENDERERS = {"restore": render_restore, "tune": render_tune, "losses": render_losses,
             "sweep": render_sweep, "nll": render_nll, "speed": render_speed, "app": render_app,
             "load": render_load}
ORDER = ("restore", "losses", "sweep", "nll", "speed", "app", "load", "tune")


def render(report: dict) -> str:
    m = report.get("machine", {})
    lines = [
        "# Benchmarks",
        "",
        f"Generated {report.get('generated')} by `{report.get('command')}`.",
        "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores ({m.get('torch_threads')} torch threads), "
        f"torch {m.get('torch')}, Python {m.get('python')}, {m.get('platform')}"
        + (f", GPU {m['cuda']}" if m.get("cuda") else "") + ".",
        "",
        "Sections run at different times say so under their heading. Machine-readable: `benchmarks.json`.",
        "",
    ]
    if report.get("quick"):
        lines += ["> **Quick mode**: small subsets for development. These numbers are not results.", ""]
    for name in ORDER:
        if name in report.get("sections", {}):
            lines.append(RENDERERS[name](report["sections"][name]))
    return "\n".join(lines).rstrip() + "\n"


# --- main ----------------------------------------------------------------------------------------

def make_ctx(args) -> Ctx:
    quick = bool(args.quick)
    base = QUICK if quick else FULL
    out = Path(args.out) if args.out else (Path("bench_out/BENCHMARKS.md") if quick else Path("BENCHMARKS.md"))
    out = out.resolve()
    params_out = Path(args.params_out) if args.params_out else (
        out.with_name("classical_params.json") if quick else classical.PARAMS_PATH)
    return Ctx(
        args=args, out=out, datasets=[ds for ds in DATASETS if ds in args.datasets],  # one order in every report
        data_dir=default_data_dir(args.data_dir).resolve(), ckpt_dir=args.checkpoint_dir,
        params_out=params_out.resolve(), device=pick_device(args.device), quick=quick,
        test_limit=args.test_limit if args.test_limit is not None else base["test_limit"],
        tune_images=args.tune_images if args.tune_images is not None else base["tune_images"],
        classical_names=[n.strip() for n in args.classical.split(",")] if args.classical else None,
    )


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    only = [s.strip() for s in args.only.split(",")] if args.only else list(SECTIONS)
    bad = [s for s in only if s not in SECTIONS]
    if bad:
        print(f"error: unknown section(s) {', '.join(bad)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    if args.classical:
        unknown = [n for n in args.classical.split(",") if n.strip() not in classical.RESTORERS]
        if unknown:
            print(f"error: unknown classical restorer(s) {', '.join(unknown)}; choose from "
                  f"{', '.join(classical.RESTORERS)}", file=sys.stderr)
            return 2
    if args.bm3d_nf is not None:  # an environment variable, so that worker processes see it too
        os.environ[classical.BM3D_NF_ENV] = str(args.bm3d_nf)
    ctx = make_ctx(args)
    command = shlex.join(["python", "-m", "vae_demo.bench", *(sys.argv[1:] if argv is None else argv)])
    ctx.command = command
    # --only keeps the other sections (and a section's other datasets) of earlier runs
    report = {"generated": _now(), "command": command, "machine": machine_info(), "quick": ctx.quick}
    ran: dict[str, dict] = {}  # the sections this run measured
    keep = bool(args.only)
    t_all = time.perf_counter()
    try:
        for name in SECTIONS:
            if name not in only:
                continue
            t0 = time.perf_counter()
            print(f"== {name}", file=sys.stderr, flush=True)
            sec = RUNNERS[name](ctx)
            sec["_meta"] = {"generated": _now(), "command": command, "quick": ctx.quick,
                            "time_s": round(time.perf_counter() - t0, 1)}
            ran[name] = sec
            report = _write(ctx, report, ran, keep)  # after every section: a crash later keeps it
    finally:
        classical.close_pools()
    report["total_time_s"] = round(time.perf_counter() - t_all, 1)
    report = _write(ctx, report, ran, keep)
    print(f"wrote {ctx.out} and {ctx.json_path} in {report['total_time_s']} s", file=sys.stderr)
    for bar in report["sections"].get("restore", {}).get("bars", []):
        print(f"{bar['status']}: {bar['text']}", file=sys.stderr)
    if "speed" in report["sections"]:
        print(f"{report['sections']['speed']['status']}: training speed bar", file=sys.stderr)
    return 0


def _in_dataset_order(by_dataset: dict) -> dict:
    """``by_dataset`` re-keyed in DATASETS order (mnist, fashion-mnist, cifar10; others after)."""
    order = {ds: i for i, ds in enumerate(DATASETS)}
    return dict(sorted(by_dataset.items(), key=lambda kv: order.get(kv[0], len(order))))


def merge_section(name: str, old: dict | None, new: dict) -> dict:
    """A section run for some datasets keeps the other datasets of an earlier run of that section."""
    if not old or not isinstance(old.get("datasets"), dict) or not isinstance(new.get("datasets"), dict):
        return new
    kept = {ds: res for ds, res in old["datasets"].items() if ds not in new["datasets"]}
    if not kept:
        return new
    merged = dict(new)
    merged["datasets"] = _in_dataset_order({**kept, **new["datasets"]})  # the report's order: mnist first
    old_meta = old.get("_meta", {})
    earlier = old_meta.get("kept_from_earlier_run", {})  # a dataset kept twice keeps its own run's meta
    merged["_meta"] = {**new["_meta"], "kept_from_earlier_run": _in_dataset_order({
        ds: earlier.get(ds, {k: v for k, v in old_meta.items() if k != "kept_from_earlier_run"})
        for ds in kept})}
    if name == "restore":
        merged["bars"] = quality_bars(merged["datasets"])
    return merged


def _write(ctx: Ctx, report: dict, ran: dict[str, dict], keep: bool) -> dict:
    """Write benchmarks.json and the Markdown report; returns what was written.

    With ``keep`` (an ``--only`` run), this run's sections are merged into the file as it is *now*,
    under a lock, so runs of different datasets or sections can go side by side (one per core)
    without the one that finishes last dropping what the other measured."""
    ctx.out.parent.mkdir(parents=True, exist_ok=True)
    with _locked(ctx.json_path.with_name(".benchmarks.lock")):
        on_disk = {"sections": {}}
        if keep and ctx.json_path.is_file():
            with contextlib.suppress(OSError, ValueError):
                on_disk = json.loads(ctx.json_path.read_text())
        sections = dict(on_disk.get("sections") or {})
        for name, sec in ran.items():
            sections[name] = merge_section(name, sections.get(name), sec)
        merged = {**report, "sections": sections}
        atomic_write((ctx.json_path, json.dumps(merged, indent=1, default=str) + "\n"),
                     (ctx.out, render(merged)))
    return merged


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive advisory lock on ``path`` (POSIX; elsewhere, no lock)."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent runs are not supported there
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


if __name__ == "__main__":
    sys.exit(main())
