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
import gc
import math
import tracemalloc

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
SMALL_OPS_STEPS = 500       # 3 operations per step on 4-element arrays, then a sum: 1501
SMALL_OPS_SIZE = 4

WORKLOADS = ["chain", "horner", "recursion", "dispatch", "mlp", "elementwise",
             "index_loop", "rnn", "params_step", "small_ops"]


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


def small_ops_data(size=SMALL_OPS_SIZE):
    return np.linspace(0.1, 0.4, size)


def small_ops(x, steps=SMALL_OPS_STEPS, xp=np):
    """``x = x + 0.01 * tanh(x)`` ``steps`` times, then ``sum(x)``: many operations on
    tiny arrays, where numpy's own time is small and the engine's cost per operation shows."""
    for _ in range(steps):
        x = x + 0.01 * xp.tanh(x)
    return xp.sum(x)


def small_ops_count(steps=SMALL_OPS_STEPS):
    """The operations ``small_ops`` makes (each step 3, the sum 1)."""
    return 3 * steps + 1


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
# The array workloads' gradients written by hand in plain numpy: the floor any
# numpy-based AD can reach on them. Each runs the forward pass the way the
# workload writes it (an AD library has to run the user's code as written:
# the RNN's and the indexing loop's Python loops stay loops), keeps the
# intermediates its backward pass needs instead of recomputing them, and does
# the backward pass with as few numpy calls as the algebra allows. Each
# returns ``(value, gradients)``, the gradients a tuple in the order of
# zygcy.gradient's; compare.py checks them against zygcy's before timing them.

ARRAY_WORKLOADS = ["mlp", "elementwise", "index_loop", "rnn", "params_step", "small_ops"]


def mlp_grad_by_hand(W1, b1, W2, b2, X, y):
    """``mlp_loss`` and its gradient in ``(W1, b1, W2, b2)``: 4 calls forward, 10 back."""
    h = X @ W1
    h += b1
    np.tanh(h, out=h)                   # the hidden layer, kept for the backward pass
    r = h @ W2
    r += b2
    r -= y                              # the residual out - y
    n = r.size
    value = np.vdot(r, r) / n           # mean((out - y)**2), without squaring into an array
    r *= 2.0 / n                        # d value / d out
    gW2 = h.T @ r
    gb2 = r.sum(axis=0)
    dz = r @ W2.T                       # d value / d h
    h *= h
    np.subtract(1.0, h, out=h)          # tanh' = 1 - h**2, in h's buffer (h is no longer needed)
    dz *= h                             # d value / d (X @ W1 + b1)
    return value, (X.T @ dz, dz.sum(axis=0), gW2, gb2)


def elementwise_grad_by_hand(x):
    """``elementwise`` and its gradient ``exp(-x**2) * (1 - t * (t + 2x)) + 1`` (t = tanh x),
    written as plain expressions: ``tanh(x)`` and ``exp(-x**2)`` computed once, for both."""
    t = np.tanh(x)
    e = np.exp(-x * x)
    value = np.sum(t * e + x)
    return value, (e * (1.0 - t * (t + 2.0 * x)) + 1.0,)


def elementwise_grad_by_hand_inplace(x, work=None):
    """``elementwise_grad_by_hand`` with ``out=`` everywhere: three arrays the size of ``x``
    (``exp(-x**2)``, ``tanh(x)`` and the gradient) and no other temporary. ``work``, two
    arrays like ``x``, are reused for the first two if given (a training loop would keep
    them); otherwise they are allocated here, and counted in the peak memory."""
    e, t = work if work is not None else (np.empty_like(x), np.empty_like(x))
    g = np.empty_like(x)
    np.multiply(x, x, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)
    np.tanh(x, out=t)
    # sum(t*e + x) without the product array. einsum, not np.dot: BLAS's ddot is
    # threaded at this size, and on a loaded 2-core machine its threads wait on each
    # other (measured: 15 ms median against 0.3 ms idle; einsum 0.6-1 ms either way).
    value = np.einsum("i,i->", t, e) + np.sum(x)
    np.multiply(x, 2.0, out=g)
    g += t
    g *= t
    np.subtract(1.0, g, out=g)
    g *= e
    g += 1.0
    return value, (g,)


def elementwise_jvp_by_hand(x, t):
    """``elementwise`` and its derivative along ``t`` as forward mode computes it: each
    operation's tangent from its operands' (``d tanh = (1 - tanh**2) dx`` ...), written
    by hand with ``out=`` into buffers of its own wherever the operation allows (five
    arrays the size of ``x``). The floor of any forward mode that runs the program's
    operations one by one; the derivative is not simplified into the gradient."""
    h = np.tanh(x)
    dh = h * h                          # d tanh = (1 - h**2) t, in its own buffer
    np.subtract(1.0, dh, out=dh)
    dh *= t
    e = np.multiply(x, x)
    de = np.multiply(x, t)              # d (x*x) = 2 x t
    de *= 2.0
    np.negative(e, out=e)               # -(x*x): its tangent negated in place
    np.negative(de, out=de)
    np.exp(e, out=e)                    # d exp(u) = exp(u) du
    de *= e
    p = h * e                           # d (h e) = dh e + h de
    dh *= e
    de *= h
    dh += de
    p += x                              # d (p + x) = dp + t
    dh += t
    return np.sum(p), np.sum(dh)


def index_loop_grad_by_hand(x):
    """``index_loop`` (its own loop: the workload is the loop) and its gradient ``2x``,
    in one vectorized call."""
    return index_loop(x), (2.0 * x,)


def rnn_grad_by_hand(W, U, b, h0, xs):
    """``rnn_loss`` and its gradient in ``(W, U, b)`` by backpropagation through time.

    Forward: the workload's loop, each ``h`` written into a row of ``H``. Backward:
    ``1 - h**2`` for all steps at once, then a loop of two calls per step (the
    step's ``dz = dh * (1 - h**2)`` in place, ``dh = dz @ W``); the weight gradients
    are three calls at the end (``dZ.T @ H[:-1]``, ``dZ.T @ xs``, ``dZ.sum(0)``),
    not three outer products per step.
    """
    H = np.empty((len(xs) + 1, len(h0)))
    H[0] = h0
    h = h0
    for x_t, out in zip(xs, H[1:]):
        h = np.tanh(W @ h + U @ x_t + b, out=out)
    value = h.sum()
    dZ = H[1:] ** 2
    np.subtract(1.0, dZ, out=dZ)        # tanh' at every step; becomes dZ in the loop below
    dh = np.ones_like(h)
    for dz in dZ[::-1]:
        dz *= dh
        dh = dz @ W                     # W.T @ dz
    return value, (dZ.T @ H[:-1], dZ.T @ xs, dZ.sum(axis=0))


def small_ops_grad_by_hand(x, steps=SMALL_OPS_STEPS):
    """``small_ops`` (its own loop, every ``tanh`` kept) and its gradient: back through
    the steps, ``g *= 1 + 0.01 * (1 - t**2)``, in place, four calls per step."""
    ts = []
    for _ in range(steps):
        t = np.tanh(x)
        x = x + 0.01 * t
        ts.append(t)
    value = np.sum(x)
    g = np.ones_like(x)
    for t in reversed(ts):
        t *= t
        np.subtract(1.01, 0.01 * t, out=t)     # 1 + 0.01 * (1 - t**2)
        g *= t
    return value, (g,)


def linear_grad_by_hand(W, b, X, y):
    """``linear_loss`` and its gradient in ``(W, b)``."""
    r = X @ W
    r += b
    r -= y
    n = r.size
    value = np.vdot(r, r) / n
    r *= 2.0 / n
    return value, (X.T @ r, r.sum(axis=0))


def params_step_by_hand(W, b, X, y, rate=SGD_RATE):
    """``params_step`` with the hand-written gradient: the same in-place SGD update of
    ``W`` and ``b`` (plain arrays). Returns the gradients."""
    _, (gW, gb) = linear_grad_by_hand(W, b, X, y)
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


class _ByHandSuite:
    """The hand-written numpy gradient beside zygcy's, in time and in peak memory.

    An array workload's class derives from ``_GradientSuite`` and this, and its
    ``setup`` calls ``self.prepare_by_hand(fn)`` with ``fn`` a function of no
    arguments running the workload's ``*_grad_by_hand``. ``peakmem_*`` is asv's
    maximum resident memory of the whole process (interpreter, numpy, zygcy and
    the fixtures included), so it shows a large difference only on large arrays
    (elementwise). The leading underscore keeps asv from collecting it.
    """

    def prepare_by_hand(self, by_hand):
        self.by_hand = by_hand

    def time_gradient_by_hand(self, *params):
        self.by_hand()

    def peakmem_gradient(self, *params):
        zygcy.gradient(self.f, *self.args)

    def peakmem_gradient_by_hand(self, *params):
        self.by_hand()


# ---------------------------------------------------------------------------
# Forward mode and higher order (``bench_forward.py`` and ``compare.py --forward``).
#
# The jvp benchmarks reuse the workloads above (chain, Horner, recursion, the
# MLP, elementwise); these are the extra functions and fixtures of the
# Hessian-vector product, Jacobian and Hessian benchmarks. They are listed in
# FORWARD_WORKLOADS, apart from WORKLOADS (each of which is a gradient
# workload with a row in compare.py's gradient table).

FORWARD_WORKLOADS = ["jvp_chain", "jvp_horner", "jvp_recursion", "jvp_mlp", "jvp_elementwise",
                     "hvp_mlp", "hvp_elementwise", "jacobian_mlp", "forward_jacobian_wave",
                     "hessian_rosenbrock", "hessian_mlp"]

JACOBIAN_SIZE = 100                  # the R^n -> R^n MLP of jacobian
WAVE_POINTS = 1000                   # outputs of forward_jacobian (2 inputs)
WAVE_X = (3.0, 1.5)
HESSIAN_SIZE = 100                   # Rosenbrock's n
HESSIAN_MLP_SHAPES = dict(batch=32, n_in=9, n_hidden=9)    # 9*9 + 9 + 9 + 1 = 100 weights


def tangents_like(arrays, offset=20):
    """Seeded tangents (or directions), one standard normal array per array of ``arrays``."""
    r = rng(offset)
    return tuple(r.standard_normal(np.shape(a)) for a in arrays)


def mlp_flat_data(batch=None, n_in=None, n_hidden=None):
    """``theta`` (the MLP's four parameters raveled into one vector), their shapes, and ``(X, y)``."""
    params, data = mlp_data(batch=batch, n_in=n_in, n_hidden=n_hidden)
    theta = np.concatenate([p.ravel() for p in params])
    return theta, [p.shape for p in params], data


def mlp_unflatten(theta, shapes):
    """The parameters ``[W1, b1, W2, b2]`` as slices of ``theta``, reshaped."""
    out, k = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(theta[k:k + n].reshape(s))
        k += n
    return out


def mlp_flat_loss(theta, shapes, X, y, xp=np):
    """``mlp_loss`` as a function of one weight vector (what hvp and hessian take)."""
    return mlp_loss(*mlp_unflatten(theta, shapes), X, y, xp=xp)


def jacobian_mlp_data(n=JACOBIAN_SIZE):
    """``x`` and the weights ``(W1, b1, W2, b2)`` (n x n, n) of an R^n -> R^n MLP."""
    r = rng(8)
    W1 = r.standard_normal((n, n)) / np.sqrt(n)
    W2 = r.standard_normal((n, n)) / np.sqrt(n)
    b1, b2 = r.standard_normal(n) * 0.1, r.standard_normal(n) * 0.1
    return r.standard_normal(n), (W1, b1, W2, b2)


def jacobian_mlp(x, W1, b1, W2, b2, xp=np):
    """``tanh(W2 @ tanh(W1 @ x + b1) + b2)``: as many outputs as inputs."""
    return xp.tanh(W2 @ xp.tanh(W1 @ x + b1) + b2)


def wave_data(m=WAVE_POINTS):
    """``x`` (2 numbers) and the ``m`` sample points ``t``."""
    return np.array(WAVE_X), np.linspace(0.0, 1.0, m)


def wave(x, t, xp=np):
    """A damped wave sampled at ``t``: ``sin(x[0] * t) * exp(-x[1] * t)``; R^2 -> R^m."""
    return xp.sin(x[0] * t) * xp.exp(-x[1] * t)


def rosen_data(n=HESSIAN_SIZE):
    return rng(9).uniform(-1.0, 2.0, n)


def rosen(x, xp=np):
    """Rosenbrock's function as scipy.optimize.rosen writes it."""
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def peak_bytes(fn):
    """The peak of the memory allocated (and traced by tracemalloc) while ``fn()`` runs."""
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        if not was_tracing:
            tracemalloc.stop()


# Derivatives written out by hand, for checking the benchmarked results.

def chain_derivative(x, steps=CHAIN_STEPS):
    return sum((i * math.cos(x * i) * math.cos(x) - math.sin(x * i) * math.sin(x)) / i
               for i in range(1, steps + 1))


def horner_derivative(x, coeffs):
    return float(np.polyval(np.polyder(np.array(coeffs)), x))


def power_rec_derivative(x, n=RECURSION_DEPTH):
    return n * x ** (n - 1)


def mlp_loss_jvp(params, tangents, X, y):
    """The derivative of ``mlp_loss`` along ``tangents``, by hand."""
    (W1, b1, W2, b2), (dW1, db1, dW2, db2) = params, tangents
    h = np.tanh(X @ W1 + b1)
    dh = (1.0 - h ** 2) * (X @ dW1 + db1)
    out = h @ W2 + b2
    dout = dh @ W2 + h @ dW2 + db2
    return float(np.mean(2.0 * (out - y) * dout))


def elementwise_derivatives(x):
    """The first and second derivatives of each term of ``elementwise``, by hand."""
    T, E = np.tanh(x), np.exp(-x ** 2)
    s = 1.0 - T ** 2
    return s * E - 2.0 * x * T * E + 1.0, E * (-2.0 * s * T - 4.0 * x * s - 2.0 * T + 4.0 * x ** 2 * T)


def jacobian_mlp_jacobian(x, W1, b1, W2, b2):
    """The Jacobian of ``jacobian_mlp``, by hand."""
    h = np.tanh(W1 @ x + b1)
    o = np.tanh(W2 @ h + b2)
    return ((1.0 - o ** 2)[:, None] * W2) @ ((1.0 - h ** 2)[:, None] * W1)


def wave_jacobian(x, t):
    """The m x 2 Jacobian of ``wave``, by hand."""
    s, c, e = np.sin(x[0] * t), np.cos(x[0] * t), np.exp(-x[1] * t)
    return np.stack([t * c * e, -t * s * e], axis=-1)


def rosen_hessian(x):
    """Rosenbrock's Hessian: scipy.optimize.rosen_hess where scipy is installed, else by hand."""
    try:
        from scipy.optimize import rosen_hess
        return rosen_hess(x)
    except ImportError:
        pass
    n = len(x)
    H = np.zeros((n, n))
    i = np.arange(n - 1)
    H[i, i + 1] = H[i + 1, i] = -400.0 * x[:-1]
    d = np.zeros(n)
    d[:-1] += 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    d[1:] += 200.0
    H[np.arange(n), np.arange(n)] = d
    return H
