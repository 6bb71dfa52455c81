"""Contractive autoencoder (Rifai, Vincent, Muller, Glorot and Bengio 2011, "Contractive
Auto-Encoders: Explicit Invariance During Feature Extraction").

One sigmoid encoder layer h = sigmoid(W x + b) and a linear decoder (sigmoid output for
images). The loss adds lambda * ||J_h(x)||_F^2, the squared Frobenius norm of the
encoder's Jacobian. For a sigmoid layer it has the closed form
||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2 (``penalty=closed``); ``penalty=autograd``
computes the Jacobian with torch.func (vmap of jacrev), which works for any encoder.
"""
import torch
from pydantic import Field
from torch import nn

from gp import hookimpl
from gp.model import ModelConfig
from gp.recipes import Recipe
from gp_models.autoencoders import Autoencoder


class ContractiveConfig(ModelConfig):
    latent_dim: int = Field(256, gt=0, description="units of the sigmoid code layer")
    lam: float = Field(0.1, ge=0, description="weight lambda of the contraction penalty")
    loss: str = Field("bce", pattern="^(bce|mse)$", description="images: Bernoulli cross-entropy or squared error "
                      "(points always use squared error)")


class CAEConfig(ContractiveConfig):
    penalty: str = Field("closed", pattern="^(closed|autograd)$", description="Jacobian norm in closed form or by autograd")


class CAE(Autoencoder):
    name, Config = "cae", CAEConfig
    tiny = {"latent_dim": 8}

    def __init__(self, config, data):
        super().__init__(config, data, config.latent_dim)
        self.layer = nn.Linear(data.dim, config.latent_dim)  # W (d, D), b (d,)
        self.decoder = nn.Linear(config.latent_dim, data.dim)  # (B, d) -> (B, D)

    def hidden(self, x):
        """h = sigmoid(W x + b): (..., D) -> (..., d)."""
        return torch.sigmoid(self.layer(x))

    def encoder(self, x):
        return self.hidden(x.flatten(1))

    def penalty(self, x, z):
        fn = jacobian_norm_closed if self.config.penalty == "closed" else jacobian_norm_autograd
        return self.config.lam * fn(self, x.flatten(1))

    recipes = {
        "paper": Recipe(
            "Rifai et al. 2011 (CAE), one sigmoid layer on MNIST-like images, on Fashion-MNIST; the paper picks "
            "lambda and the layer size on validation data and trains by SGD, gp uses Adam", {
                "model.latent_dim": (1000, "the paper's MNIST experiments: 1000 hidden units "
                                     "(recalled, not checked against the paper)"),
                "model.lam": (0.1, "a contraction weight in the range the paper searched "
                              "(recalled, not checked against the paper)"),
                "model.loss": ("bce", "reconstruction cross-entropy for inputs in [0, 1] "
                               "(recalled, not checked against the paper)"),
                "model.penalty": ("closed", "the paper's closed form of ||J||_F^2 for a sigmoid layer"),
                "trainer.epochs": (50, "not stated; 50 epochs, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a few minutes: 1,000 steps; not a paper setting", {
            "model.latent_dim": (128, "2-core CPU budget"),
            "trainer.batch_size": (100, "2-core CPU budget"),
            "trainer.epochs": (5, "2-core CPU budget"),
            "trainer.steps_per_epoch": (200, "2-core CPU budget: 1,000 steps in all"),
        }),
    }


def jacobian_norm_closed(model, x):
    """||dh/dx||_F^2 per example (B,) of the sigmoid layer, in closed form."""
    h = model.hidden(x)  # (B, d)
    return (h * (1 - h)).pow(2) @ model.layer.weight.pow(2).sum(1)  # (B, d) @ (d,)


def jacobian_norm_autograd(model, x):
    """||dh/dx||_F^2 per example (B,) from the full Jacobian (B, d, D); differentiable in the weights."""
    jac = torch.func.vmap(torch.func.jacrev(model.hidden))(x)  # (B, d, D)
    return jac.pow(2).sum((1, 2))


@hookimpl
def register_models(register):
    register(CAE)
