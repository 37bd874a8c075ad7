"""Differentiable versions of the functions of Python's ``math`` module.

On plain numbers each returns exactly what ``math`` returns; on tracked values
it also records its derivative. Functions whose result is an integer or a
bool (``floor``, ``isnan``, ...) return plain results. Two additions that
``math`` lacks, ``digamma`` and ``polygamma``, are the derivatives of
``lgamma``. The functions and their derivatives are made in
``zygcy.rules.scalar`` (its namespace ``m``); every name is listed here.

>>> import zygcy
>>> zygcy.math.sin(0.5) == __import__("math").sin(0.5)
True
>>> zygcy.derivative(zygcy.math.sin, 0.0)
1.0
"""
from .rules.scalar import m as _m

# trigonometric and hyperbolic
sin, cos, tan = _m.sin, _m.cos, _m.tan
asin, acos, atan, atan2 = _m.asin, _m.acos, _m.atan, _m.atan2
sinh, cosh, tanh = _m.sinh, _m.cosh, _m.tanh
asinh, acosh, atanh = _m.asinh, _m.acosh, _m.atanh
degrees, radians = _m.degrees, _m.radians

# powers, exponentials and logarithms
sqrt, pow = _m.sqrt, _m.pow
exp, expm1 = _m.exp, _m.expm1
log, log1p, log2, log10 = _m.log, _m.log1p, _m.log2, _m.log10

# special functions (digamma and polygamma are zygcy's additions)
erf, erfc = _m.erf, _m.erfc
gamma, lgamma = _m.gamma, _m.lgamma
digamma, polygamma = _m.digamma, _m.polygamma

# norms, sums and products
fabs, hypot, dist = _m.fabs, _m.hypot, _m.dist
fsum, prod = _m.fsum, _m.prod

# parts of floats
copysign, fmod, remainder = _m.copysign, _m.fmod, _m.remainder
modf, frexp, ldexp, nextafter = _m.modf, _m.frexp, _m.ldexp, _m.nextafter

# integer, boolean and piecewise-constant results: plain values, no derivative
ceil, floor, trunc = _m.ceil, _m.floor, _m.trunc
factorial, gcd, lcm, comb, perm, isqrt = _m.factorial, _m.gcd, _m.lcm, _m.comb, _m.perm, _m.isqrt
isfinite, isinf, isnan, isclose, ulp = _m.isfinite, _m.isinf, _m.isnan, _m.isclose, _m.ulp

# constants
pi, e, tau, inf, nan = _m.pi, _m.e, _m.tau, _m.inf, _m.nan

__all__ = ["sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh",
           "asinh", "acosh", "atanh", "degrees", "radians",
           "sqrt", "pow", "exp", "expm1", "log", "log1p", "log2", "log10",
           "erf", "erfc", "gamma", "lgamma", "digamma", "polygamma",
           "fabs", "hypot", "dist", "fsum", "prod",
           "copysign", "fmod", "remainder", "modf", "frexp", "ldexp", "nextafter",
           "ceil", "floor", "trunc", "factorial", "gcd", "lcm", "comb", "perm", "isqrt",
           "isfinite", "isinf", "isnan", "isclose", "ulp",
           "pi", "e", "tau", "inf", "nan"]

if hasattr(_m, "exp2"):         # Python >= 3.11
    exp2, cbrt = _m.exp2, _m.cbrt
    __all__ += ["exp2", "cbrt"]
