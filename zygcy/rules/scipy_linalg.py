"""Rules for scipy.linalg, when scipy is installed.

scipy.linalg's functions convert their inputs with ``np.asarray``, which a
tracked value refuses. When scipy.linalg is imported, its functions below are
replaced in the ``scipy.linalg`` namespace (see ``zygcy.interop``); on plain
inputs each replacement is scipy's function itself.

Written with numpy on tracked values (numpy.linalg's rules do the rest):

* ``solve``, ``inv`` (with ``assume_a``: the structure scipy assumes is the
  matrix it reads -- a triangle mirrored for ``sym``/``her``/``pos``, one
  triangle for ``upper/lower triangular``, the diagonal, the three
  diagonals -- so the derivative is that of what scipy computes), ``det``,
  ``cholesky``, ``cho_factor`` (the other triangle holds ``a``'s entries, as
  scipy's does), ``cho_solve``, ``lu_solve``, ``eigh`` (standard and
  generalized, every ``type``, ``eigvals_only``, ``subset_by_index``,
  ``subset_by_value``; eigenvectors get the sign scipy gives them),
  ``solve_continuous_lyapunov`` (a Sylvester equation), ``block_diag``.

Primitives with their own rules (pullbacks written with these same
primitives, so they are differentiable again):

* ``solve_triangular``: ``dx = -op(T)^-1 op(dT) x``, on the triangle read;
* ``expm`` and ``logm``: the adjoint of the Frechet derivative of ``f`` at
  ``A`` is the Frechet derivative at ``A^H``, read off the upper-right block
  of ``f([[A^H, G], [0, A^H]])``;
* ``sqrtm``: ``X dX + dX X = dA``, a Sylvester equation;
* ``solve_sylvester``: ``A X + X B = Q``, differentiated as such;
* ``solve_banded``: the transposed banded system, and the cotangent of the
  band storage directly (memory O(n (l + u)));
* ``lu_factor``: ``P A = L U``, ``dL = L tril(F, -1)``, ``dU = triu(F) U`` with
  ``F = L^-1 P dA U^-1`` (square matrices).
"""
import numpy as np

from ..extend import defjvp, defvjp, value
from ..interop import replace_with_primitive, when_imported, wrap
from ._util import H, conj, is_complex, real_if_complex, unbroadcast

sl = None       # scipy.linalg, once it is imported and its rules are registered
solve_triangular = expm = logm = sqrtm = solve_sylvester = solve_banded = lu_factor = None

COVERED = ("solve", "solve_triangular", "cholesky", "cho_factor", "cho_solve", "lu_factor", "lu_solve",
           "inv", "det", "eigh", "expm", "sqrtm", "logm", "solve_sylvester", "solve_continuous_lyapunov",
           "solve_banded", "block_diag")


# ---------------------------------------------------------------------------
# The matrix scipy reads

def _mirror(a, lower, conjugate):
    """The symmetric (Hermitian, with ``conjugate``) matrix made of the triangle of a
    that LAPACK reads; a Hermitian matrix's diagonal is taken real, as LAPACK does."""
    tri = np.tril(a, -1) if lower else np.triu(a, 1)
    other = H(tri) if conjugate else np.swapaxes(tri, -1, -2)
    d = np.diagonal(a, 0, -2, -1)
    if conjugate:
        d = real_if_complex(d)
    return tri + other + np.expand_dims(d, -1) * np.eye(np.shape(value(a))[-1])


def _read(a, assume_a, lower, where):
    """The matrix scipy's solver for ``assume_a`` reads from a."""
    n = np.shape(value(a))[-1]
    kind = {None: "gen", "gen": "gen", "general": "gen", "banded": "gen", "diagonal": "diag",
            "tridiagonal": "tri", "upper triangular": "upper", "lower triangular": "lower",
            "sym": "sym", "symmetric": "sym", "her": "her", "hermitian": "her",
            "pos": "pos", "positive definite": "pos"}.get(assume_a)
    if kind is None:
        raise ValueError("%s: unknown assume_a=%r" % (where, assume_a))
    if kind == "gen":
        return a
    if kind == "diag":
        return a * np.eye(n)
    if kind == "tri":
        return np.triu(np.tril(a, 1), -1)
    if kind == "upper":
        return np.triu(a)
    if kind == "lower":
        return np.tril(a)
    return _mirror(a, lower, conjugate=kind == "her" or (kind == "pos" and is_complex(a)))


def _solve(A, b):
    """np.linalg.solve, with scipy's convention for a 1-d b (a vector, also for a
    stack of matrices)."""
    if np.ndim(value(b)) == 1:
        return np.linalg.solve(A, np.expand_dims(b, -1))[..., 0]
    return np.linalg.solve(A, b)


# ---------------------------------------------------------------------------
# Written with numpy

def _solve_tracked(a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
                   assume_a=None, transposed=False):
    A = _read(a, assume_a, lower, "scipy.linalg.solve")
    if transposed:
        if is_complex(a):
            raise NotImplementedError("scipy.linalg.solve: transposed=True is not implemented for "
                                      "complex a (as in scipy)")
        A = np.swapaxes(A, -1, -2)
    return _solve(A, b)


def _inv_tracked(a, overwrite_a=False, check_finite=True, *, assume_a=None, lower=False):
    out = np.linalg.inv(_read(a, assume_a, lower, "scipy.linalg.inv"))
    if assume_a == "diagonal" and _INV_DIAGONAL_KEEPS_A:
        out = out + a * (1 - np.eye(np.shape(value(a))[-1]))
    return out


_INV_DIAGONAL_KEEPS_A = False    # scipy 1.17's inv(a, assume_a="diagonal") leaves a's
                                 # off-diagonal entries in its result; probed at registration


def _det_tracked(a, overwrite_a=False, check_finite=True):
    return np.linalg.det(a)


def _cholesky_tracked(a, lower=False, overwrite_a=False, check_finite=True):
    L = np.linalg.cholesky(_mirror(a, lower, conjugate=True))
    return L if lower else H(L)


def _cho_factor_tracked(a, lower=False, overwrite_a=False, check_finite=True):
    c = _cholesky_tracked(a, lower)
    rest = np.triu(a, 1) if lower else np.tril(a, -1)     # scipy leaves a's entries there
    return c + rest, lower


def _cho_solve_tracked(c_and_lower, b, overwrite_b=False, check_finite=True):
    c, lower = c_and_lower
    y = solve_triangular(c, b, trans=0 if lower else 2, lower=lower)     # L y = b, or U^H y = b
    return solve_triangular(c, y, trans=2 if lower else 0, lower=lower)  # L^H x = y, or U x = y


def _permutation(piv):
    """LAPACK's pivots (row i was swapped with row piv[i]) as p with P A = A[p]."""
    p = np.arange(len(piv))
    for i, j in enumerate(np.asarray(value(piv))):
        p[i], p[j] = p[j], p[i]
    return p


def _lu_solve_tracked(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    lu, piv = lu_and_piv
    p = _permutation(piv)
    trans = {"N": 0, "T": 1, "C": 2}.get(trans, trans)
    if trans == 0:                                       # L U x = P b
        y = solve_triangular(lu, b[p], lower=True, unit_diagonal=True)
        return solve_triangular(lu, y)
    y = solve_triangular(lu, b, trans=trans)             # A^T = U^T L^T P: U^T y = b, L^T z = y
    z = solve_triangular(lu, y, trans=trans, lower=True, unit_diagonal=True)
    return z[np.argsort(p)]                              # x = P^T z


def _eigh_tracked(a, b=None, *, lower=True, eigvals_only=False, overwrite_a=False, overwrite_b=False,
                  type=1, check_finite=True, subset_by_index=None, subset_by_value=None, driver=None):
    if np.ndim(value(a)) != 2:
        raise ValueError("scipy.linalg.eigh: a must be a square matrix")
    A = _mirror(a, lower, conjugate=True)
    if b is None:
        w, v = np.linalg.eigh(A)
    else:
        L = np.linalg.cholesky(_mirror(b, lower, conjugate=True))
        if type == 1:                                    # C = L^-1 A L^-H
            C = solve_triangular(L, H(solve_triangular(L, A, lower=True)), lower=True)
        elif type in (2, 3):                             # C = L^H A L
            C = H(L) @ A @ L
        else:
            raise ValueError("scipy.linalg.eigh: type must be 1, 2 or 3, got %r" % (type,))
        w, u = np.linalg.eigh(C)
        v = L @ u if type == 3 else solve_triangular(L, u, trans=2, lower=True)
    keep = None
    if subset_by_index is not None:
        lo, hi = subset_by_index
        keep = np.arange(int(lo), int(hi) + 1)
    elif subset_by_value is not None:
        lo, hi = subset_by_value
        keep = np.nonzero((value(w) > lo) & (value(w) <= hi))[0]
    if keep is not None:
        w, v = w[keep], v[:, keep]
    if eigvals_only:
        return w
    # eigenvectors have a free sign (phase): take scipy's, a constant
    vs = sl.eigh.__wrapped__(value(a), None if b is None else value(b), lower=lower, type=type,
                             subset_by_index=subset_by_index, subset_by_value=subset_by_value,
                             driver=driver)[1]
    overlap = np.sum(np.conj(value(v)) * vs, axis=0)
    phase = np.where(np.abs(overlap) > 0, overlap / np.where(overlap == 0, 1, np.abs(overlap)), 1)
    return w, v * (phase if is_complex(v) or is_complex(vs) else np.real(phase))


def _lyapunov_tracked(a, q):
    return solve_sylvester(a, H(a), q)       # A X + X A^H = Q


def _block_diag_tracked(*arrs):
    if not arrs:
        return sl.block_diag.__wrapped__()
    blocks = []
    for a in arrs:
        nd = np.ndim(value(a))
        if nd > 2:
            raise ValueError("scipy.linalg.block_diag: arguments in the following positions have "
                             "dimension greater than 2: %d-dimensional" % nd)
        blocks.append(np.reshape(a, (1, 1)) if nd == 0 else (np.reshape(a, (1, -1)) if nd == 1 else a))
    shapes = [np.shape(value(b)) for b in blocks]
    dtype = np.result_type(*[value(b) for b in blocks])
    ncols = sum(s[1] for s in shapes)
    rows, col = [], 0
    for blk, (r, c) in zip(blocks, shapes):
        rows.append(np.concatenate([np.zeros((r, col), dtype), blk, np.zeros((r, ncols - col - c), dtype)],
                                   axis=1))
        col += c
    return np.concatenate(rows, axis=0).astype(dtype)


# ---------------------------------------------------------------------------
# solve_triangular

def _triangle(a, lower, unit_diagonal):
    """The triangular matrix solve_triangular reads from a."""
    T = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        n = np.shape(value(a))[-1]
        T = T * (1 - np.eye(n)) + np.eye(n)
    return T


def _trans(trans):
    return {"N": 0, "T": 1, "C": 2}.get(trans, trans)


def _op(M, trans):
    return M if trans == 0 else (np.swapaxes(M, -1, -2) if trans == 1 else H(M))


def _as_matrix(x, vector):
    return np.expand_dims(x, -1) if vector else x


def _adjoint_solve(a, g, trans, lower, unit_diagonal):
    """op(T)^-H g, by solve_triangular itself."""
    trans = _trans(trans)
    if trans == 0:
        return solve_triangular(a, g, trans=2, lower=lower, unit_diagonal=unit_diagonal)
    if trans == 2:
        return solve_triangular(a, g, trans=0, lower=lower, unit_diagonal=unit_diagonal)
    return conj(solve_triangular(a, conj(g), trans=0, lower=lower, unit_diagonal=unit_diagonal))


def solve_triangular_a_maker(ans, a, b, trans=0, lower=False, unit_diagonal=False, *rest, **kwargs):
    vector = np.ndim(value(b)) == 1
    n = np.shape(value(a))[-1]

    def solve_triangular_a_pullback(g):
        gb = _adjoint_solve(a, g, trans, lower, unit_diagonal)
        G = -_as_matrix(gb, vector) @ H(_as_matrix(ans, vector))     # the cotangent of op(T)
        G = _op(G, _trans(trans))
        G = np.tril(G) if lower else np.triu(G)
        if unit_diagonal:
            G = G * (1 - np.eye(n))
        return unbroadcast(a, real_if_complex(G) if not is_complex(a) else G)
    return solve_triangular_a_pullback


def solve_triangular_b_maker(ans, a, b, trans=0, lower=False, unit_diagonal=False, *rest, **kwargs):
    def solve_triangular_b_pullback(g):
        gb = _adjoint_solve(a, g, trans, lower, unit_diagonal)
        return unbroadcast(b, real_if_complex(gb) if not is_complex(b) else gb)
    return solve_triangular_b_pullback


def solve_triangular_a_jvp(t, ans, a, b, trans=0, lower=False, unit_diagonal=False, *rest, **kwargs):
    vector = np.ndim(value(b)) == 1
    dT = np.tril(t) if lower else np.triu(t)
    if unit_diagonal:
        dT = dT * (1 - np.eye(np.shape(value(a))[-1]))
    r = _op(dT, _trans(trans)) @ _as_matrix(ans, vector)
    d = -solve_triangular(a, r, trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    return d[..., 0] if vector else d


def solve_triangular_b_jvp(t, ans, a, b, trans=0, lower=False, unit_diagonal=False, *rest, **kwargs):
    return solve_triangular(a, t, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


# ---------------------------------------------------------------------------
# Matrix functions: expm, logm (by the block formula), sqrtm (by Sylvester)

def _frechet(f, A, E):
    """The Frechet derivative of the matrix function f at A in the direction E: the
    upper-right block of f([[A, E], [0, A]])."""
    n = np.shape(value(A))[-1]
    zero = np.zeros_like(value(A) + 0 * value(E))
    top = np.concatenate([A, E], axis=-1)
    bottom = np.concatenate([zero, A], axis=-1)
    return f(np.concatenate([top, bottom], axis=-2))[..., :n, n:]


def _matrix_function_rule(name, f):
    def matrix_function_maker(ans, A, *args, **kwargs):
        def matrix_function_pullback(g):
            ct = _frechet(f, H(A), g)
            return ct if is_complex(A) else real_if_complex(ct)
        return matrix_function_pullback

    def matrix_function_jvp(t, ans, A, *args, **kwargs):
        return _frechet(f, A, t)
    matrix_function_maker.__name__ = name + "_maker"
    matrix_function_jvp.__name__ = name + "_jvp"
    return matrix_function_maker, matrix_function_jvp


def sqrtm_maker(ans, A, *args, **kwargs):
    def sqrtm_pullback(g):
        Xh = H(ans)
        ct = solve_sylvester(Xh, Xh, g)         # the adjoint of dA -> dX: X dX + dX X = dA
        return ct if is_complex(A) else real_if_complex(ct)
    return sqrtm_pullback


def sqrtm_jvp(t, ans, A, *args, **kwargs):
    return solve_sylvester(ans, ans, t)


# ---------------------------------------------------------------------------
# solve_sylvester: A X + X B = Q

def _sylvester_adjoint(ans, a, b, g):
    return solve_sylvester(H(a), H(b), g)


def _real_for(x, ct):
    """The cotangent of x: summed over the axes broadcasting added, real for a real x."""
    ct = unbroadcast(x, ct)
    return ct if is_complex(x) else real_if_complex(ct)


def sylvester_a_maker(ans, a, b, q):
    def solve_sylvester_a_pullback(g):
        return _real_for(a, -_sylvester_adjoint(ans, a, b, g) @ H(ans))
    return solve_sylvester_a_pullback


def sylvester_b_maker(ans, a, b, q):
    def solve_sylvester_b_pullback(g):
        return _real_for(b, -H(ans) @ _sylvester_adjoint(ans, a, b, g))
    return solve_sylvester_b_pullback


def sylvester_q_maker(ans, a, b, q):
    def solve_sylvester_q_pullback(g):
        return _real_for(q, _sylvester_adjoint(ans, a, b, g))
    return solve_sylvester_q_pullback


def sylvester_a_jvp(t, ans, a, b, q):
    return solve_sylvester(a, b, -(t @ ans))


def sylvester_b_jvp(t, ans, a, b, q):
    return solve_sylvester(a, b, -(ans @ t))


def sylvester_q_jvp(t, ans, a, b, q):
    return solve_sylvester(a, b, t)


# ---------------------------------------------------------------------------
# solve_banded: the band storage ab[u + i - j, j] = A[i, j]

def _shift(v, d):
    """w[i] = v[i + d] along the first axis, zero where i + d is outside."""
    m = np.shape(value(v))[0]
    if d == 0:
        return v
    if abs(d) >= m:
        return v * 0
    zeros = np.zeros((abs(d),) + np.shape(value(v))[1:], dtype=np.result_type(value(v)))
    return np.concatenate([v[d:], zeros]) if d > 0 else np.concatenate([zeros, v[:d]])


def _band_transpose(l, u, ab):
    """The band storage of A^T (with l and u swapped): row l + d of it is row u - d of ab,
    shifted by d."""
    return np.stack([_shift(ab[l + u - r], r - l) for r in range(l + u + 1)])


def banded_ab_maker(ans, l_and_u, ab, b, *args, **kwargs):
    l, u = (int(v) for v in l_and_u)

    def solve_banded_ab_pullback(g):
        gb = solve_banded((u, l), conj(_band_transpose(l, u, ab)), g)
        x2, g2 = (ans, gb) if np.ndim(value(ans)) == 2 else (ans[:, None], gb[:, None])
        rows = [-np.sum(_shift(g2, r - u) * conj(x2), axis=1) for r in range(l + u + 1)]
        return _real_for(ab, np.stack(rows))
    return solve_banded_ab_pullback


def banded_b_maker(ans, l_and_u, ab, b, *args, **kwargs):
    l, u = (int(v) for v in l_and_u)

    def solve_banded_b_pullback(g):
        return _real_for(b, solve_banded((u, l), conj(_band_transpose(l, u, ab)), g))
    return solve_banded_b_pullback


def banded_ab_jvp(t, ans, l_and_u, ab, b, *args, **kwargs):
    l, u = (int(v) for v in l_and_u)
    x2 = ans if np.ndim(value(ans)) == 2 else ans[:, None]
    dAx = sum(_shift(t[r][:, None] * x2, -(r - u)) for r in range(l + u + 1))   # (dA x)[i]
    d = -solve_banded((l, u), ab, dAx)
    return d if np.ndim(value(ans)) == 2 else d[:, 0]


def banded_b_jvp(t, ans, l_and_u, ab, b, *args, **kwargs):
    return solve_banded(l_and_u, ab, t)


# ---------------------------------------------------------------------------
# lu_factor: P A = L U, returned as (lu, piv)

def _lu_parts(lu):
    n = np.shape(value(lu))[-1]
    return np.tril(lu, -1) + np.eye(n), np.triu(lu)


def _check_square(a):
    s = np.shape(value(a))
    if len(s) != 2 or s[0] != s[1]:
        raise NotImplementedError("scipy.linalg.lu_factor: zygcy differentiates it for square "
                                  "matrices only, got shape %s" % (s,))


def lu_factor_maker(ans, a, *args, **kwargs):
    lu, piv = ans
    _check_square(a)
    p = _permutation(piv)

    def lu_factor_pullback(g):
        g = g[0] if isinstance(g, (tuple, list)) else g
        if g is None:
            return None
        L, U = _lu_parts(lu)
        GF = np.tril(H(L) @ np.tril(g, -1), -1) + np.triu(np.triu(g) @ H(U))
        X = solve_triangular(lu, GF, trans=2, lower=True, unit_diagonal=True)      # L^-H GF
        X = H(solve_triangular(lu, H(X), lower=False))                             # ... U^-H
        return _real_for(a, X[np.argsort(p)])                                      # P^T ...
    return lu_factor_pullback


def lu_factor_jvp(t, ans, a, *args, **kwargs):
    _check_square(a)
    lu, piv = ans
    L, U = _lu_parts(lu)
    p = _permutation(piv)
    F = solve_triangular(lu, t[p], lower=True, unit_diagonal=True)                 # L^-1 P dA
    F = np.swapaxes(solve_triangular(lu, np.swapaxes(F, -1, -2), trans=1), -1, -2)  # ... U^-1
    return L @ np.tril(F, -1) + np.triu(F) @ U, None


# ---------------------------------------------------------------------------
# Registration

WRAPPED = {"solve": _solve_tracked, "inv": _inv_tracked, "det": _det_tracked, "cholesky": _cholesky_tracked,
           "cho_factor": _cho_factor_tracked, "cho_solve": _cho_solve_tracked, "lu_solve": _lu_solve_tracked,
           "eigh": _eigh_tracked, "solve_continuous_lyapunov": _lyapunov_tracked,
           "block_diag": _block_diag_tracked}


def _register(module):
    global sl, solve_triangular, expm, logm, sqrtm, solve_sylvester, solve_banded, lu_factor
    if sl is not None:
        return
    sl = module
    solve_triangular = replace_with_primitive(sl, "solve_triangular")
    defvjp(solve_triangular, solve_triangular_a_maker, solve_triangular_b_maker)
    defjvp(solve_triangular, solve_triangular_a_jvp, solve_triangular_b_jvp)
    expm = replace_with_primitive(sl, "expm")
    logm = replace_with_primitive(sl, "logm")
    for name, p in (("expm", expm), ("logm", logm)):
        maker, jvp = _matrix_function_rule(name, p)
        defvjp(p, maker)
        defjvp(p, jvp)
    sqrtm = replace_with_primitive(sl, "sqrtm")
    defvjp(sqrtm, sqrtm_maker)
    defjvp(sqrtm, sqrtm_jvp)
    solve_sylvester = replace_with_primitive(sl, "solve_sylvester")
    defvjp(solve_sylvester, sylvester_a_maker, sylvester_b_maker, sylvester_q_maker)
    defjvp(solve_sylvester, sylvester_a_jvp, sylvester_b_jvp, sylvester_q_jvp)
    solve_banded = replace_with_primitive(sl, "solve_banded")
    defvjp(solve_banded, None, banded_ab_maker, banded_b_maker)
    defjvp(solve_banded, None, banded_ab_jvp, banded_b_jvp)
    lu_factor = replace_with_primitive(sl, "lu_factor")
    defvjp(lu_factor, lu_factor_maker)
    defjvp(lu_factor, lu_factor_jvp)
    global _INV_DIAGONAL_KEEPS_A
    try:
        _INV_DIAGONAL_KEEPS_A = bool(sl.inv(np.array([[2.0, 1.0], [1.0, 2.0]]), assume_a="diagonal")[0, 1] != 0)
    except (TypeError, ValueError):     # a scipy without assume_a
        pass
    for name, on_tracked in WRAPPED.items():
        wrap(sl, name, on_tracked)


when_imported("scipy.linalg", _register)
