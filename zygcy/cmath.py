"""Differentiable versions of the functions of Python's ``cmath`` module.

Values are exactly those of ``cmath``. Gradients follow Zygote's convention:
for a real-valued f of complex z the gradient is df/dx + i df/dy. The
functions and their derivatives are made in ``zygcy.rules.scalar`` (its
namespace ``c``); every name is listed here.

>>> import zygcy
>>> zygcy.gradient(lambda z: abs(zygcy.cmath.exp(z)) ** 2, 1j)
((2+0j),)
"""
from .rules.scalar import c as _c

# trigonometric and hyperbolic
sin, cos, tan = _c.sin, _c.cos, _c.tan
asin, acos, atan = _c.asin, _c.acos, _c.atan
sinh, cosh, tanh = _c.sinh, _c.cosh, _c.tanh
asinh, acosh, atanh = _c.asinh, _c.acosh, _c.atanh

# powers, exponentials and logarithms
sqrt, exp, log, log10 = _c.sqrt, _c.exp, _c.log, _c.log10

# polar coordinates
phase, polar, rect = _c.phase, _c.polar, _c.rect

# boolean results: plain values, no derivative
isfinite, isinf, isnan, isclose = _c.isfinite, _c.isinf, _c.isnan, _c.isclose

# constants
pi, e, tau, inf, nan, infj, nanj = _c.pi, _c.e, _c.tau, _c.inf, _c.nan, _c.infj, _c.nanj

__all__ = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
           "asinh", "acosh", "atanh", "sqrt", "exp", "log", "log10", "phase", "polar", "rect",
           "isfinite", "isinf", "isnan", "isclose",
           "pi", "e", "tau", "inf", "nan", "infj", "nanj"]
