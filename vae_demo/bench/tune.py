"""Section ``tune``: tune every classical restorer on held-out training images (writes classical_params.json)."""

from __future__ import annotations

import os
import time

from vae_demo import classical
from vae_demo.bench.core import REPO_ROOT, Ctx, corruptions_for, fmt, md_table, now, register, section_head
from vae_demo.data import DataNotFoundError

# --- section: tune -------------------------------------------------------------------------------

def tuned_for(ctx: Ctx, dataset: str, progress=None, write: bool = False, specs=None) -> dict:
    """Tune every classical restorer for every corruption (or ``specs``) on ``dataset``'s held-out train images.

    Only the ``tune`` section (``write``) rewrites the parameters file the app reads; ``restore``
    alone tunes the same way (same images, same seed) but leaves that file alone."""
    wanted = list(corruptions_for(dataset) if specs is None else specs)
    if any(spec not in ctx.tuned.get(dataset, {}) for spec in wanted):
        held = ctx.heldout(dataset)
        results = ctx.tuned.setdefault(dataset, {})
        for spec in (s for s in wanted if s not in results):
            t0 = time.perf_counter()
            results[spec] = classical.tune_spec(spec, held, seed=classical.TUNE_SEED,
                                                workers=ctx.args.workers, progress=True,
                                                names=ctx.classical_names)
            if progress is not None:
                progress.set_postfix_str(f"tuned {dataset} {spec} in {time.perf_counter() - t0:.1f} s")
    if write:
        held, results = ctx.heldout(dataset), ctx.tuned[dataset]
        entries = {spec: classical.params_entry(spec, res) for spec, res in results.items()}
        classical.write_params(ctx.params_out, {dataset: entries}, {
            "note": "written by python -m vae_demo.bench; tuned on held-out TRAINING images",
            "heldout": f"the last {len(held)} images of each training split",
            "tune_seed": classical.TUNE_SEED,
            "bm3d_nf": classical.bm3d_nf(),
            "generated": now(),
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


def render_tune(sec: dict) -> str:
    lines = section_head("Classical restorers: tuned parameters", sec)
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
                             r.describe(t["params"]), fmt(t["psnr"]), fmt(lat, 1), in_app])
        lines += [f"### {ds} ({res['heldout_images']} held-out images, {res['time_s']} s)", "",
                  md_table(["corruption", "restorer (★ best)", "label", "chosen", "held-out PSNR",
                          "ms for 1 image", f"app's choice (≤ {classical.APP_LATENCY_MS:g} ms)"], rows), ""]
    return "\n".join(lines)


register("tune", run_tune, render_tune, report_rank=7)
