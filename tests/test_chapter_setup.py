"""Chapter 1 (Setup): the runners at small sizes, the figures' captions, the widgets, and a knob test."""

from __future__ import annotations

import numpy as np
import pytest
from incidental.chapters import setup
from notebook_probe import probe


def test_forces_check_records_its_knobs_and_holds():
    r = setup.forces_check(n=4, m=10, lam=0.1, seed=3, h=1e-6, tolerance=1e-7)
    assert r.params["n"] == 4 and r.params["seed"] == 3 and all(c.holds for c in r.checks)
    assert "n=4, m=10" in r.checks[0].regime and float(r.q.error) < 1e-7


def test_scale_invariance_holds_and_fails_a_broken_tolerance():
    r = setup.scale_invariance(n=4, m=16, factors=(2.0, 0.5), t_end=1.0, steps=3, seed=1, tolerance=1e-8)
    assert all(c.holds for c in r.checks)
    tight = setup.scale_invariance(n=4, m=16, factors=(2.0,), t_end=1.0, steps=3, seed=1, tolerance=1e-30)
    assert not all(c.holds for c in tight.checks)  # a check that can fail


def test_init_scales_fits_both_exponents_and_builds_its_caption():
    r = setup.init_scales(n=16, ms=setup.geometric_sizes(64, 4**8, 5), seed=0, norm_tolerance=0.02, constant_rtol=0.1)
    assert all(c.holds for c in r.checks)
    assert abs(float(r.q.dot_fit.exponent) + 0.5) < 0.05
    assert repr(r.q.dot_fit).count("[") == 1 and repr(r.q.dot_fit.low) in repr(r.q.dot_fit)
    assert setup.init_scales_figure(r) is not None


def test_regularization_scan_is_linear_in_lam_sqrt_m():
    r = setup.regularization_scan(
        n=16, ms=(256, 1024), lams=tuple(np.geomspace(1e-5, 1e-2, 5)), seed=0, tolerance=0.1, small=0.03
    )
    assert all(c.holds for c in r.checks) and 0.1 < float(r.q.slope) < 2.0
    assert "lam_sqrt_m=0.03" in r.checks[1].regime and "m=256" in r.checks[1].regime


@pytest.mark.parametrize(
    "knob, value",
    [("n", 1), ("m", 2), ("tolerance", -1.0), ("seed", -1), ("h", 0.0), ("lam", float("nan"))],
)
def test_forces_check_refuses_a_bad_knob_naming_it(knob, value):
    knobs = dict(n=4, m=10, lam=0.1, seed=3, h=1e-6, tolerance=1e-7)
    with pytest.raises(ValueError, match=rf"^{knob}\b|{knob} must"):
        setup.forces_check(**{**knobs, knob: value})


def test_init_scales_refuses_too_few_sizes_naming_the_knob():
    with pytest.raises(ValueError, match="ms must hold at least 3"):
        setup.init_scales(n=16, ms=(64, 128), seed=0, norm_tolerance=0.02, constant_rtol=0.1)


@pytest.mark.parametrize("low, high, count", [(1, 10, 3), (10, 5, 3), (2, 10, 1)])
def test_geometric_sizes_refuses_bad_input(low, high, count):
    with pytest.raises(ValueError, match="low|high|count"):
        setup.geometric_sizes(low, high, count)


def test_widgets_default_panels_hold():
    for explorable in setup.explorables().values():
        assert all(c.holds for c in explorable.panel().checks)


def test_changing_a_knob_in_the_notebook_changes_figure_caption_and_prose():
    before = probe("01_setup")
    after = probe("01_setup", {"n=64,": "n=16,"})
    assert "$n =$ 64" in before.captions[0] and "$n =$ 16" in after.captions[0]
    assert before.captions[0].startswith("**Figure 1.1.**")
    for key in ("scales.q.norm_fit", "scales.q.dot_fit", "scales.q.constant"):
        assert before.quoted[key] != after.quoted[key], key
    assert "n=16" in after.tables[1] and "n=64" in before.tables[1]
    assert before.quoted["forces.q.error"] == after.quoted["forces.q.error"]  # another experiment's knobs
