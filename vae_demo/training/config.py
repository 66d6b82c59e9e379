"""A training run's settings: :class:`TrainConfig` (the run's own settings, declared once as its fields, and the
model's hyperparameters by name), checked once, where it is made; its checkpoint's default name and the command
that reproduces it."""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field, fields

from vae_demo.corruptions import parse_spec
from vae_demo.data import DATASETS
from vae_demo.models import MODELS
from vae_demo.settings import Setting


def _run(default, kind: str, help: str, **kw):
    """A run setting: a TrainConfig field and its declaration (see vae_demo.settings)."""
    return field(default=default, metadata={"setting": {"kind": kind, "help": help, **kw}})


def _known_dataset(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r} (choose {', '.join(DATASETS)})")
    return name


def _known_model(name: str) -> str:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} (choose {', '.join(MODELS)})")
    return name


def _corruption(text: str) -> str:
    return str(parse_spec(text))


@dataclass
class TrainConfig:
    """A training run: the run's own settings (declared here, once) and the model's hyperparameters
    (``hparams``, by name: those its kind declares, see :meth:`Autoencoder.settings`; unset ones take the
    kind's defaults)."""

    dataset: str = _run("mnist", "text", "dataset", parse=_known_dataset, label="Dataset")
    model: str = _run("mlp_vae", "text", "model kind", parse=_known_model, label="Model")
    latent_dim: int = _run(20, "int", "latent size: z's dimensions (for unet, the channels of its coarsest level)",
                           lo=1, hi=512, label="Latent size")
    epochs: int = _run(10, "int", "passes over the training images", lo=1, hi=1000, label="Epochs")
    batch_size: int = _run(128, "int", "images per training step", lo=1, hi=65536, label="Batch size")
    lr: float = _run(1e-3, "float", "Adam learning rate", lo=1e-9, hi=1, label="Learning rate")
    lr_schedule: str = _run("constant", "choice", "cosine: decay the learning rate to 0 over the whole run",
                            choices=("constant", "cosine"), label="Learning-rate schedule")
    precision: str = _run("auto", "choice", "auto: bf16 autocast on CUDA, fp32 elsewhere; bf16: autocast on any "
                          "device", choices=("auto", "fp32", "bf16"), label="Precision")
    corruption: str = _run("none", "text", "train as a denoiser: corrupt inputs with this spec (e.g. gaussian:0.5, "
                           "mix, or a list: erasure:0.9,block:16)", parse=_corruption, label="Corruption")
    seed: int = _run(0, "int", "random seed (weights, batches, corruptions)", lo=0, hi=2**31 - 1, label="Seed")
    device: str = _run("auto", "text", "auto (CUDA, else MPS, else CPU), cpu, cuda, mps", label="Device")
    train_limit: int = _run(0, "int", "use only the first N training images (0: all)", lo=0, label="Training images")
    save_precision: str = _run("fp32", "choice", "precision of the saved weights: fp16 halves the checkpoint's size "
                               "(they are loaded back as fp32)", choices=("fp32", "fp16"), label="Saved weights")
    hparams: dict = field(default_factory=dict)

    def _resolve(self) -> tuple[dict, list[str]]:
        """The model's hyperparameters for this run (its kind's defaults, overridden by ``hparams``), and
        what is wrong with ``hparams``."""
        taken = MODELS[self.model].settings()
        values = {name: s.default for name, s in taken.items()}
        problems = []
        for name, value in self.hparams.items():
            if name not in taken:
                with_it = [k for k, m in MODELS.items() if m.takes(name)]
                title = model_setting(name).title if with_it else repr(name)
                what = title[:1].lower() + title[1:]
                problems.append(f"{what}: for {', '.join(with_it)} only" if with_it
                                else f"unknown model setting {what}")
                continue
            try:
                values[name] = taken[name].check(value)
            except ValueError as err:
                problems.append(str(err))
        return values, problems

    def model_settings(self) -> dict:
        """The model's hyperparameters for this run: its kind's defaults, overridden by ``hparams`` (checked)."""
        values, problems = self._resolve()
        if problems:
            raise ValueError("; ".join(problems))
        return values

    def __post_init__(self):
        self.validate()  # valid from the moment it exists: nothing downstream checks it again

    def validate(self) -> TrainConfig:
        """ValueError naming every problem (one line) unless every setting is valid; run once, when the config
        is made."""
        problems = []
        for s in run_settings():
            try:
                s.check(getattr(self, s.name))
            except ValueError as err:
                problems.append(str(err))
        if self.model in MODELS:
            problems += self._resolve()[1]
        if problems:
            raise ValueError("; ".join(problems))
        return self


def run_settings() -> list[Setting]:
    """The run's settings (TrainConfig's fields but ``hparams``), as declarations."""
    return [Setting(f.name, default=f.default, **f.metadata["setting"]) for f in fields(TrainConfig)
            if "setting" in f.metadata]


def model_setting(name: str) -> Setting:
    """The declaration of model setting ``name`` (that of the first kind that takes it)."""
    return all_model_settings()[name]


def all_model_settings() -> dict[str, Setting]:
    """Every model setting any kind declares, by name (each as the first kind taking it declares it)."""
    out: dict[str, Setting] = {}
    for cls in MODELS.values():
        for name, s in cls.settings().items():
            out.setdefault(name, s)
    return out


def config_dict(cfg: TrainConfig) -> dict:
    """``cfg`` as plain values, with every hyperparameter of its model explicit (its kind's defaults too)."""
    return {**asdict(cfg), "hparams": {k: list(v) if isinstance(v, tuple) else v
                                       for k, v in cfg.model_settings().items()}}


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
