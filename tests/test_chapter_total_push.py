"""Chapter 5 (the total push): closed forms for two encodings, the Gram flow with push, loss and
transport, the third-encoding constants, the law after the phase, and the widgets (claims T1-T4)."""
import math
import time

import numpy as np
import pytest
from hypothesis import given, strategies as st

import incidental as inc
from incidental.chapters import total_push as tp


# --- closed forms ---------------------------------------------------------------------------------

def test_pair_loss_by_hand():
    # s0 = 2, g0 = 0.6: s_inf = sqrt(4 - 1.44) = 1.6, each loses (2 - 1.6)/2 = 0.2
    G0 = np.array([[1.0, 0.6], [0.6, 1.0]])
    assert tp.pair_norm_sq_loss(G0) == pytest.approx(0.2)
    assert tp.pair_norm_sq_loss(np.array([[1.0, -0.3], [-0.3, 2.0]])) == 0.0
    # half of the Gram-Schmidt loss g^2/G_jj when g is small
    g = 1e-3
    assert tp.pair_norm_sq_loss(np.array([[1.0, g], [g, 1.0]])) / g**2 == pytest.approx(0.5, rel=1e-5)


@given(seed=st.integers(0, 10_000), n=st.integers(2, 9))
def test_pairwise_predictions_agree_with_the_two_encoding_formulas(seed, n):
    G = inc.sample_gram(n, 3 * n, seed=seed)
    push, loss = tp.pair_push_prediction(G), tp.pair_loss_prediction(G)
    for i, j in [(0, 1), (n - 1, 0)]:
        sub = G[np.ix_([i, j], [i, j])]
        assert push[i, j] == pytest.approx(inc.pair_push_total(sub), abs=1e-15)
        assert loss[i, j] == pytest.approx(tp.pair_norm_sq_loss(sub), abs=1e-15)
    assert np.all(np.diag(push) == 0) and np.all(push >= 0) and np.allclose(push, push.T)


@given(seed=st.integers(0, 10_000))
def test_pair_end_point_is_the_exact_limit(seed):
    W0 = inc.sample_weights(2, 6, seed=seed)
    if W0[0] @ W0[1] < 0:
        W0[1] *= -1
    end = inc.pair_interference(W0, [0.0, 80.0])[-1]
    np.testing.assert_allclose(tp.pair_limit_weights(W0), end, atol=1e-12)
    assert abs(end[0] @ end[1]) < 1e-12


def test_lowdin_is_orthonormal_and_matches_the_pair_end_at_unit_norms():
    W = inc.sample_weights(5, 20, seed=1)
    L = tp.lowdin(W)
    np.testing.assert_allclose(L @ L.T, np.eye(5), atol=1e-12)
    g = 0.3
    W0 = tp.equal_norm_pair(12, g, seed=4)
    np.testing.assert_allclose(W0 @ W0.T, [[1, g], [g, 1]], atol=1e-14)
    np.testing.assert_allclose(tp.pair_limit_weights(W0), (1 - g * g) ** 0.25 * tp.lowdin(W0), atol=1e-14)


def test_expected_constants():
    # no third encodings: the shift vanishes and the constants are the pair ones
    assert tp.push_shift(2, 100) == 0.0
    assert tp.expected_push(2, 100) == pytest.approx(1 / math.sqrt(200 * math.pi))
    assert tp.expected_pair_loss(2, 100) == pytest.approx(1 / 200)
    assert tp.expected_norm_drop(2, 100) == pytest.approx(1 / 400)
    assert tp.expected_displacement(2, 100) == pytest.approx(math.sqrt(1 / 800))
    assert tp.push_slope_prediction(2, 100) == 0.5
    assert tp.push_shift(34, 1000) == pytest.approx(32 / (8000 * math.pi))
    assert tp.atom_prediction(2, 100) == 0.5
    assert tp.mean_prediction(2, 100) == pytest.approx(-1 / math.sqrt(2 * math.pi))
    with pytest.raises(ValueError, match="m must be >= n"):
        tp.expected_push(10, 5)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="G0 must be 2x2"):
        tp.pair_norm_sq_loss(np.eye(3))
    with pytest.raises(ValueError, match="G0 must be symmetric"):
        tp.run_phase(np.array([[1.0, 0.1], [0.2, 1.0]]), [0.0, 1.0])
    with pytest.raises(ValueError, match="terms"):
        tp.run_phase(np.eye(3), [0.0, 1.0], terms=("regularization",))
    with pytest.raises(ValueError, match="times"):
        tp.run_phase(np.eye(3), [1.0, 0.5])
    with pytest.raises(ValueError, match="W0 must have exactly 2 rows"):
        tp.pair_limit_weights(np.ones((3, 4)))


# --- the flow with push, loss and transport ------------------------------------------------------------

@pytest.mark.parametrize("terms", [tp.INTERFERENCE, tp.FULL])
def test_run_phase_push_matches_the_library(terms):
    G0 = inc.sample_gram(6, 24, seed=3)
    times = [0.0, 0.5, 2.0, 6.0]
    G, P, L = tp.run_phase(G0, times, terms=terms, rtol=1e-11)
    G_lib, P_lib = inc.simulate_gram_with_push(G0, times, terms=terms, rtol=1e-11)
    np.testing.assert_allclose(G, G_lib, atol=1e-9)
    np.testing.assert_allclose(P, P_lib, atol=1e-9)
    assert np.allclose(P, P.transpose(0, 2, 1)) and np.allclose(L, L.transpose(0, 2, 1))
    if terms == tp.INTERFERENCE:  # the per-pair losses add up to the whole drop
        np.testing.assert_allclose(L[-1].sum(axis=1), np.diag(G0) - np.diag(G[-1]), atol=1e-10)


def test_transport_reproduces_the_weight_space_flow():
    W0 = inc.sample_weights(5, 12, seed=2)
    times = [0.0, 1.0, 4.0]
    for terms in (tp.INTERFERENCE, tp.FULL):
        *_, M = tp.run_phase(W0 @ W0.T, times, terms=terms, transport=True, rtol=1e-11)
        W = inc.simulate(W0, times, terms=terms, rtol=1e-11)
        np.testing.assert_allclose(np.einsum("tij,jk->tik", M, W0), W, atol=1e-8)
    G0 = W0 @ W0.T
    assert np.all(tp.displacement_from_transport(G0, np.eye(5)) == 0)
    moved = tp.displacement_from_transport(G0, M[-1])
    np.testing.assert_allclose(moved, np.linalg.norm(W[-1] - W0, axis=1) / np.linalg.norm(W0, axis=1), rtol=1e-7)


def test_loss_can_be_switched_off():
    G0 = inc.sample_gram(4, 16, seed=0)
    G, P, L, M = tp.run_phase(G0, [0.0, 3.0], transport=True, loss=False)
    G2, P2, L2 = tp.run_phase(G0, [0.0, 3.0])
    assert np.all(L == 0)
    np.testing.assert_allclose(P, P2, atol=1e-9)


def test_phase_is_cached_and_bit_identical_per_seed():
    a = tp.phase(8, 256, 3)
    assert tp.phase(8, 256, 3) is a
    b = tp.run_phase(inc.sample_gram(8, 256, seed=3), np.asarray(tp.SCAN_TIMES), rtol=tp.SCAN_RTOL)
    assert np.array_equal(a.P, b[1])
    assert a.interfering.sum() == np.sum(offdiag_positive(a.G0))


def offdiag_positive(G):
    mask = G > 0
    np.fill_diagonal(mask, False)
    return mask


def test_seeds_for_keeps_about_2048_pairs():
    assert len(tp.seeds_for(8, base=0)) == 32
    assert tp.seeds_for(64, base=7) == (7,)
    assert len(tp.seeds_for(300, base=0)) == 1


# --- T1, T2 -----------------------------------------------------------------------------------------

def test_pair_checks_hold():
    inc.assert_all(tp.pair_checks(seed=5))


def test_push_is_half_gram_schmidt_at_large_m_for_another_draw():
    run = tp.phase(16, 4**12, 77)
    assert tp.push_slope(run) == pytest.approx(tp.push_slope_prediction(16, 4**12), abs=2e-3)
    # the push, not the Gram-Schmidt coefficient: far from slope 1
    assert abs(tp.push_slope(run) - 1) > 0.4


@pytest.fixture(scope="module")
def mscan():
    return tp.m_scan()


@pytest.fixture(scope="module")
def nscan():
    return tp.n_scan()


def test_m_scan_checks_hold(mscan):
    inc.assert_all(mscan.checks)
    assert mscan.push_fit.low - 0.01 <= -0.5 <= mscan.push_fit.high + 0.01
    assert mscan.large.sum() == 9


def test_n_scan_checks_hold(nscan):
    inc.assert_all(nscan.checks)


def test_third_encoding_shift_at_other_draws():
    stats = tp.pair_stats(48, 4**9, tp.seeds_for(48, base=900) + (950, 951))
    assert stats.shift * stats.m / 46 == pytest.approx(1 / (8 * math.pi), rel=0.15)
    assert stats.spread * stats.m / math.sqrt(46) == pytest.approx(tp.C_FLUCT, rel=0.3)


# --- T3 ---------------------------------------------------------------------------------------------

def test_displacement_scan_checks_hold():
    inc.assert_all(tp.displacement_scan().checks)


# --- T4 ---------------------------------------------------------------------------------------------

def test_end_statistics_tell_independent_from_pushed():
    rng = np.random.default_rng(0)
    z = rng.normal(size=20_000)
    free = tp.end_statistics(z)
    assert free["positive"] == pytest.approx(0.5, abs=0.02) and free["ks"] < 0.02 and free["ks_p"] > 0.01
    pushed = tp.end_statistics(np.minimum(z, 0.0))
    assert pushed["positive"] == 0 and pushed["at_zero"] == pytest.approx(0.5, abs=0.02)
    assert pushed["ks"] == pytest.approx(0.5, abs=0.02)
    assert pushed["mean"] == pytest.approx(-1 / math.sqrt(2 * math.pi), abs=0.02)
    assert pushed["neg_ks_p"] > 0.01


def test_end_law_checks_hold_and_the_departure_does_not_fade():
    law = tp.end_law()
    inc.assert_all(law.checks)
    assert np.all(law.ks > 0.49) and np.all(law.positive < 0.01)


def test_marginal_checks_hold():
    inc.assert_all(tp.marginal_checks(seed=3))


# --- widgets and numbers ---------------------------------------------------------------------------------

def test_explorables_defaults_hold_and_are_fast():
    ex = tp.explorables()
    assert set(ex) == {"push", "end"}
    for e in ex.values():
        assert len(e.grid_points()) <= 24
        inc.assert_all(e.panel().checks)
        e.update()                          # warm the cache of simulations
        e._cache.clear()                    # but not the rendered panel
        start = time.perf_counter()
        html = e.update()
        assert time.perf_counter() - start < 0.1
        assert "<svg" in html


def test_ranked_pair_is_clipped_to_the_interfering_pairs():
    run = tp.phase(8, 256, 0, detailed=True)
    i, j = tp.ranked_pair(run, 1)
    assert run.G0[i, j] == np.max(inc.offdiagonal(run.G0))
    last = tp.ranked_pair(run, 10_000)
    assert run.G0[last] > 0


def test_numbers_are_plain_floats(nscan, mscan):
    nums = tp.numbers(errors=tp.pair_errors(seed=0), nscan=nscan, mscan=mscan)
    assert all(type(v) is float and np.isfinite(v) for v in nums.values())
    assert nums["tp_shift_pred"] == pytest.approx(1 / (8 * math.pi))
