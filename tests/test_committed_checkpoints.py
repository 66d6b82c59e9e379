"""The checkpoints shipped in checkpoints/: complete, small, loadable, and made by the script's commands."""

import re
import shlex
from pathlib import Path

import pytest

from vae_demo.bench.core import corruptions_for
from vae_demo.checkpoints import list_checkpoints, load_checkpoint
from vae_demo.train import build_parser, config_from_args
from vae_demo.training import config_dict

ROOT = Path(__file__).resolve().parent.parent
CKPT = ROOT / "checkpoints"
SCRIPT = ROOT / "scripts" / "make_checkpoints.sh"
MB = 1024 * 1024

# What the project promises to ship (README, BENCHMARKS.md): name -> (dataset, model, latent size)
PROMISED = {
    "mnist_pca_z64": ("mnist", "pca", 64),
    "mnist_mlp_vae_z2": ("mnist", "mlp_vae", 2),
    "mnist_mlp_ae_z2": ("mnist", "mlp_ae", 2),
    "mnist_mlp_ae_z2_gaussian": ("mnist", "mlp_ae", 2),
    "mnist_conv_ae_z16": ("mnist", "conv_ae", 16),
    "mnist_conv_vae_z16": ("mnist", "conv_vae", 16),
    "mnist_conv_vae_z10_b4": ("mnist", "conv_vae", 10),
    "mnist_restorer": ("mnist", "conv_ae", 128),
    "fashion-mnist_conv_vae_z16": ("fashion-mnist", "conv_vae", 16),
    "fashion-mnist_restorer": ("fashion-mnist", "conv_ae", 128),
    "cifar10_conv_vae_z128": ("cifar10", "conv_vae", 128),
    "cifar10_restorer": ("cifar10", "conv_ae", 256),
    "mnist_vqvae": ("mnist", "vqvae", 16),
    "fashion-mnist_vqvae": ("fashion-mnist", "vqvae", 16),
    "cifar10_vqvae": ("cifar10", "vqvae", 32),
    # every dataset has a PCA and an autoencoder twin of its VAE (AE vs VAE, PCA in the row)
    "fashion-mnist_pca_z64": ("fashion-mnist", "pca", 64),
    "fashion-mnist_conv_ae_z16": ("fashion-mnist", "conv_ae", 16),
    "cifar10_pca_z128": ("cifar10", "pca", 128),
    "cifar10_conv_ae_z128": ("cifar10", "conv_ae", 128),
    # the conditional VAEs, the MNIST β family (the rate–distortion view), the blur-family restorer
    "mnist_conv_cvae_z16": ("mnist", "conv_cvae", 16),
    "fashion-mnist_conv_cvae_z16": ("fashion-mnist", "conv_cvae", 16),
    **{f"mnist_conv_vae_z16_b{b}": ("mnist", "conv_vae", 16) for b in ("0.1", "0.5", "2", "4", "8")},
    "mnist_unet_blur2_family": ("mnist", "unet", 128),
}


def script_commands() -> dict[str, list[str]]:
    """name -> the train CLI's arguments, as scripts/make_checkpoints.sh runs them."""
    text = SCRIPT.read_text()
    fixed = shlex.split(text.split('T="', 1)[1].split('"', 1)[0])[3:]  # after "python -m vae_demo.train"
    out = {}
    for line in text.splitlines():
        if line.startswith("run "):
            name, *args = shlex.split(line)[1:]
            out[name] = [*fixed, "--name", name, *args]
    return out


def parsed(argv: list[str]) -> dict:
    """The run a command line asks for: every setting resolved (a model's defaults explicit), and its name."""
    args = build_parser().parse_args(argv)
    return {**config_dict(config_from_args(args)), "name": args.name}


def test_every_promised_checkpoint_is_committed_with_the_right_model():
    metas = {m["name"]: m for m in list_checkpoints(CKPT)}
    for name, (dataset, model, z) in PROMISED.items():
        assert name in metas, name
        assert (metas[name]["dataset"], metas[name]["model"], metas[name]["latent_dim"]) == (dataset, model, z)
    assert metas["mnist_conv_vae_z10_b4"]["hparams"]["beta"] == 4
    for name in ("mnist_restorer", "fashion-mnist_restorer", "cifar10_restorer"):
        assert metas[name]["corruption"] == "mix"
    assert metas["mnist_pca_z64"]["latent_dim"] >= 64


def test_the_readme_lists_exactly_the_committed_checkpoints():
    text = (ROOT / "README.md").read_text()
    table = text.split("| dataset | checkpoints |", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"`([a-z0-9_-]+_[a-z0-9_.-]+)`", table))
    listed = {n for n in listed if n.split("_", 1)[0] in ("mnist", "fashion-mnist", "cifar10")}
    assert listed == {m["name"] for m in list_checkpoints(CKPT)}


def test_sizes_stay_under_the_limits():
    sizes = {p.name: p.stat().st_size for p in CKPT.iterdir() if p.suffix in (".safetensors", ".json")}
    assert sizes and max(sizes.values()) < 10 * MB, max(sizes.items(), key=lambda kv: kv[1])
    per_ckpt = {}
    for file, size in sizes.items():
        per_ckpt[file.rsplit(".", 1)[0]] = per_ckpt.get(file.rsplit(".", 1)[0], 0) + size
    assert max(per_ckpt.values()) < 10 * MB and sum(sizes.values()) <= 100 * MB  # the committed set ≤ 100 MiB


@pytest.mark.parametrize("meta", list_checkpoints(CKPT), ids=lambda m: m["name"])
def test_each_checkpoint_loads_and_records_its_script_command_and_numbers(meta):
    name = meta["name"]
    c = load_checkpoint(name, CKPT)  # checks the weights' SHA-256 against the JSON
    assert c.model.latent_dim == meta["latent_dim"] and list(c.model.image_shape) == meta["image_shape"]
    commands = script_commands()
    assert name in commands, f"{name} is not made by scripts/make_checkpoints.sh"
    recorded = shlex.split(meta["command"])
    assert recorded[:3] == ["python", "-m", "vae_demo.train"]
    assert parsed(recorded[3:]) == parsed(commands[name])  # the script's line is the recorded command
    assert meta["epochs"] == parsed(commands[name])["epochs"] and len(meta["history"]) == meta["epochs"]
    assert meta["wall_time_s"] > 0 and meta["data"]["train_images"] > 0
    assert "test_psnr" in meta["metrics"]
    bench = meta.get("benchmark", {})
    assert "restore" in bench, f"{name}: no benchmark numbers recorded (run python -m vae_demo.bench)"
    rows = bench["restore"]["corruptions"]
    assert list(rows) == list(corruptions_for(meta["dataset"]))  # the ten, MNIST's blur rows after them
    assert all(0 < r["psnr"] < 60 and 0 < r["ssim"] <= 1 for r in rows.values())
    assert bench["restore"]["command"].startswith("python -m vae_demo.bench")
    if c.model.generative:  # a VAE: its test loss terms
        assert bench["losses"]["recon"] > 0 and bench["losses"]["kl"] > 0
    if c.model.has_latent_code and meta.get("corruption", "none") == "none":  # its code's size and use
        codes = bench["codes"]
        assert 0 < codes["psnr"] < 60 and codes["discrete"] == c.model.discrete
        if c.model.discrete:
            assert codes["bits"] == pytest.approx(c.model.latent_bits(), rel=1e-4)
            assert 1 < codes["perplexity"] <= c.model.codebook_size and 0 < codes["codes_used"] <= 1


def test_no_machine_paths_in_checkpoint_metadata():
    for p in CKPT.glob("*.json"):
        text = p.read_text()
        assert "/home/" not in text and "/work/" not in text and "/tmp/" not in text, p.name
