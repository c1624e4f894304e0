"""Checks, exponent fits, the SVG plotter and the explorable widgets."""

import xml.etree.ElementTree as ET

import incidental as inc
import numpy as np
import pytest
from incidental import svgplot
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
    assert inc.check_close("A", "s", predicted=1.0, measured=1.04, rtol=0.05, regime="r").holds
    assert not inc.check_close("A", "s", predicted=1.0, measured=1.06, rtol=0.05, regime="r").holds
    assert not inc.check_below("B", "s", measured=np.nan, bound=1.0, regime="r").holds
    html = inc.checks_html([inc.check_below("B", "s<1", measured=0.5, bound=1.0, regime="r")])
    assert "holds" in html and "s&lt;1" in html


def test_check_p_value_holds_unless_the_test_rejects():
    assert inc.checks.check_p_value("T4", "law", p=0.3, level=0.01, regime="r").holds
    rejected = inc.checks.check_p_value("T4", "law", p=0.001, level=0.01, regime="r")
    assert not rejected.holds and rejected.kind == "law"
    assert not inc.checks.check_p_value("T4", "law", p=float("nan"), level=0.01, regime="r").holds


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
    check = inc.check_close("Z", "a*b", predicted=a * b, measured=a * b, atol=1e-12, regime=f"a={a}")
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
