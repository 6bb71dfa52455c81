"""Metric formulas checked numerically on Gaussians, one-hot probabilities and known sets."""
import math

import numpy as np
import pytest
import torch

from gp.eval import metrics as M


def gauss(n, d=8, mean=0.0, std=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return mean + std * torch.randn(n, d, generator=g)


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    # N(0, I) vs N(m, s^2 I) in d dims: ||m||^2 + d (1 - s)^2
    d, m, s = 8, 0.5, 2.0
    fd = M.frechet_distance(gauss(20000, d, seed=1), gauss(20000, d, mean=m, std=s, seed=2))
    assert fd == pytest.approx(d * m**2 + d * (1 - s) ** 2, rel=0.05)


def test_frechet_distance_is_zero_for_identical_sets_and_agrees_with_sqrtm():
    from scipy import linalg

    x, y = gauss(500, 16, seed=1), gauss(400, 16, mean=0.3, std=1.5, seed=2)
    assert abs(M.frechet_distance(x, x)) < 1e-6
    a, b = x.double().numpy(), y.double().numpy()
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    direct = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert M.frechet_distance(x, y) == pytest.approx(direct, rel=1e-6)


def test_frechet_distance_handles_dead_feature_units():
    x, y = gauss(300, 8, seed=1), gauss(300, 8, mean=1.0, seed=2)
    x[:, :3], y[:, :3] = 0, 0  # units that never fire: singular covariances
    assert M.frechet_distance(x, y) == pytest.approx(5.0, rel=0.25)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_for_two():
    same, _ = M.kid(gauss(2000, seed=1), gauss(2000, seed=2), subsets=20, size=500)
    diff, _ = M.kid(gauss(2000, seed=1), gauss(2000, mean=0.3, seed=2), subsets=20, size=500)
    assert abs(same) < 0.01 and diff > 10 * abs(same) + 0.01


def test_kid_matches_a_direct_unbiased_mmd_with_sklearns_kernel():
    from sklearn.metrics.pairwise import polynomial_kernel

    x, y = gauss(50, 4, seed=1), gauss(50, 4, mean=0.2, seed=2)
    k = lambda a, b: torch.from_numpy(polynomial_kernel(a.numpy(), b.numpy(), degree=3, gamma=1 / 4, coef0=1))  # noqa: E731
    m = 50
    direct = ((k(x, x).sum() - k(x, x).trace()) / (m * (m - 1)) + (k(y, y).sum() - k(y, y).trace()) / (m * (m - 1))
              - 2 * k(x, y).mean())
    mean, std = M.kid(x, y, subsets=3, size=50)
    assert mean == pytest.approx(float(direct), rel=1e-4) and std < 1e-6


def test_classifier_score_is_number_of_classes_for_confident_balanced_and_one_for_constant():
    balanced = torch.eye(10).repeat(30, 1)  # each class equally often, each prediction certain
    constant = torch.eye(10)[torch.zeros(300, dtype=torch.long)]
    assert M.classifier_score(balanced) == pytest.approx(10, rel=1e-6)
    assert M.classifier_score(constant) == pytest.approx(1, rel=1e-6)
    assert M.class_coverage(balanced) == 1.0 and M.class_coverage(constant) == 0.1


def test_precision_recall_of_a_set_with_itself_is_one():
    x = gauss(400)
    p, r = M.precision_recall(x, x)[3]
    assert p == 1.0 and r == 1.0


def test_knn_radius_is_the_kth_other_point():
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
    assert M.manifold(x, 2).radii2((1, 2)).sqrt().tolist() == [[1, 1, 2, 3], [3, 2, 3, 5]]


def test_one_pass_neighbours_match_a_brute_force_reference():
    """Precision, recall and 1-NN against scikit-learn's k-NN with the definitions spelled out."""
    from sklearn.neighbors import NearestNeighbors

    real, fake = gauss(300, 5, seed=1), gauss(250, 5, mean=0.4, std=1.3, seed=2)
    got = M.neighbours(M.manifold(real), M.manifold(fake), (1, 3, 10))
    for k in (1, 3, 10):
        r_real = NearestNeighbors(n_neighbors=k).fit(real).kneighbors()[0][:, -1]
        r_fake = NearestNeighbors(n_neighbors=k).fit(fake).kneighbors()[0][:, -1]
        d = torch.cdist(fake.double(), real.double()).numpy()  # (Nf, Nr)
        precision = (d <= r_real[None, :] + 1e-4).any(1).mean()
        recall = (d <= r_fake[:, None] + 1e-4).any(0).mean()
        assert got["pr"][k] == pytest.approx((precision, recall), abs=0.01)
    both = torch.cat([real, fake]).numpy()
    idx = NearestNeighbors(n_neighbors=1).fit(both).kneighbors()[1][:, 0]
    label = np.r_[np.ones(300), np.zeros(250)]
    assert got["1nn"] == pytest.approx((label[idx] == label).mean(), abs=0.005)


def test_one_nn_is_half_for_one_distribution_and_one_for_separate_ones():
    near = M.one_nn_accuracy(gauss(1000, seed=1), gauss(1000, seed=2))
    far = M.one_nn_accuracy(gauss(500, seed=1), gauss(500, mean=10, seed=2))
    assert 0.4 < near < 0.6 and far == 1.0


def test_one_nn_leaves_each_point_out_even_with_duplicates():
    real = gauss(200, seed=1)
    # duplicates of real points inside "fake": each duplicate's neighbour is its real twin
    acc = M.one_nn_accuracy(real, real.clone())
    assert acc == 0.0


def test_parzen_log_density_matches_scipy_gaussian_mixture():
    from scipy.stats import multivariate_normal

    from gp.eval.parzen import log_density

    centres, x, sigma = gauss(7, 3, seed=1), gauss(5, 3, seed=2), 0.7
    got = log_density(x, centres, [sigma])[0]
    dens = np.mean([multivariate_normal(c.numpy(), sigma**2 * np.eye(3)).pdf(x.numpy()) for c in centres], 0)
    assert np.allclose(got.numpy(), np.log(dens), atol=1e-4)


def test_parzen_picks_the_validation_best_sigma_and_reports_standard_error():
    from gp.eval.parzen import parzen

    centres = gauss(2000, 2, std=0.3, seed=1)
    out = parzen(centres, gauss(500, 2, std=0.3, seed=2), gauss(800, 2, std=0.3, seed=3))
    assert 0.1 <= out["sigma"] <= 0.3  # far below the data scale is overfit, 1.0 oversmooths
    assert out["se"] > 0 and math.isfinite(out["ll"])


def test_mode_stats_on_perfect_and_collapsed_samples():
    from gp.data.builtin import STD, centres, toy_points
    from gp.eval.modes import mode_stats

    centres, std = centres("grid"), STD["grid"]
    good = mode_stats(toy_points("grid", 5000, seed=3)[0], centres, std)
    assert good["modes_captured"] == 25 and good["reverse_kl"] < 0.01
    assert good["hq_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.005)  # 2-D Gaussian within 3 std
    one = mode_stats(centres[3] + 0.01 * gauss(1000, 2), centres, std)
    assert one["modes_captured"] == 1 and one["reverse_kl"] == pytest.approx(math.log(25), rel=1e-6)
    off = mode_stats(centres[:1] + 0.5, centres, std)  # between modes: no high-quality sample
    assert off["hq_fraction"] == 0 and off["modes_captured"] == 0 and off["modes_hit"] == 0
    assert good["modes_hit"] == 25 and one["modes_hit"] == 1


def test_modes_hit_counts_a_single_sample_among_the_first_2500_as_pacgans_code_does():
    from gp.data.builtin import STD, centres
    from gp.eval.modes import mode_stats

    centres, std = centres("grid"), STD["grid"]
    points = centres[0].repeat(3000, 1)  # all on mode 0 ...
    points[5], points[2600] = centres[1], centres[2]  # ... but one on mode 1, and one on mode 2 after 2,500
    out = mode_stats(points, centres, std)
    assert out["modes_hit"] == 2 and out["modes_captured"] == 1  # one sample is below a fifth of the uniform share


def test_toy2d_declares_its_modes_for_evaluation_ring_on_a_circle_of_radius_two():
    from gp.config import DataConfig
    from gp.data.builtin import toy2d

    ring = toy2d(DataConfig(name="toy2d", kind="ring"), "test").modes
    assert ring.centres.shape == (8, 2) and torch.allclose(ring.centres.norm(dim=1), torch.full((8,), 2.0))
    assert ring.std == 0.02 and toy2d(DataConfig(name="toy2d", kind="grid"), "test").modes.centres.shape == (25, 2)
    assert toy2d(DataConfig(name="toy2d", kind="swissroll"), "test").modes is None  # no modes: no mode metrics


def test_scratch_accuracy_trains_a_fresh_copy_of_the_models_classifier_on_the_kept_labels_only(monkeypatch):
    from gp.data.spec import DataSpec, Dataset, hide_labels
    from gp.eval.conditional import scratch_accuracy

    class Linear(torch.nn.Module):  # a model whose classifier is one linear layer on 2-D points
        def __init__(self, config, data):
            super().__init__()
            self.config, self.data, self.net = config, data, torch.nn.Linear(2, 2)

        device = torch.device("cpu")

        def class_logits(self, x):
            return self.net(x)

    g = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 2
    x = torch.randn(400, 2, generator=g) * 0.3 + torch.stack([y * 2.0 - 1, torch.zeros(400)], 1)  # two blobs
    spec = DataSpec((2,), 2, "points")
    train, test = Dataset(x[:300], y[:300], spec), Dataset(x[300:], y[300:], spec)
    model = Linear(None, spec)
    before = model.net.weight.clone()
    assert scratch_accuracy(model, train, test, labelled=10, seed=3) > 0.95  # 10 labels separate two blobs
    assert torch.equal(model.net.weight, before)  # the run's own model is untouched
    kept = hide_labels(train, 10, 3)
    assert int((kept.y >= 0).sum()) == 10
    wrong = lambda d, n, s: Dataset(d.x, torch.where(kept.y >= 0, 1 - d.y, -1), spec)  # noqa: E731 the same 10, mislabelled
    monkeypatch.setattr("gp.data.spec.hide_labels", wrong)
    assert scratch_accuracy(model, train, test, labelled=10, seed=3) < 0.1  # it learns those 10 labels and no others
