"""The flows: weight space against Gram space, and against exact solutions."""

import incidental as inc
import numpy as np
import pytest
from incidental import exact

SMOOTH = ("feature_benefit", "interference")
INTERFERENCE = ("interference",)


@pytest.mark.parametrize("terms", [SMOOTH, INTERFERENCE])
@pytest.mark.parametrize("n,m,seed", [(3, 5, 0), (6, 40, 1), (12, 50, 2)])
def test_weight_and_gram_flows_agree(terms, n, m, seed):
    W0 = inc.sample_weights(n, m, seed=seed)
    times = np.linspace(0, 6, 13)
    Ws = inc.simulate(W0, times, terms=terms)
    Gs = inc.simulate_gram(W0 @ W0.T, times, terms=terms)
    assert np.max(np.abs(np.einsum("tim,tjm->tij", Ws, Ws) - Gs)) < 1e-8


def test_interfering_pair_weights_flip_the_second_encoding_only_if_needed():
    for seed in range(8):
        W, drawn = exact.interfering_pair_weights(16, seed=seed), inc.sample_weights(2, 16, seed=seed)
        assert W.shape == (2, 16) and W[0] @ W[1] > 0
        np.testing.assert_array_equal(W[0], drawn[0])
        np.testing.assert_array_equal(W[1], drawn[1] * np.sign(drawn[0] @ drawn[1]))


def test_rate_deficits_are_the_closed_form_on_interfering_draws_and_about_one_over_2m():
    grams = [inc.sample_gram(2, 16, seed=k) for k in range(20)]
    by_hand = [1 - exact.pair_decay_rate(G) / (G[0, 0] + G[1, 1]) for G in grams if G[0, 1] > 0]
    assert exact.rate_deficits((16,), 20) == pytest.approx([np.mean(by_hand)])
    deficits = exact.rate_deficits((16, 256, 4096), 200)
    assert deficits.shape == (3,)
    np.testing.assert_allclose(deficits * [16, 256, 4096], 0.5, rtol=0.1)
    with pytest.raises(ValueError, match="draws"):
        exact.rate_deficits((16,), 0)


@pytest.mark.parametrize("seed", range(5))
def test_pair_interference_matches_exact_solution(seed):
    W0 = exact.interfering_pair_weights(8, seed=seed) * (1 + 0.3 * seed)
    times = np.linspace(0, 10, 21)
    np.testing.assert_allclose(inc.simulate(W0, times, terms=INTERFERENCE), inc.pair_interference(W0, times), atol=1e-9)


def test_pair_push_total_matches_integrated_push():
    W0 = exact.interfering_pair_weights(6, seed=3)
    _, P = inc.simulate_gram_with_push(W0 @ W0.T, [0.0, 200.0], terms=INTERFERENCE)
    assert P[-1, 0, 1] == pytest.approx(inc.pair_push_total(W0 @ W0.T), rel=1e-8)
    tau = inc.pair_interference_tau(W0 @ W0.T, [0.0, 1.0, 2.0])
    _, P = inc.simulate_gram_with_push(W0 @ W0.T, [0.0, 1.0, 2.0], terms=INTERFERENCE)
    np.testing.assert_allclose(P[:, 0, 1], tau, rtol=1e-8, atol=1e-14)


def test_symmetric_pair_matches_exact_solution():
    W0 = exact.interfering_pair_weights(10, seed=4)
    W0[1] *= np.linalg.norm(W0[0]) / np.linalg.norm(W0[1])  # equal norms
    times = np.linspace(0, 5, 11)
    np.testing.assert_allclose(inc.simulate(W0, times, terms=SMOOTH), inc.symmetric_pair(W0, times), atol=1e-9)


def test_feature_benefit_only_matches_exact_solution():
    W0 = inc.sample_weights(4, 7, seed=9) * np.array([[0.2], [0.7], [1.3], [2.5]])
    times = np.linspace(0, 4, 9)
    np.testing.assert_allclose(
        inc.simulate(W0, times, terms=("feature_benefit",)), inc.feature_benefit_only(W0, times), atol=1e-9
    )


def test_regularization_only_is_exact_and_reaches_zeros():
    W0 = inc.sample_weights(3, 20, seed=5)
    times = np.array([0.0, 0.05, 0.2, 5.0])
    Ws = inc.simulate(W0, times, lam=0.3, terms=("regularization",))
    np.testing.assert_allclose(Ws, inc.regularization_only(W0, times, lam=0.3), atol=1e-14)
    assert np.all(Ws[-1] == 0.0)


def l1_errors(W0: np.ndarray, lam: float) -> tuple[np.ndarray, list[float]]:
    times = [0.0, 0.5]
    ref = inc.simulate(W0, times, lam=lam, max_step=1e-4)[-1]
    return ref, [np.max(np.abs(inc.simulate(W0, times, lam=lam, max_step=h)[-1] - ref)) for h in (0.02, 0.01)]


def test_l1_flow_is_second_order_while_no_entry_reaches_zero():
    W0 = inc.sample_weights(3, 8, seed=2)
    ref, errors = l1_errors(np.sign(W0) * (np.abs(W0) + 1.0), 0.4)
    assert np.all(ref != 0.0)
    assert errors[0] / errors[1] > 3.5  # halving the step divides the error by about 4


def test_l1_flow_reaches_exact_zeros_and_still_converges():
    ref, errors = l1_errors(inc.sample_weights(3, 8, seed=2), 0.4)
    assert np.sum(ref == 0.0) > 0  # exact zeros, not jitter around 0
    assert 1.7 < errors[0] / errors[1] < 6  # at least first order once entries hit zero


def test_simulate_reports_initial_state_at_time_zero_and_is_deterministic():
    W0 = inc.sample_weights(4, 9, seed=1)
    a = inc.simulate(W0, [0.0, 1.0])
    assert np.array_equal(a[0], W0)
    assert np.array_equal(a, inc.simulate(W0, [0.0, 1.0]))
    assert a.shape == (2, 4, 9)


def test_simulate_gram_large_m_stays_symmetric():
    G0 = inc.sample_gram(32, 10**9, seed=0)
    Gs = inc.simulate_gram(G0, [0.0, 1.0, 3.0], terms=INTERFERENCE)
    assert Gs.shape == (3, 32, 32)
    assert np.allclose(Gs[-1], Gs[-1].T, atol=1e-14)


def test_gram_phase_loss_and_transport_agree_with_weight_space():
    """L is the drop of the squared norms from interference; M transports W(0) to W(t)."""
    W0 = inc.sample_weights(5, 30, seed=11)
    times = [0.0, 0.5, 2.0]
    phase = inc.simulate_gram_phase(W0 @ W0.T, times, terms=INTERFERENCE, loss=True, transport=True)
    Ws = inc.simulate(W0, times, terms=INTERFERENCE)
    np.testing.assert_allclose(phase.M @ W0, Ws, atol=1e-8)
    drop = np.diag(phase.G[0])[None] - np.diagonal(phase.G, axis1=1, axis2=2)
    np.testing.assert_allclose(phase.L.sum(axis=2), drop, atol=1e-9)
    assert inc.simulate_gram_phase(W0 @ W0.T, times).L is None
