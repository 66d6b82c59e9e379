"""Training: a run's settings (:mod:`.config`), the loop (:mod:`.loop`) and a whole run that writes its
checkpoint (:mod:`.run`). ``python -m vae_demo.train`` is the command line over them."""

from vae_demo.training.config import (
    TrainConfig,
    all_model_settings,
    canonical_command,
    config_dict,
    default_name,
    model_setting,
    run_settings,
)
from vae_demo.training.loop import (
    RunState,
    Trainer,
    TrainingError,
    TrainResult,
    advance,
    cpu_name,
    evaluate,
    hardware,
    make_model,
    pick_device,
    train,
    uses_bf16,
)

__all__ = ["RunState", "TrainConfig", "TrainResult", "Trainer", "TrainingError", "advance", "all_model_settings",
           "canonical_command", "config_dict", "cpu_name", "default_name", "evaluate", "hardware", "make_model",
           "model_setting", "pick_device", "run_settings", "train", "uses_bf16"]
