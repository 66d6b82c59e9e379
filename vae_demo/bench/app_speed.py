"""Section ``app``: speed figures the app measured, read from bench_app.json (or the generic schema)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from vae_demo.bench.core import APP_JSON, Ctx, md_table, register, section_head

# --- section: app (hooks) ------------------------------------------------------------------------

def _figures_from_bench_app(data: dict) -> dict:
    """``python -m vae_demo.bench.latency``'s JSON (slider handler and browser timings) as figures."""
    handler = data.get("handler_median_ms") or {}
    figures = [{
        "key": "slider_handler", "name": "latent-slider decode handler, slowest model (CPU)", "unit": "ms",
        "median": data.get("handler_median_ms_max"),
        "notes": ", ".join(f"{k}: {v:g} ms" for k, v in handler.items())
        + ("; untrained weights (decode time does not depend on them)" if data.get("untrained_weights") else ""),
    }]
    browser = data.get("browser") or {}
    server = data.get("browser_server_decode")
    in_page = server is not None  # since the page decodes itself, "browser" is that path
    figures.append({
        "key": "slider_browser", "name": "slider change → new image on screen (headless Chromium"
        + (", decoded in the page)" if in_page else ")"),
        "unit": "ms", "median": browser.get("median_ms"), "runs": browser.get("repeats"),
        "notes": f"skipped: {browser['skipped']}" if "skipped" in browser else _spread(browser),
    } | ({"bar": 30, "bar_op": "<="} if in_page and browser.get("median_ms") is not None else {}))
    if in_page:
        figures.append({"key": "slider_browser_server", "name": "the same moves, decoded by the server "
                        "(?decode=server: the fallback)", "unit": "ms", "median": server.get("median_ms"),
                        "runs": server.get("repeats"), "notes": _spread(server)})
    hover = data.get("hover")
    if isinstance(hover, dict) and hover.get("frames_per_s") is not None:
        lat = hover.get("event_to_pixels") or {}
        figures.append({"key": "hover_fps", "name": f"pointer over the latent map, decoded in the page "
                        f"({hover.get('model')})", "unit": "frames/s", "median": hover["frames_per_s"],
                        "bar": 30, "bar_op": ">=",
                        "notes": f"{hover.get('pointer_events')} pointer events in {hover.get('seconds')} s; "
                        f"event → pixels median {lat.get('median_ms')} ms, p95 {lat.get('p95_ms')} ms"})
    machine = data.get("machine")
    if isinstance(machine, dict):
        machine = ", ".join(f"{k} {v}" for k, v in machine.items())
    return {"machine": machine, "what": data.get("what"), "figures": figures}


def _spread(b: dict) -> str:
    if not b:
        return ""
    p95 = f"p95 {b['p95_ms']} ms, " if "p95_ms" in b else ""
    return f"{p95}min {b.get('min_ms')} ms, max {b.get('max_ms')} ms"


def load_app_figures(path: Path) -> dict:
    """Read and check the app's speed figures: the schema in the module doc, or the JSON that
    ``python -m vae_demo.bench.latency`` writes (converted to that schema)."""
    data = json.loads(Path(path).read_text())
    if isinstance(data, dict) and "figures" not in data and "handler_median_ms" in data:
        data = _figures_from_bench_app(data)
    if not isinstance(data, dict) or not isinstance(data.get("figures"), list):
        raise ValueError(f"{path}: expected an object with a 'figures' list")
    figures = []
    for f in data["figures"]:
        if not isinstance(f, dict) or not all(k in f for k in ("name", "unit", "median")):
            raise ValueError(f"{path}: each figure needs 'name', 'unit' and 'median', got {f!r}")
        if f["median"] is not None and not isinstance(f["median"], (int, float)):
            raise ValueError(f"{path}: figure {f['name']!r} has a non-numeric median {f['median']!r}")
        fig = dict(f)
        bar, op = f.get("bar"), f.get("bar_op", "<=")
        if bar is not None and f["median"] is not None:
            fig["status"] = "PASS" if (f["median"] <= bar if op == "<=" else f["median"] >= bar) else "FAIL"
        figures.append(fig)
    return {**{k: v for k, v in data.items() if k != "figures"}, "figures": figures}


def run_app(ctx: Ctx) -> dict:
    path = Path(ctx.args.app_json) if ctx.args.app_json else ctx.out.parent / APP_JSON
    shown = os.path.relpath(path, ctx.out.parent)  # no machine paths in the report
    if not path.is_file():
        return {"source": None, "expected": shown, "figures": []}
    try:
        return {"source": shown, **load_app_figures(path)}
    except (ValueError, json.JSONDecodeError) as err:
        return {"source": shown, "error": str(err), "figures": []}


def render_app(sec: dict) -> str:
    lines = section_head("App speed", sec)
    if not sec.get("source"):
        return "\n".join(lines + [f"Not supplied yet: the app's two speed figures are read from "
                                  f"`{APP_JSON}` beside this file (written by `python -m vae_demo.bench.latency`; "
                                  "other figures: the schema in `vae_demo/bench.py`).", ""])
    if sec.get("error"):
        return "\n".join(lines + [f"Could not read `{sec['source']}`: {sec['error']}", ""])
    extra = ", ".join(f"{k}: {sec[k]}" for k in ("what", "machine", "date", "command") if sec.get(k))
    rows = [[f["name"], "—" if f["median"] is None else f"{f['median']:g} {f['unit']}", f.get("runs") or "—",
             f"{f.get('bar_op', '<=')} {f['bar']:g} {f['unit']}" if f.get("bar") is not None else "—",
             f.get("status", "—"), f.get("notes", "")] for f in sec["figures"]]
    lines += ([extra, ""] if extra else []) + [
        md_table(["figure", "median", "runs", "bar", "status", "notes"], rows), ""]
    return "\n".join(lines)


register("app", run_app, render_app, report_rank=5)
