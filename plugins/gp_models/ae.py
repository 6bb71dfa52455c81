"""Autoencoder (Rumelhart, Hinton and Williams 1986; Hinton and Salakhutdinov 2006,
"Reducing the Dimensionality of Data with Neural Networks").

An encoder maps x to a code z and a decoder maps z back; the loss is the reconstruction
error, Bernoulli cross-entropy (``loss=bce``) or squared error (``loss=mse``), summed over
dimensions and averaged over the batch. ``arch=mlp`` uses one hidden layer each way;
``arch=conv`` two stride-2 convolutions that adapt to the image size (points always use
the MLP). An autoencoder has no prior, so ``sample(n)`` decodes codes drawn from a diagonal
Gaussian fitted to the training codes by running moments kept in ``forward``.
"""
from pydantic import Field

from gp import hookimpl
from gp.model import ModelConfig
from gp.recipes import Recipe
from gp_models.autoencoders import Autoencoder, networks


class AEConfig(ModelConfig):
    latent_dim: int = Field(16, gt=0, description="size of the code z")
    hidden: int = Field(256, gt=0, description="units in the hidden layer of the MLP encoder and decoder")
    arch: str = Field("mlp", pattern="^(mlp|conv)$", description="mlp or conv (images only; points use mlp)")
    channels: int = Field(32, gt=0, description="channels of the first convolution (the second has twice as many)")
    loss: str = Field("bce", pattern="^(bce|mse)$", description="images: Bernoulli cross-entropy or squared error "
                      "(points always use squared error)")


class AE(Autoencoder):
    name, Config = "ae", AEConfig
    tiny = {"latent_dim": 2, "hidden": 16, "channels": 4}

    def __init__(self, config: AEConfig, data):
        super().__init__(config, data, config.latent_dim)
        self.encoder, self.decoder = networks(config, data)  # (B, *shape) -> (B, d) -> (B, D)

    recipes = {
        "paper": Recipe(
            "Hinton and Salakhutdinov 2006, the MNIST autoencoder cut down to gp's one hidden layer each way: "
            "their 784-1000-500-250-30 encoder was pretrained as stacked RBMs and fine-tuned by conjugate "
            "gradients; gp trains end to end with Adam (greedy layer-wise stacks: sae, sdae)", {
                "model.latent_dim": (30, "their MNIST autoencoder's 30-unit code (784-1000-500-250-30)"),
                "model.hidden": (1000, "the first layer of that encoder, 1000 units"),
                "model.arch": ("mlp", "fully connected, as theirs"),
                "model.loss": ("bce", "cross-entropy reconstruction error for MNIST's logistic outputs "
                               "(recalled, not checked against the paper)"),
                "trainer.epochs": (50, "not the paper's schedule (pretraining, then fine-tuning); "
                                  "50, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
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
    register(AE)
