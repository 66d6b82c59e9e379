"""A link to any view, and Reset, in Chromium at 1280×720 (the committed checkpoints, the shipped sample):
a view set up by hand, its link copied and opened in a new page, gives the same pixels and the same controls;
Reset gives back the tab's first state, pixels and controls."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from PIL import Image

from tests.helpers import classroom

pytestmark = [pytest.mark.browser, pytest.mark.slow]
browser, server = classroom.browser, classroom.server  # module fixtures: one app, one Chromium

ALL_PIXELS = """async (sel) => Promise.all([...document.querySelectorAll(sel + ' img')].map(async (img) => {
    const r = await fetch(img.getAttribute('src')); return Array.from(new Uint8Array(await r.arrayBuffer())); }))"""


def pictures(page, selector: str) -> list[np.ndarray]:
    """Every image under ``selector``, decoded (the page's own bytes)."""
    return [np.asarray(Image.open(io.BytesIO(bytes(b))).convert("RGB")) for b in page.evaluate(ALL_PIXELS, selector)]


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) > 0 and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def settle(page, quiet_ms: int = 700) -> None:
    page.wait_for_function("() => window.vaeViewState")  # the page's scripts load after its first picture
    page.evaluate("(q) => window.vaeViewState.settle(q)", quiet_ms)


def state(page) -> dict:
    return page.evaluate("() => window.vaeViewState.currentState()")


def fresh(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(60_000)
    page.goto(url)
    page.locator("#restore-row img").first.wait_for()
    settle(page, 1000)
    return page


def copied_link(page) -> str:
    page.locator("#copy-link").click()
    page.wait_for_function("() => document.querySelector('#copy-link').innerText.includes('copied')")
    return page.url  # the address bar holds the link too


def opened(browser, link: str):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(60_000)
    page.goto(link)
    page.wait_for_function("() => document.body.dataset.viewApplied === '1'", timeout=120_000)
    settle(page, 1000)
    return page


def type_in(page, selector: str, value) -> None:
    box = page.locator(f"{selector} input[type=number]")
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def test_a_restore_view_set_by_hand_opens_from_its_link_with_the_same_pixels(browser, server):
    page = fresh(browser, server["url"])
    page.locator("#restore-kind").get_by_text("blur", exact=True).click()
    settle(page)
    type_in(page, "#restore-severity", 1.5)
    settle(page)
    page.locator("#restore-mask-aware input").click()
    settle(page)
    type_in(page, "#restore-index", 7)
    settle(page)
    want = state(page)
    assert want["controls"]["restore-kind"] == "blur" and want["controls"]["restore-index"] == "7"
    row = pictures(page, "#restore-row")
    link = copied_link(page)
    q = parse_qs(urlparse(link).query)
    assert q["tab"] == ["restore"] and q["restore-severity"] == ["1.5"] and q["restore-mask-aware"] == ["1"]
    other = opened(browser, link)
    assert state(other) == want
    assert same(pictures(other, "#restore-row"), row)
    assert "test image #7" in other.locator("#restore-note").inner_text()
    other.close()
    page.close()


def test_a_view_inside_a_vae_and_a_latent_slider_open_from_their_links(browser, server):
    page = fresh(browser, server["url"])
    page.get_by_role("tab", name="Inside a VAE", exact=True).click()
    page.get_by_role("tab", name="The network's shape", exact=True).click()
    page.locator("#network-taps img").wait_for()
    page.locator("#network-model input").click()
    page.get_by_role("option", name="mnist_vqvae").first.click()
    settle(page)
    type_in(page, "#network-row", 3)
    settle(page)
    want, taps = state(page), pictures(page, "#network-taps") + pictures(page, "#network-output")
    assert want["controls"]["inside-views"] == "The network's shape" and want["controls"]["network-row"] == "3"
    other = opened(browser, copied_link(page))
    assert state(other) == want
    assert same(pictures(other, "#network-taps") + pictures(other, "#network-output"), taps)
    other.close()

    page.get_by_role("tab", name="Latent sliders", exact=True).click()
    page.locator("#sliders-image img").wait_for()
    settle(page)
    page.evaluate("""() => { const r = document.querySelector('#sliders-z0 input[type=range]'); r.value = '1.5';
        r.dispatchEvent(new Event('input', {bubbles: true})); r.dispatchEvent(new PointerEvent('pointerup', {bubbles: true})); }""")
    settle(page)
    want, image = state(page), pictures(page, "#sliders-image")
    assert want["controls"]["sliders-z0"] == "1.5"
    other = opened(browser, copied_link(page))
    assert state(other) == want
    assert same(pictures(other, "#sliders-image"), image)
    other.close()
    page.close()


def test_reset_gives_back_the_tabs_first_state_and_keeps_presentation_mode(browser, server):
    page = fresh(browser, server["url"] + "/?present=1")
    first, row = state(page), pictures(page, "#restore-row")
    page.locator("#restore-kind").get_by_text("pixel erasure", exact=True).click()
    settle(page)
    type_in(page, "#restore-index", 4)
    settle(page)
    assert state(page) != first and not same(pictures(page, "#restore-row"), row)
    with page.expect_navigation():
        page.locator("#reset-tab").click()
    page.locator("#restore-row img").first.wait_for()
    settle(page, 1000)
    assert state(page) == first
    assert same(pictures(page, "#restore-row"), row)
    assert "vd-present" in page.evaluate("() => document.body.className")
    page.close()
