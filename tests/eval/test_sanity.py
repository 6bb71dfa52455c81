"""Sanity of the metrics on real digits through the digits reference classifier's features:
the floor, monotone degradation, dropped classes, duplicates, and the asymmetry of
precision and recall (a swapped implementation must fail these checks)."""
import pytest
import torch

from gp.eval import metrics as M
from tests.eval.conftest import gaussian_blur


@pytest.fixture(scope="module")
def sets(digits, feats):
    """Reference: 750 training digits; candidates: the other 750."""
    train, _ = digits
    return {"ref": feats(train.x[:750]), "other_x": train.x[750:], "other_y": train.y[750:], "other": feats(train.x[750:])}


def noisy(x, level, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (x + level * torch.randn(x.shape, generator=g)).clamp(0, 1)


def test_real_against_real_sits_at_the_floor(sets, feats):
    """Other real digits score far better than noisy ones (small sets: the k=3 balls of 750
    references in 128 dimensions cover about 3/4 of other real digits)."""
    bad = feats(noisy(sets["other_x"], 0.4))
    floor, worse = M.frechet_distance(sets["ref"], sets["other"]), M.frechet_distance(sets["ref"], bad)
    assert floor < 0.25 * worse
    (p, r), (p_bad, _) = M.precision_recall(sets["ref"], sets["other"])[3], M.precision_recall(sets["ref"], bad)[3]
    assert p > 0.55 and r > 0.55 and p > p_bad + 0.2  # noise spreads the fake balls: recall is no guide
    assert 0.4 < M.one_nn_accuracy(sets["ref"], sets["other"]) < 0.72 < 0.85 < M.one_nn_accuracy(sets["ref"], bad)


@pytest.mark.parametrize("degrade,levels", [(noisy, [0.0, 0.1, 0.2, 0.4]), (gaussian_blur, [0.0, 0.5, 1.0, 1.5])])
def test_fd_and_kid_rise_steadily_with_noise_and_blur(sets, feats, degrade, levels):
    fds, kids = [], []
    for level in levels:
        f = feats(degrade(sets["other_x"], level))
        fds.append(M.frechet_distance(sets["ref"], f))
        kids.append(M.kid(sets["ref"], f, subsets=10, size=500)[0])
    assert fds == sorted(fds) and fds[-1] > 3 * fds[0], fds
    assert kids == sorted(kids) and kids[-1] > 3 * max(kids[0], 1e-3), kids


def drop_classes(sets, feats, keep):
    mask = torch.isin(sets["other_y"], torch.tensor(keep))
    return feats(sets["other_x"][mask])


def precision_recall_checks(pr_fn, sets, feats) -> bool:
    """True if ``pr_fn(real, fake)`` behaves like precision then recall on known cases."""
    p_all, r_all = pr_fn(sets["ref"], sets["other"])
    p_half, r_half = pr_fn(sets["ref"], drop_classes(sets, feats, [0, 1, 2, 3, 4]))
    p_dup, r_dup = pr_fn(sets["ref"], sets["other"][:80].repeat(10, 1))  # 80 digits, 10 copies each
    return (p_half > p_all - 0.1 and r_half < r_all - 0.2  # dropped classes: recall falls, precision stays
            and p_dup > p_all - 0.1 and r_dup < 0.5 * r_all)  # duplicates: the same


def test_dropping_classes_and_duplicating_lower_recall_not_precision(sets, feats):
    assert precision_recall_checks(lambda r, f: M.precision_recall(r, f)[3], sets, feats)


def test_swapping_real_and_fake_fails_the_checks(sets, feats):
    assert not precision_recall_checks(lambda r, f: M.precision_recall(f, r)[3], sets, feats)


def test_dropping_classes_lowers_class_coverage_and_score(digits, digits_classifier):
    from gp.eval.features import Extractor

    train, _ = digits
    probs = Extractor(digits_classifier)(train.x)[1]
    half = probs[train.y < 5]
    assert M.class_coverage(probs) == 1.0 and M.class_coverage(half) == 0.5
    assert M.classifier_score(half) < 0.6 * M.classifier_score(probs)


def test_kmeans_baseline_beats_real_data_in_parzen(digits):
    """Theis et al. 2016: k-means centroids score higher than as many real samples
    (paired over the test digits, each estimate with its own validated sigma)."""
    from gp.eval.parzen import kmeans_centres, log_density, parzen

    train, test = digits
    pool, valid = train.x[:1300], train.x[1300:]
    real, centres = pool[:200], kmeans_centres(pool, 200)
    a, b = parzen(real, valid, test.x), parzen(centres, valid, test.x)
    diff = log_density(test.x, centres, [b["sigma"]])[0] - log_density(test.x, real, [a["sigma"]])[0]  # (N,)
    assert b["ll"] > a["ll"] and diff.mean() > 4 * diff.std() / len(diff) ** 0.5
