"""The shared interference-phase runs seen pair by pair (:class:`incidental.runs.Pairs`)."""

import numpy as np
import pytest
from incidental import runs


def hand_made(t, kappa, integral):
    """Two pairs ``(0, 1)`` with cosines ``kappa`` ``(T, 2)`` and rate integrals ``integral`` ``(T, 2)``."""
    run = runs.PhaseRun(2, 8, t, np.zeros((t.size, 2, 2)), None, None, None)
    return runs.Pairs(run, np.array([0, 0]), np.array([1, 1]), kappa, integral, kappa)


def test_fitted_rate_of_an_exact_exponential_and_crossings():
    t = np.linspace(0.0, 2.0, 21)
    kappa = 0.01 * np.exp(-np.outer(t, [1.5, 2.5]))
    integral = np.outer(t, [1.5, 2.5])
    pairs = hand_made(t, kappa, integral)
    fit, avg = pairs.fitted_rates((0.0, 2.0))
    np.testing.assert_allclose(fit, [1.5, 2.5], rtol=1e-12)
    np.testing.assert_allclose(avg, [1.5, 2.5], rtol=1e-12)
    with pytest.raises(ValueError, match="late"):
        pairs.fitted_rates((5.0, 6.0), "late")
    assert pairs.first_time(t**2, 0.1) == pytest.approx(0.3 + 0.1 / 7)  # between (0.3, 0.09) and (0.4, 0.16)
    assert pairs.first_time(np.zeros(t.size), 0.1) == float("inf")
    back = kappa.copy()
    back[5:8, 0] = -1e-3  # crosses zero and comes back: it has still crossed
    pairs = hand_made(t, back, integral)
    assert pairs.crossed_fraction()[4] == 0 and pairs.crossed_fraction()[-1] == 0.5


def test_breakdown_of_a_population_drifting_off_the_note():
    t = np.linspace(0.0, 4.0, 41)
    integral = np.outer(2 * t, [1.0, 1.0])
    kappa = 0.01 * np.exp(-integral) * np.exp(0.1 * t)[:, None]  # both pairs held up by e^{0.1 t}
    t_median, t_population, late, crossed = hand_made(t, kappa, integral).breakdown(0.1, (3.0, 4.0))
    assert t_population == pytest.approx(10 * np.log(1.1))  # log A = 0.1 t, linear: interpolated exactly
    assert t_median == pytest.approx(10 * np.log(1.1), rel=1e-3)  # |kappa/pred - 1| = e^{0.1 t} - 1
    assert late == pytest.approx(1.9) and crossed == 0.0
    assert hand_made(t, kappa, integral).breakdown(1.0, (3.0, 4.0))[:2] == (float("inf"), float("inf"))
    with pytest.raises(ValueError, match="late_window"):
        hand_made(t, kappa, integral).breakdown(0.1, (5.0, 6.0))


def test_overlaps_are_the_gram_entries_of_the_pairs_interfering_at_the_start():
    run = runs.phase(8, 64, 0, flow="interference", rtol=1e-10, t_end=1.0, count=5, accumulate=False)
    pairs = run.pairs
    assert pairs.overlaps.shape == (5, pairs.i.size) and np.all(pairs.overlaps[0] > 0)
    d = np.einsum("tii->ti", run.G)
    np.testing.assert_allclose(pairs.overlaps / np.sqrt(d[:, pairs.i] * d[:, pairs.j]), pairs.kappa, rtol=1e-14)
