"""Denoising autoencoder (Vincent, Larochelle, Bengio and Manzagol 2008, "Extracting and
Composing Robust Features with Denoising Autoencoders").

The encoder sees a corrupted input x~ and the decoder must reconstruct the clean x.
``corruption=masking`` sets each input to 0 with probability ``level`` (the paper's
"destruction" noise); ``corruption=gaussian`` adds N(0, level^2) noise. Sampling and
figures are those of the plain autoencoder (:mod:`gp_models.ae`).
"""
from pydantic import Field

from gp import hookimpl
from gp.recipes import Recipe
from gp_models.ae import AE, AEConfig
from gp_models.autoencoders import corrupt


class DAEConfig(AEConfig):
    corruption: str = Field("masking", pattern="^(masking|gaussian)$", description="masking or gaussian input noise")
    level: float = Field(0.25, ge=0, description="masking probability, or standard deviation of the Gaussian noise")


class DAE(AE):
    name, Config = "dae", DAEConfig

    def corrupt(self, x):
        """x~ ~ q(x~ | x), same shape as x; identity in eval mode."""
        return corrupt(x, self.config.corruption, self.config.level) if self.training else x

    recipes = {
        "paper": Recipe(
            "Vincent et al. 2008, one denoising autoencoder with masking noise, on Fashion-MNIST. The paper's "
            "autoencoder has a single hidden layer (gp's MLP one more each way) and trains by SGD; gp uses Adam. "
            "Its stacks for classification: sdae", {
                "model.corruption": ("masking", "section 2.3: a fixed share of the inputs, chosen at random, "
                                     "set to 0"),
                "model.level": (0.25, "the 25% destruction level of the paper's first-layer filter figure "
                                "(recalled, not checked against the paper)"),
                "model.loss": ("bce", "section 2: reconstruction cross-entropy for inputs in [0, 1]"),
                "model.arch": ("mlp", "fully connected, as the paper's"),
                "trainer.epochs": (50, "not stated for this dataset; 50 epochs, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset (the paper: MNIST and its variants)"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a few minutes: 1,000 steps; not a paper setting", {
            "model.hidden": (256, "2-core CPU budget"),
            "trainer.batch_size": (100, "2-core CPU budget"),
            "trainer.epochs": (5, "2-core CPU budget"),
            "trainer.steps_per_epoch": (200, "2-core CPU budget: 1,000 steps in all"),
        }),
    }


@hookimpl
def register_models(register):
    register(DAE)
