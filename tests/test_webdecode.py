"""Decoding in the browser: exported decoders against PyTorch, and the sliders tab without the server.

The exported graph is checked twice for every committed model with a continuous latent code: by the
reference interpreter (``vae_demo.export.run_graph``, torch, from the JSON alone) and by the page's own
runtime (TensorFlow.js in WebAssembly, in Chromium). Stated tolerance: max |Δ pixel| ≤ 1e-5 on pixels
in [0, 1] (measured: ~1e-6 in the page, 0 for the reference interpreter).
"""

from __future__ import annotations

import concurrent.futures
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import classroom
from vae_demo import export
from vae_demo.services import latent, webdecode
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.testdata import TestImages

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-5


def _committed():
    reg = ModelRegistry(ROOT / "checkpoints", user_directory=ROOT / "checkpoints" / "__none__")
    return [e for d in ("mnist", "fashion-mnist", "cifar10") for e in reg.entries(d)]


def test_every_committed_latent_models_decoder_exports_and_equals_pytorch():
    entries = _committed()
    exported, total = 0, 0
    for e in entries:
        if not e.has_latent_code:
            with pytest.raises(export.ExportError, match="no latent code"):
                export.export_decoder(e.model, e.name)
            continue
        g = export.export_decoder(e.model, e.name)
        n = export.code_length(e.model)  # latent_dim, or a VQ-VAE's grid of vectors
        assert g["format"] == export.FORMAT and g["latent_dim"] == n
        assert export.check(g, e.model) <= TOLERANCE, e.name
        z = torch.randn(3, n)
        assert export.run_graph(json.loads(json.dumps(g)), z).shape == (3, *e.model.image_shape)
        if e.model.discrete:  # its code-grid editor's way in: index grids, as decode_codes takes them
            c = torch.randint(0, e.model.codebook_size, (3, *e.model.code_grid), generator=torch.Generator().manual_seed(1))
            assert g["codes"]["grid"] == list(e.model.code_grid)
            assert (export.run_graph(g, codes=c) - e.model.decode_codes(c)).abs().max() <= TOLERANCE
        else:
            assert "codes" not in g
        exported, total = exported + 1, total + export.graph_bytes(g)
    assert exported >= 15  # MLP, conv, PCA, VQ-VAE and restorer checkpoints of the three datasets
    assert total < 40e6  # stated in the README: 35.76 MB for the 26, never committed (exported on demand)


def test_export_refuses_an_op_it_cannot_run_and_names_it():
    from vae_demo.models import build_model

    m = build_model("mlp_vae", (1, 28, 28), 2)

    class Tanh(type(m)):
        def decode(self, z):
            return torch.tanh(self.decode_logits(z))

    m.__class__ = Tanh
    with pytest.raises(export.ExportError, match="tanh"):
        export.export_decoder(m)
    with pytest.raises(export.ExportError, match="not an exported decoder"):
        export.run_graph({"format": "onnx"}, np.zeros((1, 2)))


def test_graph_files_are_written_once_per_weights_and_the_page_gets_what_it_needs(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_DEMO_WEB_CACHE", str(tmp_path))
    e = next(x for x in _committed() if x.name == "mnist_conv_vae_z16")
    path = webdecode.graph_file(e)
    assert path.parent == tmp_path.resolve() and e.meta["weights_sha256"][:16] in path.name
    assert webdecode._exporter_hash() in path.name  # another exporter's graph of the same weights is not served
    stamp = path.stat().st_mtime_ns
    assert webdecode.graph_file(e) == path and path.stat().st_mtime_ns == stamp  # cached
    stats = latent.latent_stats(e, TestImages(tmp_path / "no_data"))
    page = webdecode.page_decoder(e, stats, np.zeros(e.latent_dim))
    assert page["url"] == "/gradio_api/file=" + path.as_posix() and len(page["mean"]) == len(page["std"]) == 16
    assert page["shown"] == [int(i) for i in stats.shown]
    unet = next(x for x in _committed() if not x.has_latent_code)
    assert webdecode.graph_file(unet) is None  # no code to decode: it only restores, on the server
    assert all(p.is_dir() for p in webdecode.static_paths())
    for f in ("tf-core.min.js", "tf-backend-wasm.min.js", "tfjs-backend-wasm-simd.wasm", "LICENSE"):
        assert (webdecode.RUNTIME_DIR / f).stat().st_size > 10_000


def test_the_export_command_reports_every_checkpoint(tmp_path, capsys):
    assert export.main(["--checkpoints", str(ROOT / "checkpoints"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mnist_unet_restorer: not exported" in out and "total" in out and "max |Δ pixel| 0.0e+00" in out
    g = json.loads((tmp_path / "mnist_mlp_vae_z2.decoder.json").read_text())
    assert [o["op"] for o in g["ops"]] == ["linear", "relu", "linear", "reshape", "sigmoid"]
    vq = [o["op"] for o in json.loads((tmp_path / "mnist_vqvae.decoder.json").read_text())["ops"]]
    assert vq[vq.index("argmin"):vq.index("argmin") + 3] == ["argmin", "reshape", "gather"]  # the nearest code


# --- in Chromium ---------------------------------------------------------------------------------------

browser, server = classroom.browser, classroom.server  # the classroom's app and browser (module fixtures)

@pytest.fixture
def server_slides(monkeypatch):
    """How many slider moves the server decoded (the slide handler calls latent.slider_decode)."""
    calls = []
    real = latent.slider_decode

    def counting(*a, **k):
        calls.append([float(v) for v in a[3]])  # the slider values it decoded
        return real(*a, **k)

    monkeypatch.setattr(latent, "slider_decode", counting)
    return calls


@pytest.mark.browser
@pytest.mark.slow
def test_the_page_decodes_every_exported_model_as_pytorch_does(browser, server):
    page = browser.new_page()
    page.goto(server["url"])
    page.wait_for_function("() => window.vaeDecoder && window.vaeDecoder.state.backend === 'wasm'", timeout=60_000)
    checked = 0
    for e in [x for x in _committed() if x.has_latent_code]:
        f = webdecode.graph_file(e)
        if f is None:
            continue
        z = torch.randn(4, export.code_length(e.model), generator=torch.Generator().manual_seed(checked)) * 2
        got = page.evaluate("""async ([u, zs]) => { const r = [];
            for (const z of zs) r.push(Array.from((await window.vaeDecoder.decode(u, z)).pixels)); return r; }""",
                            [webdecode.file_url(f), z.tolist()])
        with torch.no_grad():
            ref = e.model.decode(z).numpy()
        assert np.abs(np.asarray(got).reshape(ref.shape) - ref).max() <= TOLERANCE, e.name
        checked += 1
    assert checked >= 15  # with the three VQ-VAEs: nearest codes picked as PyTorch picks them
    page.close()


# what the page drew itself, by kind (decoder.js announces each picture with a 'vae-painted' event)
COUNT_PAINTS = """window.painted = {};
document.addEventListener('vae-painted', (ev) => { window.painted[ev.detail.by] = (window.painted[ev.detail.by] || 0) + 1; },
                          true);"""


def _tab_page(browser, url, tab, init_script=None):
    """A 1280×800 page of the app, on ``tab``, counting the pictures the page draws itself (``window.painted``)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(60_000)
    page.add_init_script(COUNT_PAINTS)
    if init_script:
        page.add_init_script(init_script)
    page.goto(url)
    page.get_by_role("tab", name=tab).click()
    return page


def _sliders(browser, url, init_script=None):
    page = _tab_page(browser, url, "Latent sliders", init_script)
    page.locator("#sliders-image img").wait_for()
    page.wait_for_function("() => document.querySelector('#sliders-z0 input[type=range]')")
    page.wait_for_function("() => document.querySelector('#sliders-web').innerText.includes('decoder.json')")
    return page


def _move(page, value):
    from tests.helpers.browser import move_slider

    move_slider(page, "#sliders-z0", value)


@pytest.mark.browser
@pytest.mark.slow
def test_a_slider_move_repaints_in_the_page_with_no_server_decode(browser, server, server_slides):
    from tests.helpers.browser import pixels

    page = _sliders(browser, server["url"])
    page.wait_for_function("() => window.vaeDecoder && window.vaeDecoder.state.backend === 'wasm'")
    before = pixels(page, "#sliders-image")
    for v in (1.5, -2.0, 2.5):
        _move(page, v)
        page.wait_for_function("() => document.querySelector('#sliders-image img').src.startsWith('data:')")
        page.wait_for_timeout(300)
    after = pixels(page, "#sliders-image")  # painted as the server paints: 28×28 upscaled 8×, nearest
    assert after.shape == before.shape == (224, 224)
    assert (after[::8, ::8].repeat(8, 0).repeat(8, 1) == after).all()  # whole 8×8 blocks: sharp, not smoothed
    assert np.abs(after.astype(int) - before).mean() > 1  # the image changed
    assert "Decoded in this browser" in page.locator("#sliders-where").inner_text()
    assert server_slides == []  # the server decoded none of the moves
    page.close()


@pytest.mark.browser
@pytest.mark.slow
def test_without_webassembly_the_sliders_decode_on_the_server_and_say_so(browser, server, server_slides):
    from tests.helpers.browser import pixels, srcs, wait_change

    page = _sliders(browser, server["url"], init_script="delete window.WebAssembly;")
    before_src, before = srcs(page, "#sliders-image"), pixels(page, "#sliders-image")
    page.evaluate("""() => { const i = document.querySelector('#sliders-z0 input[type=range]');
        i.value = '2.5'; i.dispatchEvent(new Event('input', {bubbles: true})); }""")  # mid-drag: no release
    wait_change(page, "#sliders-image", before_src)
    page.wait_for_timeout(300)
    assert np.abs(pixels(page, "#sliders-image").astype(int) - before).mean() > 1
    assert len(server_slides) >= 1 and server_slides[-1][0] == 2.5  # the value moved to, not the one before
    where = page.locator("#sliders-where").inner_text()
    assert "Decoded on the server" in where and "WebAssembly" in where
    page.close()


@pytest.mark.browser
@pytest.mark.slow
def test_the_pointer_over_the_latent_map_decodes_in_the_page(browser, server, monkeypatch):
    """robz-style hover: the decoded image follows the pointer with no click and no server decode."""
    from tests.helpers.browser import pixels

    calls = []
    real = latent.LatentMap.latent_at
    monkeypatch.setattr(latent.LatentMap, "latent_at", lambda self, x, y: calls.append(1) or real(self, x, y))
    page = _tab_page(browser, server["url"], "Latent map")
    page.locator("#map-decoded img").wait_for()
    page.wait_for_function("() => window.vaeMapWeb && window.vaeMapWeb.model === 'mnist_mlp_vae_z2' && "
                           "window.vaeDecoder.state.backend === 'wasm'")
    calls.clear()  # the server drew the first picture; from here on the pointer alone
    box = page.locator("#map-plot .nsewdrag").bounding_box()
    seen = []
    for fx in (0.2, 0.8):
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.5, steps=5)
        page.wait_for_function("() => document.querySelector('#map-decoded img').src.startsWith('data:')")
        page.wait_for_timeout(300)
        seen.append(pixels(page, "#map-decoded"))
    assert np.abs(seen[0].astype(int) - seen[1]).mean() > 1  # two places, two images
    assert page.evaluate("() => window.painted.hover || 0") >= 2 and calls == []
    page.close()


@pytest.mark.browser
@pytest.mark.slow
def test_dragging_steps_redraws_the_interpolation_strips_in_the_page(browser, server, monkeypatch, tmp_path):
    """Steps N dragged: three strips of N frames drawn by the page, equal to the server's own strips; on
    letting go the server writes the GIF and the numbers, never the strips."""
    from tests.helpers.browser import pixels, srcs, wait_change

    strips, paths = [], []
    real_strip, real_interp = latent.path_strip, latent.interpolate
    monkeypatch.setattr(latent, "path_strip", lambda *a, **k: strips.append(1) or real_strip(*a, **k))
    monkeypatch.setattr(latent, "interpolate", lambda *a, **k: paths.append(1) or real_interp(*a, **k))
    page = _tab_page(browser, server["url"], "Interpolation")
    page.locator("#interp-slerp img").wait_for()
    page.wait_for_function("() => document.querySelector('#interp-web').innerText.includes('decoder.json')")
    page.wait_for_function("() => window.vaeDecoder && window.vaeDecoder.state.backend === 'wasm'")
    model = page.locator("#interp-model input").input_value().split(" — ")[0]  # the label: "name — what"
    strips.clear(), paths.clear()  # the server drew the first pair; from here on Steps N alone
    n = 12
    page.evaluate("""(v) => { const i = document.querySelector('#interp-steps input[type=range]');
        i.value = String(v); i.dispatchEvent(new Event('input', {bubbles: true})); }""", n)
    page.wait_for_function("() => (window.painted.path || 0) >= 1 && "
                           "document.querySelector('#interp-slerp img').src.startsWith('data:')")
    assert strips == [] and paths == []  # drawn with no server call at all
    assert "decoded in this browser" in page.locator("#interp-where").inner_text()

    # the same strips the server would have drawn for these images and steps (≤ 1 grey level apart)
    e = server["registry"].get(model, "mnist", latent_code=True)
    s = TestImages(tmp_path).get("mnist")
    rows = real_interp(e, s.floats(slice(0, 1)), s.floats(slice(1, 2)), n)
    for sel, key in (("#interp-pixel", "pixel"), ("#interp-linear", "linear"), ("#interp-slerp", "slerp")):
        got, ref = pixels(page, sel), real_strip(rows[key])
        assert got.shape == ref.shape  # 12 frames: two rows of 8 columns
        assert np.abs(got.astype(int) - ref).max() <= 1, sel

    gif = srcs(page, "#interp-gif")
    page.evaluate("""() => { const i = document.querySelector('#interp-steps input[type=range]');
        i.dispatchEvent(new Event('change', {bubbles: true}));
        i.dispatchEvent(new PointerEvent('pointerup', {bubbles: true})); }""")
    wait_change(page, "#interp-gif", gif)
    assert len(paths) == 1 and strips == []  # let go: the server wrote the GIF, not the strips
    assert f"{n} steps" in page.locator("#interp-info").inner_text()
    page.close()


@pytest.mark.browser
@pytest.mark.slow
def test_the_load_tests_browser_users_drag_with_no_server_decode(tmp_path):
    """The load test's browser phase, small: two pages drag, every move decoded in the page, no error, the
    three CPU windows reported, and no request to the server while dragging but the versions polls."""
    from tests.helpers.browser import require_browser
    from vae_demo.bench.loadtest import Server, browser_phase

    require_browser()
    ck = tmp_path / "ck"
    ck.mkdir()
    for ext in ("json", "safetensors"):  # one small model with a latent code is all the sliders need
        (ck / f"mnist_conv_vae_z16.{ext}").write_bytes((ROOT / "checkpoints" / f"mnist_conv_vae_z16.{ext}").read_bytes())
    server = Server(ck, str(tmp_path / "no_data"))
    try:
        server.wait_ready()
        # its own Playwright, in a thread of its own (this module's browser runs one in this thread)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            # 6 s windows: each page's first poll of the versions file (and its one event) falls in the idle one
            r = pool.submit(browser_phase, server, 2, 6.0, lambda msg: None).result()
    finally:
        server.stop()
    assert r["errors"] == 0 and r["pass"], r["error_examples"]
    assert r["pages_open"] == 2 and r["pages_decoding_in_page"] == 2
    assert r["moves"] >= 2 * 6.0 / 0.05 * 0.5 and r["repaints"] >= 2
    assert set(r["server_cores"]) == {"alone", "idle", "dragging"} and r["server_cpu_alone_s"] >= 0
    assert r["requests"]["dragging"]["not_version_polls"] == 0, r["requests"]  # no move asked the server anything


@pytest.mark.browser
@pytest.mark.slow
def test_the_code_grid_editor_decodes_a_new_code_in_the_page(browser, server, monkeypatch, tmp_path):
    """A VQ-VAE's code picked for a cell: the page decodes the grid (as decode_codes does) and redraws the
    editor; the server decodes nothing, yet knows the new grid at the next click."""
    from tests.helpers.browser import pixels
    from vae_demo.services import codes

    calls = []
    real = codes.decode_grid
    monkeypatch.setattr(codes, "decode_grid", lambda *a, **k: calls.append(1) or real(*a, **k))
    page = _tab_page(browser, server["url"], "Latent sliders")
    page.locator("#sliders-model input").click()
    page.get_by_role("option", name="mnist_vqvae").first.click()
    page.locator("#codes-grid img").wait_for()
    page.wait_for_function("() => document.querySelector('#codes-web').innerText.includes('decoder.json')")
    page.wait_for_function("() => window.vaeDecoder && window.vaeDecoder.state.backend === 'wasm'")
    e = server["registry"].get("mnist_vqvae")
    box = page.locator("#codes-grid img").bounding_box()

    def click_cell(r, c):
        page.mouse.click(box["x"] + (c + 0.5) / 7 * box["width"], box["y"] + (r + 0.5) / 7 * box["height"])
        page.wait_for_function("t => document.querySelector('#codes-code').innerText.includes(t)",
                               arg=f"cell (row {r}, col {c})")
        page.wait_for_timeout(300)
        return int(float(page.locator("#codes-code input[type=number]").input_value()))

    old = click_cell(3, 3)
    grid = codes.image_codes(e, TestImages(tmp_path).get("mnist").floats(slice(0, 1)))  # test image #0's codes
    assert old == grid[3, 3]
    new = (old + 7) % e.model.codebook_size
    calls.clear()
    page.evaluate("""(v) => { const i = document.querySelector('#codes-code input[type=range]');
        i.value = String(v); i.dispatchEvent(new Event('input', {bubbles: true})); }""", new)
    page.wait_for_function("() => (window.painted.codes || 0) >= 1")
    page.wait_for_function("t => document.querySelector('#codes-info').innerText.includes(t)", arg=f"holds code {new}")
    assert calls == []  # decoded and drawn in the page
    assert "Decoded in this browser" in page.locator("#sliders-where").inner_text()
    grid[3, 3] = new
    ref = (codes.decode_grid(e, grid)[0].numpy() * 255 + 0.5).astype(int).repeat(8, 0).repeat(8, 1)
    assert np.abs(pixels(page, "#sliders-image").astype(int) - ref).max() <= 1  # as the server would show it
    view = pixels(page, "#codes-grid")
    assert view.shape == (336, 336)
    # the server knows the page's grid: another cell, then back, and the picker shows the new code
    assert click_cell(0, 0) == grid[0, 0] and click_cell(3, 3) == new
    page.close()
