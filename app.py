"""The vae_demo app: ``python app.py`` (a Hugging Face Space runs this file too).

Environment:
- ``VAE_DEMO_DATA``: folder with mnist.npz / fashion_mnist.npz / cifar10.npz (test images, training);
- ``VAE_DEMO_CHECKPOINTS``: checkpoints folder (default ./checkpoints);
- ``VAE_DEMO_DOWNLOAD=1`` / ``=0``: download missing datasets with torchvision in the background, or
  never (default: on a Hugging Face Space, where ``SPACE_ID`` is set, yes; elsewhere no). Until a
  dataset is in, the 64 sample test images shipped with the app serve;
- ``VAE_DEMO_MAX_EPOCHS`` / ``VAE_DEMO_MAX_TRAIN_IMAGES``: caps for the Train tab;
- ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``: where to listen (Gradio reads them).

Nothing is trained at start-up, and no request waits for a download; checkpoints are loaded once and
test images lazily.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()  # start-up is logged: the app must serve within seconds

import logging  # noqa: E402
import os  # noqa: E402


def limit_malloc_arenas(n: int = 2) -> bool:
    """glibc gives threads their own malloc arenas, up to 8 per core. Gradio serves requests from a pool
    of threads, and in the load test (``python -m vae_demo.loadtest``) the server's resident memory crept
    up ~13 kB per request; with two arenas it stayed flat (+0.8 MB over 1,500 requests) and peaked
    a third lower. ``MALLOC_ARENA_MAX`` in the environment, if set, wins. No-op without glibc."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").mallopt(-8, int(n)) == 1  # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        return False


limit_malloc_arenas()  # before any thread exists

# Gradio's queue keeps per-event analytics (10,000 events by default) and rebuilds a pandas summary of
# all of them after every event: memory that grows with every request and CPU that grows with it.
# Keep 1,000 and summarise every 100 events.
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")

try:  # Hugging Face's ZeroGPU: `spaces` must be imported before torch initialises CUDA. Elsewhere its
    import spaces  # noqa: E402, F401  decorator changes nothing (see vae_demo/services/gpu.py).
except ImportError:
    pass

import gradio as gr  # noqa: E402

from vae_demo.data import DATASETS  # noqa: E402
from vae_demo.services import versions, webdecode  # noqa: E402
from vae_demo.services.jobs import JobManager  # noqa: E402
from vae_demo.services.registry import ModelRegistry  # noqa: E402
from vae_demo.services.testdata import TestImages, data_banner, download_allowed  # noqa: E402
from vae_demo.ui import inside, interpolate, latent_map, restore, sliders, train  # noqa: E402
from vae_demo.ui.common import CheckedBlocks, Context, default_dataset, safe  # noqa: E402

TITLE = "Autoencoders & VAEs, hands on"
CSS = """
#restore-row img, #restore-input img, #sliders-image img, #map-decoded img, #map-manifold img,
#interp-pixel img, #interp-linear img, #interp-slerp img, #interp-gif img, #interp-a img, #interp-b img,
#train-recon img, #restore-gallery img { image-rendering: pixelated; }
#offline-banner { background: #fff4ce; border: 1px solid #e0b000; border-radius: 6px; padding: 2px 12px; }
/* the restore row: one line of panels whatever the number of models (they narrow when many are picked) */
#restore-row .vd-row { display: flex; flex-wrap: nowrap; gap: 14px; }
#restore-row .vd-panel { margin: 0; flex: 0 1 auto; min-width: 0; }
#restore-row .vd-panel img { display: block; width: 100%; height: auto; box-sizing: border-box; background: #000;
  border: 4px solid transparent; border-radius: 4px; }
#restore-row .vd-panel.vd-best img { border-color: rgb(40, 160, 70); }
#restore-row figcaption { font-size: 16px; line-height: 1.3; margin-top: 4px; overflow-wrap: anywhere; }
#restore-row .vd-name { display: block; font-weight: 600; overflow-wrap: anywhere; }
#restore-row .vd-metrics, #restore-row .vd-role { display: block; }
/* the model picker stays one line high however many models it holds: its chips scroll sideways */
#restore-models .wrap-inner { flex-wrap: nowrap; overflow-x: auto; scrollbar-width: thin; }
#restore-models .token { flex-shrink: 0; }
#restore-models .secondary-wrap { flex: 1 0 60px; }
.explain { font-size: 0.95em; opacity: 0.9; }
/* one header line: the title and what the app does */
#title .md { display: flex; flex-wrap: wrap; align-items: baseline; column-gap: 16px; }
#title h2 { margin: 0; }
#title p { margin: 0; }
#offline-banner p { margin: 2px 0; }
/* display maths never cut off on a narrow screen: it scrolls sideways instead */
.katex-display { overflow-x: auto; overflow-y: hidden; padding: 2px 0; }
#sliders-web, #sliders-server-decode, #map-web, #map-server-decode, #interp-web, #versions,
#versions-check, #codes-web, #codes-grid-state, #codes-cell, #codes-server-decode { display: none !important; }
/* Gradio's container clips with overflow hidden, which makes it the scroller of anything sticky inside (and it
   never scrolls): clip cuts the same without that, so the sliders' image below can stick to the screen.
   (Top level: Gradio copies only top-level rules unprefixed, and this one is about the container itself.) */
.gradio-container { overflow: clip !important; }
/* a phone (≤ 480 px): the row as a grid of two, the decoded image of the sliders kept in view */
@media (max-width: 480px) {
  #restore-row .vd-row { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
  #restore-row .vd-panel { width: auto !important; }
  #restore-row figcaption { font-size: 14px; }
  #restore-models .wrap-inner { flex-wrap: wrap; }
  .column:has(> #sliders-image) { display: contents; }
  #sliders-image { order: -1; position: sticky; top: 0; z-index: 100; height: 190px !important;
    flex: 1 1 100%; background: var(--block-background-fill); box-shadow: 0 4px 8px rgba(0, 0, 0, 0.15); }
  #sliders-image label[data-testid="block-label"] { display: none; }
  .katex-display > .katex { font-size: 1em; }
  #top-row #models-note { flex: 1 1 100%; }
}
"""
# gr.Plot has no click/select event with coordinates (only .change), so a click on the latent map is
# turned into x/y slider moves in the page: the plot's own axes convert the click to data units.
MAP_CLICK_JS = """
() => {
  document.addEventListener('click', (ev) => {
    const box = document.querySelector('#map-plot');
    if (!box || !box.contains(ev.target)) return;
    const gd = box.querySelector('.js-plotly-plot');
    const drag = gd && gd.querySelector('.nsewdrag');
    if (!drag || !gd._fullLayout) return;
    const r = drag.getBoundingClientRect();
    if (ev.clientX < r.left || ev.clientX > r.right || ev.clientY < r.top || ev.clientY > r.bottom) return;
    const x = gd._fullLayout.xaxis.p2d(ev.clientX - r.left);
    const y = gd._fullLayout.yaxis.p2d(ev.clientY - r.top);
    for (const [id, v] of [['#map-x', x], ['#map-y', y]]) {
      const input = document.querySelector(id + ' input[type=range]');
      if (!input) continue;
      input.value = v.toFixed(2);
      input.dispatchEvent(new Event('input', {bubbles: true}));
      input.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
    }
  }, true);
}
"""
# The in-page decoder (vae_demo/web/decoder.js) and its runtime, from the app's own files: no outside host
PAGE_JS = MAP_CLICK_JS.rstrip().removesuffix("}") + """
  window.vaeDecoderBase = __BASE__;
  const s = document.createElement('script');
  s.src = __SRC__;
  s.onload = () => {
    const D = window.vaeDecoder;
    if (!D) return;
    D.start(window.vaeDecoderBase);
    [__TAB_JS__].forEach((install) => install(D));  // the tabs' sliders that decode in the page
  };
  document.head.appendChild(s);
  const sketch = document.createElement('script');  // the drawing pad opens with its brush picked
  sketch.src = __SKETCH_SRC__;
  document.head.appendChild(sketch);
  // new checkpoints or test images: fetch the versions file (a static GET), ask Gradio only when it changed
  let seen = null;
  setInterval(async () => {
    const el = document.querySelector('#versions-url');
    const button = document.querySelector('#versions-check');
    if (!el || !button) return;
    try {
      const r = await fetch(el.dataset.url, {cache: 'no-store'});
      const v = r.ok ? await r.text() : seen;
      if (v !== seen) { seen = v; button.click(); }
    } catch (err) { /* the server is away for a moment: try again at the next poll */ }
  }, __POLL_MS__);
}
""".replace("__TAB_JS__", ", ".join(t.PAGE_JS.strip() for t in (sliders, latent_map, interpolate))).replace(
    "__POLL_MS__", str(int(versions.PAGE_POLL_S * 1000))).replace("__BASE__", repr(webdecode.runtime_base())).replace(
    "__SRC__", repr(webdecode.file_url(webdecode.WEB_DIR / "decoder.js"))).replace(
    "__SKETCH_SRC__", repr(webdecode.file_url(webdecode.WEB_DIR / "sketch.js")))
# Gradio's default theme asks for Source Sans Pro at weights 400 and 600, and the 600 file it ships is a
# subset of a few glyphs: bold text (the title, headings, captions) was drawn in two fonts, the fallback
# for most letters. The theme here uses the complete regular and bold files shipped with Gradio (served
# by the app itself, no outside host), so the page looks the same offline and online, on any machine.
THEME = gr.themes.Default(
    font=(gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"),
    font_mono=(gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "ui-monospace", "Consolas", "monospace"))
LAUNCH_KWARGS = {"css": CSS, "js": PAGE_JS, "theme": THEME, "max_file_size": "20mb",
                 "footer_links": ["api", "gradio"]}


def build_app(registry: ModelRegistry | None = None, images: TestImages | None = None,
              jobs: JobManager | None = None) -> gr.Blocks:
    """Build the Blocks (not launched). Services default to the environment's folders."""
    registry = registry if registry is not None else ModelRegistry()
    images = images if images is not None else TestImages()
    jobs = jobs if jobs is not None else JobManager(registry, images.data_dir)
    ctx = Context(registry, images, jobs)
    gr.set_static_paths(webdecode.static_paths())  # the browser runtime and the exported decoders
    start_dataset = default_dataset(registry, images)

    # no telemetry unless asked for: the app must work (and start quickly) without network
    analytics = None if os.environ.get("GRADIO_ANALYTICS_ENABLED") else False
    # delete_cache: every 10 min, remove generated/uploaded files older than 30 min (a public Space
    # would otherwise fill its disk with one PNG per slider move). CheckedBlocks: every raw input value
    # is checked before Gradio converts it, so a bad API call gets a one-line message, never a bare error
    with CheckedBlocks(title=TITLE, analytics_enabled=analytics, delete_cache=(600, 1800)) as demo:
        # compact header: on a 1280×720 projector the restore row must be on screen without scrolling
        gr.Markdown(f"## {TITLE}\nCorrupt real images and watch autoencoders restore them, drive the latent "
                    "space, compare interpolations, and train your own model.", elem_id="title")
        banner = data_banner(images)
        banner_md = gr.Markdown(banner, visible=bool(banner), elem_id="offline-banner")
        with gr.Row(equal_height=True, elem_id="top-row"):
            ctx.dataset = gr.Radio(list(DATASETS), value=start_dataset, label="Dataset (all tabs)", show_label=False,
                                   elem_id="dataset", scale=3, container=False)
            models_note = gr.Markdown(_models_note(registry), elem_id="models-note")
            rescan = gr.Button("↻ Rescan checkpoints", size="sm", scale=0, min_width=170, elem_id="rescan")
        ctx.models_version = gr.State(registry.version)
        ctx.data_version = gr.State(images.version)
        ctx.current = gr.State(None)
        with gr.Tabs():
            with gr.Tab("Corrupt & restore", id="restore"):
                restore.build(ctx, start_dataset)
            with gr.Tab("Latent sliders", id="sliders"):
                sliders.build(ctx)
            with gr.Tab("Latent map", id="map"):
                latent_map.build(ctx)
            with gr.Tab("Interpolation", id="interpolate"):
                interpolate.build(ctx)
            with gr.Tab("Inside a VAE", id="inside"):
                inside.build(ctx)
            with gr.Tab("Train", id="train"):
                train.build(ctx)

        @safe(2)
        def on_rescan():
            warnings = registry.refresh()
            for w in warnings:
                gr.Warning(w)
            return registry.version, _models_note(registry)

        rescan.click(on_rescan, None, [ctx.models_version, models_note])
        # every open page learns about checkpoints another page (or session) trained, and about test splits
        # a background download brought in: it polls a static file of the versions (services/versions.py)
        # and clicks the hidden button only when it changed; pickers and galleries re-list only then
        def now():
            return [registry.version, images.version]

        published = versions.VersionsFile(now, webdecode.cache_dir())
        gr.HTML(f'<span id="versions-url" data-url="{webdecode.file_url(published.path)}"></span>', padding=False,
                elem_id="versions")
        versions_check = gr.Button("check versions", elem_id="versions-check")
        versions_check.click(now, None, [ctx.models_version, ctx.data_version], show_progress="hidden",
                             api_visibility="private")
        ctx.models_version.change(lambda: _models_note(registry), None, models_note, show_progress="hidden")

        def on_data_changed():
            text = data_banner(images)
            return gr.update(value=text, visible=bool(text))

        ctx.data_version.change(on_data_changed, None, banner_md, show_progress="hidden")
        for fn, inputs, outputs, *options in ctx.load_events:
            demo.load(fn, inputs, outputs, **{"show_progress": "hidden", **(options[0] if options else {})})
    # every tab bar wraps onto a second line where it is too narrow (a phone) instead of hiding tabs
    # behind Gradio's "•••" menu, the sub-tabs of a view included
    for block in demo.blocks.values():
        if isinstance(block, gr.Tabs):
            block.overflow_behavior = "wrap"
    return demo


def warm_up(registry: ModelRegistry, images: TestImages, dataset: str) -> None:
    """After the server is up: load the first dataset's test images, the classical restorers and each
    model's latent statistics, so the first page load does not pay for them. Failures are ignored
    (the handlers report them when a person asks)."""
    import threading

    def work():
        from vae_demo.services import interactive_threads, latent

        interactive_threads()
        try:
            images.get(dataset)
            try:
                import vae_demo.classical  # noqa: F401  (scipy, OpenCV, bm3d: seconds to import)
            except ImportError:
                pass
            for e in registry.entries(dataset, latent_code=True):
                latent.latent_stats(e, images)
        except Exception as err:
            logging.getLogger("vae_demo.app").warning("warm-up: %s", err)

    threading.Thread(target=work, name="warm-up", daemon=True).start()


def after_launch(registry: ModelRegistry, images: TestImages) -> None:
    """Background work once the page is served: the warm-up, and (on a Space by default, see
    ``VAE_DEMO_DOWNLOAD``) downloading the missing test splits, which replace the samples when in."""
    warm_up(registry, images, default_dataset(registry, images))
    if download_allowed():
        images.start_downloads()


def _models_note(registry: ModelRegistry) -> str:
    counts = {d: len(registry.names(d)) for d in DATASETS}
    text = "Checkpoints: " + ", ".join(f"{d} {n}" for d, n in counts.items())
    if registry.warnings:
        text += f" · {len(registry.warnings)} skipped (see the log)"
    if not any(counts.values()):
        text += f" — none in `{registry.directory}` yet: train one in the Train tab."
    return text


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    t_imports = time.perf_counter() - _T0
    registry, images = ModelRegistry(), TestImages()
    demo = build_app(registry, images)
    t_built = time.perf_counter() - _T0
    from vae_demo.services.gpu import queue_settings

    demo.queue(**queue_settings())  # a bounded queue for a class, on ZeroGPU too (where Gradio's default is 1)
    # server name/port: GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are read by launch() itself
    demo.launch(prevent_thread_lock=True, **LAUNCH_KWARGS)
    logging.getLogger("vae_demo.app").info(
        "ready to serve %.1f s after start (imports %.1f s, building the app %.1f s; %.1f s of CPU time: "
        "on a busy machine the wall time is longer)",
        time.perf_counter() - _T0, t_imports, t_built - t_imports, time.process_time())
    after_launch(registry, images)
    demo.block_thread()


if __name__ == "__main__":
    main()
