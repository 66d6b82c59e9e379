"""Section ``speed``: the training speed bar (the training CLI in a subprocess)."""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vae_demo.bench.core import (
    REPO_ROOT,
    SPEED_BAR_LOSS,
    SPEED_BAR_WALL_S,
    SPEED_COMMAND,
    Ctx,
    fmt,
    machine_info,
    md_table,
    register,
    rounded,
    section_head,
)

# --- section: speed ------------------------------------------------------------------------------

def run_speed(ctx: Ctx) -> dict:
    runs = []
    env = dict(os.environ)
    env["VAE_DEMO_DATA"] = str(ctx.data_dir)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    load_before = machine_info().get("load_avg_1m")
    for _ in range(max(1, ctx.args.speed_runs)):
        with tempfile.TemporaryDirectory(prefix="vae_speedbar_") as tmp:
            cmd = shlex.split(SPEED_COMMAND.format(dir=shlex.quote(tmp)))
            cmd[0] = sys.executable
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            run = {"wall_s": round(wall, 2), "returncode": proc.returncode}
            meta_path = Path(tmp) / "speedbar.json"
            if proc.returncode == 0 and meta_path.is_file():
                meta = json.loads(meta_path.read_text())
                run["test_loss"] = rounded(meta["metrics"]["test_loss"])
                run["train_time_s"] = meta.get("wall_time_s")
                run["device"] = meta.get("device")
                run["train_images"] = meta.get("data", {}).get("train_images")
            else:
                run["error"] = (proc.stderr or proc.stdout)[-2000:]
            runs.append(run)
    good = [r for r in runs if "test_loss" in r]
    out = {"command": SPEED_COMMAND.format(dir="<tmp dir>"), "runs": runs,
           "bar": {"test_loss_max": SPEED_BAR_LOSS, "wall_s_max": SPEED_BAR_WALL_S},
           "load_avg_1m_before": load_before}
    if good:
        out["median_wall_s"] = round(statistics.median(r["wall_s"] for r in good), 2)
        out["median_test_loss"] = rounded(statistics.median(r["test_loss"] for r in good))
        out["pass_loss"] = out["median_test_loss"] <= SPEED_BAR_LOSS
        out["pass_wall"] = out["median_wall_s"] <= SPEED_BAR_WALL_S
        out["status"] = "PASS" if out["pass_loss"] and out["pass_wall"] else "FAIL"
    else:
        out["status"] = "FAIL"
    return out


def render_speed(sec: dict) -> str:
    lines = section_head("Training speed bar", sec)
    lines += [f"`{sec['command']}` (with `VAE_DEMO_DATA` set), wall time from process start to exit, "
              f"start-up included; the test loss is `metrics.test_loss` of the checkpoint it writes. "
              f"Bar: test loss ≤ {SPEED_BAR_LOSS} per image in ≤ {SPEED_BAR_WALL_S:g} s. "
              f"Load average (1 min) before the runs: {sec.get('load_avg_1m_before')}.", ""]
    rows = [[i + 1, fmt(r["wall_s"]), fmt(r.get("test_loss")), r.get("train_images", "—"), r.get("device", "—"),
             "ok" if r["returncode"] == 0 else f"exit {r['returncode']}"] for i, r in enumerate(sec["runs"])]
    lines += [md_table(["run", "wall (s)", "test loss", "train images", "device", "status"], rows), ""]
    if "median_wall_s" in sec:
        lines += [f"- **{sec['status']}** — median of {len(sec['runs'])} run(s): test loss "
                  f"{fmt(sec['median_test_loss'])} ({'≤' if sec['pass_loss'] else '>'} {SPEED_BAR_LOSS}), "
                  f"wall {fmt(sec['median_wall_s'])} s ({'≤' if sec['pass_wall'] else '>'} {SPEED_BAR_WALL_S:g} s)", ""]
    else:
        lines += ["- **FAIL** — no run finished; see benchmarks.json for the error", ""]
    return "\n".join(lines)


register("speed", run_speed, render_speed, report_rank=4)
