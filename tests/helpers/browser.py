"""What every browser test needs first: Playwright and Debian's Chromium, or a clear skip (a failure in CI)."""

from __future__ import annotations

import io
import os
from contextlib import contextmanager

import numpy as np
import pytest
from PIL import Image

from vae_demo.bench.latency import chromium_path


def require_browser() -> None:
    """Skip with the reason when Playwright or Chromium is missing; where ``CI`` is set, fail instead."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed (pip install -r requirements-dev.txt)"
    if problem is None and chromium_path() is None:
        problem = "Debian's chromium is not installed (apt-get install -y chromium)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(problem)


@contextmanager
def chromium():
    """Debian's Chromium, headless, driven by Playwright (skipped or failed first, as :func:`require_browser`);
    closed on the way out."""
    require_browser()
    from playwright.sync_api import sync_playwright

    from vae_demo.bench.latency import open_browser

    with sync_playwright() as p:
        b = open_browser(p)
        try:
            yield b
        finally:
            b.close()


# --- reading and driving a page (selectors name a Gradio component by its elem_id) ---------------------

def srcs(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(f"{selector} img", "els => els.map(e => e.getAttribute('src'))")


def img_src(page, selector: str) -> str | None:
    found = srcs(page, selector)
    return found[0] if found else None


def wait_change(page, selector: str, before, timeout=30_000):
    page.wait_for_function(
        """([sel, before]) => {
            const imgs = [...document.querySelectorAll(sel + ' img')].map(e => e.getAttribute('src'));
            return imgs.length > 0 && JSON.stringify(imgs) !== JSON.stringify(before);
        }""", arg=[selector, before], timeout=timeout)


def pixels(page, selector: str) -> np.ndarray:
    """The rendered image's pixels, fetched the way the page fetches them."""
    src = img_src(page, selector)
    data = page.evaluate("""async (src) => {
        const r = await fetch(src); const b = new Uint8Array(await r.arrayBuffer());
        return Array.from(b); }""", src)
    return np.asarray(Image.open(io.BytesIO(bytes(data))).convert("L"))


def move_slider(page, selector: str, value: float):
    page.evaluate("""([sel, v]) => {
        const input = document.querySelector(sel + ' input[type=range]');
        input.value = String(v);
        input.dispatchEvent(new Event('input', {bubbles: true}));
        input.dispatchEvent(new Event('change', {bubbles: true}));
        input.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
    }""", [selector, value])
