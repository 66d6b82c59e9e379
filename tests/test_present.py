"""Presentation mode, as a teacher projecting the app at 1280×720 gets it (the committed checkpoints, no data
dir): opened from a link (?present=1) or the header's toggle, measured in the page."""

from __future__ import annotations

import pytest

from tests.helpers import classroom

pytestmark = [pytest.mark.browser, pytest.mark.slow]
browser, server = classroom.browser, classroom.server  # module fixtures: one app, one Chromium

SIZES = """(sel) => [...document.querySelectorAll(sel)].filter(e => e.getClientRects().length && e.textContent.trim())
    .map(e => parseFloat(getComputedStyle(e).fontSize))"""
BOTTOM = """(sel) => Math.max(...[...document.querySelectorAll(sel)].map(e => e.getBoundingClientRect().bottom))"""


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(60_000)
    page.goto(url)
    page.locator("#restore-row img").first.wait_for()
    page.wait_for_function("() => !document.querySelector('#restore-summary').innerText.includes('processing')")
    page.wait_for_timeout(500)
    return page


def _tab(page, name):
    page.get_by_role("tab", name=name, exact=True).click()


def test_a_link_opens_presentation_mode_with_large_type_and_the_row_on_the_first_screen(browser, server):
    page = _open(browser, server["url"] + "/?present=1")
    assert page.locator("#present input").is_checked()
    assert "vd-present" in page.evaluate("() => document.body.className")
    captions = page.evaluate(SIZES, "#restore-row figcaption span")
    assert len(captions) >= 10 and min(captions) >= 24, captions  # every panel's name and numbers
    assert page.evaluate(BOTTOM, "#restore-row img, #restore-row figcaption span") <= 720  # no scrolling
    widths = page.eval_on_selector_all("#restore-row img", "els => els.map(e => e.getBoundingClientRect().width)")
    assert min(widths) >= 230, widths  # larger than the normal mode's 196 px
    assert page.evaluate(BOTTOM, "#restore-row img") <= 1280 and page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('#restore-row .vd-panel')].map(e => e.getBoundingClientRect().right))") <= 1280
    cut = page.evaluate("""() => [...document.querySelectorAll('#restore-row .vd-name')]
        .filter(e => e.getClientRects().length > 0 && e.getBoundingClientRect().height > 40).map(e => e.innerText)""")
    assert not cut, cut  # each model's name on one line, not broken inside a word
    assert not page.locator("#offline-banner").is_visible() and not page.locator("#rescan").is_visible()
    page.screenshot(path=str(server["shots"] / "present_restore.png"))

    _tab(page, "Inside a VAE")
    page.locator("#step-elbo .js-plotly-plot").wait_for()
    page.wait_for_timeout(1000)
    explain = page.evaluate(SIZES, "#step-explain p")
    assert explain and min(explain) >= 20, explain
    plot_text = page.evaluate(SIZES, "#step-posterior .js-plotly-plot text, #step-elbo .js-plotly-plot text")
    assert len(plot_text) >= 5 and min(plot_text) >= 16, plot_text

    _tab(page, "Latent map")
    page.locator("#map-plot .js-plotly-plot").wait_for()
    page.wait_for_timeout(1000)
    ticks = page.evaluate(SIZES, "#map-plot .js-plotly-plot text")
    assert ticks and min(ticks) >= 16, ticks
    assert page.evaluate("() => document.querySelector('#map-plot').getBoundingClientRect().top") < 720
    page.close()


def test_the_toggle_turns_it_on_and_off_and_the_link_follows(browser, server):
    page = _open(browser, server["url"])
    assert "present" not in page.url and not page.locator("#restore-row .vd-fullscreen").is_visible()
    normal = page.evaluate(SIZES, "#restore-row figcaption span")
    assert max(normal) < 24  # the normal page's 16 px captions
    page.locator("#present input").click()
    page.wait_for_function("() => document.body.classList.contains('vd-present')")
    assert page.evaluate("() => location.search") == "?present=1"  # copy the link: it opens as it is
    assert min(page.evaluate(SIZES, "#restore-row figcaption span")) >= 24
    button = page.locator("#restore-row > .vd-fullscreen")
    assert button.is_visible()
    button.click()
    page.wait_for_function("() => document.fullscreenElement && document.fullscreenElement.id === 'restore-row'")
    page.evaluate("() => document.exitFullscreen()")
    page.wait_for_function("() => !document.fullscreenElement")
    for name, sel in (("Latent sliders", "#sliders-image"), ("Latent map", "#map-plot"), ("Interpolation", "#interp-slerp"),
                      ("Inside a VAE", "#step-decoded"), ("Train", "#train-curves")):
        _tab(page, name)  # every main picture has one, in tabs drawn after the toggle too
        page.locator(f"{sel} > .vd-fullscreen").wait_for(state="visible", timeout=10_000)
    _tab(page, "Corrupt & restore")
    page.locator("#present input").click()
    page.wait_for_function("() => !document.body.classList.contains('vd-present')")
    assert page.evaluate("() => location.search") == ""
    assert page.evaluate(SIZES, "#restore-row figcaption span") == normal
    assert not button.is_visible() and page.locator("#offline-banner").is_visible()
    page.close()
