"""Section ``codes``: what each model's code costs and buys. For every checkpoint with a latent code,
trained on clean images: its test reconstruction PSNR/SSIM (the whole test split, clean inputs), the
code's size (float dims, or bits for a discrete code: cells × log2 K) and, for a discrete code, the
codebook's perplexity and the share of its codes in use. Generic: a model says what its code is."""

from __future__ import annotations

import math

import torch

from vae_demo.bench.core import (
    JPEG_NOTE,
    Ctx,
    clean_codes,
    fmt,
    load_checkpoints,
    md_table,
    reconstruct,
    record_in_checkpoints,
    register,
    rounded,
    scores,
    section_head,
)
from vae_demo.models.base import code_usage
from vae_demo.services.codes import explained_variance


def run_codes(ctx: Ctx) -> dict:
    out = {"datasets": {}}
    for ds, x in ctx.test_splits(out):
        ckpts, warnings = load_checkpoints(ctx, ds)
        rows = []
        for c in clean_codes(ckpts):
            m = c.model
            p, s = scores(reconstruct(m, x, ctx.device), x)
            row = {"checkpoint": c.name, "model": c.meta["model"], "family": m.family, "psnr": rounded(p),
                   "ssim": rounded(s), "discrete": bool(m.discrete), "float_dims": None, "bits": None}
            if m.discrete:
                with torch.no_grad():
                    idx = torch.cat([m.codes(x[i:i + 1000].to(ctx.device)).cpu() for i in range(0, len(x), 1000)])
                u = code_usage(idx, m.codebook_size)
                h, w = m.code_grid
                row.update(bits=rounded(m.latent_bits()), grid=[h, w], codebook_size=m.codebook_size,
                           perplexity=rounded(u.perplexity), codes_used=rounded(u.used),
                           bits_per_dim=rounded(m.latent_bits() / math.prod(m.image_shape), 5),
                           code_dim=int(m.codebook().shape[1]), codebook_variance=[rounded(v) for v in explained_variance(m.codebook().cpu())[:4]])
            else:
                row["float_dims"] = m.latent_dim
            rows.append(row)
        out["datasets"][ds] = {"test_images": len(x), "rows": rows, "warnings": warnings}
        record_in_checkpoints(ctx, "codes", {r["checkpoint"]: {k: r[k] for k in r if k not in ("checkpoint",)}
                                             for r in rows}, test_images=len(x))
    return out


def render_codes(sec: dict) -> str:
    lines = section_head("Codes: their size, and the reconstructions they buy", sec)
    lines += ["Clean test images in, reconstruction out (a VAE decodes its posterior mean), every checkpoint "
              "with a latent code trained on clean images. A float code's size is its number of dims (each a "
              "32-bit float: no fixed information content); a discrete code's is exact: cells × log2 K bits. "
              "Perplexity: exp of the entropy of the codes' use over all the test images' cells (K if all were "
              "used equally); codes used: the share of the K that appear at all.", ""]
    for ds, res in sec.get("datasets", {}).items():
        if "skipped" in res:
            lines += [f"- {ds}: skipped ({res['skipped']})", ""]
            continue
        rows = []
        for r in res["rows"]:
            if r["discrete"]:
                h, w = r["grid"]
                size = f"{h}×{w} codes of K={r['codebook_size']}: **{fmt(r['bits'], 0)} bits**"
                extra = [fmt(r["perplexity"], 1), f"{r['codes_used']:.0%}"]
            else:
                size = f"{r['float_dims']} float dims"
                extra = ["—", "—"]
            rows.append([f"`{r['checkpoint']}`", r["family"], size, fmt(r["psnr"]), fmt(r["ssim"], 3), *extra])
        lines += [f"### {ds} ({res['test_images']} test images)", ""]
        if ds == "cifar10":
            lines += [JPEG_NOTE, ""]
        lines += [md_table(["checkpoint", "family", "code size", "PSNR", "SSIM", "perplexity", "codes used"], rows), ""]
        books = [r for r in res["rows"] if r.get("codebook_variance")]
        if books:
            lines += ["The codebook's vectors by principal component (the share of their variance along each of the "
                      "first four). The encoder's own outputs lie along the same few directions: nothing in the loss asks "
                      "the codes to spread over all D dims (the app's codebook map says why, with the numbers).", "",
                      md_table(["checkpoint", "code dim D", "PC1", "PC2", "PC3", "PC4"],
                               [[f"`{r['checkpoint']}`", r.get("code_dim", "—"),
                                 *(f"{v:.1%}" for v in r["codebook_variance"])] for r in books]), ""]
    lines += ["**Likelihood.** The VQ-VAE paper reports 4.67 bits/dim on CIFAR-10 (its VAE 4.51). That number "
              "needs a *learned prior* over the codes (the paper fits a PixelCNN) and a discrete 256-level "
              "pixel likelihood; the VQ-VAE here has neither (a uniform prior, a Bernoulli/BCE decoder on "
              "intensities), so no comparable bits/dim exists for it. The code's own size per image dimension "
              "(bits / (C·H·W), recorded as `bits_per_dim` in benchmarks.json) is only the rate a uniform prior "
              "would pay, not a likelihood. The NLL section's numbers are for the MNIST VAE on binarised "
              "images, a different quantity again.", ""]
    return "\n".join(lines)


register("codes", run_codes, render_codes, report_rank=1.5)
