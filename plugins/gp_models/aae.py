"""Adversarial autoencoder (Makhzani, Shlens, Jaitly, Goodfellow, Frey 2015, arXiv:1511.05644).

Per batch: a reconstruction phase (encoder and decoder), then a regularisation phase in
two updates: the discriminator learns to tell prior codes from encoded ones, then the
encoder (the generator) learns to fool it. Prior: N(0, s^2 I) or a mixture of 10 Gaussians.

``variant`` picks the paper's use of labels (labels -1 = unlabelled):
- ``unsupervised`` (section 2): the code z is all the decoder sees.
- ``supervised`` (section 4): the decoder also gets the one-hot label, so z only has to
  capture the style (unlabelled examples get an all-zero label vector).
- ``semi-supervised`` (section 5): the encoder also outputs a softmax y = q(y|x); the decoder
  sees (z, y); a second discriminator matches y to Cat(1/K) one-hots as the first matches z
  to the prior; a classification update minimises -log q(y|x) on a batch of labelled examples
  drawn apart from the step's batch (``batch_sources``), as in the paper's semi-supervised phase.
With labels, ``sample(n, y)`` draws class ``y`` (uniformly random classes when None).
"""
import math

import torch
import torch.nn.functional as F
from pydantic import Field

from gp import hookimpl
from gp.layers import gan_loss, mlp, recon_nll, to_data
from gp.model import GenerativeModel, ModelConfig
from gp.recipes import Recipe
from gp.render import grid, scatter

VARIANTS = "^(unsupervised|supervised|semi-supervised)$"


class AAEConfig(ModelConfig):
    latent_dim: int = Field(8, gt=0, description="size of the code z")
    hidden: int = Field(512, gt=0, description="units in each of the 2 hidden layers of every network")
    prior: str = Field("gaussian", pattern="^(gaussian|mixture)$", description="gaussian or mixture (of 10 Gaussians)")
    prior_std: float = Field(1.0, gt=0, description="standard deviation of the prior (of each component)")
    lr_adv: float = Field(2e-4, gt=0, description="learning rate of the discriminator and generator updates")
    variant: str = Field("unsupervised", pattern=VARIANTS, description="unsupervised, supervised or semi-supervised")


class AAE(GenerativeModel):
    name, family, Config = "aae", "autoencoder", AAEConfig
    tiny = {"latent_dim": 2, "hidden": 16}
    kinds = ("image", "points")
    conditional = True  # capable; an instance honours y unless variant=unsupervised

    def __init__(self, config: AAEConfig, data):
        super().__init__(config, data)
        h, d = config.hidden, config.latent_dim
        self.semi = config.variant == "semi-supervised"
        self.k = 0 if config.variant == "unsupervised" else max(data.num_classes, 1)  # label units
        self.encoder = mlp([data.dim, h, h, d + self.k * self.semi])  # (B, D) -> (B, d [+ K class logits])
        self.decoder = mlp([d + self.k, h, h, data.dim])  # (B, d [+ K]) -> (B, D) logits
        self.discriminator = mlp([d, h, h, 1])  # (B, d) -> (B, 1) logit "from the prior"
        self.cat_discriminator = mlp([self.k, h, h, 1]) if self.semi else None  # (B, K) -> (B, 1) "from Cat"

    @property
    def is_conditional(self):
        return self.k > 0

    @property
    def can_classify(self):
        return self.semi

    @property
    def updates(self):
        return ("reconstruction", "discriminator", "generator") + ("classification",) * self.semi

    @property
    def batch_sources(self):
        return ("step", "step", "step") + ("labelled",) * self.semi

    def configure_optimizers(self):
        adam, c = torch.optim.Adam, self.config
        discriminators = [p for m in (self.discriminator, self.cat_discriminator) if m is not None for p in m.parameters()]
        opts = {
            "reconstruction": adam([*self.encoder.parameters(), *self.decoder.parameters()], lr=c.lr),
            "discriminator": adam(discriminators, lr=c.lr_adv, betas=(0.5, 0.999)),
            "generator": adam(self.encoder.parameters(), lr=c.lr_adv, betas=(0.5, 0.999)),
        }
        return opts | ({"classification": adam(self.encoder.parameters(), lr=c.lr)} if self.semi else {})

    def split(self, x):
        """Style codes z (B, d) and class logits (B, K) (None unless semi-supervised) of x."""
        h = self.encoder(x.flatten(1))
        return (h[:, : self.config.latent_dim], h[:, self.config.latent_dim :]) if self.semi else (h, None)

    def classes(self, y):
        """Labels (B,) of this data; data without classes is one class (point labels are modes)."""
        return y if self.data.num_classes else torch.zeros_like(y)

    def labels(self, y):
        """One-hot labels (B, K), all-zero rows for unlabelled (-1)."""
        y = self.classes(y)
        return F.one_hot(y.clamp(min=0), self.k).float() * (y >= 0).unsqueeze(1)

    def forward(self, batch, update):
        x, y = batch["x"], self.classes(batch["y"])
        z, logits = self.split(x)  # (B, d), (B, K) or None
        probs = logits.softmax(1) if self.semi else None
        if update == "reconstruction":
            code = torch.cat([z, probs if self.semi else self.labels(y)], 1) if self.k else z
            nll = recon_nll(self.decoder(code), x, self.data).mean()
            return {"loss": nll / self.data.dim, "recon_nll": nll}
        if update == "discriminator":
            real = self.scores(self.prior(len(x)), self.prior_classes(len(x)))
            fake = self.scores(z.detach(), probs.detach() if self.semi else None)
            return {"loss": sum(gan_loss(r, True) + gan_loss(f, False) for r, f in zip(real, fake))}
        if update == "generator":
            return {"loss": sum(gan_loss(f, True) for f in self.scores(z, probs))}
        lab = (y >= 0).float()  # classification on labelled examples (its batch holds only those)
        ce = F.cross_entropy(logits, y.clamp(min=0), reduction="none")  # (B,)
        return {"loss": (ce * lab).sum() / lab.sum().clamp(min=1)}

    def scores(self, z, probs):
        """Discriminator logits: [(B, 1) on z] plus [(B, 1) on class probabilities] if semi-supervised."""
        return [self.discriminator(z)] + ([self.cat_discriminator(probs)] if self.semi else [])

    def prior(self, n: int) -> torch.Tensor:
        """``n`` codes from the imposed prior, (n, d)."""
        c = self.config
        z = c.prior_std * torch.randn(n, c.latent_dim, device=self.device)
        if c.prior == "mixture":  # 10 components on a circle in the first two code dimensions
            angle = 2 * math.pi * torch.randint(10, (n,), device=self.device) / 10
            z[:, 0] = z[:, 0] * 0.25 + 4 * c.prior_std * torch.cos(angle)
            z[:, 1] = z[:, 1] * 0.25 + 4 * c.prior_std * torch.sin(angle)
        return z

    def prior_classes(self, n: int):
        """``n`` one-hots (n, K) from Cat(1/K) (semi-supervised), else None."""
        return F.one_hot(torch.randint(self.k, (n,), device=self.device), self.k).float() if self.semi else None

    def encode(self, x):
        return self.split(x)[0]

    def decode(self, z, y=None):
        """Codes (B, d) -> data; with labels the decoder also gets class ``y`` (B,) (random when None)."""
        if self.k:
            y = torch.randint(self.k, (len(z),), device=z.device) if y is None else y.to(z.device)
            z = torch.cat([z, self.labels(y)], 1)  # (B, d + K)
        return to_data(self.decoder(z), self.data)

    @torch.no_grad()
    def classify(self, x):
        """Most probable class under the encoder's q(y|x), (B,) (semi-supervised only)."""
        return self.class_logits(x).argmax(1)

    def class_logits(self, x):
        """Logits (B, K) of the encoder's q(y|x) (semi-supervised only)."""
        if not self.semi:
            raise ValueError("aae: classify needs variant=semi-supervised")
        return self.split(x)[1]

    @torch.no_grad()
    def sample(self, n, y=None):
        return self.decode(self.prior(n), y)

    @torch.no_grad()
    def figures(self, data):
        """Held-out codes (by class) over prior samples (grey); with labels, styles (rows) x classes (columns)."""
        x, y, figs = data.x[:2000], data.y[:2000], {}
        if self.config.latent_dim >= 2:
            figs["codes_vs_prior"] = scatter(self.encode(x), self.prior(len(x)), labels=y)
        if self.k > 1 and data.spec.kind == "image":
            z = self.prior(self.k).repeat_interleave(self.k, 0)  # (K*K, d): row i has style i
            figs["style_by_class"] = grid(self.decode(z, torch.arange(self.k, device=z.device).repeat(self.k)))
        return figs

    recipes = {
        "paper": Recipe(
            "Makhzani et al. 2015, section 3 and the appendix (its values recalled, not checked against the paper), "
            "on Fashion-MNIST. The paper trains by SGD with momentum and a step schedule and reconstructs with "
            "squared error; gp uses Adam and Bernoulli cross-entropy", {
                "model.hidden": (1000, "appendix: encoder, decoder and discriminator each have 2 ReLU layers of 1000"),
                "model.latent_dim": (8, "appendix: an 8-D code for MNIST"),
                "model.prior": ("gaussian", "section 3: a Gaussian prior on the code"),
                "model.prior_std": (5.0, "appendix: the prior's standard deviation for MNIST"),
                "trainer.batch_size": (100, "appendix: mini-batches of 100"),
                "model.lr": (1e-3, "not the paper's (SGD with momentum 0.9): gp's Adam rate"),
                "model.lr_adv": (2e-4, "not the paper's: Adam at Radford et al. 2016's 2e-4"),
                "trainer.epochs": (100, "not the paper's (its schedule runs far longer); 100, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
            }),
        "semi-supervised-100": Recipe(
            "Makhzani et al. 2015, section 5: semi-supervised classification with 100 labels, on Fashion-MNIST "
            "(appendix values recalled, not checked); gp's optimiser is Adam (the paper: SGD with momentum)", {
                "model.variant": ("semi-supervised", "section 5: softmax y and Gaussian z, each matched to its prior"),
                "data.labelled": (100, "section 5, table 2: MNIST with 100 labels"),
                "model.hidden": (1000, "appendix: 2 ReLU layers of 1000 units"),
                "trainer.batch_size": (100, "appendix: mini-batches of 100"),
                "trainer.epochs": (100, "not the paper's; 100, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a few minutes: 600 steps of smaller networks; not a paper setting", {
            "model.hidden": (256, "2-core CPU budget"), "trainer.batch_size": (100, "2-core CPU budget"),
            "trainer.epochs": (3, "2-core CPU budget"), "trainer.steps_per_epoch": (200, "600 steps in all"),
        }),
    }


@hookimpl
def register_models(register):
    register(AAE)
