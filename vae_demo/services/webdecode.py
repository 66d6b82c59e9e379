"""Decoding in the page: the files the browser runtime needs, and each model's exported decoder.

The app serves two folders as static files (``gr.set_static_paths``): the vendored TensorFlow.js runtime
with ``decoder.js`` (``vae_demo/web/``), and a cache of exported decoder graphs, one per checkpoint and
weights hash, written the first time a page asks for that model (so a model trained in the app gets one
too). A model whose decoder cannot be exported gets None: its tab decodes on the server, as before.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

from vae_demo import export
from vae_demo.export import ExportError, export_decoder
from vae_demo.files import atomic_write
from vae_demo.services import codes, latent
from vae_demo.services.registry import ModelEntry

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
RUNTIME_DIR = WEB_DIR / "vendor" / "tfjs"


def cache_dir() -> Path:
    d = Path(os.environ.get("VAE_DEMO_WEB_CACHE") or Path(tempfile.gettempdir()) / "vae_demo_web")
    d.mkdir(parents=True, exist_ok=True)
    return d.resolve()


def static_paths() -> list[Path]:
    """What ``gr.set_static_paths`` must serve for decoding in the page."""
    return [WEB_DIR, cache_dir()]


def file_url(path: Path) -> str:
    """The URL, relative to the app's root, at which Gradio serves a static file."""
    return "/gradio_api/file=" + Path(path).resolve().as_posix()


def runtime_base() -> str:
    return file_url(RUNTIME_DIR) + "/"


@functools.lru_cache(maxsize=1)
def _exporter_hash() -> str:
    """A hash of the exporter's own code: a graph cached by an older exporter is not served."""
    return hashlib.sha256(Path(export.__file__).read_bytes()).hexdigest()[:8]


def graph_file(entry: ModelEntry) -> Path | None:
    """The exported decoder of ``entry`` as a JSON file in the cache (written once per weights and exporter),
    or None."""
    sha = str(entry.meta.get("weights_sha256") or "")[:16] or "unhashed"
    path = cache_dir() / f"{entry.name}-{sha}-{_exporter_hash()}.decoder.json"
    if path.exists():
        return path
    try:  # export_decoder refuses what has no continuous code (a U-Net, a VQ-VAE) as it refuses unknown ops
        graph = export_decoder(entry.model, entry.name)
    except ExportError:
        return None
    atomic_write((path, json.dumps(graph, separators=(",", ":"))))
    return path


@functools.lru_cache(maxsize=256)
def _takes_codes(path: str) -> bool:
    """Whether a graph file has an index-grid way in (read once per file: the name holds the weights' hash)."""
    return "codes" in json.loads(Path(path).read_text())


def page_decoder(entry: ModelEntry, stats: latent.LatentStats, values) -> dict | None:
    """What the page needs to decode slider values itself: the graph's URL, the standard units (z = mean +
    value·std per dim), which dim each shown slider moves, the current values of all dims, and whether the code
    ends with a class (the page then asks the server for the class grids after a move)."""
    path = graph_file(entry)
    if path is None:
        return None
    return {"url": file_url(path), "mean": [float(v) for v in stats.mean], "std": [float(v) for v in stats.std],
            "shown": [int(i) for i in stats.shown], "base": [float(v) for v in values], "model": entry.name,
            "classes": entry.is_conditional}


def page_map(entry: ModelEntry, m) -> dict | None:
    """What the page needs to decode the latent map under the pointer: z = center + x·axes[0] + y·axes[1]
    (a PCA view) or z = (x, y) (a 2-D model's own map). None for t-SNE (no inverse: the server finds the
    nearest test code) and for a model with no exported decoder."""
    if m.method not in ("native", "pca"):
        return None
    path = graph_file(entry)
    if path is None:
        return None
    d = entry.latent_dim
    center = [0.0] * d if m.method == "native" else [float(v) for v in m.center]
    axes = [[1.0, 0.0], [0.0, 1.0]] if m.method == "native" else [[float(v) for v in a] for a in m.axes[:2]]
    return {"url": file_url(path), "center": center, "axes": axes, "model": entry.name}


def page_path(entry: ModelEntry, xa, xb) -> dict | None:
    """What the page needs to draw the interpolation tab's strips itself for any number of steps: both
    images' codes (the server encodes; the page interpolates, linearly and spherically, and decodes), the
    images themselves (the pixel blend) and the strips' layout (latent.path_strip's). None without an
    exported decoder."""
    path = graph_file(entry)
    if path is None:
        return None
    with torch.no_grad():
        za, zb = (entry.model.embed(x.to(torch.float32)).reshape(-1) for x in (xa, xb))

    def flat(t):
        return [float(v) for v in t.reshape(-1)]

    return {"url": file_url(path), "za": flat(za), "zb": flat(zb), "xa": flat(xa), "xb": flat(xb),
            "shape": [int(s) for s in xa.shape[-3:]], "columns": latent.STRIP_COLUMNS,
            "height": latent.STRIP_HEIGHT, "model": entry.name}


def page_codes(entry: ModelEntry, use) -> dict | None:
    """What the page needs to run the code-grid editor of a discrete code itself: the graph's URL (one with
    an index-grid way in), the editor picture's size and the grid's, and each code's share of the test
    images' cells with the most used codes (the info line). None where the graph has no such way in."""
    path = graph_file(entry)
    if path is None or not _takes_codes(str(path)):
        return None
    share = use.counts / max(use.counts.sum(), 1)
    return {"url": file_url(path), "view": codes.view_size(entry), "grid": [int(v) for v in entry.model.code_grid],
            "shares": [float(v) for v in share], "top": codes.codes_by_use(use)[:8], "model": entry.name,
            "font_px": codes.CODE_FONT_PX}
