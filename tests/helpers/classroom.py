"""The classroom's app, as a teacher projecting it gets it: the committed checkpoints, no data dir (the
shipped sample only), downloads off; and one Chromium for a test module. Screenshots go to
``$VAE_DEMO_SCREENSHOT_DIR`` when it is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.browser import chromium
from vae_demo.bench.latency import launch
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.testdata import TestImages

ROOT = Path(__file__).resolve().parents[2]


def shots_dir(tmp_path_factory) -> Path:
    d = Path(os.environ.get("VAE_DEMO_SCREENSHOT_DIR") or tmp_path_factory.mktemp("shots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def app_with(tmp_path_factory, images: TestImages):
    import app

    registry = ModelRegistry(ROOT / "checkpoints", user_directory=tmp_path_factory.mktemp("user_ck"))
    demo = app.build_app(registry, images)
    return demo, launch(demo), registry


def open_page(browser, url: str, width: int = 1280, height: int = 720):
    """A new page of the app at ``url``, a projector's size by default, once the restore row is drawn."""
    pg = browser.new_page(viewport={"width": width, "height": height})
    pg.set_default_timeout(60_000)
    pg.goto(url)
    pg.locator("#restore-row img").first.wait_for()
    return pg


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    os.environ["VAE_DEMO_DOWNLOAD"] = "0"
    demo, url, registry = app_with(tmp_path_factory, TestImages(tmp_path_factory.mktemp("no_data")))
    yield {"url": url, "registry": registry, "shots": shots_dir(tmp_path_factory)}
    demo.close()
    os.environ.pop("VAE_DEMO_DOWNLOAD", None)
