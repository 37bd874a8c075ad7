"""Forward mode (jvp, pushforward, forward_jacobian) and the higher-order
operators built on it (hessian, hvp by forward over reverse): against central
differences, reverse mode through the adjoint identity <u, J v> = <J^T u, v>,
analytic values and scipy; nesting across modes; errors; memory."""
import gc
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zygcy
from zygcy import (checkpointed, derivative, diaghessian, dropgrad, forward, forward_jacobian,
                   gradient, hessian, hessian_reverse, hvp, jacobian, jvp, pushforward,
                   withjacobian)
from zygcy.extend import defbilinear, defjoint, defjvp, deflinear, defvjp, primitive

from _grid import C, R, fd_jacobian, numerical_gradient

zm = zygcy.math

# ---------------------------------------------------------------------------
# Independent references: central differences along a direction, on structures


def tmap(fn, *trees):
    """fn applied leaf by leaf to trees of the same structure (tuples, lists, dicts)."""
    t0 = trees[0]
    if isinstance(t0, dict):
        return {k: tmap(fn, *(t[k] for t in trees)) for k in t0}
    if isinstance(t0, (tuple, list)):
        return type(t0)(tmap(fn, *xs) for xs in zip(*trees))
    return fn(*trees)


def _move(p, t, eps):
    if t is None or isinstance(p, str):
        return p
    return p + eps * np.asarray(t) if isinstance(p, np.ndarray) else p + eps * t


def fd_jvp(f, primals, tangents, h=1e-6):
    """(f(p + h t) - f(p - h t)) / 2h, leaf by leaf on the output (the R-linear
    directional derivative: right for complex, holomorphic or not)."""
    def at(eps):
        return f(*tmap(lambda p, t: _move(p, t, eps), tuple(primals), tuple(tangents)))
    return tmap(lambda a, b: (np.asarray(a) - np.asarray(b)) / (2 * h), at(h), at(-h))


def assert_close_tree(got, want, rtol=1e-6, atol=1e-7):
    assert type(got) is type(want) or not isinstance(want, (tuple, list, dict)), (got, want)
    if isinstance(want, dict):
        assert set(got) == set(want)
        for k in want:
            assert_close_tree(got[k], want[k], rtol, atol)
    elif isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert_close_tree(a, b, rtol, atol)
    else:
        assert np.shape(got) == np.shape(want), (np.shape(got), np.shape(want))
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def check_jvp(f, primals, tangents, rtol=1e-6, atol=1e-7, h=1e-6):
    y, dy = jvp(f, primals, tangents)
    assert_close_tree(y, f(*primals), rtol=1e-12, atol=1e-12)
    assert_close_tree(dy, fd_jvp(f, primals, tangents, h), rtol, atol)
    return y, dy


reals = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
directions = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)


# ---------------------------------------------------------------------------
# Scalar Python code

SCALAR_FUNCTIONS = {
    # name: (f, domain of x)
    "sin": (zm.sin, reals), "cos": (zm.cos, reals), "tan": (zm.tan, st.floats(-1.2, 1.2)),
    "exp": (zm.exp, reals), "expm1": (zm.expm1, reals),
    "log": (zm.log, st.floats(0.2, 5.0)), "log1p": (zm.log1p, st.floats(-0.8, 5.0)),
    "log2": (zm.log2, st.floats(0.2, 5.0)), "log10": (zm.log10, st.floats(0.2, 5.0)),
    "sqrt": (zm.sqrt, st.floats(0.2, 5.0)),
    "asin": (zm.asin, st.floats(-0.9, 0.9)), "acos": (zm.acos, st.floats(-0.9, 0.9)),
    "atan": (zm.atan, reals), "sinh": (zm.sinh, reals), "cosh": (zm.cosh, reals),
    "tanh": (zm.tanh, reals), "asinh": (zm.asinh, reals), "acosh": (zm.acosh, st.floats(1.2, 4.0)),
    "atanh": (zm.atanh, st.floats(-0.9, 0.9)), "erf": (zm.erf, reals), "erfc": (zm.erfc, reals),
    "gamma": (zm.gamma, st.floats(0.3, 4.0)), "lgamma": (zm.lgamma, st.floats(0.3, 4.0)),
    "degrees": (zm.degrees, reals), "fabs": (zm.fabs, st.floats(0.1, 2.0)),
    "polynomial": (lambda x: 3 * x ** 3 - 2 * x ** 2 + x - 7, reals),
    "composition": (lambda x: zm.sin(x) * zm.exp(zm.cos(x)) + zm.log1p(x * x) + zm.tanh(x) ** 3, reals),
    "division": (lambda x: (x + 1.0) / (x * x + 2.0), reals),
    "power-of-power": (lambda x: (x * x + 1.0) ** 1.5 + 2.0 ** x + x ** -2, st.floats(0.3, 2.0)),
}


@pytest.mark.parametrize("name", list(SCALAR_FUNCTIONS))
def test_jvp_of_zygcy_math_functions_equals_central_differences(name):
    f, domain = SCALAR_FUNCTIONS[name]

    @settings(max_examples=15, deadline=None)
    @given(domain, directions)
    def run(x, t):
        y, dy = jvp(f, (x,), (t,))
        assert y == pytest.approx(f(x), rel=1e-14, abs=1e-14)
        assert isinstance(dy, float)
        assert dy == pytest.approx(numerical_gradient(f, x) * t, rel=1e-5, abs=1e-7)

    run()


@settings(max_examples=25, deadline=None)
@given(reals, reals, directions, directions)
def test_jvp_of_two_argument_functions(x, y, tx, ty):
    for f in (zm.atan2, zm.hypot, lambda a, b: zm.pow(a * a + 1.0, b),
              lambda a, b: a * b + zm.sin(a) / (b * b + 1.0), lambda a, b: zm.dist((a, b), (1.0, -0.5))):
        if math.hypot(x, y) < 0.05 or math.dist((x, y), (1.0, -0.5)) < 0.05:
            continue        # the kinks of atan2, hypot and dist
        if f is zm.atan2 and y < 0 and abs(x) < 0.05:
            continue        # atan2's branch cut
        check_jvp(f, (x, y), (tx, ty), rtol=1e-5, atol=1e-6)
        # linear in the tangent: the sum of the two partial directions
        d1 = jvp(f, (x, y), (tx, 0.0))[1]
        d2 = jvp(f, (x, y), (0.0, ty))[1]
        assert jvp(f, (x, y), (tx, ty))[1] == pytest.approx(d1 + d2, rel=1e-12, abs=1e-12)


def newton_sqrt(a):
    y = a
    for _ in range(30):
        y = 0.5 * (y + a / y)
    return y


def poly_recursive(x, n):
    """x^n + x^(n-1) + ... + 1 by Horner's rule, recursively."""
    return 1.0 if n == 0 else 1.0 + x * poly_recursive(x, n - 1)


def with_branches(x):
    if x > 0:
        return x * zm.exp(-x)
    return zm.sin(x) ** 2


def with_closure(a):
    def scale(x):
        return a * x * x       # closes over a tracked value
    k = 3.0
    add_k = lambda x: x + k * a      # noqa: E731
    return scale(add_k(1.0)) + sum(scale(float(i)) for i in range(3))


def with_while_loop(x):
    s, term, n = 0.0, 1.0, 0
    while n < 40:                       # the exponential's series
        s = s + term
        n += 1
        term = term * x / n
    return s


@pytest.mark.parametrize("x", [0.3, 1.7, 4.0])
def test_jvp_of_loops_recursion_branches_closures(x):
    y, dy = jvp(newton_sqrt, (x,), (1.0,))
    assert y == pytest.approx(math.sqrt(x)) and dy == pytest.approx(0.5 / math.sqrt(x), rel=1e-12)
    y, dy = jvp(lambda x: poly_recursive(x, 6), (x,), (2.0,))
    assert dy == pytest.approx(2.0 * sum(k * x ** (k - 1) for k in range(1, 7)), rel=1e-12)
    for s in (x, -x):
        check_jvp(with_branches, (s,), (1.5,))
    check_jvp(with_closure, (x,), (0.7,))
    y, dy = jvp(with_while_loop, (x,), (1.0,))
    assert dy == pytest.approx(math.exp(x), rel=1e-10)


def test_jvp_keeps_python_ints_and_promotes_int_tangents():
    y, dy = jvp(lambda x: x * x + 1, (3,), (1,))
    assert y == 10 and dy == 6.0
    y, dy = jvp(lambda x, n: x ** n, (2.0, 3), (1.0, None))    # the exponent held fixed
    assert (y, dy) == (8.0, 12.0)
    # a primal given as a list is accepted like a tuple
    assert jvp(lambda x: x * 3.0, [2.0], [1.0]) == (6.0, 3.0)


def test_jvp_of_a_constant_function_is_zero_of_the_outputs_kind():
    y, dy = jvp(lambda x: 5.0, (1.0,), (1.0,))
    assert (y, dy) == (5.0, 0.0)
    y, dy = jvp(lambda x: np.ones(3), (1.0,), (1.0,))
    np.testing.assert_array_equal(dy, np.zeros(3))
    y, dy = jvp(lambda x: 1j, (1.0,), (1.0,))
    assert dy == 0 and isinstance(dy, complex)
    # the tangent None means zero
    y, dy = jvp(lambda x: x * 2.0, (1.0,), (None,))
    assert dy == 0.0


# ---------------------------------------------------------------------------
# NumPy code

A3 = np.array([[3.0, 1.0, 0.5], [1.0, 4.0, 1.0], [0.5, 1.0, 5.0]])


def set_first(x):
    y = x.copy()
    y[0] = x[1] * x[2]
    y[1:] = y[1:] * 2.0
    return y


ARRAY_FUNCTIONS = {
    "ufuncs": lambda x: np.sin(x) * np.exp(-x * x) + np.tanh(x) ** 2 + np.sqrt(x * x + 1.0),
    "log-power": lambda x: np.log(x * x + 1.0) + np.power(np.abs(x) + 1.0, 1.5) + np.arctan(x),
    "broadcasting": lambda x: x[:, None] * np.cos(x)[None, :] + x,
    "broadcast-with-constant": lambda x: x * np.arange(1.0, 4.0)[:, None] - 2.0,
    "reductions": lambda x: np.stack([np.sum(x), np.mean(x ** 2), np.prod(x + 3.0), np.max(x),
                                      np.min(x), np.std(x), np.var(x), np.linalg.norm(x)]),
    "axis-reductions": lambda x: np.sum(np.outer(x, x + 1.0), axis=0) + np.mean(np.outer(x, x), axis=1),
    "cumulative": lambda x: np.cumsum(x) * np.cumprod(np.cos(x) + 2.0),
    "matmul": lambda x: A3 @ x + x @ A3 @ x + np.dot(x, x) * x,
    "matrix-products": lambda x: np.outer(x, x) @ A3 @ np.diag(x),
    "einsum": lambda x: np.einsum("i,ij,j->i", x, A3, np.sin(x)),
    "index": lambda x: np.stack([x[0] * x[2], x[-1] ** 2, x[1]]),
    "slices": lambda x: x[1:] * x[:-1] + x[::-1][1:] - x[::2].sum(),
    "fancy-index": lambda x: x[[0, 2, 2, 1]] * x[np.array([1, 1, 0, 2])],
    "bool-mask": lambda x: x[x > np.median(x)] * 2.0,
    "setitem-on-copy": set_first,
    "stack-concatenate": lambda x: np.concatenate([np.stack([x[0], x[1] * 2.0]), x[1:] ** 2, x[2:]]),
    "reshape-transpose": lambda x: (np.outer(x, x).reshape(9).reshape(3, 3).T * A3).ravel(),
    "where": lambda x: np.where(x > 0.1, x ** 2, -x) + np.where(x < 0.5, np.sin(x), 1.0),
    "maximum-clip": lambda x: np.maximum(x, 0.2) * np.clip(x, -0.5, 0.5) + np.abs(x),
    "sort": lambda x: np.sort(x * np.array([1.0, -2.0, 0.5])) * np.arange(3.0),
    "solve": lambda x: np.linalg.solve(A3 + np.diag(x), x + 1.0),
    "inv": lambda x: np.linalg.inv(A3 + np.outer(x, x)),
    "det": lambda x: np.linalg.det(A3 * x) + np.linalg.slogdet(A3 + np.diag(x ** 2))[1],
    "eigh": lambda x: np.linalg.eigvalsh(A3 + np.diag(x)),
    "cholesky": lambda x: np.linalg.cholesky(A3 + np.diag(x * x)),
    "fft": lambda x: np.fft.fft(x * x),
    "rfft-irfft": lambda x: np.fft.irfft(np.fft.rfft(x) * np.array([1.0, 2.0j]), n=3),
    "ifft": lambda x: np.abs(np.fft.ifft(x + 1j)),
    "trace-diag": lambda x: np.trace(np.outer(x, x)) * np.diag(A3 * x),
    "methods": lambda x: (x * 2.0).sum() * x.mean() + x.reshape(1, 3).T.ravel() ** 2,
}


@pytest.mark.parametrize("name", list(ARRAY_FUNCTIONS))
def test_jvp_of_array_code_equals_central_differences(name):
    f = ARRAY_FUNCTIONS[name]

    @settings(max_examples=8, deadline=None)
    @given(st.integers(0, 10 ** 6))
    def run(seed):
        rng = np.random.default_rng(seed)
        x = rng.uniform(-1.0, 1.0, 3)
        t = rng.standard_normal(3)
        check_jvp(f, (x,), (t,), rtol=1e-5, atol=1e-6)

    run()


AB = R(2, 3, 3, seed=21) + 3.0 * np.eye(3)
MATRIX_FUNCTIONS = {
    "batch-solve": lambda A: np.linalg.solve(A, np.ones((2, 3, 1))),
    "batch-det": np.linalg.det,
    "batch-inv": np.linalg.inv,
    "eigvals": lambda A: np.linalg.eigvals(A[0]),
    "fft2": np.fft.fft2,
    "fft-axis": lambda A: np.fft.fft(A, axis=1),
    "ifftn-rfftn": lambda A: np.fft.ifftn(A) + np.fft.rfftn(A)[..., :1],
    "sum-keepdims": lambda A: np.sum(A ** 2, axis=(0, 2), keepdims=True) * A,
    "norms": lambda A: np.stack([np.linalg.norm(A[0]), np.linalg.norm(A[1], 2), np.linalg.norm(A[0], "nuc")]),
    "norm-axis": lambda A: np.linalg.norm(A, axis=1),
    "tensordot": lambda A: np.tensordot(A, A, axes=([1, 2], [1, 2])),
    "matmul-chain": lambda A: A[0] @ A[1] @ A[0].T + A[0].dot(A[1]),
    "qr": lambda A: np.linalg.qr(A[0])[1],
    "svd": lambda A: np.linalg.svd(A[0], compute_uv=False),
    "eigh-abs-vectors": lambda A: np.abs(np.linalg.eigh(A[0] + A[0].T)[1]),
    "cholesky-logdet": lambda A: np.sum(np.log(np.diag(np.linalg.cholesky(A[0] @ A[0].T + np.eye(3))))),
    "lstsq": lambda A: np.linalg.lstsq(A[0], np.ones(3), rcond=None)[0],
    "max-axis-cumprod": lambda A: np.max(A, axis=1) * np.cumprod(A, axis=2)[:, :, -1],
    "moveaxis-triu": lambda A: np.moveaxis(A, 0, 2) * np.triu(A[0])[:, :, None],
}


@pytest.mark.parametrize("name", list(MATRIX_FUNCTIONS))
def test_jvp_of_matrix_code_equals_central_differences(name):
    f = MATRIX_FUNCTIONS[name]
    check_jvp(f, (AB,), (R(2, 3, 3, seed=22),), rtol=1e-5, atol=1e-6)


UX = np.array([0.55, 1.13, 1.45])      # no ratio x / y near an integer (fmod, remainder)
UY = np.array([0.35, 0.62, 0.8, 0.47])
UFUNC_METHODS = {
    # name: f(x, y) with x of shape (3,), y of shape (4,)
    **{"%s.outer" % u: (lambda u: lambda x, y: getattr(np, u).outer(x, y))(u)
       for u in ("add", "subtract", "multiply", "divide", "power", "float_power", "arctan2", "hypot",
                 "logaddexp", "logaddexp2", "maximum", "minimum", "fmax", "fmin", "fmod", "remainder",
                 "copysign")},
    **{"%s.reduce" % u: (lambda u: lambda x, y: getattr(np, u).reduce(np.outer(x, y), axis=1))(u)
       for u in ("add", "multiply", "maximum", "minimum", "fmax", "fmin", "logaddexp", "logaddexp2")},
    **{"%s.accumulate" % u: (lambda u: lambda x, y: getattr(np, u).accumulate(np.outer(x, y), axis=1))(u)
       for u in ("add", "multiply", "maximum", "minimum", "fmax", "fmin")},
    "outer": lambda x, y: np.outer(np.sin(x), y),
    "linalg.outer": lambda x, y: np.linalg.outer(x, y * y) if hasattr(np.linalg, "outer") else np.outer(x, y * y),
}


@pytest.mark.parametrize("name", list(UFUNC_METHODS))
def test_jvp_of_ufunc_methods(name):
    f = UFUNC_METHODS[name]
    check_jvp(f, (UX, UY), (R(3, seed=31), R(4, seed=32)), rtol=1e-6, atol=1e-7)
    check_jvp(f, (UX, UY), (None, R(4, seed=33)), rtol=1e-6, atol=1e-7)


def in_place(x):
    y = x.copy()
    y[0] += x[1]
    y *= 2.0
    y[1:] -= x[:2] ** 2
    y /= 3.0
    return y


def test_jvp_of_in_place_updates_of_a_tracked_copy():
    x, t = R(3, seed=1), R(3, seed=2)
    check_jvp(in_place, (x,), (t,))
    check_jvp(set_first, (x,), (t,))
    y, dy = jvp(set_first, (x,), (t,))
    np.testing.assert_allclose(dy, [t[1] * x[2] + x[1] * t[2], 2 * t[1], 2 * t[2]])
    np.testing.assert_array_equal(x, R(3, seed=1))      # the primal is not changed


def test_jvp_of_a_matrix_argument_and_several_arrays():
    X, v, s = R(2, 3, seed=1), R(3, seed=2), 1.5
    f = lambda X, v, s: np.tanh(X @ v) * s + np.sum(X * X, axis=1)     # noqa: E731
    tX, tv = R(2, 3, seed=3), R(3, seed=4)
    check_jvp(f, (X, v, s), (tX, tv, -0.5))
    # a tangent given as a nested list stands for an array; int arrays become float
    y, dy = jvp(lambda x: x * x, (np.array([1.0, 2.0]),), ([1, 1],))
    np.testing.assert_allclose(dy, [2.0, 4.0])
    # a 0-d array primal takes a number as its tangent
    y, dy = jvp(lambda x: x * 3.0, (np.array(2.0),), (1.0,))
    assert np.shape(dy) == () and float(dy) == 3.0


def test_jvp_of_integer_arrays():
    y, dy = jvp(lambda x: np.sum(x * x), (np.array([1, 2, 3]),), (np.array([1, 0, 1]),))
    assert y == 14 and dy == pytest.approx(8.0)


# ---------------------------------------------------------------------------
# Complex inputs

@settings(max_examples=30, deadline=None)
@given(reals, reals, reals, reals)
def test_jvp_of_holomorphic_functions_is_the_complex_derivative_times_t(a, b, c, d):
    z, t = complex(a, b), complex(c, d)
    cases = [
        (lambda z: z ** 3 + 2.0 * z, lambda z: 3 * z ** 2 + 2.0),
        (lambda z: zygcy.cmath.exp(z) * z, lambda z: np.exp(z) * (1 + z)),
        (lambda z: zygcy.cmath.sin(z) + zygcy.cmath.cos(2 * z), lambda z: np.cos(z) - 2 * np.sin(2 * z)),
        (lambda z: 1.0 / (z * z + 9.0), lambda z: -2 * z / (z * z + 9.0) ** 2),     # poles at +-3i
    ]
    for f, df in cases:
        y, dy = jvp(f, (z,), (t,))
        assert y == pytest.approx(f(z))
        assert dy == pytest.approx(df(z) * t, rel=1e-10, abs=1e-10)
        # and equals differences in the complex direction t
        assert dy == pytest.approx(complex(fd_jvp(f, (z,), (t,))), rel=1e-5, abs=1e-6)


def test_jvp_of_holomorphic_array_code():
    z, t = C(4, seed=1), C(4, seed=2)
    f = lambda z: np.exp(z) * z + np.sin(z) ** 2 + z @ z     # noqa: E731
    y, dy = jvp(f, (z,), (t,))
    want = (np.exp(z) * (1 + z) + 2 * np.sin(z) * np.cos(z)) * t + 2 * (z @ t)
    np.testing.assert_allclose(dy, want, rtol=1e-10)
    # a real tangent for a complex primal moves along the real axis
    y, dy = jvp(f, (z,), (t.real,))
    np.testing.assert_allclose(dy, fd_jvp(f, (z,), (t.real,)), rtol=1e-6, atol=1e-7)


NON_HOLOMORPHIC = {
    "abs": lambda z: abs(z),
    "abs-squared": lambda z: abs(z) ** 2,
    "conj": lambda z: z.conjugate() * z * z,
    "real-imag": lambda z: z.real * z.imag ** 2,
    "mixed": lambda z: zygcy.cmath.exp(z.conjugate()) + abs(z) * z,
    "phase": lambda z: zygcy.cmath.phase(z),
}


@pytest.mark.parametrize("name", list(NON_HOLOMORPHIC))
def test_jvp_of_non_holomorphic_scalar_functions_is_r_linear(name):
    f = NON_HOLOMORPHIC[name]
    for seed in range(4):
        z, t = complex(*R(2, seed=seed)), complex(*R(2, seed=seed + 10))
        y, dy = jvp(f, (z,), (t,))
        want = complex(fd_jvp(f, (z,), (t,)))
        assert complex(dy) == pytest.approx(want, rel=1e-6, abs=1e-7)
        if isinstance(f(z), float):
            assert not np.iscomplexobj(dy)      # a real output has a real tangent


def test_jvp_of_non_holomorphic_array_functions_is_r_linear():
    z, t = C(3, seed=3), C(3, seed=4)
    for f in (np.abs, np.conj, np.real, np.imag, lambda z: np.angle(z) * np.abs(z),
              lambda z: np.sum(np.abs(z) ** 2), lambda z: np.real(z @ np.conj(z) * z)):
        y, dy = jvp(f, (z,), (t,))
        np.testing.assert_allclose(dy, fd_jvp(f, (z,), (t,)), rtol=1e-6, atol=1e-7)
        assert np.iscomplexobj(dy) == np.iscomplexobj(f(z))


def test_jvp_real_to_complex_and_back():
    x, t = R(3, seed=5), R(3, seed=6)
    f = lambda x: np.abs(np.exp(1j * x) * (x + 2j)) ** 2      # noqa: E731
    y, dy = jvp(f, (x,), (t,))
    assert not np.iscomplexobj(dy)
    np.testing.assert_allclose(dy, fd_jvp(f, (x,), (t,)), rtol=1e-6, atol=1e-7)
    check_jvp(lambda x: x * (1.0 + 2.0j), (1.5,), (1.0,))


# ---------------------------------------------------------------------------
# Structures

def test_jvp_of_tuple_dict_and_list_primals():
    x, w = R(3, seed=1), R(3, seed=2)
    primals = ((x, 2.0), {"w": w, "b": 0.5}, [1.0, np.array([1.0, -1.0])])
    tangents = ((R(3, seed=3), 1.0), {"w": R(3, seed=4), "b": -2.0}, [0.5, np.array([2.0, 1.0])])

    def f(p, d, lst):
        x, s = p
        return np.sum(np.sin(x * d["w"]) * s) + d["b"] * lst[0] + lst[1] @ lst[1] * s

    check_jvp(f, primals, tangents)


def test_jvp_none_tangents_stand_for_zero_and_for_whole_subtrees():
    x, w = R(3, seed=1), R(3, seed=2)
    f = lambda p, d: np.sum(p[0] * d["w"]) + p[1] * d["b"]     # noqa: E731
    primals = ((x, 2.0), {"w": w, "b": 0.5})
    full = jvp(f, primals, ((R(3, seed=3), 1.0), {"w": R(3, seed=4), "b": 1.0}))[1]
    only_x = jvp(f, primals, ((R(3, seed=3), None), None))[1]
    assert only_x == pytest.approx(np.sum(R(3, seed=3) * w))
    only_d = jvp(f, primals, (None, {"w": R(3, seed=4), "b": 1.0}))[1]
    assert full == pytest.approx(only_x + only_d + 0.5)
    assert jvp(f, primals, (None, None))[1] == 0.0
    # a dict tangent may omit keys: they are zero
    assert jvp(f, primals, (None, {"b": 1.0}))[1] == pytest.approx(2.0)


def test_jvp_with_structured_outputs():
    x = R(3, seed=1)
    t = R(3, seed=2)

    def f(x, s):
        return {"y": np.sin(x) * s, "pair": (np.sum(x), x[0] * s), "const": 3.0,
                "list": [x * 2.0, np.zeros(2)], "label": "text"}

    y, dy = jvp(f, (x, 2.0), (t, 0.5))
    assert y["label"] == "text" and dy["label"] is None
    assert dy["const"] == 0.0
    np.testing.assert_array_equal(dy["list"][1], np.zeros(2))
    assert isinstance(dy["pair"], tuple) and isinstance(dy["list"], list)
    np.testing.assert_allclose(dy["y"], np.cos(x) * t * 2.0 + np.sin(x) * 0.5)
    assert dy["pair"][0] == pytest.approx(np.sum(t))
    assert dy["pair"][1] == pytest.approx(t[0] * 2.0 + x[0] * 0.5)
    np.testing.assert_allclose(dy["list"][0], 2.0 * t)
    # a tuple output of numbers
    y, dy = jvp(lambda a, b: (a * b, a + b, a - a), (2.0, 3.0), (1.0, 1.0))
    assert y == (6.0, 5.0, 0.0) and dy == (5.0, 2.0, 0.0)


def test_jvp_passes_strings_and_non_numbers_through():
    def f(x, name, opts):
        assert name == "scale" and opts["flag"] is True
        return x * opts["k"]

    y, dy = jvp(f, (2.0, "scale", {"flag": True, "k": 3.0}), (1.0, None, {"flag": None, "k": 0.0}))
    assert (y, dy) == (6.0, 3.0)
    y, dy = jvp(f, (2.0, "scale", {"flag": True, "k": 3.0}), (0.0, None, {"k": 1.0}))
    assert dy == 2.0


def test_jvp_of_a_namedtuple_primal():
    from collections import namedtuple
    P = namedtuple("P", ["a", "b"])
    y, dy = jvp(lambda p: p.a * p.b ** 2, (P(2.0, 3.0),), (P(1.0, 1.0),))
    assert (y, dy) == (18.0, 9.0 + 12.0)


# ---------------------------------------------------------------------------
# User rules

def test_jvp_through_a_grad_rule_transposes_its_pullback():
    calls = []

    @zygcy.grad
    def mysin(x):
        calls.append(1)
        return np.sin(x), lambda g: (g * np.cos(x),)

    x, t = R(4, seed=1), R(4, seed=2)
    y, dy = jvp(lambda x: mysin(x) * x, (x,), (t,))
    np.testing.assert_allclose(dy, (np.cos(x) * x + np.sin(x)) * t, rtol=1e-12)
    assert calls

    @zygcy.grad
    def two_args(a, b):
        return a * np.exp(b), lambda g: (g * np.exp(b), np.sum(g * a * np.exp(b)))

    y, dy = jvp(two_args, (x, 0.3), (t, 2.0))
    np.testing.assert_allclose(dy, t * np.exp(0.3) + x * np.exp(0.3) * 2.0, rtol=1e-12)
    # a rule with a None cotangent: no tangent from that argument
    @zygcy.grad
    def scale_by(x, k):
        return x * k, lambda g: (g * k, None)

    y, dy = jvp(scale_by, (x, 3.0), (t, 1.0))
    np.testing.assert_allclose(dy, 3.0 * t)


def test_jvp_through_a_primitive_with_pullbacks_only():
    @primitive
    def logsumexp(x):
        m = np.max(x)
        return m + np.log(np.sum(np.exp(x - m)))

    defvjp(logsumexp, lambda ans, x: lambda g: g * np.exp(x - ans))
    x, t = R(5, seed=1), R(5, seed=2)
    y, dy = jvp(logsumexp, (x,), (t,))
    p = np.exp(x - y)
    assert dy == pytest.approx(p @ t, rel=1e-12)
    check_jvp(lambda x: logsumexp(x * x) * x, (x,), (t,))


def test_jvp_through_a_defjoint_primitive_and_multiple_outputs():
    @primitive
    def mul_and_add(a, b):
        return (a * b, a + b)

    defjoint(mul_and_add, lambda ans, a, b: lambda g: (g[0] * b + g[1], g[0] * a + g[1]))
    y, dy = jvp(lambda a, b: mul_and_add(a, b), (2.0, 3.0), (1.0, -1.0))
    assert y == (6.0, 5.0) and dy == pytest.approx((1.0, 0.0))
    y, dy = jvp(lambda a, b: mul_and_add(a, b)[0] * 2.0, (2.0, 3.0), (0.0, 1.0))
    assert dy == pytest.approx(4.0)


def test_jvp_uses_a_registered_forward_rule():
    used = []

    @primitive
    def cube(x):
        return x ** 3

    defvjp(cube, lambda ans, x: lambda g: 3 * g * x ** 2)

    def cube_jvp(t, ans, x):
        used.append(1)
        return 3 * x ** 2 * t

    defjvp(cube, cube_jvp)
    assert jvp(cube, (2.0,), (1.0,)) == (8.0, 12.0)
    assert used
    x, t = R(3, seed=1), R(3, seed=2)
    np.testing.assert_allclose(jvp(cube, (x,), (t,))[1], 3 * x ** 2 * t)
    # nested in reverse mode: the gradient of the tangent uses the rule again
    assert gradient(lambda x: jvp(cube, (x,), (1.0,))[1], 2.0)[0] == pytest.approx(12.0)


def test_a_forward_rule_decides_the_tangent_even_where_the_pullback_differs():
    # forward mode calls the forward rule, reverse mode the pullback: told apart
    # by giving them (deliberately) different answers
    @primitive
    def odd(x):
        return 2.0 * x

    defvjp(odd, lambda ans, x: lambda g: 2.0 * g)
    defjvp(odd, lambda t, ans, x: 5.0 * t)
    assert jvp(odd, (1.0,), (1.0,))[1] == 5.0
    assert gradient(odd, 1.0)[0] == 2.0


def test_defjvp_with_none_transposes_that_argument():
    @primitive
    def f(a, b):
        return a * np.sin(b)

    defvjp(f, lambda ans, a, b: lambda g: g * np.sin(b),
           lambda ans, a, b: lambda g: np.sum(g * a * np.cos(b)))
    defjvp(f, lambda t, ans, a, b: t * np.sin(b), None)
    a, b = R(3, seed=1), 0.7
    y, dy = jvp(f, (a, b), (R(3, seed=2), 0.5))
    np.testing.assert_allclose(dy, R(3, seed=2) * np.sin(b) + a * np.cos(b) * 0.5, rtol=1e-12)


def test_jvp_through_deflinear_and_defbilinear_primitives():
    @primitive
    def double_first(x, n):
        return 2.0 * x[:n]

    def undo(g, x, n):
        out = np.zeros_like(x)
        out[:n] = 2.0 * g
        return out

    deflinear(double_first, undo)

    @primitive
    def inner(a, b):
        return np.sum(a * b)

    defbilinear(inner, lambda g, a, b: g * b, lambda g, a, b: g * a)
    x, t = R(4, seed=1), R(4, seed=2)
    np.testing.assert_allclose(jvp(lambda x: double_first(x, 2), (x,), (t,))[1], 2.0 * t[:2])
    a, b = R(3, seed=3), R(3, seed=4)
    ta, tb = R(3, seed=5), R(3, seed=6)
    assert jvp(inner, (a, b), (ta, tb))[1] == pytest.approx(ta @ b + a @ tb)
    check_jvp(lambda a, b: inner(np.sin(a), b * b), (a, b), (ta, tb))


def test_jvp_through_checkpointed_and_dropgrad():
    f = lambda t: zm.sin(t) * t       # noqa: E731
    y, dy = jvp(lambda x: checkpointed(f, x) * 2.0, (0.7,), (1.5,))
    assert dy == pytest.approx(2.0 * (math.cos(0.7) * 0.7 + math.sin(0.7)) * 1.5, rel=1e-12)
    x, t = R(3, seed=1), R(3, seed=2)
    y, dy = jvp(lambda x: checkpointed(lambda a, b: np.sum(np.tanh(a) * b), x, x * 2.0), (x,), (t,))
    assert dy == pytest.approx(fd_jvp(lambda x: np.sum(np.tanh(x) * x * 2.0), (x,), (t,)), rel=1e-6)
    # dropgrad: the value passes, the tangent does not
    y, dy = jvp(lambda x: x * dropgrad(x), (3.0,), (1.0,))
    assert (y, dy) == (9.0, 3.0)
    y, dy = jvp(lambda x: np.sum(dropgrad(x) * np.sin(x)), (x,), (t,))
    assert dy == pytest.approx(np.sum(x * np.cos(x) * t))
    assert jvp(lambda x: dropgrad(x) * 2.0, (x,), (t,))[1].tolist() == [0.0] * 3
    # nograd and value also cut the tangent
    assert jvp(lambda x: x * zygcy.value(x), (3.0,), (1.0,))[1] == 3.0
    assert jvp(zygcy.nograd(lambda x: x * x), (3.0,), (1.0,))[1] == 0.0


def test_jvp_through_a_hook_is_the_identity():
    seen = []

    def scale(g):
        seen.append(g)
        return 100 * g

    y, dy = jvp(lambda x: zygcy.hook(scale, x) * 3.0, (1.0,), (1.0,))
    assert (y, dy) == (3.0, 3.0)        # (once was (3.0, 300.0): the hook transposed)
    assert seen == []                   # a gradient hook has no gradient to see in forward mode
    # a hook on the outer reverse level, outside the jvp, still acts on the gradient
    assert gradient(lambda x: jvp(lambda y: zygcy.hook(scale, x) * y, (1.0,), (1.0,))[1], 2.0) == (100.0,)


def test_a_hook_inside_jvp_still_acts_on_an_outer_reverse_level():
    # the primal output of the jvp is hook(x * 1): its gradient in x goes through the hook
    g = gradient(lambda x: jvp(lambda y: zygcy.hook(lambda g: 100 * g, x * y), (1.0,), (1.0,))[0], 2.0)
    assert g == (100.0,)        # got (1.0,)


def test_jvp_through_a_complex_grad_rule():
    # zygcy's convention: the cotangent of a holomorphic f is conj(f'(z)) g
    @zygcy.grad
    def square(z):
        return z * z, lambda g: (g * np.conj(2 * z),)

    @zygcy.grad
    def modulus(z):
        r = np.abs(z)
        return r, lambda g: (g * z / r,)

    z, t = C(3, seed=1), C(3, seed=2)
    np.testing.assert_allclose(jvp(square, (z,), (t,))[1], 2 * z * t, rtol=1e-12)
    np.testing.assert_allclose(jvp(modulus, (z,), (t,))[1], np.real(np.conj(z) * t) / np.abs(z), rtol=1e-12)
    # the same as the built-in rules
    np.testing.assert_allclose(jvp(modulus, (z,), (t,))[1], jvp(np.abs, (z,), (t,))[1], rtol=1e-12)


def test_a_grad_rule_with_a_wrong_cotangent_shape_is_refused_in_forward_mode_too():
    @zygcy.grad
    def badct(a):
        return a * 2.0, lambda g: (np.sum(g) * 2.0,)       # should be g * 2.0, of a's shape

    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"pullback of badct returned a cotangent of shape \(\)"):
        forward(badct, x)[1](np.ones(3))
    with pytest.raises(ValueError, match=r"pullback of badct returned a cotangent of shape \(\) for "
                                         r"argument 0, whose value has shape \(3,\)"):
        jvp(badct, (x,), (np.array([1.0, 0.0, 0.0]),))     # (once gave dy = [2, 2, 2], no error)


def test_jvp_of_scipy_functions():
    sp = pytest.importorskip("scipy.special")
    so = pytest.importorskip("scipy.optimize")
    x, t = np.array([0.3, 1.2, 2.0]), np.array([1.0, -0.5, 0.7])
    for f in (sp.erf, sp.gammaln, sp.digamma, sp.expit, sp.logsumexp, sp.softmax, sp.log_softmax,
              lambda x: sp.xlogy(x, x + 1.0), lambda x: sp.polygamma(1, x), so.rosen, so.rosen_der):
        check_jvp(f, (x,), (t,), rtol=1e-6, atol=1e-7)
    y, dy = jvp(so.rosen, (x,), (t,))
    assert dy == pytest.approx(so.rosen_der(x) @ t, rel=1e-12)
    np.testing.assert_allclose(jvp(so.rosen_der, (x,), (t,))[1], so.rosen_hess(x) @ t, rtol=1e-12)


# ---------------------------------------------------------------------------
# <u, J v> = <J^T u, v>: forward mode against reverse mode on random programs

N = 4
M4 = R(N, N, seed=11)
C4 = R(N, seed=12)
OPS = [
    ("sin", np.sin), ("tanh", np.tanh), ("scale", lambda x: x * C4), ("shift", lambda x: x + C4),
    ("square", lambda x: 0.5 * x * x), ("gauss", lambda x: np.exp(-x * x)), ("cumsum", np.cumsum),
    ("reverse", lambda x: x[::-1]), ("matvec", lambda x: M4 @ x * 0.5), ("vecmat", lambda x: x @ M4 * 0.5),
    ("sort", np.sort), ("roll", lambda x: np.concatenate([x[1:], x[:1]])),
    ("leaky", lambda x: np.where(x > 0, x, 0.1 * x)), ("norm", lambda x: x / np.sqrt(1.0 + x @ x)),
    ("outer", lambda x: np.outer(x, x).sum(axis=0) * 0.25), ("softmax", lambda x: np.exp(x) / np.sum(np.exp(x))),
    ("setitem", lambda x: set_first(x)), ("stack", lambda x: np.stack([x[1], x[0], x[3] * x[2], np.sum(x)])),
    ("solve", lambda x: np.linalg.solve(M4 @ M4.T + np.eye(N) + np.diag(x * x), x)),
    ("max", lambda x: x * np.max(x)), ("cos-sum", lambda x: np.cos(x + np.sum(x))),
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, len(OPS) - 1), min_size=1, max_size=6), st.integers(0, 10 ** 6))
def test_jvp_and_reverse_mode_satisfy_the_adjoint_identity(program, seed):
    def f(x):
        for k in program:
            x = OPS[k][1](x)
        return x

    rng = np.random.default_rng(seed)
    x, v, u = rng.standard_normal(N), rng.standard_normal(N), rng.standard_normal(N)
    y, Jv = jvp(f, (x,), (v,))
    y2, back = forward(f, x)
    JTu, = back(u)
    np.testing.assert_allclose(y, y2, rtol=1e-12)
    assert np.vdot(u, Jv) == pytest.approx(np.vdot(JTu, v), rel=1e-9, abs=1e-10)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10 ** 6))
def test_adjoint_identity_with_structures_and_complex(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(3)
    z = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    s = float(rng.standard_normal())

    def f(d, s):
        w = np.exp(d["z"] * s) * d["x"] + np.conj(d["z"]) * d["x"] ** 2
        return (np.abs(w) ** 2, w, np.sum(d["x"]) * s)

    primals = ({"x": x, "z": z}, s)
    tangents = ({"x": rng.standard_normal(3), "z": rng.standard_normal(3) + 1j * rng.standard_normal(3)},
                float(rng.standard_normal()))
    cot = (rng.standard_normal(3), rng.standard_normal(3) + 1j * rng.standard_normal(3),
           float(rng.standard_normal()))
    y, dy = jvp(f, primals, tangents)
    _, back = forward(f, *primals)
    gd, gs = back(cot)
    # the real inner product Re sum(conj(a) b) on every leaf
    lhs = sum(np.real(np.vdot(c, d)) for c, d in zip(cot, dy))
    rhs = (np.real(np.vdot(gd["x"], tangents[0]["x"])) + np.real(np.vdot(gd["z"], tangents[0]["z"]))
           + gs * tangents[1])
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-10)


# ---------------------------------------------------------------------------
# hessian, hessian_reverse, hvp, diaghessian

def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@pytest.mark.parametrize("n", [2, 5, 20])
def test_hessian_of_rosenbrock_equals_scipys(n):
    so = pytest.importorskip("scipy.optimize")
    x = R(n, seed=n)
    H = hessian(rosen, x)
    assert H.shape == (n, n)
    np.testing.assert_allclose(H, so.rosen_hess(x), rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(hessian_reverse(rosen, x), H, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_hessian_of_logsumexp_is_diag_p_minus_ppt(n):
    x = R(n, seed=4) * 2.0
    p = np.exp(x - np.max(x))
    p /= p.sum()
    lse = lambda x: np.max(x) + np.log(np.sum(np.exp(x - np.max(x))))     # noqa: E731
    np.testing.assert_allclose(hessian(lse, x), np.diag(p) - np.outer(p, p), atol=1e-12)


HESSIAN_FUNCTIONS = {
    "quartic": lambda x: np.sum(x ** 4) * x[0],
    "tanh-quadratic": lambda x: np.tanh(x @ A3[:len(x), :len(x)] @ x),
    "prod-cos": lambda x: np.prod(np.cos(x)) + np.sum(np.sin(x) * x),
    "softplus": lambda x: np.sum(np.log1p(np.exp(x))) * np.mean(x ** 2),
    "norm": lambda x: np.sqrt(1.0 + x @ x),
    "indexing": lambda x: x[0] * x[-1] ** 2 + np.sum(x[1:] * x[:-1]),
    "logdet": lambda x: np.linalg.slogdet(np.eye(len(x)) * 3.0 + np.outer(x, x))[1],
}


@pytest.mark.parametrize("name", list(HESSIAN_FUNCTIONS))
def test_hessian_equals_hessian_reverse_and_differences(name):
    f = HESSIAN_FUNCTIONS[name]
    x = R(3, seed=7) * 0.8
    H = hessian(f, x)
    np.testing.assert_allclose(H, hessian_reverse(f, x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    fd = fd_jacobian(lambda x: gradient(f, x)[0], x, 1e-5)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7)


def test_hessian_of_a_matrix_argument():
    W = R(2, 3, seed=5)
    f = lambda W: np.sum(np.tanh(W) ** 2) * W[0, 1]      # noqa: E731
    H = hessian(f, W)
    assert H.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(H, hessian_reverse(f, W), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x", [-1.3, 0.5, 2.0])
def test_hessian_of_a_number_valued_function_of_a_number(x):
    h = hessian(lambda t: zm.sin(t) * t, x)
    assert isinstance(h, float)
    assert h == pytest.approx(2 * math.cos(x) - x * math.sin(x), rel=1e-12)
    assert hessian(lambda t: t ** 3, x) == pytest.approx(6 * x)
    assert hessian_reverse(lambda t: t ** 3, x) == pytest.approx(6 * x)
    assert hessian(lambda t: 3.0 * t + 1.0, x) == 0.0       # linear: a zero Hessian
    np.testing.assert_array_equal(hessian(lambda t: np.sum(t), np.ones(2)), np.zeros((2, 2)))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 6), st.integers(0, 1000))
def test_hvp_equals_the_hessian_times_v(n, seed):
    rng = np.random.default_rng(seed)
    x, v = rng.standard_normal(n), rng.standard_normal(n)
    f = lambda x: np.sum(np.tanh(x) * np.exp(-x * x)) + np.prod(np.cos(x)) + rosen(x)    # noqa: E731
    H = hessian(f, x)
    np.testing.assert_allclose(hvp(f, x, v), H @ v, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(hvp(f, x, v), hessian_reverse(f, x) @ v, rtol=1e-9, atol=1e-10)


def test_hvp_on_a_million_elements():
    n = 10 ** 6
    x = np.linspace(-1.0, 1.0, n)
    v = np.cos(np.arange(n))
    got = hvp(lambda x: np.sum(np.sin(x) * x), x, v)
    assert got.shape == (n,)
    np.testing.assert_allclose(got, (2 * np.cos(x) - x * np.sin(x)) * v, rtol=1e-12, atol=1e-12)


def test_hvp_of_a_function_linear_in_x_is_zero():
    got = hvp(lambda x: np.sum(x * 3.0), np.ones(3), np.ones(3))
    np.testing.assert_array_equal(got, np.zeros(3))


def test_diaghessian_is_the_diagonal_of_the_hessian():
    x, y = R(4, seed=6), 1.5
    f = lambda x, y: np.sum(np.sin(x) * x) * y + y ** 3 + x[0] * x[1] * y + rosen(x)   # noqa: E731
    dx, dy = diaghessian(f, x, y)
    np.testing.assert_allclose(dx, np.diag(hessian(lambda x: f(x, y), x)), rtol=1e-12)
    assert dy == pytest.approx(hessian(lambda y: f(x, y), y), rel=1e-12)
    W = R(2, 2, seed=8)
    dW, = diaghessian(lambda W: np.sum(W ** 3) * W[0, 0], W)
    np.testing.assert_allclose(dW, np.diag(hessian(lambda W: np.sum(W ** 3) * W[0, 0], W).reshape(4, 4)).reshape(2, 2))


# ---------------------------------------------------------------------------
# forward_jacobian

FJ_FUNCTIONS = {
    "elementwise": lambda x: np.sin(x) * x,
    "cumprod": lambda x: np.cumprod(np.sin(x) + 2.0),
    "outer": lambda x: np.outer(x, np.cos(x)),
    "reduce": lambda x: np.sum(x ** 3),
    "solve": lambda x: np.linalg.solve(A3 + np.diag(x * x), x),
    "expand": lambda x: np.stack([x[0] * x[1], x[0], x[1] ** 2, np.sum(x)]),
}


@pytest.mark.parametrize("name", list(FJ_FUNCTIONS))
def test_forward_jacobian_equals_jacobian_and_differences(name):
    f = FJ_FUNCTIONS[name]
    x = R(3, seed=9) * 0.8
    y, J = forward_jacobian(f, x)
    np.testing.assert_allclose(y, f(x))
    Jr, = jacobian(f, x)
    assert np.shape(J) == np.shape(f(x)) + x.shape == np.shape(Jr)
    np.testing.assert_allclose(J, Jr, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(J, fd_jacobian(f, x), rtol=1e-6, atol=1e-8)


def test_forward_jacobian_of_a_matrix_input_has_layout_S_plus_T():
    X = R(2, 3, seed=1)
    f = lambda X: np.tanh(X) @ np.ones((3, 4)) * X[0, 0]     # noqa: E731
    y, J = forward_jacobian(f, X)
    assert J.shape == (2, 4, 2, 3)
    np.testing.assert_allclose(J, jacobian(f, X)[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(J, fd_jacobian(f, X), rtol=1e-6, atol=1e-8)
    assert withjacobian(f, X).grad[0].shape == J.shape


def test_forward_jacobian_of_a_number_and_of_structured_outputs():
    y, J = forward_jacobian(lambda t: np.stack([t, t * t, zm.sin(t)]), 0.5)
    np.testing.assert_allclose(J, [1.0, 1.0, math.cos(0.5)])
    y, J = forward_jacobian(lambda t: t ** 3, 2.0)
    assert (y, J) == (8.0, 12.0)
    x = R(3, seed=2)
    y, J = forward_jacobian(lambda x: {"a": np.sin(x), "b": (np.sum(x), x[:2] * 2.0)}, x)
    np.testing.assert_allclose(J["a"], np.diag(np.cos(x)))
    np.testing.assert_allclose(J["b"][0], np.ones(3))
    np.testing.assert_allclose(J["b"][1], 2.0 * np.eye(3)[:2])
    Jr, = jacobian(lambda x: {"a": np.sin(x), "b": (np.sum(x), x[:2] * 2.0)}, x)
    np.testing.assert_allclose(J["a"], Jr["a"])
    np.testing.assert_allclose(J["b"][1], Jr["b"][1])
    # an output that does not depend on x: a zero block
    y, J = forward_jacobian(lambda x: (x * 2.0, np.ones(2)), x)
    np.testing.assert_allclose(J[0], 2.0 * np.eye(3))
    np.testing.assert_array_equal(J[1], np.zeros((2, 3)))


# ---------------------------------------------------------------------------
# pushforward

def test_pushforward_is_reusable_and_equals_jvp():
    x = R(4, seed=1)
    f = lambda x, s: np.cumsum(np.sin(x) * s) + x @ x      # noqa: E731
    push = pushforward(f, x, 2.0)
    for seed in range(5):
        tx, ts = R(4, seed=10 + seed), float(R(seed=20 + seed))
        np.testing.assert_allclose(push(tx, ts), jvp(f, (x, 2.0), (tx, ts))[1], rtol=1e-14)
    # the basis directions give the Jacobian's columns
    cols = [push(e, 0.0) for e in np.eye(4)]
    np.testing.assert_allclose(np.stack(cols, axis=1), jacobian(f, x, 2.0)[0], rtol=1e-12)
    # linear in the tangent
    a, b = R(4, seed=30), R(4, seed=31)
    np.testing.assert_allclose(push(2.0 * a - b, 1.0), 2.0 * push(a, 0.5) - push(b, 0.0), rtol=1e-12)
    # tangents are checked at each call
    with pytest.raises(ValueError, match="has shape"):
        push(np.ones(3), 0.0)


# ---------------------------------------------------------------------------
# Nesting across modes

F_SCALAR = lambda x: zm.sin(x) * x ** 3      # noqa: E731


def d1(x):
    return math.cos(x) * x ** 3 + 3 * x ** 2 * math.sin(x)


def d2(x):
    return -math.sin(x) * x ** 3 + 6 * x ** 2 * math.cos(x) + 6 * x * math.sin(x)


def test_gradient_of_a_jvp_tangent_with_respect_to_primal_and_tangent():
    x, v = 0.7, 1.3
    g = gradient(lambda x, v: jvp(F_SCALAR, (x,), (v,))[1], x, v)
    assert g[0] == pytest.approx(d2(x) * v, rel=1e-12)      # d/dx f'(x) v
    assert g[1] == pytest.approx(d1(x), rel=1e-12)          # d/dv f'(x) v
    # arrays: d/dx <w, J(x) v>, against differences
    f = lambda x: np.tanh(A3 @ x) * x          # noqa: E731
    x, v, w = R(3, seed=1), R(3, seed=2), R(3, seed=3)
    gx, gv = gradient(lambda x, v: w @ jvp(f, (x,), (v,))[1], x, v)
    np.testing.assert_allclose(gx, numerical_gradient(lambda x: w @ jvp(f, (x,), (v,))[1], x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gv, jacobian(f, x)[0].T @ w, rtol=1e-12)


def test_jvp_and_jacobian_of_a_gradient():
    f = HESSIAN_FUNCTIONS["prod-cos"]
    x, v = R(3, seed=4), R(3, seed=5)
    H = hessian_reverse(f, x)
    y, dy = jvp(lambda x: gradient(f, x)[0], (x,), (v,))
    np.testing.assert_allclose(dy, H @ v, rtol=1e-10)
    np.testing.assert_allclose(jacobian(lambda x: gradient(f, x)[0], x)[0], H, rtol=1e-10)
    np.testing.assert_allclose(forward_jacobian(lambda x: gradient(f, x)[0], x)[1], H, rtol=1e-10)
    assert jvp(lambda x: derivative(F_SCALAR, x), (0.7,), (1.0,))[1] == pytest.approx(d2(0.7))


def test_derivatives_of_hessians():
    # third derivative of x**4 at x: 24 x
    for x in (0.5, 2.0):
        assert derivative(lambda t: hessian(lambda s: s ** 4, t), x) == pytest.approx(24 * x)
        assert jvp(lambda t: hessian(lambda s: s ** 4, t), (x,), (1.0,))[1] == pytest.approx(24 * x)
        assert hessian(lambda t: derivative(lambda s: s ** 4, t), x) == pytest.approx(24 * x)
        # fourth derivative: 24
        assert hessian(lambda t: hessian(lambda s: s ** 4, t), x) == pytest.approx(24.0)
    f = lambda x: np.sum(x ** 4) * x[0]     # noqa: E731
    x, v = R(3, seed=7), R(3, seed=8)
    T = jacobian(lambda x: hessian(f, x), x)[0]
    T_fwd = forward_jacobian(lambda x: hessian(f, x), x)[1]
    assert T.shape == (3, 3, 3)
    np.testing.assert_allclose(T_fwd, T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(T, fd_jacobian(lambda x: hessian(f, x), x, 1e-5), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(jacobian(lambda x: hvp(f, x, v), x)[0], T @ v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jvp(lambda x: hvp(f, x, v), (x,), (v,))[1], (T @ v) @ v, rtol=1e-10,
                               atol=1e-12)


def test_nested_jvp_has_no_perturbation_confusion():
    # d/dx [x * (d/dy (x + y))] at y = 1: the inner derivative is 1, so the answer is 1
    def inner(x):
        return x * jvp(lambda y: x + y, (1.0,), (1.0,))[1]

    assert jvp(inner, (1.0,), (1.0,)) == (1.0, 1.0)
    assert gradient(inner, 1.0) == (1.0,)
    assert derivative(lambda x: x * jvp(lambda y: x * y, (2.0,), (1.0,))[1], 3.0) == 6.0
    # Siskind & Pearlmutter: d/dx [x * d/dy (x * y)] = d/dx x^2 = 2x
    assert jvp(lambda x: x * jvp(lambda y: x * y, (2.0,), (1.0,))[1], (3.0,), (1.0,))[1] == 6.0
    # arrays, and reverse inside forward
    x = np.array([1.0, 2.0])
    y, dy = jvp(lambda x: x * jvp(lambda y: np.sum(x + y), (np.zeros(2),), (np.ones(2),))[1],
                (x,), (np.ones(2),))
    np.testing.assert_allclose(dy, [2.0, 2.0])
    assert jvp(lambda x: x * derivative(lambda y: x + y, 1.0), (1.0,), (1.0,))[1] == 1.0


def test_jvp_of_jvp_gives_second_directional_derivatives():
    x = 0.7
    f = F_SCALAR
    second = jvp(lambda x: jvp(f, (x,), (1.0,))[1], (x,), (1.0,))[1]
    assert second == pytest.approx(d2(x), rel=1e-12)
    # mixed directions on arrays: v2^T H v1 against the Hessian
    g = HESSIAN_FUNCTIONS["softplus"]
    x, v1, v2 = R(3, seed=1), R(3, seed=2), R(3, seed=3)
    got = jvp(lambda x: jvp(g, (x,), (v1,))[1], (x,), (v2,))[1]
    assert got == pytest.approx(v2 @ hessian_reverse(g, x) @ v1, rel=1e-10)


def test_jvp_inside_a_grad_rules_pullback():
    # a rule that computes its cotangent with forward mode: (d/dx f)(x) g
    def inner(x):
        return zm.exp(zm.sin(x))

    @zygcy.grad
    def f(x):
        return inner(x), lambda g: (g * jvp(inner, (x,), (1.0,))[1],)

    want1 = math.exp(math.sin(0.4)) * math.cos(0.4)
    assert gradient(f, 0.4)[0] == pytest.approx(want1, rel=1e-12)
    # the pullback is differentiable: a second derivative through it
    want2 = math.exp(math.sin(0.4)) * (math.cos(0.4) ** 2 - math.sin(0.4))
    assert derivative(lambda x: derivative(f, x), 0.4) == pytest.approx(want2, rel=1e-10)
    # and forward mode of the rule transposes that pullback
    assert jvp(f, (0.4,), (2.0,))[1] == pytest.approx(2.0 * want1, rel=1e-12)


def test_jvp_inside_a_function_differentiated_with_params():
    W = zygcy.param(R(2, 3, seed=1))
    b = zygcy.param(R(2, seed=2))
    x, v = R(3, seed=3), R(3, seed=4)

    def loss():
        # the directional derivative of the model in its input along v
        _, dy = jvp(lambda x: np.tanh(W @ x + b), (x,), (v,))
        return np.sum(dy ** 2)

    g = gradient(loss, zygcy.Params([W, b]))
    Wv, bv = np.asarray(W).copy(), np.asarray(b).copy()

    def loss_plain(Wv, bv):
        z = Wv @ x + bv
        return np.sum(((1 - np.tanh(z) ** 2) * (Wv @ v)) ** 2)

    np.testing.assert_allclose(g[W], numerical_gradient(lambda Wv: loss_plain(Wv, bv), Wv), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g[b], numerical_gradient(lambda bv: loss_plain(Wv, bv), bv), rtol=1e-6, atol=1e-8)


def test_forward_mode_scalar_code_nested_in_reverse_mode():
    def f(a):
        # d/dy sin(a * y) * y at y = 1, by forward mode on zygcy.math scalars
        return jvp(lambda y: zm.sin(a * y) * y, (1.0,), (1.0,))[1]

    # f(a) = a cos(a) + sin(a); f'(a) = 2 cos(a) - a sin(a)
    for a in (0.3, 1.1):
        assert f(a) == pytest.approx(a * math.cos(a) + math.sin(a))
        assert derivative(f, a) == pytest.approx(2 * math.cos(a) - a * math.sin(a), rel=1e-12)
        assert hessian_reverse(f, a) == pytest.approx(-3 * math.sin(a) - a * math.cos(a), rel=1e-12)
    # a long scalar loop in forward mode, inside reverse mode
    def g(a):
        def h(y):
            s = 0.0
            for k in range(50):
                s = s + zm.sin(a * y + k)
            return s
        return jvp(h, (0.5,), (1.0,))[1]

    want = numerical_gradient(g, 0.8)
    assert derivative(g, 0.8) == pytest.approx(want, rel=1e-6)


def test_nested_jvp_whose_inner_primal_is_the_outer_value():
    # d/dx [d/dy (x * y) at y = x] = d/dx x = 1
    assert jvp(lambda x: jvp(lambda y: x * y, (x,), (1.0,))[1], (2.0,), (1.0,)) == (2.0, 1.0)
    assert derivative(lambda x: jvp(lambda y: x * y, (x,), (1.0,))[1], 2.0) == 1.0
    # the outer value as the inner tangent: d/dx [d/dt (3 + t x)^2 ...] = d/dx (6 x) = 6
    assert jvp(lambda x: jvp(lambda y: y * y, (3.0,), (x,))[1], (2.0,), (1.0,)) == (12.0, 6.0)
    # an inner output that is the outer value: its inner tangent is zero, its outer one is not
    assert jvp(lambda x: jvp(lambda y: x, (1.0,), (1.0,)), (2.0,), (1.0,)) == ((2.0, 0.0), (1.0, 0.0))


def test_three_levels_forward_reverse_forward():
    # g(a) = d/db [jvp of c -> a b c^2 at c = b along a] at b = a = 4 a^3; g'(a) = 12 a^2
    def g(a):
        return gradient(lambda b: jvp(lambda c: a * b * c * c, (b,), (a,))[1], a)[0]

    for a in (0.5, 1.5):
        assert g(a) == pytest.approx(4 * a ** 3)
        assert jvp(g, (a,), (1.0,))[1] == pytest.approx(12 * a ** 2)
        assert derivative(g, a) == pytest.approx(12 * a ** 2)


def test_higher_order_operators_nested_in_forward_mode():
    x = np.array([1.0, 2.0])
    # the derivative in a of the Hessian of a * sum(x^3): diag(6 x)
    for hess in (hessian, hessian_reverse):
        H, dH = jvp(lambda a: hess(lambda x: a * np.sum(x ** 3), x), (2.0,), (1.0,))
        np.testing.assert_allclose(H, np.diag(12 * x))
        np.testing.assert_allclose(dH, np.diag(6 * x))
    y, dy = jvp(lambda a: hvp(lambda x: a * np.sum(x ** 3), x, np.ones(2)), (2.0,), (1.0,))
    np.testing.assert_allclose(dy, 6 * x)
    # hvp is linear in v: its jvp in v is hvp itself, its gradient in v is H^T 1
    y, dy = jvp(lambda v: hvp(lambda x: np.sum(x ** 3), x, v), (np.ones(2),), (np.array([1.0, 0.0]),))
    np.testing.assert_allclose(dy, [6.0, 0.0])
    g, = gradient(lambda v: np.sum(hvp(lambda x: np.sum(x ** 3), x, v)), np.ones(2))
    np.testing.assert_allclose(g, 6 * x)
    y, dy = jvp(lambda a: withjacobian(lambda x: a * x * x, x).grad[0], (2.0,), (1.0,))
    np.testing.assert_allclose(dy, np.diag(2 * x))
    J3 = forward_jacobian(lambda x: jacobian(lambda y: np.sin(y) * y[0], x)[0], np.array([0.3, 0.4]))[1]
    np.testing.assert_allclose(J3, jacobian(lambda x: jacobian(lambda y: np.sin(y) * y[0], x)[0],
                                            np.array([0.3, 0.4]))[0], rtol=1e-12)


def test_diaghessian_nests_for_array_arguments():
    x = np.array([1.0, 2.0, 3.0])
    # number arguments nest already
    assert jvp(lambda a: diaghessian(lambda x: a * x ** 3, 2.0)[0], (2.0,), (1.0,)) == (24.0, 12.0)
    y, dy = jvp(lambda a: diaghessian(lambda x: a * np.sum(x ** 3), x)[0], (2.0,), (1.0,))
    np.testing.assert_allclose(dy, 6 * x)
    g, = gradient(lambda a: np.sum(diaghessian(lambda x: a * np.sum(x ** 3), x)[0]), 2.0)
    assert g == pytest.approx(np.sum(6 * x))


def test_hvp_inside_a_function_differentiated_with_params():
    W = zygcy.param(np.array([[1.0, 2.0], [0.5, -1.0]]))
    x, v = np.array([0.3, -0.2]), np.array([1.0, 0.5])
    g = gradient(lambda: np.sum(hvp(lambda x: np.sum((W @ x) ** 3), x, v)), zygcy.Params([W]))

    def plain(Wv):          # H = 6 W^T diag(W x) W
        return np.sum(6 * Wv.T @ ((Wv @ x) * (Wv @ v)))

    np.testing.assert_allclose(g[W], numerical_gradient(plain, np.asarray(W).copy()), rtol=1e-6, atol=1e-8)


def test_rules_inside_jvp_on_values_an_outer_level_differentiates():
    @zygcy.grad
    def mysin(x):
        return zm.sin(x), lambda g: (g * zm.cos(x),)

    a = 2.0
    # primal and tangent of y -> rule(a y) at y = 1, differentiated in a by the outer level
    for outer in (lambda f: derivative(f, a), lambda f: jvp(f, (a,), (1.0,))[1]):
        assert outer(lambda a: jvp(lambda y: mysin(a * y), (1.0,), (1.0,))[0]) == pytest.approx(math.cos(a))
        assert outer(lambda a: jvp(lambda y: mysin(a * y), (1.0,), (1.0,))[1]) == pytest.approx(
            math.cos(a) - a * math.sin(a))
        sq = lambda t: t * t        # noqa: E731
        assert outer(lambda a: jvp(lambda y: checkpointed(sq, a * y), (1.0,), (1.0,))[0]) == pytest.approx(2 * a)
        assert outer(lambda a: jvp(lambda y: checkpointed(sq, a * y), (1.0,), (1.0,))[1]) == pytest.approx(4 * a)
        assert outer(lambda a: jvp(lambda y: dropgrad(a * y) + a, (1.0,), (1.0,))[0]) == 1.0


def test_reverse_mode_inside_forward_mode():
    def f(x):
        y, back = forward(lambda u: np.sin(u) * u, x)
        return back(np.ones_like(y))[0] + back(2 * np.ones_like(y))[0]     # 3 (sin u + u cos u)

    x = np.array([0.5, 1.0])
    y, dy = jvp(f, (x,), (np.ones(2),))
    np.testing.assert_allclose(y, 3 * (np.sin(x) + x * np.cos(x)))
    np.testing.assert_allclose(dy, 3 * (2 * np.cos(x) - x * np.sin(x)))


# ---------------------------------------------------------------------------
# Edge cases of the higher-order operators

def test_higher_order_operators_on_edge_case_points():
    assert hessian(lambda x: x ** 3, 2) == 12.0                 # an int point
    np.testing.assert_allclose(hessian(lambda x: np.sum(x ** 3), np.array([1, 2])), np.diag([6.0, 12.0]))
    assert float(hessian(lambda x: x ** 3, np.array(2.0))) == 12.0      # a 0-d array
    assert hessian(lambda x: np.sum(x ** 2), np.zeros(0)).shape == (0, 0)
    y, J = forward_jacobian(lambda x: x * 2.0, np.zeros(0))
    assert J.shape == (0, 0)
    y, J = forward_jacobian(lambda x: x * np.ones(2), np.array(2.0))
    np.testing.assert_allclose(J, [1.0, 1.0])
    assert hvp(lambda x: zm.sin(x) * x, 0.5, 2.0) == pytest.approx(2.0 * (2 * math.cos(0.5) - 0.5 * math.sin(0.5)))
    np.testing.assert_allclose(hvp(lambda x: np.sum(x ** 3), np.array([1, 2]), np.array([1, 1])), [6.0, 12.0])
    H = hessian(lambda x: np.sum(x ** 3), np.ones(2, np.float32))
    np.testing.assert_allclose(H, 6 * np.eye(2))
    assert diaghessian(lambda x, y: x ** 2, 1.0, 2.0) == (2.0, None)


# ---------------------------------------------------------------------------
# Errors say what to do

def test_hessian_of_a_non_scalar_output_says_what_to_do():
    with pytest.raises(ValueError, match=r"shape \(3,\).*hessian needs a real scalar output.*np\.sum"):
        hessian(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match="complex.*hessian needs a real scalar output"):
        hessian(lambda x: x * 1j, 1.0)
    with pytest.raises(TypeError, match="x must be a real number or a real array"):
        hessian(lambda d: d["a"], {"a": 1.0})
    with pytest.raises(ValueError, match=r"v has shape \(2,\) but x has shape \(3,\)"):
        hvp(lambda x: np.sum(x ** 2), np.ones(3), np.ones(2))


def test_a_tangent_of_the_wrong_shape_says_which_and_what_shape():
    with pytest.raises(ValueError, match=r"tangent of argument 0 has shape \(2,\), but the argument has "
                                         r"shape \(3,\); a tangent has its argument's shape"):
        jvp(lambda x: x, (np.ones(3),), (np.ones(2),))
    with pytest.raises(ValueError, match=r"argument 1 at \['w'\] has shape \(\)"):
        jvp(lambda a, d: a * d["w"], (1.0, {"w": np.ones(2)}), (1.0, {"w": 1.0}))
    with pytest.raises(ValueError, match=r"has shape \(2,\), but the argument has shape \(\)"):
        jvp(lambda a: a, (1.0,), (np.ones(2),))


def test_a_complex_tangent_for_a_real_primal_says_to_pass_a_complex_primal():
    with pytest.raises(TypeError, match=r"complex but the argument is real.*x \+ 0j"):
        jvp(lambda x: x * x, (1.0,), (1j,))
    with pytest.raises(TypeError, match=r"argument 0 is complex but the argument is real"):
        jvp(np.sin, (np.ones(2),), (np.ones(2) * 1j,))


def test_params_are_refused_by_forward_mode():
    W = zygcy.param(np.ones(2))
    with pytest.raises(TypeError, match=r"forward mode takes no Params; pass the arrays themselves"):
        jvp(lambda: np.sum(W), (zygcy.Params([W]),), (None,))
    with pytest.raises(TypeError, match="forward mode takes no Params"):
        jvp(lambda w: np.sum(w), (W,), (np.ones(2),))
    with pytest.raises(TypeError, match="forward mode takes no Params"):
        pushforward(lambda: np.sum(W), zygcy.Params([W]))


def test_primals_and_tangents_must_be_tuples_of_matching_length():
    with pytest.raises(TypeError, match=r"primals must be a tuple of f's arguments, e\.g\. \(x,\)"):
        jvp(lambda x: x, 1.0, (1.0,))
    with pytest.raises(TypeError, match=r"primals must be a tuple"):
        jvp(lambda x: x, np.ones(2), (np.ones(2),))
    with pytest.raises(TypeError, match=r"tangents must be a tuple with one tangent per argument \(2\).*got 1"):
        jvp(lambda x, y: x * y, (1.0, 2.0), (1.0,))
    with pytest.raises(TypeError, match=r"tangents must be a tuple with one tangent per argument \(1\)"):
        jvp(lambda x: x, (1.0,), 1.0)
    with pytest.raises(TypeError, match="jvp"):
        jvp("not a function", (1.0,), (1.0,))


def test_a_tangent_for_a_non_differentiable_leaf_must_be_none():
    with pytest.raises(TypeError, match=r"argument 1 is not differentiable \(str\), so its tangent must be None"):
        jvp(lambda x, s: x, (1.0, "name"), (1.0, 1.0))
    with pytest.raises(TypeError, match=r"the tangent of argument 0 is a str; give a number or an array"):
        jvp(lambda x: x, (1.0,), ("dx",))
    with pytest.raises(TypeError, match=r"dtype object"):
        jvp(np.sum, (np.array([1.0, 2.0], dtype=object),), (np.ones(2),))


def test_a_tangent_of_the_wrong_structure_is_refused():
    with pytest.raises(ValueError, match=r"tuple of 1 items.*has 2"):
        jvp(lambda d: d[0], ((1.0, 2.0),), ((1.0,),))
    with pytest.raises(ValueError, match=r"a leaf \(a float\) where"):
        jvp(lambda d: d[0], ((1.0, 2.0),), (1.0,))
    with pytest.raises(ValueError, match=r"the key 'b'"):
        jvp(lambda d: d["a"], ({"a": 1.0},), ({"a": 1.0, "b": 2.0},))
    with pytest.raises(TypeError, match=r"tangent of argument 0 is a bool"):
        jvp(lambda x: x * 2, (1.0,), (True,))


def test_a_tangent_of_the_wrong_structure_is_told_to_follow_the_argument():
    with pytest.raises(ValueError) as e:
        jvp(lambda d: d["a"], ({"a": 1.0},), ({"a": 1.0, "b": 2.0},))
    assert "output" not in str(e.value) and "argument" in str(e.value), str(e.value)


def test_pushforward_refuses_bad_arguments_when_it_is_made():
    with pytest.raises(TypeError, match=r"pushforward: argument 0 is an array of dtype object.*astype\(float\)"):
        pushforward(np.sum, np.array([1.0, 2.0], dtype=object))
    with pytest.raises(TypeError, match=r"pushforward: argument 1 at \['s'\] is a set.*sorted\(s\)"):
        pushforward(lambda x, d: x, 1.0, {"s": {1.0, 2.0}})
    # a tangent for a string is refused when push is called
    with pytest.raises(TypeError, match=r"pushforward: argument 1 is not differentiable \(str\)"):
        pushforward(lambda x, s: x, 1.0, "s")(1.0, 2.0)


def test_a_none_tangent_makes_an_argument_constant_for_rules_without_its_derivative():
    p = primitive(lambda x, n: x * n)
    defvjp(p, lambda ans, x, n: lambda g: g * n, None)
    assert jvp(p, (1.0, 2), (1.0, None)) == (2.0, 2.0)
    assert jvp(p, (1.0, 2.0), (1.0, None)) == (2.0, 2.0)       # (once raised TypeError)
    x = np.array([1.0, 2.0])
    y, dy = jvp(lambda x, k: np.sum(np.outer(x, x), axis=k), (x, 0), (np.ones(2), None))
    np.testing.assert_allclose(dy, 2.0 * x + x.sum())        # d(sum(x) x) = sum(t) x + sum(x) t


def test_a_tangent_for_an_argument_without_a_derivative_is_refused():
    p = primitive(lambda x, n: x * n)
    defvjp(p, lambda ans, x, n: lambda g: g * n, None)
    with pytest.raises(TypeError, match=r"no derivative with respect to argument 1; wrap that argument in zygcy.dropgrad"):
        jvp(p, (1.0, 2.0), (1.0, 1.0))
    assert jvp(lambda x, n: p(x, dropgrad(n)), (1.0, 2.0), (1.0, 1.0)) == (2.0, 2.0)


def test_a_wrong_user_forward_rule_is_named_in_the_error():
    @primitive
    def badshape(x):
        return x * 2.0

    defvjp(badshape, lambda ans, x: lambda g: 2.0 * g)
    defjvp(badshape, lambda t, ans, x: np.ones(5))
    with pytest.raises(ValueError, match=r"forward rule of badshape returned a tangent of shape \(5,\) "
                                         r"for an output of shape \(3,\); it must have the output's shape"):
        jvp(badshape, (np.ones(3),), (np.ones(3),))

    @primitive
    def badkind(x):
        return x * 2.0

    defvjp(badkind, lambda ans, x: lambda g: 2.0 * g)
    defjvp(badkind, lambda t, ans, x: "oops")
    with pytest.raises(TypeError, match=r"forward rule of badkind returned a str"):
        jvp(badkind, (1.0,), (1.0,))

    @primitive
    def two_out(x):
        return (x, x * 2.0)

    defvjp(two_out, lambda ans, x: lambda g: g[0] + 2.0 * g[1])
    defjvp(two_out, lambda t, ans, x: t)
    with pytest.raises(ValueError, match=r"forward rule of two_out returned float for a function with 2 "
                                         r"outputs; it must return a tuple of 2 tangents"):
        jvp(two_out, (1.0,), (1.0,))


def test_defjvp_registration_errors_say_what_to_do():
    def plain(x):
        return x

    with pytest.raises(TypeError, match="plain Python function.*zygcy.primitive"):
        defjvp(plain, lambda t, ans, x: t)
    p = primitive(lambda x: x * 1.0)
    with pytest.raises(TypeError, match="forward rule 0 must be a function"):
        defjvp(p, 3.0)
    with pytest.raises(TypeError, match="give one forward rule per positional argument"):
        defjvp(p)
    q = primitive(lambda x: x * 1.0)
    q.__name__ = "norule"
    with pytest.raises(Exception, match="no reverse rule yet; register its pullbacks first"):
        defjvp(q, lambda t, ans, x: t)


def test_forward_jacobian_and_hvp_refuse_structures():
    with pytest.raises(TypeError, match="x must be a real number or a real array"):
        forward_jacobian(lambda d: d["a"], {"a": 1.0})
    with pytest.raises(TypeError, match="x must be a real number or a real array"):
        hvp(lambda x: x, "x", "v")


# ---------------------------------------------------------------------------
# Memory: forward mode keeps no tape

def long_loop(x, n=10 ** 5):
    for _ in range(n):
        x = x * 0.9999 + zm.sin(x) * 1e-4
    return x


def test_a_forward_level_records_nothing():
    Tape = zygcy._core.Tape
    tape = Tape(forward=True)
    tape.push()
    try:
        x = tape.leaf(0.5, 1.0)
        y = long_loop(x, 10 ** 4)
    finally:
        tape.pop()
    assert len(tape) == 0
    assert tape.owns(y)
    ref = jvp(lambda x: long_loop(x, 10 ** 4), (0.5,), (1.0,))
    assert tape.unwrap(y) == ref[0] and tape.tangent(y) == ref[1]
    # a reverse tape of the same program does record
    rtape = Tape()
    rtape.push()
    try:
        long_loop(rtape.leaf(0.5), 100)
    finally:
        rtape.pop()
    assert len(rtape) > 100


def test_jvp_of_a_long_scalar_loop_keeps_no_tape():
    n = 10 ** 5
    long_loop(0.5, 1000)        # warm up caches
    gc.collect()
    tracemalloc.start()
    try:
        y, dy = jvp(long_loop, (0.5,), (1.0,))
        _, peak_forward = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        yr, back = forward(lambda x: long_loop(x, n // 10), 0.5)      # a tenth of the loop, reversed
        _, peak_reverse = tracemalloc.get_traced_memory()
        del back
    finally:
        tracemalloc.stop()
    # the whole loop in forward mode needs far less than a tenth of it in reverse mode
    assert peak_forward < 200_000, peak_forward
    assert peak_forward * 5 < peak_reverse, (peak_forward, peak_reverse)
    # and its tangent is right: differences of the plain loop
    assert dy == pytest.approx(numerical_gradient(long_loop, 0.5, h=1e-5), rel=1e-6)


# ---------------------------------------------------------------------------
# Floats of a forward level keep their value as a C double until it is asked
# for as an object: every way of asking must see the same number.

def test_forward_floats_show_their_values_every_way_they_are_read():
    seen = {}

    def f(x):
        y = x * x + 1.0                     # 10.0 at x = 3, made by the C path
        seen["value"] = zygcy.value(y)
        seen["attr"] = y.value
        seen["repr"], seen["str"], seen["format"] = repr(y), str(y), "%.1f|%s" % (zygcy.value(y), format(y, ".2f"))
        seen["compare"] = (y == 10.0, y < 10.5, y > 9.5, y != 10.0, hash(y) == hash(10.0))
        seen["ints"] = (int(y), round(y), bool(y), math.floor(y), math.trunc(y))
        # the value read again by the slower paths: numpy scalars, powers, zygcy.math, abs
        z = np.float64(2.0) * y + y ** 1.5 + zygcy.math.sin(y) + abs(-y) + (-y) % 3.0
        return z

    y, dy = jvp(f, (3.0,), (1.0,))
    assert seen["value"] == 10.0 and type(seen["value"]) is float
    assert zygcy.value(seen["attr"]) == 10.0
    assert seen["repr"] == "Tracked(10.0)" and seen["str"] == "10.0" and seen["format"] == "10.0|10.00"
    assert seen["compare"] == (True, True, True, False, True)
    assert seen["ints"] == (10, 10, True, 10, 10)
    v = 10.0
    assert y == pytest.approx(2 * v + v ** 1.5 + math.sin(v) + v + (-v) % 3.0, rel=1e-14)
    dv = 6.0                                # d(x*x + 1)/dx at 3
    assert dy == pytest.approx(dv * (2 + 1.5 * v ** 0.5 + math.cos(v) + 1 + (-1)), rel=1e-13)
    plain = lambda u: (lambda w: 2 * w + w ** 1.5 + math.sin(w) + abs(-w) + (-w) % 3.0)(u * u + 1.0)
    assert dy == pytest.approx(numerical_gradient(plain, 3.0), rel=1e-7)


def test_forward_floats_as_values_of_nested_levels():
    # second derivatives of scalar code through every pairing of modes
    f = lambda x: x * x * x / (1.0 + x)
    d1 = lambda x: (2 * x ** 3 + 3 * x ** 2) / (1 + x) ** 2
    d2 = lambda x: ((6 * x ** 2 + 6 * x) * (1 + x) - 2 * (2 * x ** 3 + 3 * x ** 2)) / (1 + x) ** 3
    for x in (0.5, 2.0, -3.0):
        assert d1(x) == pytest.approx(numerical_gradient(f, x), rel=1e-7)
        assert d2(x) == pytest.approx(numerical_gradient(d1, x), rel=1e-7)
        fwd_fwd = jvp(lambda u: jvp(f, (u,), (1.0,))[1], (x,), (1.0,))[1]
        rev_fwd = derivative(lambda u: jvp(f, (u,), (1.0,))[1], x)
        fwd_rev = jvp(lambda u: derivative(f, u), (x,), (1.0,))[1]
        assert jvp(f, (x,), (1.0,))[1] == pytest.approx(d1(x), rel=1e-12)
        for got in (fwd_fwd, rev_fwd, fwd_rev, hessian(f, x)):
            assert zygcy.value(got) == pytest.approx(d2(x), rel=1e-10)


def test_forward_float_arithmetic_with_infinite_values_and_constants():
    inf = math.inf
    # a constant's side adds nothing to the tangent, even where its partial is infinite
    assert jvp(lambda x: x * 2.0, (inf,), (1.0,)) == (inf, 2.0)
    assert jvp(lambda x, c: x * c, (inf, 2.0), (1.0, None)) == (inf, 2.0)
    assert jvp(lambda x: x / 4.0, (inf,), (1.0,)) == (inf, 0.25)
    assert jvp(lambda x: x - 1.0, (inf,), (1.0,)) == (inf, 1.0)
    assert jvp(lambda x: x * inf, (2.0,), (1.0,)) == (inf, inf)
    assert jvp(lambda x: inf / x, (2.0,), (1.0,)) == (inf, -inf)
    y, dy = jvp(lambda x: 3.0 / x - x / 0.5, (2.0,), (1.0,))
    assert (y, dy) == (-2.5, -0.75 - 2.0)
    y, dy = jvp(lambda x, z: x / z, (3.0, 2.0), (1.0, 1.0))
    assert (y, dy) == (1.5, 0.5 - 0.75)
    with pytest.raises(ZeroDivisionError):
        jvp(lambda x: 1.0 / (x - x), (1.0,), (1.0,))


def test_tangent_sums_of_large_arrays_are_right_and_leave_every_array_alone():
    r = np.random.default_rng(0)
    n = 5000                                # above the size where a sum reuses its first term
    x, z, tx, tz = (r.standard_normal(n) for _ in range(4))
    saved = [a.copy() for a in (x, z, tx, tz)]
    kept = np.full(n, 0.5)                  # a forward rule that returns an array it keeps

    @primitive
    def scaled(a, b):
        return 0.5 * a + b

    defvjp(scaled, lambda ans, a, b: lambda g: 0.5 * g, lambda ans, a, b: lambda g: g)
    defjvp(scaled, lambda t, ans, a, b: 0.5 * t, lambda t, ans, a, b: t)
    y, dy = jvp(lambda x, z: x * z + x * x * z + scaled(x, z), (x, z), (tx, tz))
    np.testing.assert_allclose(y, x * z + x * x * z + 0.5 * x + z, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dy, tx * z + x * tz + 2 * x * tx * z + x * x * tz + 0.5 * tx + tz,
                               rtol=1e-12, atol=1e-14)
    F = lambda x, z: x * z + x * x * z + 0.5 * x + z
    h = 1e-6
    np.testing.assert_allclose(dy, (F(x + h * tx, z + h * tz) - F(x - h * tx, z - h * tz)) / (2 * h),
                               rtol=1e-6, atol=1e-7)
    for a, b in zip((x, z, tx, tz), saved):
        np.testing.assert_array_equal(a, b)

    @primitive
    def shifted(a, b):
        return a + b

    defvjp(shifted, lambda ans, a, b: lambda g: g, lambda ans, a, b: lambda g: g)
    defjvp(shifted, lambda t, ans, a, b: kept, lambda t, ans, a, b: 2.0 * t)   # a made-up rule
    y, dy = jvp(shifted, (x, z), (tx, tz))
    np.testing.assert_array_equal(dy, 0.5 + 2.0 * tz)
    np.testing.assert_array_equal(kept, np.full(n, 0.5))   # the rule's own array, not written into
