"""A whole run: load the data, train, and write the checkpoint after every finished epoch (the weights, the stored
test encodings, the metadata: command, data, history, wall time, hardware)."""

from __future__ import annotations

import datetime as dt

import torch

from vae_demo.checkpoints import library_versions, save_checkpoint, validate_name
from vae_demo.corruptions import parse_spec
from vae_demo.data import load_dataset
from vae_demo.training.config import TrainConfig, canonical_command, config_dict
from vae_demo.training.loop import hardware, train

ENCODINGS_STORED = 5000  # test images whose latent means are stored with the checkpoint (latent map)


ENCODINGS_BYTES = 2**20  # ... but at most 1 MiB of them (fp16), so checkpoints stay small


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
    validate_name(name)
    train_set, test_set = load_run_data(cfg, data_dir, download)
    writer = CheckpointWriter(cfg, name, train_set, test_set, checkpoint_dir, command)
    history: list[dict] = []

    def save(metrics, model):
        history.append(metrics)
        writer.save(model, history, model.device, hardware(cfg, model.device))
        return on_epoch(metrics, model) if on_epoch else False

    return train(cfg, train_set, test_set, on_epoch=save, on_batch=on_batch, progress=progress)
