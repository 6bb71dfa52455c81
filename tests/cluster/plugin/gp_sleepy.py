"""A test plugin that is installed on the submitting machine only, never on the cluster.

``sleepy``: a learnable mean and scale (like the fast tests' ``boring``) whose every
step takes ``step_seconds``, so a test can stop a worker, a node or the tracking server
in the middle of an epoch.
"""
import time

import torch
from pydantic import Field

from gp import hookimpl
from gp.model import GenerativeModel, ModelConfig


class SleepyConfig(ModelConfig):
    step_seconds: float = Field(0.2, description="wall time of each training step")


class Sleepy(GenerativeModel):
    name, family, Config = "sleepy", "test", SleepyConfig
    kinds = ("image", "points")

    def __init__(self, config, data):
        super().__init__(config, data)
        self.mean = torch.nn.Parameter(torch.zeros(data.dim))  # (D,)
        self.log_scale = torch.nn.Parameter(torch.zeros(data.dim))  # (D,)

    def forward(self, batch, update="model"):
        time.sleep(self.config.step_seconds)
        x = batch["x"].flatten(1)  # (B, D)
        nll = (0.5 * ((x - self.mean) / self.log_scale.exp()).pow(2) + self.log_scale).sum(1).mean()
        return {"loss": nll}

    @torch.no_grad()
    def sample(self, n, y=None):
        x = self.mean + self.log_scale.exp() * torch.randn(n, self.data.dim, device=self.mean.device)
        x = x.view(n, *self.data.shape)
        return x.clamp(0, 1) if self.data.kind == "image" else x


@hookimpl
def register_models(register):
    register(Sleepy)
