"""Checks, exponent fits, the SVG plotter and the explorable widgets."""

import xml.etree.ElementTree as ET

import incidental as inc
import numpy as np
import pytest
from incidental import book, svgplot
from incidental.explore import resolve_mode


def test_fit_exponent_interval_has_its_nominal_coverage():
    sizes = 2.0 ** np.arange(4, 20)
    covered = []
    for seed in range(400):
        noise = np.random.default_rng(seed).normal(0, 0.02, sizes.size)
        fit = inc.fit_exponent(sizes, 3.0 * sizes**-0.5 * np.exp(noise))
        covered.append(fit.low < -0.5 < fit.high)
        assert fit.high - fit.low < 0.02
        assert fit.prefactor == pytest.approx(3.0, rel=0.1)
    assert 0.91 < np.mean(covered) < 0.99  # a 95% interval covers the truth about 95% of the time


def test_check_exponent_fails_a_wrong_prediction():
    sizes = 2.0 ** np.arange(4, 12)
    check, _ = inc.Declared("X", "wrong", "exponent fit").exponent(sizes=sizes, values=sizes**-1.0, predicted=-0.5)
    assert check.verdict == "fails" and not check.holds
    with pytest.raises(AssertionError, match="claim X FAILS"):
        check.assert_holds()


def test_an_exponent_interval_covering_a_rival_is_unresolved():
    sizes = 2.0 ** np.arange(4, 8)
    noise = np.random.default_rng(0).normal(0, 0.5, sizes.size)
    d = inc.Declared("X", "Theta(1/sqrt(m))", "exponent fit")
    check, fit = d.exponent(sizes=sizes, values=sizes**-0.5 * np.exp(noise), predicted=-0.5)
    assert fit.low < -1.0 or fit.high > 0.0  # the interval is wide enough to cover a rival
    assert check.verdict == "unresolved" and not check.holds and "rival" in check.why
    tight, _ = d.exponent(sizes=sizes, values=sizes**-0.5, predicted=-0.5)
    assert tight.verdict == "holds"


def test_check_close_and_below():
    a, b = inc.Declared("A", "s"), inc.Declared("B", "s<1", "approximation")
    assert a.close(predicted=1.0, measured=1.04, rtol=0.05).holds
    assert a.close(predicted=1.0, measured=1.06, rtol=0.05).verdict == "fails"
    assert b.below(measured=np.nan, bound=1.0).verdict == "fails"
    assert b.above(measured=0.5, bound=0.4).holds and b.above(measured=0.3, bound=0.4).verdict == "fails"
    html = inc.checks_html([b.below(measured=0.5, bound=1.0)])
    assert "holds" in html and "s&lt;1" in html


def test_check_p_value_holds_unless_the_test_rejects():
    law = inc.Declared("T4", "law", "law")
    assert law.p_value(p=0.3, level=0.01).holds
    rejected = law.p_value(p=0.001, level=0.01)
    assert not rejected.holds and rejected.kind == "law"
    assert not law.p_value(p=float("nan"), level=0.01).holds


def test_svg_is_well_formed_xml():
    ax = svgplot.Axes(
        [
            svgplot.Series([1, 10, 100], [1e-3, 1e-2, 1e-1], label="a<b"),
            svgplot.Series(*svgplot.histogram(np.random.default_rng(0).normal(size=100)), kind="steps"),
        ],
        xlabel="x",
        ylabel="y",
        xlog=True,
        ylog=True,
        hlines=[(0.01, "h")],
        vlines=[(5, "v")],
    )
    root = ET.fromstring(svgplot.svg([ax, svgplot.Axes([svgplot.Series([0, 1], [0, 1], kind="points")])]))
    assert root.tag.endswith("svg")


def toy_panel(a: int, b: float) -> inc.Panel:
    check = inc.Declared("Z", "a*b").close(predicted=a * b, measured=a * b, atol=1e-12, at=dict(a=a)).placed({})
    return inc.Panel([check], svgplot.svg(svgplot.Axes([svgplot.Series([0, 1], [0, a * b])])))


def toy_explorable() -> inc.Explorable:
    return inc.Explorable(
        toy_panel,
        [inc.Control("a", "a", (1, 2, 3), 2), inc.Control("b", "b", (0.5, 1.5), 0.5, kind="float")],
        title="toy",
    )


def test_static_widget_precomputes_every_grid_point():
    import ipywidgets as widgets

    box = toy_explorable().static_widget()
    stacks = [w for w in box.children if isinstance(w, widgets.Stack)]
    assert len(stacks) == 1 and len(stacks[0].children) == 3
    leaves = [leaf for inner in stacks[0].children for leaf in inner.children]
    assert len(leaves) == 6 and len({leaf.value for leaf in leaves}) == 6
    assert stacks[0].selected_index == 1  # the default a=2


def test_live_widget_recomputes_on_move():
    box = toy_explorable().live_widget()
    slider, out = box.children[1], box.children[-1]
    before = out.value
    slider.value = 3
    assert out.value != before and "a = 3" in out.value


def test_control_rejects_a_default_off_the_grid():
    with pytest.raises(ValueError, match="default"):
        inc.Control("a", "a", (1, 2), 3)


def test_mode_resolution(monkeypatch):
    monkeypatch.delenv("INCIDENTAL_WIDGETS", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert resolve_mode() == "static"
    monkeypatch.setenv("JPY_SESSION_NAME", "book/01_setup.ipynb")
    assert resolve_mode() == "live"
    monkeypatch.setenv("INCIDENTAL_WIDGETS", "static")
    assert resolve_mode() == "static"
    with pytest.raises(ValueError, match="mode"):
        resolve_mode("sometimes")


def picky_panel(n: int, m: int) -> inc.Panel:
    if m < n:
        raise ValueError(f"m must be >= n, got n={n}, m={m}")
    return toy_panel(n, float(m))


def picky_explorable() -> inc.Explorable:
    return inc.Explorable(
        picky_panel,
        [
            inc.Control("n", "features n", (2, 4), 2, low=2, high=8),
            inc.Control("m", "neurons m", (4, 8), 4, low=2, high=8),
        ],
        title="picky",
    )


def test_live_widget_shows_a_refused_setting_instead_of_a_stale_panel():
    box = picky_explorable().live_widget()
    n_slider, m_slider, out = box.children[1], box.children[2], box.children[-1]
    m_slider.value = 3
    n_slider.value = 8  # m = 3 < n = 8: the model refuses it
    assert "refused" in out.value and "m must be &gt;= n" in out.value
    assert "features n from 2 to 8" in out.value and "incidental-panel" not in out.value
    n_slider.value = 2  # back to an allowed setting: a panel again
    assert "incidental-panel" in out.value and "features n = 2, neurons m = 3" in out.value


def test_live_widget_shows_computing_before_an_uncached_panel():
    explorable = toy_explorable()
    seen = []
    explorable.safe_update({"a": 3}, before=lambda: seen.append("computing"))
    explorable.safe_update({"a": 3}, before=lambda: seen.append("again"))  # cached: no placeholder
    assert seen == ["computing"]
    assert "Computing the panel for a = 3, b = 0.5" in explorable.computing_html({"a": 3})


def test_an_unexpected_error_in_a_panel_is_shown_not_raised():
    def broken(a: int) -> inc.Panel:
        raise RuntimeError("boom")

    explorable = inc.Explorable(broken, [inc.Control("a", "a", (1, 2), 1)])
    assert "could not be computed" in explorable.safe_update({"a": 2}) and "boom" in explorable.safe_update({"a": 2})


def test_a_tolerance_as_large_as_the_prediction_is_unresolved_never_holds():
    d = inc.Declared("D2", "mean = {value}")
    loose = d.close(predicted=-0.0004, measured=0.0002, atol=0.0007, value=-0.0004)
    assert loose.verdict == "unresolved" and not loose.holds and "tolerance" in loose.why
    assert loose.statement == "mean = -0.0004"
    with pytest.raises(AssertionError, match="UNRESOLVED"):
        loose.assert_holds()
    html = inc.checks_html([loose])
    assert "unresolved" in html and "holds" not in html
    tight = d.close(predicted=-0.06, measured=-0.05, atol=0.012, value=-0.06)
    assert tight.verdict == "holds" and not tight.why
    far = d.close(predicted=-0.0004, measured=0.5, atol=0.0007, value=0)
    assert far.verdict == "fails"  # a wide tolerance that still disagrees fails
    bound = inc.Declared("B", "rel. error small", "approximation")
    assert bound.below(measured=0.5, bound=1.2, scale=1.0).verdict == "unresolved"
    assert bound.below(measured=0.05, bound=0.1, scale=1.0).verdict == "holds"
    assert bound.below(measured=2.0, bound=1.2, scale=1.0).verdict == "fails"


def test_declarations_read_a_chapter_table_and_refuse_a_missing_one():
    table = inc.declarations("setup")
    assert table.forces.claim == "forces" and table.norm.kind == "exponent fit"
    with pytest.raises(AttributeError, match="declared:"):
        _ = table.nothing
    with pytest.raises(ValueError, match="no check table"):
        inc.declarations("no_such_chapter")


def test_a_refuting_check_names_whose_statement_it_refutes():
    picture = inc.Declared("W4", "the book statement", refutes="the statement of the paper")
    c = picture.close(predicted=0.5, measured=0.51, atol=0.05).placed({"n": 64})
    assert c.whose == "paper" and c.holds
    html = inc.checks_html([c])
    assert "The paper's picture, refuted" in html and "<s>the statement of the paper</s>" in html
    assert "The book's statement" in html
    assert inc.Declared("N1", "s").close(predicted=1.0, measured=1.0).whose == "note"


def test_the_regime_is_the_setting_not_the_tolerances():
    c = inc.Declared("S2", "s").close(predicted=1.0, measured=1.0, rtol=0.1, at=dict(m=64))
    placed = c.placed({"n": 8, "m": 32, "tolerance": 0.1, "rtol": 1e-9, "sigmas": 4.0, "seed": 0})
    assert placed.regime == "n=8, m=64, seed=0"


def test_a_fit_made_elsewhere_is_judged_with_the_same_verdicts():
    fit = inc.ExponentFit(-0.96, -1.16, -0.75, 1.0, 0.95)
    d = inc.Declared("W2", "count = Theta(1/m)", "exponent fit")
    check, same = d.exponent(fit=fit, predicted=-1.0, tolerance=0.15)
    assert same is fit and check.holds and "95% CI" in check.measured
    wide = inc.ExponentFit(-0.77, -1.03, -0.52, 1.0, 0.95)
    assert d.exponent(fit=wide, predicted=-1.0, tolerance=0.15)[0].verdict == "unresolved"


def test_structured_numbers_quote_whole_or_by_part():
    r = book.Result(numbers={"fit": inc.ExponentFit(-0.5012, -0.51, -0.49, 1.0, 0.95), **book.quotes(".2f", a=1.234)})
    assert repr(r.q.fit) == "-0.501 [-0.510, -0.490]" and repr(r.q.fit.low) == "-0.51" and repr(r.q.a) == "1.23"
    interval = book.Result(numbers={"x": book.quote(inc.Interval(0.84, 0.81, 0.87), ".2f")})
    assert repr(interval.q.x) == "0.84 [0.81, 0.87]" and repr(interval.q.x.value) == "0.84"


def test_a_widget_takes_its_grid_from_the_notebook():
    def panel(a: int, b: float) -> inc.Panel:
        return inc.Panel([inc.Declared("S2", "s").close(predicted=1.0, measured=1.0, rtol=0.1)], "<svg></svg>")

    explorable = inc.Explorable(panel, [inc.Control("a", "a", (1, 2), 1), inc.Control("b", "b", (0.5, 1.0), 0.5)])
    wider = explorable.grid(a=(1, 4, 16))
    assert wider.controls[0].grid == (1, 4, 16) and explorable.controls[0].grid == (1, 2)
    assert wider.grid(a=(8, 32)).controls[0].default == 8  # the nearest value to the old default
    assert wider.panel(a=4).checks[0].regime == "a=4, b=0.5"  # panels place their checks
    with pytest.raises(ValueError, match="no control 'c'"):
        explorable.grid(c=(1, 2))
    with pytest.raises(ValueError, match="at least 2"):
        explorable.grid(a=(1,))


def test_the_shared_phase_run_is_cached_and_matches_the_plain_gram_flow():
    from incidental import runs

    times = (0.0, 0.5, 1.0)
    plain = runs.phase(6, 64, 3, flow="interference", rtol=1e-10, times=times, accumulate=False)
    assert plain is runs.phase(6, 64, 3, flow="interference", rtol=1e-10, times=times, accumulate=False)
    G = inc.simulate_gram(inc.sample_gram(6, 64, seed=3), times, terms=("interference",), rtol=1e-10)
    assert np.array_equal(plain.G, G) and plain.P is None
    full = runs.phase(6, 64, 3, flow="interference", rtol=1e-10, t_end=1.0, count=3)
    assert np.allclose(full.G, G, rtol=1e-6, atol=1e-9) and full.P.shape == (3, 6, 6)
    with pytest.raises(ValueError, match="flow"):
        runs.flow_terms("gravity")
