"""Stochastic contractive autoencoder: the contraction penalty of Rifai et al. 2011
("Contractive Auto-Encoders", ICML) estimated from noise, as in the stochastic term of
Rifai, Mesnil, Vincent, Muller, Bengio, Dauphin and Glorot 2011 ("Higher Order
Contractive Auto-Encoder", ECML).

Instead of the Jacobian, the penalty is lambda / sigma^2 * E_eps ||h(x) - h(x + eps)||^2
with eps ~ N(0, sigma^2 I), averaged over ``copies`` corrupted copies of each input. For a
small sigma, E||h(x + eps) - h(x)||^2 ~= sigma^2 ||J_h(x)||_F^2, so the division by sigma^2
makes lambda mean the same as the CAE's; a larger sigma penalises finite, not only
infinitesimal, changes of the code. Encoder and decoder are those of :mod:`gp_models.cae`.
"""
from pydantic import Field

from gp import hookimpl
from gp_models.cae import CAE, ContractiveConfig


class SCAEConfig(ContractiveConfig):
    sigma: float = Field(0.1, gt=0, description="standard deviation of the input noise eps")
    copies: int = Field(4, gt=0, description="noisy copies per example in the Monte Carlo estimate")


class SCAE(CAE):
    name, Config = "scae", SCAEConfig

    def penalty(self, x, z):
        return self.config.lam * stochastic_contraction(self, x.flatten(1), self.config.sigma, self.config.copies)


def stochastic_contraction(model, x, sigma: float, copies: int):
    """Monte Carlo estimate per example (B,) of E||h(x) - h(x + eps)||^2 / sigma^2."""
    h = model.hidden(x)  # (B, d)
    noisy = model.hidden(x + sigma * x.new_empty(copies, *x.shape).normal_())  # (copies, B, d)
    return (noisy - h).pow(2).sum(-1).mean(0) / sigma**2


@hookimpl
def register_models(register):
    register(SCAE)
