"""numpy.linalg rules, checked with finite differences and against closed forms.

Matrices are well conditioned (random + n I, or symmetric/Hermitian positive
definite where the function needs it). Losses of eigenvectors and singular
vectors are phase-invariant (``abs(v) ** 2``), since the vectors themselves
are only defined up to a phase.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _grid import C, R, check, rand
from zygcy import derivative, forward, gradient, jvp
from zygcy.testing import gradcheck

la = np.linalg
NUMPY2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"


def well(n, batch=(), complex=False, seed=0):
    """A well-conditioned (stack of) n x n matrix."""
    return rand(batch + (n, n), seed=seed, complex=complex) + n * np.eye(n)


def spd(n, batch=(), complex=False, seed=0):
    """A (stack of) symmetric / Hermitian positive definite matrix."""
    x = rand(batch + (n, n), seed=seed, complex=complex)
    return x @ np.conj(np.swapaxes(x, -1, -2)) + n * np.eye(n)


def sym(x):
    return (x + np.conj(np.swapaxes(x, -1, -2))) / 2


CASES = []


def case(key, name, f, *args, order=2):
    if key is None:         # a function this numpy does not have
        return
    CASES.append(pytest.param(key, f, args, order, id=name))


for cx in (False, True):
    t = "-complex" if cx else ""
    case(la.det, "det" + t, lambda a: la.det(a), well(3, complex=cx))
    case(la.det, "det-batched" + t, lambda a: la.det(a), well(3, (2,), complex=cx))
    case(la.slogdet, "slogdet" + t, lambda a: la.slogdet(a), well(3, (2,), complex=cx))
    case(la.inv, "inv" + t, lambda a: la.inv(a), well(3, (2,), complex=cx))
    case(la.solve, "solve" + t, lambda a, b: la.solve(a, b), well(3, complex=cx), C(3, 2) if cx else R(3, 2))
    case(la.cholesky, "cholesky" + t, lambda a: la.cholesky(a), spd(3, (2,), complex=cx))
    case(la.eigh, "eigh" + t, lambda a: [la.eigh(a)[0], np.abs(la.eigh(a)[1]) ** 2], spd(3, complex=cx))
    case(la.eigvalsh, "eigvalsh" + t, lambda a: la.eigvalsh(a), spd(3, (2,), complex=cx))
    case(la.eig, "eig" + t, lambda a: [la.eig(a)[0], np.abs(la.eig(a)[1]) ** 2], R(3, 3) if not cx else C(3, 3))
    case(la.eigvals, "eigvals" + t, lambda a: la.eigvals(a), R(2, 3, 3) if not cx else C(3, 3))
    case(la.svd, "svd-tall" + t, lambda a: [np.abs(x) ** 2 for x in la.svd(a, full_matrices=False)],
         C(4, 3) if cx else R(4, 3))
    case(la.svd, "svd-wide" + t, lambda a: [np.abs(x) ** 2 for x in la.svd(a, full_matrices=False)],
         C(2, 3) if cx else R(2, 3))
    case(la.qr, "qr-tall" + t, lambda a: la.qr(a), C(2, 4, 3) if cx else R(4, 3))
    case(la.qr, "qr-wide" + t, lambda a: la.qr(a), C(3, 5) if cx else R(3, 5))
    case(la.pinv, "pinv-tall" + t, lambda a: la.pinv(a), C(4, 3) if cx else R(4, 3))
    case(la.pinv, "pinv-wide" + t, lambda a: la.pinv(a), C(2, 3) if cx else R(2, 3))
    case(la.lstsq, "lstsq" + t, lambda a, b: [la.lstsq(a, b)[i] for i in (0, 1, 3)],
         C(5, 3) if cx else R(5, 3), C(5, 2) if cx else R(5, 2))
    case(la.matrix_power, "matrix_power" + t, lambda a: la.matrix_power(a, 3), well(3, complex=cx))
    case(la.multi_dot, "multi_dot" + t, lambda a, b, c, d: la.multi_dot([a, b, c, d]),
         *[(C if cx else R)(*s, seed=i) for i, s in enumerate([(2, 3), (3, 4), (4, 2), (2, 5)])])

case(la.solve, "solve-vector-batched", lambda a, b: la.solve(a, b), well(3, (2,)), R(3))
case(la.solve, "solve-broadcast", lambda a, b: la.solve(a, b), well(3), R(2, 3, 2))
case(la.cholesky if NUMPY2 else None, "cholesky-upper", lambda a: la.cholesky(a, upper=True), spd(3, complex=True))
case(la.eigh, "eigh-upper", lambda a: np.abs(la.eigh(a, UPLO="U")[1]) ** 2, spd(3))
case(la.eigh, "eigh-batched", lambda a: la.eigh(a)[0], spd(3, (2,)))
case(la.eigh, "eigh-of-symmetrized", lambda x: la.eigh(sym(x))[0], R(3, 3))
case(la.svd, "svd-values", lambda a: la.svd(a, compute_uv=False), R(2, 4, 3))
case(la.svd, "svd-square-default", lambda a: np.abs(la.svd(a)[0]) ** 2, R(3, 3))
case(getattr(la, "svdvals", None), "svdvals", lambda a: la.svdvals(a), C(3, 2))
case(la.svd, "svd-hermitian", lambda a: [np.abs(x) ** 2 for x in la.svd(a, hermitian=True)], spd(3, complex=True))
case(la.svd, "svd-hermitian-values", lambda a: la.svd(a, compute_uv=False, hermitian=True), sym(R(3, 3)))
case(la.pinv, "pinv-hermitian", lambda a: la.pinv(a, hermitian=True), spd(3))
case(la.pinv, "pinv-hermitian-complex", lambda a: la.pinv(a, hermitian=True), spd(3, complex=True))
case(la.eigh, "eigh-upper-complex", lambda a: [la.eigh(a, UPLO="U")[0], np.abs(la.eigh(a, UPLO="U")[1]) ** 2],
     spd(3, complex=True))
case(la.qr, "qr-r", lambda a: la.qr(a, mode="r"), R(4, 3))
case(la.qr, "qr-square", lambda a: la.qr(a, mode="complete"), R(3, 3))
case(la.lstsq, "lstsq-vector", lambda a, b: la.lstsq(a, b)[:2], R(5, 3), R(5))
case(la.lstsq, "lstsq-square", lambda a, b: la.lstsq(a, b)[0], well(3), R(3))
case(la.matrix_power, "matrix_power-negative", lambda a: la.matrix_power(a, -2), well(3, (2,)))
case(la.matrix_power, "matrix_power-1", lambda a: la.matrix_power(a, 1), well(3))
case(la.multi_dot, "multi_dot-vectors", lambda a, b, c: la.multi_dot([a, b, c]), R(3), R(3, 4), R(4))
case(la.multi_dot, "multi_dot-constant", lambda a, c: la.multi_dot([a, np.ones((3, 2)), c]), R(2, 3), R(2, 2))

# norms: vector and matrix orders, axis, keepdims
for cx in (False, True):
    t = "-complex" if cx else ""
    X = C if cx else R
    case(la.norm, "norm" + t, lambda a: la.norm(a), X(3, 2))
    case(la.norm, "norm-vector" + t, lambda a: la.norm(a), X(3))
    case(la.norm, "norm-scalar-axis" + t, lambda a: la.norm(a, axis=0), X(3))
    case(la.norm, "norm-p3" + t, lambda a: la.norm(a, 3, axis=-1, keepdims=True), X(2, 3))
    case(la.norm, "norm-p1" + t, lambda a: la.norm(a, 1, axis=0), X(3, 2), order=1)
    case(la.norm, "norm-inf" + t, lambda a: la.norm(a, np.inf), X(3), order=1)
    case(la.norm, "norm--inf" + t, lambda a: la.norm(a, -np.inf, axis=1), X(2, 3), order=1)
    case(la.norm, "norm-fro" + t, lambda a: la.norm(a, "fro", axis=(0, 2)), X(3, 2, 4))
    case(la.norm, "norm-nuc" + t, lambda a: la.norm(a, "nuc"), X(3, 2))
    case(la.norm, "norm-2" + t, lambda a: la.norm(a, 2), X(3, 2))
    case(la.norm, "norm--2" + t, lambda a: la.norm(a, -2, axis=(2, 0), keepdims=True), X(3, 2, 3))
    case(la.norm, "norm-m1" + t, lambda a: la.norm(a, 1), X(3, 3), order=1)
    case(la.norm, "norm-minf" + t, lambda a: la.norm(a, np.inf, axis=(1, 0)), X(3, 3), order=1)
case(la.norm, "norm-0", lambda a: la.norm(a, 0) * a, R(3), order=1)
case(getattr(la, "vector_norm", None), "vector_norm", lambda a: la.vector_norm(a, axis=1), C(2, 3))
case(getattr(la, "vector_norm", None), "vector_norm-all", lambda a: la.vector_norm(a, ord=4), R(2, 3))
case(getattr(la, "matrix_norm", None), "matrix_norm", lambda a: la.matrix_norm(a, ord="nuc"), R(2, 3, 3))
case(getattr(la, "matrix_norm", None), "matrix_norm-fro", lambda a: la.matrix_norm(a, keepdims=True), C(3, 2))

# numpy 2's array-API names
case(getattr(la, "matmul", None), "linalg.matmul", lambda a, b: la.matmul(a, b), R(2, 3), C(3, 2))
case(getattr(la, "tensordot", None), "linalg.tensordot", lambda a, b: la.tensordot(a, b, axes=1), C(3, 4), C(4))
case(getattr(la, "vecdot", None), "linalg.vecdot", lambda a, b: la.vecdot(a, b, axis=0), C(3, 2), C(3, 2))
case(getattr(la, "cross", None), "linalg.cross", lambda a, b: la.cross(a, b), R(2, 3), R(3))
case(getattr(la, "outer", None), "linalg.outer", lambda a, b: la.outer(a, b), C(3), C(2))
case(getattr(la, "matrix_transpose", None), "linalg.matrix_transpose", lambda a: la.matrix_transpose(a), R(2, 3, 4))
case(getattr(la, "diagonal", None), "linalg.diagonal", lambda a: la.diagonal(a, offset=1), R(2, 3, 4))
case(getattr(la, "trace", None), "linalg.trace", lambda a: la.trace(a), C(2, 3, 3))
case(getattr(la, "trace", None), "linalg.trace-offset", lambda a: la.trace(a, offset=-1), R(3, 2))


@pytest.mark.parametrize("key, f, args, order", CASES)
def test_rule(key, f, args, order):
    check(f, *args, order=order)


# -- closed forms

def test_det_gradient_is_det_times_inverse_transpose():
    A = well(3)
    (g,) = gradient(la.det, A)
    np.testing.assert_allclose(g, la.det(A) * la.inv(A).T, rtol=1e-10)


def test_logdet_gradient_is_inverse_transpose():
    A = spd(3, complex=True)
    (g,) = gradient(lambda a: la.slogdet(a)[1], A)
    np.testing.assert_allclose(g, la.inv(A).conj().T, rtol=1e-10)


def test_inverse_pullback():
    A, G = well(3, complex=True), C(3, 3, seed=1)
    _, back = forward(la.inv, A)
    Ai = la.inv(A)
    np.testing.assert_allclose(back(G)[0], -Ai.conj().T @ G @ Ai.conj().T, rtol=1e-10)


def test_eigenvalue_gradient_is_projector():
    A = spd(3)
    w, V = la.eigh(A)
    (g,) = gradient(lambda a: la.eigh(a)[0][2], A)
    P = np.outer(V[:, 2], V[:, 2])
    # only the lower triangle is read: off-diagonal entries count twice
    np.testing.assert_allclose(g, np.tril(2 * P) - np.diag(np.diag(P)), atol=1e-10)
    (gs,) = gradient(lambda x: la.eigh(sym(x))[0][2], A)
    np.testing.assert_allclose(gs, P, atol=1e-10)


def test_nuclear_norm_gradient_is_polar_factor():
    A = R(4, 3)
    U, s, Vh = la.svd(A, full_matrices=False)
    (g,) = gradient(lambda a: la.norm(a, "nuc"), A)
    np.testing.assert_allclose(g, U @ Vh, atol=1e-10)


def test_norm_gradient_of_zero_is_zero():
    (g,) = gradient(lambda a: la.norm(a), np.zeros(3))
    np.testing.assert_allclose(g, 0.0)


def test_forward_mode_at_singular_matrices():
    # det's tangent is sum(cof(A) * dA), exact where inv(A) does not exist
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    dA = R(3, 3, seed=1)
    _, t = jvp(la.det, (A,), (dA,))
    h = 1e-3
    assert t == pytest.approx((la.det(A + h * dA) - la.det(A - h * dA)) / (2 * h), rel=1e-6)
    with pytest.raises(np.linalg.LinAlgError, match="slogdet at a singular matrix"):
        jvp(lambda a: la.slogdet(a)[1], (np.array([[1.0, 2.0], [2.0, 4.0]]),), (dA[:2, :2],))


def test_solve_matches_inverse():
    A, b = well(3), R(3, seed=1)
    ga, gb = gradient(lambda a, b: np.sum(la.solve(a, b)), A, b)
    ga2, gb2 = gradient(lambda a, b: np.sum(la.inv(a) @ b), A, b)
    np.testing.assert_allclose(ga, ga2, rtol=1e-10)
    np.testing.assert_allclose(gb, gb2, rtol=1e-10)


def test_missing_rule_names_the_function():
    with pytest.raises(TypeError, match="numpy.linalg.cond"):
        gradient(lambda a: la.cond(a), well(3))
    with pytest.raises(TypeError, match="numpy.linalg.tensorinv"):
        gradient(lambda a: np.sum(la.tensorinv(a, ind=1)), well(3))


def test_matrix_rank_is_constant():
    (g,) = gradient(lambda a: la.matrix_rank(a) * np.sum(a), well(3))
    np.testing.assert_allclose(g, 3.0)


def test_unsupported_forms_say_what_to_do():
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        gradient(lambda a: np.sum(la.svd(a)[1]), R(4, 3))
    with pytest.raises(NotImplementedError, match="mode='reduced'"):
        gradient(lambda a: np.sum(la.qr(a, mode="complete")[1]), R(4, 3))


# -- a property test: det(A B) = det(A) det(B), and so are its gradients

@given(st.integers(1, 4), st.integers(0, 1000), st.booleans())
def test_det_of_product(n, seed, cx):
    A = well(n, complex=cx, seed=seed)
    B = well(n, complex=cx, seed=seed + 1)
    f = lambda a, b: np.abs(la.det(a @ b)) ** 2          # noqa: E731
    h = lambda a, b: np.abs(la.det(a) * la.det(b)) ** 2  # noqa: E731
    g1, g2 = gradient(f, A, B), gradient(h, A, B)
    np.testing.assert_allclose(g1[0], g2[0], rtol=1e-8, atol=1e-8 * np.max(np.abs(g2[0])))
    gradcheck(f, A, B, directions=1)


def test_third_derivative_of_logdet():
    # f(t) = log det(A + t B) has f'''(t) = 2 tr((M^-1 B)^3), M = A + t B
    A, B = spd(3), R(3, 3, seed=1)

    def f(t):
        return la.slogdet(A + t * B)[1]

    t0 = 0.2
    d3 = derivative(lambda t: derivative(lambda s: derivative(f, s), t), t0)
    K = la.solve(A + t0 * B, B)
    np.testing.assert_allclose(d3, 2 * np.trace(K @ K @ K), rtol=1e-8)
