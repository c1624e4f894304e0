"""Chapter 2 (the numerator): the split of the rate, the size of the second-order terms, the
first-order relative rate at initialisation and along the flow (claims N1-N3); the chapter's
runners at small sizes, its figures and widgets, and its notebook (every quoted number exists, and
a knob changed in the notebook changes the numbers and the caption that depend on it; a bad knob is
refused naming it; a broken tolerance fails; the widgets never show "holds" for a check that cannot fail)."""

import inspect
import re

import incidental as inc
import nbformat
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from incidental import book, figures, runs, theory
from incidental.chapters import numerator as ch
from matplotlib.figure import Figure
from notebook_probe import cells, knobs_of, probe

NOTEBOOK = book.notebook_path("02_numerator")

# Every runner at small sizes (or at another seed): name in the notebook -> (runner, knobs).
SMALL = {
    "rate": (
        ch.exact_rate,
        dict(
            sizes=((8, 8), (16, 64)),
            seed=3,
            n=8,
            m=64,
            t0=0.5,
            steps=(1e-2, 3e-3, 1e-3),
            split_tolerance=1e-12,
            fd_tolerance=1e-5,
            order_tolerance=0.05,
        ),
    ),
    "relu_free": (
        ch.relu_free,
        dict(n=128, m=16384, seed=7, pairs=32000, rtol=0.08, gap_n=6, gap_m=16, gap_tolerance=1e-12),
    ),
    "scaling": (
        ch.second_order_scaling,
        dict(
            n=32,
            ms=tuple(4**k for k in range(5, 14, 2)),
            m=2**20,
            ns=(8, 32, 128, 512),
            seed=5,
            pairs=8000,
            exponent_tolerance=0.02,
            constant_rtol=0.05,
        ),
    ),
    "mean": (ch.conditional_mean, dict(n=128, m=1024, seed=21, draws=8, rtol=0.1, bins=8)),
    "law": (
        ch.error_law,
        dict(n=64, m=16384, seed=3, pairs=16000, tolerance=0.1, median_sigmas=4, ks_bound=0.03, fraction_atol=0.03),
    ),
    "grid": (
        ch.breakdown,
        dict(ns=(16, 64), ms=(4096, 65536), seed=4, pairs=8000, tolerance=0.1, small_load=0.02, deviation_bound=0.15),
    ),
    "flow": (
        ch.late_flow,
        dict(n=32, m=4096, seed=1, t_end=8.0, points=17, rtol=1e-11, settle_bound=1.2, rate_rtol=0.05, free_rtol=0.3),
    ),
    "late": (
        ch.late_scaling,
        dict(
            m=4096,
            ns=(8, 16, 32, 64),  # three sizes cannot tell the exponent 1 from 1/2 or 3/2: unresolved
            n=16,
            ms=(1024, 4096, 16384),
            seed=2,
            t_end=8.0,
            pairs=300,
            rtol=1e-11,
            exponent_tolerance=0.2,
            late_rtol=0.2,
        ),
    ),
}
FIGURES = {
    "rate": ch.exact_rate_figure,
    "relu_free": ch.relu_free_figure,
    "scaling": ch.second_order_scaling_figure,
    "mean": ch.conditional_mean_figure,
    "law": ch.error_law_figure,
    "grid": ch.breakdown_figure,
    "flow": ch.late_flow_figure,
    "late": ch.late_scaling_figure,
}


@pytest.fixture(scope="module")
def results():
    return {name: runner(**knobs) for name, (runner, knobs) in SMALL.items()}


def notebook_cells():
    return nbformat.read(NOTEBOOK, as_version=4).cells


def eval_expressions(cells) -> list[str]:
    """Every ``{eval}`expr``` of the notebook's Markdown cells, in order."""
    return [e for c in cells if c.cell_type == "markdown" for e in re.findall(r"\{eval\}`([^`]+)`", c.source)]


# --- N1 -------------------------------------------------------------------------------------------


def test_split_by_hand_on_three_encodings():
    # G_01 > 0, G_02 > 0, G_12 < 0: for the pair (0, 1) the only third encoding is k = 2.
    G = np.array([[1.0, 0.3, 0.2], [0.3, 2.0, -0.1], [0.2, -0.1, 1.5]])
    first = -0.3 * (1.0 + 2.0)
    second = -(max(0.2, 0) * -0.1 + max(-0.1, 0) * 0.2)  # = +0.02
    second_free = -2 * 0.2 * -0.1  # = +0.04: twice the exact term
    assert ch.pair_terms(G)["first"][0] == pytest.approx(first)
    assert inc.numerator_second_order(G)[0, 1] == pytest.approx(second)
    assert inc.numerator_second_order(G, relu=False)[0, 1] == pytest.approx(second_free)
    assert inc.numerator_rate(G)[0, 1] == pytest.approx(first + second)


@given(seed=st.integers(0, 10_000), n=st.integers(3, 12))
def test_rate_is_first_plus_second_and_relative_rate_identity(seed, n):
    G = inc.sample_gram(n, 2 * n, seed=seed)
    assert ch.decomposition_error(G) < 1e-13
    p = ch.pair_terms(G)
    np.testing.assert_allclose(p["first"] + p["second"], p["rate"], atol=1e-14)
    # eq-relative-rate: rate / G_ij = -(G_ii + G_jj) (1 + eps_ij)
    predicted = p["first_order_relative_rate"] * (1 + p["second"] / p["first"])
    np.testing.assert_allclose(p["relative_rate"], predicted, rtol=1e-10)
    assert np.all(p["overlap"] > 0)


def test_relu_free_terms_differ_unless_all_pairs_interfere():
    gap, size = ch.all_interfering_gap(8, 32, seed=2)
    assert gap < 1e-12 * size and size > 1
    G = inc.sample_gram(16, 64, seed=2)
    assert np.max(np.abs(inc.numerator_second_order(G, relu=False) - inc.numerator_second_order(G))) > 1e-3


def test_relu_free_check_corrects_the_note(results):
    corrected = [c for c in results["relu_free"].checks if c.refutes]
    assert len(corrected) == 1 and "own size" in corrected[0].statement and "2 Σ_k" in corrected[0].refutes
    assert corrected[0].predicted.startswith("1 ")  # the book's prediction, not the refuted statement's


# --- the formulas this chapter moved to the core ----------------------------------------------------


def test_theory_constants():
    assert theory.second_order_ratio(10, 100) == pytest.approx(np.sqrt(3 * 8 / 800))
    assert theory.second_order_mean_bias(10, 100) == pytest.approx(0.04)
    assert theory.late_first_order_error(10, 100) == pytest.approx(8 / (2 * np.sqrt(2 * np.pi * 100)))
    assert theory.late_collective_rate(10, 100) == pytest.approx(2 - 8 / np.sqrt(2 * np.pi * 100))
    assert theory.late_relu_free_second_order(10, 100) == pytest.approx(-8 / (np.pi * 100))
    assert theory.half_cauchy_exceedance(1.0, 1.0) == pytest.approx(0.5)
    assert theory.half_cauchy_exceedance(1e6, 2.0) == pytest.approx(2 * 2.0 / (np.pi * 1e6), rel=1e-6)
    assert theory.load_at_median_error(0.1) == pytest.approx(8 * 0.01 / 3)
    # the inverse of the median law: sqrt(3 load / 8) at that load is the tolerance
    assert np.sqrt(3 * theory.load_at_median_error(0.2) / 8) == pytest.approx(0.2)
    ratios = theory.relu_free_ratios()
    assert ratios == pytest.approx({"difference": 1.0, "size": np.sqrt(8 / 3), "correlation": np.sqrt(2 / 3)})


def test_half_cauchy_median_standard_error_by_simulation():
    rng = np.random.default_rng(0)
    medians = [np.median(np.abs(rng.standard_cauchy(400))) for _ in range(2000)]
    assert np.std(medians) == pytest.approx(theory.half_cauchy_median_se(1.0, 400), rel=0.1)


def test_robust_limits_ignore_heavy_tails_but_keep_markers():
    x = np.random.default_rng(1).standard_cauchy(2000) - 1.2
    lo, hi = figures.robust_limits(x, include=(-2.0,))
    assert -2.0 > lo and hi < 20 and lo > -30 and np.mean((x >= lo) & (x <= hi)) > 0.85
    line = figures.through([1.0, 100.0], [2.0, 0.2])
    assert line(np.array([10.0]))[0] == pytest.approx(np.sqrt(0.4))


# --- the runners at small sizes -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SMALL))
def test_runner_checks_hold_and_record_params(results, name):
    r = results[name]
    assert r.params == SMALL[name][1]
    assert r.checks and all(c.holds for c in r.checks), [c for c in r.checks if not c.holds]
    assert all(c.claim in ("N1", "N2", "N3") for c in r.checks)
    assert all(c.regime and c.at is None for c in r.checks)  # the regime is written from the knobs


# A tolerance made too tight: some check of the runner must then fail.
BROKEN = {
    "rate": dict(fd_tolerance=1e-12),
    "relu_free": dict(rtol=1e-4),
    "scaling": dict(constant_rtol=1e-4),
    "mean": dict(rtol=1e-4),
    "law": dict(ks_bound=1e-4),
    "grid": dict(deviation_bound=1e-4),
    "flow": dict(rate_rtol=1e-5),
    "late": dict(late_rtol=1e-4),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_a_broken_tolerance_fails(name):
    runner, knobs = SMALL[name]
    r = runner(**{**knobs, **BROKEN[name]})
    assert any(c.verdict == "fails" for c in r.checks), [(c.statement, c.verdict) for c in r.checks]


# One bad value per runner: the ValueError names the knob the reader typed.
BAD = [
    ("rate", "fd_tolerance", -1.0),
    ("rate", "steps", ()),
    ("rate", "steps", (1e-2, 3e-3, 2.0)),  # a step beyond t0
    ("rate", "sizes", ((16, 8),)),
    ("relu_free", "gap_m", 4),
    ("relu_free", "rtol", 0.0),
    ("scaling", "ms", (1024, 4096)),
    ("scaling", "exponent_tolerance", -0.1),
    ("mean", "draws", 0),
    ("mean", "n", 2),
    ("law", "median_sigmas", 0),
    ("law", "seed", -1),
    ("grid", "small_load", 0.0),
    ("grid", "deviation_bound", float("nan")),
    ("flow", "points", 2),
    ("flow", "t_end", -1.0),
    ("late", "ns", (2, 8, 16)),
    ("late", "pairs", 0),
]


@pytest.mark.parametrize("name,knob,value", BAD)
def test_a_bad_knob_is_refused_naming_it(name, knob, value):
    runner, knobs = SMALL[name]
    with pytest.raises(ValueError, match=knob):
        runner(**{**knobs, knob: value})


def test_every_knob_of_the_notebook_reaches_a_runner_by_name():
    knobs = knobs_of("02_numerator", ch=ch)
    source = "\n".join(cells("02_numerator", "code"))
    for name, values in knobs.items():
        runner = getattr(ch, re.search(rf"= ch\.(\w+)\(\*\*{name}\)", source).group(1))
        assert runner.runner and set(values) == set(inspect.signature(runner).parameters), name


def test_every_quoted_number_of_the_notebook_exists(results):
    cells = notebook_cells()
    runners = dict(
        re.findall(
            r"^(\w+) = ch\.(\w+)\(\*\*\w+_knobs\)", "\n".join(c.source for c in cells if c.cell_type == "code"), re.M
        )
    )
    assert {name: getattr(ch, fn) for name, fn in runners.items()} == {k: v[0] for k, v in SMALL.items()}
    exprs = eval_expressions(cells)
    assert len(exprs) > 50
    for expr in exprs:
        name, q, key, *part = expr.split(".")
        assert q == "q" and key in results[name].q, expr
        shown = repr(eval(expr, {}, {name: results[name]}))  # a part (fit.exponent, start.low) exists too
        assert shown and not re.search(r"[A-Za-z_]\w*\(", shown), (expr, shown)  # a formatted number, not an object


def test_notebook_has_no_glue_and_no_cross_chapter_equations():
    cells = notebook_cells()
    text = "\n".join(c.source for c in cells)
    assert "glue" not in text and not any(c.metadata.get("mystnb") for c in cells)
    own = set(re.findall(r"\$\$ \((eq-[\w-]+)\)", text))
    assert set(re.findall(r"\{eq\}`([\w-]+)`", text)) <= own
    assert all("<" in d for d in re.findall(r"\{doc\}`([^`]+)`", text))  # every {doc} link has a title
    assert cells[-1].cell_type == "code" and cells[-1].source.strip() == "chapter.finish()"


@pytest.mark.parametrize("name", list(SMALL))
def test_figure_builders_return_a_figure(results, name):
    fig = FIGURES[name](results[name])
    assert isinstance(fig, Figure) and fig.axes


def test_each_figure_is_followed_by_its_caption_quoting_its_parameters():
    nb = notebook_cells()
    figures_seen = 0
    for k, c in enumerate(nb):
        m = re.fullmatch(r"chapter\.figure\(ch\.(\w+)\((\w+)\)\)", c.source.strip())
        if c.cell_type != "code" or not m:
            continue
        figures_seen += 1
        fn, name = m.groups()
        assert FIGURES[name] is getattr(ch, fn)
        caption = nb[k + 1]
        assert caption.cell_type == "markdown" and caption.source.startswith(f"**Figure 2.{figures_seen}.**")
        quoted = set(re.findall(r"\{eval\}`(\w+)\.q\.(\w+)", caption.source))
        assert {n for n, _ in quoted} == {name}, caption.source  # it quotes its own result only
        params = {key for _, key in quoted} & set(SMALL[name][1])
        assert params & {"n", "m", "ns", "pairs", "t_end"}, (name, quoted)  # and the sizes it ran at
        assert not re.search(r"\$[nm] = \d", caption.source), "a size typed into a caption"
    assert figures_seen == len(FIGURES)


def test_late_check_corrects_the_note_and_error_settles(results):
    flow, late = results["flow"], results["late"]
    s = flow.data["stats"]
    assert s["exact"][1][-1] < 1.0 < s["free"][1][-1]
    assert [c for c in late.checks if c.refutes][0].statement.startswith("late")
    assert float(flow.q.rate) == pytest.approx(theory.late_collective_rate(32, 4096), rel=0.05)


def test_flow_is_the_shared_run_reproducible_and_matches_a_tighter_tolerance():
    a = runs.phase(8, 256, 2, flow="interference", t_end=4.0, rtol=1e-11, count=9)
    b = runs.phase(8, 256, 2, flow="interference", t_end=4.0, rtol=1e-12, count=9)
    np.testing.assert_allclose(
        ch.pair_terms(a.G[-1])["relative_error"], ch.pair_terms(b.G[-1])["relative_error"], rtol=1e-4
    )
    s = ch.flow_stats(8, 256, 2, 4.0, 9, 1e-11)
    assert s["times"] is a.times and len(s["terms"]) == 9  # a view of the shared run, not a second integration
    runs.phase.cache_clear()
    np.testing.assert_array_equal(runs.phase(8, 256, 2, flow="interference", t_end=4.0, rtol=1e-11, count=9).G, a.G)


@pytest.mark.parametrize(
    "call",
    [
        lambda: theory.second_order_ratio(1, 10),
        lambda: theory.late_first_order_error(10, 5),
        lambda: theory.half_cauchy_exceedance(1.0, 0.0),
        lambda: theory.load_at_median_error(-0.1),
        lambda: ch.late_flow(**{**SMALL["flow"][1], "m": 4}),
        lambda: ch.pair_terms(np.ones((3, 4))),
        lambda: ch.conditional_mean(**{**SMALL["mean"][1], "n": 1}),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_same_seed_same_result():
    a = ch.pooled_pair_terms(8, 64, seed=3, pairs=200)
    b = ch.pooled_pair_terms(8, 64, seed=3, pairs=200)
    np.testing.assert_array_equal(a["second"], b["second"])
    assert ch.seeds_for(8, 200) == 8


# --- widgets ----------------------------------------------------------------------------------------


def notebook_widgets() -> dict:
    """The widgets as the notebook's widget cells show them (with the grids the cells set)."""
    shown = [c for c in cells("02_numerator", "code") if "explorable()" in c]
    return {src.split("_explorable")[0].split(".")[-1]: eval(src.strip(), {"ch": ch}) for src in shown}


def test_explorables_grids_and_defaults():
    ex = ch.explorables()
    widgets = notebook_widgets()
    assert set(ex) == set(widgets) == {"initial", "flow"}
    for e in widgets.values():
        assert len(e.grid_points()) <= 24
        panel = e.panel()
        assert all(c.holds for c in panel.checks), [c for c in panel.checks if not c.holds]
        assert panel.figure.startswith("<svg") and all(c.regime for c in panel.checks)


def test_widget_grids_are_set_in_the_notebook_beside_the_prose_that_names_them():
    widgets = notebook_widgets()
    grids = {name: {c.name: c.grid for c in e.controls} for name, e in widgets.items()}
    assert 128 in grids["initial"]["n"] and 256 in grids["initial"]["m"] and 16384 in grids["initial"]["m"]
    assert 64 in grids["flow"]["n"] and 1024 in grids["flow"]["m"] and {0.0, 8.0} <= set(grids["flow"]["t"])


def test_widgets_over_their_grids_never_hold_without_resolving():
    # every panel of the rendered book: a verdict from the three, and an unresolved one says why
    for e in notebook_widgets().values():
        for values in e.grid_points():
            for c in e.panel(**values).checks:
                assert c.verdict in ("holds", "fails", "unresolved") and c.resolved == (not c.why), (values, c)
                if c.kind == "value" and c.holds:  # a close check: its tolerance is below its prediction
                    pred, tol = (float(x) for x in re.findall(r"[-\d.e+]+", c.predicted)[:2])
                    assert tol < abs(pred), (values, c)


def test_widget_panels_at_defaults_compute_from_warm_caches():
    for e in ch.explorables().values():
        e.panel()  # warm the caches (simulation, Gram draw)
        e.compute(**e.defaults)


def test_initial_panel_verdict_fails_where_n_over_m_is_large():
    panel = ch.initial_panel(128, 256, 0)
    verdict = [c for c in panel.checks if "median pair" in c.statement][0]
    assert not verdict.holds


def test_flow_panel_keeps_the_markers_in_view_despite_heavy_tails():
    # the second widget at n = 64, m = 1024: the relative rates have heavy tails at t = 0
    s = ch.flow_stats(64, 1024, 0, ch.FLOW["t_end"], ch.FLOW["points"], ch.FLOW["rtol"])
    late = -theory.late_collective_rate(64, 1024)
    for k in range(len(s["times"])):
        rates = s["terms"][k]["relative_rate"]
        ax = ch.relative_rate_axes(rates, 64, 1024, float(s["times"][k]))
        lo, hi = ax.xlim
        assert lo < -2.0 < late < hi and hi - lo < 6, (s["times"][k], ax.xlim, np.ptp(rates))
        assert np.mean((rates >= lo) & (rates <= hi)) > 0.85
    assert np.ptp(s["terms"][0]["relative_rate"]) > 20  # the tail that used to stretch the axis
    assert "of pairs off the axis" in ch.flow_panel(0.0, 64, 1024).figure


# --- the notebook: one knob changed ------------------------------------------------------------------


def test_changing_a_knob_changes_the_quoted_numbers_and_the_caption(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENTAL_LEDGER_DIR", str(tmp_path))  # the modified run must not write the ledger
    # the flow of the first experiment
    after = probe("02_numerator", {"    n=16,\n    m=256,": "    n=16,\n    m=512,"})
    knobs = _notebook_knobs("rate_knobs")
    assert knobs["m"] == 256
    before = ch.exact_rate(**knobs)  # the notebook's first experiment at its committed knobs
    assert after.quoted["rate.q.m"] == "512" and after.quoted["rate.q.n"] == "16"
    for key in ("fd", "fd_w"):
        assert after.quoted[f"rate.q.{key}"] != repr(getattr(before.q, key)), key
    assert after.quoted["rate.q.split"] == repr(before.q.split)  # the identity's draws do not use the flow's m
    other = ch.relu_free(**_notebook_knobs("relu_free_knobs"))  # another experiment: unchanged
    assert after.quoted["relu_free.q.difference"] == repr(other.q.difference)
    caption = after.captions[0]
    assert caption.startswith("**Figure 2.1.**") and "$m =$ 512" in caption and "$m =$ 256" not in caption
    assert "{eval}" not in caption and after.quoted["rate.q.fit.exponent"] in caption
    assert len(after.captions) == len(FIGURES) and all(c.startswith("**Figure 2.") for c in after.captions)
    assert "m=512" in after.tables[0] and "m=256" not in after.tables[0]


def _notebook_knobs(name: str) -> dict:
    return knobs_of("02_numerator", ch=ch)[name]  # the notebook's own knobs cell
