"""Section ``rate``: the β family on the rate–distortion plane (services/rate.py), on the whole test split."""

from __future__ import annotations

from vae_demo.bench.core import Ctx, fmt, md_table, register, rounded, section_head
from vae_demo.checkpoints import checkpoint_dir
from vae_demo.services import rate
from vae_demo.services.registry import ModelRegistry


def run_rate(ctx: Ctx) -> dict:
    out = {"datasets": {}}
    directory = checkpoint_dir(ctx.ckpt_dir)  # --checkpoint-dir, else the default
    registry = ModelRegistry(directory, user_directory=directory / "__none__")
    for ds, x in ctx.test_splits(out):
        family = rate.beta_family(registry.entries(ds, latent_code=True))
        rows = []
        for e in family:
            e.model.to(ctx.device)
            r, d, per_dim = rate.measure(e.model, x.to(ctx.device))
            rows.append({"name": e.name, "beta": e.beta, "rate": rounded(r), "distortion": rounded(d),
                         "neg_elbo": rounded(r + d), "active": rate.active_units(per_dim),
                         "latent_dim": e.latent_dim, "kl_per_dim": [rounded(v) for v in per_dim],
                         "command": e.meta.get("command")})
        out["datasets"][ds] = {"test_images": len(x), "rows": rows}
    return out


def render_rate(sec: dict) -> str:
    lines = section_head("β and the rate–distortion plane", sec)
    lines += ["Each VAE of one architecture at several β (found from the checkpoints: the same kind, latent size and "
              "settings but β) on the whole test split: the rate R = mean KL(q(z|x) ‖ p(z)) and the distortion D = mean "
              "reconstruction term, both `model.loss`'s own terms (one z per image, torch seed "
              f"{rate.LOSS_SEED}), in nats; −ELBO = D + R; active units: dims whose mean KL is above "
              f"{rate.ACTIVE_KL} nats. The app's view (Inside a VAE → β and the rate–distortion plane) measures the "
              "same way on the first 1,000 test images.", ""]
    for ds, res in sec.get("datasets", {}).items():
        if "skipped" in res:
            lines += [f"- {ds}: skipped ({res['skipped']})", ""]
            continue
        if not res["rows"]:
            lines += [f"- {ds}: no family of VAEs at several β", ""]
            continue
        rows = [[fmt(r["beta"]), r["name"], fmt(r["rate"]), fmt(r["distortion"]), fmt(r["neg_elbo"]),
                 f"{r['active']} of {r['latent_dim']}"] for r in res["rows"]]
        lines += [f"### {ds} ({res['test_images']} test images)", "",
                  md_table(["β", "checkpoint", "rate R (nats)", "distortion D (nats)", "−ELBO = D + R",
                            "active units"], rows), "", "Each made by:", ""]
        lines += [f"- `{r['command']}`" for r in res["rows"]] + [""]
    return "\n".join(lines)


register("rate", run_rate, render_rate, report_rank=1.2)
