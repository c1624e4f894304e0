"""Chapter 3 (Denominator): the laws of the norm's rates, their checks, and the widgets."""
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy import stats

import incidental as inc
from incidental.chapters import denominator as den


def rho_from_weights(n: int, m: int, draws: int, *, seed: int = 0) -> np.ndarray:
    """rho_0 from ``draws`` independent weight matrices (not the Wishart sampler): ``(draws,)``."""
    out = []
    for k in range(draws):
        W = inc.sample_weights(n, m, seed=seed + k)
        out.append(den.interference_relative_rate(W @ W.T)[0])
    return np.array(out)


# --- the exact law of interference's relative rate ------------------------------------------------

def test_exact_law_holds_at_tiny_m_with_independent_sampler():
    n, m = 6, 12  # far from any asymptotic regime: the law is exact
    samples = rho_from_weights(n, m, 1500)
    result = stats.kstest(samples, lambda x: den.interference_rate_cdf(x, n, m))
    assert result.pvalue > 0.001
    assert samples.mean() == pytest.approx(-(n - 1) / m, abs=4 * den.interference_rate_sd(n, m) / np.sqrt(1500))
    assert samples.std() == pytest.approx(den.interference_rate_sd(n, m), rel=0.1)


def test_exact_law_rejects_the_wrong_scale():
    n, m = 6, 12
    samples = rho_from_weights(n, m, 1500) * 1.3
    assert stats.kstest(samples, lambda x: den.interference_rate_cdf(x, n, m)).pvalue < 1e-6


def test_cdf_is_a_distribution_and_density_is_its_derivative():
    n, m = 9, 50
    x = np.linspace(-1.5, -0.05, 400)  # away from 0, where the chi2_1 part of the density diverges
    cdf = den.interference_rate_cdf(x, n, m)
    assert np.all(np.diff(cdf) >= -1e-15)
    assert den.interference_rate_cdf(-1e3, n, m) == pytest.approx(0.0, abs=1e-12)
    assert den.interference_rate_cdf(0.0, n, m) == pytest.approx(1.0)
    # just below 0 the CDF is 1 minus the atom at 0, of mass 2^-(n-1)
    assert den.interference_rate_cdf(-1e-12, n, m) == pytest.approx(1 - 2.0 ** -(n - 1), abs=1e-6)
    mid = 0.5 * (x[1:] + x[:-1])
    np.testing.assert_allclose(np.diff(cdf) / np.diff(x), den.interference_rate_density(mid, n, m), rtol=1e-3, atol=1e-6)


def test_rate_is_independent_of_the_norm():
    rho, a = [], []
    for k in range(600):
        W = inc.sample_weights(4, 8, seed=10_000 + k)
        G = W @ W.T
        rho.append(den.interference_relative_rate(G)[0])
        a.append(G[0, 0])
    r = stats.spearmanr(rho, a).statistic
    assert abs(r) < 4 / np.sqrt(600)
    # the absolute share is correlated with the norm (it is a * rho), the relative one is not
    share = np.array(rho) * np.array(a)
    assert stats.spearmanr(share, a).statistic < -0.2  # longer encodings lose more, absolutely


def test_standard_error_of_the_mean_over_encodings():
    n, m = 16, 400
    means = [den.interference_relative_rate(inc.sample_gram(n, m, seed=s)).mean() for s in range(600)]
    assert np.std(means) == pytest.approx(den.interference_rate_mean_se(n, m), rel=0.12)


def test_sd_relative_se_matches_the_spread_of_sample_sds():
    n, size = 8, 64
    z = np.random.default_rng(0).normal(size=(2000, size, n - 1))
    sds = np.std(np.sum(np.maximum(z, 0) ** 2, axis=2), axis=1, ddof=1)  # sd of `size` copies of -(m/2) rho
    rel = np.std(sds) / np.mean(sds)
    assert rel == pytest.approx(den.sd_relative_se(n, size), rel=0.1)


def test_pair_correction_is_n_over_m_not_n_minus_one():
    n, m = 8, 256
    vals = []
    for s in range(800):
        G = inc.sample_gram(n, m, seed=s)
        rho = den.interference_relative_rate(G)
        if G[0, 1] > 0:
            vals.append(-0.5 * (rho[0] + rho[1]) * m)
    se = np.std(vals) / np.sqrt(len(vals))
    assert abs(np.mean(vals) - n) < 4 * se
    assert abs(np.mean(vals) - (n - 1)) > 2 * se


# --- feature benefit's share -------------------------------------------------------------------

def test_feature_benefit_share_and_its_rms():
    G = inc.sample_gram(200, 500, seed=3)
    a = np.diag(G)
    np.testing.assert_allclose(den.feature_benefit_norm_share(G), inc.norm_sq_rate(G, ("feature_benefit",)), rtol=1e-12)
    np.testing.assert_allclose(den.feature_benefit_relative_rate(G), 2 * (1 - a))
    phi = den.feature_benefit_relative_rate(G)
    assert np.sqrt(np.mean(phi**2)) == pytest.approx(den.feature_benefit_rate_rms(500), rel=4 / np.sqrt(400))


def test_dominated_fraction_against_monte_carlo():
    n, m = 12, 64
    hits, total = 0, 0
    for s in range(300):
        G = inc.sample_gram(n, m, seed=s)
        hits += int(np.sum(np.abs(den.feature_benefit_relative_rate(G)) > np.abs(den.interference_relative_rate(G))))
        total += n
    p = den.feature_benefit_dominated_fraction(n, m)
    assert hits / total == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / total) + 1e-3)


def test_crossover_is_where_the_ratio_is_one():
    m = 4096
    n_star = den.crossover_features(m)
    assert 2 * np.sqrt(2 * m) / (n_star - 1) == pytest.approx(1.0)
    assert den.share_ratio(8, m) > 1 > den.share_ratio(1024, m)


# --- the norms over the phase ---------------------------------------------------------------------

def test_first_order_change_starts_at_the_initial_rate():
    G = inc.sample_gram(10, 100, seed=1)
    h = 1e-6
    slope = den.first_order_norm_change(G, [0.0, h])[1] / h
    np.testing.assert_allclose(slope, den.interference_relative_rate(G), rtol=1e-4)


def test_first_order_change_against_the_exact_pair_solution():
    W0 = inc.sample_weights(2, 10_000, seed=4)
    if W0[0] @ W0[1] < 0:
        W0[1] *= -1
    times = np.array([0.0, 2.0, 20.0])
    W = inc.pair_interference(W0, times)
    exact = np.log(np.sum(W**2, axis=2) / np.sum(W0**2, axis=1))
    predicted = den.first_order_norm_change(W0 @ W0.T, times)
    np.testing.assert_allclose(predicted[1:], exact[1:], rtol=0.05)


def test_expected_change_is_the_mean_of_the_first_order_change():
    n, m, t = 20, 2000, np.array([0.1, 5.0])
    vals = np.mean([den.first_order_norm_change(inc.sample_gram(n, m, seed=s), t).mean(axis=1)
                    for s in range(300)], axis=0)
    np.testing.assert_allclose(vals, den.expected_norm_change(n, m, t), rtol=0.05)


def test_feature_benefit_change_rms_against_the_logistic_solution():
    m, t = 2000, np.array([0.5, 5.0])
    a0 = np.diag(inc.sample_gram(300, m, seed=2))
    change = np.log(inc.logistic_norm_sq(a0, t) / a0)
    rms = np.sqrt(np.mean(change**2, axis=1))
    np.testing.assert_allclose(rms, den.feature_benefit_norm_change_rms(m, t), rtol=4 / np.sqrt(600))


# --- D1 and the chapter's checks -------------------------------------------------------------------

def test_identity_checks_hold_and_a_wrong_rate_is_caught():
    result = den.norm_rate_identity()
    inc.assert_all(result.checks)
    assert np.all(result.roundoff < 1e-12)
    W0 = inc.sample_weights(8, 64, seed=0)
    h = 1e-3
    Wm, W, Wp = inc.simulate(W0, [0.5 - h, 0.5, 0.5 + h], terms=("interference",))
    fd = (np.sum(Wp**2, 1) - np.sum(Wm**2, 1)) / (2 * h)
    wrong = np.sum(inc.forces(W, terms=("interference",)) * W, axis=1)  # missing the factor 2
    assert np.max(np.abs(fd - wrong)) / np.max(np.abs(fd)) > 0.1


def test_independent_formula_covers_every_force():
    W = inc.sample_weights(5, 30, seed=7)
    for terms in den.FORCE_SETS.values():
        np.testing.assert_allclose(den.norm_sq_rate_independent(W, terms, 0.02), den.norm_sq_rate_dot(W, terms, 0.02),
                                   rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("build", [den.exact_law, den.scaling_in_m, den.scaling_in_n, den.spread_over_encodings,
                                   den.share_grid, den.norm_over_phase, den.pair_norm_correction])
def test_chapter_checks_hold_at_defaults(build):
    inc.assert_all(build().checks)


def test_scaling_check_rejects_a_wrong_exponent():
    s = den.scaling_in_m()
    wrong, _ = inc.check_exponent("D2", "wrong", sizes=s.sizes, values=s.values, predicted=-0.5, regime="test")
    assert not wrong.holds


def test_mean_check_rejects_the_norm_rate_for_the_squared_norm():
    seeds = den.draw_seeds(900, 8)
    rho, _ = den.relative_rates(64, 4096, seeds)
    check = inc.check_close("D3", "wrong", predicted=-(63) / (2 * 4096), measured=float(rho.mean()),
                            atol=4 * den.interference_rate_mean_se(64, 4096) / np.sqrt(8), regime="test")
    assert not check.holds
    assert den.d2_mean_check(64, 4096, seeds).holds and den.d2_mean_check(64, 4096, seeds, half=True).holds


def test_same_seed_gives_identical_results_and_grid_points_get_distinct_draws():
    a, b = den.scaling_in_m(ms=(256, 1024, 4096)), den.scaling_in_m(ms=(256, 1024, 4096))
    assert np.array_equal(a.values, b.values)
    seeds = [den.draw_seeds(k, 4) for k in range(5)]
    assert len({s for group in seeds for s in group}) == 20


# --- validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, name", [
    (lambda: den.interference_rate_cdf(-0.1, 1, 10), "n"),
    (lambda: den.interference_rate_sd(8, 4), "m"),
    (lambda: den.interference_rate_relative_spread(1), "n"),
    (lambda: den.share_ratio(2.5, 10), "n"),
    (lambda: den.feature_benefit_rate_rms(0), "m"),
    (lambda: den.first_order_norm_change(np.array([[1.0, 0.2], [0.1, 1.0]]), [0.0, 1.0]), "G0"),
    (lambda: den.first_order_norm_change(np.eye(3), [1.0, 0.5]), "times"),
    (lambda: den.interference_relative_rate(np.ones((2, 3))), "G"),
    (lambda: den.feature_benefit_norm_share(np.array([[1.0, np.nan], [np.nan, 1.0]])), "G"),
    (lambda: den.rates_panel(8, 4, 0), "m"),
    (lambda: den.phase_panel(16, 256, 1.0, seed=-1), "seed"),
    (lambda: den.norm_sq_rate_independent(np.ones((3, 2)), ("interference",), 0.0), "W"),
    (lambda: den.draw_seeds(0, 1001), "count"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --- widgets --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rates", "phase"])
def test_widget_grid_is_small_and_every_point_holds(name):
    explorable = den.explorables()[name]
    points = explorable.grid_points()
    assert len(points) <= 24
    for values in points:
        panel = explorable.panel(**values)
        assert panel.checks and all(c.holds for c in panel.checks), (values, panel.checks)
        assert ET.fromstring(panel.figure).tag.endswith("svg")


@pytest.mark.parametrize("name", ["rates", "phase"])
def test_widget_update_is_fast_at_defaults(name):
    explorable = den.explorables()[name]
    explorable.update()  # fills the simulation caches, as the static build does
    explorable._cache.clear()
    start = time.perf_counter()
    html = explorable.update()
    elapsed = time.perf_counter() - start
    assert "holds" in html
    assert elapsed < 0.25  # target < 0.1 s; slack for a loaded CI machine


def test_rates_panel_says_which_force_dominates():
    assert "feature benefit</b> dominates" in den.rates_panel(8, 16384, 0).note
    assert "interference</b> dominates" in den.rates_panel(128, 256, 0).note
