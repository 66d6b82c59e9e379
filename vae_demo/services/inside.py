"""Inside a VAE: the teaching views, as plain functions.

- :func:`walkthrough`: one image through a VAE, step by step: the posterior's μ and σ per dim, the
  drawn ε, z = μ + σ·ε, the decoded x̂ and the ELBO's terms (the reconstruction in nats, beside what an
  uninformed decoder would pay; the KL per dim and in total; β).
- :func:`prior_draws`, :func:`code_normality`: an autoencoder and a VAE side by side: the same N(0, I)
  draws decoded by both, and how close each model's test codes are to N(0, 1) per dim.
- :func:`anomaly_scores`, :func:`roc_auc`: reconstruction error (and a VAE's negative ELBO) as a
  "not like the training data" score, and how well it separates two sets of images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vae_demo.data import POOL_FILE
from vae_demo.language import N_, _
from vae_demo.services.errors import UserInputError
from vae_demo.services.registry import ModelEntry
from vae_demo.services.testdata import TestImages

SCORE_IMAGES = 2000  # test images whose scores make the histogram the app compares against


def require_vae(entry: ModelEntry) -> None:
    if not (entry.has_latent_code and entry.model.gaussian_posterior):
        raise UserInputError(_("model {name} is not a VAE (no Gaussian posterior to show): pick a VAE", name=entry.name))


# --- one example, step by step ----------------------------------------------------------------------

@dataclass
class Walkthrough:
    mu: np.ndarray  # (D,) the posterior's mean
    sigma: np.ndarray  # (D,) its standard deviation
    eps: np.ndarray  # (D,) the drawn ε ~ N(0, I)
    z: np.ndarray  # (D,) z = μ + σ·ε
    kl_per_dim: np.ndarray  # (D,) KL(q(z_d | x) ‖ N(0, 1)), nats
    order: np.ndarray  # dims, most KL first
    recon: float  # −log p(x | z): the model's reconstruction term for this z (nats for BCE)
    uninformed: float  # the same term for a decoder that knows nothing (every pixel 0.5)
    beta: float
    x_hat: torch.Tensor  # (C, H, W) the decoded image for this z, in [0, 1]
    recon_name: str  # "binary cross-entropy" or "squared error"

    @property
    def kl(self) -> float:
        return float(self.kl_per_dim.sum())

    @property
    def loss(self) -> float:
        """The training loss for this draw: recon + β·KL (the negative ELBO when β = 1)."""
        return self.recon + self.beta * self.kl


def draw_eps(d: int, seed: int) -> np.ndarray:
    return torch.randn(d, generator=torch.Generator().manual_seed(int(seed))).double().numpy()


@torch.no_grad()
def walkthrough(entry: ModelEntry, x: torch.Tensor, eps=None, seed: int = 0) -> Walkthrough:
    """``x`` (1, C, H, W) through ``entry``'s VAE with noise ``eps`` (D values; default: drawn from ``seed``)."""
    require_vae(entry)
    model = entry.model
    x = x.to(torch.float32)
    q = model.posterior(model.with_mask(x))
    mu, std = q.mu[0].double(), q.std[0].double()
    d = len(mu)
    e = draw_eps(d, seed) if eps is None else np.asarray(eps, dtype=np.float64).reshape(-1)
    if len(e) != d or not np.all(np.isfinite(e)):
        raise UserInputError(_("ε must be {d} finite numbers (the model's latent size)", d=d))
    z = mu + std * torch.from_numpy(e)
    logits = model.decode_logits(q.code(z.float().unsqueeze(0)))
    recon = float(model.recon_loss(logits, x)[0])
    uninformed = float(model.recon_loss(torch.zeros_like(logits), x)[0])  # sigmoid(0) = 0.5 everywhere
    kl = q.kl_per_dim()[0].double().numpy()
    return Walkthrough(mu.numpy(), std.numpy(), e, z.numpy(), kl, np.argsort(-kl, kind="stable"), recon,
                       uninformed, float(model.beta), torch.sigmoid(logits)[0].float(),
                       N_("binary cross-entropy") if model.recon == "bce" else N_("squared error"))


def walkthrough_text(w: Walkthrough) -> str:
    top = int(w.order[0])
    return _("Loss for this draw = reconstruction **{recon:.1f}** + β·KL = {beta:g} × **{kl:.1f}** = **{loss:.1f}** "
             "nats ({how}). A decoder that knows nothing (every pixel 0.5) would pay {uninformed:.0f} for the "
             "reconstruction. The busiest dim is z[{top}]: μ = {mu:.2f}, σ = {sigma:.2f}, ε = {eps:.2f}, so z = "
             "{z:.2f}; its KL is {kl_top:.2f} nats. Dims with σ ≈ 1 and μ ≈ 0 cost no KL and carry nothing.",
             recon=w.recon, beta=w.beta, kl=w.kl, loss=w.loss, how=_(w.recon_name), uninformed=w.uninformed, top=top,
             mu=w.mu[top], sigma=w.sigma[top], eps=w.eps[top], z=w.z[top], kl_top=w.kl_per_dim[top])


# --- AE vs VAE --------------------------------------------------------------------------------------

def matching_pair(entries: list[ModelEntry], latent_dim: int | None = None) -> tuple[ModelEntry, ModelEntry] | None:
    """An autoencoder and a VAE of one dataset with the same latent size, both trained on clean images
    (a β = 1 VAE preferred), or None."""
    clean = [e for e in entries if e.has_latent_code and not e.is_restorer and e.model.trainable
             and not e.model.discrete and not e.is_conditional]  # an AE is not told the class: not like for like
    vaes = sorted((e for e in clean if e.is_vae), key=lambda e: (e.beta != 1.0, e.yours, e.name))
    aes = [e for e in clean if not e.is_vae]
    for v in vaes:
        for a in aes:
            if a.latent_dim == v.latent_dim and (latent_dim is None or a.latent_dim == latent_dim):
                return a, v
    return None


def pair_sizes(entries: list[ModelEntry]) -> list[int]:
    """The latent sizes, smallest first, at which ``entries`` hold an autoencoder and a VAE to compare."""
    sizes = {e.latent_dim for e in entries if e.has_latent_code}
    return sorted(d for d in sizes if matching_pair(entries, latent_dim=d) is not None)


@torch.no_grad()
def prior_draws(entry: ModelEntry, n: int = 16, seed: int = 0) -> torch.Tensor:
    """``n`` points z ~ N(0, I) (the same for every model of that latent size and seed), decoded."""
    z = torch.randn(n, entry.latent_dim, generator=torch.Generator().manual_seed(int(seed)))
    return entry.model.decode(z).float()


def code_normality(codes: np.ndarray) -> dict:
    """How far test codes (N, D) are from N(0, 1) per dim: the mean and standard deviation of each dim
    and the Kolmogorov-Smirnov distance of each to N(0, 1) (0: the same distribution, 1: disjoint)."""
    from scipy import stats

    c = np.asarray(codes, dtype=np.float64)
    ks = np.array([stats.kstest(c[:, d], "norm").statistic for d in range(c.shape[1])])
    return {"mean": c.mean(0), "std": c.std(0), "ks": ks, "ks_mean": float(ks.mean())}


# --- anomaly scores ---------------------------------------------------------------------------------

@torch.no_grad()
def reconstruction_errors(model, x: torch.Tensor, batch: int = 500) -> np.ndarray:
    """Per image, ``model``'s reconstruction term for its deterministic reconstruction (a VAE decodes its
    posterior mean), in the model's own unit: large means "not like what I was trained on"."""
    out = []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].to(device=model.device, dtype=torch.float32)
        logits = model.decode_logits(model.embed(model.with_mask(xb)))
        out.append(model.recon_loss(logits, xb).double().cpu())
    return torch.cat(out).numpy()


def anomaly_scores(entry: ModelEntry, x: torch.Tensor) -> np.ndarray:
    """:func:`reconstruction_errors` of ``entry``'s model: the anomaly score of each image of ``x``."""
    return reconstruction_errors(entry.model, x)


def roc_auc(inside: np.ndarray, outside: np.ndarray) -> float:
    """The probability that an ``outside`` image scores higher than an ``inside`` one (ties count half):
    the area under the ROC curve of the score as a detector of ``outside``."""
    from scipy.stats import rankdata

    s = np.concatenate([np.asarray(inside, float), np.asarray(outside, float)])
    r = rankdata(s)
    n_in, n_out = len(inside), len(outside)
    return float((r[n_in:].sum() - n_out * (n_out + 1) / 2) / (n_in * n_out))


def test_scores(entry: ModelEntry, images: TestImages) -> np.ndarray:
    """The scores of up to SCORE_IMAGES of the model's own test images (cached per model)."""
    from vae_demo.services.latent import _cached

    def compute():
        s = images.get(entry.dataset)
        if s is None:
            raise UserInputError(_("no test images of {dataset} to compare with", dataset=entry.dataset))
        return anomaly_scores(entry, s.floats(slice(0, SCORE_IMAGES)))

    return _cached(entry, "anomaly_scores", compute)


def percentile_of(score: float, reference: np.ndarray) -> float:
    """The share of ``reference`` scores below ``score``."""
    return float((np.asarray(reference) < score).mean())


# --- why restorations are blurry --------------------------------------------------------------------

COMPLETION_SPECS = ("erasure:0.9", "block:16", "block:12", "erasure:0.7", "gaussian:0.5")
BLURRY_SPEC = "erasure:0.9"  # the view's default: measured on test image #0 (see blurry_restorer), the restorer's
# output is about half as far from the average of the completions as from the closest one, with the shipped pool
# and with the whole training split, and the completions differ from their average twice as much again
BLURRY_K = 8  # completions shown (one strip) and averaged


@dataclass
class Completions:
    corrupted: torch.Tensor  # (C, H, W)
    candidates: torch.Tensor  # (k, C, H, W): plausible completions, the observed pixels kept
    mean: torch.Tensor  # (C, H, W): their average
    restored: torch.Tensor  # (C, H, W): the restorer's output
    mse_each: np.ndarray  # (k,) MSE of each completion to the restored image
    mse_mean: float  # MSE of their average to it
    pool: str  # where the completions came from
    spread: float = 0.0  # how much the completions differ: their mean MSE to their own average

    @property
    def closest(self) -> float:
        """MSE from the restored image to the completion nearest it."""
        return float(self.mse_each.min())

    @property
    def nearer_the_average(self) -> bool:
        """The claim the view makes: the restorer's output is closer to the average than to any completion."""
        return self.mse_mean < self.closest


def _observed(y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return torch.ones_like(y[:, :1]) if mask is None else (1 - mask)


def _trained_on(entry: ModelEntry) -> set[str]:
    """The corruption specs ``entry`` was trained on ("mix", or each of a comma-separated list)."""
    from vae_demo.corruptions import parse_spec

    try:
        c = parse_spec(entry.corruption)
    except ValueError:
        return set()
    return {str(o) for o in (c.options or (c,))}


def blurry_restorer(entries: list[ModelEntry], spec: str = BLURRY_SPEC) -> ModelEntry | None:
    """The restorer the blurry view opens with for ``spec``: one trained on that very corruption, else a
    blind one (trained on the mix), else any restorer; ties by name, so the pick never depends on the order
    the registry lists models in."""
    from vae_demo.corruptions import parse_spec

    want = str(parse_spec(spec))
    restorers = [e for e in entries if e.is_restorer]
    if not restorers:
        return None
    return min(restorers, key=lambda e: (want not in _trained_on(e), "mix" not in _trained_on(e), e.name))


@torch.no_grad()
def completions(restorer: ModelEntry, x: torch.Tensor, spec: str, pool, seed: int = 0, k: int = BLURRY_K,
                pool_name: str = "") -> Completions:
    """For ``x`` (1, C, H, W) corrupted by ``spec``: the ``k`` images of ``pool`` (uint8 (N, C, H, W)) most
    consistent with what the corruption left (the observed pixels, or the noisy image), completed with those
    pixels kept; their mean (an estimate of E[x | what is left]); and ``restorer``'s output beside them, with
    the MSE of the output to the mean and to each completion (what the view's pictures and numbers show)."""
    from vae_demo.corruptions import corrupt, parse_spec

    c = parse_spec(spec)
    if c.kind not in ("block", "erasure", "gaussian"):
        raise UserInputError(_("completions need a corruption that leaves pixels as they were (block, erasure) or "
                               "adds zero-mean noise (gaussian)"))
    y, mask = corrupt(x.to(torch.float32), c, seed)
    obs = _observed(y, mask)
    n_obs = float(obs.sum()) * y.shape[1]
    best_d = torch.full((k,), float("inf"), dtype=torch.float64)
    best_i = torch.zeros(k, dtype=torch.long)
    for i in range(0, len(pool), 5000):  # uint8 in chunks: a whole training split never sits in memory as floats
        p = pool[i:i + 5000].float().div_(255.0)
        d = (((p - y) * obs) ** 2).flatten(1).sum(1).double() / n_obs
        d[(p - x).abs().flatten(1).amax(1) < 1e-6] = float("inf")  # the image itself is not a completion
        dd, ii = torch.cat([best_d, d]), torch.cat([best_i, torch.arange(i, i + len(p))])
        order = dd.argsort()[:k]
        best_d, best_i = dd[order], ii[order]
    best_i = best_i[torch.isfinite(best_d)]
    if not len(best_i):
        raise UserInputError(_("no images to draw completions from"))
    cand = pool[best_i].float().div(255.0)
    if mask is not None:
        cand = y * obs + cand * (1 - obs)  # what is left stays as it is
    mean = cand.mean(0)
    m = restorer.model
    restored = m.reconstruct(y, mask if getattr(m, "mask_input", False) else None)[0].float().clamp(0, 1)
    mse_each = ((cand - restored) ** 2).flatten(1).mean(1).double().numpy()
    spread = float(((cand - mean) ** 2).flatten(1).mean(1).double().mean())
    return Completions(y[0], cand, mean, restored, mse_each, float(((mean - restored) ** 2).double().mean()),
                       pool_name, spread)


def mse_e3(v: float) -> str:
    return f"{v * 1000:.1f}×10⁻³"


def completions_text(c: Completions, restorer_name: str) -> str:
    """What the numbers show, in words chosen by the numbers (the claim is stated only where it holds)."""
    k, j = len(c.candidates), int(np.argmin(c.mse_each))
    head = _("{k} completions from {pool}, each fitting what the corruption left; they differ: each is {spread} from "
             "their average, on average (MSE). ", k=k, pool=c.pool, spread=mse_e3(c.spread))
    if c.nearer_the_average:
        return head + _("`{name}`'s output is **{mean}** from their **average** and at least **{closest}** from any "
                        "single one (the closest: #{j}). It is nearer the average than any completion: the restorer "
                        "hedges, and the hedge is blurry.", name=restorer_name, mean=mse_e3(c.mse_mean),
                        closest=mse_e3(c.closest), j=j + 1)
    few = c.pool.endswith(")")  # the test images at hand: only a few
    return head + _("Here `{name}`'s output is **closer to completion #{j}** (**{closest}**) than to their average "
                    "(**{mean}**): on this image it does not give the average of these completions",
                    name=restorer_name, j=j + 1, closest=mse_e3(c.closest), mean=mse_e3(c.mse_mean)) + (
        _(" (drawn from only a few images here: set VAE_DEMO_DATA for the training split).") if few else ".")


_POOLS: dict = {}


def shipped_pool(dataset: str, path=None) -> torch.Tensor | None:
    """The training images shipped with the app for ``dataset`` (uint8 (N, C, H, W)), or None."""
    path = Path(path or POOL_FILE)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as f:
        if f"{dataset}_x" not in f.files:
            return None
        x = f[f"{dataset}_x"]
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # (N, H, W) or (N, H, W, C): as the npz files
    return torch.from_numpy(np.ascontiguousarray(x))


def completion_pool(images: TestImages, dataset: str) -> tuple[torch.Tensor, str]:
    """Where completions come from: the training split when the data dir has it (loaded once), else the
    training images shipped with the app (MNIST), else the test images at hand (the shipped sample)."""
    from vae_demo.data import DataNotFoundError, load_dataset

    key = (str(images.data_dir), dataset)
    if key not in _POOLS:
        try:
            train = load_dataset(dataset, "train", images.data_dir, download=False)
            _POOLS[key] = (train.images, "train", len(train))
        except DataNotFoundError:
            shipped = shipped_pool(dataset)
            if shipped is None:
                s = images.get(dataset)
                if s is None:
                    raise UserInputError(_("no images of {dataset} here to draw completions from",
                                           dataset=dataset)) from None
                return s.images, _("the {n} test images at hand (set VAE_DEMO_DATA for the training split)", n=len(s))
            _POOLS[key] = (shipped, "shipped", len(shipped))
    images_, kind, n = _POOLS[key]
    if kind == "train":
        return images_, _("the {n:,} training images", n=n)
    return images_, _("the first {n:,} training images, shipped with the app (VAE_DEMO_DATA: all of them)", n=n)


# --- what the network learned -----------------------------------------------------------------------

def denoiser_pair(entries: list[ModelEntry]) -> tuple[ModelEntry, ModelEntry] | None:
    """An autoencoder trained on clean images and one of the same architecture (kind, latent size and
    hyperparameters) trained as a denoiser on one corruption, or None."""
    clean = [e for e in entries if not e.is_restorer and e.model.trainable and not e.is_vae]
    noisy = [e for e in entries if e.is_restorer and e.corruption != "mix" and "," not in e.corruption]
    for a in clean:
        for b in noisy:
            if (a.kind, a.latent_dim, a.model.hparams()) == (b.kind, b.latent_dim, b.model.hparams()):
                return a, b
    return None


def _first_layer_module(model: torch.nn.Module) -> torch.nn.Module:
    """The model's first conv or dense layer."""
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            return m
    raise UserInputError(_("this model has no convolutional or dense first layer to show"))


def first_layer(model: torch.nn.Module) -> torch.Tensor:
    """The first layer's filters as images (F, C, h, w): a conv layer's kernels, or a dense layer's rows
    reshaped to the image."""
    w = _first_layer_module(model).weight.detach().float().cpu()
    return w if w.dim() == 4 else w.view(-1, *model.image_shape)


@torch.no_grad()
def most_active(model: torch.nn.Module, images: torch.Tensor, n: int = 64) -> torch.Tensor:
    """Indices of the first layer's ``n`` units (filters) with the largest mean ReLU output on ``images``,
    most active first. Units that never fire keep their random start and would fill the grid with noise."""
    first = _first_layer_module(model)
    out = []
    hook = first.register_forward_hook(lambda _m, _i, o: out.append(o))
    try:
        model.encode(images.to(first.weight.device))
    finally:
        hook.remove()
    act = torch.relu(out[0].float())
    act = act.flatten(2).mean(2) if act.dim() > 2 else act
    return act.mean(0).argsort(descending=True)[:n].cpu()


def neighbour_correlation(filters: torch.Tensor) -> float:
    """How smooth the filters are: the mean correlation between horizontally and vertically adjacent
    weights (about 0 for noise, near 1 for smooth strokes and edges)."""
    f = filters.double()
    pairs = [(f[..., :, :-1], f[..., :, 1:]), (f[..., :-1, :], f[..., 1:, :])]
    a = torch.cat([p[0].reshape(len(f), -1) for p in pairs], 1)
    b = torch.cat([p[1].reshape(len(f), -1) for p in pairs], 1)
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    corr = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
    return float(corr.mean())


def filter_grid(filters: torch.Tensor, columns: int = 8, size: int = 360) -> np.ndarray:
    """The filters in a grid, each scaled to its own range (grey: 0), as an RGB or grey image."""
    from vae_demo.services.images import display, grid

    f = filters if filters.shape[1] in (1, 3) else filters.mean(1, keepdim=True)
    lim = f.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return display(grid((0.5 + 0.5 * f / lim).clamp(0, 1), min(columns, len(f)), pad=1), size)
