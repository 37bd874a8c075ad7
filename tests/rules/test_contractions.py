"""Contraction rules (zygcy/rules/contractions.py): matmul, dot, vdot, inner, outer,
tensordot, kron, cross, einsum, vecdot, matvec, vecmat, convolve, correlate;
checked with finite differences and against closed forms.

Every case is wrapped in ``square`` (each output squared) before the check:
the rules are (bi)linear, so without a nonlinearity after them the second-order
check would never run a pullback on a tracked cotangent.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _grid import C, R, case_table, check, rand, square
from zygcy import derivative, forward, gradient, jvp
from zygcy.testing import gradcheck


# (rule key, id, function, arguments, order)
CASES, case = case_table()


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
# -- convolutions: every mode, either input the longer, even and odd lengths, complex
for _f in (np.convolve, np.correlate):
    for _mode in ("full", "same", "valid", 1):
        for _m, _n in ((5, 3), (2, 4), (4, 4), (1, 3)):
            case(_f, "%s-%s-%dx%d" % (_f.__name__, _mode, _m, _n),
                 lambda a, v, f=_f, mode=_mode: f(a, v, mode), R(_m, seed=_m), R(_n, seed=10 + _n))
    case(_f, "%s-complex" % _f.__name__, lambda a, v, f=_f: f(a, v, "same"), C(5, seed=1), C(2, seed=2))
    case(_f, "%s-complex-long-v" % _f.__name__, lambda a, v, f=_f: f(a, v, "full"), C(3, seed=1), C(4, seed=2))
    case(_f, "%s-default-mode" % _f.__name__, lambda a, v, f=_f: f(a, v), R(4, seed=1), C(2, seed=2))
case(np.convolve, "convolve-scalar", lambda a, v: np.convolve(a, v, mode="same"), R(seed=1), R(3, seed=2))


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


def test_forward_mode_leaves_out_alone():
    # the tangent of a contraction called with out= is a new array: out holds the value
    A, B, dA = R(3, 2), R(2, 3, seed=1), R(3, 2, seed=2)
    cases = [(lambda a: np.dot(a, B, out=np.empty((3, 3))), lambda a: np.dot(a, B)),
             (lambda a: np.dot(a, B, np.empty((3, 3))), lambda a: np.dot(a, B)),
             (lambda a: np.outer(a, B, out=np.empty((6, 6))), lambda a: np.outer(a, B)),
             (lambda a: np.einsum("ij,jk", a, B, out=np.empty((3, 3))), lambda a: np.einsum("ij,jk", a, B))]
    for f, plain in cases:
        y, dy = jvp(f, (A,), (dA,))
        np.testing.assert_allclose(y, plain(A))
        np.testing.assert_allclose(dy, plain(dA))


def _convolution_matrix(f, a, n, mode):
    """The matrix of v -> f(a, v, mode) for v of length n, column by column."""
    return np.stack([f(a, np.eye(n)[j], mode) for j in range(n)], axis=1)


@pytest.mark.parametrize("f", [np.convolve, np.correlate], ids=lambda f: f.__name__)
def test_convolution_cotangents(f):
    # the cotangents are the transposed (conjugated) matrices of the linear maps, for
    # every mode and either input the longer
    for m in range(1, 6):
        for n in range(1, 6):
            a, v = C(m, seed=m), C(n, seed=n + 7)
            for mode in ("full", "same", "valid"):
                g = C(len(f(a, v, mode)), seed=3)
                _, back = forward(lambda a, v: f(a, v, mode), a, v)
                ga, gv = back(g)
                Av = np.stack([f(np.eye(m)[i], v, mode) for i in range(m)], axis=1)
                np.testing.assert_allclose(ga, Av.conj().T @ g, atol=1e-12)
                Va = _convolution_matrix(f, a, n, mode)       # correlate: conjugate-linear in v
                expect = Va.conj().T @ g if f is np.convolve else Va.T @ g.conj()
                np.testing.assert_allclose(gv, expect, atol=1e-12)


def test_einsum_trace_is_identity():
    (g,) = gradient(lambda a: np.einsum("ii", a), R(3, 3))
    np.testing.assert_allclose(g, np.eye(3))


def test_third_derivative_through_matmul():
    # d^3/dx^3 of sum((x A) @ B)^3 along one entry, against the closed form
    A, B = R(2, 2), R(2, 2, seed=1)
    def f(t):
        x = np.array([[1.0, 0.0], [0.0, 0.0]]) * t + np.eye(2)
        return np.sum((x @ A @ B) ** 3)

    d3 = derivative(lambda t: derivative(lambda s: derivative(f, s), t), 0.3)
    M = np.array([[1.0, 0.0], [0.0, 0.0]]) @ A @ B
    np.testing.assert_allclose(d3, 6 * np.sum(M ** 3), rtol=1e-8)


# -- property tests: random einsum contractions

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
