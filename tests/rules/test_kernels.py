"""The engine's C partials of float64 arrays, and its matmul node, against the rules.

On plain float64 arrays the sweep and forward mode compute the partials of the
most used ufuncs in C (``zygcy/_kernels.pxi``): on small arrays one loop for
every formula, on larger ones a loop per formula fused with the product; on
views, other dtypes and nested differentiations they call the table's partials
in ``zygcy/rules/ufuncs.py``. Every function the engine has a C partial for
(read from the registry, not listed here) is checked: the gradient on a small
array equals, to the bit, the same entries of the gradient on a large view
that holds it (numpy's path); the gradient and the tangent on large contiguous
arrays equal those on views of the same numbers; all agree with central
differences. ``x @ y`` of float64
matrices and vectors is one engine node whose sweep computes the cotangents
itself (in C for small sizes): checked against the products written out here.
"""
import contextlib

import numpy as np
import pytest

import zygcy
from zygcy import _core
from zygcy.extend import defelementwise
from zygcy.testing import gradcheck

import _rulewatch

SMALL = (2, 3)
LARGE_COLUMNS = 300          # (2, 300): 600 elements, above the C path's size


def _kernel_sites():
    # from the engine's table, not from the rules registered now: a mutant session
    # (tools/mutation.py) registers the mutated rule again, which drops its C path,
    # and its tests must still be collected (they then check the table's partial)
    out = []
    for fun, kernels in _core.kernel_table().items():
        for i, k in enumerate(kernels):
            if k and fun is not np.matmul and isinstance(fun, np.ufunc):     # not matmul's, sum's nodes
                out.append((fun, i))
    return sorted(out, key=lambda s: (s[0].__name__, s[1]))


SITES = _kernel_sites()
IDS = ["%s:%d" % (fun.__name__, i) for fun, i in SITES]


def test_the_engine_has_c_partials():
    # the checks below are not vacuous: zygcy's own tables opted in
    names = {fun.__name__ for fun, _ in SITES}
    assert {"multiply", "tanh", "exp"} <= names
    rules, _ = _core.registered()
    assert all(rules[fun].kernels for fun in _core.kernel_table()), "a table did not opt in"


def _strided(a):
    """a's values in a view that is not C-contiguous: the sweep and forward mode
    call the table's numpy partials on it."""
    return np.repeat(a, 2, axis=-1)[..., ::2]


def _draw(rng, shape):
    return rng.uniform(0.5, 1.4, shape)      # in every kernel function's domain (log, sqrt, tan, 1/x)


def _operand_forms(fun, i):
    """The other argument, beside the tracked array: an array (constant, or
    "tracked" too), a float, an int; for power the exponent 2 (the C path) and 3."""
    if fun.nin == 1:
        return [None]
    if fun is np.power:
        return [2, 2.0, 3] if i == 0 else ["array"]
    return ["array", "tracked", 0.75, 3]


def _args(fun, i, x, y):
    """fun's arguments with x as argument i and y as the other (for a binary fun)."""
    return (x,) if fun.nin == 1 else ((x, y) if i == 0 else (y, x))


def _program(fun, i, w):
    def f(x, y):
        return np.sum(w * fun(*_args(fun, i, x, y)))
    return f


@pytest.mark.parametrize("fun,i", SITES, ids=IDS)
def test_c_partial_equals_the_rule_to_the_bit(fun, i):
    rng = np.random.default_rng([ord(ch) for ch in fun.__name__] + [i])   # the same in every process
    for other in _operand_forms(fun, i):
        big_x = _draw(rng, (SMALL[0], LARGE_COLUMNS))
        big_y = _draw(rng, (SMALL[0], LARGE_COLUMNS))
        big_w = rng.standard_normal((SMALL[0], LARGE_COLUMNS))
        x, y, w = big_x[:, :SMALL[1]].copy(), big_y[:, :SMALL[1]].copy(), big_w[:, :SMALL[1]].copy()
        if other in ("array", "tracked"):
            ys, yb = y, _strided(big_y)
        else:
            ys = yb = other
        # views: numpy's path, not the C loops of large arrays (below); the cotangent
        # of fun's output is big_w itself, a view too
        big_x, big_w = _strided(big_x), _strided(big_w)
        if other == "tracked":
            small = zygcy.gradient(_program(fun, i, w), x, ys)
            large = zygcy.gradient(_program(fun, i, big_w), big_x, yb)
            pairs = [(small[0], large[0]), (small[1], large[1])]
        else:
            small = zygcy.gradient(lambda x: _program(fun, i, w)(x, ys), x)
            large = zygcy.gradient(lambda x: _program(fun, i, big_w)(x, yb), big_x)
            pairs = [(small[0], large[0])]
        for s, b in pairs:
            assert s.dtype == np.float64 and s.shape == SMALL
            np.testing.assert_array_equal(s, b[:, :SMALL[1]])


@pytest.mark.parametrize("fun,i", SITES, ids=IDS)
def test_c_partial_against_finite_differences(fun, i):
    # small arrays: the C path; large ones: the table's partial, in a derivative check
    rng = np.random.default_rng(3)
    for shape in (SMALL, (SMALL[0], LARGE_COLUMNS)):
        x, y, w = _draw(rng, shape), _draw(rng, shape), rng.standard_normal(shape)
        f = _program(fun, i, w)
        gradcheck(lambda x, y: f(x, y), x, y, modes="reverse")


def test_non_finite_partials_are_the_rules():
    # 1/x at 0, 0.5/sqrt(0), 1/y at 0: the C path falls back, the numbers are numpy's
    cases = [(np.log, np.array([0.0, 1.0, 2.0])), (np.sqrt, np.array([0.0, 4.0, 1.0])),
             (np.reciprocal, np.array([0.0, 2.0, -1.0]))]
    for fun, x in cases:
        with np.errstate(divide="ignore", invalid="ignore"):
            small = zygcy.gradient(lambda x: np.sum(fun(x)), x)[0]
            big = zygcy.gradient(lambda x: np.sum(fun(x)), np.concatenate([x, np.ones(600)]))[0]
        np.testing.assert_array_equal(small, big[:3])
        assert np.isinf(small[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        g = zygcy.gradient(lambda y: np.sum(np.true_divide(np.array([1.0, 0.0]), y)), np.array([0.0, 2.0]))[0]
    assert np.isnan(g[0]) or np.isinf(g[0])
    assert g[1] == -0.0


@pytest.mark.parametrize("kind", ["strided", "float32", "broadcast", "fortran", "zero-d"])
def test_arrays_the_c_path_does_not_take(kind):
    rng = np.random.default_rng(5)
    base = _draw(rng, (4, 6))
    if kind == "strided":
        x, y = base[:, ::2], base[::2, :3].repeat(2, axis=0)
    elif kind == "float32":
        x, y = base[:, :3].astype(np.float32), base[:, 3:].astype(np.float32)
    elif kind == "broadcast":
        x, y = base[:, :3], base[0, 3:]
    elif kind == "fortran":
        x, y = np.asfortranarray(base[:, :3]), np.asfortranarray(base[:, 3:])
    else:
        x, y = np.array(base[0, 0]), np.array(base[0, 1])

    def f(x, y):
        return np.sum(np.tanh(x * y) / y + np.exp(-x) ** 2 + np.log1p(x))
    gx, gy = zygcy.gradient(f, x, y)
    cx, cy = zygcy.gradient(f, np.ascontiguousarray(x, np.float64), np.ascontiguousarray(y, np.float64))
    rtol = 1e-5 if kind == "float32" else 1e-13
    np.testing.assert_allclose(gx, cx, rtol=rtol)
    np.testing.assert_allclose(gy, cy, rtol=rtol)
    if kind != "float32":
        gradcheck(f, x, y, modes="reverse")


def test_a_rule_registered_again_drops_the_c_partial():
    rules, _ = _core.registered()
    original = rules[np.tanh]
    x = np.array([0.1, 0.2, 0.3])
    try:
        defelementwise(np.tanh, lambda ans, x: 2.0 + 0 * ans)      # a user's (wrong) rule wins
        np.testing.assert_array_equal(zygcy.gradient(lambda x: np.sum(np.tanh(x)), x)[0], [2.0, 2.0, 2.0])
    finally:
        _rulewatch.restore_rule(np.tanh, original)
    np.testing.assert_array_equal(zygcy.gradient(lambda x: np.sum(np.tanh(x)), x)[0], 1 - np.tanh(x) ** 2)


def test_accumulating_many_uses_of_one_small_array():
    # the sweep adds the cotangents of x in place, in C, into its own buffer
    x = np.array([0.3, -0.2, 0.5, 1.1])

    def f(x):
        s = x * x
        for k in range(1, 6):
            s = s + np.tanh(x * k) * x + x / (k + x * x)
        return np.sum(s)
    g = zygcy.gradient(f, x)[0]
    big = np.concatenate([x, np.full(600, 0.4)])
    np.testing.assert_array_equal(g, zygcy.gradient(f, big)[0][:4])
    gradcheck(f, x)


# ---------------------------------------------------------------------------
# x @ y as one engine node

MATMUL_SHAPES = [((3, 4), (4, 5)), ((3, 4), (4,)), ((4,), (4, 5)), ((1, 1), (1, 1)),
                 ((40, 30), (30, 50)), ((300, 4), (4,)), ((40,), (40, 500)), ((64, 32), (32, 1))]


def _matmul_reference(x, y, w):
    """The cotangents of sum(w * (x @ y)) in x and y, written out."""
    if x.ndim == 2 and y.ndim == 2:
        return w @ y.T, x.T @ w
    if y.ndim == 1:
        return np.outer(w, y), x.T @ w
    return y @ w, np.outer(x, w)


@pytest.mark.parametrize("sx,sy", MATMUL_SHAPES)
def test_matmul_cotangents_against_the_products(sx, sy):
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal(sx), rng.standard_normal(sy)
    w = rng.standard_normal(np.matmul(x, y).shape)
    gx, gy = zygcy.gradient(lambda x, y: np.sum(w * (x @ y)), x, y)
    rx, ry = _matmul_reference(x, y, w)
    np.testing.assert_allclose(gx, rx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gy, ry, rtol=1e-12, atol=1e-12)
    # one operand constant; the matmul's output used twice, the input used twice
    (gx2,) = zygcy.gradient(lambda x: np.sum(w * (x @ y)) + np.sum(w * np.matmul(x, y)), x)
    np.testing.assert_allclose(gx2, 2 * rx, rtol=1e-12, atol=1e-12)
    (gy2,) = zygcy.gradient(lambda y: np.sum(w * (x @ y)), y)
    np.testing.assert_allclose(gy2, ry, rtol=1e-12, atol=1e-12)
    gradcheck(lambda x, y: np.sum(np.tanh(x @ y) * w), x, y, modes="reverse")


def test_matmul_of_a_square_matrix_with_itself_and_in_a_loop():
    rng = np.random.default_rng(12)
    A, h0 = rng.standard_normal((5, 5)) * 0.4, rng.standard_normal(5)
    (g,) = zygcy.gradient(lambda A: np.sum(A @ A), A)
    ones = np.ones((5, 5))
    np.testing.assert_allclose(g, ones @ A.T + A.T @ ones, rtol=1e-13)

    def rnn(A, h):
        for _ in range(20):
            h = np.tanh(A @ h + 0.1)
        return np.sum(h)
    gradcheck(rnn, A, h0)
    # the same recurrence on arrays too large for the C loops (numpy's matmul)
    B, H0 = rng.standard_normal((80, 80)) * 0.1, rng.standard_normal(80)
    gradcheck(rnn, B, H0, modes="reverse")


@pytest.mark.parametrize("kind", ["float32", "complex", "int", "batched", "strided"])
def test_matmul_the_node_does_not_take(kind):
    rng = np.random.default_rng(13)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    if kind == "float32":
        x, y = x.astype(np.float32), y.astype(np.float32)
    elif kind == "complex":
        x, y = x + 1j * rng.standard_normal((3, 4)), y + 0.5j
    elif kind == "int":
        y = np.arange(8).reshape(4, 2)
    elif kind == "batched":
        x, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 2))
    else:
        x = rng.standard_normal((3, 8))[:, ::2]
    f = (lambda x: np.sum(np.abs(x @ y) ** 2)) if kind == "complex" else (lambda x: np.sum(np.sin(x @ y)))
    (g,) = zygcy.gradient(f, x)
    assert g.shape == x.shape and g.dtype == x.dtype
    if kind != "float32":
        gradcheck(f, x, modes="reverse")


def test_matmul_back_called_inside_another_differentiation():
    # the node was recorded outside; its sweep then runs on a tracked cotangent
    rng = np.random.default_rng(14)
    A, x0, v0 = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(4)
    _, back = zygcy.pullback(lambda x: A @ x, x0)
    (gv,) = zygcy.gradient(lambda v: np.sum(back(v)[0] ** 2), v0)
    np.testing.assert_allclose(gv, 2 * A @ (A.T @ v0), rtol=1e-12)


def test_matmul_inside_higher_order():
    rng = np.random.default_rng(15)
    A, x = rng.standard_normal((3, 3)), rng.standard_normal(3)
    H = zygcy.hessian(lambda x: np.sum(np.tanh(A @ x)), x)
    t = np.tanh(A @ x)
    np.testing.assert_allclose(H, A.T @ np.diag(-2 * t * (1 - t ** 2)) @ A, rtol=1e-10, atol=1e-12)
    Hr = zygcy.hessian_reverse(lambda x: np.sum(np.tanh(A @ x)), x)
    np.testing.assert_allclose(Hr, H, rtol=1e-10, atol=1e-12)


def test_a_matmul_rule_registered_again_takes_over():
    from zygcy.extend import defbilinear
    rules, _ = _core.registered()
    original = rules[np.matmul]
    x, y = np.ones((2, 2)), np.ones((2, 2))
    try:
        defbilinear(np.matmul, lambda g, a, b: 3 * (g @ b.T), lambda g, a, b: a.T @ g)   # a user's rule
        np.testing.assert_array_equal(zygcy.gradient(lambda x: np.sum(x @ y), x)[0], 6 * np.ones((2, 2)))
    finally:
        _rulewatch.restore_rule(np.matmul, original)
    np.testing.assert_array_equal(zygcy.gradient(lambda x: np.sum(x @ y), x)[0], 2 * np.ones((2, 2)))


# ---------------------------------------------------------------------------
# Forward mode: the tangent of x * y with both tracked, tx * y + ty * x, is one C
# loop over plain float64 arrays of one shape (any size); anything else is numpy's.

@pytest.mark.parametrize("shape", [(3,), (2, 5), (20000,), (40, 700)])
def test_product_tangent_equals_numpy_to_the_bit(shape):
    rng = np.random.default_rng(sum(shape))
    x, y = rng.standard_normal(shape), rng.standard_normal(shape)
    tx, ty = rng.standard_normal(shape), rng.standard_normal(shape)
    out, dout = zygcy.jvp(lambda x, y: x * y, (x, y), (tx, ty))
    np.testing.assert_array_equal(out, x * y)
    np.testing.assert_array_equal(dout, tx * y + ty * x)
    # x * x: both operands one value; x * sin(x): one tangent derived from the other
    np.testing.assert_array_equal(zygcy.jvp(lambda x: x * x, (x,), (tx,))[1], tx * x + tx * x)
    c = np.cos(x)
    np.testing.assert_array_equal(zygcy.jvp(lambda x: x * np.sin(x), (x,), (tx,))[1],
                                  tx * np.sin(x) + (tx * c) * x)


@pytest.mark.parametrize("kind", ["float32", "complex", "broadcast", "strided", "fortran", "int"])
def test_product_tangents_the_c_loop_does_not_take(kind):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    tx, ty = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    if kind == "float32":
        x, y, tx, ty = (a.astype(np.float32) for a in (x, y, tx, ty))
    elif kind == "complex":
        x, tx = x + 1j * y, ty + 1j * tx
    elif kind == "broadcast":
        y, ty = y[0], ty[0]
    elif kind == "strided":
        x, tx = np.repeat(x, 2, axis=1)[:, ::2], np.repeat(tx, 2, axis=1)[:, ::2]
    elif kind == "fortran":
        x, tx = np.asfortranarray(x), np.asfortranarray(tx)
    else:
        y, ty = np.arange(24).reshape(4, 6), np.zeros((4, 6))
    out, dout = zygcy.jvp(lambda x, y: x * y, (x, y), (tx, ty))
    want = tx * y + ty * x
    assert dout.dtype == want.dtype and dout.shape == want.shape
    np.testing.assert_allclose(dout, want, rtol=1e-6 if kind == "float32" else 1e-15)


def test_a_product_tangent_that_is_not_finite_is_numpys():
    x, y = np.array([1e300, 2.0, np.inf]), np.array([1.0, 3.0, 1.0])      # x * y is finite where x is
    tx, ty = np.array([1.0, 1.0, 1.0]), np.array([1e10, 1.0, 0.0])        # ty * x overflows, inf * 0 is NaN
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            zygcy.jvp(lambda x, y: x * y, (x, y), (tx, ty))
    with np.errstate(all="ignore"):
        dout = zygcy.jvp(lambda x, y: x * y, (x, y), (tx, ty))[1]
        np.testing.assert_array_equal(dout, tx * y + ty * x)


def test_a_multiply_rule_registered_again_decides_forward_mode_too():
    rules, _ = _core.registered()
    original = rules[np.multiply]
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    try:
        defelementwise(np.multiply, lambda ans, x, y: 2.0 * y, lambda ans, x, y: x)     # a user's (wrong) rule
        np.testing.assert_array_equal(zygcy.jvp(lambda x, y: x * y, (x, y), (np.ones(2), np.ones(2)))[1],
                                      2 * y + x)
    finally:
        _rulewatch.restore_rule(np.multiply, original)
    np.testing.assert_array_equal(zygcy.jvp(lambda x, y: x * y, (x, y), (np.ones(2), np.ones(2)))[1], y + x)


# Larger arrays: g * partial (reverse) and t * partial (forward) in one C loop per
# formula, out of place or into the sweep's own buffer; the same bits as numpy's
# path, which views of the same numbers take.

FUSED_SHAPES = [(2, 300), (20000,), (40, 700)]


def _fused_programs(fun, i, w, v, ys):
    """sum(w * f): the cotangent of f is w itself (lent, the loop writes a new
    array); sum(v * (w * f)): it is v * w, a product the sweep owns (the loop
    writes into it). Each with that cotangent."""
    return {"lent": (lambda x, y=ys: np.sum(w * fun(*_args(fun, i, x, y))), w),
            "own": (lambda x, y=ys: np.sum(v * (w * fun(*_args(fun, i, x, y)))), v * w)}


def _by_the_table(fun, x, y, i, g):
    """g * partial_i(ans, *args) with the table's numpy partial (x: argument i)."""
    args = _args(fun, i, x, y)
    partial = _core.registered()[0][fun].partials[i]
    return g * partial(fun(*args), *args)


@pytest.mark.parametrize("shape", FUSED_SHAPES, ids=str)
@pytest.mark.parametrize("fun,i", SITES, ids=IDS)
def test_fused_loops_equal_numpys_path_to_the_bit(fun, i, shape):
    rng = np.random.default_rng([ord(ch) for ch in fun.__name__] + [i, len(shape)])
    for other in _operand_forms(fun, i):
        x, y, t, ty = _draw(rng, shape), _draw(rng, shape), rng.standard_normal(shape), rng.standard_normal(shape)
        w, v = rng.standard_normal(shape), rng.standard_normal(shape)
        ys = y if other in ("array", "tracked") else other
        for kind, (f, g) in _fused_programs(fun, i, w, v, ys).items():
            if other == "tracked":
                got = zygcy.gradient(f, x, ys)
                want = (_by_the_table(fun, x, ys, i, g), _by_the_table(fun, ys, x, 1 - i, g))
            else:
                got, want = zygcy.gradient(f, x), (_by_the_table(fun, x, ys, i, g),)
            for a, b in zip(got, want):
                assert a.dtype == np.float64 and a.shape == shape and a.flags.c_contiguous
                np.testing.assert_array_equal(a, b, err_msg=kind)
        # forward mode: the tangent of f's output, t * partial (+ ty * the other's)
        def call(x, y):
            return fun(*_args(fun, i, x, y))
        if other == "tracked":
            got = zygcy.jvp(call, (x, ys), (t, ty))[1]
            want = _by_the_table(fun, x, ys, i, t) + _by_the_table(fun, ys, x, 1 - i, ty)
        else:
            got, want = zygcy.jvp(lambda x: call(x, ys), (x,), (t,))[1], _by_the_table(fun, x, ys, i, t)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fun,i", SITES, ids=IDS)
def test_fused_loops_against_finite_differences(fun, i):
    rng = np.random.default_rng(11)
    x, y, w = _draw(rng, (3, 400)), _draw(rng, (3, 400)), rng.standard_normal((3, 400))
    f = _program(fun, i, w)
    gradcheck(lambda x, y: f(x, y), x, y, modes="reverse")
    gradcheck(lambda x: f(x, y), x, modes="forward")


NON_FINITE = [(np.log, 0.0, "divide"), (np.sqrt, 0.0, "divide"), (np.reciprocal, 0.0, "divide"),
              (np.arctan, 1e200, "over"), (np.log1p, -1.0, "divide")]


@pytest.mark.parametrize("fun,bad,err", NON_FINITE, ids=[f.__name__ for f, _, _ in NON_FINITE])
@pytest.mark.parametrize("at", [0, 1000, 19999])
def test_a_non_finite_element_on_the_fused_path_is_numpys(fun, bad, err, at):
    # the loop hands the array (reverse, into its buffer: the blocks from the bad one on)
    # back to numpy: the same numbers, and numpy's warning, which errstate can raise
    rng = np.random.default_rng(at)
    x, w, v, t = _draw(rng, 20000), rng.standard_normal(20000), rng.standard_normal(20000), np.ones(20000)
    x[at] = bad
    progs = _fused_programs(fun, 0, w, v, None)
    for kind, (f, g) in progs.items():
        with np.errstate(all="ignore"):
            got = zygcy.gradient(f, x)[0]
            np.testing.assert_array_equal(got, _by_the_table(fun, x, None, 0, g), err_msg=kind)
            assert not np.isfinite(got[at]) or fun is np.arctan
            np.testing.assert_array_equal(zygcy.jvp(fun, (x,), (t,))[1], _by_the_table(fun, x, None, 0, t))
        with np.errstate(all="ignore", **{err: "raise"}):
            with pytest.raises(FloatingPointError):
                zygcy.gradient(f, x)
            with pytest.raises(FloatingPointError):
                zygcy.jvp(fun, (x,), (t,))


@pytest.mark.parametrize("kind", ["strided", "float32", "broadcast", "fortran", "power 3", "complex"])
def test_large_arrays_the_fused_loops_do_not_take(kind):
    rng = np.random.default_rng(8)
    base = _draw(rng, (40, 1400))
    x, y = base[:, :700], base[:, 700:]
    if kind == "strided":
        x, y = base[:, ::2], base[::2, :700].repeat(2, axis=0)
    elif kind == "float32":
        x, y = x.astype(np.float32), y.astype(np.float32)
    elif kind == "broadcast":
        y = base[0, 700:]
    elif kind == "fortran":
        x, y = np.asfortranarray(x), np.asfortranarray(y)
    elif kind == "complex":
        x = x + 0.1j * y
    p = 3 if kind == "power 3" else 2

    def f(x, y):
        return np.real(np.sum(np.tanh(x * y) / y + np.sqrt(x) ** p + np.reciprocal(x) * y + np.arctan(x)))
    cast = np.complex128 if kind == "complex" else np.float64
    gx, gy = zygcy.gradient(f, x, y)
    cx, cy = zygcy.gradient(f, np.ascontiguousarray(x, cast), np.ascontiguousarray(y, np.float64))
    rtol, atol = (1e-4, 1e-5) if kind == "float32" else (1e-13, 0)    # float32: sums that cancel
    np.testing.assert_allclose(gx, cx, rtol=rtol, atol=atol)
    np.testing.assert_allclose(gy, cy, rtol=rtol, atol=atol)
    tx = np.ones_like(x)
    d = zygcy.jvp(lambda x: f(x, y), (x,), (tx,))[1]
    np.testing.assert_allclose(d, zygcy.jvp(lambda x: f(x, y), (np.ascontiguousarray(x, cast),),
                                            (np.ascontiguousarray(tx),))[1], rtol=rtol)
    if kind not in ("float32", "complex"):
        np.testing.assert_allclose(d, np.sum(gx), rtol=1e-12)


def test_a_rule_registered_again_drops_the_fused_loop():
    rules, _ = _core.registered()
    original = rules[np.tanh]
    x, t = np.linspace(-1, 1, 30000), np.ones(30000)
    try:
        defelementwise(np.tanh, lambda ans, x: 2.0 + 0 * ans)      # a user's (wrong) rule wins
        np.testing.assert_array_equal(zygcy.gradient(lambda x: np.sum(np.tanh(x)), x)[0], 2.0)
        np.testing.assert_array_equal(zygcy.jvp(np.tanh, (x,), (t,))[1], 2.0)
    finally:
        _rulewatch.restore_rule(np.tanh, original)
    np.testing.assert_array_equal(zygcy.gradient(lambda x: np.sum(np.tanh(x)), x)[0], 1 - np.tanh(x) ** 2)
    np.testing.assert_array_equal(zygcy.jvp(np.tanh, (x,), (t,))[1], t * (1 - np.tanh(x) ** 2))



# np.sum(x) and np.mean(x) of a whole float64 array: one engine node (numpy's
# add.reduce without its wrappers; the sweep fills x's cotangent in C).

SUM_SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 4), (40000,)]      # 40000: the rule's broadcast view


@pytest.mark.parametrize("shape", SUM_SHAPES, ids=str)
@pytest.mark.parametrize("fun", [np.sum, np.mean], ids=["sum", "mean"])
def test_sum_and_mean_nodes_against_numpy(fun, shape):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape)
    n = max(x.size, 1)
    y, back = zygcy.pullback(fun, x)
    assert type(y) is np.float64 and y == fun(x)        # numpy's number, to the bit
    for seed in (1.0, 2.5, np.float64(-3.0), np.array(0.75), 2):
        (g,) = back(seed)
        want = np.full(shape, float(seed) / n if fun is np.mean else float(seed))
        assert g.shape == shape and (g.dtype == np.float64 or type(seed) is int)
        np.testing.assert_array_equal(g, want)
    # in a program: the gradient of mean(x ** 2) and of sum(tanh(x)) * mean(x)
    g = zygcy.gradient(lambda x: fun(x ** 2), x)[0]
    np.testing.assert_allclose(g, 2 * x / n if fun is np.mean else 2 * x, rtol=1e-15)
    gradcheck(lambda x: np.sum(np.tanh(x)) * fun(x) + fun(x * x), x, modes="reverse")


@pytest.mark.parametrize("kind", ["float32", "int", "axis", "keepdims", "where", "dtype", "empty", "complex",
                                  "fortran", "strided"])
@pytest.mark.parametrize("fun", [np.sum, np.mean], ids=["sum", "mean"])
def test_sums_the_node_does_not_take(fun, kind):
    # each through the rule's general path (or, for views, the node): checked against
    # central differences, or against float64 for float32
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4))
    kw = {"axis": {"axis": 0}, "keepdims": {"keepdims": True}, "where": {"where": x > 0},
          "dtype": {"dtype": np.complex128}}.get(kind, {})
    if kind == "int":
        # an integer array is a constant: only the other argument has a gradient
        k = np.arange(12).reshape(3, 4)
        np.testing.assert_array_equal(zygcy.gradient(lambda x: fun(k) * np.sum(x), x)[0], fun(k))
        return
    if kind == "empty":
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning) if fun is np.mean else contextlib.nullcontext():
            g = zygcy.gradient(lambda x: np.nan_to_num(fun(x)), np.zeros((0, 3)))[0]
        assert g.shape == (0, 3)
        return
    f = lambda x: np.real(np.sum(fun(x, **kw) ** 2))  # noqa: E731
    if kind == "float32":
        g32 = zygcy.gradient(f, x.astype(np.float32))[0]
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, zygcy.gradient(f, x)[0], rtol=1e-5)
        return
    if kind == "complex":
        x = x + 1j * x[::-1]
    elif kind == "fortran":
        x = np.asfortranarray(x)
    elif kind == "strided":
        x = _strided(x)
    gradcheck(f, x, modes="reverse")


def test_sum_nodes_nested_and_in_forward_mode():
    x = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(zygcy.hessian(lambda x: np.mean(x ** 3), x), np.diag(6 * x / 3))
    np.testing.assert_allclose(zygcy.hessian_reverse(lambda x: np.sum(np.exp(x)), x), np.diag(np.exp(x)))
    y, dy = zygcy.jvp(lambda x: np.mean(x * x), (x,), (np.ones(3),))
    assert dy == pytest.approx(np.mean(2 * x))
    # the gradient of a function that differentiates inside
    g = zygcy.gradient(lambda s: np.sum(zygcy.gradient(lambda x: np.mean(s * x * x), x)[0]), 1.5)[0]
    assert g == pytest.approx(np.sum(2 * x / 3))


def test_a_sum_rule_registered_again_drops_the_node():
    from zygcy.extend import deflinear
    rules, _ = _core.registered()
    original = rules[np.mean]
    x = np.array([0.1, 0.2, 0.3, 0.4])
    try:
        deflinear(np.mean, lambda g, x, **kw: np.full(np.shape(x), 7.0) * g, shape_only=True)   # a user's (wrong) rule
        np.testing.assert_array_equal(zygcy.gradient(np.mean, x)[0], 7.0)
    finally:
        _rulewatch.restore_rule(np.mean, original)
    np.testing.assert_array_equal(zygcy.gradient(np.mean, x)[0], 0.25)
