"""The model: sampling, loss and forces."""

import incidental as inc
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st


def fd_gradient(W: np.ndarray, lam: float, h: float = 1e-6) -> np.ndarray:
    grad = np.empty_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        grad[idx] = (inc.loss(W + E, lam=lam) - inc.loss(W - E, lam=lam)) / (2 * h)
    return grad


@given(
    n=st.integers(2, 5),
    extra=st.integers(0, 6),
    seed=st.integers(0, 10_000),
    lam=st.sampled_from([0.0, 0.01, 0.3]),
    scale=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_forces_are_minus_the_gradient_of_the_loss(n, extra, seed, lam, scale):
    W = scale * inc.sample_weights(n, n + extra, seed=seed)
    assert np.max(np.abs(inc.forces(W, lam=lam) + fd_gradient(W, lam))) < 1e-6 * max(1.0, scale**3)


def test_forces_sum_of_components():
    W = inc.sample_weights(5, 12, seed=3)
    parts = inc.force_components(W, lam=0.2)
    np.testing.assert_allclose(sum(parts.values()), inc.forces(W, lam=0.2), atol=1e-15)


def test_feature_benefit_is_radial_and_interference_uses_relu():
    W = inc.sample_weights(4, 9, seed=1)
    fb = inc.forces(W, terms=("feature_benefit",))
    for i in range(4):  # parallel to W_i
        assert abs(abs(fb[i] @ W[i]) - np.linalg.norm(fb[i]) * np.linalg.norm(W[i])) < 1e-12
    G = W @ W.T
    expected = -np.array([sum(max(G[i, j], 0) * W[j] for j in range(4) if j != i) for i in range(4)])
    np.testing.assert_allclose(inc.forces(W, terms=("interference",)), expected, atol=1e-14)


def test_loss_second_form_matches_definition():
    W = inc.sample_weights(5, 11, seed=2)
    G = W @ W.T
    R = inc.interference_weights(G)
    second = 0.25 * (np.sum((1 - np.diag(G)) ** 2) + np.sum(R**2)) + 0.1 * np.abs(W).sum()
    assert inc.loss(W, lam=0.1) == pytest.approx(second, rel=1e-13)


def test_sample_weights_is_reproducible_and_seed_dependent():
    a, b, c = (inc.sample_weights(8, 32, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (8, 32) and a.dtype == np.float64


def test_sample_gram_is_reproducible():
    assert np.array_equal(inc.sample_gram(16, 10**6, seed=4), inc.sample_gram(16, 10**6, seed=4))
    assert not np.array_equal(inc.sample_gram(16, 10**6, seed=4), inc.sample_gram(16, 10**6, seed=5))


@pytest.mark.parametrize("m", [8, 64])
def test_sample_gram_matches_moments_of_w_wt(m):
    """Mean and variance of diagonal and off-diagonal entries, against W W^T and theory."""
    n, draws = 4, 4000
    grams = np.array([inc.sample_gram(n, m, seed=s) for s in range(draws)])
    direct = np.array([(lambda W: W @ W.T)(inc.sample_weights(n, m, seed=10_000 + s)) for s in range(draws)])
    iu = np.triu_indices(n, 1)
    for sample in (grams, direct):
        diag = sample[:, np.arange(n), np.arange(n)].ravel()
        off = sample[:, iu[0], iu[1]].ravel()
        # theory: E G_ii = 1, Var G_ii = 2/m, E G_ij = 0, Var G_ij = 1/m
        assert abs(diag.mean() - 1) < 5 * np.sqrt(2 / m / diag.size)
        assert abs(off.mean()) < 5 * np.sqrt(1 / m / off.size)
        assert diag.var() == pytest.approx(2 / m, rel=0.08)
        assert off.var() == pytest.approx(1 / m, rel=0.08)


def test_sample_gram_reaches_a_billion_neurons():
    G = inc.sample_gram(64, 10**9, seed=0)
    assert np.allclose(G, G.T)
    assert np.all(np.linalg.eigvalsh(G) > 0)
    off = inc.offdiagonal(G) * np.sqrt(1e9)
    assert 0.8 < off.std() < 1.2
    assert np.max(np.abs(np.diag(G) - 1)) < 1e-3


@given(seed=st.integers(0, 10_000), c=st.floats(0.01, 100))
def test_cosine_is_scale_invariant(seed, c):
    W = inc.sample_weights(4, 10, seed=seed)
    Ws = W.copy()
    Ws[1] *= c
    np.testing.assert_allclose(inc.cosine_similarity(Ws @ Ws.T), inc.cosine_similarity(W @ W.T), atol=1e-13)


@given(seed=st.integers(0, 10_000))
def test_feature_benefit_never_moves_a_cosine(seed):
    W = 1.7 * inc.sample_weights(5, 12, seed=seed)
    assert np.max(np.abs(inc.kappa_rate(W @ W.T, ("feature_benefit",)))) < 1e-13
    assert np.max(np.abs(inc.kappa_rate_from_weights(W, terms=("feature_benefit",)))) < 1e-13
