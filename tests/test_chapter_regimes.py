"""Chapter 9 (where each result holds): the recorded map, the boundary checks, the widgets, and a knob test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from incidental import crowding
from incidental.chapters import regimes
from notebook_probe import probe

KNOBS = dict(agreement_level=0.8, lam_tolerance=0.1, lam_small=0.03)


def test_the_record_covers_the_grid_and_names_its_script():
    rec = regimes.read_record()
    assert rec["script"] == "scripts/record_regimes.py"
    grid = {(p["n"], p["m"]) for p in rec["points"]}
    assert grid == {(n, m) for n in rec["settings"]["ns"] for m in rec["settings"]["ms"] if m >= n}
    assert all(p["draws"] >= 2 for p in rec["points"])


def test_regime_map_holds_and_fails_a_broken_level():
    r = regimes.regime_map(**KNOBS)
    assert all(c.holds for c in r.checks), [(c.statement, c.measured) for c in r.checks]
    assert len(r.checks) == sum(1 for g in regimes.REGIMES if g.boundary is not None) + 2  # D3's own boundary, S3
    strict = regimes.regime_map(**{**KNOBS, "agreement_level": 0.999, "lam_tolerance": 1e-4})
    assert not all(c.holds for c in strict.checks)
    assert regimes.map_figure(r) is not None and regimes.lam_figure(r) is not None


def test_a_wrong_boundary_disagrees_with_the_map():
    """The agreement is measured, not assumed: the N3 boundary drawn at the wrong place loses agreement."""
    rec = regimes.read_record()
    g = regimes.REGIMES[0]
    pairs = regimes.judged(rec)[g.key]
    right = np.mean([c.holds == (p["n"] < g.boundary(p["m"])) for p, c in pairs])
    wrong = np.mean([c.holds == (p["n"] < 100 * g.boundary(p["m"])) for p, c in pairs])
    assert right >= 0.9 > wrong


def test_derived_boundaries():
    assert crowding.first_order_boundary(4096, 0.1) == pytest.approx(2 + 8 * 4096 * 0.01 / 3)
    assert math.sqrt(3 * (crowding.first_order_boundary(4096, 0.1) - 2) / (8 * 4096)) == pytest.approx(0.1)
    assert crowding.within_crowding(np.array([8, 600]), np.array([65536, 65536]), 1.0).tolist() == [True, True]
    assert crowding.within_crowding(np.array([700]), np.array([65536]), 1.0).tolist() == [False]


def test_the_record_is_refused_when_missing(tmp_path):
    with pytest.raises(ValueError, match="record"):
        regimes.read_record(tmp_path / "none.json")


@pytest.mark.parametrize("knob, value", [("agreement_level", 1.5), ("lam_tolerance", 0.0), ("lam_small", -1.0)])
def test_regime_map_refuses_a_bad_knob_naming_it(knob, value):
    with pytest.raises(ValueError, match=knob):
        regimes.regime_map(**{**KNOBS, knob: value})


def test_widgets_show_the_recorded_verdicts():
    point = regimes.point_panel(64, 256)
    assert len(point.checks) == len(regimes.REGIMES) and any(not c.holds for c in point.checks)
    assert "no recorded point" in regimes.point_panel(64, 32).note
    for k in range(len(regimes.REGIMES)):
        panel = regimes.claim_panel(k)
        assert panel.figure.startswith("<svg") and "recorded points" in panel.note
    assert all(c.verdict in ("holds", "fails", "unresolved") for c in regimes.point_explorable().panel().checks)


def test_changing_a_knob_in_the_notebook_changes_the_prose():
    before = probe("09_regimes")
    after = probe("09_regimes", {"lam_small=0.03,": "lam_small=0.1,"})
    assert before.quoted["regime.q.lam_worst"] != after.quoted["regime.q.lam_worst"]
    assert before.quoted["regime.q.worst_agree"] == after.quoted["regime.q.worst_agree"]
    assert before.captions[0].startswith("**Figure 9.1.**")
