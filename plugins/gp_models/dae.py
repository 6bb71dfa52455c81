"""Denoising autoencoder (Vincent, Larochelle, Bengio and Manzagol 2008, "Extracting and
Composing Robust Features with Denoising Autoencoders").

The encoder sees a corrupted input x~ and the decoder must reconstruct the clean x.
``corruption=masking`` sets each input to 0 with probability ``level`` (the paper's
"destruction" noise); ``corruption=gaussian`` adds N(0, level^2) noise. Sampling and
figures are those of the plain autoencoder (:mod:`gp_models.ae`).
"""
from pydantic import Field

from gp import hookimpl
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


@hookimpl
def register_models(register):
    register(DAE)
