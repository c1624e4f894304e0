"""Chapter 4 (the combined rate): its formulas in the core, its runners, figures and widgets, and the
notebook's contract (every quoted number exists; a knob changes the numbers and the captions)."""

import re
from pathlib import Path

import incidental as inc
import nbformat
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from incidental import book, derivation, estimates, exact, figures, runs, theory
from incidental.chapters import combined as ch
from incidental.checks import Check
from matplotlib.figure import Figure
from notebook_probe import knobs_of, probe

NOTEBOOK = Path(__file__).resolve().parents[1] / "book" / "04_combined_rate.ipynb"


# --- the formulas (core: derivation, theory, exact) ----------------------------------------------


@given(seed=st.integers(0, 10_000), n=st.integers(3, 12))
def test_rate_parts_add_up_to_the_exact_relative_rate(seed, n):
    p = derivation.relative_rate_parts(inc.sample_gram(n, 4 * n, seed=seed))
    np.testing.assert_allclose(p.first_order + p.numerator + p.others + p.own, p.total, atol=1e-11)
    assert np.all(p.overlap > 0) and np.all(p.others >= 0) and np.all(p.own >= 0)
    assert np.all(p.i < p.j)


def test_expected_rate_is_exact_for_two_encodings_and_zero_without_interference():
    G = inc.gram(exact.interfering_pair_weights(50, seed=3))
    np.testing.assert_allclose(derivation.expected_kappa_rate(G), inc.kappa_rate(G), atol=1e-15)
    G = inc.sample_gram(10, 40, seed=1)
    assert np.all(derivation.expected_kappa_rate(G)[G <= 0] == 0)


def test_mean_parts_cancel_in_theory():
    assert theory.second_order_mean_slope(10, 100) + theory.third_encoding_norm_loss(10, 100) == 0
    assert theory.pair_spread(64, 4096) == pytest.approx(np.sqrt(3 * 62 / (2 * 4096)))
    with pytest.raises(ValueError, match="m"):
        theory.third_encoding_norm_loss(10, 5)


@pytest.mark.parametrize("m, seed", [(8, 0), (64, 1), (4096, 2), (2**20, 3)])
def test_pair_closed_form_matches_the_simulated_flow(m, seed):
    G0 = inc.gram(exact.interfering_pair_weights(m, seed=seed))
    t = np.linspace(0.0, 8.0, 81)
    Gs = inc.simulate_gram(G0, t, terms=("interference",), rtol=1e-12)
    g = exact.pair_overlap(G0, t)
    assert np.max(np.abs(Gs[:, 0, 1] - g)) / G0[0, 1] < 1e-9
    kappa = Gs[:, 0, 1] / np.sqrt(Gs[:, 0, 0] * Gs[:, 1, 1])
    assert np.max(np.abs(kappa - exact.pair_cosine(G0, t))) / kappa[0] < 1e-9
    # the overlap is the rate of tau = int g of the weight-space solution (central differences of tau,
    # which is known to round-off ~1e-16: an absolute error of about 1e-16 / h)
    h = 1e-6
    s = t[1:]
    dtau = (exact.pair_interference_tau(G0, s + h) - exact.pair_interference_tau(G0, s - h)) / (2 * h)
    np.testing.assert_allclose(dtau, exact.pair_overlap(G0, s), rtol=1e-6, atol=5e-10)


def test_pair_closed_form_limits_and_bad_input():
    G0 = np.array([[1.1, 0.2], [0.2, 0.9]])
    t = np.array([0.0, 1e-6, 40.0, 200.0, 1000.0])
    g = exact.pair_overlap(G0, t)
    assert g[0] == pytest.approx(0.2, rel=1e-14)
    assert (g[0] - g[1]) / 1e-6 == pytest.approx(0.2 * 2.0, rel=1e-4)  # starts at rate s0 = 2
    c = exact.pair_decay_rate(G0)
    assert c == pytest.approx(np.sqrt(4.0 - 0.16))
    assert np.log(g[2] / g[3]) / 160 == pytest.approx(c, rel=1e-12) and g[4] == 0.0  # ends at rate c
    assert np.all(np.isfinite(exact.pair_cosine(G0, t)))
    flat = np.array([[1.0, -0.2], [-0.2, 1.5]])
    np.testing.assert_array_equal(exact.pair_overlap(flat, t), -0.2)  # not interfering: frozen
    assert exact.pair_decay_rate(flat) == pytest.approx(2.5)
    for bad in (np.eye(3), np.ones((2, 3))):
        with pytest.raises(ValueError, match="G0"):
            exact.pair_overlap(bad, t)
    with pytest.raises(ValueError, match="times"):
        exact.pair_overlap(G0, [1.0, 0.5])


def test_drift_profile_and_breakdown_time():
    f = theory.drift_profile(np.array([0.0, 1e-3, 20.0]))
    assert f[0] == 0.0 and f[1] == pytest.approx(1e-6, rel=1e-2) and f[2] == pytest.approx(19.5, abs=1e-12)
    assert theory.late_collective_rate(64, 65536) == pytest.approx(2 - 62 / np.sqrt(2 * np.pi * 65536))
    assert theory.breakdown_time(0.0) == float("inf")
    assert theory.breakdown_time(1e-3) == pytest.approx(0.5 + np.log(1.1) / 1e-3, rel=1e-6)
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="x"):
            theory.breakdown_time(bad)
    with pytest.raises(ValueError, match="level"):
        theory.breakdown_time(0.1, level=0.0)


@given(x=st.floats(1e-3, 5.0), level=st.floats(0.01, 1.0))
def test_breakdown_time_solves_its_equation(x, level):
    t = theory.breakdown_time(x, level)
    assert x * theory.drift_profile(t) == pytest.approx(np.log1p(level), rel=1e-9)


# --- measurement helpers ---------------------------------------------------------------------------


def test_trajectory_is_cached_read_only_and_starts_on_the_prediction():
    a = ch.trajectory(8, 256, 0, "interference", 1.0, 10)
    assert a is ch.trajectory(8, 256, 0, "interference", 1.0, 10)
    assert not a.kappa.flags.writeable
    np.testing.assert_allclose(a.prediction[0], a.kappa[0])
    assert np.all(a.kappa[0] > 0) and a.kappa.shape == (11, a.i.size)
    with pytest.raises(ValueError, match="flow"):
        ch.trajectory(8, 256, 0, "weights", 1.0, 10)


def test_the_pair_view_is_the_trajectory_of_the_shared_run():
    traj = ch.trajectory(8, 256, 0, "interference", 1.0, 10)
    run = runs.phase(8, 256, 0, flow="interference", rtol=ch.SIM_RTOL, t_end=1.0, count=11, accumulate=False)
    assert traj is run.pairs and traj.run is run
    G0, t = inc.sample_gram(8, 256, seed=0), np.linspace(0.0, 1.0, 11)
    G = inc.simulate_gram(G0, t, terms=runs.INTERFERENCE, rtol=ch.SIM_RTOL)
    kappa = G[:, traj.i, traj.j] / np.sqrt(G[:, traj.i, traj.i] * G[:, traj.j, traj.j])
    np.testing.assert_array_equal(traj.kappa, kappa)  # the same numbers as simulate_gram
    A, se = traj.amplitude()
    assert A[0] == pytest.approx(1.0) and se[0] == pytest.approx(0.0, abs=1e-12)


def test_ratio_estimates_with_equal_weights_are_the_mean_and_its_standard_error():
    x = np.array([[1.0, 2.0], [2.0, 0.0], [4.0, 1.0], [5.0, 5.0]])
    est = estimates.ratio_estimates(x, np.ones(4))
    for e, column in zip(est, x.T):
        assert e.mean == pytest.approx(column.mean())
        assert e.se == pytest.approx(column.std(ddof=1) / 2)
    assert est[0].scaled(2.0) == estimates.Estimate(2 * est[0].mean, 2 * est[0].se)


# --- runners at small sizes: checks hold, parameters recorded, a broken tolerance fails ----------

SMALL = {
    "identities": (
        "rate_identities",
        dict(n=6, m=48, t0=0.5, h=1e-4, fd_tolerance=1e-7, parts=(8, 32), parts_tolerance=1e-12, seed=1),
    ),
    "means": (
        "mean_correction",
        dict(settings=((16, 64, 100), (32, 256, 300)), reference=(32, 256), sigmas=4.0, seed=0),
    ),
    "spread": (
        "pair_fluctuations",
        dict(
            grid=((32, 256), (32, 1024), (32, 4096), (16, 4096)),
            draws=4,
            seed=0,
            quote_at=(32, 1024),
            exponent_tolerance=0.05,
            constant_rtol=0.1,
        ),
    ),
    "early": (
        "early_decay",
        dict(n=32, m=16384, seed=0, t_end=3.0, steps=60, early=(0.0, 1.0), late=(2.0, 3.0), rtol=0.05),
    ),
    "drift": (
        "drift_collapse",
        dict(sizes=((32, 4096), (48, 16384)), seed=0, t_end=4.0, steps=80, t_from=1.0, rtol=0.1),
    ),
    "bd": (
        "breakdown",
        dict(
            ns=(16, 32),
            ms=(1024, 2048),
            seeds=1,
            t_end=4.0,
            steps=80,
            late_window=(3.0, 4.0),
            level=0.1,
            n_min=32,
            x_max=0.4,
            time_rtol=0.15,
            rate_atol=0.05,
            min_rate=0.25,
            compare=((16, 1024), (32, 2048)),
        ),
    ),
    "overlap": (
        "overlap_decay",
        dict(
            n=16,
            ms=(4**5, 4**7, 4**9, 4**11),
            seeds=1,
            t_end=2.0,
            steps=8,
            t_fixed=1.0,
            exponent_tolerance=0.02,
            rtol=0.03,
            flow_rtol=1e-12,
        ),
    ),
    "pair": (
        "two_encodings",
        dict(
            m=32,
            seed=2,
            t_end=6.0,
            steps=120,
            flow_rtol=1e-12,
            tolerance=1e-9,
            rate_rtol=1e-4,
            deficit_ms=(16, 64, 256, 1024),
            deficit_draws=60,
            exponent_tolerance=0.05,
        ),
    ),
    "predict": ("breakdown_prediction", dict(n=16, m=65536, level=0.2)),
}
FIGURES = {
    "means": "mean_figure",
    "spread": "fluctuation_figure",
    "early": "early_figure",
    "drift": "drift_figure",
    "bd": "breakdown_figure",
    "overlap": "overlap_figure",
    "pair": "two_encodings_figure",
}
BROKEN = {  # one tolerance per runner, made too tight for what it measures
    "identities": dict(fd_tolerance=1e-15),
    "means": dict(sigmas=1e-6),
    "spread": dict(constant_rtol=1e-6),
    "early": dict(rtol=1e-6),
    "drift": dict(rtol=1e-6),
    "bd": dict(time_rtol=1e-6),
    "overlap": dict(rtol=1e-9),
    "pair": dict(tolerance=1e-18),
}
BAD_KNOBS = {  # one bad value per runner: the ValueError names the knob
    "identities": dict(fd_tolerance=-1.0),
    "means": dict(sigmas=0.0),
    "spread": dict(grid=((32, 256), (32, 1024))),
    "early": dict(early=(1.0, 0.5)),
    "drift": dict(sizes=((64, 32),)),
    "bd": dict(level=1.5),
    "overlap": dict(ms=(4096,)),
    "pair": dict(deficit_draws=0),
    "predict": dict(m=8),
}


@pytest.fixture(scope="module")
def small_results():
    return {name: getattr(ch, runner)(**knobs) for name, (runner, knobs) in SMALL.items()}


def notebook_cells():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = ["".join(c.source) for c in nb.cells if c.cell_type == "code"]
    markdown = ["".join(c.source) for c in nb.cells if c.cell_type == "markdown"]
    return nb, code, markdown


def test_runners_hold_and_record_their_parameters(small_results):
    for name, (_runner, knobs) in SMALL.items():
        r = small_results[name]
        assert isinstance(r, book.Result)
        assert r.params == {k: (tuple(v) if isinstance(v, list) else v) for k, v in knobs.items()}, name
        for c in r.checks:
            assert c.holds, (name, c)
            assert c.claim in ("K1", "K2", "K3") and c.regime


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_tolerance_makes_a_check_fail(name):
    runner, knobs = SMALL[name]
    r = getattr(ch, runner)(**{**knobs, **BROKEN[name]})
    assert any(c.verdict == "fails" for c in r.checks), name


@pytest.mark.parametrize("name", sorted(BAD_KNOBS))
def test_a_bad_knob_raises_naming_it(name):
    runner, knobs = SMALL[name]
    (knob,) = BAD_KNOBS[name]
    with pytest.raises(ValueError, match=knob):
        getattr(ch, runner)(**{**knobs, **BAD_KNOBS[name]})


def test_an_unknown_knob_raises_naming_it():
    runner, knobs = SMALL["early"]
    with pytest.raises(ValueError, match="windo"):
        getattr(ch, runner)(**knobs, windo=(0.0, 1.0))


def test_the_size_of_the_split_is_one_knob_checked_as_a_size():
    runner, knobs = SMALL["identities"]
    with pytest.raises(ValueError, match="parts"):
        getattr(ch, runner)(**{**knobs, "parts": (32, 8)})
    assert "n=8, m=32" in getattr(ch, runner)(**knobs).checks[-1].regime


def test_every_knob_of_the_notebook_reaches_a_runner():
    _nb, code, _markdown = notebook_cells()
    calls = re.findall(r"^(\w+) = ch\.(\w+)\(\*\*(\w+)\)", "\n".join(code), flags=re.M)
    knobs = knobs_of("04_combined_rate", ch=ch)
    for var, runner, cell in calls:
        assert getattr(ch, runner).runner and cell in knobs, (var, runner)
    assert {cell for _v, _r, cell in calls} == set(knobs) and len(calls) == len(SMALL)


def test_note_corrections_are_marked(small_results):
    refuting = [c for r in small_results.values() for c in r.checks if c.refutes]
    statements = " ".join(c.refutes for c in refuting)
    assert "Θ(n/m)" in statements and "n/m = o(1)" in statements
    assert all(c.refutes != c.statement for c in refuting)
    assert {c.kind for r in small_results.values() for c in r.checks} <= set(inc.checks.KINDS)


def test_the_net_correction_resolves_at_the_notebook_defaults():
    r = ch.mean_correction(**notebook_knobs("mean_knobs"))
    net = [c for c in r.checks if c.refutes]
    assert len(net) == 5 and all(c.verdict == "holds" for c in net)


def test_every_quoted_number_exists(small_results):
    nb, code, markdown = notebook_cells()
    runners = dict(re.findall(r"^(\w+) = ch\.(\w+)\(\*\*\w+\)", "\n".join(code), flags=re.M))
    assert set(runners) == set(SMALL), "every runner of the notebook needs a small setting in SMALL"
    assert all(SMALL[name][0] == runner for name, runner in runners.items())
    used = re.findall(r"\{eval\}`(\w+)\.q\.([\w.]+)`", "\n".join(markdown))
    assert used and all(name in runners for name, _ in used)
    for name, path in used:
        value = small_results[name].q
        for part in path.split("."):
            value = getattr(value, part)
        assert repr(value) and "—" not in repr(value), f"{name}.q.{path}"
    assert not re.search(r"\{glue", "\n".join(markdown + code))
    assert all("mystnb" not in c.metadata for c in nb.cells if c.cell_type == "code"), "no captions in cell metadata"


def test_figures_and_their_captions_in_the_notebook(small_results):
    for name, builder in FIGURES.items():
        assert isinstance(getattr(ch, builder)(small_results[name]), Figure)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    k = 0
    for cell, after in zip(nb.cells, nb.cells[1:]):
        hit = re.match(r"chapter\.figure\(ch\.(\w+)\((\w+)\)\)", cell.source) if cell.cell_type == "code" else None
        if hit:
            k += 1
            assert after.cell_type == "markdown" and after.source.startswith(f"**Figure 4.{k}.**")
            assert f"{{eval}}`{hit.group(2)}.q." in after.source, hit.group(1)
    assert k == len(FIGURES)
    assert "n_min=32" in small_results["bd"].checks[1].regime  # the law's regime says where it was checked


# --- widgets -----------------------------------------------------------------------------------


def notebook_widgets():
    _nb, code, _markdown = notebook_cells()
    return [eval(c, {"ch": ch}) for c in code if re.match(r"ch\.\w+_explorable\(\)\.grid\(", c)]


def test_widgets_take_their_grids_from_the_notebook():
    pair, ensemble = notebook_widgets()
    for ex in (pair, ensemble):
        assert len(ex.grid_points()) <= 24
        assert {c.name: c.grid for c in ex.controls}["m"] == (1024, 65536)
        assert "<svg" in ex.update()


@pytest.mark.parametrize("name", ["pair", "ensemble"])
def test_widget_panels_over_the_grid_hold_fail_or_say_why(name):
    ex = dict(zip(("pair", "ensemble"), notebook_widgets()))[name]
    assert all(c.holds for c in ex.panel().checks)  # the default panel
    for values in ex.grid_points():
        for c in ex.panel(**values).checks:
            assert c.regime and (c.verdict != "unresolved" or c.why), (values, c)


def test_pair_panels_keep_the_band_in_view():
    ex = notebook_widgets()[0]
    for values in ex.grid_points():
        traj = ch.trajectory(values["n"], values["m"], 0, t_end=ch.WIDGET_T_END, steps=ch.WIDGET_STEPS)
        p = (values["pair"] - 1) % traj.i.size
        error = ch.pair_axes(traj, p, int(np.argmin(np.abs(traj.times - values["time"]))))[1]
        lo, hi = error.ylim
        assert lo <= -2 * ch.WIDGET_LEVEL and 2 * ch.WIDGET_LEVEL <= hi <= 1.0, values
    lo, hi = figures.error_limits(np.array([0.0, 50.0]), 0.1)
    assert lo <= -0.2 and hi == 1.0
    lo, hi = figures.error_limits(np.array([0.0, 0.03]), 0.1)
    assert lo <= -0.2 and 0.2 <= hi < 0.3
    note = ch.pair_panel(64, 1024, 1, 3.0).note
    assert "off the right panel's scale" in note


def test_a_clipped_error_stops_at_its_frame_and_estimate_bars_span_two_standard_errors():
    t = np.linspace(0.0, 1.0, 11)
    err = np.where(t > 0.55, 5.0, 0.01 * t)  # leaves any frame at t = 0.6
    ax = figures.clipped_error(t, err, level=0.1, mark=8, xlabel="t")
    assert ax.ylim == figures.error_limits(err, 0.1) and ax.ylim[1] == 1.0 and ax.xlabel == "t"
    curve, marker = ax.series
    assert curve.y[6] == 1.0 and np.all(np.isnan(curve.y[7:]))  # drawn up to the frame, then stopped
    assert marker.y == [1.0] and ax.vlines[0][0] == pytest.approx(0.8) and ax.hlines == [(0.1, ""), (-0.1, "")]
    est = [estimates.Estimate(1.0, 0.1), estimates.Estimate(2.0, 0.5)]
    bars = figures.estimate_bars([1, 2], est, label="x", color="#000")
    np.testing.assert_allclose([bars.low, bars.y, bars.high], [[0.8, 1.0], [1.0, 2.0], [1.2, 3.0]])
    assert bars.kind == "errorbar" and bars.label == "x"


def test_pair_numbers_wrap_around():
    a = ch.pair_panel(16, 1024, 1, 0.5)
    n_pairs = ch.trajectory(16, 1024, 0, t_end=ch.WIDGET_T_END, steps=ch.WIDGET_STEPS).i.size
    assert a.checks == ch.pair_panel(16, 1024, 1 + n_pairs, 0.5).checks
    assert all(isinstance(c, Check) for c in a.checks)


# --- the notebook: one knob changed, the numbers and the captions follow --------------------------


def test_a_knob_changes_the_quoted_numbers_and_the_caption(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENTAL_LEDGER_DIR", str(tmp_path))  # a modified run must not stand for the real one
    monkeypatch.setenv("INCIDENTAL_WIDGETS", "live")  # no precomputed panels: not what is tested here
    original = {}
    for cell in notebook_cells()[1]:
        if cell.startswith(("identity_knobs", "early_knobs")):
            exec(cell, {}, original)
    after = probe(
        "04_combined_rate",
        {
            "identity_knobs = dict(n=8, m=64,": "identity_knobs = dict(n=10, m=64,",
            "early_knobs = dict(n=64,": "early_knobs = dict(n=32,",
        },
    )
    assert len(after.captions) == len(FIGURES)
    # the early-decay experiment: quoted numbers, caption and check table follow n
    before_early = ch.early_decay(**original["early_knobs"])
    after_early = ch.early_decay(**{**original["early_knobs"], "n": 32})
    for key in ("fit_median", "late_median", "x", "late_pred", "shift"):
        assert after.quoted[f"early.q.{key}"] == repr(getattr(after_early.q, key)), key
        assert after.quoted[f"early.q.{key}"] != repr(getattr(before_early.q, key)), key
    caption = next(c for c in after.captions if "Decay rates of" in c)
    assert "$n =$ 32," in caption and "$n =$ 64" not in caption and repr(after_early.q.late_median) in caption
    assert any("n=32, m=65536" in table for table in after.tables)
    # the first experiment: its quoted size and error follow n, and no other experiment moved
    assert after.quoted["identities.q.n"] == "10"
    identities_before = ch.rate_identities(**original["identity_knobs"])
    assert after.quoted["identities.q.fd_interference"] != repr(identities_before.q.fd_interference)
    assert after.quoted["overlap.q.fit.exponent"] == repr(
        ch.overlap_decay(**notebook_knobs("overlap_knobs")).q.fit.exponent
    )


def notebook_knobs(name: str) -> dict:
    return knobs_of("04_combined_rate", ch=ch)[name]
