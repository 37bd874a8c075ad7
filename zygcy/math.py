"""Differentiable versions of the functions of Python's ``math`` module.

On plain numbers each returns exactly what ``math`` returns; on tracked values
it also records its derivative. Functions whose result is an integer or a
bool (``floor``, ``isnan``, ...) return plain results. Two additions that
``math`` lacks, ``digamma`` and ``polygamma``, are the derivatives of
``lgamma``. The derivatives themselves are in ``zygcy.rules.scalar``.

>>> import zygcy
>>> zygcy.math.sin(0.5) == __import__("math").sin(0.5)
True
>>> zygcy.derivative(zygcy.math.sin, 0.0)
1.0
"""
from .rules.scalar import m as _m

globals().update({k: v for k, v in vars(_m).items()})
__all__ = sorted(vars(_m))
del _m
