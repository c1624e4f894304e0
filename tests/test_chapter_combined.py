"""Chapter 4 (the combined rate): formulas, measurements and widgets of ``incidental.chapters.combined``."""
import time

import numpy as np
import pytest
from hypothesis import given, strategies as st

import incidental as inc
from incidental.chapters import combined


# --- K1: exact parts and conditional mean ------------------------------------------------------

@given(seed=st.integers(0, 10_000), n=st.integers(3, 12))
def test_rate_parts_add_up_to_the_exact_relative_rate(seed, n):
    p = combined.relative_rate_parts(inc.sample_gram(n, 4 * n, seed=seed))
    np.testing.assert_allclose(p.first_order + p.numerator + p.others + p.own, p.total, atol=1e-11)
    assert np.all(p.overlap > 0) and np.all(p.others >= 0) and np.all(p.own >= 0)


def test_expected_rate_is_exact_for_two_encodings():
    # n = 2: no third encodings, so the conditional mean is the rate itself
    G = inc.gram(combined.interfering_pair_weights(50, seed=3))
    np.testing.assert_allclose(combined.expected_kappa_rate(G), inc.kappa_rate(G), atol=1e-15)


def test_expected_rate_is_zero_for_non_interfering_pairs():
    G = inc.sample_gram(10, 40, seed=1)
    E = combined.expected_kappa_rate(G)
    assert np.all(E[G <= 0] == 0)


def test_kappa_rate_matches_finite_differences_on_both_flows():
    for flow in combined.FLOWS:
        assert combined.finite_difference_kappa_error(flow=flow) < 1e-7


def test_mean_parts_match_the_conditional_means():
    stats = combined.correction_stats(32, 256, seeds=40)
    assert abs(stats.numerator.mean + 1) < 4 * stats.numerator.se
    assert abs(stats.others.mean - 1) < 4 * stats.others.se
    assert abs(stats.correction.mean - stats.own.mean) < 4 * stats.correction.se
    # the note's naive constant (about 1 in units of n/m) is excluded
    assert stats.correction.mean + 4 * stats.correction.se < 0.6
    assert all(c.holds for c in combined.k1_mean_checks(stats))


def test_spread_constant():
    spread, median = combined.fluctuation_scale(64, 4096, seeds=5)
    assert spread == pytest.approx(combined.predicted_spread(64, 4096), rel=0.05)
    assert median == pytest.approx(combined.predicted_spread(64, 4096) / 2, rel=0.1)


# --- K2: drift model ---------------------------------------------------------------------------

def test_drift_profile_shape():
    t = np.array([0.0, 1e-3, 20.0])
    f = combined.drift_profile(t)
    assert f[0] == 0.0
    assert f[1] == pytest.approx(t[1] ** 2, rel=1e-2)       # quadratic start
    assert f[2] == pytest.approx(t[2] - 0.5, abs=1e-12)      # then slope 1, offset 1/2


@given(x=st.floats(1e-3, 5.0))
def test_breakdown_time_solves_its_equation(x):
    t = combined.breakdown_time(x)
    assert x * combined.drift_profile(t) == pytest.approx(np.log(1.1), rel=1e-9)


def test_breakdown_time_limits_and_bad_input():
    assert combined.breakdown_time(0.0) == float("inf")
    assert combined.breakdown_time(1e-3) == pytest.approx(0.5 + np.log(1.1) / 1e-3, rel=1e-6)
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="x"):
            combined.breakdown_time(bad)


def test_drift_strength_validates_sizes():
    assert combined.drift_strength(2, 100) == 0.0
    with pytest.raises(ValueError, match="m"):
        combined.drift_strength(10, 5)


def test_trajectory_is_cached_read_only_and_starts_on_the_prediction():
    a = combined.trajectory(8, 256, 0, "interference", 1.0, 10)
    assert a is combined.trajectory(8, 256, 0, "interference", 1.0, 10)
    assert not a.kappa.flags.writeable
    np.testing.assert_allclose(a.prediction[0], a.kappa[0])
    assert np.all(a.kappa[0] > 0) and a.kappa.shape == (11, a.i.size)
    with pytest.raises(ValueError, match="flow"):
        combined.trajectory(8, 256, 0, "weights")


def test_fitted_rate_of_an_exact_exponential():
    t = np.linspace(0.0, 2.0, 21)
    kappa = 0.01 * np.exp(-np.outer(t, [1.5, 2.5]))
    integral = np.outer(t, [1.5, 2.5])
    traj = combined.Trajectory(2, 8, 0, "interference", t, np.array([0, 0]), np.array([1, 1]), kappa, kappa,
                               integral, kappa, np.eye(2))
    fit, avg = combined.fitted_rates(traj, 0.0, 2.0)
    np.testing.assert_allclose(fit, [1.5, 2.5], rtol=1e-12)
    np.testing.assert_allclose(avg, [1.5, 2.5], rtol=1e-12)
    np.testing.assert_allclose(traj.relative_deviation(), 0.0, atol=1e-12)


def test_first_crossing_interpolates():
    t = np.array([0.0, 1.0, 2.0])
    assert combined.first_crossing(t, np.array([0.0, 0.05, 0.15]), 0.1) == pytest.approx(1.5)
    assert combined.first_crossing(t, np.zeros(3), 0.1) == float("inf")


def test_breakdown_follows_the_drift_model_at_large_m():
    p = combined.breakdown_point(64, 16384, seeds=1)
    assert p.t_population == pytest.approx(p.t_predicted, rel=0.1)
    assert p.late_rate == pytest.approx(p.late_predicted, abs=0.03)
    assert p.t_median <= p.t_population


def test_early_rates_are_near_two():
    checks, rates = combined.k2_early_checks(64, 65536)
    assert all(c.holds for c in checks)
    assert set(rates) == set(combined.FLOWS)


# --- K3: the two-encoding oracle -----------------------------------------------------------------

def test_pair_decay_rate_matches_the_exact_solution():
    oracle = combined.pair_oracle(m=32, seed=2)
    assert all(c.holds for c in combined.pair_oracle_checks(oracle))
    assert oracle.late_rate_exact < oracle.s0


def test_pair_decay_rate_edge_cases():
    G = np.array([[1.0, -0.2], [-0.2, 1.5]])
    assert combined.pair_decay_rate(G) == pytest.approx(2.5)  # not interfering: no deficit
    with pytest.raises(ValueError, match="G0"):
        combined.pair_decay_rate(np.eye(3))


def test_interfering_pair_weights_interfere():
    for seed in range(6):
        W = combined.interfering_pair_weights(16, seed=seed)
        assert W[0] @ W[1] > 0


# --- widgets -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["pair", "ensemble"])
def test_widgets_grid_defaults_and_speed(name):
    ex = combined.explorables()[name]
    assert len(ex.grid_points()) <= 24
    assert all(c.holds for c in ex.panel().checks)
    ex.panel(time=1.5)  # warm the trajectory cache
    start = time.perf_counter()
    ex.panel(time=3.0)
    assert time.perf_counter() - start < 0.1


def test_pair_numbers_wrap_around():
    a = combined.pair_panel(16, 1024, 1, 0.5)
    n_pairs = combined.trajectory(16, 1024, 0, "interference", combined.WIDGET_T_END, combined.WIDGET_STEPS).i.size
    b = combined.pair_panel(16, 1024, 1 + n_pairs, 0.5)
    assert a.checks == b.checks
