"""The independent per-pixel floor of ``gp eval``'s nll metric, and the binarised NLL."""
import math

import pytest
import torch

from gp.eval import likelihood as L


def test_independent_bits_is_the_entropy_of_known_marginals():
    # pixel 0 always 0, pixel 1 a fair coin: 0 + 1 bit over 2 dims, up to add-one smoothing
    train = torch.stack([torch.zeros(4000, dtype=torch.long), torch.arange(4000) % 2], 1)
    assert L.independent_bits(train, train, 2) == pytest.approx(0.5, abs=0.01)
    # 256 levels, uniform: 8 bits per dimension
    uniform = torch.arange(256 * 40).remainder(256).view(-1, 1)
    assert L.independent_bits(uniform, uniform, 256) == pytest.approx(8.0, abs=0.01)


def test_an_unseen_level_costs_finite_bits():
    train, test = torch.zeros(100, 3, dtype=torch.long), torch.ones(1, 3, dtype=torch.long)
    bits = L.independent_bits(train, test, 2)
    assert math.isfinite(bits) and bits == pytest.approx(math.log2(102), rel=1e-6)


class Levels:
    levels = 2

    def discretise(self, x):
        return (x > 0.5).float()


class Continuous:
    log_prob_exact = True

    def log_prob(self, x):
        return -x.flatten(1).sum(1)


def test_discretisation_is_the_models_own_else_binarised():
    x = torch.tensor([[0.2, 0.7]])
    assert L.discretisation(Levels())[0] == 2 and L.discretisation(Levels())[1](x).tolist() == [[0, 1]]
    levels, fn = L.discretisation(Continuous())
    assert levels == 2 and fn(x).dtype == torch.long and fn(x).tolist() == [[0, 1]]


def test_binary_likelihood_scores_binarised_data_for_models_without_levels():
    x = torch.tensor([[0.2, 0.7], [0.9, 0.9]])
    got = L.binary_likelihood(Continuous(), x)
    assert got["nll_binary_nats"] == pytest.approx(1.5)  # (1 + 2) / 2 on the binarised images
    assert got["bits_per_dim_binary"] == pytest.approx(1.5 / (2 * math.log(2)))
    assert L.binary_likelihood(Levels(), x) == {}
