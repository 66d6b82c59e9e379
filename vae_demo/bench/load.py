"""Section ``load``: the load test (simulated users through the app's API)."""

from __future__ import annotations

import os

from vae_demo.bench.core import Ctx, fmt, md_table, register, section_head


def run_load(ctx: Ctx) -> dict:
    from vae_demo.bench import loadtest

    a = ctx.args
    if ctx.quick:
        out = loadtest.run(users=3, duration=5, requests=30, checkpoint_dir=ctx.ckpt_dir, data_dir=ctx.data_dir,
                           solo=3)
    else:
        out = loadtest.run(users=a.load_users, duration=a.load_duration, requests=a.load_requests,
                           checkpoint_dir=ctx.ckpt_dir, data_dir=ctx.data_dir,
                           browser_users=a.load_browser_users, zerogpu_sizes=(16, 32, 64, 128, 200))
    path = loadtest.save_memory_plot(ctx.grid_dir / "load_memory.png", out["memory_phase"]["samples"],
                                     out["memory_phase"]["growth_mb"])
    out["memory_plot"] = os.path.relpath(path, ctx.out.parent)
    return out


def render_load(sec: dict) -> str:
    lines = section_head("Load test (concurrent users)", sec)
    lat, mem = sec["latency"], sec["memory_phase"]
    ok = sec.get("pass_errors") and sec.get("pass_memory")
    lines += [
        f"{sec['users']} simulated users, each its own session (gradio_client on loopback, think time "
        f"{sec['think_s'][0]:g}-{sec['think_s'][1]:g} s), spread over {', '.join(sec['datasets'])}; "
        f"training in the app: {sec['training']} ({sec.get('training_epochs_done')} epochs finished). "
        "The load generator runs on the same 2-core machine as the app"
        + (f" and itself used {fmt(sec['cpu_s']['load_generator'], 0)} CPU-seconds of the latency phase "
           f"(the app {fmt(sec['cpu_s']['server'], 0)}; {sec['cpu_s']['cores']} cores × {sec['cpu_s']['wall']:g} s "
           "available), so the latencies include waiting for the client's own share of the CPU"
           if sec.get("cpu_s") else "") + ".",
        "",
        f"- **{'PASS' if sec.get('pass_errors') else 'FAIL'}** — errors: {sec['errors']} of {sec['requests']} "
        "requests" + (f" ({'; '.join(sec['error_examples'])})" if sec["error_examples"] else "")
        + ("" if sec.get("server_alive") else "; the server died"),
        f"- **{'PASS' if sec.get('pass_memory') else 'FAIL'}** — memory over {mem['requests']} requests after "
        f"the {sec['duration_s']:g} s phase: {fmt(mem['rss_start_mb'], 0)} → {fmt(mem['rss_end_mb'], 0)} MB "
        f"(growth {fmt(mem['growth_mb'], 1)} MB; bar ≤ {mem['bar_mb']:g} MB); peak (VmHWM) {fmt(sec['peak_rss_mb'], 0)} MB",
        "",
    ]
    if sec.get("memory_plot"):
        lines += [f"![server memory during the load test]({sec['memory_plot']})", ""]
    def row(label, r):
        return [label, r["requests"], fmt(r["p50_ms"], 0), fmt(r["p95_ms"], 0), fmt(r["max_ms"], 0)]

    def phase(label, r):  # the phase's row, then one per endpoint
        return [row(label, r)] + [row(f"… {ep}", e) for ep, e in r["by_endpoint"].items()]

    rows = []
    solo = sec.get("solo") or {}
    if solo.get("requests"):
        rows += phase(f"one user alone, training running ({solo['duration_s']:g} s)", solo)
    rows += phase(f"{sec['users']} users, training running (latency phase)", lat)
    rows.append(row(f"{sec['users']} users, training stopped (memory phase)", mem))
    lines += [md_table(["requests", "n", "p50 (ms)", "p95 (ms)", "max (ms)"], rows), "",
              f"Throughput {lat['throughput_rps']} requests/s over {sec['duration_s']:g} s. `restore` is a severity "
              "slider move in Corrupt & restore (every model of the dataset and a classical restorer), `slide` a "
              "latent slider move, `pick_random` a new test image, `choose_corruption` another corruption kind.", ""]
    b = sec.get("browser_users")
    if isinstance(b, dict) and "skipped" in b:
        lines += [f"Browser users: skipped ({b['skipped']}).", ""]
    elif isinstance(b, dict):
        lines += [
            f"**Browser users** — {b['pages_open']} of {b['pages']} headless Chromium pages (one browser, loopback "
            f"only) dragged a latent slider for {b['seconds']:g} s, a move every 50 ms each, decoded in the page: "
            f"{b['moves']} moves, {b['repaints']} repaints, {b['pages_decoding_in_page']} pages decoding in the page.",
            "",
            f"- **{'PASS' if b['pass'] else 'FAIL'}** — errors: {b['errors']}"
            + (f" ({'; '.join(b['error_examples'])})" if b["error_examples"] else ""),
            f"- server CPU while they dragged: {fmt(b['server_cpu_s'], 2)} s over {fmt(b['wall_s'], 1)} s "
            f"({fmt(100 * b['server_cpu_share'], 1)} % of the machine); the same pages open and idle: "
            f"{fmt(b.get('server_cpu_idle_s'), 2)} s over {b['seconds']:g} s"
            + (f"; the server alone, before any page: {fmt(b['server_cpu_alone_s'], 2)} s over {b['seconds']:g} s"
               if b.get("server_cpu_alone_s") is not None else "") + ".",
            ]
        cores = b.get("server_cores")
        if cores:
            traffic = cores["dragging"] - cores["idle"]
            lines.append(f"- per second (cores busy): alone {fmt(cores['alone'], 3)}, pages idle {fmt(cores['idle'], 3)}, "
                         f"pages dragging {fmt(cores['dragging'], 3)}: the slider traffic itself costs the server "
                         f"{fmt(traffic, 3)} of a core ({fmt(100 * traffic, 1)} %).")
        req = b.get("requests")
        if req:
            d, i = req["dragging"], req["idle"]
            lines.append(f"- requests the pages sent the server: {d['all']} while dragging "
                         f"({d['not_version_polls']} of them not the 5-s poll of the versions file), {i['all']} "
                         f"while idle ({i['not_version_polls']} not polls)"
                         + (": no move asked the server anything." if d["not_version_polls"] == 0 else
                            f" (for instance {', '.join(d.get('examples', [])[:3])})."))
        lines += [f"- the pages repainted {b['repaints']} times for {b['moves']} moves: their decoding is Chromium's "
                  "CPU, and here all the pages share the server's 2 cores (each student's browser has its own).", ""]
    z = sec.get("zerogpu_burst")
    if isinstance(z, dict) and "skipped" in z:
        lines += [f"ZeroGPU bursts: skipped ({z['skipped']}).", ""]
    elif isinstance(z, dict):
        q = z.get("queue", {})
        lines += [f"**A class at once, as on a ZeroGPU Space** (the real `spaces` package in ZeroGPU mode, a loopback "
                  f"stand-in for its device API; the app's queue: max_size {q.get('max_size')}, default concurrency "
                  f"{q.get('default_concurrency_limit')}): that many sessions move the restore row's severity slider "
                  f"at the same moment. GPU calls asked for: {z.get('gpu_calls')}.", ""]
        rows = [[f"{r['sessions']} sessions", r["answered"], r["queue_full"], r["errors"], fmt(r["p50_ms"], 0),
                 fmt(r["max_ms"], 0)] for r in z.get("bursts", [])]
        c = z.get("control")
        if c:
            rows.append([f"{c['sessions']} sessions, Gradio's own ZeroGPU queue (control)", c["answered"],
                         c["queue_full"], c["errors"], fmt(c["p50_ms"], 0), fmt(c["max_ms"], 0)])
        lines += [md_table(["burst", "answered", "queue full", "errors", "p50 (ms)", "last answer (ms)"], rows), ""]
    if not ok:
        lines += ["(see `benchmarks.json` for the server log tail)", ""]
    return "\n".join(lines)


register("load", run_load, render_load, report_rank=6)
