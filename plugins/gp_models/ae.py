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


@hookimpl
def register_models(register):
    register(AE)
