"""``python app.py``: build, queue and launch the app, then warm it up in the background."""

from __future__ import annotations

import logging
import threading
import time

from vae_demo.app.build import build_app
from vae_demo.app.common import default_dataset
from vae_demo.app.page import launch_kwargs
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.testdata import TestImages, download_allowed

log = logging.getLogger("vae_demo.app")


def warm_up(registry: ModelRegistry, images: TestImages, dataset: str) -> None:
    """After the server is up: load the first dataset's test images, the classical restorers and each
    model's latent statistics, so the first page load does not pay for them. Failures are ignored
    (the handlers report them when a person asks)."""

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
            log.warning("warm-up: %s", err)

    threading.Thread(target=work, name="warm-up", daemon=True).start()


def after_launch(registry: ModelRegistry, images: TestImages) -> None:
    """Background work once the page is served: the warm-up, and (on a Space by default, see
    ``VAE_DEMO_DOWNLOAD``) downloading the missing test splits, which replace the samples when in."""
    warm_up(registry, images, default_dataset(registry, images))
    if download_allowed():
        images.start_downloads()


def main(t0: float | None = None) -> None:
    """Serve the app; ``t0``: when the process started (start-up is logged: the app must serve within seconds)."""
    t0 = time.perf_counter() if t0 is None else t0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    t_imports = time.perf_counter() - t0
    registry, images = ModelRegistry(), TestImages()
    demo = build_app(registry, images)
    t_built = time.perf_counter() - t0
    from vae_demo.app.tabs import TABS
    from vae_demo.services.gpu import queue_settings

    demo.queue(**queue_settings())  # a bounded queue for a class, on ZeroGPU too (where Gradio's default is 1)
    # server name/port: GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are read by launch() itself
    demo.launch(prevent_thread_lock=True, **launch_kwargs(TABS))
    log.info("ready to serve %.1f s after start (imports %.1f s, building the app %.1f s; %.1f s of CPU time: "
             "on a busy machine the wall time is longer)",
             time.perf_counter() - t0, t_imports, t_built - t_imports, time.process_time())
    after_launch(registry, images)
    demo.block_thread()
