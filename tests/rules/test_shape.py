"""Shape and assembly rules (zygcy/rules/shape.py), checked with finite differences.
Contractions (matmul, einsum, ...) are in test_contractions.py.

Every case is wrapped in ``square`` (each output squared) before the check:
the rules are linear, so without a nonlinearity after them the second-order
check would never run a pullback on a tracked cotangent.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _grid import C, R, SHAPES, case_table, check, rand, square
from zygcy import forward, gradient
from zygcy.testing import gradcheck


# (rule key, id, function, arguments, order)
CASES, case = case_table()


# -- reshaping, on the whole shape grid
for shp in SHAPES:
    tag = "x".join(map(str, shp)) or "scalar"
    n = int(np.prod(shp))
    case(np.reshape, "reshape-" + tag, lambda a, n=n: np.reshape(a, (n, 1)), R(*shp))
    case(np.ravel, "ravel-" + tag, lambda a: np.ravel(a), R(*shp))
    case(np.expand_dims, "expand_dims-" + tag, lambda a: np.expand_dims(a, 0), R(*shp))
    case(np.transpose, "transpose-" + tag, lambda a: np.transpose(a), R(*shp))
    case(np.broadcast_to, "broadcast_to-" + tag, lambda a, s=shp: np.broadcast_to(a, (2,) + s), R(*shp))
    case(np.atleast_1d, "atleast_1d-" + tag, lambda a: np.atleast_1d(a), R(*shp))
    case(np.atleast_2d, "atleast_2d-" + tag, lambda a: np.atleast_2d(a), R(*shp))
    case(np.atleast_3d, "atleast_3d-" + tag, lambda a: np.atleast_3d(a), R(*shp))
    case(np.copy, "copy-" + tag, lambda a: np.copy(a), C(*shp))
case(np.reshape, "reshape-F-complex", lambda a: np.reshape(a, (2, 3), order="F"), C(3, 2))
case(np.reshape if np.lib.NumpyVersion(np.__version__) >= "2.1.0" else None, "reshape-kw",
     lambda a: np.reshape(a, shape=(-1,)), R(3, 2))
case(np.ravel, "ravel-F", lambda a: np.ravel(a, order="F"), R(3, 2))
case(np.squeeze, "squeeze", lambda a: np.squeeze(a, axis=1), R(3, 1, 2))
case(np.atleast_2d, "atleast_2d-several", lambda a, b: np.atleast_2d(a, b), R(3), R())
case(np.transpose, "transpose-axes", lambda a: np.transpose(a, (2, 0, 1)), R(2, 3, 4))
case(np.swapaxes, "swapaxes", lambda a: np.swapaxes(a, 0, -1), C(2, 3, 4))
case(np.moveaxis, "moveaxis", lambda a: np.moveaxis(a, [0, 1], [-1, 0]), R(2, 3, 4))
case(np.broadcast_to, "broadcast_to-ones", lambda a: np.broadcast_to(a, (2, 3, 4)), R(3, 1))
case(np.broadcast_arrays, "broadcast_arrays", lambda a, b: np.broadcast_arrays(a, b), R(3, 1), C(2))
case(np.rollaxis, "rollaxis", lambda a: np.rollaxis(a, 2, 0), R(2, 3, 4))
case(np.rollaxis, "rollaxis-forward", lambda a: np.rollaxis(a, 0, 3), R(2, 3, 4))
case(getattr(np, "matrix_transpose", None), "matrix_transpose", lambda a: np.matrix_transpose(a), R(2, 3, 4))
case(np.resize, "resize", lambda a: np.resize(a, (4, 3)), R(3, 2))
case(np.append, "append", lambda a, b: np.append(a, b), R(3, 2), R(2))
case(np.append, "append-axis", lambda a, b: np.append(a, b, axis=0), R(3, 2), C(1, 2))
case(np.delete, "delete", lambda a: np.delete(a, [0, 2], axis=1), R(2, 4))
case(np.delete, "delete-flat", lambda a: np.delete(a, 1), R(3, 2))
case(np.insert, "insert", lambda a, v: np.insert(a, 1, v, axis=1), R(3, 2), R(3))
case(np.insert, "insert-broadcast", lambda a, v: np.insert(a, [0, 2], v, axis=0), C(3, 2), C(1))
case(np.insert, "insert-flat", lambda a, v: np.insert(a, (1, 1, 4), v), R(3, 2), R(3))
case(np.insert, "insert-block", lambda a, v: np.insert(a, 2, v, axis=1), R(3, 2), R(2, 3))
case(np.ediff1d, "ediff1d", lambda a: np.ediff1d(a, to_begin=[1.0, 2.0], to_end=3.0), R(3, 2))

# -- assembly
case(np.concatenate, "concatenate", lambda a, b: np.concatenate([a, b], axis=1), R(3, 2), C(3, 4))
case(np.concatenate, "concatenate-none", lambda a, b: np.concatenate((a, b), axis=None), R(3, 2), R(4))
case(np.concatenate, "concatenate-constant", lambda a: np.concatenate([np.ones((1, 2)), a]), R(3, 2))
case(np.stack, "stack", lambda a, b: np.stack([a, b], axis=-1), R(3, 2), R(3, 2))
case(np.stack, "stack-scalars", lambda a, b: np.stack([a, b]), R(), R())
case(np.vstack, "vstack", lambda a, b: np.vstack([a, b]), R(2), R(3, 2))
case(np.hstack, "hstack-1d", lambda a, b: np.hstack([a, b]), R(3), R(2))
case(np.hstack, "hstack-2d", lambda a, b: np.hstack([a, b]), R(3, 2), R(3, 1))
case(np.dstack, "dstack", lambda a, b: np.dstack([a, b]), R(3), R(1, 3))
case(np.column_stack, "column_stack", lambda a, b: np.column_stack([a, b]), R(3), R(3, 2))
case(getattr(np, "unstack", None), "unstack", lambda a: np.unstack(a, axis=1)[::2], R(3, 4))
case(np.split, "split", lambda a: np.split(a, [1, 2], axis=1), R(3, 4))
case(np.split, "split-one-used", lambda a: np.split(a, 3)[1], C(3, 2))
case(np.array_split, "array_split", lambda a: np.array_split(a, 3), R(4))
case(np.hsplit, "hsplit", lambda a: np.hsplit(a, 2), R(3, 4))
case(np.vsplit, "vsplit", lambda a: np.vsplit(a, [1])[1], R(3, 2))
case(np.dsplit, "dsplit", lambda a: np.dsplit(a, 2), R(2, 1, 4))

# -- copying and rearranging
case(np.repeat, "repeat", lambda a: np.repeat(a, 2, axis=1), R(3, 2))
case(np.repeat, "repeat-counts", lambda a: np.repeat(a, [2, 0, 1], axis=0), C(3, 2))
case(np.repeat, "repeat-flat", lambda a: np.repeat(a, 3), R(3, 2))
case(np.repeat, "repeat-scalar", lambda a: np.repeat(a, 3), R())
case(np.tile, "tile", lambda a: np.tile(a, (2, 1, 3)), R(3, 2))
case(np.tile, "tile-int", lambda a: np.tile(a, 2), R(3))
case(np.roll, "roll", lambda a: np.roll(a, 1), R(3, 2))
case(np.roll, "roll-axes", lambda a: np.roll(a, (1, -2), axis=(0, 1)), R(3, 2))
case(np.flip, "flip", lambda a: np.flip(a, 0), R(3, 2))
case(np.flip, "flip-all", lambda a: np.flip(a), C(3, 2))
case(np.flipud, "flipud", lambda a: np.flipud(a), R(3, 2))
case(np.fliplr, "fliplr", lambda a: np.fliplr(a), R(3, 2))
case(np.rot90, "rot90", lambda a: np.rot90(a), R(3, 2))
case(np.rot90, "rot90-k", lambda a: np.rot90(a, 3, axes=(2, 0)), R(2, 3, 4))

# -- diagonals and triangles
case(np.diag, "diag-build", lambda a: np.diag(a, 1), R(3))
case(np.diag, "diag-extract", lambda a: np.diag(a, -1), R(3, 2))
case(np.diagonal, "diagonal", lambda a: np.diagonal(a), R(3, 2))
case(np.diagonal, "diagonal-axes", lambda a: np.diagonal(a, 1, 2, 0), C(3, 2, 4))
case(np.diagflat, "diagflat", lambda a: np.diagflat(a, -1), R(2, 2))
case(np.triu, "triu", lambda a: np.triu(a), R(3, 2))
case(np.triu, "triu-batched", lambda a: np.triu(a, 1), R(2, 3, 3))
case(np.tril, "tril", lambda a: np.tril(a, -1), C(3, 3))

# -- padding and differences
case(np.pad, "pad", lambda a: np.pad(a, ((1, 2), (0, 1))), R(3, 2))
case(np.pad, "pad-value", lambda a: np.pad(a, 1, constant_values=2.0), R(3))
for mode in ("edge", "reflect", "symmetric", "wrap"):      # the modes pad's rule supports
    case(np.pad, "pad-" + mode, lambda a, mode=mode: np.pad(a, ((2, 1), (3, 0)), mode=mode), R(3, 2))
case(np.diff, "diff", lambda a: np.diff(a), R(3))
case(np.diff, "diff-n", lambda a: np.diff(a, 2, axis=0), C(4, 2))
case(np.diff, "diff-ends", lambda a: np.diff(a, axis=0, prepend=0.0, append=np.ones((2, 2))), R(3, 2))

# -- sorting (not smooth where values tie: first order)
case(np.sort, "sort", lambda a: np.sort(a), R(3, 2), order=1)
case(np.sort, "sort-axis", lambda a: np.sort(a, axis=0), R(4, 3), order=1)
case(np.sort, "sort-flat", lambda a: np.sort(a, axis=None), R(3, 2), order=1)
case(np.partition, "partition", lambda a: np.partition(a, 2), R(2, 5), order=1)
case(np.partition, "partition-axis", lambda a: np.partition(a, (0, 2), axis=0), R(4, 3), order=1)

# -- the linear maps the pullbacks are built from (gather and scatter_along, crop and
# uncrop, permute, diag_embed), through public functions whose pullbacks use them: the
# squared second-order check runs each map on a tracked cotangent, so its own pullback
# (the other map of its pair) runs too. Sorting is linear away from ties (the data has none).
case(np.sort, "sort-second-order", lambda a: np.sort(a, axis=0), R(4, 3))                  # permute
case(np.sort, "sort-flat-second-order", lambda a: np.sort(a, axis=None), C(3, 2).real)     # permute, flat
case(np.partition, "partition-second-order", lambda a: np.partition(a, 1, axis=-1), R(3, 4))
case(np.insert, "insert-gather-complex", lambda a, v: np.insert(a, [0, 2, 2], v, axis=1), C(2, 3), C(2, 3))
case(np.repeat, "repeat-scatter-complex", lambda a: np.repeat(a, [0, 3], axis=1), C(2, 2))
case(np.pad, "pad-crop-complex", lambda a: np.pad(a, ((1, 0), (0, 2))), C(3, 2))            # crop
case(np.diff, "diff-prepend-uncrop", lambda a: np.diff(a, axis=0, prepend=np.zeros((1, 2))), R(3, 2))
case(np.diagonal, "diagonal-embed-complex", lambda a: np.diagonal(a, 1, -2, -1), C(2, 3, 4))  # diag_embed


@pytest.mark.parametrize("key, f, args, order", CASES)
def test_rule(key, f, args, order):
    check(f, *args, order=order)


# -- analytic values

def test_ravel_in_memory_order():
    # 'A' and 'K' depend on the memory layout, which finite differences (on fresh arrays) lose
    x = np.asfortranarray(R(3, 2))
    g = np.arange(6.0)
    for order in ("A", "K"):
        _, back = forward(lambda a: np.ravel(a, order=order), x)
        np.testing.assert_allclose(back(g)[0], np.reshape(g, (3, 2), order="F"))
    _, back = forward(lambda a: np.reshape(a, (2, 3), order="A"), x)
    np.testing.assert_allclose(back(np.reshape(g, (2, 3), order="F"))[0], np.reshape(g, (3, 2), order="F"))
    base = R(4, 2, 3)
    y = base.transpose(2, 0, 1)         # neither C nor F contiguous
    g = np.arange(24.0)
    _, back = forward(lambda a: np.ravel(a, order="K"), y)
    np.testing.assert_allclose(back(g)[0], np.reshape(g, (4, 2, 3)).transpose(2, 0, 1))


def test_sort_routes_gradient_to_the_sorted_elements():
    x = np.array([3.0, 1.0, 2.0])
    (g,) = gradient(lambda x: np.sum(np.sort(x) * np.array([1.0, 10.0, 100.0])), x)
    np.testing.assert_allclose(g, [100.0, 1.0, 10.0])


def test_concatenate_and_split_values():
    a, b = R(2), R(3, seed=1)
    ga, gb = gradient(lambda a, b: np.sum(np.concatenate([a, b]) * np.arange(5.0)), a, b)
    np.testing.assert_allclose(ga, [0.0, 1.0])
    np.testing.assert_allclose(gb, [2.0, 3.0, 4.0])
    (gx,) = gradient(lambda x: np.sum(np.split(x, [2])[1]), R(5))
    np.testing.assert_allclose(gx, [0, 0, 1, 1, 1])


def test_linear_maps_give_the_transpose_worked_out_by_hand():
    # For a linear F, the gradient of sum(w * F(x)) is F's transpose applied to w.
    x, w = R(3, 2), R(3, 2, seed=1)
    # repeat with counts [2, 0, 1]: the copies of a row add up (scatter_along)
    (g,) = gradient(lambda a: np.sum(w * np.repeat(a, [2, 0, 1], axis=0)), x)
    np.testing.assert_allclose(g, [w[0] + w[1], [0.0, 0.0], w[2]])
    # insert: the inserted values get the cotangent at their places (gather)
    v = R(3, seed=2)
    (gv,) = gradient(lambda v: np.sum(w * np.insert(x[:, :1], 1, v, axis=1)), v)
    np.testing.assert_allclose(gv, w[:, 1])
    # pad: the cotangent cropped to the original box (crop)
    wp = R(6, 3, seed=3)
    (g,) = gradient(lambda a: np.sum(wp * np.pad(a, ((1, 2), (0, 1)))), x)
    np.testing.assert_allclose(g, wp[1:4, 0:2])
    # diff with prepend: the transpose of a difference, in the rows of x only (uncrop, crop)
    wd = R(3, 2, seed=4)
    (g,) = gradient(lambda a: np.sum(wd * np.diff(a, axis=0, prepend=np.zeros((1, 2)))), x)
    np.testing.assert_allclose(g, wd - np.vstack([wd[1:], np.zeros((1, 2))]))
    # sort along an axis: each cotangent goes back to where its element came from (permute)
    y, ws = R(4, 3, seed=5), R(4, 3, seed=6)
    (g,) = gradient(lambda a: np.sum(ws * np.sort(a, axis=0)), y)
    want = np.zeros_like(y)
    for j in range(3):
        want[np.argsort(y[:, j]), j] = ws[:, j]
    np.testing.assert_allclose(g, want)
    # diagonal with an offset: the cotangent on that diagonal of zeros (diag_embed)
    z, wz = R(2, 3, 4), R(2, 3, seed=7)
    (g,) = gradient(lambda a: np.sum(wz * np.diagonal(a, 1, -2, -1)), z)
    want = np.zeros_like(z)
    for i in range(3):
        want[:, i, i + 1] = wz[:, i]
    np.testing.assert_allclose(g, want)


def test_pad_refuses_unsupported_mode():
    with pytest.raises(NotImplementedError, match="mode='mean'"):
        gradient(lambda a: np.sum(np.pad(a, 1, mode="mean")), R(3))


# -- property tests: random reshapes

@given(st.permutations([0, 1, 2]), st.sampled_from([(24,), (4, 6), (2, 3, 4), (6, 2, 2)]))
def test_transpose_then_reshape(perm, shape):
    x = rand((2, 3, 4), seed=3)
    gradcheck(lambda x: square(np.reshape(np.transpose(x, perm), shape)), x, directions=2, order=2)


# -- variadic rules: every argument position of three

@pytest.mark.parametrize("f", [np.atleast_1d, np.atleast_2d, np.atleast_3d], ids=lambda f: f.__name__)
def test_atleast_three_arguments(f):
    for a, b, c in [(R(), R(3, seed=1), R(2, 3, seed=2)), (R(2, seed=3), C(), R(1, 2, 2, seed=4))]:
        check(lambda a, b, c: f(a, b, c), a, b, c)


def test_broadcast_arrays_three_arguments():
    for shapes in [((3, 1), (2,), ()), ((1,), (2, 1), (1, 3))]:
        a, b, c = (R(*s, seed=k) for k, s in enumerate(shapes))
        check(lambda a, b, c: np.broadcast_arrays(a, b, c), a, b, c)
        check(lambda a, b, c: np.broadcast_arrays(a, b, c)[2], a, b, c)


# -- arrays built from tracked numbers

def test_array_of_a_list_of_tracked_values_is_refused_with_the_fix():
    # numpy converts the elements of a list itself (with __array__, never
    # __array_function__), into a plain float array that cannot hold a derivative;
    # np.r_ and np.c_ call np.array on each item before concatenating. So these
    # raise, with the fix; the fix differentiates as expected.
    x = np.array([1.0, 2.0])
    for build in (lambda x: np.array([x[0], 2 * x[1], 3.0]), lambda x: np.asarray([x[0], x[1]]),
                  lambda x: np.r_[x, 1.0], lambda x: np.c_[x, x]):
        with pytest.raises(TypeError, match=r"np\.stack"):
            gradient(lambda x: np.sum(build(x)), x)
    gradcheck(lambda x: square(np.stack([x[0], 2 * x[1], 3.0])), x, order=2)
    gradcheck(lambda x: square(np.concatenate([x, np.ones(1)])), x, order=2)
    gradcheck(lambda x: square(np.column_stack([x, x])), x, order=2)
