"""Section ``anomaly``: reconstruction error as an out-of-distribution score. For every checkpoint with a
latent code trained on clean images: the ROC AUC of its reconstruction error (the model's own loss term,
a VAE decoding its posterior mean) for telling another dataset's test images of the same size from its own
(Fashion-MNIST for the MNIST models, MNIST for the Fashion-MNIST ones; CIFAR-10 has no partner here)."""

from __future__ import annotations

import torch

from vae_demo.bench.core import (
    Ctx,
    clean_codes,
    fmt,
    load_checkpoints,
    md_table,
    record_in_checkpoints,
    register,
    rounded,
    section_head,
)
from vae_demo.data import DATASETS, DataNotFoundError
from vae_demo.services.inside import reconstruction_errors, roc_auc


def run_anomaly(ctx: Ctx) -> dict:
    out = {"datasets": {}}
    for ds, x in ctx.test_splits(out):
        others = {}
        for other in DATASETS:
            if other == ds:
                continue
            try:
                y = ctx.test_images(other)
            except DataNotFoundError:
                continue
            if y.shape[1:] == x.shape[1:]:
                others[other] = y
        ckpts, warnings = load_checkpoints(ctx, ds)
        rows = []
        for c in clean_codes(ckpts) if others else []:
            m = c.model
            s_in = reconstruction_errors(m.to(ctx.device), x)
            for other, y in others.items():
                s_out = reconstruction_errors(m, y)
                rows.append({"checkpoint": c.name, "family": m.family, "other": other, "auc": rounded(roc_auc(s_in, s_out)),
                             "median_own": rounded(float(torch.tensor(s_in).median())),
                             "median_other": rounded(float(torch.tensor(s_out).median())),
                             "test_images": len(x), "other_images": len(y)})
        out["datasets"][ds] = {"test_images": len(x), "rows": rows, "warnings": warnings,
                               "others": list(others)}
        numbers: dict[str, dict] = {}
        for r in rows:
            numbers.setdefault(r["checkpoint"], {})[r["other"]] = {k: r[k] for k in ("auc", "test_images", "other_images")}
        record_in_checkpoints(ctx, "anomaly", numbers)
    return out


def render_anomaly(sec: dict) -> str:
    lines = section_head("Anomaly scores: another dataset's images, by reconstruction error", sec)
    lines += ["ROC AUC of each model's reconstruction error (its own loss term, on its deterministic "
              "reconstruction) as a detector of the other dataset's test images among its own: 1 = every "
              "foreign image scores higher, 0.5 = chance. What the app's \"Not like the training data?\" view "
              "quotes.", ""]
    for ds, res in sec.get("datasets", {}).items():
        if "skipped" in res:
            lines += [f"- {ds}: skipped ({res['skipped']})", ""]
            continue
        if not res["rows"]:
            lines += [f"- {ds}: no dataset of the same image size to compare with", ""]
            continue
        rows = [[f"`{r['checkpoint']}`", r["family"], r["other"], fmt(r["auc"], 3), fmt(r["median_own"], 1),
                 fmt(r["median_other"], 1)] for r in res["rows"]]
        lines += [f"### {ds} ({res['test_images']} test images)", "",
                  md_table(["checkpoint", "family", "foreign images", "ROC AUC", "median error (own)",
                            "median error (foreign)"], rows), ""]
        if any(r["auc"] is not None and r["auc"] < 0.5 for r in res["rows"]):
            lines += ["An AUC below 0.5: the foreign images are *easier* to reconstruct than the model's own (simpler "
                      "images, mostly background), so they look more normal than normal. The known failure of "
                      "reconstruction and likelihood scores as out-of-distribution detectors (Nalisnick et al., "
                      "\"Do Deep Generative Models Know What They Don't Know?\", 2019).", ""]
    return "\n".join(lines)


register("anomaly", run_anomaly, render_anomaly, report_rank=1.7)
