"""Train a model and save it as a checkpoint: ``python -m vae_demo.train --help``.

Examples::

    python -m vae_demo.train --dataset mnist --model mlp_vae --latent-dim 20 --epochs 10
    python -m vae_demo.train --dataset mnist --model conv_ae --corruption mix --name mnist_restorer

The checkpoint is rewritten (atomically) after every epoch, so stopping early with Ctrl-C leaves
the last finished epoch's checkpoint, never a half-written file.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from vae_demo.checkpoints import CheckpointError
from vae_demo.data import DATASETS, DataNotFoundError
from vae_demo.models import MODELS
from vae_demo.training import TrainConfig, TrainingError, all_model_settings, default_name, run_settings
from vae_demo.training.run import run


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
        cfg = config_from_args(args)  # checked as it is made
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
