"""The constrained model (norms held fixed, claim X1): the force, its Gram form, the flows, the rate of a
cosine, the exact two-encoding solution, input validation, and the chapter's experiment runners."""

import math

import incidental as inc
import numpy as np
import pytest
from incidental import fixed_norm as fn
from incidental.exact import lowdin

SMOOTH = ("feature_benefit", "interference")
INTERFERENCE = ("interference",)
KAPPA0S = (0.05, 0.3, 0.7, 0.9, 0.99, 0.999)


def unit_weights(n: int, m: int, seed: int) -> np.ndarray:
    return fn.normalize_rows(inc.sample_weights(n, m, seed=seed))


# --- the force ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n,m,seed", [(2, 3, 0), (5, 12, 1), (9, 40, 2)])
def test_force_is_the_tangent_projection_of_interference_and_feature_benefit_drops_out(n, m, seed):
    W = inc.sample_weights(n, m, seed=seed)  # any norms: the projection holds each one
    F = fn.fixed_norm_force(W)
    np.testing.assert_allclose(np.sum(F * W, axis=1), 0.0, atol=1e-15)
    for terms in (SMOOTH, INTERFERENCE):
        np.testing.assert_allclose(fn.tangent_projection(W, inc.forces(W, terms=terms)), F, atol=1e-15)
    np.testing.assert_allclose(fn.tangent_projection(W, inc.forces(W, terms=("feature_benefit",))), 0.0, atol=1e-15)


@pytest.mark.parametrize("n,m,seed", [(3, 4, 0), (6, 15, 3)])
def test_force_is_minus_the_gradient_of_the_projected_loss(n, m, seed):
    W = unit_weights(n, m, seed)
    if seed == 0:  # make sure some pair interferes
        W[1] = fn.normalize_rows(np.stack([W[0] + 0.5 * W[1], W[2]]))[0]
    h = 1e-6
    grad = np.zeros_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        grad[idx] = (fn.projected_loss(W + E) - fn.projected_loss(W - E)) / (2 * h)
    F = fn.fixed_norm_force(W)
    assert np.max(np.abs(F)) > 1e-2
    np.testing.assert_allclose(-grad, F, atol=1e-8)
    # the loss seen at unit norms is interference's alone, and equal to the model's loss there
    assert fn.projected_loss(W) == pytest.approx(inc.loss(W), rel=1e-12)


def test_constraint_holds_along_the_flow_by_finite_differences():
    W0 = inc.sample_weights(6, 10, seed=4) * np.linspace(0.5, 1.5, 6)[:, None]
    h = 1e-3
    Ws = fn.simulate_fixed_norm(W0, [0.7 - h, 0.7, 0.7 + h], rtol=1e-12)
    rate = (np.sum(Ws[2] ** 2, axis=1) - np.sum(Ws[0] ** 2, axis=1)) / (2 * h)
    assert np.max(np.abs(rate)) < 1e-8
    # and the velocity is the force
    np.testing.assert_allclose((Ws[2] - Ws[0]) / (2 * h), fn.fixed_norm_force(Ws[1]), atol=1e-6)


@pytest.mark.parametrize("n,m,seed", [(4, 6, 0), (10, 30, 1)])
def test_gram_rate_is_the_rate_of_W_W_transpose(n, m, seed):
    W = inc.sample_weights(n, m, seed=seed)
    F = fn.fixed_norm_force(W)
    dG = fn.fixed_norm_gram_rate(W @ W.T)
    np.testing.assert_allclose(dG, F @ W.T + W @ F.T, atol=1e-14)
    assert np.all(np.diag(dG) == 0.0)
    A = fn.fixed_norm_interaction(W @ W.T)
    np.testing.assert_allclose(A @ W, F, atol=1e-15)


# --- the flows ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n,m,seed,unit", [(3, 5, 0, True), (8, 30, 1, True), (12, 50, 2, False)])
def test_weight_and_gram_flows_agree(n, m, seed, unit):
    W0 = inc.sample_weights(n, m, seed=seed)
    if unit:
        W0 = fn.normalize_rows(W0)
    times = np.linspace(0, 6, 13)
    Ws = fn.simulate_fixed_norm(W0, times)
    Gs = fn.simulate_fixed_norm_gram(W0 @ W0.T, times)
    assert np.max(np.abs(np.einsum("tim,tjm->tij", Ws, Ws) - Gs)) < 1e-8
    np.testing.assert_array_equal(np.einsum("tii->ti", Gs), np.tile(np.diag(W0 @ W0.T), (len(times), 1)))
    np.testing.assert_allclose(
        np.linalg.norm(Ws, axis=2), np.tile(np.linalg.norm(W0, axis=1), (len(times), 1)), atol=1e-9
    )


def test_push_integrates_relu_of_the_overlaps():
    G0 = inc.cosine_similarity(inc.sample_gram(6, 20, seed=5))
    times = np.linspace(0, 3, 61)
    Gs, Ps = fn.simulate_fixed_norm_gram_with_push(G0, times, rtol=1e-11)
    np.testing.assert_allclose(Gs, fn.simulate_fixed_norm_gram(G0, times, rtol=1e-11), atol=1e-9)
    from scipy.integrate import simpson

    P = simpson(np.maximum(Gs, 0.0), x=times, axis=0)
    np.fill_diagonal(P, 0.0)
    np.testing.assert_allclose(Ps[-1], P, atol=1e-7)


def test_same_input_gives_bit_identical_flows():
    W0 = inc.sample_weights(5, 9, seed=1)
    times = [0.0, 0.5, 2.0]
    np.testing.assert_array_equal(fn.simulate_fixed_norm(W0, times), fn.simulate_fixed_norm(W0, times))
    G0 = inc.cosine_similarity(inc.sample_gram(5, 9, seed=1))
    np.testing.assert_array_equal(fn.simulate_fixed_norm_gram(G0, times), fn.simulate_fixed_norm_gram(G0, times))


# --- the rate of a cosine ----------------------------------------------------------------------------


@pytest.mark.parametrize("unit", [True, False])
def test_kappa_rate_parts_sum_to_the_exact_rate_which_equals_the_free_rate(unit):
    W = inc.sample_weights(12, 40, seed=7)
    if unit:
        W = fn.normalize_rows(W)
    G = W @ W.T
    parts = fn.fixed_norm_kappa_rate_parts(G)
    rate = fn.fixed_norm_kappa_rate(G)
    np.testing.assert_allclose(parts.total, rate, atol=1e-15)
    np.testing.assert_allclose(rate, inc.kappa_rate(G, INTERFERENCE), atol=1e-15)
    np.testing.assert_allclose(rate, inc.kappa_rate(G, SMOOTH), atol=1e-15)
    # the third-encoding push is the numerator's second-order term of chapter 2, over |W_i||W_j|
    norms = np.sqrt(np.diag(G))
    np.testing.assert_allclose(parts.third_push, inc.numerator_second_order(G) / np.outer(norms, norms), atol=1e-15)
    K = inc.cosine_similarity(G)
    first = parts.first_order + parts.own_projection
    s = np.diag(G)[:, None] + np.diag(G)[None, :]
    expected = np.where(K > 0, -s * K * (1 - K**2), 0.0)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(first, expected, atol=1e-15)


def test_kappa_rate_matches_finite_differences_of_the_flow():
    G0 = inc.cosine_similarity(inc.sample_gram(8, 24, seed=2))
    h = 1e-4
    Gs = fn.simulate_fixed_norm_gram(G0, [0.4 - h, 0.4, 0.4 + h], rtol=1e-13)
    fd = (Gs[2] - Gs[0]) / (2 * h)
    exact = fn.fixed_norm_kappa_rate(Gs[1])
    off = ~np.eye(8, dtype=bool)
    assert np.max(np.abs(exact - fd)[off]) < 1e-7 * np.max(np.abs(exact))


# --- two encodings, exactly --------------------------------------------------------------------------


@pytest.mark.parametrize("kappa0", KAPPA0S)
def test_exact_pair_solution_matches_the_simulated_constrained_flow(kappa0):
    times = np.linspace(0, 8, 81)
    W0 = fn.unit_pair(7, kappa0, seed=3)
    exact = fn.fixed_norm_pair(W0, times)
    kappa = fn.fixed_norm_pair_kappa(W0 @ W0.T, times)
    Ws = fn.simulate_fixed_norm(W0, times, rtol=1e-12)  # near kappa = 1 the escape amplifies errors like e^{4t}
    Gs = fn.simulate_fixed_norm_gram(fn.unit_pair_gram(kappa0), times, rtol=1e-12)
    assert np.max(np.abs(np.einsum("tm,tm->t", Ws[:, 0], Ws[:, 1]) - kappa)) < 1e-9
    assert np.max(np.abs(Gs[:, 0, 1] - kappa)) < 1e-9
    assert np.max(np.abs(Ws - exact)) < 1e-9
    np.testing.assert_allclose(np.linalg.norm(exact, axis=2), 1.0, atol=1e-14)
    np.testing.assert_allclose(np.einsum("tm,tm->t", exact[:, 0], exact[:, 1]), kappa, atol=1e-14)


def test_pair_kappa_solves_its_ode_at_any_norms():
    G0 = np.array([[0.7, 0.5], [0.5, 1.6]])
    t = np.linspace(0, 3, 301)
    k = fn.fixed_norm_pair_kappa(G0, t)
    s = 0.7 + 1.6
    dk = np.gradient(k, t, edge_order=2)
    np.testing.assert_allclose(dk[5:-5], -s * k[5:-5] * (1 - k[5:-5] ** 2), atol=1e-4)
    Gs = fn.simulate_fixed_norm_gram(G0, t, rtol=1e-12)
    np.testing.assert_allclose(Gs[:, 0, 1] / math.sqrt(0.7 * 1.6), k, atol=1e-10)
    np.testing.assert_allclose(fn.fixed_norm_pair_kappa(np.array([[1.0, -0.2], [-0.2, 1.0]]), t), -0.2)


@pytest.mark.parametrize("kappa0", (0.1, 0.6, 0.99))
def test_pair_push_total_and_end_point(kappa0):
    G0 = fn.unit_pair_gram(kappa0)
    total = fn.fixed_norm_pair_push_total(G0)
    assert total == pytest.approx(0.5 * math.atanh(kappa0), rel=1e-14)
    assert total == pytest.approx(inc.pair_push_total(G0), rel=1e-14)  # same as the free pair, at unit norms
    assert fn.fixed_norm_pair_push(G0, [0.0, 40.0])[-1] == pytest.approx(total, rel=1e-12)
    _, P = fn.simulate_fixed_norm_gram_with_push(G0, [0.0, 20.0])
    assert P[-1, 0, 1] == pytest.approx(total, rel=1e-8)
    W0 = fn.unit_pair(6, kappa0, seed=1)
    np.testing.assert_allclose(fn.fixed_norm_pair(W0, [0.0, 40.0])[-1], fn.fixed_norm_pair_limit(W0), atol=1e-12)
    np.testing.assert_allclose(fn.fixed_norm_pair_limit(W0), lowdin(W0), atol=1e-13)
    # at other (equal) norms r: r times the Loewdin orthogonalisation
    np.testing.assert_allclose(fn.fixed_norm_pair_limit(2.0 * W0), 2.0 * lowdin(W0), atol=1e-12)
    assert fn.fixed_norm_pair_push_total(np.array([[1.0, -0.1], [-0.1, 1.0]])) == 0.0


# --- validation --------------------------------------------------------------------------------------


def test_validation_names_the_argument():
    W = inc.sample_weights(3, 5, seed=0)
    bad_W = W.copy()
    bad_W[0, 0] = np.nan
    cases = [
        (lambda: fn.fixed_norm_force(W[:1]), "W"),
        (lambda: fn.fixed_norm_force(bad_W), "W"),
        (lambda: fn.fixed_norm_force(W.T), "W"),
        (lambda: fn.fixed_norm_force(np.vstack([W, np.zeros((1, 5))])), "W"),
        (lambda: fn.tangent_projection(W, W[:, :4]), "F"),
        (lambda: fn.fixed_norm_gram_rate(np.ones((2, 3))), "G"),
        (lambda: fn.fixed_norm_interaction(np.array([[1.0, 0.2], [0.3, 1.0]])), "G"),
        (lambda: fn.simulate_fixed_norm(W, [0.0, 1.0, 1.0]), "times"),
        (lambda: fn.simulate_fixed_norm(W, [-1.0, 1.0]), "times"),
        (lambda: fn.simulate_fixed_norm(W, [0.0, 1.0], rtol=0.0), "rtol"),
        (lambda: fn.simulate_fixed_norm_gram(np.eye(1), [0.0, 1.0]), "G0"),
        (lambda: fn.simulate_fixed_norm_gram(np.eye(3), [0.0, np.inf]), "times"),
        (lambda: fn.simulate_fixed_norm_gram_with_push(-np.eye(3), [0.0, 1.0]), "G0"),
        (lambda: fn.fixed_norm_pair_kappa(np.eye(3), [0.0, 1.0]), "G0"),
        (lambda: fn.fixed_norm_pair_push_total(np.array([[1.0, 1.5], [1.5, 1.0]])), "G0"),
        (lambda: fn.fixed_norm_pair(W, [0.0, 1.0]), "W0"),
        (lambda: fn.fixed_norm_pair(W[:2] * np.array([[1.0], [2.0]]), [0.0, 1.0]), "W0"),
        (lambda: fn.fixed_norm_pair_limit(np.array([[1.0, 0.0], [1.0, 0.0]])), "W0"),
        (lambda: fn.unit_pair_gram(1.0), "kappa0"),
        (lambda: fn.unit_pair_gram(np.nan), "kappa0"),
        (lambda: fn.pair_kappa("full", 0.5, [0.0, 0.0]), "times"),
        (lambda: fn.pair_kappa("interference", -1.5, [0.0, 1.0]), "kappa0"),
        (lambda: fn.pair_kappa("other", 0.5, [0.0, 1.0]), "model"),
        (lambda: fn.pair_half_time("other", 0.5), "model"),
        (lambda: fn.pair_half_time("full", -0.5), "kappa0"),
        (lambda: fn.predicted_model_errors(1, 8, [0.0, 1.0]), "n"),
        (lambda: fn.predicted_model_errors(8, 4, [0.0, 1.0]), "m"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()


# --- the free-norm pair formulas and the first-order prediction ---------------------------------------


def test_free_pair_closed_forms_match_the_library_solutions():
    times = np.linspace(0, 6, 31)
    for kappa0 in (0.2, 0.9, 0.999):
        W0 = fn.unit_pair(5, kappa0, seed=2)
        Ws = inc.symmetric_pair(W0, times)
        k = np.einsum("tm,tm->t", Ws[:, 0], Ws[:, 1]) / np.prod(np.linalg.norm(Ws, axis=2), axis=1)
        np.testing.assert_allclose(fn.pair_kappa("full", kappa0, times), k, atol=1e-12)
        Ws = inc.pair_interference(W0, times)
        k = np.einsum("tm,tm->t", Ws[:, 0], Ws[:, 1]) / np.prod(np.linalg.norm(Ws, axis=2), axis=1)
        np.testing.assert_allclose(fn.pair_kappa("interference", kappa0, times), k, atol=1e-12)
    np.testing.assert_array_equal(fn.pair_kappa("full", -0.3, times), -0.3)


@pytest.mark.parametrize("kappa0", (0.01, 0.5, 0.9, 0.999))
def test_half_times_halve_the_cosine(kappa0):
    halves = {}
    for model in fn.PAIR_MODELS:
        halves[model] = fn.pair_half_time(model, kappa0)
        assert fn.pair_kappa(model, kappa0, [0.0, halves[model]])[1] == pytest.approx(kappa0 / 2, rel=1e-9)
    assert halves["fixed_norm"] <= halves["full"] <= halves["interference"]
    if kappa0 < 0.02:  # small cosines: all three decay like e^{-2t}
        for h in halves.values():
            assert h == pytest.approx(math.log(2) / 2, rel=1e-3)


def test_first_order_crossover():
    t = fn.CROSSOVER_FIRST_ORDER
    assert t == pytest.approx(1 - math.exp(-2 * t), abs=1e-15)
    pred = fn.predicted_model_errors(2, 10**12, np.array([0.0, t - 0.01, t + 0.01, 50.0]))  # n << sqrt(m)
    assert pred["fixed_norm"][0] == 0.0 and pred["interference"][0] == 0.0
    assert pred["fixed_norm"][1] > pred["interference"][1] and pred["fixed_norm"][2] < pred["interference"][2]
    assert pred["fixed_norm"][3] * 1e6 == pytest.approx(1.0, rel=1e-6)  # levels off at 1/sqrt(m)
