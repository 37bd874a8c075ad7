"""Seeded fixtures and the workloads, written once.

The asv suite (``bench_*.py``) and the side-by-side comparison
(``asv_benchmarks/compare.py``) both import from here, so the code that is
timed is the same code in both places.

A workload is ordinary Python: run on floats and numpy arrays it is the
*primal*; run under ``zygcy.gradient`` it is differentiated. The scalar
workloads take the module of scalar functions as an argument (``math`` for
the primal, ``zygcy.math`` for zygcy); the array workloads call numpy, whose
dispatch zygcy intercepts, so one function serves both. (Their ``xp``
argument lets the comparison run the same code on torch, jax.numpy,
autograd.numpy and mygrad, the way a user of each would write it.)

``WORKLOADS`` lists every workload by name; a smoke test checks that each has
an asv benchmark class and a row in the comparison (the way numpy's suite
fails when a ufunc has no benchmark).
"""
import math

import numpy as np

import zygcy

SEED = 20261122

# The sizes of the issue; benchmarks take them as asv params.
CHAIN_STEPS = 200
HORNER_DEGREE = 300
RECURSION_DEPTH = 200
DISPATCH_CALLS = 300
MLP_SHAPES = dict(batch=32, n_in=16, n_hidden=64)
ELEMENTWISE_SIZE = 10 ** 6
INDEX_SIZES = [10 ** 3, 10 ** 4]
RNN_STEPS = 1000
RNN_SHAPES = dict(n_hidden=8, n_in=4)
PARAMS_SHAPES = dict(batch=64, n_in=8)
SGD_RATE = 1e-3

WORKLOADS = ["chain", "horner", "recursion", "dispatch", "mlp", "elementwise",
             "index_loop", "rnn", "params_step"]


def rng(offset=0):
    """A fresh generator: every fixture is the same on every run."""
    return np.random.default_rng(SEED + offset)


# ---------------------------------------------------------------------------
# Scalar workloads: a float in, a float out, many tiny operations.

CHAIN_X = 0.7


def chain(x, m=math, steps=CHAIN_STEPS):
    """``acc = acc + sin(x*i) * cos(x) / i`` for i in 1..steps."""
    acc = 0.0
    for i in range(1, steps + 1):
        acc = acc + m.sin(x * i) * m.cos(x) / i
    return acc


HORNER_X = 0.9


def horner_coeffs(degree=HORNER_DEGREE):
    """Coefficients as Python floats, scaled so the polynomial stays finite at x < 1."""
    return [float(c) for c in rng(1).uniform(-1.0, 1.0, size=degree)]


def horner(x, coeffs):
    """A polynomial by Horner's rule: ``acc = acc * x + c``."""
    acc = 0.0
    for c in coeffs:
        acc = acc * x + c
    return acc


RECURSION_X = 1.001


def power_rec(x, n=RECURSION_DEPTH):
    """``x**n`` by recursion: ``1.0 if n == 0 else x * p(x, n - 1)``."""
    return 1.0 if n == 0 else x * power_rec(x, n - 1)


DISPATCH_X = 0.3


def dispatch_keys(calls=DISPATCH_CALLS):
    """A fixed sequence of keys into the table of functions."""
    names = ["sin", "cos", "tan"]
    return [names[k] for k in rng(2).integers(0, 3, size=calls)]


def dispatch_table(m=math):
    return {"sin": m.sin, "cos": m.cos, "tan": m.tan}


def dispatch(x, fs, keys):
    """A dict of functions called in a loop: ``acc = acc + fs[key](x)``."""
    acc = 0.0
    for key in keys:
        acc = acc + fs[key](x)
    return acc


# ---------------------------------------------------------------------------
# Array workloads.

def mlp_data(batch=None, n_in=None, n_hidden=None):
    """Parameters ``(W1, b1, W2, b2)`` and data ``(X, y)`` of a one-hidden-layer MLP."""
    batch = batch or MLP_SHAPES["batch"]
    n_in = n_in or MLP_SHAPES["n_in"]
    n_hidden = n_hidden or MLP_SHAPES["n_hidden"]
    r = rng(3)
    W1 = r.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)
    b1 = r.standard_normal(n_hidden) * 0.1
    W2 = r.standard_normal((n_hidden, 1)) / np.sqrt(n_hidden)
    b2 = r.standard_normal(1) * 0.1
    X = r.standard_normal((batch, n_in))
    y = r.standard_normal((batch, 1))
    return (W1, b1, W2, b2), (X, y)


def mlp_loss(W1, b1, W2, b2, X, y, xp=np):
    """Mean squared error of ``tanh(X @ W1 + b1) @ W2 + b2``."""
    h = xp.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return xp.mean((out - y) ** 2)


def elementwise_data(size=ELEMENTWISE_SIZE):
    return rng(4).standard_normal(size)


def elementwise(x, xp=np):
    """``sum(tanh(x) * exp(-x**2) + x)``: a few large elementwise operations."""
    return xp.sum(xp.tanh(x) * xp.exp(-x ** 2) + x)


def index_data(n):
    return rng(5).standard_normal(n)


def index_loop(x):
    """``sum(x[i]**2 for i in range(n))``: one scalar read of an array per step."""
    return sum(x[i] ** 2 for i in range(len(x)))


def rnn_data(steps=RNN_STEPS, n_hidden=None, n_in=None):
    """Parameters ``(W, U, b)`` and data ``(h0, xs)`` of a recurrent tanh cell."""
    n_hidden = n_hidden or RNN_SHAPES["n_hidden"]
    n_in = n_in or RNN_SHAPES["n_in"]
    r = rng(6)
    W = r.standard_normal((n_hidden, n_hidden)) * (0.5 / np.sqrt(n_hidden))
    U = r.standard_normal((n_hidden, n_in)) * (0.5 / np.sqrt(n_in))
    b = r.standard_normal(n_hidden) * 0.1
    h0 = np.zeros(n_hidden)
    xs = r.standard_normal((steps, n_in))
    return (W, U, b), (h0, xs)


def rnn_loss(W, U, b, h0, xs, xp=np):
    """``h = tanh(W @ h + U @ x_t + b)`` over the rows of ``xs``; the sum of the last ``h``."""
    h = h0
    for x_t in xs:
        h = xp.tanh(W @ h + U @ x_t + b)
    return xp.sum(h)


def params_data(batch=None, n_in=None):
    """Parameters ``(W, b)`` and data ``(X, y)`` of a linear regression."""
    batch = batch or PARAMS_SHAPES["batch"]
    n_in = n_in or PARAMS_SHAPES["n_in"]
    r = rng(7)
    W = r.standard_normal((n_in, 1)) * 0.1
    b = np.zeros(1)
    X = r.standard_normal((batch, n_in))
    y = X @ r.standard_normal((n_in, 1)) + 0.1 * r.standard_normal((batch, 1))
    return (W, b), (X, y)


def linear_loss(W, b, X, y, xp=np):
    """Mean squared error of ``X @ W + b``."""
    return xp.mean((X @ W + b - y) ** 2)


def params_model(W, b):
    """zygcy's side of the model, made once: ``W`` and ``b`` marked with
    ``zygcy.param`` (still ndarrays, sharing memory) and ``Params([W, b])``."""
    W, b = zygcy.param(W), zygcy.param(b)
    return W, b, zygcy.Params([W, b])


def params_step(ps, W, b, X, y, rate=SGD_RATE):
    """One SGD step the Zygote way: ``gs = gradient(() -> loss, ps)``, then
    ``W -= rate * gs[W]`` in place. Returns the gradients."""
    gs = zygcy.gradient(lambda: linear_loss(W, b, X, y), ps)
    gW, gb = gs[W], gs[b]
    W -= rate * gW
    b -= rate * gb
    return gW, gb


# ---------------------------------------------------------------------------
# The shape shared by the asv benchmark classes.

class _GradientSuite:
    """Times the primal, the gradient, and its forward and backward halves apart.

    A subclass's ``setup`` calls ``self.prepare(primal, f, args)``: ``primal``
    is the plain computation (no arguments), ``f(*args)`` the function
    differentiated. The leading underscore keeps asv from collecting this
    base class itself as a benchmark.
    """

    def prepare(self, primal, f, args, seed=1.0):
        self.primal, self.f, self.args, self.seed = primal, f, args, seed
        try:
            # Only time_backward needs this; an error here must not hide the primal's timing.
            _, self.back = zygcy.forward(f, *args)
            self.forward_error = None
        except Exception as e:
            self.back, self.forward_error = None, e

    def time_primal(self, *params):
        self.primal()

    def time_gradient(self, *params):
        zygcy.gradient(self.f, *self.args)

    def time_forward(self, *params):
        zygcy.forward(self.f, *self.args)

    def time_backward(self, *params):
        if self.back is None:
            raise self.forward_error
        self.back(self.seed)
