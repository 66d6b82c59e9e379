"""The lesson, step by step, as a class sees it on a fresh install (the committed checkpoints, the shipped sample):
each step opened from its link (?lesson=N), and each claim its text makes checked against the numbers on that
step's screen. Plus the lesson's own controls: Next / Back, the arrow keys, the step indicator."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from tests.helpers import classroom
from vae_demo.app.lesson import STEPS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
browser, server = classroom.browser, classroom.server  # module fixtures: one app, one Chromium

ROW = """() => [...document.querySelectorAll('#restore-row .vd-panel')].map(p => [
    p.querySelector('.vd-name').innerText, p.querySelector('.vd-metrics').innerText])"""
# a plot's traces as drawn (Plotly keeps arrays sent as binary as {dtype, bdata, _inputArray})
PLOT = """(sel) => { const arr = (v) => v == null ? null : v._inputArray ? Array.from(v._inputArray)
        : ArrayBuffer.isView(v) ? Array.from(v) : v;
    return document.querySelector(sel + ' .js-plotly-plot').data.map(t => ({name: t.name, x: arr(t.x), y: arr(t.y),
        err: t.error_y ? arr(t.error_y.array) : null})); }"""
ALL_PIXELS = """async (sel) => Promise.all([...document.querySelectorAll(sel + ' img')].map(async (img) => {
    const r = await fetch(img.getAttribute('src')); return Array.from(new Uint8Array(await r.arrayBuffer())); }))"""


def step_page(browser, url, n):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(90_000)
    page.goto(f"{url}/?lesson={n}")
    page.wait_for_function(f"() => document.body.dataset.lessonStep === '{n}'", timeout=180_000)
    page.evaluate("() => window.vaeViewState.settle(1000)")
    return page


def psnr_by_name(page) -> dict[str, float]:
    """The restore row's panels: name → PSNR (dB) as the captions say."""
    out = {}
    for name, metrics in page.evaluate(ROW):
        m = re.search(r"([\d.]+) dB", metrics)
        if m:
            out[name.split(" ")[0]] = float(m.group(1))
    return out


def check_pca(page):
    row = psnr_by_name(page)
    assert list(row) == ["corrupted", "mnist_pca_z64"], row
    assert "d = 4" in page.locator("#restore-pca-dims").inner_text() or \
        page.locator("#restore-pca-dims input[type=number]").input_value() == "4"
    assert row["mnist_pca_z64"] < 16  # "its PSNR is below 16 dB"


def check_deep_ae(page):
    row = psnr_by_name(page)
    assert page.locator("#restore-pca-dims input[type=number]").input_value() == "16"
    assert row["mnist_conv_ae_z16"] > row["mnist_pca_z64"]  # "higher than PCA's"


def check_denoise(page):
    row = psnr_by_name(page)
    assert "σ=0.5" in page.locator("#restore-row").inner_text()
    assert row["mnist_conv_ae_z16"] < row["corrupted"]  # "below the noisy input itself"
    assert row["mnist_restorer"] > row["corrupted"] + 6  # "far above it"


def sigmas(page) -> list[float]:
    post = page.evaluate(PLOT, "#step-posterior")
    return [float(s) for s in post[0]["err"]]


def check_posterior(page):
    s = sigmas(page)
    assert len(s) == 16 and sum(v < 0.5 for v in s) > 8, s  # "most of its 16 dims have σ below 0.5"


def check_elbo(page):
    bars = {t["name"].split(" (")[0]: float(t["x"][0]) for t in page.evaluate(PLOT, "#step-elbo")}
    text = page.locator("#step-numbers").inner_text()
    assert bars["reconstruction"] < 0.25 * bars["uninformed: every pixel 0.5"], bars  # "far below"
    assert "reconstruction" in text and "β·KL" in text and bars["β·KL"] > 0


def check_regular(page):
    assert page.locator("#pair-size input:checked").get_attribute("value") == "2"  # "the same 2-D code size"
    maps = {}
    for side in ("ae", "vae"):
        pts = np.array([[x, y] for t in page.evaluate(PLOT, f"#pair-{side}-map") if t["x"]
                        for x, y in zip(t["x"], t["y"]) if x is not None])
        maps[side] = pts
    assert len(maps["vae"]) >= 50 and len(maps["ae"]) >= 50
    assert np.abs(maps["vae"]).max() < 5  # "within about 5 of the origin"
    assert maps["ae"].std() > 3 * maps["vae"].std()  # "several times wider"


def check_interpolate(page):
    info = page.locator("#interp-info").inner_text()
    mid = float(re.search(r"midpoint has ([\d.]+)×", info).group(1))
    assert mid < 1, info  # "its midpoint's norm is below 1× theirs"
    pixel, a, b = (np.asarray(Image.open(io.BytesIO(bytes(x))).convert("L")).astype(float)
                   for x in (page.evaluate(ALL_PIXELS, s)[0] for s in ("#interp-pixel", "#interp-a", "#interp-b")))
    frames = np.split(pixel[:, : pixel.shape[1] // 8 * 8], 8, axis=1)
    assert len(frames) == 8  # "in 8 steps"
    small = lambda im: np.asarray(Image.fromarray(im.astype(np.uint8)).resize((28, 28), Image.BILINEAR), float)  # noqa: E731
    mid_frame, want = small(frames[4]), 3 / 7 * small(a) + 4 / 7 * small(b)  # t = 4/7: both images overlaid
    assert np.abs(mid_frame - want).mean() < 25 and np.abs(mid_frame - small(a)).mean() > 10
    assert np.abs(mid_frame - small(b)).mean() > 10


def check_beta(page):
    s = sigmas(page)
    assert "4 × " in page.locator("#step-numbers").inner_text()  # β = 4
    assert len(s) == 10 and sum(v < 0.5 for v in s) <= 5, s  # "at most half of its 10 dims"


def check_vq(page):
    info = page.locator("#sliders-info").inner_text() + page.locator("#codes-info").inner_text()
    assert "7×7" in info and "128" in info, info
    assert page.locator("#codes-grid img").is_visible()


def check_anomaly(page):
    verdict = page.locator("#anomaly-verdict").inner_text()
    assert verdict.startswith("fashion-mnist test image"), verdict
    assert float(re.search(r"above (\d+)% of", verdict).group(1)) >= 90, verdict  # "at least 90%"


CHECKS = {"pca": check_pca, "deep-ae": check_deep_ae, "denoise": check_denoise, "posterior": check_posterior,
          "elbo": check_elbo, "regular": check_regular, "interpolate": check_interpolate, "beta": check_beta,
          "vq": check_vq, "anomaly": check_anomaly}


def test_every_step_has_a_check_and_about_ten_steps_go_from_pca_to_vq_vae():
    assert [s.id for s in STEPS] == list(CHECKS)
    assert 8 <= len(STEPS) <= 12 and STEPS[0].id == "pca" and "VQ-VAE" in STEPS[-2].title
    for s in STEPS:
        assert 2 <= s.text.count(". ") + 1 <= 4, s.id  # two or three sentences
        assert s.question.endswith("?"), s.id


@pytest.mark.parametrize("n", range(1, len(STEPS) + 1), ids=[s.id for s in STEPS])
def test_each_steps_claims_hold_on_its_screen(browser, server, n):
    page = step_page(browser, server["url"], n)
    step = STEPS[n - 1]
    assert page.locator("#lesson .vd-lesson-count").inner_text() == f"Step {n} of {len(STEPS)}"
    assert page.locator("#lesson .vd-lesson-title").inner_text() == step.title
    tab = page.locator("[role=tablist]").first.locator("[role=tab][aria-selected=true]").inner_text()
    assert tab.strip() == {"restore": "Corrupt & restore", "inside": "Inside a VAE", "interpolate": "Interpolation",
                           "sliders": "Latent sliders"}[step.tab]
    CHECKS[step.id](page)
    page.screenshot(path=str(server["shots"] / f"lesson_{n:02d}_{step.id}.png"))
    page.close()


def test_next_back_and_the_arrow_keys_walk_the_steps(browser, server):
    page = step_page(browser, server["url"], 1)
    assert page.locator(".vd-lesson-back").is_disabled()
    page.locator(".vd-lesson-next").click()
    page.wait_for_function("() => document.body.dataset.lessonStep === '2'")
    assert "lesson=2" in page.url
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.body.dataset.lessonStep === '3'")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => document.body.dataset.lessonStep === '2'")
    page.locator(".vd-lesson-back").click()
    page.wait_for_function("() => document.body.dataset.lessonStep === '1'")
    page.locator(".vd-lesson-close").click()
    assert not page.locator("#lesson .vd-lesson-card").count() and "lesson=" not in page.url
    page.locator("#lesson-start").click()
    page.wait_for_function("() => document.querySelector('#lesson .vd-lesson-count')")
    assert page.locator("#lesson .vd-lesson-count").inner_text() == f"Step 1 of {len(STEPS)}"
    page.close()
