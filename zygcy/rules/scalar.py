"""Rules for scalars: Python's ``math`` and ``cmath`` modules, and the complex parts.

Each entry of the tables is one line: the name of the function in ``math`` (or
``cmath``) and its derivative written as a function of the input ``x`` and the
output ``y``. Derivatives use zygcy's own functions (``m.cos``, not
``math.cos``), so they are differentiable again and higher derivatives work.

The values computed are exactly those of ``math``/``cmath``: the zygcy function
calls the plain one on plain numbers.
"""
import cmath
import math
import sys
import types

import numpy as np

from .._core import ScalarFunction, ScalarFunction2, Tracked, apply, defjoint, defvjp, set_hook, value

m = types.SimpleNamespace()    # what ``zygcy.math`` exports
c = types.SimpleNamespace()    # what ``zygcy.cmath`` exports

LN2 = math.log(2.0)
LN10 = math.log(10.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _unary(ns, module, plain, name, deriv):
    setattr(ns, name, ScalarFunction(getattr(plain, name), deriv, name, module))


def _binary(ns, module, plain, name, deriv):
    setattr(ns, name, ScalarFunction2(getattr(plain, name), deriv, name, module))


def _safe_div(a, b):
    """a / b, but infinity (with a's sign) where b is zero: the derivative of sqrt at 0."""
    if value(b) == 0:
        return math.copysign(math.inf, value(a)) if value(a) != 0 else math.nan
    return a / b


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
        "asin": lambda x, y: _safe_div(1, ns.sqrt(1 - x * x)),
        "acos": lambda x, y: _safe_div(-1, ns.sqrt(1 - x * x)),
        "atan": lambda x, y: 1 / (1 + x * x),
        # hyperbolic
        "sinh": lambda x, y: ns.cosh(x),
        "cosh": lambda x, y: ns.sinh(x),
        "tanh": lambda x, y: 1 - y * y,
        "asinh": lambda x, y: 1 / ns.sqrt(x * x + 1),
        "atanh": lambda x, y: 1 / (1 - x * x),
        # exponentials
        "exp": lambda x, y: y,
        "log10": lambda x, y: 1 / (x * LN10),
        "sqrt": lambda x, y: _safe_div(0.5, y),
    }


MATH_UNARY = {
    **_elementary(m),
    "acosh": lambda x, y: _safe_div(1, m.sqrt(x * x - 1)),
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
    "atan2": lambda y, x, z: (x / (x * x + y * y), -y / (x * x + y * y)),
    "pow": lambda x, y, z: (0.0 if value(y) == 0 else y * m.pow(x, y - 1),
                            _dpow_exponent(x, z)),
    "copysign": lambda x, y, z: (_sign(x) * _sign(z) if value(x) != 0 else math.copysign(1.0, value(z)), 0.0),
    "fmod": lambda x, y, z: (1.0, -float(math.trunc(value(x) / value(y)))),
    "remainder": lambda x, y, z: (1.0, -float(round(value(x) / value(y)))),
    "ldexp": lambda x, i, z: (math.ldexp(1.0, value(i)), None),
    "nextafter": lambda x, y, z: (1.0, 0.0),
}

# math functions whose result is an integer, a bool, or piecewise constant:
# they run on plain values and their result carries no derivative.
MATH_CONSTANT = ["ceil", "floor", "trunc", "factorial", "gcd", "lcm", "comb", "perm", "isqrt",
                 "isfinite", "isinf", "isnan", "isclose", "ulp"]


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

_hypot2 = ScalarFunction2(math.hypot, lambda x, y, z: (_safe_div(x, z), _safe_div(y, z)), "hypot", "zygcy.math")
_log_e = ScalarFunction(math.log, lambda x, y: 1 / x, "log", "zygcy.math")
_log_b = ScalarFunction2(math.log, lambda x, b, z: (1 / (x * m.log(b)), -z / (b * m.log(b))), "log", "zygcy.math")


def log(x, base=None):
    """log(x[, base]): the logarithm of x to the given base (natural if omitted)."""
    return _log_e(x) if base is None else _log_b(x, base)


def hypot(*coordinates):
    """hypot(*coordinates): the Euclidean norm, sqrt(sum(x**2 for x in coordinates))."""
    if len(coordinates) == 2:
        return _hypot2(*coordinates)
    if not any(type(v) is Tracked for v in coordinates):
        return math.hypot(*coordinates)
    return apply(hypot, coordinates)


def fsum(iterable):
    """fsum(iterable): an accurate floating-point sum, as math.fsum."""
    xs = list(iterable)
    if not any(type(v) is Tracked for v in xs):
        return math.fsum(xs)
    return apply(fsum, (xs,))


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


def modf(x):
    """modf(x): the fractional and integer parts of x; the fractional part is differentiable."""
    f, i = math.modf(value(x))
    return (x - i, i) if type(x) is Tracked else (f, i)


def frexp(x):
    """frexp(x): (mantissa, exponent) with x == mantissa * 2**exponent."""
    mant, e = math.frexp(value(x))
    return (x * math.ldexp(1.0, -e), e) if type(x) is Tracked else (mant, e)


def digamma(x):
    """digamma(x): the logarithmic derivative of the gamma function (not in Python's math)."""
    return polygamma(0, x)


def _polygamma_plain(n, x):
    """psi^(n)(x) for real x: recurrence up to x >= 12, then the asymptotic series."""
    x = float(x)
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
    bern = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510]
    if n == 0:
        s = math.log(x) - 0.5 / x
        for k, b in enumerate(bern, start=1):
            s -= b / (2 * k * x ** (2 * k))
        return acc + s
    # psi^(n)(x) ~ (-1)^(n+1) [ (n-1)!/x^n + n!/(2 x^(n+1)) + sum B2k (2k+n-1)!/((2k)! x^(2k+n)) ]
    s = math.factorial(n - 1) / x ** n + fact / (2 * x ** (n + 1))
    for k, b in enumerate(bern, start=1):
        s += b * math.factorial(2 * k + n - 1) / (math.factorial(2 * k) * x ** (2 * k + n))
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

defvjp(fsum, lambda ans, xs: lambda g: [g] * len(xs))
defjoint(hypot, lambda ans, *xs: lambda g: tuple(g * _safe_div(x, ans) for x in xs))


# ---------------------------------------------------------------------------
# cmath: holomorphic functions, derivative f'(x) as f(x, y) (zygcy conjugates it)

CMATH_UNARY = {
    **_elementary(c),
    "acosh": lambda x, y: 1 / (c.sqrt(x - 1) * c.sqrt(x + 1)),
}
CMATH_CONSTANT = ["isfinite", "isinf", "isnan", "isclose"]

for _name, _d in CMATH_UNARY.items():
    _unary(c, "zygcy.cmath", cmath, _name, _d)
for _name in CMATH_CONSTANT:
    setattr(c, _name, _constant_function("zygcy.cmath", cmath, _name))

_clog_e = ScalarFunction(cmath.log, lambda x, y: 1 / x, "log", "zygcy.cmath")
_clog_b = ScalarFunction2(cmath.log, lambda x, b, z: (1 / (x * c.log(b)), -z / (b * c.log(b))), "log", "zygcy.cmath")


def clog(x, base=None):
    """log(x[, base]): the complex logarithm of x to the given base (natural if omitted)."""
    return _clog_e(x) if base is None else _clog_b(x, base)


def phase(x):
    """phase(x): the argument of x, atan2(x.imag, x.real) (real-valued, not holomorphic)."""
    if type(x) is not Tracked:
        return cmath.phase(x)
    return m.atan2(x.imag, x.real) if _is_complex(x) else m.atan2(0.0 * x, x)


def polar(x):
    """polar(x): (abs(x), phase(x))."""
    return (abs(x), phase(x))


def rect(r, phi):
    """rect(r, phi): the complex number with modulus r and argument phi."""
    if type(r) is not Tracked and type(phi) is not Tracked:
        return cmath.rect(r, phi)
    return r * m.cos(phi) + 1j * (r * m.sin(phi))


clog.__name__ = clog.__qualname__ = "log"
for _f in (clog, phase, polar, rect):
    _f.__module__ = "zygcy.cmath"
    setattr(c, _f.__name__, _f)
for _k in ("pi", "e", "tau", "inf", "nan", "infj", "nanj"):
    setattr(c, _k, getattr(cmath, _k))


# ---------------------------------------------------------------------------
# The complex parts of a tracked value: .real, .imag, .conjugate(), abs(z)

def _is_complex(x):
    v = value(x)
    return isinstance(v, complex) or (isinstance(v, (np.ndarray, np.generic)) and v.dtype.kind == "c")


def _real(z):
    return z.real


def _imag(z):
    return z.imag


def _conj(z):
    return z.conjugate()


# For complex z the cotangent is dL/d(Re z) + i dL/d(Im z) (Zygote's convention).
defvjp(_real, lambda ans, z: lambda g: _real(g))
defvjp(_imag, lambda ans, z: lambda g: 1j * _real(g))
defvjp(_conj, lambda ans, z: lambda g: _conj(g))
defvjp(abs, lambda ans, z: lambda g: _real(g) * _cabs_direction(z, ans))


def _cabs_direction(z, r):
    """z / |z|, and 0 where z == 0 (the subgradient of smallest norm)."""
    if isinstance(value(r), np.ndarray):
        safe = np.where(value(r) == 0, 1, r)
        return np.where(value(r) == 0, 0, z / safe)
    return 0 if value(r) == 0 else z / r


def _hook_real(x):
    return apply(_real, (x,)) if _is_complex(x) else x


def _hook_imag(x):
    if _is_complex(x):
        return apply(_imag, (x,))
    v = value(x)
    return np.zeros_like(v) if isinstance(v, np.ndarray) else type(v)(0)


def _hook_conj(x):
    return apply(_conj, (x,)) if _is_complex(x) else x


set_hook("real", _hook_real)
set_hook("imag", _hook_imag)
set_hook("conj", _hook_conj)
set_hook("cabs", lambda z: apply(abs, (z,)))
set_hook("log", lambda x: c.log(x) if _is_complex(x) else m.log(x))
