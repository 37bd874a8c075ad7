"""zygcy side by side with the libraries users would pick instead.

Runs every workload of ``benchmarks/common.py`` in one process: the plain
primal, zygcy, and each peer that is installed -- PyTorch (CPU), JAX (eager,
and ``jit`` with the compile time measured apart), autograd, mygrad and
micrograd. A peer that is not installed is a skipped column, never an error.
The array workloads also have their gradient written by hand in plain numpy
(``numpy_by_hand``; ``numpy_by_hand_inplace``, with ``out=`` everywhere, for
elementwise), the floor of any numpy-based AD: the column ``zygcy / by hand``
is zygcy's time over it, and for elementwise a table gives the peak memory
(tracemalloc) of one call of each numpy-based column.

The header names the numpy kernels that run (numpy's build and BLAS, its SIMD
extensions, the BLAS loaded, via threadpoolctl) and warns if
OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is set: run with both unset,
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/compare.py``.

Before a cell is timed its gradient is compared with zygcy's (``np.allclose``);
a mismatch marks the cell ``wrong``, never fast (the hand-written value is
also checked against the primal's). A library without the
operations a workload needs (micrograd has no sin, cos, tanh or exp) shows
``n/a``; one that raises shows ``error: <message>``. A library whose first call
took over ``TOO_SLOW`` seconds is ``skipped`` on the larger sizes of that workload.

Every time is the median of repeats of about 10 ms, taken in rounds that
give each library a turn (see ``time_row``), with the garbage collector on as
in a user's program. Every array is float64 (JAX runs with ``jax_enable_x64``).

Usage::

    python asv_benchmarks/compare.py --out asv_benchmarks/results_table.md \\
        --png asv_benchmarks/comparison.png
    python asv_benchmarks/compare.py --quick            # tiny sizes, one run each
    python asv_benchmarks/compare.py --only chain,mlp --libs zygcy,torch
    python asv_benchmarks/compare.py --only mlp,elementwise --libs zygcy,numpy_by_hand,numpy_by_hand_inplace
    python asv_benchmarks/compare.py --forward          # jvp, hvp, jacobian, hessian ratios
    python asv_benchmarks/compare.py --forward --only hessian --libs zygcy,autograd,jax

``--forward`` runs the forward-mode and higher-order section instead of the
gradient table (see "Forward mode and higher order" below): each row a ratio
with its target, every result checked first, and the Hessians beside
autograd's and JAX's (eager) where those are installed.
"""
import argparse
import contextlib
import datetime
import gc
import math
import os
import platform
import statistics
import sys
import time
import types

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks import common as C  # noqa: E402

EAGER = ["zygcy", "torch", "jax", "autograd", "mygrad", "micrograd"]
COMPILED = ["jax.jit"]
# The array workloads' gradients written by hand in plain numpy (common.py's
# *_grad_by_hand): the floor any numpy-based AD can reach. The in-place
# variant (out= everywhere) exists for elementwise only.
BY_HAND = ["numpy_by_hand", "numpy_by_hand_inplace"]
LIBRARIES = ["primal"] + BY_HAND + EAGER + COMPILED
# The module behind each column, for the versions line.
MODULES = {"primal": "numpy", "zygcy": "zygcy", "torch": "torch", "jax": "jax",
           "jax.jit": "jax", "autograd": "autograd", "mygrad": "mygrad",
           "micrograd": "micrograd", "numpy_by_hand": "numpy", "numpy_by_hand_inplace": "numpy"}
# Column headings where they differ from the names --libs takes.
NAMES = {"numpy_by_hand": "numpy (by hand)", "numpy_by_hand_inplace": "numpy (by hand, in place)"}
RATIO_COLUMN = "zygcy / by hand"
# Libraries whose arrays are numpy's, so that tracemalloc sees them: the peak
# memory table (torch and jax allocate outside tracemalloc's view).
NUMPY_BASED = ["primal"] + BY_HAND + ["zygcy", "autograd", "mygrad"]
PEAK_WORKLOADS = ["elementwise"]
# Set in the environment, these make OpenBLAS use other kernels (or another
# cache size) than the ones it detects for this CPU.
BLAS_ENV = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"]
CLEAN_COMMAND = "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python asv_benchmarks/compare.py"


# A library whose first call (with compilation) on a row took longer than this
# is not run on the larger sizes of the same workload: at 10x the size it
# would take minutes (jax and jax.jit at n=10^4, whose costs grow faster
# than the size).
TOO_SLOW = 10.0


class NotApplicable(Exception):
    """The library lacks an operation the workload needs (said in the message)."""


class WrongResult(Exception):
    """A maker's own check failed (the hand-written value differs from the primal's)."""


def name(lib):
    return NAMES.get(lib, lib)


# ---------------------------------------------------------------------------
# The rows: a workload at one size, and its data.

def rows(quick):
    """``(row label, workload name, data factory)`` for every row of the table.

    The factory is called once per library, so a library that updates its
    parameters in place (the Params step) never disturbs another's data.
    """
    def small(full, tiny):
        return tiny if quick else full

    steps, degree, depth, calls = (small(n, 20) for n in (C.CHAIN_STEPS, C.HORNER_DEGREE,
                                                          C.RECURSION_DEPTH, C.DISPATCH_CALLS))
    n_elem = small(C.ELEMENTWISE_SIZE, 1000)
    n_index = [small(n, n // 100) for n in C.INDEX_SIZES]
    rnn_steps = small(C.RNN_STEPS, 20)
    ops_steps = small(C.SMALL_OPS_STEPS, 20)
    out = [
        ("chain (200 steps)" if not quick else "chain", "chain",
         lambda: types.SimpleNamespace(x=C.CHAIN_X, steps=steps)),
        ("Horner (degree 300)" if not quick else "Horner", "horner",
         lambda: types.SimpleNamespace(x=C.HORNER_X, coeffs=C.horner_coeffs(degree))),
        ("recursion (n=200)" if not quick else "recursion", "recursion",
         lambda: types.SimpleNamespace(x=C.RECURSION_X, n=depth)),
        ("dict dispatch (300 calls)" if not quick else "dict dispatch", "dispatch",
         lambda: types.SimpleNamespace(x=C.DISPATCH_X, keys=C.dispatch_keys(calls))),
        ("MLP (32x16 -> 64 -> 1)" if not quick else "MLP", "mlp",
         lambda: _ns(*C.mlp_data(batch=small(None, 4)), names="W1 b1 W2 b2 / X y")),
        ("elementwise (10^6)" if not quick else "elementwise", "elementwise",
         lambda: types.SimpleNamespace(x=C.elementwise_data(n_elem))),
    ]
    for n in n_index:
        out.append(("scalar indexing (n=%d)" % n, "index_loop",
                    lambda n=n: types.SimpleNamespace(x=C.index_data(n))))
    out += [
        ("RNN (1000 steps, 8x4)" if not quick else "RNN", "rnn",
         lambda: _ns(*C.rnn_data(steps=rnn_steps), names="W U b / h0 xs")),
        ("Params SGD step (64x8)" if not quick else "Params SGD step", "params_step",
         lambda: _ns(*C.params_data(batch=small(None, 4)), names="W b / X y")),
        ("small-array ops (%d on 4 elements)" % C.small_ops_count(ops_steps), "small_ops",
         lambda: types.SimpleNamespace(x=C.small_ops_data(), steps=ops_steps)),
    ]
    return out


def _ns(params, data, names):
    pnames, dnames = (part.split() for part in names.split("/"))
    d = types.SimpleNamespace(**dict(zip(pnames, params)), **dict(zip(dnames, data)))
    d.params = list(pnames)
    return d


# ---------------------------------------------------------------------------
# Each library's code. A maker takes the data and returns a function of no
# arguments that computes the gradient (the value, for the primal) and
# returns it as a tuple of plain arrays or numbers.

def primal_makers():
    return {
        "chain": lambda d: lambda: C.chain(d.x, math, d.steps),
        "horner": lambda d: lambda: C.horner(d.x, d.coeffs),
        "recursion": lambda d: lambda: C.power_rec(d.x, d.n),
        "dispatch": lambda d: _bind(C.dispatch, d.x, C.dispatch_table(math), d.keys),
        "mlp": lambda d: _bind(C.mlp_loss, d.W1, d.b1, d.W2, d.b2, d.X, d.y),
        "elementwise": lambda d: _bind(C.elementwise, d.x),
        "index_loop": lambda d: _bind(C.index_loop, d.x),
        "rnn": lambda d: _bind(C.rnn_loss, d.W, d.U, d.b, d.h0, d.xs),
        "params_step": lambda d: _bind(C.linear_loss, d.W, d.b, d.X, d.y),
        "small_ops": lambda d: _bind(C.small_ops, d.x, d.steps),
    }


def _bind(f, *args):
    return lambda: f(*args)


def zygcy_makers():
    import zygcy

    def scalar(f):
        return lambda d: lambda: zygcy.gradient(lambda x: f(x, d), d.x)

    def arrays(f):
        return lambda d: lambda: zygcy.gradient(lambda *p: f(d, *p), *[getattr(d, n) for n in d.params])

    def params_step(d):
        W, b, ps = C.params_model(d.W, d.b)
        return lambda: C.params_step(ps, W, b, d.X, d.y)

    tracked = zygcy.math
    return {
        "chain": scalar(lambda x, d: C.chain(x, tracked, d.steps)),
        "horner": scalar(lambda x, d: C.horner(x, d.coeffs)),
        "recursion": scalar(lambda x, d: C.power_rec(x, d.n)),
        "dispatch": lambda d: (lambda fs: lambda: zygcy.gradient(
            lambda x: C.dispatch(x, fs, d.keys), d.x))(C.dispatch_table(tracked)),
        "mlp": arrays(lambda d, *p: C.mlp_loss(*p, d.X, d.y)),
        "elementwise": lambda d: lambda: zygcy.gradient(C.elementwise, d.x),
        "index_loop": lambda d: lambda: zygcy.gradient(C.index_loop, d.x),
        "rnn": arrays(lambda d, *p: C.rnn_loss(*p, d.h0, d.xs)),
        "params_step": params_step,
        "small_ops": lambda d: lambda: zygcy.gradient(lambda x: C.small_ops(x, d.steps), d.x),
    }


def torch_makers():
    import torch

    def leaf(v):
        return torch.tensor(v, dtype=torch.float64, requires_grad=True)

    def const(v):
        return torch.as_tensor(v, dtype=torch.float64)

    def backprop(f, leaves):
        """The idiom: clear .grad, run forward, call .backward(), read .grad."""
        def run():
            for t in leaves:
                t.grad = None
            f(*leaves).backward()
            return tuple(t.grad.numpy() for t in leaves)
        return run

    def scalar(f):
        return lambda d: backprop(lambda x: f(x, d), [leaf(d.x)])

    def params_step(d):
        W, b, X, y = leaf(d.W), leaf(d.b), const(d.X), const(d.y)
        opt = torch.optim.SGD([W, b], lr=C.SGD_RATE)

        def run():
            opt.zero_grad()
            loss = C.linear_loss(W, b, X, y, xp=torch)
            loss.backward()
            grads = (W.grad.numpy().copy(), b.grad.numpy().copy())
            opt.step()
            return grads
        return run

    return {
        "chain": scalar(lambda x, d: C.chain(x, torch, d.steps)),
        "horner": scalar(lambda x, d: C.horner(x, d.coeffs)),
        "recursion": scalar(lambda x, d: C.power_rec(x, d.n)),
        "dispatch": scalar(lambda x, d: C.dispatch(x, C.dispatch_table(torch), d.keys)),
        "mlp": lambda d: backprop(lambda *p: C.mlp_loss(*p, const(d.X), const(d.y), xp=torch),
                                  [leaf(getattr(d, n)) for n in d.params]),
        "elementwise": lambda d: backprop(lambda x: C.elementwise(x, xp=torch), [leaf(d.x)]),
        "index_loop": lambda d: backprop(C.index_loop, [leaf(d.x)]),
        "rnn": lambda d: (lambda h0, xs: backprop(lambda *p: C.rnn_loss(*p, h0, xs, xp=torch),
                                                  [leaf(getattr(d, n)) for n in d.params]))(
            const(d.h0), const(d.xs)),
        "params_step": params_step,
        "small_ops": lambda d: backprop(lambda x: C.small_ops(x, d.steps, xp=torch), [leaf(d.x)]),
    }


def _jax():
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    return jax, jnp


def _jax_functions(jax, jnp):
    """Each workload as ``(loss, the arguments differentiated, the others)`` for JAX."""
    def scalar(f):
        return lambda d: (lambda x: f(x, d), (d.x,), ())

    def arrays(f):
        return lambda d: (lambda *a: f(*a), tuple(jnp.asarray(getattr(d, n)) for n in d.params), None)

    return {
        "chain": scalar(lambda x, d: C.chain(x, jnp, d.steps)),
        "horner": scalar(lambda x, d: C.horner(x, d.coeffs)),
        "recursion": scalar(lambda x, d: C.power_rec(x, d.n)),
        "dispatch": scalar(lambda x, d: C.dispatch(x, C.dispatch_table(jnp), d.keys)),
        "mlp": lambda d: (lambda W1, b1, W2, b2, X, y: C.mlp_loss(W1, b1, W2, b2, X, y, xp=jnp),
                          tuple(jnp.asarray(getattr(d, n)) for n in d.params),
                          (jnp.asarray(d.X), jnp.asarray(d.y))),
        "elementwise": lambda d: (lambda x: C.elementwise(x, xp=jnp), (jnp.asarray(d.x),), ()),
        "index_loop": lambda d: (C.index_loop, (jnp.asarray(d.x),), ()),
        "rnn": lambda d: (lambda W, U, b, h0, xs: C.rnn_loss(W, U, b, h0, xs, xp=jnp),
                          tuple(jnp.asarray(getattr(d, n)) for n in d.params),
                          (jnp.asarray(d.h0), jnp.asarray(d.xs))),
        "small_ops": lambda d: (lambda x: C.small_ops(x, d.steps, xp=jnp), (jnp.asarray(d.x),), ()),
    }


def _jax_params_step(jax, jnp, d, compiled):
    """The JAX idiom: parameters in a dict, ``jax.grad`` of the loss, a tree-mapped update."""
    state = {"params": {"W": jnp.asarray(d.W), "b": jnp.asarray(d.b)}}
    X, y = jnp.asarray(d.X), jnp.asarray(d.y)

    def loss(params, X, y):
        return C.linear_loss(params["W"], params["b"], X, y, xp=jnp)

    def step(params, X, y):
        grads = jax.grad(loss)(params, X, y)
        new = jax.tree.map(lambda p, g: p - C.SGD_RATE * g, params, grads)
        return new, grads

    if compiled:
        step = jax.jit(step).lower(state["params"], X, y).compile()

    def run():
        state["params"], grads = step(state["params"], X, y)
        jax.block_until_ready(state["params"])
        return (np.asarray(grads["W"]), np.asarray(grads["b"]))
    return run


def jax_makers():
    jax, jnp = _jax()
    functions = _jax_functions(jax, jnp)

    def eager(name):
        def make(d):
            f, wrt, rest = functions[name](d)
            g = jax.grad(f, argnums=tuple(range(len(wrt))))

            def run():
                return tuple(np.asarray(v) for v in jax.block_until_ready(g(*wrt, *rest)))
            return run
        return make

    makers = {name: eager(name) for name in functions}
    makers["params_step"] = lambda d: _jax_params_step(jax, jnp, d, compiled=False)
    return makers


def jax_jit_makers():
    """``jax.jit(jax.grad(f))``, compiled ahead of timing by ``.lower(...).compile()``;
    the compile time is measured by ``run_cell`` around the maker call and shown apart."""
    jax, jnp = _jax()
    functions = _jax_functions(jax, jnp)

    def jitted(name):
        def make(d):
            f, wrt, rest = functions[name](d)
            if name in ("chain", "horner", "recursion", "dispatch"):
                wrt = tuple(jnp.asarray(v) for v in wrt)
            g = jax.jit(jax.grad(f, argnums=tuple(range(len(wrt))))).lower(*wrt, *rest).compile()

            def run():
                return tuple(np.asarray(v) for v in jax.block_until_ready(g(*wrt, *rest)))
            return run
        return make

    def rnn_scan(W, U, b, h0, xs):
        # Under jit the idiom is lax.scan: a Python loop would be unrolled
        # into 1000 copies of the cell and take minutes to compile.
        def cell(h, x_t):
            return jnp.tanh(W @ h + U @ x_t + b), None
        h, _ = jax.lax.scan(cell, h0, xs)
        return jnp.sum(h)

    functions["rnn"] = lambda d: (rnn_scan, tuple(jnp.asarray(getattr(d, n)) for n in d.params),
                                  (jnp.asarray(d.h0), jnp.asarray(d.xs)))

    def small_ops_loop(steps):
        # as the RNN: a loop under jit is written with lax, not unrolled
        def f(x):
            return jnp.sum(jax.lax.fori_loop(0, steps, lambda i, x: x + 0.01 * jnp.tanh(x), x))
        return f

    functions["small_ops"] = lambda d: (small_ops_loop(d.steps), (jnp.asarray(d.x),), ())
    makers = {name: jitted(name) for name in functions}
    makers["params_step"] = lambda d: _jax_params_step(jax, jnp, d, compiled=True)
    return makers


def autograd_makers():
    import autograd
    import autograd.numpy as anp

    def scalar(f):
        return lambda d: _bind(lambda g: (g(d.x),), autograd.grad(lambda x: f(x, d)))

    def arrays(f):
        def make(d):
            wrt = [getattr(d, n) for n in d.params]
            g = autograd.grad(lambda *p: f(d, *p), argnum=tuple(range(len(wrt))))
            return lambda: g(*wrt)
        return make

    def params_step(d):
        params = {"W": d.W, "b": d.b}
        g = autograd.grad(lambda p: C.linear_loss(p["W"], p["b"], d.X, d.y, xp=anp))

        def run():
            grads = g(params)
            for k in params:
                params[k] -= C.SGD_RATE * grads[k]
            return (grads["W"], grads["b"])
        return run

    return {
        "chain": scalar(lambda x, d: C.chain(x, anp, d.steps)),
        "horner": scalar(lambda x, d: C.horner(x, d.coeffs)),
        "recursion": scalar(lambda x, d: C.power_rec(x, d.n)),
        "dispatch": scalar(lambda x, d: C.dispatch(x, C.dispatch_table(anp), d.keys)),
        "mlp": arrays(lambda d, *p: C.mlp_loss(*p, d.X, d.y, xp=anp)),
        "elementwise": lambda d: _bind(lambda g: (g(d.x),), autograd.grad(lambda x: C.elementwise(x, xp=anp))),
        "index_loop": lambda d: _bind(lambda g: (g(d.x),), autograd.grad(C.index_loop)),
        "rnn": arrays(lambda d, *p: C.rnn_loss(*p, d.h0, d.xs, xp=anp)),
        "params_step": params_step,
        "small_ops": lambda d: _bind(lambda g: (g(d.x),), autograd.grad(lambda x: C.small_ops(x, d.steps, xp=anp))),
    }


def mygrad_makers():
    import mygrad as mg

    def backprop(f, leaves):
        def run():
            f(*leaves).backward()
            return tuple(np.array(t.grad) for t in leaves)
        return run

    def scalar(f):
        return lambda d: backprop(lambda x: f(x, d), [mg.tensor(d.x)])

    def arrays(f):
        return lambda d: backprop(lambda *p: f(d, *p), [mg.tensor(getattr(d, n)) for n in d.params])

    def params_step(d):
        W, b = mg.tensor(d.W), mg.tensor(d.b)

        def run():
            C.linear_loss(W, b, d.X, d.y, xp=mg).backward()
            grads = (np.array(W.grad), np.array(b.grad))
            W.data -= C.SGD_RATE * W.grad
            b.data -= C.SGD_RATE * b.grad
            return grads
        return run

    return {
        "chain": scalar(lambda x, d: C.chain(x, mg, d.steps)),
        "horner": scalar(lambda x, d: C.horner(x, d.coeffs)),
        "recursion": scalar(lambda x, d: C.power_rec(x, d.n)),
        "dispatch": scalar(lambda x, d: C.dispatch(x, C.dispatch_table(mg), d.keys)),
        "mlp": arrays(lambda d, *p: C.mlp_loss(*p, d.X, d.y, xp=mg)),
        "elementwise": lambda d: backprop(lambda x: C.elementwise(x, xp=mg), [mg.tensor(d.x)]),
        "index_loop": lambda d: backprop(C.index_loop, [mg.tensor(d.x)]),
        "rnn": arrays(lambda d, *p: C.rnn_loss(*p, d.h0, d.xs, xp=mg)),
        "params_step": params_step,
        "small_ops": lambda d: backprop(lambda x: C.small_ops(x, d.steps, xp=mg), [mg.tensor(d.x)]),
    }


def micrograd_makers():
    """micrograd's ``Value`` has +, -, *, /, ** and relu: enough for the polynomial,
    the recursion, the indexing loop and a linear model, not for sin, cos, tanh or exp."""
    from micrograd.engine import Value

    def scalar(f):
        def make(d):
            def run():
                x = Value(d.x)
                f(x, d).backward()
                return (x.grad,)
            return run
        return make

    def index_loop(d):
        xs = [Value(float(v)) for v in d.x]

        def run():
            for v in xs:
                v.grad = 0.0
            with _recursion_limit(10 * len(xs) + 1000):   # its backward() recurses once per node
                C.index_loop(xs).backward()
            return (np.array([v.grad for v in xs]),)
        return run

    def params_step(d):
        W = [Value(float(v)) for v in d.W[:, 0]]
        b = Value(float(d.b[0]))
        X, y = d.X.tolist(), d.y[:, 0].tolist()

        def run():
            for p in W + [b]:
                p.grad = 0.0
            loss = sum((sum(w * xij for w, xij in zip(W, xi)) + b - yi) ** 2
                       for xi, yi in zip(X, y)) / len(X)
            loss.backward()
            grads = (np.array([[w.grad] for w in W]), np.array([b.grad]))
            for p in W + [b]:
                p.data -= C.SGD_RATE * p.grad
            return grads
        return run

    def lacks(what):
        def make(d):
            raise NotApplicable("micrograd has no " + what)
        return make

    return {
        "chain": lacks("sin or cos"),
        "horner": scalar(lambda x, d: C.horner(x, d.coeffs)),
        "recursion": scalar(lambda x, d: C.power_rec(x, d.n)),
        "dispatch": lacks("sin, cos or tan"),
        "mlp": lacks("tanh"),
        "elementwise": lacks("tanh or exp"),
        "index_loop": index_loop,
        "rnn": lacks("tanh"),
        "params_step": params_step,
        "small_ops": lacks("tanh or arrays"),
    }


def _by_hand(grad, primal, args, step=None):
    """A maker for a hand-written gradient: ``grad(*args(d))`` returns ``(value, grads)``.

    The maker checks the value against ``primal(*args(d))`` once (``WrongResult``
    if they differ; the gradients are checked against zygcy's by ``run``) and
    returns the function timed, which returns the gradients; ``step(d)``, if
    given, is that function instead (the Params step, which updates ``d`` in place).
    """
    def make(d):
        a = args(d)
        value, want = grad(*a)[0], primal(*a)
        if not np.allclose(value, want, rtol=1e-9, atol=1e-12):
            raise WrongResult("value %r, the primal's %r" % (float(value), float(want)))
        if step is not None:
            return step(d)
        return lambda: grad(*a)[1]
    return make


def by_hand_makers():
    """The array workloads' gradients written by hand in numpy (common.py's ``*_grad_by_hand``).
    No entry for the scalar workloads: their cells stay blank."""
    return {
        "mlp": _by_hand(C.mlp_grad_by_hand, C.mlp_loss, lambda d: (d.W1, d.b1, d.W2, d.b2, d.X, d.y)),
        "elementwise": _by_hand(C.elementwise_grad_by_hand, C.elementwise, lambda d: (d.x,)),
        "index_loop": _by_hand(C.index_loop_grad_by_hand, C.index_loop, lambda d: (d.x,)),
        "rnn": _by_hand(C.rnn_grad_by_hand, C.rnn_loss, lambda d: (d.W, d.U, d.b, d.h0, d.xs)),
        "small_ops": _by_hand(C.small_ops_grad_by_hand, C.small_ops, lambda d: (d.x, d.steps)),
        "params_step": _by_hand(C.linear_grad_by_hand, C.linear_loss, lambda d: (d.W, d.b, d.X, d.y),
                                step=lambda d: lambda: C.params_step_by_hand(d.W, d.b, d.X, d.y)),
    }


def by_hand_inplace_makers():
    """``elementwise_grad_by_hand_inplace``: ``out=`` everywhere, three arrays the size of
    ``x``, allocated in each call (so that its peak memory counts them)."""
    return {"elementwise": _by_hand(C.elementwise_grad_by_hand_inplace, C.elementwise,
                                    lambda d: (d.x,))}


MAKERS = {"primal": primal_makers, "zygcy": zygcy_makers, "torch": torch_makers,
          "jax": jax_makers, "jax.jit": jax_jit_makers, "autograd": autograd_makers,
          "mygrad": mygrad_makers, "micrograd": micrograd_makers,
          "numpy_by_hand": by_hand_makers, "numpy_by_hand_inplace": by_hand_inplace_makers}


@contextlib.contextmanager
def _recursion_limit(n):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, n))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


# ---------------------------------------------------------------------------
# Timing and checking

def time_row(fns, quick, rounds=3, block=0.3, sample=0.01, max_repeats=10):
    """Median seconds per call of each function of ``fns`` (a dict; all warmed up).

    The functions take turns in ``rounds`` rounds, so that a change in the
    machine's load (it is shared) falls on all of them alike. In its turn a
    function first runs once untimed -- the library before it may have left
    the allocator and caches in a state that slows the next call (measured:
    up to 2x after autograd's or mygrad's large temporaries) -- and then runs
    repeats of ``number`` calls each, ``number`` chosen so that a repeat lasts
    about ``sample`` seconds, as many repeats as fit in ``block`` seconds.
    """
    if quick:
        rounds = 1
    number, repeats = {}, {}
    for k, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        once = max(time.perf_counter() - t0, 1e-9)
        number[k] = 1 if quick else max(1, int(sample / once))
        repeats[k] = 1 if quick else int(min(max(block / (once * number[k]), 1), max_repeats))
    samples = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            gc.collect()
            if not quick:
                fn()
            n = number[k]
            for _ in range(repeats[k]):
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[k].append((time.perf_counter() - t0) / n)
    return {k: statistics.median(v) for k, v in samples.items()}


def as_arrays(grads):
    """A gradient as a list of float64 arrays, whatever library made it."""
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    out = []
    for g in grads:
        if hasattr(g, "detach"):             # torch
            g = g.detach().numpy()
        g = getattr(g, "data", g) if type(g).__module__.startswith("mygrad") else g
        out.append(np.asarray(g, dtype=np.float64))
    return out


def max_error(got, ref):
    """``None`` when the gradients agree (np.allclose), else the largest absolute difference."""
    got, ref = as_arrays(got), as_arrays(ref)
    if len(got) != len(ref):
        return math.inf
    worst = 0.0
    ok = True
    for g, r in zip(got, ref):
        if g.shape != r.shape and g.size == r.size:
            g = g.reshape(r.shape)
        if g.shape != r.shape:
            return math.inf
        if not np.allclose(g, r, rtol=1e-6, atol=1e-9):
            ok = False
            worst = max(worst, float(np.max(np.abs(g - r))))
    return None if ok else worst


class Cell:
    """One library on one row: a time, or why there is none."""

    def __init__(self, seconds=None, status="ok", note="", compile_seconds=None, grads=None):
        self.seconds, self.status, self.note = seconds, status, note
        self.compile_seconds, self.grads = compile_seconds, grads
        self.peak = None        # tracemalloc's peak of one call, in bytes (PEAK_WORKLOADS)

    def timed(self):
        return self.status == "ok" and self.seconds is not None


def short(e):
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    msg = "%s: %s" % (type(e).__name__, msg) if msg else type(e).__name__
    return msg if len(msg) <= 90 else msg[:87] + "..."


def run_cell(makers, workload, factory, quick):
    """Build, warm up (the warm-up's gradient is the one checked), and time."""
    try:
        maker, data = makers[workload], factory()
        gc.collect()
        t0 = time.perf_counter()
        fn = maker(data)
        build = time.perf_counter() - t0
        grads = fn()
    except NotApplicable as e:
        return Cell(status="n/a", note=str(e))
    except WrongResult as e:
        return Cell(status="wrong", note=str(e))
    except Exception as e:
        return Cell(status="error", note=short(e))
    cell = Cell(grads=grads, compile_seconds=build)
    cell.fn = fn
    cell.cost = time.perf_counter() - t0
    return cell


def run(libraries, only, quick, log=print):
    """Every row for every library: ``(rows, {(label, library): Cell}, reference notes)``."""
    available = {}
    for lib in libraries:
        try:
            available[lib] = MAKERS[lib]()
        except ImportError as e:
            log("  %-9s not installed (%s): column skipped" % (lib, e.name or e))
    table_rows = [r for r in rows(quick) if not only or r[1] in only]
    cells, notes, cost = {}, [], {}
    for label, workload, factory in table_rows:
        log("%s" % label)
        built = {}
        for lib, m in available.items():
            if workload not in m:       # the hand-written columns: array workloads only
                continue
            prev = cost.get((workload, lib))
            if prev is not None and prev[1] > TOO_SLOW and not quick:
                built[lib] = Cell(status="skipped", note="the first call took %s at %s" % (
                    fmt_time(prev[1]), prev[0]))
                continue
            built[lib] = run_cell(m, workload, factory, quick)
            cost[workload, lib] = (label, getattr(built[lib], "cost", 0.0))
        ref_lib = next((lib for lib in ["zygcy"] + EAGER + COMPILED + BY_HAND
                        if lib in built and built[lib].status == "ok"), None)
        if ref_lib not in (None, "zygcy") and workload != "primal":
            notes.append("%s: zygcy failed, so gradients were checked against %s" % (label, ref_lib))
        for lib, cell in built.items():
            if lib != "primal" and cell.status == "ok" and ref_lib is not None:
                err = max_error(cell.grads, built[ref_lib].grads)
                if err is not None:
                    cell.status, cell.note = "wrong", "gradient differs by %.3g" % err
        timed = {lib: cell for lib, cell in built.items() if cell.status == "ok"}
        try:
            times = time_row({lib: cell.fn for lib, cell in timed.items()}, quick)
        except Exception:     # a call that worked once, then failed: time each alone
            times = {}
            for lib, cell in timed.items():
                try:
                    times[lib] = time_row({lib: cell.fn}, quick)[lib]
                except Exception as e:
                    cell.status, cell.note = "error", short(e)
        if workload in PEAK_WORKLOADS:
            for lib, cell in timed.items():
                if lib in NUMPY_BASED and cell.status == "ok":
                    try:
                        cell.fn()       # caches warm, outside the measurement
                        cell.peak = min(C.peak_bytes(cell.fn) for _ in range(1 if quick else 2))
                    except Exception as e:
                        log("  %-9s peak memory not measured: %s" % (lib, short(e)))
        for lib, cell in built.items():
            cell.fn = None
            if lib in times:
                cell.seconds = times[lib]
            cells[label, lib] = cell
            log("  %-9s %s%s" % (lib, describe(cell, built.get("primal"), lib),
                                 ", peak %s" % fmt_bytes(cell.peak) if cell.peak is not None else ""))
    return table_rows, cells, notes


# ---------------------------------------------------------------------------
# Reporting

def fmt_time(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return "%.3g %s" % (s / scale, unit)
    return "%.3g ns" % (s / 1e-9)


def describe(cell, primal, lib):
    if cell.status in ("n/a", "skipped"):
        return "%s (%s)" % (cell.status, cell.note)
    if cell.status in ("error", "wrong"):
        return "%s: %s" % (cell.status, cell.note)
    text = fmt_time(cell.seconds)
    if lib != "primal" and primal is not None and primal.timed():
        text += " (%.3gx)" % (cell.seconds / primal.seconds)
    return text


def ratio(cells, label, lib):
    c, p = cells.get((label, lib)), cells.get((label, "primal"))
    if c is None or p is None or not c.timed() or not p.timed():
        return None
    return c.seconds / p.seconds


def by_hand_ratio(cells, label):
    """The text of the ``zygcy / by hand`` column: zygcy's time over the hand-written
    gradient's (and over the in-place variant's, where there is one); "" if neither ran."""
    z = cells.get((label, "zygcy"))
    hands = [(lib, cells[label, lib]) for lib in BY_HAND if (label, lib) in cells]
    if not hands:
        return ""
    wrong = [name(lib) for lib, c in hands if c.status == "wrong"]
    if wrong:
        return "wrong (%s: see its cell)" % ", ".join(wrong)
    if z is None or not z.timed():
        return ""
    parts = ["%.3gx" % (z.seconds / c.seconds) for lib, c in hands if lib == "numpy_by_hand" and c.timed()]
    parts += ["%.3gx in place" % (z.seconds / c.seconds) for lib, c in hands
              if lib == "numpy_by_hand_inplace" and c.timed()]
    if not parts:
        return ""
    return parts[0] + (" (%s)" % ", ".join(parts[1:]) if len(parts) > 1 else "")


def table_columns(table_rows, cells, libraries):
    """The libraries with a cell, and the ratio column after zygcy and the hand-written ones."""
    cols = [lib for lib in libraries if any((r[0], lib) in cells for r in table_rows)]
    if "zygcy" in cols and any(lib in cols for lib in BY_HAND):
        at = max(cols.index(lib) for lib in ["zygcy"] + BY_HAND if lib in cols)
        cols.insert(at + 1, RATIO_COLUMN)
    return cols


def markdown_table(table_rows, cells, libraries):
    cols = table_columns(table_rows, cells, libraries)
    head = "| workload | " + " | ".join(name(c) for c in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for label, _, _ in table_rows:
        out = []
        for lib in cols:
            c = cells.get((label, lib))
            if lib == RATIO_COLUMN:
                out.append(by_hand_ratio(cells, label))
                continue
            out.append("" if c is None else describe(c, cells.get((label, "primal")), lib).replace("|", "\\|"))
        lines.append("| %s | %s |" % (label, " | ".join(out)))
    return lines


def by_hand_summary(table_rows, cells):
    """One line: zygcy's time over the hand-written numpy gradient's, per row."""
    parts = ["%s %s" % (label, r) for label, _, _ in table_rows for r in [by_hand_ratio(cells, label)] if r]
    return "zygcy / numpy by hand: " + "; ".join(parts) if parts else None


def peak_lines(table_rows, cells, libraries):
    """The peak memory table (tracemalloc, one call) of the rows in PEAK_WORKLOADS."""
    labels = [label for label, w, _ in table_rows if w in PEAK_WORKLOADS
              and any(getattr(cells.get((label, lib)), "peak", None) is not None for lib in libraries)]
    if not labels:
        return []
    cols = [lib for lib in libraries if any(getattr(cells.get((lab, lib)), "peak", None) is not None
                                            for lab in labels)]
    with_ratio = "zygcy" in cols and any(lib in cols for lib in BY_HAND)
    lines = ["| peak memory of one call | " + " | ".join(name(c) for c in cols)
             + (" | %s |" % RATIO_COLUMN if with_ratio else " |"), "|" + "---|" * (len(cols) + 1 + with_ratio)]
    for label in labels:
        peaks = {lib: cells[label, lib].peak for lib in cols
                 if (label, lib) in cells and cells[label, lib].peak is not None}
        p = peaks.get("primal")
        out = ["" if lib not in peaks else fmt_bytes(peaks[lib]) + (
            " (%.3gx)" % (peaks[lib] / p) if p and lib != "primal" else "") for lib in cols]
        if with_ratio:
            z = peaks.get("zygcy")
            r = ["%.3gx%s" % (z / peaks[lib], " in place" if lib == "numpy_by_hand_inplace" else "")
                 for lib in BY_HAND if z and peaks.get(lib)]
            out.append(r[0] + (" (%s)" % ", ".join(r[1:]) if len(r) > 1 else "") if r else "")
        lines.append("| %s | %s |" % (label, " | ".join(out)))
    return lines


def compile_lines(table_rows, cells):
    lines = []
    for label, _, _ in table_rows:
        c = cells.get((label, "jax.jit"))
        if c is not None and c.status == "ok" and c.compile_seconds is not None:
            lines.append("| %s | %s |" % (label, fmt_time(c.compile_seconds)))
    if lines:
        lines = ["| workload | jax.jit trace + compile |", "|---|---|"] + lines
    return lines


SCALAR = ("chain", "horner", "recursion", "dispatch")
# The array targets against the hand-written numpy gradient (time, and peak memory),
# and the engine's cost per small-array operation (gradient minus primal, per op).
BY_HAND_LIMITS = {"mlp": 1.25, "elementwise": 1.15, "rnn": 1.5, "params_step": 1.5}
PEAK_LIMITS = {"elementwise": 1.2}
SMALL_OP_LIMIT = 0.8e-6


def targets(table_rows, cells):
    """The issue's targets, each as ``(met: bool or None, text)``."""
    out = []
    for label, workload, factory in table_rows:
        r = ratio(cells, label, "zygcy")
        if r is None:
            out.append((None, "%s: zygcy has no time (%s)" % (
                label, describe(cells.get((label, "zygcy"), Cell(status="error", note="not run")), None, "zygcy"))))
            continue
        limit = {"mlp": 3.0, "elementwise": 2.5}.get(workload, 10.0 if workload in SCALAR else None)
        if limit is not None:
            out.append((r <= limit, "%s: zygcy %.3gx primal (target <= %gx)" % (label, r, limit)))
        hand, zc = cells.get((label, "numpy_by_hand")), cells.get((label, "zygcy"))
        if workload in BY_HAND_LIMITS and hand is not None and hand.timed():
            lim = BY_HAND_LIMITS[workload]
            rh = zc.seconds / hand.seconds
            out.append((rh <= lim, "%s: zygcy %.3gx the hand-written numpy gradient (target <= %gx)"
                        % (label, rh, lim)))
            if workload in PEAK_LIMITS and zc.peak and hand.peak:
                lim = PEAK_LIMITS[workload]
                out.append((zc.peak / hand.peak <= lim, "%s: zygcy's peak memory %.3gx the hand-written "
                            "gradient's (target <= %gx)" % (label, zc.peak / hand.peak, lim)))
        if workload == "small_ops" and (label, "primal") in cells:
            n = C.small_ops_count(factory().steps)      # the operations of the row's data
            per = (zc.seconds - cells[label, "primal"].seconds) / n
            floor = ("; the hand-written gradient's %s" % fmt_time((hand.seconds - cells[label, "primal"].seconds) / n)
                     if hand is not None and hand.timed() else "")
            out.append((per <= SMALL_OP_LIMIT, "%s: zygcy adds %s per operation, forward and backward%s "
                        "(target <= %s)" % (label, fmt_time(per), floor, fmt_time(SMALL_OP_LIMIT))))
        if workload in SCALAR:
            tr = ratio(cells, label, "torch")
            if tr is not None:
                out.append((tr / r >= 30, "%s: %.3gx faster than torch (target >= 30x)" % (label, tr / r)))
        eager = {lib: cells[label, lib].seconds for lib in EAGER
                 if (label, lib) in cells and cells[label, lib].timed()}
        ranked = sorted(eager, key=eager.get)
        if ranked[0] == "zygcy":
            nxt = ("; next %s, %.3gx slower" % (ranked[1], eager[ranked[1]] / eager["zygcy"])
                   if len(ranked) > 1 else "")
            out.append((True, "%s: zygcy is first among the eager libraries%s" % (label, nxt)))
        else:
            slack = eager["zygcy"] / eager[ranked[0]]
            out.append((slack <= 1.1, "%s: %s is first among the eager libraries; zygcy takes %.3gx "
                        "its time (target <= 1.1x)" % (label, ranked[0], slack)))
    index = [r[0] for r in table_rows if r[1] == "index_loop"]
    if len(index) == 2:
        a, b = cells.get((index[0], "zygcy")), cells.get((index[1], "zygcy"))
        if a is not None and b is not None and a.timed() and b.timed():
            growth = b.seconds / a.seconds
            out.append((growth <= 20, "scalar indexing: zygcy's time grows %.3gx from %s to %s "
                        "(10x is linear, 100x quadratic; target ~10x)" % (growth, index[0], index[1])))
    return out


def _simd():
    """``(baseline, found, not found)``: the SIMD extensions numpy was built for and those
    its dispatched kernels found on this CPU, as np.show_runtime() reports them."""
    for mod in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            m = __import__(mod, fromlist=["__cpu_features__"])
            features, baseline, dispatch = m.__cpu_features__, m.__cpu_baseline__, m.__cpu_dispatch__
        except (ImportError, AttributeError):
            continue
        found = [f for f in dispatch if features.get(f)]
        return list(baseline), found, [f for f in dispatch if not features.get(f)]
    return None


def numpy_lines():
    """Which numpy kernels ran: numpy's build (np.show_config), its SIMD extensions and the
    BLAS loaded in this process (threadpoolctl, what np.show_runtime() prints), and whether
    OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE override OpenBLAS's own choice for this CPU."""
    lines = []
    try:
        config = np.show_config(mode="dicts")            # numpy >= 1.26
    except TypeError:
        config = None
    if config:
        blas = config.get("Build Dependencies", {}).get("blas", {})
        text = "%s %s" % (blas.get("name", "?"), blas.get("version", "?"))
        if blas.get("openblas configuration"):
            text += ", configured \"%s\"" % " ".join(str(blas["openblas configuration"]).split())
        lines.append("- numpy build: numpy %s, BLAS %s" % (np.__version__, text))
    else:
        lines.append("- numpy build: numpy %s (numpy < 1.26: np.show_config() prints its build "
                     "but has no dicts mode; BLAS not read)" % np.__version__)
    simd = _simd()
    if simd is not None:
        baseline, found, missing = simd
        lines.append("- numpy SIMD: baseline %s; dispatched, found on this CPU: %s%s" % (
            " ".join(baseline) or "none", " ".join(found) or "none",
            "; not found: " + " ".join(missing) if missing else ""))
    try:
        import threadpoolctl
        infos = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            lines.append("- BLAS running (threadpoolctl %s): " % threadpoolctl.__version__ + "; ".join(
                "%s %s, %s kernels, %s threads (%s), %s" % (
                    i.get("internal_api"), i.get("version"), i.get("architecture", "?"),
                    i.get("num_threads"), i.get("threading_layer", "?"),
                    os.path.basename(i.get("filepath", "?"))) for i in infos))
        else:
            lines.append("- BLAS running: threadpoolctl found no BLAS loaded")
    except ImportError:
        lines.append("- BLAS running: unknown (threadpoolctl is not installed: pip install "
                     "threadpoolctl; np.show_runtime() then prints it too)")
    set_ = ["%s=%s" % (k, os.environ[k]) for k in BLAS_ENV if k in os.environ]
    if set_:
        lines.append("- **%s set in the environment**: OpenBLAS read %s when numpy loaded it and "
                     "uses %s instead of what it detects for this CPU, so these are not this "
                     "machine's default kernels. Run with them unset: `%s`" % (
                         ", ".join(set_), "it" if len(set_) == 1 else "them",
                         "those kernels (or that cache size)", CLEAN_COMMAND))
    else:
        lines.append("- %s: unset (OpenBLAS chose its kernels for this CPU itself; run as "
                     "`%s` to keep it so)" % (" and ".join(BLAS_ENV), CLEAN_COMMAND))
    return lines


START_LOAD = None       # os.getloadavg() when main() started


def load_line(start=None):
    """The machine's load average now (and at ``start``, an earlier os.getloadavg()); it is
    shared, and a load above its number of cores slows every column."""
    try:
        now = os.getloadavg()
    except (AttributeError, OSError):
        return None
    if start is None:
        text = "- Load average (1, 5, 15 min): %.2f %.2f %.2f" % now
    else:
        text = "- Load average (1, 5, 15 min): %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end" % (
            tuple(start) + tuple(now))
    return text + " on %d cores" % (os.cpu_count() or 0)


def machine_lines(libraries):
    import importlib
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = ["Python %s" % platform.python_version()]
    seen = set()
    for lib in ["zygcy", "numpy"] + libraries:
        mod = MODULES.get(lib, lib)
        if mod in seen:
            continue
        seen.add(mod)
        try:
            m = importlib.import_module(mod)
            versions.append("%s %s" % (mod, getattr(m, "__version__", "(no version)")))
        except ImportError:
            pass
    load = load_line(START_LOAD)
    import zygcy        # which tree was measured: an old checkout needs PYTHONPATH set to it
    where = "- zygcy imported from %s" % os.path.dirname(os.path.dirname(os.path.abspath(zygcy.__file__)))
    return (["- Machine: %s, %d cores, %s" % (cpu, os.cpu_count() or 0, platform.platform()),
             "- Versions: " + ", ".join(versions), where] + numpy_lines() + ([load] if load else [])
            + ["- Date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")])


def write_markdown(path, table_rows, cells, notes, libraries, quick):
    lines = ["# zygcy side by side", "",
             "Median time of one gradient (the value, for primal) and, in parentheses, its ratio "
             "to the primal: the same code run on plain floats and numpy arrays. Made by "
             "`python asv_benchmarks/compare.py%s`." % (" --quick" if quick else ""), ""]
    lines += machine_lines(libraries) + [""]
    lines += markdown_table(table_rows, cells, libraries) + [""]
    summary = by_hand_summary(table_rows, cells)
    if summary:
        lines += [summary + ".", ""]
    peaks = peak_lines(table_rows, cells, libraries)
    if peaks:
        lines += ["Peak memory of one call (tracemalloc's peak: numpy's arrays and Python's "
                  "objects; torch's and jax's allocations are outside it, so only numpy-based "
                  "libraries are measured); in parentheses, the ratio to the primal's:", ""] + peaks + [""]
    comp = compile_lines(table_rows, cells)
    if comp:
        lines += ["jax.jit times exclude tracing and compilation, which happen once per "
                  "shape and are timed apart:", ""] + comp + [""]
    lines += ["## Targets", ""]
    for met, text in targets(table_rows, cells):
        lines.append("- %s %s" % ({True: "met:", False: "**missed:**", None: "not measured:"}[met], text))
    lines += ["", "## Notes", "",
              "- Every gradient was compared with zygcy's (np.allclose, rtol 1e-6) before it "
              "was timed; `wrong` marks a mismatch.",
              "- `n/a`: the library lacks an operation the workload needs. `skipped`: its "
              "first call on the smaller size took over %d s, so the larger one would take "
              "minutes (jax's eager indexing compiles a kernel per index and its gradient is "
              "quadratic; jax.jit compiles the unrolled loop in time that grows faster than "
              "n)." % TOO_SLOW,
              "- jax.jit runs the RNN as `jax.lax.scan` (the idiom under jit; the Python loop "
              "unrolls into 1000 cells); every other workload is the same code as for the "
              "eager libraries.",
              "- Eager libraries: zygcy, torch, jax (without jit), autograd, mygrad, micrograd.",
              "- numpy (by hand): the array workloads' gradients written out in plain numpy "
              "(`common.py`, `*_grad_by_hand`), the floor of any numpy-based AD: the forward "
              "pass as the workload writes it (its Python loops included), its intermediates "
              "kept for the backward pass, which takes as few numpy calls as the algebra allows. "
              "Its value is checked against the primal's and its gradient against zygcy's. "
              "`zygcy / by hand` is zygcy's time over it. numpy (by hand, in place): "
              "elementwise with `out=` everywhere (three arrays the size of x, allocated in "
              "each call). The scalar workloads have no hand-written column.",
              "- micrograd's `backward()` recurses once per node; the indexing loop raises the "
              "recursion limit for it (it fails at n=10^4 otherwise).",
              "- Timing: median of repeats of about 10 ms each, in 3 rounds that take the libraries "
              "in turn (each turn starts with an untimed call), garbage collector on, all "
              "libraries in one process, float64 everywhere, default thread settings."]
    lines += ["- " + n for n in notes]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def draw_png(path, table_rows, cells, libraries):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    libs = [lib for lib in libraries if lib != "primal"
            and any((r[0], lib) in cells for r in table_rows)]
    labels = [r[0] for r in table_rows]
    fig, ax = plt.subplots(figsize=(max(10, 1.3 * len(labels)), 5.5))
    width = 0.8 / max(1, len(libs))
    for k, lib in enumerate(libs):
        xs, ys = [], []
        for i, label in enumerate(labels):
            r = ratio(cells, label, lib)
            if r is not None:
                xs.append(i - 0.4 + width * (k + 0.5))
                ys.append(r)
        ax.bar(xs, ys, width, label=name(lib) + (" (compiled)" if lib in COMPILED else ""),
               color="black" if lib == "zygcy" else {"numpy_by_hand": "0.55",
                                                     "numpy_by_hand_inplace": "0.8"}.get(lib),
               hatch="//" if lib in COMPILED else None,
               zorder=3 if lib == "zygcy" else 2)
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("time of gradient / time of primal (log scale)")
    ax.set_title("Cost of a gradient relative to the plain computation (lower is better; "
                 "a missing bar: n/a, error or skipped)", fontsize=10, pad=28)
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.legend(fontsize=8, ncol=len(libs), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------
# Forward mode and higher order (--forward)
#
# Each row is a ratio with a target: jvp against the primal (scalar
# workloads) or against the reverse-mode gradient of the same function
# (arrays), hvp against the gradient (time; peak memory on 10^6 elements),
# jacobian against n full gradients, forward_jacobian against n primals.
# The functions of a row are timed together by time_row, in 7 rounds; memory
# is tracemalloc's peak during one call (numpy reports its allocations to
# it). Before anything is measured, each result is checked against
# derivatives written out by hand in common.py (scipy.optimize.rosen_hess
# for Rosenbrock); a mismatch marks the row wrong and it is not measured.
# The Hessians are a table of their own, zygcy beside autograd.hessian and
# JAX's eager jax.hessian where those are installed.

FORWARD_GROUPS = ["jvp", "hvp", "jacobian", "forward_jacobian", "hessian"]
HESSIAN_PEERS = ["autograd", "jax"]
HESSIAN_COLUMNS = ["zygcy.hessian", "zygcy.hessian_reverse"] + HESSIAN_PEERS
HESSIAN_NAMES = {"autograd": "autograd.hessian", "jax": "jax.hessian (eager)"}


class Ratio:
    """One measured ratio: ``value(num) / (scale * value(den))``, against ``limit``.

    ``make()`` returns ``(fns, checks)``: ``fns`` maps a name to a function of
    no arguments (all of them are measured; ``num`` and ``den`` are two of the
    names, the others are shown for context), ``checks`` maps some of the
    names to a function of that call's result returning None when it is
    right, else what is wrong.
    """

    def __init__(self, group, label, make, num, den, scale=1, limit=None, metric="time", per=None):
        self.group, self.label, self.make = group, label, make
        self.num, self.den, self.scale, self.limit, self.metric = num, den, scale, limit, metric
        self.per = per or (den if scale == 1 else "%d x %s" % (scale, den))
        self.values, self.status, self.note = {}, "ok", ""

    def ratio(self):
        if self.status != "ok" or self.num not in self.values or self.den not in self.values:
            return None
        return self.values[self.num] / (self.scale * self.values[self.den])


def _close(got, want, rtol=1e-8, atol=1e-12, what="result"):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return "%s has shape %s, expected %s" % (what, got.shape, want.shape)
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        return "%s differs by %.3g (largest |expected| %.3g)" % (
            what, float(np.max(np.abs(got - want))), float(np.max(np.abs(want))))
    return None


def _first(*errors):
    return next((e for e in errors if e), None)


def _check_jvp(y_want, dy_want, rtol=1e-8):
    def check(out):
        y, dy = out
        return _first(_close(y, y_want, rtol, what="y"), _close(dy, dy_want, rtol, what="dy"))
    return check


def forward_ratios(quick):
    """Every row of the forward section (``Ratio``), at the issue's sizes or tiny ones."""
    import zygcy

    def small(full, tiny):
        return tiny if quick else full

    steps, degree, depth = (small(n, 20) for n in (C.CHAIN_STEPS, C.HORNER_DEGREE, C.RECURSION_DEPTH))
    batch = small(C.MLP_SHAPES["batch"], 4)
    n_elem = small(C.ELEMENTWISE_SIZE, 1000)
    n_jac, m_wave = small(C.JACOBIAN_SIZE, 10), small(C.WAVE_POINTS, 50)
    out = []

    def scalar(f_plain, f, x, derivative):
        def make():
            push = zygcy.pushforward(f, x)
            y = f_plain(x)
            fns = {"jvp": lambda: zygcy.jvp(f, (x,), (1.0,)), "primal": lambda: f_plain(x),
                   "pushforward": lambda: (y, push(1.0)), "gradient": lambda: zygcy.gradient(f, x)}
            check = _check_jvp(y, derivative)
            return fns, {"jvp": check, "pushforward": check,
                         "gradient": lambda g: _close(g[0], derivative, what="gradient")}
        return make

    x, coeffs = C.CHAIN_X, C.horner_coeffs(degree)
    out += [
        Ratio("jvp", "jvp: chain (%d steps)" % steps, scalar(
            lambda x: C.chain(x, math, steps), lambda x: C.chain(x, zygcy.math, steps), x,
            C.chain_derivative(x, steps)), "jvp", "primal", limit=3.0),
        Ratio("jvp", "jvp: Horner (degree %d)" % degree, scalar(
            lambda x: C.horner(x, coeffs), lambda x: C.horner(x, coeffs), C.HORNER_X,
            C.horner_derivative(C.HORNER_X, coeffs)), "jvp", "primal", limit=3.0),
        Ratio("jvp", "jvp: recursion (n=%d)" % depth, scalar(
            lambda x: C.power_rec(x, depth), lambda x: C.power_rec(x, depth), C.RECURSION_X,
            C.power_rec_derivative(C.RECURSION_X, depth)), "jvp", "primal", limit=3.0),
    ]

    def jvp_mlp():
        P, (X, y) = C.mlp_data(batch=batch)
        T = C.tangents_like(P)
        f = lambda *p: C.mlp_loss(*p, X, y)  # noqa: E731
        fns = {"jvp": lambda: zygcy.jvp(f, P, T), "gradient": lambda: zygcy.gradient(f, *P),
               "primal": lambda: f(*P)}
        return fns, {"jvp": _check_jvp(f(*P), C.mlp_loss_jvp(P, T, X, y))}

    def elementwise(metric):
        def make():
            x = C.elementwise_data(n_elem)
            (t,) = C.tangents_like([x])
            d1, d2 = C.elementwise_derivatives(x)
            fns = {"hvp": lambda: zygcy.hvp(C.elementwise, x, t),
                   "jvp": lambda: zygcy.jvp(C.elementwise, (x,), (t,)),
                   "gradient": lambda: zygcy.gradient(C.elementwise, x),
                   "primal": lambda: C.elementwise(x)}
            if metric == "jvp":
                del fns["hvp"]
                fns["jvp by hand, in place"] = lambda: C.elementwise_jvp_by_hand(x, t)
            if metric == "hvp time":
                del fns["jvp"]
            jvp_check = _check_jvp(C.elementwise(x), float(np.sum(d1 * t)))
            return fns, {"jvp": jvp_check, "jvp by hand, in place": jvp_check,
                         "hvp": lambda h: _close(h, d2 * t, what="hvp"),
                         "gradient": lambda g: _close(g[0], d1, what="gradient")}
        return make

    out += [
        Ratio("jvp", "jvp: MLP (%dx16 -> 64 -> 1), all 4 weights" % batch, jvp_mlp, "jvp", "gradient",
              limit=1.5),
        Ratio("jvp", "jvp: elementwise (%s)" % _size(n_elem), elementwise("jvp"), "jvp", "gradient",
              limit=1.5),
    ]

    def hvp_mlp(alone):
        def make():
            theta, shapes, (X, y) = C.mlp_flat_data(batch=batch)
            if alone:       # W1 alone: the same loss with no slicing of a weight vector
                (W1, b1, W2, b2) = C.mlp_unflatten(theta, shapes)
                theta = W1.copy()
                f = lambda W1: C.mlp_loss(W1, b1, W2, b2, X, y)  # noqa: E731
            else:
                f = lambda theta: C.mlp_flat_loss(theta, shapes, X, y)  # noqa: E731
            (v,) = C.tangents_like([theta])
            eps = 1e-5      # the reference: central differences of the reverse-mode gradient
            ref = (zygcy.gradient(f, theta + eps * v)[0] - zygcy.gradient(f, theta - eps * v)[0]) / (2 * eps)
            fns = {"hvp": lambda: zygcy.hvp(f, theta, v), "gradient": lambda: zygcy.gradient(f, theta),
                   "primal": lambda: f(theta)}
            return fns, {"hvp": lambda h: _close(h, ref, rtol=1e-5, atol=1e-6 * np.max(np.abs(ref)),
                                                 what="hvp (against central differences of the gradient)")}
        return make

    n_theta = sum(int(np.prod(s)) for s in C.mlp_flat_data(batch=batch)[1])
    out += [
        Ratio("hvp", "hvp: MLP, all weights as one vector (%d)" % n_theta, hvp_mlp(False), "hvp",
              "gradient", limit=4.0),
        Ratio("hvp", "hvp: MLP, W1 alone (diagnostic: no slicing)", hvp_mlp(True), "hvp", "gradient"),
        Ratio("hvp", "hvp: elementwise (%s), peak memory" % _size(n_elem), elementwise("hvp"), "hvp",
              "gradient", limit=3.0, metric="memory"),
        Ratio("hvp", "hvp: elementwise (%s), time" % _size(n_elem), elementwise("hvp time"), "hvp",
              "gradient"),
    ]

    def jacobian_mlp():
        x, W = C.jacobian_mlp_data(n_jac)
        f = lambda x: C.jacobian_mlp(x, *W)  # noqa: E731
        f_sum = lambda x: np.sum(C.jacobian_mlp(x, *W))  # noqa: E731
        J = C.jacobian_mlp_jacobian(x, *W)
        fns = {"jacobian": lambda: zygcy.jacobian(f, x),
               "gradient of sum(f)": lambda: zygcy.gradient(f_sum, x), "primal": lambda: f(x)}
        return fns, {"jacobian": lambda r: _close(r[0], J, what="jacobian"),
                     "gradient of sum(f)": lambda g: _close(g[0], J.sum(axis=0), what="gradient")}

    def forward_jacobian_wave():
        x, t = C.wave_data(m_wave)
        f = lambda x: C.wave(x, t)  # noqa: E731
        J = C.wave_jacobian(x, t)
        e0 = np.array([1.0, 0.0])
        fns = {"forward_jacobian": lambda: zygcy.forward_jacobian(f, x), "primal": lambda: f(x),
               "jvp (one column)": lambda: zygcy.jvp(f, (x,), (e0,)),
               "jacobian (reverse)": lambda: (f(x), zygcy.jacobian(f, x)[0])}
        check = _check_jvp(f(x), J)
        return fns, {"forward_jacobian": check, "jacobian (reverse)": check,
                     "jvp (one column)": _check_jvp(f(x), J[:, 0])}

    out += [
        Ratio("jacobian", "jacobian: MLP R^%d -> R^%d" % (n_jac, n_jac), jacobian_mlp, "jacobian",
              "gradient of sum(f)", scale=n_jac, limit=0.3),
        Ratio("forward_jacobian", "forward_jacobian: wave R^2 -> R^%d" % m_wave, forward_jacobian_wave,
              "forward_jacobian", "primal", scale=2, limit=3.0),
    ]
    return out


def _size(n):
    k = int(round(math.log10(n))) if n > 0 else 0
    return "10^%d" % k if 10 ** k == n else str(n)


def hessian_rows(quick):
    """``(label, f(x, xp), x, reference Hessian, rtol)`` of the Hessian table."""
    n = 10 if quick else C.HESSIAN_SIZE
    x = C.rosen_data(n)
    shapes = dict(C.HESSIAN_MLP_SHAPES, n_hidden=2) if quick else C.HESSIAN_MLP_SHAPES
    theta, pshapes, (X, y) = C.mlp_flat_data(**shapes)

    def mlp(theta, xp=np):
        return C.mlp_flat_loss(theta, pshapes, X, y, xp=xp)

    def mlp_reference():
        # Central differences of the reverse-mode gradient, one column per weight.
        import zygcy
        eps, k = 1e-5, theta.size
        g = lambda v: zygcy.gradient(mlp, v)[0]  # noqa: E731
        H = np.stack([(g(theta + eps * e) - g(theta - eps * e)) / (2 * eps) for e in np.eye(k)], axis=1)
        return (H + H.T) / 2

    import importlib.util
    rosen_ref = ("scipy.optimize.rosen_hess" if importlib.util.find_spec("scipy")
                 else "Rosenbrock's Hessian by hand")
    return [("Rosenbrock (n=%d)" % n, C.rosen, x, lambda: C.rosen_hessian(x), 1e-9, rosen_ref),
            ("MLP loss in %d weights" % theta.size, mlp, theta, mlp_reference, 1e-5,
             "central differences of zygcy.gradient")]


def hessian_makers(peers, log):
    """``{column: maker(f, x) -> function of no arguments}`` for zygcy and each peer that imports;
    ``{column: why it is missing}`` for the others."""
    import zygcy
    makers, missing = {
        "zygcy.hessian": lambda f, x: lambda: zygcy.hessian(f, x),
        "zygcy.hessian_reverse": lambda f, x: lambda: zygcy.hessian_reverse(f, x),
    }, {}
    if "autograd" in peers:
        try:
            import autograd
            import autograd.numpy as anp

            def autograd_maker(f, x):
                h = autograd.hessian(lambda v: f(v, xp=anp))
                return lambda: h(x)
            makers["autograd"] = autograd_maker
        except ImportError as e:
            missing["autograd"] = "not installed (%s)" % (e.name or e)
    if "jax" in peers:
        try:
            jax, jnp = _jax()

            def jax_maker(f, x):
                h = jax.hessian(lambda v: f(v, xp=jnp))      # eager: no jit
                xj = jnp.asarray(x)
                return lambda: np.asarray(jax.block_until_ready(h(xj)))
            makers["jax"] = jax_maker
        except ImportError as e:
            missing["jax"] = "not installed (%s)" % (e.name or e)
    for lib, why in missing.items():
        log("  %-9s %s: its column of the Hessian table is skipped (pip install autograd jax jaxlib)"
            % (lib, why))
    return makers, missing


# The forward section's ratios compare functions of one row, so they take
# turns more often than the gradient table's (the same time in all): a burst
# of load on the shared machine then falls on both sides of a ratio.
FORWARD_ROUNDS, FORWARD_BLOCK = 7, 0.12


def measure(fns, metric, quick):
    """``{name: seconds per call}`` (time_row) or ``{name: peak bytes of one call}``."""
    if metric == "time":
        return time_row(fns, quick, rounds=FORWARD_ROUNDS, block=FORWARD_BLOCK)
    out = {}
    for name, fn in fns.items():
        fn()        # warm caches up outside the measurement
        out[name] = min(C.peak_bytes(fn) for _ in range(1 if quick else 2))
    return out


def fmt_bytes(b):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return "%.3g %s" % (b / scale, unit)
    return "%d B" % b


def run_forward(libraries, only, quick, log=print):
    """The forward section: ``(ratios, hessian table, notes)``."""
    ratios = [r for r in forward_ratios(quick) if not only or r.group in only]
    for r in ratios:
        log(r.label)
        try:
            fns, checks = r.make()
            results = {name: fn() for name, fn in fns.items()}
        except Exception as e:
            r.status, r.note = "error", short(e)
            log("  error: %s" % r.note)
            continue
        wrong = ["%s: %s" % (name, msg) for name, msg in
                 ((name, check(results[name])) for name, check in checks.items() if name in results) if msg]
        if wrong:
            r.status, r.note = "wrong", "; ".join(wrong)
            log("  wrong: %s" % r.note)
            continue
        try:
            r.values = measure(fns, r.metric, quick)
        except Exception as e:
            r.status, r.note = "error", short(e)
            log("  error: %s" % r.note)
            continue
        log("  %s" % describe_ratio(r))
    table = None
    if not only or "hessian" in only:
        table = run_hessians([lib for lib in HESSIAN_PEERS if lib in libraries], quick, log)
    notes = ["%s %s: its column of the Hessian table is skipped (pip install autograd jax jaxlib)"
             % (lib, why) for lib, why in (table[4] if table else {}).items()]
    unasked = [lib for lib in HESSIAN_PEERS if lib not in libraries]
    if table is not None and unasked:
        notes.append("%s: not in --libs, so not in the Hessian table" % ", ".join(unasked))
    others = [lib for lib in libraries if lib not in ["primal", "zygcy"] + HESSIAN_PEERS]
    if others and libraries != LIBRARIES:
        notes.append("%s: not in the forward section (its peers are %s, in the Hessian table)"
                     % (", ".join(others), " and ".join(HESSIAN_PEERS)))
    return ratios, table, notes


def run_hessians(peers, quick, log):
    """The Hessian table: ``(rows, columns, {(label, column): Cell}, references)``."""
    makers, missing = hessian_makers(peers, log)
    columns = [c for c in HESSIAN_COLUMNS if c in makers or c in missing]
    cells, refs = {}, {}
    rows_ = hessian_rows(quick)
    for label, f, x, reference, rtol, ref_name in rows_:
        log("hessian: %s" % label)
        refs[label] = ref_name
        try:
            ref = reference()
        except Exception as e:
            ref = None
            log("  the reference (%s) failed: %s" % (ref_name, short(e)))
        fns = {}
        for col in columns:
            if col in missing:
                cells[label, col] = Cell(status="skipped", note=missing[col])
                continue
            try:
                fn = makers[col](f, x)
                got = fn()
            except Exception as e:
                cells[label, col] = Cell(status="error", note=short(e))
                continue
            err = None if ref is None else _close(got, ref, rtol=rtol, atol=rtol * np.max(np.abs(ref)),
                                                  what="the Hessian (against %s)" % ref_name)
            if err:
                cells[label, col] = Cell(status="wrong", note=err)
                continue
            cells[label, col] = Cell()
            fns[col] = fn
        import zygcy
        fns["primal"] = lambda f=f, x=x: f(x)
        fns["zygcy.gradient"] = lambda f=f, x=x: zygcy.gradient(f, x)
        try:
            times = measure(fns, "time", quick)
        except Exception as e:
            times = {}
            log("  timing failed: %s" % short(e))
        for col, s in times.items():
            cells.setdefault((label, col), Cell()).seconds = s
        for col in columns + ["zygcy.gradient", "primal"]:
            if (label, col) in cells:
                log("  %-22s %s" % (col, describe_hessian(cells, label, col)))
    return [r[0] for r in rows_], columns, cells, refs, missing


def _per(r):
    return "(%s)" % r.per if r.scale != 1 else r.per


def describe_ratio(r):
    if r.status != "ok":
        return "%s: %s" % (r.status, r.note)
    fmt = fmt_time if r.metric == "time" else fmt_bytes
    head = "%s %s / %s %s = %.3gx" % (r.num, fmt(r.values[r.num]), r.per,
                                      fmt(r.scale * r.values[r.den]), r.ratio())
    return head + (" (target <= %g)" % r.limit if r.limit is not None else " (no target)")


def ratio_table(ratios):
    lines = ["| measure | zygcy | against | ratio | target | also measured |", "|---|---|---|---|---|---|"]
    for r in ratios:
        target = "<= %g" % r.limit if r.limit is not None else "(none)"
        if r.status != "ok":
            lines.append("| %s | %s: %s | | | %s | |" % (
                r.label, r.status, r.note.replace("|", "\\|"), target))
            continue
        fmt = fmt_time if r.metric == "time" else fmt_bytes
        unit = "" if r.metric == "time" else " peak"
        base = r.values[r.den]
        also = "; ".join("%s %s (%.3gx %s)" % (name, fmt(v), v / base, r.den) for name, v in r.values.items()
                         if name not in (r.num, r.den))
        lines.append("| %s | %s%s %s | %s %s | %.3gx | %s | %s |" % (
            r.label, r.num, unit, fmt(r.values[r.num]), r.per, fmt(r.scale * base), r.ratio(), target, also))
    return lines


def describe_hessian(cells, label, col):
    c = cells[label, col]
    if c.status != "ok" or c.seconds is None:
        return "%s (%s)" % (c.status, c.note) if c.status != "ok" else "not timed"
    ref = cells.get((label, "zygcy.hessian"))
    text = fmt_time(c.seconds)
    if ref is not None and ref.timed() and col != "zygcy.hessian":
        text += " (%.3gx zygcy.hessian)" % (c.seconds / ref.seconds)
    return text


def hessian_table(table):
    labels, columns, cells, refs, _ = table
    cols = columns + ["zygcy.gradient", "primal"]
    lines = ["| Hessian of | " + " | ".join(HESSIAN_NAMES.get(c, c) for c in cols) + " | checked against |",
             "|" + "---|" * (len(cols) + 2)]
    for label in labels:
        out = [describe_hessian(cells, label, c).replace("|", "\\|") if (label, c) in cells else ""
               for c in cols]
        lines.append("| %s | %s | %s |" % (label, " | ".join(out), refs[label]))
    return lines


def forward_targets(ratios, table):
    """``(met: True, False or None for information, text)`` for each ratio and Hessian row."""
    out = []
    for r in ratios:
        if r.status != "ok":
            out.append((False if r.limit is not None else None, "%s: %s (%s)" % (r.label, r.status, r.note)))
        elif r.limit is None:
            out.append((None, "%s: %.3gx %s (no target)" % (r.label, r.ratio(), _per(r))))
        else:
            out.append((r.ratio() <= r.limit, "%s: %.3gx %s (target <= %g)" % (
                r.label, r.ratio(), _per(r), r.limit)))
    if table is not None:
        labels, columns, cells, _, _ = table
        for label in labels:
            z = cells.get((label, "zygcy.hessian"))
            if z is None or not z.timed():
                out.append((None, "hessian, %s: zygcy.hessian has no time" % label))
                continue
            parts, timed, untimed = [], {}, []
            for col in columns:
                c, name = cells.get((label, col)), HESSIAN_NAMES.get(col, col)
                if c is None:
                    continue
                if c.timed():
                    timed[name] = c.seconds
                    if col != "zygcy.hessian":
                        parts.append("%.3gx %s" % (z.seconds / c.seconds, name))
                else:
                    untimed.append("%s %s" % (name, c.status))
            fastest = min(timed, key=timed.get)
            out.append((None, "hessian, %s: zygcy.hessian %s%s; fastest: %s%s" % (
                label, fmt_time(z.seconds), " = " + ", ".join(parts) if parts else "",
                fastest, "; " + ", ".join(untimed) if untimed else "")))
    return out


TARGET_TAGS = {True: "met     ", False: "MISSED  ", None: "info    "}


def print_forward(ratios, table, notes, libraries):
    print()
    print("\n".join(machine_lines([lib for lib in libraries if lib in HESSIAN_PEERS])))
    print()
    print("\n".join(ratio_table(ratios)))
    if table is not None:
        print()
        print("\n".join(hessian_table(table)))
    print()
    for met, text in forward_targets(ratios, table):
        print(TARGET_TAGS[met], text)
    for n in notes:
        print("note:", n)


def write_forward_markdown(path, ratios, table, notes, libraries, quick):
    lines = ["# zygcy: forward mode and higher order", "",
             "Made by `python asv_benchmarks/compare.py --forward%s`. Each row is a ratio: zygcy's "
             "time (or tracemalloc peak) over the time of what it is measured against, all in one "
             "process, timed in rounds (medians)." % (" --quick" if quick else ""), ""]
    lines += machine_lines([lib for lib in libraries if lib in HESSIAN_PEERS]) + [""]
    lines += ratio_table(ratios) + [""]
    if table is not None:
        lines += ["Hessians, zygcy beside autograd.hessian and JAX's eager jax.hessian (no jit); "
                  "in parentheses, the ratio to zygcy.hessian's time:", ""] + hessian_table(table) + [""]
    lines += ["## Targets", ""]
    for met, text in forward_targets(ratios, table):
        lines.append("- %s %s" % ({True: "met:", False: "**missed:**", None: "info:"}[met], text))
    lines += ["", "## Notes", "",
              "- Every result was checked before it was measured: against derivatives written out "
              "by hand (common.py), central differences of the reverse-mode gradient (hvp and the "
              "MLP's Hessian) or scipy.optimize.rosen_hess; `wrong` marks a mismatch.",
              "- Memory: the peak of the allocations tracemalloc sees during one call (numpy "
              "reports its arrays to it); the input arrays, made before, are not counted."]
    lines += ["- " + n for n in notes]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="write the table as Markdown to this file")
    p.add_argument("--png", help="draw the bar chart (log scale) to this PNG file")
    p.add_argument("--quick", action="store_true", help="tiny sizes, one call each: a smoke run")
    p.add_argument("--only", help="comma-separated workloads (%s); with --forward, groups (%s)"
                   % (",".join(C.WORKLOADS), ",".join(FORWARD_GROUPS)))
    p.add_argument("--libs", help="comma-separated libraries (%s)" % ",".join(LIBRARIES))
    p.add_argument("--forward", action="store_true",
                   help="instead of the gradient table: forward mode and higher order (jvp, hvp, "
                        "jacobian, forward_jacobian, hessian), each as a ratio against its target; "
                        "the Hessians beside autograd and jax where installed")
    a = p.parse_args(argv)
    names = FORWARD_GROUPS if a.forward else C.WORKLOADS
    only = set(a.only.split(",")) if a.only else None
    if only and only - set(names):
        p.error("unknown %s: %s" % ("groups" if a.forward else "workloads",
                                    ", ".join(sorted(only - set(names)))))
    libraries = LIBRARIES if not a.libs else ["primal"] + [x for x in a.libs.split(",") if x != "primal"]
    if set(libraries) - set(LIBRARIES):
        p.error("unknown libraries: %s" % ", ".join(sorted(set(libraries) - set(LIBRARIES))))
    global START_LOAD
    try:
        START_LOAD = os.getloadavg()
    except (AttributeError, OSError):
        START_LOAD = None
    # The header: which numpy kernels will run (and a warning if the environment
    # overrides OpenBLAS's choice), before anything is timed.
    print("\n".join(numpy_lines() + [x for x in [load_line()] if x]))
    if a.forward:
        if a.png:
            p.error("--png draws the gradient table's chart; the forward section has none")
        ratios, table, notes = run_forward(libraries, only, a.quick)
        print_forward(ratios, table, notes, libraries)
        if a.out:
            write_forward_markdown(a.out, ratios, table, notes, libraries, a.quick)
        return 0
    table_rows, cells, notes = run(libraries, only, a.quick)
    print()
    print("\n".join(machine_lines(libraries)))
    print("\n".join(markdown_table(table_rows, cells, libraries)))
    summary = by_hand_summary(table_rows, cells)
    if summary:
        print("\n" + summary)
    peaks = peak_lines(table_rows, cells, libraries)
    if peaks:
        print("\npeak memory of one call (tracemalloc; in parentheses, the ratio to the primal's):")
        print("\n".join(peaks))
    comp = compile_lines(table_rows, cells)
    if comp:
        print("\n" + "\n".join(comp))
    print()
    for met, text in targets(table_rows, cells):
        print({True: "met     ", False: "MISSED  ", None: "no time "}[met], text)
    for n in notes:
        print("note:", n)
    if a.out:
        write_markdown(a.out, table_rows, cells, notes, libraries, a.quick)
    if a.png:
        draw_png(a.png, table_rows, cells, libraries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
