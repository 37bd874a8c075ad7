"""ndarray attributes and methods of tracked values.

Each method must give numpy's value and the derivative of the numpy function it
stands for (checked with finite differences, to second order where smooth).
"""
import warnings

import numpy as np
import pytest

from _grid import rand
from zygcy import Tracked, forward, gradient, value
from zygcy.testing import gradcheck

ComplexWarning = getattr(np, "exceptions", np).ComplexWarning   # np.exceptions: numpy >= 1.25

X = rand((2, 3), seed=1, positive=True)


def _ptp(x, *a, **k):
    return x.ptp(*a, **k) if type(x) is Tracked else np.ptp(x, *a, **k)


# (name, method call): the same call on a plain array is the reference
SMOOTH = [
    ("sum", lambda x: x.sum()),
    ("sum_axis", lambda x: x.sum(axis=0, keepdims=True)),
    ("sum_pos", lambda x: x.sum(1)),
    ("mean", lambda x: x.mean(axis=1)),
    ("prod", lambda x: x.prod(0)),
    ("std", lambda x: x.std()),
    ("var", lambda x: x.var(axis=1, ddof=1)),
    ("cumsum", lambda x: x.cumsum()),
    ("cumprod", lambda x: x.cumprod(axis=1)),
    ("reshape_args", lambda x: x.reshape(3, 2)),
    ("reshape_tuple", lambda x: x.reshape((3, 2))),
    ("reshape_flat", lambda x: x.reshape(-1)),
    ("reshape_order", lambda x: x.reshape(3, 2, order="F")),
    ("transpose", lambda x: x.transpose()),
    ("transpose_args", lambda x: x.transpose(1, 0)),
    ("transpose_tuple", lambda x: x.transpose((1, 0))),
    ("T", lambda x: x.T),
    ("mT", lambda x: x.mT),
    ("ravel", lambda x: x.ravel()),
    ("flatten", lambda x: x.flatten()),
    ("squeeze", lambda x: x[None].squeeze(0)),
    ("swapaxes", lambda x: x.swapaxes(0, 1)),
    ("dot", lambda x: x.dot(np.array([1.0, 2.0, 3.0]))),
    ("trace", lambda x: x.trace()),
    ("diagonal", lambda x: x[:, :2].diagonal()),
    ("repeat", lambda x: x.repeat(2, axis=1)),
    ("take", lambda x: x.take([0, 4, 4])),
    ("copy", lambda x: x.copy()),
    ("item", lambda x: x.item(4) * x.item((0, 1)) * x[1:, 2:].item()),
    ("tolist", lambda x: x.tolist()),
    ("conj", lambda x: x.conj()),
    ("real", lambda x: x.real),
]
KINKED = [
    ("max", lambda x: x.max(axis=0)),
    ("min", lambda x: x.min()),
    ("clip", lambda x: x.clip(0.8, 1.5)),
    ("ptp", lambda x: _ptp(x, axis=1)),
]


@pytest.mark.parametrize("name,call", SMOOTH, ids=[n for n, _ in SMOOTH])
def test_smooth_methods(name, call):
    y, _ = forward(call, X)
    np.testing.assert_allclose(y, call(X))
    gradcheck(lambda x: _flat_sin(call(x)), X, order=2)


@pytest.mark.parametrize("name,call", KINKED, ids=[n for n, _ in KINKED])
def test_kinked_methods(name, call):
    y, _ = forward(call, X)
    np.testing.assert_allclose(y, call(X))
    gradcheck(lambda x: call(x) * 1.0, X)


def _flat_sin(y):
    """A smooth function of a method's result (a list from tolist: each element)."""
    if isinstance(y, list):
        return [_flat_sin(e) for e in y]
    return np.sin(y)


def test_methods_on_complex_arrays():
    z = rand((2, 3), seed=2, complex=True)
    for call in (lambda z: z.sum(axis=1), lambda z: z.T, lambda z: z.reshape(6), lambda z: z.conj(),
                 lambda z: z.imag, lambda z: z.item(2) * z.tolist()[1][1]):
        np.testing.assert_allclose(forward(call, z)[0], call(z))
        gradcheck(lambda z: np.sin(call(z)), z, order=2)


def test_plain_attributes():
    def f(x):
        assert (x.shape, x.ndim, x.size, x.dtype) == ((2, 3), 2, 6, np.dtype(float))
        assert (x.nbytes, x.itemsize, x.strides) == (48, 8, X.strides)
        assert type(x.shape) is tuple and type(x.size) is int
        e = x[0, 0]
        assert (e.shape, e.ndim, e.dtype) == ((), 0, np.dtype(float))
        return x.sum()

    gradient(f, X)


def test_non_differentiable_methods_are_plain():
    def f(x):
        for r, ref in [(x.argmax(), X.argmax()), (x.argmin(axis=1), X.argmin(axis=1)),
                       (x.argsort(), X.argsort()), (x.nonzero(), X.nonzero()),
                       (x.all(), X.all()), (x.any(axis=0), X.any(axis=0)),
                       (x.round(1), X.round(1)), (x.astype(int), X.astype(int)),
                       (x.astype(bool), X.astype(bool)), (x[0].searchsorted(1.0), X[0].searchsorted(1.0)),
                       (x.argpartition(1), X.argpartition(1))]:
            for a, b in zip(r if isinstance(r, tuple) else (r,), ref if isinstance(ref, tuple) else (ref,)):
                assert type(a) is not Tracked
                np.testing.assert_array_equal(a, b)
        return x.sum()

    np.testing.assert_allclose(gradient(f, X)[0], np.ones_like(X))


def test_astype():
    # float64 -> float32 -> float64: the cotangent is cast back to the input's type
    x32 = X.astype(np.float32)
    g = gradient(lambda x: (x.astype(np.float64) ** 2).sum(), x32)[0]
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2 * x32)
    g = gradient(lambda x: (x.astype(np.float32) ** 2).sum() * 1.0, X)[0]
    np.testing.assert_allclose(g, 2 * X, rtol=1e-6)
    # real -> complex and back
    gradcheck(lambda x: np.sin(x.astype(complex) * (1 + 2j)), X, order=2)

    # complex -> real: the real part, with numpy's warning
    def f(z):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ComplexWarning)
            return np.sin(z.astype(float))

    z = rand((3,), seed=3, complex=True)
    gradcheck(f, z, order=2)
    with pytest.warns(ComplexWarning):
        forward(lambda z: z.astype(float), z)
    # to integers: plain, no derivative
    def to_int(x):
        i = x.astype(int)
        assert type(i) is not Tracked
        return np.sum(i * x)

    np.testing.assert_allclose(gradient(to_int, X * 3)[0], (X * 3).astype(int))
    # copy=False with the same type is x itself
    assert gradient(lambda x: (x.astype(float, copy=False) is x) * 1.0 + x.sum(), X)[0] is not None
    gradcheck(lambda x: x.astype(np.complex128), X)
    gradcheck(lambda x: x.astype(np.dtype(np.complex128)) ** 2, X, order=2)


def test_item_and_tolist_complex():
    z = rand((2, 3), seed=4, complex=True)
    gradcheck(lambda z: z.item(4) * z.tolist()[0][1] + z[1].item(2) ** 2, z, order=2)


def test_item_and_tolist():
    def f(x):
        a = x.item(5)
        rows = x.tolist()
        assert type(rows) is list and len(rows) == 2 and type(value(rows[1][2])) is float
        assert type(value(a)) is float and (type(a) is Tracked) == (type(x) is Tracked)
        return a * rows[0][0] + rows[1][2] * x.item(0, 1)

    gradcheck(f, X, order=2)
    g = gradient(f, X)[0]
    ref = np.zeros((2, 3))
    ref[1, 2] = X[0, 0] + X[0, 1]
    ref[0, 0] = X[1, 2]
    ref[0, 1] = X[1, 2]
    np.testing.assert_allclose(g, ref)
    # a tracked numpy scalar: item() is a Python number
    y, back = forward(lambda x: x.item(), np.float64(2.0))
    assert y == 2.0 and back(1.0) == (1.0,)
    assert gradient(lambda x: x[1].item() * 3.0, np.array([1.0, 2.0]))[0].tolist() == [0.0, 3.0]
    # 0-d arrays, negative positions, numpy's errors
    assert gradient(lambda x: x.tolist() * 2.0, np.array(1.5))[0] == 2.0
    assert gradient(lambda x: x.item(-1) * 2.0, np.array([1.0, 2.0]))[0].tolist() == [0.0, 2.0]
    with pytest.raises(ValueError):
        gradient(lambda x: x.item(), np.ones(2))
    with pytest.raises(IndexError):
        gradient(lambda x: x.item(9), np.ones(2))
    gradcheck(lambda x: x.item(1, 2) * x.item((0, 1)), X, order=2)


def test_in_place_methods():
    x = np.array([0.3, -0.1, 0.2, 0.5])
    keep = x.copy()

    def f(x):
        y = x * 1.0
        y.sort()
        z = y * 1.0
        z.fill(y[0] * 2)
        w = x * 1.0
        w.put([0, 2], y[1:3] * 3)
        v = x * 1.0
        v.put([1, 5], [y[3]], mode="wrap")
        p = x * 1.0
        p.partition(1)
        return np.sum(y * np.arange(4.0)) + np.sum(z) + np.sum(w * w) + np.sum(v * v) + p[1]

    gradcheck(f, x, order=2)
    np.testing.assert_array_equal(x, keep)

    def ref(x):
        y = np.sort(x)
        z = np.full_like(x, y[0] * 2)
        w = x.copy()
        w.put([0, 2], y[1:3] * 3)
        v = x.copy()
        v.put([1, 5], [y[3]], mode="wrap")
        return np.sum(y * np.arange(4.0)) + np.sum(z) + np.sum(w * w) + np.sum(v * v) + np.partition(x, 1)[1]

    np.testing.assert_allclose(forward(f, x)[0], ref(x))


def test_methods_on_numpy_scalars_and_python_numbers():
    def f(x):
        e = x[1]                     # a tracked np.float64
        return e.sum() * e.reshape(1)[0] + e.astype(np.float64) + e.conj()

    gradcheck(f, np.array([0.5, 1.5]), order=2)
    with pytest.raises(AttributeError, match="'float' object has no attribute 'shape'"):
        gradient(lambda x: x.shape, 1.0)
    with pytest.raises(AttributeError, match="'float' object has no attribute 'sum'"):
        gradient(lambda x: x.sum(), 1.0)
    assert gradient(lambda x: x * x.is_integer(), 2.0) == (1.0,)


def test_unknown_and_unsupported_attributes():
    with pytest.raises(AttributeError, match="'ndarray' object has no attribute 'foo'"):
        gradient(lambda x: x.foo, X)
    with pytest.raises(AttributeError, match="np.resize"):
        gradient(lambda x: x.resize((3, 2)), X)

    def f(x):
        assert not hasattr(x, "view") and not hasattr(x, "foo") and hasattr(x, "sum")
        return x.sum()

    gradient(f, X)
    with pytest.raises(ValueError, match="ndim < 2"):
        gradient(lambda x: x.mT.sum(), np.ones(3))


def test_methods_nested():
    # Hessian-vector products through methods
    def f(x):
        return (x.reshape(3, 2).T.sum(axis=0) ** 3).sum() + x.item(2) ** 3

    gradcheck(f, X, order=2)
    h = gradient(lambda x: np.sum(gradient(f, x)[0]), X)[0]
    assert h.shape == X.shape
