"""Section ``sweep``: reconstruction error against latent size, PCA against a conv AE trained for it."""

from __future__ import annotations

import time

from vae_demo.bench.core import (
    FULL,
    QUICK,
    Ctx,
    fmt,
    md_table,
    reconstruct,
    register,
    rounded,
    section_head,
    torch_threads,
)
from vae_demo.data import DataNotFoundError
from vae_demo.metrics import psnr_from_mse
from vae_demo.training import TrainConfig, train


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
            with torch_threads(1 if kind == "pca" else None):
                res = train(cfg, train_set, None)  # not saved anywhere: the sweep's models are throwaway
            rec = reconstruct(res.model, x, ctx.device)
            mse = float((rec.double() - x.double()).pow(2).mean())
            row[kind] = {"mse": rounded(mse, 6), "psnr": rounded(psnr_from_mse(mse)),
                         "sse_per_image": rounded(mse * x[0].numel(), 3), "time_s": rounded(time.perf_counter() - t0, 1)}
        rows.append(row)
    return {"epochs": epochs, "train_images": min(limit or len(train_set), len(train_set)),
            "test_images": len(x), "rows": rows}


def render_sweep(sec: dict) -> str:
    lines = section_head("Reconstruction error vs latent size (MNIST): PCA vs conv AE", sec)
    if "skipped" in sec:
        return "\n".join(lines + [f"Skipped: {sec['skipped']}", ""])
    lines += [f"conv_ae trained for {sec['epochs']} epoch(s) on {sec['train_images']} training images "
              f"(seed 0, batch 128, lr 1e-3, BCE), PCA fit on the same images; scored on "
              f"{sec['test_images']} test images. These models are trained for this table only and "
              "not saved.", ""]
    rows = [[r["latent_dim"], fmt(r["pca"]["mse"], 5), fmt(r["pca"]["psnr"]), fmt(r["conv_ae"]["mse"], 5),
             fmt(r["conv_ae"]["psnr"]), fmt(r["conv_ae"]["psnr"] - r["pca"]["psnr"])] for r in sec["rows"]]
    lines += [md_table(["latent d", "PCA MSE", "PCA PSNR", "conv AE MSE", "conv AE PSNR", "AE − PCA (dB)"],
                     rows), ""]
    return "\n".join(lines)


register("sweep", run_sweep, render_sweep, report_rank=2)
