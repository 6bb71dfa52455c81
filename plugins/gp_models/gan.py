"""Generative adversarial network (Goodfellow et al. 2014, "Generative Adversarial Nets").

MLP generator and discriminator. Each batch takes ``k`` discriminator updates, then one
generator update, with the non-saturating generator loss -log D(G(z)) (or the original
minimax log(1 - D(G(z))) with ``loss=minimax``).
"""
import torch
from pydantic import Field
from torch import nn

from gp import hookimpl
from gp.layers import gan_loss, mlp, to_data
from gp.model import GenerativeModel, ModelConfig


class GANConfig(ModelConfig):
    lr: float = Field(2e-4, gt=0, description="Adam learning rate (beta1 0.5) of both networks")
    latent_dim: int = Field(100, gt=0, description="size of the noise z")
    g_hidden: int = Field(1200, gt=0, description="units in each of the 2 hidden generator layers")
    d_hidden: int = Field(512, gt=0, description="units in each of the 2 hidden discriminator layers")
    k: int = Field(1, gt=0, description="discriminator updates per generator update")
    loss: str = Field("nonsaturating", pattern="^(nonsaturating|minimax)$", description="generator loss")


class GAN(GenerativeModel):
    name, family, Config = "gan", "gan", GANConfig
    tiny = {"latent_dim": 4, "g_hidden": 16, "d_hidden": 16}
    kinds = ("image", "points")

    def __init__(self, config: GANConfig, data):
        super().__init__(config, data)
        h = config.g_hidden
        self.generator = mlp([config.latent_dim, h, h, data.dim])  # (B, z) -> (B, D)
        self.discriminator = mlp([data.dim, config.d_hidden, config.d_hidden, 1], act=lambda: nn.LeakyReLU(0.2))

    @property
    def updates(self):
        return ("discriminator",) * self.config.k + ("generator",)

    def configure_optimizers(self):
        adam = lambda ps: torch.optim.Adam(ps, lr=self.config.lr, betas=(0.5, 0.999))  # noqa: E731
        return {"discriminator": adam(self.discriminator.parameters()), "generator": adam(self.generator.parameters())}

    def generate(self, n):
        """Generator output before the data-space map, (n, D)."""
        return self.generator(torch.randn(n, self.config.latent_dim, device=self.device))

    def forward(self, batch, update):
        x = batch["x"].flatten(1)  # (B, D)
        fake = to_data(self.generate(len(x)), self.data).flatten(1)  # (B, D)
        if update == "discriminator":
            d_real, d_fake = self.discriminator(x), self.discriminator(fake.detach())
            return {"loss": gan_loss(d_real, True) + gan_loss(d_fake, False)}
        d_fake = self.discriminator(fake)
        if self.config.loss == "minimax":
            return {"loss": -gan_loss(d_fake, False)}  # minimise log(1 - D(G(z)))
        return {"loss": gan_loss(d_fake, True)}  # minimise -log D(G(z))

    @torch.no_grad()
    def sample(self, n, y=None):
        return to_data(self.generate(n), self.data)


@hookimpl
def register_models(register):
    register(GAN)
