"""Chapter 7 (whole model): the runners at small sizes, bad knobs, the figures, the widget over its grid,
the recorded sweeps (present or not), and the knob test."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from incidental.chapters import whole_model as ch
from matplotlib.figure import Figure
from notebook_probe import eval_expressions, knobs_of, probe

NAME = "07_whole_model"


@pytest.fixture(autouse=True)
def ledger_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENTAL_LEDGER_DIR", str(tmp_path))
    return tmp_path


def holds(checks) -> None:
    for c in checks:
        assert c.holds, (
            f"{c.claim} {c.verdict} ({c.why}): {c.statement}: predicted {c.predicted}, measured {c.measured}"
        )


def test_integrator_checks_hold_and_quote_the_settings():
    r = ch.integrator(n=8, m=48, seed=1, lam_sqrt_m=0.2)
    holds(r.checks)
    assert {c.claim for c in r.checks} == {"W1"} and repr(r.q.h) == "0.25"
    assert r.data["run"].converged and r.params == dict(n=8, m=48, seed=1, lam_sqrt_m=0.2)
    assert all("n=8, m=48" in c.regime for c in r.checks)


@pytest.mark.parametrize(
    ("runner", "knobs", "bad"),
    [
        (ch.integrator, dict(n=8, m=48, seed=1, lam_sqrt_m=0.2), dict(m=4)),
        (ch.phases, dict(n=16, m=512, seed=0, lam_sqrt_m=0.1, points=20, tolerance=0.03), dict(tolerance=-1.0)),
        (ch.lam_scan, dict(n=16, m=128, seeds=(0,), lam_sqrt_ms=(0.1, 0.2, 0.4), small=0.4), dict(lam_sqrt_ms=(0.1,))),
        (ch.count_sweep, dict(ns=(8,), ms=(16, 32, 64), seeds=(0,), lam_sqrt_m=0.2), dict(seeds=(-1,))),
        (ch.mechanism, dict(n=24, m=96, seeds=(0, 1), lam_sqrt_m=0.1), dict(lam_sqrt_m=0.0)),
        (ch.recorded, dict(confidence=0.95, power=0.8), dict(confidence=1.5)),
    ],
)
def test_a_bad_knob_is_refused_by_name(runner, knobs, bad):
    (name,) = bad
    with pytest.raises(ValueError, match=name.rstrip("s")):  # a tuple's entries are named in the singular
        runner(**{**knobs, **bad})


def test_phases_follow_the_lone_encoding_and_the_floor():
    r = ch.phases(n=16, m=512, seed=0, lam_sqrt_m=0.1, points=20, tolerance=0.03)
    holds(r.checks)
    assert isinstance(ch.phases_figure(r), Figure) and 0 < float(r.q.density_err) < 0.03
    broken = ch.phases(n=16, m=512, seed=0, lam_sqrt_m=0.1, points=20, tolerance=1e-6)
    assert any(c.verdict == "fails" for c in broken.checks)  # a broken tolerance fails


def test_lam_scan_time_scales():
    r = ch.lam_scan(n=16, m=128, seeds=(0, 1), lam_sqrt_ms=(0.05, 0.1, 0.2, 0.4, 3.2), small=0.4)
    holds(c for c in r.checks if "t_end" not in c.statement)
    t_end = [c for c in r.checks if "t_end" in c.statement][0]  # four points, two seeds: too few to tell -1 from -0.5
    assert t_end.verdict == "unresolved" and "rival" in t_end.why
    assert r.data["dead"][-1] > 0 and r.data["dead"][0] == 0  # at lam sqrt(m) = 3.2 features die
    assert -1.2 < r.q.half.exponent.raw < -0.8 and repr(r.q.seed_count) == "2"
    assert isinstance(ch.lam_figure(r), Figure)


def test_count_sweep_end_state_and_count():
    r = ch.count_sweep(ns=(8, 12), ms=(16, 32, 64), seeds=tuple(range(6)), lam_sqrt_m=0.2)
    holds(r.only("W3"))
    assert {c.claim for c in r.checks} == {"W2", "W3"}
    assert r.q.runs.raw == 36 and repr(r.q.fit_8).count("[") == 1
    # at these sizes the exponent cannot be told from its rival: unresolved, never "holds"
    theta = [c for c in r.only("W2") if "exponent of m" in c.statement]
    assert all(c.verdict in ("holds", "unresolved") for c in theta)
    assert all(c.why for c in theta if c.verdict == "unresolved")
    assert isinstance(ch.count_figure(r), Figure)


def test_mechanism_refutes_the_picture_with_the_books_prediction():
    r = ch.mechanism(n=24, m=96, seeds=tuple(range(6)), lam_sqrt_m=0.1)
    winner = r.only("W4")[0]
    assert winner.refutes == "a feature ends on the neuron it was most aligned with at initialisation"
    assert winner.holds and float(r.q.mech) < float(r.q.picture) - 0.1
    assert repr(r.q.picture) not in winner.predicted  # the book's bound, not the refuted value
    assert isinstance(ch.mechanism_figure(r), Figure)


def test_recorded_sweeps_when_present_and_when_missing(monkeypatch):
    r = ch.recorded(confidence=0.95, power=0.8)
    if r.data["files"]["paper"] is not None:
        holds(r.checks)
        assert r.q.paper_ratio.high.raw < 1.0 and float(r.q.need_4096) > 100 * float(r.q.need_256) >= 100
        deficit = [c for c in r.checks if c.refutes][0]
        assert deficit.claim == "W2" and "1/4" not in deficit.predicted
        assert isinstance(ch.recorded_count_figure(r), Figure) and "<table" in ch.paper_table_html(r)
    monkeypatch.setattr(ch, "load", lambda name: None)
    empty = ch.recorded(confidence=0.95, power=0.8)
    assert empty.checks == [] and repr(empty.q.present) == "recorded: nothing"
    assert "No recorded sweep" in ch.recorded_count_figure(empty)


def test_widget_never_shows_holds_for_a_check_that_cannot_fail():
    ex = ch.explorables()["end state"].grid(n=(16, 64), m=(64, 256, 1024), lam_sqrt_m=(0.1, 0.4), seed=(0, 1))
    default = ex.panel()
    assert all(c.verdict in ("holds", "unresolved") for c in default.checks) and "<svg" in default.figure
    assert all(c.regime.startswith("n=64, m=256") for c in default.checks)
    small = ex.panel(n=16, m=1024)  # prediction far below 1 polysemantic neuron, none found
    count = [c for c in small.checks if c.claim == "W2"][0]
    assert count.verdict == "unresolved" and count.why
    assert not any(c.claim == "W3" and "two features" in c.statement for c in small.checks)
    assert "nothing to count" in small.note
    assert len(ex.grid_points()) <= 24
    assert ch.end_panel(n=64, m=16, lam_sqrt_m=0.1, seed=0).checks == []  # m < n: a note, no run


def test_knobs_of_the_notebook_are_the_runners_arguments():
    knobs = knobs_of(NAME, ch=ch)
    runners = dict(flow_knobs=ch.integrator, phases_knobs=ch.phases, lam_knobs=ch.lam_scan)
    runners.update(count_knobs=ch.count_sweep, mech_knobs=ch.mechanism, recorded_knobs=ch.recorded)
    for name, runner in runners.items():
        assert set(knobs[name]) == set(inspect.signature(runner.__wrapped__).parameters), name
    assert knobs["count_knobs"]["seeds"] == tuple(range(40))


def test_knob_changes_flow_into_numbers_captions_and_tables():
    after = probe(NAME, {"phases_knobs = dict(n=64,": "phases_knobs = dict(n=48,"})
    assert set(after.quoted) == set(eval_expressions(NAME))
    before = ch.phases(**knobs_of(NAME, ch=ch)["phases_knobs"])
    caption = after.captions[0]
    assert caption.startswith("**Figure 7.1.**") and "$n$ = 48" in caption and "$n$ = 64" not in caption
    assert after.quoted["phases.q.t_end"] != repr(before.q.t_end)
    assert any("n=48" in t for t in after.tables) and not any("n=64, m=1024, seed=" in t for t in after.tables)
    assert [c[: len("**Figure 7.k.**")] for c in after.captions] == [f"**Figure 7.{k}.**" for k in range(1, 6)]
    assert np.isfinite(float(after.quoted["flow.q.lam_t_end"]))
