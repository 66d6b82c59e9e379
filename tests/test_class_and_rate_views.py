"""The conditional VAE's class controls and the rate–distortion view, in Chromium, on the committed checkpoints as a
classroom gets them (the shipped sample, no data dir). Screenshots: sliders_cvae.png, rate_distortion.png."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.browser import move_slider, pixels, require_browser, srcs, wait_change
from tests.helpers.classroom import browser, open_page, server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(browser, server):  # noqa: F811
    require_browser()
    pg = open_page(browser, server["url"])
    yield pg
    pg.close()


def _cvae(server):  # noqa: F811
    return next(e for e in server["registry"].entries("mnist", latent_code=True) if e.is_conditional)


def test_the_class_picker_changes_the_digit_and_the_grids_follow_the_sliders(page, server):  # noqa: F811
    e = _cvae(server)
    page.get_by_role("tab", name="Latent sliders").click()
    page.locator("#sliders-image img").wait_for()
    assert not page.locator("#sliders-class").is_visible()  # the default model is not told the class
    page.locator("#sliders-model input").click()
    page.get_by_role("option", name=e.name).first.click()
    page.locator("#sliders-every-class img").wait_for()
    page.locator("#sliders-class-path img").wait_for()
    assert page.locator("#sliders-class").is_visible()
    labels = page.locator("#sliders-class label").all_inner_texts()
    assert [t.strip() for t in labels][:3] == ["0", "1", "2"]  # MNIST's classes by name
    page.wait_for_timeout(500)
    image0, grid0, path0 = (pixels(page, s) for s in ("#sliders-image", "#sliders-every-class",
                                                       "#sliders-class-path"))
    # a class picked: the picture is the same z with that class (the grid of every class does not depend on it)
    before = srcs(page, "#sliders-image")
    page.locator("#sliders-class label", has_text="7").first.click()
    wait_change(page, "#sliders-image", before)
    page.wait_for_timeout(500)
    image7 = pixels(page, "#sliders-image")
    assert not np.array_equal(image0, image7)
    h, w = grid0.shape
    cells = [(grid0[: h // 4, (c + 1) * w // 11: (c + 2) * w // 11]) for c in range(10)]  # the first row's cells
    assert np.abs(cells[7].astype(float) - cells[0].astype(float)).mean() > 5  # the classes differ in the grid
    assert not np.array_equal(path0, pixels(page, "#sliders-class-path"))  # the path now starts at 7
    # a slider moved: the first row of the grid (the code on screen) follows
    before = srcs(page, "#sliders-every-class")
    move_slider(page, "#sliders-z0", 2.5)
    wait_change(page, "#sliders-every-class", before)
    page.wait_for_timeout(300)
    moved = pixels(page, "#sliders-every-class")
    assert not np.array_equal(moved[: h // 4], grid0[: h // 4])
    assert np.array_equal(moved[h // 4:], grid0[h // 4:])  # the test images' rows keep their own codes
    page.locator("#sliders-classes").scroll_into_view_if_needed()
    page.screenshot(path=str(server["shots"] / "sliders_cvae.png"))


def test_a_click_on_the_plane_shows_that_models_numbers(page, server):  # noqa: F811
    page.get_by_role("tab", name="Inside a VAE").click()
    page.get_by_role("tab", name="β and the rate–distortion plane").click()
    page.locator("#rate-plane .js-plotly-plot").wait_for()
    page.wait_for_function("() => document.querySelector('#rate-summary').innerText.includes('β = 1')")
    # the β = 8 point, where the plot draws it
    box = page.evaluate("""() => {
        const gd = document.querySelector('#rate-plane .js-plotly-plot');
        const t = gd.data.find((d) => Array.isArray(d.customdata));
        const i = t.text.findIndex((s) => s === 'β = 8');
        const r = gd.querySelector('.nsewdrag').getBoundingClientRect();
        return [r.left + gd._fullLayout.xaxis.d2p(t.x[i]), r.top + gd._fullLayout.yaxis.d2p(t.y[i]), t.customdata[i]];
    }""")
    before = srcs(page, "#rate-recon")
    page.mouse.click(box[0], box[1])
    page.wait_for_function("() => document.querySelector('#rate-summary').innerText.includes('β = 8')")
    wait_change(page, "#rate-recon", before)
    assert page.locator("#rate-model input[type=radio]:checked").input_value() == box[2]
    summary = page.locator("#rate-summary").inner_text()
    assert box[2] in summary and "dims active" in summary
    page.screenshot(path=str(server["shots"] / "rate_distortion.png"))
