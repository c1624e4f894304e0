"""Chapter 3 (Denominator): the laws of the norm's rates (core formulas), the chapter's runners at small
sizes, its figures and captions, its widgets, and a knob changed in the notebook itself."""

import inspect
import re
import xml.etree.ElementTree as ET

import incidental as inc
import nbformat
import numpy as np
import pytest
from incidental import book, derivation, theory
from incidental.chapters import denominator as ch
from notebook_probe import knobs_of, probe
from scipy import stats

NOTEBOOK = book.notebook_path("03_denominator")
EVAL = re.compile(r"\{eval\}`([^`]+)`")
RUN = re.compile(r"^(\w+) = ch\.(\w+)\(\*\*(\w+)\)", re.M)


def rho_from_weights(n: int, m: int, draws: int, *, seed: int = 0) -> np.ndarray:
    """rho_0 from ``draws`` independent weight matrices (not the Wishart sampler): ``(draws,)``."""
    out = []
    for k in range(draws):
        W = inc.sample_weights(n, m, seed=seed + k)
        out.append(derivation.interference_relative_rate(W @ W.T)[0])
    return np.array(out)


# --- the exact law of interference's relative rate (theory) -----------------------------------------


def test_exact_law_holds_at_tiny_m_with_independent_sampler():
    n, m = 6, 12  # far from any asymptotic regime: the law is exact
    samples = rho_from_weights(n, m, 1500)
    result = stats.kstest(samples, lambda x: theory.interference_rate_cdf(x, n, m))
    assert result.pvalue > 0.001
    assert samples.mean() == pytest.approx(-(n - 1) / m, abs=4 * theory.interference_rate_sd(n, m) / np.sqrt(1500))
    assert samples.std() == pytest.approx(theory.interference_rate_sd(n, m), rel=0.1)


def test_exact_law_rejects_the_wrong_scale():
    n, m = 6, 12
    samples = rho_from_weights(n, m, 1500) * 1.3
    assert stats.kstest(samples, lambda x: theory.interference_rate_cdf(x, n, m)).pvalue < 1e-6


def test_cdf_is_a_distribution_and_density_is_its_derivative():
    n, m = 9, 50
    x = np.linspace(-1.5, -0.05, 400)  # away from 0, where the chi2_1 part of the density diverges
    cdf = theory.interference_rate_cdf(x, n, m)
    assert np.all(np.diff(cdf) >= -1e-15)
    assert theory.interference_rate_cdf(-1e3, n, m) == pytest.approx(0.0, abs=1e-12)
    assert theory.interference_rate_cdf(0.0, n, m) == pytest.approx(1.0)
    # just below 0 the CDF is 1 minus the atom at 0, of mass 2^-(n-1)
    assert theory.interference_rate_cdf(-1e-12, n, m) == pytest.approx(1 - 2.0 ** -(n - 1), abs=1e-6)
    mid = 0.5 * (x[1:] + x[:-1])
    np.testing.assert_allclose(
        np.diff(cdf) / np.diff(x), theory.interference_rate_density(mid, n, m), rtol=1e-3, atol=1e-6
    )


def test_rate_is_independent_of_the_norm():
    rho, a = [], []
    for k in range(600):
        W = inc.sample_weights(4, 8, seed=10_000 + k)
        G = W @ W.T
        rho.append(derivation.interference_relative_rate(G)[0])
        a.append(G[0, 0])
    r = stats.spearmanr(rho, a).statistic
    assert abs(r) < 4 / np.sqrt(600)
    # the absolute share is correlated with the norm (it is a * rho), the relative one is not
    share = np.array(rho) * np.array(a)
    assert stats.spearmanr(share, a).statistic < -0.2  # longer encodings lose more, absolutely


def test_standard_error_of_the_mean_over_encodings():
    n, m = 16, 400
    means = [derivation.interference_relative_rate(inc.sample_gram(n, m, seed=s)).mean() for s in range(600)]
    assert np.std(means) == pytest.approx(theory.interference_rate_mean_se(n, m), rel=0.12)


def test_sd_relative_se_matches_the_spread_of_sample_sds():
    n, size = 8, 64
    z = np.random.default_rng(0).normal(size=(2000, size, n - 1))
    sds = np.std(np.sum(np.maximum(z, 0) ** 2, axis=2), axis=1, ddof=1)  # sd of `size` copies of -(m/2) rho
    rel = np.std(sds) / np.mean(sds)
    assert rel == pytest.approx(theory.sd_relative_se(n, size), rel=0.1)


def test_pair_correction_is_n_over_m_not_n_minus_one():
    n, m = 8, 256
    vals = []
    for s in range(800):
        G = inc.sample_gram(n, m, seed=s)
        rho = derivation.interference_relative_rate(G)
        if G[0, 1] > 0:
            vals.append(-0.5 * (rho[0] + rho[1]) * m)
    se = np.std(vals) / np.sqrt(len(vals))
    assert abs(np.mean(vals) - theory.expected_pair_norm_correction(n, m) * m) < 4 * se
    assert abs(np.mean(vals) - (n - 1)) > 2 * se


def test_regularization_share_mean_and_se():
    n, m, lam = 32, 900, 0.01
    means = [np.mean(-2 * lam * np.sum(np.abs(inc.sample_weights(n, m, seed=s)), axis=1)) for s in range(300)]
    assert np.mean(means) == pytest.approx(theory.regularization_norm_share_mean(m, lam), rel=1e-3)
    assert np.std(means) == pytest.approx(theory.regularization_norm_share_se(n, lam), rel=0.15)


# --- feature benefit's share (theory) ----------------------------------------------------------------


def test_feature_benefit_share_and_its_rms():
    G = inc.sample_gram(200, 500, seed=3)
    a = np.diag(G)
    np.testing.assert_allclose(
        derivation.feature_benefit_norm_share(G), inc.norm_sq_rate(G, ("feature_benefit",)), rtol=1e-12
    )
    np.testing.assert_allclose(derivation.feature_benefit_relative_rate(G), 2 * (1 - a))
    phi = derivation.feature_benefit_relative_rate(G)
    assert np.sqrt(np.mean(phi**2)) == pytest.approx(theory.feature_benefit_rate_rms(500), rel=4 / np.sqrt(400))


def test_dominated_fraction_against_monte_carlo():
    n, m = 12, 64
    hits, total = 0, 0
    for s in range(300):
        G = inc.sample_gram(n, m, seed=s)
        hits += int(
            np.sum(
                np.abs(derivation.feature_benefit_relative_rate(G)) > np.abs(derivation.interference_relative_rate(G))
            )
        )
        total += n
    p = theory.feature_benefit_dominated_fraction(n, m)
    assert hits / total == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / total) + 1e-3)


def test_crossover_is_where_the_ratio_is_one():
    m = 4096
    n_star = theory.crossover_features(m)
    assert 2 * np.sqrt(2 * m) / (n_star - 1) == pytest.approx(1.0)
    assert theory.share_ratio(8, m) > 1 > theory.share_ratio(1024, m)


# --- the norms over the phase (derivation, theory) ----------------------------------------------------


def test_first_order_change_starts_at_the_initial_rate():
    G = inc.sample_gram(10, 100, seed=1)
    h = 1e-6
    slope = derivation.first_order_norm_change(G, [0.0, h])[1] / h
    np.testing.assert_allclose(slope, derivation.interference_relative_rate(G), rtol=1e-4)


def test_first_order_change_against_the_exact_pair_solution():
    W0 = inc.sample_weights(2, 10_000, seed=4)
    if W0[0] @ W0[1] < 0:
        W0[1] *= -1
    times = np.array([0.0, 2.0, 20.0])
    W = inc.pair_interference(W0, times)
    exact = np.log(np.sum(W**2, axis=2) / np.sum(W0**2, axis=1))
    predicted = derivation.first_order_norm_change(W0 @ W0.T, times)
    np.testing.assert_allclose(predicted[1:], exact[1:], rtol=0.05)


def test_expected_change_is_the_mean_of_the_first_order_change():
    n, m, t = 20, 2000, np.array([0.1, 5.0])
    vals = np.mean(
        [derivation.first_order_norm_change(inc.sample_gram(n, m, seed=s), t).mean(axis=1) for s in range(300)], axis=0
    )
    np.testing.assert_allclose(vals, theory.expected_norm_change(n, m, t), rtol=0.05)


def test_feature_benefit_change_rms_against_the_logistic_solution():
    m, t = 2000, np.array([0.5, 5.0])
    a0 = np.diag(inc.sample_gram(300, m, seed=2))
    change = np.log(inc.logistic_norm_sq(a0, t) / a0)
    rms = np.sqrt(np.mean(change**2, axis=1))
    np.testing.assert_allclose(rms, theory.feature_benefit_norm_change_rms(m, t), rtol=4 / np.sqrt(600))


def test_first_order_error_grows_with_n_like_the_drift_strength():
    """The prose explains the first-order error over the phase by the drift (n-2)/sqrt(2 pi m): at fixed m
    it grows about in proportion to n - 2 (as it falls as m^-1/2 at fixed n, checked by the chapter)."""
    m, seeds = 4096, ch.draw_seeds(950, 16)
    err = {n: ch.phase_course(n, m, seeds, 5.0, 41, 1e-7).error for n in (8, 32)}
    ratio = err[32] / err[8]
    assert 0.6 < ratio / (theory.drift_strength(32, m) / theory.drift_strength(8, m)) < 1.5


# --- D1 -----------------------------------------------------------------------------------------------


def test_independent_formula_covers_every_force():
    W = inc.sample_weights(5, 30, seed=7)
    for terms in ch.FORCE_SETS.values():
        np.testing.assert_allclose(
            derivation.norm_sq_rate_independent(W, terms, 0.02),
            derivation.norm_sq_rate_dot(W, terms, 0.02),
            rtol=1e-12,
            atol=1e-14,
        )


def test_a_wrong_rate_is_caught_by_the_central_difference():
    W0 = inc.sample_weights(8, 64, seed=0)
    h = 1e-3
    Wm, W, Wp = inc.simulate(W0, [0.5 - h, 0.5, 0.5 + h], terms=("interference",))
    fd = (np.sum(Wp**2, 1) - np.sum(Wm**2, 1)) / (2 * h)
    wrong = np.sum(inc.forces(W, terms=("interference",)) * W, axis=1)  # missing the factor 2
    assert np.max(np.abs(fd - wrong)) / np.max(np.abs(fd)) > 0.1


# --- the runners at small sizes -----------------------------------------------------------------------

SMALL = {
    "identity_knobs": dict(n=5, m=20, lam=0.01, seed=0, t0s=(0.2,), h=1e-3, roundoff_tolerance=1e-12, fd_constant=10.0),
    "regularization_knobs": dict(n=16, m=1024, lam=1e-3, seed=0, sigmas=4.0),
    "law_knobs": dict(n=8, m=64, draws=300, seed=0, ks_level=0.01, sigmas=4.0),
    "over_m_knobs": dict(n=16, ms=(256, 4096, 65536, 2**20), draws=2, seed=0, sigmas=4.0),
    "over_n_knobs": dict(m=2**16, ns=(16, 32, 64, 128, 256), draws=2, seed=100, sigmas=4.0),
    "spread_knobs": dict(m=2**16, ns=(8, 16, 32, 64, 128, 256), samples=512, seed=200, sigmas=4.0, example_n=32),
    "norm_rate_knobs": dict(n=32, m=1024, draws=4, seed=600, sigmas=4.0),
    "pair_knobs": dict(n=16, m=1024, draws=100, seed=700, sigmas=4.0),
    "shares_knobs": dict(
        ns=(8, 32, 128),
        ms=(2**10, 2**14),
        draws=4,
        seed=300,
        sigmas=4.0,
        ratio_tolerance=0.05,
        example_n=32,
        example_m=1024,
    ),
    "phase_knobs": dict(
        n=16,
        ms=(256, 1024, 4096, 16384, 65536),
        draws=8,
        seed=400,
        t_end=5.0,
        points=21,
        rtol=1e-7,
        sigmas=4.0,
        exponent_tolerance=0.05,
        first_order_tolerance=0.05,
        error_exponent_tolerance=0.25,
        end_tolerance=1e-3,
    ),
}

# a tolerance knob of each runner made too tight: its checks must fail
BROKEN = {
    "identity_knobs": dict(roundoff_tolerance=1e-20),
    "regularization_knobs": dict(sigmas=1e-6),
    "law_knobs": dict(ks_level=0.999999),
    "over_m_knobs": dict(sigmas=1e-6),
    "over_n_knobs": dict(sigmas=1e-6),
    "spread_knobs": dict(sigmas=1e-6),
    "norm_rate_knobs": dict(sigmas=1e-6),
    "pair_knobs": dict(sigmas=1e-6),
    "shares_knobs": dict(sigmas=1e-6),
    "phase_knobs": dict(first_order_tolerance=1e-6),
}

# one bad value per runner: the ValueError names the knob
BAD = {
    "identity_knobs": ("fd_constant", -1.0),
    "regularization_knobs": ("lam", -1e-3),
    "law_knobs": ("ks_level", 1.5),
    "over_m_knobs": ("ms", (256, 1024)),
    "over_n_knobs": ("draws", 0),
    "spread_knobs": ("example_n", 1),
    "norm_rate_knobs": ("sigmas", -4.0),
    "pair_knobs": ("draws", 1),
    "shares_knobs": ("ratio_tolerance", -0.02),
    "phase_knobs": ("t_end", 0.0),
}


def notebook_cells():
    return nbformat.read(NOTEBOOK, as_version=4).cells


def notebook_knobs() -> dict:
    """Every ``*_knobs`` dict of the notebook's knobs cells, by name."""
    return knobs_of("03_denominator", ch=ch)


def notebook_runs() -> dict[str, tuple[str, str]]:
    """``{result name: (runner, knobs name)}`` for every ``x = ch.runner(**x_knobs)`` of the notebook."""
    code = "\n".join(c.source for c in notebook_cells() if c.cell_type == "code")
    return {name: (runner, knobs) for name, runner, knobs in RUN.findall(code)}


def notebook_widgets() -> dict[str, inc.Explorable]:
    """The widgets as the notebook's widget cells show them (with the grids those cells set), by name."""
    cells = [c.source.strip() for c in notebook_cells() if c.cell_type == "code" and "_explorable()" in c.source]
    return {re.match(r"ch\.(\w+)_explorable", src).group(1): eval(src, {"ch": ch}) for src in cells}


def eval_expressions() -> list[str]:
    return [e for c in notebook_cells() if c.cell_type == "markdown" for e in EVAL.findall(c.source)]


def runner_of(knobs: str):
    return getattr(ch, next(r for r, k in notebook_runs().values() if k == knobs))


@pytest.fixture(scope="module")
def small_results() -> dict[str, book.Result]:
    return {name: getattr(ch, runner)(**SMALL[knobs]) for name, (runner, knobs) in notebook_runs().items()}


def test_small_knobs_have_the_notebooks_keys():
    knobs = notebook_knobs()
    assert set(knobs) == set(SMALL) == set(BROKEN) == set(BAD)
    for name, values in knobs.items():
        assert set(values) == set(SMALL[name]), name


def test_runners_at_small_sizes_hold_and_record_their_params(small_results):
    for name, (_runner, knobs) in notebook_runs().items():
        r = small_results[name]
        assert r.checks, name
        for c in r.checks:
            assert c.holds, (name, c)
            assert c.regime, (name, c)
        assert r.params == SMALL[knobs], name
        for key in SMALL[knobs]:
            assert key in r.q, (name, key)


@pytest.mark.parametrize("knobs", sorted(BROKEN))
def test_a_broken_tolerance_makes_the_checks_fail(knobs):
    r = runner_of(knobs)(**{**SMALL[knobs], **BROKEN[knobs]})
    assert any(c.verdict == "fails" for c in r.checks), (knobs, r.checks)


@pytest.mark.parametrize("knobs", sorted(BAD))
def test_a_bad_knob_raises_naming_it(knobs):
    name, value = BAD[knobs]
    with pytest.raises(ValueError, match=name):
        runner_of(knobs)(**{**SMALL[knobs], name: value})


def test_every_knob_is_a_keyword_of_its_runner():
    for _name, (runner, knobs) in notebook_runs().items():
        params = inspect.signature(getattr(ch, runner).__wrapped__).parameters
        assert set(params) == set(notebook_knobs()[knobs]), runner
        assert all(p.kind is p.KEYWORD_ONLY for p in params.values()), runner


def test_every_eval_in_the_notebook_names_a_quoted_number(small_results):
    exprs = eval_expressions()
    assert len(exprs) > 50
    for e in exprs:
        m = re.fullmatch(r"(\w+)\.q\.(\w+)(\.(exponent|low|high))?", e)
        assert m, f"{{eval}} must quote result.q.name (or a part of a fit), got {e!r}"
        assert m.group(2) in small_results[m.group(1)].q, e
        assert repr(eval(e, {}, small_results)) != "—", e


def test_checks_have_kinds_and_the_full_flow_refutes_the_note(small_results):
    checks = [c for r in small_results.values() for c in r.checks]
    assert {c.claim for c in checks} == {"D1", "D2", "D3"}
    refuting = [c for c in checks if c.refutes]
    assert len(refuting) == 2
    for c in refuting:
        assert c.claim == "D3" and "full flow" in c.statement and "full flow" in c.refutes
        assert c.refutes.startswith("each norm changes at a relative rate -Θ(n/m)")
        assert c.whose == "note"
    # interference's share, the note's actual D3 statement, is confirmed
    assert any(c.claim == "D3" and c.statement.startswith("interference alone") and not c.refutes for c in checks)


FIGURES = {
    "exact_law_figure": ("law",),
    "scaling_figure": ("over_m", "over_n"),
    "spread_figure": ("spread",),
    "share_figure": ("shares",),
    "phase_figure": ("phase",),
    "phase_sizes_figure": ("phase",),
}


def figure_captions() -> list[tuple[str, str]]:
    """``(figure cell, caption cell)`` for every ``chapter.figure`` of the notebook, in order."""
    cells = notebook_cells()
    return [
        (c.source, cells[k + 1].source)
        for k, c in enumerate(cells)
        if c.cell_type == "code" and c.source.startswith("chapter.figure(")
    ]


@pytest.mark.parametrize("builder", sorted(FIGURES))
def test_figure_builders_return_a_figure(builder, small_results):
    fig = getattr(ch, builder)(*(small_results[name] for name in FIGURES[builder]))
    assert fig.axes


def test_captions_are_numbered_and_quote_their_parameters():
    pairs = figure_captions()
    assert [re.search(r"ch\.(\w+)\(", f).group(1) for f, _ in pairs] == list(FIGURES)
    for k, ((_fig, caption), builder) in enumerate(zip(pairs, FIGURES), start=1):
        assert caption.startswith(f"**Figure 3.{k}.**"), caption[:20]
        first = FIGURES[builder][0]
        assert any(f"`{first}.q.{key}`" in caption for key in ("n", "m", "ns", "ms")), builder
        quoted = EVAL.findall(caption)
        assert quoted and all(q.split(".")[0] in FIGURES[builder] for q in quoted), (builder, quoted)


def test_notebook_uses_every_figure_builder():
    code = "\n".join(c.source for c in notebook_cells() if c.cell_type == "code")
    for builder in FIGURES:
        assert f"chapter.figure(ch.{builder}(" in code
    assert "glue" not in code and "{glue" not in "".join(c.source for c in notebook_cells())
    assert code.rstrip().endswith("chapter.finish()")


def test_every_eval_quotes_a_result_of_an_earlier_cell():
    defined: set[str] = set()
    for cell in notebook_cells():
        if cell.cell_type == "code":
            defined |= set(re.findall(r"^(\w+) = ", cell.source, re.M))
        else:
            for e in EVAL.findall(cell.source):
                assert e.split(".")[0] in defined, f"{e} is quoted before its result exists"


def test_no_cross_chapter_equation_references():
    text = "".join(c.source for c in notebook_cells() if c.cell_type == "markdown")
    labels = set(re.findall(r"\$\$ \((eq-[\w-]+)\)", text))
    for ref in re.findall(r"\{eq\}`([^`]+)`", text):
        assert ref in labels, ref
    for ref in re.findall(r"\{prf:ref\}`([^`]+)`", text):
        assert f":label: {ref}" in text, ref
    for doc in re.findall(r"\{doc\}`([^`]+)`", text):
        assert re.fullmatch(r".+ <\w+>", doc), f"{{doc}} needs an explicit title: {doc}"


def test_same_seed_gives_identical_results_and_grid_points_get_distinct_draws():
    knobs = dict(SMALL["over_m_knobs"])
    a, b = ch.scaling_in_m(**knobs), ch.scaling_in_m(**knobs)
    assert np.array_equal(a.data["values"], b.data["values"])
    seeds = [ch.draw_seeds(k, 4) for k in range(5)]
    assert len({s for group in seeds for s in group}) == 20


def test_scaling_check_rejects_a_wrong_exponent():
    s = ch.scaling_in_m(**SMALL["over_m_knobs"])
    wrong, _ = ch.CHECKS.share_exp.exponent(sizes=s.data["sizes"], values=s.data["values"], predicted=-0.5, over="m")
    assert wrong.verdict == "fails"


def test_mean_check_rejects_the_norm_rate_for_the_squared_norm():
    r = ch.norm_rate_mean(n=64, m=4096, draws=8, seed=900, sigmas=4.0)
    assert r.checks[0].holds
    rho, _ = ch.relative_rates(64, 4096, ch.draw_seeds(900, 8))
    check = ch.CHECKS.norm_rate.close(
        predicted=-63 / (2 * 4096),
        measured=float(rho.mean()),
        atol=4 * theory.interference_rate_mean_se(64, 4096) / np.sqrt(8),
    )
    assert check.verdict == "fails"


# --- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: theory.interference_rate_cdf(-0.1, 1, 10), "n"),
        (lambda: theory.interference_rate_sd(8, 4), "m"),
        (lambda: theory.interference_rate_relative_spread(1), "n"),
        (lambda: theory.share_ratio(2.5, 10), "n"),
        (lambda: theory.feature_benefit_rate_rms(0), "m"),
        (lambda: theory.regularization_norm_share_mean(10, -1.0), "lam"),
        (lambda: derivation.first_order_norm_change(np.array([[1.0, 0.2], [0.1, 1.0]]), [0.0, 1.0]), "G0"),
        (lambda: derivation.first_order_norm_change(np.eye(3), [1.0, 0.5]), "times"),
        (lambda: derivation.interference_relative_rate(np.ones((2, 3))), "G"),
        (lambda: derivation.feature_benefit_norm_share(np.array([[1.0, np.nan], [np.nan, 1.0]])), "G"),
        (lambda: derivation.norm_sq_rate_independent(np.ones((3, 2)), ("interference",), 0.0), "W"),
        (lambda: ch.rates_panel(8, 4, 0), "m"),
        (lambda: ch.phase_at(n=16, m=256, t=1.0, seed=-1, draws=8, t_end=5.0, points=41, rtol=1e-7), "seed"),
        (lambda: ch.phase_at(n=16, m=256, t=-1.0, seed=0, draws=8, t_end=5.0, points=41, rtol=1e-7), "t"),
        (lambda: ch.draw_seeds(0, 1001), "count"),
        (lambda: ch.norm_rate_identity(**{**SMALL["identity_knobs"], "t0s": (1e-4,)}), "t0s"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --- widgets ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rates", "phase"])
def test_widget_grid_is_small_and_no_point_shows_a_check_that_cannot_fail_as_holding(name):
    explorable = notebook_widgets()[name]
    points = explorable.grid_points()
    assert len(points) <= 24
    for values in points:
        panel = explorable.panel(**values)
        assert panel.checks, values
        for c in panel.checks:
            assert c.verdict in ("holds", "unresolved"), (values, c)
            assert c.verdict == "holds" or c.why, (values, c)
        assert ET.fromstring(panel.figure).tag.endswith("svg")


def test_rates_widget_says_unresolved_where_one_draw_is_too_noisy():
    """At n = 8 the mean over one draw's 8 encodings has a 4-s.e. tolerance larger than the mean itself."""
    checks = notebook_widgets()["rates"].panel(n=8, m=256, seed=0).checks
    assert checks[0].verdict == "unresolved" and "tolerance" in checks[0].why


@pytest.mark.parametrize("name", ["rates", "phase"])
def test_widget_default_panel_holds_and_updates_fast(name):
    explorable = notebook_widgets()[name]
    assert all(c.holds for c in explorable.panel().checks)
    explorable.update()  # fills the simulation caches, as the static build does
    explorable._cache.clear()
    html = explorable.update()
    assert "holds" in html


def test_widget_prose_names_values_on_the_grid():
    text = "".join(c.source for c in notebook_cells() if c.cell_type == "markdown")
    widgets = notebook_widgets()
    rates, phase = (dict((c.name, c.grid) for c in widgets[k].controls) for k in ("rates", "phase"))
    tries = re.findall(r"\$n = (\d+)\$(?: with|,) \$m = (\d+)\$", text)
    assert tries
    for n, m in tries:
        assert int(n) in rates["n"] and int(m) in rates["m"]
    compares = re.findall(r"compare \$m = (\d+)\$", text) + re.findall(r"with \$m = (\d+)\$\.", text)
    assert compares
    for m in compares:
        assert int(m) in phase["m"]


def test_rates_panel_says_which_force_dominates():
    assert "feature benefit</b> dominates" in ch.rates_panel(8, 16384, 0).note
    assert "interference</b> dominates" in ch.rates_panel(128, 256, 0).note


# --- the knob test: knobs changed in the notebook -------------------------------------------------------


def test_changing_a_knob_changes_the_quoted_numbers_and_captions(tmp_path, monkeypatch):
    """Run the notebook with two knobs changed (``tests/notebook_probe.py``); compare what it shows with
    the same runners at the notebook's own knobs."""
    monkeypatch.setenv("INCIDENTAL_LEDGER_DIR", str(tmp_path))
    monkeypatch.setenv("INCIDENTAL_WIDGETS", "static")
    after = probe(
        "03_denominator",
        {"law_knobs = dict(n=16,": "law_knobs = dict(n=12,", "    n=32,\n    ms=(256,": "    n=24,\n    ms=(256,"},
    )
    knobs = notebook_knobs()
    before = {
        "law": ch.exact_law(**knobs["law_knobs"]),
        "phase": ch.norm_over_phase(**knobs["phase_knobs"]),
        "over_m": ch.scaling_in_m(**knobs["over_m_knobs"]),
    }
    changed = {"law": ("ks",), "phase": ("constant", "err_small", "fit", "max_full_small", "n_over_m_small")}
    for name, keys in changed.items():
        for key in keys:
            assert after.quoted[f"{name}.q.{key}"] != repr(getattr(before[name].q, key)), (name, key)
    assert after.quoted["phase.q.n_over_m_small"] == f"{24 / 256:.3g}"
    assert after.quoted["over_m.q.fit"] == repr(before["over_m"].q.fit)  # another experiment's knobs

    code = "\n".join(c.source for c in notebook_cells() if c.cell_type == "code")
    builders = re.findall(r"chapter\.figure\(ch\.(\w+_figure)\(", code)
    captions = dict(zip(builders, after.captions))
    assert len(after.captions) == len(builders) == 6
    assert "$n =$ 12," in captions["exact_law_figure"]
    assert f"distance {after.quoted['law.q.ks']}," in captions["exact_law_figure"]
    for builder in ("phase_figure", "phase_sizes_figure"):
        assert "$n =$ 24" in captions[builder] and "$n =$ 32" not in captions[builder]
    assert f"exponent {after.quoted['phase.q.fit.exponent']};" in captions["phase_sizes_figure"]
    assert any("n=24, ms=256..65536 (5 values)" in t for t in after.tables)
