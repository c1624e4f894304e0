"""The quantities of the derivation: identities checked to round-off or by finite differences."""

import incidental as inc
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from incidental import derivation, theory

INTERFERENCE = ("interference",)


@given(seed=st.integers(0, 10_000), n=st.integers(3, 9))
def test_numerator_rate_is_first_plus_second_order(seed, n):
    G = (lambda W: W @ W.T)(inc.sample_weights(n, 3 * n, seed=seed))
    total = inc.numerator_first_order(G) + inc.numerator_second_order(G, relu=True)
    np.testing.assert_allclose(total, inc.numerator_rate(G), atol=1e-14)


def test_relu_free_second_order_is_exact_when_all_pairs_interfere():
    rng = np.random.default_rng(0)
    W = np.abs(rng.normal(size=(5, 8)))  # all overlaps positive
    G = W @ W.T
    np.testing.assert_allclose(
        inc.numerator_second_order(G, relu=False), inc.numerator_second_order(G, relu=True), atol=1e-12
    )


def test_rates_match_finite_differences_along_the_flow():
    W0 = inc.sample_weights(6, 30, seed=4)
    t0, h = 0.7, 1e-4
    Gs = inc.simulate_gram(W0 @ W0.T, [t0 - h, t0, t0 + h], terms=INTERFERENCE, rtol=1e-12)
    fd = (Gs[2] - Gs[0]) / (2 * h)
    G = Gs[1]
    off = ~np.eye(6, dtype=bool)
    np.testing.assert_allclose(inc.numerator_rate(G)[off], fd[off], atol=1e-7)
    np.testing.assert_allclose(inc.norm_sq_rate(G), np.diag(fd), atol=1e-7)
    kfd = (inc.cosine_similarity(Gs[2]) - inc.cosine_similarity(Gs[0])) / (2 * h)
    np.testing.assert_allclose(inc.kappa_rate(G)[off], kfd[off], atol=1e-7)


def test_norm_rate_is_twice_force_dot_weight():
    W = inc.sample_weights(5, 20, seed=8)
    F = inc.forces(W, terms=INTERFERENCE)
    np.testing.assert_allclose(inc.norm_sq_rate(W @ W.T), 2 * np.sum(F * W, axis=1), atol=1e-14)
    np.testing.assert_allclose(inc.interference_norm_share(W @ W.T), 2 * np.sum(F * W, axis=1), atol=1e-14)


def test_expected_relative_norm_rate_matches_sampling():
    n, m = 16, 256
    rel = np.concatenate(
        [(lambda G: inc.interference_norm_share(G) / np.diag(G))(inc.sample_gram(n, m, seed=s)) for s in range(400)]
    )
    assert rel.mean() == pytest.approx(inc.expected_relative_norm_sq_rate(n, m), rel=0.05)


def test_kappa_rate_from_weights_agrees_with_gram_form():
    W = inc.sample_weights(6, 18, seed=3)
    np.testing.assert_allclose(inc.kappa_rate_from_weights(W, terms=INTERFERENCE), inc.kappa_rate(W @ W.T), atol=1e-14)


def test_gram_schmidt_quantities():
    W = inc.sample_weights(3, 10, seed=6)
    G = W @ W.T
    c = inc.gram_schmidt_coefficient(G)
    after = W[0] - c[0, 1] * W[1]
    assert abs(after @ W[1]) < 1e-14
    assert W[0] @ W[0] - after @ after == pytest.approx(inc.gram_schmidt_norm_loss(G)[0, 1], rel=1e-12)


def test_theory_constants_are_consistent():
    from incidental import theory

    # the ReLU-free terms are sqrt(8/3) larger; the drift is the late relative slowdown
    assert theory.second_order_ratio(66, 1024, relu=False) / theory.second_order_ratio(66, 1024) == pytest.approx(
        np.sqrt(8 / 3)
    )
    assert theory.second_order_mean_slope(10, 100, relu=False) == 2 * theory.second_order_mean_slope(10, 100)
    assert theory.drift_strength(2, 100) == 0.0
    with pytest.raises(ValueError, match="m must be >= n"):
        theory.drift_strength(10, 5)


def test_mean_rate_parts_are_kappa_squared_weighted_means_and_cancel_in_the_mean():
    two = derivation.mean_rate_parts(6, 30, draws=2, seed=3)
    p = [derivation.relative_rate_parts(inc.sample_gram(6, 30, seed=s)) for s in (3, 4)]
    w = np.concatenate([q.kappa**2 for q in p])
    weighted = lambda part: np.sum(w * np.concatenate([getattr(q, part) for q in p])) / np.sum(w)
    assert two.pairs == w.size and (two.n, two.m, two.draws) == (6, 30, 2)
    assert two.numerator.mean == pytest.approx(weighted("numerator") * 30 / 6)
    assert two.first_order.mean == pytest.approx(-weighted("first_order"))
    assert two.own_plain.mean == pytest.approx(np.mean(np.concatenate([q.own for q in p])) * 30)
    s = derivation.mean_rate_parts(16, 256, draws=40, seed=0)
    assert s.predicted == pytest.approx((-14 / 16, 14 / 16))
    for est, predicted in ((s.numerator, -14 / 16), (s.others, 14 / 16), (s.correction, s.own.mean), (s.own_plain, 2)):
        assert abs(est.mean - predicted) < 4 * est.se
    with pytest.raises(ValueError, match="draws"):
        derivation.mean_rate_parts(6, 30, draws=0, seed=0)


def test_fluctuation_scale_is_the_predicted_spread_and_the_median_error_half_of_it():
    spread, median = derivation.fluctuation_scale(32, 4096, draws=4, seed=0)
    assert spread == pytest.approx(theory.pair_spread(32, 4096), rel=0.05)
    assert median == pytest.approx(theory.pair_spread(32, 4096) / 2, rel=0.1)
    with pytest.raises(ValueError, match="draws"):
        derivation.fluctuation_scale(32, 4096, draws=0, seed=0)
