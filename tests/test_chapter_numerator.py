"""Chapter 2 (the numerator): the split of the rate, the size of the second-order terms, the
first-order relative rate at initialisation and along the flow (claims N1-N3)."""
import time

import numpy as np
import pytest
from hypothesis import given, strategies as st

import incidental as inc
from incidental.chapters import numerator as nm


# --- N1 -------------------------------------------------------------------------------------------

def test_split_by_hand_on_three_encodings():
    # G_01 > 0, G_02 > 0, G_12 < 0: for the pair (0, 1) the only third encoding is k = 2.
    G = np.array([[1.0, 0.3, 0.2], [0.3, 2.0, -0.1], [0.2, -0.1, 1.5]])
    first = -0.3 * (1.0 + 2.0)
    second = -(max(0.2, 0) * -0.1 + max(-0.1, 0) * 0.2)          # = +0.02
    second_free = -2 * 0.2 * -0.1                                  # = +0.04: twice the exact term
    assert nm.pair_terms(G).first[0] == pytest.approx(first)
    assert inc.numerator_second_order(G)[0, 1] == pytest.approx(second)
    assert inc.numerator_second_order(G, relu=False)[0, 1] == pytest.approx(second_free)
    assert inc.numerator_rate(G)[0, 1] == pytest.approx(first + second)


@given(seed=st.integers(0, 10_000), n=st.integers(3, 12))
def test_rate_is_first_plus_second_and_relative_rate_identity(seed, n):
    G = inc.sample_gram(n, 2 * n, seed=seed)
    assert nm.decomposition_error(G) < 1e-13
    p = nm.pair_terms(G)
    np.testing.assert_allclose(p.first + p.second, p.rate, atol=1e-14)
    # eq-relative-rate: rate / G_ij = -(G_ii + G_jj) (1 + eps_ij)
    np.testing.assert_allclose(p.relative_rate, p.predicted_relative_rate * (1 + p.second / p.first), rtol=1e-10)
    assert np.all(p.overlap > 0)


def test_rate_matches_finite_differences_with_second_order_truncation():
    fd = nm.finite_differences(n=8, m=64, seed=3, t0=0.5, steps=(1e-2, 3e-3, 1e-3))
    assert fd.gram_error[-1] < 1e-5 and fd.weight_error[-1] < 1e-5
    fit = inc.fit_exponent(fd.steps, fd.gram_error)
    assert fit.exponent == pytest.approx(2.0, abs=0.05)


def test_relu_free_terms_exact_only_when_all_pairs_interfere():
    assert nm.all_interfering_gap(seed=2) < 1e-12
    G = inc.sample_gram(16, 64, seed=2)
    assert np.max(np.abs(inc.numerator_second_order(G, relu=False) - inc.numerator_second_order(G))) > 1e-3


def test_relu_free_constants_at_another_seed():
    rf = nm.relu_free_comparison(seed=7)
    for key, predicted in nm.RELU_FREE_PREDICTIONS.items():
        assert getattr(rf, key) == pytest.approx(predicted, rel=0.08), key


# --- N2 -------------------------------------------------------------------------------------------

def test_predicted_constants():
    assert nm.predicted_second_order_ratio(10, 100) == pytest.approx(np.sqrt(3 * 8 / 800))
    assert nm.predicted_second_order_ratio(10, 100, relu=False) == pytest.approx(np.sqrt(8 / 100))
    assert nm.predicted_conditional_mean_slope(10, 100) == pytest.approx(-0.08)
    assert nm.predicted_conditional_mean_slope(10, 100, relu=False) == pytest.approx(-0.16)
    assert nm.predicted_late_error(10, 100) == pytest.approx(8 / (2 * np.sqrt(2 * np.pi * 100)))
    assert nm.half_cauchy_exceedance(1.0, 1.0) == pytest.approx(0.5)


@pytest.mark.parametrize("n,m,seed", [(32, 4096, 11), (128, 2**20, 12), (16, 10**9, 13)])
def test_second_order_ratio_matches_derived_constant(n, m, seed):
    r, r_free = nm.second_order_ratios(n, m, seed=seed, pairs=8000)
    assert r == pytest.approx(nm.predicted_second_order_ratio(n, m), rel=0.1)
    assert r_free == pytest.approx(nm.predicted_second_order_ratio(n, m, relu=False), rel=0.1)


def test_ratio_scan_exponents_at_another_seed():
    scan = nm.ratio_scan("m", fixed=32, grid=tuple(4**k for k in range(5, 14, 2)), seed=5)
    assert all(c.holds for c in scan.checks), [c for c in scan.checks if not c.holds]


def test_conditional_mean_at_another_seed():
    cm = nm.conditional_mean(seed=21)
    assert cm.slope == pytest.approx(nm.predicted_conditional_mean_slope(cm.n, cm.m), rel=0.1)
    assert cm.slope_free == pytest.approx(nm.predicted_conditional_mean_slope(cm.n, cm.m, relu=False), rel=0.1)


# --- N3 -------------------------------------------------------------------------------------------

def test_error_law_is_half_cauchy_at_another_seed():
    law = nm.error_law(seed=3)
    assert law.ks_distance < 0.03
    assert law.median == pytest.approx(law.scale, rel=0.1)
    assert law.fraction_above == pytest.approx(law.predicted_fraction_above, abs=0.03)


def test_breakdown_grid_follows_prediction_where_n_over_m_small():
    bd = nm.breakdown(ns=(16, 64), ms=(4096, 65536), seed=4)
    np.testing.assert_allclose(bd.median_error, bd.predicted, rtol=0.15)
    assert bd.load_at_tolerance == pytest.approx(8 * nm.TOLERANCE**2 / 3)


def test_flow_track_settles_and_relu_free_overtakes():
    tr = nm.flow_track(16, 1024, 1)
    i, j = tr.pair
    assert tr.grams[0][i, j] > 0
    late = tr.times >= 4
    assert np.max(tr.median_error[late]) / np.min(tr.median_error[late]) < 1.2
    assert tr.collective_rate[-1] == pytest.approx(2 - 2 * nm.predicted_late_error(16, 1024), rel=0.05)
    assert np.isfinite(tr.crossing_time) and tr.median_error_free[-1] > 100
    assert tr.median_error[-1] < 1.0


def test_flow_track_is_reproducible_and_matches_tight_tolerance():
    a = nm.flow_track(8, 256, 2)
    b = nm.flow_track(8, 256, 2, rtol=1e-12)
    np.testing.assert_allclose(a.median_error, b.median_error, rtol=1e-4)
    nm.flow_track.cache_clear()
    np.testing.assert_array_equal(nm.flow_track(8, 256, 2).grams, a.grams)


# --- bad input and determinism --------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: nm.predicted_second_order_ratio(1, 10),
    lambda: nm.predicted_late_error(10, 5),
    lambda: nm.ratio_scan("k", fixed=8, grid=(16, 32, 64)),
    lambda: nm.late_scan("k", fixed=8, grid=(16, 32, 64)),
    lambda: nm.flow_track(8, 4, 0),
    lambda: nm.flow_track(8, 64, 0, t_end=-1.0),
    lambda: nm.pair_terms(np.ones((3, 4))),
    lambda: nm.conditional_mean(1, 10),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_same_seed_same_result():
    a = nm.pooled_pair_terms(8, 64, seed=3, pairs=200)
    b = nm.pooled_pair_terms(8, 64, seed=3, pairs=200)
    np.testing.assert_array_equal(a.second, b.second)
    assert nm.seeds_for(8, 200) == 8


# --- widgets ----------------------------------------------------------------------------------------

def test_explorables_grids_and_defaults():
    ex = nm.explorables()
    assert set(ex) == {"initial", "flow"}
    for e in ex.values():
        assert len(e.grid_points()) <= 24
        panel = e.panel()
        assert all(c.holds for c in panel.checks), [c for c in panel.checks if not c.holds]
        assert panel.figure.startswith("<svg")


def test_widget_update_is_fast_at_defaults():
    for e in nm.explorables().values():
        e.panel()  # warm the caches (simulation, Gram draw)
        start = time.perf_counter()
        e.compute(**e.defaults)
        assert time.perf_counter() - start < 0.1


def test_initial_panel_verdict_fails_where_n_over_m_is_large():
    panel = nm.initial_panel(128, 256, 0)
    verdict = [c for c in panel.checks if "median pair" in c.statement][0]
    assert not verdict.holds
