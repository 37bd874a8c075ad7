"""Rules for scipy.optimize's test functions, when scipy is installed.

``rosen`` and ``rosen_der`` convert their input with ``np.asanyarray`` (scipy's
array-API layer), which a tracked value refuses. They are replaced in the
``scipy.optimize`` namespace when it is imported (``zygcy.interop.wrap``) by wrappers
that call scipy's function on plain input, and on tracked input compute the
same formula as scipy's own, written with numpy operations, so it is recorded
like any numpy code and is differentiable to any order.
"""
import numpy as np

from ..interop import when_imported, wrap

so = None       # scipy.optimize, once it is imported and its rules are registered


def _rosen(x):
    # scipy: sum(100.0*(x[1:] - x[:-1]**2.0)**2.0 + (1 - x[:-1])**2.0) along axis 0
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0, axis=0)


def _rosen_der(x):
    xm, xm_m1, xm_p1 = x[1:-1], x[:-2], x[2:]
    middle = 200 * (xm - xm_m1 ** 2) - 400 * (xm_p1 - xm ** 2) * xm - 2 * (1 - xm)
    first = -400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0])
    last = 200 * (x[-1] - x[-2] ** 2)
    return np.concatenate([np.reshape(first, (1,)), middle, np.reshape(last, (1,))])


def _by_formula(formula):
    """``on_tracked`` for ``wrap``: scipy's formula, recorded as numpy code."""
    def on_tracked(x):
        return formula(np.stack(x) if type(x) in (list, tuple) else x)
    return on_tracked


def _register(module):
    global so
    if so is not None:
        return
    so = module
    wrap(so, "rosen", _by_formula(_rosen))
    wrap(so, "rosen_der", _by_formula(_rosen_der))


when_imported("scipy.optimize", _register)
