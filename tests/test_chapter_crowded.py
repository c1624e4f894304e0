"""Chapter 8 (the crowded regime): the runners at small sizes, the derived formulas, the widget, and a knob test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from incidental import crowding
from incidental.chapters import crowded
from incidental.runs import phase
from notebook_probe import knobs_of, probe

LOAD = dict(
    n=16,
    ms=(16, 64, 1024, 16384),
    seed=0,
    t_end=15.0,
    rtol=1e-7,
    late_end=6.0,
    late_points=61,
    late_rtol=1e-10,
    late_window=(4.0, 6.0),
    small_rtol=0.15,
    step_rtol=0.35,  # n = 16: the median error of ~60 pairs scatters by ~20%
    load_floor=0.01,
    zero=1e-3,
    unresolved_level=0.3,
)


def test_push_scatter_constant_is_the_derived_number():
    assert crowding.push_scatter_constant() == pytest.approx(math.sqrt(3 - 1 / math.pi**2) / 8)
    assert 0.212 < crowding.push_scatter_constant() < 0.214


def test_push_scatter_constant_matches_a_monte_carlo_of_its_first_order_terms():
    """The derivation's term -XY/4 (not both negative), summed over n-2 third encodings: its SD x m/sqrt(n-2)."""
    rng = np.random.default_rng(0)
    n, m, draws = 34, 10_000, 40_000
    X, Y = rng.normal(0, 1 / math.sqrt(m), (2, draws, n - 2))
    terms = np.where((X < 0) & (Y < 0), 0.0, -X * Y / 4).sum(axis=1)
    assert np.std(terms) * m / math.sqrt(n - 2) == pytest.approx(crowding.push_scatter_constant(), rel=0.02)
    assert np.mean(terms) * m / (n - 2) == pytest.approx(1 / (8 * math.pi), rel=0.05)


def test_lifted_coupling_is_nu_without_lift_and_stays_below_two():
    assert crowding.lifted_coupling_nu(1e-9) == pytest.approx(1e-9, rel=1e-6)
    assert crowding.lifted_coupling_nu(0.1) == pytest.approx(0.1, rel=0.02)
    nus = np.geomspace(0.01, 50, 40)
    mu = np.array([crowding.lifted_coupling_nu(x) for x in nus])
    assert np.all(mu < nus) and np.all(mu < 2)  # the lifted rate 2 - mu' stays positive
    assert np.all(np.diff(mu[nus < 3.5]) > 0)  # rising over the measured range (its maximum is near nu = 3.7)
    assert crowding.lifted_coupling(64, 1024) == pytest.approx(
        crowding.lifted_coupling_nu(62 / math.sqrt(2 * math.pi * 1024))
    )


def test_linearised_rate_of_a_lone_pair_is_its_decay_rate():
    G = np.array([[1.0, 0.1], [0.1, 1.2]])
    assert crowding.linearised_late_rate(G) == pytest.approx(2.2)
    assert math.isnan(crowding.linearised_late_rate(np.diag([1.0, 1.0, 1.0])))


def test_linearised_rate_matches_the_flow_at_small_crowding():
    run = phase(64, 4096, 0, flow="interference", rtol=1e-10, t_end=6.0, count=121, accumulate=False)
    at = int(np.argmin(np.abs(run.times - 4.0)))
    assert crowding.linearised_late_rate(run.G[at]) == pytest.approx(run.pairs.late_rate((4.0, 6.0)), abs=0.03)


def test_linearised_rate_refuses_a_bad_gram():
    with pytest.raises(ValueError, match="G"):
        crowding.linearised_late_rate(np.ones((3, 2)))


def test_across_load_holds_at_small_sizes_and_fails_a_broken_tolerance():
    r = crowded.across_load(**LOAD)
    assert all(c.holds for c in r.checks), [(c.statement, c.measured, c.verdict) for c in r.checks]
    assert float(r.q.late_big) > 0 > float(r.q.late_pred_big) or float(r.q.late_pred_big) > 0
    tight = crowded.across_load(**{**LOAD, "small_rtol": 1e-6})
    assert not all(c.holds for c in tight.checks)
    assert crowded.across_load_figure(r) is not None


def test_push_scatter_holds_and_fails_a_broken_tolerance():
    knobs = dict(n=16, ms=(4096, 16384, 65536), pairs=1200, seed=0, t_end=15.0, rtol=1e-7, const_rtol=0.1)
    r = crowded.push_scatter(**knobs)
    assert all(c.holds for c in r.checks), [(c.measured, c.verdict) for c in r.checks]
    assert not all(c.holds for c in crowded.push_scatter(**{**knobs, "const_rtol": 1e-5}).checks)
    assert crowded.push_scatter_figure(r) is not None


def test_late_decay_holds_and_fails_a_broken_tolerance():
    knobs = dict(
        sizes=((32, 32), (32, 128), (32, 1024), (32, 8192), (16, 16)),
        seed=0,
        t_end=6.0,
        points=61,
        rtol=1e-10,
        late_window=(4.0, 6.0),
        nu_max=1.1,
        linear_atol=0.05,
        nu_lift=1.6,
        lift_n_min=32,
        lift_atol=0.2,
    )
    r = crowded.late_decay(**knobs)
    assert all(c.holds for c in r.checks), [(c.measured, c.verdict) for c in r.checks]
    assert r.q.miss_n is not None and int(str(r.q.miss_n)) == 16 and int(str(r.q.top_m)) == 32
    assert not all(c.holds for c in crowded.late_decay(**{**knobs, "lift_atol": 1e-4}).checks)
    assert crowded.late_decay_figure(r) is not None


def test_end_state_reads_the_recorded_sweep_and_fails_a_broken_tolerance():
    r = crowded.end_state(confidence=0.95, ratio_rtol=0.05)
    assert all(c.holds for c in r.checks) and int(str(r.q.runs)) > 0
    assert not all(c.holds for c in crowded.end_state(confidence=0.95, ratio_rtol=1e-4).checks)


@pytest.mark.parametrize(
    "knob, value",
    [("n", 1), ("ms", (8,)), ("seed", -1), ("small_rtol", 0.0), ("late_window", (6.0, 4.0)), ("unresolved_level", 1.5)],
)
def test_across_load_refuses_a_bad_knob_naming_it(knob, value):
    with pytest.raises(ValueError, match=knob):
        crowded.across_load(**{**LOAD, knob: value})


def test_a_late_window_past_the_run_is_refused():
    with pytest.raises(ValueError, match="late_window"):
        crowded.across_load(**{**LOAD, "late_window": (4.0, 8.0)})


def test_widget_default_panel_holds_and_a_crowded_point_fails():
    ex = crowded.explorables()["steps at a load"]
    assert all(c.holds for c in ex.panel().checks)
    crowded_panel = crowded.load_panel(32, 64)
    assert any(c.verdict == "fails" for c in crowded_panel.checks)
    assert "below n" in crowded.load_panel(64, 32).note


def test_the_notebook_runs_at_its_knobs_with_every_check_holding():
    knobs = knobs_of("08_crowded", ch=crowded)
    r = crowded.push_scatter(**knobs["scatter_knobs"])
    assert all(c.holds for c in r.checks)


def test_changing_a_knob_in_the_notebook_changes_figure_caption_and_prose():
    before = probe("08_crowded")
    after = probe("08_crowded", {"ms=(4096, 16384, 65536, 262144),": "ms=(8192, 32768, 131072, 524288),"})
    assert "4096" in before.captions[1] and "8192" in after.captions[1]
    assert before.captions[1].startswith("**Figure 8.2.**")
    assert before.quoted["scatter.q.smallest"] != after.quoted["scatter.q.smallest"]
    assert before.quoted["scatter.q.m_min"] != after.quoted["scatter.q.m_min"]
    assert before.quoted["load.q.hold"] == after.quoted["load.q.hold"]  # another experiment's knobs
