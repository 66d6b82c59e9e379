"""In Chromium at 1280×720, as a teacher projecting the app sees it: the committed checkpoints, no data dir.

Asserted from the page itself: the restore row's images are ≥ 196 px wide, their captions are text with
a computed font size ≥ 16 px, and the row is on screen without scrolling; the model picker changes the
row; the PCA slider only exists where a PCA model does; interpolation works from two uploaded images
with no test images at all. Screenshots go to ``$VAE_DEMO_SCREENSHOT_DIR`` when it is set (the README's
come from ``VAE_DEMO_SCREENSHOT_DIR=docs/screenshots python -m pytest tests/test_classroom.py``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from tests.helpers import classroom
from tests.helpers.classroom import ROOT, app_with
from vae_demo.services.testdata import TestImages

pytestmark = [pytest.mark.browser, pytest.mark.slow]


browser, server = classroom.browser, classroom.server  # module fixtures: one app, one Chromium


def _page(browser, url, width=1280, height=720):
    pg = browser.new_page(viewport={"width": width, "height": height})
    pg.set_default_timeout(60_000)
    pg.goto(url)
    pg.locator("#restore-row img").first.wait_for()
    pg.wait_for_function("() => !document.querySelector('#restore-summary').innerText.includes('processing')")
    return pg


ROW_FACTS = """() => {
    const row = document.querySelector('#restore-row');
    const caps = [...row.querySelectorAll('figcaption span')].map(s => ({
        text: s.innerText, px: parseFloat(getComputedStyle(s).fontSize),
        bottom: s.getBoundingClientRect().bottom}));
    return {top: row.getBoundingClientRect().top, vh: window.innerHeight,
            widths: [...row.querySelectorAll('img')].map(i => i.getBoundingClientRect().width),
            img_bottoms: [...row.querySelectorAll('img')].map(i => i.getBoundingClientRect().bottom), caps};
}"""


def _row_text(page) -> str:
    return page.locator("#restore-row").inner_text()


def test_the_default_restore_row_is_readable_and_on_screen_at_1280x720(browser, server):
    page = _page(browser, server["url"])
    f = page.evaluate(ROW_FACTS)
    assert len(f["widths"]) == 5 and min(f["widths"]) >= 196, f["widths"]  # original, corrupted, 3 models
    assert 0 <= f["top"] < f["vh"] and max(f["img_bottoms"]) <= f["vh"], f  # the whole row without scrolling
    names = [c for c in f["caps"] if c["text"].strip()]
    assert names and min(c["px"] for c in names) >= 16
    assert max(c["bottom"] for c in names) <= f["vh"]  # ... captions included
    text = _row_text(page)
    assert "dB · SSIM" in text and "original" in text and "corrupted" in text and "classical" in text
    page.screenshot(path=str(server["shots"] / "restore.png"))
    page.close()


def test_the_model_picker_changes_the_row_and_the_pca_slider_follows_pca(browser, server):
    page = _page(browser, server["url"])
    assert not page.locator("#restore-pca-dims").is_visible()  # PCA is not in the default row
    page.locator("#restore-models input").click()
    page.get_by_role("option", name="mnist_pca_z64").click()
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelectorAll('#restore-row img').length === 6")
    assert "mnist_pca_z64" in _row_text(page)
    page.locator("#restore-pca-dims").wait_for(state="visible")
    # fashion-mnist's own row: no PCA in it, no slider; its PCA picked, the slider again
    page.locator("#dataset").get_by_text("fashion-mnist", exact=True).click()
    page.wait_for_function("() => document.querySelector('#restore-summary').innerText.includes(' of fashion-mnist;')")
    page.wait_for_timeout(1000)
    assert not page.locator("#restore-pca-dims").is_visible()
    page.locator("#restore-models input").click()
    page.get_by_role("option", name="fashion-mnist_pca_z64").click()
    page.keyboard.press("Escape")
    page.locator("#restore-pca-dims").wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#restore-row').innerText.includes('fashion-mnist_pca_z64')")
    # back on mnist the visitor's own choice for mnist is remembered
    page.locator("#dataset").get_by_text("mnist", exact=True).click()
    page.wait_for_function("() => document.querySelector('#restore-summary').innerText.includes(' of mnist;')")
    page.wait_for_function("() => document.querySelectorAll('#restore-row img').length === 6")
    assert "mnist_pca_z64" in _row_text(page)
    page.close()


def test_a_large_screen_shows_the_same_row(browser, server):
    page = _page(browser, server["url"], 1920, 1080)
    f = page.evaluate(ROW_FACTS)
    assert min(f["widths"]) >= 196 and max(f["img_bottoms"]) <= f["vh"]
    page.screenshot(path=str(server["shots"] / "restore_1920x1080.png"))
    page.close()


def test_interpolation_from_two_uploads_with_no_test_images(browser, tmp_path_factory, tmp_path):
    os.environ["VAE_DEMO_DOWNLOAD"] = "0"
    nothing = tmp_path_factory.mktemp("nothing")
    demo, url, _ = app_with(tmp_path_factory, TestImages(nothing, sample_path=nothing / "no_sample.npz"))
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(60_000)
        page.goto(url)
        page.get_by_role("tab", name="Interpolation").click()
        for end, seed in (("a", 1), ("b", 2)):
            img = np.zeros((28, 28), np.uint8)
            rng = np.random.default_rng(seed)
            img[6:22, 8 + seed * 3: 12 + seed * 3] = 255  # a bar: a "1" in two places
            img[rng.integers(4, 24), 4:24] = 255
            path = tmp_path / f"{end}.png"
            Image.fromarray(255 - img).save(path)  # dark ink on paper, as a photo of a drawing would be
            with page.expect_file_chooser() as chooser:
                page.locator(f"#interp-{end}-upload").click()
            chooser.value.set_files(str(path))
            page.locator(f"#interp-{end} img").wait_for()
        page.locator("#interp-go").click()
        page.locator("#interp-slerp img").wait_for()
        page.locator("#interp-linear img").wait_for()
        info = page.locator("#interp-info").inner_text()
        assert "apart" in info and "midpoint" in info
        page.close()
    finally:
        demo.close()
        os.environ.pop("VAE_DEMO_DOWNLOAD", None)


# --- Inside a VAE at 1280×800: each view's explanation and main picture on one screen ----------------

INSIDE_VIEWS = {  # sub-tab: (what shows it is drawn, the main picture's parts, single 28×28 images in it)
    "One image, step by step": ("#step-elbo .js-plotly-plot", ["#step-posterior", "#step-elbo", "#step-decoded img",
                                                                "#step-resample"],
                                ["#step-decoded img"]),
    "AE vs VAE": ("#pair-vae-draws img", ["#pair-ae-map", "#pair-vae-map", "#pair-hist", "#pair-ae-draws img",
                                          "#pair-vae-draws img"], []),
    "Why restorations are blurry": ("#blurry-strip img", ["#blurry-corrupted img", "#blurry-average img",
                                                          "#blurry-restored img", "#blurry-strip img"],
                                    ["#blurry-corrupted img", "#blurry-average img", "#blurry-restored img"]),
    "What the network learned": ("#filters-denoiser img", ["#filters-clean img", "#filters-denoiser img"], []),
    "Not like the training data?": ("#anomaly-hist .js-plotly-plot", ["#anomaly-input img", "#anomaly-hist"],
                                    ["#anomaly-input img", "#anomaly-recon img"]),
    "The network's shape": ("#network-shape .js-plotly-plot", ["#network-summary", "#network-shape", "#network-taps img"],
                            ["#network-taps img", "#network-output img"]),
    "β and the rate–distortion plane": ("#rate-kl .js-plotly-plot", ["#rate-plane", "#rate-model", "#rate-summary",
                                                                      "#rate-kl"], []),
}
SHOT_NAMES = {"One image, step by step": "inside_step", "AE vs VAE": "inside_pair",
              "Why restorations are blurry": "inside_blurry", "What the network learned": "inside_filters",
              "Not like the training data?": "inside_anomaly", "The network's shape": "inside_network",
              "β and the rate–distortion plane": "inside_rate"}

BOXES = """sels => sels.map(s => { const el = document.querySelector(s); if (!el) return null;
    const r = el.getBoundingClientRect(); return {sel: s, top: r.top, bottom: r.bottom, width: r.width,
                                                  height: r.height}; })"""


@pytest.mark.parametrize("view", list(INSIDE_VIEWS))
def test_each_inside_view_fits_one_1280x800_screen_with_its_explanation(browser, server, view):
    ready, parts, singles = INSIDE_VIEWS[view]
    page = _page(browser, server["url"], 1280, 800)
    page.get_by_role("tab", name="Inside a VAE").click()
    page.get_by_role("tab", name=view).click()
    if view == "Why restorations are blurry":
        page.locator("#blurry-go").click()
    page.locator(ready).wait_for()
    if view == "Not like the training data?":  # the built-in example: a Fashion-MNIST image on an MNIST model
        page.locator("#anomaly-other").click()
        page.wait_for_function("() => document.querySelector('#anomaly-verdict').innerText.includes('fashion-mnist')")
    page.wait_for_timeout(1500)  # plots settle to their final height
    assert page.evaluate("() => window.scrollY") == 0
    explain = "#" + {"One image, step by step": "step", "AE vs VAE": "pair", "Why restorations are blurry": "blurry",
                     "What the network learned": "filters", "Not like the training data?": "anomaly",
                     "The network's shape": "network", "β and the rate–distortion plane": "rate"}[view] + "-explain"
    boxes = page.evaluate(BOXES, [explain, *parts])
    assert all(boxes), boxes  # every part is on the page
    for b in boxes:
        assert b["height"] > 0 and 0 <= b["top"] and b["bottom"] <= 800, (view, b)  # no scrolling
    for b in page.evaluate(BOXES, singles):
        assert min(b["width"], b["height"]) >= 196, (view, b)  # a 28×28 image at ≥ 7× from the back of the room
    page.screenshot(path=str(server["shots"] / f"{SHOT_NAMES[view]}.png"))
    page.close()


def test_an_idle_page_learns_of_a_new_checkpoint_without_a_timer_event(browser, server):
    """A model trained in another page shows up here within a poll or two; in between, an idle page sends
    the server nothing but static GETs of the versions file (no Gradio event: each costs the server ~20 ms
    and the page ~100 ms), and one event when the file changed."""
    import shutil

    registry = server["registry"]
    page = _page(browser, server["url"])
    note = page.locator("#models-note").inner_text()
    assert f"mnist {len(registry.entries('mnist'))}," in note, note  # the committed MNIST models, counted
    calls = []
    page.on("request", lambda r: calls.append(r.url))
    # the page's own load first: each tab's and view's first pictures (events chained from the load ones, e.g.
    # a view's model set at load draws it) may still be running when the restore row is ready
    for _ in range(40):
        n = len(calls)
        page.wait_for_timeout(1_000)
        if not any("/queue/join" in u for u in calls[n:]):
            break
    calls.clear()
    page.wait_for_timeout(6_000)  # at most the first poll's one ask (whatever changed since the page loaded)
    assert sum("/queue/join" in u for u in calls) <= 1, calls
    calls.clear()
    page.wait_for_timeout(11_000)  # two more polls, nothing changed
    assert calls and all("versions-" in u for u in calls), calls
    calls.clear()
    user = registry.user_directory
    for ext in ("json", "safetensors"):
        shutil.copy(ROOT / "checkpoints" / f"mnist_pca_z64.{ext}", user / f"mnist_pca_z64_copy.{ext}")
    try:
        registry.refresh()  # what a finished training job does
        page.wait_for_function("n => document.querySelector('#models-note').innerText.includes('mnist ' + n + ',')",
                               arg=len(registry.entries("mnist")), timeout=20_000)  # one more than before
        events = [u for u in calls if "versions-" not in u]
        assert 2 <= sum("/queue/join" in u for u in events) <= 20, events  # the check, then each tab re-lists
    finally:
        for ext in ("json", "safetensors"):
            (user / f"mnist_pca_z64_copy.{ext}").unlink()
        registry.refresh()
    page.close()


def test_the_versions_file_is_rewritten_only_when_a_version_changes(tmp_path):
    import json
    import time

    from vae_demo.services.versions import VersionsFile

    state = [1, 0]
    f = VersionsFile(lambda: list(state), tmp_path, period=0.05)
    assert json.loads(f.path.read_text()) == [1, 0]
    before = f.path.stat().st_mtime_ns
    time.sleep(0.3)
    assert f.path.stat().st_mtime_ns == before  # nothing changed: not rewritten
    state[0] = 2
    time.sleep(0.3)
    assert json.loads(f.path.read_text()) == [2, 0]


@pytest.mark.parametrize("dataset, ae, vae", [("mnist", "mnist_conv_ae_z16", "mnist_conv_vae_z16"),
                                              ("fashion-mnist", "fashion-mnist_conv_ae_z16", "fashion-mnist_conv_vae_z16"),
                                              ("cifar10", "cifar10_conv_ae_z128", "cifar10_conv_vae_z128")])
def test_every_dataset_has_its_ae_vs_vae_pair_on_screen(browser, server, dataset, ae, vae):
    """The committed twins: each dataset's AE vs VAE view shows its own autoencoder and VAE, never a message."""
    page = _page(browser, server["url"])
    page.locator("#dataset").get_by_text(dataset, exact=True).click()
    page.get_by_role("tab", name="Inside a VAE").click()
    page.get_by_role("tab", name="AE vs VAE").click()
    page.wait_for_function("([a, v]) => document.querySelector('#pair-ae-map').innerText.includes(a)"
                           " && document.querySelector('#pair-vae-map').innerText.includes(v)", arg=[ae, vae])
    assert not page.locator("#pair-none").is_visible()
    page.locator("#pair-ae-draws img").wait_for()  # the draws come a moment after the maps
    page.locator("#pair-vae-draws img").wait_for()
    page.close()
