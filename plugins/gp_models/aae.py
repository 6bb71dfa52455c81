"""Adversarial autoencoder (Makhzani, Shlens, Jaitly, Goodfellow, Frey 2015, arXiv:1511.05644).

Per batch: a reconstruction phase (encoder and decoder), then a regularisation phase in
two updates: the discriminator learns to tell prior codes from encoded ones, then the
encoder (the generator) learns to fool it. Prior: N(0, s^2 I) or a mixture of 10 Gaussians.
"""
import math

import pydantic
import torch
from pydantic import Field

from gp import hookimpl
from gp.layers import gan_loss, mlp, recon_nll, to_data
from gp.model import GenerativeModel, ModelConfig


class AAEConfig(ModelConfig):
    latent_dim: int = Field(8, gt=0, description="size of the code z")
    hidden: int = Field(512, gt=0, description="units in each of the 2 hidden layers of every network")
    prior: str = Field("gaussian", pattern="^(gaussian|mixture)$", description="gaussian or mixture (of 10 Gaussians)")
    prior_std: float = Field(1.0, gt=0, description="standard deviation of the prior (of each component)")
    lr_adv: float = Field(2e-4, gt=0, description="learning rate of the discriminator and generator updates")


class AAE(GenerativeModel):
    name, family, Config = "aae", "autoencoder", AAEConfig
    tiny = {"latent_dim": 2, "hidden": 16}
    kinds = ("image", "points")

    def __init__(self, config: AAEConfig, data):
        super().__init__(config, data)
        h, d = config.hidden, config.latent_dim
        self.encoder = mlp([data.dim, h, h, d])  # (B, D) -> (B, d)
        self.decoder = mlp([d, h, h, data.dim])  # (B, d) -> (B, D) logits
        self.discriminator = mlp([d, h, h, 1])  # (B, d) -> (B, 1) logit "from the prior"

    @property
    def updates(self):
        return ("reconstruction", "discriminator", "generator")

    def configure_optimizers(self):
        adam = torch.optim.Adam
        c = self.config
        return {
            "reconstruction": adam([*self.encoder.parameters(), *self.decoder.parameters()], lr=c.lr),
            "discriminator": adam(self.discriminator.parameters(), lr=c.lr_adv, betas=(0.5, 0.999)),
            "generator": adam(self.encoder.parameters(), lr=c.lr_adv, betas=(0.5, 0.999)),
        }

    def forward(self, batch, update):
        x = batch["x"]
        z = self.encoder(x.flatten(1))  # (B, d)
        if update == "reconstruction":
            nll = recon_nll(self.decoder(z), x, self.data).mean()
            return {"loss": nll / self.data.dim, "recon_nll": nll}
        if update == "discriminator":
            real, fake = self.discriminator(self.prior(len(x))), self.discriminator(z.detach())
            return {"loss": gan_loss(real, True) + gan_loss(fake, False)}
        return {"loss": gan_loss(self.discriminator(z), True)}

    def prior(self, n: int) -> torch.Tensor:
        """``n`` codes from the imposed prior, (n, d)."""
        c = self.config
        z = c.prior_std * torch.randn(n, c.latent_dim, device=self.device)
        if c.prior == "mixture":  # 10 components on a circle in the first two code dimensions
            angle = 2 * math.pi * torch.randint(10, (n,), device=self.device) / 10
            z[:, 0] = z[:, 0] * 0.25 + 4 * c.prior_std * torch.cos(angle)
            z[:, 1] = z[:, 1] * 0.25 + 4 * c.prior_std * torch.sin(angle)
        return z

    def encode(self, x):
        return self.encoder(x.flatten(1))

    def decode(self, z):
        return to_data(self.decoder(z), self.data)

    @torch.no_grad()
    def sample(self, n, y=None):
        return self.decode(self.prior(n))


@hookimpl
def register_models(register):
    register(AAE)
