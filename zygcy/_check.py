"""The self-check: every ``back`` compared with a central difference.

Switched on by ``ZYGCY_CHECK=1`` in the environment (read at import) or, for
a block of code, by the ``zygcy.checking()`` context manager. While it is on,
each call of a ``back`` made by ``forward``/``gradient`` also computes, along
one random direction ``v`` of the inputs,

    <dy, (f(x + h v) - f(x - h v)) / 2h>     against     <back(dy), v>,

which costs two more evaluations of ``f`` (so ``f`` must have no side effects
then), and raises ``GradientCheckError`` with both numbers when they differ by
more than the difference quotient's own error allows. Only float and complex
inputs are moved; integers and other leaves stay as they are.
"""
import contextlib
import math
import os
import threading

import numpy as np

from . import _core

__all__ = ["checking", "GradientCheckError"]


class GradientCheckError(AssertionError):
    """A gradient disagreed with a central difference (raised only while checking)."""


class _State(threading.local):
    def __init__(self):
        self.depth = 0          # > 0 inside checking(); each thread has its own
        self.busy = False       # a check is evaluating f: don't check what it runs
        self.rng = np.random.default_rng()      # the random directions


_state = _State()
_ENV = os.environ.get("ZYGCY_CHECK", "") not in ("", "0")


@contextlib.contextmanager
def checking(enabled=True, seed=None):
    """Check every gradient computed inside the block against a central difference.

    While the block runs, each ``back`` (so each ``gradient``, ``withgradient``,
    ``derivative``) also evaluates ``f`` twice more, at ``x ± h v`` for a random
    direction ``v``, and raises ``zygcy.GradientCheckError`` with both numbers
    if ``<back(dy), v>`` and the difference quotient disagree beyond the
    quotient's own error. ``f`` must be free of side effects (it runs again).
    ``ZYGCY_CHECK=1`` in the environment switches the check on everywhere.
    About three times the cost of a gradient: use it to find a wrong rule, not
    in production.

    Args:
      enabled: False switches the check off inside the block (e.g. for a
        function with side effects while ``ZYGCY_CHECK=1`` is set).
      seed: a seed for the random directions, for a check that picks the
        same directions every run.

    Example:
      >>> import numpy as np, zygcy
      >>> with zygcy.checking():
      ...     g, = zygcy.gradient(lambda x: np.sum(np.sin(x)), np.array([0.5, 1.0]))
      >>> np.allclose(g, np.cos([0.5, 1.0]))
      True
    """
    saved, saved_rng = _state.depth, _state.rng
    _state.depth = saved + 1 if enabled else -(1 << 30)
    if seed is not None:
        _state.rng = np.random.default_rng(seed)
    try:
        yield
    finally:
        _state.depth, _state.rng = saved, saved_rng


def active():
    """True where backs are to be checked (in this thread)."""
    if _state.busy:
        return False
    return _state.depth > 0 or (_ENV and _state.depth == 0)


def is_float_leaf(v):
    """True for a float or complex number or array: what a difference quotient moves."""
    v = _core.value(v)
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (float, complex, np.floating, np.complexfloating)):
        return True
    return isinstance(v, np.ndarray) and v.dtype.kind in "fc"


def random_direction(v, rng):
    """A random direction with the shape and kind of the leaf v (shared with zygcy.testing)."""
    v = _core.value(v)
    shape = np.shape(v)
    d = rng.standard_normal(shape)
    if np.iscomplexobj(v):
        d = d + 1j * rng.standard_normal(shape)
    if isinstance(v, np.ndarray):
        return d.astype(np.result_type(v.dtype, np.float64))
    return complex(d) if np.iscomplexobj(v) else float(d)


def _inner(a, b):
    """Re sum(conj(a) * b) as a float; None counts as zero."""
    if a is None or b is None:
        return 0.0
    a = np.asarray(_core.value(a))
    b = np.asarray(_core.value(b))
    return float(np.sum(np.real(np.conj(a) * b)))


def _magnitude(a):
    return float(np.sum(np.abs(np.asarray(_core.value(a), dtype=complex)))) if a is not None else 0.0


def check(evaluate, x_leaves, dy_leaves, g_leaves, name):
    """Compare <g, v> with the central difference of <dy, evaluate(x + t v)>.

    evaluate(leaves) -> the output's leaves for the given input leaves;
    x_leaves, g_leaves: the inputs and their gradients; dy_leaves: the seed.
    """
    moved = [i for i, x in enumerate(x_leaves) if is_float_leaf(x)]
    if not moved:
        return
    v = {i: random_direction(x_leaves[i], _state.rng) for i in moved}
    scale = max(1.0, max(float(np.max(np.abs(np.asarray(_core.value(x_leaves[i]))), initial=0.0))
                         for i in moved))
    h = 6e-6 * scale        # about cbrt(machine epsilon): balances truncation and rounding

    def at(t):
        leaves = list(x_leaves)
        for i in moved:
            leaves[i] = _core.value(x_leaves[i]) + t * v[i]
        out = evaluate(leaves)
        return sum(_inner(s, y) for s, y in zip(dy_leaves, out)), sum(
            _magnitude(s) * _magnitude(y) for s, y in zip(dy_leaves, out))

    _state.busy = True
    try:
        fp, mp = at(h)
        fm, mm = at(-h)
    finally:
        _state.busy = False
    numeric = (fp - fm) / (2 * h)
    analytic = sum(_inner(g_leaves[i], v[i]) for i in moved if g_leaves[i] is not None)
    rounding = 4 * np.finfo(float).eps * (mp + mm) / (2 * h)
    tol = 1e-4 * (abs(numeric) + abs(analytic)) + 100 * rounding + 1e-8
    if not math.isfinite(numeric) or not math.isfinite(analytic):
        return          # a non-finite gradient is not this check's to judge
    if abs(numeric - analytic) > tol:
        raise GradientCheckError(
            "zygcy.checking: the gradient of %s disagrees with a central difference along a "
            "random direction v: <gradient, v> = %r but (f(x + h v) - f(x - h v)) / 2h = %r "
            "(h = %.3g, allowed difference %.3g). A rule on the way is wrong, or f is not "
            "differentiable here (a kink, a branch on the value), or f has side effects."
            % (name, analytic, numeric, h, tol))
