"""The whole model (chapter *Whole model*): the integrator to convergence, its fast path, the end state."""

import json
from pathlib import Path

import numpy as np
import pytest
from incidental import whole
from incidental.checks import ExponentFit
from incidental.model import sample_weights
from incidental.whole import (
    LAM_CRITICAL,
    argmax_collisions,
    count_polysemantic,
    discrete_final_length,
    end_state,
    expected_polysemantic,
    final_length,
    fit_count_exponent,
    init_argmax,
    mechanism_rate,
    polysemantic_neurons,
    rk_map,
    rk_step,
    run_point,
    split_step,
    summarize_counts,
    whole_flow,
)

ROOT = Path(__file__).resolve().parents[1]


def lam_for(m: int, c: float = 0.2) -> float:
    return c / np.sqrt(m)


@pytest.fixture(scope="module")
def small_runs():
    """Fast and dense runs of two small cases (the fast one through all three of its savings)."""
    out = {}
    for n, m, seed in [(6, 40, 0), (10, 64, 3)]:
        W0 = sample_weights(n, m, seed=seed)
        lam = lam_for(m)
        out[(n, m, seed)] = (W0, lam, whole_flow(W0, lam, h=0.2), whole_flow(W0, lam, h=0.2, method="dense"))
    return out


@pytest.mark.parametrize("order", [2, 3, 4])
def test_rk_map_is_the_weight_space_rk_step(order):
    W = sample_weights(7, 30, seed=1)
    np.testing.assert_allclose(rk_map(W @ W.T, 0.3, order) @ W, rk_step(W, 0.3, order), atol=1e-14)


def test_runs_converge_to_exact_zeros_one_neuron_per_feature(small_runs):
    for (n, _m, _), (_, _lam, fast, _) in small_runs.items():
        assert fast.converged and fast.t_end > fast.t_support + fast.hold - 1e-9
        assert np.all(np.count_nonzero(fast.W, axis=1) == 1)  # every feature on one neuron
        assert np.count_nonzero(fast.W) == n  # the rest exactly zero
        assert fast.residual <= fast.tol


def test_end_point_is_a_fixed_point_of_the_step(small_runs):
    for _, (_, lam, fast, _) in small_runs.items():
        again = split_step(fast.W, lam, fast.h_sparse)
        assert np.array_equal(again != 0, fast.W != 0)
        assert np.max(np.abs(again - fast.W)) <= 10 * fast.tol * fast.h_sparse


def test_fast_path_equals_dense_integrator(small_runs):
    for _, (_, _, fast, dense) in small_runs.items():
        assert "free_features_from" in fast.stats and "columns_dropped_from" in fast.stats
        assert np.array_equal(fast.W != 0, dense.W != 0)
        np.testing.assert_allclose(fast.W, dense.W, atol=1e-12)
        assert fast.steps == dense.steps and fast.t_end == dense.t_end
        assert count_polysemantic(fast.W) == count_polysemantic(dense.W)


def test_fast_path_gram_stages_equal_dense_when_m_large():
    W0 = sample_weights(4, 64, seed=2)  # m > 2n: the fast path uses the Gram-space stages
    lam = lam_for(64)
    fast = whole_flow(W0, lam, h=0.25, h_sparse=0.5, switch_density=0.3)
    dense = whole_flow(W0, lam, h=0.25, h_sparse=0.5, switch_density=0.3, method="dense")
    assert np.array_equal(fast.W != 0, dense.W != 0)
    np.testing.assert_allclose(fast.W, dense.W, atol=1e-12)


def test_final_lengths_match_the_closed_form(small_runs):
    for _, (_, lam, fast, _) in small_runs.items():
        lengths = np.abs(fast.W[fast.W != 0])
        np.testing.assert_allclose(lengths, discrete_final_length(lam, fast.h_sparse), atol=1e-9)
        assert abs(lengths.mean() - final_length(lam)) < 0.6 * lam * fast.h_sparse


def test_final_length_solves_the_cubic_and_its_series():
    for lam in (0.0, 1e-4, 0.01, 0.1, 0.3, LAM_CRITICAL):
        w = final_length(lam)
        assert w * (1 - w * w) == pytest.approx(lam, abs=1e-12)
        assert w >= 1 / np.sqrt(3) - 1e-7  # the stable (largest) root
    assert final_length(1e-3) == pytest.approx(1 - 1e-3 / 2 - 3e-6 / 8, abs=1e-9)
    assert final_length(0.5) == 0.0
    errs = [abs(discrete_final_length(0.01, h) - final_length(0.01)) for h in (0.1, 0.05, 0.025)]
    assert errs[0] / errs[1] == pytest.approx(2, rel=0.1) and errs[1] / errs[2] == pytest.approx(2, rel=0.1)


def test_opposite_signs_share_a_neuron_same_signs_do_not():
    lam = 0.02
    opposite = whole_flow(np.array([[0.9, 0.1, 0.05], [-0.8, 0.05, 0.1], [0.05, 0.1, 0.9]]), lam, h=0.2)
    same = whole_flow(np.array([[0.9, 0.3, 0.05], [0.8, 0.05, 0.3], [0.05, 0.1, 0.9]]), lam, h=0.2)
    assert opposite.converged and same.converged
    assert list(polysemantic_neurons(opposite.W)) == [0]
    state = end_state(opposite.W)
    assert state.opposite_sign_pairs == 1 and state.same_sign_shared == 0
    assert state.shared == ((0, (0, 1), (1, -1)),)
    assert count_polysemantic(same.W) == 0
    assert end_state(same.W).neurons_per_feature[1] == 3


def test_end_state_and_counts_on_a_handmade_matrix():
    W = np.zeros((5, 6))
    W[0, 0], W[1, 0], W[2, 1], W[3, 1], W[4, 2] = 0.9, -0.9, 0.9, 0.8, 0.9
    assert count_polysemantic(W) == 2
    state = end_state(W)
    assert state.opposite_sign_pairs == 1 and state.same_sign_shared == 1 and state.dead_features == 0
    assert list(state.features_per_neuron[:3]) == [3, 1, 2]
    W0 = np.eye(5, 6)
    assert mechanism_rate(W0, W) == pytest.approx(1 / 5)  # only feature 0 ends where it started
    assert list(init_argmax(-W0)[1]) == [-1] * 5


def test_expected_count_matches_the_slot_model_by_monte_carlo():
    """The formula is the mean of the slot model: argmax neuron uniform, sign a fair coin, a
    same-sign collision's loser moves to a uniformly random free slot."""
    rng = np.random.default_rng(0)
    n, m, draws = 40, 60, 4000
    counts = []
    for _ in range(draws):
        taken = np.zeros(2 * m, dtype=bool)
        for slot in rng.integers(0, 2 * m, size=n):
            while taken[slot]:
                slot = rng.integers(0, 2 * m)
            taken[slot] = True
        counts.append(np.sum(taken[:m] & taken[m:]))
    counts = np.asarray(counts)
    assert abs(counts.mean() - expected_polysemantic(n, m)) < 4 * counts.std() / np.sqrt(draws)
    assert expected_polysemantic(256, 4096) == pytest.approx(256**2 / (4 * 4096), rel=0.01)


def test_same_seed_same_bits():
    W0 = sample_weights(6, 40, seed=5)
    a = whole_flow(W0, 0.03, h=0.2, record=[0.0, 5.0])
    b = whole_flow(sample_weights(6, 40, seed=5), 0.03, h=0.2, record=[0.0, 5.0])
    assert np.array_equal(a.W, b.W) and a.t_end == b.t_end
    assert np.array_equal(a.snapshots[1].norm_sq, b.snapshots[1].norm_sq)


def test_snapshots_record_the_phases():
    W0 = sample_weights(6, 40, seed=0)
    run = whole_flow(W0, lam_for(40), h=0.2, record=[0.0, 2.0, 1e9 - 1])
    first, second = run.snapshots[:2]
    assert first.t == 0.0 and second.t == pytest.approx(2.0)
    assert first.nnz == 240 and second.nnz < 240
    assert second.max_overlap < first.max_overlap  # interference resolved early
    assert len(run.snapshots) == 2  # a time after t_end is never reached


W = sample_weights(3, 6, seed=0)
BAD = [
    ("lam negative", lambda: whole_flow(W, -0.1), "lam"),
    ("lam zero", lambda: whole_flow(W, 0.0), "lam"),
    ("lam infinite", lambda: whole_flow(W, np.inf), "lam"),
    ("W0 with nan", lambda: whole_flow(np.where(W > 0.3, np.nan, W), 0.1), "W0"),
    ("W0 one row", lambda: whole_flow(W[:1], 0.1), "W0"),
    ("W0 m < n", lambda: whole_flow(W.T, 0.1), "W0"),
    ("W0 one-dimensional", lambda: whole_flow(W[0], 0.1), "W0"),
    ("h zero", lambda: whole_flow(W, 0.1, h=0.0), "h"),
    ("h_sparse negative", lambda: whole_flow(W, 0.1, h_sparse=-1.0), "h_sparse"),
    ("tol nan", lambda: whole_flow(W, 0.1, tol=np.nan), "tol"),
    ("hold negative", lambda: whole_flow(W, 0.1, hold=-1.0), "hold"),
    ("t_max zero", lambda: whole_flow(W, 0.1, t_max=0.0), "t_max"),
    ("method unknown", lambda: whole_flow(W, 0.1, method="euler"), "method"),
    ("record decreasing", lambda: whole_flow(W, 0.1, record=[2.0, 1.0]), "times"),
    ("n too small", lambda: expected_polysemantic(1, 5), "n"),
    ("m < n", lambda: expected_polysemantic(8, 4), "m must be >= n"),
    ("lam negative (length)", lambda: final_length(-0.1), "lam"),
    ("W not 2-d", lambda: count_polysemantic(np.ones(3)), "W"),
    ("shapes differ", lambda: mechanism_rate(W, W[:2]), "W0 and W"),
]


@pytest.mark.parametrize("name,call,word", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_argument(name, call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_third_order_and_single_precision_paths_agree_with_dense():
    W0 = sample_weights(12, 96, seed=4)
    lam = lam_for(96, 0.1)
    settings = dict(h=0.25, h_sparse=1.0, switch_density=0.1, rk_order=3)
    dense = whole_flow(W0, lam, method="dense", **settings)
    fast = whole_flow(W0, lam, **settings)
    single = whole_flow(W0, lam, single_above=256, **settings)
    assert "single_precision_until" in single.stats
    np.testing.assert_allclose(fast.W, dense.W, atol=1e-12)
    assert np.array_equal(single.W != 0, dense.W != 0)
    assert single.converged and single.residual <= single.tol  # convergence is judged in double precision


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_step_too_large_is_reported():
    with pytest.raises(FloatingPointError, match="smaller h"):
        whole_flow(sample_weights(16, 16, seed=0), 0.05, h=3.0, method="dense")


def test_argmax_collisions_counts_neurons_with_both_signs():
    argmax = np.array([0, 0, 1, 1, 2, -1])
    sign = np.array([1, -1, 1, 1, -1, 0])
    assert argmax_collisions(argmax, sign) == 1


def test_run_point_record_is_consistent():
    rec = run_point(12, 48, 1, lam=lam_for(48, 0.2))
    assert rec["converged"] and rec["single_neuron_features"] == 12 and rec["dead_features"] == 0
    assert rec["polysemantic"] == rec["opposite_sign_pairs"]  # the end state: opposite-sign pairs only
    assert rec["decided"][-1] == 1.0 and rec["collisions"][-1] == rec["polysemantic"]
    assert rec["tau"] == sorted(rec["tau"]) and rec["density"][0] == 1.0
    assert 0.0 <= rec["mechanism"] <= rec["rank_le_2"] <= 1.0
    assert rec["t_density_half"] <= rec["t_density_tenth"] <= rec["t_support"] <= rec["t_end"]


def test_count_summary_and_poisson_exponent_fit():
    rng = np.random.default_rng(1)
    ms = np.repeat([64, 128, 256, 512, 1024], 40)
    counts = rng.poisson(2000.0 / ms)
    fit = fit_count_exponent(ms, counts)
    assert fit.low < -1.0 < fit.high and fit.high - fit.low < 0.2
    assert fit.prefactor == pytest.approx(2000, rel=0.2) and 0.5 < fit.dispersion < 1.5
    assert isinstance(fit, ExponentFit) and fit.confidence == 0.95  # judged by Declared.exponent(fit=...)
    recs = [{"n": 32, "m": int(m), "polysemantic": int(c)} for m, c in zip(ms, counts)]
    summary = summarize_counts(recs)
    assert list(summary.m) == [64, 128, 256, 512, 1024] and np.all(summary.runs == 40)
    assert np.all(summary.low < summary.mean) and np.all(summary.mean < summary.high)
    np.testing.assert_allclose(summary.predicted, [expected_polysemantic(32, m) for m in summary.m])
    alone = summarize_counts([{"n": 8, "m": 16, "polysemantic": 3}])  # one run: a mean, no interval
    assert alone.mean[0] == 3 and np.isnan(alone.low[0]) and np.isnan(alone.high[0])
    with pytest.raises(ValueError, match="counts"):
        fit_count_exponent(ms[:3], [-1, 0, 1])


def test_the_step_is_bounded_by_the_sparsification_clock():
    """At large lam sqrt(m) a fixed step lets features survive that the flow kills (issue 13): with the
    clock bound the deaths do not move when the step is halved, and at lam sqrt(m) <= 0.1 nothing changes."""
    import numpy as np
    from incidental.model import sample_weights
    from incidental.whole import SWEEP_SETTINGS, whole_flow

    n, m = 32, 1024
    W0 = sample_weights(n, m, seed=1)
    lam = 3.2 / np.sqrt(m)
    plain = {k: v for k, v in SWEEP_SETTINGS.items() if k != "tau_step"}

    def dead(**settings):
        return int(np.sum(~np.any(whole_flow(W0, lam, **settings).W != 0, axis=1)))

    bounded = dead(**SWEEP_SETTINGS)
    bound = SWEEP_SETTINGS["tau_step"] / 3.2
    assert bounded == dead(**{**plain, "h": bound / 2, "h_sparse": bound / 2})
    assert dead(**plain) < bounded  # the fixed coarse step under-kills (0.58 lam survival threshold at h = 1)
    small = 0.1 / np.sqrt(m)
    a = whole_flow(W0, small, **SWEEP_SETTINGS)
    b = whole_flow(W0, small, **plain)
    assert np.array_equal(a.W, b.W) and a.t_end == b.t_end


def test_step_study_pairs_the_book_scheme_with_the_reference_seed_by_seed():
    from incidental.whole import step_study

    def run(scheme, seed, poly, dead):
        return dict(
            n=8,
            m=64,
            lam_sqrt_m=0.1,
            seed=seed,
            scheme=scheme,
            polysemantic=poly,
            dead_features=dead,
            mechanism=0.5,
            t_end=100.0 + seed,
        )

    runs = [run("book", 0, 2, 0), run("book", 1, 3, 4), run("rk4_fixed", 0, 2, 0), run("rk4_fixed", 1, 4, 4)]
    rows = {key: (ref, book, se) for _, key, ref, book, se in step_study(runs)}
    assert rows["polysemantic"] == (3.0, 2.5, 0.5)  # paired differences 0 and -1
    assert rows["dead_fraction"] == (0.25, 0.25, 0.0) and rows["t_end"][2] == 0.0


@pytest.mark.parametrize("name, n, m, seed", [("whole_count_sweep", 64, 128, 1), ("whole_paper_sweep", 256, 256, 3)])
def test_recorded_sweeps_at_small_lam_are_what_the_clock_bounded_scheme_computes(name, n, m, seed):
    """The count sweeps at lam sqrt(m) = 0.1 were recorded before the clock bound existed (their header has no
    tau_step); the bound leaves the steps there unchanged, so today's scheme recomputes a recorded run exactly."""
    header, runs = whole.read_sweep(ROOT / "book" / "data" / f"{name}.jsonl")
    assert "tau_step" not in header["settings"] and whole.SWEEP_SETTINGS["tau_step"]
    rec = next(r for r in runs if r["n"] == n and r["m"] == m and r["seed"] == seed)
    now = whole.run_point(n, m, seed, lam=rec["lam"])
    for key in ("polysemantic", "dead_features", "mechanism", "t_end", "steps", "mean_length", "density"):
        assert now[key] == rec[key], key


def test_ratios_by_load_pool_bands_and_follow_the_trend_with_n():
    """Made-up records at m/n = 4: the count at the prediction at n = 32 and at 0.5 of it at n = 64, then 0.75 of
    it at n = 32: the ratio falls by 0.5 per doubling of n, then by 0.25."""

    def records(scales):
        return [
            dict(n=n, m=4 * n, polysemantic=scale * whole.expected_polysemantic(n, 4 * n) + noise, seed=s)
            for n, scale in scales
            for s, noise in enumerate((-0.5, 0.5) * 10)
        ]

    bands, by_n, trends = whole.ratios_by_load(records(((32, 1.0), (64, 0.5))))
    assert np.isnan(bands[0].value) and np.isfinite(bands[1].value) and len(by_n[32]) == len(whole.LOAD_BANDS)
    assert by_n[32][1].low < 1.0 < by_n[32][1].high and by_n[64][1].low < 0.5 < by_n[64][1].high
    assert trends[1].low < -0.5 < trends[1].high < 0 and np.isnan(trends[0].value)
    assert whole.ratios_by_load(records(((32, 0.75), (64, 0.5))))[2][1].value == pytest.approx(-0.25, abs=0.02)
    diff = whole.ratio_difference(by_n[64][1], by_n[32][1])
    assert diff.high < 0 and diff.low < diff.value < diff.high


def test_a_sweep_is_finished_only_once_its_last_invocation_completed(tmp_path):
    """read_sweep's ``finished``: false while the sweep runs (no session line yet); ``missing`` lists the points
    short of their planned runs (seeds per value of lam, two values here)."""
    head = dict(format=whole.SWEEP_FORMAT, library_version="x", settings={}, n=[4], m=[4], seeds=1)
    run = dict(n=4, m=4, seed=0, lam=0.1, lam_sqrt_m=0.2, polysemantic=0, seconds=1.0)
    path = tmp_path / "s.jsonl"
    for lines, finished in (
        ([head, run], False),
        ([head, run, {"session": {"status": "failed runs"}}], True),
        ([head, run, {"session": {"status": "complete", "wall_seconds": 1.0}}], True),
    ):
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))
        assert whole.read_sweep(path)[0]["finished"] is finished
    grid = {**head, "n": [4, 8], "m": [4, 8], "seeds": 2}
    path.write_text("".join(json.dumps(x) + "\n" for x in (grid, run, {**run, "lam": 0.2, "lam_sqrt_m": 0.4})))
    assert whole.read_sweep(path)[0]["missing"] == [
        dict(n=4, m=4, runs=2),
        dict(n=4, m=8, runs=4),
        dict(n=8, m=8, runs=4),
    ]
