"""Rules for numpy.linalg.

Every rule works on stacks of matrices (the last two axes) as numpy does.
The formulas are the standard ones (the Matrix Cookbook; M. Giles, "Collected
matrix derivative results for forward and reverse mode AD"; Seeger et al.,
"Auto-differentiating linear algebra"; Townsend, "Differentiating the singular
value decomposition"), written for complex matrices with zygcy's convention:
the cotangent of a holomorphic ``f`` is ``g * conj(f'(x))``, so ``inv`` pulls
``g`` back to ``-inv(A)^H g inv(A)^H``.

Hermitian inputs. ``eigh``, ``eigvalsh`` and ``cholesky`` read one triangle
of their input (the lower one unless told otherwise) and ignore the other, as
LAPACK does. Their gradients are exactly those of that function: the
cotangent lives on the triangle read, with the off-diagonal entries counting
twice. For a symmetric input built as ``A = X + X.T`` (or any symmetric
function of ``X``) the gradient with respect to ``X`` is the usual one.

Eigenvectors and singular vectors are defined up to a phase (a sign for real
matrices); a loss that depends on the phase has no derivative. The rules
assume losses that do not, as every formula in the literature does.

Pullbacks use zygcy's own functions (``np.linalg.inv``, ``@``, ``np.tril``...)
on possibly tracked values, so they are differentiable again.
"""
import numpy as np

from ..extend import Tracked, defjoint, defvjp, nondifferentiable, primitive, unbroadcast, value
from .shape import (_H, _axes, _conj, _crop, _cross_maker, _diag_embed, _is_complex,
                    _matmul_maker, _ndim, _shape, _tensordot_maker, _vecdot_maker)


def _re(x):
    return np.real(x) if _is_complex(x) else x


def _diag_matrix(d):
    """A (stack of) diagonal matrix with the vector d on the diagonal."""
    n = _shape(d)[-1]
    return np.expand_dims(d, -2) * np.eye(n)


def _diag_of(x):
    return np.diagonal(x, 0, -2, -1)


def _col(x):
    return np.expand_dims(x, -1)


def _row(x):
    return np.expand_dims(x, -2)


def _gap_inverse(w, square=False):
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it (w[j]**2 - w[i]**2 if square)."""
    n = _shape(w)[-1]
    if square:
        w = w * _conj(w)
    diff = _row(w) - _col(w)
    eye = np.eye(n)
    return (1 - eye) / (diff + eye)


def _from_hermitian(S, uplo):
    """The cotangent of a matrix of which only the triangle ``uplo`` is read as a
    Hermitian matrix, given S with <S, dH> the change of the loss for a Hermitian dH."""
    T = S + _H(S)
    tri = np.tril(T) if uplo.upper() == "L" else np.triu(T)
    return tri - 0.5 * T * np.eye(_shape(T)[-1])


# ---------------------------------------------------------------------------
# Inverse, determinants, solving

# The gradient of det is the cofactor matrix, cof(A) = det(A) inv(A)^T where A is
# invertible, but defined for every A: it is a polynomial in the entries (the
# (n-1)-minors). It is computed from an SVD A = U S V^H, for which
# cof(A) = det(U) det(V^H) conj(U cof(S) V^H) with cof(S) = diag(prod_{k != i} s_k):
# no inverse, so singular matrices are fine (rank n-1: a rank-one cofactor matrix,
# rank <= n-2: zero). Its own derivative is the polynomial one too, so det is
# differentiable twice at any matrix.

def _products_without(s, drop):
    """prod of s[..., k] over k not in the dropped indices, for every choice of them:
    drop=1 gives p[..., i] (k != i), drop=2 gives p[..., i, j] (k != i, j; 0 for i == j)."""
    n = s.shape[-1]
    eye = np.eye(n, dtype=bool)
    if drop == 1:
        return np.prod(np.where(eye, 1, s[..., None, :]), axis=-1)
    keep = ~(eye[:, None, :] | eye[None, :, :])             # k != i and k != j
    p = np.prod(np.where(keep, s[..., None, None, :], 1), axis=-1)
    return np.where(eye, 0, p)


def _svd_parts(a):
    a = np.asarray(a)
    u, s, vh = np.linalg.svd(a)
    phase = np.linalg.det(u) * np.linalg.det(vh)            # +-1, or a unit complex number
    return u, s, vh, phase


@primitive
def _cofactor_plain(a):
    """The cofactor matrix of (a stack of) square matrices: the gradient of det."""
    u, s, vh, phase = _svd_parts(a)
    c = (u * _products_without(s, 1)[..., None, :]) @ vh
    c = np.conj(c) if np.iscomplexobj(c) else c
    return phase[..., None, None] * c


def cofactor(a):
    """cof(A), recorded: det(A) inv(A)^T for invertible A, the (n-1)-minors for any A."""
    return _cofactor_plain(a)


def cofactor_pullback_maker(ans, a):
    def cofactor_pullback(g):
        if type(a) is Tracked:
            # a third derivative of det: through the inverse, differentiable again
            return _cofactor_cotangent_by_inverse(ans, a, g)
        # d cof(S)[E] = diag(sum_{k != i} p_ik E_kk) - p * E^T (p_ij = prod_{k != i, j} s_k),
        # exact for any S; with A + dA = U (S + E) V^H its adjoint gives the cotangent
        u, s, vh, phase = _svd_parts(a)
        p = _products_without(s, 2)
        # with C = phase conj(U cof(S) V^H): <g, dC> = <h, d cof(S)[E]>, E = U^H dA V
        h = np.conj(phase)[..., None, None] * (_T(u) @ np.asarray(g) @ _T(vh))
        diag_h = np.diagonal(h, 0, -2, -1)
        e = -_T(p * h)
        n = s.shape[-1]
        e = e * (1 - np.eye(n)) + _diag_matrix(np.einsum("...ij,...j->...i", p, diag_h))
        return u @ e @ vh
    return cofactor_pullback


def _T(x):
    return np.swapaxes(x, -1, -2)


def _cofactor_cotangent_by_inverse(c, a, g):
    """The cotangent of A for a cotangent g of C = cof(A) = det(A) inv(A)^T, written with
    inv (so differentiable again): dC = tr(inv(A) dA) C - C dA^T C / det(A)."""
    d = np.linalg.det(a)
    if np.any(value(d) == 0):
        raise np.linalg.LinAlgError(
            "zygcy: third and higher derivatives of det are implemented for invertible "
            "matrices only, and this one is singular")
    alpha = np.sum(np.conj(c) * g, axis=(-2, -1))            # sum conj(C) g
    first = _col(_col(alpha)) * _H(np.linalg.inv(a))
    second = _conj(c @ _H(g) @ c) / _col(_col(_conj(d)))
    return first - second


def det_pullback_maker(ans, a):
    # d det(A) = tr(cof(A)^T dA)
    def det_pullback(g):
        return _col(_col(g)) * _conj(cofactor(a))
    return det_pullback


def slogdet_pullback_maker(ans, a):
    sign = ans[0]

    def slogdet_pullback(g):
        gs, gl = g
        # log det = logabsdet + i angle(sign): its cotangent from both outputs
        cz = 0.0 if gl is None else _re(gl)
        if gs is not None and _is_complex(sign):
            cz = cz - 1j * np.imag(_conj(gs) * sign)
        if gl is None and not (gs is not None and _is_complex(sign)):
            return None
        if np.any(value(sign) == 0):
            raise np.linalg.LinAlgError(
                "zygcy: the gradient of slogdet at a singular matrix is infinite (its "
                "log|det| is -inf); differentiate np.linalg.det instead, whose gradient "
                "is defined at every matrix")
        return _col(_col(cz)) * _H(np.linalg.inv(a))
    return slogdet_pullback


def inv_pullback_maker(ans, a):
    return lambda g: -_H(ans) @ g @ _H(ans)


def _pinv_cotangent(a, X, G):
    """The cotangent of A for a cotangent G of X = pinv(A) (A of full rank)."""
    m, n = _shape(a)[-2:]
    XH = _H(X)
    GH = _H(G)
    out = -XH @ G @ XH
    out = out + (np.eye(m) - a @ X) @ GH @ X @ XH
    out = out + XH @ X @ GH @ (np.eye(n) - X @ a)
    return out


def pinv_pullback_maker(ans, a, rcond=None, hermitian=False, **kwargs):
    if hermitian:       # numpy reads the lower triangle only
        return lambda g: _from_hermitian(_pinv_cotangent(a, ans, g), "L")
    return lambda g: _pinv_cotangent(a, ans, g)


NUMPY2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"


def solve_pullback_maker(ans, a, b):
    # b is a vector when it is 1-D (numpy 2), or one dimension short of a (numpy 1)
    vector = _ndim(b) == 1 if NUMPY2 else _ndim(b) == _ndim(a) - 1

    def solve_pullback(g):
        if vector:
            gb = np.squeeze(np.linalg.solve(_H(a), _col(g)), -1)
            ga = -_col(gb) * _conj(_row(ans))
        else:
            gb = np.linalg.solve(_H(a), g)
            ga = -gb @ _H(ans)
        return unbroadcast(a, ga), unbroadcast(b, gb)
    return solve_pullback


def matrix_power_pullback_maker(ans, a, n):
    if n == 0:
        return lambda g: np.zeros(_shape(a), dtype=value(a).dtype)
    base = a if n > 0 else np.linalg.inv(a)
    k = abs(n)

    def matrix_power_pullback(g):
        # d(B^k) = sum_j B^j dB B^(k-1-j)
        bh = _H(base)
        powers = [None, bh]
        for _ in range(2, k):
            powers.append(powers[-1] @ bh)
        total = 0
        for j in range(k):
            left, right = powers[j] if j else None, powers[k - 1 - j] if k - 1 - j else None
            term = g if left is None else left @ g
            total = total + (term if right is None else term @ right)
        if n < 0:
            total = -bh @ total @ bh
        return total
    return matrix_power_pullback


def multi_dot_pullback_maker(ans, arrays, out=None):
    shapes = [_shape(x) for x in arrays]

    def multi_dot_pullback(g):
        mats = list(arrays)
        if len(shapes[0]) == 1:
            mats[0] = _row(mats[0])
            g = np.expand_dims(g, 0)
        if len(shapes[-1]) == 1:
            mats[-1] = _col(mats[-1])
            g = np.expand_dims(g, -1)
        n = len(mats)
        left = [None] * n
        for i in range(1, n):
            left[i] = mats[0] if i == 1 else left[i - 1] @ mats[i - 1]
        right = [None] * n
        for i in range(n - 2, -1, -1):
            right[i] = mats[-1] if i == n - 2 else mats[i + 1] @ right[i + 1]
        grads = []
        for i in range(n):
            r = g if left[i] is None else _H(left[i]) @ g
            r = r if right[i] is None else r @ _H(right[i])
            grads.append(np.reshape(r, shapes[i]))
        return grads
    return multi_dot_pullback


defvjp(np.linalg.det, det_pullback_maker)
defvjp(_cofactor_plain, cofactor_pullback_maker)
defvjp(np.linalg.slogdet, slogdet_pullback_maker)
defvjp(np.linalg.inv, inv_pullback_maker)
defvjp(np.linalg.pinv, pinv_pullback_maker)
defjoint(np.linalg.solve, solve_pullback_maker)
defvjp(np.linalg.matrix_power, matrix_power_pullback_maker)
defvjp(np.linalg.multi_dot, multi_dot_pullback_maker)


# ---------------------------------------------------------------------------
# Norms

def _safe(x):
    """x with exact zeros replaced by 1 (to divide by)."""
    return x + (value(x) == 0)


def _unit(x):
    """x / |x| (the sign, for complex x the phase), 0 where x == 0."""
    if _is_complex(x):
        return x / _safe(np.abs(x))
    return np.sign(value(x))


def _vector_norm_cotangent(x, y, g, ord, axes):
    """The cotangent of x for y = norm of x over ``axes`` (y and g keep those axes)."""
    if ord is None or ord == 2:
        return g * x / _safe(y)
    if ord == 0:
        return np.zeros(_shape(x), dtype=value(x).dtype)
    if ord in (np.inf, -np.inf):
        ax = np.abs(value(x))
        mask = ax == value(y)
        return g * _unit(x) * (mask / np.sum(mask, axis=axes, keepdims=True))
    if ord == 1:
        return g * _unit(x)
    ax = np.abs(x)
    return g * _unit(x) * (ax / _safe(y)) ** (ord - 1)


def _matrix_norm_cotangent(x, y, g, ord, axes):
    r, c = axes
    if ord is None or ord == "fro":
        return g * x / _safe(y)
    if ord in ("nuc", 2, -2):
        xm = np.moveaxis(x, (r, c), (-2, -1))
        gm = np.moveaxis(g, (r, c), (-2, -1))
        u, s, vh = np.linalg.svd(xm, full_matrices=False)
        if ord == "nuc":
            d = u @ vh
        else:
            i = 0 if ord == 2 else _shape(s)[-1] - 1
            nd = _ndim(u)
            cols = tuple(slice(None) for _ in range(nd - 1)) + (slice(i, i + 1),)
            rows = tuple(slice(None) for _ in range(nd - 2)) + (slice(i, i + 1), slice(None))
            d = _crop(u, cols) @ _crop(vh, rows)
        return np.moveaxis(gm * d, (-2, -1), (r, c))
    if ord in (1, -1, np.inf, -np.inf):
        along = r if ord in (1, -1) else c       # 1: column sums (over rows); inf: row sums
        sums = np.sum(np.abs(value(x)), axis=along, keepdims=True)
        mask = sums == value(y)
        return g * _unit(x) * (mask / np.sum(mask, axis=axes, keepdims=True))
    raise NotImplementedError("zygcy: numpy.linalg.norm with ord=%r on matrices has no gradient rule" % (ord,))


def norm_pullback_maker(ans, x, ord=None, axis=None, keepdims=False):
    nd = _ndim(x)
    if axis is None:
        axes = tuple(range(nd))
        matrix = nd == 2 and ord is not None
    else:
        axes = _axes(axis, nd)
        matrix = len(axes) == 2
    return _norm_pullback(ans, x, ord, axes, keepdims, matrix)


def _norm_pullback(ans, x, ord, axes, keepdims, matrix):
    def norm_pullback(g):
        y = ans
        g = _re(g)      # the norm is real: an imaginary part of g means nothing
        if not keepdims:
            for a in sorted(axes):
                g = np.expand_dims(g, a)
                y = np.expand_dims(y, a)
        if matrix:
            return _matrix_norm_cotangent(x, y, g, ord, axes)
        return _vector_norm_cotangent(x, y, g, ord, axes)
    return norm_pullback


def vector_norm_pullback_maker(ans, x, axis=None, keepdims=False, ord=2):
    return _norm_pullback(ans, x, ord, _axes(axis, _ndim(x)), keepdims, False)


def matrix_norm_pullback_maker(ans, x, keepdims=False, ord="fro"):
    nd = _ndim(x)
    return _norm_pullback(ans, x, ord, (nd - 2, nd - 1), keepdims, True)


defvjp(np.linalg.norm, norm_pullback_maker)
if hasattr(np.linalg, "vector_norm"):      # numpy >= 2.0
    defvjp(np.linalg.vector_norm, vector_norm_pullback_maker)
    defvjp(np.linalg.matrix_norm, matrix_norm_pullback_maker)


# ---------------------------------------------------------------------------
# Eigenvalue problems

def eigh_pullback_maker(ans, a, UPLO="L"):
    w, v = ans

    def eigh_pullback(g):
        gw, gv = g
        vh = _H(v)
        inner = 0
        if gw is not None:
            inner = _diag_matrix(_re(gw))
        if gv is not None:
            inner = inner + _gap_inverse(w) * (vh @ gv)
        return _from_hermitian(v @ inner @ vh, UPLO)
    return eigh_pullback


def eigvalsh_pullback_maker(ans, a, UPLO="L"):
    def eigvalsh_pullback(g):
        _, v = np.linalg.eigh(a, UPLO)
        return _from_hermitian(v @ _diag_matrix(_re(g)) @ _H(v), UPLO)
    return eigvalsh_pullback


def _eig_cotangent(w, v, gw, gv):
    vh = _H(v)
    inner = 0
    if gw is not None:
        inner = _diag_matrix(gw)
    if gv is not None:
        # numpy's eigenvectors have unit norm: drop the part of gv that changes it
        gv = gv - v * _re(np.sum(_conj(v) * gv, axis=-2, keepdims=True))
        inner = inner + _conj(_gap_inverse(w)) * (vh @ gv)
    return _H(np.linalg.inv(v)) @ inner @ vh


def eig_pullback_maker(ans, a):
    w, v = ans
    return lambda g: _eig_cotangent(w, v, g[0], g[1])


def eigvals_pullback_maker(ans, a):
    def eigvals_pullback(g):
        w, v = np.linalg.eig(a)
        return _eig_cotangent(w, v, g, None)
    return eigvals_pullback


defvjp(np.linalg.eigh, eigh_pullback_maker)
defvjp(np.linalg.eigvalsh, eigvalsh_pullback_maker)
defvjp(np.linalg.eig, eig_pullback_maker)
defvjp(np.linalg.eigvals, eigvals_pullback_maker)


# ---------------------------------------------------------------------------
# Factorizations

def cholesky_pullback_maker(ans, a, upper=False):
    def cholesky_pullback(g):
        L, gL = (_H(ans), _H(g)) if upper else (ans, g)
        # dL = L phi(inv(L) dA inv(L)^H), phi = lower triangle with half the diagonal
        K = _H(L) @ gL
        phi = np.tril(K) - 0.5 * K * np.eye(_shape(K)[-1])
        Linv = np.linalg.inv(L)
        return _from_hermitian(_H(Linv) @ phi @ Linv, "U" if upper else "L")
    return cholesky_pullback


def _svd_cotangent(a, U, s, Vh, gU, gs, gVh):
    m, n = _shape(a)[-2:]
    k = min(m, n)
    srow, scol = _row(s), _col(s)
    inner = 0
    if gs is not None:
        inner = _diag_matrix(_re(gs))
    if gU is not None or gVh is not None:
        F = _gap_inverse(s, square=True)
    if gU is not None:
        J = _H(U) @ gU
        inner = inner + (F * (J - _H(J))) * srow
        if _is_complex(J):
            inner = inner + _diag_matrix(1j * np.imag(_diag_of(J)) / s)
    gV = None if gVh is None else _H(gVh)
    if gV is not None:
        V = _H(Vh)
        K = _H(V) @ gV
        inner = inner + scol * (F * (K - _H(K)))
    out = U @ inner @ Vh
    if gU is not None and m > k:
        out = out + ((gU - U @ (_H(U) @ gU)) / srow) @ Vh
    if gV is not None and n > k:
        gVH = _H(gV)
        out = out + U @ ((gVH - (gVH @ _H(Vh)) @ Vh) / scol)
    return out


def svd_pullback_maker(ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    if not compute_uv:
        U, s, Vh = np.linalg.svd(a, full_matrices=False, hermitian=hermitian)
        pullback = lambda g: _svd_cotangent(a, U, s, Vh, None, g, None)      # noqa: E731
    else:
        m, n = _shape(a)[-2:]
        if full_matrices and m != n:
            raise NotImplementedError(
                "zygcy: numpy.linalg.svd of a non-square matrix with full_matrices=True has no "
                "gradient (the extra singular vectors are not unique); pass full_matrices=False")
        U, s, Vh = ans
        pullback = lambda g: _svd_cotangent(a, U, s, Vh, *g)                 # noqa: E731
    if hermitian:       # numpy reads the lower triangle only
        return lambda g: _from_hermitian(pullback(g), "L")
    return pullback


def svdvals_pullback_maker(ans, a):
    def svdvals_pullback(g):
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        return (u * _row(_re(g))) @ vh
    return svdvals_pullback


def _qr_tall(Q, R, gQ, gR):
    """The cotangent of A = QR (Q with orthonormal columns, R square) from those of Q and R."""
    N = 0
    if gR is not None:
        N = gR @ _H(R)
    if gQ is not None:
        N = N - _H(Q) @ gQ
    C = np.triu(N, 1) + np.tril(_H(N), -1) + _diag_matrix(_re(_diag_of(N)))
    B = Q @ C if gQ is None else gQ + Q @ C
    return _H(np.linalg.solve(R, _H(B)))


def qr_pullback_maker(ans, a, mode="reduced"):
    m, n = _shape(a)[-2:]
    if mode not in ("reduced", "complete", "r") or (mode == "complete" and m > n):
        raise NotImplementedError(
            "zygcy: numpy.linalg.qr with mode=%r%s has no gradient rule; use mode='reduced'"
            % (mode, " on a tall matrix" if mode == "complete" else ""))
    if mode == "r":
        Q, R = np.linalg.qr(a)
    else:
        Q, R = ans

    def qr_pullback(g):
        gQ, gR = (None, g) if mode == "r" else g
        if m >= n:
            return _qr_tall(Q, R, gQ, gR)
        # A = [X Y], R = [U V] with X = QU square and Y = QV
        X, Y = np.split(a, [m], axis=-1)
        U, _ = np.split(R, [m], axis=-1)
        gU, gV = (None, None) if gR is None else np.split(gR, [m], axis=-1)
        if gV is not None:
            gQ = Y @ _H(gV) if gQ is None else gQ + Y @ _H(gV)
        gX = _qr_tall(Q, U, gQ, gU)
        gY = np.zeros(_shape(Y), dtype=value(gX).dtype) if gV is None else Q @ gV
        return np.concatenate([gX, gY], axis=-1)
    return qr_pullback


defvjp(np.linalg.cholesky, cholesky_pullback_maker)
defvjp(np.linalg.svd, svd_pullback_maker)
if hasattr(np.linalg, "svdvals"):          # numpy >= 2.0
    defvjp(np.linalg.svdvals, svdvals_pullback_maker)
defvjp(np.linalg.qr, qr_pullback_maker)


# ---------------------------------------------------------------------------
# Least squares

def lstsq_pullback_maker(ans, a, b, rcond=None):
    x = ans[0]
    vector = _ndim(b) == 1

    def lstsq_pullback(g):
        gx, gres, _, gs = g
        ga = gb = None

        def add(acc, v):
            return v if acc is None else acc + v
        if gx is not None:
            X = np.linalg.pinv(a)
            gb = _H(X) @ gx
            G = _col(gx) * _conj(_row(b)) if vector else gx @ _H(b)
            ga = _pinv_cotangent(a, X, G)
        if gres is not None and _shape(ans[1])[0] > 0:
            e = a @ x - b           # residuals = sum |e|^2 per column
            w = _re(gres) if vector else _row(_re(gres))
            gb = add(gb, -2 * e * w)
            ga = add(ga, 2 * _col(e * w) * _conj(_row(x)) if vector else 2 * (e * w) @ _H(x))
        if gs is not None:
            ga = add(ga, svdvals_pullback_maker(None, a)(gs))
        return ga, gb
    return lstsq_pullback


defjoint(np.linalg.lstsq, lstsq_pullback_maker)


# ---------------------------------------------------------------------------
# numpy 2's array-API names in numpy.linalg

def linalg_trace_pullback_maker(ans, x, offset=0, dtype=None):
    m, n = _shape(x)[-2:]
    length = max(0, min(m - max(-offset, 0), n - max(offset, 0)))
    return lambda g: _diag_embed(_col(g) * np.ones(length), m, n, offset)


ARRAY_API = {
    "matmul": (_matmul_maker(0), _matmul_maker(1)),
    "tensordot": (_tensordot_maker(0), _tensordot_maker(1)),
    "vecdot": (_vecdot_maker(0), _vecdot_maker(1)),
    "cross": (_cross_maker(0), _cross_maker(1)),
    "outer": (lambda ans, a, b: lambda g: g @ _conj(b), lambda ans, a, b: lambda g: _conj(a) @ g),
    "matrix_transpose": (lambda ans, x: lambda g: np.swapaxes(g, -1, -2),),
    "diagonal": (lambda ans, x, offset=0: lambda g: _diag_embed(g, *_shape(x)[-2:], offset),),
    "trace": (linalg_trace_pullback_maker,),
}
for _name, _makers in ARRAY_API.items():
    if hasattr(np.linalg, _name):       # numpy >= 2.0
        defvjp(getattr(np.linalg, _name), *_makers)

nondifferentiable(np.linalg.matrix_rank)
