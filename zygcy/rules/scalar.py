"""Rules for scalars: Python's ``math`` and ``cmath`` modules, and the complex parts.

The functions are collected in two namespaces, ``m`` and ``c``, which
``zygcy.math`` and ``zygcy.cmath`` export name by name; the complex parts of
tracked values (``.real``, ``.imag``, ``.conjugate()``, ``abs(z)``) are the
primitives at the end, which Tracked's methods call.

Each entry of the tables is one line: the name of the function in ``math`` (or
``cmath``) and its derivative written as a function of the input ``x`` and the
output ``y``. Derivatives use zygcy's own functions (``m.cos``, not
``math.cos``), so they are differentiable again and higher derivatives work.

The values computed are exactly those of ``math``/``cmath``: the zygcy function
calls the plain one on plain numbers.

Derivatives at the edges of a domain, where ``math`` still gives a value, never
raise; they follow numpy's and JAX's conventions:

- an infinite one-sided derivative is an infinity: sqrt, cbrt, asin, acos,
  acosh at the ends of their domain, ``pow(x, y)`` in x at x = 0 for 0 < y < 1;
- an undefined derivative is nan: atan2 at the origin, phase at 0;
- a norm at 0 (fabs, abs, hypot, dist) has the subgradient of smallest norm, 0;
- ``x**0`` is constant in x, also at x = 0 (the partial in x is 0 there).

Where ``math`` raises (log(0), pow(0, -1), atanh(1)) the zygcy function raises
the same error.
"""
import cmath
import math
import sys
import types

import numpy as np

from ..extend import ScalarFunction, ScalarFunction2, Tracked, defjoint, defjvp, defvjp, primitive, value
from ._util import LN2, LN10, TWO_OVER_SQRT_PI, is_complex

m = types.SimpleNamespace()    # what ``zygcy.math`` exports
c = types.SimpleNamespace()    # what ``zygcy.cmath`` exports


def _unary(ns, module, plain, name, deriv):
    setattr(ns, name, ScalarFunction(getattr(plain, name), deriv, name, module))


def _binary(ns, module, plain, name, deriv):
    setattr(ns, name, ScalarFunction2(getattr(plain, name), deriv, name, module))


def _safe_div(a, b):
    """a / b, but infinity (with a's sign) where b is zero: the derivative of sqrt at 0;
    nan where both are (0 / 0 has no limit)."""
    if value(b) == 0:
        va = value(a)
        if va == 0 or va != va:
            return math.nan
        return math.copysign(math.inf, va) if not isinstance(va, complex) else complex(math.inf, math.nan)
    return a / b


def _plus(z, a):
    """z + a for a real constant a, keeping the sign of a zero imaginary part of z
    (Python computes complex + float as complex + complex(a, 0.0), and -0.0 + 0.0 is
    0.0): on a branch cut that sign says which side cmath's value comes from."""
    return z - (-a)


def _norm_div(a, r):
    """a / r for the partials of a norm r (hypot, dist): 0 where r == 0, the
    subgradient of smallest norm, as for abs and fabs."""
    return 0.0 if value(r) == 0 else a / r


def _pow2(i):
    """2.0 ** i as a float, inf where it overflows (the derivative of ldexp)."""
    try:
        return math.ldexp(1.0, i)
    except OverflowError:
        return math.inf


def _sign(x):
    v = value(x)
    return 0.0 if v == 0 else math.copysign(1.0, v)


# ---------------------------------------------------------------------------
# math: real functions of one argument, derivative dy/dx as f(x, y)

def _elementary(ns):
    """Derivatives shared by math and cmath, written with the functions of ``ns``."""
    return {
        # trigonometric
        "sin": lambda x, y: ns.cos(x),
        "cos": lambda x, y: -ns.sin(x),
        "tan": lambda x, y: 1 + y * y,
        # -(x * x - 1), not 1 - x * x: on the branch cuts of cmath (x real, |x| > 1)
        # it keeps the sign of a zero imaginary part, so the derivative is that of
        # the side cmath takes the value from
        "asin": lambda x, y: _safe_div(1, ns.sqrt(-(x * x - 1))),
        "acos": lambda x, y: _safe_div(-1, ns.sqrt(-(x * x - 1))),
        "atan": lambda x, y: 1 / (1 + x * x),
        # hyperbolic
        "sinh": lambda x, y: ns.cosh(x),
        "cosh": lambda x, y: ns.sinh(x),
        "tanh": lambda x, y: 1 - y * y,
        "asinh": lambda x, y: _safe_div(1, ns.sqrt(_plus(x * x, 1))),     # inf at +-1j
        "atanh": lambda x, y: 1 / (1 - x * x),
        # exponentials
        "exp": lambda x, y: y,
        "log10": lambda x, y: 1 / (x * LN10),
        "sqrt": lambda x, y: _safe_div(0.5, y),
    }


MATH_UNARY = {
    **_elementary(m),
    # sqrt(x * x + 1) and sqrt(x * x - 1) would overflow for |x| > 1e154
    "asinh": lambda x, y: 1 / m.hypot(x, 1.0),
    "acosh": lambda x, y: _safe_div(1, m.sqrt(x - 1) * m.sqrt(x + 1)),
    # exponentials and logarithms
    "expm1": lambda x, y: y + 1,
    "log1p": lambda x, y: 1 / (1 + x),
    "log2": lambda x, y: 1 / (x * LN2),
    # special functions
    "erf": lambda x, y: TWO_OVER_SQRT_PI * m.exp(-x * x),
    "erfc": lambda x, y: -TWO_OVER_SQRT_PI * m.exp(-x * x),
    "lgamma": lambda x, y: m.digamma(x),
    "gamma": lambda x, y: y * m.digamma(x),
    # absolute value and units
    "fabs": lambda x, y: _sign(x),
    "degrees": lambda x, y: 180.0 / math.pi,
    "radians": lambda x, y: math.pi / 180.0,
}
if sys.version_info >= (3, 11):
    MATH_UNARY["exp2"] = lambda x, y: y * LN2
    MATH_UNARY["cbrt"] = lambda x, y: _safe_div(1.0, 3 * y * y)

# math: real functions of two arguments, derivatives (dz/dx, dz/dy) as f(x, y, z)
MATH_BINARY = {
    "atan2": lambda y, x, z: _datan2(y, x),
    "pow": lambda x, y, z: (_dpow_base(x, y), _dpow_exponent(x, z)),
    "copysign": lambda x, y, z: (_sign(x) * _sign(z) if value(x) != 0 else math.copysign(1.0, value(z)), 0.0),
    "fmod": lambda x, y, z: (1.0, -_quotient(x, y, z)),
    "remainder": lambda x, y, z: (1.0, -_quotient(x, y, z)),
    "ldexp": lambda x, i, z: (_pow2(value(i)), None),
    "nextafter": lambda x, y, z: (1.0, 0.0),
}

# math functions whose result is an integer, a bool, or piecewise constant:
# they run on plain values and their result carries no derivative.
MATH_CONSTANT = ["ceil", "floor", "trunc", "factorial", "gcd", "lcm", "comb", "perm", "isqrt",
                 "isfinite", "isinf", "isnan", "isclose", "ulp"]


def _datan2(y, x):
    """(d/dy, d/dx) of atan2(y, x) = (x, -y) / r**2; nan at the origin, where the angle
    has no limit. r = hypot(y, x): x * x + y * y would overflow beyond 1e154."""
    r = m.hypot(y, x)
    if value(r) == 0:
        return math.nan, math.nan
    return x / r / r, -y / r / r


def _dpow_base(x, y):
    """d/dx x**y = y x**(y - 1), kept a function of y (its derivative in y is
    x**(y-1) (1 + y log x), 1/x at y = 0). Where x**(y - 1) is not finite: 0 for
    y == 0 (x**0 is constant, also at x = 0, inf and nan; the slope in y is taken
    as 0 there, as the engine does for ``**``), +inf at x = 0 for 0 < y < 1 (the
    one-sided derivative, as numpy's); pow(0, y) itself raises for y < 0."""
    xv, yv = value(x), value(y)
    if yv == 0 and (xv == 0 or not math.isfinite(xv)):
        return 0.0
    if xv == 0 and yv < 1:
        return math.inf
    return y * m.pow(x, y - 1)


def _quotient(x, y, z):
    """The integer n with x == n * y + z for z = fmod(x, y) or remainder(x, y), as a
    float (inf where it overflows, nan where x or y is nan): the derivative in y is -n."""
    with np.errstate(all="ignore"):
        return float(np.rint((np.float64(value(x)) - value(z)) / value(y)))


def _dpow_exponent(x, z):
    v = value(x)
    if v > 0:
        return z * m.log(x)
    if v == 0:
        return 0.0
    return math.nan


for _name, _d in MATH_UNARY.items():
    _unary(m, "zygcy.math", math, _name, _d)
for _name, _d in MATH_BINARY.items():
    _binary(m, "zygcy.math", math, _name, _d)


def _constant_function(module, plain, name):
    fun = getattr(plain, name)

    def constant(*args, **kwargs):
        return fun(*[value(a) for a in args], **{k: value(v) for k, v in kwargs.items()})

    constant.__name__ = constant.__qualname__ = name
    constant.__module__ = module
    constant.__doc__ = fun.__doc__
    return constant


for _name in MATH_CONSTANT:
    if hasattr(math, _name):
        setattr(m, _name, _constant_function("zygcy.math", math, _name))

_hypot2 = ScalarFunction2(math.hypot, lambda x, y, z: (_norm_div(x, z), _norm_div(y, z)), "hypot", "zygcy.math")
_log_e = ScalarFunction(math.log, lambda x, y: 1 / x, "log", "zygcy.math")
_log_b = ScalarFunction2(math.log, lambda x, b, z: (1 / (x * m.log(b)), -z / (b * m.log(b))), "log", "zygcy.math")


def log(x, base=None):
    """log(x[, base]): the logarithm of x to the given base (natural if omitted)."""
    return _log_e(x) if base is None else _log_b(x, base)


def hypot(*coordinates):
    """hypot(*coordinates): the Euclidean norm, sqrt(sum(x**2 for x in coordinates))."""
    if len(coordinates) == 2:
        return _hypot2(*coordinates)
    return _hypot_n(*coordinates)


_hypot_n = primitive(math.hypot)            # hypot of any number of coordinates, one node


def fsum(iterable):
    """fsum(iterable): an accurate floating-point sum, as math.fsum."""
    return _fsum(list(iterable))


_fsum = primitive(math.fsum)                # one node, differentiated in every element


def prod(iterable, *, start=1):
    """prod(iterable, *, start=1): the product of start and the items, as math.prod."""
    acc = start
    for v in iterable:
        acc = acc * v
    return acc


def dist(p, q):
    """dist(p, q): the Euclidean distance between points p and q, as math.dist."""
    p, q = list(p), list(q)
    if not any(type(v) is Tracked for v in p + q):
        return math.dist(p, q)
    return hypot(*[a - b for a, b in zip(p, q)])


# The fractional part of modf and the mantissa of frexp: recorded on the value math
# gives (x - trunc(x) would lose the sign of -0.0 and give nan at inf; x * 2**-e
# would overflow for subnormal x).
_modf_fraction = ScalarFunction(lambda x: math.modf(x)[0], lambda x, y: 1.0, "modf", "zygcy.math")
_frexp_mantissa = ScalarFunction(lambda x: math.frexp(x)[0],
                                 lambda x, y: _pow2(-math.frexp(value(x))[1]), "frexp", "zygcy.math")


def modf(x):
    """modf(x): the fractional and integer parts of x; the fractional part is differentiable."""
    f, i = math.modf(value(x))
    return (_modf_fraction(x), i) if type(x) is Tracked else (f, i)


def frexp(x):
    """frexp(x): (mantissa, exponent) with x == mantissa * 2**exponent."""
    mant, e = math.frexp(value(x))
    return (_frexp_mantissa(x), e) if type(x) is Tracked else (mant, e)


def digamma(x):
    """digamma(x): the logarithmic derivative of the gamma function (not in Python's math)."""
    return polygamma(0, x)


def _polygamma_plain(n, x):
    """psi^(n)(x) for real x: recurrence up to x >= 12, then the asymptotic series."""
    x = float(x)
    if not math.isfinite(x):        # psi(inf) = inf, its derivatives 0; no limit at -inf
        return math.nan if x != math.inf else (math.inf if n == 0 else 0.0)
    if x <= 0 and x == math.floor(x):
        raise ValueError("math domain error")
    if x < 0 and n == 0:     # reflection: psi(1 - x) - psi(x) = pi cot(pi x)
        return _polygamma_plain(0, 1 - x) - math.pi / math.tan(math.pi * x)
    acc = 0.0
    sign = -1.0 if n % 2 == 0 else 1.0      # (-1)**(n+1)
    fact = math.factorial(n)
    while x < 12.0:
        acc += sign * fact / x ** (n + 1) if n > 0 else -1.0 / x
        x += 1.0
    # asymptotic expansion with Bernoulli numbers B2k
    # (powers of 1 / x, which underflow to 0, where powers of x would overflow)
    bern = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510]
    u = 1.0 / x
    if n == 0:
        s = math.log(x) - 0.5 * u
        for k, b in enumerate(bern, start=1):
            s -= b / (2 * k) * u ** (2 * k)
        return acc + s
    # psi^(n)(x) ~ (-1)^(n+1) [ (n-1)!/x^n + n!/(2 x^(n+1)) + sum B2k (2k+n-1)!/((2k)! x^(2k+n)) ]
    s = math.factorial(n - 1) * u ** n + fact / 2 * u ** (n + 1)
    for k, b in enumerate(bern, start=1):
        s += b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) * u ** (2 * k + n)
    return acc + sign * s


def polygamma(n, x):
    """polygamma(n, x): the n-th derivative of digamma (not in Python's math)."""
    if type(x) is not Tracked:
        return _polygamma_plain(n, x)
    fn = _POLYGAMMA.get(n)
    if fn is None:
        fn = _POLYGAMMA[n] = ScalarFunction(lambda v, n=n: _polygamma_plain(n, v),
                                            lambda v, y, n=n: polygamma(n + 1, v),
                                            "polygamma(%d, .)" % n, "zygcy.math")
    return fn(x)


_POLYGAMMA = {}

for _f in (log, hypot, fsum, prod, dist, modf, frexp, digamma, polygamma):
    _f.__module__ = "zygcy.math"
    setattr(m, _f.__name__, _f)
for _k in ("pi", "e", "tau", "inf", "nan"):
    setattr(m, _k, getattr(math, _k))

def fsum_maker(ans, xs):
    def fsum_pullback(g):
        return [g] * len(xs)
    return fsum_pullback


def hypot_maker(ans, *xs):
    def hypot_pullback(g):
        return tuple(g * _norm_div(x, ans) for x in xs)
    return hypot_pullback


defvjp(_fsum, fsum_maker)
defjvp(_fsum, lambda t, ans, xs: _fsum(t))
defjoint(_hypot_n, hypot_maker)


# ---------------------------------------------------------------------------
# cmath: holomorphic functions, derivative f'(x) as f(x, y) (zygcy conjugates it)

CMATH_UNARY = {
    **_elementary(c),
    "acosh": lambda x, y: _safe_div(1, c.sqrt(x - 1) * c.sqrt(_plus(x, 1))),
}
CMATH_CONSTANT = ["isfinite", "isinf", "isnan", "isclose"]



@primitive
def _to_complex(x):
    """complex(x): how cmath reads a real argument (complex(-0.0) keeps the sign of
    zero and complex(inf) has no nan, unlike x + 0j or x * (1 + 0j))."""
    return complex(x)


def to_complex_maker(ans, x):
    def to_complex_pullback(g):
        return _real(g)
    return to_complex_pullback


defvjp(_to_complex, to_complex_maker)
defjvp(_to_complex, lambda t, ans, x: _to_complex(t))


def _cmath_unary(name, deriv):
    """zygcy.cmath.<name>: a real tracked argument is made complex first, as cmath does."""
    fn = ScalarFunction(getattr(cmath, name), deriv, name, "zygcy.cmath")

    def cmath_function(x):
        if type(x) is Tracked and not is_complex(x) and not isinstance(value(x), np.ndarray):
            return fn(_to_complex(x))
        return fn(x)

    cmath_function.__name__ = cmath_function.__qualname__ = name
    cmath_function.__module__ = "zygcy.cmath"
    cmath_function.__doc__ = getattr(cmath, name).__doc__
    return cmath_function


for _name, _d in CMATH_UNARY.items():
    setattr(c, _name, _cmath_unary(_name, _d))
for _name in CMATH_CONSTANT:
    setattr(c, _name, _constant_function("zygcy.cmath", cmath, _name))

_clog_e = ScalarFunction(cmath.log, lambda x, y: 1 / x, "log", "zygcy.cmath")
_clog_b = ScalarFunction2(cmath.log, lambda x, b, z: (_safe_div(1, x * c.log(b)), _safe_div(-z, b * c.log(b))),
                          "log", "zygcy.cmath")


def clog(x, base=None):
    """log(x[, base]): the complex logarithm of x to the given base (natural if omitted)."""
    return _clog_e(x) if base is None else _clog_b(x, base)


def phase(x):
    """phase(x): the argument of x, atan2(x.imag, x.real) (real-valued, not holomorphic)."""
    if type(x) is not Tracked:
        return cmath.phase(x)
    if is_complex(x):
        return m.atan2(x.imag, x.real)
    # a real x is complex(x, +0.0): 0 or pi, constant but at 0 (where atan2 gives nan)
    return m.atan2(0.0, x)


def polar(x):
    """polar(x): (abs(x), phase(x))."""
    if type(x) is not Tracked:
        return cmath.polar(x)
    return (abs(x), phase(x))


def _expi(phi):
    """exp(i phi) = d rect(r, phi) / dr; nan where phi is not finite (cmath raises)."""
    if not math.isfinite(value(phi)):
        return complex(math.nan, math.nan)
    return _rect(1.0, phi)


def _drect(r, phi, z):
    """(d/dr, d/dphi) of z = rect(r, phi) = r exp(i phi): (exp(i phi), i z)."""
    return _expi(phi), (1j * z if value(r) != 0 else 1j * r * _expi(phi))


_rect = ScalarFunction2(cmath.rect, _drect, "rect", "zygcy.cmath")


def rect(r, phi):
    """rect(r, phi): the complex number with modulus r and argument phi."""
    return _rect(r, phi)


clog.__name__ = clog.__qualname__ = "log"
for _f in (clog, phase, polar, rect):
    _f.__module__ = "zygcy.cmath"
    setattr(c, _f.__name__, _f)
for _k in ("pi", "e", "tau", "inf", "nan", "infj", "nanj"):
    setattr(c, _k, getattr(cmath, _k))


# ---------------------------------------------------------------------------
# The complex parts of a tracked value: .real, .imag, .conjugate(), abs(z)

@primitive
def _real(z):
    return z.real


@primitive
def _imag(z):
    return z.imag


@primitive
def _conj(z):
    return z.conjugate()


_cabs = primitive(abs)      # |z| of a complex z, one node


# For complex z the cotangent is dL/d(Re z) + i dL/d(Im z) (Zygote's convention).
def real_maker(ans, z):
    def real_pullback(g):
        return _real(g)
    return real_pullback


def imag_maker(ans, z):
    def imag_pullback(g):
        return 1j * _real(g)
    return imag_pullback


def conj_maker(ans, z):
    def conj_pullback(g):
        return _conj(g)
    return conj_pullback


def cabs_maker(ans, z):
    def cabs_pullback(g):
        return _real(g) * _cabs_direction(z, ans)
    return cabs_pullback


defvjp(_real, real_maker)
defvjp(_imag, imag_maker)
defvjp(_conj, conj_maker)
defvjp(_cabs, cabs_maker)
# Forward: the parts are linear maps of z; d|z| = Re(conj(z / |z|) dz).
defjvp(_real, lambda t, ans, z: _real(t))
defjvp(_imag, lambda t, ans, z: _imag(t))
defjvp(_conj, lambda t, ans, z: _conj(t))
defjvp(_cabs, lambda t, ans, z: _real(_conj(_cabs_direction(z, ans)) * t))


def _cabs_direction(z, r):
    """z / |z|, and 0 where z == 0 (the subgradient of smallest norm)."""
    if isinstance(value(r), np.ndarray):
        safe = np.where(value(r) == 0, 1, r)
        return np.where(value(r) == 0, 0, z / safe)
    return 0 if value(r) == 0 else z / r


def real_part(x):
    """x.real of a tracked x."""
    return _real(x) if is_complex(x) else x


def imag_part(x):
    """x.imag of a tracked x (a plain zero for a real x)."""
    if is_complex(x):
        return _imag(x)
    v = value(x)
    return np.zeros_like(v) if isinstance(v, np.ndarray) else type(v)(0)


def conjugate(x):
    """x.conjugate() of a tracked x."""
    return _conj(x) if is_complex(x) else x


def complex_abs(z):
    """abs(z) of a tracked complex z."""
    return _cabs(z)


def log_any(x):
    """log(x) of a tracked number, real or complex (for d(a**x)/dx)."""
    return c.log(x) if is_complex(x) else m.log(x)
