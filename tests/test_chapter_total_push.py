"""Chapter 5 (the total push): the closed forms it moved to the core, the runners at small sizes (checks,
parameters, quoted numbers), the figure builders, the widgets, and one knob changed in the notebook."""

import math
import re

import incidental as inc
import nbformat
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from incidental import book, derivation, exact, runs, theory
from incidental.chapters import total_push as ch
from matplotlib.figure import Figure
from notebook_probe import knobs_of, probe

NAME = "05_total_push"
EVAL = re.compile(r"\{eval\}`([^`]+)`")


# --- closed forms (incidental.exact, incidental.derivation) -----------------------------------------------


def test_pair_loss_by_hand():
    # s0 = 2, g0 = 0.6: s_inf = sqrt(4 - 1.44) = 1.6, each loses (2 - 1.6)/2 = 0.2
    G0 = np.array([[1.0, 0.6], [0.6, 1.0]])
    assert exact.pair_norm_sq_loss(G0) == pytest.approx(0.2)
    assert exact.pair_norm_sq_loss(np.array([[1.0, -0.3], [-0.3, 2.0]])) == 0.0
    g = 1e-3  # half of the Gram-Schmidt loss g^2/G_jj when g is small
    assert exact.pair_norm_sq_loss(np.array([[1.0, g], [g, 1.0]])) / g**2 == pytest.approx(0.5, rel=1e-5)


@given(seed=st.integers(0, 10_000), n=st.integers(2, 9))
def test_pairwise_predictions_agree_with_the_two_encoding_formulas(seed, n):
    G = inc.sample_gram(n, 3 * n, seed=seed)
    push, loss = derivation.pair_push_prediction(G), derivation.pair_loss_prediction(G)
    for i, j in [(0, 1), (n - 1, 0)]:
        sub = G[np.ix_([i, j], [i, j])]
        assert push[i, j] == pytest.approx(exact.pair_push_total(sub), abs=1e-15)
        assert loss[i, j] == pytest.approx(exact.pair_norm_sq_loss(sub), abs=1e-15)
    assert np.all(np.diag(push) == 0) and np.all(push >= 0) and np.allclose(push, push.T)


@given(seed=st.integers(0, 10_000))
def test_pair_end_point_is_the_exact_limit(seed):
    W0 = inc.sample_weights(2, 6, seed=seed)
    if W0[0] @ W0[1] < 0:
        W0[1] *= -1
    end = exact.pair_interference(W0, [0.0, 80.0])[-1]
    np.testing.assert_allclose(exact.pair_limit_weights(W0), end, atol=1e-12)
    assert abs(end[0] @ end[1]) < 1e-12


def test_lowdin_is_orthonormal_and_matches_the_pair_end_at_unit_norms():
    W = inc.sample_weights(5, 20, seed=1)
    L = exact.lowdin(W)
    np.testing.assert_allclose(L @ L.T, np.eye(5), atol=1e-12)
    g = 0.3
    Q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(12, 2)))
    W0 = np.array([[1.0, 0.0], [g, math.sqrt(1 - g * g)]]) @ Q.T  # as two_encodings builds its unit pairs
    np.testing.assert_allclose(W0 @ W0.T, [[1, g], [g, 1]], atol=1e-14)
    np.testing.assert_allclose(exact.pair_limit_weights(W0), (1 - g * g) ** 0.25 * exact.lowdin(W0), atol=1e-14)


def test_unit_pair_ratios_are_the_pair_formulas_at_unit_norms():
    gs = np.array([0.01, 0.3, 0.9])
    push, loss = exact.unit_pair_ratios(gs)
    for g, p, q in zip(gs, push, loss):
        G = np.array([[1.0, g], [g, 1.0]])
        assert p == pytest.approx(exact.pair_push_total(G) / g, rel=1e-12)
        assert q == pytest.approx(exact.pair_norm_sq_loss(G) / g**2, rel=1e-9)
    assert push[0] == pytest.approx(0.5, abs=1e-4) and loss[0] == pytest.approx(0.5, abs=1e-4)


def test_displacement_from_transport_is_zero_for_no_motion_and_matches_weights():
    W0 = inc.sample_weights(5, 12, seed=2)
    G0 = W0 @ W0.T
    assert np.all(derivation.displacement_from_transport(G0, np.eye(5)) == 0)
    for terms in (runs.FLOWS["interference"], runs.FLOWS["full"]):
        ph = inc.simulate_gram_phase(G0, [0.0, 1.0, 4.0], terms=terms, rtol=1e-11, transport=True)
        W = inc.simulate(W0, [0.0, 1.0, 4.0], terms=terms, rtol=1e-11)
        np.testing.assert_allclose(np.einsum("tij,jk->tik", ph.M, W0), W, atol=1e-8)
    moved = derivation.displacement_from_transport(G0, ph.M[-1])
    np.testing.assert_allclose(moved, np.linalg.norm(W[-1] - W0, axis=1) / np.linalg.norm(W0, axis=1), rtol=1e-7)


# --- the derived constants and the statistics of the push (incidental.theory) ---------------------------------


def test_constants_reduce_to_the_pair_values_without_third_encodings():
    assert theory.push_shift(2, 100) == 0.0
    assert theory.expected_push(2, 100) == pytest.approx(1 / math.sqrt(200 * math.pi))
    assert theory.expected_pair_loss(2, 100) == pytest.approx(1 / 200)
    assert theory.expected_norm_drop(2, 100) == pytest.approx(1 / 400)
    assert theory.expected_displacement(2, 100) == pytest.approx(math.sqrt(1 / 800))
    assert theory.push_slope_prediction(2, 100) == 0.5
    assert theory.loss_lift(2, 100) == 1.0
    assert theory.negative_lift(2, 100) == 0.0
    assert theory.atom_prediction(2, 100) == 0.5
    assert theory.end_mean_prediction(2, 100) == pytest.approx(-1 / math.sqrt(2 * math.pi))
    assert theory.push_shift(34, 1000) == pytest.approx(32 / (8000 * math.pi))
    assert theory.negative_lift(34, 1024) == pytest.approx(32 / (4 * math.pi * 32))
    with pytest.raises(ValueError, match="m must be >= n"):
        theory.expected_push(10, 5)


def test_push_picture_law():
    n, m = 64, 4096
    d = theory.negative_lift(n, m)
    x = np.array([-5.0, -1.0, -1e-9, 0.0, 2.0])
    F = theory.end_cdf(x, n, m)
    assert np.all(np.diff(F) >= 0) and F[3] == 1.0 and F[-1] == 1.0
    # the jump at 0 is the atom: Phi(d) = 1/2 + phi(0) d to first order
    assert F[3] - F[2] == pytest.approx(0.5 * (1 + math.erf(d / math.sqrt(2))), abs=1e-8)
    assert F[3] - F[2] == pytest.approx(theory.atom_prediction(n, m), abs=1e-3)
    assert theory.end_negative_survival(np.array([0.0]), n, m)[0] == pytest.approx(1.0)
    # without third encodings the negative side is the half-normal
    y = np.array([0.5, 1.5])
    np.testing.assert_allclose(
        theory.end_negative_survival(y, 2, 100),
        2 * (1 - np.vectorize(lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2))))(y)),
        rtol=1e-12,
    )


def test_end_statistics_tell_independent_from_pushed():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=20_000)
    n, m = 2, 10**8  # no lift: the push picture is min(x0, 0)
    free = theory.end_statistics(x0, x0, n, m, zero=1e-3)
    assert free["positive"] == pytest.approx(0.5, abs=0.02) and free["at_zero"] < 0.01
    pushed = theory.end_statistics(np.minimum(x0, 0.0), x0, n, m, zero=1e-3)
    assert pushed["positive"] == 0 and pushed["at_zero"] == pytest.approx(0.5, abs=0.02)
    assert pushed["mean"] == pytest.approx(-1 / math.sqrt(2 * math.pi), abs=0.02)
    assert pushed["lift"] == 0.0 and pushed["neg_p"] > 0.01


def test_push_statistics_pool_the_interfering_pairs():
    run = runs.phase(8, 256, 3, flow="interference", t_end=15.0, rtol=1e-7)
    one, mask = theory.push_statistics([run]), run.interfering
    c = derivation.gram_schmidt_coefficient(run.G0)[mask]
    assert one["slope"] == pytest.approx(np.sum(run.push[mask] * c) / np.sum(c * c), rel=1e-12)
    assert one["mean_push"] == pytest.approx(run.push[mask].mean(), rel=1e-12)
    assert one["mean_loss"] == pytest.approx(run.L[-1][mask].mean(), rel=1e-12)
    assert one["mean_drop"] == pytest.approx(run.norm_drop.mean(), rel=1e-12)
    assert one["shift_units"] == pytest.approx(one["shift"] * 256 / 6, rel=1e-12)
    assert one["spread_units"] == pytest.approx(one["spread"] * 256 / math.sqrt(6), rel=1e-12)
    assert one["convergence"] == run.convergence
    twice = theory.push_statistics([run, run])  # pooling a run with itself moves no statistic
    assert twice == pytest.approx(one, rel=1e-12)


def test_push_statistics_of_lone_pairs_are_the_pair_formulas():
    seeds = [s for s in range(40) if inc.sample_gram(2, 64, seed=s)[0, 1] > 0][:3]
    pool = [runs.phase(2, 64, s, flow="interference", t_end=30.0, rtol=1e-10) for s in seeds]
    st = theory.push_statistics(pool)
    assert abs(st["shift"]) < 1e-7 * st["mean_push"] and st["spread"] < 1e-7 * st["mean_push"]
    assert st["mean_drop"] == pytest.approx(st["pair_drop"], rel=1e-6)
    assert "shift_units" not in st  # no third encoding: no unit (n - 2)/m


def test_displacement_statistics_match_the_weights():
    n, m = 6, 40
    pool = [runs.phase(n, m, s, flow="interference", t_end=15.0, rtol=1e-10, count=2, transport=True) for s in (1, 2)]
    moved, missed = theory.displacement_statistics(pool)
    squared, errors = [], []
    for run in pool:  # any W(0) with the Gram matrix G(0): its Cholesky factor
        W0 = np.linalg.cholesky(run.G0)
        step = run.M[-1] @ W0 - W0
        squared.append(np.mean(np.sum(step**2, axis=1) / np.sum(W0**2, axis=1)))
        errors.append(np.sum((step + run.push @ W0) ** 2) / np.sum(step**2))
    assert moved == pytest.approx(math.sqrt(np.mean(squared)), rel=1e-10)
    assert missed == pytest.approx(math.sqrt(np.mean(errors)), rel=1e-10)
    assert 0 < missed < 1  # the total-push picture accounts for most of the motion


# --- the phase and its helpers ---------------------------------------------------------------------------------


def test_the_chapter_reads_the_shared_phase():
    assert ch.phase is runs.phase and ch.PhaseRun is runs.PhaseRun and ch.FLOWS is runs.FLOWS
    a = runs.phase(8, 256, 3, flow="interference", t_end=15.0, rtol=1e-7)
    assert runs.phase(8, 256, 3, flow="interference", t_end=15.0, rtol=1e-7) is a
    b = inc.simulate_gram_phase(
        inc.sample_gram(8, 256, seed=3), np.linspace(0, 15.0, 5), terms=("interference",), rtol=1e-7, loss=True
    )
    assert np.array_equal(a.P, b.P) and np.array_equal(a.G, b.G)
    np.testing.assert_allclose(a.L[-1].sum(axis=1), a.norm_drop, atol=1e-9)  # the per-pair losses add up
    assert a.interfering.sum() == np.sum(np.triu(a.G0 > 0, 1)) * 2


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="flow must be one of"):
        runs.flow_terms("gradient")
    with pytest.raises(ValueError, match="G0 must be 2x2"):
        exact.pair_norm_sq_loss(np.eye(3))
    with pytest.raises(ValueError, match="W0 must have exactly 2 rows"):
        exact.pair_limit_weights(np.ones((3, 4)))
    with pytest.raises(ValueError, match="gs must lie"):
        exact.unit_pair_ratios([0.5, 1.0])
    with pytest.raises(ValueError, match="M must have the shape"):
        derivation.displacement_from_transport(np.eye(3), np.eye(2))


BAD_KNOBS = [  # (runner, knob, bad value, what the message says): at least one per runner
    ("two_encodings", "tolerance", -1.0, "tolerance must be positive"),
    ("two_encodings", "g_max", 1.0, "g_max must lie"),
    ("two_encodings", "t_end", 0.0, "t_end must be positive"),
    ("push_scatter", "ms", (64,), "ms must hold at least 2"),
    ("push_scatter", "n", 1, "n must be at least 2"),
    ("third_encodings", "ns", (8, 16), "ns must hold at least 3"),
    ("third_encodings", "shift_rtol", 0.0, "shift_rtol must be positive"),
    ("m_scaling", "m_large", 4**12, "m_large must not exceed"),
    ("m_scaling", "draws", 0, "draws must be at least 1"),
    ("displacement", "weight_m", 4, "weight_m must be >= weight_n"),
    ("displacement", "m", 16, "m must be >= ns"),
    ("displacement", "pairs", 0, "pairs must be at least 1"),
    ("directions", "p_level", 1.5, "p_level must lie in"),
    ("directions", "seeds", (0, -1), "seed must be at least 0"),
    ("end_law", "zero", -1e-3, "zero must be positive"),
    ("end_law", "ms", (16,), "ms must be >= n"),
]


@pytest.mark.parametrize(("name", "knob", "value", "message"), BAD_KNOBS)
def test_a_bad_knob_raises_naming_it(name, knob, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(ch, name)(**{**SMALL[name], knob: value})


BROKEN = {  # one tolerance per runner made far too tight: its check must fail, not hold or stay unresolved
    "two_encodings": ("tolerance", 1e-16),
    "third_encodings": ("shift_rtol", 1e-6),
    "m_scaling": ("constant_rtol", 1e-6),
    "displacement": ("constant_rtol", 1e-6),
    "directions": ("rotation_tolerance", 1e-20),
    "end_law": ("lift_rtol", 1e-6),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_tolerance_makes_a_check_fail(name):
    knob, value = BROKEN[name]
    r = getattr(ch, name)(**{**SMALL[name], knob: value})
    assert any(c.verdict == "fails" for c in r.checks), [c.verdict for c in r.checks]


def test_seeds_for_pools_about_the_asked_number_of_pairs():
    assert len(ch.seeds_for(8, pairs=2048, base=0)) == 32
    assert ch.seeds_for(64, pairs=2048, base=7) == (7,)
    assert len(ch.seeds_for(300, pairs=2048, base=0)) == 1


# --- the runners at small sizes ----------------------------------------------------------------------------------

PHASE = dict(t_end=15.0, rtol=1e-7)
SMALL = {
    "two_encodings": dict(
        m=6,
        pairs=3,
        seed=1,
        t_end=30.0,
        rtol=1e-9,
        overlaps=(0.1, 0.4),
        tolerance=1e-7,
        end_tolerance=1e-12,
        g_min=0.05,
        g_max=0.9,
        g_count=12,
    ),
    "push_scatter": dict(n=8, ms=(64, 4096), seed=1, **PHASE),
    "third_encodings": dict(
        m=4**9, ns=(8, 12, 16, 24, 32, 48), pairs=1024, seed=7, shift_rtol=0.3, drop_rtol=0.02, **PHASE
    ),
    "m_scaling": dict(
        n=32,
        ms=tuple(4**k for k in range(5, 10)),
        draws=2,
        seed=3,
        m_large=4**6,
        exponent_tolerance=0.03,
        constant_rtol=0.1,
        slope_tolerance=0.02,
        ratio_rtol=0.05,
        convergence_bound=1e-6,
        full_tolerance=0.02,
        **PHASE,
    ),
    "displacement": dict(
        ns=(8, 12, 16, 24, 32),
        m=4**6,
        ms=(4**5, 4**6, 4**7, 4**8),
        n=16,
        pairs=512,
        seed=9,
        weight_n=6,
        weight_m=40,
        weight_rtol=1e-9,
        weight_bound=1e-7,
        picture_bound=0.3,
        exponent_tolerance=0.05,
        constant_rtol=0.1,
        **PHASE,
    ),
    "directions": dict(
        n=8,
        m=16,
        seeds=(0, 1),
        p_level=0.01,
        rotation_n=4,
        rotation_m=8,
        rotation_t=1.0,
        rotation_tolerance=1e-9,
        **PHASE,
    ),
    "end_law": dict(
        n=32,
        ms=(4**6, 4**8, 4**10),
        seed=11,
        zero=1e-3,
        se_count=3.0,
        positive_bound=0.01,
        lift_rtol=0.3,
        p_level=0.01,
        norm_bound=1e-8,
        spread_rtol=0.35,
        flow_bound=0.02,
        **PHASE,
    ),
}
FIGURES = {
    "two_encodings": ch.two_encodings_figure,
    "push_scatter": ch.push_scatter_figure,
    "third_encodings": ch.third_encodings_figure,
    "m_scaling": ch.m_scaling_figure,
    "displacement": ch.displacement_figure,
    "end_law": ch.end_law_figure,
}


@pytest.fixture(scope="module")
def small():
    return {name: getattr(ch, name)(**knobs) for name, knobs in SMALL.items()}


def notebook() -> nbformat.NotebookNode:
    return nbformat.read(book.notebook_path(NAME), as_version=4)


def runner_of_results(nb) -> dict[str, str]:
    """``{result variable: runner name}`` from the run cells ``x = ch.runner(**x_knobs)``."""
    found = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            found.update(dict(re.findall(r"^(\w+) = ch\.(\w+)\(\*\*\w+\)", cell.source, flags=re.M)))
    return found


def eval_expressions(nb) -> list[str]:
    return [e for cell in nb.cells if cell.cell_type == "markdown" for e in EVAL.findall(cell.source)]


@pytest.mark.parametrize("name", list(SMALL))
def test_runner_checks_hold_and_record_the_knobs(small, name):
    r = small[name]
    assert isinstance(r, book.Result)
    inc.assert_all(r.checks)
    assert all(c.regime for c in r.checks)  # written by the runner decorator from the knobs
    for key, value in SMALL[name].items():
        assert r.params[key] == value, key
        assert key in r.q
    assert all(c.kind in inc.checks.KINDS for c in r.checks)


def test_every_eval_of_the_notebook_is_a_quoted_number_of_its_runner(small):
    nb = notebook()
    runners = runner_of_results(nb)
    assert set(runners.values()) == set(SMALL)  # every runner of the notebook is tested here
    exprs = eval_expressions(nb)
    assert len(exprs) > 80
    for expr in exprs:
        m = re.fullmatch(r"(\w+)\.q\.(\w+)(?:\.(exponent|low|high|value))?", expr)
        assert m, f"{expr!r} is not of the form result.q.name or result.q.fit.part"
        result, key, part = m.groups()
        assert key in small[runners[result]].q, f"{expr}: {runners[result]} has no quoted number {key!r}"
        assert part is None or repr(getattr(getattr(small[runners[result]].q, key), part))


def test_the_refuting_checks_carry_the_notes_statements(small):
    t1 = [c for c in small["m_scaling"].checks if c.refutes]
    assert len(t1) == 1 and t1[0].claim == "T1" and "one Gram-Schmidt step" in t1[0].refutes
    assert "half a Gram-Schmidt step" in t1[0].statement
    t4 = [c for c in small["end_law"].checks if c.refutes]
    assert len(t4) == 1 and t4[0].claim == "T4" and "independent uniform unit" in t4[0].refutes
    assert "not independent" in t4[0].statement
    assert not any("KS distance" in c.statement for c in small["end_law"].checks)


def test_only_selects_the_checks_of_a_claim(small):
    r = small["third_encodings"]
    assert {c.claim for c in r.only("T1")} == {"T1"}
    assert len(r.only("T1")) + len(r.only("T3")) == len(r.checks)


def test_fits_are_quoted_with_their_intervals(small):
    fit = small["m_scaling"].q.push
    assert re.fullmatch(r"-0\.\d{3} \[-0\.\d{3}, -0\.\d{3}\]", repr(fit))
    assert fit.low.raw < fit.exponent.raw < fit.high.raw


def test_a_declared_quantity_follows_its_knob(small):
    """The bound of the no-positive check is stated for the runner's ``zero`` (a ``{zero}`` field of the table)."""
    positive = [c for c in small["end_law"].checks if c.statement.startswith("no pair ends clearly positive")]
    assert len(positive) == 1 and "√mκ > 0.001" in positive[0].predicted
    panel = ch.end_explorable().panel(n=16, m=1024, seed=0)
    assert any(c.predicted.startswith("fraction √mκ > 0.001") for c in panel.checks)


FIGURE_CALLS = {  # the figure cells of the notebook, in order, and what each caption must quote
    "two_encodings_figure(pair)": ("pair.q.g_min", "pair.q.g_max", "pair.q.push_big"),
    "push_scatter_figure(scatter)": ("scatter.q.n", "scatter.q.seed", "scatter.q.t_end", "scatter.q.m_first"),
    "third_encodings_figure(third)": ("third.q.m", "third.q.pairs", "third.q.n_min", "third.q.shift_const"),
    "m_scaling_figure(scaling)": ("scaling.q.n", "scaling.q.draws", "scaling.q.push.exponent", "scaling.q.m_max"),
    "displacement_figure(disp)": ("disp.q.m", "disp.q.n", "disp.q.picture_abs.exponent"),
    "end_law_figure(end)": ("end.q.n", "end.q.t_end", "end.q.m_max", "end.q.zero_last"),
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_builders_return_the_figure_only(small, name):
    assert isinstance(FIGURES[name](small[name]), Figure)


def test_each_figure_cell_is_followed_by_its_caption_quoting_the_knobs():
    cells = notebook().cells
    figure_cells = [k for k, c in enumerate(cells) if c.cell_type == "code" and "chapter.figure(" in c.source]
    assert len(figure_cells) == len(FIGURE_CALLS)
    for number, (k, (call, keys)) in enumerate(zip(figure_cells, FIGURE_CALLS.items()), start=1):
        assert f"chapter.figure(ch.{call})" in cells[k].source
        caption = cells[k + 1]
        assert caption.cell_type == "markdown" and caption.source.startswith(f"**Figure 5.{number}.**")
        for key in keys:
            assert f"{{eval}}`{key}`" in caption.source, (call, key)
        assert "{{" not in caption.source  # TeX with single braces


def test_the_displacement_caption_says_what_it_plots(small):
    """The orange points are the absolute error of the total-push picture, which falls like 1/m."""
    assert float(small["displacement"].q.picture_abs.exponent) == pytest.approx(-1.0, abs=0.15)
    cells = notebook().cells
    k = next(k for k, c in enumerate(cells) if "displacement_figure" in c.source)
    assert "m^{-1}$ (fitted\n{eval}`disp.q.picture_abs.exponent`" in cells[k + 1].source


# --- widgets --------------------------------------------------------------------------------------------------


def notebook_widgets() -> dict[str, inc.explore.Explorable]:
    """The widgets as the notebook shows them, with the grids its widget cells set."""
    cells = [c.source for c in notebook().cells if c.cell_type == "code" and "_explorable()" in c.source]
    return {name: eval(src, {"ch": ch}) for name, src in zip(("push", "end"), cells)}


def test_explorables_defaults_hold_and_are_fast():
    ex = ch.explorables()
    assert set(ex) == {"push", "end"}
    for e in notebook_widgets().values():
        assert len(e.grid_points()) <= 24
        inc.assert_all(e.panel().checks)
        e.update()  # warm the cache of simulations
        e._cache.clear()  # but not the rendered panel
        html = e.update()
        assert "<svg" in html


def test_every_panel_of_the_grids_resolves_or_says_why():
    """Over the notebook's grids, a check holds, fails where the prose says so, or is unresolved with a reason;
    the T3 row of the push widget cannot fail at n = 8 (28 pairs), so it is shown unresolved there."""
    for name, e in notebook_widgets().items():
        for values in e.grid_points():
            for c in e.panel(**values).checks:
                assert c.regime and (c.verdict != "unresolved" or c.why), (name, values, c)
                if c.verdict == "fails":
                    assert name == "push" and (values["n"], values["m"], values["seed"]) == (32, 256, 0), c
                if name == "push" and c.claim == "T3":
                    assert c.verdict == ("unresolved" if values["n"] == 8 else "holds"), (values, c)


def test_the_tries_of_the_prose_are_on_the_static_grid():
    ex = notebook_widgets()
    grid = {name: {c.name: c.grid for c in e.controls} for name, e in ex.items()}
    assert 32 in grid["push"]["n"] and {256, 65536} <= set(grid["push"]["m"])
    assert 64 in grid["end"]["n"] and {1024, 262144} <= set(grid["end"]["m"])
    text = " ".join(c.source for c in notebook().cells if c.cell_type == "markdown")
    tries = re.findall(r"Try \$n = (\d+)\$ with \$m = (\d+)\$", text)
    assert len(tries) == 2
    for n, m in tries:
        assert any(int(n) in g["n"] and int(m) in g["m"] for g in grid.values()), (n, m)


def test_the_push_widget_marks_where_the_first_order_correction_fails():
    """At n = 32, m = 256 ((n-2)/sqrt(m) ~ 2) the slope check fails for seed 0: the text says so."""
    panel = ch.push_explorable().panel(n=32, m=256, seed=0, pair=1)
    slope = [c for c in panel.checks if c.statement.startswith("slope")][0]
    assert slope.verdict == "fails"
    for m in (4096, 65536):
        inc.assert_all(ch.push_explorable().panel(n=32, m=m, seed=0, pair=1).checks)


def test_ranked_pair_is_clipped_to_the_interfering_pairs():
    run = runs.phase(8, 256, 0, flow="interference", t_end=15.0, rtol=1e-9, count=61)
    i, j = ch.ranked_pair(run, 1)
    assert run.G0[i, j] == np.max(inc.offdiagonal(run.G0))
    assert run.G0[ch.ranked_pair(run, 10_000)] > 0


# --- the notebook: change one knob, everything that depends on it follows -------------------------------------


def test_changing_a_knob_changes_the_quoted_numbers_and_the_caption(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENTAL_LEDGER_DIR", str(tmp_path))  # the modified run must not write the ledger
    monkeypatch.setenv("INCIDENTAL_WIDGETS", "live")  # one panel per widget, not the static grid
    after = probe(NAME, {"scatter_knobs = dict(n=32,": "scatter_knobs = dict(n=24,"})
    knobs = notebook_knobs("scatter_knobs")
    assert knobs["n"] == 32
    before = ch.push_scatter(**knobs)  # the experiment at its committed knobs
    # every {eval} of the notebook evaluated in the modified kernel (a missing name would have raised)
    assert set(after.quoted) == set(eval_expressions(notebook()))
    assert after.quoted["scatter.q.n"] == "24"
    for key in ("slope_first", "spread_first"):  # at the larger m the slopes round alike
        assert after.quoted[f"scatter.q.{key}"] != repr(getattr(before.q, key)), key
    caption = after.captions[1]
    assert caption.startswith("**Figure 5.2.**") and "$n$ = 24 encodings" in caption and "$n$ = 32" not in caption
    assert after.quoted["scatter.q.slope_first"] in caption
    assert after.quoted["scatter.q.slope_first"] != repr(before.q.slope_first)
    other = notebook_knobs("scaling_knobs")  # another experiment: unchanged
    assert after.quoted["scaling.q.n"] == repr(other["n"]) == "32"
    assert len(after.captions) == 6


def notebook_knobs(name: str) -> dict:
    """A knobs cell of the notebook, evaluated (after the phase's knobs, which it may use)."""
    return knobs_of(NAME, ch=ch)[name]
