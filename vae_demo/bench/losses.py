"""Section ``losses``: test-set loss terms of every VAE checkpoint."""

from __future__ import annotations

import torch

from vae_demo.bench.core import (
    Ctx,
    fmt,
    load_checkpoints,
    md_table,
    record_in_checkpoints,
    register,
    rounded,
    section_head,
)
from vae_demo.training import evaluate

# --- section: losses -----------------------------------------------------------------------------

def run_losses(ctx: Ctx) -> dict:
    out = {"datasets": {}}
    for ds, x in ctx.test_splits(out):
        ckpts, warnings = load_checkpoints(ctx, ds)
        rows = []
        for c in ckpts:
            if not getattr(c.model, "generative", False):
                continue
            corruption = c.meta.get("corruption", "none")
            torch.manual_seed(0)  # the loss samples z once per image
            labels = ctx.load(ds, "test").labels[:len(x)].to(ctx.device)  # a conditional model is told them
            ev = evaluate(c.model, x.to(ctx.device), corruption, labels=labels)
            recorded = c.meta.get("metrics", {}).get("test_loss")
            terms = {k: rounded(v) for k, v in ev.items() if k != "psnr"}  # whatever terms the model returns
            rows.append({"name": c.name, "model": c.meta["model"], "latent_dim": c.meta["latent_dim"],
                         "beta": c.meta.get("hparams", {}).get("beta"), "corruption": corruption,
                         **terms, "terms": list(terms), "psnr": rounded(ev.get("psnr")),
                         "recorded_test_loss": rounded(recorded)})
        out["datasets"][ds] = {"test_images": len(x), "rows": rows, "warnings": warnings}
        record_in_checkpoints(ctx, "losses", {r["name"]: {k: r[k] for k in (*_terms(r), "psnr")}
                                              for r in rows}, test_images=len(x))
    return out


def render_losses(sec: dict) -> str:
    lines = section_head("VAE test-set loss terms", sec)
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
        terms: list[str] = []
        for r in res["rows"]:
            terms += [t for t in _terms(r) if t not in terms]
        terms.sort(key=lambda t: t == "loss")  # the loss last, after the terms it sums
        rows = [[r["name"], r["model"], r["latent_dim"], r["beta"], r["corruption"],
                 *(fmt(r.get(t)) for t in terms), fmt(r["recorded_test_loss"]), fmt(r["psnr"])] for r in res["rows"]]
        lines += [f"### {ds} ({res['test_images']} test images)", "",
                  md_table(["checkpoint", "model", "z", "β", "input corruption", *terms,
                            "recorded test loss", "PSNR"], rows), ""]
    return "\n".join(lines)


def _terms(row: dict) -> list[str]:
    """The loss terms of a row: as the model named them (rows written before the names were kept: the VAE's)."""
    return list(row.get("terms") or [t for t in ("recon", "kl", "loss") if t in row])


register("losses", run_losses, render_losses, report_rank=1)
