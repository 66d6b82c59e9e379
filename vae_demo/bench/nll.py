"""Section ``nll``: importance-weighted test NLL of the MNIST conv VAE checkpoint(s)."""

from __future__ import annotations

import math
import time

from vae_demo.bench.core import (
    FULL,
    QUICK,
    Ctx,
    fmt,
    load_checkpoints,
    md_table,
    record_in_checkpoints,
    register,
    rounded,
    section_head,
)
from vae_demo.data import DataNotFoundError

# --- section: nll --------------------------------------------------------------------------------

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
    ckpts, warnings = load_checkpoints(ctx, "mnist")
    rows = []
    for c in ckpts:
        if c.meta["model"] not in kinds or c.meta.get("corruption", "none") != "none":
            continue
        if not a.nll_any_beta and c.meta.get("hparams", {}).get("beta", 1.0) != 1.0:
            continue
        t0 = time.perf_counter()
        ll, elbo = c.model.iw_log_likelihood(x_bin, k=a.nll_k, seed=0, desc=f"nll {c.name}")
        nll = -ll
        rows.append({"name": c.name, "model": c.meta["model"], "latent_dim": c.meta["latent_dim"],
                     "beta": c.meta.get("hparams", {}).get("beta"),
                     "nll": rounded(float(nll.mean())),
                     "nll_sem": rounded(float(nll.std() / math.sqrt(len(nll))) if len(nll) > 1 else 0.0),
                     "neg_elbo": rounded(float(-elbo.mean())), "time_s": rounded(time.perf_counter() - t0, 1)})
    record_in_checkpoints(ctx, "nll", {r["name"]: {k: r[k] for k in ("nll", "nll_sem", "neg_elbo")} for r in rows},
                          test_images=n, k=a.nll_k, binarization="threshold 0.5")
    return {"binarization": "threshold: pixel > 0.5 (of 1) → 1, else 0 (deterministic)",
            "k": a.nll_k, "test_images": n, "models": kinds, "rows": rows, "warnings": warnings}


def render_nll(sec: dict) -> str:
    lines = section_head("Importance-weighted test NLL (MNIST)", sec)
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
    rows = [[r["name"], r["model"], r["latent_dim"], r["beta"], f"{fmt(r['nll'])} ± {fmt(r['nll_sem'])}",
             fmt(r["neg_elbo"]), fmt(r["time_s"], 1)] for r in sec["rows"]]
    lines += [md_table(["checkpoint", "model", "z", "β", "NLL (nats) ± s.e.", "−ELBO (same samples)",
                      "time (s)"], rows), ""]
    return "\n".join(lines)


register("nll", run_nll, render_nll, report_rank=3)
