"""The VQ-VAE (vae_demo/models/vqvae.py): its loss terms, the straight-through gradient, dead-code
restarts, and a checkpoint the app reads like any other."""

import math

import pytest
import torch

from tests.helpers.images import batch
from vae_demo.checkpoints import load_checkpoint
from vae_demo.data import load_dataset
from vae_demo.models import MODELS, build_model
from vae_demo.models.base import code_usage
from vae_demo.train import main


def test_loss_terms_are_named_finite_and_weighted_by_beta():
    torch.manual_seed(0)
    m = build_model("vqvae", (1, 28, 28), 8, codebook_size=16, commitment_weight=0.25)
    x = batch((1, 28, 28), n=16)
    m.eval()  # no restarts: the terms as they are
    t = m.loss(x)
    assert set(t) == {"recon", "codebook", "commitment", "loss"}
    assert all(math.isfinite(float(v)) and float(v) >= 0 for v in t.values())
    assert float(t["loss"]) == pytest.approx(float(t["recon"] + t["codebook"] + 0.25 * t["commitment"]), rel=1e-5)
    assert float(t["codebook"]) == pytest.approx(float(t["commitment"]), rel=1e-5)  # the same distance, two gradients
    assert m.code_grid == (7, 7) and m.latent_bits() == 49 * 4
    assert MODELS["vqvae"].settings()["commitment_weight"].default == 0.25  # the paper's β


def test_the_straight_through_gradient_reaches_the_encoder():
    torch.manual_seed(0)
    m = build_model("vqvae", (3, 32, 32), 8, codebook_size=16)
    x = batch((3, 32, 32), n=8)
    m.loss(x)["recon"].backward()  # the reconstruction alone: only the straight-through copy links it to the encoder
    g = m.encoder[0].weight.grad
    assert g is not None and float(g.abs().sum()) > 0
    assert m.embedding.weight.grad is None or float(m.embedding.weight.grad.abs().sum()) == 0  # recon moves no code


def test_dead_codes_are_restarted_so_more_than_one_code_is_used():
    torch.manual_seed(0)
    m = build_model("vqvae", (1, 28, 28), 8, codebook_size=32)
    x = batch((1, 28, 28), n=128)
    with torch.no_grad():  # a collapsed codebook: every code vector the same
        m.embedding.weight.fill_(0.5)
    m.started.fill_(True)  # ... after its first batch
    assert code_usage(m.codes(x), 32).used == 1 / 32
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    m.train()
    for _ in range(80):
        loss = m.loss(x)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    u = code_usage(m.codes(x), 32)
    assert u.used > 0.25 and u.perplexity > 4, u  # restarts brought codes back into play


def test_a_vqvae_checkpoint_stores_its_test_codes_and_reloads_exactly(data_dir, tmp_path):
    ck = tmp_path / "ck"
    assert main(["--dataset", "mnist", "--model", "vqvae", "--latent-dim", "4", "--codebook-size", "16",
                 "--epochs", "1", "--batch-size", "32", "--train-limit", "256", "--device", "cpu",
                 "--checkpoint-dir", str(ck)]) == 0
    name = "mnist_vqvae_z4_k16"
    c = load_checkpoint(name, ck)
    assert set(c.meta["metrics"]) >= {"test_recon", "test_codebook", "test_commitment", "test_loss", "test_psnr"}
    assert "--codebook-size 16 --commitment-weight 0.25" in c.meta["command"]
    codes = c.extras["test_codes"]
    assert codes.dtype == torch.uint8 and codes.shape[1:] == (7, 7)
    x = load_dataset("mnist", "test", data_dir).floats(slice(0, len(codes)))
    assert torch.equal(c.model.codes(x).to(torch.uint8), codes)  # the reloaded weights give the stored codes
    assert c.model.usage.shape == (16,) and bool(c.model.started)  # the restart state travels with the weights


def test_the_train_tab_trains_it_and_plots_its_terms(data_dir):
    """The Train tab's path (make_config from the tab's controls, then training): the VQ-VAE's own settings
    come from its declarations, and the curves split its small terms onto their own axis."""
    from vae_demo.app.figures.train import loss_terms
    from vae_demo.app.tabs.train import model_controls
    from vae_demo.services.jobs import make_config
    from vae_demo.training import train

    assert {"codebook_size", "commitment_weight"} <= set(model_controls())
    controls = {name: s.default for name, s in model_controls().items()} | {"codebook_size": 16}
    cfg, _ = make_config("mnist", "vqvae", 4, "none", 1, 32, 1e-3, 64, hparams=controls)
    assert cfg.model_settings()["codebook_size"] == 16 and "beta" not in cfg.hparams  # β hidden, at its default
    res = train(cfg, load_dataset("mnist", "train", data_dir), load_dataset("mnist", "test", data_dir))
    big, small = loss_terms(res.history)
    assert big[0] == "loss" and "recon" in big and {"codebook", "commitment"} <= set(small)
