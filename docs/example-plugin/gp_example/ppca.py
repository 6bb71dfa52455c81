"""Probabilistic PCA (Tipping and Bishop 1999), fitted by gradient ascent on the exact
log-likelihood: x = W z + mu + eps, z ~ N(0, I_k), eps ~ N(0, s^2 I_D), so that
p(x) = N(mu, W W^T + s^2 I)."""
import torch
from pydantic import Field
from torch import nn

from gp import hookimpl
from gp.model import GenerativeModel, ModelConfig
from gp.recipes import Recipe


class PPCAConfig(ModelConfig):
    latent_dim: int = Field(16, gt=0, description="number of principal components k")


class PPCA(GenerativeModel):
    name, family, Config = "ppca", "linear", PPCAConfig
    tiny = {"latent_dim": 2}
    kinds = ("image", "points")
    log_prob_exact = True
    recipes = {
        "digits": Recipe("probabilistic PCA of the 8x8 digits, in seconds on a CPU", {
            "data.name": ("digits", "small enough to fit in seconds"),
            "model.latent_dim": (8, "8 of 64 components (Tipping and Bishop 1999 fit k < D)"),
            "model.lr": (1e-2, "chosen: the exact likelihood is smooth, a large step converges fast"),
            "trainer.epochs": (20, "chosen: the test likelihood flattens by then"),
        }),
    }

    def __init__(self, config, data):
        super().__init__(config, data)
        self.W = nn.Parameter(0.01 * torch.randn(data.dim, config.latent_dim))  # (D, k)
        self.mu = nn.Parameter(torch.zeros(data.dim))  # (D,)
        self.log_s = nn.Parameter(torch.zeros(()))  # log noise std

    def distribution(self):
        """N(mu, W W^T + s^2 I) in low-rank form: O(D k^2), so 64x64 colour images (D = 12,288) fit."""
        noise = (2 * self.log_s).exp().expand(len(self.mu))  # (D,) the variance s^2
        return torch.distributions.LowRankMultivariateNormal(self.mu, self.W, noise)

    def log_prob(self, x):
        return self.distribution().log_prob(x.flatten(1))  # (B,) nats

    def forward(self, batch, update="model"):
        nll = -self.log_prob(batch["x"]).mean()
        return {"loss": nll / len(self.mu), "nll": nll}

    @torch.no_grad()
    def sample(self, n, y=None):
        x = self.distribution().sample((n,)).view(n, *self.data.shape)  # (n, *shape)
        return x.clamp(0, 1) if self.data.kind == "image" else x


@hookimpl
def register_models(register):
    register(PPCA)
