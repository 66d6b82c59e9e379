"""A picture always shows what its controls say: the consistency walk, in Chromium at 1280×720.

For every interactive control that draws a picture (a slider dragged, typed into its number box or reset by
its ↺ button, a radio, a dropdown, a checkbox, a button, a gallery click) the walk changes the control, waits
until the page has settled, reads the controls' values back from the page, and asks the server-side
services (the functions the handlers call) for the picture of those values. The page's picture must equal
it within 1 grey level (pictures), or show the same numbers (the restore row's PSNRs, the interpolation's
angle). The app runs the committed checkpoints on the shipped sample, as a fresh install does.

``COVERED`` counts the controls walked (reported by the last test; the README states the count).
"""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers.browser import chromium, require_browser
from vae_demo.bench.latency import launch
from vae_demo.services import inside, latent
from vae_demo.services.images import display
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.restore import restore_row
from vae_demo.services.testdata import TestImages

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
COVERED: list[str] = []  # "tab: control (how)", one per control changed and checked


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    require_browser()
    import app

    os.environ["VAE_DEMO_DOWNLOAD"] = "0"
    images = TestImages(tmp_path_factory.mktemp("no_data"))  # the shipped sample only
    registry = ModelRegistry(ROOT / "checkpoints", user_directory=tmp_path_factory.mktemp("user_ck"))
    demo = app.build_app(registry, images)
    url = launch(demo)
    with chromium() as browser:
        yield {"url": url, "registry": registry, "images": images, "browser": browser}
    demo.close()
    os.environ.pop("VAE_DEMO_DOWNLOAD", None)


@pytest.fixture
def page(app_server):
    pg = app_server["browser"].new_page(viewport={"width": 1280, "height": 720})
    pg.set_default_timeout(60_000)
    pg.goto(app_server["url"])
    pg.locator("#restore-row img").first.wait_for()
    yield pg
    pg.close()


# --- reading the page ------------------------------------------------------------------------------------

def settle(page, selectors, quiet_ms: int = 700, timeout_ms: int = 30_000) -> None:
    """Wait until nothing is pending (no Gradio progress shown) and the pictures under ``selectors`` kept
    their sources for ``quiet_ms``: the page has done whatever the last change made it do."""
    page.wait_for_timeout(150)
    page.wait_for_function(
        """([sels, quiet]) => {
            const now = performance.now();
            const busy = document.querySelector('.progress-text, .eta-bar, .generating');
            const key = sels.map(s => [...document.querySelectorAll(s)].map(e => e.getAttribute('src')
                                        || e.innerHTML.length).join('|')).join('#');
            if (busy || key !== window.__settleKey) { window.__settleKey = key; window.__settleAt = now; return false; }
            return now - window.__settleAt >= quiet;
        }""", arg=[selectors, quiet_ms], timeout=timeout_ms, polling=100)


def pixels(page, selector: str) -> np.ndarray:
    """The picture's pixels as the page shows them (its <img>'s source decoded), RGB."""
    src = page.eval_on_selector(selector, "e => e.getAttribute('src')")
    if src.startswith("data:"):
        raw = base64.b64decode(src.split(",", 1)[1])
    else:
        raw = bytes(page.evaluate("""async (src) => { const r = await fetch(src);
            return Array.from(new Uint8Array(await r.arrayBuffer())); }""", src))
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB")).astype(np.int16)


def as_rgb(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.shape[-1] == 4:
        a = a[..., :3]
    return a.astype(np.int16)


def same_picture(page_px: np.ndarray, server_px: np.ndarray, what: str) -> None:
    server_px = as_rgb(server_px)
    assert page_px.shape == server_px.shape, f"{what}: the page shows {page_px.shape}, the server renders {server_px.shape}"
    diff = int(np.abs(page_px - server_px).max())
    assert diff <= 1, f"{what}: the picture is not what its controls say (max |Δ| = {diff} grey levels)"


def number(page, selector: str) -> float:
    return float(page.locator(f"{selector} input[type=number]").input_value())


def drag(page, selector: str, value: float) -> None:
    """A slider moved as a drag does it: its range input changes, then the pointer lets go."""
    page.evaluate("""([sel, v]) => {
        const input = document.querySelector(sel + ' input[type=range]');
        input.value = String(v);
        input.dispatchEvent(new Event('input', {bubbles: true}));
        input.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
    }""", [selector, value])


def type_in(page, selector: str, value) -> None:
    """A number typed into a control's box, then Enter and leaving the box, as a person does."""
    box = page.locator(f"{selector} input[type=number]")
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def reset(page, selector: str) -> None:
    page.locator(f"{selector} .reset-button").click()


def each_way(page, app_server, check, selector: str, name: str, dragged: float, typed: float) -> None:
    """One slider changed the three ways a person changes it, the picture checked after each: dragged, a number
    typed in its box, and its ↺ button (which goes back to the value the slider was built with)."""
    drag(page, selector, dragged)
    check(page, app_server, f"{name} dragged")
    type_in(page, selector, typed)
    check(page, app_server, f"{name} typed in its box")
    reset(page, selector)
    check(page, app_server, f"{name}'s ↺ button")


def pick(page, selector: str, option: str) -> None:
    page.locator(f"{selector} input").click()
    page.get_by_role("option", name=option).first.click()
    page.keyboard.press("Escape")


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def entry_named_in(registry, dataset, page, selector):
    """The model a dropdown shows (its label starts with the model's name)."""
    label = page.locator(f"{selector} input").input_value()
    return next(e for e in registry.entries(dataset) if label == e.name or label.startswith(e.name + " "))


# --- Latent sliders --------------------------------------------------------------------------------------

def sliders_server_picture(page, app_server) -> np.ndarray:
    reg, images = app_server["registry"], app_server["images"]
    e = entry_named_in(reg, "mnist", page, "#sliders-model")
    stats = latent.latent_stats(e, images)
    base = page.evaluate("() => window.vaeSlidersWeb.base")
    values = [number(page, f"#sliders-z{i}") for i in range(len(stats.shown))]
    return latent.slider_decode(e, stats, base, values)[0]


def check_sliders(page, app_server, what: str) -> None:
    settle(page, ["#sliders-image img"])
    same_picture(pixels(page, "#sliders-image img"), sliders_server_picture(page, app_server), what)
    COVERED.append(f"Latent sliders: {what}")


def test_latent_sliders_every_control(page, app_server):
    tab(page, "Latent sliders")
    page.locator("#sliders-z1 input[type=range]").wait_for()
    check_sliders(page, app_server, "the model's first picture")
    each_way(page, app_server, check_sliders, "#sliders-z0", "z[0]", 2.5, -1.75)
    assert number(page, "#sliders-z0") == 0.0
    type_in(page, "#sliders-z1", -1.75)
    check_sliders(page, app_server, "z[1] typed in its box")
    page.locator("#sliders-sample").click()
    check_sliders(page, app_server, "Sample from the prior")
    drag(page, "#sliders-z2", -2.0)
    reset(page, "#sliders-z2")
    check_sliders(page, app_server, "z[2] dragged, then its ↺")
    page.locator("#sliders-reset").click()
    check_sliders(page, app_server, "Reset to 0")
    page.locator("#sliders-from-image").click()
    check_sliders(page, app_server, "Start from the picked image")
    other = next(e for e in app_server["registry"].entries("mnist", latent_code=True)
                 if not e.model.discrete and e.name != entry_named_in(app_server["registry"], "mnist", page,
                                                                     "#sliders-model").name)
    pick(page, "#sliders-model", other.name)
    page.wait_for_function("n => window.vaeSlidersWeb && window.vaeSlidersWeb.model === n", arg=other.name)
    check_sliders(page, app_server, "another model picked")
    drag(page, "#sliders-z0", 1.5)
    check_sliders(page, app_server, "z[0] of the other model dragged")


# --- Latent map ------------------------------------------------------------------------------------------

METHODS = {"auto (native 2-D, else PCA)": "auto", "PCA": "pca", "t-SNE (slow the first time)": "tsne"}


def check_map(page, app_server, what: str) -> None:
    settle(page, ["#map-decoded img"])
    reg, images = app_server["registry"], app_server["images"]
    e = entry_named_in(reg, "mnist", page, "#map-model")
    label = page.locator("#map-method input:checked").evaluate("e => e.closest('label').innerText").strip()
    m = latent.latent_map(e, images, METHODS[label])
    x, y = number(page, "#map-x"), number(page, "#map-y")
    same_picture(pixels(page, "#map-decoded img"), latent.decode(e, m.latent_at(x, y)), what)
    COVERED.append(f"Latent map: {what}")


def test_latent_map_every_control(page, app_server):
    tab(page, "Latent map")
    page.locator("#map-x input[type=range]").wait_for()
    page.locator("#map-decoded img").wait_for()
    check_map(page, app_server, "the model's first picture")
    drag(page, "#map-y", 0.6)  # y away from its first value: x's moves are then checked off the axis
    each_way(page, app_server, check_map, "#map-x", "x", 1.2, 0.4)
    each_way(page, app_server, check_map, "#map-y", "y", -0.5, -0.8)
    page.locator("#map-method label", has_text="PCA").first.click()
    check_map(page, app_server, "the projection radio (PCA)")
    other = next(e for e in app_server["registry"].entries("mnist", latent_code=True)
                 if not e.model.discrete and e.latent_dim > 2)
    pick(page, "#map-model", other.name)
    page.wait_for_function("n => window.vaeMapWeb && window.vaeMapWeb.model === n", arg=other.name)
    check_map(page, app_server, "another model picked")
    drag(page, "#map-y", 0.5)
    check_map(page, app_server, "y of the other model dragged")


# --- Interpolation ---------------------------------------------------------------------------------------

INFO_ANGLE = re.compile(r"(\d+)° apart")


def check_interpolation(page, app_server, what: str) -> None:
    settle(page, ["#interp-pixel img", "#interp-linear img", "#interp-slerp img", "#interp-info"])
    reg, images = app_server["registry"], app_server["images"]
    e = entry_named_in(reg, "mnist", page, "#interp-model")
    ia, ib = int(number(page, "#interp-a-index")), int(number(page, "#interp-b-index"))
    n = int(number(page, "#interp-steps"))
    xa, xb = images.image("mnist", ia)[0], images.image("mnist", ib)[0]
    rows = latent.interpolate(e, xa, xb, n)
    for key, sel in (("pixel", "#interp-pixel"), ("linear", "#interp-linear"), ("slerp", "#interp-slerp")):
        same_picture(pixels(page, f"{sel} img"), latent.path_strip(rows[key]), f"{what} ({key} strip)")
    angle = latent.path_difference(e, xa, xb, rows)["angle_deg"]
    info = page.locator("#interp-info").inner_text()
    shown = INFO_ANGLE.search(info)
    assert shown and int(shown.group(1)) == round(angle), f"{what}: the text says {info!r}, the pair is {angle:.0f}°"
    assert info.startswith(f"{n} steps"), f"{what}: the text is for another step count: {info!r}"
    COVERED.append(f"Interpolation: {what}")


def test_interpolation_every_control(page, app_server):
    tab(page, "Interpolation")
    page.locator("#interp-linear img").wait_for()
    check_interpolation(page, app_server, "the first pair")
    page.locator("#interp-random").click()
    check_interpolation(page, app_server, "Random pair")
    pick(page, "#interp-b-class", "7")
    check_interpolation(page, app_server, "B: a random image of class 7")
    drag(page, "#interp-steps", 12)
    check_interpolation(page, app_server, "Steps N dragged")
    pick(page, "#interp-a-class", "0")
    check_interpolation(page, app_server, "A: a random image of class 0")
    type_in(page, "#interp-a-index", 5)
    check_interpolation(page, app_server, "A's test image # typed")
    each_way(page, app_server, check_interpolation, "#interp-steps", "Steps N", 16, 5)
    other = next(e for e in app_server["registry"].entries("mnist", latent_code=True)
                 if e.name != entry_named_in(app_server["registry"], "mnist", page, "#interp-model").name
                 and not e.model.discrete)
    pick(page, "#interp-model", other.name)
    page.locator("#interp-go").click()
    check_interpolation(page, app_server, "another model, Interpolate")


# --- Inside a VAE: one image, step by step ---------------------------------------------------------------

def check_step(page, app_server, what: str) -> None:
    """x̂ for the controls' values: test image #, ε seed, and the busiest dim's ε from its slider."""
    settle(page, ["#step-decoded img", "#step-numbers"])
    reg, images = app_server["registry"], app_server["images"]
    e = entry_named_in(reg, "mnist", page, "#step-model")
    x = images.image("mnist", int(number(page, "#step-index")))[0]
    eps = inside.walkthrough(e, x, seed=int(number(page, "#step-seed"))).eps.copy()
    top = int(inside.walkthrough(e, x, eps=eps).order[0])
    eps[top] = number(page, "#step-eps")
    w = inside.walkthrough(e, x, eps=eps)
    same_picture(pixels(page, "#step-decoded img"), display(w.x_hat, 224), what)
    text = page.locator("#step-numbers").inner_text()
    assert f"ε = {w.eps[top]:.2f}" in text and f"{w.loss:.1f}" in text, f"{what}: the numbers say {text!r}"
    COVERED.append(f"Inside a VAE, step by step: {what}")


def test_inside_step_by_step_every_control(page, app_server):
    tab(page, "Inside a VAE")
    page.locator("#step-eps input[type=range]").wait_for()
    page.locator("#step-decoded img").wait_for()
    check_step(page, app_server, "the first picture")
    each_way(page, app_server, check_step, "#step-eps", "ε", 2.4, -1.5)
    page.locator("#step-resample").click()
    check_step(page, app_server, "Resample ε")
    type_in(page, "#step-index", 9)
    check_step(page, app_server, "test image # typed")
    type_in(page, "#step-seed", 17)
    check_step(page, app_server, "ε seed typed")


# --- Inside a VAE: the network's shape --------------------------------------------------------------------

def check_network(page, app_server, what: str) -> None:
    """The transposed convolution's two pictures and its sum for the controls' layer, channel, row and column."""
    from vae_demo.app.tabs.inside.network import pixel_view

    settle(page, ["#network-taps img", "#network-output img", "#network-sum"])
    reg, images = app_server["registry"], app_server["images"]
    e = entry_named_in(reg, "mnist", page, "#network-model")
    layer = page.locator("#network-layer input").input_value()
    o, i, j = (int(number(page, s)) for s in ("#network-channel", "#network-row", "#network-col"))
    v = pixel_view(e, images.image("mnist", 0)[0], layer, o, i, j)
    same_picture(pixels(page, "#network-taps img"), v.taps, f"{what}: the input's cells")
    same_picture(pixels(page, "#network-output img"), v.output, f"{what}: the output pixel")
    text = page.locator("#network-sum").inner_text()
    assert f"Output pixel ({i}, {j}) of channel {o}" in text and f"{v.value:+.4f}" in text, f"{what}: {text!r}"
    COVERED.append(f"Inside a VAE, the network's shape: {what}")


def test_inside_the_networks_shape_every_control(page, app_server):
    tab(page, "Inside a VAE")
    tab(page, "The network's shape")
    page.locator("#network-taps img").wait_for()
    check_network(page, app_server, "the first picture")
    each_way(page, app_server, check_network, "#network-row", "row", 3, 10)
    each_way(page, app_server, check_network, "#network-col", "column", 5, 12)
    each_way(page, app_server, check_network, "#network-channel", "channel", 7, 30)
    pick(page, "#network-layer", "decoder.2")
    check_network(page, app_server, "another layer")
    pick(page, "#network-model", "mnist_vqvae")
    check_network(page, app_server, "another checkpoint")


# --- Corrupt & restore -----------------------------------------------------------------------------------

def highlighted(page) -> list[int]:
    """Which of the gallery's thumbnails are highlighted."""
    return page.eval_on_selector_all(
        "#restore-gallery .thumbnail-item", "els => els.map((e, i) => e.classList.contains('selected') ? i : -1)"
        ".filter(i => i >= 0)")


def check_row(page, app_server, what: str) -> None:
    settle(page, ["#restore-row"])
    reg, images = app_server["registry"], app_server["images"]
    dataset = page.locator("#dataset input:checked").get_attribute("value")
    kind = page.locator("#restore-kind input:checked").get_attribute("value")
    severity = number(page, "#restore-severity")
    seed = int(number(page, "#restore-seed"))
    mask = page.locator("#restore-mask-aware input").is_checked()
    index = int(number(page, "#restore-index"))
    names = page.eval_on_selector_all("#restore-row .vd-name", "els => els.map(e => e.innerText)")
    models = names[2:]  # the panels' names: each model's, and "classical"
    panels, _ = restore_row(reg, dataset, images.image(dataset, index)[0], kind, severity, seed, mask, models=models,
                            source=f"test image #{index}")
    want = [(p.short or p.title, f"{p.psnr:.1f} dB" if p.psnr is not None else "") for p in panels]
    metrics = page.eval_on_selector_all("#restore-row .vd-metrics", "els => els.map(e => e.innerText)")
    got = list(zip(names, [re.sub(r"^★ ", "", m).split(" · ")[0].strip() for m in metrics]))
    assert got == want, f"{what}: the row shows {got}, its controls say {want}"
    caption = page.locator("#restore-row .vd-role").first.inner_text()
    assert f"test image #{index}" in caption, f"{what}: the original is captioned {caption!r}"
    lit = highlighted(page)
    assert lit in ([], [index]), f"{what}: the gallery highlights {lit}, the row shows test image #{index}"
    COVERED.append(f"Corrupt & restore: {what}")


def test_restore_every_control(page, app_server):
    check_row(page, app_server, "the first row")
    drag(page, "#restore-severity", 0.6)
    check_row(page, app_server, "severity dragged")
    type_in(page, "#restore-severity", 0.3)
    check_row(page, app_server, "severity typed in its box")
    page.locator("#restore-kind label", has_text="block").first.click()
    check_row(page, app_server, "the corruption radio (block)")
    drag(page, "#restore-severity", 8)
    page.locator("#restore-severity-reset").click()
    check_row(page, app_server, "severity's ↺ button (block)")
    assert number(page, "#restore-severity") > 1, "↺ must go to the chosen corruption's default, not noise σ 0.1"
    page.locator("#restore-mask-aware input").check()
    check_row(page, app_server, "mask-aware ticked")
    type_in(page, "#restore-seed", 3)
    check_row(page, app_server, "corruption seed typed")
    type_in(page, "#restore-index", 7)
    check_row(page, app_server, "image # typed")
    assert highlighted(page) == [7]
    page.locator("#restore-gallery .thumbnail-item").nth(3).click()
    check_row(page, app_server, "a gallery image clicked")
    type_in(page, "#restore-index", 40)  # not in the gallery: nothing in it stays highlighted
    check_row(page, app_server, "an image # beyond the gallery typed")
    page.locator("#restore-random").click()
    check_row(page, app_server, "Random test image")
    page.locator("#restore-models input").click()
    page.get_by_role("option", name="mnist_pca_z64").first.click()
    page.keyboard.press("Escape")
    check_row(page, app_server, "a model added to the row")
    page.locator("#dataset").get_by_text("fashion-mnist", exact=True).click()  # another control moves them all
    page.wait_for_function("() => document.querySelector('#restore-summary').innerText.includes(' of fashion-mnist;')")
    check_row(page, app_server, "the dataset radio (fashion-mnist)")
    page.locator("#restore-kind label", has_text="salt").first.click()
    check_row(page, app_server, "the corruption radio (salt-and-pepper) on fashion-mnist")


def test_gallery_highlight_follows_the_index_box(page, app_server):
    """Typed into the index box, the gallery highlights that image (and only it)."""
    type_in(page, "#restore-index", 4)
    settle(page, ["#restore-row"])
    assert highlighted(page) == [4]
    COVERED.append("Corrupt & restore: gallery highlight after the image # box")


def test_the_walk_covers_the_controls():
    """Reported, and a floor: the walk above changed and checked this many controls."""
    if not COVERED:
        pytest.skip("run with the walk's tests (this one counts what they covered)")
    print(f"\nconsistency walk: {len(COVERED)} control changes checked")
    assert len(COVERED) >= 45, COVERED



# --- what the screen says matches what it shows ----------------------------------------------------------

def _toasts(page) -> str:
    return " | ".join(page.eval_on_selector_all(".toast-body", "els => els.map(e => e.innerText)"))


def test_an_upload_and_a_drawing_are_captioned_as_such(page, app_server, tmp_path):
    """The row's original says where it came from: "test image #i", "your upload", "your drawing"."""
    img = np.zeros((28, 28), np.uint8)
    img[5:23, 12:16] = 255
    path = tmp_path / "one.png"
    Image.fromarray(255 - img).save(path)
    page.get_by_role("tab", name="Upload", exact=True).click()
    with page.expect_file_chooser() as chooser:
        page.locator("#restore-upload").click()
    chooser.value.set_files(str(path))
    page.wait_for_function("() => document.querySelector('#restore-row .vd-role').innerText.includes('your upload')")
    settle(page, ["#restore-row"])
    assert page.locator("#restore-row .vd-role").first.inner_text().startswith("your upload")
    page.get_by_role("tab", name="Draw", exact=True).click()
    canvas = page.locator("#restore-sketch canvas").first
    canvas.wait_for()
    page.locator("#restore-use-sketch").click()  # nothing drawn yet: a clear message, the row stays
    page.wait_for_function("() => [...document.querySelectorAll('.toast-body')].some(t => "
                           "t.innerText.includes('canvas is empty'))")
    assert "no image given" not in _toasts(page)
    assert page.locator("#restore-row .vd-role").first.inner_text().startswith("your upload")
    page.wait_for_timeout(800)  # the brush is picked for the visitor: a drag draws at once
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.25)
    page.mouse.down()
    for k in range(12):
        page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * (0.25 + 0.04 * k))
    page.mouse.up()
    page.locator("#restore-use-sketch").click()
    page.wait_for_function("() => document.querySelector('#restore-row .vd-role').innerText.includes('your drawing')")
    assert "Input: your drawing" in page.locator("#restore-note").inner_text()
    COVERED.append("Corrupt & restore: an upload, an empty canvas, a drawing")


def test_a_discrete_code_says_what_it_is(page, app_server):
    """A VQ-VAE is listed by its grid of codes (not "z=16", its code vectors' length); its editor says nothing
    about slider moves before anything was decoded; each cell's code is drawn ≥ 12 px tall."""
    e = next(e for e in app_server["registry"].entries("mnist", latent_code=True) if e.model.discrete)
    h, w = e.model.code_grid
    assert f"{h}×{w} codes of K={e.model.codebook_size}" in e.label and "z=" not in e.label
    tab(page, "Latent sliders")
    page.locator("#sliders-z0 input[type=range]").wait_for()
    drag(page, "#sliders-z0", 1.0)  # a continuous model's move: the line says it was decoded in the page
    page.wait_for_function("() => document.querySelector('#sliders-where').innerText.includes('Decoded')")
    pick(page, "#sliders-model", e.name)
    page.locator("#codes-grid img").wait_for()
    settle(page, ["#codes-grid img"])
    assert "slider" not in page.locator("#sliders-where").inner_text()
    # the codes' digits: yellow text in the top-left cell, as tall as the font
    grid = pixels(page, "#codes-grid img")
    cell = grid[: grid.shape[0] // h, : grid.shape[1] // w]
    rows = np.where(((cell[..., 0] > 200) & (cell[..., 1] > 200) & (cell[..., 2] < 170)).any(axis=1))[0]
    assert rows.size and rows.max() - rows.min() + 1 >= 10, "the code numbers are too small to read"
