"""Shape, assembly and contraction rules, checked with finite differences.

Every case is wrapped in ``_square`` (each output squared) before the check:
the rules are linear, so without a nonlinearity after them the second-order
check would never run a pullback on a tracked cotangent.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _grid import C, R, SHAPES, check, rand, square
from zygcy import derivative, forward, gradient
from zygcy._core import apply
from zygcy.rules import shape as S
from zygcy.testing import gradcheck


# (rule key, id, function, arguments, order)
CASES = []


def case(key, name, f, *args, order=2):
    if key is None:         # a function this numpy does not have
        return
    CASES.append(pytest.param(key, f, args, order, id=name))


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
for mode in S.INDEX_PAD_MODES:
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

# -- contractions
case(np.matmul, "matmul", lambda a, b: a @ b, R(3, 2), R(2, 4))
case(np.matmul, "matmul-batched", lambda a, b: np.matmul(a, b), R(2, 1, 3, 2), R(3, 2, 4))
case(np.matmul, "matmul-vec-mat", lambda a, b: a @ b, R(2), R(3, 2, 4))
case(np.matmul, "matmul-mat-vec", lambda a, b: a @ b, C(3, 2), C(2))
case(np.matmul, "matmul-vec-vec", lambda a, b: a @ b, C(3), C(3))
case(np.matmul, "matmul-complex", lambda a, b: a @ b, C(2, 3, 2), R(2, 4))
case(np.dot, "dot", lambda a, b: np.dot(a, b), R(3, 2), C(2, 4))
case(np.dot, "dot-nd", lambda a, b: np.dot(a, b), R(2, 3, 2), R(4, 2, 3))
case(np.dot, "dot-vec", lambda a, b: np.dot(a, b), R(2, 3), R(3))
case(np.dot, "dot-scalar", lambda a, b: np.dot(a, b), R(), R(3, 2))
case(np.vdot, "vdot", lambda a, b: np.vdot(a, b), C(3, 2), C(2, 3))
case(np.vdot, "vdot-real", lambda a, b: np.vdot(a, b), R(3), R(3))
case(np.inner, "inner", lambda a, b: np.inner(a, b), C(2, 3), C(4, 3))
case(np.inner, "inner-scalar", lambda a, b: np.inner(a, b), R(3), R())
case(np.outer, "outer", lambda a, b: np.outer(a, b), C(2, 2), R(3))
case(np.tensordot, "tensordot-int", lambda a, b: np.tensordot(a, b, 1), R(3, 2), R(2, 4))
case(np.tensordot, "tensordot-0", lambda a, b: np.tensordot(a, b, 0), R(3), R(2))
case(np.tensordot, "tensordot-pairs", lambda a, b: np.tensordot(a, b, ([0, 2], [2, 0])), C(2, 3, 4), C(4, 5, 2))
case(np.tensordot, "tensordot-ints", lambda a, b: np.tensordot(a, b, (1, 0)), R(3, 2), R(2, 4))
case(np.kron, "kron", lambda a, b: np.kron(a, b), R(2, 3), R(2, 2))
case(np.kron, "kron-ndim", lambda a, b: np.kron(a, b), C(2, 3), C(3))
case(np.cross, "cross", lambda a, b: np.cross(a, b), R(4, 3), R(3))
case(np.cross, "cross-axes", lambda a, b: np.cross(a, b, axisa=0, axisb=-1, axisc=0), C(3, 2), C(2, 3))
case(np.einsum, "einsum-matmul", lambda a, b: np.einsum("ij,jk->ik", a, b), R(3, 2), R(2, 4))
case(np.einsum, "einsum-implicit", lambda a, b: np.einsum("ji,jk", a, b), C(3, 2), C(3, 4))
case(np.einsum, "einsum-trace", lambda a: np.einsum("ii", a), R(3, 3))
case(np.einsum, "einsum-diagonal", lambda a: np.einsum("iij->ji", a), R(3, 3, 2))
case(np.einsum, "einsum-sum", lambda a, b: np.einsum("ij,k->i", a, b), R(3, 2), R(4))
case(np.einsum, "einsum-ellipsis", lambda a, b: np.einsum("...ij,...jk->...ik", a, b), C(1, 3, 2), C(4, 2, 2))
case(np.einsum, "einsum-ellipsis-implicit", lambda a: np.einsum("i...->...", a), R(3, 2))
case(np.einsum, "einsum-three", lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c), R(3, 2), R(2, 4), R(4, 2))
case(np.einsum, "einsum-scalar", lambda a, b: np.einsum(",ij->ij", a, b), R(), R(3, 2))
case(np.einsum, "einsum-sublists", lambda a, b: np.einsum(a, [0, 1], b, [1, Ellipsis], [Ellipsis, 0]),
     R(3, 2), R(2, 4))
case(getattr(np, "vecdot", None), "vecdot", lambda a, b: np.vecdot(a, b), C(4, 3), C(3))
case(getattr(np, "vecdot", None), "vecdot-axis", lambda a, b: np.vecdot(a, b, axis=0), C(3, 2), C(3, 1))
case(getattr(np, "matvec", None), "matvec", lambda a, b: np.matvec(a, b), C(2, 4, 3), C(3))
case(getattr(np, "vecmat", None), "vecmat", lambda a, b: np.vecmat(a, b), C(3), C(2, 3, 4))

# -- the private linear maps pullbacks are built from
case(S._gather, "gather", lambda a: apply(S._gather, (a, np.array([0, 2, 2]), 1)), R(2, 3))
case(S._scatter, "scatter", lambda a: apply(S._scatter, (a, np.array([0, 2, 2]), 1, 4)), R(2, 3))
case(S._crop, "crop", lambda a: apply(S._crop, (a, (slice(1, 3), slice(None)))), R(3, 2))
case(S._uncrop, "uncrop", lambda a: apply(S._uncrop, (a, (4, 2), (slice(1, 3), slice(None)))), R(2, 2))
case(S._permute, "permute", lambda a: apply(S._permute, (a, np.array([[1, 0], [0, 1], [0, 1]]), 1)), R(3, 2))
case(S._diag_embed, "diag_embed", lambda a: apply(S._diag_embed, (a, 3, 4, 1)), C(2, 3))


@pytest.mark.parametrize("key, f, args, order", CASES)
def test_rule(key, f, args, order):
    check(f, *args, order=order)


# -- analytic values

def test_matmul_value():
    A, B = R(3, 2), R(2, 4, seed=1)
    gA, gB = gradient(lambda a, b: np.sum(a @ b), A, B)
    np.testing.assert_allclose(gA, np.ones((3, 4)) @ B.T)
    np.testing.assert_allclose(gB, A.T @ np.ones((3, 4)))


def test_complex_matmul_convention():
    # the cotangent of A is g @ B^H
    A, B = C(2, 3), C(3, 2, seed=1)
    g = C(2, 2, seed=2)
    _, back = forward(lambda a, b: a @ b, A, B)
    gA, gB = back(g)
    np.testing.assert_allclose(gA, g @ B.conj().T)
    np.testing.assert_allclose(gB, A.conj().T @ g)


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


def test_einsum_trace_is_identity():
    (g,) = gradient(lambda a: np.einsum("ii", a), R(3, 3))
    np.testing.assert_allclose(g, np.eye(3))


def test_pad_refuses_unsupported_mode():
    with pytest.raises(NotImplementedError, match="mode='mean'"):
        gradient(lambda a: np.sum(np.pad(a, 1, mode="mean")), R(3))


def test_third_derivative_through_matmul():
    # d^3/dx^3 of sum((x A) @ B)^3 along one entry, against the closed form
    A, B = R(2, 2), R(2, 2, seed=1)
    def f(t):
        x = np.array([[1.0, 0.0], [0.0, 0.0]]) * t + np.eye(2)
        return np.sum((x @ A @ B) ** 3)

    d3 = derivative(lambda t: derivative(lambda s: derivative(f, s), t), 0.3)
    M = np.array([[1.0, 0.0], [0.0, 0.0]]) @ A @ B
    np.testing.assert_allclose(d3, 6 * np.sum(M ** 3), rtol=1e-8)


# -- property tests: random einsum contractions and reshapes

@given(st.data())
def test_einsum_random(data):
    # two or three operands; labels may repeat within an operand (diagonals, traces)
    letters = "abcd"
    sizes = {"a": 2, "b": 3, "c": 1, "d": 2}
    nops = data.draw(st.integers(2, 3))
    subs = [data.draw(st.lists(st.sampled_from(letters), min_size=int(i == 0), max_size=3)) for i in range(nops)]
    labels = sorted(set().union(*subs))
    out = data.draw(st.lists(st.sampled_from(labels), max_size=len(labels), unique=True))
    spec = ",".join("".join(s) for s in subs) + "->" + "".join(out)
    ops = [rand(tuple(sizes[c] for c in s), seed=i, complex=data.draw(st.booleans())) for i, s in enumerate(subs)]
    gradcheck(lambda *ops: square(np.einsum(spec, *ops)), *ops, directions=2, order=2)


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
