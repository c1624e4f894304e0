"""Every bad input of the brief raises a ValueError that names the argument."""

import incidental as inc
import numpy as np
import pytest

W = inc.sample_weights(3, 5, seed=0)
G = W @ W.T
T = [0.0, 1.0]

BAD_INPUTS = [
    ("n too small", lambda: inc.sample_weights(1, 5, seed=0), "n"),
    ("m too small", lambda: inc.sample_weights(3, 1, seed=0), "m"),
    ("m < n", lambda: inc.sample_weights(8, 4, seed=0), "m must be >= n"),
    ("m < n for the gram", lambda: inc.sample_gram(8, 4, seed=0), "m must be >= n"),
    ("n not an integer", lambda: inc.sample_gram(3.5, 8, seed=0), "n"),
    ("n is a bool", lambda: inc.sample_weights(True, 8, seed=0), "n"),
    ("negative seed", lambda: inc.sample_weights(3, 5, seed=-1), "seed"),
    ("seed not an integer", lambda: inc.sample_weights(3, 5, seed=1.5), "seed"),
    ("negative lam", lambda: inc.loss(W, lam=-0.1), "lam"),
    ("infinite lam", lambda: inc.forces(W, lam=np.inf), "lam"),
    ("nan in W", lambda: inc.forces(np.where(W > 0.5, np.nan, W)), "W"),
    ("W with one dimension", lambda: inc.loss(W[0]), "W"),
    ("W with more rows than columns", lambda: inc.forces(W.T), "W"),
    ("W with one row", lambda: inc.loss(W[:1]), "W"),
    ("unknown force", lambda: inc.forces(W, terms=("gravity",)), "terms"),
    ("no force", lambda: inc.forces(W, terms=()), "terms"),
    ("repeated force", lambda: inc.forces(W, terms=("interference", "interference")), "terms"),
    ("times decreasing", lambda: inc.simulate(W, [0.0, 2.0, 1.0]), "times"),
    ("times repeated", lambda: inc.simulate(W, [0.0, 1.0, 1.0]), "times"),
    ("negative time", lambda: inc.simulate(W, [-1.0, 1.0]), "times"),
    ("empty times", lambda: inc.simulate(W, []), "times"),
    ("non-finite time", lambda: inc.simulate_gram(G, [0.0, np.inf]), "times"),
    ("2-d times", lambda: inc.simulate_gram(G, [[0.0, 1.0]]), "times"),
    ("non-positive rtol", lambda: inc.simulate(W, T, rtol=0.0), "rtol"),
    ("non-positive max_step", lambda: inc.simulate(W, T, lam=0.1, max_step=-1.0), "max_step"),
    ("G not square", lambda: inc.simulate_gram(W, T), "G0"),
    ("G not symmetric", lambda: inc.simulate_gram(G + np.triu(np.ones_like(G), 1), T), "G0"),
    ("G with a non-positive diagonal", lambda: inc.cosine_similarity(G - 2 * np.eye(3)), "G"),
    ("regularisation in the Gram flow", lambda: inc.simulate_gram(G, T, terms=("regularization",)), "terms"),
    ("pair solution with three rows", lambda: inc.pair_interference(W, T), "W0"),
    ("fit with too few points", lambda: inc.fit_exponent([1, 2], [1, 2]), "sizes"),
    ("fit with non-positive values", lambda: inc.fit_exponent([1, 2, 4], [1, 0, 2]), "values"),
    ("fit with mismatched lengths", lambda: inc.fit_exponent([1, 2, 4], [1, 2]), "sizes"),
]


@pytest.mark.parametrize("call,name", [(c, n) for _, c, n in BAD_INPUTS], ids=[d for d, _, _ in BAD_INPUTS])
def test_bad_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_there_are_at_least_fifteen_distinct_bad_inputs():
    assert len({d for d, _, _ in BAD_INPUTS}) >= 15


# --- every knob of every knobs cell of the book -------------------------------------------------------


def _knob_cases() -> list[tuple[str, str, str, str]]:
    """(chapter, module.runner, knobs cell, knob) for every knob a notebook's run cell passes to a runner."""
    import importlib
    import re

    from incidental import book
    from notebook_probe import cells, knobs_of

    run = re.compile(r"^\w+\s*=\s*\w+\.(\w+)\(\*\*(\w+_knobs)\)", re.M)
    out = []
    for name in book.toc_chapters():
        code = "\n".join(cells(name, "code"))
        module_name = re.findall(r"from incidental\.chapters import (\w+)", code)[0]
        module = importlib.import_module(f"incidental.chapters.{module_name}")
        knobs = knobs_of(name, ch=module, **{module_name: module})
        out += [(name, f"{module_name}.{fn}", k, knob) for fn, k in run.findall(code) for knob in knobs[k]]
    return out


def _bad(value: object) -> object:
    """A value no runner accepts for a knob holding ``value``: NaN for a number, -1 for an integer,
    an empty tuple for a tuple, a number for a word."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int):
        return -1
    if isinstance(value, float):
        return float("nan")
    if isinstance(value, (tuple, list)):
        return ()
    return 42


@pytest.mark.parametrize("chapter, runner, knobs, knob", _knob_cases(), ids=lambda x: str(x))
def test_every_knob_of_the_book_refuses_a_bad_value_by_name(chapter, runner, knobs, knob):
    import importlib

    from notebook_probe import knobs_of

    module_name, fn = runner.split(".")
    module = importlib.import_module(f"incidental.chapters.{module_name}")
    values = knobs_of(chapter, ch=module, **{module_name: module})[knobs]
    with pytest.raises(ValueError, match=rf"\b{knob}\b"):
        getattr(module, fn)(**{**values, knob: _bad(values[knob])})
