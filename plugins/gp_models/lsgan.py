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
from gp.recipes import Recipe
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

    recipes = {
        "paper": Recipe(
            "Mao et al. 2017 (LSGAN) with the official code's settings for 28x28 one-channel images "
            "(github.com/xudonmao/LSGAN, train_chn.py, handwritten Chinese characters), on Fashion-MNIST with gp's "
            "DCGAN networks (the paper's are VGG-like for scenes and class-conditional for characters)", {
                "model.a": (0.0, "section 3.2, the 0-1 coding a = 0, b = c = 1, which the official code's "
                            "loss_l2 uses"),
                "model.b": (1.0, "section 3.2, the 0-1 coding; official code: real target 1"),
                "model.c": (1.0, "section 3.2, the 0-1 coding; official code: generator target 1"),
                "model.arch": ("dcgan", "convolutional networks as in the paper's experiments"),
                "model.lr": (2e-4, "official code, train_chn.py: Adam, learning rate 0.0002 (train_lsun.py: 0.001)"),
                "model.beta1": (0.5, "official code: Adam beta1 0.5"),
                "trainer.batch_size": (64, "official code: batch size 64"),
                "trainer.epochs": (25, "not stated: the official scripts run up to 1,000,000 steps; "
                                  "25 epochs, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset (the paper: LSUN scenes, Chinese characters)"),
            }),
        "gaussian-ring": Recipe(
            "The official code's stability test on a ring of 8 Gaussians "
            "(stability_comparison/mixture_gaussian/ls.py), on gp's toy2d ring (radius 2, std 0.02 against the "
            "code's 1 and 0.01); gp's MLPs use ReLU / LeakyReLU, not tanh, and one learning rate for both", {
                "data.name": ("toy2d", "ls.py: a 2-D mixture of Gaussians"),
                "data.kind": ("ring", "ls.py: the Gaussians on a circle"),
                "model.arch": ("mlp", "ls.py: fully connected networks"),
                "model.hidden": (128, "ls.py: 2 hidden layers of 128 units in both networks"),
                "model.latent_dim": (256, "ls.py: z_dim 256"),
                "model.a": (0.0, "ls.py: the discriminator's target for generated points is 0"),
                "model.b": (1.0, "ls.py: the discriminator's target for real points is 1"),
                "model.c": (1.0, "ls.py: the generator's target is 1"),
                "model.lr": (1e-4, "ls.py: the discriminator's Adam rate 1e-4 (the generator's is 1e-3)"),
                "model.beta1": (0.5, "ls.py: beta1 0.5"),
                "trainer.batch_size": (512, "ls.py: batch_size 512"),
                "trainer.epochs": (360, "ls.py: 35,000 iterations; 360 epochs of 97 steps = 34,920"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a few minutes: 300 steps of narrow networks; not a paper setting", {
            "model.width": (16, "2-core CPU budget"),
            "trainer.batch_size": (64, "2-core CPU budget"),
            "trainer.epochs": (3, "2-core CPU budget"),
            "trainer.steps_per_epoch": (100, "2-core CPU budget: 300 steps in all"),
        }),
    }


@hookimpl
def register_models(register):
    register(LSGAN)
