"""Deep convolutional GAN (Radford, Metz, Chintala 2015, "Unsupervised Representation
Learning with Deep Convolutional Generative Adversarial Networks", arXiv:1511.06434).

The GAN game of :mod:`gp_models.gan` with the paper's all-convolutional networks
(:mod:`gp_models.convnets`: strided convolutions, batch norm except at the generator
output and discriminator input, ReLU/Tanh generator, LeakyReLU(0.2) discriminator,
N(0, 0.02) init) and its optimiser, Adam with lr 2e-4 and beta1 0.5. Its figure walks
the latent space: each row decodes a straight line between two noise vectors.
"""
import torch
from pydantic import Field

from gp import hookimpl
from gp.render import grid
from gp_models.convnets import ConvDiscriminator, ConvGenerator
from gp_models.gan import GAN, AdversarialConfig


class DCGANConfig(AdversarialConfig):
    g_width: int = Field(64, gt=0, description="generator channels before its output layer (doubling per layer up)")
    d_width: int = Field(64, gt=0, description="discriminator channels after its first layer (doubling per layer)")
    loss: str = Field("nonsaturating", pattern="^(nonsaturating|minimax)$", description="generator loss")


class DCGAN(GAN):
    name, family, Config = "dcgan", "gan", DCGANConfig
    tiny = {"latent_dim": 4, "g_width": 4, "d_width": 4}
    kinds = ("image",)

    def networks(self):
        c, shape = self.config, self.data.shape
        return ConvGenerator(c.latent_dim, shape, c.g_width), ConvDiscriminator(shape, c.d_width)

    @torch.no_grad()
    def figures(self, data, rows: int = 8, steps: int = 8):
        """Latent walks: row i decodes z_a + t (z_b - z_a) for t in [0, 1], (rows*steps) images."""
        ends = self.noise(2 * rows).view(2, rows, 1, -1)  # (2, rows, 1, nz)
        t = torch.linspace(0, 1, steps, device=self.device).view(1, steps, 1)  # (1, steps, 1)
        z = ends[0] + t * (ends[1] - ends[0])  # (rows, steps, nz)
        return {"latent_walk": grid(self.generator(z.flatten(0, 1)))}


@hookimpl
def register_models(register):
    register(DCGAN)
