"""ZeroGPU: training in bounded GPU calls, everything else on the CPU, and no change off ZeroGPU.

These tests run in-process against tests/helpers/fake_spaces.py, a stand-in for the ``spaces`` package that
enforces the documented limits of ``@spaces.GPU`` (arguments and results cross by pickle, a declared
duration that is checked, CUDA emulated outside calls). The fake is kept only where the real package
cannot go: inside this test process (the real one patches torch for the whole process at import) with a
test's own hooks (a Stop between two particular calls, a loss made to diverge inside a call, a call made
to overrun), and for a bit-for-bit comparison with a run in one go. Plus the service functions the Train
tab calls (durations, quota estimates, defaults, refusals), which need no package at all.

The real ``spaces`` package in ZeroGPU mode (the app and the job in subprocesses, against a loopback
stand-in for the device API): tests/test_zerogpu_real.py. No test here can reach the Hub.
"""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers.fake_spaces import FakeSpaces
from tests.helpers.world import make_tiny_world
from vae_demo.data import load_dataset
from vae_demo.services import gpu, jobs, latent
from vae_demo.services.jobs import JobManager
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.restore import restore_row
from vae_demo.services.testdata import TestImages
from vae_demo.training import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent


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


def _short_calls(monkeypatch, piece=0.05, overhead=10.0):
    monkeypatch.setattr(gpu, "PIECE_SECONDS", piece)  # many small calls
    monkeypatch.setattr(gpu, "OVERHEAD_SECONDS", overhead)
    monkeypatch.setattr(gpu, "MIN_TRAIN_SECONDS", min(piece, 1.0))


def test_a_train_run_of_several_gpu_calls_completes_and_equals_a_run_in_one_go(zerogpu, world, tmp_path, monkeypatch):
    data, _ = world
    _short_calls(monkeypatch)
    registry = ModelRegistry(tmp_path / "ck")
    job = JobManager(registry, data)
    assert "ZeroGPU" in jobs.device_description()
    cfg = _cfg()
    job.start(cfg, name="zg")
    s = _wait(job)
    assert s.status == "done", s.message
    calls = zerogpu.calls
    assert len(calls) >= 3 and {c.name for c in calls} == {"train_piece"}
    assert all(c.took_s <= c.declared_s == 11 for c in calls)  # 0.05 s + 10 s: whole seconds, at least 11
    # each call starts where the previous one ended (the state went there and back as bytes)
    assert calls[0].args[0] is None and all(isinstance(c.args[0], bytes) for c in calls[1:])
    done = [gpu.unpack_state(c.result[1]).done_batches for c in calls]
    assert done == sorted(done) and len(set(done)) == len(done) and done[-1] == 3 * 8
    for prev, nxt in zip(calls, calls[1:]):
        assert nxt.args[0] == prev.result[1]
    assert s.gpu_calls == len(calls) and s.gpu_used_s > 0 and jobs.gpu_status(s).startswith(f"{len(calls)} GPU call")
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
    _short_calls(monkeypatch, piece=0.02)
    registry = ModelRegistry(tmp_path / "ck")
    job = JobManager(registry, data)

    def stop_after_an_epoch(call):
        if call.args[0] is not None and gpu.unpack_state(call.args[0]).epoch >= 1:
            job.stop()

    zerogpu.before_call = stop_after_an_epoch
    job.start(_cfg(epochs=20), name="zg_stop")
    s = _wait(job)
    assert s.status == "stopped" and "after the current GPU call" in JobManager.stop_note()
    last = gpu.unpack_state(zerogpu.calls[-1].result[1])
    assert 1 <= last.epoch < 20 and len(zerogpu.calls) < 20 * 8  # it did not train on
    assert registry.get("zg_stop").meta["epochs"] == last.epoch  # the finished epochs are saved


def test_a_call_cut_off_past_its_duration_ends_the_job_with_a_message_and_keeps_the_checkpoint(
        zerogpu, world, tmp_path, monkeypatch):
    data, _ = world
    _short_calls(monkeypatch, piece=0.02, overhead=0.5)
    real = gpu.advance

    def slow_after_an_epoch(state, *a, **k):
        if state is not None and state.epoch >= 1:
            time.sleep(1.6)  # past the declared 1 s (0.02 + 0.5, rounded up to the shortest): cut off
        return real(state, *a, **k)

    monkeypatch.setattr(gpu, "advance", slow_after_an_epoch)
    registry = ModelRegistry(tmp_path / "ck")
    job = JobManager(registry, data)
    job.start(_cfg(epochs=5), name="zg_cut")
    s = _wait(job)
    assert s.status == "failed" and "the GPU call was cut off" in s.message and "past its" in s.message
    assert "your 1 finished epoch(s) are saved as zg_cut" in s.message
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
    plan = gpu.plan_piece(factor=1.0)
    assert plan.declared_s == plan.request_s == 45 and plan.train_s == gpu.PIECE_SECONDS


def test_durations_follow_the_hardware_factor_and_the_quota_the_platform_reported():
    """The package multiplies a declared duration by the hardware's factor (1.5 on the RTX PRO 6000) before
    the platform checks it: a call declares the request divided by the factor; a reported quota caps the
    request, down to the shortest useful call (whether that fits is the platform's to say)."""
    blackwell = gpu.plan_piece(factor=1.5)
    assert (blackwell.request_s, blackwell.declared_s, blackwell.train_s) == (45, 30, 20.0)
    short = gpu.plan_piece(left_s=42, factor=1.5)
    assert short.request_s == 42 and short.declared_s == 28 and short.train_s == 17.0
    assert round(short.declared_s * 1.5) <= 42  # what the package sends the platform fits what it reported
    floor = gpu.plan_piece(left_s=10, factor=1.5)
    assert floor.request_s == gpu.min_request_s() == 30 and floor.train_s == gpu.MIN_TRAIN_SECONDS
    assert gpu.plan_piece(needed_s=2.0, factor=1.0).train_s == gpu.MIN_TRAIN_SECONDS  # the run's last bit
    # an unauthenticated visitor's 2 minutes: 4 calls, 77 s of training (the 4th asks for what is left)
    assert gpu.training_bought(120, 1.5) == (77.0, 4)
    assert gpu.training_bought(300, 1.5)[0] > 2.5 * 77


def test_a_refusal_is_read_for_what_is_left_and_what_to_do():
    """The package's own words (spaces/zero/client.py) for each refusal, as gr.Error with a title."""
    import gradio as gr

    def err(title, message):
        return gr.Error(message, title=title)

    f = gpu.explain_failure(err("ZeroGPU quota exceeded", "You have exceeded your free ZeroGPU quota (45s requested "
                                "vs. 42s left). Try again in 0:10:00. "))
    assert (f.kind, f.requested_s, f.left_s, f.wait) == ("quota", 45, 42, "0:10:00")
    f = gpu.explain_failure(err("ZeroGPU illegal duration", "The requested GPU duration (45s) is larger than the "
                                "maximum allowed"))
    assert (f.kind, f.requested_s) == ("illegal", 45)
    assert gpu.explain_failure(err("ZeroGPU client error", "No GPU was available")).kind == "no_gpu"
    assert gpu.explain_failure(err("ZeroGPU worker error", "GPU task aborted")).kind == "aborted"
    assert gpu.explain_failure(err("ZeroGPU quota exceeded", "Space app has reached its GPU limit. Try re-running "
                                   "outside of examples if it happened after clicking one")).kind == "quota"
    assert gpu.explain_failure(RuntimeError("boom")).message == "RuntimeError: boom"


def test_the_train_tab_services_on_zerogpu(monkeypatch):
    """What the Train tab shows before a run (the quota estimate), its defaults on a Space, and the GPU
    line while a run goes (pure functions: no package)."""
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    cfg = _cfg(model="conv_vae", epochs=20, batch_size=128, train_limit=10000)
    e = jobs.quota_estimate(cfg)
    assert e is not None and not e.measured and e.images_per_s == 300 * 128  # the prior: kernel-launch bound
    assert e.needed_s == pytest.approx(20 * 10000 / (300 * 128))
    who, quota, bought, calls, epochs = e.tiers[0]
    assert (who, quota, calls) == ("not logged in", 120, 4) and bought == 77.0 and epochs > 20
    assert "Not logged in (2 min a day)" in e.text and "the whole run" in e.text and "Free account (5 min" in e.text
    gpu.record_speed(cfg, 1000.0)  # measured by a call here: the estimate follows it
    e = jobs.quota_estimate(cfg)
    assert e.measured and e.tiers[0][4] == pytest.approx(77 * 1000 / 10000) and "7.7 of its 20 epochs" in e.text
    jobs.QUOTAS.report("v1", 50)
    assert "reported about 50 s left" in jobs.quota_estimate(cfg, "v1").text
    d = jobs.train_defaults("mnist")
    assert d["model"] == "conv_vae" and 1 <= d["epochs"] <= jobs.max_epochs() and d["train_limit"] == 10000
    monkeypatch.delenv("SPACES_ZERO_GPU")
    assert jobs.quota_estimate(cfg) is None and jobs.train_defaults("mnist") == jobs.BASE_DEFAULTS
    s = jobs.JobState(status="running", gpu_calls=3, phase="waiting for a GPU", call_asked=100.0, gpu_used_s=41.6,
                      quota_left_s=30.0, quota_wait="0:10:00")
    assert jobs.gpu_status(s, now=104.2) == ("GPU call 3: waiting for a GPU, 4 s so far · GPU time used: 42 s · the "
                                            "platform reported about 30 s of your quota left (try again in 0:10:00)")
    s.phase, s.call_started, s.call_train_s = "training on the GPU", 110.0, 20.0
    assert "training, 5 of 20 s" in jobs.gpu_status(s, now=115.0) and jobs.call_fraction(s, now=115.0) == 0.25


def test_checkpoint_json_of_a_zerogpu_run_records_the_device_it_trained_on(zerogpu, world, tmp_path, monkeypatch):
    data, _ = world
    _short_calls(monkeypatch, piece=10.0)
    registry = ModelRegistry(tmp_path / "ck")
    job = JobManager(registry, data)
    job.start(_cfg(epochs=1), name="zg_meta")
    assert _wait(job).status == "done"
    meta = json.loads((registry.user_directory / "zg_meta.json").read_text())
    assert meta["device"] == "cpu" and meta["hardware"]["precision"] == "fp32"  # no GPU inside the fake
    assert meta["command"].startswith("python -m vae_demo.train") and np.isfinite(meta["metrics"]["test_psnr"])


def test_gradios_own_queue_on_zerogpu_holds_one_waiting_event_the_apps_holds_a_class(monkeypatch):
    """Why a class was refused on ZeroGPU (gradio blocks.py: ``max_size = 1`` there unless the app sets it),
    and the app's bound (vae_demo/app/launch.py's main() and vae_demo/bench/latency.launch): measured in tests/test_zerogpu_real.py and
    the load test's ZeroGPU bursts."""
    import gradio as gr

    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    with gr.Blocks() as demo:
        gr.Markdown("x")
    assert demo.queue()._queue.max_size == 1
    assert demo.queue(**gpu.queue_settings())._queue.max_size == gpu.QUEUE_MAX_SIZE == 128
    assert demo._queue.default_concurrency_limit == 2
    monkeypatch.delenv("SPACES_ZERO_GPU")
    assert demo.queue(**gpu.queue_settings())._queue.max_size == 128  # the same bound off ZeroGPU


def test_on_zerogpu_the_train_tab_says_what_the_quota_buys_and_off_it_nothing_changes(monkeypatch, tmp_path):
    """The Train tab's wiring of the quota estimate: on ZeroGPU a line under the Train button, filled at page
    load and on every change of a setting, from the tab's own settings; off ZeroGPU no such line and no event."""
    import app

    def build():
        registry = ModelRegistry(ROOT / "checkpoints", user_directory=tmp_path / "user")
        demo = app.build_app(registry, TestImages(tmp_path / "no_data"))
        quota = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "train-quota")
        return demo, quota, [f for f in demo.fns.values() if quota in f.outputs]

    monkeypatch.delenv(gpu.ZEROGPU_ENV, raising=False)
    _, quota, wired = build()
    assert not quota.visible and wired == []
    monkeypatch.setenv(gpu.ZEROGPU_ENV, "true")
    _, quota, wired = build()
    assert quota.visible and len(wired) >= 2  # the settings' changes, the page load (and after a run)
    fn = wired[0]
    text = fn.fn(*[b.value for b in fn.inputs])
    assert "GPU quota" in text and "2 min a day" in text and "epoch" in text
    epochs = next(b for b in fn.inputs if getattr(b, "elem_id", None) == "train-epochs")
    assert epochs.value == jobs.train_defaults()["epochs"]  # a Space starts at settings that fit 2 minutes
    bad = [b.value for b in fn.inputs]
    bad[fn.inputs.index(epochs)] = -3
    assert "epochs" in fn.fn(*bad).lower()  # a bad setting is said, not raised
