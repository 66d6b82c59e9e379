import json
import math

import pytest
import torch

from vae_demo.checkpoints import load_checkpoint
from vae_demo.data import load_dataset
from vae_demo.train import main
from vae_demo.training import TrainConfig, TrainingError, train
from vae_demo.training import loop as training
from vae_demo.training.run import run


def tiny(data_dir, **kw):
    cfg = TrainConfig(**{"dataset": "mnist", "model": "conv_vae", "latent_dim": 4, "epochs": 2,
                         "batch_size": 16, "lr": 3e-3, "device": "cpu", **kw})
    return cfg, load_dataset(cfg.dataset, "train", data_dir), load_dataset(cfg.dataset, "test", data_dir)


def test_train_records_per_epoch_history(data_dir):
    cfg, tr, te = tiny(data_dir, epochs=3)
    res = train(cfg, tr, te)
    assert [h["epoch"] for h in res.history] == [1, 2, 3]
    h = res.history
    for key in ("train_loss", "train_recon", "train_kl", "test_loss", "test_recon", "test_kl", "test_psnr"):
        assert all(math.isfinite(e[key]) for e in h), key
    assert h[-1]["train_loss"] < h[0]["train_loss"] and h[-1]["test_loss"] < h[0]["test_loss"]
    assert res.device == "cpu" and not res.stopped and res.wall_time_s > 0


def test_same_seed_same_model(data_dir):
    cfg, tr, te = tiny(data_dir, epochs=1)
    a = train(cfg, tr, te).model.state_dict()
    b = train(cfg, tr, te).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_denoiser_mode_corrupts_inputs_only(data_dir):
    cfg, tr, te = tiny(data_dir, model="conv_ae", epochs=1, corruption="gaussian:0.5", seed=1)
    res = train(cfg, tr, te)
    clean = training.evaluate(res.model, te.floats())
    noisy = training.evaluate(res.model, te.floats(), "gaussian:0.5")
    # test metrics are measured on corrupted inputs against clean targets
    assert res.history[0]["test_psnr"] == pytest.approx(noisy["psnr"])
    assert noisy["psnr"] != pytest.approx(clean["psnr"])


def test_stop_after_an_epoch_and_mid_epoch(data_dir):
    cfg, tr, te = tiny(data_dir, epochs=5)
    res = train(cfg, tr, te, on_epoch=lambda m, model: True)
    assert res.epochs_done == 1 and res.stopped
    snapshot = {}

    def keep(metrics, model):
        snapshot.update({k: v.clone() for k, v in model.state_dict().items()})

    res = train(cfg, tr, te, on_epoch=keep, on_batch=lambda done, total: done > 8)  # 6 batches/epoch
    assert res.epochs_done == 1 and res.stopped
    state = res.model.state_dict()
    assert all(torch.equal(state[k], snapshot[k]) for k in state)  # half an epoch is thrown away


def test_nan_loss_raises_and_keeps_last_good_weights(data_dir, monkeypatch):
    cfg, tr, te = tiny(data_dir, epochs=3)
    real = training.make_model
    calls = {"n": 0}

    def poisoned(cfg, shape):
        model = real(cfg, shape)
        original = model.loss

        def loss(x_in, x_target=None, mask=None):
            calls["n"] += 1
            terms = original(x_in, x_target, mask)
            if calls["n"] > 7:  # second epoch
                terms["loss"] = terms["loss"] * float("nan")
            return terms

        model.loss = loss
        return model

    monkeypatch.setattr(training, "make_model", poisoned)
    seen = []
    with pytest.raises(TrainingError, match="loss became nan in epoch 2"):
        train(cfg, tr, te, on_epoch=lambda m, model: seen.append(m))
    assert len(seen) == 1


def test_pca_trains_in_closed_form(data_dir):
    cfg, tr, te = tiny(data_dir, model="pca", latent_dim=8)
    res = train(cfg, tr, te)
    assert res.epochs_done == 1 and res.history[0]["test_psnr"] > 15


@pytest.mark.parametrize("bad", [dict(epochs=0), dict(lr=float("nan")), dict(batch_size=-1),
                                 dict(model="gan"), dict(dataset="svhn"), dict(corruption="blur:99"),
                                 dict(hparams={"beta": -1}), dict(latent_dim=0), dict(precision="fp16")])
def test_config_validation(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad).validate()


def test_cli_writes_a_complete_checkpoint(data_dir, tmp_path, capsys):
    ck = tmp_path / "ck"
    rc = main(["--dataset", "cifar10", "--model", "conv_ae", "--latent-dim", "6", "--epochs", "2",
               "--batch-size", "32", "--corruption", "mix", "--device", "cpu", "--checkpoint-dir", str(ck)])
    assert rc == 0
    name = "cifar10_conv_ae_z6_mix"
    assert f"saved checkpoint '{name}' after 2 epoch(s)" in capsys.readouterr().out
    meta = json.loads((ck / f"{name}.json").read_text())
    assert meta["command"].startswith("python -m vae_demo.train --dataset cifar10 --model conv_ae")
    assert "--corruption mix" in meta["command"] and f"--name {name}" in meta["command"]
    assert meta["epochs"] == 2 and len(meta["history"]) == 2 and meta["wall_time_s"] > 0
    assert meta["corruption"] == "mix" and meta["image_shape"] == [3, 32, 32] and meta["device"] == "cpu"
    assert set(meta["versions"]) >= {"torch", "python"} and meta["data"]["train_images"] == 96
    hw = meta["hardware"]  # what the wall time was measured on
    assert hw["device_name"] and hw["precision"] == "fp32" and hw["torch_threads"] >= 1 and hw["cpu_cores"] >= 1
    assert "test_loss" in meta["metrics"] and "test_psnr" in meta["metrics"]
    c = load_checkpoint(name, ck)
    assert c.extras["test_latents"].shape == (48, 6) and c.extras["test_labels"].shape == (48,)
    assert (ck / f"{name}.safetensors").stat().st_size < 10 * 1024 * 1024


def test_cli_saves_fp16_weights_when_asked_and_records_it(data_dir, tmp_path, capsys):
    ck = tmp_path / "ck"
    common = ["--dataset", "mnist", "--model", "mlp_ae", "--latent-dim", "2", "--epochs", "1", "--device", "cpu",
              "--checkpoint-dir", str(ck)]
    assert main([*common, "--name", "full"]) == 0 and main([*common, "--name", "half", "--save-precision", "fp16"]) == 0
    full, half = (json.loads((ck / f"{n}.json").read_text()) for n in ("full", "half"))
    assert "--save-precision" not in full["command"] and "--save-precision fp16" in half["command"]
    assert half["config"]["save_precision"] == "fp16" and full["config"]["save_precision"] == "fp32"
    assert 0.45 < half["weights_bytes"] / full["weights_bytes"] < 0.55
    assert load_checkpoint("half", ck).model.fc1.weight.dtype == torch.float32
    capsys.readouterr()


def test_cli_trains_a_specialist_on_a_list_of_corruptions(data_dir, tmp_path, capsys):
    ck = tmp_path / "ck"
    rc = main(["--dataset", "mnist", "--model", "conv_ae", "--latent-dim", "4", "--epochs", "1",
               "--batch-size", "32", "--corruption", "erasure:0.9, block:10", "--device", "cpu",
               "--checkpoint-dir", str(ck)])
    assert rc == 0
    name = "mnist_conv_ae_z4_erasure0.9_block10"
    meta = json.loads((ck / f"{name}.json").read_text())
    assert meta["corruption"] == "erasure:0.9,block:10"
    assert "--corruption erasure:0.9,block:10 " in meta["command"]  # one shell word, re-runnable
    capsys.readouterr()
    assert main(["--corruption", "erasure:0.9,mix", "--checkpoint-dir", str(ck)]) == 2
    assert "kind:severity entries only" in capsys.readouterr().err


def test_cli_trains_a_mask_input_restorer(data_dir, tmp_path, capsys):
    ck = tmp_path / "ck"
    rc = main(["--dataset", "mnist", "--model", "unet", "--latent-dim", "8", "--channels", "4,8", "--epochs", "1",
               "--batch-size", "32", "--corruption", "erasure:0.5", "--mask-input", "--device", "cpu",
               "--checkpoint-dir", str(ck)])
    assert rc == 0
    name = "mnist_unet_z8_erasure0.5_mask"
    c = load_checkpoint(name, ck)
    assert c.model.mask_input and c.meta["hparams"]["mask_input"] is True
    assert c.meta["command"].endswith("--mask-input --name " + name)
    assert c.model.down[0][0].in_channels == 2
    capsys.readouterr()
    assert main(["--model", "conv_ae", "--mask-input", "--checkpoint-dir", str(ck)]) == 2
    assert "mask input: for unet only" in capsys.readouterr().err


def test_cli_errors_are_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VAE_DEMO_DATA", str(tmp_path / "empty"))
    assert main(["--epochs", "1", "--no-download", "--checkpoint-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: dataset 'mnist' not found") and "Traceback" not in err
    assert main(["--corruption", "blur:-3"]) == 2
    assert "must be in" in capsys.readouterr().err
    assert main(["--name", "../evil", "--no-download"]) == 2
    assert "invalid checkpoint name" in capsys.readouterr().err


def test_stopping_early_leaves_the_previous_complete_checkpoint(data_dir, tmp_path):
    cfg, _, _ = tiny(data_dir, epochs=4)
    ck = tmp_path / "ck"
    res = run(cfg, "early", checkpoint_dir=ck, progress=False,
              on_batch=lambda done, total: done > 14)  # 6 batches per epoch: dies in epoch 3
    assert res.stopped
    c = load_checkpoint("early", ck)
    assert c.meta["epochs"] == 2 and len(c.meta["history"]) == 2
    assert not [p for p in ck.iterdir() if p.suffix == ".tmp"]


def test_bf16_autocast_on_cpu_trains_and_is_recorded(data_dir, tmp_path):
    from vae_demo.training import canonical_command

    cfg, tr, te = tiny(data_dir, model="mlp_vae", epochs=2, precision="bf16")
    res = train(cfg, tr, te)
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert all(p.dtype == torch.float32 for p in res.model.parameters())  # autocast, fp32 weights
    assert "--precision bf16" in canonical_command(cfg, "x")
    assert "--precision" not in canonical_command(tiny(data_dir)[0], "x")  # auto stays implicit


def test_unet_trains_channels_last_and_its_checkpoint_reloads_exactly(data_dir, tmp_path):
    cfg, _, te = tiny(data_dir, dataset="cifar10", model="unet", latent_dim=8, hparams={"channels": (4, 6)},
                      corruption="mix", epochs=1)
    ck = tmp_path / "ck"
    res = run(cfg, "u", checkpoint_dir=ck, progress=False)
    conv = res.model.down[0][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    loaded = load_checkpoint("u", ck).model
    x = te.floats()[:8]
    assert torch.allclose(loaded.reconstruct(x), res.model.reconstruct(x), atol=1e-6)


@pytest.mark.parametrize("kw", [
    {"model": "conv_vae"},  # random z in the loss: torch's own random state must travel too
    {"model": "conv_ae", "corruption": "mix", "lr_schedule": "cosine"},  # the data generator and the schedule
    {"model": "pca", "latent_dim": 8},
])
def test_a_run_in_pickled_pieces_equals_a_run_in_one_go(data_dir, kw):
    """What the ZeroGPU path does: each piece starts from the last one's state after a trip through
    pickle (another process), and the run ends with exactly the weights and history of one run."""
    import pickle

    cfg, tr, te = tiny(data_dir, epochs=3, **kw)
    whole = train(cfg, tr, te)
    state, pieces = None, 0
    while state is None or not state.done:
        # one batch per piece (seconds=0): pieces end mid-epoch and between epochs
        state = pickle.loads(pickle.dumps(training.advance(state, cfg, tr, te, seconds=0.0)))
        pieces += 1
        assert pieces < 100
    steps = 6  # 96 images, batch 16
    assert pieces == (1 if kw["model"] == "pca" else 3 * steps)
    if kw["model"] != "pca":
        assert state.done_batches == state.total_batches == 3 * steps
    w = whole.model.state_dict()
    assert all(torch.equal(w[k], state.last_good[k]) for k in w)
    drop = ("time_s",)
    assert [{k: v for k, v in h.items() if k not in drop} for h in state.history] == \
           [{k: v for k, v in h.items() if k not in drop} for h in whole.history]


def test_a_piece_stops_at_its_time_budget_and_keeps_the_epoch_in_progress(data_dir, monkeypatch):
    cfg, tr, te = tiny(data_dir, epochs=2)
    clock = {"t": 0.0}
    monkeypatch.setattr(training.time, "perf_counter", lambda: clock["t"])
    real = training.Trainer._train

    def ticking(self, *a, **k):  # each batch "takes" one second
        orig_step = self.opt.step

        def step(*args, **kwargs):
            clock["t"] += 1.0
            return orig_step(*args, **kwargs)

        self.opt.step = step
        return real(self, *a, **k)

    monkeypatch.setattr(training.Trainer, "_train", ticking)
    state = training.advance(None, cfg, tr, te, seconds=3.5)
    assert (state.epoch, state.step) == (0, 4) and not state.done and state.perm is not None
    state = training.advance(state, cfg, tr, te, seconds=3.5)
    assert (state.epoch, state.step) == (1, 2) and len(state.history) == 1


def test_a_train_tab_job_checks_its_config_once(data_dir, tmp_path, monkeypatch):
    """The Train path validates its config once, where it is made (issue 27: it was checked in make_config, in the
    run and in the Trainer); the job then trains and saves on it as given."""
    from vae_demo.services.jobs import JobManager, make_config
    from vae_demo.services.registry import ModelRegistry
    from vae_demo.training.config import TrainConfig as Config

    calls = []
    real = Config.validate
    monkeypatch.setattr(Config, "validate", lambda self: calls.append(self.model) or real(self))
    cfg, _ = make_config("mnist", "mlp_vae", 2, "none", 1, 32, 1e-3, 64)
    jobs = JobManager(ModelRegistry(tmp_path / "ck"), data_dir)
    jobs.start(cfg, name="once")
    s = jobs.wait(120)
    assert s.status == "done", s.message
    assert calls == ["mlp_vae"]  # made once, checked once: nothing downstream checks it again
    with pytest.raises(ValueError, match="corruption"):  # a bad value is still refused, where it is made
        make_config("mnist", "mlp_vae", 2, "smudge:3", 1, 32, 1e-3, 64)
    assert calls == ["mlp_vae", "mlp_vae"]
