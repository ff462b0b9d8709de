"""The unit-cube transform: round trips, scaling, and the random sampler's distributions."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from hpt.space import (
    CATEGORICAL,
    CONTINUOUS,
    INTEGER,
    LINEAR,
    LOG,
    REVERSE_LOG,
    Param,
    Space,
    resolve_scaling,
)


def cont(name="x", lo=0.0, hi=1.0, scaling=LINEAR):
    return Param(name, CONTINUOUS, lo, hi, scaling, scaling)


def test_auto_scaling_rule():
    assert resolve_scaling("auto", 1e-3, 1.0) == LOG  # ratio 1000
    assert resolve_scaling("auto", 1e-2, 1.0) == LINEAR  # ratio 100
    assert resolve_scaling("auto", 0.0, 1e6) == LINEAR  # min not > 0
    assert resolve_scaling("linear", 1e-6, 1.0) == LINEAR


@settings(max_examples=300, deadline=None)
@given(
    lo=st.floats(1e-8, 1e3),
    ratio=st.floats(1.0001, 1e9),
    t=st.floats(0.0, 1.0),
    scaling=st.sampled_from([LINEAR, LOG]),
)
def test_continuous_round_trip(lo, ratio, t, scaling):
    p = cont(lo=lo, hi=lo * ratio, scaling=scaling)
    x = p.decode(np.array([t]))
    assert p.low <= x <= p.high
    u = p.encode(x)[0]
    assert 0.0 <= u <= 1.0
    assert math.isclose(p.decode(np.array([u])), x, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=200, deadline=None)
@given(lo=st.floats(0.0, 0.9), width=st.floats(1e-6, 1.0), t=st.floats(0.0, 1.0))
def test_reverse_log_round_trip(lo, width, t):
    hi = min(lo + width, 0.999999)
    if not lo < hi:
        return
    p = cont(lo=lo, hi=hi, scaling=REVERSE_LOG)
    x = p.decode(np.array([t]))
    assert lo <= x <= hi
    assert math.isclose(p.decode(p.encode(x)), x, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    lo=st.integers(1, 1000),
    span=st.integers(1, 10**6),
    t=st.floats(0.0, 1.0),
    scaling=st.sampled_from([LINEAR, LOG]),
)
def test_integer_round_trip(lo, span, t, scaling):
    p = Param("n", INTEGER, float(lo), float(lo + span), scaling, scaling)
    v = p.decode(np.array([t]))
    assert isinstance(v, int) and lo <= v <= lo + span
    assert p.decode(p.encode(v)) == v


@given(values=st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=8, unique=True), data=st.data())
def test_categorical_round_trip(values, data):
    p = Param("c", CATEGORICAL, values=tuple(values), scaling="none", requested_scaling="none")
    v = data.draw(st.sampled_from(values))
    assert p.decode(p.encode(v)) == v


def test_space_encode_decode_and_snap():
    space = Space(
        (
            cont("a", 1e-3, 10.0, LOG),
            Param("n", INTEGER, 1, 5, LINEAR, LINEAR),
            Param("k", CATEGORICAL, values=("x", "y", "z")),
        )
    )
    assert space.dim == 5
    u = np.array([0.5, 0.52, 0.1, 0.7, 0.3])
    params = space.decode(u)
    assert set(params) == {"a", "n", "k"} and params["k"] == "y"
    assert space.decode(space.snap(u)) == params
    # A categorical takes one coordinate per value (one-hot), the others one each.
    assert [space.coords(n) for n in ("a", "n", "k")] == [slice(0, 1), slice(1, 2), slice(2, 5)]


def test_log_uniform_draws_pass_a_statistical_check():
    """Random draws of a logarithmic range are uniform in log(x) (Kolmogorov-Smirnov)."""
    p = cont(lo=1e-4, hi=1e2, scaling=LOG)
    rng = np.random.default_rng(0)
    xs = np.array([p.decode(rng.random(1)) for _ in range(4000)])
    logs = (np.log(xs) - math.log(1e-4)) / (math.log(1e2) - math.log(1e-4))
    assert stats.kstest(logs, "uniform").pvalue > 0.01
    # ... and clearly not uniform in x itself.
    assert stats.kstest((xs - 1e-4) / (1e2 - 1e-4), "uniform").pvalue < 1e-6
    # Every decade gets its share: 6 decades, about 1/6 each.
    decades = np.histogram(np.log10(xs), bins=6, range=(-4, 2))[0] / len(xs)
    assert np.all(np.abs(decades - 1 / 6) < 0.03)


def test_reverse_log_concentrates_near_one():
    p = cont(lo=0.0, hi=0.9999, scaling=REVERSE_LOG)
    rng = np.random.default_rng(1)
    xs = np.array([p.decode(rng.random(1)) for _ in range(4000)])
    logs = np.log(1 - xs) / math.log(1 - 0.9999)
    assert stats.kstest(logs, "uniform").pvalue > 0.01
    assert np.mean(xs > 0.99) > 0.4


def test_integer_and_categorical_draws_are_uniform():
    n = Param("n", INTEGER, 1, 4, LINEAR, LINEAR)
    k = Param("k", CATEGORICAL, values=("a", "b", "c"))
    rng = np.random.default_rng(2)
    ns = [n.decode(rng.random(1)) for _ in range(6000)]
    ks = [k.decode(rng.random(3)) for _ in range(6000)]
    assert stats.chisquare(np.bincount(ns)[1:]).pvalue > 0.01
    assert stats.chisquare([ks.count(v) for v in "abc"]).pvalue > 0.01


def test_grid_order_and_cardinality():
    space = Space(
        (Param("a", CATEGORICAL, values=("1", "2")), Param("b", CATEGORICAL, values=("x", "y", "z")))
    )
    assert space.cardinality == 6
    assert [tuple(p.values()) for p in space.grid()] == [
        ("1", "x"),
        ("1", "y"),
        ("1", "z"),
        ("2", "x"),
        ("2", "y"),
        ("2", "z"),
    ]
    assert Space((cont(),)).cardinality is None
    with pytest.raises(ValueError):
        list(Space((cont(),)).grid())
