"""Differentiable versions of the functions of Python's ``cmath`` module.

Values are exactly those of ``cmath``. Gradients follow Zygote's convention:
for a real-valued f of complex z the gradient is df/dx + i df/dy.

>>> import zygcy
>>> zygcy.gradient(lambda z: abs(zygcy.cmath.exp(z)) ** 2, 1j)
((2+0j),)
"""
from .rules.scalar import c as _c

globals().update({k: v for k, v in vars(_c).items()})
__all__ = sorted(vars(_c))
del _c
