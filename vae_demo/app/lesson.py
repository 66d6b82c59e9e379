"""The lesson: ten steps from PCA to VQ-VAE through the app's own views, for a teacher to follow in class.

Each step is a view (as a link holds it: the tab, the dataset and the tab's controls, set in order by the page,
``web/viewstate.js``; ``then``: buttons pressed after), two or three sentences on what to notice, and one
question for the class. The page shows them (``web/lesson.js``: Back / Next, the arrow keys, ``?lesson=N``).
Every claim a step makes is checked against that step's screen, on a fresh install with the shipped sample
(``tests/test_lesson.py``). Models are named by their names; the page picks the option that starts with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    text: str  # what to notice: every claim here is checked on the step's screen
    question: str  # for the class
    tab: str
    controls: dict = field(default_factory=dict)  # elem_id -> value, as in a link
    then: tuple = ()  # buttons (elem_ids) pressed once the controls are set
    dataset: str = "mnist"

    def state(self) -> dict:
        return {"tab": self.tab, "dataset": self.dataset, "controls": dict(self.controls), "then": list(self.then)}


ONE_IMAGE = {"inside-views": "One image, step by step", "step-index": "0", "step-seed": "0"}  # Inside, test image #0
NO_NOISE = {"restore-kind": "gaussian", "restore-severity": "0", "restore-seed": "0", "restore-mask-aware": "0",
            "restore-index": "0"}

STEPS = [
    Step("pca", "PCA: the best linear code",
         "PCA keeps the d directions along which the training images vary most and rebuilds each image from its d "
         "coordinates along them. With d = 4 numbers per image the copy of this 7 is a blur: its PSNR is below "
         "16 dB (no noise here: the row shows how well each model copies).",
         "Drag d up to 64. What happens to the copy and to its PSNR, and why can it never be perfect?",
         "restore", {**NO_NOISE, "restore-models": ["mnist_pca_z64"], "restore-pca-dims": "4"}),
    Step("deep-ae", "A deep autoencoder beats PCA at the same size",
         "Both codes hold 16 numbers per image: PCA's (d = 16) and the convolutional autoencoder's (z = 16). The "
         "autoencoder's copy is sharper: its PSNR is higher than PCA's, because its encoder and decoder are "
         "non-linear.",
         "Both squeeze the image into 16 numbers. What can the autoencoder do with them that PCA cannot?",
         "restore", {**NO_NOISE, "restore-models": ["mnist_conv_ae_z16", "mnist_pca_z64"], "restore-pca-dims": "16"}),
    Step("denoise", "A plain autoencoder is not a denoiser; a denoising one is",
         "Gaussian noise σ = 0.5. The plain autoencoder, trained to copy clean images, scores below the noisy "
         "input itself; the restorer, trained on noisy-in, clean-out pairs, scores far above it.",
         "Both have an encoder and a decoder. What was different in how they were trained?",
         "restore", {"restore-kind": "gaussian", "restore-severity": "0.5", "restore-seed": "0",
                     "restore-mask-aware": "0", "restore-models": ["mnist_conv_ae_z16", "mnist_restorer"],
                     "restore-index": "0"}),
    Step("posterior", "A VAE encodes a distribution: μ, σ, ε, z",
         "For this image the VAE's encoder gives, per dimension, a mean μ and a width σ; the decoder gets "
         "z = μ + σ·ε with ε drawn from N(0, 1). Most of its 16 dims have σ below 0.5: the image pins its code "
         "down closely.",
         "Press Resample ε a few times. Why does x̂ barely change?",
         "inside", {**ONE_IMAGE, "step-model": "mnist_conv_vae_z16"}),
    Step("elbo", "The ELBO's two terms",
         "The loss is the reconstruction cost plus β times the KL. The reconstruction term (in nats) is far "
         "below what a decoder that knows nothing pays for this image; the KL is what the code costs for "
         "being narrower or off-centre compared with N(0, 1).",
         "If the KL were zero for every dim, what would the decoder know about the image?",
         "inside", {**ONE_IMAGE, "step-model": "mnist_conv_vae_z16"}),
    Step("regular", "A regular latent space: AE vs VAE",
         "The same 2-D code size for an autoencoder (left) and a VAE (right). The VAE's test codes sit within "
         "about 5 of the origin, like N(0, 1) draws; the autoencoder's spread several times wider, so random "
         "N(0, I) points fall where it has no codes.",
         "Which of the two can you sample new images from, and why?",
         "inside", {"inside-views": "AE vs VAE", "pair-size": "2"}),
    Step("interpolate", "Pixel vs latent interpolation",
         "From A to B in 8 steps. The pixel blend's middle frame is the two images overlaid; the latent paths "
         "decode a code at each step. The straight line between the codes passes closer to the origin than "
         "either end (its midpoint's norm is below 1× theirs); the spherical path keeps the norm.",
         "Why can a middle frame of the latent path be a digit that is neither A nor B?",
         "interpolate", {"interp-model": "mnist_conv_vae_z16", "interp-steps": "8", "interp-a-index": "0",
                         "interp-b-index": "1", "interp-go": "go"}),
    Step("beta", "β trades reconstruction for regularity",
         "This VAE was trained with β = 4: every nat of KL costs four times as much, so it keeps its codes "
         "wide, close to N(0, 1). At most half of its 10 dims are narrower than σ = 0.5 (the β = 1 VAE of "
         "step 4 had nearly all of its 16).",
         "What do you expect from its reconstructions, and from images sampled from its prior?",
         "inside", {**ONE_IMAGE, "step-model": "mnist_conv_vae_z10_b4"}),
    Step("vq", "VQ-VAE: a code made of discrete symbols",
         "A VQ-VAE codes this image as a 7×7 grid of numbers, each the index of one of K = 128 learned code "
         "vectors: the decoder sees only those 49 symbols. Click a cell and pick another code to change that "
         "patch.",
         "How many different images can 49 symbols out of 128 describe, and why are most of them not digits?",
         "sliders", {"sliders-model": "mnist_vqvae"}),
    Step("anomaly", "What reconstruction error can and cannot tell",
         "A Fashion-MNIST image, given to a model trained on digits. Its reconstruction error is above that of "
         "at least 90% of the MNIST test images (the histogram), so the score flags it as unlike the training "
         "data.",
         "A badly written digit can score high too. Is a high error proof of an anomaly?",
         "inside", {"inside-views": "Not like the training data?"}, then=("anomaly-other",)),
]


def lesson_config() -> list[dict]:
    """What the page gets (window.vaeDemoPage.lesson)."""
    return [{**{k: v for k, v in asdict(s).items() if k not in ("controls", "then", "tab", "dataset")},
             "state": s.state()} for s in STEPS]
