"""Conditional and semi-supervised VAE: model M2 of Kingma, Rezende, Mohamed, Welling 2014
("Semi-supervised Learning with Deep Generative Models"), the conditional VAE with the
one-hot label fed to encoder and decoder (as in Sohn, Lee, Yan 2015, "Learning Structured
Output Representation using Deep Conditional Generative Models", with an N(0, I) prior).

Generative model: p(y) = Cat(1/K), p(z) = N(0, I), p(x | y, z) Bernoulli (images) or unit
Gaussian (points). Inference: q(z | x, y) Gaussian and a classifier q(y | x). Per example,
in nats:
- labelled (x, y): L(x, y) = -E_q[log p(x | y, z)] + KL(q(z | x, y) || p(z)) - log p(y) >= -log p(x, y);
- unlabelled (y = -1): U(x) = sum_y q(y | x) L(x, y) - H(q(y | x)) >= -log p(x), every class enumerated.
The loss is the batch mean of L or U plus ``alpha`` times the labelled examples' mean
cross-entropy -log q(y | x) (zero in a batch without labels). The paper's objective sums
the bound over all N examples and adds alpha_paper * E_labelled[-log q(y|x)] with
alpha_paper = 0.1 N; divided by N that is our batch-mean form with ``alpha = 0.1``.

With only some labels (``data.labelled=N``) a second update, ``labelled``, takes a batch of
labelled examples drawn apart from the step's batch (``batch_sources``) and minimises their
mean L(x, y) plus ``alpha`` times their mean cross-entropy, with the same optimizer: with 100
labels a uniform batch of 128 would hold 0.2 of them, and q(y | x) would barely train.
"""
import math

import torch
import torch.nn.functional as F
from pydantic import Field

from gp import hookimpl
from gp.layers import mlp, recon_nll, to_data
from gp.model import GenerativeModel, ModelConfig
from gp.recipes import Recipe
from gp.render import grid, scatter
from gp_models.vae import kl_normal


class CVAEConfig(ModelConfig):
    latent_dim: int = Field(50, gt=0, description="size of the code z (the 'style')")
    hidden: int = Field(500, gt=0, description="units in the hidden layer of encoder, decoder and classifier")
    alpha: float = Field(0.1, ge=0, description="weight of the labelled cross-entropy per example (0.1 = the paper's 0.1 N)")


class CVAE(GenerativeModel):
    name, family, Config = "cvae", "vae", CVAEConfig
    tiny = {"latent_dim": 2, "hidden": 16}
    kinds = ("image", "points")
    conditional = True

    def __init__(self, config: CVAEConfig, data):
        super().__init__(config, data)
        h, d, self.k = config.hidden, config.latent_dim, max(data.num_classes, 1)
        self.encoder = mlp([data.dim + self.k, h, 2 * d])  # (B, D + K) -> (B, 2d): mean, log-variance
        self.decoder = mlp([d + self.k, h, data.dim])  # (B, d + K) -> (B, D)
        self.classifier = mlp([data.dim, h, self.k])  # (B, D) -> (B, K) logits of q(y|x)

    def onehot(self, y):
        return F.one_hot(y, self.k).float()  # (B,) -> (B, K)

    def labels(self, y):
        """Labels (B,) of this data; data without classes is one class (point labels are modes)."""
        return y if self.data.num_classes else torch.zeros_like(y)

    def neg_elbo(self, x, y1h):
        """L(x, y) with one reparameterised z, (B,); ``y1h`` (B, K) one-hot labels."""
        x = x.flatten(1)  # (B, D)
        mu, logvar = self.encoder(torch.cat([x, y1h], 1)).chunk(2, 1)  # (B, d) each
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        nll = recon_nll(self.decoder(torch.cat([z, y1h], 1)), x, self.data)  # (B,)
        return nll + kl_normal(mu, logvar) + math.log(self.k)

    def unlabelled(self, x, logits):
        """U(x) = sum_y q(y|x) L(x, y) - H(q(y|x)), (B,); ``logits`` (B, K) of q(y|x)."""
        n = len(x)
        ys = torch.eye(self.k, device=x.device).repeat_interleave(n, 0)  # (K*B, K), class-major
        bound = self.neg_elbo(x.flatten(1).repeat(self.k, 1), ys).view(self.k, n).T  # (B, K)
        return (logits.softmax(1) * (bound + logits.log_softmax(1))).sum(1)

    @property
    def updates(self):
        return ("model", "labelled") if self.data.labelled else ("model",)

    @property
    def batch_sources(self):
        return ("step", "labelled") if self.data.labelled else ("step",)

    def configure_optimizers(self):
        adam = torch.optim.Adam(self.parameters(), lr=self.config.lr)
        return {update: adam for update in self.updates}  # one optimizer, stepped by each update

    def forward(self, batch, update="model"):
        x, y = batch["x"], self.labels(batch["y"])
        lab = y >= 0  # (B,) labelled mask
        logits = self.classifier(x.flatten(1))  # (B, K)
        bound = self.neg_elbo(x[lab], self.onehot(y[lab])).sum() + self.unlabelled(x[~lab], logits[~lab]).sum()
        ce = F.cross_entropy(logits, y.clamp(min=0), reduction="none")  # (B,)
        ce = (ce * lab).sum() / lab.sum().clamp(min=1)
        bound = bound / len(x)
        return {"loss": bound + self.config.alpha * ce, "bound": bound, "labelled_ce": ce}

    @torch.no_grad()
    def classify(self, x):
        """Most probable class under q(y|x), (B,)."""
        return self.class_logits(x).argmax(1)

    def class_logits(self, x):
        """Logits (B, K) of q(y|x)."""
        return self.classifier(x.flatten(1))

    @torch.no_grad()
    def sample(self, n, y=None):
        """x ~ p(x | y, z), z ~ N(0, I); ``y`` (n,) classes, uniformly random when None."""
        y = torch.randint(self.k, (n,), device=self.device) if y is None else self.labels(y.to(self.device))
        z = torch.randn(n, self.config.latent_dim, device=self.device)
        return to_data(self.decoder(torch.cat([z, self.onehot(y)], 1)), self.data)

    @torch.no_grad()
    def figures(self, data):
        """Images: one row per class, K samples each; points: samples coloured by class."""
        if data.spec.kind != "image":
            y = torch.randint(self.k, (1000,), device=self.device)
            return {"class_samples": scatter(self.sample(1000, y), data.x, labels=y)}
        y = torch.arange(self.k, device=self.device).repeat_interleave(self.k)  # (K*K,) row-major
        return {"class_samples": grid(self.sample(len(y), y))}

    recipes = {
        "paper": Recipe(
            "Kingma et al. 2014, model M2 with every label, as the official code trains it on MNIST "
            "(github.com/dpkingma/nips14-ssl, run_gpulearn_yz_x.py), on Fashion-MNIST; the code's networks have "
            "2 hidden layers of 500 softplus units, gp's one of ReLU units", {
                "model.latent_dim": (50, "run_gpulearn_yz_x.py: n_z = 50"),
                "model.hidden": (500, "run_gpulearn_yz_x.py: hidden layers of 500 units"),
                "model.lr": (3e-4, "gpulearn_yz_x.py: Adam, alpha = 3e-4, beta1 = 0.9"),
                "trainer.batch_size": (1000, "gpulearn_yz_x.py: n_batch = 1000 for MNIST"),
                "trainer.epochs": (100, "not stated: the code runs until stopped; 100 epochs, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
            }),
        "semi-supervised-100": Recipe(
            "Kingma et al. 2014, semi-supervised M2 with 100 labels (table 1), on Fashion-MNIST. The paper's best "
            "100-label result stacks M2 on M1's features (run_2layer_ssl.py); gp's M2 works on pixels", {
                "data.labelled": (100, "table 1: 100 labels"),
                "model.latent_dim": (50, "run_2layer_ssl.py: n_z = 50"),
                "model.hidden": (500, "learn_yz_x_ss.py: one hidden layer of 500 units (run_2layer_ssl.py: 300 "
                                 "at 100 labels, for M2 on M1's features)"),
                "model.alpha": (0.1, "run_2layer_ssl.py: alpha = 0.1, the paper's alpha = 0.1 N per example"),
                "model.lr": (3e-4, "learn_yz_x_ss.py: Adam, alpha = 3e-4, beta1 = 0.9"),
                "trainer.batch_size": (500, "run_2layer_ssl.py: 100 minibatches per pass over 50,000 examples"),
                "trainer.epochs": (300, "the code runs 3,000 epochs (its README: fewer often suffice); 300, a budget "
                                   "choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a few minutes: 300 steps with every label; not a paper setting", {
            "model.hidden": (200, "2-core CPU budget"),
            "model.latent_dim": (8, "2-core CPU budget"),
            "trainer.batch_size": (100, "2-core CPU budget"),
            "trainer.epochs": (3, "2-core CPU budget"),
            "trainer.steps_per_epoch": (100, "2-core CPU budget: 300 steps in all"),
        }),
    }


@hookimpl
def register_models(register):
    register(CVAE)
