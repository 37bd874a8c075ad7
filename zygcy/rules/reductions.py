"""Rules for reductions: sum, mean, prod, var, std, max/min, their nan-versions,
cumulative sums and products, trace, average, median and quantiles, and the
ufunc methods they equal (``np.add.reduce`` is a sum, ``np.multiply.accumulate``
a cumulative product).

Every pullback broadcasts its cotangent back over the reduced axes with
``expand`` (from ``ufuncs``) and multiplies by a local derivative. Masks (which
element is the max, which are nan, where the zeros are) come from plain values;
everything that depends on the inputs is written with numpy functions, so the
pullbacks are differentiable again.

``axis`` may be None, an int, a negative int or a tuple; ``keepdims`` is
honoured everywhere. ``where=`` is honoured by sum, mean, nansum, nanmean,
max/min and their ufunc.reduce forms; the others refuse it with an error.
"""
import math

import numpy as np
try:
    from numpy.lib.array_utils import normalize_axis_tuple
except ImportError:             # numpy < 2
    from numpy.core.numeric import normalize_axis_tuple

from ..extend import Tracked, defvjp, primitive, value
from ._util import unbroadcast_to
from .ufuncs import _conj, expand, reshape

_NoValue = np._NoValue


def _axes(x, axis):
    """The reduced axes of x as a sorted tuple of non-negative ints."""
    nd = np.ndim(value(x))
    if axis is None:
        return tuple(range(nd))
    return tuple(sorted(normalize_axis_tuple(axis, nd)))


def _keep(a, shape, axes, keepdims):
    """The plain reduced value ``a`` with the reduced axes kept as 1s (to broadcast)."""
    a = value(a)
    if keepdims:
        return a
    full = list(shape)
    for ax in axes:
        full[ax] = 1
    return np.reshape(a, full)


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

def sum_maker(ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
              where=True):
    shape, axes = np.shape(value(x)), _axes(x, axis)

    def sum_pullback(g):
        g = expand(g, shape, axes, keepdims)
        return g if _is_all(where) else g * value(where)
    return sum_pullback


def mean_maker(ans, x, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    shape, axes = np.shape(value(x)), _axes(x, axis)
    n = _safe_count(_count(shape, axes, where))

    def mean_pullback(g):
        g = expand(g, shape, axes, keepdims) / n
        return g if _is_all(where) else g * value(where)
    return mean_pullback


def _notnan(x):
    return ~np.isnan(value(x))


def nansum_maker(ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
                 where=True):
    shape, axes = np.shape(value(x)), _axes(x, axis)
    ok = _notnan(x) if _is_all(where) else _notnan(x) & value(where)
    return lambda g: expand(g, shape, axes, keepdims) * ok


def nanmean_maker(ans, x, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    shape, axes = np.shape(value(x)), _axes(x, axis)
    ok = _notnan(x) if _is_all(where) else _notnan(x) & value(where)
    n = _safe_count(np.sum(ok, axis=axes, keepdims=True))
    return lambda g: expand(g, shape, axes, keepdims) * (ok / n)


defvjp(np.sum, sum_maker)
defvjp(np.mean, mean_maker)
defvjp(np.nansum, nansum_maker)
defvjp(np.nanmean, nanmean_maker)


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
    shape, axes = np.shape(value(x)), _axes(x, axis)
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
    shape, axes = np.shape(value(x)), _axes(x, axis)
    m = value(mean)                 # numpy requires the keepdims shape
    if nan:
        ok = _notnan(x)
        return shape, axes, (np.nan_to_num(x) - m) * ok, np.sum(ok, axis=axes, keepdims=True) - ddof
    return shape, axes, x - m, _count(shape, axes) - ddof


def _var_maker(nan):
    def var_maker(ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
                  where=True, mean=_NoValue, correction=_NoValue):
        shape, axes, xc, dof = _var_parts(x, axis, ddof, correction, nan, where, mean)

        def var_pullback(g):
            return expand(np.real(g), shape, axes, keepdims) * (2 * xc / dof)
        return var_pullback
    return var_maker


def _std_maker(nan):
    def std_maker(ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
                  where=True, mean=_NoValue, correction=_NoValue):
        shape, axes, xc, dof = _var_parts(x, axis, ddof, correction, nan, where, mean)
        s = reshape(ans, _keep(ans, shape, axes, keepdims).shape)

        def std_pullback(g):
            return expand(np.real(g), shape, axes, keepdims) * (xc / (dof * s))
        return std_pullback
    return std_maker


defvjp(np.var, _var_maker(False))
defvjp(np.std, _std_maker(False))
defvjp(np.nanvar, _var_maker(True))
defvjp(np.nanstd, _std_maker(True))


# ---------------------------------------------------------------------------
# Products: the derivative is the product of the others, with care at zeros

def prod_maker(ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
               where=True):
    _no_where(where, "prod")
    shape, axes = np.shape(value(x)), _axes(x, axis)
    zero = value(x) == 0
    if not np.any(zero):
        return lambda g: expand(g * _conj(ans), shape, axes, keepdims) / _conj(x)
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
    d = p1 * ((nz == 0) / x1 + (nz == 1) * (zero + ~zero * s / x1) + (nz == 2) * zero * (s - x))

    def prod_pullback(g):
        return expand(g, shape, axes, keepdims) * _conj(d)
    return prod_pullback


def nanprod_maker(ans, x, axis=None, dtype=None, out=None, keepdims=False, initial=_NoValue,
                  where=True):
    _no_where(where, "nanprod")
    inner = prod_maker(ans, np.nan_to_num(x, nan=1.0), axis, dtype, out, keepdims, initial)
    ok = _notnan(x)
    return lambda g: inner(g) * ok


defvjp(np.prod, prod_maker)
defvjp(np.nanprod, nanprod_maker)


# ---------------------------------------------------------------------------
# Max and min: the gradient goes to the elements equal to the result, shared on ties

def _extreme_pullback(ans, x, axes, keepdims, where=True):
    shape = np.shape(value(x))
    hit = value(x) == _keep(ans, shape, axes, keepdims)    # nan entries never hit
    if not _is_all(where):
        hit = hit & value(where)
    share = hit / _safe_count(np.sum(hit, axis=axes, keepdims=True))
    return lambda g: expand(g, shape, axes, keepdims) * share


def max_maker(ans, x, axis=None, out=None, keepdims=False, initial=_NoValue, where=True):
    return _extreme_pullback(ans, x, _axes(x, axis), keepdims, where)


def ptp_maker(ans, x, axis=None, out=None, keepdims=False):
    axes = _axes(x, axis)
    hi = _extreme_pullback(np.max(value(x), axis=axes, keepdims=keepdims), x, axes, keepdims)
    lo = _extreme_pullback(np.min(value(x), axis=axes, keepdims=keepdims), x, axes, keepdims)
    return lambda g: hi(g) - lo(g)


for _f in (np.max, np.min, np.amax, np.amin, np.nanmax, np.nanmin):
    defvjp(_f, max_maker)
defvjp(np.ptp, ptp_maker)


# ---------------------------------------------------------------------------
# Cumulative sums and products

@primitive
def _revcumsum_plain(g, axis):
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


def _revcumsum(g, axis):
    """Reverse cumulative sum along axis: out[i] = sum(g[i:]), the transpose of cumsum."""
    return _revcumsum_plain(g, axis)


defvjp(_revcumsum_plain, lambda ans, g, axis: lambda h: np.cumsum(h, axis=axis))


def _flat_or_axis(x, axis):
    """(x, axis) as the cumulative function sees them: axis=None flattens."""
    if axis is None:
        return reshape(x, (-1,)), 0
    return x, normalize_axis_tuple(axis, np.ndim(value(x)))[0]


def cumsum_maker(ans, x, axis=None, dtype=None, out=None):
    shape = np.shape(value(x))
    ax = 0 if axis is None else normalize_axis_tuple(axis, len(shape))[0]
    return lambda g: reshape(_revcumsum(g, ax), shape)


def nancumsum_maker(ans, x, axis=None, dtype=None, out=None):
    inner = cumsum_maker(ans, x, axis)
    ok = _notnan(x)
    return lambda g: inner(g) * ok


def cumprod_maker(ans, x, axis=None, dtype=None, out=None):
    shape = np.shape(value(x))
    xf, ax = _flat_or_axis(x, axis)
    xv = value(xf)
    zero = xv == 0
    if not np.any(zero):
        # d out[k] / d x[i] = out[k] / x[i] for k >= i
        return lambda g: reshape(_revcumsum(g * _conj(ans), ax) / _conj(xf), shape)
    # With zeros: out[k] is the product of a prefix, so its derivative is the
    # product-of-the-others of prod_maker for that prefix, summed over k >= i
    # with the reverse cumulative sum (exact to second order, as there).
    nz = np.cumsum(zero, axis=ax)                   # zeros in each prefix
    x1 = _conj(xf * ~zero + zero)
    p1 = _conj(np.cumprod(xf * ~zero + zero, axis=ax))
    s = _conj(np.cumsum(xf * zero, axis=ax))
    xc = _conj(xf)

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
    return lambda g: inner(g) * ok


def _cumulative(maker):
    """np.cumulative_sum/prod: cumsum/cumprod whose axis may be omitted for 1-d input."""
    def cumulative_maker(ans, x, axis=None, dtype=None, out=None, include_initial=False):
        if include_initial:
            raise NotImplementedError(
                "zygcy: np.cumulative_sum/prod with include_initial=True has no gradient "
                "rule yet; use np.cumsum/np.cumprod")
        return maker(ans, x, 0 if axis is None else axis)
    return cumulative_maker


defvjp(np.cumsum, cumsum_maker)
defvjp(np.nancumsum, nancumsum_maker)
defvjp(np.cumprod, cumprod_maker)
defvjp(np.nancumprod, nancumprod_maker)
if hasattr(np, "cumulative_sum"):       # numpy >= 2.1
    defvjp(np.cumulative_sum, _cumulative(cumsum_maker))
    defvjp(np.cumulative_prod, _cumulative(cumprod_maker))


# ---------------------------------------------------------------------------
# trace and average

def trace_maker(ans, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    shape = np.shape(value(a))
    ax1, ax2 = normalize_axis_tuple((axis1, axis2), len(shape))
    eshape = [1] * len(shape)
    eshape[ax1], eshape[ax2] = shape[ax1], shape[ax2]
    diag = np.eye(shape[ax1], shape[ax2], k=offset)       # [index along ax1, along ax2]
    if ax1 > ax2:
        diag = diag.T
    diag = diag.reshape(eshape)
    return lambda g: expand(g, shape, sorted((ax1, ax2))) * diag


def _average_parts(a, axis, weights, keepdims):
    shape, axes = np.shape(value(a)), _axes(a, axis)
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


def average_maker_a(ans, a, axis=None, weights=None, returned=False, *, keepdims=_NoValue):
    shape, axes, kd, w = _average_parts(a, axis, weights, keepdims)
    d = 1 / _count(shape, axes) if w is None else _conj(w / np.sum(w, axis=axes, keepdims=True))

    def average_pullback(g):
        if returned:
            g = g[0]            # the returned sum of weights does not depend on a
        return None if g is None else expand(g, shape, axes, kd) * d
    return average_pullback


def average_maker_w(ans, a, axis=None, weights=None, returned=False, *, keepdims=_NoValue):
    shape, axes, kd, w = _average_parts(a, axis, weights, keepdims)
    wshape = np.shape(value(weights))
    avg = reshape(ans[0] if returned else ans, _keep(ans[0] if returned else ans, shape, axes, kd).shape)
    wsum = np.sum(w, axis=axes, keepdims=True)

    def average_weights_pullback(g):
        g0, g1 = (g[0], g[1]) if returned else (g, None)
        ct = 0
        if g0 is not None:
            ct = expand(g0, shape, axes, kd) * _conj((a - avg) / wsum)
        if g1 is not None:          # the returned sum of weights
            ct = ct + expand(g1, np.broadcast_shapes(shape, np.shape(value(w))), axes, kd)
        ct = unbroadcast_to(np.shape(value(w)), ct)
        return reshape(ct, wshape)
    return average_weights_pullback


defvjp(np.trace, trace_maker)
defvjp(np.average, average_maker_a, None, average_maker_w)


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


def _quantile_pullback(x, q, axis, keepdims, nan, method):
    xv = value(x)
    shape, axes = np.shape(xv), _axes(x, axis)
    w = _order_weights(np.asarray(xv), q, axes, nan, method)
    qnd = np.ndim(q)
    full = np.shape(q) + shape

    def quantile_pullback(g):
        ct = expand(g, full, [a + qnd for a in axes], keepdims) * w
        return np.sum(ct, axis=tuple(range(qnd))) if qnd else ct
    return quantile_pullback


def _quantile_maker(nan, scale):
    def quantile_maker(ans, x, q, axis=None, out=None, overwrite_input=False, method="linear",
                       keepdims=False, *, weights=None, interpolation=None):
        if weights is not None:
            raise NotImplementedError("zygcy: quantiles with weights= are not differentiable yet")
        if interpolation is not None:      # the old name of method
            method = interpolation
        return _quantile_pullback(x, np.asarray(value(q)) / scale, axis, keepdims, nan, method)
    return quantile_maker


def _median_maker(nan):
    def median_maker(ans, x, axis=None, out=None, overwrite_input=False, keepdims=False):
        return _quantile_pullback(x, 0.5, axis, keepdims, nan, "linear")
    return median_maker


defvjp(np.median, _median_maker(False))
defvjp(np.nanmedian, _median_maker(True))
defvjp(np.quantile, _quantile_maker(False, 1.0))
defvjp(np.nanquantile, _quantile_maker(True, 1.0))
defvjp(np.percentile, _quantile_maker(False, 100.0))
defvjp(np.nanpercentile, _quantile_maker(True, 100.0))


# ---------------------------------------------------------------------------
# ufunc.reduce and ufunc.accumulate: the reductions above, with axis=0 by default

def _axis0(maker):
    def reduce_maker(ans, x, axis=0, *args, **kwargs):
        return maker(ans, x, axis, *args, **kwargs)
    return reduce_maker


def _extreme_reduce(ans, x, axis=0, dtype=None, out=None, keepdims=False, initial=_NoValue,
                    where=True):
    return _extreme_pullback(ans, x, _axes(x, axis), keepdims, where)


def _logaddexp_reduce(base):
    def logaddexp_reduce_maker(ans, x, axis=0, dtype=None, out=None, keepdims=False,
                               initial=_NoValue, where=True):
        shape, axes = np.shape(value(x)), _axes(x, axis)
        a = reshape(ans, _keep(ans, shape, axes, keepdims).shape)
        share = np.exp(x - a) if base == "e" else np.exp2(x - a)
        return lambda g: expand(g, shape, axes, keepdims) * share
    return logaddexp_reduce_maker


defvjp(np.add.reduce, _axis0(sum_maker))
defvjp(np.multiply.reduce, _axis0(prod_maker))
for _uf in (np.maximum, np.minimum, np.fmax, np.fmin):
    defvjp(_uf.reduce, _extreme_reduce)
defvjp(np.logaddexp.reduce, _logaddexp_reduce("e"))
defvjp(np.logaddexp2.reduce, _logaddexp_reduce("2"))
defvjp(np.add.accumulate, _axis0(cumsum_maker))
defvjp(np.multiply.accumulate, _axis0(cumprod_maker))


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


for _uf in (np.maximum, np.minimum, np.fmax, np.fmin):
    defvjp(_uf.accumulate, running_extreme_maker)
