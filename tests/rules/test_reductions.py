"""Reductions and cumulative functions (and the ufunc methods equal to them),
checked by finite differences on every axis form and with keepdims; and the
statistics and integrals: trapezoid, cov, corrcoef, histogram."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import zygcy
from zygcy.testing import gradcheck

from _grid import C, R, case_table, check, rand

# (shape, axis) pairs: None, int, negative, tuple
AXES = [((), None), ((3,), None), ((3,), 0), ((3, 2), None), ((3, 2), 0), ((3, 2), -1),
        ((3, 2), (0, 1)), ((2, 3, 2), (0, 2)), ((2, 3, 2), -2)]
KEEP = [False, True]

SMOOTH = [np.sum, np.mean, np.nansum, np.nanmean, np.prod, np.nanprod]
VARIANCE = [np.var, np.std, np.nanvar, np.nanstd]
EXTREMES = [np.max, np.min, np.amax, np.amin, np.nanmax, np.nanmin, np.ptp]
ORDER_STATS = [np.median, np.nanmedian]
QUANTILES = [np.quantile, np.nanquantile, np.percentile, np.nanpercentile]
CUMULATIVE = [np.cumsum, np.cumprod, np.nancumsum, np.nancumprod]
CUMULATIVE_1D = [getattr(np, n) for n in ("cumulative_sum", "cumulative_prod") if hasattr(np, n)]
REDUCE = [np.add.reduce, np.multiply.reduce, np.maximum.reduce, np.minimum.reduce,
          np.fmax.reduce, np.fmin.reduce, np.logaddexp.reduce, np.logaddexp2.reduce]
ACCUMULATE = [np.add.accumulate, np.multiply.accumulate]
RUNNING = [np.maximum.accumulate, np.minimum.accumulate, np.fmax.accumulate, np.fmin.accumulate]
OTHER = [np.trace, np.average]



def _name(f):
    return getattr(f, "__qualname__", None) or f.__name__


def _ids(case):
    return "%s-%s" % case


# ---------------------------------------------------------------------------
# The grid: every reduction on every axis form, with and without keepdims

@pytest.mark.parametrize("keepdims", KEEP)
@pytest.mark.parametrize("case", AXES, ids=lambda c: "%s-ax%s" % c)
@pytest.mark.parametrize("f", SMOOTH, ids=_name)
def test_smooth(f, case, keepdims):
    shape, axis = case
    x = rand(shape, seed=1, positive=True)
    gradcheck(lambda x: f(x, axis=axis, keepdims=keepdims), x, order=2)


@pytest.mark.parametrize("case", AXES[1:], ids=lambda c: "%s-ax%s" % c)
@pytest.mark.parametrize("f", VARIANCE, ids=_name)
def test_variance(f, case):
    shape, axis = case
    x = rand(shape, seed=2)
    gradcheck(lambda x: f(x, axis=axis), x, order=2)
    gradcheck(lambda x: f(x, axis=axis, keepdims=True, ddof=1) if np.size(x) > 3 or axis is None
              else f(x, axis=axis, keepdims=True), x, order=2)


@pytest.mark.parametrize("keepdims", KEEP)
@pytest.mark.parametrize("case", AXES, ids=lambda c: "%s-ax%s" % c)
@pytest.mark.parametrize("f", EXTREMES, ids=_name)
def test_extremes(f, case, keepdims):
    shape, axis = case
    x = rand(shape, seed=3)
    gradcheck(lambda x: f(x, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("keepdims", KEEP)
@pytest.mark.parametrize("case", AXES, ids=lambda c: "%s-ax%s" % c)
@pytest.mark.parametrize("f", ORDER_STATS, ids=_name)
def test_median(f, case, keepdims):
    shape, axis = case
    x = rand(shape, seed=4)
    gradcheck(lambda x: f(x, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("q", [0.3, [0.1, 0.5, 1.0]], ids=str)
@pytest.mark.parametrize("case", AXES, ids=lambda c: "%s-ax%s" % c)
@pytest.mark.parametrize("f", QUANTILES, ids=_name)
def test_quantiles(f, case, q):
    shape, axis = case
    x = rand(shape, seed=5)
    qq = np.asarray(q) * (100 if "percentile" in f.__name__ else 1)
    gradcheck(lambda x: f(x, qq, axis=axis), x)
    gradcheck(lambda x: f(x, qq, axis=axis, keepdims=True), x)


@pytest.mark.parametrize("case", [((3,), None), ((3, 2), None), ((3, 2), 0), ((3, 2), -1),
                                  ((2, 3, 2), 1)], ids=lambda c: "%s-ax%s" % c)
@pytest.mark.parametrize("f", CUMULATIVE, ids=_name)
def test_cumulative(f, case):
    shape, axis = case
    x = rand(shape, seed=6, positive=True)
    gradcheck(lambda x: f(x, axis=axis), x, order=2)


@pytest.mark.parametrize("f", CUMULATIVE_1D, ids=_name)
def test_cumulative_array_api(f):
    gradcheck(lambda x: f(x), rand((3,), seed=7, positive=True), order=2)
    gradcheck(lambda x: f(x, axis=1), rand((3, 2), seed=8, positive=True), order=2)
    with pytest.raises(NotImplementedError, match="include_initial"):
        zygcy.gradient(lambda x: np.sum(f(x, include_initial=True)), np.ones(3))


@pytest.mark.parametrize("case", [((3,), 0), ((3, 2), 0), ((3, 2), 1), ((3, 2), None),
                                  ((2, 3, 2), -1)], ids=lambda c: "%s-ax%s" % c)
@pytest.mark.parametrize("f", REDUCE + ACCUMULATE, ids=_name)
def test_ufunc_methods(f, case):
    shape, axis = case
    if axis is None and f in ACCUMULATE:
        return          # accumulate needs an axis
    x = rand(shape, seed=9, positive=True)
    smooth = f in (np.add.reduce, np.multiply.reduce, np.logaddexp.reduce, np.logaddexp2.reduce) \
        or f in ACCUMULATE
    gradcheck(lambda x: f(x, axis), x, order=2 if smooth else 1)
    gradcheck(lambda x: f(x), x, order=2 if smooth else 1)       # the default axis=0
    if f in REDUCE:
        gradcheck(lambda x: f(x, axis=axis, keepdims=True), x, order=2 if smooth else 1)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("f", RUNNING, ids=_name)
def test_running_extremes(f, axis):
    x = rand((4, 3, 5), seed=17)
    gradcheck(lambda x: f(x, axis), x, order=2)         # piecewise linear: the second derivative is 0


def test_running_extreme_values():
    x = np.array([1.0, 3.0, 2.0, 3.0, 5.0, 4.0])
    w = np.arange(6.0)
    assert zygcy.gradient(lambda x: np.sum(np.maximum.accumulate(x) * w), x)[0].tolist() == \
        [0.0, 1 + 2 + 3, 0.0, 0.0, 4 + 5, 0.0]               # the first of tied maxima gets it
    assert zygcy.gradient(lambda x: np.sum(np.minimum.accumulate(x) * w), x)[0].tolist() == \
        [15.0, 0, 0, 0, 0, 0]
    z = np.array([1.0 + 1j, 2.0 - 1j])        # complex numbers compare lexicographically
    g = zygcy.forward(lambda x: np.maximum.accumulate(x), z)[1](np.array([1j, 2.0]))[0]
    assert g.tolist() == [1j, 2.0]


def test_where():
    x = rand((3, 2), seed=18)
    m = np.array([[True, False], [True, True], [False, True]])
    for f in (np.sum, np.mean, np.nansum, np.nanmean):
        gradcheck(lambda x: f(x, axis=0, where=m), x, order=2)
    gradcheck(lambda x: np.max(x, axis=1, where=m, initial=-10.0), x)
    gradcheck(lambda x: np.add.reduce(x, 1, where=m), x, order=2)
    # an initial value is a constant of the sum: it adds nothing to the tangent
    gradcheck(lambda x: np.sum(x * x, axis=0, initial=5.0), x, order=2)
    gradcheck(lambda x: np.add.reduce(x * x, 1, initial=5.0), x, order=2)
    g = zygcy.gradient(lambda x: np.max(x, initial=10.0), x)[0]
    assert not g.any()          # the initial value wins: nothing reaches x
    for f in (np.var, np.std, np.prod, np.nanprod, np.nanvar):
        with pytest.raises(NotImplementedError, match="where="):
            zygcy.gradient(lambda x: f(x, where=m), x)


def test_var_given_mean():
    x = rand((3, 2), seed=19)
    m = np.mean(x, axis=0, keepdims=True) + 0.1
    gradcheck(lambda x: np.var(x, axis=0, mean=m), x, order=2)
    gradcheck(lambda x: np.nanstd(x, axis=0, mean=m), x, order=2)


def test_complex():
    z = rand((3, 2), seed=10, complex=True, positive=True)
    for f in (np.sum, np.mean, np.prod, np.cumsum, np.cumprod, np.var, np.std, np.trace):
        gradcheck(lambda z: f(z, axis=0) if f is not np.trace else f(z), z, order=2)
    for f in (np.var, np.std):
        g = zygcy.gradient(lambda z: f(z), z)[0]
        n = z.size
        expect = 2 * (z - z.mean()) / n if f is np.var else (z - z.mean()) / (n * np.std(z))
        assert np.allclose(g, expect)


# ---------------------------------------------------------------------------
# Values and the special cases: zeros, ties, nans, ddof, weights

def test_values():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert np.allclose(zygcy.gradient(lambda x: np.sum(np.mean(x, axis=1) ** 2), x)[0],
                       np.repeat(2 * x.mean(axis=1, keepdims=True) / 3, 3, axis=1))
    assert np.allclose(zygcy.gradient(lambda x: np.prod(x), x)[0], 720 / x)
    assert np.allclose(zygcy.gradient(lambda x: np.var(x, ddof=1), x)[0], 2 * (x - 3.5) / 5)
    assert np.allclose(zygcy.gradient(lambda x: np.std(x), x)[0], (x - 3.5) / (6 * np.std(x)))
    assert np.allclose(zygcy.gradient(lambda x: np.trace(x, offset=1), x)[0], np.eye(2, 3, k=1))
    assert np.allclose(zygcy.gradient(lambda x: np.sum(np.cumsum(x)), x)[0], [[6, 5, 4], [3, 2, 1]])
    assert np.allclose(zygcy.gradient(lambda x: np.ptp(x), x)[0], [[-1, 0, 0], [0, 0, 1]])


def test_prod_with_zeros():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 4.0]])
    g = zygcy.gradient(lambda x: np.sum(np.prod(x, axis=1)), x)[0]
    assert g.tolist() == [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [8.0, 4.0, 2.0]]
    gradcheck(lambda x: np.prod(x, axis=1), x, order=2)       # exact to second order at zeros
    gradcheck(lambda x: np.prod(x, axis=0, keepdims=True), x, order=2)
    gradcheck(lambda x: np.prod(x), np.array([3.0, 0.0, 2.0]), order=2)
    gradcheck(lambda x: np.prod(x), np.array([3.0, 0.0, 2.0, 0.0]), order=2)
    gradcheck(lambda x: np.prod(x, axis=0), np.array([[3.0, 0.0], [0.0, 0.0], [0.0, 2.0]]), order=2)
    h = zygcy.D(lambda x: zygcy.gradient(lambda x: np.prod(x), x)[0][0])(np.array([0.0, 2.0, 3.0]))
    assert h.tolist() == [0.0, 3.0, 2.0]
    g = zygcy.gradient(lambda x: np.nanprod(x), np.array([2.0, np.nan, 0.0]))[0]
    assert g.tolist() == [0.0, 0.0, 2.0]


def test_cumprod_with_zeros():
    x = np.array([[2.0, 0.0, 3.0, 4.0], [1.5, 2.0, 0.0, 0.0], [0.0, 2.0, 3.0, 1.0]])
    for axis in (1, None):
        gradcheck(lambda x: np.cumprod(x, axis=axis), x, order=2)     # exact to second order
    gradcheck(lambda x: np.multiply.accumulate(x, 1), x, order=2)
    gradcheck(lambda z: np.cumprod(z, axis=1), x * (1 + 0.5j), order=2)
    gradcheck(lambda x: np.cumprod(x), np.array([0.0, 2.0, 0.0, 3.0, 0.0, 1.5]), order=2)
    # d/dx sum(cumprod([a, 0, b])) = [1, a + a b, 0]
    g = zygcy.gradient(lambda x: np.sum(np.cumprod(x)), np.array([2.0, 0.0, 3.0]))[0]
    assert g.tolist() == [1.0, 8.0, 0.0]


def test_ties_share():
    x = np.array([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]])
    assert np.allclose(zygcy.gradient(lambda x: np.max(x), x)[0], [[0.5, 0, 0.5], [0, 0, 0]])
    g = zygcy.gradient(lambda x: np.sum(np.min(x, axis=1)), x)[0]
    assert np.allclose(g, [[0, 1, 0], [1 / 3, 1 / 3, 1 / 3]])
    g = zygcy.gradient(lambda x: np.sum(np.maximum.reduce(x, axis=0)), x)[0]
    assert np.allclose(g, [[1, 0, 1], [0, 1, 0]])


def test_nan_functions():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        for f in (np.nanmax, np.nanmin, np.nanmean, np.nanmedian):
            g = zygcy.gradient(lambda x: np.nansum(f(x, axis=1)), x)[0]
            assert np.all(np.isfinite(g)) and g[0, 1] == 0 and np.all(g[1] == 0)
    assert np.allclose(zygcy.gradient(lambda x: np.nansum(x), x)[0], ~np.isnan(x))
    assert np.allclose(zygcy.gradient(lambda x: np.nanvar(x[0]), x)[0][0], [-1, 0, 1])
    y = rand((3, 2), seed=11)
    y[1, 0] = np.nan
    for f in (np.nansum, np.nanmean, np.nanvar, np.nanstd, np.nanprod, np.nanmax):
        gradcheck(lambda y: f(y, axis=0), y, order=2 if f is not np.nanmax else 1)
    for f in (np.nancumsum, np.nancumprod):
        gradcheck(lambda y: f(y, axis=0), y, order=2)
    gradcheck(lambda y: np.nanmedian(y, axis=0), y)
    gradcheck(lambda y: np.nanquantile(y, [0.2, 0.9], axis=0), y)


def test_median_and_quantile_values():
    x = np.array([4.0, 1.0, 3.0, 2.0])
    assert zygcy.gradient(lambda x: np.median(x), x)[0].tolist() == [0.0, 0.0, 0.5, 0.5]
    assert np.allclose(zygcy.gradient(lambda x: np.quantile(x, 0.25), x)[0], [0, 0.25, 0, 0.75])
    assert np.allclose(zygcy.gradient(lambda x: np.percentile(x, 100.0), x)[0], [1, 0, 0, 0])
    # sorted: 1, 2, 3, 4 (at 1, 3, 2, 0); q = 0.4 falls at index 1.2
    assert zygcy.gradient(lambda x: np.quantile(x, 0.4, method="lower"), x)[0].tolist() == [0, 0, 0, 1]
    assert zygcy.gradient(lambda x: np.quantile(x, 0.4, method="higher"), x)[0].tolist() == [0, 0, 1, 0]
    assert zygcy.gradient(lambda x: np.median(x[:3]), x)[0].tolist() == [0, 0, 1, 0]
    with pytest.raises(NotImplementedError, match="weights="):
        zygcy.gradient(lambda x: np.quantile(x, 0.5, method="inverted_cdf", weights=np.ones(4)), x)


METHODS = ["inverted_cdf", "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf",
           "hazen", "weibull", "linear", "median_unbiased", "normal_unbiased", "lower", "higher",
           "midpoint", "nearest"]


@pytest.mark.parametrize("method", METHODS)
def test_quantile_methods(method):
    x = rand((5, 4), seed=20)
    gradcheck(lambda x: np.quantile(x, [0.0, 0.25, 0.5, 0.9, 1.0], axis=0, method=method), x)
    y = x.copy()
    y[1, 2] = y[3, 2] = np.nan
    gradcheck(lambda y: np.nanpercentile(y, [10.0, 50.0, 75.0], axis=0, method=method), y)


@pytest.mark.parametrize("case", [((3,), None), ((3, 2), 0), ((3, 2), 1), ((3, 2), None),
                                  ((2, 3, 2), (0, 2))], ids=lambda c: "%s-ax%s" % c)
def test_average(case):
    shape, axis = case
    a = rand(shape, seed=12)
    gradcheck(lambda a: np.average(a, axis=axis), a, order=2)
    gradcheck(lambda a: np.average(a, axis=axis, keepdims=True), a, order=2)
    gradcheck(lambda a: np.average(a, axis, None, True), a, order=2)
    w = rand(shape, seed=13, positive=True)
    gradcheck(lambda a, w: np.average(a, axis, w), a, w, order=2)
    gradcheck(lambda a, w: np.average(a, axis, w, True), a, w, order=2)
    if isinstance(axis, int):
        w1 = rand((shape[axis],), seed=14, positive=True)
        gradcheck(lambda a, w: np.average(a, axis, w), a, w1, order=2)


def test_average_complex():
    a, w = rand((3, 2), seed=12, complex=True), rand((3,), seed=13, complex=True, positive=True)
    gradcheck(lambda a, w: np.average(a, 0, w), a, w, order=2)
    gradcheck(lambda a, w: np.average(a, 0, w, True), a, w, order=2)


def test_forward_mode_leaves_out_alone():
    # the tangent of a function called with out= is a new array: out holds the value
    x = rand((3, 3), seed=21)
    for f in (lambda x: np.mean(x, axis=0, out=np.empty(3)), lambda x: np.cumsum(x, out=np.empty(9)),
              lambda x: np.trace(x, out=np.empty(()))):
        y, dy = zygcy.jvp(f, (x,), (np.ones((3, 3)),))
        np.testing.assert_allclose(y, f(x))
        np.testing.assert_allclose(dy, f(np.ones((3, 3))))


def test_nan_functions_ignore_nan_tangents():
    # a nan entry's tangent (nan too, here) must not reach a nan-function's tangent
    x = np.array([[1.5, np.nan, 2.0, 0.3], [0.5, 1.0, np.nan, 2.0]])
    v = rand((2, 4), seed=22)
    fs = [np.nansum, np.nanmean, np.nanvar, np.nanstd, np.nanprod, np.nanmax, np.nanmin, np.nanmedian,
          lambda x, axis: np.nanquantile(x, 0.3, axis=axis), np.nancumsum, np.nancumprod]
    for f in fs:
        _, dy = zygcy.jvp(lambda x: f(x ** 2, axis=1), (x,), (v,))
        _, back = zygcy.forward(lambda x: f(x ** 2, axis=1), x)
        u = np.ones(np.shape(dy))
        expect = np.nansum(back(u)[0] * v)           # the reverse gradient, nan where x is
        assert np.isfinite(dy).all() and np.sum(dy) == pytest.approx(expect)


def test_average_value():
    a, w = np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0])
    ga, gw = zygcy.gradient(lambda a, w: np.average(a, None, w), a, w)
    assert np.allclose(ga, w / 4) and np.allclose(gw, (a - 11 / 4) / 4)


def test_cumsum_pullback_is_the_reverse_cumulative_sum():
    # The transpose of cumsum: g_i = sum of w[k] for k >= i (by hand); squared, to
    # second order, so the reverse cumulative sum's own pullback (a cumsum) runs too.
    w = np.array([1.0, 2.0, 3.0])
    (g,) = zygcy.gradient(lambda x: np.sum(w * np.cumsum(x)), np.zeros(3))
    assert g.tolist() == [6.0, 5.0, 3.0]
    w2 = rand((2, 3), seed=17)
    (g,) = zygcy.gradient(lambda x: np.sum(w2 * np.cumsum(x, axis=1)), rand((2, 3), seed=16))
    np.testing.assert_allclose(g, np.flip(np.cumsum(np.flip(w2, 1), 1), 1))
    gradcheck(lambda x: np.cumsum(x, axis=1) ** 2, rand((2, 3), seed=16), order=2)
    gradcheck(lambda x: np.cumsum(x, axis=0) * np.cumsum(x, axis=1), rand((2, 3), seed=18), order=2)


@pytest.mark.parametrize("shape,axes", [((3, 3), (0, 1)), ((2, 3, 4), (1, 2)), ((2, 3, 4), (2, 0))])
def test_trace(shape, axes):
    a = rand(shape, seed=15)
    for offset in (0, 1, -1):
        gradcheck(lambda a: np.trace(a, offset, *axes), a, order=2)


# ---------------------------------------------------------------------------
# trapezoid (trapz where numpy has it), cov, corrcoef, histogram: each output
# squared (``check``), so that the second-order check runs the linear ones'
# pullbacks on tracked cotangents

CASES, case = case_table()
TRAPEZOID = [getattr(np, n) for n in ("trapezoid", "trapz") if hasattr(np, n)]
Y34 = R(3, 4, seed=1)
X4 = np.cumsum(rand((4,), seed=2, positive=True))
for _t in TRAPEZOID:
    _n = _t.__name__
    case(_t, _n, lambda y, t=_t: t(y), Y34)
    case(_t, _n + "-axis", lambda y, t=_t: t(y, axis=0), Y34)
    case(_t, _n + "-dx", lambda y, dx, t=_t: t(y, dx=dx), Y34, 0.7)
    case(_t, _n + "-dx-positional", lambda y, dx, t=_t: t(y, None, dx, 0), Y34, 0.7)
    case(_t, _n + "-x", lambda y, x, t=_t: t(y, x), Y34, X4)
    case(_t, _n + "-x-nd", lambda y, x, t=_t: t(y, x, axis=0), Y34,
         np.cumsum(rand((3, 4), seed=4, positive=True), axis=0))
    case(_t, _n + "-x-broadcast", lambda y, x, t=_t: t(y, x, axis=0), Y34,
         np.cumsum(rand((3, 1), seed=4, positive=True), axis=0))
    case(_t, _n + "-complex", lambda y, x, t=_t: t(y, x), C(3, 4), X4)
    case(_t, _n + "-1d", lambda y, t=_t: t(y), R(5))
    case(_t, _n + "-one-sample", lambda y, x, t=_t: t(y, x), R(3, 1), X4[:1])

X36 = R(3, 6, seed=5)
AW = rand((6,), seed=7, positive=True)
FW = np.array([1, 2, 1, 3, 1, 2])
case(np.cov, "cov", lambda m: np.cov(m), X36)
case(np.cov, "cov-rowvar", lambda m: np.cov(m, rowvar=False), R(6, 3, seed=5))
case(np.cov, "cov-1d", lambda m: np.cov(m), R(6, seed=5))
case(np.cov, "cov-y", lambda m, y: np.cov(m, y), X36, R(6, seed=6))
case(np.cov, "cov-y-rowvar", lambda m, y: np.cov(m, y, rowvar=False), R(6, 2, seed=5), R(6, 2, seed=6))
case(np.cov, "cov-bias", lambda m: np.cov(m, bias=True), X36)
case(np.cov, "cov-ddof", lambda m: np.cov(m, ddof=2), X36)
case(np.cov, "cov-complex", lambda m: np.cov(m), C(2, 5))
case(np.cov, "cov-fweights", lambda m: np.cov(m, fweights=FW), X36)
case(np.cov, "cov-aweights", lambda m, a: np.cov(m, aweights=a), X36, AW)
case(np.cov, "cov-both-weights", lambda m, a: np.cov(m, None, True, False, None, FW, a), X36, AW)
case(np.cov, "cov-aweights-bias", lambda m, a: np.cov(m, bias=True, aweights=a), X36, AW)
case(np.cov, "cov-aweights-complex", lambda m, y, a: np.cov(m, y, aweights=a), C(2, 6), C(6, seed=3), AW)
case(np.corrcoef, "corrcoef", lambda m: np.corrcoef(m), X36)
case(np.corrcoef, "corrcoef-y", lambda m, y: np.corrcoef(m, y), R(6, seed=1), R(6, seed=6))
case(np.corrcoef, "corrcoef-rowvar", lambda m: np.corrcoef(m, rowvar=False), R(6, 3, seed=1))
case(np.corrcoef, "corrcoef-complex", lambda m: np.corrcoef(m), C(2, 5))
case(np.corrcoef, "corrcoef-one-variable", lambda m: np.corrcoef(m), R(5, seed=2))

A10 = rand((10,), seed=8)
W10 = rand((10,), seed=9, positive=True)
EDGES = np.linspace(-1, 1, 5)
case(np.histogram, "histogram-weights", lambda w: np.histogram(A10, bins=4, weights=w), W10)
case(np.histogram, "histogram-density", lambda w: np.histogram(A10, 4, None, True, w), W10)
case(np.histogram, "histogram-edges", lambda a: np.histogram(a, bins=4)[1], A10)
case(np.histogram, "histogram-a-density", lambda a: np.histogram(a, bins=4, density=True), A10)
case(np.histogram, "histogram-a-and-weights", lambda a, w: np.histogram(a, 3, None, True, w), A10, W10)
case(np.histogram, "histogram-fixed-edges", lambda w: np.histogram(A10, EDGES, weights=w, density=True), W10)
case(np.histogram, "histogram-range", lambda a, w: np.histogram(a, 4, (-1, 1), True, w), A10, W10)
case(np.histogram, "histogram-estimator", lambda a: np.histogram(a, bins="auto")[1], A10)
case(np.histogram, "histogram-complex-weights", lambda w: np.histogram(A10, 3, weights=w)[0], C(10, seed=3))
case(np.histogram, "histogram-2d", lambda w: np.histogram(R(2, 5, seed=4), 3, weights=w), R(2, 5, seed=5))


@pytest.mark.parametrize("key, f, args, order", CASES)
def test_statistics(key, f, args, order):
    check(f, *args, order=order)


def test_trapezoid_values():
    y, x = np.array([1.0, 2.0, 4.0]), np.array([0.0, 1.0, 3.0])
    gy, gx = zygcy.gradient(lambda y, x: np.trapezoid(y, x), y, x)
    np.testing.assert_allclose(gy, [0.5, 1.5, 1.0])                 # (d_{i-1} + d_i) / 2
    np.testing.assert_allclose(gx, [-1.5, -1.5, 3.0])               # the midpoints' differences


def test_cov_values():
    X = R(2, 5, seed=3)
    G = R(2, 2, seed=4)
    (g,) = zygcy.gradient(lambda X: np.sum(G * np.cov(X)), X)
    Xc = X - X.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(g, (G + G.T) @ Xc / 4)
    # corrcoef's diagonal is 1 whatever X is
    (g,) = zygcy.gradient(lambda X: np.trace(np.corrcoef(X)), X)
    np.testing.assert_allclose(g, 0, atol=1e-12)


def test_histogram_values():
    a, w = np.array([0.1, 0.4, 0.45, 0.9]), np.array([1.0, 2.0, 3.0, 4.0])
    (gw,) = zygcy.gradient(lambda w: np.sum(np.histogram(a, 2, (0, 1), weights=w)[0] * [10.0, 20.0]), w)
    assert gw.tolist() == [10.0, 10.0, 10.0, 20.0]
    # the edges follow min(a) and max(a)
    (ga,) = zygcy.gradient(lambda a: np.sum(np.histogram(a, 2)[1]), a)
    assert ga.tolist() == [1.5, 0.0, 0.0, 1.5]
    # with given bins the counts are piecewise constant in a
    (ga,) = zygcy.gradient(lambda a: np.sum(np.histogram(a, [0.0, 0.5, 1.0], weights=a)[0]), a)
    assert ga.tolist() == [1.0, 1.0, 1.0, 1.0]


# ---------------------------------------------------------------------------
# Properties

@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
                  elements=st.floats(-5, 5)),
       st.integers(-1, 0), st.booleans())
def test_property_sum_mean(x, axis, keepdims):
    g = zygcy.gradient(lambda x: np.sum(np.sin(np.sum(x, axis=axis, keepdims=keepdims))), x)[0]
    assert g.shape == x.shape
    assert np.allclose(g, np.cos(np.sum(x, axis=axis, keepdims=True)) * np.ones_like(x))
    g = zygcy.gradient(lambda x: np.sum(np.mean(x, axis=axis, keepdims=keepdims)), x)[0]
    assert np.allclose(g * x.shape[axis], 1)


@given(hnp.arrays(np.float64, st.integers(1, 6),
                  elements=st.floats(-3, 3, allow_subnormal=False)))
def test_property_prod_matches_logs(x):
    # d prod / dx_i = prod of the others, zeros or not
    g = zygcy.gradient(lambda x: np.prod(x), x)[0]
    others = [np.prod(np.delete(x, i)) for i in range(len(x))]
    assert np.allclose(g, others)
    g = zygcy.gradient(lambda x: np.sum(np.cumprod(x)), x)[0]
    expect = [sum(np.prod(np.delete(x[:k + 1], i)) for k in range(i, len(x))) for i in range(len(x))]
    assert np.allclose(g, expect)


@pytest.mark.parametrize("shape", [(7,), (4, 3), (1 << 15,), (2, 1 << 14)])
def test_sum_and_mean_cotangents_spread_exactly_at_every_size(shape):
    # small cotangents are filled arrays, large ones broadcast views: both exact,
    # both gradients the caller owns
    x = rand(shape, seed=31)
    n = x.size
    for f, want in ((np.sum, np.full(shape, 3.0)), (np.mean, np.full(shape, 3.0 / n))):
        g = zygcy.gradient(lambda x: 3.0 * f(x), x)[0]
        np.testing.assert_array_equal(g, want)
        assert g.flags.writeable and g.flags.owndata
        g = zygcy.gradient(lambda x: f(x * x, axis=-1).sum(), x)[0]
        np.testing.assert_allclose(g, 2 * x / (1 if f is np.sum else shape[-1]), rtol=1e-15)
    gi = zygcy.gradient(lambda x: np.mean(x), np.arange(6).reshape(2, 3))[0]
    np.testing.assert_array_equal(gi, np.full((2, 3), 1 / 6))
    # second order through the spread: the Hessian of mean(x)**2 is 2/n^2 everywhere
    if n <= 12:
        for f in (np.sum, np.mean):
            gradcheck(lambda x: f(x * x, axis=-1) ** 2, x, order=2)
        np.testing.assert_allclose(zygcy.hessian(lambda x: np.mean(x) ** 2, x),
                                   np.full(shape * 2, 2.0 / n ** 2), rtol=1e-14)


@pytest.mark.parametrize("xshape,bshape", [((3, 4), (4,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)),
                                           ((2, 3, 4), (3, 1)), ((5, 1), (1,)), ((5, 2), (1, 2))])
def test_broadcast_operands_get_the_sum_over_the_broadcast_axes(xshape, bshape):
    x, b = rand(xshape, seed=32), rand(bshape, seed=33)
    w = rand(np.broadcast_shapes(xshape, bshape), seed=34)
    gx, gb = zygcy.gradient(lambda x, b: np.sum(w * (x + b)), x, b)
    extra = len(w.shape) - len(bshape)
    want = w.sum(axis=tuple(range(extra)))
    want = want.sum(axis=tuple(i for i, k in enumerate(bshape) if k == 1), keepdims=True)
    np.testing.assert_allclose(gb, want.reshape(bshape), rtol=1e-13)
    np.testing.assert_allclose(gx, w.reshape(xshape) if w.shape == xshape else w, rtol=1e-15)
    gradcheck(lambda x, b: np.sum(w * (x + b) ** 2), x, b, order=2)
