"""Conditional VAE: the decoder is told the class (Sohn, Lee and Yan 2015; Kingma et al. 2014's M2 model).

    p(x | y, z) p(z),  z ~ N(0, I),  y one of K classes

The decoder reads a **code** made of the style z (``latent_dim`` dims, the prior's) followed by the class as K
weights (one-hot for a real class; a blend for class-to-class interpolation): ``decode(code)``. Its first
layer is linear in the code, so a class is one learned vector added to the decoder's first features.

The encoder is told the class too, q(z | x, y): whatever the class says, z need not hold, and the KL term charges
for every nat z holds, so z keeps the style (slant, stroke, thickness) and the class comes from y. (Measured: an
encoder *not* told y kept the class in z, and the same z decoded with another class still drew the old digit on
about two cells in three.) For an image whose class is not known (a corrupted one, a drawing), the encoder's class
head q(y | x), trained with cross-entropy (M2's classification term), reads it: ``embed(x)`` = (μ(x, ŷ), one-hot
ŷ). Training encodes and decodes with the *true* class (``loss(..., labels=y)``).

One more term makes "another class" mean another class: z is also decoded with a random *other* class y', and the
class head (its weights held fixed for this term, so it stays a judge of real images) must read y' in what comes
out: ``swap_weight``·CE(q(y | g(z, y')), y'), the auxiliary-classifier idea of conditional GANs (Odena et al. 2017)
applied to the decoder. Measured on MNIST (12 epochs, z = 16): without it, a classifier trained separately on the
real images agreed with the asked-for class on 83.5% of the cells of "the same z, every class"; BENCHMARKS.md has
the figure with it.

So the same z decoded with each class keeps the handwriting and changes the digit.
"""

from __future__ import annotations

import torch
import torch.fx
import torch.nn.functional as F

from vae_demo.models.base import VAE, GaussianPosterior, LatentScores, register
from vae_demo.models.conv import _Conv
from vae_demo.settings import Setting


class ConditionalPosterior(GaussianPosterior):
    """q(z | x) over the style dims, with the class each code carries: ``mode()`` and ``sample()`` give whole
    codes (style, then the K class weights); ``kl()`` is the style's (the class has no prior cost here)."""

    def __init__(self, mu, logvar, classes):
        super().__init__(mu, logvar)
        self.classes = classes

    def code(self, z):
        return torch.cat([z, self.classes.to(z.dtype)], 1)

    def mode(self):
        return self.code(self.mu)

    def sample(self, generator=None):
        return self.code(super().sample(generator))


@register("conv_cvae")
class ConvCVAE(_Conv, VAE):
    description = "conditional convolutional VAE (the decoder is told the class)"
    family = "conditional VAE"
    SETTINGS = (Setting("classes", "int", "number of classes the decoder is told (the dataset's)", lo=2, hi=1000,
                        ui=False),
                Setting("class_weight", "float", "weight of the encoder's class head's cross-entropy in the loss",
                        lo=0, hi=1000, ui=False),
                Setting("swap_weight", "float", "weight of the class-swap term: z decoded with another class must read "
                        "as that class to the (fixed) class head", lo=0, hi=1000, ui=False))

    def __init__(self, image_shape, latent_dim, recon="bce", beta=1.0, channels=None, classes=10,
                 class_weight=1.0, swap_weight=1.0):
        VAE.__init__(self, image_shape, latent_dim, recon, beta)
        self.num_classes = int(classes)
        self.class_weight = float(class_weight)
        self.swap_weight = float(swap_weight)
        self._build(channels, 2 * self.latent_dim)
        features = self.encoder[-1].in_features
        self.encoder = self.encoder[:-1]  # the convolutions, flattened: the features both heads read
        self.to_z = torch.nn.Linear(features + self.num_classes, 2 * self.latent_dim)  # (μ, log σ²) from x and y
        self.to_class = torch.nn.Linear(features, self.num_classes)  # q(y | x)
        # the decoder's first layer reads the whole code: z and the class weights
        self.fc_dec = torch.nn.Linear(self.latent_dim + self.num_classes, self.fc_dec.out_features)

    def hparams(self):
        return {**super().hparams(), "channels": list(self.channels), "classes": self.num_classes,
                "class_weight": self.class_weight, "swap_weight": self.swap_weight}

    def encode(self, x, labels=None):
        """(μ, log σ², class logits, the class z was encoded with): told ``labels`` (N,) when given, else the
        class the head reads."""
        h = self.encoder(x)
        logits = self.to_class(h)
        y = logits.argmax(1) if labels is None else torch.as_tensor(labels, device=h.device).long()
        mu, logvar = self.to_z(torch.cat([h, self.one_hot(y).to(h.device, h.dtype)], 1)).chunk(2, dim=1)
        return mu, logvar, logits, y

    def classify(self, x) -> torch.Tensor:
        """The class q(y | x) reads, (N,)."""
        return self.to_class(self.encoder(x)).argmax(1)

    def _judge(self, x) -> torch.Tensor:
        """The class head's logits with its weights (and the convolutions') held fixed: gradients reach ``x``
        only."""
        h = x
        for layer in self.encoder:
            if isinstance(layer, torch.nn.Conv2d):
                h = F.conv2d(h, layer.weight.detach(), layer.bias.detach(), layer.stride, layer.padding)
            else:
                h = layer(h)
        return F.linear(h, self.to_class.weight.detach(), self.to_class.bias.detach())

    def one_hot(self, labels) -> torch.Tensor:
        return F.one_hot(torch.as_tensor(labels).long().reshape(-1), self.num_classes).float()

    def posterior(self, x, labels=None) -> ConditionalPosterior:
        """q(z | x) with the class ``labels`` (N,) when given, else the class the encoder reads."""
        mu, logvar, _logits, y = self.encode(x, labels)
        return ConditionalPosterior(mu, logvar, self.one_hot(y).to(mu.device, mu.dtype))

    def with_class(self, code, classes) -> torch.Tensor:
        """``code`` (N, latent_dim [+ K]) with its class set to ``classes``: labels (N,) or weights (N, K)."""
        code = torch.as_tensor(code, dtype=torch.float32)
        w = torch.as_tensor(classes)
        w = self.one_hot(w) if w.dim() < 2 else w.float()
        w = w.to(code.device).expand(len(code), -1)
        return torch.cat([code[:, :self.latent_dim], w], 1)

    def decode_logits(self, code):
        """From whole codes (N, latent_dim + K). A code of the style alone (N, latent_dim) gets the classes in
        turn (0, 1, 2, ...): the prior's samples of p(x) = Σ_y p(y) p(x | y), one class each."""
        if not isinstance(code, torch.fx.Proxy) and code.shape[1] == self.latent_dim:  # (traced: a whole code)
            code = self.with_class(code, torch.arange(len(code)) % self.num_classes)
        return self.decoder(F.relu(self.fc_dec(code)).view(-1, *self.feat_shape))

    def loss(self, x_in, x_target=None, mask=None, labels=None):
        """recon + β·KL, decoded with the true class, + ``class_weight``·cross-entropy of the class head."""
        x_target = x_in if x_target is None else x_target
        mu, logvar, logits, y = self.encode(self.with_mask(x_in, mask), labels)
        q = ConditionalPosterior(mu, logvar, self.one_hot(y).to(mu.device, mu.dtype))
        code = q.sample()
        recon = self.recon_loss(self.decode_logits(code), x_target).mean()
        kl = q.kl().mean()
        ce = F.cross_entropy(logits.float(), y)
        other = (y + torch.randint(1, self.num_classes, y.shape, device=y.device)) % self.num_classes
        swapped = torch.sigmoid(self.decode_logits(self.with_class(code, other)))
        swap = F.cross_entropy(self._judge(swapped).float(), other)
        return {"recon": recon, "kl": kl, "class_ce": ce, "swap_ce": swap,
                "loss": recon + self.beta * kl + self.class_weight * ce + self.swap_weight * swap}

    @torch.no_grad()
    def sample(self, n: int, generator=None, labels=None):
        """``n`` draws z ~ N(0, I), decoded with ``labels`` (default: the classes in turn)."""
        z = torch.randn(n, self.latent_dim, generator=generator).to(self.device)
        return self.decode(z if labels is None else self.with_class(z, labels))

    @torch.no_grad()
    def latent_scores(self, x=None, codes=None) -> LatentScores:
        """The style dims as a VAE's; the K class weights after them, unscored (−1: never a slider)."""
        if x is not None and len(x):
            s = super().latent_scores(x)
        else:
            s = super().latent_scores(None, None if codes is None else codes[:, :self.latent_dim])
        k = self.num_classes
        cat = lambda a, v: torch.cat([a, torch.full((k,), v, dtype=torch.float64)])  # noqa: E731
        return LatentScores(cat(s.mean, 0.0), cat(s.std, 1.0), cat(s.score, -1.0), s.what, s.unit)

    @torch.no_grad()
    def iw_log_likelihood(self, x_bin, labels=None, **kw):
        raise NotImplementedError("a conditional VAE's likelihood p(x | y) needs the class; not measured here")
