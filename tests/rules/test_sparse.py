"""scipy.sparse: plain sparse matrices times tracked dense operands, sparse matrices
with tracked stored values (constructors, products, sums, reductions), solvers by
implicit differentiation, expm_multiply, eigsh and csgraph.laplacian.

Each case is checked twice: its value against scipy's own result (the same
function run on plain inputs, which takes scipy's code path untouched), with
scipy's type rules (a sparse result where scipy gives one, of the same class; a
dense one where scipy's is dense); and its derivatives, reverse and forward mode,
against central differences (gradcheck; with order 2 the outputs are squared, so
that every pullback also runs on a tracked cotangent). The solvers' gradients are
also compared with a dense reference (numpy.linalg) on small systems.
"""
import sys

import numpy as np
import pytest

import zygcy
from zygcy import forward, gradient, jvp
from zygcy.testing import gradcheck

from _grid import fresh_python, rand

sparse = pytest.importorskip("scipy.sparse")
sla = pytest.importorskip("scipy.sparse.linalg")
csgraph = pytest.importorskip("scipy.sparse.csgraph")

from zygcy.rules import sparse as rules  # noqa: E402
from zygcy.rules.sparse import TrackedSparse  # noqa: E402

N = 5
FORMATS = ["csr", "csc", "coo", "bsr", "dia", "lil", "dok"]


def plain(fmt="csr", matrix=True, shape=(N, N), density=0.5, seed=0):
    """A seeded random sparse matrix of a format, of scipy's matrix or array class."""
    A = sparse.random(*shape, density=density, format="coo", random_state=seed)
    A = sparse.coo_matrix(A) if matrix else sparse.coo_array(A)
    return A.asformat(fmt)


def dense(y):
    if type(y) is TrackedSparse:
        return y.to_scipy().toarray()
    if sparse.issparse(y):
        return y.toarray()
    return np.asarray(y)


def same_kind(got, ref):
    """zygcy's result follows scipy's type rules: sparse where scipy's is (of the same
    class), dense where scipy's is (an ndarray also where scipy gives np.matrix)."""
    if sparse.issparse(ref):
        assert type(got) is TrackedSparse, (type(got), type(ref))
        assert got.matrix == isinstance(ref, sparse.spmatrix)
        assert got.shape == ref.shape
    else:
        assert type(got) is not TrackedSparse and not sparse.issparse(got), type(got)
        assert np.shape(got) == np.shape(ref), (np.shape(got), np.shape(ref))


def compare(got, ref):
    if isinstance(ref, tuple):
        assert isinstance(got, tuple) and len(got) == len(ref)
        for a, b in zip(got, ref):
            compare(a, b)
        return
    same_kind(got, ref)
    np.testing.assert_allclose(dense(got), dense(ref), rtol=1e-10, atol=1e-12)


def square(y):
    """The outputs squared, a sparse one as its dense array (so that the tracked run
    and the plain run, which gives scipy's own matrix, have the same leaves)."""
    if isinstance(y, (tuple, list)):
        return [square(v) for v in y]
    if type(y) is TrackedSparse or sparse.issparse(y):
        y = y.toarray()
    return np.asarray(y) ** 2 if isinstance(y, np.matrix) else y * y


def check(f, *args, order=2, value=True, **kw):
    """f's value is scipy's, and its derivatives match central differences."""
    if value:
        compare(forward(f, *args)[0], f(*args))
    assert gradcheck(lambda *a: square(f(*a)), *args, order=order, **kw)


x5, X52, c = rand((N,), seed=1), rand((N, 2), seed=2), 1.7


# ---------------------------------------------------------------------------
# A constant sparse matrix, every format and both classes, times tracked dense values

PLAIN_CASES = {
    "A@x": (lambda A: lambda x: A @ x, x5),
    "A@X": (lambda A: lambda X: A @ X, X52),
    "A@column": (lambda A: lambda x: A @ x[:, None], x5),
    "A.dot(x)": (lambda A: lambda x: A.dot(x), x5),
    "A.dot(c)": (lambda A: lambda c: A.dot(c), c),
    "A.T@x": (lambda A: lambda x: A.T @ x, x5),
    "A*x": (lambda A: lambda x: A * x, x5),          # a product (matrix) or elementwise (array)
    "A*X": (lambda A: lambda X: A * X[:, :1], X52),
    "c*A": (lambda A: lambda c: c * A, c),
    "A*c": (lambda A: lambda c: A * c, c),
    "A/c": (lambda A: lambda c: A / c, c),
    "A.multiply(x)": (lambda A: lambda x: A.multiply(x), x5),
    "A.multiply(column)": (lambda A: lambda x: A.multiply(x[:, None]), x5),
    "A.multiply(W)": (lambda A: lambda W: A.multiply(W), rand((N, N), seed=3)),
    "A.power(p)": (lambda A: lambda p: abs(A).power(p), c),
    "A+W": (lambda A: lambda W: A + W, rand((N, N), seed=4)),
    "A-W": (lambda A: lambda W: A - W, rand((N, N), seed=4)),
}


@pytest.mark.parametrize("matrix", [True, False], ids=["matrix", "array"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(PLAIN_CASES))
def test_plain_matrix_times_tracked(name, fmt, matrix):
    make, arg = PLAIN_CASES[name]
    check(make(plain(fmt, matrix)), arg)


def test_nothing_is_densified(monkeypatch):
    """x's cotangent of A @ x is A^H @ g, and the stored values' cotangents are one per
    value: sparse work, for matrices no dense copy of which would fit (320 GB here)."""
    n = 2 * 10 ** 5
    A = sparse.diags_array([np.full(n - 1, -1.0), np.full(n, 2.0)], offsets=[-1, 0], format="csr")
    for cls in (sparse._base._spbase, sparse._compressed._cs_matrix, sparse._coo._coo_base):
        monkeypatch.setattr(cls, "toarray", _no_densifying, raising=False)
    (g,) = gradient(lambda x: np.sum(np.sin(A @ x) + A.T @ x), np.ones(n))
    assert g.shape == (n,)
    np.testing.assert_allclose(g[:3], (A.T @ np.cos(A @ np.ones(n)) + A @ np.ones(n))[:3])
    T = (A + A.T).tocsr()
    b = np.ones(n)
    (gd,) = gradient(lambda d: np.sum(sla.spsolve(sparse.csr_array((d, T.indices, T.indptr), T.shape), b)),
                     T.data)
    assert gd.shape == T.data.shape


def _no_densifying(self, *args, **kwargs):
    raise AssertionError("a sparse matrix was densified")


LEFT_CASES = {
    "x@A": lambda A: lambda x: x @ A,
    "X@A": lambda A: lambda X: X.T @ A,
    "x*A": lambda A: lambda x: x * A,
    "W+A": lambda A: lambda x: np.outer(x, x) + A,
    "x@S": lambda A: lambda x: x @ sparse.csr_matrix((x[0] * A.data, A.indices, A.indptr), A.shape),
}


@pytest.mark.parametrize("matrix", [True, False], ids=["matrix", "array"])
@pytest.mark.parametrize("name", list(LEFT_CASES))
def test_tracked_dense_on_the_left(name, matrix):
    check(LEFT_CASES[name](plain("csr", matrix)), x5)


@pytest.mark.parametrize("matrix", [True, False], ids=["matrix", "array"])
def test_tracked_dense_on_the_left_written_through_transposes(matrix):
    A = plain("csr", matrix)
    check(lambda x: (A.T @ x.T).T, X52.T)
    check(lambda x: A.T.dot(x), x5)


def test_plain_results_are_scipy_s():
    """Wrapped methods and constructors change nothing for plain operands."""
    import copy
    import pickle
    A = plain("csr")
    assert type(A @ x5) is np.ndarray and type(A.multiply(x5)) is sparse.coo_matrix
    assert type(sparse.csr_matrix((A.data, A.indices, A.indptr), A.shape)) is sparse.csr_matrix
    assert isinstance(sparse.csr_array((3, 3)), sparse.csr_array)
    for B in (A, sparse.dok_matrix(A), sparse.lil_array(A), sparse.dia_matrix(A)):
        for C in (pickle.loads(pickle.dumps(B)), copy.deepcopy(B)):
            assert type(C) is type(B) and (C != B).nnz == 0

    class Mine(sparse.csr_matrix):
        pass
    assert type(Mine(A)) is Mine


# ---------------------------------------------------------------------------
# Sparse matrices with tracked stored values

P = plain("csr", seed=5)            # 12 stored values
ROW = np.array([0, 1, 1, 3, 4, 4, 2])
COL = np.array([0, 0, 2, 3, 1, 1, 4])   # (4, 1) twice: duplicates are summed
D7 = rand((7,), seed=6)
PC = P.tocsc()
BSR = sparse.bsr_matrix(np.kron(np.eye(2), np.ones((2, 2))) + np.diag(np.ones(3), 1), blocksize=(2, 2))
DIAG = rand((N,), seed=7)


def csr(d, matrix=True):
    return (sparse.csr_matrix if matrix else sparse.csr_array)((d, P.indices, P.indptr), P.shape)


def coo(d, matrix=True):
    return (sparse.coo_matrix if matrix else sparse.coo_array)((d, (ROW, COL)), shape=(N, N))


MAKERS = {      # name: (constructor of the data, the data)
    "csr_matrix": (lambda d: csr(d), P.data),
    "csr_array": (lambda d: csr(d, False), P.data),
    "csc_matrix": (lambda d: sparse.csc_matrix((d, PC.indices, PC.indptr), PC.shape), PC.data),
    "csc_array": (lambda d: sparse.csc_array((d, PC.indices, PC.indptr), PC.shape), PC.data),
    "coo_matrix": (lambda d: coo(d), D7),
    "coo_array": (lambda d: coo(d, False), D7),
    "csr_matrix-coo-form": (lambda d: sparse.csr_matrix((d, (ROW, COL)), shape=(N, N)), D7),
    "csc_array-coo-form": (lambda d: sparse.csc_array((d, (ROW, COL)), shape=(N, N)), D7),
    "bsr_matrix": (lambda d: sparse.bsr_matrix((d, BSR.indices, BSR.indptr), shape=(4, 4)), BSR.data),
    "dia_matrix": (lambda d: sparse.dia_matrix((d, [0, 2, -1]), shape=(N, N)), rand((3, N), seed=8)),
    "diags": (lambda d: sparse.diags(d), DIAG),
    "diags-several": (lambda d: sparse.diags([d, d[1:] * 2, 3.0], [0, 1, -2], format="csr"), DIAG),
    "diags_array": (lambda d: sparse.diags_array(d[1:], offsets=-1), DIAG),
    "spdiags": (lambda d: sparse.spdiags(d, [0, 1], N, N), rand((2, N), seed=9)),
    "csr_matrix(S)": (lambda d: sparse.csc_array(coo(d)), D7),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_constructors(name):
    make, d = MAKERS[name]
    S = forward(make, d)[0]
    assert type(S) is TrackedSparse
    x = rand((S.shape[1],), seed=10)
    check(lambda d: make(d) @ x, d)
    check(lambda d: make(d).toarray(), d)
    check(make, d, value=False)               # the stored values themselves
    (g,) = gradient(lambda d: np.sum(make(d) @ x), d)
    assert g.shape == np.shape(d)             # the gradient is shaped like the data


def test_constructor_refuses_a_dense_tracked_array():
    with pytest.raises(TypeError, match=r"csr_matrix\(\(x\[i, j\], \(i, j\)\)"):
        gradient(lambda W: np.sum(sparse.csr_matrix(W) @ x5), np.ones((N, N)))


S_CASES = {
    "S@x": lambda S: S @ x5,
    "S@X": lambda S: S @ X52,
    "S.dot(x)": lambda S: S.dot(x5),
    "S.T@x": lambda S: S.T @ x5,
    "x@S": lambda S: x5 @ S,                  # a plain ndarray on the left defers to S
    "X@S": lambda S: X52.T @ S,
    "S*c": lambda S: S * c,
    "c*S": lambda S: c * S,
    "S/c": lambda S: S / c,
    "-S": lambda S: -S,
    "S*x": lambda S: S * x5,
    "S.multiply(x)": lambda S: S.multiply(x5),
    "S.multiply(column)": lambda S: S.multiply(x5[:, None]),
    "S.multiply(W)": lambda S: S.multiply(np.arange(25.0).reshape(N, N)),
    "S.multiply(B)": lambda S: S.multiply(P),
    "S.multiply(S)": lambda S: S.multiply(S.T),
    "S.power(3)": lambda S: S.power(3),
    "abs(S)": lambda S: abs(S),
    "S.sqrt()": lambda S: abs(S).sqrt(),
    "S.sin()": lambda S: S.sin(),
    "S.expm1()": lambda S: S.expm1(),
    "S**2": lambda S: S ** 2,                # the matrix power (matrix), elementwise (array)
    "S.sum()": lambda S: S.sum(),
    "S.sum(0)": lambda S: S.sum(axis=0),
    "S.sum(1)": lambda S: S.sum(axis=1),
    "S.sum(-1)": lambda S: S.sum(axis=-1),
    "S.mean(0)": lambda S: S.mean(axis=0),
    "S.mean()": lambda S: S.mean(),
    "S.diagonal()": lambda S: S.diagonal(),
    "S.diagonal(1)": lambda S: S.diagonal(1),
    "S.diagonal(-2)": lambda S: S.diagonal(-2),
    "S.trace()": lambda S: S.trace(),
    "S+B": lambda S: S + P,
    "B+S": lambda S: P + S,
    "S+S.T": lambda S: S + S.T,
    "S-B": lambda S: S - P,
    "B-S": lambda S: P - S,
    "S+W": lambda S: S + np.ones((N, N)),
    "W-S": lambda S: np.ones((N, N)) - S,
    "S@B": lambda S: S @ P,
    "B@S": lambda S: P @ S,
    "S@S.T": lambda S: S @ S.T,
    "B.T@S@B": lambda S: P.T @ S @ P,
    "S.tocsr()": lambda S: S.tocsr(),
    "S.tocsc()": lambda S: S.tocsc(),
    "S.tocoo()": lambda S: S.tocoo(),
    "S.asformat(csr)": lambda S: S.asformat("csr"),
    "S.conj()": lambda S: S.conj(),
    "S.todense()": lambda S: S.todense(),
    "S.astype": lambda S: S.astype(np.float64),
}


@pytest.mark.parametrize("matrix", [True, False], ids=["matrix", "array"])
@pytest.mark.parametrize("kind", ["csr", "coo"])
@pytest.mark.parametrize("name", list(S_CASES))
def test_tracked_values(name, kind, matrix):
    op = S_CASES[name]
    make, d = (csr, P.data) if kind == "csr" else (coo, D7)
    check(lambda d: op(make(d, matrix)), d)


def test_complex_values():
    dc = P.data * (1 - 0.7j)
    xc = x5 + 0.3j * X52[:, 0]
    check(lambda d, x: csr(d) @ x, dc, xc)
    check(lambda d, x: (csr(d, False).T @ x.T).T, dc, xc)
    check(lambda d: (csr(d).conj().T @ csr(d)).toarray(), dc)
    check(lambda d: csr(d).multiply(xc).sum(axis=0), dc)
    check(lambda x: P @ x, xc)
    check(lambda x: sparse.csr_array(P * (1 + 2j)).T @ x, xc)


def test_sum_duplicates_in_place():
    def f(d):
        S = coo(d)
        S.sum_duplicates()
        assert S.nnz == 6
        return S.sqrt().data
    check(f, np.abs(D7) + 0.5, value=False)


def test_products_of_tracked_matrices_in_both():
    """A weighted graph Laplacian B^T diag(w) B, differentiable in w and in B's values."""
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [0, 2]])
    m = len(edges)
    r, cc = np.repeat(np.arange(m), 2), edges.ravel()
    sign = np.tile([1.0, -1.0], m)

    def laplacian(w, s):
        B = sparse.csr_matrix((s, (r, cc)), shape=(m, 4))
        return (B.T @ sparse.diags(w) @ B).toarray()
    check(laplacian, rand((m,), positive=True, seed=11), sign)
    w = rand((m,), positive=True, seed=11)
    Bd = sparse.csr_matrix((sign, (r, cc)), shape=(m, 4)).toarray()
    np.testing.assert_allclose(forward(laplacian, w, sign)[0], Bd.T @ np.diag(w) @ Bd)


# ---------------------------------------------------------------------------
# Solvers

SPD = (lambda M: (M + M.T + 6 * sparse.eye(6)).tocsr())(sparse.random(6, 6, density=0.4, random_state=1))
SPD_RC = SPD.tocoo()
NONSYM = (sparse.random(6, 6, density=0.4, random_state=2) + 4 * sparse.eye(6)).tocsr()
B6, B62 = rand((6,), seed=12), rand((6, 2), seed=13)


def spd(d):
    return sparse.csr_matrix((d, SPD.indices, SPD.indptr), SPD.shape)


def nonsym(d, fmt="csr"):
    return sparse.csr_array((d, NONSYM.indices, NONSYM.indptr), NONSYM.shape).asformat(fmt)


def test_spsolve():
    check(lambda d, b: sla.spsolve(nonsym(d), b), NONSYM.data, B6)
    check(lambda d, b: sla.spsolve(nonsym(d, "csc"), b), NONSYM.data, B62)
    check(lambda d, b: sla.spsolve(nonsym(d, "coo") + sparse.eye(6), b[:, None]), NONSYM.data, B6)
    check(lambda b: sla.spsolve(NONSYM, b), B6)                 # a constant A
    check(lambda d: sla.spsolve(nonsym(d), B6), NONSYM.data)    # a constant b
    check(lambda d: sla.spsolve(nonsym(d), B6, permc_spec="NATURAL"), NONSYM.data)


def test_spsolve_complex():
    dc = NONSYM.data * (1 + 0.3j)
    check(lambda d, b: sla.spsolve(nonsym(d), b), dc, B6 + 0.5j * B62[:, 0])
    check(lambda d, b: sla.spsolve(nonsym(d), b), dc, B6)      # a real b
    check(lambda b: sla.spsolve(nonsym(dc), b), B6)


def _dense_reference(A, b, w, trans="N"):
    """The gradients of sum(w * x) with op(A) x = b, by dense linear algebra: b's is
    op(A)^-T w, and A's values' are -bbar[row] x[col] (op = N) or
    -bbar[col] x[row] (op = T), at A's stored entries."""
    Ad = A.toarray()
    Op = Ad if trans == "N" else Ad.T
    x = np.linalg.solve(Op, b)
    bbar = np.linalg.solve(Op.T, w)
    coo_ = A.tocoo()
    r, cc = (coo_.row, coo_.col) if trans == "N" else (coo_.col, coo_.row)
    return -bbar[r] * x[cc], bbar


@pytest.mark.parametrize("solve", ["spsolve", "splu", "splu-T", "factorized", "cg", "minres",
                                   "gmres", "bicgstab", "bicg", "cgs", "lgmres", "gcrotmk", "tfqmr"])
def test_adjoint_solves_match_a_dense_reference(solve):
    A = SPD if solve in ("cg", "minres") else NONSYM
    w = rand((6,), seed=14)
    make = spd if A is SPD else nonsym
    trans = "T" if solve == "splu-T" else "N"

    def f(d, b):
        M = make(d)
        if solve == "spsolve":
            return sla.spsolve(M, b)
        if solve.startswith("splu"):
            return sla.splu(M.tocsc()).solve(b, trans=trans)
        if solve == "factorized":
            return sla.factorized(M.tocsc())(b)
        x, info = getattr(sla, solve)(M, b, rtol=1e-13, atol=0.0) if solve != "minres" else \
            sla.minres(M, b, rtol=1e-14)
        assert info == 0 and type(info) is int
        return x
    gd, gb = gradient(lambda d, b: np.sum(w * f(d, b)), A.data, B6)
    rd, rb = _dense_reference(A, B6, w, trans)
    np.testing.assert_allclose(gb, rb, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(gd, rd, rtol=1e-7, atol=1e-9)
    check(f, A.data, B6, rtol=1e-4, atol=1e-6, order=2 if solve in ("spsolve", "splu", "cg") else 1)


def test_splu_solve_all_transposes():
    for trans in ("N", "T", "H"):
        check(lambda d, b: sla.splu(nonsym(d, "csc")).solve(b, trans=trans), NONSYM.data, B62)
        check(lambda d, b: sla.splu(nonsym(d, "csc")).solve(b, trans=trans), NONSYM.data * (1 - 0.5j),
              B6 + 1j)
    lu = sla.splu(NONSYM.tocsc())
    check(lambda b: lu.solve(b, trans="T"), B6)               # a factorisation made outside f
    check(lambda b: sla.factorized(NONSYM.tocsc())(b), B62)
    check(lambda b: sla.spilu(NONSYM.tocsc()).solve(b), B6)   # an incomplete factor is a linear map of b
    assert lu.L.shape == (6, 6) and lu.perm_r.shape == (6,)


def test_one_factorisation_serves_the_solve_and_its_adjoint(monkeypatch):
    calls = []
    splu = rules.ORIGINAL["splu"]
    monkeypatch.setitem(rules.ORIGINAL, "splu", lambda *a, **k: calls.append(1) or splu(*a, **k))
    gradient(lambda d, b: np.sum(sla.spsolve(nonsym(d), b) ** 2), NONSYM.data, B6)
    assert len(calls) == 1


def test_iterative_solvers_options():
    Minv = sparse.diags(1 / SPD.diagonal())
    x0 = np.ones(6)
    check(lambda d, b: sla.cg(spd(d), b, x0=x0, rtol=1e-13, M=Minv)[0], SPD.data, B6, rtol=1e-4)
    check(lambda b: sla.cg(sla.aslinearoperator(SPD), b, rtol=1e-13)[0], B6, rtol=1e-4)
    # a preconditioner without an adjoint: the adjoint system is solved unpreconditioned
    M = sla.LinearOperator((6, 6), matvec=lambda v: v / NONSYM.diagonal())
    check(lambda d, b: sla.gmres(nonsym(d), b, rtol=1e-13, atol=0.0, M=M)[0], NONSYM.data, B6,
          rtol=1e-4, order=1)
    check(lambda d, b: sla.bicgstab(nonsym(d), b, rtol=1e-13, atol=0.0, M=Minv)[0], NONSYM.data, B6,
          rtol=1e-4, order=1)
    check(lambda d: sla.minres(spd(d), B6, rtol=1e-14, shift=0.5)[0], SPD.data, rtol=1e-4, order=1)
    check(lambda x: sla.cg(SPD, B6, x0=x, rtol=1e-13)[0], x0, rtol=1e-4, order=1)  # x0: constant


def test_adjoint_that_does_not_converge_warns():
    with pytest.warns(RuntimeWarning, match="did not converge"):
        gradient(lambda b: np.sum(sla.gmres(NONSYM, b, rtol=1e-12, maxiter=1, restart=1)[0]), B6)


def test_expm_multiply():
    A = NONSYM * 0.2
    check(lambda v: sla.expm_multiply(A, v), B6)
    check(lambda v: sla.expm_multiply(A, v), B62)
    check(lambda v: sla.expm_multiply(A, v, start=0.0, stop=1.0, num=3, endpoint=True), B6)
    check(lambda v: sla.expm_multiply(A * 1j, v), B6 + 1j)
    op = sla.aslinearoperator(A)
    check(lambda v: sla.expm_multiply(op, v, traceA=A.diagonal().sum()), B6, order=1)
    with pytest.raises(TypeError, match="expm_multiply in A"):
        gradient(lambda d: np.sum(sla.expm_multiply(nonsym(d), B6)), NONSYM.data)


def _symmetric(d):
    """A symmetric matrix whose every perturbation of d is symmetric: H + H^T."""
    H = sparse.coo_matrix((d, (SPD_RC.row, SPD_RC.col)), shape=SPD.shape)
    return (H + H.T).tocsr()


def test_eigsh_eigenvalues():
    d = SPD_RC.data
    check(lambda d: np.sort(sla.eigsh(_symmetric(d), k=2, return_eigenvectors=False)), d, order=1)
    check(lambda d: sla.eigsh(_symmetric(d), k=2, which="SA")[0], d, modes="reverse", order=1)
    check(lambda d: np.sort(sla.eigsh(_symmetric(d), k=2, sigma=0.5, return_eigenvectors=False)), d,
          order=1)
    (g,) = gradient(lambda d: np.sum(sla.eigsh(_symmetric(d), k=1, return_eigenvectors=False)), d)
    lam, V = np.linalg.eigh(_symmetric(d).toarray())
    v = V[:, -1]
    np.testing.assert_allclose(g, 2 * v[SPD_RC.row] * v[SPD_RC.col], rtol=1e-7, atol=1e-9)


def test_eigsh_eigenvectors_are_refused():
    d = SPD_RC.data
    with pytest.raises(NotImplementedError, match="return_eigenvectors=False"):
        gradient(lambda d: np.sum(sla.eigsh(_symmetric(d), k=2)[1] ** 2), d)
    with pytest.raises(NotImplementedError, match="return_eigenvectors=False"):
        jvp(lambda d: sla.eigsh(_symmetric(d), k=2)[0], (d,), (d,))
    with pytest.raises(NotImplementedError, match="second derivatives"):
        zygcy.hessian(lambda d: np.sum(sla.eigsh(_symmetric(d), k=2, return_eigenvectors=False)), d)


# ---------------------------------------------------------------------------
# Graph Laplacians

EDGES_R = np.array([0, 0, 1, 2, 3, 3, 4, 2])
EDGES_C = np.array([1, 2, 2, 3, 4, 0, 4, 0])          # a self-loop (4, 4): ignored, as scipy does
WEIGHTS = rand((8,), positive=True, seed=15)


def graph(w, matrix=True):
    return (sparse.coo_matrix if matrix else sparse.csr_array)((w, (EDGES_R, EDGES_C)), shape=(6, 6))


@pytest.mark.parametrize("options", [{}, {"normed": True}, {"symmetrized": True},
                                     {"normed": True, "symmetrized": True}, {"use_out_degree": True},
                                     {"return_diag": True}, {"return_diag": True, "normed": True}])
@pytest.mark.parametrize("matrix", [True, False], ids=["matrix", "array"])
def test_laplacian(options, matrix):
    check(lambda w: csgraph.laplacian(graph(w, matrix), **options), WEIGHTS)


@pytest.mark.parametrize("options", [{}, {"normed": True}, {"symmetrized": True, "return_diag": True}])
def test_laplacian_of_a_dense_graph(options):
    W = graph(WEIGHTS).toarray()[:5, :5]        # no isolated node: every entry may move
    check(lambda W: csgraph.laplacian(W, **options), W)


def test_learning_conductivities_through_spsolve():
    """A few steps of gradient descent on the edge weights of a grid's Laplacian fit
    the potential measured at a node (the README's example, small)."""
    n = 4
    idx = np.arange(n * n).reshape(n, n)
    r = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    cc = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    ground = sparse.diags(np.r_[1.0, np.zeros(n * n - 1)])
    b = np.zeros(n * n)
    b[-1] = 1.0

    def potential(w):
        G = sparse.coo_array((np.concatenate([w, w]), (np.r_[r, cc], np.r_[cc, r])), shape=(n * n, n * n))
        return sla.spsolve(csgraph.laplacian(G) + ground, b)[-1]
    target = 0.5 * potential(np.ones(len(r)))
    theta, losses = np.zeros(len(r)), []          # log-conductivities: they stay positive
    for _ in range(20):
        loss, (g,) = zygcy.withgradient(lambda t: (potential(np.exp(t)) - target) ** 2, theta)
        losses.append(loss)
        theta = theta - 4.0 * g
    assert losses[-1] < 1e-3 * losses[0]
    check(potential, np.linspace(0.5, 1.5, len(r)))


def test_the_example_recovers_the_conductivities():
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "examples"))
    import sparse_edge_weights
    losses, error = sparse_edge_weights.fit(verbose=False)
    assert losses[-1] < 1e-4 * losses[0] and error < 0.02


# ---------------------------------------------------------------------------
# What is not covered: an error that names the function and the fix

def test_uncovered_functions_name_themselves():
    S = lambda d: csr(d)  # noqa: E731
    cases = [
        (lambda d: sla.lsqr(P, d[:5])[0], TypeError, "scipy.sparse.linalg.lsqr"),
        (lambda d: sla.norm(S(d)), TypeError, "scipy.sparse.linalg.norm"),
        (lambda d: sparse.hstack([S(d), P]) @ np.ones(10), TypeError, "scipy.sparse.hstack"),
        (lambda d: csgraph.shortest_path(S(d)), TypeError, "scipy.sparse.csgraph.shortest_path"),
        (lambda d: S(d).maximum(P), AttributeError, "csr_matrix.maximum"),
        (lambda d: np.asarray(S(d)), TypeError, "A.toarray()"),
        (lambda d: np.sin(S(d)), TypeError, "A.toarray()"),
        (lambda d: S(d)[0, 1], TypeError, "indexing"),
        (lambda d: S(d).eliminate_zeros(), TypeError, "eliminate_zeros"),
        (lambda d: S(d).asformat("dia"), TypeError, "the dia format"),
        (lambda d: S(d) / np.ones(5), TypeError, "A.multiply"),
        (lambda d: sla.spilu(S(d).tocsc()).solve(np.ones(5)), TypeError, "spilu"),
        (lambda d: sla.spsolve(np.diag(d[:5]), np.ones(5)), TypeError, "numpy.linalg.solve"),
        (lambda d: sla.cg(np.diag(d[:5]), np.ones(5)), TypeError, "numpy.linalg.solve"),
        (lambda d: sla.eigsh(np.diag(d[:5]), k=1), TypeError, "numpy.linalg.eigh"),
        (lambda d: csgraph.laplacian(S(d), form="lo"), TypeError, "form='array'"),
        (lambda d: sla.spsolve(S(d), sparse.eye(5)), TypeError, "b.toarray()"),
        (lambda d: S(d).toarray(out=np.zeros((5, 5))), TypeError, "returned array"),
    ]
    for f, error, text in cases:
        with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
            forward(f, P.data)


def test_docstring_examples():
    import doctest
    result = doctest.testmod(rules, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_imported_before_zygcy():
    code = ("import numpy as np, scipy.sparse as sp, scipy.sparse.linalg as sla\n"
            "import zygcy\n"
            "A = sp.random(5, 5, density=0.5, format='csr', random_state=0) + 3 * sp.eye(5)\n"
            "f = lambda d: np.sum(sla.spsolve(sp.csr_matrix((d, A.indices, A.indptr), A.shape), "
            "np.ones(5)))\n"
            "g, = zygcy.gradient(f, A.data)\n"
            "x = sla.spsolve(A, np.ones(5)); y = sla.spsolve(A.T, np.ones(5))\n"
            "Ac = A.tocoo()\n"
            "print(np.allclose(g, -y[Ac.row] * x[Ac.col]), "
            "np.allclose(zygcy.gradient(lambda x: np.sum(A @ x), np.ones(5))[0], A.T @ np.ones(5)))\n")
    out = fresh_python(code)
    assert out.stdout.split() == ["True", "True"], out.stderr
