"""scipy.linalg on tracked values (zygcy.rules.scipy_linalg).

Each function's value on tracked input equals scipy's on plain input, and its
derivative in every array argument agrees with central differences to second
order, in reverse and forward mode. Matrices that scipy reads only in part (a
triangle, the diagonal) are given entries outside that part on purpose: the
derivative must ignore them as scipy does. Eigenvector losses are
sign/phase-invariant, as the vectors are only defined up to one.
"""

import numpy as np
import pytest

import zygcy
from zygcy import forward, gradient
from zygcy.testing import gradcheck

from _grid import fresh_python

sl = pytest.importorskip("scipy.linalg")

rng = np.random.default_rng(0)
A = rng.standard_normal((3, 3)) + 3 * np.eye(3)
S = A @ A.T
S_ASYM = S + 0.1 * np.triu(A, 1)            # symmetric but for its upper triangle
B = rng.standard_normal((3, 2))
b = rng.standard_normal(3)
AC = A + 1j * rng.standard_normal((3, 3))
SC = AC @ AC.conj().T + 0.1j * np.triu(np.ones((3, 3)), 1)
BC = B + 1j * rng.standard_normal((3, 2))


def outputs(r):
    """The float outputs of a result (a tuple's booleans and pivots left out)."""
    items = r if isinstance(r, (tuple, list)) else (r,)
    return [x for x in items if not isinstance(x, (bool, np.bool_)) and
            np.asarray(zygcy.value(x)).dtype.kind in "fc"]


CASES = []


def case(name, f, *args, order=2, values=True):
    CASES.append(pytest.param(f, args, order, values, id=name))


for assume_a in (None, "gen", "sym", "her", "pos", "diagonal", "tridiagonal", "upper triangular",
                 "lower triangular", "banded"):
    for lower in (False, True):
        m = S_ASYM if assume_a in ("pos", "sym", "her") else A
        case("solve-%s-lower=%s" % (assume_a, lower),
             lambda a, b, aa=assume_a, lo=lower: sl.solve(a, b, assume_a=aa, lower=lo), m, B)
case("solve-vector", lambda a, b: sl.solve(a, b), A, b)
case("solve-transposed", lambda a, b: sl.solve(a, b, transposed=True), A, B)
case("solve-batch-vector", lambda a, b: sl.solve(a, b), np.stack([A, A.T]), b)
case("solve-her-complex", lambda a, b: sl.solve(a, b, assume_a="her"), SC, BC)
case("solve-pos-complex", lambda a, b: sl.solve(a, b, assume_a="pos", lower=True), SC, BC)
for assume_a in (None, "pos", "sym", "upper triangular", "lower triangular", "diagonal"):
    case("inv-%s" % assume_a, lambda a, aa=assume_a: sl.inv(a, assume_a=aa), S_ASYM if assume_a in ("pos", "sym") else A)
case("inv-batch", lambda a: sl.inv(a), np.stack([A, S]))
case("det", lambda a: sl.det(a), A)
case("det-batch-complex", lambda a: sl.det(a), np.stack([AC, AC.T]))
for lower in (False, True):
    case("cholesky-lower=%s" % lower, lambda a, lo=lower: sl.cholesky(a, lower=lo), S_ASYM)
    case("cho_factor-lower=%s" % lower, lambda a, lo=lower: sl.cho_factor(a, lower=lo), S_ASYM)
    case("cho_solve-lower=%s" % lower, lambda a, b, lo=lower: sl.cho_solve(sl.cho_factor(a, lower=lo), b), S_ASYM, B)
    case("cho_solve-vector-lower=%s" % lower,
         lambda c, b, lo=lower: sl.cho_solve((c, lo), b), sl.cho_factor(S, lower=lower)[0], b)
case("cholesky-complex", lambda a: sl.cholesky(a), SC)
case("cholesky-batch", lambda a: sl.cholesky(a), np.stack([S, S @ S]))
case("lu_factor", lambda a: sl.lu_factor(a), A)
case("lu_factor-complex", lambda a: sl.lu_factor(a), AC)
case("lu_factor-pivoting", lambda a: sl.lu_factor(a), A[::-1])
for trans in (0, 1, 2):
    case("lu_solve-trans=%d" % trans, lambda a, b, t=trans: sl.lu_solve(sl.lu_factor(a), b, trans=t), A[[2, 0, 1]], B)
    case("lu_solve-vector-trans=%d" % trans, lambda a, b, t=trans: sl.lu_solve(sl.lu_factor(a), b, trans=t), A, b)
case("lu_solve-complex", lambda a, b: sl.lu_solve(sl.lu_factor(a), b, trans=2), AC, BC)
case("lu_solve-b-only", lambda b: sl.lu_solve(sl.lu_factor(A), b), B)
for trans in (0, 1, 2, "T"):
    for lower in (False, True):
        for unit in (False, True):
            case("solve_triangular-%s-%s-%s" % (trans, lower, unit),
                 lambda a, b, t=trans, lo=lower, u=unit: sl.solve_triangular(a, b, trans=t, lower=lo, unit_diagonal=u),
                 A, B)
    case("solve_triangular-complex-%s" % trans, lambda a, b, t=trans: sl.solve_triangular(a, b, trans=t), AC, BC)
    case("solve_triangular-real-a-%s" % trans, lambda a, b, t=trans: sl.solve_triangular(a, b, trans=t), A, BC)
case("solve_triangular-vector", lambda a, b: sl.solve_triangular(a, b, lower=True), A, b)
case("solve_triangular-batch", lambda a, b: sl.solve_triangular(a, b), np.stack([A, A.T]), B)
case("expm", lambda a: sl.expm(a), 0.3 * A)
case("expm-complex", lambda a: sl.expm(a), 0.3 * AC)
case("expm-batch", lambda a: sl.expm(a), 0.1 * np.stack([A, S]))
case("logm", lambda a: sl.logm(a), S)
case("logm-complex", lambda a: sl.logm(a), AC @ AC.conj().T)
case("sqrtm", lambda a: sl.sqrtm(a), S)
case("sqrtm-complex", lambda a: sl.sqrtm(a), AC @ AC.conj().T)
case("sqrtm-negative-eigenvalues", lambda a: sl.sqrtm(a), -S)            # a complex result
case("solve_sylvester", lambda a, b, q: sl.solve_sylvester(a, b, q), A, S, B @ B.T)
case("solve_sylvester-rectangular", lambda a, b, q: sl.solve_sylvester(a, b, q), A, S[:2, :2] + np.eye(2), B)
case("solve_sylvester-complex", lambda a, b, q: sl.solve_sylvester(a, b, q), AC, SC, BC @ BC.T)
case("solve_sylvester-batch", lambda a, b, q: sl.solve_sylvester(a, b, q), np.stack([A, A.T]), S, S)
case("solve_continuous_lyapunov", lambda a, q: sl.solve_continuous_lyapunov(a, q), A, S)
case("solve_continuous_lyapunov-complex", lambda a, q: sl.solve_continuous_lyapunov(a, q), AC, SC)
case("block_diag", lambda a, b, c: sl.block_diag(a, b, c), A, B, 2.0)
case("block_diag-vector", lambda a, b: sl.block_diag(a, b), b, BC)
case("block_diag-one", lambda a: sl.block_diag(a), B)
for l, u in [(2, 1), (1, 2), (0, 3), (1, 1), (0, 0)]:
    ab = rng.standard_normal((l + u + 1, 6))
    ab[u] += 4
    case("solve_banded-%d-%d" % (l, u), lambda ab, b, lu=(l, u): sl.solve_banded(lu, ab, b), ab, rng.standard_normal((6, 2)))
    case("solve_banded-vector-%d-%d" % (l, u), lambda ab, b, lu=(l, u): sl.solve_banded(lu, ab, b), ab, rng.standard_normal(6))
case("solve_banded-complex", lambda ab, b: sl.solve_banded((1, 2), ab, b),
     rng.standard_normal((4, 5)) + 1j + np.array([[0], [0], [5], [0]]), rng.standard_normal(5) + 0j)
case("eigh", lambda a: [sl.eigh(a)[0], np.abs(sl.eigh(a)[1]) ** 2], S_ASYM)
case("eigh-upper", lambda a: sl.eigh(a, lower=False, eigvals_only=True), S_ASYM)
case("eigh-complex", lambda a: [sl.eigh(a)[0], np.abs(sl.eigh(a)[1]) ** 2], SC)
case("eigh-subset_by_index", lambda a: sl.eigh(a, subset_by_index=[1, 2]), S)
case("eigh-subset_by_value", lambda a: sl.eigh(a, subset_by_value=[1.0, np.inf], eigvals_only=True), S)
for t in (1, 2, 3):
    case("eigh-generalized-type=%d" % t, lambda a, bm, t=t: sl.eigh(a, bm, type=t), S_ASYM, S @ S + np.eye(3))
case("eigh-generalized-complex", lambda a, bm: [sl.eigh(a, bm)[0], np.abs(sl.eigh(a, bm)[1]) ** 2], SC,
     S + np.eye(3))


@pytest.mark.parametrize("f, args, order, values", CASES)
def test_rule(f, args, order, values):
    got, _ = forward(f, *args)
    want = f(*args)
    for g, w in zip(outputs(got), outputs(want)):
        assert np.shape(zygcy.value(g)) == np.shape(w)
        np.testing.assert_allclose(zygcy.value(g), w, rtol=1e-9, atol=1e-12)
    gradcheck(lambda *a: outputs(f(*a)), *args, order=order, directions=2, rtol=1e-5)


# -- closed forms and properties

def test_expm_of_a_diagonal_matrix():
    d = np.array([0.3, -0.2, 1.1])
    (g,) = gradient(lambda d: np.sum(sl.expm(np.diag(d))), d)
    np.testing.assert_allclose(g, np.exp(d), rtol=1e-12)


def test_logdet_through_cholesky_is_the_inverse():
    (g,) = gradient(lambda a: 2 * np.sum(np.log(np.diag(sl.cholesky(a, lower=True)))), S)
    # scipy reads the lower triangle: the gradient of log det lives there (twice off the diagonal)
    inv = np.linalg.inv(S)
    np.testing.assert_allclose(g, np.tril(2 * inv - np.diag(np.diag(inv))), rtol=1e-10, atol=1e-14)


def test_entries_scipy_does_not_read_have_no_gradient():
    (g,) = gradient(lambda a: np.sum(sl.solve_triangular(a, B, lower=True)), A)
    assert np.all(np.triu(g, 1) == 0)
    (g,) = gradient(lambda a: np.sum(sl.solve(a, B, assume_a="pos")), S_ASYM)
    assert np.all(np.tril(g, -1) == 0)
    (g,) = gradient(lambda ab: np.sum(sl.solve_banded((1, 1), ab, b)), np.ones((3, 3)) + 3 * np.eye(3)[[1, 0, 2]])
    assert g[0, 0] == 0 and g[2, 2] == 0          # the corners of the band storage are unused


def test_hessian_through_expm():
    f = lambda x: np.sum(sl.expm(np.array([[0.0, 1.0], [-1.0, 0.0]]) * x[0] + np.eye(2) * x[1]) ** 2)
    H = zygcy.hessian(f, np.array([0.7, 0.2]))
    np.testing.assert_allclose(H, zygcy.hessian_reverse(f, np.array([0.7, 0.2])), rtol=1e-9, atol=1e-12)
    gradcheck(f, np.array([0.7, 0.2]), order=2)


def test_eigenvectors_have_scipys_signs():
    """Eigenvectors are defined up to a sign, which LAPACK picks (not smoothly: no
    derivative there); the tracked ones get the sign scipy gives the plain ones."""
    for m in (S_ASYM, SC):
        (w, v), _ = forward(lambda a: sl.eigh(a), m)
        np.testing.assert_allclose(v, sl.eigh(m)[1], rtol=1e-9, atol=1e-12)


def test_plain_calls_are_scipys_own():
    assert sl.solve(A, B).tolist() == sl.solve.__wrapped__(A, B).tolist()
    assert sl.expm.__name__ == "expm" and sl.expm.fun(A).tolist() == sl.expm(A).tolist()


def test_lu_factor_of_a_rectangular_tracked_matrix_says_so():
    with pytest.raises(NotImplementedError, match="square"):
        gradient(lambda a: np.sum(sl.lu_factor(a)[0]), np.ones((3, 2)) + np.eye(3, 2))


def test_uncovered_function_error_names_it():
    with pytest.raises(TypeError, match=r"scipy\.linalg\.schur converted a tracked value"):
        gradient(lambda a: np.sum(sl.schur(a)[0]), A)


def test_params_through_scipy_linalg():
    W = zygcy.param(S.copy())
    g = gradient(lambda: np.sum(sl.solve(W, b, assume_a="pos")) + np.sum(sl.expm(0.1 * W)), zygcy.Params([W]))
    (want,) = gradient(lambda w: np.sum(sl.solve(w, b, assume_a="pos")) + np.sum(sl.expm(0.1 * w)), S)
    np.testing.assert_allclose(g[W], want, rtol=1e-12)


def test_a_name_imported_before_zygcy_says_so():
    """``from scipy.linalg import expm`` above ``import zygcy`` binds scipy's original: it
    warns at import, and the error names the function and the fix."""
    code = ("import warnings\nfrom scipy.linalg import expm\nwarnings.simplefilter('ignore')\n"
            "import zygcy, numpy as np\n"
            "try:\n    zygcy.gradient(lambda a: np.sum(expm(a)), np.eye(2))\n"
            "except TypeError as e:\n    print(e)")
    out = fresh_python(code)
    assert "scipy.linalg.expm converted a tracked value" in out.stdout, out.stdout + out.stderr
    assert "zygcy has a rule for scipy.linalg.expm" in out.stdout and "import zygcy first" in out.stdout


def test_registered_when_scipy_linalg_is_imported_after_zygcy():
    code = ("import zygcy, numpy as np\nfrom scipy.linalg import expm, solve\n"
            "g = zygcy.gradient(lambda a: np.sum(expm(a)) + np.sum(solve(a, np.ones(2))), np.eye(2))[0]\n"
            "assert np.all(np.isfinite(g))\nprint('ok')")
    out = fresh_python(code)
    assert out.stdout.strip() == "ok", out.stderr
