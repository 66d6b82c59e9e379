"""The report: BENCHMARKS.md rendered from benchmarks.json, and runs merged into it under a lock."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from vae_demo.bench.core import REGISTRY, Ctx
from vae_demo.data import DATASETS
from vae_demo.files import atomic_write


def render(report: dict) -> str:
    m = report.get("machine", {})
    lines = [
        "# Benchmarks",
        "",
        f"Generated {report.get('generated')} by `{report.get('command')}`.",
        "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores ({m.get('torch_threads')} torch threads), "
        f"torch {m.get('torch')}, Python {m.get('python')}, {m.get('platform')}"
        + (f", GPU {m['cuda']}" if m.get("cuda") else "") + ".",
        "",
        "Sections run at different times say so under their heading. Machine-readable: `benchmarks.json`.",
        "",
    ]
    if report.get("quick"):
        lines += ["> **Quick mode**: small subsets for development. These numbers are not results.", ""]
    for sec in sorted(REGISTRY.values(), key=lambda s: s.report_rank):
        if sec.name in report.get("sections", {}):
            lines.append(sec.render(report["sections"][sec.name]))
    return "\n".join(lines).rstrip() + "\n"


def in_dataset_order(by_dataset: dict) -> dict:
    """``by_dataset`` re-keyed in DATASETS order (mnist, fashion-mnist, cifar10; others after)."""
    order = {ds: i for i, ds in enumerate(DATASETS)}
    return dict(sorted(by_dataset.items(), key=lambda kv: order.get(kv[0], len(order))))


def merge_section(name: str, old: dict | None, new: dict) -> dict:
    """A section run for some datasets keeps the other datasets of an earlier run of that section."""
    if not old or not isinstance(old.get("datasets"), dict) or not isinstance(new.get("datasets"), dict):
        return new
    kept = {ds: res for ds, res in old["datasets"].items() if ds not in new["datasets"]}
    if not kept:
        return new
    merged = dict(new)
    merged["datasets"] = in_dataset_order({**kept, **new["datasets"]})  # the report's order: mnist first
    old_meta = old.get("_meta", {})
    earlier = old_meta.get("kept_from_earlier_run", {})  # a dataset kept twice keeps its own run's meta
    merged["_meta"] = {**new["_meta"], "kept_from_earlier_run": in_dataset_order({
        ds: earlier.get(ds, {k: v for k, v in old_meta.items() if k != "kept_from_earlier_run"})
        for ds in kept})}
    after = REGISTRY[name].after_merge if name in REGISTRY else None
    return after(merged) if after else merged


def write_report(ctx: Ctx, report: dict, ran: dict[str, dict], keep: bool) -> dict:
    """Write benchmarks.json and the Markdown report; returns what was written.

    With ``keep`` (an ``--only`` run), this run's sections are merged into the file as it is *now*,
    under a lock, so runs of different datasets or sections can go side by side (one per core)
    without the one that finishes last dropping what the other measured."""
    ctx.out.parent.mkdir(parents=True, exist_ok=True)
    with locked(ctx.json_path.with_name(".benchmarks.lock")):
        on_disk = {"sections": {}}
        if keep and ctx.json_path.is_file():
            with contextlib.suppress(OSError, ValueError):
                on_disk = json.loads(ctx.json_path.read_text())
        sections = dict(on_disk.get("sections") or {})
        for name, sec in ran.items():
            sections[name] = merge_section(name, sections.get(name), sec)
        merged = {**report, "sections": sections}
        atomic_write((ctx.json_path, json.dumps(merged, indent=1, default=str) + "\n"),
                     (ctx.out, render(merged)))
    return merged


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive advisory lock on ``path`` (POSIX; elsewhere, no lock)."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent runs are not supported there
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
