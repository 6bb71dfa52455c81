"""Stacked denoising autoencoder (Vincent, Larochelle, Lajoie, Bengio and Manzagol 2010,
"Stacked Denoising Autoencoders: Learning Useful Representations in a Deep Network with
a Local Denoising Criterion").

The stacked autoencoder of :mod:`gp_models.sae` (greedy layer-wise pretraining, then
supervised fine-tuning), where each layer in pretraining reconstructs its clean input from
a corrupted one: masking noise (or Gaussian) of level ``levels[l]`` for layer l (the last
level repeats for deeper stacks); fine-tuning and sampling see clean inputs.
"""
from pydantic import Field

from gp import hookimpl
from gp_models.autoencoders import corrupt
from gp_models.sae import SAE, SAEConfig


class SDAEConfig(SAEConfig):
    corruption: str = Field("masking", pattern="^(masking|gaussian)$", description="masking or gaussian input noise")
    levels: list[float] = Field([0.1, 0.2, 0.3], min_length=1, description="noise level of each layer, bottom first")


class SDAE(SAE):
    name, Config = "sdae", SDAEConfig

    def corrupt_layer(self, h, l: int):
        level = self.config.levels[min(l, len(self.config.levels) - 1)]
        return corrupt(h, self.config.corruption, level)


@hookimpl
def register_models(register):
    register(SDAE)
