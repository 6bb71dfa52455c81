"""Linear autoencoder (Baldi and Hornik 1989, "Neural Networks and Principal Component
Analysis: Learning from Examples Without Local Minima").

x -> z = A (x - m) -> x^ = B z + m with A (k, D), B (D, k), no biases and no
nonlinearity, trained on the squared error ||x - x^||^2 summed over dimensions. Every
local minimum is global and makes B A the orthogonal projection onto the top-k principal
subspace of the centred data, so the columns of B span the same space as PCA's first k
components, and the error equals the sum of the discarded eigenvalues of the covariance.

The data mean m is a buffer: the exact running average of the training batches seen
(``center=false`` uses m = 0 for data that is already centred).
"""
import torch
from pydantic import Field
from torch import nn

from gp import hookimpl
from gp.model import ModelConfig
from gp.recipes import Recipe
from gp_models.autoencoders import Autoencoder, RunningMoments


class LinearAEConfig(ModelConfig):
    latent_dim: int = Field(16, gt=0, description="size k of the code (number of principal components)")
    center: bool = Field(True, description="subtract the running mean of the training data")


class LinearAE(Autoencoder):
    name, Config = "linear-ae", LinearAEConfig
    tiny = {"latent_dim": 2}

    def __init__(self, config: LinearAEConfig, data):
        super().__init__(config, data, config.latent_dim)
        self.mean = RunningMoments(data.dim, floor=0.0)  # exact average of all batches
        self.encoder = nn.Linear(data.dim, config.latent_dim, bias=False)  # A (k, D)
        self.decoder = nn.Linear(config.latent_dim, data.dim, bias=False)  # B (D, k)

    def centre(self, x):
        """(B, *shape) -> x - m, (B, D)."""
        x = x.flatten(1)
        return x - self.mean.mean if self.config.center else x

    def forward(self, batch, update="model"):
        x = batch["x"].flatten(1)  # (B, D)
        if self.config.center:
            self.mean.update(x)
        xc = self.centre(x)
        z = self.encoder(xc)  # (B, k)
        self.codes.update(z)
        err = (self.decoder(z) - xc).pow(2).sum(1)  # (B,)
        return {"loss": err.mean()}

    def encode(self, x):
        return self.encoder(self.centre(x))

    def decode(self, z):
        x = self.decoder(z) + (self.mean.mean if self.config.center else 0)  # (B, D)
        x = x.view(len(z), *self.data.shape)
        return x.clamp(0, 1) if self.data.kind == "image" else x

    @property
    def basis(self) -> torch.Tensor:
        """The decoder's columns (D, k): they span the learned principal subspace."""
        return self.decoder.weight.detach()

    recipes = {
        "paper": Recipe(
            "Baldi and Hornik 1989 is a theorem, not an experiment: for centred data and squared error every "
            "minimum spans the top-k principal subspace, for any k. Epochs, code size and optimiser are gp's "
            "choices", {
                "model.center": (True, "the theorem's setting: the data covariance, of centred data"),
                "model.latent_dim": (16, "not from the paper (any k < D): 16 components"),
                "trainer.epochs": (20, "not from the paper: 20 epochs, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a minute: 600 steps; not a paper setting", {
            "trainer.batch_size": (100, "2-core CPU budget"),
            "trainer.epochs": (3, "2-core CPU budget"),
            "trainer.steps_per_epoch": (200, "2-core CPU budget: 600 steps in all"),
        }),
    }


@hookimpl
def register_models(register):
    register(LinearAE)
