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
from dataclasses import replace

import torch

from vae_demo.checkpoints import CheckpointError, library_versions, save_checkpoint, validate_name
from vae_demo.corruptions import parse_spec
from vae_demo.data import DATASETS, DataNotFoundError, load_dataset
from vae_demo.models import MODELS
from vae_demo.training import (
    TrainConfig,
    TrainingError,
    all_model_settings,
    config_dict,
    hardware,
    run_settings,
    train,
)

ENCODINGS_STORED = 5000  # test images whose latent means are stored with the checkpoint (latent map)
ENCODINGS_BYTES = 2**20  # ... but at most 1 MiB of them (fp16), so checkpoints stay small


def default_name(cfg: TrainConfig) -> str:
    """``{dataset}_{model}_z{latent}``, then the model settings' tags where they are not the default (``_b4``),
    the corruption (``_erasure0.9_block16``) and the switches (``_mask``)."""
    taken, values = MODELS[cfg.model].settings(), cfg.model_settings()
    tags: dict[bool, list[str]] = {False: [], True: []}  # value tags, switch tags
    for name, s in taken.items():
        if tag := s.name_tag(values[name]):
            tags[s.kind == "bool"].append(tag)
    spec = parse_spec(cfg.corruption)
    corruption = [] if spec.kind == "none" else [str(spec).replace(":", "").replace(",", "_")]
    return "_".join([f"{cfg.dataset}_{cfg.model}_z{cfg.latent_dim}", *tags[False], *corruption, *tags[True]])


def canonical_command(cfg: TrainConfig, name: str) -> str:
    """The full command that reproduces this run, with no machine paths: every run setting and every
    hyperparameter the model takes, explicit (precision, schedule, training images and saved precision only when not the
    default)."""
    args = ["python", "-m", "vae_demo.train"]
    implicit_at_default = ("precision", "lr_schedule", "train_limit", "save_precision")
    for s in run_settings():
        value = s.check(getattr(cfg, s.name))
        if s.name in implicit_at_default and value == s.default:
            continue
        args += [s.flag, s.text(value)]
    taken, values = MODELS[cfg.model].settings(), cfg.model_settings()
    for key, s in taken.items():
        value = values[key]
        if s.kind == "bool":
            args += [s.flag] if value else []
        elif s.kind != "ints" or value:  # an empty channel list: the model's default
            args += [s.flag, s.text(value)]
    return shlex.join(args + ["--name", name])


@torch.no_grad()
def test_encodings(model, test_set, n: int = ENCODINGS_STORED) -> dict[str, torch.Tensor]:
    """Latent means of the first ``n`` test images (fewer for big latents), for the app's latent map; for a
    discrete code, the test images' code grids instead (``test_codes``: the codebook map counts them)."""
    if not model.has_latent_code:
        return {}
    if model.discrete:
        x = test_set.floats(slice(0, n), device=model.device)
        codes = torch.cat([model.codes(x[i:i + 1000]) for i in range(0, len(x), 1000)]).cpu()
        small = torch.uint8 if model.codebook_size <= 256 else torch.int16
        return {"test_codes": codes.to(small), "test_labels": test_set.labels[:n].to(torch.int16)}
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
        self.dtype = torch.float16 if cfg.save_precision == "fp16" else None  # of the stored weights
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
        save_checkpoint(self.name, model, meta, self.checkpoint_dir, extras=test_encodings(model, self.test_set),
                        dtype=self.dtype)


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


def build_parser() -> argparse.ArgumentParser:
    """The run settings' flags, then every model setting any kind declares (each applies to the kinds that
    take it): both from their declarations."""
    p = argparse.ArgumentParser(prog="python -m vae_demo.train", description=__doc__.split("\n")[0])
    for s in run_settings():
        if s.name in ("dataset", "model"):  # the registries' names, as they are now
            s = replace(s, choices=tuple(DATASETS if s.name == "dataset" else MODELS))
        s.add_argument(p, default=s.default, help=f"{s.help} (default: {s.text(s.default)})".replace("%", "%%"))
    group = p.add_argument_group("model settings", "each for the model kinds that take it; "
                                 "unset: the kind's own default")
    for name, s in all_model_settings().items():
        helps: dict[str, list[str]] = {}
        for kind, cls in MODELS.items():
            if name in cls.settings():
                helps.setdefault(cls.settings()[name].help, []).append(kind)
        text = "; ".join(f"{', '.join(kinds)}: {h}" for h, kinds in helps.items())
        s.add_argument(group, default=None, help=text.replace("%", "%%"))
    p.add_argument("--name", default=None, help="checkpoint name (default: from the settings)")
    p.add_argument("--data-dir", default=None, help="data dir (default: $VAE_DEMO_DATA or ./data)")
    p.add_argument("--no-download", action="store_true", help="never download datasets")
    p.add_argument("--checkpoint-dir", default=None,
                   help="where checkpoints go (default: $VAE_DEMO_CHECKPOINTS or ./checkpoints)")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the parsed flags ask for. A model setting given for a kind that does not take it is an
    error when it would change something; at its declared default it is dropped (commands recorded before
    settings were per kind wrote ``--beta 1`` for every model)."""
    run = {s.name: getattr(args, s.name) for s in run_settings()}
    cls = MODELS[run["model"]]
    hparams = {}
    for name, s in all_model_settings().items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if cls.takes(name) or s.check(value) != s.default:
            hparams[name] = value
    return TrainConfig(**run, hparams=hparams)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(args).validate()
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
