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

numpy 2's array-API contractions in numpy.linalg (matmul, tensordot, vecdot,
cross, outer) have their rules in ``contractions``; matrix_transpose and
diagonal in ``shape``, trace in ``reductions``.

Forward rules are the differentials themselves (``d inv = -inv dA inv``,
``d det = sum(cof(A) * dA)``, exact at singular matrices, ``dL = L phi(L^-1 dA
L^-H)`` for cholesky, the standard ones for eigh, svd, qr), with the same
conventions (the triangle read, the phases) as the pullbacks.

Pullbacks use zygcy's own functions (``np.linalg.inv``, ``@``, ``np.tril``...)
on possibly tracked values, so they are differentiable again.
"""
import numpy as np

from ..extend import Tracked, defjoint, defjvp, defvjp, nondifferentiable, primitive, unbroadcast, value
from ._util import H, NUMPY2, axes_of, conj, is_complex, ndim_of, nonzero, real_if_complex, shape_of
from .shape import crop

def _diag_matrix(d):
    """A (stack of) diagonal matrix with the vector d on the diagonal."""
    n = shape_of(d)[-1]
    return np.expand_dims(d, -2) * np.eye(n)


def _diag_of(x):
    return np.diagonal(x, 0, -2, -1)


def _col(x):
    return np.expand_dims(x, -1)


def _row(x):
    return np.expand_dims(x, -2)


def _gap_inverse(w, square=False):
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it (w[j]**2 - w[i]**2 if square)."""
    n = shape_of(w)[-1]
    if square:
        w = w * conj(w)
    diff = _row(w) - _col(w)
    eye = np.eye(n)
    return (1 - eye) / (diff + eye)


def _hermitian_tangent(t, uplo):
    """The tangent of the Hermitian matrix a function sees that reads only the triangle
    ``uplo`` of its input (and the real part of its diagonal), for the input tangent t:
    the forward counterpart of ``_from_hermitian``."""
    s = np.tril(t, -1) if uplo.upper() == "L" else np.triu(t, 1)
    return s + H(s) + real_if_complex(t) * np.eye(shape_of(t)[-1])


def _from_hermitian(S, uplo):
    """The cotangent of a matrix of which only the triangle ``uplo`` is read as a
    Hermitian matrix, given S with <S, dH> the change of the loss for a Hermitian dH."""
    T = S + H(S)
    tri = np.tril(T) if uplo.upper() == "L" else np.triu(T)
    return tri - 0.5 * T * np.eye(shape_of(T)[-1])


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


def cofactor_maker(ans, a):
    def cofactor_pullback(g):
        if type(a) is Tracked:
            # a third derivative of det: through the inverse, differentiable again
            return _cofactor_cotangent_by_inverse(ans, a, g)
        # d cof(S)[E] = diag(sum_{k != i} p_ik E_kk) - p * E^T (p_ij = prod_{k != i, j} s_k),
        # exact for any S; with A + dA = U (S + E) V^H its adjoint gives the cotangent
        u, s, vh, phase = _svd_parts(a)
        p = _products_without(s, 2)
        # with C = phase conj(U cof(S) V^H): <g, dC> = <h, d cof(S)[E]>, E = U^H dA V
        h = np.conj(phase)[..., None, None] * (_T(u) @ g @ _T(vh))
        diag_h = np.diagonal(h, 0, -2, -1)
        e = -_T(p * h)
        n = s.shape[-1]
        e = e * (1 - np.eye(n)) + _diag_matrix(np.einsum("...ij,...j->...i", p, diag_h))
        return u @ e @ vh
    return cofactor_pullback


def _T(x):
    return np.swapaxes(x, -1, -2)


def cofactor_jvp(t, ans, a):
    if type(a) is Tracked:
        return _cofactor_tangent_by_inverse(ans, a, t)      # differentiable again
    # A + dA = U (S + E) V^H with E = U^H dA V, and cof(U M V^H) = phase conj(U) cof(M) conj(V^H):
    # dC = phase conj(U) d cof(S)[E] conj(V^H), d cof(S)[E] as in cofactor_maker (exact for any S)
    u, s, vh, phase = _svd_parts(a)
    p = _products_without(s, 2)
    e = H(u) @ t @ H(vh)
    de = _diag_matrix(np.einsum("...ij,...j->...i", p, _diag_of(e))) - p * _T(e)
    return phase[..., None, None] * (np.conj(u) @ de @ np.conj(vh))


def _trace_of_solve(a, t):
    """tr(inv(A) dA) for (stacks of) matrices."""
    return np.trace(np.linalg.solve(a, t), axis1=-2, axis2=-1)


def _cofactor_tangent_by_inverse(c, a, t):
    """dC for C = cof(A) = det(A) inv(A)^T: tr(inv(A) dA) C - C dA^T C / det(A)."""
    d = np.linalg.det(a)
    if np.any(value(d) == 0):
        raise np.linalg.LinAlgError(
            "zygcy: third and higher derivatives of det are implemented for invertible "
            "matrices only, and this one is singular")
    return _col(_col(_trace_of_solve(a, t))) * c - c @ _T(t) @ c / _col(_col(d))


def _cofactor_cotangent_by_inverse(c, a, g):
    """The cotangent of A for a cotangent g of C = cof(A) = det(A) inv(A)^T, written with
    inv (so differentiable again): dC = tr(inv(A) dA) C - C dA^T C / det(A)."""
    d = np.linalg.det(a)
    if np.any(value(d) == 0):
        raise np.linalg.LinAlgError(
            "zygcy: third and higher derivatives of det are implemented for invertible "
            "matrices only, and this one is singular")
    alpha = np.sum(np.conj(c) * g, axis=(-2, -1))            # sum conj(C) g
    first = _col(_col(alpha)) * H(np.linalg.inv(a))
    second = conj(c @ H(g) @ c) / _col(_col(conj(d)))
    return first - second


def det_maker(ans, a):
    # d det(A) = tr(cof(A)^T dA)
    def det_pullback(g):
        return _col(_col(g)) * conj(cofactor(a))
    return det_pullback


def _slogdet_singular(sign):
    if np.any(value(sign) == 0):
        raise np.linalg.LinAlgError(
            "zygcy: the gradient of slogdet at a singular matrix is infinite (its "
            "log|det| is -inf); differentiate np.linalg.det instead, whose gradient "
            "is defined at every matrix")


def slogdet_maker(ans, a):
    sign = ans[0]

    def slogdet_pullback(g):
        gs, gl = g
        # log det = logabsdet + i angle(sign): its cotangent from both outputs
        cz = 0.0 if gl is None else real_if_complex(gl)
        if gs is not None and is_complex(sign):
            cz = cz - 1j * np.imag(conj(gs) * sign)
        if gl is None and not (gs is not None and is_complex(sign)):
            return None
        _slogdet_singular(sign)
        return _col(_col(cz)) * H(np.linalg.inv(a))
    return slogdet_pullback


def inv_maker(ans, a):
    def inv_pullback(g):
        return -H(ans) @ g @ H(ans)
    return inv_pullback


def _pinv_tangent(a, X, dA):
    """dX for X = pinv(A) (A of full rank, or of constant rank)."""
    m, n = shape_of(a)[-2:]
    XH, dAH = H(X), H(dA)
    return -X @ dA @ X + X @ XH @ dAH @ (np.eye(m) - a @ X) + (np.eye(n) - X @ a) @ dAH @ XH @ X


def _pinv_cotangent(a, X, G):
    """The cotangent of A for a cotangent G of X = pinv(A) (A of full rank)."""
    m, n = shape_of(a)[-2:]
    XH = H(X)
    GH = H(G)
    out = -XH @ G @ XH
    out = out + (np.eye(m) - a @ X) @ GH @ X @ XH
    out = out + XH @ X @ GH @ (np.eye(n) - X @ a)
    return out


def pinv_maker(ans, a, rcond=None, hermitian=False, **kwargs):
    def pinv_pullback(g):
        ct = _pinv_cotangent(a, ans, g)
        return _from_hermitian(ct, "L") if hermitian else ct      # hermitian: the lower triangle is read
    return pinv_pullback


def _is_vector(a, b):
    """b is a vector when it is 1-D (numpy 2), or one dimension short of a (numpy 1)."""
    return ndim_of(b) == 1 if NUMPY2 else ndim_of(b) == ndim_of(a) - 1


def solve_maker(ans, a, b):
    vector = _is_vector(a, b)

    def solve_pullback(g):
        if vector:
            gb = np.squeeze(np.linalg.solve(H(a), _col(g)), -1)
            ga = -_col(gb) * conj(_row(ans))
        else:
            gb = np.linalg.solve(H(a), g)
            ga = -gb @ H(ans)
        return unbroadcast(a, ga), unbroadcast(b, gb)
    return solve_pullback


def matrix_power_maker(ans, a, n):
    if n == 0:
        def matrix_power_pullback(g):
            return np.zeros(shape_of(a), dtype=value(a).dtype)
        return matrix_power_pullback
    base = a if n > 0 else np.linalg.inv(a)
    k = abs(n)

    def matrix_power_pullback(g):
        # d(B^k) = sum_j B^j dB B^(k-1-j)
        bh = H(base)
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


def _power_tangent(b, db, k):
    """d(B^k) for the tangent dB of B (k >= 1), by repeated squaring with the product rule."""
    p = dp = None
    while True:
        if k & 1:
            p, dp = (b, db) if p is None else (p @ b, dp @ b + p @ db)
        k >>= 1
        if not k:
            return dp
        b, db = b @ b, db @ b + b @ db


def multi_dot_maker(ans, arrays, out=None):
    shapes = [shape_of(x) for x in arrays]

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
            r = g if left[i] is None else H(left[i]) @ g
            r = r if right[i] is None else r @ H(right[i])
            grads.append(np.reshape(r, shapes[i]))
        return grads
    return multi_dot_pullback


def det_jvp(t, ans, a):
    return np.sum(cofactor(a) * t, axis=(-2, -1))        # exact at singular matrices too


def slogdet_jvp(t, ans, a):
    sign = ans[0]
    _slogdet_singular(sign)
    z = _trace_of_solve(a, t)                             # d log det = tr(inv(A) dA)
    return (sign * 1j * np.imag(z) if is_complex(sign) else None), real_if_complex(z)


def inv_jvp(t, ans, a):
    return -ans @ t @ ans


def pinv_jvp(t, ans, a, rcond=None, hermitian=False, **kwargs):
    if hermitian:                # the lower triangle is read
        return _pinv_tangent(_hermitian_tangent(a, "L"), ans, _hermitian_tangent(t, "L"))
    return _pinv_tangent(a, ans, t)


def solve_a_jvp(t, ans, a, b):
    if _is_vector(a, b):
        return -np.squeeze(np.linalg.solve(a, t @ _col(ans)), -1)
    return -np.linalg.solve(a, t @ ans)


def solve_b_jvp(t, ans, a, b):
    return np.linalg.solve(a, t)


def matrix_power_jvp(t, ans, a, n):
    if n == 0:
        return None
    if n > 0:
        return _power_tangent(a, t, n)
    b = np.linalg.inv(a)
    return _power_tangent(b, -b @ t @ b, -n)


def multi_dot_jvp(t, ans, arrays, out=None):
    total = None
    for i, ti in enumerate(t):
        if type(ti) is not Tracked and not np.any(ti):
            continue            # a constant matrix (or one that does not move)
        term = np.linalg.multi_dot(list(arrays[:i]) + [ti] + list(arrays[i + 1:]))
        total = term if total is None else total + term
    return total


defvjp(np.linalg.det, det_maker)
defjvp(np.linalg.det, det_jvp)
defvjp(_cofactor_plain, cofactor_maker)
defjvp(_cofactor_plain, cofactor_jvp)
defvjp(np.linalg.slogdet, slogdet_maker)
defjvp(np.linalg.slogdet, slogdet_jvp)
defvjp(np.linalg.inv, inv_maker)
defjvp(np.linalg.inv, inv_jvp)
defvjp(np.linalg.pinv, pinv_maker)
defjvp(np.linalg.pinv, pinv_jvp)
defjoint(np.linalg.solve, solve_maker)
defjvp(np.linalg.solve, solve_a_jvp, solve_b_jvp)
defvjp(np.linalg.matrix_power, matrix_power_maker)
defjvp(np.linalg.matrix_power, matrix_power_jvp)
defvjp(np.linalg.multi_dot, multi_dot_maker)
defjvp(np.linalg.multi_dot, multi_dot_jvp)


# ---------------------------------------------------------------------------
# Norms

def _unit(x):
    """x / |x| (the sign, for complex x the phase), 0 where x == 0."""
    if is_complex(x):
        return x / nonzero(np.abs(x))
    return np.sign(value(x))


def _vector_norm_cotangent(x, y, g, ord, axes):
    """The cotangent of x for y = norm of x over ``axes`` (y and g keep those axes)."""
    if ord is None or ord == 2:
        return g * x / nonzero(y)
    if ord == 0:
        return np.zeros(shape_of(x), dtype=value(x).dtype)
    if ord in (np.inf, -np.inf):
        ax = np.abs(value(x))
        mask = ax == value(y)
        return g * _unit(x) * (mask / np.sum(mask, axis=axes, keepdims=True))
    if ord == 1:
        return g * _unit(x)
    ax = np.abs(x)
    return g * _unit(x) * (ax / nonzero(y)) ** (ord - 1)


def _matrix_norm_cotangent(x, y, g, ord, axes):
    r, c = axes
    if ord is None or ord == "fro":
        return g * x / nonzero(y)
    if ord in ("nuc", 2, -2):
        xm = np.moveaxis(x, (r, c), (-2, -1))
        gm = np.moveaxis(g, (r, c), (-2, -1))
        u, s, vh = np.linalg.svd(xm, full_matrices=False)
        if ord == "nuc":
            d = u @ vh
        else:
            i = 0 if ord == 2 else shape_of(s)[-1] - 1
            nd = ndim_of(u)
            cols = tuple(slice(None) for _ in range(nd - 1)) + (slice(i, i + 1),)
            rows = tuple(slice(None) for _ in range(nd - 2)) + (slice(i, i + 1), slice(None))
            d = crop(u, cols) @ crop(vh, rows)
        return np.moveaxis(gm * d, (-2, -1), (r, c))
    if ord in (1, -1, np.inf, -np.inf):
        along = r if ord in (1, -1) else c       # 1: column sums (over rows); inf: row sums
        sums = np.sum(np.abs(value(x)), axis=along, keepdims=True)
        mask = sums == value(y)
        return g * _unit(x) * (mask / np.sum(mask, axis=axes, keepdims=True))
    raise NotImplementedError("zygcy: numpy.linalg.norm with ord=%r on matrices has no gradient rule" % (ord,))


def _norm_axes(nd, ord, axis):
    """(the axes norm reduces, whether it is a matrix norm)."""
    if axis is None:
        return tuple(range(nd)), nd == 2 and ord is not None
    axes = axes_of(axis, nd)
    return axes, len(axes) == 2


def norm_maker(ans, x, ord=None, axis=None, keepdims=False):
    axes, matrix = _norm_axes(ndim_of(x), ord, axis)
    return _norm_pullback(ans, x, ord, axes, keepdims, matrix)


def _norm_pullback(ans, x, ord, axes, keepdims, matrix):
    def norm_pullback(g):
        y = ans
        g = real_if_complex(g)      # the norm is real: an imaginary part of g means nothing
        if not keepdims:
            for a in sorted(axes):
                g = np.expand_dims(g, a)
                y = np.expand_dims(y, a)
        if matrix:
            return _matrix_norm_cotangent(x, y, g, ord, axes)
        return _vector_norm_cotangent(x, y, g, ord, axes)
    return norm_pullback


def _norm_jvp(t, ans, x, ord, axes, keepdims, matrix):
    """A norm is real: its tangent is Re <d, t> with d its gradient (the cotangent of 1)."""
    d = _norm_pullback(ans, x, ord, axes, keepdims, matrix)(np.ones(np.shape(value(ans))))
    return np.sum(real_if_complex(conj(d) * t), axis=axes, keepdims=keepdims)


def norm_jvp(t, ans, x, ord=None, axis=None, keepdims=False):
    axes, matrix = _norm_axes(ndim_of(x), ord, axis)
    return _norm_jvp(t, ans, x, ord, axes, keepdims, matrix)


def vector_norm_jvp(t, ans, x, axis=None, keepdims=False, ord=2):
    return _norm_jvp(t, ans, x, ord, axes_of(axis, ndim_of(x)), keepdims, False)


def matrix_norm_jvp(t, ans, x, keepdims=False, ord="fro"):
    nd = ndim_of(x)
    return _norm_jvp(t, ans, x, ord, (nd - 2, nd - 1), keepdims, True)


def vector_norm_maker(ans, x, axis=None, keepdims=False, ord=2):
    return _norm_pullback(ans, x, ord, axes_of(axis, ndim_of(x)), keepdims, False)


def matrix_norm_maker(ans, x, keepdims=False, ord="fro"):
    nd = ndim_of(x)
    return _norm_pullback(ans, x, ord, (nd - 2, nd - 1), keepdims, True)


defvjp(np.linalg.norm, norm_maker)
defjvp(np.linalg.norm, norm_jvp)
if hasattr(np.linalg, "vector_norm"):      # numpy >= 2.0
    defvjp(np.linalg.vector_norm, vector_norm_maker)
    defjvp(np.linalg.vector_norm, vector_norm_jvp)
    defvjp(np.linalg.matrix_norm, matrix_norm_maker)
    defjvp(np.linalg.matrix_norm, matrix_norm_jvp)


# ---------------------------------------------------------------------------
# Eigenvalue problems

def eigh_maker(ans, a, UPLO="L"):
    w, v = ans

    def eigh_pullback(g):
        gw, gv = g
        vh = H(v)
        inner = 0
        if gw is not None:
            inner = _diag_matrix(real_if_complex(gw))
        if gv is not None:
            inner = inner + _gap_inverse(w) * (vh @ gv)
        return _from_hermitian(v @ inner @ vh, UPLO)
    return eigh_pullback


def eigvalsh_maker(ans, a, UPLO="L"):
    def eigvalsh_pullback(g):
        _, v = np.linalg.eigh(a, UPLO)
        return _from_hermitian(v @ _diag_matrix(real_if_complex(g)) @ H(v), UPLO)
    return eigvalsh_pullback


def _eig_cotangent(w, v, gw, gv):
    vh = H(v)
    inner = 0
    if gw is not None:
        inner = _diag_matrix(gw)
    if gv is not None:
        # numpy's eigenvectors have unit norm: drop the part of gv that changes it
        gv = gv - v * real_if_complex(np.sum(conj(v) * gv, axis=-2, keepdims=True))
        inner = inner + conj(_gap_inverse(w)) * (vh @ gv)
    return H(np.linalg.inv(v)) @ inner @ vh


def eig_maker(ans, a):
    w, v = ans

    def eig_pullback(g):
        return _eig_cotangent(w, v, g[0], g[1])
    return eig_pullback


def eigvals_maker(ans, a):
    def eigvals_pullback(g):
        w, v = np.linalg.eig(a)
        return _eig_cotangent(w, v, g, None)
    return eigvals_pullback


# Forward: with K = V^-1 dA V (V^H dA V for Hermitian A), dw = diag(K) and
# dV = V (F * K), F[i, j] = 1 / (w[j] - w[i]) off the diagonal (the gauge V^H dV
# with zero diagonal; eig's unit columns then keep their norm).

def eigh_jvp(t, ans, a, UPLO="L"):
    w, v = ans
    k = H(v) @ _hermitian_tangent(t, UPLO) @ v
    return real_if_complex(_diag_of(k)), v @ (_gap_inverse(w) * k)


def eigvalsh_jvp(t, ans, a, UPLO="L"):
    _, v = np.linalg.eigh(a, UPLO)
    return real_if_complex(_diag_of(H(v) @ _hermitian_tangent(t, UPLO) @ v))


def eig_jvp(t, ans, a):
    w, v = ans
    k = np.linalg.solve(v, t @ v)
    dv = v @ (_gap_inverse(w) * k)
    return _diag_of(k), dv - v * real_if_complex(np.sum(conj(v) * dv, axis=-2, keepdims=True))


def eigvals_jvp(t, ans, a):
    _, v = np.linalg.eig(a)
    return _diag_of(np.linalg.solve(v, t @ v))


defvjp(np.linalg.eigh, eigh_maker)
defjvp(np.linalg.eigh, eigh_jvp)
defvjp(np.linalg.eigvalsh, eigvalsh_maker)
defjvp(np.linalg.eigvalsh, eigvalsh_jvp)
defvjp(np.linalg.eig, eig_maker)
defjvp(np.linalg.eig, eig_jvp)
defvjp(np.linalg.eigvals, eigvals_maker)
defjvp(np.linalg.eigvals, eigvals_jvp)


# ---------------------------------------------------------------------------
# Factorizations

def cholesky_maker(ans, a, upper=False):
    def cholesky_pullback(g):
        L, gL = (H(ans), H(g)) if upper else (ans, g)
        # dL = L phi(inv(L) dA inv(L)^H), phi = lower triangle with half the diagonal
        K = H(L) @ gL
        phi = np.tril(K) - 0.5 * K * np.eye(shape_of(K)[-1])
        Linv = np.linalg.inv(L)
        return _from_hermitian(H(Linv) @ phi @ Linv, "U" if upper else "L")
    return cholesky_pullback


def _svd_cotangent(a, U, s, Vh, gU, gs, gVh):
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    srow, scol = _row(s), _col(s)
    inner = 0
    if gs is not None:
        inner = _diag_matrix(real_if_complex(gs))
    if gU is not None or gVh is not None:
        F = _gap_inverse(s, square=True)
    if gU is not None:
        J = H(U) @ gU
        inner = inner + (F * (J - H(J))) * srow
        if is_complex(J):
            inner = inner + _diag_matrix(1j * np.imag(_diag_of(J)) / s)
    gV = None if gVh is None else H(gVh)
    if gV is not None:
        V = H(Vh)
        K = H(V) @ gV
        inner = inner + scol * (F * (K - H(K)))
    out = U @ inner @ Vh
    if gU is not None and m > k:
        out = out + ((gU - U @ (H(U) @ gU)) / srow) @ Vh
    if gV is not None and n > k:
        gVH = H(gV)
        out = out + U @ ((gVH - (gVH @ H(Vh)) @ Vh) / scol)
    return out


def _svd_tangent(U, s, Vh, dA):
    """(dU, ds, dVh) for A = U diag(s) V^H, with dP = U^H dA V: ds = Re diag(dP),
    U^H dU = F * (dP S + S dP^H) (+ i Im diag(dP) / s), V^H dV = F * (S dP + dP^H S),
    F[i, j] = 1 / (s[j]^2 - s[i]^2), and the parts outside the span of U or V."""
    m, n = shape_of(U)[-2], shape_of(Vh)[-1]
    k = shape_of(s)[-1]
    V = H(Vh)
    dP = H(U) @ dA @ V
    dPH = H(dP)
    srow, scol = _row(s), _col(s)
    F = _gap_inverse(s, square=True)
    omega = F * (dP * srow + scol * dPH)
    if is_complex(dP):
        omega = omega + _diag_matrix(1j * np.imag(_diag_of(dP)) / s)
    dU = U @ omega
    dV = V @ (F * (scol * dP + dPH * srow))
    if m > k:
        dU = dU + (dA @ V - U @ dP) / srow
    if n > k:
        dV = dV + (H(dA) @ U - V @ dPH) / srow
    return dU, real_if_complex(_diag_of(dP)), H(dV)


def _svd_full_matrices(a, full_matrices):
    m, n = shape_of(a)[-2:]
    if full_matrices and m != n:
        raise NotImplementedError(
            "zygcy: numpy.linalg.svd of a non-square matrix with full_matrices=True has no "
            "gradient (the extra singular vectors are not unique); pass full_matrices=False")


def svd_maker(ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    if not compute_uv:
        U, s, Vh = np.linalg.svd(a, full_matrices=False, hermitian=hermitian)
    else:
        _svd_full_matrices(a, full_matrices)
        U, s, Vh = ans

    def svd_pullback(g):
        ct = _svd_cotangent(a, U, s, Vh, *((None, g, None) if not compute_uv else g))
        return _from_hermitian(ct, "L") if hermitian else ct     # hermitian: the lower triangle is read
    return svd_pullback


def _singular_value_tangent(a, dA, hermitian=False):
    u, _, vh = np.linalg.svd(a, full_matrices=False, hermitian=hermitian)
    return real_if_complex(_diag_of(H(u) @ dA @ H(vh)))        # ds = Re diag(U^H dA V)


def svd_jvp(t, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    dA = _hermitian_tangent(t, "L") if hermitian else t        # hermitian: the lower triangle is read
    if not compute_uv:
        return _singular_value_tangent(a, dA, hermitian)
    _svd_full_matrices(a, full_matrices)
    return _svd_tangent(*ans, dA)


def svdvals_jvp(t, ans, a):
    return _singular_value_tangent(a, t)


def svdvals_maker(ans, a):
    def svdvals_pullback(g):
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        return (u * _row(real_if_complex(g))) @ vh
    return svdvals_pullback


def _qr_tall(Q, R, gQ, gR):
    """The cotangent of A = QR (Q with orthonormal columns, R square) from those of Q and R."""
    N = 0
    if gR is not None:
        N = gR @ H(R)
    if gQ is not None:
        N = N - H(Q) @ gQ
    C = np.triu(N, 1) + np.tril(H(N), -1) + _diag_matrix(real_if_complex(_diag_of(N)))
    B = Q @ C if gQ is None else gQ + Q @ C
    return H(np.linalg.solve(R, H(B)))


def _qr_mode(a, mode):
    m, n = shape_of(a)[-2:]
    if mode not in ("reduced", "complete", "r") or (mode == "complete" and m > n):
        raise NotImplementedError(
            "zygcy: numpy.linalg.qr with mode=%r%s has no gradient rule; use mode='reduced'"
            % (mode, " on a tall matrix" if mode == "complete" else ""))
    return m, n


def _qr_tall_tangent(Q, R, dA):
    """(dQ, dR) for A = QR (Q with orthonormal columns, R square): with X = dA R^-1 and
    M = Q^H X, Q^H dQ = Omega is the anti-Hermitian part M's strict lower triangle fixes
    (its diagonal imaginary: R's diagonal stays real), dR = (M - Omega) R and
    dQ = Q Omega + (I - Q Q^H) X."""
    X = dA @ np.linalg.inv(R)
    M = H(Q) @ X
    low = np.tril(M, -1)
    omega = low - H(low)
    if is_complex(M):
        omega = omega + _diag_matrix(1j * np.imag(_diag_of(M)))
    return X + Q @ (omega - M), (M - omega) @ R


def qr_jvp(t, ans, a, mode="reduced"):
    m, n = _qr_mode(a, mode)
    Q, R = np.linalg.qr(a) if mode == "r" else ans
    if m >= n:
        dQ, dR = _qr_tall_tangent(Q, R, t)
    else:
        # A = [X Y], R = [U V] with X = QU square and V = Q^H Y
        Y = np.split(a, [m], axis=-1)[1]
        dX, dY = np.split(t, [m], axis=-1)
        dQ, dU = _qr_tall_tangent(Q, np.split(R, [m], axis=-1)[0], dX)
        dR = np.concatenate([dU, H(dQ) @ Y + H(Q) @ dY], axis=-1)
    return dR if mode == "r" else (dQ, dR)


def qr_maker(ans, a, mode="reduced"):
    m, n = _qr_mode(a, mode)
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
            gQ = Y @ H(gV) if gQ is None else gQ + Y @ H(gV)
        gX = _qr_tall(Q, U, gQ, gU)
        gY = np.zeros(shape_of(Y), dtype=value(gX).dtype) if gV is None else Q @ gV
        return np.concatenate([gX, gY], axis=-1)
    return qr_pullback


def cholesky_jvp(t, ans, a, upper=False):
    # dL = L phi(inv(L) dA inv(L)^H), phi = lower triangle with half the diagonal
    L = H(ans) if upper else ans
    Li = np.linalg.inv(L)
    K = Li @ _hermitian_tangent(t, "U" if upper else "L") @ H(Li)
    dL = L @ (np.tril(K) - 0.5 * K * np.eye(shape_of(K)[-1]))
    return H(dL) if upper else dL


defvjp(np.linalg.cholesky, cholesky_maker)
defjvp(np.linalg.cholesky, cholesky_jvp)
defvjp(np.linalg.svd, svd_maker)
defjvp(np.linalg.svd, svd_jvp)
if hasattr(np.linalg, "svdvals"):          # numpy >= 2.0
    defvjp(np.linalg.svdvals, svdvals_maker)
    defjvp(np.linalg.svdvals, svdvals_jvp)
defvjp(np.linalg.qr, qr_maker)
defjvp(np.linalg.qr, qr_jvp)


# ---------------------------------------------------------------------------
# Least squares

def lstsq_maker(ans, a, b, rcond=None):
    x = ans[0]
    vector = ndim_of(b) == 1

    def lstsq_pullback(g):
        gx, gres, _, gs = g
        ga = gb = None

        def add(acc, v):
            return v if acc is None else acc + v
        if gx is not None:
            X = np.linalg.pinv(a)
            gb = H(X) @ gx
            G = _col(gx) * conj(_row(b)) if vector else gx @ H(b)
            ga = _pinv_cotangent(a, X, G)
        if gres is not None and shape_of(ans[1])[0] > 0:
            e = a @ x - b           # residuals = sum |e|^2 per column
            w = real_if_complex(gres) if vector else _row(real_if_complex(gres))
            gb = add(gb, -2 * e * w)
            ga = add(ga, 2 * _col(e * w) * conj(_row(x)) if vector else 2 * (e * w) @ H(x))
        if gs is not None:
            ga = add(ga, svdvals_maker(None, a)(gs))
        return ga, gb
    return lstsq_pullback


def _residuals_tangent(ans, a, b, de):
    """d residuals for a change de of A x - b at fixed x (A^H (A x - b) = 0, so the
    change of x adds nothing); None when numpy returns no residuals."""
    x, res = ans[0], ans[1]
    if shape_of(res)[0] == 0:
        return None
    e = a @ x - b
    return 2 * np.sum(real_if_complex(conj(e) * de), axis=0, keepdims=ndim_of(b) == 1)


def lstsq_a_jvp(t, ans, a, b, rcond=None):
    dx = _pinv_tangent(a, np.linalg.pinv(a), t) @ b
    return dx, _residuals_tangent(ans, a, b, t @ ans[0]), None, _singular_value_tangent(a, t)


def lstsq_b_jvp(t, ans, a, b, rcond=None):
    return np.linalg.pinv(a) @ t, _residuals_tangent(ans, a, b, -t), None, None


defjoint(np.linalg.lstsq, lstsq_maker)
defjvp(np.linalg.lstsq, lstsq_a_jvp, lstsq_b_jvp)


# ---------------------------------------------------------------------------
# Non-differentiable

nondifferentiable(np.linalg.matrix_rank)
