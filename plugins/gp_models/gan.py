"""Generative adversarial network (Goodfellow et al. 2014, "Generative Adversarial Nets").

MLP generator and discriminator. Each step takes ``k`` discriminator updates, each on fresh
noise and its own minibatch of real data (Algorithm 1: the first is the step's batch, the
other k - 1 are "fresh" batches, so an epoch has 1/k as many steps), then one generator update, with the non-saturating
generator loss -log D(G(z)) (or the original minimax log(1 - D(G(z))) with ``loss=minimax``).

:class:`GAN` is also the base of the other adversarial models (``dcgan``, ``lsgan``): they
replace ``networks`` (generator z -> data space, discriminator data space -> (B, 1)) and
the losses ``d_loss`` / ``g_loss``.
"""
import torch
from pydantic import Field
from torch import nn

from gp import hookimpl
from gp.layers import gan_loss, mlp, to_data
from gp.model import GenerativeModel, ModelConfig
from gp.recipes import Recipe
from gp_models import pacgan


class AdversarialConfig(ModelConfig):
    lr: float = Field(2e-4, gt=0, description="Adam learning rate of both networks")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1 of both networks")
    latent_dim: int = Field(100, gt=0, description="size of the noise z")
    k: int = Field(1, gt=0, description="discriminator updates per generator update")


class GANConfig(AdversarialConfig):
    g_hidden: int = Field(1200, gt=0, description="units in each hidden generator layer (2 layers; 4 with arch=pacgan)")
    d_hidden: int = Field(512, gt=0, description="units in each hidden discriminator layer "
                          "(2 layers; 3 maxout layers with arch=pacgan)")
    loss: str = Field("nonsaturating", pattern="^(nonsaturating|minimax)$", description="generator loss")
    arch: str = Field("mlp", pattern="^(mlp|pacgan)$", description="mlp (2 hidden layers each) or pacgan "
                      "(PacGAN's 2-D networks: 4 batch-normalised generator layers, 3 maxout discriminator layers)")


class MLPGenerator(nn.Sequential):
    """z (B, nz) -> data space (B, *shape) (sigmoid for images) through 2 hidden ReLU layers."""

    def __init__(self, nz: int, hidden: int, spec):
        super().__init__(*mlp([nz, hidden, hidden, spec.dim]))
        self.spec = spec

    def forward(self, z):
        return to_data(super().forward(z), self.spec)


class MLPDiscriminator(nn.Sequential):
    """Data (B, *shape) -> (B, 1) scores through 2 hidden LeakyReLU(0.2) layers."""

    def __init__(self, dim: int, hidden: int):
        super().__init__(*mlp([dim, hidden, hidden, 1], act=lambda: nn.LeakyReLU(0.2)))

    def forward(self, x):
        return super().forward(x.flatten(1))


class GAN(GenerativeModel):
    name, family, Config = "gan", "gan", GANConfig
    tiny = {"latent_dim": 4, "g_hidden": 16, "d_hidden": 16}
    kinds = ("image", "points")

    def __init__(self, config, data):
        super().__init__(config, data)
        self.generator, self.discriminator = self.networks()

    def networks(self) -> tuple[nn.Module, nn.Module]:
        """(generator, discriminator) for this data."""
        c, d = self.config, self.data
        if c.arch == "pacgan":
            return pacgan.networks(c.latent_dim, c.g_hidden, c.d_hidden, d)
        return MLPGenerator(c.latent_dim, c.g_hidden, d), MLPDiscriminator(d.dim, c.d_hidden)

    @property
    def updates(self):
        return ("discriminator",) * self.config.k + ("generator",)

    @property
    def batch_sources(self):
        """k different real batches for the k discriminator updates (Goodfellow et al., Algorithm 1)."""
        return ("step",) + ("fresh",) * (self.config.k - 1) + ("step",)

    def configure_optimizers(self):
        betas = (self.config.beta1, 0.999)
        adam = lambda ps: torch.optim.Adam(ps, lr=self.config.lr, betas=betas)  # noqa: E731
        return {"discriminator": adam(self.discriminator.parameters()), "generator": adam(self.generator.parameters())}

    def noise(self, n):
        return torch.randn(n, self.config.latent_dim, device=self.device)  # (n, nz)

    def generate(self, n):
        """``n`` fresh samples in data space, (n, *shape)."""
        return self.generator(self.noise(n))

    def forward(self, batch, update):
        x = batch["x"]  # (B, *shape)
        fake = self.generate(len(x))  # (B, *shape)
        if update == "discriminator":
            return {"loss": self.d_loss(self.discriminator(x), self.discriminator(fake.detach()))}
        return {"loss": self.g_loss(self.discriminator(fake))}

    def d_loss(self, d_real, d_fake):
        """-log D(x) - log(1 - D(G(z))), averaged; D = sigmoid of the scores."""
        return gan_loss(d_real, True) + gan_loss(d_fake, False)

    def g_loss(self, d_fake):
        if self.config.loss == "minimax":
            return -gan_loss(d_fake, False)  # minimise log(1 - D(G(z)))
        return gan_loss(d_fake, True)  # minimise -log D(G(z))

    @torch.no_grad()
    def sample(self, n, y=None):
        return self.generate(n)

    recipes = {
        "paper": Recipe(
            "Goodfellow et al. 2014: the MNIST model of the official code (github.com/goodfeli/adversarial, "
            "mnist.yaml), on Fashion-MNIST. There the discriminator has 2 maxout layers (240 units x 5 pieces) "
            "with dropout, the noise is uniform and both nets train by SGD with momentum; gp keeps the sizes, "
            "k and batch, with LeakyReLU layers, N(0, I) noise and Adam", {
                "model.latent_dim": (100, "mnist.yaml: generator input of 100 noise units"),
                "model.g_hidden": (1200, "mnist.yaml: 2 rectified-linear generator layers of 1200, sigmoid output"),
                "model.d_hidden": (240, "mnist.yaml: 2 maxout discriminator layers of 240 units (5 pieces each)"),
                "model.k": (1, "Algorithm 1: k = 1, the least expensive option, in the experiments"),
                "model.loss": ("nonsaturating", "section 3: G maximises log D(G(z)), stronger gradients early on"),
                "model.lr": (2e-4, "not the paper's (SGD, learning rate 0.1, momentum 0.5 rising to 0.7 in "
                             "mnist.yaml): Adam at Radford et al. 2016's 2e-4 (section 4)"),
                "model.beta1": (0.5, "not the paper's: Adam beta1 of Radford et al. 2016, section 4"),
                "trainer.batch_size": (100, "mnist.yaml: batch_size 100"),
                "trainer.epochs": (100, "not stated: mnist.yaml has no stopping rule (its momentum ramps up over "
                                   "250 epochs); 100 epochs, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
            }),
        "pacgan-grid": Recipe(
            "PacGAN's unpacked GAN on the grid of 25 Gaussians (Lin et al. 2018, Table 1: 17.3 modes, 94.8% "
            "high-quality samples), with the settings of the official code (github.com/fjxmlzn/PacGAN, "
            "synthetic_data_experiments/2DGrid_GAN&PacGAN: config.py and pacgan_task.py); gp does not pack samples", {
                "data.name": ("toy2d", "config.py: a 2-D Gaussian mixture"),
                "data.kind": ("grid", "config.py: 25 modes at (i, j), i, j in -4, -2, 0, 2, 4, std 0.05"),
                "model.arch": ("pacgan", "pacgan_task.py: generator of 4 BatchNorm+ReLU layers, discriminator "
                               "of 3 maxout layers (5 pieces), weights N(0, 0.02)"),
                "model.latent_dim": (2, "config.py: num_zdim 2, z from N(0, I) (z_mode_std 1, one mode at 0)"),
                "model.g_hidden": (400, "config.py: gen_hidden_size 400"),
                "model.d_hidden": (200, "config.py: disc_hidden_size 200, disc_maxout_pieces 5"),
                "model.k": (1, "pacgan_task.py: one discriminator and one generator update per batch"),
                "model.loss": ("nonsaturating", "bricks.py: generator loss softplus(-D(G(z))) = -log D(G(z))"),
                "model.lr": (1e-4, "config.py: Adam learning_rate 1e-4"),
                "model.beta1": (0.8, "config.py: Adam beta1 0.8"),
                "trainer.batch_size": (100, "config.py: batch_size 100"),
                "trainer.epochs": (800, "config.py: num_epoch 400 of num_sample 100,000 points at batch 100, "
                                   "400,000 updates; gp's toy2d holds 50,000 points: 800 epochs of 500 steps"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a few minutes: 300 steps of a smaller GAN; not a paper setting", {
            "model.g_hidden": (256, "2-core CPU budget"),
            "model.d_hidden": (256, "2-core CPU budget"),
            "trainer.batch_size": (64, "2-core CPU budget"),
            "trainer.epochs": (3, "2-core CPU budget"),
            "trainer.steps_per_epoch": (100, "2-core CPU budget: 300 steps in all"),
        }),
    }


@hookimpl
def register_models(register):
    register(GAN)
