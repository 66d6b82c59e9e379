"""The quality benchmark: ``python -m vae_demo.bench --help`` (the sections: :mod:`vae_demo.bench`)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from vae_demo import classical
from vae_demo.bench.core import APP_JSON, FULL, QUICK, REGISTRY, TEST_SEED, Ctx, machine_info, now
from vae_demo.bench.report import write_report
from vae_demo.data import DATASETS, default_data_dir
from vae_demo.training import pick_device


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
                   help=f"comma-separated sections to run ({','.join(REGISTRY)}); default: all")
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
    p.add_argument("--reuse-classical", action="store_true",
                   help="restore: keep the classical rows (and their tuning) of the earlier run in benchmarks.json "
                        "where it measured the same test images with the same seeds and held-out tuning images; "
                        "re-measure the checkpoints only")
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
    p.add_argument("--load-browser-users", type=int, default=30,
                   help="load test: headless Chromium pages dragging sliders, decoded in the page (0: none)")
    p.add_argument("--record", choices=["auto", "yes", "no"], default="auto",
                   help="write each checkpoint's numbers into its JSON (auto: yes, except with --quick)")
    p.add_argument("--device", default="cpu", help="device for learned models (auto, cpu, cuda, mps)")
    p.add_argument("--seed", type=int, default=TEST_SEED, help="test corruption seed (plus the corruption's index)")
    return p


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
    only = [s.strip() for s in args.only.split(",")] if args.only else list(REGISTRY)
    bad = [s for s in only if s not in REGISTRY]
    if bad:
        print(f"error: unknown section(s) {', '.join(bad)}; choose from {', '.join(REGISTRY)}", file=sys.stderr)
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
    report = {"generated": now(), "command": command, "machine": machine_info(), "quick": ctx.quick}
    ran: dict[str, dict] = {}  # the sections this run measured
    keep = bool(args.only)
    t_all = time.perf_counter()
    try:
        for name in REGISTRY:
            if name not in only:
                continue
            t0 = time.perf_counter()
            print(f"== {name}", file=sys.stderr, flush=True)
            sec = REGISTRY[name].run(ctx)
            sec["_meta"] = {"generated": now(), "command": command, "quick": ctx.quick,
                            "time_s": round(time.perf_counter() - t0, 1)}
            ran[name] = sec
            report = write_report(ctx, report, ran, keep)  # after every section: a crash later keeps it
    finally:
        classical.close_pools()
    report["total_time_s"] = round(time.perf_counter() - t_all, 1)
    report = write_report(ctx, report, ran, keep)
    print(f"wrote {ctx.out} and {ctx.json_path} in {report['total_time_s']} s", file=sys.stderr)
    for bar in report["sections"].get("restore", {}).get("bars", []):
        print(f"{bar['status']}: {bar['text']}", file=sys.stderr)
    if "speed" in report["sections"]:
        print(f"{report['sections']['speed']['status']}: training speed bar", file=sys.stderr)
    return 0
