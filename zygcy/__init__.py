"""zygcy: reverse-mode automatic differentiation of ordinary Python and NumPy code.

>>> from zygcy import gradient
>>> gradient(lambda x, y: x * y, 2.0, 3.0)
(3.0, 2.0)

The public functions are documented in ``zygcy.api`` (the differentiation
operators), ``zygcy.custom`` (custom rules), ``zygcy.params`` (implicit
parameters) and ``zygcy.extend`` (writing rules); ``zygcy.math`` and
``zygcy.cmath`` are differentiable versions of Python's modules.
"""
from . import rules as _rules  # noqa: F401  (registers every gradient rule)
from . import cmath, math  # noqa: F401
from ._check import GradientCheckError, checking
from ._seeds import WriteAfterUse
from ._core import Tracked
from .extend import (defbilinear, defelementwise, defjoint, deflinear, defjvp, defvjp, nondifferentiable,
                     primitive)
from .api import (D, derivative, diaghessian, forward, forward_jacobian, gradient, hessian,
                  hessian_reverse, hvp, jacobian, jvp, pullback, pushforward, withgradient,
                  withjacobian)
from .custom import checkpointed, dropgrad, grad, hook, nograd, value
from .params import Grads, Params, param
from .containers import register_container

__version__ = "0.1.0"

__all__ = ["forward", "pullback", "gradient", "withgradient", "derivative", "D", "jacobian",
           "withjacobian", "hessian", "hessian_reverse", "diaghessian", "hvp", "jvp", "pushforward",
           "forward_jacobian", "grad",
           "dropgrad", "hook", "nograd", "checkpointed", "value", "param", "Params", "Grads", "Tracked", "defvjp",
           "defjvp", "defelementwise", "defjoint", "deflinear", "defbilinear", "primitive", "nondifferentiable", "register_container", "checking", "GradientCheckError", "WriteAfterUse", "math", "cmath"]
