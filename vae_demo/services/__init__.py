"""The app's logic, as plain functions and small classes the Gradio UI only wires up.

- :mod:`.images`: tensors ↔ display arrays, user uploads (:func:`load_user_image`), GIFs;
- :mod:`.testdata`: cached test splits, the offline banner;
- :mod:`.registry`: every checkpoint, loaded once, refreshed after training;
- :mod:`.restore`: corrupt + restore row with PSNR/SSIM;
- :mod:`.latent`: dims ordered by informativeness, slider decoding, latent map, manifold, interpolation;
- :mod:`.jobs`: the background training job.
"""

from vae_demo.services.images import UserInputError, load_user_image

__all__ = ["UserInputError", "load_user_image"]
