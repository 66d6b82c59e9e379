"""What every browser test needs first: Playwright and Debian's Chromium, or a clear skip (a failure in CI)."""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest

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
