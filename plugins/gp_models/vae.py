"""Variational autoencoder (Kingma and Welling 2014, "Auto-Encoding Variational Bayes").

Gaussian encoder q(z|x), standard normal prior, Bernoulli decoder for images (Gaussian
for points). The loss is the negative ELBO in nats per example; ``log_prob`` is the
importance-weighted bound of Burda et al. 2016 with ``iwae_k`` samples. Figures:
reconstructions and, for a 2-D code, the learned manifold (a grid of codes through the
inverse Gaussian CDF, decoded; Kingma and Welling's figure 4) and the codes of held-out
data coloured by class.
"""
import math

import torch
from pydantic import Field

from gp import hookimpl
from gp.layers import mlp, recon_nll, to_data
from gp.recipes import Recipe
from gp.render import grid, picture, scatter
from gp.model import GenerativeModel, ModelConfig


class VAEConfig(ModelConfig):
    latent_dim: int = Field(20, gt=0, description="size of the code z")
    hidden: int = Field(400, gt=0, description="units in the hidden layer of encoder and decoder")
    iwae_k: int = Field(64, gt=0, description="importance samples of log_prob")


class VAE(GenerativeModel):
    name, family, Config = "vae", "vae", VAEConfig
    tiny = {"latent_dim": 2, "hidden": 16, "iwae_k": 4}
    kinds = ("image", "points")

    def __init__(self, config: VAEConfig, data):
        super().__init__(config, data)
        self.encoder = mlp([data.dim, config.hidden, 2 * config.latent_dim])  # (B, D) -> (B, 2d)
        self.decoder = mlp([config.latent_dim, config.hidden, data.dim])  # (B, d) -> (B, D)

    def posterior(self, x):
        """Mean and log-variance of q(z|x), each (B, d)."""
        return self.encoder(x.flatten(1)).chunk(2, dim=1)

    def forward(self, batch, update="model"):
        x = batch["x"]
        mu, logvar = self.posterior(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()  # reparameterisation
        nll = recon_nll(self.decoder(z), x, self.data)  # (B,)
        kl = kl_normal(mu, logvar)  # (B,)
        loss = (nll + kl).mean()
        return {"loss": loss, "recon_nll": nll.mean(), "kl": kl.mean()}

    def encode(self, x):
        return self.posterior(x)[0]

    def decode(self, z):
        return to_data(self.decoder(z), self.data)

    @torch.no_grad()
    def sample(self, n, y=None):
        return self.decode(torch.randn(n, self.config.latent_dim, device=self.device))

    @property
    def log_prob_k(self):
        return self.config.iwae_k

    @torch.no_grad()
    def log_prob(self, x, k: int | None = None):
        """IWAE lower bound on log p(x) in nats, (B,); never decreases in k."""
        k = k or self.log_prob_k
        mu, logvar = self.posterior(x)
        std = (0.5 * logvar).exp()
        eps = torch.randn(k, *mu.shape, device=mu.device)  # (k, B, d)
        z = mu + eps * std
        log_q = normal_log_pdf(eps).sum(-1) - std.log().sum(-1)  # (k, B)
        log_prior = normal_log_pdf(z).sum(-1)
        out = self.decoder(z.flatten(0, 1))  # (k*B, D)
        x_rep = x.flatten(1).repeat(k, 1)
        log_lik = -recon_nll(out, x_rep, self.data).view(k, -1)
        if self.data.kind == "points":  # recon_nll drops the unit Gaussian's normaliser
            log_lik = log_lik - 0.5 * self.data.dim * math.log(2 * math.pi)
        return torch.logsumexp(log_lik + log_prior - log_q, 0) - math.log(k)

    @torch.no_grad()
    def figures(self, data):
        """Reconstructions; with a 2-D code also the latent manifold and the latent scatter."""
        x, y = data.x[:2000], data.y[:2000]
        figs = {"reconstructions": reconstructions(x[:32], self.decode(self.encode(x[:32])), data.spec.kind)}
        if self.config.latent_dim == 2:
            figs["latent_manifold"] = picture(self.decode(manifold_codes().to(x.device)), data.spec.kind, x)
            figs["latent_scatter"] = scatter(self.encode(x), labels=y)
        return figs

    recipes = {
        "paper": Recipe(
            "Kingma and Welling 2014, section 5 (MNIST), on Fashion-MNIST; the paper trains with Adagrad, gp "
            "with Adam", {
                "model.hidden": (500, "section 5: 500 hidden units for MNIST (200 for Frey Face)"),
                "model.latent_dim": (20, "figure 2: one of the latent sizes compared (3, 5, 10, 20, 200)"),
                "trainer.batch_size": (100, "section 5: minibatches of M = 100 with L = 1 sample per datapoint"),
                "model.lr": (1e-3, "not the paper's (Adagrad, global step size from {0.01, 0.02, 0.1}): "
                             "Adam's default rate (Kingma and Ba 2015)"),
                "trainer.epochs": (100, "not stated as epochs (figure 2 runs to 10^8 training examples, about "
                                   "1,700 epochs of 60,000); 100 epochs, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
            }),
        "manifold-2d": Recipe(
            "The paper's 2-D latent space, whose learned manifold it draws (figure 4); gp then logs that figure and "
            "the codes of held-out data", {
                "model.latent_dim": (2, "figure 4: learned MNIST manifold with a 2-D latent space"),
                "model.hidden": (500, "section 5: 500 hidden units for MNIST"),
                "trainer.batch_size": (100, "section 5: minibatches of M = 100"),
                "trainer.epochs": (50, "not stated as epochs; 50 epochs, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a few minutes: 1,000 steps with a 2-D code; not a paper setting", {
            "model.hidden": (200, "2-core CPU budget"),
            "model.latent_dim": (2, "2-D code, so gp draws the learned manifold"),
            "trainer.batch_size": (100, "2-core CPU budget"),
            "trainer.epochs": (5, "2-core CPU budget"),
            "trainer.steps_per_epoch": (200, "2-core CPU budget: 1,000 steps in all"),
        }),
    }


def kl_normal(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) in closed form, summed over dims: (B,)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


def normal_log_pdf(z):
    """Elementwise log N(z; 0, 1)."""
    return -0.5 * (z.pow(2) + math.log(2 * math.pi))


def manifold_codes(n: int = 15) -> torch.Tensor:
    """(n*n, 2) codes on a grid through the inverse Gaussian CDF; row-major, z2 decreasing down."""
    g = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, n))  # (n,)
    z2, z1 = torch.meshgrid(g.flip(0), g, indexing="ij")  # (n, n) each
    return torch.stack([z1, z2], -1).view(-1, 2)


def reconstructions(x, rec, kind: str):
    """Images: an 8x8 grid, each row of 8 originals above its reconstructions; points: rec over x."""
    if kind != "image" or len(x) < 32:
        return picture(rec, kind, x)
    pairs = torch.stack([x[:32].view(4, 8, *x.shape[1:]), rec[:32].view(4, 8, *x.shape[1:])], 1)  # (4, 2, 8, C, H, W)
    return grid(pairs.flatten(0, 2))  # (64, C, H, W)


@hookimpl
def register_models(register):
    register(VAE)
