"""The grid of shapes every array rule is checked on, seeded data to fill them,
and the check used by the rule families' tests."""
import subprocess
import sys

import numpy as np
import pytest

from zygcy.testing import gradcheck

SHAPES = [(), (3,), (3, 2)]
BROADCAST_PAIRS = [((3,), (3,)), ((1, 2), (3, 1)), ((3, 2), (2,)), ((), (3, 2)), ((3, 2), ())]


def rand(shape, seed=0, complex=False, positive=False, low=None, high=None):
    """Seeded random data of a shape: normal, or uniform in [low, high], or positive."""
    rng = np.random.default_rng(seed)
    if low is not None:
        x = rng.uniform(low, high, size=shape)
    elif positive:
        x = rng.uniform(0.5, 2.0, size=shape)
    else:
        x = rng.standard_normal(shape)
    if complex:
        x = x + 1j * (rng.uniform(0.5, 2.0, size=shape) if positive else rng.standard_normal(shape))
    return np.asarray(x)


def R(*shape, seed=0):
    """Seeded real data of a shape."""
    return rand(shape, seed=seed)


def C(*shape, seed=0):
    """Seeded complex data of a shape."""
    return rand(shape, seed=seed, complex=True)


def numerical_gradient(f, x, h=1e-6):
    """Central differences of a scalar f at the number or array x, in float64."""
    if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
        x = float(x)
        return (f(x + h) - f(x - h)) / (2 * h)
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def fd_jacobian(f, x, eps=1e-6):
    """d f / d x by central differences: shape f(x).shape + x.shape."""
    x = np.asarray(x, dtype=float)
    y0 = np.asarray(f(x))
    J = np.zeros(y0.shape + x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        J[(Ellipsis,) + i] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps)
    return J


def square(y):
    if isinstance(y, (list, tuple)):
        return [None if v is None else v * v for v in y]
    return y * y


def check(f, *args, order=2, **kw):
    """gradcheck of f with its outputs squared: then the order-2 check runs every
    pullback on a tracked cotangent (for a linear rule it would test nothing)."""
    return gradcheck(lambda *a: square(f(*a)), *args, order=order, **kw)


def case_table():
    """A table of rule cases and the function that fills it:
    ``case(key, name, f, *args, order=2)`` adds one (none when key is None, a
    function this numpy does not have); the table parametrizes a test as
    ``(key, f, args, order)``."""
    cases = []

    def case(key, name, f, *args, order=2):
        if key is not None:
            cases.append(pytest.param(key, f, args, order, id=name))

    return cases, case


def fresh_python(code):
    """Run ``code`` in a new interpreter (imports in the order it gives): the
    finished process, with its output as text."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
