"""Rules for numpy's ufuncs, their ``outer`` method, and the complex-part functions.

Elementwise rules are tables of derivatives, one line each, written as functions
of the output ``ans`` and the inputs; one loop per table turns them into
pullbacks. For a holomorphic function the pullback is ``g * conj(f'(x))``
(Zygote's convention), so the tables give plain derivatives and the loop
conjugates them when they are complex. Binary rules end with ``unbroadcast``.

Derivatives are written with numpy functions and operators, never with
``np.asarray``/``float``, so that they are differentiable again (a maker's
arguments may be tracked by an outer differentiation). ``value(x)`` is used
only for masks and tests that carry no derivative.

``ufunc.reduce`` and ``ufunc.accumulate`` live in ``reductions`` with the
reductions they equal (``np.add.reduce`` is ``np.sum``). ``ufunc.at`` mutates
its first argument in place and has no rule: the engine refuses it on tracked
values (write ``x = x + ...`` or ``x[idx] += v`` instead).

The ufuncs ``matmul``, ``vecdot``, ``matvec`` and ``vecmat`` are contractions
and have their rules with the linear algebra.
"""
import math

import numpy as np

from .._core import get_rule
from ..extend import Tracked, defvjp, nondifferentiable, primitive, unbroadcast, value
from ._util import balanced_eq

LN2 = np.log(2.0)
LN10 = np.log(10.0)
DEG = np.pi / 180.0

# Contractions: ufuncs whose rules live in the linear algebra family.
CONTRACTIONS = {"matmul", "vecdot", "matvec", "vecmat"}


# ---------------------------------------------------------------------------
# Plumbing for pullbacks: reshape and "broadcast back", differentiable again.
# They are private functions with their own rules so that pullbacks written
# with them can be differentiated without depending on the shape family.

@primitive
def _reshape_plain(a, shape):
    return np.reshape(a, shape)


def reshape(a, shape):
    """np.reshape(a, shape), recorded when ``a`` is tracked."""
    return _reshape_plain(a, tuple(shape))


@primitive
def _expand_plain(g, shape, axes, keepdims):
    g = np.asarray(g)
    if not keepdims:
        full = list(shape)
        for ax in axes:
            full[ax] = 1
        g = g.reshape(full)
    out = np.empty(shape, dtype=g.dtype)      # faster than np.broadcast_to(g, shape).copy()
    out[...] = g
    return out


def expand(g, shape, axes, keepdims=False):
    """The cotangent g of a reduction over ``axes`` broadcast back to ``shape``.

    ``axes`` are non-negative; ``keepdims`` says whether g still has them (as 1s).
    """
    return _expand_plain(g, tuple(shape), tuple(axes), bool(keepdims))


defvjp(_reshape_plain, lambda ans, a, shape: lambda g: reshape(g, np.shape(value(a))))
defvjp(_expand_plain,
       lambda ans, g, shape, axes, keepdims: lambda h: np.sum(h, axis=axes, keepdims=keepdims))


def _is_complex(x):
    v = value(x)
    if type(v) is np.ndarray:       # the common case, without np.iscomplexobj's overhead
        return v.dtype.kind == "c"
    return isinstance(v, (complex, np.complexfloating))


def _conj(d):
    """conj(d) when d is complex; d itself otherwise (saves a copy for real d)."""
    return np.conjugate(d) if _is_complex(d) else d


def _unbroadcast(x, g):
    """unbroadcast(x, g), returning g at once when the shapes already agree."""
    xv, gv = value(x), value(g)
    if type(xv) is np.ndarray and type(gv) is np.ndarray and xv.shape == gv.shape:
        return g
    return unbroadcast(x, g)


def _nonzero(x):
    """x with its exact zeros replaced by 1 (a mask add: differentiable, no np.where)."""
    return x + (value(x) == 0)


# ---------------------------------------------------------------------------
# Non-differentiable: integer, boolean and piecewise-constant results

NONDIFFERENTIABLE = [
    "floor", "ceil", "trunc", "rint", "sign", "signbit", "spacing",
    "floor_divide", "heaviside", "gcd", "lcm",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    "isnan", "isinf", "isfinite", "isnat",
    "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "bitwise_count",   # (numpy >= 2)
    "left_shift", "right_shift",
]
nondifferentiable(*[getattr(np, _n) for _n in NONDIFFERENTIABLE if hasattr(np, _n)])


# ---------------------------------------------------------------------------
# Unary ufuncs: f'(x) as a function of (ans, x)

UNARY = {
    # arithmetic
    np.negative: lambda ans, x: -1.0,
    np.positive: lambda ans, x: 1.0,
    np.square: lambda ans, x: 2 * x,
    np.reciprocal: lambda ans, x: -ans * ans,
    np.sqrt: lambda ans, x: 0.5 / ans,
    np.cbrt: lambda ans, x: 1.0 / (3 * ans * ans),
    np.fabs: lambda ans, x: np.sign(value(x)),
    # exponentials and logarithms
    np.exp: lambda ans, x: ans,
    np.exp2: lambda ans, x: ans * LN2,
    np.expm1: lambda ans, x: ans + 1,
    np.log: lambda ans, x: 1 / x,
    np.log2: lambda ans, x: 1 / (x * LN2),
    np.log10: lambda ans, x: 1 / (x * LN10),
    np.log1p: lambda ans, x: 1 / (1 + x),
    # trigonometric
    np.sin: lambda ans, x: np.cos(x),
    np.cos: lambda ans, x: -np.sin(x),
    np.tan: lambda ans, x: 1 + ans * ans,
    np.arcsin: lambda ans, x: 1 / np.sqrt(1 - x * x),
    np.arccos: lambda ans, x: -1 / np.sqrt(1 - x * x),
    np.arctan: lambda ans, x: 1 / (1 + x * x),
    # hyperbolic
    np.sinh: lambda ans, x: np.cosh(x),
    np.cosh: lambda ans, x: np.sinh(x),
    np.tanh: lambda ans, x: 1 - ans * ans,
    np.arcsinh: lambda ans, x: 1 / np.sqrt(x * x + 1),
    np.arccosh: lambda ans, x: 1 / (np.sqrt(x - 1) * np.sqrt(x + 1)),
    np.arctanh: lambda ans, x: 1 / (1 - x * x),
    # units
    np.deg2rad: lambda ans, x: DEG,
    np.rad2deg: lambda ans, x: 1 / DEG,
}
UNARY[np.radians] = UNARY[np.deg2rad]
UNARY[np.degrees] = UNARY[np.rad2deg]


def _unary_maker(ufunc, deriv):
    # (a traceback through the pullback shows the table line of ``deriv`` next)
    def unary_maker(ans, x, **kwargs):
        def unary_pullback(g):
            return g * _conj(deriv(ans, x))
        return unary_pullback
    return unary_maker


for _uf, _d in UNARY.items():
    defvjp(_uf, _unary_maker(_uf, _d))

# Linear ones need no multiply.
defvjp(np.negative, lambda ans, x, **kw: lambda g: -g)
defvjp(np.positive, lambda ans, x, **kw: lambda g: g)


def absolute_pullback_maker(ans, x, **kwargs):
    if _is_complex(x):
        # real-valued function of z: the gradient is Re(g) z / |z| (0 at z == 0)
        return lambda g: np.real(g) * (x / _nonzero(ans))
    return lambda g: g * np.sign(value(x))


defvjp(np.absolute, absolute_pullback_maker)
# conj is not holomorphic: the cotangent of z is conj(g).
defvjp(np.conjugate, lambda ans, x, **kw: lambda g: np.conjugate(g) if _is_complex(x) else g)


# ---------------------------------------------------------------------------
# Binary ufuncs: (df/dx, df/dy) as functions of (ans, x, y); None: no derivative

def _power_dx(ans, x, y):
    """y x**(y - 1), kept a function of y also at y == 0 (its derivative in y is
    1/x there). Where x == 0 and y == 0, x**(y - 1) is infinite: the partial is 0
    (x**0 is constant, numpy's and JAX's convention) and its slope in y is taken
    as 0, as the engine does for ``**``; x is replaced by 1 there, so no 0 * inf."""
    if type(y) in (int, float) and y == 2:
        return 2 * x                    # the square, most common: one pass fewer
    return _power_base_partial(np.power, x, y)


def _float_power_dx(ans, x, y):
    return _power_base_partial(np.float_power, x, y)


def _power_base_partial(power, x, y):
    xv, yv = value(x), value(y)
    both_zero = np.logical_and(np.equal(xv, 0), np.equal(yv, 0))
    if not np.any(both_zero):
        return y * power(x, y - 1)
    exponent = y - 1
    if np.result_type(xv).kind in "biu" and np.result_type(yv).kind in "biu":
        exponent = y - 1.0              # numpy refuses integers to negative integer powers
    return (y * np.logical_not(both_zero)) * power(x + both_zero, exponent)


def _power_dy(ans, x, y):
    # x**y log(x); 0 where x == 0 (the limit from y > 0); a negative real base
    # takes the complex log, whose real part the API keeps for real inputs.
    xv = value(x)
    if not np.iscomplexobj(xv) and np.any(xv < 0):
        x = x + 0j
    return ans * np.log(_nonzero(x))


def _copysign_dx(ans, x, y):
    return np.copysign(1.0, value(x)) * np.copysign(1.0, value(ans))


BINARY = {
    np.multiply: (lambda ans, x, y: y, lambda ans, x, y: x),
    np.true_divide: (lambda ans, x, y: 1 / y, lambda ans, x, y: -ans / y),
    np.power: (_power_dx, _power_dy),
    np.float_power: (_float_power_dx, _power_dy),
    np.logaddexp: (lambda ans, x, y: np.exp(x - ans), lambda ans, x, y: np.exp(y - ans)),
    np.logaddexp2: (lambda ans, x, y: np.exp2(x - ans), lambda ans, x, y: np.exp2(y - ans)),
    np.arctan2: (lambda ans, y, x: x / (x * x + y * y), lambda ans, y, x: -y / (x * x + y * y)),
    np.hypot: (lambda ans, x, y: x / _nonzero(ans), lambda ans, x, y: y / _nonzero(ans)),
    np.maximum: (lambda ans, x, y: balanced_eq(x, ans, y), lambda ans, x, y: balanced_eq(y, ans, x)),
    np.minimum: (lambda ans, x, y: balanced_eq(x, ans, y), lambda ans, x, y: balanced_eq(y, ans, x)),
    np.fmax: (lambda ans, x, y: balanced_eq(x, ans, y), lambda ans, x, y: balanced_eq(y, ans, x)),
    np.fmin: (lambda ans, x, y: balanced_eq(x, ans, y), lambda ans, x, y: balanced_eq(y, ans, x)),
    np.copysign: (_copysign_dx, None),
    np.remainder: (lambda ans, x, y: 1.0, lambda ans, x, y: -np.floor(value(x) / value(y))),
    np.fmod: (lambda ans, x, y: 1.0, lambda ans, x, y: -np.trunc(value(x) / value(y))),
    np.nextafter: (lambda ans, x, y: 1.0, None),
    np.ldexp: (lambda ans, x, i: np.ldexp(1.0, value(i)), None),
}


def _binary_side(ufunc, deriv, which):
    def binary_maker(ans, x, y, **kwargs):
        arg = (x, y)[which]
        if deriv is None:
            return _no_gradient            # zero almost everywhere (or an integer argument)

        def binary_pullback(g):
            return _unbroadcast(arg, g * _conj(deriv(ans, x, y)))
        return binary_pullback
    return binary_maker


def _no_gradient(g):
    return None


for _uf, (_dx, _dy) in BINARY.items():
    defvjp(_uf, _binary_side(_uf, _dx, 0), _binary_side(_uf, _dy, 1))

defvjp(np.add, lambda ans, x, y, **kw: lambda g: _unbroadcast(x, g),
       lambda ans, x, y, **kw: lambda g: _unbroadcast(y, g))
defvjp(np.subtract, lambda ans, x, y, **kw: lambda g: _unbroadcast(x, g),
       lambda ans, x, y, **kw: lambda g: _unbroadcast(y, -g))


# ---------------------------------------------------------------------------
# Several outputs: g is a tuple, None for outputs that got no cotangent

def _divmod_maker(which):
    rem = BINARY[np.remainder][which]

    def maker(ans, x, y, **kwargs):
        def divmod_pullback(g):
            if g[1] is None:                    # the quotient is piecewise constant
                return None
            return unbroadcast((x, y)[which], g[1] * rem(ans[1], x, y))
        return divmod_pullback
    return maker


defvjp(np.divmod, _divmod_maker(0), _divmod_maker(1))
defvjp(np.modf, lambda ans, x, **kw: lambda g: g[0])
defvjp(np.frexp, lambda ans, x, **kw: lambda g: None if g[0] is None else g[0] * np.ldexp(1.0, -ans[1]))


# ---------------------------------------------------------------------------
# ufunc.outer: the call rule on x reshaped to x.shape + (1,) * y.ndim

def _outer_maker(ufunc, which):
    def maker(ans, x, y, **kwargs):
        xshape, yshape = np.shape(value(x)), np.shape(value(y))
        xr = reshape(x, xshape + (1,) * len(yshape))
        inner = get_rule(ufunc).makers[which](ans, xr, y, **kwargs)

        def outer_pullback(g):
            ct = inner(g)
            return None if ct is None else reshape(ct, (xshape, yshape)[which])
        return outer_pullback
    return maker


OUTER = [np.add, np.subtract, np.multiply, np.true_divide, np.power, np.float_power,
         np.maximum, np.minimum, np.fmax, np.fmin, np.logaddexp, np.logaddexp2,
         np.arctan2, np.hypot, np.copysign, np.remainder, np.fmod]
for _uf in OUTER:
    defvjp(_uf.outer, _outer_maker(_uf, 0), _outer_maker(_uf, 1))
nondifferentiable(*[getattr(np, _n).outer for _n in (
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_xor", "floor_divide")])


# ---------------------------------------------------------------------------
# Array functions: complex parts, angle, clip, sinc, nan_to_num

def _real_maker(ans, x, **kw):
    return lambda g: np.real(g) if _is_complex(x) else g


def _imag_maker(ans, x, **kw):
    return lambda g: 1j * np.real(g) if _is_complex(x) else None


def _angle_maker(ans, z, deg=False):
    scale = 1 / DEG if deg else 1.0
    if not _is_complex(z):
        return lambda g: None                   # 0 or pi: piecewise constant
    # d angle = (-y dx + x dy) / |z|^2, so the gradient is i z / |z|^2 = i / conj(z)
    return lambda g: np.real(g) * (1j * scale / np.conjugate(_nonzero(z)))


def _clip_maker(ans, x, a_min=np._NoValue, a_max=np._NoValue, out=None, **kwargs):
    lo = kwargs.get("min", np._NoValue) if a_min is np._NoValue else a_min
    hi = kwargs.get("max", np._NoValue) if a_max is np._NoValue else a_max
    xv = value(x)
    inside = np.ones(np.shape(xv), dtype=bool)
    if lo is not None and lo is not np._NoValue:
        inside = np.logical_and(inside, xv >= value(lo))
    if hi is not None and hi is not np._NoValue:
        inside = np.logical_and(inside, xv <= value(hi))
    return lambda g: unbroadcast(x, g * inside)


def _clip_bound_maker(which):
    """The cotangent of a_min (which=0) or a_max (which=1): g where the bound was taken."""
    def clip_bound_maker(ans, x, a_min=np._NoValue, a_max=np._NoValue, out=None, **kwargs):
        bound = (a_min, a_max)[which]
        xv, bv = value(x), value(bound)
        # numpy computes min(max(x, a_min), a_max): where the bounds cross, a_max wins
        has_min = a_min is not None and a_min is not np._NoValue
        has_max = a_max is not None and a_max is not np._NoValue
        if which == 0:
            taken = np.less(xv, bv)
            if has_max:
                taken = np.logical_and(taken, np.logical_not(np.less(value(a_max), bv)))
        else:
            taken = np.greater(np.maximum(xv, value(a_min)) if has_min else xv, bv)
        return lambda g: unbroadcast(bound, g * taken)
    return clip_bound_maker


# sinc has a removable singularity at 0: a derivative written as
# (cos(pi x) - sinc(x)) / x, patched at x == 0, is right there to first order
# only. Its derivatives are a family of their own, each recorded with the next
# as its derivative, so every order is right at 0.

@primitive
def _sinc_derivative_plain(x, n):
    """The n-th derivative of np.sinc at x: pi**n s_n(pi x), s_n the n-th derivative of sin(z)/z."""
    z = np.pi * np.asarray(x)
    near = np.abs(z) < n + 2
    out = np.where(near, _sinc_series(np.where(near, z, 0), n), _sinc_leibniz(np.where(near, 1, z), n))
    return (np.pi ** n * out)[()]


def _sinc_series(z, n):
    """s_n(z) = sum_m (-1)^m z^(2m-n) / ((2m+1) (2m-n)!): the Taylor series of
    sin(z)/z differentiated n times; for |z| < n + 2, 40 + 2n terms reach full precision."""
    total = np.zeros_like(z)
    m = (n + 1) // 2
    power = z ** (2 * m - n)              # z^(2m-n) / (2m-n)!, updated term by term
    power = power / math.factorial(2 * m - n)
    for m in range(m, m + 40 + 2 * n):
        total = total + (-1) ** m * power / (2 * m + 1)
        power = power * z * z / ((2 * m + 1 - n) * (2 * m + 2 - n))
    return total


def _sinc_leibniz(z, n):
    """s_n(z) by Leibniz's rule for sin(z) * (1/z): no cancellation for |z| >= n + 2."""
    total = np.zeros_like(z)
    for k in range(n + 1):
        j = n - k                          # derivatives of 1/z: (-1)^j j! / z^(j+1)
        coefficient = math.comb(n, k) * (-1) ** j * math.factorial(j)
        total = total + coefficient * np.sin(z + k * np.pi / 2) / z ** (j + 1)
    return total


def sinc_derivative(x, n):
    """The n-th derivative of np.sinc at x, recorded (so differentiable to every order)."""
    return _sinc_derivative_plain(x, n)


defvjp(_sinc_derivative_plain, lambda ans, x, n: lambda g: g * _conj(sinc_derivative(x, n + 1)))


def _sinc_maker(ans, x):
    return lambda g: g * _conj(sinc_derivative(x, 1))


def _nan_to_num_maker(ans, x, copy=True, nan=0.0, posinf=None, neginf=None):
    return lambda g: g * np.isfinite(value(x))


defvjp(np.real, _real_maker)
defvjp(np.imag, _imag_maker)
defvjp(np.angle, _angle_maker)
defvjp(np.clip, _clip_maker, _clip_bound_maker(0), _clip_bound_maker(1))
defvjp(np.sinc, _sinc_maker)
defvjp(np.nan_to_num, _nan_to_num_maker)


def all_ufuncs():
    """Every ufunc in numpy's namespace (aliases once), with its names."""
    seen = {}
    for name in dir(np):
        obj = getattr(np, name)
        if isinstance(obj, np.ufunc):
            seen.setdefault(obj, []).append(name)
    return seen
