"""What the reverse sweep keeps, and what it writes into.

The forward pass keeps only the values the sweep reads: an elementwise node whose
partials do not read its output lets go of it once no one but the tape holds the
node (exp's input, add's output), and an elementwise node keeps only the
arguments its partials read. The sweep writes products and sums into arrays it
made itself. These tests check the three things that could go wrong: a value the
user still holds, or that a partial reads, must never be let go (every value read
here is compared with numpy's own, and every gradient with a reference); the
memory is really freed; and no gradient handed out shares memory with another.
"""
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import zygcy
from zygcy.extend import defelementwise

from _rulewatch import restore_rule  # tests/ is on the path (conftest)

N = 1 << 15             # large enough for the engine to let values go (256 KiB of float64)


def _held_after_forward(f, *args):
    """Bytes the forward pass still holds once ``pullback`` has returned, and its back."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        y, back = zygcy.pullback(f, *args)
        return tracemalloc.get_traced_memory()[0] - base, back
    finally:
        tracemalloc.stop()


def test_the_forward_pass_keeps_only_what_the_sweep_reads():
    x = np.random.default_rng(0).standard_normal(2 * N)

    def f(x):
        y = -(x * 1.5 + 0.25)           # three values no partial reads
        e = np.exp(y * 0.1)             # exp reads its output, not y * 0.1
        t = np.tanh(x)
        return np.sum(t * e + x)        # t * e is read by nobody; t * e + x by sum

    held, back = _held_after_forward(f, x)
    # e and t: two arrays (sum's pullback reads only the shape of t * e + x, and
    # its node lets go of it as the elementwise ones do). Keeping every
    # intermediate would be eight.
    assert held < 2.5 * x.nbytes
    g, = back(1.0)
    e = np.exp(-(x * 1.5 + 0.25) * 0.1)
    t = np.tanh(x)
    np.testing.assert_allclose(g, (1 - t * t) * e + t * e * (-0.15) + 1, rtol=1e-13, atol=1e-13)


def test_the_peak_memory_of_a_gradient_is_that_of_the_values_it_needs():
    x = np.random.default_rng(1).standard_normal(2 * N)

    def f(x):
        for _ in range(20):
            x = np.sin(x) * 0.5 + x     # 60 intermediates; each step's sin is read by nobody later
        return np.sum(x)

    zygcy.gradient(f, x)
    tracemalloc.start()
    try:
        g, = zygcy.gradient(f, x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Each step keeps its input x for the cosine (20 arrays); the 40 others are freed
    # as the forward pass goes.
    assert peak < 26 * x.nbytes
    assert g.shape == x.shape and np.all(np.isfinite(g))


# ---------------------------------------------------------------------------
# Generated elementwise programs on large arrays: the user keeps some of the
# intermediates and reads them after later operations and after back; every value
# read must equal numpy's, every gradient the one of the same program run on a
# small slice of the data (where nothing is let go) and central differences.

# (source, function, defined on the whole complex plane: entire or of |z|^2). tanh,
# arctan, and division by z * z + 1 have poles and branch cuts off the real line,
# where central differences of a complex program would be meaningless.
UNARY = [
    ("np.tanh({a})", lambda a: np.tanh(a), False),
    ("np.sin({a})", lambda a: np.sin(a), True),
    ("np.exp(-{a} * {a})", lambda a: np.exp(-a * a), True),
    ("np.sqrt({a} * np.conj({a}) + 1.0)", lambda a: np.sqrt(a * np.conj(a) + 1.0), True),
    ("-{a}", lambda a: -a, True),
    ("{a} * 0.75", lambda a: a * 0.75, True),
    ("{a} + 0.5", lambda a: a + 0.5, True),
    ("0.5 - {a}", lambda a: 0.5 - a, True),
    ("{a} ** 2 * 0.1", lambda a: a ** 2 * 0.1, True),
    ("np.arctan({a})", lambda a: np.arctan(a), False),
]
BINARY = [
    ("{a} + {b}", lambda a, b: a + b, True),
    ("{a} - {b}", lambda a, b: a - b, True),
    ("{a} * {b}", lambda a, b: a * b, True),
    ("{a} / ({b} * np.conj({b}) + 1.0)", lambda a, b: a / (b * np.conj(b) + 1.0), True),
    ("np.maximum(np.tanh({a}), np.tanh({b}) + 3.0)",                                # no tie: the
     lambda a, b: np.maximum(np.tanh(a), np.tanh(b) + 3.0), False),                # second wins
    ("{a} * w", None, True),                                                         # broadcast against w
]


@st.composite
def programs(draw):
    dtype = draw(st.sampled_from([np.float64, np.complex128]))
    unary = [k for k, op in enumerate(UNARY) if dtype is np.float64 or op[2]]
    binary = [k for k, op in enumerate(BINARY) if dtype is np.float64 or op[2]]
    steps = []
    n = 1                               # variables: v0 is x
    for _ in range(draw(st.integers(2, 9))):
        if n > 1 and draw(st.integers(0, 5)) == 0:        # an assignment into a value made here
            steps.append(("s", 0, draw(st.integers(1, n - 1)), None, False))
            continue
        if draw(st.booleans()):
            k = draw(st.sampled_from(unary))
            steps.append(("u", k, draw(st.integers(0, n - 1)), None, draw(st.booleans())))
        else:
            k = draw(st.sampled_from(binary))
            a = draw(st.integers(0, n - 1))
            b = a if draw(st.booleans()) else draw(st.integers(0, n - 1))    # x * x, x + x too
            steps.append(("b", k, a, b, draw(st.booleans())))
        n += 1
    return steps, dtype


def _run(steps, x, w, held=None):
    """The program on x and w (plain or tracked); ``held`` collects the values kept."""
    vs = [x]
    for kind, k, a, b, keep in steps:
        if kind == "s":
            vs[a][:, 0] = 0.5               # later uses see it; earlier ones keep the old values
            continue
        if kind == "u":
            v = UNARY[k][1](vs[a])
        elif BINARY[k][1] is None:
            v = vs[a] * w
        else:
            v = BINARY[k][1](vs[a], vs[b])
        vs.append(v)
        if keep and held is not None:
            held.append((len(vs) - 1, v))
    # every value counts: a weighted sum of all of them, real
    total = 0.0
    for i, v in enumerate(vs):
        total = total + np.sum(np.real(v) * (0.1 * (i + 1))) + np.sum(np.imag(v))
    return total, vs


def _source(steps):
    lines = []
    j = 0
    for kind, k, a, b, keep in steps:
        if kind == "s":
            lines.append("v%d[:, 0] = 0.5" % a)
            continue
        j += 1
        expr = (UNARY[k][0] if kind == "u" else BINARY[k][0]).format(a="v%d" % a, b="v%s" % b)
        lines.append("v%d = %s%s" % (j, expr, "    # kept" if keep else ""))
    return "\n".join(lines)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_programs_on_large_arrays_keep_what_is_held_and_differentiate_right(prog):
    steps, dtype = prog
    rows, cols = N // 64, 64
    r = np.random.default_rng(len(steps))
    x = (r.standard_normal((rows, cols)) * 0.5).astype(dtype)
    if dtype is np.complex128:
        x = x + 0.3j * r.standard_normal((rows, cols))
    w = r.standard_normal(cols)
    with np.errstate(all="ignore"):
        plain_total, plain_vs = _run(steps, x, w)
    # complex tanh and exp grow fast: keep programs whose values stay moderate
    assume(all(np.all(np.isfinite(v)) and np.max(np.abs(v)) < 1e3 for v in plain_vs))
    held = []

    def f(x, w):
        return _run(steps, x, w, held)[0]

    y, back = zygcy.pullback(f, x, w)
    src = _source(steps)
    assert np.allclose(y, plain_total, rtol=1e-12), src
    for i, v in held:                       # read after the forward pass (x ** 2 of a tracked
        # complex array is numpy's power, of a plain one its square: equal to rounding)
        np.testing.assert_allclose(zygcy.value(v), plain_vs[i], rtol=1e-13, atol=1e-13, err_msg=src)
    gx, gw = back(1.0)
    gx2, gw2 = back(1.0)                    # a second sweep of the same tape
    for i, v in held:                       # and after both sweeps
        np.testing.assert_allclose(zygcy.value(v), plain_vs[i], rtol=1e-13, atol=1e-13, err_msg=src)
    np.testing.assert_array_equal(gx, gx2, err_msg=src)
    np.testing.assert_array_equal(gw, gw2, err_msg=src)
    if gw is None:                          # the program does not use w
        gw = np.zeros_like(w)

    # The same program on the first two rows, where no value is large enough to be let
    # go and nothing is written in place: the rows' gradients are the same numbers.
    gx_small, _ = zygcy.gradient(lambda x, w: _run(steps, x, w)[0], x[:2], w)
    np.testing.assert_allclose(gx[:2], gx_small, rtol=1e-12, atol=1e-12, err_msg=src)

    # Central differences along a random direction, for both arguments.
    dx = r.standard_normal(x.shape).astype(dtype)
    if dtype is np.complex128:
        dx = dx + 1j * r.standard_normal(x.shape)
    dw = r.standard_normal(w.shape)
    def central(h):
        return (_run(steps, x + h * dx, w + h * dw)[0] - _run(steps, x - h * dx, w - h * dw)[0]) / (2 * h)
    fd = (4 * central(1e-4) - central(2e-4)) / 3       # Richardson: error O(h^4); steps large
    # enough that rounding in the sum over 32768 elements stays far below the tolerance
    ad = np.sum(np.real(np.conj(gx) * dx)) + np.sum(gw * dw)
    assert np.isclose(ad, fd, rtol=1e-6, atol=1e-6 * (1 + abs(fd))), src


def test_a_value_assigned_into_after_use_keeps_its_new_value():
    # v[0] = 5 makes v a new node and moves the old one, with sin(v) pointing at it,
    # to another object: what counts the nodes holding v must move with it, or v would
    # look unreachable while the user still holds it.
    x = np.linspace(-1, 1, 2 * N)

    def f(x):
        v = x * 1.0
        w = np.sin(v)
        alias = v                       # a second name for v while it is assigned into
        v[0] = 5.0
        del alias
        u = np.cos(w) + 1.0             # recording this looks for values no one holds
        assert zygcy.value(v)[0] == 5.0 and zygcy.value(v)[1] == x[1]
        return np.sum(v * u)

    g, = zygcy.gradient(f, x)
    u = np.cos(np.sin(x)) + 1.0
    want = u - x * np.sin(np.sin(x)) * np.cos(x)
    want[0] = 0.0                       # x[0] was overwritten in v; through w it still counts
    want[0] += -5.0 * np.sin(np.sin(x[0])) * np.cos(x[0])
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)


def test_code_that_runs_when_a_value_is_freed_may_record_operations():
    # A weakref callback on a value runs when the engine lets the value go, in the
    # middle of recording; the operation it records must be differentiated, and the
    # engine's watch list must survive it (it used to crash the interpreter).
    import weakref
    x0 = np.linspace(0.1, 1, 2 * N)

    def f(x):
        extra = []
        ts = [x * float(k + 2) for k in range(6)]
        weakref.finalize(zygcy.value(ts[0]), lambda: extra.append(x * 3.0))
        del ts
        z = x + 1.0                     # recording this frees ts's values
        return np.sum(z * z) + sum(np.sum(e) for e in extra)

    g, = zygcy.gradient(f, x0)
    np.testing.assert_allclose(g, 2 * (x0 + 1.0) + 3.0, rtol=1e-13)


def test_a_partial_that_reads_its_value_through_a_nested_function_keeps_it():
    # expit's partial reads ans only inside a nested function: the engine must see
    # that it is read, or the value would be let go and the gradient would be NaN.
    special = pytest.importorskip("scipy.special")
    saved = zygcy._core.registered()[0][special.expit]

    def partial(ans, x):
        def inner():
            return ans * (1.0 - ans)
        return inner()
    # zygcy reads the code of its own rules only: let this one be read as if it were
    partial.__module__ = "zygcy.rules.test_partial"
    try:
        defelementwise(special.expit, partial)
        x = np.linspace(-3, 3, 2 * N)
        g, = zygcy.gradient(lambda x: np.sum(special.expit(x) * 2.0), x)
        s = special.expit(x)
        np.testing.assert_allclose(g, 2.0 * s * (1 - s), rtol=1e-13)
    finally:
        restore_rule(special.expit, saved)


def test_a_partial_that_reads_its_callers_frame_is_given_every_value():
    # numexpr's evaluate("1 - ans * ans") finds ans in its caller's frame: nothing in
    # the partial's code names it, so a rule defined outside zygcy keeps everything.
    import sys
    special = pytest.importorskip("scipy.special")
    saved = zygcy._core.registered()[0][special.expit]

    def evaluate(expr):
        return eval(expr, {}, sys._getframe(1).f_locals)
    try:
        defelementwise(special.expit, lambda ans, x: evaluate("ans * (1.0 - ans)"))
        x = np.linspace(-3, 3, 2 * N)
        g, = zygcy.gradient(lambda x: np.sum(special.expit(x * 2.0) * 3.0), x)
        s = special.expit(2.0 * x)
        np.testing.assert_allclose(g, 6.0 * s * (1 - s), rtol=1e-13)
    finally:
        restore_rule(special.expit, saved)


def test_an_assignment_that_fails_half_way_leaves_the_value_alone():
    # y[0] = complex raises ComplexWarning (as an error) after the node was moved:
    # y is then no longer the tape's node, and must not be taken for unreachable.
    import warnings
    x0 = np.linspace(0.1, 1, 2 * N)

    def f(x):
        y = x * 2.0
        raised = False
        try:                            # (no pytest.raises: its traceback would hold y)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                y[0] = x[0] * 1j
        except Exception:
            raised = True
        assert raised
        w = x * 3.0                     # recording this looks for values no one holds
        z = y + w
        np.testing.assert_allclose(zygcy.value(z), 5.0 * zygcy.value(x), rtol=1e-15)
        return np.sum(z * z)

    g, = zygcy.gradient(f, x0)
    np.testing.assert_allclose(g, 50.0 * x0, rtol=1e-13)


def test_a_partial_with_any_arguments_is_given_every_value():
    special = pytest.importorskip("scipy.special")
    saved = zygcy._core.registered()[0][special.expit]

    def partial(*args):                 # ans, x: the engine cannot see what it reads
        return args[0] * (1.0 - args[0]) + 0.0 * args[1]
    partial.__module__ = "zygcy.rules.test_partial"     # read as zygcy's own rules are
    try:
        defelementwise(special.expit, partial)
        x = np.linspace(-3, 3, 2 * N)
        g, = zygcy.gradient(lambda x: np.sum(special.expit(x) + 1.0), x)
        s = special.expit(x)
        np.testing.assert_allclose(g, s * (1 - s), rtol=1e-13)
    finally:
        restore_rule(special.expit, saved)


# ---------------------------------------------------------------------------
# Gradients handed out are the caller's own

@pytest.mark.parametrize("n", [3, 2 * N])
def test_the_gradients_of_two_arguments_never_share_memory(n):
    c = np.arange(float(n))
    x, y = np.ones(n), np.full(n, 2.0)
    gx, gy = zygcy.gradient(lambda x, y: np.sum((x + y) * c), x, y)
    assert not np.shares_memory(gx, gy)
    gx *= 10.0                          # the user updates one gradient in place
    np.testing.assert_array_equal(gy, c)
    np.testing.assert_array_equal(c, np.arange(float(n)))
    d = zygcy.gradient(lambda p: np.sum(p["a"] + p["b"]), {"a": x, "b": y})[0]
    assert not np.shares_memory(d["a"], d["b"])


def test_the_gradients_of_parameters_never_share_memory():
    W = zygcy.param(np.ones(2 * N))
    b = zygcy.param(np.ones(2 * N))
    gs = zygcy.gradient(lambda: np.sum(W + b), zygcy.Params([W, b]))
    assert not np.shares_memory(gs[W], gs[b])
    np.testing.assert_array_equal(gs[W], 1.0)


def test_forward_over_reverse_keeps_only_what_the_sweep_reads():
    # hvp's gradient runs on values that carry tangents (two arrays each): its
    # elementwise nodes let go of values no partial reads, as a gradient's do
    x = np.random.default_rng(2).standard_normal(2 * N)
    v = np.random.default_rng(3).standard_normal(2 * N)

    def f(x):
        for _ in range(10):
            x = np.sin(x) * 0.5 + x     # 30 intermediates, 10 read later (sin's input)
        return np.sum(x)

    zygcy.hvp(f, x, v)
    tracemalloc.start()
    try:
        got = zygcy.hvp(f, x, v)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # 10 kept inputs with their tangents and a few arrays of the sweep; keeping every
    # intermediate would be 60 arrays or more
    assert peak < 34 * x.nbytes
    h = 1e-5
    want = (zygcy.gradient(f, x + h * v)[0] - zygcy.gradient(f, x - h * v)[0]) / (2 * h)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)

