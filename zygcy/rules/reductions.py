"""Rules for reductions: sum, mean, prod, var, std, max/min, their nan-versions,
cumulative sums and products, trace, average, median and quantiles, and the
ufunc methods they equal (``np.add.reduce`` is a sum, ``np.multiply.accumulate``
a cumulative product); and the statistics and integrals that reduce samples:
trapezoid (and trapz where numpy has it), cov, corrcoef and histogram.

trapezoid is linear in y and in the spacings; cov is differentiable in the
variables and in ``aweights`` (``fweights`` are integers); corrcoef is cov's
matrix scaled by its diagonal; histogram is linear in ``weights`` (with
``density``, scaled by their total), and in ``a`` its counts are piecewise
constant -- but with a number of bins and no range its edges are
``linspace(min(a), max(a))``, which move with a's extremes. numpy asks zygcy
about trapezoid only when y or x is tracked (its dispatcher), so a tracked
``dx`` alone is differentiated by numpy's own arithmetic instead.

Every pullback broadcasts its cotangent back over the reduced axes with
``expand`` (a linear map of ``shape``) and multiplies by a local derivative;
the linear ones (sum, mean, cumsum, trace) are registered with ``deflinear``. Masks (which
element is the max, which are nan, where the zeros are) come from plain values;
everything that depends on the inputs is written with numpy functions, so the
pullbacks are differentiable again.

Each rule has a forward rule too: the local derivative times the tangent,
summed over the reduced axes (``np.sum(share * t, axis)``), with the same masks
and the same care at zeros; the nan-functions drop the tangents of nan entries.

``axis`` may be None, an int, a negative int or a tuple; ``keepdims`` is
honoured everywhere. ``where=`` is honoured by sum, mean, nansum, nanmean,
max/min and their ufunc.reduce forms; the others refuse it with an error.
"""
import math

import numpy as np

from .. import _core
from ..extend import Tracked, defbatched, deflinear, defjvp, defvjp, primitive, value
from ._util import (axis_of, batch_axes, conj, kept_shape, ndim_of, no_gradient, normalize_axis_tuple, real_if_complex,
                    reduced_axes, shape_of, unbroadcast, unbroadcast_to)
from .shape import diag_embed, expand, gather, reshape, scatter_along

_NoValue = np._NoValue


def _keep(a, shape, axes, keepdims):
    """The plain reduced value ``a`` with the reduced axes kept as 1s (to broadcast)."""
    a = value(a)
    return a if keepdims else np.reshape(a, kept_shape(shape, axes))


def _count(shape, axes, where=True):
    """How many elements each slice reduces over (an int, or an array with ``where``)."""
    if _is_all(where):
        return math.prod([shape[a] for a in axes])
    return np.sum(np.broadcast_to(value(where), shape), axis=axes, keepdims=True)


def _is_all(where):
    return isinstance(where, (bool, np.bool_)) and bool(where)


def _no_where(where, name):
    if not _is_all(where):
        raise NotImplementedError(
            "zygcy: the gradient of %s with where= is not supported; multiply by the mask "
            "instead (np.%s(x * mask, ...))" % (name, name))


def _safe_count(n):
    """A count with 0 replaced by 1 (for slices with nothing in them)."""
    if type(n) is int:
        return n or 1
    return n + (np.asarray(n) == 0)


# ---------------------------------------------------------------------------
# Sums and means

def _sum_adjoint(g, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
                 where=True):
    g = expand(g, np.shape(value(x)), reduced_axes(axis, ndim_of(x)), keepdims)
    return g if _is_all(where) else g * value(where)


def _mean_adjoint(g, x, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    shape, axes = np.shape(value(x)), reduced_axes(axis, ndim_of(x))
    if _is_all(where) and (type(g) is np.ndarray or type(g) is float):
        # divided before it is spread: fewer numbers to divide (a numpy scalar is not:
        # numpy 1.x would widen a float32 one to float64 when divided by an int)
        return expand(g / _safe_count(_count(shape, axes)), shape, axes, keepdims)
    g = expand(g, shape, axes, keepdims) / _safe_count(_count(shape, axes, where))
    return g if _is_all(where) else g * value(where)


def _notnan(x):
    return ~np.isnan(value(x))


def _drop_nan(t, x):
    """The tangent t with the entries where x is nan set to 0 (a nan-function ignores
    them, and their tangents are often nan too: multiplying by a mask would keep those)."""
    nan = np.isnan(value(x))
    return np.where(nan, 0, t) if np.any(nan) else t


def _counted(x, where):
    """The entries a nan-reduction counts: not nan, and in ``where``."""
    return _notnan(x) if _is_all(where) else _notnan(x) & value(where)


def nansum_maker(ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
                 where=True):
    shape, axes = np.shape(value(x)), reduced_axes(axis, ndim_of(x))
    ok = _counted(x, where)

    def nansum_pullback(g):
        return expand(g, shape, axes, keepdims) * ok
    return nansum_pullback


def _nanmean_share(x, axes, where):
    ok = _counted(x, where)
    return ok / _safe_count(np.sum(ok, axis=axes, keepdims=True))


def nanmean_maker(ans, x, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    shape, axes = np.shape(value(x)), reduced_axes(axis, ndim_of(x))
    share = _nanmean_share(x, axes, where)

    def nanmean_pullback(g):
        return expand(g, shape, axes, keepdims) * share
    return nanmean_pullback


def _sum_jvp(t, ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
             where=True):
    # an initial value is a constant added to the sum: no part of the tangent
    return np.sum(t, axis=axis, dtype=dtype, keepdims=keepdims, where=where)


def _add_reduce_jvp(t, ans, x, axis=0, dtype=None, out=None, keepdims=False, initial=_NoValue,
                    where=True):
    return np.add.reduce(t, axis=axis, dtype=dtype, keepdims=keepdims, where=where)


def nansum_jvp(t, ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
               where=True):
    return np.sum(_drop_nan(t, x) * _counted(x, where), axis=axis, keepdims=keepdims)


def nanmean_jvp(t, ans, x, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    axes = reduced_axes(axis, ndim_of(x))
    return np.sum(_drop_nan(t, x) * _nanmean_share(x, axes, where), axis=axes, keepdims=keepdims)


def _sum_batched(tb, ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
                 where=True):
    if where is not True:
        return NotImplemented
    return np.sum(tb, axis=batch_axes(axis, tb.ndim - 1), dtype=dtype, keepdims=keepdims)


def _mean_batched(tb, ans, x, axis=None, dtype=None, out=None, keepdims=False, where=True):
    if where is not True:
        return NotImplemented
    return np.mean(tb, axis=batch_axes(axis, tb.ndim - 1), dtype=dtype, keepdims=keepdims)


deflinear(np.sum, _sum_adjoint, _sum_jvp, shape_only=True)
deflinear(np.mean, _mean_adjoint, shape_only=True)
defbatched(np.sum, _sum_batched)
defbatched(np.mean, _mean_batched)
# np.sum(x) and np.mean(x) of a whole float64 array are recorded by the engine as one
# node that calls numpy's reduction without its wrappers and whose sweep fills the
# cotangent as _sum_adjoint and _mean_adjoint do (zygcy/_record.pxi, _sweep.pxi;
# tests/rules/test_kernels.py checks them against these). Registering again drops it.
_core.use_kernels(np.sum, np.mean)
defvjp(np.nansum, nansum_maker)
defjvp(np.nansum, nansum_jvp)
defvjp(np.nanmean, nanmean_maker)
defjvp(np.nanmean, nanmean_jvp)


# ---------------------------------------------------------------------------
# Variance and standard deviation: d var = 2 (x - mean) / (n - ddof)

def _var_parts(x, axis, ddof, correction, nan, where, mean):
    """(shape, axes, centred x with nan entries 0, n - ddof) for var/std."""
    _no_where(where, "var" if not nan else "nanvar")
    if mean is not _NoValue and mean is not None:
        # numpy takes a given mean as it is: a constant here (tracked keywords are refused)
        return _given_mean_parts(x, axis, ddof, correction, nan, mean)
    if correction is not None and correction is not _NoValue:
        ddof = correction
    shape, axes = np.shape(value(x)), reduced_axes(axis, ndim_of(x))
    if nan:
        ok = _notnan(x)
        n = np.sum(ok, axis=axes, keepdims=True)
        xc = (np.nan_to_num(x) - np.nanmean(x, axis=axes, keepdims=True)) * ok
    else:
        n = _count(shape, axes)
        xc = x - np.mean(x, axis=axes, keepdims=True)
    return shape, axes, xc, n - ddof


def _given_mean_parts(x, axis, ddof, correction, nan, mean):
    if correction is not None and correction is not _NoValue:
        ddof = correction
    shape, axes = np.shape(value(x)), reduced_axes(axis, ndim_of(x))
    m = value(mean)                 # numpy requires the keepdims shape
    if nan:
        ok = _notnan(x)
        return shape, axes, (np.nan_to_num(x) - m) * ok, np.sum(ok, axis=axes, keepdims=True) - ddof
    return shape, axes, x - m, _count(shape, axes) - ddof


def _var_pullback(nan, x, axis, ddof, keepdims, where, mean, correction):
    shape, axes, xc, dof = _var_parts(x, axis, ddof, correction, nan, where, mean)

    def var_pullback(g):
        return expand(np.real(g), shape, axes, keepdims) * (2 * xc / dof)
    return var_pullback


def _std_pullback(nan, ans, x, axis, ddof, keepdims, where, mean, correction):
    shape, axes, xc, dof = _var_parts(x, axis, ddof, correction, nan, where, mean)
    s = reshape(ans, _keep(ans, shape, axes, keepdims).shape)

    def std_pullback(g):
        return expand(np.real(g), shape, axes, keepdims) * (xc / (dof * s))
    return std_pullback


def var_maker(ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
              where=True, mean=_NoValue, correction=_NoValue):
    return _var_pullback(False, x, axis, ddof, keepdims, where, mean, correction)


def nanvar_maker(ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
                 where=True, mean=_NoValue, correction=_NoValue):
    return _var_pullback(True, x, axis, ddof, keepdims, where, mean, correction)


def std_maker(ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
              where=True, mean=_NoValue, correction=_NoValue):
    return _std_pullback(False, ans, x, axis, ddof, keepdims, where, mean, correction)


def nanstd_maker(ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
                 where=True, mean=_NoValue, correction=_NoValue):
    return _std_pullback(True, ans, x, axis, ddof, keepdims, where, mean, correction)


# d var = 2 Re <x - mean, t> / (n - ddof) (the mean's own change is orthogonal to x - mean),
# d std = d var / (2 std)

def _var_jvp(nan, t, x, axis, ddof, keepdims, where, mean, correction):
    shape, axes, xc, dof = _var_parts(x, axis, ddof, correction, nan, where, mean)
    t = _drop_nan(t, x) if nan else t
    return np.sum(real_if_complex(conj(xc) * t) * (2 / dof), axis=axes, keepdims=keepdims)


def _std_jvp(nan, t, ans, x, axis, ddof, keepdims, where, mean, correction):
    shape, axes, xc, dof = _var_parts(x, axis, ddof, correction, nan, where, mean)
    t = _drop_nan(t, x) if nan else t
    s = reshape(ans, _keep(ans, shape, axes, keepdims).shape)
    return np.sum(real_if_complex(conj(xc) * t) / (dof * s), axis=axes, keepdims=keepdims)


def var_jvp(t, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
            where=True, mean=_NoValue, correction=_NoValue):
    return _var_jvp(False, t, x, axis, ddof, keepdims, where, mean, correction)


def nanvar_jvp(t, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
               where=True, mean=_NoValue, correction=_NoValue):
    return _var_jvp(True, t, x, axis, ddof, keepdims, where, mean, correction)


def std_jvp(t, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
            where=True, mean=_NoValue, correction=_NoValue):
    return _std_jvp(False, t, ans, x, axis, ddof, keepdims, where, mean, correction)


def nanstd_jvp(t, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
               where=True, mean=_NoValue, correction=_NoValue):
    return _std_jvp(True, t, ans, x, axis, ddof, keepdims, where, mean, correction)


defvjp(np.var, var_maker)
defjvp(np.var, var_jvp)
defvjp(np.std, std_maker)
defjvp(np.std, std_jvp)
defvjp(np.nanvar, nanvar_maker)
defjvp(np.nanvar, nanvar_jvp)
defvjp(np.nanstd, nanstd_maker)
defjvp(np.nanstd, nanstd_jvp)


# ---------------------------------------------------------------------------
# Products: the derivative is the product of the others, with care at zeros

def prod_maker(ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
               where=True):
    _no_where(where, "prod")
    shape, axes = np.shape(value(x)), reduced_axes(axis, ndim_of(x))
    d = _prod_partials(x, axes, initial)
    if d is None:
        def prod_pullback(g):
            return expand(g * conj(ans), shape, axes, keepdims) / conj(x)
        return prod_pullback

    def prod_pullback(g):
        return expand(g, shape, axes, keepdims) * conj(d)
    return prod_pullback


def _prod_partials(x, axes, initial):
    """d prod / d x (x's shape) when the slices have zeros; None when x has none
    (then it is prod / x)."""
    zero = value(x) == 0
    if not np.any(zero):
        return None
    # With zeros, d prod / d x[i] is the product of the others, written so that it
    # is exact to second order: with p1 the product of the nonzero entries (zeros
    # held at a constant 1) and s the sum of the zero entries of the slice (0, but
    # tracked), a slice with
    #   one zero z:   d[z] = p1,  d[i] = p1 / x[i] * s (= p1 / x[i] * x[z])
    #   two zeros:    d[z1] = p1 * x[z2] (= p1 * (s - x[z1])),  0 elsewhere
    #   more zeros:   0 (every second derivative has a zero factor too)
    nz = np.sum(zero, axis=axes, keepdims=True)
    x1 = x * ~zero + zero
    p1 = np.prod(x1, axis=axes, keepdims=True)
    if initial is not _NoValue:
        p1 = p1 * initial
    s = np.sum(x * zero, axis=axes, keepdims=True)
    return p1 * ((nz == 0) / x1 + (nz == 1) * (zero + ~zero * s / x1) + (nz == 2) * zero * (s - x))


def nanprod_maker(ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
                  where=True):
    _no_where(where, "nanprod")
    inner = prod_maker(ans, np.nan_to_num(x, nan=1.0), axis, dtype, out, keepdims, initial)
    ok = _notnan(x)

    def nanprod_pullback(g):
        return inner(g) * ok
    return nanprod_pullback


def prod_jvp(t, ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
             where=True):
    _no_where(where, "prod")
    axes = reduced_axes(axis, ndim_of(x))
    d = _prod_partials(x, axes, initial)
    if d is None:
        return ans * np.sum(t / x, axis=axes, keepdims=keepdims)
    return np.sum(d * t, axis=axes, keepdims=keepdims)


def nanprod_jvp(t, ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
                where=True):
    _no_where(where, "nanprod")
    return prod_jvp(_drop_nan(t, x), ans, np.nan_to_num(x, nan=1.0), axis, dtype, None, keepdims, initial)


defvjp(np.prod, prod_maker)
defjvp(np.prod, prod_jvp)
defvjp(np.nanprod, nanprod_maker)
defjvp(np.nanprod, nanprod_jvp)


# ---------------------------------------------------------------------------
# Max and min: the gradient goes to the elements equal to the result, shared on ties

def _extreme_share(ans, x, axes, keepdims, where=True):
    """Plain weights of x's shape: 1 / (number of ties) at the elements equal to the result."""
    hit = value(x) == _keep(ans, np.shape(value(x)), axes, keepdims)    # nan entries never hit
    if not _is_all(where):
        hit = hit & value(where)
    return hit / _safe_count(np.sum(hit, axis=axes, keepdims=True))


def _extreme_pullback(ans, x, axes, keepdims, where=True):
    shape = np.shape(value(x))
    share = _extreme_share(ans, x, axes, keepdims, where)

    def max_pullback(g):
        return expand(g, shape, axes, keepdims) * share
    return max_pullback


def _extreme_jvp(t, ans, x, axes, keepdims, where=True):
    share = _extreme_share(ans, x, axes, keepdims, where)
    return np.sum(_drop_nan(t, x) * share, axis=axes, keepdims=keepdims)     # (nanmax ignores nans)


def max_maker(ans, x, axis=None, out=None, keepdims=False, initial=_NoValue, where=True):
    return _extreme_pullback(ans, x, reduced_axes(axis, ndim_of(x)), keepdims, where)


def ptp_maker(ans, x, axis=None, out=None, keepdims=False):
    axes = reduced_axes(axis, ndim_of(x))
    hi = _extreme_pullback(np.max(value(x), axis=axes, keepdims=keepdims), x, axes, keepdims)
    lo = _extreme_pullback(np.min(value(x), axis=axes, keepdims=keepdims), x, axes, keepdims)

    def ptp_pullback(g):
        return hi(g) - lo(g)
    return ptp_pullback


def max_jvp(t, ans, x, axis=None, out=None, keepdims=False, initial=_NoValue, where=True):
    return _extreme_jvp(t, ans, x, reduced_axes(axis, ndim_of(x)), keepdims, where)


def ptp_jvp(t, ans, x, axis=None, out=None, keepdims=False):
    axes = reduced_axes(axis, ndim_of(x))
    hi = _extreme_share(np.max(value(x), axis=axes, keepdims=keepdims), x, axes, keepdims)
    lo = _extreme_share(np.min(value(x), axis=axes, keepdims=keepdims), x, axes, keepdims)
    return np.sum(t * (hi - lo), axis=axes, keepdims=keepdims)


for _f in (np.max, np.min, np.amax, np.amin, np.nanmax, np.nanmin):
    defvjp(_f, max_maker)
    defjvp(_f, max_jvp)
defvjp(np.ptp, ptp_maker)
defjvp(np.ptp, ptp_jvp)


# ---------------------------------------------------------------------------
# Cumulative sums and products

@primitive
def _revcumsum_plain(g, axis):
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


def _revcumsum(g, axis):
    """Reverse cumulative sum along axis: out[i] = sum(g[i:]), the transpose of cumsum."""
    return _revcumsum_plain(g, axis)


def _revcumsum_plain_adjoint(h, g, axis):
    return np.cumsum(h, axis=axis)


deflinear(_revcumsum_plain, _revcumsum_plain_adjoint)


def _flat_or_axis(x, axis):
    """(x, axis) as the cumulative function sees them: axis=None flattens."""
    if axis is None:
        return reshape(x, (-1,)), 0
    return x, normalize_axis_tuple(axis, np.ndim(value(x)))[0]


def _cumsum_adjoint(g, x, axis=None, dtype=None, out=None):
    shape = np.shape(value(x))
    ax = 0 if axis is None else normalize_axis_tuple(axis, len(shape))[0]
    return reshape(_revcumsum(g, ax), shape)


def nancumsum_maker(ans, x, axis=None, dtype=None, out=None):
    ok = _notnan(x)

    def nancumsum_pullback(g):
        return _cumsum_adjoint(g, x, axis) * ok
    return nancumsum_pullback


def cumprod_maker(ans, x, axis=None, dtype=None, out=None):
    shape = np.shape(value(x))
    xf, ax = _flat_or_axis(x, axis)
    xv = value(xf)
    zero = xv == 0
    if not np.any(zero):
        # d out[k] / d x[i] = out[k] / x[i] for k >= i
        def cumprod_pullback(g):
            return reshape(_revcumsum(g * conj(ans), ax) / conj(xf), shape)
        return cumprod_pullback
    # With zeros: out[k] is the product of a prefix, so its derivative is the
    # product-of-the-others of prod_maker for that prefix, summed over k >= i
    # with the reverse cumulative sum (exact to second order, as there).
    nz = np.cumsum(zero, axis=ax)                   # zeros in each prefix
    x1 = conj(xf * ~zero + zero)
    p1 = conj(np.cumprod(xf * ~zero + zero, axis=ax))
    s = conj(np.cumsum(xf * zero, axis=ax))
    xc = conj(xf)

    def cumprod_pullback(g):
        gp = g * p1
        ct = (_revcumsum(gp * (nz == 0), ax) / x1
              + zero * _revcumsum(gp * (nz == 1), ax)
              + ~zero * _revcumsum(gp * (nz == 1) * s, ax) / x1
              + zero * (_revcumsum(gp * (nz == 2) * s, ax) - xc * _revcumsum(gp * (nz == 2), ax)))
        return reshape(ct, shape)
    return cumprod_pullback


def nancumprod_maker(ans, x, axis=None, dtype=None, out=None):
    inner = cumprod_maker(ans, np.nan_to_num(x, nan=1.0), axis)
    ok = _notnan(x)

    def nancumprod_pullback(g):
        return inner(g) * ok
    return nancumprod_pullback


def nancumsum_jvp(t, ans, x, axis=None, dtype=None, out=None):
    return np.cumsum(_drop_nan(t, x), axis=axis)


def cumprod_jvp(t, ans, x, axis=None, dtype=None, out=None):
    xf, ax = _flat_or_axis(x, axis)
    tf, _ = _flat_or_axis(t, axis)
    zero = value(xf) == 0
    if not np.any(zero):
        return ans * np.cumsum(tf / xf, axis=ax)        # d out[k] = out[k] sum_{i <= k} t[i] / x[i]
    # With zeros, as in cumprod_maker: the product-of-the-others of each prefix
    nz = np.cumsum(zero, axis=ax)
    x1 = xf * ~zero + zero
    s = np.cumsum(xf * zero, axis=ax)
    tz = tf * zero
    return np.cumprod(x1, axis=ax) * (
        (nz == 0) * np.cumsum(tf / x1, axis=ax)
        + (nz == 1) * (np.cumsum(tz, axis=ax) + s * np.cumsum(tf * ~zero / x1, axis=ax))
        + (nz == 2) * (s * np.cumsum(tz, axis=ax) - np.cumsum(tz * xf, axis=ax)))


def nancumprod_jvp(t, ans, x, axis=None, dtype=None, out=None):
    return cumprod_jvp(_drop_nan(t, x), ans, np.nan_to_num(x, nan=1.0), axis)


# np.cumulative_sum/prod: cumsum/cumprod whose axis may be omitted for 1-d input

def _no_initial(include_initial):
    if include_initial:
        raise NotImplementedError(
            "zygcy: np.cumulative_sum/prod with include_initial=True has no gradient "
            "rule yet; use np.cumsum/np.cumprod")


def cumulative_sum_maker(ans, x, axis=None, dtype=None, out=None, include_initial=False):
    _no_initial(include_initial)
    ax = 0 if axis is None else axis

    def cumulative_sum_pullback(g):
        return _cumsum_adjoint(g, x, ax)
    return cumulative_sum_pullback


def cumulative_prod_maker(ans, x, axis=None, dtype=None, out=None, include_initial=False):
    _no_initial(include_initial)
    return cumprod_maker(ans, x, 0 if axis is None else axis)


def cumulative_sum_jvp(t, ans, x, axis=None, dtype=None, out=None, include_initial=False):
    _no_initial(include_initial)
    return np.cumulative_sum(t, axis=axis)


def cumulative_prod_jvp(t, ans, x, axis=None, dtype=None, out=None, include_initial=False):
    _no_initial(include_initial)
    return cumprod_jvp(t, ans, x, 0 if axis is None else axis)


deflinear(np.cumsum, _cumsum_adjoint, shape_only=True)


def _cumsum_batched(tb, ans, x, axis=None, dtype=None, out=None):
    if axis is None:
        return np.cumsum(tb.reshape(tb.shape[0], -1), axis=1, dtype=dtype)
    return np.cumsum(tb, axis=axis_of(axis, tb.ndim - 1) + 1, dtype=dtype)


defbatched(np.cumsum, _cumsum_batched)
defvjp(np.nancumsum, nancumsum_maker)
defjvp(np.nancumsum, nancumsum_jvp)
defvjp(np.cumprod, cumprod_maker)
defjvp(np.cumprod, cumprod_jvp)
defvjp(np.nancumprod, nancumprod_maker)
defjvp(np.nancumprod, nancumprod_jvp)
if hasattr(np, "cumulative_sum"):       # numpy >= 2.1
    defvjp(np.cumulative_sum, cumulative_sum_maker)
    defjvp(np.cumulative_sum, cumulative_sum_jvp)
    defvjp(np.cumulative_prod, cumulative_prod_maker)
    defjvp(np.cumulative_prod, cumulative_prod_jvp)


# ---------------------------------------------------------------------------
# trace and average

def _trace_adjoint(g, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    shape = np.shape(value(a))
    ax1, ax2 = normalize_axis_tuple((axis1, axis2), len(shape))
    eshape = [1] * len(shape)
    eshape[ax1], eshape[ax2] = shape[ax1], shape[ax2]
    diag = np.eye(shape[ax1], shape[ax2], k=offset)       # [index along ax1, along ax2]
    if ax1 > ax2:
        diag = diag.T
    return expand(g, shape, sorted((ax1, ax2))) * diag.reshape(eshape)


def _linalg_trace_adjoint(g, x, offset=0, dtype=None):
    """numpy 2's np.linalg.trace: the trace of the last two axes."""
    m, n = np.shape(value(x))[-2:]
    length = max(0, min(m - max(-offset, 0), n - max(offset, 0)))
    return diag_embed(np.expand_dims(g, -1) * np.ones(length), m, n, offset)


def _average_parts(a, axis, weights, keepdims):
    shape, axes = np.shape(value(a)), reduced_axes(axis, ndim_of(a))
    kd = False if keepdims is _NoValue else bool(keepdims)
    if weights is None:
        return shape, axes, kd, None
    wshape = np.shape(value(weights))
    if wshape != shape:
        # 1-d weights along one axis (numpy requires axis then)
        full = [1] * len(shape)
        full[axes[0]] = wshape[0]
        weights = reshape(weights, full)
    return shape, axes, kd, weights


def average_maker(ans, a, axis=None, weights=None, returned=False, *, keepdims=_NoValue):
    shape, axes, kd, w = _average_parts(a, axis, weights, keepdims)
    d = 1 / _count(shape, axes) if w is None else conj(w / np.sum(w, axis=axes, keepdims=True))

    def average_pullback(g):
        if returned:
            g = g[0]            # the returned sum of weights does not depend on a
        return None if g is None else expand(g, shape, axes, kd) * d
    return average_pullback


def average_weights_maker(ans, a, axis=None, weights=None, returned=False, *, keepdims=_NoValue):
    shape, axes, kd, w = _average_parts(a, axis, weights, keepdims)
    wshape = np.shape(value(weights))
    avg = reshape(ans[0] if returned else ans, _keep(ans[0] if returned else ans, shape, axes, kd).shape)
    wsum = np.sum(w, axis=axes, keepdims=True)

    def average_weights_pullback(g):
        g0, g1 = (g[0], g[1]) if returned else (g, None)
        ct = 0
        if g0 is not None:
            ct = expand(g0, shape, axes, kd) * conj((a - avg) / wsum)
        if g1 is not None:          # the returned sum of weights
            ct = ct + expand(g1, np.broadcast_shapes(shape, np.shape(value(w))), axes, kd)
        ct = unbroadcast_to(np.shape(value(w)), ct)
        return reshape(ct, wshape)
    return average_weights_pullback


def average_jvp(t, ans, a, axis=None, weights=None, returned=False, *, keepdims=_NoValue):
    d = np.average(t, axis, weights, keepdims=keepdims)        # linear in a
    return (d, None) if returned else d         # the returned sum of weights does not depend on a


def average_weights_jvp(t, ans, a, axis=None, weights=None, returned=False, *, keepdims=_NoValue):
    shape, axes, kd, w = _average_parts(a, axis, weights, keepdims)
    tw = _average_parts(a, axis, t, keepdims)[3]        # shaped as the weights are
    res = ans[0] if returned else ans
    avg = reshape(res, _keep(res, shape, axes, kd).shape)
    d = np.sum((a - avg) * tw, axis=axes, keepdims=kd) / np.sum(w, axis=axes, keepdims=kd)
    return (d, np.sum(tw, axis=axes, keepdims=kd)) if returned else d


deflinear(np.trace, _trace_adjoint)
if hasattr(np.linalg, "trace"):         # numpy >= 2.0
    deflinear(np.linalg.trace, _linalg_trace_adjoint)
defvjp(np.average, average_maker, None, average_weights_maker)
defjvp(np.average, average_jvp, None, average_weights_jvp)


# ---------------------------------------------------------------------------
# trapezoid(y, x=None, dx=1.0, axis=-1) = sum_i d_i (y_i + y_{i+1}) / 2, d = diff(x)
# or dx: linear in y (the weights (d_{i-1} + d_i) / 2), in d (the midpoints)

def _trapezoid_parts(y, x, dx, axis):
    """(axis, the spacings d shaped to broadcast with the midpoints, the midpoints)."""
    nd = ndim_of(y)
    ax = axis_of(axis, nd)
    n = shape_of(y)[ax]
    if x is None:
        d = dx
    elif ndim_of(x) == 1:
        d = reshape(np.diff(x), tuple(n - 1 if i == ax else 1 for i in range(nd)))
    else:
        d = np.diff(x, axis=ax)
    lo = tuple(slice(None, -1) if i == ax else slice(None) for i in range(nd))
    hi = tuple(slice(1, None) if i == ax else slice(None) for i in range(nd))
    return ax, n, d, (y[lo] + y[hi]) / 2


def _pad_along(v, ax, before, after):
    widths = [(0, 0)] * ndim_of(v)
    widths[ax] = (before, after)
    return np.pad(v, widths)


def trapezoid_y_maker(ans, y, x=None, dx=1.0, axis=-1):
    ax, n, d, _ = _trapezoid_parts(y, x, dx, axis)
    if x is None:       # a constant spacing: weights dx [1/2, 1, ..., 1, 1/2]
        unit = np.ones(n) if n > 1 else np.zeros(n)
        unit[[0, -1]] = 0.5 if n > 1 else 0.0
        W = dx * np.reshape(unit, tuple(n if i == ax else 1 for i in range(ndim_of(y))))
    else:
        W = (_pad_along(d, ax, 0, 1) + _pad_along(d, ax, 1, 0)) / 2
    W = conj(W)

    def trapezoid_y_pullback(g):
        return unbroadcast(y, np.expand_dims(g, ax) * W)
    return trapezoid_y_pullback


def trapezoid_x_maker(ans, y, x=None, dx=1.0, axis=-1):
    ax, n, d, mid = _trapezoid_parts(y, x, dx, axis)
    mid = conj(mid)

    def trapezoid_x_pullback(g):
        cd = real_if_complex(np.expand_dims(g, ax) * mid)
        if ndim_of(x) == 1:
            cd = np.sum(cd, axis=tuple(i for i in range(ndim_of(cd)) if i != ax))
            return np.pad(cd, (1, 0)) - np.pad(cd, (0, 1))         # the adjoint of diff
        cd = unbroadcast_to(shape_of(d), cd)
        return unbroadcast(x, _pad_along(cd, ax, 1, 0) - _pad_along(cd, ax, 0, 1))
    return trapezoid_x_pullback


def trapezoid_dx_maker(ans, y, x=None, dx=1.0, axis=-1):
    ax, n, d, mid = _trapezoid_parts(y, x, dx, axis)
    mid = conj(mid)

    def trapezoid_dx_pullback(g):
        return unbroadcast(dx, real_if_complex(np.expand_dims(g, ax) * mid))
    return trapezoid_dx_pullback


def _trapezoid_y_jvp(fun):
    def trapezoid_y_jvp(t, ans, y, x=None, dx=1.0, axis=-1):
        return fun(t, x, dx, axis)                  # linear in y
    return trapezoid_y_jvp


def trapezoid_x_jvp(t, ans, y, x=None, dx=1.0, axis=-1):
    ax, n, d, mid = _trapezoid_parts(y, x, dx, axis)
    td = _trapezoid_parts(y, t, dx, axis)[2]        # diff(t), shaped as d is
    return np.sum(td * mid, axis=ax)


def trapezoid_dx_jvp(t, ans, y, x=None, dx=1.0, axis=-1):
    ax, n, d, mid = _trapezoid_parts(y, x, dx, axis)
    return np.sum(t * mid, axis=ax)


for _trapezoid in [getattr(np, n) for n in ("trapezoid", "trapz") if hasattr(np, n)]:
    # trapezoid: numpy >= 2.0; trapz: numpy < 2.4
    defvjp(_trapezoid, trapezoid_y_maker, trapezoid_x_maker, trapezoid_dx_maker)
    defjvp(_trapezoid, _trapezoid_y_jvp(_trapezoid), trapezoid_x_jvp, trapezoid_dx_jvp)


# ---------------------------------------------------------------------------
# cov and corrcoef. With X the variables as rows (m, then y), w = fweights *
# aweights (or 1), Xc = X minus its w-weighted row means and fact the
# normalization, C = (Xc w) Xc^H / fact. The centring's adjoint drops out (Xc w
# sums to 0), so the cotangent of X is (G + G^H) (Xc w) / fact; in aweights, a_j
# contributes f_j xc_j xc_j^H / fact and changes fact.

class _Cov:
    """The parts of cov(m, y, rowvar, bias, ddof, fweights, aweights), possibly tracked."""

    def __init__(self, m, y, rowvar, bias, ddof, fweights, aweights):
        self.m, self.y, self.rowvar = m, y, rowvar
        self.X = self.rows(m, y)
        self.p, n = shape_of(self.X)
        if ddof is None:
            ddof = 0 if bias else 1
        self.ddof = ddof
        self.f = None if fweights is None else np.asarray(value(fweights), dtype=float)
        self.a = aweights
        if fweights is None and aweights is None:
            self.w = 1.0
            self.v1 = n
            self.fact = n - ddof
        else:
            self.w = (1.0 if self.f is None else self.f) * (1.0 if aweights is None else aweights)
            self.v1 = np.sum(self.w * np.ones(n))
            if ddof == 0:
                self.fact = self.v1
            elif aweights is None:
                self.fact = self.v1 - ddof
            else:
                self.fact = self.v1 - ddof * np.sum(self.w * aweights) / self.v1
        self.Xc = self.centred(self.X)

    def rows(self, m, y):
        """X from m and y as numpy's cov makes it (variables as rows)."""
        X = np.reshape(m, (1, -1)) if ndim_of(m) < 2 else (m if self.rowvar else np.transpose(m))
        if y is None:
            return X
        Y = np.reshape(y, (1, -1)) if ndim_of(y) < 2 else y
        if not self.rowvar and shape_of(Y)[0] != 1:
            Y = np.transpose(Y)
        return np.concatenate([X, Y], axis=0)

    def centred(self, X):
        return X - np.reshape(np.sum(X * self.w, axis=1) / self.v1, (-1, 1))

    def matrix(self, g):
        return np.reshape(g, (self.p, self.p))

    def X_cotangent(self, G):
        return (G + np.transpose(conj(G))) @ (self.Xc * self.w) / self.fact

    def back(self, ct, which):
        """The part of a cotangent of X that belongs to m (which=0) or y (1), in its shape."""
        pm = 1 if ndim_of(self.m) < 2 else shape_of(self.m)[1 - bool(self.rowvar)]
        if which == 0:
            part = ct[:pm]
            if ndim_of(self.m) >= 2 and not self.rowvar:
                part = np.transpose(part)
            return np.reshape(part, shape_of(self.m))
        part = ct[pm:]
        if ndim_of(self.y) >= 2 and not self.rowvar and shape_of(self.y)[0] != 1:
            part = np.transpose(part)
        return np.reshape(part, shape_of(self.y))

    def tangent(self, dX):
        """The tangent of C for the tangent dX of X."""
        S = (self.centred(dX) * self.w) @ np.transpose(conj(self.Xc)) / self.fact
        return S + np.transpose(conj(S))

    def fact_partial(self):
        """d fact / d aweights."""
        f = 1.0 if self.f is None else self.f
        if self.ddof == 0:
            return f * np.ones(shape_of(self.a))
        v2 = np.sum(self.w * self.a)
        return f - self.ddof * (2 * f * self.a * self.v1 - v2 * f) / (self.v1 * self.v1)

    def aweights_cotangent(self, G, C):
        f = 1.0 if self.f is None else self.f
        q = np.real(np.sum(self.Xc * (conj(G) @ conj(self.Xc)), axis=0))    # Re xc_j^H G xc_j
        return f * q / self.fact - np.real(np.sum(conj(G) * C)) * self.fact_partial() / self.fact

    def aweights_tangent(self, t, C):
        f = 1.0 if self.f is None else self.f
        return (self.Xc * (f * t)) @ np.transpose(conj(self.Xc)) / self.fact - \
            C * (np.sum(t * self.fact_partial()) / self.fact)


def _cov_maker(which):
    def cov_maker(ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *,
                  dtype=None):
        c = _Cov(m, y, rowvar, bias, ddof, fweights, aweights)

        def cov_pullback(g):
            return c.back(c.X_cotangent(c.matrix(g)), which)
        return cov_pullback
    cov_maker.__name__ = cov_maker.__qualname__ = "cov_%s_maker" % ("y" if which else "m")
    return cov_maker


def cov_aweights_maker(ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
                       *, dtype=None):
    c = _Cov(m, y, rowvar, bias, ddof, fweights, aweights)
    C = c.matrix(ans)

    def cov_aweights_pullback(g):
        return c.aweights_cotangent(c.matrix(g), C)
    return cov_aweights_pullback


def _zeros_or_none(v):
    return None if v is None else np.zeros(shape_of(v))


def _cov_jvp(which):
    def cov_jvp(t, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *,
                dtype=None):
        c = _Cov(m, y, rowvar, bias, ddof, fweights, aweights)
        dX = c.rows(t, _zeros_or_none(y)) if which == 0 else c.rows(np.zeros(shape_of(m)), t)
        return np.reshape(c.tangent(dX), np.shape(value(ans)))
    cov_jvp.__name__ = cov_jvp.__qualname__ = "cov_%s_jvp" % ("y" if which else "m")
    return cov_jvp


def cov_aweights_jvp(t, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
                     *, dtype=None):
    c = _Cov(m, y, rowvar, bias, ddof, fweights, aweights)
    return np.reshape(c.aweights_tangent(t, c.matrix(ans)), np.shape(value(ans)))


defvjp(np.cov, _cov_maker(0), _cov_maker(1), None, None, None, None, cov_aweights_maker)
defjvp(np.cov, _cov_jvp(0), _cov_jvp(1), None, None, None, None, cov_aweights_jvp)


# corrcoef: R = C / (s s^T) with s = sqrt(Re diag C). The cotangent of C is
# G / (s s^T) - diag(u / 2 d), u_i = Re sum_j (conj(G_ij) R_ij + conj(G_ji) R_ji),
# d = s^2; then cov's.

def _corr_parts(x, y, rowvar, ans):
    c = _Cov(x, y, rowvar, False, None, None, None)
    C = c.Xc @ np.transpose(conj(c.Xc)) / c.fact
    d = np.real(np.diagonal(C))
    return c, C, d, np.sqrt(d), c.matrix(ans)


def _corrcoef_maker(which):
    def corrcoef_maker(ans, x, y=None, rowvar=True, *, dtype=None, **kwargs):
        c, C, d, s, R = _corr_parts(x, y, rowvar, ans)
        scale = np.reshape(s, (-1, 1)) * np.reshape(s, (1, -1))

        def corrcoef_pullback(g):
            G = c.matrix(g)
            u = np.real(np.sum(conj(G) * R, axis=1) + np.sum(conj(G) * R, axis=0))
            GC = G / scale - diag_embed(u / (2 * d), c.p, c.p, 0)
            return c.back(c.X_cotangent(GC), which)
        return corrcoef_pullback
    corrcoef_maker.__name__ = corrcoef_maker.__qualname__ = "corrcoef_%s_maker" % ("y" if which else "x")
    return corrcoef_maker


def _corrcoef_jvp(which):
    def corrcoef_jvp(t, ans, x, y=None, rowvar=True, *, dtype=None, **kwargs):
        c, C, d, s, R = _corr_parts(x, y, rowvar, ans)
        dX = c.rows(t, _zeros_or_none(y)) if which == 0 else c.rows(np.zeros(shape_of(x)), t)
        dC = c.tangent(dX)
        r = np.real(np.diagonal(dC)) / d
        dR = dC / (np.reshape(s, (-1, 1)) * np.reshape(s, (1, -1))) - \
            R * (np.reshape(r, (-1, 1)) + np.reshape(r, (1, -1))) / 2
        return np.reshape(dR, np.shape(value(ans)))
    corrcoef_jvp.__name__ = corrcoef_jvp.__qualname__ = "corrcoef_%s_jvp" % ("y" if which else "x")
    return corrcoef_jvp


defvjp(np.corrcoef, _corrcoef_maker(0), _corrcoef_maker(1))
defjvp(np.corrcoef, _corrcoef_jvp(0), _corrcoef_jvp(1))


# ---------------------------------------------------------------------------
# histogram(a, bins, range, density, weights) -> (hist, edges). hist is the sum
# of the weights in each bin: linear in weights (density: c / (widths sum(c))).
# In a the counts are piecewise constant; but with bins a number (or an
# estimator's name) and no range, the edges are linspace(min(a), max(a)), so
# they -- and with density the heights, through the widths -- move with the
# extreme elements of a.

class _Bins:
    """Which bin each element of a falls in (flattened), from plain values."""

    def __init__(self, ans, a, bins, range_, density):
        edges = np.asarray(value(ans[1]))
        av = np.ravel(np.asarray(value(a)))
        nb = len(edges) - 1
        idx = np.searchsorted(edges, av, side="right") - 1
        idx[av == edges[-1]] = nb - 1                   # the last bin is closed
        self.inside = (av >= edges[0]) & (av <= edges[-1])
        self.idx = np.where(self.inside, idx, 0)
        self.nb = nb
        self.density = bool(density)
        self.widths = np.diff(edges)
        # the edges follow min(a) and max(a): d edges_k = (1 - k/nb) d min + k/nb d max
        self.moving = range_ is None and np.ndim(value(bins)) == 0
        self.span = edges[-1] - edges[0]
        if self.moving and np.max(av) > np.min(av):     # (equal: numpy widens by 1/2 each side)
            self.span = np.max(a) - np.min(a)           # possibly tracked, as the widths are
            self.widths = self.span / nb

    def counts(self, w):
        return scatter_along(np.reshape(w, (-1,)) * self.inside, self.idx, 0, self.nb)

    def extremes(self, a):
        """(share of min, share of max): plain weights of a's shape (ties share)."""
        av = np.asarray(value(a))
        lo, hi = av == np.min(av), av == np.max(av)
        return lo / np.sum(lo), hi / np.sum(hi)


def histogram_a_maker(ans, a, bins=10, range=None, density=None, weights=None):
    b = _Bins(ans, a, bins, range, density)
    if not b.moving:
        return no_gradient              # the counts are piecewise constant in a
    share_lo, share_hi = b.extremes(a)
    k = np.arange(b.nb + 1) / b.nb
    hist = ans[0]

    def histogram_a_pullback(g):
        gh, ge = g[0], g[1]
        g_lo = g_hi = 0.0
        if ge is not None:
            g_lo, g_hi = np.sum(ge * (1 - k)), np.sum(ge * k)
        if gh is not None and b.density:        # heights c / (span / nb * sum(c))
            h = np.sum(gh * hist) / b.span
            g_lo, g_hi = g_lo + h, g_hi - h
        return g_lo * share_lo + g_hi * share_hi
    return histogram_a_pullback


def histogram_weights_maker(ans, a, bins=10, range=None, density=None, weights=None):
    b = _Bins(ans, a, bins, range, density)
    shape = shape_of(weights)
    if b.density:
        total = np.sum(b.counts(weights))
        hist = ans[0]

    def histogram_weights_pullback(g):
        gh = g[0]
        if gh is None:
            return None
        if b.density:       # d hist_b / d c_k = (delta_bk / width_k - hist_b) / total
            gh = (gh / b.widths - np.sum(gh * conj(hist))) / conj(total)
        return np.reshape(gather(gh, b.idx, 0) * b.inside, shape)
    return histogram_weights_pullback


def histogram_a_jvp(t, ans, a, bins=10, range=None, density=None, weights=None):
    b = _Bins(ans, a, bins, range, density)
    if not b.moving:
        return None
    share_lo, share_hi = b.extremes(a)
    t_lo, t_hi = np.sum(share_lo * t), np.sum(share_hi * t)
    k = np.arange(b.nb + 1) / b.nb
    dh = -ans[0] * ((t_hi - t_lo) / b.span) if b.density else None
    return dh, (1 - k) * t_lo + k * t_hi


def histogram_weights_jvp(t, ans, a, bins=10, range=None, density=None, weights=None):
    b = _Bins(ans, a, bins, range, density)
    dc = b.counts(t)
    if b.density:
        total = np.sum(b.counts(weights))
        dc = dc / (b.widths * total) - ans[0] * (np.sum(dc) / total)
    return dc, None


defvjp(np.histogram, histogram_a_maker, None, None, None, histogram_weights_maker)
defjvp(np.histogram, histogram_a_jvp, None, None, None, histogram_weights_jvp)


# ---------------------------------------------------------------------------
# Order statistics: median, percentile, quantile (every method), nan-versions
#
# The result is (1 - t) x[lo] + t x[hi] for the sorted entries of each slice, at
# a virtual index lo + t that depends on q, n and the method only (q (n - 1) for
# 'linear'), so the gradient is (1 - t) at the entry of rank lo and t at the
# entry of rank hi (ties broken by position).

def _order_weights(xv, q, axes, nan, method):
    """Plain weights of shape q.shape + x.shape: how much each entry counts in each quantile."""
    nd = xv.ndim
    keep = [i for i in range(nd) if i not in axes]
    perm = keep + list(axes)
    xt = np.transpose(xv, perm)
    kshape, rshape = xt.shape[:len(keep)], xt.shape[len(keep):]
    xt = xt.reshape(kshape + (-1,))
    ranks = np.argsort(np.argsort(xt, axis=-1, kind="stable"), axis=-1, kind="stable")
    if nan:
        cnt = np.sum(~np.isnan(xt), axis=-1, keepdims=True)
    else:
        cnt = np.full(kshape + (1,), xt.shape[-1])
    qa = np.asarray(q, dtype=float)
    # The virtual index lo + t of each quantile, by numpy's rule for the method:
    # the quantile of 0, 1, ..., n - 1 is exactly that index.
    pos = np.zeros(qa.shape + cnt.shape)
    for n in np.unique(cnt):
        if n > 0:
            at = np.quantile(np.arange(n, dtype=float), qa, method=method)
            pos[..., cnt == n] = np.reshape(at, qa.shape + (1,))
    lo = np.floor(pos)
    t = pos - lo
    hi = np.minimum(lo + 1, cnt - 1)
    w = ((ranks == lo) * (1 - t) + (ranks == hi) * t) * (cnt > 0)
    w = w.reshape(qa.shape + kshape + rshape)
    inverse = np.argsort(perm)
    return np.transpose(w, tuple(range(qa.ndim)) + tuple(qa.ndim + i for i in inverse))


def _quantile_weights(x, q, axis, nan, method):
    axes = reduced_axes(axis, ndim_of(x))
    return axes, _order_weights(np.asarray(value(x)), q, axes, nan, method)


def _quantile_pullback(x, q, axis, keepdims, nan, method):
    shape = np.shape(value(x))
    axes, w = _quantile_weights(x, q, axis, nan, method)
    qnd = np.ndim(q)
    full = np.shape(q) + shape

    def quantile_pullback(g):
        ct = expand(g, full, [a + qnd for a in axes], keepdims) * w
        return np.sum(ct, axis=tuple(range(qnd))) if qnd else ct
    return quantile_pullback


def _quantile_jvp(t, x, q, axis, keepdims, nan, method):
    axes, w = _quantile_weights(x, q, axis, nan, method)
    qnd = np.ndim(q)
    return np.sum(w * (_drop_nan(t, x) if nan else t), axis=tuple(a + qnd for a in axes), keepdims=keepdims)


def _method(method, weights, interpolation):
    if weights is not None:
        raise NotImplementedError("zygcy: quantiles with weights= are not differentiable yet")
    return method if interpolation is None else interpolation      # the old name of method


def _quantile_of(x, q, axis, keepdims, nan, method, weights, interpolation):
    return _quantile_pullback(x, q, axis, keepdims, nan, _method(method, weights, interpolation))


def quantile_maker(ans, x, q, axis=None, out=None, overwrite_input=False, method="linear",
                   keepdims=False, *, weights=None, interpolation=None):
    return _quantile_of(x, np.asarray(value(q)), axis, keepdims, False, method, weights, interpolation)


def nanquantile_maker(ans, x, q, axis=None, out=None, overwrite_input=False, method="linear",
                      keepdims=False, *, weights=None, interpolation=None):
    return _quantile_of(x, np.asarray(value(q)), axis, keepdims, True, method, weights, interpolation)


def percentile_maker(ans, x, q, axis=None, out=None, overwrite_input=False, method="linear",
                     keepdims=False, *, weights=None, interpolation=None):
    return _quantile_of(x, np.asarray(value(q)) / 100.0, axis, keepdims, False, method, weights,
                        interpolation)


def nanpercentile_maker(ans, x, q, axis=None, out=None, overwrite_input=False, method="linear",
                        keepdims=False, *, weights=None, interpolation=None):
    return _quantile_of(x, np.asarray(value(q)) / 100.0, axis, keepdims, True, method, weights,
                        interpolation)


def median_maker(ans, x, axis=None, out=None, overwrite_input=False, keepdims=False):
    return _quantile_pullback(x, 0.5, axis, keepdims, False, "linear")


def nanmedian_maker(ans, x, axis=None, out=None, overwrite_input=False, keepdims=False):
    return _quantile_pullback(x, 0.5, axis, keepdims, True, "linear")


def quantile_jvp(t, ans, x, q, axis=None, out=None, overwrite_input=False, method="linear",
                 keepdims=False, *, weights=None, interpolation=None):
    return _quantile_jvp(t, x, np.asarray(value(q)), axis, keepdims, False,
                         _method(method, weights, interpolation))


def nanquantile_jvp(t, ans, x, q, axis=None, out=None, overwrite_input=False, method="linear",
                    keepdims=False, *, weights=None, interpolation=None):
    return _quantile_jvp(t, x, np.asarray(value(q)), axis, keepdims, True,
                         _method(method, weights, interpolation))


def percentile_jvp(t, ans, x, q, axis=None, out=None, overwrite_input=False, method="linear",
                   keepdims=False, *, weights=None, interpolation=None):
    return _quantile_jvp(t, x, np.asarray(value(q)) / 100.0, axis, keepdims, False,
                         _method(method, weights, interpolation))


def nanpercentile_jvp(t, ans, x, q, axis=None, out=None, overwrite_input=False, method="linear",
                      keepdims=False, *, weights=None, interpolation=None):
    return _quantile_jvp(t, x, np.asarray(value(q)) / 100.0, axis, keepdims, True,
                         _method(method, weights, interpolation))


def median_jvp(t, ans, x, axis=None, out=None, overwrite_input=False, keepdims=False):
    return _quantile_jvp(t, x, 0.5, axis, keepdims, False, "linear")


def nanmedian_jvp(t, ans, x, axis=None, out=None, overwrite_input=False, keepdims=False):
    return _quantile_jvp(t, x, 0.5, axis, keepdims, True, "linear")


defvjp(np.median, median_maker)
defjvp(np.median, median_jvp)
defvjp(np.nanmedian, nanmedian_maker)
defjvp(np.nanmedian, nanmedian_jvp)
defvjp(np.quantile, quantile_maker)
defjvp(np.quantile, quantile_jvp)
defvjp(np.nanquantile, nanquantile_maker)
defjvp(np.nanquantile, nanquantile_jvp)
defvjp(np.percentile, percentile_maker)
defjvp(np.percentile, percentile_jvp)
defvjp(np.nanpercentile, nanpercentile_maker)
defjvp(np.nanpercentile, nanpercentile_jvp)


# ---------------------------------------------------------------------------
# ufunc.reduce and ufunc.accumulate: the reductions above, with axis=0 by default

def _add_reduce_adjoint(g, x, axis=0, *args, **kwargs):
    return _sum_adjoint(g, x, axis, *args, **kwargs)


def _add_accumulate_adjoint(g, x, axis=0, *args, **kwargs):
    return _cumsum_adjoint(g, x, axis, *args, **kwargs)


def multiply_reduce_maker(ans, x, axis=0, *args, **kwargs):
    return prod_maker(ans, x, axis, *args, **kwargs)


def multiply_accumulate_maker(ans, x, axis=0, *args, **kwargs):
    return cumprod_maker(ans, x, axis, *args, **kwargs)


def extreme_reduce_maker(ans, x, axis=0, dtype=None, out=None, keepdims=False, initial=_NoValue,
                         where=True):
    """maximum/minimum/fmax/fmin.reduce: the gradient goes to the extreme elements."""
    return _extreme_pullback(ans, x, reduced_axes(axis, ndim_of(x)), keepdims, where)


def _logaddexp_share(exp, ans, x, axes, keepdims):
    """d logaddexp.reduce / d x: exp(x - result), the softmax of x (exp2 for logaddexp2)."""
    return exp(x - reshape(ans, _keep(ans, np.shape(value(x)), axes, keepdims).shape))


def _logaddexp_reduce_pullback(exp, ans, x, axis, keepdims):
    shape, axes = np.shape(value(x)), reduced_axes(axis, ndim_of(x))
    share = _logaddexp_share(exp, ans, x, axes, keepdims)

    def logaddexp_reduce_pullback(g):
        return expand(g, shape, axes, keepdims) * share
    return logaddexp_reduce_pullback


def logaddexp_reduce_maker(ans, x, axis=0, dtype=None, out=None, keepdims=False,
                           initial=_NoValue, where=True):
    return _logaddexp_reduce_pullback(np.exp, ans, x, axis, keepdims)


def logaddexp2_reduce_maker(ans, x, axis=0, dtype=None, out=None, keepdims=False,
                            initial=_NoValue, where=True):
    return _logaddexp_reduce_pullback(np.exp2, ans, x, axis, keepdims)


def multiply_reduce_jvp(t, ans, x, axis=0, *args, **kwargs):
    return prod_jvp(t, ans, x, axis, *args, **kwargs)


def multiply_accumulate_jvp(t, ans, x, axis=0, *args, **kwargs):
    return cumprod_jvp(t, ans, x, axis, *args, **kwargs)


def extreme_reduce_jvp(t, ans, x, axis=0, dtype=None, out=None, keepdims=False, initial=_NoValue,
                       where=True):
    return _extreme_jvp(t, ans, x, reduced_axes(axis, ndim_of(x)), keepdims, where)


def _logaddexp_reduce_jvp(exp, t, ans, x, axis, keepdims):
    axes = reduced_axes(axis, ndim_of(x))
    return np.sum(t * _logaddexp_share(exp, ans, x, axes, keepdims), axis=axes, keepdims=keepdims)


def logaddexp_reduce_jvp(t, ans, x, axis=0, dtype=None, out=None, keepdims=False,
                         initial=_NoValue, where=True):
    return _logaddexp_reduce_jvp(np.exp, t, ans, x, axis, keepdims)


def logaddexp2_reduce_jvp(t, ans, x, axis=0, dtype=None, out=None, keepdims=False,
                          initial=_NoValue, where=True):
    return _logaddexp_reduce_jvp(np.exp2, t, ans, x, axis, keepdims)


deflinear(np.add.reduce, _add_reduce_adjoint, _add_reduce_jvp)
defvjp(np.multiply.reduce, multiply_reduce_maker)
defjvp(np.multiply.reduce, multiply_reduce_jvp)
for _uf in (np.maximum, np.minimum, np.fmax, np.fmin):
    defvjp(_uf.reduce, extreme_reduce_maker)
    defjvp(_uf.reduce, extreme_reduce_jvp)
defvjp(np.logaddexp.reduce, logaddexp_reduce_maker)
defjvp(np.logaddexp.reduce, logaddexp_reduce_jvp)
defvjp(np.logaddexp2.reduce, logaddexp2_reduce_maker)
defjvp(np.logaddexp2.reduce, logaddexp2_reduce_jvp)
deflinear(np.add.accumulate, _add_accumulate_adjoint)
defvjp(np.multiply.accumulate, multiply_accumulate_maker)
defjvp(np.multiply.accumulate, multiply_accumulate_jvp)


# Running max/min: out[k] is x[j(k)] for the j(k) <= k where the running extreme
# was (first) attained, so x[j] gets the sum of g[k] over the k with j(k) == j.

def _attained_at(xv, ans, ax):
    """Plain int array j(k) along axis ax (x moved so that ax is last)."""
    xv, ans = np.moveaxis(xv, ax, -1), np.moveaxis(ans, ax, -1)
    n = xv.shape[-1]
    new = np.ones(xv.shape, dtype=bool)
    new[..., 1:] = ans[..., 1:] != ans[..., :-1]      # the running extreme changed here
    return np.maximum.accumulate(np.where(new, np.arange(n), 0), axis=-1)


def running_extreme_maker(ans, x, axis=0, dtype=None, out=None):
    xv, av = value(x), value(ans)
    ax = normalize_axis_tuple(axis, np.ndim(xv))[0]
    j = _attained_at(xv, av, ax)                      # shape: x with ax moved last
    n = xv.shape[ax]
    # one-hot[..., k, i] = (j(k) == i), with k at ax and i next to it
    onehot = np.moveaxis(j[..., None] == np.arange(n), (-2, -1), (ax, ax + 1))
    kshape = xv.shape[:ax + 1] + (1,) + xv.shape[ax + 1:]

    def running_extreme_pullback(g):
        if type(g) is not Tracked:
            # first derivatives: scatter-add, without the n x n one-hot product
            gm = np.moveaxis(np.asarray(g), ax, -1)
            rows = np.arange(gm.size // n).reshape(gm.shape[:-1] + (1,)) * n
            idx = (rows + j).ravel()
            ct = np.bincount(idx, gm.real.ravel(), minlength=gm.size)
            if np.iscomplexobj(gm):
                ct = ct + 1j * np.bincount(idx, gm.imag.ravel(), minlength=gm.size)
            return np.moveaxis(ct.reshape(gm.shape), -1, ax)
        return np.sum(reshape(g, kshape) * onehot, axis=ax)
    return running_extreme_pullback


def running_extreme_jvp(t, ans, x, axis=0, dtype=None, out=None):
    ax = normalize_axis_tuple(axis, np.ndim(value(x)))[0]
    j = _attained_at(value(x), value(ans), ax)
    return np.moveaxis(np.take_along_axis(np.moveaxis(t, ax, -1), j, -1), -1, ax)      # t[j(k)]


for _uf in (np.maximum, np.minimum, np.fmax, np.fmin):
    defvjp(_uf.accumulate, running_extreme_maker)
    defjvp(_uf.accumulate, running_extreme_jvp)
