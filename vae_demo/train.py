"""Train a model and save it as a checkpoint: ``python -m vae_demo.train --help``.

Examples::

    python -m vae_demo.train --dataset mnist --model mlp_vae --latent-dim 20 --epochs 10
    python -m vae_demo.train --dataset mnist --model conv_ae --corruption mix --name mnist_restorer

The checkpoint is rewritten (atomically) after every epoch, so stopping early with Ctrl-C leaves
the last finished epoch's checkpoint, never a half-written file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys

import torch

from vae_demo.checkpoints import CheckpointError, library_versions, save_checkpoint, validate_name
from vae_demo.corruptions import parse_spec
from vae_demo.data import DATASETS, DataNotFoundError, load_dataset
from vae_demo.models import MODELS
from vae_demo.training import TrainConfig, TrainingError, config_dict, hardware, train

ENCODINGS_STORED = 5000  # test images whose latent means are stored with the checkpoint (latent map)
ENCODINGS_BYTES = 2**20  # ... but at most 1 MiB of them (fp16), so checkpoints stay small


def default_name(cfg: TrainConfig) -> str:
    name = f"{cfg.dataset}_{cfg.model}_z{cfg.latent_dim}"
    if cfg.beta != 1.0 and MODELS[cfg.model].takes("beta"):
        name += f"_b{cfg.beta:g}"
    if parse_spec(cfg.corruption).kind != "none":
        name += "_" + str(parse_spec(cfg.corruption)).replace(":", "").replace(",", "_")
    if cfg.mask_input:
        name += "_mask"
    return name


def canonical_command(cfg: TrainConfig, name: str) -> str:
    """The full command that reproduces this run (every setting explicit, no machine paths)."""
    args = [
        "python", "-m", "vae_demo.train",
        "--dataset", cfg.dataset, "--model", cfg.model, "--latent-dim", str(cfg.latent_dim),
        "--epochs", str(cfg.epochs), "--batch-size", str(cfg.batch_size), "--lr", f"{cfg.lr:g}",
        "--beta", f"{cfg.beta:g}", "--corruption", str(parse_spec(cfg.corruption)),
        "--recon", cfg.recon, "--seed", str(cfg.seed), "--device", cfg.device,
    ]
    if cfg.precision != "auto":
        args += ["--precision", cfg.precision]
    if cfg.lr_schedule != "constant":
        args += ["--lr-schedule", cfg.lr_schedule]
    if cfg.channels:
        args += ["--channels", ",".join(str(c) for c in cfg.channels)]
    if cfg.train_limit:
        args += ["--train-limit", str(cfg.train_limit)]
    if cfg.mask_input:
        args += ["--mask-input"]
    return shlex.join(args + ["--name", name])


@torch.no_grad()
def test_encodings(model, test_set, n: int = ENCODINGS_STORED) -> dict[str, torch.Tensor]:
    """Latent means of the first ``n`` test images (fewer for big latents), for the app's latent map."""
    if not model.has_latent_code:
        return {}
    n = min(n, ENCODINGS_BYTES // (2 * model.latent_dim))
    x = test_set.floats(slice(0, n), device=model.device)
    z = torch.cat([model.embed(x[i:i + 1000]).float() for i in range(0, len(x), 1000)])
    return {"test_latents": z.cpu().half(), "test_labels": test_set.labels[:n].to(torch.int16)}


class CheckpointWriter:
    """Writes run ``name``'s checkpoint (atomically) after each finished epoch: the weights, the stored
    test encodings, and the metadata (command, data, history, wall time, the hardware it ran on)."""

    def __init__(self, cfg: TrainConfig, name: str, train_set, test_set, checkpoint_dir=None,
                 command: str | None = None):
        self.name, self.test_set, self.checkpoint_dir = validate_name(name), test_set, checkpoint_dir
        self.base_meta = {
            "dataset": cfg.dataset,
            "corruption": str(parse_spec(cfg.corruption)),
            "config": config_dict(cfg),
            "command": command or canonical_command(cfg, name),
            "data": {"train_images": min(len(train_set), cfg.train_limit or len(train_set)),
                     "test_images": len(test_set)},
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": library_versions(),
        }

    def save(self, model, history: list[dict], device: str, hardware_used: dict) -> None:
        """``model``'s weights (on any device) as the checkpoint after ``history``'s last epoch, trained on
        ``device``."""
        metrics = history[-1]
        meta = {
            **self.base_meta,
            "device": str(device),
            "hardware": hardware_used,
            "epochs": len(history),
            "wall_time_s": round(metrics.get("time_s", 0.0), 2),
            "metrics": {k: v for k, v in metrics.items() if k != "epoch"},
            "history": list(history),
        }
        save_checkpoint(self.name, model, meta, self.checkpoint_dir, extras=test_encodings(model, self.test_set))


def load_run_data(cfg: TrainConfig, data_dir=None, download=True):
    """(train split, test split) of ``cfg``'s dataset."""
    return load_dataset(cfg.dataset, "train", data_dir, download), load_dataset(cfg.dataset, "test", data_dir, download)


def run(cfg: TrainConfig, name: str, data_dir=None, download=True, checkpoint_dir=None,
        on_epoch=None, on_batch=None, progress=True, command: str | None = None):
    """Load data, train, and save ``name`` after every epoch. Returns the TrainResult."""
    cfg.validate()
    validate_name(name)
    train_set, test_set = load_run_data(cfg, data_dir, download)
    writer = CheckpointWriter(cfg, name, train_set, test_set, checkpoint_dir, command)
    history: list[dict] = []

    def save(metrics, model):
        history.append(metrics)
        writer.save(model, history, model.device, hardware(cfg, model.device))
        return on_epoch(metrics, model) if on_epoch else False

    return train(cfg, train_set, test_set, on_epoch=save, on_batch=on_batch, progress=progress)


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m vae_demo.train", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", choices=list(DATASETS), default=d.dataset)
    p.add_argument("--model", choices=list(MODELS), default=d.model)
    p.add_argument("--latent-dim", type=int, default=d.latent_dim)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    p.add_argument("--beta", type=float, default=d.beta, help="weight of the KL term (β-VAE)")
    p.add_argument("--corruption", default=d.corruption,
                   help="train as a denoiser: corrupt inputs with this spec (e.g. gaussian:0.5, mix, or a list: erasure:0.9,block:16)")
    p.add_argument("--recon", choices=["bce", "mse"], default=d.recon, help="reconstruction loss")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="auto (CUDA, else MPS, else CPU), cpu, cuda, mps")
    p.add_argument("--channels", type=_int_list, default=(),
                   help="conv models: channels of each stride-2 layer, e.g. 64,128; "
                        "unet: channels of each level above the coarsest (whose width is --latent-dim)")
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default=d.lr_schedule,
                   help="cosine: decay the learning rate to 0 over the whole run")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default=d.precision,
                   help="auto: bf16 autocast on CUDA, fp32 elsewhere; bf16: autocast on any device")
    p.add_argument("--mask-input", action="store_true",
                   help="give the model the corruption's damage mask (erasure, block, saltpepper) as one "
                        "more input channel, as classical inpainting is given it (unet only)")
    p.add_argument("--train-limit", type=int, default=0, help="use only the first N training images")
    p.add_argument("--name", default=None, help="checkpoint name (default: from the settings)")
    p.add_argument("--data-dir", default=None, help="data dir (default: $VAE_DEMO_DATA or ./data)")
    p.add_argument("--no-download", action="store_true", help="never download datasets")
    p.add_argument("--checkpoint-dir", default=None,
                   help="where checkpoints go (default: $VAE_DEMO_CHECKPOINTS or ./checkpoints)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg = TrainConfig(
        dataset=args.dataset, model=args.model, latent_dim=args.latent_dim, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, beta=args.beta, corruption=args.corruption,
        recon=args.recon, seed=args.seed, device=args.device, train_limit=args.train_limit,
        channels=args.channels, precision=args.precision, lr_schedule=args.lr_schedule,
        mask_input=args.mask_input,
    )
    try:
        cfg.validate()
        name = args.name or default_name(cfg)
        result = run(cfg, name, args.data_dir, not args.no_download, args.checkpoint_dir)
    except (ValueError, DataNotFoundError, CheckpointError, TrainingError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped: the checkpoint of the last finished epoch (if any) is kept", file=sys.stderr)
        return 130
    m = result.metrics
    shown = "  ".join(f"{k} {v:.4g}" for k, v in m.items() if k.startswith("test_"))
    print(f"saved checkpoint {name!r} after {result.epochs_done} epoch(s) in "
          f"{result.wall_time_s:.1f} s on {result.device}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
