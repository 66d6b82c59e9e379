"""Compare two benchmark runs (their benchmarks.json) row by row: ``python scripts/compare_bench.py A B``.

Made for a change of library pins: run the same bench command under each set of pins (same code, same
test images, same corruption seeds) and see how far every restore row (PSNR/SSIM) and every VAE loss
term moved. Prints Markdown: the largest differences per dataset and section, and any row that is
in one run only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def restore_rows(doc: dict) -> dict[tuple, dict]:
    out = {}
    for ds, res in doc["sections"].get("restore", {}).get("datasets", {}).items():
        for spec, c in res.get("corruptions", {}).items():
            for row in c["rows"]:
                out[(ds, spec, row["method"])] = row
    return out


def loss_rows(doc: dict) -> dict[tuple, dict]:
    out = {}
    for ds, res in doc["sections"].get("losses", {}).get("datasets", {}).items():
        for row in res.get("rows", []):
            out[(ds, row["name"])] = row
    return out


def main(a_path: str, b_path: str) -> str:
    a, b = (json.loads(Path(p).read_text()) for p in (a_path, b_path))
    lines = [f"A: `{a['command']}` ({a['machine'].get('torch', '?')})",
             f"B: `{b['command']}` ({b['machine'].get('torch', '?')})", ""]
    ra, rb = restore_rows(a), restore_rows(b)
    lines += ["| restore rows | rows compared | max abs ΔPSNR (dB) | max abs ΔSSIM | largest ΔPSNR at |",
              "| --- | --- | --- | --- | --- |"]
    for ds in sorted({k[0] for k in ra} | {k[0] for k in rb}):
        keys = [k for k in ra if k[0] == ds and k in rb]
        for kind in ("input", "classical", "closed form", "pca", "learned"):  # "pca": results before 2026-12-02
            ks = [k for k in keys if ra[k]["type"] == kind]
            if not ks:
                continue
            dp = [(abs(ra[k]["psnr"] - rb[k]["psnr"]), k) for k in ks]
            ds_ = max(abs(ra[k]["ssim"] - rb[k]["ssim"]) for k in ks)
            worst = max(dp)
            lines.append(f"| {ds} {kind} | {len(ks)} | {worst[0]:.4f} | {ds_:.4f} | {worst[1][1]} {worst[1][2]} |")
    only = sorted(set(ra) ^ set(rb))
    la, lb = loss_rows(a), loss_rows(b)
    if la and lb:
        lines += ["", "| VAE loss terms | models | max abs Δrecon | max abs Δkl | max abs ΔPSNR (dB) |",
                  "| --- | --- | --- | --- | --- |"]
        for ds in sorted({k[0] for k in la}):
            ks = [k for k in la if k[0] == ds and k in lb]
            if ks:
                lines.append(f"| {ds} | {len(ks)} | " + " | ".join(
                    f"{max(abs(la[k][t] - lb[k][t]) for k in ks):.4f}" for t in ("recon", "kl", "psnr")) + " |")
        only += sorted(set(la) ^ set(lb))
    lines += ["", f"Rows in one run only: {len(only)}" + (f" ({only[:5]} …)" if only else "")]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python scripts/compare_bench.py A/benchmarks.json B/benchmarks.json")
    print(main(sys.argv[1], sys.argv[2]))
