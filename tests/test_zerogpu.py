"""ZeroGPU: training in bounded GPU calls, everything else on the CPU, and no change off ZeroGPU.

Against tests/fake_spaces.py, which enforces the documented limits of ``@spaces.GPU`` (arguments and
results cross by pickle, a declared duration that is checked, CUDA emulated outside calls). No test
here can reach the Hub or a real ZeroGPU worker.
"""

from __future__ import annotations

import importlib
import json
import time

import numpy as np
import pytest
import torch

from tests.fake_spaces import FakeSpaces
from tests.test_demo import make_tiny_world
from vae_demo.data import load_dataset
from vae_demo.services import gpu, jobs, latent
from vae_demo.services.jobs import JobManager
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.restore import restore_row
from vae_demo.services.testdata import TestImages
from vae_demo.training import TrainConfig, train


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_tiny_world(tmp_path_factory.mktemp("world"))


@pytest.fixture
def zerogpu(monkeypatch):
    """The app as on a ZeroGPU Space: the fake `spaces` installed, SPACES_ZERO_GPU set, CUDA emulated."""
    fake = FakeSpaces()
    monkeypatch.setitem(__import__("sys").modules, "spaces", fake.module())
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    importlib.reload(gpu)  # decorate train_piece with the fake, as importing on a Space would
    fake.emulate_cuda(monkeypatch)
    yield fake
    monkeypatch.undo()
    importlib.reload(gpu)  # back to the real package (effect-free here)


def _cfg(**kw):
    return TrainConfig(**{"dataset": "mnist", "model": "conv_vae", "latent_dim": 3, "epochs": 3, "batch_size": 16,
                          "train_limit": 128, "device": "auto", **kw})


def _wait(job: JobManager, timeout=120):
    t0 = time.monotonic()
    while job.snapshot().running and time.monotonic() - t0 < timeout:
        time.sleep(0.05)
    return job.snapshot()


def test_off_zerogpu_the_decorator_and_the_job_change_nothing(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    import spaces

    def f(x):
        return x + 1

    assert spaces.GPU(f) is f and spaces.GPU(duration=10)(f) is f  # the real package, effect-free here
    assert not gpu.on_zerogpu()
    assert "ZeroGPU" not in jobs.device_description()


def test_a_train_run_of_several_gpu_calls_completes_and_equals_a_run_in_one_go(zerogpu, world, tmp_path, monkeypatch):
    data, _ = world
    monkeypatch.setattr(gpu, "PIECE_SECONDS", 0.05)  # many small calls
    monkeypatch.setattr(gpu, "OVERHEAD_SECONDS", 10.0)
    registry = ModelRegistry(tmp_path / "ck")
    job = JobManager(registry, data)
    assert "ZeroGPU" in jobs.device_description()
    cfg = _cfg()
    job.start(cfg, name="zg")
    s = _wait(job)
    assert s.status == "done", s.message
    calls = zerogpu.calls
    assert len(calls) >= 3 and {c.name for c in calls} == {"train_piece"}
    assert all(c.took_s <= c.declared_s == pytest.approx(10.05, abs=0.5) for c in calls)
    # each call starts where the previous one ended (the state went there and back by pickle)
    assert calls[0].args[0] is None
    done = [c.result[0].done_batches for c in calls]
    assert done == sorted(done) and len(set(done)) == len(done) and done[-1] == 3 * 8
    for prev, nxt in zip(calls, calls[1:]):
        assert nxt.args[0].done_batches == prev.result[0].done_batches
    # the checkpoint: 3 epochs, and exactly the weights of the same run in one go
    e = registry.get("zg")
    assert e.meta["epochs"] == 3 and len(e.meta["history"]) == 3 and len(s.history) == 3
    assert s.grid is not None  # the reconstructions were drawn between calls
    tr, te = load_dataset("mnist", "train", data), load_dataset("mnist", "test", data)
    whole = train(TrainConfig(**{**cfg.__dict__, "device": "cpu"}), tr, te).model.state_dict()
    mine = e.model.state_dict()
    assert all(torch.equal(whole[k], mine[k]) for k in whole)


def test_stop_takes_effect_between_gpu_calls_and_keeps_the_finished_epochs(zerogpu, world, tmp_path, monkeypatch):
    data, _ = world
    monkeypatch.setattr(gpu, "PIECE_SECONDS", 0.02)
    registry = ModelRegistry(tmp_path / "ck")
    job = JobManager(registry, data)

    def stop_after_an_epoch(call):
        if call.args[0] is not None and call.args[0].epoch >= 1:
            job.stop()

    zerogpu.before_call = stop_after_an_epoch
    job.start(_cfg(epochs=20), name="zg_stop")
    s = _wait(job)
    assert s.status == "stopped" and "after the current GPU call" in JobManager.stop_note()
    last = zerogpu.calls[-1].result[0]
    assert 1 <= last.epoch < 20 and len(zerogpu.calls) < 20 * 8  # it did not train on
    assert registry.get("zg_stop").meta["epochs"] == last.epoch  # the finished epochs are saved


def test_a_call_cut_off_past_its_duration_ends_the_job_with_a_message_and_keeps_the_checkpoint(
        zerogpu, world, tmp_path, monkeypatch):
    data, _ = world
    monkeypatch.setattr(gpu, "PIECE_SECONDS", 0.02)
    monkeypatch.setattr(gpu, "OVERHEAD_SECONDS", 0.5)
    real = gpu.advance

    def slow_after_an_epoch(state, *a, **k):
        if state is not None and state.epoch >= 1:
            time.sleep(1.6)  # past the declared 1 s (0.02 + 0.5, rounded): the platform cuts the call off
        return real(state, *a, **k)

    monkeypatch.setattr(gpu, "advance", slow_after_an_epoch)
    registry = ModelRegistry(tmp_path / "ck")
    job = JobManager(registry, data)
    job.start(_cfg(epochs=5), name="zg_cut")
    s = _wait(job)
    assert s.status == "failed" and "the GPU call failed" in s.message and "past its" in s.message
    assert registry.get("zg_cut").meta["epochs"] == 1  # the epoch saved before the cut is kept


def test_a_diverging_loss_inside_a_gpu_call_is_explained(zerogpu, world, tmp_path, monkeypatch):
    data, _ = world
    from vae_demo.training import TrainingError

    def diverges(*a, **k):
        raise TrainingError("loss became nan in epoch 1; try a smaller learning rate")

    monkeypatch.setattr(gpu, "advance", diverges)  # a real worker would turn a raised error into "worker error"
    job = JobManager(ModelRegistry(tmp_path / "ck"), data)
    job.start(_cfg(epochs=2), name="zg_nan")
    s = _wait(job)
    assert s.status == "failed" and "loss became nan in epoch 1" in s.message, s.message


def test_no_handler_but_training_enters_a_gpu_call(zerogpu, world):
    """Restore, the sliders, the latent map and interpolation run on the CPU while CUDA *looks* available
    (ZeroGPU's emulation): any of them picking the GPU on its own would fail here, or be recorded."""
    data, ck = world
    registry = ModelRegistry(ck)
    images = TestImages(data)
    x, _, _ = images.image("mnist", 0)
    assert torch.cuda.is_available()  # emulated, as on the Space outside GPU calls
    panels, _ = restore_row(registry, "mnist", x, "gaussian", 0.3, 0, False)
    assert len(panels) >= 4 and all(p.image is not None for p in panels)
    e = registry.get("t_conv_vae_z3")
    stats = latent.latent_stats(e, images)
    img, _ = latent.slider_decode(e, stats, latent.random_values(e, 0), [0.5, 0.0, 0.0])
    assert img.shape == (224, 224)
    m = latent.latent_map(e, images)
    assert len(m.xy) > 0
    rows = latent.interpolate(e, x, images.image("mnist", 1)[0], 5)
    assert len(rows) == 3 and all(r.shape[0] == 5 for r in rows.values())
    import app

    assert app.build_app(registry, images) is not None
    assert zerogpu.calls == []


def test_the_declared_duration_is_within_the_documented_default(monkeypatch):
    # a piece declares its budget plus the overhead: inside ZeroGPU's 60 s default and well inside its limits
    assert gpu.piece_duration(None, _cfg()) == round(gpu.PIECE_SECONDS + gpu.OVERHEAD_SECONDS) <= 60


def test_checkpoint_json_of_a_zerogpu_run_records_the_device_it_trained_on(zerogpu, world, tmp_path, monkeypatch):
    data, _ = world
    monkeypatch.setattr(gpu, "PIECE_SECONDS", 10.0)
    registry = ModelRegistry(tmp_path / "ck")
    job = JobManager(registry, data)
    job.start(_cfg(epochs=1), name="zg_meta")
    assert _wait(job).status == "done"
    meta = json.loads((registry.user_directory / "zg_meta.json").read_text())
    assert meta["device"] == "cpu" and meta["hardware"]["precision"] == "fp32"  # no GPU inside the fake
    assert meta["command"].startswith("python -m vae_demo.train") and np.isfinite(meta["metrics"]["test_psnr"])
