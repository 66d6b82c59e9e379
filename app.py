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

import os  # noqa: E402


def limit_malloc_arenas(n: int = 2) -> bool:
    """glibc gives threads their own malloc arenas, up to 8 per core. Gradio serves requests from a pool
    of threads, and in the load test (``python -m vae_demo.bench.loadtest``) the server's resident memory crept
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

from vae_demo.app.build import build_app  # noqa: E402, F401  (what tests and benchmarks build)
from vae_demo.app.launch import after_launch, main  # noqa: E402, F401
from vae_demo.app.page import launch_kwargs  # noqa: E402
from vae_demo.app.tabs import TABS  # noqa: E402

LAUNCH_KWARGS = launch_kwargs(TABS)  # the CSS, the page's start script and the theme, for demo.launch

if __name__ == "__main__":
    main(_T0)
