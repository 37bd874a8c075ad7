"""Scalar workloads: many tiny operations on floats, where the engine's per-operation
overhead is everything (each primal is some tens of microseconds of Python)."""
import math

import zygcy

from .common import (CHAIN_STEPS, CHAIN_X, DISPATCH_CALLS, DISPATCH_X, HORNER_DEGREE, HORNER_X,
                     RECURSION_DEPTH, RECURSION_X, _GradientSuite, chain, dispatch, dispatch_keys,
                     dispatch_table, horner, horner_coeffs, power_rec)


class Chain(_GradientSuite):
    """``acc = acc + sin(x*i) * cos(x) / i`` for i in 1..steps."""
    workload = "chain"
    params = [CHAIN_STEPS]
    param_names = ["steps"]
    smoke_params = [5]

    def setup(self, steps):
        x = CHAIN_X
        self.prepare(lambda: chain(x, math, steps), lambda x: chain(x, zygcy.math, steps), (x,))


class Horner(_GradientSuite):
    """A polynomial of the given degree by Horner's rule."""
    workload = "horner"
    params = [HORNER_DEGREE]
    param_names = ["degree"]
    smoke_params = [5]

    def setup(self, degree):
        x, coeffs = HORNER_X, horner_coeffs(degree)
        self.prepare(lambda: horner(x, coeffs), lambda x: horner(x, coeffs), (x,))


class Recursion(_GradientSuite):
    """``p(x, n) = 1.0 if n == 0 else x * p(x, n - 1)``."""
    workload = "recursion"
    params = [RECURSION_DEPTH]
    param_names = ["n"]
    smoke_params = [5]

    def setup(self, n):
        x = RECURSION_X
        self.prepare(lambda: power_rec(x, n), lambda x: power_rec(x, n), (x,))


class DictDispatch(_GradientSuite):
    """``fs[key](x)`` in a loop over a fixed key sequence, ``fs`` a dict of functions."""
    workload = "dispatch"
    params = [DISPATCH_CALLS]
    param_names = ["calls"]
    smoke_params = [5]

    def setup(self, calls):
        x, keys = DISPATCH_X, dispatch_keys(calls)
        plain, tracked = dispatch_table(math), dispatch_table(zygcy.math)
        self.prepare(lambda: dispatch(x, plain, keys), lambda x: dispatch(x, tracked, keys), (x,))
