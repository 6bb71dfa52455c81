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
from gp.recipes import Recipe
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

    recipes = {
        "paper": Recipe(
            "Vincent et al. 2010, a 3-layer stacked denoising autoencoder with masking noise, pretrained layer by "
            "layer and fine-tuned as a classifier, on Fashion-MNIST. The paper tunes one noise level per model on "
            "validation data; sizes and levels here are the Theano SdA tutorial's (github.com/lisa-lab/"
            "DeepLearningTutorials, code/SdA.py)", {
                "model.hidden": ([1000, 1000, 1000], "SdA.py: 3 layers of 1000 units (the paper's SDAE-3 has 3 "
                                 "hidden layers)"),
                "model.corruption": ("masking", "the paper's masking noise (beside Gaussian and salt-and-pepper): "
                                     "a random share of inputs set to 0"),
                "model.levels": ([0.1, 0.2, 0.3], "SdA.py: corruption 0.1, 0.2, 0.3 from the bottom layer up"),
                "model.pretrain_epochs": (15, "SdA.py: 15 pretraining epochs per layer"),
                "trainer.epochs": (95, "45 pretraining epochs (3 x 15), then 50 of fine-tuning, a budget choice "
                                   "(SdA.py fine-tunes up to 1000 with early stopping)"),
                "data.name": ("fashion-mnist", "gp's dataset (the paper: MNIST and its variants)"),
            }),
        "cpu": Recipe("fits a 2-core CPU in a few minutes: 2 layers, 1 epoch each, then fine-tuning; not a paper "
                      "setting", {
            "model.hidden": ([256, 128], "2-core CPU budget"),
            "model.pretrain_epochs": (1, "2-core CPU budget"),
            "trainer.batch_size": (100, "2-core CPU budget"),
            "trainer.epochs": (4, "2-core CPU budget: 2 pretraining epochs, 2 of fine-tuning"),
            "trainer.steps_per_epoch": (200, "2-core CPU budget: 800 steps in all"),
        }),
    }


@hookimpl
def register_models(register):
    register(SDAE)
