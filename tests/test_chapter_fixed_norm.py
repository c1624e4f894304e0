"""Chapter 6 (fixed norm, claim X1): the runners' checks at small sizes, their figures and captions, and the widgets."""

import numpy as np
import pytest
from incidental.book import Result
from incidental.chapters import fixed_norm as fx
from matplotlib.figure import Figure


def assert_holds(r: Result) -> None:
    assert r.checks, "a runner must check something"
    for c in r.checks:
        assert c.claim == "X1"
        c.assert_holds()


def test_force_and_flow_identities():
    r = fx.force_identities(n=4, m=6, seed=0, h=1e-6, tolerance=1e-8)
    assert_holds(r)
    assert r.params == dict(n=4, m=6, seed=0, h=1e-6, tolerance=1e-8)
    assert_holds(fx.flow_agreement(n=5, m=8, seed=1, t_end=3.0, steps=7, rtol=1e-10, h=1e-4, tolerance=1e-8))


def test_cosine_rate_parts_and_their_means():
    r = fx.cosine_rate(n=16, m=64, seeds=tuple(range(6)), confidence=0.95)
    assert_holds(r)
    assert float(r.q.identity) < 1e-13
    with pytest.raises(ValueError, match="seeds"):
        fx.cosine_rate(n=16, m=64, seeds=(0, 1), confidence=0.95)


def test_pair_solution_to_1e9_including_near_one():
    r = fx.pair_solution(kappa0s=(0.3, 0.99, 0.999), m=5, t_end=8.0, steps=41, seed=0, rtol=1e-12, tolerance=1e-9)
    assert_holds(r)
    assert float(r.q.kappa) < 1e-9


def test_pair_models_agree_on_push_and_end_and_order_their_half_times():
    r = fx.pair_models(kappa0s=(0.1, 0.9, 0.99), m=5, t_end=200.0, seed=0, rtol=1e-10, tolerance=1e-6)
    assert_holds(r)
    half = r.data["half"]
    assert np.all(half["fixed_norm"] <= half["full"]) and np.all(half["full"] <= half["interference"])
    fig, caption = fx.pair_figure(r, kappa0=0.99)
    assert isinstance(fig, Figure) and "0.99" in caption


def test_flow_comparison_small():
    r = fx.flow_comparison(
        sizes=((8, 256), (16, 1024)),
        seeds=(0, 1, 2),
        t_end=3.0,
        steps=13,
        rtol=1e-8,
        confidence=0.95,
        crossover_band=0.3,
    )
    assert_holds(r)
    c = r.data["comparisons"][1]
    assert c.errors["fixed_norm"].shape == (3, 13)
    assert np.all(c.errors["fixed_norm"][:, 0] < 1e-12)  # the same cosines at t = 0
    assert 0.5 < c.crossover < 1.1
    lo, hi = c.interval("fixed_norm")
    assert np.all(lo <= c.mean("fixed_norm")) and np.all(c.mean("fixed_norm") <= hi)
    assert c.norm_dev["full"][:, -1].mean() < c.norm_dev["interference"][:, -1].mean() / 10
    for builder in (fx.comparison_figure, fx.norms_figure):
        fig, caption = builder(r)
        assert isinstance(fig, Figure) and caption.strip()
    assert "(8, 256)" in fx.comparison_figure(r)[1]


def test_flow_comparison_is_bit_identical_for_the_same_seeds():
    kw = dict(sizes=((8, 128),), seeds=(3, 4), t_end=2.0, steps=5, rtol=1e-8, confidence=0.9, crossover_band=0.5)
    a, b = fx.flow_comparison(**kw), fx.flow_comparison(**kw)
    for model in fx.MODELS:
        np.testing.assert_array_equal(a.data["comparisons"][0].errors[model], b.data["comparisons"][0].errors[model])


def test_conclusions_unchanged_at_fixed_norm():
    r = fx.conclusions(
        n=16, m=16384, seeds=(0, 1), t_end=8.0, early=(0.0, 1.0), late=(2.0, 4.0), zero=1e-3, rtol=1e-7, tolerance=0.02
    )
    assert_holds(r)
    assert "<table" in fx.conclusions_table(r)
    with pytest.raises(ValueError, match="early"):
        fx.conclusions(
            n=16, m=1024, seeds=(0,), t_end=8.0, early=(1.0, 0.0), late=(2.0, 4.0), zero=1e-3, rtol=1e-7, tolerance=0.02
        )


def test_validation():
    with pytest.raises(ValueError, match="seeds"):
        fx.compare_size(8, 64, seeds=(0,), times=[0.0, 1.0], rtol=1e-6, confidence=0.9)
    with pytest.raises(ValueError, match="m"):
        fx.compare_size(8, 4, seeds=(0, 1), times=[0.0, 1.0], rtol=1e-6, confidence=0.9)
    with pytest.raises(ValueError, match="times"):
        fx.compare_size(8, 64, seeds=(0, 1), times=[1.0, 0.0], rtol=1e-6, confidence=0.9)
    with pytest.raises(ValueError, match="sizes"):
        fx.flow_comparison(sizes=(), seeds=(0, 1), t_end=1.0, steps=3, rtol=1e-6, confidence=0.9, crossover_band=0.1)
    with pytest.raises(ValueError, match="kappa0"):
        fx.unit_pair(4, 1.2, seed=0)


def test_widgets_at_their_defaults_and_static_grids():
    widgets = fx.explorables()
    assert set(widgets) == {"three flows", "pair models"}
    for explorable in widgets.values():
        panel = explorable.panel()
        for c in panel.checks:
            c.assert_holds()
        assert "<svg" in panel.figure
    # every grid point of the static widgets (what the rendered book shows) computes and holds
    for explorable in widgets.values():
        for values in explorable.grid_points():
            for c in explorable.panel(**values).checks:
                c.assert_holds()
    assert "refused" in widgets["three flows"].safe_update({"n": 64, "m": 32})
