"""Rules for numpy's numerical methods on sampled data: interpolation
(``interp``), polynomials (``polyval``, ``polyfit``), sequences (``linspace``,
``geomspace``, ``logspace``), finite differences (``gradient``) and phase
unwrapping (``unwrap``).

Each rule has a closed form. ``interp`` is piecewise linear: its derivative in
``x`` is the slope of the segment, in ``fp`` the interpolation weights, in
``xp`` minus the slope times those weights. ``polyval`` is differentiated as
the polynomial it is (the powers of x for the coefficients, the derivative
polynomial for x); ``polyfit`` as the least-squares solution it is (linear in
``y``; in ``x`` and ``w`` by the derivative of a least-squares solution).
The sequences are affine in ``start`` and ``stop`` (geometric ones in their
logarithms); ``gradient`` is linear in ``f`` (the adjoint applies the
transposed finite-difference bands) and rational in the spacing; ``unwrap``
adds a piecewise constant multiple of the period, so its derivative is the
identity.

numpy asks zygcy about ``interp`` only when x, xp or fp is tracked (its
dispatcher's arguments): a tracked ``left`` or ``right`` is differentiated
when one of those is tracked too; alone, numpy converts it, which a tracked
value refuses with an error.

As everywhere, the masks and indices come from plain values and everything
that depends on the inputs is written with numpy functions, so the pullbacks
are differentiable again; every rule has a forward rule too.
"""
import numpy as np

from ..extend import defjvp, defvjp, value
from ._util import (axes_of, axis_of, conj, identity, ndim_of, nonzero, real_if_complex, shape_of, unbroadcast,
                    unbroadcast_to)
from .shape import gather, scatter_along


# ---------------------------------------------------------------------------
# interp(x, xp, fp, left=None, right=None, period=None)
#
# y = fp[lo] + w (fp[hi] - fp[lo]), w = (x - xp[lo]) / (xp[hi] - xp[lo]) on the
# segment [xp[lo], xp[hi]] holding x; left (default fp[0]) below xp[0], right
# (default fp[-1]) above xp[-1]. With a period, x and xp are taken modulo it and
# the segments wrap around (xp's entries shifted by -period or +period).

class _Segments:
    """Where each x falls, from plain values: the indices lo, hi into xp and fp of
    its segment, their shifts (multiples of the period), and the masks below,
    above and inside the range (flattened x)."""

    def __init__(self, x, xp, left, right, period):
        xv = np.ravel(np.asarray(value(x), dtype=float))
        xpv = np.asarray(value(xp), dtype=float)
        n = xpv.shape[0]
        self.n = n
        self.period = None if period is None else abs(float(value(period)))
        zero = np.zeros(xv.shape, dtype=bool)
        if self.period is not None:
            p = self.period
            xs = xpv % p
            order = np.argsort(xs)
            ext = np.concatenate([xs[order][-1:] - p, xs[order], xs[order][:1] + p])
            idx = np.concatenate([order[-1:], order, order[:1]])
            shift = np.concatenate([[-p], np.zeros(n), [p]])
            j = np.clip(np.searchsorted(ext, xv % p, side="right") - 1, 0, len(ext) - 2)
            self.lo, self.hi = idx[j], idx[j + 1]
            self.shift_lo, self.shift_hi = shift[j], shift[j + 1]
            self.below = self.above = zero
        else:
            self.below, self.above = xv < xpv[0], xv > xpv[-1]
            if n > 1:
                j = np.clip(np.searchsorted(xpv, xv, side="right") - 1, 0, n - 2)
            else:
                j = np.zeros(xv.shape, dtype=np.intp)
            hi = np.minimum(j + 1, n - 1)
            self.lo = np.where(self.below, 0, np.where(self.above, n - 1, j))
            self.hi = np.where(self.below, 0, np.where(self.above, n - 1, hi))
            self.shift_lo = self.shift_hi = 0.0
        self.inside = ~self.below & ~self.above
        # where fp's weights count: inside, and outside where left/right default to fp's ends
        self.fp_share = self.inside | (self.below & (left is None)) | (self.above & (right is None))

    def weights(self, x, xp):
        """(w, h): the position in the segment and the segment's length (1 where x
        is outside, or the segment is a single point), possibly tracked."""
        xe = np.reshape(x, (-1,))
        xpe = xp
        if self.period is not None:
            xe, xpe = xe % self.period, xp % self.period
        xlo = gather(xpe, self.lo, 0) + self.shift_lo
        h = nonzero(gather(xpe, self.hi, 0) + self.shift_hi - xlo)
        return (xe - xlo) / h * self.inside, h

    def slope(self, xp, fp, h):
        return (gather(fp, self.hi, 0) - gather(fp, self.lo, 0)) / h * self.inside

    def interpolate(self, t, w):
        """(1 - w) t[lo] + w t[hi] for values t at the knots."""
        return (1 - w) * gather(t, self.lo, 0) + w * gather(t, self.hi, 0)

    def spread(self, c, w):
        """The adjoint of ``interpolate``: c (per x) back onto the knots."""
        return scatter_along(c * (1 - w), self.lo, 0, self.n) + scatter_along(c * w, self.hi, 0, self.n)


def _interp_parts(x, xp, fp, left, right, period):
    seg = _Segments(x, xp, left, right, period)
    w, h = seg.weights(x, xp)
    return seg, w, seg.slope(xp, fp, h)


def interp_x_maker(ans, x, xp, fp, left=None, right=None, period=None):
    seg, w, slope = _interp_parts(x, xp, fp, left, right, period)

    def interp_x_pullback(g):
        return np.reshape(real_if_complex(np.reshape(g, (-1,)) * conj(slope)), shape_of(x))
    return interp_x_pullback


def interp_xp_maker(ans, x, xp, fp, left=None, right=None, period=None):
    seg, w, slope = _interp_parts(x, xp, fp, left, right, period)

    def interp_xp_pullback(g):
        return seg.spread(-real_if_complex(np.reshape(g, (-1,)) * conj(slope)), w)
    return interp_xp_pullback


def interp_fp_maker(ans, x, xp, fp, left=None, right=None, period=None):
    seg, w, _ = _interp_parts(x, xp, fp, left, right, period)

    def interp_fp_pullback(g):
        return seg.spread(np.reshape(g, (-1,)) * seg.fp_share, w)
    return interp_fp_pullback


def _interp_edge_maker(which):
    def interp_edge_maker(ans, x, xp, fp, left=None, right=None, period=None):
        seg = _Segments(x, xp, left, right, period)
        mask = seg.below if which == "left" else seg.above
        edge = left if which == "left" else right

        def interp_edge_pullback(g):
            return np.reshape(np.sum(np.reshape(g, (-1,)) * mask), shape_of(edge))
        return interp_edge_pullback
    interp_edge_maker.__name__ = interp_edge_maker.__qualname__ = "interp_%s_maker" % which
    return interp_edge_maker


def interp_x_jvp(t, ans, x, xp, fp, left=None, right=None, period=None):
    seg, w, slope = _interp_parts(x, xp, fp, left, right, period)
    return np.reshape(np.reshape(t, (-1,)) * slope, np.shape(value(ans)))


def interp_xp_jvp(t, ans, x, xp, fp, left=None, right=None, period=None):
    seg, w, slope = _interp_parts(x, xp, fp, left, right, period)
    return np.reshape(-slope * seg.interpolate(t, w), np.shape(value(ans)))


def interp_fp_jvp(t, ans, x, xp, fp, left=None, right=None, period=None):
    seg, w, _ = _interp_parts(x, xp, fp, left, right, period)
    return np.reshape(seg.fp_share * seg.interpolate(t, w), np.shape(value(ans)))


def _interp_edge_jvp(which):
    def interp_edge_jvp(t, ans, x, xp, fp, left=None, right=None, period=None):
        seg = _Segments(x, xp, left, right, period)
        return np.reshape(t * (seg.below if which == "left" else seg.above), np.shape(value(ans)))
    interp_edge_jvp.__name__ = interp_edge_jvp.__qualname__ = "interp_%s_jvp" % which
    return interp_edge_jvp


defvjp(np.interp, interp_x_maker, interp_xp_maker, interp_fp_maker, _interp_edge_maker("left"),
       _interp_edge_maker("right"))
defjvp(np.interp, interp_x_jvp, interp_xp_jvp, interp_fp_jvp, _interp_edge_jvp("left"),
       _interp_edge_jvp("right"))


# ---------------------------------------------------------------------------
# polyval(p, x) = sum_k p[k] x**(n-1-k): linear in p (the powers of x), and
# polyval(p', x) in x with p' the derivative's coefficients

def _powers(x, n):
    """x**(n-1), ..., x, 1 stacked on a new first axis (products: exact at x = 0)."""
    if n == 0:
        return np.zeros((0,) + shape_of(x))
    out = [np.ones_like(value(x))]
    for _ in range(n - 1):
        out.append(out[-1] * x)
    return np.stack(out[::-1])


def _derivative_coefficients(p):
    """The coefficients of the derivative of polyval(p, .) (the first axis of p)."""
    n = shape_of(p)[0]
    k = np.arange(n - 1, 0, -1, dtype=float).reshape((n - 1,) + (1,) * (ndim_of(p) - 1))
    return p[:-1] * k


def polyval_p_maker(ans, p, x):
    n, nd = shape_of(p)[0], ndim_of(ans)
    powers = _powers(x, n)
    powers = np.reshape(powers, (n,) + (1,) * (nd - ndim_of(x)) + shape_of(x))

    rest = shape_of(p)[1:] + (n,)

    def polyval_p_pullback(g):
        # the coefficients' axis moved last, so that undoing broadcasting aligns the others
        ct = np.moveaxis(np.expand_dims(g, 0) * conj(powers), 0, -1)
        return np.moveaxis(unbroadcast_to(rest, ct), -1, 0)
    return polyval_p_pullback


def polyval_x_maker(ans, p, x):
    d = np.polyval(_derivative_coefficients(p), x)

    def polyval_x_pullback(g):
        return unbroadcast(x, g * conj(d))
    return polyval_x_pullback


def polyval_p_jvp(t, ans, p, x):
    return np.polyval(t, x)                 # linear in p


def polyval_x_jvp(t, ans, p, x):
    return t * np.polyval(_derivative_coefficients(p), x)


defvjp(np.polyval, polyval_p_maker, polyval_x_maker)
defjvp(np.polyval, polyval_p_jvp, polyval_x_jvp)


# ---------------------------------------------------------------------------
# polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False): the least-squares
# solution p of A p = b, A = w V (V the Vandermonde matrix of x), b = w y. With
# M = A^T A, z = M^-1 g and the residual r = b - A p, the cotangents are
#   b: A z   (so y: w A z),   A: r z^H - (A z) p^H   (real parts; A is real)
# and the tangent is dp = M^-1 (dA^T r - A^T dA p + A^T db).

def _polyfit_parts(x, y, deg, w, full, cov):
    if full or (cov is not False and cov is not None):
        raise NotImplementedError("zygcy: numpy.polyfit with full=True or cov= has no gradient rule; "
                                  "the coefficients (full=False, cov=False) have one")
    deg = int(deg)
    V = np.transpose(_powers(np.reshape(x, (-1,)) + 0.0, deg + 1))     # (m, deg + 1): x**deg ... 1
    two = ndim_of(y) == 2
    wcol = None if w is None else np.reshape(w, (-1, 1))
    A = V if w is None else V * wcol
    b = y if w is None else y * (wcol if two else np.reshape(w, (-1,)))
    return V, A, b, two, wcol


def _polyfit_solve(A, rhs):
    return np.linalg.solve(np.transpose(A) @ A, rhs)


def _vandermonde_derivative(V, deg):
    """dV/dx: column j (x**(deg-j)) gives (deg - j) x**(deg-j-1), the next column scaled."""
    k = np.arange(deg, 0, -1, dtype=float)
    return np.concatenate([V[:, 1:] * k, np.zeros((shape_of(V)[0], 1))], axis=1)


def _as_matrix(v, two):
    return v if two else np.reshape(v, (-1, 1))


def _polyfit_A_cotangent(g, ans, A, b, two):
    """The cotangent of A (real), and the cotangent of b, for the cotangent g of p."""
    z = _as_matrix(_polyfit_solve(A, g), two)
    P = _as_matrix(ans, two)
    r = _as_matrix(b, two) - A @ P
    Az = A @ z
    ctA = real_if_complex(r @ np.transpose(conj(z)) - Az @ np.transpose(conj(P)))
    return ctA, Az


def polyfit_x_maker(ans, x, y, deg, rcond=None, full=False, w=None, cov=False):
    V, A, b, two, wcol = _polyfit_parts(x, y, deg, w, full, cov)
    dV = _vandermonde_derivative(V, int(deg))

    def polyfit_x_pullback(g):
        ctA, _ = _polyfit_A_cotangent(g, ans, A, b, two)
        ctV = ctA if w is None else ctA * wcol
        return np.reshape(np.sum(ctV * dV, axis=1), shape_of(x))
    return polyfit_x_pullback


def polyfit_y_maker(ans, x, y, deg, rcond=None, full=False, w=None, cov=False):
    V, A, b, two, wcol = _polyfit_parts(x, y, deg, w, full, cov)

    def polyfit_y_pullback(g):
        ct = A @ _polyfit_solve(A, g)
        if w is not None:
            ct = ct * (wcol if two else np.reshape(w, (-1,)))
        return np.reshape(ct, shape_of(y))
    return polyfit_y_pullback


def polyfit_w_maker(ans, x, y, deg, rcond=None, full=False, w=None, cov=False):
    V, A, b, two, wcol = _polyfit_parts(x, y, deg, w, full, cov)

    def polyfit_w_pullback(g):
        ctA, ctb = _polyfit_A_cotangent(g, ans, A, b, two)
        ct = np.sum(ctA * V, axis=1) + np.sum(real_if_complex(ctb * conj(_as_matrix(y, two))), axis=1)
        return np.reshape(ct, shape_of(w))
    return polyfit_w_pullback


def _polyfit_tangent(ans, A, b, two, dA, db):
    P = _as_matrix(ans, two)
    r = _as_matrix(b, two) - A @ P
    At = np.transpose(A)
    rhs = np.transpose(dA) @ r - At @ (dA @ P)
    if db is not None:
        rhs = rhs + At @ _as_matrix(db, two)
    d = _polyfit_solve(A, rhs)
    return d if two else np.reshape(d, (-1,))


def polyfit_x_jvp(t, ans, x, y, deg, rcond=None, full=False, w=None, cov=False):
    V, A, b, two, wcol = _polyfit_parts(x, y, deg, w, full, cov)
    dA = _vandermonde_derivative(V, int(deg)) * np.reshape(t, (-1, 1))
    if w is not None:
        dA = dA * wcol
    return _polyfit_tangent(ans, A, b, two, dA, None)


def polyfit_y_jvp(t, ans, x, y, deg, rcond=None, full=False, w=None, cov=False):
    V, A, b, two, wcol = _polyfit_parts(x, y, deg, w, full, cov)
    db = t if w is None else t * (wcol if two else np.reshape(w, (-1,)))
    d = _polyfit_solve(A, np.transpose(A) @ db)
    return d


def polyfit_w_jvp(t, ans, x, y, deg, rcond=None, full=False, w=None, cov=False):
    V, A, b, two, wcol = _polyfit_parts(x, y, deg, w, full, cov)
    tcol = np.reshape(t, (-1, 1))
    return _polyfit_tangent(ans, A, b, two, V * tcol, y * (tcol if two else np.reshape(t, (-1,))))


defvjp(np.polyfit, polyfit_x_maker, polyfit_y_maker, None, None, None, polyfit_w_maker)
defjvp(np.polyfit, polyfit_x_jvp, polyfit_y_jvp, None, None, None, polyfit_w_jvp)


# ---------------------------------------------------------------------------
# linspace, geomspace, logspace: sample k of n is start + f_k (stop - start), f_k
# = k / (n - 1) (k / n without the endpoint); geomspace is start**(1 - f) stop**f,
# logspace base**(start + f (stop - start)). The samples lie along ``axis`` of
# the result, whose other axes are the broadcast shape of the arguments.

def _samples(shapes, num, endpoint, axis):
    """(broadcast shape B, the sample axis, f shaped to broadcast along it, div)."""
    B = np.broadcast_shapes(*shapes)
    num = int(num)
    div = num - 1 if endpoint else num
    f = np.arange(num, dtype=float) / div if div > 0 else np.zeros(num)
    ax = axis_of(axis, len(B) + 1)
    return B, ax, np.reshape(f, tuple(num if i == ax else 1 for i in range(len(B) + 1))), div


def _along(v, B, ax):
    """v broadcast to B, with the sample axis inserted (to multiply a result's shape)."""
    return np.expand_dims(np.broadcast_to(v, B), ax)


def _sum_samples(c, x, ax):
    """A cotangent of the result's shape summed over the samples, down to x's shape."""
    return unbroadcast(x, np.sum(c, axis=ax))


def _linspace_maker(which):
    def linspace_maker(ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
                       **kwargs):
        B, ax, f, div = _samples((shape_of(start), shape_of(stop)), num, endpoint, axis)
        share = f if which else 1 - f
        arg = stop if which else start

        def linspace_pullback(g):
            gy, gs = (g[0], g[1]) if retstep else (g, None)
            ct = None if gy is None else _sum_samples(gy * share, arg, ax)
            if gs is not None and div > 0:      # step = (stop - start) / div
                cs = unbroadcast(arg, gs * ((1 if which else -1) / div))
                ct = cs if ct is None else ct + cs
            return ct
        return linspace_pullback
    linspace_maker.__name__ = linspace_maker.__qualname__ = "linspace_%s_maker" % ("stop" if which else "start")
    return linspace_maker


def _linspace_jvp(which):
    def linspace_jvp(t, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
                     **kwargs):
        B, ax, f, div = _samples((shape_of(start), shape_of(stop)), num, endpoint, axis)
        d = _along(t, B, ax) * (f if which else 1 - f)
        if not retstep:
            return d
        return d, (np.broadcast_to(t, B) * ((1 if which else -1) / div) if div > 0 else None)
    linspace_jvp.__name__ = linspace_jvp.__qualname__ = "linspace_%s_jvp" % ("stop" if which else "start")
    return linspace_jvp


def _geomspace_partial(which, ans, start, stop, num, endpoint, axis):
    """d samples / d start (which=0) or d stop (which=1): (1 - f) y / start or f y / stop."""
    B, ax, f, _ = _samples((shape_of(start), shape_of(stop)), num, endpoint, axis)
    arg = stop if which else start
    return B, ax, (f if which else 1 - f) * ans / _along(arg, B, ax)


def _geomspace_maker(which):
    def geomspace_maker(ans, start, stop, num=50, endpoint=True, dtype=None, axis=0):
        B, ax, d = _geomspace_partial(which, ans, start, stop, num, endpoint, axis)
        arg, d = (stop if which else start), conj(d)

        def geomspace_pullback(g):
            return _sum_samples(g * d, arg, ax)
        return geomspace_pullback
    geomspace_maker.__name__ = geomspace_maker.__qualname__ = "geomspace_%s_maker" % ("stop" if which else "start")
    return geomspace_maker


def _geomspace_jvp(which):
    def geomspace_jvp(t, ans, start, stop, num=50, endpoint=True, dtype=None, axis=0):
        B, ax, d = _geomspace_partial(which, ans, start, stop, num, endpoint, axis)
        return d * _along(t, B, ax)
    geomspace_jvp.__name__ = geomspace_jvp.__qualname__ = "geomspace_%s_jvp" % ("stop" if which else "start")
    return geomspace_jvp


def _logspace_partial(which, ans, start, stop, num, endpoint, base, axis):
    """The partial of the samples in start (0), stop (1) or base (2), and (B, ax)."""
    nd = len(np.broadcast_shapes(shape_of(start), shape_of(stop), shape_of(base)))
    B, ax, f, _ = _samples((shape_of(start), shape_of(stop), shape_of(base)), num, endpoint, axis)
    if ndim_of(base):       # numpy puts base's axes at the broadcast rank, the samples' axis inserted
        be = np.expand_dims(np.reshape(base, (1,) * (nd - ndim_of(base)) + shape_of(base)), ax)
    else:
        be = base
    if which == 2:
        lin = _along(start, B, ax) + f * (_along(stop, B, ax) - _along(start, B, ax))
        return B, ax, ans * lin / be
    return B, ax, np.log(be) * ans * (f if which else 1 - f)


def _logspace_maker(which):
    def logspace_maker(ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
        B, ax, d = _logspace_partial(which, ans, start, stop, num, endpoint, base, axis)
        arg, d = (start, stop, base)[which], conj(d)

        def logspace_pullback(g):
            return _sum_samples(g * d, arg, ax)
        return logspace_pullback
    logspace_maker.__name__ = logspace_maker.__qualname__ = "logspace_%s_maker" % ("start", "stop", "base")[which]
    return logspace_maker


def _logspace_jvp(which):
    def logspace_jvp(t, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
        B, ax, d = _logspace_partial(which, ans, start, stop, num, endpoint, base, axis)
        return d * _along(t, B, ax)
    logspace_jvp.__name__ = logspace_jvp.__qualname__ = "logspace_%s_jvp" % ("start", "stop", "base")[which]
    return logspace_jvp


defvjp(np.linspace, _linspace_maker(0), _linspace_maker(1))
defjvp(np.linspace, _linspace_jvp(0), _linspace_jvp(1))
defvjp(np.geomspace, _geomspace_maker(0), _geomspace_maker(1))
defjvp(np.geomspace, _geomspace_jvp(0), _geomspace_jvp(1))
defvjp(np.logspace, _logspace_maker(0), _logspace_maker(1), None, None, _logspace_maker(2))
defjvp(np.logspace, _logspace_jvp(0), _logspace_jvp(1), None, None, _logspace_jvp(2))


# ---------------------------------------------------------------------------
# gradient(f, *varargs, axis=None, edge_order=1): along each axis, with spacings
# dx (a constant h: dx = h everywhere; coordinates x: dx = diff(x)),
#   interior:  out_i = (dx2 d1 + dx1 d2) / (dx1 + dx2),  d1, d2 the divided
#              differences left and right of i, dx1, dx2 the spacings there
#   edges:     d at the end (edge_order=1), or the end slope of the parabola
#              through three points (edge_order=2): d1 - dx1 (d2 - d1) / s at
#              the start, d2 + dx2 (d2 - d1) / s at the end.
# Linear in f: out = D f with D banded (offsets -2..2), whose bands come from
# the spacings; the adjoint adds each band times g, shifted back. In the
# spacings it is rational: the partials of out_i in dx1 and dx2 are below.

MAX_AXES = 32       # positions of spacings with a rule (numpy allows up to 64 axes)


def _gradient_axes(f, varargs, axis):
    """The axes differentiated, and for each the position of its spacing in varargs
    (None: unit spacing)."""
    axes = axes_of(axis, ndim_of(f))
    if not varargs:
        return axes, [None] * len(axes)
    if len(varargs) == 1 and ndim_of(varargs[0]) == 0:
        return axes, [0] * len(axes)
    return axes, list(range(len(axes)))


def _spacings(spacing, n):
    """dx along one axis (n - 1 of them, possibly tracked)."""
    if spacing is None:
        return np.ones(n - 1)
    if ndim_of(spacing) == 0:
        return spacing * np.ones(n - 1)
    return np.diff(spacing)


def _one(v):
    return np.reshape(v, (1,))


def _bands(dx, n, edge_order):
    """{offset: coefficients (n of them)}: out_i = sum_k band_k[i] f[i + k]."""
    dx1, dx2 = dx[:-1], dx[1:]
    s = dx1 + dx2
    zero = np.zeros(1)
    a, b, c = -dx2 / (dx1 * s), (dx2 - dx1) / (dx1 * dx2), dx1 / (dx2 * s)
    if edge_order == 1:
        first, last = 1 / dx[0], 1 / dx[-1]
        return {-1: np.concatenate([zero, a, _one(-last)]),
                0: np.concatenate([_one(-first), b, _one(last)]),
                1: np.concatenate([_one(first), c, zero])}
    p, q = dx[0], dx[1]                         # the first three points
    u, v = dx[-2], dx[-1]                       # the last three
    sp, su = p + q, u + v                       # (spans)
    rest = np.zeros(n - 1)
    return {-2: np.concatenate([rest, _one(v / (u * su))]),
            -1: np.concatenate([zero, a, _one(-su / (u * v))]),
            0: np.concatenate([_one(-(2 * p + q) / (p * sp)), b, _one((2 * v + u) / (v * su))]),
            1: np.concatenate([_one(sp / (p * q)), c, zero]),
            2: np.concatenate([_one(-p / (q * sp)), rest])}


def _shift(h, k):
    """h shifted by k along the last axis (h[..., j - k]), zeros coming in."""
    if k == 0:
        return h
    n = shape_of(h)[-1]
    widths = [(0, 0)] * (ndim_of(h) - 1)
    if k > 0:
        return np.pad(h[..., :n - k], widths + [(k, 0)])
    return np.pad(h[..., -k:], widths + [(0, -k)])


def _transposed_difference(g, dx, n, edge_order):
    """D^T g along the last axis."""
    out = 0
    for k, band in _bands(dx, n, edge_order).items():
        out = out + _shift(band * g, k)
    return out


def _spacing_partials(F, dx, edge_order):
    """The partials of out (along the last axis of F) in the spacings: a pair for the
    interior rows, the partials of out_i in dx[i - 1] and dx[i] (n - 2 each); and for
    the first and the last row, a list of (partial, index of the spacing in dx)."""
    d = np.diff(F, axis=-1) / dx
    d1, d2 = d[..., :-1], d[..., 1:]
    dx1, dx2 = dx[:-1], dx[1:]
    s = dx1 + dx2
    out = (dx2 * d1 + dx1 * d2) / s
    interior = ((d2 - out - dx2 * d1 / dx1) / s, (d1 - out - dx1 * d2 / dx2) / s)
    if edge_order == 1:
        first = [(-d[..., 0] / dx[0], 0)]
        last = [(-d[..., -1] / dx[-1], -1)]
    else:
        p, q, e1, e2 = dx[0], dx[1], d[..., 0], d[..., 1]
        dd = (e2 - e1) / (p + q)
        first = [(-e1 / p - dd - e1 / (p + q) + p * dd / (p + q), 0), (p * (e2 / q + dd) / (p + q), 1)]
        u, v, e1, e2 = dx[-2], dx[-1], d[..., -2], d[..., -1]
        dd = (e2 - e1) / (u + v)
        last = [(v * (e1 / u - dd) / (u + v), -2), (-e2 / v + dd - v * (e2 / v + dd) / (u + v), -1)]
    return interior, first, last


def _spacing_cotangent(G, F, dx, edge_order):
    """The cotangent of dx (n - 1 of them) for the cotangent G of out (last axis)."""
    interior, first, last = _spacing_partials(F, dx, edge_order)
    m = shape_of(dx)[0]
    other = tuple(range(ndim_of(G) - 1))

    def total(c):
        return np.sum(real_if_complex(c), axis=other) if other else real_if_complex(c)
    Gi = G[..., 1:-1]
    ct = np.pad(total(Gi * conj(interior[0])), (0, 1)) + np.pad(total(Gi * conj(interior[1])), (1, 0))
    for (part, i), Ge in [(p, G[..., 0]) for p in first] + [(p, G[..., -1]) for p in last]:
        i = i % m
        ct = ct + np.pad(np.reshape(total(Ge * conj(part)), (1,)), (i, m - 1 - i))
    return ct


def _spacing_tangent(F, dx, tdx, edge_order):
    """The tangent of out (last axis) for the tangent tdx of dx."""
    interior, first, last = _spacing_partials(F, dx, edge_order)
    mid = interior[0] * tdx[:-1] + interior[1] * tdx[1:]
    t0 = sum(part * tdx[i] for part, i in first)
    t1 = sum(part * tdx[i] for part, i in last)
    return np.concatenate([np.expand_dims(t0, -1), mid, np.expand_dims(t1, -1)], axis=-1)


def _outputs(ans, axes):
    return list(ans) if len(axes) > 1 else [ans]


def _result(parts, axes):
    return tuple(parts) if len(axes) > 1 else parts[0]


def gradient_f_maker(ans, f, *varargs, axis=None, edge_order=1):
    axes, which = _gradient_axes(f, varargs, axis)
    shape = shape_of(f)
    dxs = [_spacings(None if k is None else varargs[k], shape[ax]) for ax, k in zip(axes, which)]

    def gradient_pullback(g):
        cts = [np.moveaxis(_transposed_difference(np.moveaxis(gi, ax, -1), dx, shape[ax], edge_order), -1, ax)
               for gi, ax, dx in zip(_outputs(g, axes), axes, dxs) if gi is not None]
        return sum(cts[1:], cts[0]) if cts else None
    return gradient_pullback


def _gradient_spacing_maker(position):
    def gradient_spacing_maker(ans, f, *varargs, axis=None, edge_order=1):
        axes, which = _gradient_axes(f, varargs, axis)
        shape = shape_of(f)
        spacing = varargs[position]
        mine = [(i, ax) for i, (ax, k) in enumerate(zip(axes, which)) if k == position]

        def gradient_spacing_pullback(g):
            gs = _outputs(g, axes)
            ct = 0
            for i, ax in mine:
                if gs[i] is None:
                    continue
                dx = _spacings(spacing, shape[ax])
                cdx = _spacing_cotangent(np.moveaxis(gs[i], ax, -1), np.moveaxis(f, ax, -1), dx, edge_order)
                if ndim_of(spacing) == 0:
                    ct = ct + np.sum(cdx)
                else:           # dx = diff(x): the adjoint of a difference
                    ct = ct + np.pad(cdx, (1, 0)) - np.pad(cdx, (0, 1))
            return ct
        return gradient_spacing_pullback
    gradient_spacing_maker.__name__ = gradient_spacing_maker.__qualname__ = "gradient_spacing_maker_%d" % position
    return gradient_spacing_maker


def gradient_f_jvp(t, ans, f, *varargs, axis=None, edge_order=1):
    return np.gradient(t, *varargs, axis=axis, edge_order=edge_order)        # linear in f


def _gradient_spacing_jvp(position):
    def gradient_spacing_jvp(t, ans, f, *varargs, axis=None, edge_order=1):
        axes, which = _gradient_axes(f, varargs, axis)
        shape = shape_of(f)
        spacing = varargs[position]
        parts = []
        for ax, k in zip(axes, which):
            if k != position:
                parts.append(None)
                continue
            dx = _spacings(spacing, shape[ax])
            tdx = t * np.ones(shape[ax] - 1) if ndim_of(spacing) == 0 else np.diff(t)
            parts.append(np.moveaxis(_spacing_tangent(np.moveaxis(f, ax, -1), dx, tdx, edge_order), -1, ax))
        return _result(parts, axes)
    gradient_spacing_jvp.__name__ = gradient_spacing_jvp.__qualname__ = "gradient_spacing_jvp_%d" % position
    return gradient_spacing_jvp


defvjp(np.gradient, gradient_f_maker, *[_gradient_spacing_maker(i) for i in range(MAX_AXES)])
defjvp(np.gradient, gradient_f_jvp, *[_gradient_spacing_jvp(i) for i in range(MAX_AXES)])


# ---------------------------------------------------------------------------
# unwrap(p, discont=None, axis=-1, *, period=2 pi): p plus a piecewise constant
# multiple of the period, so its derivative in p is the identity

def unwrap_maker(ans, p, discont=None, axis=-1, **kwargs):
    return identity


def unwrap_jvp(t, ans, p, discont=None, axis=-1, **kwargs):
    return t


defvjp(np.unwrap, unwrap_maker)
defjvp(np.unwrap, unwrap_jvp)
