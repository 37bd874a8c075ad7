"""Indexing: x[index], x[index] = v, and the numpy functions that select elements.

Every rule is checked against central finite differences (``gradcheck``), to
second order where the function is smooth.
"""
import warnings

import numpy as np
import pytest

from _grid import rand
from zygcy import D, Tracked, forward, gradient
from zygcy.testing import gradcheck

ComplexWarning = getattr(np, "exceptions", np).ComplexWarning   # np.exceptions: numpy >= 1.25


# ---------------------------------------------------------------------------
# x[index] for every kind of index

INDICES = {
    (3,): [1, -1, np.int64(2), slice(0, 2), slice(None, None, -1), [0, 2, 0], np.array([2, 2]),
           np.array([True, False, True]), Ellipsis, None, (None, slice(1, None)), (),
           np.array([[0, 1], [2, 2]])],
    (3, 2): [(1, 0), 1, (slice(None), 1), (Ellipsis, 0), ([0, 2, 2], [1, 0, 1]),
             "mask", (np.array([True, False, True]),), (None, 1), ([[0], [2]], [0, 1]),
             (slice(1, None), [1, 1]), (-1, slice(None, None, -1))],
    (2, 3, 4): [(1, 2, 3), (Ellipsis, 1), (0, slice(None), [1, 3]), ([1, 0], [2, 2], [3, 0]),
                "mask", (0, None, slice(1, 3)), (1, "mask12"), ([0, 1], slice(None), [1, 3]),
                (slice(None), [0, 2], None, slice(None, None, 2)), (Ellipsis, None)],
}


def _cases():
    for shape, idxs in INDICES.items():
        for k, idx in enumerate(idxs):
            for cplx in (False, True):
                yield pytest.param(shape, k, cplx, id="%s-%d-%s" % (shape, k, "c" if cplx else "r"))


def _index(shape, k):
    idx = INDICES[shape][k]
    x = rand(shape, seed=k)
    if isinstance(idx, str):
        idx = x > 0
    elif isinstance(idx, tuple) and "mask12" in [i for i in idx if isinstance(i, str)]:
        idx = (1, x[0] > 0)
    return idx


@pytest.mark.parametrize("shape,k,cplx", list(_cases()))
def test_getitem_grid(shape, k, cplx):
    x = rand(shape, seed=k, complex=cplx)
    idx = _index(shape, k)
    y, _ = forward(lambda x: x[idx], x)
    np.testing.assert_array_equal(y, x[idx])
    gradcheck(lambda x: np.sin(x[idx]), x, order=2)


def test_getitem_tracked_index_and_numpy_scalar():
    x = np.array([1.0, 2.0, 3.0])
    assert gradient(lambda x, i: x[i] * 2, x, 1)[0].tolist() == [0.0, 2.0, 0.0]
    # an index computed from tracked values is used through its plain value
    g = gradient(lambda x: np.sum(x[np.argsort(x)[::-1]] * np.array([3.0, 2.0, 1.0])), x)[0]
    np.testing.assert_allclose(g, [1.0, 2.0, 3.0])
    # a tracked numpy scalar accepts () and ...
    g = gradient(lambda x: x[1][()] * x[1][...], x)[0]
    np.testing.assert_allclose(g, [0.0, 4.0, 0.0])


def test_getitem_duplicates_add_up():
    x = np.array([1.0, 2.0, 3.0])
    g = gradient(lambda x: np.sum(x[[0, 0, 2, 0]] * np.array([1.0, 2.0, 3.0, 4.0])), x)[0]
    np.testing.assert_allclose(g, [7.0, 0.0, 3.0])


def test_getitem_of_scalar_raises_like_plain():
    with pytest.raises(TypeError, match="'float' object is not subscriptable"):
        gradient(lambda x: x[0], 2.0)
    with pytest.raises(IndexError):
        gradient(lambda x: x[3], np.ones(3))


def test_iteration_and_len():
    x = rand((3, 2))

    def f(x):
        assert len(x) == 3
        total = 0.0
        for row in x:
            total = total + np.sum(np.sin(row)) * len(row)
        return total

    gradcheck(f, x, order=2)
    np.testing.assert_allclose(gradient(f, x)[0], 2 * np.cos(x))


def test_loop_of_reads_stays_sparse():
    # Reading n elements one at a time must not make n dense arrays: a dense
    # cotangent per read would need n * n * 8 bytes (128 MB here); the sparse
    # cotangent needs a few hundred bytes per read.
    import tracemalloc

    def f(x):
        s = 0.0
        for i in range(len(x)):
            s = s + x[i] * x[i]
        return s

    n = 4000
    x = np.linspace(0.0, 1.0, n)
    tracemalloc.start()
    try:
        g = gradient(f, x)[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(g, 2 * x)
    assert peak < 2000 * n, peak


def test_many_reads_of_mixed_kinds():
    # ints, numpy ints, slices, fancy and masks in one sparse cotangent of a vector
    def f(x):
        s = np.sum(x[1:4] * x[[0, 0, 5]]) + np.sum(np.sin(x[x > 0]))
        for i in range(len(x)):
            s = s + x[i] * (i + 1) + x[np.int64(i)] ** 2
        return s * (1 + 0.5j)

    x = rand((10,), seed=40)
    gradcheck(lambda x: f(x).real, x, order=2)
    y, back = forward(f, x)
    gradcheck(f, x)


def test_loop_of_reads_nested():
    # densify of tracked cotangents goes through the _scatter rule
    def f(x):
        s = 0.0
        for i in range(len(x)):
            s = s + x[i] ** 3
        return s

    x = np.array([0.5, -1.0, 2.0, 0.3])
    gradcheck(f, x, order=2)
    h = gradient(lambda x: np.sum(gradient(f, x)[0] * np.array([1.0, 2.0, 3.0, 4.0])), x)[0]
    np.testing.assert_allclose(h, 6 * x * np.array([1.0, 2.0, 3.0, 4.0]))


def test_reads_of_repeated_elements_add_up_in_the_dense_cotangent():
    # x[[0, 0]] and x[2] make one sparse cotangent; made dense, repeats add up
    w = np.array([1.0, 2.0])
    (g,) = gradient(lambda x: np.sum(w * x[[0, 0]]) + 3.0 * x[2], np.zeros(3))
    np.testing.assert_allclose(g, [3.0, 0.0, 3.0])
    # making it dense is differentiable: second order through repeated reads
    gradcheck(lambda x: np.sin(x[[0, 0]] * x[2]) + x[1] ** 2, np.array([0.1, 0.4, 0.7]), order=2)
    gradcheck(lambda x: np.sin(np.sum(x[[0, 0]] * np.array([0.5, 2.0])) * x[2]), np.array([0.1, 0.4, 0.7]),
              order=2)
    # complex cotangents of elements of a real array: no ComplexWarning, real parts kept
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, back = forward(lambda x: x[0] * (1 + 2j) + x[[1, 1]] * 1j, np.array([1.0, 2.0]))
        (g,) = back(np.array([1.0, 1.0 + 1.0j]))
    # Re(sum(u * conj(dy/dx))): 1 - 2j + (1 + 1j)(1 - 2j) = 4 - 3j and -1j - 1j(1 + 1j) = 1 - 2j
    np.testing.assert_allclose(g, [4.0, 1.0])


# ---------------------------------------------------------------------------
# x[index] = v

SET_CASES = [
    ((3,), 1, ()),
    ((3,), -1, ()),
    ((3,), slice(0, 2), (2,)),
    ((3,), slice(0, 2), ()),              # a scalar broadcast over a slice
    ((3,), [0, 2, 0], (3,)),              # repeated index: the last value written is kept
    ((3,), "mask", ()),
    ((3,), Ellipsis, (3,)),
    ((3, 2), (1, 0), ()),
    ((3, 2), 1, (2,)),
    ((3, 2), (slice(None), 1), (3,)),
    ((3, 2), (Ellipsis, 0), (1, 3)),      # v with an extra leading axis of length 1
    ((3, 2), ([0, 2], [1, 0]), (2,)),
    ((3, 2), "mask", ()),
    ((3, 2), slice(None), (2,)),          # v broadcast along the first axis
    ((2, 3, 4), (0, slice(None), [1, 3]), (2, 3)),     # advanced axes first
    ((2, 3, 4), (Ellipsis, 1), (1, 3)),
    ((2, 3, 4), ([1, 0], [2, 2], [3, 0]), ()),
]


@pytest.mark.parametrize("shape,idx,vshape", SET_CASES, ids=[str(i) for i in range(len(SET_CASES))])
@pytest.mark.parametrize("cplx", [False, True])
def test_setitem_grid(shape, idx, vshape, cplx):
    x = rand(shape, seed=1, complex=cplx)
    v = rand(vshape, seed=2, complex=cplx) if vshape != () else (0.7 + 0.2j if cplx else 0.7)
    if isinstance(idx, str):
        idx = x.real > 0

    def f(x, v):
        y = x * 1.0
        y[idx] = v * v
        return np.sin(y)

    ref = x.copy()
    ref[idx] = v * v
    np.testing.assert_allclose(forward(f, x, v)[0], np.sin(ref))
    gradcheck(f, x, v, order=2)


def test_setitem_complex_into_real_and_float_into_int():
    x = np.array([1.0, 2.0, 3.0])

    def f(x, v):
        y = x * 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ComplexWarning)
            y[1:2] = v * 2
        return np.sum(y * y)

    v = np.array([1.0 + 2.0j])
    gradcheck(f, x, v)
    g = gradient(f, x, v)
    np.testing.assert_allclose(g[1], [8.0])     # only the real part of v reaches the real array
    with pytest.raises(TypeError):              # as numpy: a Python complex into a float array
        gradient(lambda x, c: x.__setitem__(0, c) or np.sum(x), np.ones(2), 1j)

    def h(x, v):
        y = x * 1       # an integer array
        y[0] = v        # truncates v: no derivative
        return np.sum(y * 1.0) * v

    assert gradient(h, np.array([1, 2, 3]), 2.5)[1] == 7.0


def test_setitem_with_mask_and_iadd():
    x = rand((3, 2), seed=4)

    def f(x, s):
        y = x * 1.0
        y[y > 0] = s * y[y > 0]
        y[0] += s
        y[1:] *= 2.0
        y[:, 1] -= y[:, 0]
        return np.sum(np.sin(y))

    gradcheck(f, x, 0.8, order=2)


def test_setitem_overlapping_iadd_like_numpy():
    x = np.array([1.0, 2.0, 3.0, 4.0])

    def f(x):
        y = x * 1.0
        y[1:] += y[:-1]
        return y * y

    ref = x.copy()
    ref[1:] += ref[:-1]
    np.testing.assert_allclose(forward(f, x)[0], ref * ref)
    gradcheck(f, x, order=2)


@pytest.mark.skipif(not hasattr(Tracked, "__iadd__"), reason="engine without in-place operators")
def test_in_place_operators_are_assignments():
    # y += v updates the tracked array itself (other names for it see the change),
    # recorded as y[...] = y + v
    def f(x, v):
        y = x * 1.0
        alias = y
        y += v
        y *= x
        y[1:] -= v[0]
        y /= 2.0
        y **= 2
        return np.sum(alias * x)

    def ref(x, v):
        y = x * 1.0
        y += v
        y *= x
        y[1:] -= v[0]
        y /= 2.0
        y **= 2
        return np.sum(y * x)

    x, v = rand((3,), seed=30), rand((3,), seed=31)
    assert forward(f, x, v)[0] == pytest.approx(ref(x, v))
    gradcheck(f, x, v, order=2)


def test_setitem_tracked_scalar_into_tracked_array():
    def f(x, s):
        y = x * 1.0
        y[1] = s
        y[2] = s * y[0]
        return np.sum(y * y)

    x = np.array([1.0, 2.0, 3.0])
    gradcheck(f, x, 1.5, order=2)
    gx, gs = gradient(f, x, 1.5)
    np.testing.assert_allclose(gx, [2 * 1.0 + 2 * 1.5 * 1.5 * 1.0, 0.0, 0.0])
    np.testing.assert_allclose(gs, 2 * 1.5 + 2 * 1.5 * 1.0 * 1.0)


def test_setitem_list_of_tracked_numbers():
    def f(x, a, b):
        y = x * 1.0
        y[:2] = [a * b, b]
        y[2:, :] = [[a, 1.0]]
        return np.sum(y * y)

    g = gradient(f, np.ones((4, 2)), 2.0, 3.0)
    assert (g[1], g[2]) == (80.0, 60.0)
    gradcheck(f, np.ones((4, 2)), 2.0, 3.0, order=2)


def test_setitem_loop_on_intermediate():
    def f(x):
        y = x * 1.0
        for i in range(1, len(y)):
            y[i] = y[i - 1] * 2 + y[i]
        return np.sum(y * y)

    gradcheck(f, rand((5,), seed=3), order=2)


def test_setitem_loop_on_input():
    def f(x):
        for i in range(1, len(x)):
            x[i] = x[i - 1] * 2 + x[i]
        return np.sum(x * x)

    x = rand((5,), seed=3)
    keep = x.copy()
    gradcheck(f, x, order=2)
    np.testing.assert_array_equal(x, keep)


def test_saved_value_not_overwritten():
    x = np.array([1.0, 2.0, 3.0])

    def f(x):
        y = x * x
        x[0] = 5.0
        return np.sum(y) + np.sum(x)

    np.testing.assert_allclose(gradient(f, x)[0], 2 * x + np.array([0.0, 1.0, 1.0]))
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_saved_value_not_overwritten_intermediate():
    x = np.array([1.0, 2.0, 3.0])

    def f(x):
        z = x * 1.0
        y = z * z
        first = z[:2]          # a slice taken before the assignment keeps its old values
        z[0] = 5.0
        return np.sum(y) + np.sum(z) + 10 * np.sum(first)

    y, _ = forward(f, x)
    assert y == 14.0 + 10.0 + 30.0
    np.testing.assert_allclose(gradient(f, x)[0], 2 * x + np.array([10.0, 11.0, 1.0]))
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_input_array_never_mutated():
    x = np.array([1.0, 2.0, 3.0])
    v = np.array([7.0, 8.0])
    keep_x, keep_v = x.copy(), v.copy()

    def f(x, v):
        y = x + 0.0
        y[:2] = v
        y[2] += v[0]
        return np.sum(y * x)

    gradient(f, x, v)
    gradcheck(f, x, v, order=2)
    np.testing.assert_array_equal(x, keep_x)
    np.testing.assert_array_equal(v, keep_v)


def test_setitem_out_argument_of_ufunc():
    # np.sin(y, out=y) on a tracked y is an assignment y[...] = sin(y)
    def f(x):
        y = x * 1.0
        np.sin(y, out=y)
        np.add(y, 1.0, out=y)
        return np.sum(y * y)

    gradcheck(f, rand((3,), seed=5), order=2)


def test_setitem_nested():
    def f(x):
        y = x * 1.0
        y[0] = y[1] * y[2]
        y[1:] = np.sin(y[:-1])
        return np.sum(y * y)

    gradcheck(f, rand((3,), seed=6), order=2)

    def s(t):
        y = np.array([1.0, 2.0]) * t
        y[1] = t * t * t
        return y[0] * y[1]     # t**4
    assert D(D(s))(2.0) == 48.0


def test_setitem_array_of_outer_level_with_inner_value():
    # x belongs to the outer differentiation, t to the inner one: the new node is on
    # the inner tape, its value tracked by the outer one.
    def outer(x):
        def inner(t):
            y = x * 1.0
            y[1] = t * t
            return np.sum(y * y)          # d/dt = 4 t**3
        return gradient(inner, x[0])[0]

    g = gradient(outer, np.array([2.0, 3.0]))[0]
    np.testing.assert_allclose(g, [48.0, 0.0])

    def outer2(x):
        y = x * 1.0

        def inner(t):
            y[0] = t * 3               # y: outer array, now a node of the inner tape
            return np.sum(y * y)
        g = gradient(inner, y[1])[0]   # 18 t with t = x[1]
        return g + np.sum(y)           # y is now [3 x[1], x[1]]

    y, _ = forward(outer2, np.array([2.0, 3.0]))
    assert y == 54.0 + 12.0
    np.testing.assert_allclose(gradient(outer2, np.array([2.0, 3.0]))[0], [0.0, 22.0])


def test_setitem_array_of_outer_level_read_before_by_inner():
    def outer(x):
        x = x * 1.0

        def inner(t):
            y = t * x          # the multiply's pullback holds x
            x[0] = t           # x becomes a node of the inner tape, with a new value
            return np.sum(y * y) + np.sum(x)    # d/dt = 2 t sum(x**2) + 1
        return gradient(inner, 2.0)[0]

    assert forward(outer, np.array([2.0, 3.0]))[0] == 53.0

    def outer_changed(x):
        x = x * 1.0

        def inner(t):
            y = t * x          # saved before the assignment: must keep x's old value
            x[0] = 5.0
            return np.sum(y * y) + np.sum(x)    # d/dt = 2 t (2**2 + 3**2) = 52
        return gradient(inner, 2.0)[0]

    assert forward(outer_changed, np.array([2.0, 3.0]))[0] == 52.0


def test_setitem_errors_leave_the_tape_intact():
    def f(x):
        y = x * 1.0
        with pytest.raises(ValueError):
            y[[0, 1]] = np.array([1.0, 2.0, 3.0])
        with pytest.raises(IndexError):
            y[7] = 1.0
        return np.sum(y * y)

    np.testing.assert_allclose(gradient(f, np.array([1.0, 2.0]))[0], [2.0, 4.0])
    with pytest.raises(TypeError, match="does not support item assignment"):
        gradient(lambda x: x.__setitem__(0, 1.0), 2.0)


def test_setitem_on_a_finished_differentiation():
    kept = []
    gradient(lambda x: kept.append(x * 1.0) or np.sum(x), np.ones(2))
    with pytest.raises(TypeError, match="finished"):
        kept[0][0] = 1.0
    assert kept[0][1] == 1.0       # reading still works: the value is a constant now


def test_conversion_errors():
    with pytest.raises(TypeError, match="np.asarray/np.array of a tracked value"):
        gradient(lambda x: np.sum(np.asarray(x)), np.ones(3))

    def into_plain_scalar(x):
        a = np.zeros(3)
        a[0] = x[0]
        return x[0]

    with pytest.raises((TypeError, ValueError)) as e:
        gradient(into_plain_scalar, np.ones(3))
    assert "tracked value would drop its derivative" in str(e.value) + str(e.value.__cause__)

    def into_plain_slice(x):
        a = np.zeros(3)
        a[:2] = x[:2]
        return x[0]

    with pytest.raises(TypeError, match="tracked value would drop its derivative"):
        gradient(into_plain_slice, np.ones(3))

    def iadd_into_plain(x):
        a = np.zeros(3)
        a += x
        return x[0]

    with pytest.raises(TypeError, match="drop its derivative"):
        gradient(iadd_into_plain, np.ones(3))


@pytest.mark.parametrize("call", [
    lambda x: np.put(x, [0], [1.0]),
    lambda x: np.place(x, np.array([True, False, False]), [1.0]),
    lambda x: np.copyto(x, np.zeros(3)),
    lambda x: np.put_along_axis(x, np.array([0]), 1.0, axis=0),
    lambda x: np.putmask(x, np.array([True, False, False]), 1.0),
    lambda x: np.fill_diagonal(x.reshape(1, 3), 1.0),
], ids=["put", "place", "copyto", "put_along_axis", "putmask", "fill_diagonal"])
def test_in_place_functions_refused_before_writing(call):
    x = np.array([1.0, 2.0, 3.0])

    def f(x):
        call(x)
        return np.sum(x)

    with pytest.raises(TypeError, match=r"writes into an array in place.*write .* instead"):
        gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


# ---------------------------------------------------------------------------
# numpy functions that select elements

def test_take():
    x = rand((3, 4), seed=7)
    for kw in [dict(), dict(axis=0), dict(axis=1), dict(axis=-1)]:
        for ind in [2, -1, [0, 2, -2], np.array([[1, 0], [2, 2]])]:
            gradcheck(lambda x: np.sin(np.take(x, ind, **kw)), x, order=2)
    gradcheck(lambda x: np.take(x, [-1, 5, 13], mode="wrap"), x)
    gradcheck(lambda x: np.take(x, [-1, 5, 13], axis=1, mode="clip"), x)
    # a tracked index carries no derivative
    g = gradient(lambda x, i: np.sum(np.take(x, i)), np.array([1.0, 2.0]), np.array([1, 1]))
    assert g[0].tolist() == [0.0, 2.0] and g[1] is None


def test_take_along_axis():
    x = rand((3, 4), seed=8, complex=True)
    for axis in (0, 1, -1):
        ind = np.argsort(x.real, axis=axis)[..., :2] if axis != 0 else np.argsort(x.real, axis=0)[:2]
        gradcheck(lambda x: np.sin(np.take_along_axis(x, ind, axis=axis)), x, order=2)
    gradcheck(lambda x: np.take_along_axis(x, np.array([0, 0, 11, -1]), axis=None), x)


def test_compress_and_extract():
    x = rand((3, 4), seed=9)
    cond = np.array([True, False, True])
    gradcheck(lambda x: np.sin(np.compress(cond, x, axis=0)), x, order=2)
    gradcheck(lambda x: np.compress([False, True], x, axis=1), x)
    gradcheck(lambda x: np.compress([True, False, True, True, False], x), x)
    gradcheck(lambda x: np.sin(np.extract(x > 0, x)), x, order=2)


def test_unique():
    x = np.array([3.0, 1.0, 3.0, 2.0, 1.0])
    g = gradient(lambda x: np.sum(np.unique(x) * np.array([1.0, 2.0, 3.0])), x)[0]
    np.testing.assert_allclose(g, [3.0, 1.0, 0.0, 2.0, 0.0])   # each value's first occurrence
    g = gradient(lambda x: np.sum(np.unique(x, return_counts=True)[0] ** 2), x)[0]
    np.testing.assert_allclose(g, [6.0, 2.0, 0.0, 4.0, 0.0])
    y, _ = forward(lambda x: np.unique(x, return_index=True, return_inverse=True), x)
    for a, b in zip(y, np.unique(x, return_index=True, return_inverse=True)):
        np.testing.assert_array_equal(a, b)
    m = np.array([[1.0, 2.0], [0.5, 3.0], [2.0, 0.1]])
    gradcheck(lambda m: np.sin(np.unique(m, axis=0)), m, order=2)
    m = np.array([[1.0, 2.0], [1.0, 2.0], [0.5, 3.0]])
    g = gradient(lambda m: np.sum(np.unique(m, axis=0) * np.array([[1.0], [2.0]])), m)[0]
    np.testing.assert_allclose(g, [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]])


def test_where():
    x, y = rand((3, 2), seed=10), rand((2,), seed=11)
    c = x > 0
    gradcheck(lambda x, y: np.sin(np.where(c, x, y)), x, y, order=2)
    gradcheck(lambda x, s: np.where(c, x, s * s), x, 0.3, order=2)
    gradcheck(lambda z: np.sin(np.where(c, z, 1.0)), x + 1j * x[::-1], order=2)
    # one argument: indices, no derivative; usable as an index
    g = gradient(lambda x: np.sum(x[np.where(x)] ** 2), np.array([0.0, 2.0, 3.0]))[0]
    np.testing.assert_allclose(g, [0.0, 4.0, 6.0])


def test_select():
    x = rand((4,), seed=12)
    conds = [x > 0.5, x < -0.5]
    gradcheck(lambda a, b, d: np.sin(np.select(conds, [a, b * a], d)), x, rand((4,), seed=13), 0.4, order=2)
    np.testing.assert_allclose(forward(lambda a: np.select(conds, [a, 2 * a]), x)[0],
                               np.select(conds, [x, 2 * x]))


def test_select_and_choose_complex():
    x = rand((4,), seed=12, complex=True)
    conds = [x.real > 0.5, x.real < -0.5]
    gradcheck(lambda a, d: np.sin(np.select(conds, [a, a * a], d)), x, 0.4 + 0.1j, order=2)
    gradcheck(lambda c0, c1: np.sin(np.choose(np.array([0, 1, 1, 0]), [c0, c1])), x, x[::-1] * 1j, order=2)
    gradcheck(lambda c: np.choose(np.array([1, 0, 1, 0]), c), rand((2, 4), seed=13, complex=True))
    gradcheck(lambda z: np.sin(np.compress([True, False, True, True], z)), x, order=2)
    gradcheck(lambda z: np.sin(np.full_like(z, z[1] * z[2])), x, order=2)


def test_choose():
    a = np.array([0, 2, 1, 0])
    c0, c1, c2 = rand((4,), seed=14), rand((4,), seed=15), rand((1,), seed=16)
    gradcheck(lambda c0, c1, c2: np.sin(np.choose(a, [c0, c1, c2])), c0, c1, c2, order=2)
    gradcheck(lambda c: np.sin(np.choose(a, c)), rand((3, 4), seed=17), order=2)
    gradcheck(lambda c: np.choose(np.array([[0], [1]]), c), rand((2, 3), seed=18))
    gradcheck(lambda c: np.choose(np.array([4, -1, 1]), c, mode="wrap"), rand((3, 3), seed=19))
    gradcheck(lambda c: np.choose(np.array([4, -1, 1]), c, mode="clip"), rand((3, 3), seed=19))


def test_full_like():
    x = rand((3, 2), seed=20)
    gradcheck(lambda x, v: np.full_like(x, v) * x, x, 0.7, order=2)
    gradcheck(lambda x, v: np.full_like(x, v) * x, x, np.array([0.7, 0.2]), order=2)
    assert gradient(lambda x, v: np.sum(np.full_like(x, v)), x, 1.0)[0] is None
    g = gradient(lambda x, v: np.sum(np.full_like(x, v, dtype=int) * v), x, 1.5)
    assert g[1] == 6.0       # the integer fill truncates: only the factor v counts


def test_nondifferentiable_give_plain_results():
    x = np.array([[0.5, -1.0, 2.0], [0.0, 3.0, -2.0]])
    calls = [
        np.nonzero, np.argwhere, np.flatnonzero, np.argmax, np.argmin, np.nanargmax, np.nanargmin,
        np.argsort, lambda x: np.argpartition(x, 1), lambda x: np.lexsort(x),
        lambda x: np.searchsorted(np.sort(x[0]), x[1]), lambda x: np.digitize(x, [0.0, 1.0]),
        np.shape, np.ndim, np.size, np.iscomplexobj, np.isrealobj, np.iscomplex, np.isreal,
        lambda x: np.result_type(x, 1), lambda x: np.can_cast(x, np.float32),
        np.min_scalar_type, np.zeros_like, np.ones_like, np.empty_like, np.count_nonzero,
        np.any, np.all, lambda x: np.isclose(x, 0.5), lambda x: np.allclose(x, x),
        lambda x: np.array_equal(x, x), lambda x: np.array_equiv(x, x),
        lambda x: np.isin(x, [0.5]), lambda x: np.ravel_multi_index(np.argwhere(x > 0).T, x.shape),
        lambda x: np.unravel_index(np.argmax(x), x.shape), np.round, lambda x: np.around(x, 1),
        np.fix,
    ]
    for fn in calls:
        def f(x):
            r = fn(x)
            for part in (r if isinstance(r, tuple) else (r,)):
                assert type(part) is not Tracked
            return np.sum(x * 2.0)
        y, back = forward(f, x)
        np.testing.assert_allclose(back(1.0)[0], 2.0 * np.ones_like(x))
        ref = fn(x)
        got = []
        forward(lambda x: got.append(fn(x)) or np.sum(x), x)
        if fn is not np.empty_like:
            np.testing.assert_equal(got[0], ref)


# ---------------------------------------------------------------------------
# The examples of the issue

def test_issue_examples():
    y, back = forward(lambda x: x * 3, np.array([1, 1, 1]))
    np.testing.assert_array_equal(y, np.array([3, 3, 3]))
    g = back(np.array([1, 2, 3]))
    assert isinstance(g, tuple) and len(g) == 1
    np.testing.assert_array_equal(g[0], np.array([3, 6, 9]))

    W = rand((2, 3), seed=21)
    b = rand((2,), seed=22)
    f = lambda W, b: np.sum(np.tanh(W @ np.array([1.0, 2.0, 3.0]) + b))
    gW, gb = gradient(f, W, b)
    eps = 1e-6
    for arr, g, k in ((W, gW, 0), (b, gb, 1)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            d = np.zeros_like(arr)
            d[i] = eps
            args_p = [W, b]
            args_m = [W, b]
            args_p[k] = arr + d
            args_m[k] = arr - d
            num[i] = (f(*args_p) - f(*args_m)) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])


def test_rosenbrock_written_out():
    scipy_optimize = pytest.importorskip("scipy.optimize")

    def rosen(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0)

    np.testing.assert_allclose(gradient(rosen, X0)[0], scipy_optimize.rosen_der(X0))
    gradcheck(rosen, X0, order=2, rtol=1e-4)


# ---------------------------------------------------------------------------
# np.add.at / np.subtract.at on tracked arrays: recorded as assignments

@pytest.mark.parametrize("ufunc", [np.add, np.subtract])
def test_ufunc_at_accumulates_duplicates(ufunc):
    x0, v0 = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.25, -1.0])

    def f(x, v):
        y = x * 1.0
        ufunc.at(y, [0, 0, 2], v)
        return np.sum(y ** 2)

    expected = x0.copy()
    ufunc.at(expected, [0, 0, 2], v0)
    assert forward(f, x0, v0)[0] == pytest.approx(np.sum(expected ** 2))
    gradcheck(f, x0, v0, order=2)
    gradcheck(lambda x: (ufunc.at(x, (np.array([1, 1]),), 2.0), np.sum(x ** 3))[1], x0, order=2)
    np.testing.assert_array_equal(x0, [1.0, 2.0, 3.0])     # the input is not mutated


def test_ufunc_at_into_a_plain_array_is_refused():
    def f(v):
        a = np.zeros(3)
        np.add.at(a, [0], v)
        return np.sum(a)
    with pytest.raises(TypeError, match=r"numpy\.add\.at\(x, index, v\) writes into x in place"):
        gradient(f, 1.0)
