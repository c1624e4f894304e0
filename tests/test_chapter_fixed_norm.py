"""Chapter 6 (fixed norm, claim X1): the runners' checks at small sizes, their figures and captions, and the widgets."""

import numpy as np
import pytest
from incidental.book import Result
from incidental.chapters import fixed_norm as fx
from matplotlib.figure import Figure
from notebook_probe import cells, probe

FORCE = dict(n=4, m=6, seed=0, h=1e-6, tolerance=1e-8)
FLOWS = dict(n=5, m=8, seed=1, t_end=3.0, steps=7, rtol=1e-10, h=1e-4, tolerance=1e-8)
RATE = dict(n=16, m=64, seeds=tuple(range(6)), confidence=0.95)
PAIR = dict(kappa0s=(0.3, 0.99, 0.999), m=5, t_end=8.0, steps=41, seed=0, rtol=1e-12, tolerance=1e-9)
MODELS = dict(kappa0s=(0.1, 0.9, 0.99), m=5, t_end=200.0, seed=0, rtol=1e-10, tolerance=1e-6)
COMPARISON = dict(
    sizes=((8, 256), (16, 1024)), seeds=(0, 1, 2), t_end=3.0, steps=13, rtol=1e-8, confidence=0.95, crossover_band=0.3
)
CONCLUSIONS = dict(
    n=16, m=16384, seeds=(0, 1), t_end=8.0, early=(0.0, 1.0), late=(2.0, 4.0), zero=1e-3, rtol=1e-7, tolerance=0.02
)


def assert_holds(r: Result) -> None:
    assert r.checks, "a runner must check something"
    for c in r.checks:
        assert c.claim == "X1" and c.regime
        c.assert_holds()


def test_force_and_flow_identities():
    r = fx.force_identities(**FORCE)
    assert_holds(r)
    assert r.params == FORCE
    assert "seed=0" in r.checks[0].regime
    flows = fx.flow_agreement(**FLOWS)
    assert_holds(flows)
    assert "t=1.5" in flows.checks[-1].regime  # the finite-difference check is measured at t_end / 2
    assert not fx.force_identities(**{**FORCE, "tolerance": 1e-14}).checks[2].holds  # a broken tolerance fails


def test_cosine_rate_parts_and_their_means():
    r = fx.cosine_rate(**RATE)
    assert_holds(r)
    assert float(r.q.identity) < 1e-13
    assert r.q.third_push.low.raw < r.q.third_push.value.raw < r.q.third_push.high.raw
    with pytest.raises(ValueError, match="seeds"):
        fx.cosine_rate(**{**RATE, "seeds": (0, 1)})


def test_pair_solution_to_1e9_including_near_one():
    r = fx.pair_solution(**PAIR)
    assert_holds(r)
    assert float(r.q.pair_kappa) < 1e-9
    assert not all(c.holds for c in fx.pair_solution(**{**PAIR, "tolerance": 1e-15}).checks)


def test_pair_models_agree_on_push_and_end_and_order_their_half_times():
    r = fx.pair_models(**MODELS)
    assert_holds(r)
    half = r.data["half"]
    assert np.all(half["fixed_norm"] <= half["full"]) and np.all(half["full"] <= half["interference"])
    assert repr(r.q.half.fixed_norm) == f"{half['fixed_norm'][-1]:.2f}"
    assert isinstance(fx.pair_figure(r), Figure)


def test_flow_comparison_small():
    r = fx.flow_comparison(**COMPARISON)
    assert_holds(r)
    assert "n=16, m=1024" in r.checks[-1].regime  # a per-size check names its size
    c = r.data["comparisons"][1]
    assert c.errors["fixed_norm"].shape == (3, 13)
    assert np.all(c.errors["fixed_norm"][:, 0] < 1e-12)  # the same cosines at t = 0
    assert 0.5 < c.crossover < 1.1
    lo, hi = c.interval("fixed_norm")
    assert np.all(lo <= c.mean("fixed_norm")) and np.all(c.mean("fixed_norm") <= hi)
    assert c.norm_dev["full"][:, -1].mean() < c.norm_dev["interference"][:, -1].mean() / 10
    for builder in (fx.comparison_figure, fx.norms_figure):
        assert isinstance(builder(r), Figure)
    # the verdict figure is a grid of two columns with one legend, in its first panel
    assert [ax.get_legend() is not None for ax in fx.comparison_figure(r).axes] == [True, False]
    assert repr(r.q.size_list) == "(8, 256), (16, 1024)" and repr(r.q.first.n) == "8"
    narrow = fx.flow_comparison(**{**COMPARISON, "crossover_band": 1e-6})
    assert not all(c.holds for c in narrow.checks)


def test_flow_comparison_is_bit_identical_for_the_same_seeds():
    kw = dict(sizes=((8, 128),), seeds=(3, 4), t_end=2.0, steps=5, rtol=1e-8, confidence=0.9, crossover_band=0.5)
    a, b = fx.flow_comparison(**kw), fx.flow_comparison(**kw)
    for model in fx.MODELS:
        np.testing.assert_array_equal(a.data["comparisons"][0].errors[model], b.data["comparisons"][0].errors[model])


def test_conclusions_unchanged_at_fixed_norm():
    r = fx.conclusions(**CONCLUSIONS)
    assert_holds(r)
    assert "<table" in fx.conclusions_table(r).data
    assert repr(r.q.fixed_norm.slope) == f"{r.data['values']['slope']['fixed_norm']:.3f}"
    assert not all(c.holds for c in fx.conclusions(**{**CONCLUSIONS, "tolerance": 1e-9}).checks)


@pytest.mark.parametrize(
    "runner, knobs, bad",
    [
        (fx.force_identities, FORCE, dict(h=-1.0)),
        (fx.force_identities, FORCE, dict(tolerance=0.0)),
        (fx.flow_agreement, FLOWS, dict(m=3)),
        (fx.cosine_rate, RATE, dict(confidence=1.5)),
        (fx.pair_solution, PAIR, dict(kappa0s=())),
        (fx.pair_models, MODELS, dict(seed=-1)),
        (fx.flow_comparison, COMPARISON, dict(sizes=())),
        (fx.flow_comparison, COMPARISON, dict(sizes=((64, 32),))),
        (fx.conclusions, CONCLUSIONS, dict(early=(1.0, 0.0))),
        (fx.conclusions, CONCLUSIONS, dict(late=(2.0, 9.0))),
        (fx.three_flows_at, dict(n=8, m=64, seed=0, t_end=1.0, steps=5, rtol=1e-8), dict(steps=0)),
        (fx.pair_flow, dict(kappa0=0.5, t_end=1.0, rtol=1e-8), dict(kappa0=-0.5)),
    ],
)
def test_a_bad_knob_raises_naming_it(runner, knobs, bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        runner(**{**knobs, **bad})


def test_core_validation():
    with pytest.raises(ValueError, match="kappa0"):
        fx.fn.unit_pair(4, 1.2, seed=0)
    with pytest.raises(ValueError, match="kappa0"):
        fx.pair_flow(kappa0=1.0, t_end=1.0, rtol=1e-8)


def notebook_widgets() -> dict:
    """The widgets as the notebook's widget cells declare them, with their grids."""
    sources = [s for s in cells("06_fixed_norm", "code") if "_explorable()" in s]
    assert len(sources) == 2
    return {s: eval(s.strip(), {"ch": fx}) for s in sources}


def test_widgets_at_their_defaults_and_static_grids():
    assert set(fx.explorables()) == {"three flows", "pair models"}
    for explorable in notebook_widgets().values():
        assert "<svg" in explorable.panel().figure
        # every grid point of the static widgets (what the rendered book shows) computes; each check
        # resolves and holds there (none is a check that could not fail)
        for values in explorable.grid_points():
            for c in explorable.panel(**values).checks:
                assert c.resolved, (values, c)
                c.assert_holds()
    assert "refused" in fx.flows_explorable().safe_update({"n": 64, "m": 32})


def test_widget_checks_can_fail():
    assert not fx.CHECKS.crossover.close(predicted=fx.CROSS, measured=2.0, atol=0.3).holds


def test_captions_and_numbers_follow_the_knobs():
    """Run the notebook with other knobs: the captions (the Markdown after each figure) and the numbers follow."""
    base = probe("06_fixed_norm")
    changed = probe(
        "06_fixed_norm",
        {"seeds=tuple(range(10)),": "seeds=tuple(range(6)),", "(64, 65536), (128, 1024)": "(64, 16384), (128, 1024)"},
    )
    assert len(base.captions) == len(changed.captions) == 3
    assert all(c.startswith(f"**Figure 6.{k + 1}.**") for k, c in enumerate(changed.captions))
    assert "mean over 10 draws" in base.captions[1] and "mean over 6 draws" in changed.captions[1]
    assert "(64, 65536)" in base.captions[2] and "(64, 16384)" in changed.captions[2]
    assert "0.999" in base.captions[0]
    assert base.quoted["comparison.q.draws"] == "10" and changed.quoted["comparison.q.draws"] == "6"
