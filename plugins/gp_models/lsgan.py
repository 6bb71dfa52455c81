"""Least squares GAN (Mao, Li, Xie, Lau, Wang, Smolley 2017, "Least Squares Generative
Adversarial Networks", ICCV, arXiv:1611.04076).

The discriminator's sigmoid cross-entropy is replaced by least squares on its raw scores
(section 3.2 of the paper): the discriminator minimises 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]
and the generator 1/2 E[(D(G(z)) - c)^2]. The defaults a = -1, b = 1, c = 0 satisfy
b - c = 1, b - a = 2, under which the game minimises the Pearson chi^2 divergence between
p_data + p_g and 2 p_g; a = 0, b = c = 1 is the paper's 0-1 coding.
``arch=dcgan`` uses the DCGAN networks of :mod:`gp_models.convnets` for images; point data
(and ``arch=mlp``) use the MLPs of :mod:`gp_models.gan`.
"""
from pydantic import Field

from gp import hookimpl
from gp_models.convnets import ConvDiscriminator, ConvGenerator
from gp_models.gan import GAN, AdversarialConfig, MLPDiscriminator, MLPGenerator


class LSGANConfig(AdversarialConfig):
    a: float = Field(-1.0, description="target score of generated data for the discriminator")
    b: float = Field(1.0, description="target score of real data for the discriminator")
    c: float = Field(0.0, description="score the generator wants the discriminator to give its samples")
    arch: str = Field("dcgan", pattern="^(dcgan|mlp)$", description="dcgan (convolutional, images only) or mlp; points always use mlp")
    width: int = Field(64, gt=0, description="dcgan: channels of the first discriminator / last generator layer")
    hidden: int = Field(512, gt=0, description="mlp: units in each of the 2 hidden layers of both networks")


class LSGAN(GAN):
    name, family, Config = "lsgan", "gan", LSGANConfig
    tiny = {"latent_dim": 4, "width": 4, "hidden": 16}
    kinds = ("image", "points")

    def networks(self):
        c, d = self.config, self.data
        if c.arch == "dcgan" and d.kind == "image":
            return ConvGenerator(c.latent_dim, d.shape, c.width), ConvDiscriminator(d.shape, c.width)
        return MLPGenerator(c.latent_dim, c.hidden, d), MLPDiscriminator(d.dim, c.hidden)

    def d_loss(self, d_real, d_fake):
        c = self.config
        return 0.5 * (d_real - c.b).pow(2).mean() + 0.5 * (d_fake - c.a).pow(2).mean()

    def g_loss(self, d_fake):
        return 0.5 * (d_fake - self.config.c).pow(2).mean()


@hookimpl
def register_models(register):
    register(LSGAN)
