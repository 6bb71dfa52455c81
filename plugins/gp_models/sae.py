"""Stacked autoencoder (Bengio, Lamblin, Popovici and Larochelle 2007, "Greedy Layer-Wise
Training of Deep Networks").

A stack of sigmoid layers is pretrained greedily, one autoencoder per layer: in phase
"pretrain-l" only layer l and its decoder learn to reconstruct the (detached) codes of the
frozen layers below; layer 1 reconstructs the data (cross-entropy for images, squared
error for points), higher layers their sigmoid inputs (cross-entropy). ``tied=true``
decodes with the transposed encoder weights. Phase "finetune" then trains the whole
encoder stack plus a softmax classifier by cross-entropy on the labelled examples
(label -1 is ignored); data without classes fine-tune the unrolled stack on
reconstruction instead (Hinton and Salakhutdinov 2006).

Epochs: every layer gets ``pretrain_epochs`` epochs, cut to (epochs - 1) // layers when
epochs are few so that fine-tuning always gets the rest (at least one epoch); with
epochs <= layers there is no pretraining at all.
"""
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gp import hookimpl
from gp.layers import to_data
from gp.model import ModelConfig
from gp.recipes import Recipe
from gp_models.autoencoders import Autoencoder, reconstruction_loss


class SAEConfig(ModelConfig):
    hidden: list[int] = Field([500, 500, 500], min_length=1, description="units of each stacked layer, bottom first")
    tied: bool = Field(False, description="decode each layer with its transposed encoder weights")
    pretrain_epochs: int = Field(1, ge=0, description="greedy pretraining epochs per layer (fewer for short runs)")


class SAE(Autoencoder):
    name, Config = "sae", SAEConfig
    tiny = {"hidden": [16, 8]}

    def __init__(self, config: SAEConfig, data):
        super().__init__(config, data, config.hidden[-1])
        sizes = [data.dim, *config.hidden]
        self.encoders = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.biases = nn.ParameterList(torch.zeros(a) for a in sizes[:-1])  # decoder biases
        untied = [] if config.tied else [nn.Linear(b, a, bias=False) for a, b in zip(sizes[:-1], sizes[1:])]
        self.decoders = nn.ModuleList(untied)  # empty when tied: decode with encoders[l].weight.t()
        k = data.num_classes
        self.classifier = nn.Linear(sizes[-1], k) if k else None  # (B, h_L) -> (B, classes)
        self.phase = "finetune"

    def phases(self, epochs):
        layers = len(self.encoders)
        per = min(self.config.pretrain_epochs, (epochs - 1) // layers)
        pre = [f"pretrain-{l + 1}" for l in range(layers) for _ in range(per)]
        return pre + ["finetune"] * (epochs - len(pre))

    @property
    def updates(self):
        return (self.phase,)

    def configure_optimizers(self):
        if self.phase.startswith("pretrain-"):
            l = int(self.phase.split("-")[1]) - 1
            params = [*self.encoders[l].parameters(), self.biases[l], *self.decoders[l:l + 1].parameters()]
        elif self.classifier is not None:
            params = [*self.encoders.parameters(), *self.classifier.parameters()]
        else:
            params = [*self.encoders.parameters(), *self.biases, *self.decoders.parameters()]
        return {self.phase: torch.optim.Adam(params, lr=self.config.lr)}

    def corrupt_layer(self, h, l: int):
        """Input noise of layer ``l`` in pretraining; none in a plain SAE."""
        return h

    def layer_decode(self, l: int, h):
        """Pre-activations (B, n_l) of layer ``l``'s decoder from its codes (B, n_{l+1})."""
        weight = self.encoders[l].weight.t() if self.config.tied else self.decoders[l].weight
        return F.linear(h, weight, self.biases[l])

    def encode(self, x, upto: int | None = None):
        """Codes of layer ``upto`` (default: the top), (B, n_upto)."""
        h = x.flatten(1)
        for enc in self.encoders[:upto]:
            h = torch.sigmoid(enc(h))
        return h

    def decode(self, z):
        return to_data(self.decode_logits(z), self.data)

    def forward(self, batch, update):
        if update.startswith("pretrain-"):
            out = self.pretrain_loss(batch["x"], int(update.split("-")[1]) - 1)
        else:
            out = self.finetune_loss(batch["x"], batch["y"])
        return out

    def pretrain_loss(self, x, l: int):
        """Layer ``l`` reconstructs the detached codes of the frozen layers below it."""
        with torch.no_grad():
            target = self.encode(x, upto=l)  # (B, n_l)
        z = torch.sigmoid(self.encoders[l](self.corrupt_layer(target, l)))  # (B, n_{l+1})
        if l == len(self.encoders) - 1:
            self.codes.update(z)
        out = self.layer_decode(l, z)
        rec = reconstruction_loss(out, target, self.data, "bce") if l == 0 else \
            F.binary_cross_entropy_with_logits(out, target, reduction="none").sum(1)
        return {"loss": rec.mean()}

    def finetune_loss(self, x, y):
        z = self.encode(x)  # (B, n_L)
        self.codes.update(z)
        if self.classifier is None:
            rec = reconstruction_loss(self.decode_logits(z), x, self.data, "bce")
            return {"loss": rec.mean()}
        logits = self.classifier(z)  # (B, classes)
        mask = (y >= 0).float()  # -1: unlabelled
        ce = F.cross_entropy(logits, y.clamp_min(0), reduction="none") * mask  # no labels: 0, still a graph
        n = mask.sum().clamp_min(1)
        acc = ((logits.argmax(1) == y).float() * mask).sum() / n
        return {"loss": ce.sum() / n, "accuracy": acc}

    def decode_logits(self, z):
        """Pre-activations (B, D) of the unrolled decoder stack."""
        for l in reversed(range(1, len(self.encoders))):
            z = torch.sigmoid(self.layer_decode(l, z))
        return self.layer_decode(0, z)

    @property
    def can_classify(self):
        return self.classifier is not None  # data with classes

    @torch.no_grad()
    def classify(self, x):
        """Predicted classes (B,) of the fine-tuned stack."""
        return self.classifier(self.encode(x)).argmax(1)

    recipes = {
        "paper": Recipe(
            "Bengio et al. 2007, greedy layer-wise pretraining of a 3-layer sigmoid stack, then supervised "
            "fine-tuning, on Fashion-MNIST; the paper selects layer sizes and rates on validation data and trains "
            "by SGD, gp uses Adam", {
                "model.hidden": ([1000, 1000, 1000], "3 hidden layers as the paper's MNIST networks; 1000 units each "
                                 "as the Theano deep-learning tutorials' stacks (not a paper value)"),
                "model.pretrain_epochs": (15, "the Theano tutorials' 15 pretraining epochs per layer "
                                          "(not a paper value)"),
                "trainer.epochs": (95, "45 pretraining epochs (3 x 15), then 50 of fine-tuning, a budget choice"),
                "data.name": ("fashion-mnist", "gp's dataset; the paper's MNIST is data=mnist data.root=DIR"),
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
    register(SAE)
