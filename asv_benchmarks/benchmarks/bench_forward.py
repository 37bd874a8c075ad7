"""Forward mode and higher order: ``jvp`` and ``pushforward`` on the scalar and array
workloads, ``hvp``, ``jacobian`` (reverse, one sweep per output), ``forward_jacobian``
(one forward pass per input) and ``hessian`` (forward over reverse; ``hessian_reverse``
beside it).

Each class times its baseline too (the primal, or the reverse-mode gradient of the
same function), so a ratio can be read off one commit's results; ``compare.py
--forward`` prints those ratios against their targets. The ``track_peak_bytes_*``
methods report the peak of numpy's allocations during one call, measured with
tracemalloc (asv's ``peakmem_*`` is the whole process's maximum RSS, which the
interpreter and the fixtures dilute).

The classes have ``forward_workload`` (a name in ``common.FORWARD_WORKLOADS``)
rather than ``workload``, which names gradient workloads (``common.WORKLOADS``).
"""
import math

import zygcy

from .common import (CHAIN_STEPS, CHAIN_X, ELEMENTWISE_SIZE, HESSIAN_MLP_SHAPES, HESSIAN_SIZE,
                     HORNER_DEGREE, HORNER_X, JACOBIAN_SIZE, RECURSION_DEPTH, RECURSION_X,
                     WAVE_POINTS, chain, elementwise, elementwise_data, elementwise_jvp_by_hand, horner,
                     horner_coeffs, jacobian_mlp, jacobian_mlp_data, mlp_data, mlp_flat_data, mlp_flat_loss,
                     mlp_loss, peak_bytes, power_rec, rosen, rosen_data, tangents_like, wave, wave_data)


class _ScalarJVPSuite:
    """``jvp(f, (x,), (1.0,))`` of a scalar workload, and ``pushforward(f, x)(1.0)``."""

    def prepare(self, primal, f, x):
        self.primal, self.f, self.x = primal, f, x
        self.push = zygcy.pushforward(f, x)

    def time_primal(self, *params):
        self.primal()

    def time_jvp(self, *params):
        zygcy.jvp(self.f, (self.x,), (1.0,))

    def time_pushforward(self, *params):
        self.push(1.0)

    def time_gradient(self, *params):
        zygcy.gradient(self.f, self.x)


class ChainJVP(_ScalarJVPSuite):
    """``jvp`` of ``acc = acc + sin(x*i) * cos(x) / i`` for i in 1..steps (target <= 3x primal)."""
    forward_workload = "jvp_chain"
    params = [CHAIN_STEPS]
    param_names = ["steps"]
    smoke_params = [5]

    def setup(self, steps):
        x = CHAIN_X
        self.prepare(lambda: chain(x, math, steps), lambda x: chain(x, zygcy.math, steps), x)


class HornerJVP(_ScalarJVPSuite):
    """``jvp`` of a polynomial by Horner's rule (target <= 3x primal)."""
    forward_workload = "jvp_horner"
    params = [HORNER_DEGREE]
    param_names = ["degree"]
    smoke_params = [5]

    def setup(self, degree):
        x, coeffs = HORNER_X, horner_coeffs(degree)
        self.prepare(lambda: horner(x, coeffs), lambda x: horner(x, coeffs), x)


class RecursionJVP(_ScalarJVPSuite):
    """``jvp`` of ``p(x, n) = 1.0 if n == 0 else x * p(x, n - 1)`` (target <= 3x primal)."""
    forward_workload = "jvp_recursion"
    params = [RECURSION_DEPTH]
    param_names = ["n"]
    smoke_params = [5]

    def setup(self, n):
        x = RECURSION_X
        self.prepare(lambda: power_rec(x, n), lambda x: power_rec(x, n), x)


class MLPJVP:
    """``jvp`` of the MLP's loss in all four parameters (target <= 1.5x the gradient)."""
    forward_workload = "jvp_mlp"
    params = [32]
    param_names = ["batch"]
    smoke_params = [4]

    def setup(self, batch):
        self.P, (X, y) = mlp_data(batch=batch)
        self.T = tangents_like(self.P)
        self.f = lambda W1, b1, W2, b2: mlp_loss(W1, b1, W2, b2, X, y)  # noqa: E731

    def time_primal(self, batch):
        self.f(*self.P)

    def time_gradient(self, batch):
        zygcy.gradient(self.f, *self.P)

    def time_jvp(self, batch):
        zygcy.jvp(self.f, self.P, self.T)


class ElementwiseJVP:
    """``jvp`` and ``hvp`` of ``sum(tanh(x) * exp(-x**2) + x)`` on a large vector:
    jvp target <= 1.5x the gradient's time, hvp's peak memory <= 3x the gradient's."""
    forward_workload = "jvp_elementwise"      # and hvp_elementwise
    params = [ELEMENTWISE_SIZE]
    param_names = ["size"]
    smoke_params = [10]

    def setup(self, size):
        self.x = elementwise_data(size)
        (self.t,) = tangents_like([self.x])

    def time_primal(self, size):
        elementwise(self.x)

    def time_gradient(self, size):
        zygcy.gradient(elementwise, self.x)

    def time_jvp(self, size):
        zygcy.jvp(elementwise, (self.x,), (self.t,))

    def time_jvp_by_hand(self, size):
        elementwise_jvp_by_hand(self.x, self.t)     # forward mode's floor, op by op in place

    def time_hvp(self, size):
        zygcy.hvp(elementwise, self.x, self.t)

    def peakmem_jvp(self, size):
        self.time_jvp(size)

    def peakmem_hvp(self, size):
        self.time_hvp(size)

    def track_peak_bytes_gradient(self, size):
        return peak_bytes(lambda: self.time_gradient(size))

    def track_peak_bytes_jvp(self, size):
        return peak_bytes(lambda: self.time_jvp(size))

    def track_peak_bytes_hvp(self, size):
        return peak_bytes(lambda: self.time_hvp(size))

    track_peak_bytes_gradient.unit = track_peak_bytes_jvp.unit = track_peak_bytes_hvp.unit = "bytes"


class MLPHVP:
    """``hvp`` of the MLP's loss as a function of one vector holding all its weights
    (target <= 4x the gradient of the same function)."""
    forward_workload = "hvp_mlp"
    params = [32]
    param_names = ["batch"]
    smoke_params = [4]

    def setup(self, batch):
        self.theta, shapes, (X, y) = mlp_flat_data(batch=batch)
        (self.v,) = tangents_like([self.theta])
        self.f = lambda theta: mlp_flat_loss(theta, shapes, X, y)  # noqa: E731

    def time_primal(self, batch):
        self.f(self.theta)

    def time_gradient(self, batch):
        zygcy.gradient(self.f, self.theta)

    def time_hvp(self, batch):
        zygcy.hvp(self.f, self.theta, self.v)


class MLPJacobian:
    """``jacobian`` of ``tanh(W2 @ tanh(W1 @ x + b1) + b2)``, R^n -> R^n: one reverse
    sweep per output (target: time <= 0.3 * n * the gradient of ``sum(f)``)."""
    forward_workload = "jacobian_mlp"
    params = [JACOBIAN_SIZE]
    param_names = ["n"]
    smoke_params = [3]

    def setup(self, n):
        self.x, W = jacobian_mlp_data(n)
        self.f = lambda x: jacobian_mlp(x, *W)  # noqa: E731
        self.f_sum = lambda x: jacobian_mlp(x, *W).sum()  # noqa: E731

    def time_primal(self, n):
        self.f(self.x)

    def time_gradient(self, n):
        zygcy.gradient(self.f_sum, self.x)

    def time_jacobian(self, n):
        zygcy.jacobian(self.f, self.x)


class WaveForwardJacobian:
    """``forward_jacobian`` of ``sin(x[0] * t) * exp(-x[1] * t)``, R^2 -> R^m: one
    forward pass per input (target: time <= 3 * 2 * the primal)."""
    forward_workload = "forward_jacobian_wave"
    params = [WAVE_POINTS]
    param_names = ["m"]
    smoke_params = [5]

    def setup(self, m):
        self.x, t = wave_data(m)
        self.f = lambda x: wave(x, t)  # noqa: E731
        self.e0 = self.x * 0.0
        self.e0[0] = 1.0

    def time_primal(self, m):
        self.f(self.x)

    def time_jvp(self, m):
        zygcy.jvp(self.f, (self.x,), (self.e0,))

    def time_forward_jacobian(self, m):
        zygcy.forward_jacobian(self.f, self.x)

    def time_jacobian(self, m):
        zygcy.jacobian(self.f, self.x)


class _HessianSuite:
    def time_primal(self, *params):
        self.f(self.x)

    def time_gradient(self, *params):
        zygcy.gradient(self.f, self.x)

    def time_hessian(self, *params):
        zygcy.hessian(self.f, self.x)

    def time_hessian_reverse(self, *params):
        zygcy.hessian_reverse(self.f, self.x)


class RosenbrockHessian(_HessianSuite):
    """``hessian`` (forward over reverse) and ``hessian_reverse`` of Rosenbrock's function."""
    forward_workload = "hessian_rosenbrock"
    params = [HESSIAN_SIZE]
    param_names = ["n"]
    smoke_params = [4]

    def setup(self, n):
        self.x, self.f = rosen_data(n), rosen


class MLPHessian(_HessianSuite):
    """``hessian`` of the MLP's loss in one vector of all its weights (9x9 + 9 + 9 + 1 = 100)."""
    forward_workload = "hessian_mlp"
    params = [HESSIAN_MLP_SHAPES["n_hidden"]]
    param_names = ["n_hidden"]
    smoke_params = [2]

    def setup(self, n_hidden):
        shapes = dict(HESSIAN_MLP_SHAPES, n_hidden=n_hidden)
        self.x, pshapes, (X, y) = mlp_flat_data(**shapes)
        self.f = lambda theta: mlp_flat_loss(theta, pshapes, X, y)  # noqa: E731
