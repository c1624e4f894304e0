"""Chapter 7 (whole model): the runners at small sizes, the figures' captions, the widget, the recorded
sweeps (present or not), and the knob test."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from incidental.chapters import whole_model as ch
from notebook_probe import eval_expressions, knobs_of, probe

NAME = "07_whole_model"


@pytest.fixture(autouse=True)
def ledger_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENTAL_LEDGER_DIR", str(tmp_path))
    return tmp_path


def holds(result) -> None:
    for c in result.checks:
        assert c.holds, f"{c.claim}: {c.statement}: predicted {c.predicted}, measured {c.measured}"


def test_integrator_checks_hold_and_quote_the_settings():
    r = ch.integrator(n=8, m=48, seed=1, lam_sqrt_m=0.2)
    holds(r)
    assert {c.claim for c in r.checks} == {"W1"} and repr(r.q.h) == "0.25"
    assert r.data["run"].converged


def test_phases_follow_the_lone_encoding_and_the_floor():
    r = ch.phases(n=16, m=512, seed=0, lam_sqrt_m=0.1, points=20, tolerance=0.03)
    holds(r)
    fig, caption = ch.phases_figure(r)
    assert "$n = 16$" in caption and "$m = 512$" in caption and repr(r.q.density_err) in caption
    broken = ch.phases(n=16, m=512, seed=0, lam_sqrt_m=0.1, points=20, tolerance=1e-6)
    assert not all(c.holds for c in broken.checks)  # a broken tolerance fails


def test_lam_scan_time_scales():
    r = ch.lam_scan(n=16, m=128, seeds=(0, 1), lam_sqrt_ms=(0.05, 0.1, 0.2, 0.4, 3.2), small=0.4)
    holds(r)
    assert r.data["dead"][-1] > 0 and r.data["dead"][0] == 0  # at lam sqrt(m) = 3.2 features die
    _, caption = ch.lam_figure(r)
    assert "$n = 16$" in caption and "2 seeds" in caption


def test_count_sweep_end_state_and_count():
    r = ch.count_sweep(ns=(8, 12), ms=(16, 32, 64), seeds=tuple(range(6)), lam_sqrt_m=0.2)
    for c in ch.claim_checks(r, "W3"):
        assert c.holds, c.statement
    assert {c.claim for c in r.checks} == {"W2", "W3"}
    assert r.q.runs.value == 36
    _, caption = ch.count_figure(r)
    assert "6 seeds" in caption and "$n = 8$" in caption


def test_mechanism_refutes_the_picture():
    r = ch.mechanism(n=24, m=96, seeds=tuple(range(6)), lam_sqrt_m=0.1)
    w4 = ch.claim_checks(r, "W4")
    assert w4[0].refutes == "a feature ends on the neuron it was most aligned with at initialisation"
    assert float(r.q.mech) < float(r.q.picture)
    _, caption = ch.mechanism_figure(r)
    assert "$n = 24$" in caption and repr(r.q.coll_end) in caption


def test_recorded_sweeps_when_present_and_when_missing(monkeypatch, tmp_path):
    r = ch.recorded(confidence=0.95, power=0.8)
    if r.data["rec"].paper is not None:
        holds(r)
        assert float(r.q.paper_ratio) < 1.0 and float(r.q.need_4096) > 100 * float(r.q.need_256) >= 100
        _, caption = ch.recorded_count_figure(r)
        assert repr(r.q.paper_ratio) in caption
        assert "<table" in ch.paper_table_html(r)
    monkeypatch.setattr(ch, "data_dir", lambda: tmp_path)
    empty = ch.recorded(confidence=0.95, power=0.8)
    assert empty.checks == [] and repr(empty.q.present) == "recorded: nothing"
    fig, caption = ch.recorded_count_figure(empty)
    assert isinstance(fig, str) and "No recorded sweep" in caption


def test_widget_default_panel_holds_and_grid_is_small():
    ex = ch.explorables()["end state"]
    panel = ex.panel(n=16, m=64)
    assert all(c.holds for c in panel.checks) and "<svg" in panel.figure
    assert len(ex.grid_points()) <= 24
    assert ch.end_panel(n=64, m=16, lam_sqrt_m=0.1, seed=0).checks == []  # m < n: a note, no run


def test_knobs_of_the_notebook_are_the_runners_arguments():
    knobs = knobs_of(NAME, ch=ch)
    for name, runner in (("flow_knobs", ch.integrator), ("phases_knobs", ch.phases), ("mech_knobs", ch.mechanism)):
        assert set(knobs[name]) <= set(runner.__code__.co_varnames), name
    assert knobs["count_knobs"]["seeds"] == tuple(range(20))


def test_knob_changes_flow_into_numbers_captions_and_tables():
    after = probe(NAME, {"phases_knobs = dict(n=64,": "phases_knobs = dict(n=48,"})
    assert set(after.quoted) == set(eval_expressions(NAME))
    before = ch.phases(**knobs_of(NAME, ch=ch)["phases_knobs"])
    caption = after.captions[0]
    assert caption.startswith("Figure 7.1.") and "$n = 48$" in caption and "$n = 64$" not in caption
    assert after.quoted["phases.q.t_end"] != repr(before.q.t_end)
    assert any("n=48" in t for t in after.tables) and not any("n=64, m=1024" in t for t in after.tables)
    assert dataclasses.is_dataclass(ch.Recorded) and np.isfinite(float(after.quoted["flow.q.lam_t_end"]))
