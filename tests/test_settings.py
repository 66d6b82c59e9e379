"""Settings declared once: a model's new hyperparameter reaches the CLI, the command that reproduces a
checkpoint, the default checkpoint name, the config's checks and the Train tab, from one declaration."""

import pytest
import torch.nn as nn

from vae_demo.app.tabs.train import model_controls
from vae_demo.models.base import MODELS, Autoencoder
from vae_demo.services.errors import UserInputError
from vae_demo.services.jobs import make_config
from vae_demo.settings import Setting
from vae_demo.train import build_parser, config_from_args
from vae_demo.training import TrainConfig, canonical_command, default_name, make_model


class Widened(Autoencoder):
    """A toy kind with one setting of its own (declared next to its constructor, and nowhere else)."""

    kind = "widened"
    SETTINGS = (Setting("width", "int", "hidden units", lo=1, hi=64, label="Width", slider=(1, 64, 1), tag="w{}"),)

    def __init__(self, image_shape, latent_dim, recon="bce", width=8):
        super().__init__(image_shape, latent_dim, recon)
        self.width = width
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, width), nn.ReLU(), nn.Linear(width, latent_dim))
        self.dec = nn.Linear(latent_dim, 28 * 28)

    def encode(self, x):
        return self.enc(x)

    def decode_logits(self, z):
        return self.dec(z).view(-1, 1, 28, 28)


@pytest.fixture
def widened():
    MODELS["widened"] = Widened
    yield Widened
    del MODELS["widened"]


def test_a_new_setting_is_one_declaration(widened):
    assert Widened.settings()["width"].default == 8 and Widened.takes("width") and not Widened.takes("beta")
    args = build_parser().parse_args(["--model", "widened", "--width", "5", "--latent-dim", "3"])
    cfg = config_from_args(args).validate()
    assert cfg.model_settings() == {"recon": "bce", "width": 5}
    assert make_model(cfg, (1, 28, 28)).width == 5
    assert default_name(cfg) == "mnist_widened_z3_w5"
    cmd = canonical_command(cfg, "x")
    assert "--width 5" in cmd and "--beta" not in cmd
    again = config_from_args(build_parser().parse_args(cmd.split()[3:]))
    assert again.model_settings() == cfg.model_settings() and again.latent_dim == 3
    assert "width" in model_controls()  # the Train tab shows it (ui=True), for the kinds that take it
    cfg, _ = make_config("mnist", "widened", 3, "none", 1, 32, 1e-3, hparams={"width": 99, "beta": 1.0})
    assert cfg.model_settings()["width"] == 64  # the UI clamps; β at its default is dropped (hidden control)


def test_a_setting_is_checked_against_the_kind_and_its_range(widened):
    with pytest.raises(ValueError, match="Width must be in 1..64, got 0"):
        TrainConfig(model="widened", hparams={"width": 0}).validate()
    with pytest.raises(ValueError, match="width: for widened only"):
        TrainConfig(model="conv_ae", hparams={"width": 4}).validate()
    with pytest.raises(UserInputError, match="β \\(KL weight\\): for .*conv_vae"):
        make_config("mnist", "widened", 3, "none", 1, 32, 1e-3, hparams={"beta": 4.0})
    # an old recorded command wrote --beta 1 for every kind: at its default it changes nothing
    assert config_from_args(build_parser().parse_args(["--model", "conv_ae", "--beta", "1"])).hparams == {}
    with pytest.raises(ValueError, match="for conv_vae, conv_cvae, mlp_vae"):
        config_from_args(build_parser().parse_args(["--model", "conv_ae", "--beta", "2"])).validate()
