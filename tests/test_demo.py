"""The app's handlers as plain functions (no browser): vae_demo.services and the UI's wiring helpers.

Tiny synthetic data (Keras npz layout) and tiny checkpoints trained for one epoch in a tmp dir.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers.world import TINY_MODELS, make_tiny_world
from vae_demo.app.figures import latent as latent_figures
from vae_demo.checkpoints import load_checkpoint, save_checkpoint
from vae_demo.corruptions import KINDS, corrupt
from vae_demo.metrics import psnr
from vae_demo.models import MODELS, build_model
from vae_demo.services import images as img_mod
from vae_demo.services import latent
from vae_demo.services.images import (
    HIGHLIGHT,
    UserInputError,
    caption_font,
    caption_text,
    captioned,
    load_user_image,
    write_gif,
)
from vae_demo.services.jobs import JobManager, make_config
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.restore import clean_seed, default_severity, make_spec, restore_row
from vae_demo.services.testdata import TestImages, data_banner
from vae_demo.training import TrainingError

MNIST = (1, 28, 28)
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_tiny_world(tmp_path_factory.mktemp("world"))


@pytest.fixture
def env(world, monkeypatch):
    data, ck = world
    monkeypatch.setenv("VAE_DEMO_DATA", str(data))
    monkeypatch.setenv("VAE_DEMO_CHECKPOINTS", str(ck))
    monkeypatch.delenv("VAE_DEMO_DOWNLOAD", raising=False)
    return data, ck


@pytest.fixture
def registry(env):
    return ModelRegistry(env[1])


@pytest.fixture
def test_images(env):
    return TestImages(env[0])


# --- registry ---------------------------------------------------------------------------------------

def test_registry_lists_models_per_dataset(registry):
    assert set(registry.names("mnist")) == {n for n, ds, *_ in TINY_MODELS if ds == "mnist"}
    assert registry.names("cifar10") == ["t_cifar_vae_z4"]
    assert registry.names("fashion-mnist") == []
    assert registry.entries("mnist")[0].is_restorer  # restorers first
    with pytest.raises(UserInputError, match="unknown model"):
        registry.get("nope")
    with pytest.raises(UserInputError, match="trained on mnist"):
        registry.get("t_pca_z8", "cifar10")


def test_unet_restores_but_stays_out_of_the_latent_tabs(registry, test_images, env):
    from vae_demo.app.common import Context

    assert "t_unet_mix" in registry.names("mnist")
    assert "t_unet_mix" not in registry.names("mnist", latent_code=True)
    e = registry.get("t_unet_mix", "mnist")
    assert e.is_restorer and not e.has_latent_code and "z=" not in e.label
    with pytest.raises(UserInputError, match="no latent code"):
        registry.get("t_unet_mix", "mnist", latent_code=True)
    with pytest.raises(UserInputError, match="no latent code"):
        latent.latent_stats(e, test_images)
    x, _, _ = test_images.image("mnist", 0)
    with pytest.raises(UserInputError, match="no latent code"):
        latent.interpolate(e, x, x)
    panels, _ = restore_row(registry, "mnist", x, "erasure", 0.5, seed=1)
    unet = [p for p in panels if p.title.startswith("t_unet_mix")]
    assert len(unet) == 1 and unet[0].image.shape[:2] == panels[0].image.shape[:2] and unet[0].psnr > 0
    ctx = Context(registry, test_images, JobManager(registry, env[0]))
    choices = [v for _, v in ctx.model_dropdown_update("mnist")["choices"]]
    assert "t_unet_mix" not in choices and "t_conv_vae_z3" in choices


def test_registry_skips_broken_checkpoint_with_warning(env, tmp_path):
    ck = tmp_path / "ck"
    shutil.copytree(env[1], ck)
    blob = (ck / "t_pca_z8.safetensors").read_bytes()
    (ck / "t_pca_z8.safetensors").write_bytes(blob[: len(blob) // 2])  # truncated weights
    (ck / "junk.json").write_text("{not json")
    reg = ModelRegistry(ck)
    assert "t_pca_z8" not in reg.names()
    assert "t_conv_vae_z3" in reg.names()
    assert any("t_pca_z8.safetensors" in w for w in reg.warnings)
    assert any("junk.json" in w for w in reg.warnings)


def test_registry_empty_folder(tmp_path):
    reg = ModelRegistry(tmp_path / "none")
    assert reg.names() == [] and reg.warnings == []


# --- corrupt & restore ------------------------------------------------------------------------------

def test_restore_row_shapes_and_labels(registry, test_images):
    x, i, _ = test_images.image("mnist", 3)
    panels, summary = restore_row(registry, "mnist", x, "gaussian", 0.4, seed=1, classical=False)
    titles = [p.title for p in panels]
    assert titles[0] == "original" and titles[1].startswith("corrupted")
    n_mnist = sum(ds == "mnist" for _, ds, *_ in TINY_MODELS)
    assert len(panels) == 2 + n_mnist  # every mnist model
    assert f"{n_mnist} model(s)" in summary
    for p in panels:
        assert p.image.shape == (224, 224)
        assert p.labelled().shape[0] == p.labelled().shape[1] >= 224  # title + numbers under the image
    for p in panels[1:]:
        assert math.isfinite(p.psnr) and -1 <= p.ssim <= 1
        assert "PSNR" in p.caption and "SSIM" in p.caption
        num = float(p.caption.split("PSNR ")[1].split(" dB")[0])
        assert num == pytest.approx(p.psnr, abs=0.06)
    assert all(p.how == "blind" for p in panels[2:])
    assert any("restorer (mix)" in t for t in titles)
    best = [p for p in panels if p.best]  # the best restoration: framed, starred, named in the summary
    assert len(best) == 1 and best[0].psnr == max(p.psnr for p in panels[2:])
    assert best[0].name == "★ " + best[0].title and all(p.name == p.title for p in panels if not p.best)
    assert f"best here (framed in green): **{best[0].title}** ({best[0].psnr:.1f} dB" in summary
    gain = float(summary.split(" dB over the corrupted input")[0].rsplit(", ", 1)[1])
    assert gain == pytest.approx(best[0].psnr - panels[1].psnr, abs=0.06)
    framed, plain = best[0].labelled(), next(p for p in panels[2:] if not p.best).labelled()
    assert tuple(framed[0, 0]) == HIGHLIGHT and tuple(plain[0, 0]) != HIGHLIGHT


def test_captions_have_no_missing_glyphs(registry, test_images):
    """Every caption of a row draws with the caption font: no 'tofu' boxes for σ, × and the like."""
    from PIL import Image, ImageDraw

    font = caption_font(17)

    def drawn(ch):
        im = Image.new("L", (40, 40))
        ImageDraw.Draw(im).text((4, 4), ch, fill=255, font=font)
        return np.asarray(im)

    tofu = drawn("\uffff")  # what the font draws for a character it does not have
    assert not np.array_equal(drawn("a"), tofu)
    assert np.array_equal(drawn("σ"), tofu)  # the font really lacks σ: the test can fail
    x, _, _ = test_images.image("mnist", 0)
    for kind in KINDS:
        panels, _ = restore_row(registry, "mnist", x, kind, default_severity(kind), classical=False)
        for p in panels:
            text = caption_text(p.title + p.metrics)
            assert not [ch for ch in set(text) if np.array_equal(drawn(ch), tofu)], text
    assert caption_text("Gaussian noise σ=0.3") == "Gaussian noise sigma=0.3"
    img = np.zeros((28, 28), np.uint8)
    assert np.array_equal(captioned(img, ["blur σ=2 ×"]), captioned(img, ["blur sigma=2 x"]))


def test_restore_row_colour_and_mask_aware(registry, test_images):
    x, _, _ = test_images.image("cifar10", 0)
    panels, _ = restore_row(registry, "cifar10", x, "erasure", 0.5, seed=0, mask_aware=True, classical=False)
    assert panels[0].image.shape == (224, 224, 3)
    assert [p.how for p in panels[2:]] == ["mask-aware"]


def test_a_mask_input_model_is_given_the_mask_only_when_mask_aware(tmp_path):
    torch.manual_seed(0)
    model = build_model("unet", (1, 28, 28), 8, channels=(8, 8), mask_input=True).eval()
    save_checkpoint("t_unet_mask", model, {"dataset": "mnist", "corruption": "block:10"}, tmp_path)
    registry = ModelRegistry(tmp_path)
    assert "told the damage mask" in registry.entries("mnist")[0].label
    x = torch.rand(1, 1, 28, 28)
    y, m = corrupt(x, "block:10", 3)
    with torch.no_grad():
        told = (m * model.reconstruct(y, m).clamp(0, 1) + (1 - m) * y)
        blind = model.reconstruct(y).clamp(0, 1)
    for aware, expect in ((True, told), (False, blind)):
        panels, _ = restore_row(registry, "mnist", x, "block", 10, seed=3, mask_aware=aware, classical=False)
        assert panels[2].psnr == pytest.approx(psnr(expect, x), abs=1e-4)
    assert psnr(told, x) != pytest.approx(psnr(blind, x), abs=1e-3)


def test_restore_row_same_seed_same_result(registry, test_images):
    x, _, _ = test_images.image("mnist", 0)
    a, _ = restore_row(registry, "mnist", x, "block", 10, seed=5, classical=False)
    b, _ = restore_row(registry, "mnist", x, "block", 10, seed=5, classical=False)
    c, _ = restore_row(registry, "mnist", x, "block", 10, seed=6, classical=False)
    assert np.array_equal(a[1].image, b[1].image)
    assert not np.array_equal(a[1].image, c[1].image)


def test_restore_inputs_are_validated():
    assert make_spec("gaussian", float("nan")) == f"gaussian:{default_severity('gaussian'):g}"  # NaN → default
    # each kind's own range, whatever the slider showed last; outside it: refused with that range
    assert make_spec("blur", 5) == "blur:5" and make_spec("lowres", 3) == "lowres:3"
    assert make_spec("block", 28, image_size=28) == "block:28"
    with pytest.raises(UserInputError, match=r"^pixel erasure: severity must be from 0 to 1 .*got -3$"):
        make_spec("erasure", -3)
    with pytest.raises(UserInputError, match=r"block mask: severity must be from 0 to 28 .*got 1e\+09"):
        make_spec("block", 1e9, image_size=28)
    with pytest.raises(UserInputError, match="from 0 to 10 .*got inf"):
        make_spec("blur", float("inf"))
    with pytest.raises(UserInputError, match="unknown corruption"):
        make_spec("acid", 0.5)
    with pytest.raises(UserInputError, match="unknown corruption 'a{40}…'; choose one of gaussian"):
        make_spec("a" * 10**6, 0.5)  # a short prefix of what was sent, not all of it
    with pytest.raises(UserInputError, match="severity must be a number, got 'lots'"):
        make_spec("blur", "lots")
    with pytest.raises(UserInputError, match="seed must be a whole number, got nan"):
        clean_seed(float("nan"))
    assert clean_seed(-1) == 2**31 - 1 and clean_seed(7.0) == 7


def test_restore_row_without_image(registry):
    with pytest.raises(UserInputError, match="image"):
        restore_row(registry, "mnist", None, "blur", 1.0)


# --- latent sliders ---------------------------------------------------------------------------------

def test_slider_decode_changes_image(registry, test_images):
    e = registry.get("t_conv_vae_z3")
    stats = latent.latent_stats(e, test_images)
    base = np.zeros(3)
    a, _ = latent.slider_decode(e, stats, base, [0.0] * len(stats.shown))
    b, values = latent.slider_decode(e, stats, base, [2.5, -2.5, 1.0][: len(stats.shown)])
    assert a.shape == (224, 224) and a.dtype == np.uint8
    assert not np.array_equal(a, b)
    assert values[stats.shown[0]] == 2.5
    # NaN and out-of-range values are clamped, not crashes
    c, v = latent.slider_decode(e, stats, base, [float("nan"), 99, -99])
    assert np.isfinite(v).all() and np.abs(v).max() <= latent.SLIDER_RANGE
    with pytest.raises(UserInputError, match="expected 3"):
        latent.slider_decode(e, stats, np.zeros(5), [0, 0, 0])


def test_dims_ordered_by_kl(registry, test_images):
    e = registry.get("t_conv_vae_z3")
    stats = latent.latent_stats(e, test_images)
    x = test_images.get("mnist").floats(slice(0, latent.KL_IMAGES))
    with torch.no_grad():
        mu, logvar = e.model.encode(x)
    kl = (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)).double().mean(0).numpy()
    assert np.allclose(stats.score, kl, rtol=1e-4, atol=1e-6)
    assert list(stats.order) == list(np.argsort(-kl, kind="stable"))
    assert "KL" in stats.what


def test_dims_order_pca_and_ae(registry, test_images):
    pca = latent.latent_stats(registry.get("t_pca_z8"), test_images)
    assert list(pca.order) == list(range(8))  # eigenvalues are sorted already
    assert np.all(np.diff(pca.score) <= 1e-9)
    ae = latent.latent_stats(registry.get("t_conv_ae_z4_mix"), test_images)
    assert np.all(np.diff(ae.score[ae.order]) <= 0)


def test_vae_order_without_test_images_uses_stored_codes(registry, tmp_path):
    offline = TestImages(tmp_path / "nothing", sample_path=tmp_path / "no_sample.npz")
    e = registry.get("t_conv_vae_z3")
    e.cache.clear()
    try:
        stats = latent.latent_stats(e, offline)
        assert "activity" in stats.what
        assert len(stats.order) == 3
    finally:
        e.cache.clear()


def test_sample_reset_and_encode(registry, test_images):
    e = registry.get("t_mlp_vae_z2")
    stats = latent.latent_stats(e, test_images)
    v = latent.random_values(e, seed=0)
    assert v.shape == (2,)
    x, _, _ = test_images.image("mnist", 0)
    enc = latent.encode_values(e, stats, x)
    with torch.no_grad():
        mu = e.model.encode(x)[0][0].numpy()
    assert np.allclose(enc, np.clip(mu, -3, 3), atol=1e-5)


def test_slider_handler_as_wired(registry, test_images, env):
    from vae_demo.app.common import Context
    from vae_demo.app.tabs.sliders import make_slide_handler
    from vae_demo.services.jobs import JobManager as JM

    handler = make_slide_handler(Context(registry, test_images, JM(registry)))
    out = handler("mnist", "t_conv_vae_z3", [0, 0, 0], 1.0, -1.0, 0.5)
    assert isinstance(out, np.ndarray) and out.shape == (224, 224)
    bad = handler("mnist", "no_such_model", [0, 0, 0], 1.0)  # → a warning, outputs unchanged
    assert isinstance(bad, dict) and bad.get("__type__") == "update"


# --- latent map -------------------------------------------------------------------------------------

def test_map_has_one_point_per_stored_encoding(registry, test_images):
    for name in ("t_mlp_vae_z2", "t_conv_vae_z3", "t_pca_z8"):
        e = registry.get(name)
        stored = e.ckpt.extras["test_latents"]
        m = latent.latent_map(e, test_images)
        assert m.xy.shape == (len(stored), 2)
        assert len(m.labels) == len(stored)
        assert m.method == ("native" if e.latent_dim == 2 else "pca")
        fig = latent_figures.map_figure(m, [str(i) for i in range(10)], point=(0.0, 0.0))
        n_points = sum(len(t.x) for t in fig.data if t.name != "decoded point")
        assert n_points == len(stored)
        assert any(t.name == "decoded point" for t in fig.data)


def test_map_pca_inverse_projection(registry, test_images):
    e = registry.get("t_conv_vae_z3")
    m = latent.latent_map(e, test_images, "pca")
    z = m.latent_at(*m.xy[0])
    expected = m.center + m.xy[0, 0] * m.axes[0] + m.xy[0, 1] * m.axes[1]
    assert np.allclose(z.numpy()[0], expected, atol=1e-5)
    img = latent.decode(e, z)
    assert img.shape == (224, 224)


def test_map_native_and_manifold(registry, test_images):
    e = registry.get("t_mlp_vae_z2")
    m = latent.latent_map(e, test_images)
    assert np.allclose(m.latent_at(0.5, -0.25).numpy(), [[0.5, -0.25]])
    g = latent.manifold_grid(e, m, k=5)
    assert g.shape[0] == g.shape[1] and g.shape[0] >= 5 * 28


def test_map_tsne_option(registry, test_images, monkeypatch):
    monkeypatch.setattr(latent, "TSNE_POINTS", 40)
    e = registry.get("t_conv_vae_z3")
    m = latent.latent_map(e, test_images, "tsne")
    assert m.xy.shape == (40, 2)
    z = m.latent_at(*m.xy[7])
    assert np.allclose(z.numpy()[0], m.latents[7])
    with pytest.raises(UserInputError):
        latent.manifold_grid(e, m)
    with pytest.raises(UserInputError, match="unknown projection"):
        latent.latent_map(e, test_images, "umap3000")


# --- interpolation ----------------------------------------------------------------------------------

def test_interpolation_rows_and_gif(registry, test_images, tmp_path):
    e = registry.get("t_conv_vae_z3")
    xa, _, _ = test_images.image("mnist", 0)
    xb, _, _ = test_images.image("mnist", 1)
    rows = latent.interpolate(e, xa, xb, 6)
    assert set(rows) == {"pixel", "linear", "slerp"}
    for r in rows.values():
        assert r.shape == (6, 1, 28, 28)
    assert torch.allclose(rows["pixel"][0], xa[0]) and torch.allclose(rows["pixel"][-1], xb[0])
    with torch.no_grad():
        za, zb = e.model.embed(xa), e.model.embed(xb)
        ends = e.model.decode(torch.cat([za, zb]))
    assert torch.allclose(rows["slerp"][0], ends[0], atol=1e-5)
    assert torch.allclose(rows["slerp"][-1], ends[1], atol=1e-5)
    path = write_gif(latent.gif_frames(rows["slerp"]), tmp_path / "path.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == 6
        assert gif.info.get("loop") == 0
    strip = latent.path_strip(rows["linear"])
    assert strip.shape[1] > strip.shape[0] * 4  # a row


def test_slerp_keeps_norm_between_equal_norm_codes():
    a = torch.tensor([[3.0, 0.0]])
    b = torch.tensor([[0.0, 3.0]])
    mid = latent.slerp(a, b, torch.tensor([0.5]))
    assert float(mid.norm()) == pytest.approx(3.0, rel=1e-5)
    assert latent.clamp_steps(float("nan")) == 8 and latent.clamp_steps(1000) == 24 and latent.clamp_steps(-4) == 2


# --- training jobs ----------------------------------------------------------------------------------

def test_training_job_adds_checkpoint_to_registry(env, tmp_path):
    ck = tmp_path / "ck"
    reg = ModelRegistry(ck)
    assert reg.names() == []
    jobs = JobManager(reg, env[0])
    cfg, notes = make_config("mnist", "mlp_vae", 2, "none", 1, 32, 1e-3, train_limit=64)
    s = jobs.start(cfg, name="job_test")
    assert s.running
    with pytest.raises(UserInputError, match="already running"):
        jobs.start(cfg, name="job_test2")
    s = jobs.wait(120)
    assert s.status == "done", s.message
    assert "job_test" in reg.names("mnist")  # appears without a restart
    assert len(s.history) == 1 and "test_loss" in s.history[0]
    assert s.grid is not None and s.grid.ndim == 2
    assert s.fraction == 1.0


def test_training_job_failure_is_reported(env, tmp_path, monkeypatch):
    import vae_demo.training.run as train_mod

    def boom(*a, **k):
        raise TrainingError("loss became nan in epoch 1; try a smaller learning rate")

    monkeypatch.setattr(train_mod, "train", boom)
    reg = ModelRegistry(tmp_path / "ck")
    jobs = JobManager(reg, env[0])
    jobs.start(make_config("mnist", "mlp_vae", 2, "none", 1, 32, 1e-3, 64)[0], name="nan_job")
    s = jobs.wait(60)
    assert s.status == "failed" and "nan" in s.message


def test_training_job_disk_error_is_reported(env, tmp_path):
    blocker = tmp_path / "file_not_dir"
    blocker.write_text("x")
    reg = ModelRegistry(tmp_path / "ck")
    reg.user_directory = blocker  # the checkpoint "folder" is a file: every write fails
    jobs = JobManager(reg, env[0])
    jobs.start(make_config("mnist", "pca", 4, "none", 1, 32, 1e-3, 64)[0], name="disk_job")
    s = jobs.wait(60)
    assert s.status == "failed" and "could not write" in s.message


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _job_fails_in_epoch_2(env, tmp_path, monkeypatch, fault):
    """Train 3 epochs next to an existing checkpoint; ``fault(epoch)`` is called at every batch."""
    import vae_demo.training.loop as training_mod  # where the loop looks up evaluate

    ck = tmp_path / "ck"
    shutil.copytree(env[1], ck)
    others = _snapshot(ck)
    reg = ModelRegistry(ck, user_directory=ck)  # the job writes beside the others
    jobs = JobManager(reg, env[0])
    epoch = {"n": 1}
    real_eval = training_mod.evaluate

    def counting_eval(*a, **k):  # runs once at the end of every epoch
        out = real_eval(*a, **k)
        epoch["n"] += 1
        return out

    monkeypatch.setattr(training_mod, "evaluate", counting_eval)
    model_cls = MODELS["mlp_vae"]
    real_loss = model_cls.loss

    def loss(self, *a, **k):
        fault(epoch["n"])
        return real_loss(self, *a, **k)

    monkeypatch.setattr(model_cls, "loss", loss)
    jobs.start(make_config("mnist", "mlp_vae", 2, "none", 3, 32, 1e-3, 64)[0], name="fault_job")
    s = jobs.wait(120)
    monkeypatch.undo()
    assert s.status == "failed", s.message
    after = _snapshot(ck)
    assert {k: v for k, v in after.items() if k in others} == others  # every other checkpoint: byte for byte
    assert sorted(set(after) - set(others)) == ["fault_job.json", "fault_job.safetensors"]  # no temp files
    kept = load_checkpoint("fault_job", ck)
    assert kept.meta["epochs"] == 1  # the last finished epoch is kept, whole
    reg.refresh()
    assert "fault_job" in reg.names("mnist") and len(reg.names()) == len(others) // 2 + 1
    x = torch.rand(1, *MNIST)
    panels, _ = restore_row(reg, "mnist", x, "gaussian", 0.3)  # and the app still serves
    assert len(panels) >= 3
    return s


def test_training_job_out_of_memory_keeps_everything(env, tmp_path, monkeypatch):
    def fault(epoch):
        if epoch == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    s = _job_fails_in_epoch_2(env, tmp_path, monkeypatch, fault)
    assert "ran out of memory" in s.message and "smaller batch size" in s.message


def test_training_job_disk_full_midway_keeps_everything(env, tmp_path, monkeypatch):
    import errno

    import vae_demo.checkpoints as ck_mod

    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync(fd):  # the 2nd epoch's save: its weights are written, then the disk is full for its JSON
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(ck_mod.os, "fsync", fsync)
    s = _job_fails_in_epoch_2(env, tmp_path, monkeypatch, lambda epoch: None)
    assert calls["n"] == 4
    assert "No space left on device" in s.message and "untouched" in s.message


def test_training_job_missing_data(tmp_path):
    reg = ModelRegistry(tmp_path / "ck")
    jobs = JobManager(reg, tmp_path / "no_data")
    jobs.start(make_config("fashion-mnist", "pca", 4, "none", 1, 32, 1e-3, 64)[0], name="nodata")
    s = jobs.wait(60)
    assert s.status == "failed" and "VAE_DEMO_DATA" in s.message


def test_make_config_clamps_and_validates(monkeypatch):
    monkeypatch.setenv("VAE_DEMO_MAX_EPOCHS", "3")
    cfg, notes = make_config("mnist", "conv_vae", 16, "mix", 1e9, -5, 1e-3)
    assert cfg.epochs == 3 and any("capped" in n for n in notes)
    assert cfg.batch_size == 1
    with pytest.raises(UserInputError):
        make_config("mnist", "conv_vae", 16, "none", 2, 64, float("nan"))
    with pytest.raises(UserInputError, match="unknown model"):
        make_config("mnist", "transformer", 16, "none", 2, 64, 1e-3)
    with pytest.raises(UserInputError, match="unknown dataset"):
        make_config("imagenet", "conv_vae", 16, "none", 2, 64, 1e-3)
    with pytest.raises(UserInputError, match="mask input: for unet only"):
        make_config("mnist", "conv_vae", 16, "erasure:0.5", 2, 64, 1e-3, hparams={"mask_input": True})
    cfg, _ = make_config("mnist", "unet", 16, "erasure:0.5", 2, 64, 1e-3, hparams={"mask_input": True})
    assert cfg.model_settings()["mask_input"] and cfg.model == "unet"


# --- offline ----------------------------------------------------------------------------------------

def test_without_data_the_shipped_sample_serves_and_the_banner_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_DEMO_DATA", str(tmp_path / "no_data"))
    monkeypatch.setenv("VAE_DEMO_CHECKPOINTS", str(tmp_path / "no_ck"))
    monkeypatch.delenv("VAE_DEMO_DOWNLOAD", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    images = TestImages()
    banner = data_banner(images)
    assert "64 samples per dataset shipped with the app" in banner and "VAE_DEMO_DATA" in banner
    assert "JPEG-derived" in banner  # the CIFAR-10 sample is described as what it is
    for name in ("mnist", "fashion-mnist", "cifar10"):
        s = images.require(name)
        assert s.sample and len(s) == 64 and images.has_images(name)
        assert "64 sample test images shipped with the app; set `VAE_DEMO_DATA` for the full 10,000" \
            in images.describe(name)
    import app

    demo = app.build_app()
    assert demo is not None


def test_with_neither_data_nor_sample_the_banner_sends_the_user_to_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("VAE_DEMO_DOWNLOAD", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    images = TestImages(tmp_path / "no_data", sample_path=tmp_path / "no_sample.npz")
    banner = data_banner(images)
    assert "No test images for mnist, fashion-mnist, cifar10" in banner and "VAE_DEMO_DATA" in banner
    assert images.get("mnist") is None
    with pytest.raises(UserInputError, match="VAE_DEMO_DATA"):
        images.require("mnist")


def test_no_banner_with_data(test_images):
    assert data_banner(test_images) == ""
    assert not test_images.get("mnist").sample


def test_latent_tools_work_offline(env, tmp_path):
    """Sliders, sampling and the map need no test images: the map reads the stored encodings."""
    reg = ModelRegistry(env[1])
    offline = TestImages(tmp_path / "nothing", sample_path=tmp_path / "no_sample.npz")
    e = reg.get("t_conv_vae_z3")
    m = latent.latent_map(e, offline)
    assert len(m.xy) == len(e.ckpt.extras["test_latents"])
    stats = latent.latent_stats(e, offline)
    img, _ = latent.slider_decode(e, stats, latent.random_values(e, 0), [0.3, 0.1, 0])
    assert img.shape == (224, 224)


# --- uploads ----------------------------------------------------------------------------------------

def _png_bytes(im: Image.Image, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _write(tmp_path, name, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_upload_dark_ink_on_paper_is_inverted(tmp_path):
    im = Image.new("L", (100, 100), 255)
    im.paste(0, (40, 10, 60, 90))  # a black bar on white paper
    u = load_user_image(_write(tmp_path, "a.png", _png_bytes(im)), MNIST)
    assert u.x.shape == (1, 1, 28, 28)
    assert "inverted" in u.note
    assert u.x[0, 0, 14, 14] > 0.9 and u.x[0, 0, 1, 1] < 0.1


def test_upload_modes(tmp_path):
    rgb = Image.new("RGB", (40, 30), (10, 20, 30))
    cases = {
        "palette.png": rgb.convert("P"),
        "sixteen.png": Image.fromarray(np.full((20, 20), 40000, dtype=np.uint16)),
        "cmyk.jpg": Image.new("CMYK", (20, 20), (0, 0, 0, 255)),
        "la.png": Image.new("LA", (20, 20), (255, 128)),
        "rgba.png": Image.new("RGBA", (20, 20), (255, 255, 255, 0)),
        "one.png": Image.new("L", (1, 1), 200),
        "wide.png": Image.new("L", (3000, 3), 0),
    }
    for name, im in cases.items():
        fmt = "JPEG" if name.endswith(".jpg") else "PNG"
        for shape in (MNIST, (3, 32, 32)):
            u = load_user_image(_write(tmp_path, name, _png_bytes(im, fmt)), shape)
            assert u.x.shape == (1, *shape), name
            assert torch.isfinite(u.x).all() and u.x.min() >= 0 and u.x.max() <= 1
    wide = load_user_image(tmp_path / "wide.png", MNIST)
    assert "padded" in wide.note and "aspect" in wide.note


def test_upload_transparent_white_ink_goes_on_black(tmp_path):
    im = Image.new("RGBA", (28, 28), (0, 0, 0, 0))
    im.paste((255, 255, 255, 255), (10, 4, 18, 24))
    u = load_user_image(_png_bytes(im), MNIST)
    assert "black" in u.note and "inverted" not in u.note
    assert u.x[0, 0, 14, 14] > 0.9 and u.x[0, 0, 0, 0] < 0.1


def test_upload_sketchpad_value(tmp_path):
    """gr.Sketchpad hands over {'composite': RGBA array}: black strokes on a transparent canvas."""
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[40:240, 120:160] = (0, 0, 0, 255)
    u = load_user_image({"background": None, "layers": [], "composite": canvas}, MNIST)
    assert u.x[0, 0, 14, 14] > 0.8 and u.x[0, 0, 2, 2] < 0.1


def test_upload_animated_gif_and_exif(tmp_path):
    frames = [Image.new("L", (20, 20), v) for v in (0, 255, 128)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    u = load_user_image(buf.getvalue(), MNIST)
    assert float(u.x.max()) < 0.05  # the first (black) frame
    im = Image.new("L", (40, 20), 0)
    im.paste(255, (0, 0, 10, 20))  # bright stripe on the left
    exif = Image.Exif()
    exif[274] = 6  # rotate 90° clockwise on display
    u = load_user_image(_png_bytes(im, "JPEG", exif=exif.tobytes()), MNIST)
    assert u.x.shape == (1, 1, 28, 28)
    col = u.x[0, 0].mean(1)  # after rotation the stripe is at the top
    assert col[:10].mean() > col[-10:].mean()


@pytest.mark.parametrize("data,match", [
    (b"", "empty"),
    (b"hello, this is text\n" * 10, "not an image"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
    (b"<svg width='10'></svg>", "SVG"),
])
def test_bad_uploads_give_clear_messages(tmp_path, data, match):
    path = _write(tmp_path, "upload.png", data)  # e.g. a text file renamed .png: the bytes decide
    with pytest.raises(UserInputError, match=match) as err:
        load_user_image(path, MNIST)
    assert "\n" not in str(err.value)


def test_truncated_and_bomb_uploads(tmp_path, monkeypatch):
    good = _png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)))
    with pytest.raises(UserInputError, match="damaged or truncated"):
        load_user_image(_write(tmp_path, "t.png", good[: len(good) // 2]), MNIST)
    # a PNG header that claims 100000×100000 pixels: refused before decoding
    tiny = _png_bytes(Image.new("L", (1, 1)))
    chunk = b"IHDR" + struct.pack(">II", 100000, 100000) + tiny[24:29]  # same depth/colour/etc.
    bomb = tiny[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + tiny[33:]
    with pytest.raises(UserInputError, match="too large"):
        load_user_image(_write(tmp_path, "bomb.png", bomb), MNIST)
    monkeypatch.setattr(img_mod, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(UserInputError, match="limit"):
        load_user_image(_write(tmp_path, "big.png", good), MNIST)


def test_upload_ten_thousand_squared_is_refused_with_a_message(tmp_path):
    big = _write(tmp_path, "huge.png", _png_bytes(Image.new("1", (10000, 10000), 0)))  # ~100 kB on disk
    with pytest.raises(UserInputError, match="too large") as err:
        load_user_image(big, MNIST)
    message = str(err.value)  # said once, as too large (not re-wrapped as "damaged or truncated")
    assert "\n" not in message and message.count("too large") == 1 and "damaged" not in message
    assert message == "the image (10000×10000) is too large to open safely (over 40 million pixels): shrink it first"
    with pytest.raises(UserInputError, match=r"^the image \(10000×10000\) is too large .*over 4 million pixels"):
        load_user_image(big, MNIST, max_pixels=img_mod.MAX_DRAWING_PIXELS)  # the drawing canvas' cap
    assert img_mod.check_image_size(big, 10**8) == (10000, 10000)  # from the header: nothing is decoded
    with pytest.raises(UserInputError, match="4 million pixels"):
        img_mod.check_image_size(big.read_bytes(), img_mod.MAX_DRAWING_PIXELS)


def test_upload_numpy_and_none():
    u = load_user_image(np.zeros((10, 10, 3), np.float32), (3, 32, 32))
    assert u.x.shape == (1, 3, 32, 32)
    with pytest.raises(UserInputError, match="no image"):
        load_user_image(None, MNIST)
    with pytest.raises(UserInputError, match="empty"):
        load_user_image(np.zeros((0, 5)), MNIST)
    with pytest.raises(UserInputError):
        load_user_image(np.zeros((4, 4, 7)), MNIST)


def test_training_job_stop(env, tmp_path):
    import time

    reg = ModelRegistry(tmp_path / "ck")
    jobs = JobManager(reg, env[0])
    cfg, _ = make_config("mnist", "mlp_vae", 2, "none", 2, 1, 1e-3, train_limit=128)
    jobs.start(cfg, name="stop_job")
    deadline = time.time() + 60
    while jobs.snapshot().done_batches == 0 and time.time() < deadline:
        time.sleep(0.005)
    assert jobs.stop()
    s = jobs.wait(60)
    assert s.status == "stopped", s.message
    assert s.done_batches < s.total_batches
    assert not jobs.stop()  # nothing left to stop


def test_restore_row_pca_dims(registry, test_images):
    x, _, _ = test_images.image("mnist", 2)
    full, _ = restore_row(registry, "mnist", x, "blur", 1.0, seed=0, classical=False)
    few, _ = restore_row(registry, "mnist", x, "blur", 1.0, seed=0, classical=False, pca_dims=2)
    nan, _ = restore_row(registry, "mnist", x, "blur", 1.0, seed=0, classical=False, pca_dims=float("nan"))
    pca_full = next(p for p in full if "PCA" in p.title)
    pca_few = next(p for p in few if "PCA" in p.title)
    assert "d=8" in pca_full.title and "d=2" in pca_few.title
    assert not np.array_equal(pca_full.image, pca_few.image)
    assert "d=8" in next(p for p in nan if "PCA" in p.title).title


def test_bench_app_handler_part(env, tmp_path):
    import json

    from vae_demo.bench import latency as bench_app

    out = tmp_path / "bench_app.json"
    assert bench_app.main(["--no-browser", "--repeats", "5", "--checkpoint-dir", str(env[1]), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data["handler_median_ms"]) == {n for n, _, kind, *_ in TINY_MODELS if kind != "unet"}  # sliders
    assert all(v > 0 for v in data["handler_median_ms"].values())
    assert data["browser"] == {"skipped": "--no-browser"}


def test_random_test_image_is_never_the_one_on_screen(test_images):
    n = len(test_images.require("mnist"))
    for current in (0, 5, n - 1):
        picks = {test_images.random_index("mnist", seed=s, exclude=current) for s in range(300)}
        assert current not in picks and len(picks) > n // 2 and all(0 <= p < n for p in picks)
    assert test_images.random_index("mnist", seed=1, exclude="junk") in range(n)  # a bad box value: any image
    assert len({test_images.random_index("mnist", seed=s) for s in range(300)}) > n // 2


def test_a_model_trained_in_the_app_goes_to_the_user_folder_not_the_repository(env, tmp_path, monkeypatch):
    from vae_demo.checkpoints import DEFAULT_DIR

    monkeypatch.delenv("VAE_DEMO_CHECKPOINTS", raising=False)
    monkeypatch.delenv("VAE_DEMO_USER_CHECKPOINTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    before = sorted(p.name for p in DEFAULT_DIR.iterdir())
    reg = ModelRegistry()  # as the app builds it: the repository's checkpoints/ and the user's folder
    assert reg.directory == DEFAULT_DIR and not reg.user_directory.resolve().is_relative_to(DEFAULT_DIR.parent)
    jobs = JobManager(reg, env[0])
    cfg, _ = make_config("mnist", "pca", 4, "none", 1, 32, 1e-3, train_limit=64)
    jobs.start(cfg, name="mine_pca")
    assert jobs.wait(120).status == "done"
    assert sorted(p.name for p in DEFAULT_DIR.iterdir()) == before  # nothing new in the repository
    assert (tmp_path / "cache" / "vae_demo" / "checkpoints" / "mine_pca.safetensors").is_file()
    e = reg.get("mine_pca")
    assert e.yours and e.label.endswith("(yours)")
    assert not any(x.yours for x in reg.entries() if x.name != "mine_pca")


def test_train_curves_put_the_kl_on_its_own_axis():
    from vae_demo.app.figures.train import curves_figure

    vae = [{"epoch": e, "train_loss": 300 - e, "train_recon": 290 - e, "train_kl": 10 + e, "test_loss": 301 - e,
            "test_recon": 291 - e, "test_kl": 10 + e, "test_psnr": 15 + e} for e in (1, 2)]
    fig = curves_figure(vae)
    axis = {t.name: t.yaxis for t in fig.data}
    assert axis["train recon"] == axis["test loss"] == "y"
    assert axis["train kl"] == axis["test kl"] == "y2" and axis["test PSNR"] == "y3"
    assert [a.text for a in fig.layout.annotations] == ["loss and recon (per image)", "kl (per image)",
                                                       "test PSNR (dB)"]
    ae = [{k: v for k, v in h.items() if not k.endswith("_kl")} for h in vae]
    assert {t.name: t.yaxis for t in curves_figure(ae).data}["test PSNR"] == "y2"  # no empty KL panel
    # whatever terms a model returns: small ones share the second axis, under their own names
    vq = [{**h, "train_codebook": 0.5, "train_commitment": 0.1, "test_codebook": 0.4} for h in ae]
    assert [a.text for a in curves_figure(vq).layout.annotations][1] == "codebook and commitment (per image)"


def test_map_classes_have_ten_colours_a_projector_can_tell_apart(registry, test_images):
    e = registry.get("t_conv_vae_z3")
    m = latent.latent_map(e, test_images)
    fig = latent_figures.map_figure(m, [str(i) for i in range(10)])
    colours = {t.name: t.marker.color for t in fig.data if t.name != "decoded point"}
    assert len(set(colours.values())) == len(colours)
    rgb = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in latent_figures.CLASS_COLORS]
    closest = min(math.dist(a, b) for i, a in enumerate(rgb) for b in rgb[i + 1:])
    assert len(rgb) == 10 and closest > 60  # plotly's default gives classes 4 and 9 two oranges 43 apart


def test_model_picker_defaults_and_filter(registry, test_images):
    from vae_demo.services.restore import CLASSICAL, default_models, model_choices, row_html

    picks = default_models(registry, "mnist")
    assert picks[-1] == CLASSICAL and len(picks) == 3
    restorer, plain = (registry.get(n) for n in picks[:2])
    assert restorer.is_restorer and not plain.is_restorer and plain.is_vae  # the comparison that makes the point
    assert {v for _, v in model_choices(registry, "mnist")} == set(registry.names("mnist")) | {CLASSICAL}
    x = test_images.image("mnist", 0)[0]
    panels, _ = restore_row(registry, "mnist", x, "gaussian", 0.1, 0, False, models=picks)
    assert [p.short for p in panels][:4] == ["original", "corrupted", restorer.name, plain.name]
    assert panels[-1].short == "classical" and len(panels) == 5
    only, _ = restore_row(registry, "mnist", x, "gaussian", 0.1, 0, False, models=[plain.name])
    assert [p.short for p in only] == ["original", "corrupted", plain.name]
    with pytest.raises(UserInputError, match="list of model names"):
        restore_row(registry, "mnist", x, "gaussian", 0.1, models=[1, 2])
    html_row = row_html(panels, 196)
    assert html_row.count("<img ") == 5 and html_row.count('width="196"') == 5
    assert f">{plain.name}<" in html_row and "dB · SSIM" in html_row and "vd-best" in html_row


def test_a_model_trained_in_the_app_is_not_in_the_default_row(env, tmp_path):
    from vae_demo.services.restore import default_models

    reg = ModelRegistry(env[1], user_directory=tmp_path / "mine")
    jobs = JobManager(reg, env[0])
    jobs.start(make_config("mnist", "conv_ae", 4, "mix", 1, 32, 1e-3, train_limit=64)[0], name="my_restorer")
    assert jobs.wait(120).status == "done"
    assert reg.get("my_restorer").yours and "my_restorer" not in default_models(reg, "mnist")


@pytest.mark.integration
def test_the_restore_tabs_story_holds_for_the_default_image_of_every_dataset():
    """What the explanation says, checked on what the screen shows by default (committed checkpoints, the
    first test image, Gaussian noise at the default σ): the plain autoencoder/VAE in the row scores below
    the noisy input, the restorer above it."""
    from vae_demo.services.restore import default_models

    root = Path(__file__).resolve().parent.parent
    reg = ModelRegistry(root / "checkpoints", user_directory=root / "no_such_folder")
    images = TestImages(root / "no_such_folder")  # the shipped sample: image #0 is the test split's #0
    for name in ("mnist", "fashion-mnist", "cifar10"):
        picks = default_models(reg, name)
        x = images.image(name, 0)[0]
        panels, _ = restore_row(reg, name, x, "gaussian", default_severity("gaussian"), 0, False, models=picks)
        noisy, restorer, plain = panels[1], panels[2], panels[3]
        assert plain.psnr < noisy.psnr < restorer.psnr, (name, plain.psnr, noisy.psnr, restorer.psnr)


def test_slider_labels_say_what_their_number_is(registry, test_images):
    vae = latent.latent_stats(registry.get("t_conv_vae_z3"), test_images)
    assert all(label.endswith(" nats") and " · KL " in label for label in latent.slider_labels(
        registry.get("t_conv_vae_z3"), vae))
    pca = registry.get("t_pca_z8")
    assert " · eigenvalue " in latent.slider_labels(pca, latent.latent_stats(pca, test_images))[0]


def test_interpolation_strips_wrap_and_say_how_far_apart_the_latent_paths_are(registry, test_images):
    e = registry.get("t_conv_vae_z3")
    xa, xb = test_images.image("mnist", 0)[0], test_images.image("mnist", 1)[0]
    rows = latent.interpolate(e, xa, xb, 24)
    strip = latent.path_strip(rows["linear"])
    f = 112 // 28
    assert strip.shape == ((3 * 29 + 1) * f, (8 * 29 + 1) * f)  # 24 frames: 3 rows of 8, each 112 px tall
    same = latent.path_difference(e, xa, xa, latent.interpolate(e, xa, xa, 5))
    assert same["angle_deg"] < 1e-3 and same["midpoint_norm"] == pytest.approx(1.0) and same["max_pixel_diff"] < 1e-6
    d = latent.path_difference(e, xa, xb, rows)
    za, zb = e.model.embed(xa).reshape(-1), e.model.embed(xb).reshape(-1)
    assert d["midpoint_norm"] == pytest.approx(float((za + zb).norm() / (za.norm() + zb.norm())), rel=1e-5)
    assert d["max_pixel_diff"] == pytest.approx(float((rows["linear"] - rows["slerp"]).abs().max()))
