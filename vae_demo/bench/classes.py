"""Section ``classes``: does a conditional model change the class and keep the style? For each checkpoint told the
class (``num_classes`` > 0), on the whole test split: each test image's code decoded with every class ("the same z,
every class"), judged by a small CNN trained here on the training split (independent of the model): the share of
cells read as the class asked for, and the judge's own test accuracy."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vae_demo.bench.core import Ctx, fmt, load_checkpoints, md_table, register, rounded, section_head

JUDGE_SEED, JUDGE_EPOCHS, JUDGE_IMAGES = 0, 3, 60000


def train_judge(x: torch.Tensor, y: torch.Tensor, classes: int = 10, epochs: int = JUDGE_EPOCHS,
                seed: int = JUDGE_SEED) -> nn.Module:
    """A small CNN classifier (two stride-2 convs, one linear layer) trained on images ``x`` with labels ``y``."""
    torch.manual_seed(seed)
    c, h, w = x.shape[1:]
    net = nn.Sequential(nn.Conv2d(c, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(32 * ((h + 3) // 4) * ((w + 3) // 4), classes))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def agreement(model, judge: nn.Module, x: torch.Tensor, batch: int = 500) -> float:
    """The share of the cells of "the same z, every class" (each image's code with each class) the judge reads as
    the class asked for."""
    k, hits = model.num_classes, 0
    for i in range(0, len(x), batch):
        code = model.embed(x[i:i + batch].to(model.device))
        z = code.repeat_interleave(k, 0)
        asked = torch.arange(k, device=z.device).repeat(len(code))
        hits += int((judge(model.decode(model.with_class(z, asked)).float().cpu()).argmax(1) == asked.cpu()).sum())
    return hits / (len(x) * k)


def run_classes(ctx: Ctx) -> dict:
    out = {"datasets": {}}
    for ds, x in ctx.test_splits(out):
        ckpts = [c for c in load_checkpoints(ctx, ds)[0] if c.model.num_classes]
        if not ckpts:
            out["datasets"][ds] = {"test_images": len(x), "rows": []}
            continue
        train = ctx.load(ds, "train")
        n = min(len(train), JUDGE_IMAGES)
        judge = train_judge(train.floats(slice(0, n)), train.labels[:n])
        y = ctx.load(ds, "test").labels[:len(x)]
        with torch.no_grad():
            acc = float((torch.cat([judge(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)]) == y)
                        .float().mean())
        rows = []
        for c in ckpts:
            with torch.no_grad():
                reads = torch.cat([c.model.classify(x[i:i + 1000].to(ctx.device)).cpu()
                                   for i in range(0, len(x), 1000)])
            rows.append({"name": c.name, "agreement": rounded(agreement(c.model, judge, x)),
                         "head_accuracy": rounded(float((reads == y).float().mean())),
                         "command": c.meta.get("command")})
        out["datasets"][ds] = {"test_images": len(x), "judge_images": n, "judge_accuracy": rounded(acc), "rows": rows}
    return out


def render_classes(sec: dict) -> str:
    lines = section_head("Conditional models: the same z, every class", sec)
    lines += ["Every test image's code (its style z, encoded with the class the model reads) decoded with each of the "
              "10 classes; a small CNN trained here on the training split (seed "
              f"{JUDGE_SEED}, {JUDGE_EPOCHS} epochs) judges each cell. *Agreement*: the share of cells it reads as the "
              "class asked for. *Class head*: how often the model's own q(y|x) reads the test images' true class. The "
              "cVAE's loss terms are in the losses section.", ""]
    for ds, res in sec.get("datasets", {}).items():
        if "skipped" in res:
            lines += [f"- {ds}: skipped ({res['skipped']})", ""]
            continue
        if not res["rows"]:
            continue
        rows = [[f"`{r['name']}`", f"{r['agreement']:.1%}", f"{r['head_accuracy']:.1%}"] for r in res["rows"]]
        lines += [f"### {ds} ({res['test_images']} test images × 10 classes)", "",
                  f"The judge reads {fmt(100 * res['judge_accuracy'], 1)}% of the real test images right.", "",
                  md_table(["checkpoint", "agreement", "class head accuracy"], rows), ""]
        lines += [f"- `{r['name']}`: `{r['command']}`" for r in res["rows"]] + [""]
    return "\n".join(lines)


register("classes", run_classes, render_classes, report_rank=1.3)
