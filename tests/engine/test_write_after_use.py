"""A write into a plain array after a differentiated operation used it.

The derivative of ``x * c`` reads ``c`` as it was when the product ran; a later
``c[0] = 100`` inside the function would change it silently. Such arrays are
read-only while the function is recorded, so the write raises ``WriteAfterUse``
(a ValueError naming the fix), and they are writeable again afterwards.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zygcy
from zygcy import Params, param

X = np.array([0.5, -1.0, 2.0])


def _writes():
    def setitem(c):
        c[0] = 100.0

    def iadd(c):
        c += 1.0

    def out(c):
        np.multiply(c, 2.0, out=c)

    def copyto(c):
        np.copyto(c, 7.0)

    def fill(c):
        c.fill(3.0)

    def slice_assign(c):
        c[:] = np.arange(1.0, c.size + 1.0).reshape(c.shape)
    return {"setitem": setitem, "iadd": iadd, "out": out, "copyto": copyto, "fill": fill, "slice": slice_assign}


WRITES = _writes()

# operations whose derivative reads the constant c (x of shape (3,), c of shape (3,) or (3, 3))
READERS = {
    "multiply": (lambda x, c: x * c, (3,)),
    "rmultiply": (lambda x, c: c * x, (3,)),
    "divide": (lambda x, c: x / c, (3,)),
    "power_base": (lambda x, c: c ** x, (3,)),
    "power_exponent": (lambda x, c: (x * x + 1.0) ** c, (3,)),
    "matmul": (lambda x, c: c @ x, (3, 3)),
    "rmatmul": (lambda x, c: x @ c, (3, 3)),
    "maximum": (lambda x, c: np.maximum(x, c), (3,)),
}


def _constant(shape):
    return np.linspace(0.3, 1.7, int(np.prod(shape))).reshape(shape)


@pytest.mark.parametrize("op", sorted(READERS))
@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_write_after_use_raises_and_the_array_comes_back_writeable(op, write):
    fn, shape = READERS[op]
    c = _constant(shape)
    before = c.copy()

    def f(x):
        y = fn(x, c)
        WRITES[write](c)
        return np.sum(np.sin(y))
    with pytest.raises(zygcy.WriteAfterUse, match="wrote into an array") as info:
        zygcy.gradient(f, X)
    assert isinstance(info.value, ValueError)
    assert c.flags.writeable
    np.testing.assert_array_equal(c, before)      # the write did not happen
    WRITES[write](c)                              # and now it can


def test_every_entry_point_raises():
    c = _constant((3,))

    def f(x):
        y = x * c
        c[0] = 9.0
        return np.sum(y)
    for call in (lambda: zygcy.gradient(f, X), lambda: zygcy.withgradient(f, X),
                 lambda: zygcy.pullback(f, X), lambda: zygcy.gradient(lambda d: f(d["x"]), {"x": X}),
                 lambda: zygcy.hessian(f, X), lambda: zygcy.jacobian(lambda x: f(x) * x, X)):
        with pytest.raises(zygcy.WriteAfterUse):
            call()
        assert c.flags.writeable and c[0] == 0.3
    W = param(np.ones((3, 3)))
    ps = Params([W])

    def loss():
        y = W @ c
        c[1] = 5.0
        return np.sum(y)
    with pytest.raises(zygcy.WriteAfterUse):
        zygcy.gradient(loss, ps)
    assert c.flags.writeable


def test_writes_the_derivative_does_not_see_are_allowed():
    c = _constant((3,))

    def f(x):
        y = x + c                   # the sum's derivative reads neither operand
        c[0] = 100.0
        z = x * c                   # used after the write: its current values
        return np.sum(y) + np.sum(z)
    (g,) = zygcy.gradient(f, X)
    np.testing.assert_array_equal(g, 1.0 + np.array([100.0, c[1], c[2]]))
    c[1] = 3.0                      # writeable again afterwards


def test_write_before_use_and_after_the_gradient():
    buf = np.zeros(3)

    def f(x):
        total = 0.0
        for k in range(3):
            buf = np.full(3, float(k + 1))      # a new array each time: fine
            total = total + np.sum(x * buf)
        return total
    assert zygcy.gradient(f, X)[0].tolist() == [6.0, 6.0, 6.0]
    buf[:] = 1.0

    def fill_first(x):
        buf[:] = 2.0                            # the same buffer, written before its use
        return np.sum(x * buf)
    assert zygcy.gradient(fill_first, X)[0].tolist() == [2.0, 2.0, 2.0]

    def refill(x):
        total = 0.0
        for k in range(3):
            buf[:] = k + 1.0                    # the same buffer refilled after its use
            total = total + np.sum(x * buf)
        return total
    with pytest.raises(zygcy.WriteAfterUse):
        zygcy.gradient(refill, X)
    # the fix the message names: a copy per use
    assert zygcy.gradient(lambda x: sum(np.sum(x * np.full(3, k + 1.0)) for k in range(3)), X)[0].tolist() \
        == [6.0, 6.0, 6.0]


def test_read_only_arrays_stay_read_only_and_errors_restore_flags():
    c = _constant((3,))
    c.flags.writeable = False
    zygcy.gradient(lambda x: np.sum(x * c), X)
    assert not c.flags.writeable
    d = _constant((3,))

    def fails(x):
        y = x * d
        raise KeyError("boom")
    with pytest.raises(KeyError):
        zygcy.gradient(fails, X)
    assert d.flags.writeable


def test_nested_differentiations_keep_the_array_locked_until_the_outer_one_ends():
    c = _constant((3,))

    def outer(x):
        y = np.sum(x * c)
        inner = zygcy.gradient(lambda t: np.sum(t * c * x), X)[0]      # c locked twice, released once
        assert not c.flags.writeable
        c[0] = 1.0
        return y + np.sum(inner)
    with pytest.raises(zygcy.WriteAfterUse):
        zygcy.gradient(outer, X)
    assert c.flags.writeable


@settings(max_examples=60, deadline=None)
@given(op=st.sampled_from(sorted(READERS)), write=st.sampled_from(sorted(WRITES)),
       at=st.integers(0, 2), seed=st.integers(0, 2**16))
def test_never_silently_wrong_under_writes(op, write, at, seed):
    # a write somewhere in a short chain: either the error, or the gradient of the
    # same program in which the write went into a copy (the reference)
    fn, shape = READERS[op]
    rng = np.random.default_rng(seed)
    c0 = rng.uniform(0.5, 1.5, shape)
    x0 = rng.uniform(-1.0, 1.0, 3)

    def program(x, c, copy_first):
        y = x
        for k in range(3):
            if k == at:
                target = c.copy() if copy_first else c
                WRITES[write](target)
            y = np.tanh(fn(y, c))
        return np.sum(y * y)
    c = c0.copy()
    try:
        (g,) = zygcy.gradient(lambda x: program(x, c, False), x0)
    except zygcy.WriteAfterUse:
        assert c.flags.writeable
        return
    # no error: the write came before every use, so the copy-first program agrees
    c_ref = c0.copy()
    WRITES[write](c_ref)
    (r,) = zygcy.gradient(lambda x: program(x, c_ref, True), x0)
    np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)
