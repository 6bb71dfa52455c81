"""Deep convolutional GAN (Radford, Metz, Chintala 2015, "Unsupervised Representation
Learning with Deep Convolutional Generative Adversarial Networks", arXiv:1511.06434).

The GAN game of :mod:`gp_models.gan` with the paper's all-convolutional networks
(:mod:`gp_models.convnets`: strided convolutions, batch norm except at the generator
output and discriminator input, ReLU/Tanh generator, LeakyReLU(0.2) discriminator,
N(0, 0.02) init) and its optimiser, Adam with lr 2e-4 and beta1 0.5. On 64x64 images with
``g_width=128 d_width=128`` the networks are the paper's (figure 1): four strided convolutions
each way between (1024, 4, 4) and (C, 64, 64). Its figure walks the latent space: each row
decodes a straight line between two noise vectors.
"""
import torch
from pydantic import Field

from gp import hookimpl
from gp.recipes import Recipe
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

    recipes = {
        "paper": Recipe(
            "Radford et al. 2016 (DCGAN), section 4, with the official code's settings for 28x28 images "
            "(github.com/Newmu/dcgan_code), on Fashion-MNIST. The N(0, 0.02) init, batch norm and LeakyReLU(0.2) "
            "are built into gp's networks; the code's L2 weight decay and learning-rate decay are not expressible", {
                "model.lr": (2e-4, "section 4: Adam; the suggested 0.001 was too high, 0.0002 used instead"),
                "model.beta1": (0.5, "section 4: beta1 0.9 made training oscillate, 0.5 stabilised it"),
                "trainer.batch_size": (128, "section 4: mini-batches of 128"),
                "model.latent_dim": (100, "figure 1: a 100-dimensional Z (uniform there, N(0, I) in gp); "
                                     "official code: nz = 100"),
                "model.g_width": (64, "official code, mnist/train_cond_dcgan.py: ngf = 64 for 28x28 digits"),
                "model.d_width": (64, "official code, mnist/train_cond_dcgan.py: ndf = 64"),
                "model.loss": ("nonsaturating", "official code: the generator minimises bce(D(G(z)), 1)"),
                "model.k": (1, "official code: k = 1 discriminator update per generator update"),
                "trainer.epochs": (25, "not stated in the paper; official code, faces/train_uncond_dcgan.py: "
                                  "25 epochs at a constant learning rate"),
                "data.name": ("fashion-mnist", "gp's dataset (the paper: LSUN, Imagenet-1k, faces)"),
            }),
        "faces-64": Recipe(
            "Radford et al. 2016 (DCGAN) on 64x64 colour images, the official faces code "
            "(github.com/Newmu/dcgan_code, faces/train_uncond_dcgan.py) on your own folder: "
            "gp submit plugin=dcgan recipe=faces-64 data.root=DIR. The paper's 3M scraped faces are not public; "
            "the code's 5x5 kernels (gp: 4x4), uniform z (gp: N(0, I)) and L2 weight decay 1e-5 are not gp's", {
                "data.name": ("imagefolder", "gp's image-folder dataset stands in for the paper's face images"),
                "data.size": (64, "faces code: npx = 64"),
                "data.channels": (3, "faces code: nc = 3"),
                "model.g_width": (128, "faces code: ngf = 128, so the projection is (1024, 4, 4) as in figure 1"),
                "model.d_width": (128, "faces code: ndf = 128"),
                "model.latent_dim": (100, "faces code: nz = 100"),
                "model.lr": (2e-4, "faces code: lr = 0.0002, section 4"),
                "model.beta1": (0.5, "faces code: b1 = 0.5, section 4"),
                "model.k": (1, "faces code: k = 1"),
                "model.loss": ("nonsaturating", "faces code: g_cost = bce(p_gen, 1)"),
                "trainer.batch_size": (128, "faces code: nbatch = 128"),
                "trainer.epochs": (25, "faces code: niter = 25 at a constant rate (niter_decay = 0)"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a few minutes: 300 steps of narrow networks; not a paper setting", {
            "model.g_width": (16, "2-core CPU budget"),
            "model.d_width": (16, "2-core CPU budget"),
            "trainer.batch_size": (64, "2-core CPU budget"),
            "trainer.epochs": (3, "2-core CPU budget"),
            "trainer.steps_per_epoch": (100, "2-core CPU budget: 300 steps in all"),
        }),
    }


@hookimpl
def register_models(register):
    register(DCGAN)
