"""How fast the app's latent sliders are: ``python -m vae_demo.bench.latency`` → ``bench_app.json``.

(a) the slider decode handler, exactly as the UI wires it, median ms on the CPU, per model;
(b) in a real browser (Debian's Chromium, headless, via Playwright): the median and p95 ms from a slider
    change to the new image being on screen (a MutationObserver sees the new ``src``, then the image
    has loaded and a frame has been painted), once decoded in the page (TensorFlow.js, the app's default)
    and once with ``?decode=server`` (every move decoded by the server, the fallback), same moves;
(c) the pointer moving over the latent map (decoded in the page): frames per second, event → pixels.

Models: the checkpoints in ``$VAE_DEMO_CHECKPOINTS`` (default ./checkpoints). With none there, an
untrained ``conv_vae`` (z=16) is saved to a temporary folder: decode time does not depend on the
weights, and the JSON says so. The browser part is skipped (and said so in the JSON) when Playwright
or Chromium is missing. Also used by ``tests/test_e2e.py`` to launch the app on a free port.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]


def chromium_path() -> str | None:
    for cand in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and Path(cand).exists():
            return cand
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(demo, port: int | None = None) -> str:
    """Launch a built app in this process (background thread), as ``python app.py`` does; returns its URL."""
    from vae_demo.app.page import launch_kwargs
    from vae_demo.app.tabs import TABS
    from vae_demo.services.gpu import queue_settings

    port = port or free_port()
    demo.queue(**queue_settings())  # as the app's main()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_kwargs(TABS))
    return f"http://127.0.0.1:{port}"


def open_browser(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)


# --- (a) the handler ---------------------------------------------------------------------------------

def measure_handler(ctx, names: list[str], repeats: int = 200) -> dict[str, float]:
    """Median ms of the wired slider handler per model (after a warm-up)."""
    from vae_demo.app.tabs.sliders import make_slide_handler
    from vae_demo.services import latent

    handler = make_slide_handler(ctx)
    out = {}
    rng = np.random.default_rng(0)
    for name in names:
        e = ctx.registry.get(name, latent_code=True)
        if e.model.discrete:  # a code grid, not sliders (its editor has its own handler)
            continue
        stats = latent.latent_stats(e, ctx.images)
        base = [0.0] * e.latent_dim
        n = len(stats.shown)
        for _ in range(10):
            handler(e.dataset, name, base, *([0.0] * n))
        times = []
        for _ in range(repeats):
            vals = rng.uniform(-3, 3, n).round(2).tolist()
            t0 = time.perf_counter()
            img = handler(e.dataset, name, base, *vals)
            times.append((time.perf_counter() - t0) * 1000)
            assert isinstance(img, np.ndarray)
        out[name] = round(statistics.median(times), 3)
    return out


# --- (b) the browser ---------------------------------------------------------------------------------

OBSERVE_JS = """
() => {
  const box = document.querySelector('#sliders-image');
  window.__imgChanges = [];
  const obs = new MutationObserver(() => {
    const img = box.querySelector('img');
    if (!img) return;
    const src = img.getAttribute('src');
    if (src && src !== window.__lastSrc) {
      window.__lastSrc = src;
      const seen = performance.now();
      const done = () => requestAnimationFrame(() => window.__imgChanges.push({seen, shown: performance.now()}));
      if (img.complete && img.naturalWidth > 0 && img.currentSrc === src) done();
      else img.addEventListener('load', done, {once: true});
    }
  });
  obs.observe(box, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  const img = box.querySelector('img');
  window.__lastSrc = img ? img.getAttribute('src') : null;
}
"""

MOVE_JS = """
([sel, value]) => {
  const input = document.querySelector(sel + ' input[type=range]');
  const before = window.__imgChanges.length;
  input.value = String(value);
  window.__t0 = performance.now();
  input.dispatchEvent(new Event('input', {bubbles: true}));
  return before;
}
"""


def select_sliders_model(page, name: str | None = None) -> None:
    page.get_by_role("tab", name="Latent sliders").click()
    if name:
        page.locator("#sliders-model input").click()
        page.get_by_role("option", name=name).first.click()
    page.locator("#sliders-image img").wait_for(timeout=30_000)
    page.locator("#sliders-z0 input[type=range]").wait_for(timeout=30_000)


HOVER_JS = """
async (seconds) => {
  const gd = document.querySelector('#map-plot .js-plotly-plot');
  const drag = gd.querySelector('.nsewdrag');
  const r = drag.getBoundingClientRect();
  const latencies = [];  // each hover repaint says how long after its pointer event (decoder.js 'vae-painted')
  const seen = (ev) => { if (ev.detail.by === 'hover') latencies.push(ev.detail.latency_ms); };
  document.addEventListener('vae-painted', seen, true);
  const t0 = performance.now();
  let i = 0;
  await new Promise((done) => {
    const step = () => {
      if (performance.now() - t0 > seconds * 1000) return done();
      const f = (i++ % 120) / 120;  // sweep left to right, and down a little, like a dragging hand
      drag.dispatchEvent(new PointerEvent('pointermove', {bubbles: true, clientX: r.left + r.width * (0.1 + 0.8 * f),
                                                           clientY: r.top + r.height * (0.3 + 0.4 * f)}));
      requestAnimationFrame(step);
    };
    step();
  });
  await new Promise((ok) => setTimeout(ok, 200));
  document.removeEventListener('vae-painted', seen, true);
  return {frames: latencies.length, seconds: (performance.now() - t0) / 1000, events: i, latencies};
}
"""


def _summary(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"median_ms": round(statistics.median(ms), 1), "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
            "min_ms": round(ms[0], 1), "max_ms": round(ms[-1], 1), "repeats": len(ms)}


def measure_hover(url: str, seconds: float = 5.0) -> dict:
    """Pointer moving over the latent map (decoded in the page): frames per second and event → pixels."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = open_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.locator("#restore-row").wait_for(timeout=60_000)
            page.get_by_role("tab", name="Latent map").click()
            page.locator("#map-plot .js-plotly-plot").wait_for(timeout=60_000)
            page.locator("#map-decoded img").wait_for(timeout=60_000)
            page.wait_for_function("() => window.vaeMapWeb && window.vaeDecoder && window.vaeDecoder.state.backend",
                                   timeout=60_000)
            page.evaluate(HOVER_JS, 1.0)  # warm-up
            r = page.evaluate(HOVER_JS, seconds)
            return {"frames_per_s": round(r["frames"] / r["seconds"], 1), "pointer_events": r["events"],
                    "seconds": round(r["seconds"], 2), "model": page.evaluate("() => window.vaeMapWeb.model"),
                    "event_to_pixels": _summary(r["latencies"]) if r["latencies"] else None}
        finally:
            browser.close()


def measure_browser(url: str, repeats: int = 60, model_label: str | None = None, decode: str = "page") -> dict:
    """Slider input event → the new decoded image painted on screen: median and p95 ms. ``decode="server"``
    opens the page with ``?decode=server``: the server decodes every move, as before the page could."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = open_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url + ("/?decode=server" if decode == "server" else "/"))
            page.locator("#restore-row").wait_for(timeout=60_000)
            select_sliders_model(page, model_label)
            page.wait_for_timeout(1000)
            if decode != "server":
                page.wait_for_function("() => window.vaeDecoder && window.vaeDecoder.state.backend", timeout=60_000)
            page.evaluate(OBSERVE_JS)
            latencies = []
            values = np.linspace(-2.5, 2.5, repeats + 3).round(2)
            for k, v in enumerate(values):
                before = page.evaluate(MOVE_JS, ["#sliders-z0", float(v)])
                page.wait_for_function("n => window.__imgChanges.length > n", arg=before, timeout=15_000)
                dt = page.evaluate("() => window.__imgChanges[window.__imgChanges.length - 1].shown - window.__t0")
                if k >= 3:  # warm-up
                    latencies.append(dt)
                page.wait_for_timeout(50)
            where = page.locator("#sliders-where").inner_text()
            return {**_summary(latencies), "decoded": where,
                    "model": page.locator("#sliders-model input").input_value().split(" — ")[0]}
        finally:
            browser.close()


# --- main --------------------------------------------------------------------------------------------

def _ensure_model(directory: Path | None):
    """A registry with at least one model; an untrained conv_vae in a temp dir if none is there."""
    from vae_demo.checkpoints import save_checkpoint
    from vae_demo.models import build_model
    from vae_demo.services.registry import ModelRegistry

    # the project's checkpoints only: models a user trained in the app are not part of the benchmark
    reg = ModelRegistry(directory, user_directory=Path(tempfile.mkdtemp(prefix="vae_demo_bench_user_")))
    if reg.names(latent_code=True):
        return reg, False
    tmp = Path(tempfile.mkdtemp(prefix="vae_demo_bench_"))
    torch.manual_seed(0)
    model = build_model("conv_vae", (1, 28, 28), 16)
    save_checkpoint("untrained_conv_vae_z16", model, {"dataset": "mnist", "corruption": "none"}, tmp)
    return ModelRegistry(tmp, user_directory=tmp), True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vae_demo.bench.latency", description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint-dir", default=None)
    ap.add_argument("--repeats", type=int, default=200, help="handler calls per model")
    ap.add_argument("--browser-repeats", type=int, default=60, help="slider moves timed per decode path")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--out", default=str(REPO / "bench_app.json"))
    args = ap.parse_args(argv)

    from vae_demo.app.build import build_app
    from vae_demo.app.common import Context
    from vae_demo.services.jobs import JobManager
    from vae_demo.services.testdata import TestImages

    threads_before = torch.get_num_threads()
    load_at_start = round(os.getloadavg()[0], 2)  # other processes on the machine skew (b) most
    reg, untrained = _ensure_model(args.checkpoint_dir)
    images = TestImages()
    ctx = Context(reg, images, JobManager(reg))
    handler = measure_handler(ctx, reg.names(latent_code=True), args.repeats)
    result = {
        "what": "latent-slider decode: (a) server handler median ms on CPU per model; (b) in Chromium, slider "
                "input event to the new image painted, decoded in the page (browser) and by the server "
                "(browser_server_decode); (c) pointer over the latent map, decoded in the page (hover)",
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "torch_threads": {"default": threads_before, "ui_handlers": 1},
                    "load_average_1min_at_start": load_at_start,
                    "python": platform.python_version(), "torch": torch.__version__},
        "untrained_weights": untrained,
        "handler_median_ms": handler,
        "handler_median_ms_max": max(handler.values()),
    }
    if args.no_browser:
        result["browser"] = {"skipped": "--no-browser"}
    elif chromium_path() is None:
        result["browser"] = {"skipped": "chromium not found (apt-get install chromium)"}
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            result["browser"] = {"skipped": "playwright not installed"}
        else:
            demo = build_app(reg, images, ctx.jobs)
            url = launch(demo)
            try:
                # the dataset picker starts on a dataset with models; the picker prefers a VAE
                # the same page and moves, decoded in the page and (?decode=server) by the server
                result["browser"] = measure_browser(url, args.browser_repeats)
                result["browser_server_decode"] = measure_browser(url, args.browser_repeats, decode="server")
                result["hover"] = measure_hover(url)
            finally:
                demo.close()
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
