"""What every browser test needs first: Playwright and Debian's Chromium, or a clear skip (a failure in CI)."""

from __future__ import annotations

import os

import pytest

from vae_demo.bench_app import chromium_path


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
