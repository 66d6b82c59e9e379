"""End to end: the real app in Debian's Chromium (headless, Playwright), one test per tab.

The app runs in this process on a free localhost port, on tiny synthetic data and one-epoch
checkpoints (see tests/helpers/world.py). Each test does the tab's main action and checks that
the visible result changed, then saves a screenshot. Screenshots go to ``$VAE_DEMO_SCREENSHOT_DIR``
if set (e.g. ``docs/screenshots`` when run against the real checkpoints and data for the README:
``VAE_DEMO_E2E_CHECKPOINTS=checkpoints VAE_DEMO_DATA=../shared/data``), else to a temp folder.

Skipped with a clear message when Playwright or Chromium is missing, unless CI is set (then it fails).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers.browser import chromium, move_slider, pixels, require_browser, srcs, wait_change
from vae_demo.bench.latency import MOVE_JS, OBSERVE_JS, launch

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    from tests.helpers.world import make_tiny_world

    real = os.environ.get("VAE_DEMO_E2E_CHECKPOINTS")
    old = {k: os.environ.get(k) for k in ("VAE_DEMO_DATA", "VAE_DEMO_CHECKPOINTS", "VAE_DEMO_MAX_EPOCHS")}
    if real:
        ck = Path(real)
        data = Path(os.environ.get("VAE_DEMO_DATA", "data"))
    else:
        data, ck = make_tiny_world(tmp_path_factory.mktemp("e2e"))
        from tests.helpers.toy_codes import register_toy, save_toy
        from vae_demo.services.testdata import TestImages as _T

        register_toy()  # a model with a discrete code, for the code-grid editor (unregistered at the end)
        save_toy(ck, x=_T(data).get("mnist").floats())
    # the real-checkpoint run makes the README's screenshots: a Train run of 3 epochs shows real curves
    os.environ.update(VAE_DEMO_DATA=str(data), VAE_DEMO_CHECKPOINTS=str(ck), VAE_DEMO_MAX_EPOCHS="3" if real else "2")
    import app
    from vae_demo.services.registry import ModelRegistry
    from vae_demo.services.testdata import TestImages

    registry = ModelRegistry(ck, user_directory=tmp_path_factory.mktemp("user_ck"))  # the app trains into this
    demo = app.build_app(registry, TestImages(data))
    url = launch(demo)
    shots = Path(os.environ.get("VAE_DEMO_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    yield {"url": url, "registry": registry, "shots": shots, "real": bool(real)}
    demo.close()
    from tests.helpers.toy_codes import unregister_toy

    unregister_toy()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, accept_downloads=True)  # a projector
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(server["url"])
    pg.locator("#restore-row img").first.wait_for()
    yield pg
    ctx.close()


def _tab(page, name: str):
    page.get_by_role("tab", name=name).click()


def test_restore_tab(page, server):
    before = srcs(page, "#restore-row")
    assert len(before) >= 3  # original, corrupted and at least one model
    row_text = page.locator("#restore-summary").inner_text()
    assert "PSNR" in row_text and "SSIM" in row_text
    move_slider(page, "#restore-severity", 0.6)
    wait_change(page, "#restore-row", before)
    after = srcs(page, "#restore-row")
    assert after[1] != before[1]  # the corrupted panel changed
    # a new test image by the random button
    before = srcs(page, "#restore-row")
    page.locator("#restore-random").click()
    wait_change(page, "#restore-row", before)
    page.wait_for_timeout(1500)  # (the README's restore screenshot comes from tests/test_classroom.py)


def test_sliders_tab(page, server):
    _tab(page, "Latent sliders")
    page.locator("#sliders-image img").wait_for()
    page.locator("#sliders-z0 input[type=range]").wait_for()
    page.wait_for_timeout(500)
    a = pixels(page, "#sliders-image")
    page.evaluate(OBSERVE_JS)
    for v in (2.5, -2.5):
        before = page.evaluate(MOVE_JS, ["#sliders-z0", v])
        page.wait_for_function("n => window.__imgChanges.length > n", arg=before, timeout=30_000)
        b = pixels(page, "#sliders-image")
        if not np.array_equal(a, b):
            break
    assert not np.array_equal(a, b), "moving the first slider did not change the decoded image"
    page.screenshot(path=str(server["shots"] / "sliders.png"))


def test_code_grid_editor(page, server):
    """A model whose code is discrete: its sliders are a grid of codebook indices. Click a cell, pick another
    code, and the decoded image changes (whatever model declares a discrete code: the toy one here, the
    VQ-VAE with the real checkpoints)."""
    e = next((e for e in server["registry"].entries("mnist", latent_code=True) if e.model.discrete), None)
    assert e is not None, "no model with a discrete code for MNIST"
    _tab(page, "Latent sliders")
    page.locator("#sliders-model input").click()
    page.get_by_role("option", name=e.name).first.click()
    page.locator("#codes-grid img").wait_for()
    page.wait_for_function("() => document.querySelector('#codes-code').innerText.includes('Code of cell')")
    assert not page.locator("#sliders-z0").is_visible()  # no sliders for a discrete code
    page.wait_for_timeout(500)
    image_before = pixels(page, "#sliders-image")
    grid_before = srcs(page, "#codes-grid")
    box = page.locator("#codes-grid img").bounding_box()
    page.mouse.click(box["x"] + 0.9 * box["width"], box["y"] + 0.3 * box["height"])  # top right: not the middle
    h, w = e.model.code_grid
    row, col = int(0.3 * h), int(0.9 * w)
    page.wait_for_function("t => document.querySelector('#codes-code').innerText.includes(t)",
                           arg=f"cell (row {row}, col {col})")
    wait_change(page, "#codes-grid", grid_before)  # the selected cell is outlined
    current = int(float(page.locator("#codes-code input[type=number]").input_value()))
    new = (current + e.model.codebook_size // 2) % e.model.codebook_size
    before = srcs(page, "#sliders-image")
    move_slider(page, "#codes-code", new)
    wait_change(page, "#sliders-image", before)
    page.wait_for_timeout(300)
    assert not np.array_equal(image_before, pixels(page, "#sliders-image")), "the new code changed nothing"
    assert f"holds code **{new}**".replace("**", "") in page.locator("#codes-info").inner_text()
    page.screenshot(path=str(server["shots"] / "code_grid.png"))
    # the latent map of a discrete code is its codebook: one dot per code
    _tab(page, "Latent map")
    page.locator("#map-model input").click()
    page.get_by_role("option", name=e.name).first.click()
    page.wait_for_function("() => document.querySelector('#map-info').innerText.includes('perplexity')")
    page.wait_for_function("""k => { const gd = document.querySelector('#map-plot .js-plotly-plot');
        return gd && gd._fullData && gd._fullData[0].x.length === k; }""", arg=e.model.codebook_size)
    page.wait_for_timeout(500)
    page.screenshot(path=str(server["shots"] / "codebook.png"))


def _inside(page, sub: str):
    _tab(page, "Inside a VAE")
    page.get_by_role("tab", name=sub).click()


def test_inside_one_image_step_by_step(page, server):
    """Resample ε: the numbers change and the decoded image repaints."""
    _inside(page, "One image, step by step")
    page.locator("#step-decoded img").wait_for()
    page.locator("#step-posterior .js-plotly-plot").wait_for()
    page.wait_for_function("() => document.querySelector('#step-numbers').innerText.includes('Loss for this draw')")
    text = page.locator("#step-numbers").inner_text()
    before = srcs(page, "#step-decoded")
    page.locator("#step-resample").click()
    page.wait_for_function("t => document.querySelector('#step-numbers').innerText !== t", arg=text)
    wait_change(page, "#step-decoded", before)
    assert page.locator("#step-seed input").input_value() == "1"
    text = page.locator("#step-numbers").inner_text()
    before = srcs(page, "#step-decoded")
    move_slider(page, "#step-eps", 2.5)  # the busiest dim's ε: z moves, the image repaints
    page.wait_for_function("t => document.querySelector('#step-numbers').innerText !== t", arg=text)
    wait_change(page, "#step-decoded", before)
    box = page.locator("#step-decoded img").bounding_box()
    assert box["height"] >= 196  # readable from the back of a classroom


def test_inside_ae_vs_vae_renders_both_maps(page, server):
    _inside(page, "AE vs VAE")
    for sel in ("#pair-ae-map", "#pair-vae-map", "#pair-hist"):
        page.locator(f"{sel} .js-plotly-plot").wait_for()
    page.locator("#pair-ae-draws img").wait_for()
    page.locator("#pair-vae-draws img").wait_for()
    assert "Kolmogorov-Smirnov" in page.locator("#pair-info").inner_text()
    n = page.evaluate("""() => ['#pair-ae-map', '#pair-vae-map'].map(s =>
        document.querySelector(s + ' .js-plotly-plot')._fullData.reduce((k, t) => k + t.x.length, 0))""")
    assert n[0] == n[1] > 0  # the same test images in both
    page.wait_for_timeout(500)


def test_inside_why_restorations_are_blurry(page, server):
    _inside(page, "Why restorations are blurry")
    page.locator("#blurry-go").click()
    page.wait_for_function("() => document.querySelector('#blurry-verdict').innerText.includes('completions from')")
    for sel in ("#blurry-corrupted", "#blurry-average", "#blurry-restored", "#blurry-strip"):
        page.locator(f"{sel} img").wait_for()
    text = page.locator("#blurry-verdict").inner_text()
    page.locator("#blurry-index input").fill("3")
    page.locator("#blurry-index input").press("Enter")
    page.wait_for_function("t => document.querySelector('#blurry-verdict').innerText !== t", arg=text)  # other numbers


def test_inside_what_the_network_learned(page, server):
    from vae_demo.services.inside import denoiser_pair

    _inside(page, "What the network learned")
    if denoiser_pair(server["registry"].entries("mnist")) is None:  # a world without such a pair says so
        page.wait_for_function("() => document.querySelector('#filters-info').innerText.includes('No pair for mnist')")
        return
    page.locator("#filters-clean img").wait_for()
    page.locator("#filters-denoiser img").wait_for()
    text = page.locator("#filters-info").inner_text()
    assert "Correlation of neighbouring weights" in text and "denoiser" in text


def test_inside_anomaly_scores_another_datasets_image(page, server):
    _inside(page, "Not like the training data?")
    page.locator("#anomaly-input img").wait_for()
    page.locator("#anomaly-other").click()
    page.wait_for_function("() => document.querySelector('#anomaly-verdict').innerText.includes('fashion-mnist')")
    assert "reconstruction error" in page.locator("#anomaly-verdict").inner_text()
    page.locator("#anomaly-hist .js-plotly-plot").wait_for()


def test_latent_map_tab(page, server):
    _tab(page, "Latent map")
    page.locator("#map-plot .js-plotly-plot").wait_for()
    page.locator("#map-decoded img").wait_for()
    page.wait_for_timeout(500)
    n_points = page.evaluate("""() => {
        const gd = document.querySelector('#map-plot .js-plotly-plot');
        // _fullData holds the decoded arrays (plotly ships numpy arrays as base64 typed arrays)
        return gd._fullData.filter(t => t.name !== 'decoded point').reduce((s, t) => s + t.x.length, 0); }""")
    label = page.locator("#map-model input").input_value()
    name = label.split(" — ")[0]
    stored = len(server["registry"].get(name).ckpt.extras["test_latents"])
    assert n_points == stored
    before = srcs(page, "#map-decoded")
    x_max = page.evaluate("() => document.querySelector('#map-x input[type=range]').max")
    move_slider(page, "#map-x", float(x_max))
    wait_change(page, "#map-decoded", before)
    # a click on the map moves the crosshair there (page script → x/y sliders → decode)
    before = srcs(page, "#map-decoded")
    x_before = page.locator("#map-x input[type=number]").input_value()
    page.wait_for_timeout(1000)  # the slider's release re-draws the plot (new crosshair)
    drag = page.locator("#map-plot .nsewdrag").first
    drag.wait_for(state="visible")
    r = drag.bounding_box()
    assert r is not None
    page.mouse.click(r["x"] + r["width"] * 0.25, r["y"] + r["height"] * 0.5)
    wait_change(page, "#map-decoded", before)
    assert page.locator("#map-x input[type=number]").input_value() != x_before
    page.screenshot(path=str(server["shots"] / "latent_map.png"))


def test_interpolation_tab(page, server, tmp_path):
    _tab(page, "Interpolation")
    page.locator("#interp-go").click()
    page.locator("#interp-gif img").wait_for()
    page.locator("#interp-slerp img").wait_for()
    before = srcs(page, "#interp-linear")
    page.locator("#interp-random").click()
    wait_change(page, "#interp-linear", before)
    page.wait_for_timeout(500)
    with page.expect_download(timeout=30_000) as dl:
        page.locator("#interp-download").click()
    path = tmp_path / "path.gif"
    dl.value.save_as(path)
    steps = int(page.locator("#interp-steps input[type=number]").input_value())
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == steps
    page.evaluate("document.querySelector('#interp-go').scrollIntoView()")  # the strips, under the button
    page.screenshot(path=str(server["shots"] / "interpolation.png"))


def test_train_tab_adds_model_everywhere(page, server, browser):
    other = browser.new_page(viewport={"width": 1280, "height": 720})  # a second visitor, already open
    other.goto(server["url"])
    other.locator("#restore-row img").first.wait_for(timeout=60_000)
    _tab(page, "Train")
    page.locator("#train-model input").click()
    page.get_by_role("option", name="mlp_vae").first.click()
    page.locator("#train-latent input[type=number]").fill("2")
    page.locator("#train-epochs input").fill("1" if not server["real"] else "3")
    page.locator("#train-limit input").fill("64" if not server["real"] else "5000")
    before = set(server["registry"].names())
    page.locator("#train-start").click()
    page.wait_for_function("""() => {
        const t = document.querySelector('#train-status').innerText.trim();
        return t.startsWith('done') || t.startsWith('failed'); }""", timeout=180_000)
    assert page.locator("#train-status").inner_text().strip().startswith("done")
    new = set(server["registry"].names()) - before
    assert len(new) == 1
    name = new.pop()
    page.locator("#train-recon img").wait_for()
    page.evaluate("document.querySelector('#train-status').scrollIntoView()")  # status, curves, reconstructions
    page.screenshot(path=str(server["shots"] / "train.png"))
    # the new checkpoint is offered in the other tabs' pickers without a restart
    for tab, picker in (("Latent sliders", "#sliders-model"), ("Latent map", "#map-model"),
                        ("Interpolation", "#interp-model")):
        _tab(page, tab)
        page.locator(f"{picker} input").click()
        page.get_by_role("option", name=name).first.wait_for(timeout=30_000)
        page.keyboard.press("Escape")
    # ... and in the page that was already open elsewhere (its timer notices the new registry version)
    _tab(other, "Latent sliders")
    other.wait_for_timeout(6000)
    other.locator("#sliders-model input").click()
    other.get_by_role("option", name=name).first.wait_for(timeout=30_000)
    other.close()


def test_train_tab_shows_only_the_settings_the_chosen_kind_takes(page):
    _tab(page, "Train")
    assert page.locator("#train-beta").is_visible() and not page.locator("#train-mask-input").is_visible()
    page.locator("#train-model input").click()
    page.get_by_role("option", name="unet").first.click()  # a U-Net: no KL term, but a mask input
    page.locator("#train-mask-input").wait_for(state="visible")
    assert not page.locator("#train-beta").is_visible()
