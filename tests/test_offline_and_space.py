"""The app wherever a teacher puts it: a fresh machine with no data and no network, and a Hugging Face
Space, where the full test splits download in the background and replace the shipped samples.

No test here reaches the network: the Space's download is torchvision's layout written into a temp
data dir by a stand-in for the download, released when the test says so.
"""

from __future__ import annotations

import gzip
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.images import synthetic_images
from vae_demo import data
from vae_demo.app.tabs.restore import GALLERY_IMAGES
from vae_demo.bench.latency import launch
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.testdata import TestImages, data_banner, download_allowed

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ("mnist", "fashion-mnist", "cifar10")


@pytest.mark.parametrize("space,env,expected", [
    (None, None, False), (None, "1", True), ("me/vae-demo", None, True), ("me/vae-demo", "0", False),
    (None, "off", False), ("me/vae-demo", "yes", True),
])
def test_downloads_are_on_by_default_on_a_space_only(monkeypatch, space, env, expected):
    for k, v in (("SPACE_ID", space), ("VAE_DEMO_DOWNLOAD", env)):
        if v is None:
            monkeypatch.delenv(k, raising=False)
        else:
            monkeypatch.setenv(k, v)
    assert download_allowed() is expected


def _write_torchvision_mnist(root: Path, n_train: int = 300, n_test: int = 200) -> None:
    """What torchvision's MNIST download leaves in a data dir: MNIST/raw/*-ubyte(.gz)."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        x = synthetic_images(n, (28, 28), seed=seed)
        y = (np.arange(n) % 10).astype(np.uint8)
        (raw / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(data.write_idx(x)))
        (raw / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(data.write_idx(y)))


@pytest.fixture
def space(tmp_path, monkeypatch):
    """On a Space (SPACE_ID set, no VAE_DEMO_DOWNLOAD), with an empty data dir and a download stand-in
    that writes torchvision's MNIST layout once ``release`` is set (the others fail: no network)."""
    monkeypatch.setenv("SPACE_ID", "me/vae-demo")
    monkeypatch.delenv("VAE_DEMO_DOWNLOAD", raising=False)
    release, asked = threading.Event(), []

    def fake_download(info, root):
        asked.append(info.name)
        if info.name != "mnist":
            raise OSError("[Errno -3] Temporary failure in name resolution")
        assert release.wait(60), "the test never released the download"
        _write_torchvision_mnist(Path(root))

    monkeypatch.setattr(data, "_download", fake_download)
    return tmp_path / "data", release, asked


def test_on_a_space_the_full_split_replaces_the_sample_without_a_restart_or_a_blocked_request(space):
    from gradio_client import Client

    import app

    data_dir, release, asked = space
    registry = ModelRegistry(ROOT / "checkpoints")
    images = TestImages(data_dir)
    demo = app.build_app(registry, images)
    url = launch(demo)
    try:
        app.after_launch(registry, images)  # what `python app.py` does once it serves
        client = Client(url, verbose=False)
        t0 = time.monotonic()
        gallery, source, *_ = client.predict("mnist", api_name="/test_images")
        took = time.monotonic() - t0
        assert len(gallery) == GALLERY_IMAGES and "64 sample test images shipped with the app" in source
        assert "downloading in the background" in source
        assert took < 10, f"a request waited {took:.1f} s while the download ran"  # it did not wait for it
        assert "downloading in the background" in data_banner(images)
        version = images.version
        release.set()
        deadline = time.monotonic() + 60
        while "downloading" in images.downloads.values() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert images.downloads["mnist"] == "done", images.downloads
        assert images.version > version  # open pages notice (their timer compares versions)
        gallery, source, *_ = client.predict("mnist", api_name="/test_images")
        assert source.startswith("200 mnist test images") and len(gallery) == GALLERY_IMAGES
        full = images.get("mnist")
        assert not full.sample and len(full) == 200
        assert (data_dir / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").is_file()
        # the datasets whose download failed keep serving their sample, and the banner says why
        for name in ("fashion-mnist", "cifar10"):
            assert images.get(name).sample and images.downloads[name].startswith("failed")
        assert "failed" in data_banner(images) and sorted(asked) == sorted(DATASETS)
    finally:
        release.set()
        demo.close()


def test_off_a_space_nothing_is_downloaded(tmp_path, monkeypatch):
    from vae_demo.app import launch as app_launch

    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("VAE_DEMO_DOWNLOAD", raising=False)
    monkeypatch.setattr(data, "_download", lambda info, root: pytest.fail("downloaded off a Space"))
    images = TestImages(tmp_path / "data")
    monkeypatch.setattr(app_launch, "warm_up", lambda *a: None)
    app_launch.after_launch(ModelRegistry(tmp_path / "ck"), images)
    assert images.downloads == {} and images.get("mnist").sample


# --- in the browser: no data dir, downloads off, the committed checkpoints ---------------------------

@pytest.mark.browser
@pytest.mark.slow
def test_offline_the_restore_tab_map_and_interpolation_work_for_every_dataset(tmp_path, monkeypatch):
    import app
    from tests.helpers.browser import chromium
    from vae_demo.services.restore import default_models, default_severity, restore_row

    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setenv("VAE_DEMO_DOWNLOAD", "0")
    registry = ModelRegistry(ROOT / "checkpoints")
    images = TestImages(tmp_path / "no_data")
    assert data_banner(images).startswith("**Test images: 64 samples per dataset shipped with the app**")
    demo = app.build_app(registry, images)
    url = launch(demo)
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(url)
            page.locator("#restore-row img").first.wait_for()
            assert "64 samples per dataset shipped with the app" in page.locator("#offline-banner").inner_text()
            for name in DATASETS:
                page.locator("#dataset").get_by_text(name, exact=True).click()
                page.wait_for_function(
                    "n => document.querySelector('#restore-source').innerText.includes('64 sample test images')"
                    " && document.querySelector('#restore-note').innerText.includes('test image #0')", arg=name)
                x, _, _ = images.image(name, 0)
                picks = default_models(registry, name)  # the row a class sees first (the picker adds more)
                panels, _ = restore_row(registry, name, x, "gaussian", default_severity("gaussian"), 0, False,
                                        models=picks)
                assert len(panels) == 5  # original, corrupted, a restorer, a plain model, classical
                page.wait_for_function(  # this dataset's row, finished
                    """([n, name]) => {
                        const t = document.querySelector('#restore-summary').innerText;
                        return document.querySelectorAll('#restore-row img').length === n
                            && t.includes(' of ' + name + ';') && !t.includes('processing'); }""",
                    arg=[len(panels), name])
                n_gallery = page.eval_on_selector_all("#restore-gallery img", "els => els.length")
                assert n_gallery == GALLERY_IMAGES, name
                summary = page.locator("#restore-summary").inner_text()
                assert "PSNR" in summary and all(p.short in summary for p in panels[2:4])
                if name == "cifar10":
                    assert "JPEG-derived" in page.locator("#restore-source").inner_text()
            # the latent map and interpolation, on the last dataset picked (cifar10) and on mnist
            for name in ("cifar10", "mnist"):
                page.locator("#dataset").get_by_text(name, exact=True).click()
                page.get_by_role("tab", name="Latent map").click()
                page.locator("#map-plot .js-plotly-plot").wait_for()
                page.locator("#map-decoded img").wait_for()
                page.get_by_role("tab", name="Interpolation").click()
                before = page.eval_on_selector_all("#interp-linear img", "els => els.map(e => e.src)")
                page.locator("#interp-random").click()
                page.wait_for_function(
                    """b => { const s = [...document.querySelectorAll('#interp-linear img')].map(e => e.src);
                              return s.length > 0 && JSON.stringify(s) !== JSON.stringify(b); }""", arg=before)
                assert page.eval_on_selector_all("#interp-slerp img", "els => els.length") >= 1
                page.get_by_role("tab", name="Corrupt & restore").click()
            browser.close()
    finally:
        demo.close()
