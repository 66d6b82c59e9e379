"""The quality benchmark: ``python -m vae_demo.bench --help``.

One module per section, its ``run`` and ``render`` side by side, each registering itself
(:func:`vae_demo.bench.core.register`, in the order the sections run); :mod:`.report` renders and
merges, :mod:`.cli` is the command line.

Sections (``--only`` picks some; the others are kept from an earlier ``benchmarks.json``):

- ``tune``: tune every classical restorer on held-out TRAINING images, per dataset and corruption,
  and write ``classical_params.json`` (what the app's live classical restorer uses).
- ``restore``: for each dataset's test split and each seed corruption: PSNR/SSIM of the corrupted
  input, of each tuned classical restorer, of the PCA projection and of every learned checkpoint;
  the best classical, the best learned and the margin, the quality bars, and a PNG grid per dataset.
- ``losses``: test-set loss terms (recon, KL, loss) of every VAE checkpoint.
- ``rate``: the β family of VAEs (one architecture, several β) on the rate–distortion plane: rate, distortion,
  −ELBO and active units on the whole test split.
- ``classes``: each conditional model's "same z, every class" judged by a classifier trained here.
- ``codes``: each latent code's size (float dims, or bits for a discrete code), its clean test
  reconstruction PSNR/SSIM, and for a discrete code the codebook's perplexity and use, and the codebook vectors' variance by principal component.
- ``anomaly``: the ROC AUC of each clean model's reconstruction error for telling another dataset's
  test images (same size) from its own: Fashion-MNIST for the MNIST models and back.
- ``sweep``: reconstruction error against latent size, PCA against a conv AE trained just for this
  (nothing is written to the checkpoints folder).
- ``nll``: importance-weighted test NLL of the MNIST conv VAE checkpoint(s) on binarized images.
- ``speed``: the training speed bar (``python -m vae_demo.train ...`` in a subprocess).
- ``app``: speed figures measured by the app, read from ``bench_app.json`` if present (as written by
  ``python -m vae_demo.bench.latency``, or in the generic schema below).
- ``load``: the load test (``python -m vae_demo.bench.loadtest``: 20 simulated users through the app's API
  for 60 s with a training job running, then 2,000 more requests while memory is watched).

``--quick`` runs every section on small subsets (for development; its numbers are not results).
Outputs: ``BENCHMARKS.md`` (``--out``), ``benchmarks.json`` beside it, and grids in ``docs/bench/``
beside it.

The ``app`` section also takes a generic JSON file, for figures that ``vae_demo.bench.latency`` does not make::

    {"machine": "...", "date": "...", "command": "...",
     "figures": [{"key": "startup", "name": "app start to first page", "unit": "ms",
                  "median": 850.0, "runs": 5, "bar": 3000, "bar_op": "<=", "notes": "..."}]}

Only ``figures[].name``, ``unit`` and ``median`` are required. Add a figure by adding an entry;
:func:`vae_demo.bench.app_speed.render_app` shows every entry, with PASS/FAIL where a bar is given.
"""

from vae_demo.bench import tune, restore, losses, rate, classes, codes, anomaly, sweep, nll, speed, app_speed, load  # noqa: E402, F401, I001  (run order)
from vae_demo.bench.cli import build_parser, main, make_ctx  # noqa: E402
from vae_demo.bench.core import REGISTRY, Ctx  # noqa: E402

SECTIONS = tuple(REGISTRY)

__all__ = ["SECTIONS", "Ctx", "build_parser", "main", "make_ctx"]
