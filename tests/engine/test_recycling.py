"""Forward mode recycles the memory of large arrays its values drop: a value of a
forward level that is freed hands its array and tangent, when nothing else holds
or can see them, to the level, whose next results of the same shape and dtype are
written into them (numpy's out=).

Recycling may change where a result is stored, never what it is. The reference
here is the same program run with every intermediate value kept alive by the
test (so nothing is freed, nothing recycled): the results must be equal to the
bit. The programs reuse values, share tangents (x + c has x's tangent), make
views of values, and keep plain values and tangents the user took: any of these
recycled while still visible changes a later result, or the kept copy.

Arrays have 20,000 elements, above the size from which the engine recycles
(2^14 elements; every size on the debug build)."""
import gc
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zygcy
from zygcy import gradient, hvp, jvp, pushforward

from _grid import R

SIZE = 20000

UNARY = [
    ("tanh", np.tanh),
    ("exp", lambda v: np.exp(-v * v)),
    ("sin", np.sin),
    ("neg", lambda v: -v),
    ("square", lambda v: v ** 2),
    ("scale", lambda v: v * 0.75),
    ("shift", lambda v: v + 1.0),                   # the tangent is shared with v
    ("positive", np.positive),                      # the tangent is shared with v
    ("reshape", lambda v: v.reshape(100, 200).reshape(SIZE)),   # a view of v's value
    ("half-div", lambda v: v / 2.0),
    ("log1p-sq", lambda v: np.log1p(v * v)),
]
BINARY = [
    ("mul", np.multiply),
    ("add", np.add),
    ("sub", lambda a, b: a - b),
    ("div", lambda a, b: a / (1.5 + b * b)),
    ("hypot", np.hypot),
]

step = st.tuples(
    st.integers(0, len(UNARY) + len(BINARY) - 1),   # the operation
    st.integers(0, 10 ** 6), st.integers(0, 10 ** 6),   # its operands, among the values so far
    st.integers(0, 3),                              # 0: drop the first operand; 1: stash its plain value
)


def run(program, x, t, keep_all):
    """jvp of the program at x along t; keep_all: the test holds every value."""
    held, stash = [], []

    def f(x):
        vals = [x]
        for op, i, j, what in program:
            live = [k for k, v in enumerate(vals) if v is not None]
            a = vals[live[i % len(live)]]
            if op < len(UNARY):
                v = UNARY[op][1](a)
            else:
                v = BINARY[op - len(UNARY)][1](a, vals[live[j % len(live)]])
            if what == 1:
                p = zygcy.value(v)
                stash.append((p, p.copy()))         # a plain value taken by the user, kept
            if what == 0 and live[i % len(live)] != 0:
                vals[live[i % len(live)]] = None    # dropped: freed unless something else holds it
            vals.append(v)
            if keep_all:
                held.append(v)
            del a, v
        live = [v for v in vals if v is not None]
        return live[-1] + 0.5 * live[len(live) // 2]

    y, dy = jvp(f, (x,), (t,))
    for p, copy in stash:
        np.testing.assert_array_equal(p, copy)      # nothing the user holds was written into
    return y, dy


@settings(max_examples=80, deadline=None)
@given(st.lists(step, min_size=1, max_size=9), st.integers(0, 10 ** 6))
def test_recycling_changes_no_bit_of_any_result(program, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, SIZE)
    t = rng.standard_normal(SIZE)
    x0, t0 = x.copy(), t.copy()
    y, dy = run(program, x, t, keep_all=False)
    y_ref, dy_ref = run(program, x, t, keep_all=True)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(dy, dy_ref)
    assert y.dtype == y_ref.dtype and dy.dtype == dy_ref.dtype
    assert y.flags.c_contiguous == y_ref.flags.c_contiguous
    np.testing.assert_array_equal(x, x0)            # the inputs are never written into
    np.testing.assert_array_equal(t, t0)


def elementwise(x):
    return np.tanh(x) * np.exp(-x ** 2) + x


def elementwise_jvp_by_hand(x, t):
    h = np.tanh(x)
    e = np.exp(-x ** 2)
    dh = t * (1 - h * h)
    de = (t * (2 * x)) * -1.0 * e
    return h * e + x, dh * e + de * h + t


def test_jvp_on_large_arrays_equals_the_derivative_written_out():
    x, t = R(SIZE, seed=1), R(SIZE, seed=2)
    for _ in range(3):                              # recycling starts again in each call
        y, dy = jvp(elementwise, (x,), (t,))
        y_ref, dy_ref = elementwise_jvp_by_hand(x, t)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_allclose(dy, dy_ref, rtol=1e-13, atol=1e-15)


def test_the_returned_value_and_tangent_are_not_recycled_by_a_later_call():
    x, t = R(SIZE, seed=3), R(SIZE, seed=4)
    push = pushforward(elementwise, x)
    y1, dy1 = jvp(elementwise, (x,), (t,))
    first = dy1.copy(), y1.copy()
    for k in range(3):
        jvp(elementwise, (x,), (t * (k + 2),))
        push(t * 3.0)
    np.testing.assert_array_equal(dy1, first[0])
    np.testing.assert_array_equal(y1, first[1])


def test_tangents_the_user_takes_out_of_a_rule_are_kept():
    """A forward rule of the user's that keeps the tangents it is given: those
    arrays are held by the rule, so they are not recycled."""
    seen = []

    @zygcy.extend.primitive
    def twice(v):
        return 2.0 * v

    zygcy.extend.defvjp(twice, lambda ans, v: lambda g: 2.0 * g)
    zygcy.extend.defjvp(twice, lambda t, ans, v: (seen.append((t, t.copy())), 2.0 * t)[1])

    def f(x):
        return np.sin(twice(np.tanh(x) * 3.0)) * 2.0

    x, t = R(SIZE, seed=5), R(SIZE, seed=6)
    y, dy = jvp(f, (x,), (t,))
    for a, copy in seen:
        np.testing.assert_array_equal(a, copy)
    h = np.tanh(x)
    np.testing.assert_allclose(dy, 2.0 * np.cos(2.0 * 3.0 * h) * 6.0 * (1 - h * h) * t, rtol=1e-12)


def test_nested_modes_on_large_arrays():
    """Forward over reverse (hvp) and reverse over forward (gradient of a jvp) on
    arrays large enough to recycle, against the Hessian written out."""
    x, v = R(SIZE, seed=7) * 0.5, R(SIZE, seed=8)

    def f(x):
        return np.sum(np.tanh(x) * x)

    h = np.tanh(x)
    d2 = 2 * (1 - h * h) - 2 * x * h * (1 - h * h)  # the diagonal Hessian of sum(tanh(x) x)
    np.testing.assert_allclose(hvp(f, x, v), d2 * v, rtol=1e-10, atol=1e-12)
    g, = gradient(lambda x: jvp(f, (x,), (v,))[1], x)
    np.testing.assert_allclose(g, d2 * v, rtol=1e-10, atol=1e-12)


def test_no_memory_is_kept_past_the_differentiation():
    x, t = R(10 ** 5, seed=9), R(10 ** 5, seed=10)
    jvp(elementwise, (x,), (t,))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = jvp(elementwise, (x,), (t,))
        del out
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < x.nbytes // 4, (before, after)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_other_dtypes_recycle_into_their_own_dtype(dtype):
    rng = np.random.default_rng(11)
    x = rng.standard_normal(SIZE).astype(dtype)
    t = rng.standard_normal(SIZE).astype(dtype)

    def f(x):
        return np.sin(-(x * x)) * 2.0 + x

    y, dy = jvp(f, (x,), (t,))
    assert y.dtype == dtype and dy.dtype == dtype
    u = -(x * x)
    np.testing.assert_allclose(dy, np.cos(u) * (-(2 * x * t)) * 2.0 + t, rtol=1e-5 if dtype == np.float32 else 1e-12)
