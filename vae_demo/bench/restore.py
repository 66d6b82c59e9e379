"""Section ``restore``: PSNR/SSIM of the corrupted input, the tuned classical restorers, PCA and every
learned checkpoint on each test split; the best of each kind, the quality bars and a PNG grid per dataset."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from vae_demo import classical
from vae_demo.bench.core import (
    BLUR_VARIANT_SPECS,
    CORRUPTIONS,
    JPEG_NOTE,
    MNIST_BAR_DB,
    MNIST_BAR_SPECS,
    MNIST_HEADROOM_DB,
    TEST_SEED,
    Ctx,
    corruptions_for,
    fmt,
    load_checkpoints,
    md_table,
    reconstruct,
    record_in_checkpoints,
    register,
    rounded,
    scores,
    section_head,
    spec_seed,
)
from vae_demo.bench.tune import tuned_for
from vae_demo.corruptions import corrupt, describe

# --- section: restore ----------------------------------------------------------------------------

def earlier_classical(ctx: Ctx, ds: str, n_images: int, bm3d_nf, n_heldout: int) -> tuple[dict, str] | None:
    """With ``--reuse-classical``: the classical rows per corruption of the earlier run of ``ds`` in
    benchmarks.json (full, or quick for a quick run) and where they came from, if it measured the same
    test images with the same seeds, BM3D profile and held-out tuning images (the tuning is
    deterministic: the same images and seed give the same parameters) and the same restorers."""
    import json

    if not getattr(ctx.args, "reuse_classical", False) or not ctx.json_path.exists():
        return None
    try:
        sec = json.loads(ctx.json_path.read_text())["sections"]["restore"]
        res = sec["datasets"][ds]
    except (KeyError, ValueError, OSError):
        return None
    meta = sec.get("_meta", {})
    when = meta.get("kept_from_earlier_run", {}).get(ds, meta)
    if (bool(when.get("quick")) != ctx.quick or sec.get("seed") != ctx.args.seed or sec.get("bm3d_nf") != bm3d_nf
            or res.get("test_images") != n_images or res.get("heldout_images") != n_heldout):
        return None
    rows = {spec: rs for spec, c in res["corruptions"].items()
            if (rs := [r for r in c["rows"] if r["type"] == "classical"])}  # a corruption not measured then: tuned now
    if not rows:
        return None
    wanted = set(ctx.classical_names or classical.RESTORERS)
    if {r["restorer"] for rs in rows.values() for r in rs} != wanted:  # the same restorers as asked for now
        return None
    return rows, f"the run of {when.get('generated')} (`{when.get('command')}`)"


def run_restore(ctx: Ctx) -> dict:
    from tqdm import tqdm

    out = {"datasets": {}, "seed": ctx.args.seed, "bm3d_nf": classical.bm3d_nf()}
    for ds, x in ctx.test_splits(out):
        t_ds = time.perf_counter()
        ckpts, warnings = load_checkpoints(ctx, ds)
        reuse = earlier_classical(ctx, ds, len(x), out["bm3d_nf"], len(ctx.heldout(ds)))
        ckpts = sorted(ckpts, key=lambda c: c.model.trainable)  # closed-form models (PCA) first
        specs = corruptions_for(ds)
        bar = tqdm(specs, desc=f"restore {ds}", unit="corruption")
        fresh = [spec for spec in specs if not reuse or spec not in reuse[0]]  # classical rows to measure now
        tuned = tuned_for(ctx, ds, bar, specs=fresh) if fresh else {}
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
        if reuse:
            result["classical_reused_from"] = reuse[1]
            result["classical_measured_now"] = fresh
        grid_rows = {}
        for i, spec in enumerate(bar):
            seed = spec_seed(ctx, i)
            y, mask = corrupt(x, spec, seed)
            board = _Scoreboard(x, g)
            add = board.add
            add("corrupted input", "input", "—", y)
            if spec not in fresh:  # the same measurement as the earlier run's: its rows
                board.rows += [dict(old, reused=True) for old in reuse[0][spec]]
            for name, tr in (tuned[spec] if spec in fresh else {}).items():
                r = classical.get_restorer(name)
                bar.set_postfix_str(f"{spec} {name}")
                t0 = time.perf_counter()
                restored = classical.apply(r, y, mask, spec, tr.params, workers=ctx.args.workers)
                add(r.describe(tr.params), "classical", r.label, restored, time.perf_counter() - t0,
                    restorer=name, params=tr.params, heldout_psnr=rounded(tr.psnr), knows=r.knows or "")
            for c in ckpts:
                bar.set_postfix_str(f"{spec} {c.name}")
                t0 = time.perf_counter()
                restored = reconstruct(c.model, y, ctx.device)
                elapsed = time.perf_counter() - t0
                kind = "learned" if c.model.trainable else "closed form"
                trained_on = c.meta.get("corruption", "none")
                mine = {"checkpoint": c.name, "model": c.meta["model"], "trained_on": trained_on}
                add(c.name, kind, "blind", restored, elapsed, **mine)
                if mask is not None:  # keep the observed pixels: the mask-aware use of the same model
                    label = f"{c.name} + keep observed"
                    if c.model.mask_input:  # ... and tell a model trained with the mask where the damage is
                        t0 = time.perf_counter()
                        restored = reconstruct(c.model, y, ctx.device, mask=mask)
                        elapsed = time.perf_counter() - t0
                        label = f"{c.name} given the mask"
                    kept = y * (1 - mask) + restored * mask
                    add(label, kind, "mask-aware", kept, elapsed, **mine)
            rows, examples = board.rows, board.examples
            best_c = _best(rows, "classical")
            if best_c and best_c["method"] not in examples and g > 0:  # a reused row: its grid images now
                old = next(r for r in rows if r["method"] == best_c["method"])
                examples[best_c["method"]] = classical.apply(
                    classical.get_restorer(old["restorer"]), y[:g], None if mask is None else mask[:g], spec,
                    old["params"], workers=ctx.args.workers)
            best_l = _best(rows, "learned")
            result["corruptions"][spec] = {
                "seed": seed,
                "description": describe(spec),
                "rows": rows,
                "best_classical": best_c,
                "best_learned": best_l,
                "margin_db": rounded(best_l["psnr"] - best_c["psnr"]) if best_c and best_l else None,
            }
            grid_rows[spec] = [x[:g], y[:g],
                               examples[best_c["method"]] if best_c else None,
                               examples[best_l["method"]] if best_l else None]
        per_ckpt: dict[str, dict] = {}
        for spec, res in result["corruptions"].items():
            for row in res["rows"]:
                if "checkpoint" in row:  # a checkpoint's row: blind, or mask-aware (the observed pixels kept)
                    prefix = "keep_observed_" if row["label"] == "mask-aware" else ""
                    per_ckpt.setdefault(row["checkpoint"], {}).setdefault(spec, {}).update(
                        {prefix + k: row[k] for k in ("psnr", "ssim")})
        record_in_checkpoints(ctx, "restore", {n: {"corruptions": v} for n, v in per_ckpt.items()},
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
        p, s = scores(restored, self.clean)
        row = {"method": method, "type": kind, "label": label, "psnr": rounded(p), "ssim": rounded(s)}
        if elapsed is not None:
            row["ms_per_image"] = rounded(1000 * elapsed / len(self.clean), 3)
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
    check("mnist", BLUR_VARIANT_SPECS, MNIST_BAR_DB, False,
          "MNIST, blur as other libraries implement it (SciPy, OpenCV, scikit-image kernels and borders): best "
          "learned ≥ best classical + 4 dB PSNR")
    check("mnist", MNIST_BAR_SPECS + BLUR_VARIANT_SPECS, MNIST_HEADROOM_DB, False,
          "MNIST, every row of both bars above (the 8 seed corruptions and blur as the libraries do it): best "
          f"learned ≥ best classical + {MNIST_HEADROOM_DB:g} dB PSNR (headroom)")
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


def render_restore(sec: dict) -> str:
    lines = section_head("Restoration quality (test split)", sec)
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
        detail = ", ".join(f"{s}: {fmt(v['margin_db'])} dB {'✓' if v['pass'] else '✗'}"
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
        if res.get("classical_reused_from"):
            now_ = res.get("classical_measured_now") or []
            also = (f" (tuned and measured in this run: {', '.join(now_)})" if now_ else "")
            lines += [f"_The classical rows (same test images, seeds and held-out tuning images) are those of "
                      f"{res['classical_reused_from']}{also}; the checkpoints' rows were measured in this run._", ""]
        for w in res.get("warnings", []):
            lines += [f"> warning: {w}", ""]
        summary = []
        for spec, c in res["corruptions"].items():
            bc, bl = c["best_classical"], c["best_learned"]
            inp = next(r for r in c["rows"] if r["type"] == "input")
            summary.append([spec, f"{fmt(inp['psnr'])} / {fmt(inp['ssim'], 3)}",
                            f"{bc['method']} ({bc['label']})" if bc else "—",
                            f"{fmt(bc['psnr'])} / {fmt(bc['ssim'], 3)}" if bc else "—",
                            f"{bl['method']} ({bl['label']})" if bl else "—",
                            f"{fmt(bl['psnr'])} / {fmt(bl['ssim'], 3)}" if bl else "—",
                            fmt(c["margin_db"])])
        lines += [md_table(["corruption", "input PSNR / SSIM", "best classical", "PSNR / SSIM",
                          "best learned", "PSNR / SSIM", "margin (dB)"], summary), ""]
        if res.get("grid"):
            lines += [f"![{ds} restorations]({res['grid']})", "",
                      "_Grid: rows original / corrupted / best classical / best learned; the first "
                      "test images; one block of columns per corruption._", ""]
        lines += ["<details><summary>All restorers</summary>", ""]
        for spec, c in res["corruptions"].items():
            rows = [[r["method"], r["type"], r["label"], fmt(r["psnr"]), fmt(r["ssim"], 3),
                     fmt(r.get("heldout_psnr")), r.get("trained_on", r.get("knows", "")) or "",
                     fmt(r.get("ms_per_image"), 3)] for r in c["rows"]]
            lines += [f"**{spec}** ({c['description']}, seed {c['seed']})", "",
                      md_table(["method", "type", "label", "PSNR", "SSIM", "held-out PSNR",
                              "trained on / knows", "ms / image"], rows), ""]
        lines += ["</details>", ""]
    return "\n".join(lines)


register("restore", run_restore, render_restore, report_rank=0,
         after_merge=lambda sec: {**sec, "bars": quality_bars(sec["datasets"])})
