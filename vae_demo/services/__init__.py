"""The app's logic, as plain functions and small classes the Gradio UI only wires up.

- :mod:`.images`: tensors ↔ display arrays, user uploads (:func:`load_user_image`), GIFs;
- :mod:`.inputs`: checks of raw input values as an API caller sends them (one-line messages);
- :mod:`.testdata`: cached test splits, the offline banner;
- :mod:`.registry`: every checkpoint, loaded once, refreshed after training;
- :mod:`.restore`: corrupt + restore row with PSNR/SSIM;
- :mod:`.latent`: dims ordered by informativeness, slider decoding, latent map, manifold, interpolation;
- :mod:`.jobs`: the background training job.
"""

import torch

from vae_demo.services.errors import UserInputError
from vae_demo.services.images import load_user_image

__all__ = ["UserInputError", "interactive_threads", "load_user_image"]


def interactive_threads() -> None:
    """Run this thread's torch ops on one CPU thread (call at the start of every UI handler).

    One image through a small decoder takes well under a millisecond on one thread; with two threads,
    while a training job (the app's or another process's) keeps the cores busy, the threads wait for
    each other and the same decode took ~30 ms (measured on 2 cores). With OpenMP the setting holds
    for the calling thread; the training thread sets its own count (see :mod:`.jobs`).
    """
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
