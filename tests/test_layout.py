"""Layout, in Chromium: what a teacher projecting at 1280×720 and a student on a phone (390×844) see.

At 1280×720 (the committed checkpoints, the sample shipped with the app, no data dir): the main picture of
every view, each Inside-a-VAE sub-view and the Train tab after pressing Train starts on the first screen,
no label is drawn over it and no dropdown's text is cut; the restore row stays in view with six models
picked, and the sketch pad fits one screen with the row it feeds. At 390×844: every tab and sub-tab can be
seen and clicked (no "•••" menu), the restore row is a grid of two, the sliders' decoded image is in view
while a slider moves, and display maths is not cut off. Screenshots go to ``$VAE_DEMO_SCREENSHOT_DIR`` if set.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.browser import chromium, require_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
W, H = 1280, 720  # a projector
PHONE = (390, 844)

# where a picture is drawn (an image's pixels inside its box, a plot's axes), the visible labels over it,
# and whether it is on the first screen; page coordinates are the viewport's (the page is not scrolled)
PICTURE_JS = """(sel) => {
  const shown = (e) => { const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; };
  const els = [...document.querySelectorAll(sel)].filter(shown);
  if (!els.length) return null;
  const rects = [];
  for (const el of els) {
    const drags = [...el.querySelectorAll('.nsewdrag')].filter(shown);
    if (drags.length) { drags.forEach((d) => rects.push(d.getBoundingClientRect())); continue; }
    const r = el.getBoundingClientRect();
    const fit = getComputedStyle(el).objectFit;
    if (el.tagName === 'IMG' && el.naturalWidth && (fit === 'contain' || fit === 'scale-down')) {
      let s = Math.min(r.width / el.naturalWidth, r.height / el.naturalHeight);
      if (fit === 'scale-down') s = Math.min(s, 1);
      const w = el.naturalWidth * s, h = el.naturalHeight * s;
      rects.push({left: r.left + (r.width - w) / 2, top: r.top + (r.height - h) / 2,
                  right: r.left + (r.width + w) / 2, bottom: r.top + (r.height + h) / 2});
    } else rects.push(r);
  }
  const box = {left: Math.min(...rects.map((r) => r.left)), top: Math.min(...rects.map((r) => r.top)),
               right: Math.max(...rects.map((r) => r.right)), bottom: Math.max(...rects.map((r) => r.bottom))};
  const over = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
    && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  const labels = [...document.querySelectorAll('[data-testid="block-label"]')].filter(shown)
    .filter((l) => rects.some((r) => over(l.getBoundingClientRect(), r))).map((l) => l.innerText.trim());
  return {...box, labels, vw: window.innerWidth, vh: window.innerHeight, scroll: window.scrollY};
}"""

# single-choice dropdowns on screen whose chosen text is wider than the box ("convolutional VA▾")
CUT_DROPDOWNS_JS = """() => [...document.querySelectorAll('input[role="combobox"]')]
  .filter((i) => i.getBoundingClientRect().width > 0 && i.value && i.scrollWidth > i.clientWidth + 1)
  .map((i) => i.value)"""


def _shots(tmp_path_factory) -> Path:
    d = Path(os.environ.get("VAE_DEMO_SCREENSHOT_DIR") or tmp_path_factory.mktemp("layout_shots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _tiny_training_data(folder: Path) -> Path:
    """mnist.npz in Keras layout from the shipped sample's 64 images: a Train job of one epoch in seconds."""
    from vae_demo.data import SAMPLE_FILE

    with np.load(SAMPLE_FILE) as z:
        x, y = z["mnist_x"], z["mnist_y"]
    np.savez(folder / "mnist.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    import app
    from vae_demo.bench.latency import launch
    from vae_demo.services.jobs import JobManager
    from vae_demo.services.registry import ModelRegistry
    from vae_demo.services.testdata import TestImages

    old = os.environ.get("VAE_DEMO_DOWNLOAD")
    os.environ["VAE_DEMO_DOWNLOAD"] = "0"
    registry = ModelRegistry(ROOT / "checkpoints", user_directory=tmp_path_factory.mktemp("user_ck"))
    images = TestImages(tmp_path_factory.mktemp("no_data"))  # the sample shipped with the app
    jobs = JobManager(registry, _tiny_training_data(tmp_path_factory.mktemp("train_data")))
    demo = app.build_app(registry, images, jobs)
    yield {"url": launch(demo), "shots": _shots(tmp_path_factory)}
    demo.close()
    if old is None:
        os.environ.pop("VAE_DEMO_DOWNLOAD", None)
    else:
        os.environ["VAE_DEMO_DOWNLOAD"] = old


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as b:
        yield b


def _open(browser, url, size=(W, H)):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.set_default_timeout(60_000)
    page.goto(url)
    page.locator("#restore-row img").first.wait_for()
    return page


@pytest.fixture(scope="module")
def projector(browser, server):
    page = _open(browser, server["url"])
    yield page
    page.close()


def _tab(page, name: str):
    page.get_by_role("tab", name=name, exact=True).click()


def _reach_tab(page, name: str):
    """Click the tab ``name`` wherever it is, in Gradio's "•••" menu too (the tests of what a phone shows
    with a tab open then fail for their own reason)."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if not tab.is_visible():
        page.locator(".overflow-menu button").first.click()
        page.locator(".overflow-dropdown button").get_by_text(name, exact=True).click()
    else:
        tab.click()


def _slug(name: str) -> str:
    words = ["".join(c for c in w if c.isalnum()) for w in name.lower().split()]
    return "_".join([w for w in words if w][:2])


def _top(page):
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(300)


def _check_picture(page, sel: str, what: str, whole: bool = False):
    """The picture ``sel`` starts on the first screen (``whole``: is all on it), with no label over it."""
    p = page.evaluate(PICTURE_JS, sel)
    assert p is not None, f"{what}: {sel} is not on the page"
    assert p["scroll"] == 0
    assert 0 <= p["top"] < p["vh"], f"{what}: the picture starts at y={p['top']:.0f}, below the first screen"
    if whole:
        assert p["bottom"] <= p["vh"] + 1, f"{what}: the picture ends at y={p['bottom']:.0f}, off the screen"
    assert not p["labels"], f"{what}: label(s) {p['labels']} drawn over the picture"
    cut = page.evaluate(CUT_DROPDOWNS_JS)
    assert not cut, f"{what}: dropdown text cut off: {cut}"


VIEWS = {  # tab: (what shows it is drawn, the main picture, the whole picture must be in view)
    "Corrupt & restore": ("#restore-row img", "#restore-row img, #restore-row figcaption", True),
    "Latent sliders": ("#sliders-image img", "#sliders-image img", True),
    "Latent map": ("#map-plot .nsewdrag", "#map-plot", False),
    "Interpolation": ("#interp-slerp img", "#interp-pixel img, #interp-linear img, #interp-slerp img", True),
}


@pytest.mark.parametrize("view", list(VIEWS))
def test_each_tab_starts_its_picture_on_the_first_screen(projector, server, view):
    ready, picture, whole = VIEWS[view]
    page = projector
    _tab(page, view)
    page.locator(ready).first.wait_for()
    page.wait_for_timeout(1500)  # plots and images settle to their final size
    _top(page)
    page.screenshot(path=str(server["shots"] / f"layout_{_slug(view)}.png"))
    _check_picture(page, picture, view, whole)


INSIDE = {  # sub-tab: (what shows it is drawn, the main picture)
    "One image, step by step": ("#step-elbo .js-plotly-plot", "#step-decoded img"),
    "AE vs VAE": ("#pair-vae-draws img", "#pair-vae-map"),
    "Why restorations are blurry": ("#blurry-strip img", "#blurry-average img"),
    "What the network learned": ("#filters-denoiser img", "#filters-clean img"),
    "Not like the training data?": ("#anomaly-hist .js-plotly-plot",
                                    "#anomaly-input img, #anomaly-recon img, #anomaly-hist"),
    "The network's shape": ("#network-taps img", "#network-shape"),
    "β and the rate–distortion plane": ("#rate-kl .js-plotly-plot", "#rate-plane"),
}


@pytest.mark.parametrize("view", list(INSIDE))
def test_each_inside_view_starts_its_picture_on_the_first_screen(projector, server, view):
    ready, picture = INSIDE[view]
    page = projector
    _tab(page, "Inside a VAE")
    _tab(page, view)
    if view == "Why restorations are blurry":
        page.locator("#blurry-go").click()
    page.locator(ready).wait_for()
    page.wait_for_timeout(1500)
    _top(page)
    page.screenshot(path=str(server["shots"] / f"layout_inside_{_slug(view)}.png"))
    _check_picture(page, picture, f"Inside a VAE / {view}")


def test_a_discrete_codes_grid_on_the_map_has_no_label_over_its_top_row(projector, server):
    page = projector
    _tab(page, "Latent map")
    page.locator("#map-model input").click()
    page.get_by_role("option", name="mnist_vqvae").first.click()
    page.wait_for_function("() => document.querySelector('#map-info').innerText.includes('perplexity')")
    page.wait_for_timeout(1500)
    _top(page)
    page.screenshot(path=str(server["shots"] / "layout_map_codes.png"))
    _check_picture(page, "#map-decoded img", "the map's code grid", whole=True)
    _check_picture(page, "#map-plot", "the codebook map")


def test_the_sketch_pad_and_the_row_it_feeds_fit_one_screen(projector, server):
    page = projector
    _tab(page, "Corrupt & restore")
    _tab(page, "Draw")
    page.locator("#restore-sketch canvas").first.wait_for()
    page.evaluate("() => document.querySelector('#restore-row').scrollIntoView()")
    page.wait_for_timeout(500)
    row = page.locator("#restore-row").bounding_box()
    pad = page.locator("#restore-sketch").bounding_box()
    button = page.locator("#restore-use-sketch").bounding_box()
    page.screenshot(path=str(server["shots"] / "layout_draw.png"))
    assert row["y"] >= -1 and max(pad["y"] + pad["height"], button["y"] + button["height"]) <= H + 1, (row, pad)
    _tab(page, "Test images")
    _top(page)


@pytest.mark.parametrize("dataset", ["fashion-mnist", "cifar10"])
def test_the_restore_row_stays_on_screen_with_every_model_picked(browser, server, dataset):
    page = _open(browser, server["url"])
    page.locator("#dataset").get_by_text(dataset, exact=True).click()
    page.wait_for_function(f"() => document.querySelector('#restore-summary').innerText.includes(' of {dataset};')")
    for _ in range(8):  # pick every model not yet in the row: six models or more
        page.locator("#restore-models input").click()
        options = [o for o in page.get_by_role("option").all() if o.get_attribute("aria-selected") != "true"]
        if not options:
            break
        options[0].click()
        page.wait_for_timeout(300)
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelectorAll('#restore-row img').length >= 8")
    page.wait_for_function("() => !document.querySelector('#restore-summary').innerText.includes('processing')")
    page.wait_for_timeout(1000)
    _top(page)
    page.screenshot(path=str(server["shots"] / f"layout_restore_{dataset}.png"))
    _check_picture(page, "#restore-row img, #restore-row figcaption", f"the {dataset} row", whole=True)
    spilt = page.evaluate("() => [...document.querySelectorAll('#restore-row figcaption')]"
                          ".filter((f) => f.scrollWidth > f.clientWidth + 1).map((f) => f.innerText)")
    assert not spilt, f"captions wider than their panel: {spilt}"  # narrower panels: the text wraps
    models = page.locator("#restore-models").bounding_box()
    assert models["height"] <= 110, f"the picker grew to {models['height']:.0f} px"  # one line of chips
    page.close()


def test_train_shows_curves_and_reconstructions_on_screen_and_a_new_page_starts_empty(browser, server):
    page = _open(browser, server["url"])
    _tab(page, "Train")
    page.locator("#train-epochs input").fill("1")
    page.locator("#train-batch input").fill("32")
    page.locator("#train-limit input").fill("64")
    page.locator("#train-start").click()
    page.wait_for_function("""() => {
        const t = document.querySelector('#train-status').innerText.trim();
        return t.startsWith('done') || t.startsWith('failed'); }""", timeout=120_000)
    assert page.locator("#train-status").inner_text().strip().startswith("done")
    page.locator("#train-recon img").wait_for()
    page.locator("#train-curves .nsewdrag").first.wait_for()
    page.wait_for_timeout(1000)
    _top(page)
    page.screenshot(path=str(server["shots"] / "layout_train.png"))
    _check_picture(page, "#train-curves", "Train's curves after pressing Train", whole=True)
    _check_picture(page, "#train-recon img", "Train's reconstructions after pressing Train", whole=True)
    page.close()
    # a page opened afterwards is a fresh start: no curves of the job another page ran
    fresh = _open(browser, server["url"])
    _tab(fresh, "Train")
    fresh.wait_for_timeout(2000)  # the page's load events have run
    assert "No training job from this page" in fresh.locator("#train-status").inner_text()
    assert fresh.locator("#train-curves .js-plotly-plot").count() == 0
    assert fresh.locator("#train-recon img").count() == 0
    fresh.close()


def test_train_and_test_curves_of_a_term_share_its_colour():
    from vae_demo.app.figures.train import curves_figure
    from vae_demo.app.tabs.train import CORRUPTION_CHOICES

    assert "autoencoder" not in CORRUPTION_CHOICES[0][0]  # any kind of model is trained on clean images
    history = [{"epoch": e, "train_loss": 300 - e, "train_recon": 290 - e, "train_kl": 10 + e, "test_loss": 301 - e,
                "test_recon": 291 - e, "test_kl": 10 + e, "test_psnr": 15 + e} for e in (1, 2)]
    traces = {t.name: t for t in curves_figure(history).data}
    colours = set()
    for term in ("loss", "recon", "kl"):
        train, test = traces[f"train {term}"], traces[f"test {term}"]
        assert train.line.color == test.line.color, term
        assert train.line.dash == "solid" and test.line.dash == "dash"
        colours.add(train.line.color)
    assert len(colours) == 3  # one colour per term


# --- a phone: 390×844 ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def phone(browser, server):
    page = _open(browser, server["url"], PHONE)
    yield page
    page.close()


def test_every_tab_is_visible_and_clickable_on_a_phone(phone, server):
    page = phone
    names = ["Corrupt & restore", "Latent sliders", "Latent map", "Interpolation", "Inside a VAE", "Train"]
    subs = list(INSIDE)
    for name in names + subs:
        if name in subs:
            _tab(page, "Inside a VAE")
        tab = page.get_by_role("tab", name=name, exact=True)
        assert tab.is_visible(), f"the tab {name!r} is hidden (behind a menu?)"
        box = tab.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0] + 1, (name, box)
        tab.click(timeout=5_000)
        page.wait_for_function("n => [...document.querySelectorAll('[role=tab][aria-selected=true]')]"
                               ".some(t => t.innerText.trim() === n)", arg=name, timeout=5_000)
    page.screenshot(path=str(server["shots"] / "phone_tabs.png"))
    _reach_tab(page, "Corrupt & restore")


def test_the_restore_row_is_a_grid_of_two_on_a_phone(phone, server):
    page = phone
    _reach_tab(page, "Corrupt & restore")
    page.evaluate("() => document.querySelector('#restore-row').scrollIntoView()")
    page.wait_for_timeout(300)
    boxes = [page.locator("#restore-row img").nth(i).bounding_box() for i in range(3)]
    page.screenshot(path=str(server["shots"] / "phone_restore.png"))
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[2]["y"] > boxes[0]["y"] + boxes[0]["height"], boxes
    assert boxes[1]["x"] + boxes[1]["width"] <= PHONE[0]


def test_the_decoded_image_stays_in_view_while_a_slider_moves_on_a_phone(phone, server):
    page = phone
    _reach_tab(page, "Latent sliders")
    page.locator("#sliders-image img").wait_for()
    page.locator("#sliders-z5").wait_for(state="visible")
    page.wait_for_timeout(1000)
    before = page.locator("#sliders-image img").get_attribute("src")
    track = page.locator("#sliders-z5 input[type=range]")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)  # a move, as a finger does
    page.wait_for_function("b => { const i = document.querySelector('#sliders-image img');"
                           " return i && i.getAttribute('src') !== b; }", arg=before, timeout=30_000)
    page.wait_for_timeout(300)
    img = page.locator("#sliders-image img").bounding_box()
    slider = track.bounding_box()
    page.screenshot(path=str(server["shots"] / "phone_sliders.png"))
    assert 0 <= slider["y"] and slider["y"] + slider["height"] <= PHONE[1]  # the slider moved is on screen ...
    assert 0 <= img["y"] and img["y"] + img["height"] <= PHONE[1], img  # ... and so is the image it changed
    assert img["x"] >= 0 and img["x"] + img["width"] <= PHONE[0]


def test_display_maths_is_not_cut_off_on_a_phone(phone, server):
    page = phone
    _reach_tab(page, "Latent sliders")
    page.wait_for_timeout(500)
    formulas = page.evaluate("""() => [...document.querySelectorAll('.katex-display')]
      .filter((e) => e.getBoundingClientRect().width > 0).map((e) => {
        const r = e.getBoundingClientRect(), c = getComputedStyle(e);
        return {text: e.innerText.slice(0, 30), right: r.right, fits: e.scrollWidth <= e.clientWidth + 1,
                scrolls: ['auto', 'scroll'].includes(c.overflowX)}; })""")
    assert formulas, "no display maths on the sliders tab"
    page.evaluate("() => [...document.querySelectorAll('.katex-display')].find((e) => e.offsetParent).scrollIntoView()")
    page.screenshot(path=str(server["shots"] / "phone_maths.png"))
    for f in formulas:
        assert f["right"] <= PHONE[0] + 1 and (f["fits"] or f["scrolls"]), f


def test_the_title_and_the_text_are_drawn_in_one_font_offline(projector, server):
    """Offline (no outside host can be reached: the page loads only the app's own files) the title is drawn
    with the theme's own font files, every letter of it: Chromium says which fonts rendered the node's glyphs."""
    page = projector
    _tab(page, "Corrupt & restore")
    page.locator("#restore-row .vd-name").first.wait_for()
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    for selector in ("#title h2", "#restore-row .vd-name"):
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        letters = [f for f in fonts if f["glyphCount"] > 2]  # a symbol or two may come from a system font
        assert len(letters) == 1 and letters[0]["isCustomFont"], f"{selector} is drawn in {fonts}"
