"""Rules for scipy.sparse: products, solvers and graph Laplacians, differentiable in
the dense operands and in a sparse matrix's stored values.

Two kinds of sparse operand take part in differentiation:

* A plain scipy.sparse matrix (every format, the matrix and the array classes)
  times a tracked dense vector or matrix: ``A @ x``, ``A.dot(x)``, ``A.T @ x``,
  ``A * x`` (a product for the matrix classes, elementwise for the array
  classes), ``A.multiply(x)``, ``A.power(p)``, ``c * A``, ``A + x``. scipy's
  operators call ``np.asarray`` on ``x``, which a tracked value refuses, so the
  methods of scipy's base classes are wrapped when scipy.sparse is imported: a
  tracked operand goes to a rule here, anything else to scipy's own method (one
  type check more). ``A @ x`` is the primitive ``sparse_matmul``, whose pullback
  is ``A^H @ g``: sparse, never densified. With the tracked operand on the left
  (``x @ A``, ``x * A``, ``x + A``), Python asks ``Tracked``'s operator first, and
  the engine does not yet defer to ``A.__rmatmul__``: write ``(A.T @ x.T).T``.
* A sparse matrix whose stored values are tracked, a ``TrackedSparse``: what
  scipy's constructors return when given tracked data,
  ``csr_matrix((data, indices, indptr), shape)``, ``coo_matrix((data, (row, col)))``,
  ``csr_array``..., ``diags(d)``, and what operations on one give. It holds the
  plain structure (a scipy matrix in csr, csc or coo format, the ``_Pattern``)
  and the tracked values, one per stored entry (duplicates are summed, as in
  scipy), and implements ``@``, ``dot``, ``T``, ``multiply``, ``power``, ``sum``,
  ``mean``, ``diagonal``, ``trace``, ``+``, ``-``, scalar ``*`` and ``/``,
  conversions between csr, csc and coo, ``toarray``. The gradient with respect to
  the data is a dense array of the data's shape (never an n x n array): for
  ``y = A x`` it is ``g[row] * conj(x[col])`` (``values_matmul``). The constructors
  are wrapped at import (the classes' ``__new__``, so ``isinstance`` and
  subclassing are untouched): plain data gives scipy's own object, as before.

Solvers are differentiated implicitly, ``x = A^-1 b``: ``b_bar = A^-H g`` and
``A_bar[k] = -b_bar[row[k]] * conj(x[col[k]])``. ``spsolve``, ``splu(A).solve``
and ``factorized(A)`` factor A once (SuperLU) and the adjoint solve reuses that
factorisation (``lu.solve(g, trans="H")``); ``cg``, ``gmres``, ``minres``,
``bicgstab`` and the other Krylov solvers solve the adjoint system with the same
method and tolerances, so the gradient is accurate to the solver's tolerance.
``expm_multiply(A, v)`` is differentiable in ``v``, ``eigsh``'s eigenvalues in A's
stored values, and ``scipy.sparse.csgraph.laplacian`` in the graph's weights.

What is not covered raises an error naming the scipy function and the fix
(``TrackedSparse.__array__``, its ``__getattr__``, and a refusing wrapper around
every other function of scipy.sparse, scipy.sparse.linalg and
scipy.sparse.csgraph when it is given a tracked value).

The rules are registered when scipy.sparse (and its linalg and csgraph
submodules) are imported, whether before or after zygcy (``zygcy.interop``).

Example:
  >>> import numpy as np, scipy.sparse as sparse, scipy.sparse.linalg as sla
  >>> from zygcy import gradient
  >>> A = sparse.csr_matrix(np.array([[2.0, 1.0], [0.0, 3.0]]))
  >>> gradient(lambda x: np.sum(A @ x), np.ones(2))[0].tolist()
  [2.0, 4.0]
  >>> def f(data):
  ...     M = sparse.csr_matrix((data, A.indices, A.indptr), A.shape)
  ...     return np.sum(sla.spsolve(M, np.ones(2)))
  >>> np.round(gradient(f, A.data)[0], 4).tolist()
  [-0.1667, -0.1667, -0.0556]
"""
import functools
import inspect
import numbers
import warnings

import numpy as np

from ..extend import Tracked, defbilinear, deflinear, defjvp, defvjp, primitive, value
from ..interop import when_imported, wrap
from ._util import conj, shape_of

sp = None           # scipy.sparse, once it is imported and its rules are registered
sla = None          # scipy.sparse.linalg, likewise
csgraph = None      # scipy.sparse.csgraph, likewise

ORIGINAL = {}       # name -> scipy's own function, for those replaced here
WRAPPED = {}        # "module.name" -> what zygcy put in its place

FORMATS = ("csr", "csc", "coo")     # the formats a TrackedSparse is held in


# ---------------------------------------------------------------------------
# Messages

def _not_covered(what, fix=None):
    return ("zygcy: %s is not differentiable by zygcy (it has no gradient rule, so the "
            "derivative would be lost). %s" % (what, fix or _COVERED))


_COVERED = ("Covered are products and sums (A @ x, A.dot, A.multiply, A.power, A + B, "
            "c * A, A.T, A.sum, A.diagonal, A.toarray), the csr/csc/coo/bsr/dia constructors "
            "and diags with tracked data, and scipy.sparse.linalg's spsolve, splu, factorized, "
            "cg, gmres, minres, bicgstab, bicg, cgs, lgmres, gcrotmk, tfqmr, expm_multiply (in "
            "v) and eigsh (eigenvalues), and scipy.sparse.csgraph.laplacian: write it with "
            "those, or with numpy on the dense A.toarray(); wrap an argument that needs no "
            "derivative in zygcy.dropgrad().")


def _dense_pattern_message(name):
    return ("zygcy: scipy.sparse.%s(x) of a tracked dense array would choose its sparsity "
            "pattern from x's values, and the derivative at the zero entries would be "
            "lost. Give the pattern explicitly: %s((x[i, j], (i, j)), shape=x.shape) with "
            "the index arrays i, j of the entries that may be nonzero (np.nonzero of a "
            "plain mask), or keep x dense." % (name, name))


_SECOND_ORDER = ("zygcy: second derivatives of the eigenvalues returned by "
                 "scipy.sparse.linalg.eigsh (hessian, hvp, a gradient of a gradient) need the "
                 "derivative of the eigenvectors, which is not implemented; first derivatives "
                 "(gradient, jvp) are.")

_EIGENVECTORS = ("zygcy: the derivative of the eigenvectors returned by "
                 "scipy.sparse.linalg.eigsh is not implemented, only that of the "
                 "eigenvalues. Call eigsh(..., return_eigenvectors=False) for the "
                 "eigenvalues, or wrap the eigenvectors in zygcy.dropgrad() if they are "
                 "used as constants.")


# ---------------------------------------------------------------------------
# Small helpers

def _tracked(v):
    return type(v) is Tracked or type(v) is TrackedSparse


def _involved(args, kwargs=None):
    """True if an argument (or an item of a list or tuple argument) is tracked or
    holds tracked values."""
    for v in args:
        if _tracked(v):
            return True
        if type(v) in (list, tuple) and any(_tracked(e) for e in v):
            return True
    if kwargs:
        return _involved(kwargs.values())
    return False


def _is_scalar(v):
    if isinstance(v, numbers.Number):
        return True
    if type(v) is Tracked or isinstance(v, (np.ndarray, np.generic)):
        return np.ndim(value(v)) == 0
    return False


def _is_sparse(v):
    return type(v) is TrackedSparse or (sp is not None and sp.issparse(v))


def _stacked(v):
    """A list or tuple holding tracked numbers or arrays, as one array (np.stack)."""
    if type(v) in (list, tuple) and any(type(e) is Tracked for e in v):
        return np.stack(v)
    return v


def _dense(v):
    """A dense operand: tracked, or a plain ndarray."""
    v = _stacked(v)
    return v if type(v) is Tracked else np.asarray(v)


def _plain_deep(v):
    if type(v) is Tracked:
        return value(v)
    if type(v) in (list, tuple):
        return type(v)(_plain_deep(e) for e in v)
    return v


def _positions(shape):
    """1, 2, ..., n as float64 (exact), in ``shape``: stand-ins for stored values,
    from which the position of every entry of a constructed matrix is read back."""
    n = int(np.prod(shape, dtype=np.int64))
    return np.arange(1, n + 1, dtype=np.float64).reshape(shape)


def _container(fmt, matrix):
    """scipy's class for format ``fmt``: the matrix class or the array class."""
    return getattr(sp, "%s_%s" % (fmt, "matrix" if matrix else "array"))


def _adjoint(A):
    """A^H of a plain sparse or dense matrix or a LinearOperator."""
    if sla is not None and isinstance(A, sla.LinearOperator):
        return A.H
    return A.conj().T if A.dtype.kind == "c" else A.T


def _check_2d(A, what):
    if len(A.shape) != 2:
        raise TypeError("zygcy: %s of a %d-d sparse array is not covered; reshape it to 2-d "
                        "(A.reshape(1, -1)) first" % (what, len(A.shape)))


# ---------------------------------------------------------------------------
# Where the stored values sit

class _Pattern:
    """The structure of a sparse matrix with separate values: ``template`` is a
    plain scipy matrix (csr, csc or coo; matrix or array class) whose k-th stored
    entry, in storage order, holds the k-th value. Duplicate entries are summed,
    as scipy sums them."""

    __slots__ = ("template", "shape", "_rowcol", "_T", "unique")

    def __init__(self, template, unique=None):
        _check_2d(template, "a sparse matrix with tracked values")
        if template.format not in FORMATS:
            raise AssertionError("a _Pattern is held in csr, csc or coo format")
        self.template = template
        self.shape = template.shape
        self._rowcol = None
        self._T = None
        self.unique = unique          # True: no duplicate entries (None: not known)

    @property
    def format(self):
        return self.template.format

    @property
    def matrix(self):
        return isinstance(self.template, sp.spmatrix)

    @property
    def nnz(self):
        return self.template.nnz

    def plain(self, vals):
        """The scipy matrix with ``vals`` (plain) as its stored values."""
        return self.template._with_data(vals, copy=False)

    @property
    def rowcol(self):
        """(row, col) of every stored value, in storage order."""
        if self._rowcol is None:
            t = self.template
            if t.format == "coo":
                rc = (t.row, t.col)
            else:
                major = np.repeat(np.arange(len(t.indptr) - 1, dtype=t.indices.dtype), np.diff(t.indptr))
                rc = (major, t.indices) if t.format == "csr" else (t.indices, major)
            self._rowcol = rc
        return self._rowcol

    @property
    def T(self):
        """The pattern of the transpose (the same values, in the same order)."""
        if self._T is None:
            t = _Pattern(self.template.T, self.unique)
            t._T = self
            if self._rowcol is not None:
                t._rowcol = self._rowcol[::-1]
            self._T = t
        return self._T

    def outer_at(self, g, x):
        """sum_j g[row[k], j] * conj(x[col[k], j]) for every stored value k: the
        cotangent of the values of A in ``A @ x`` when ``A @ x`` has cotangent g.
        Written with numpy on g and x, so it is differentiable again."""
        row, col = self.rowcol
        p = g[row] * conj(x)[col]
        return np.sum(p, axis=tuple(range(1, np.ndim(value(p))))) if np.ndim(value(p)) > 1 else p


def _coo_pattern(row, col, shape, matrix, unique=None):
    template = _container("coo", matrix)((np.zeros(len(row)), (row, col)), shape=shape)
    p = _Pattern(template, unique)
    p._rowcol = (template.row, template.col)
    return p


def _compressed_pattern(keys, shape, fmt, matrix):
    """The csr (or csc) pattern of sorted unique keys row * N + col (col * M + row)."""
    M, N = shape
    minor_n = N if fmt == "csr" else M
    major_n = M if fmt == "csr" else N
    major, minor = np.divmod(keys, minor_n) if minor_n else (keys, keys)
    indptr = np.zeros(major_n + 1, dtype=np.int64)
    np.cumsum(np.bincount(major, minlength=major_n), out=indptr[1:])
    idx = np.int32 if max(M, N, len(keys)) < 2 ** 31 - 1 else np.int64
    template = _container(fmt, matrix)((np.zeros(len(keys)), minor.astype(idx), indptr.astype(idx)),
                                       shape=shape)
    p = _Pattern(template, unique=True)
    major = major.astype(idx)
    p._rowcol = (major, minor.astype(idx)) if fmt == "csr" else (minor.astype(idx), major)
    return p


# ---------------------------------------------------------------------------
# Primitives and their rules (registered when scipy.sparse is imported)

@primitive
def segment_sum(v, index, n):
    """out[j] = the sum of v[k] over the k with index[k] == j, for j < n."""
    if np.iscomplexobj(v):
        return np.bincount(index, v.real, n) + 1j * np.bincount(index, v.imag, n)
    out = np.bincount(index, v, n)
    return out.astype(v.dtype) if v.dtype.kind == "f" and v.dtype != out.dtype else out


def segment_sum_transpose(g, v, index, n):
    return g[index]


@primitive
def sparse_to_dense(vals, pattern):
    """The dense array of the sparse matrix with values ``vals`` at ``pattern``."""
    return pattern.plain(vals).toarray()


def sparse_to_dense_transpose(g, vals, pattern):
    row, col = pattern.rowcol
    return g[row, col]


@primitive
def values_matmul(vals, x, pattern):
    """A @ x for the sparse A with values ``vals`` at ``pattern`` and a dense x."""
    return pattern.plain(vals) @ x


def values_matmul_vals(g, vals, x, pattern):
    return pattern.outer_at(g, x)


def values_matmul_x(g, vals, x, pattern):
    return values_matmul(conj(vals), g, pattern.T)


@primitive
def sparse_matmul(x, A):
    """A @ x for a constant scipy.sparse matrix A (any format) and a dense x."""
    return A @ x


def sparse_matmul_transpose(g, x, A):
    return sparse_matmul(g, _adjoint(A))


# -- direct solves ------------------------------------------------------------

class _Factor:
    """The SuperLU factorisation of one sparse matrix, made once and shared by the
    solve and its adjoint (and forward-mode) solves. ``lu(vals)`` is the factor of
    the matrix with the plain values ``vals``: the stored one while ``vals`` is the
    very array it was made from, a new one otherwise."""

    __slots__ = ("pattern", "options", "_state", "_memo")

    def __init__(self, pattern, options, lu=None, key=None):
        self.pattern = pattern
        self.options = options
        self._state = (key, lu)
        self._memo = None

    def lu(self, vals):
        key, lu = self._state
        if lu is None or key is not vals:
            A = self.pattern.plain(vals).tocsc()
            lu = ORIGINAL["splu"](A, **self.options)
            self._state = (vals, lu)
        return lu

    def solve(self, vals, b, trans):
        b = np.asarray(b)
        if np.iscomplexobj(b) and not np.iscomplexobj(vals):
            return self.solve(vals, b.real, trans) + 1j * self.solve(vals, b.imag, trans)
        return self.lu(vals).solve(b, trans=trans)


@primitive
def sparse_solve(vals, b, pattern, factor, trans="N"):
    """x with op(A) x = b, op = identity ("N"), transpose ("T") or conjugate
    transpose ("H"), for the sparse A with values ``vals`` at ``pattern``."""
    return factor.solve(vals, b, trans)


def _adjoint_rhs(solve, g, trans):
    """op(A)^-H g, written with ``solve(g, trans)``."""
    if trans == "N":
        return solve(g, "H")
    if trans == "T":
        return conj(solve(conj(g), "N"))
    return solve(g, "N")


def _shared_adjoint(holder, g, trans, solve):
    """The adjoint solve of a node, done once for the cotangents of both A and b
    (kept only for a plain g: a tracked one would tie nodes into a cycle)."""
    memo = holder._memo
    if memo is not None and memo[0] is g and memo[1] == trans:
        return memo[2]
    r = _adjoint_rhs(solve, g, trans)
    if type(g) is np.ndarray:
        holder._memo = (g, trans, r)
    return r


def _values_cotangent(pattern, bbar, x, trans):
    """The cotangent of op(A)'s values in x = op(A)^-1 b, given b's cotangent bbar."""
    if trans == "N":
        return -pattern.outer_at(bbar, x)
    if trans == "T":
        return -pattern.T.outer_at(bbar, x)
    return -conj(pattern.T.outer_at(bbar, x))


def _values_tangent_rhs(t, x, pattern, trans):
    """op(dA) x, for the tangent t of A's values."""
    if trans == "N":
        return values_matmul(t, x, pattern)
    if trans == "T":
        return values_matmul(t, x, pattern.T)
    return values_matmul(conj(t), x, pattern.T)


def _direct_solve(vals, pattern, factor):
    def solve(r, t):
        return sparse_solve(vals, r, pattern, factor, t)
    return solve


def sparse_solve_vals_maker(ans, vals, b, pattern, factor, trans="N"):
    def sparse_solve_vals_pullback(g):
        bbar = _shared_adjoint(factor, g, trans, _direct_solve(vals, pattern, factor))
        return _values_cotangent(pattern, bbar, ans, trans)
    return sparse_solve_vals_pullback


def sparse_solve_b_maker(ans, vals, b, pattern, factor, trans="N"):
    def sparse_solve_b_pullback(g):
        return _shared_adjoint(factor, g, trans, _direct_solve(vals, pattern, factor))
    return sparse_solve_b_pullback


def sparse_solve_vals_jvp(t, ans, vals, b, pattern, factor, trans="N"):
    return -sparse_solve(vals, _values_tangent_rhs(t, ans, pattern, trans), pattern, factor, trans)


def sparse_solve_b_jvp(t, ans, vals, b, pattern, factor, trans="N"):
    return sparse_solve(vals, t, pattern, factor, trans)


# -- iterative solves ---------------------------------------------------------

class _Krylov:
    """One iterative solve: scipy's solver, the user's options, and the operator:
    the sparse matrix of a pattern (whose values are passed to ``iterative_solve``)
    or a constant (a plain sparse or dense matrix, or a LinearOperator). The solves
    for the gradient and for forward mode use the same method, tolerances and
    preconditioner (M^H for the adjoint system), without the user's x0, callback and
    the vectors lgmres and gcrotmk keep between calls (they belong to A, not A^H)."""

    __slots__ = ("solver", "name", "pattern", "constant", "options", "M", "_memo")

    def __init__(self, solver, name, pattern, constant, options):
        self.solver, self.name = solver, name
        self.pattern, self.constant = pattern, constant
        self.M = options.pop("M", None)
        self.options = options
        self._memo = None

    def operator(self, vals, trans):
        A = self.pattern.plain(vals) if self.pattern is not None else self.constant
        if trans == "N":
            return A
        return A.T if trans == "T" else _adjoint(A)

    def preconditioner(self, trans):
        M = self.M
        if M is None or trans == "N" or self.name in _HERMITIAN:
            return M
        if isinstance(M, sla.LinearOperator):
            adjoint = M.H if trans == "H" else M.T
            try:
                adjoint.matvec(np.zeros(M.shape[0], dtype=M.dtype))
            except Exception:       # no rmatvec: solve the adjoint system unpreconditioned
                return None
            return adjoint
        if callable(getattr(M, "conj", None)):
            return M.T if trans == "T" else _adjoint(M)
        return None

    def run(self, vals, b, trans, inner):
        options = dict(self.options)
        if inner:       # not the user's start, callback, nor vectors kept for A (lgmres, gcrotmk)
            for k in ("x0", "callback", "callback_type", "outer_v", "CU", "prepend_outer_v"):
                options.pop(k, None)
        M = self.preconditioner(trans)
        if M is not None:
            options["M"] = M
        x, info = self.solver(self.operator(vals, trans), b, **options)
        if inner and info != 0:
            warnings.warn("zygcy: a solve of scipy.sparse.linalg.%s made for the derivative did "
                          "not converge (info=%d); the derivative is only as accurate as that "
                          "solve: raise maxiter or loosen rtol" % (self.name, info), RuntimeWarning,
                          stacklevel=2)
        return x, info


@primitive
def iterative_solve(vals, b, krylov, trans="N", inner=False):
    """(x, info) of scipy's iterative solver ``krylov.solver`` for op(A) x = b; ``inner``
    for the solves made for a derivative."""
    return krylov.run(vals, b, trans, inner)


def _krylov_solve(vals, krylov):
    def solve(r, t):
        return iterative_solve(vals, r, krylov, t, True)[0]
    return solve


def iterative_solve_vals_maker(ans, vals, b, krylov, trans="N", inner=False):
    def iterative_solve_vals_pullback(g):
        if g[0] is None:
            return None
        bbar = _shared_adjoint(krylov, g[0], trans, _krylov_solve(vals, krylov))
        return _values_cotangent(krylov.pattern, bbar, ans[0], trans)
    return iterative_solve_vals_pullback


def iterative_solve_b_maker(ans, vals, b, krylov, trans="N", inner=False):
    def iterative_solve_b_pullback(g):
        if g[0] is None:
            return None
        return _shared_adjoint(krylov, g[0], trans, _krylov_solve(vals, krylov))
    return iterative_solve_b_pullback


def iterative_solve_vals_jvp(t, ans, vals, b, krylov, trans="N", inner=False):
    rhs = _values_tangent_rhs(t, ans[0], krylov.pattern, trans)
    return -iterative_solve(vals, rhs, krylov, trans, True)[0], None


def iterative_solve_b_jvp(t, ans, vals, b, krylov, trans="N", inner=False):
    return iterative_solve(vals, t, krylov, trans, True)[0], None


# -- expm_multiply ------------------------------------------------------------

@primitive
def expm_multiply_v(v, A, options=()):
    """scipy.sparse.linalg.expm_multiply(A, v, **dict(options)) for a constant A."""
    return ORIGINAL["expm_multiply"](A, v, **dict(options))


def expm_multiply_v_transpose(g, v, A, options=()):
    kw = dict(options)
    AH = _adjoint(A)
    trace = kw.get("traceA")
    if all(kw.get(k) is None for k in ("start", "stop", "num", "endpoint")):
        return expm_multiply_v(g, AH, () if trace is None else (("traceA", np.conj(trace)),))
    linspace = {k: kw[k] for k in ("num", "endpoint") if kw.get(k) is not None}
    ts = np.linspace(kw.get("start"), kw.get("stop"), **linspace)
    out = None
    for i, t in enumerate(ts):      # d/dv of sum_i <g_i, exp(t_i A) v> = sum_i exp(t_i A^H) g_i
        if t == 0:
            term = g[i]
        else:
            opts = () if trace is None else (("traceA", np.conj(trace) * t),)
            term = expm_multiply_v(g[i], AH * float(t), opts)
        out = term if out is None else out + term
    return out


# -- eigsh --------------------------------------------------------------------

class _Eigen:
    """The eigenpairs of one eigsh call: its plain values (the key), w and v, and
    the options to compute them again for other values."""

    __slots__ = ("key", "w", "v", "options")

    def __init__(self, key, w, v, options):
        self.key, self.w, self.v, self.options = key, w, v, options

    def pairs(self, vals, pattern):
        if vals is not self.key:
            w, v = ORIGINAL["eigsh"](pattern.plain(vals), **self.options)
            return w, v
        return self.w, self.v


@primitive
def eigsh_values(vals, pattern, eigen):
    """The eigenvalues of the Hermitian sparse matrix with values ``vals`` (eigsh)."""
    return eigen.pairs(vals, pattern)[0]


@primitive
def eigsh_pairs(vals, pattern, eigen):
    """(eigenvalues, eigenvectors) of the Hermitian sparse matrix with values ``vals``."""
    return eigen.pairs(vals, pattern)


def _eigenvalue_cotangent(g, pattern, v):
    # d lambda_i = v_i^H dA v_i, so A_bar[k] = sum_i g_i v[row_k, i] conj(v[col_k, i])
    return pattern.outer_at(v * g, v)


def _plain_vectors(vals, eigen):
    """The eigenvectors, as constants: right for first derivatives; a second one (vals
    tracked by an outer differentiation) would need their derivative."""
    if type(vals) is Tracked:
        raise NotImplementedError(_SECOND_ORDER)
    return eigen.v


def eigsh_values_maker(ans, vals, pattern, eigen):
    v = _plain_vectors(vals, eigen)

    def eigsh_values_pullback(g):
        return _eigenvalue_cotangent(g, pattern, v)
    return eigsh_values_pullback


def eigsh_values_jvp(t, ans, vals, pattern, eigen):
    v = _plain_vectors(vals, eigen)
    return np.real(np.sum(conj(v) * values_matmul(t, v, pattern), axis=0))


def eigsh_pairs_maker(ans, vals, pattern, eigen):
    v = _plain_vectors(vals, eigen)

    def eigsh_pairs_pullback(g):
        if g[1] is not None:
            raise NotImplementedError(_EIGENVECTORS)
        return None if g[0] is None else _eigenvalue_cotangent(g[0], pattern, v)
    return eigsh_pairs_pullback


def _register_rules():
    deflinear(segment_sum, segment_sum_transpose)
    deflinear(sparse_to_dense, sparse_to_dense_transpose)
    defbilinear(values_matmul, values_matmul_vals, values_matmul_x)
    deflinear(sparse_matmul, sparse_matmul_transpose)


def _register_linalg_rules():
    defvjp(sparse_solve, sparse_solve_vals_maker, sparse_solve_b_maker)
    defjvp(sparse_solve, sparse_solve_vals_jvp, sparse_solve_b_jvp)
    defvjp(iterative_solve, iterative_solve_vals_maker, iterative_solve_b_maker)
    defjvp(iterative_solve, iterative_solve_vals_jvp, iterative_solve_b_jvp)
    deflinear(expm_multiply_v, expm_multiply_v_transpose)
    defvjp(eigsh_values, eigsh_values_maker)
    defjvp(eigsh_values, eigsh_values_jvp)
    defvjp(eigsh_pairs, eigsh_pairs_maker)


# ---------------------------------------------------------------------------
# Sparse matrices with tracked stored values

class TrackedSparse:
    """A scipy.sparse matrix whose stored values are tracked.

    What scipy's constructors return for tracked data (``csr_matrix((data,
    indices, indptr), shape)``, ``coo_array((data, (row, col)))``, ``diags(d)``),
    and what operations on such a matrix give. ``data`` holds the values, one per
    stored entry in storage order (duplicate entries are summed, as in scipy);
    the structure is plain. Held in csr, csc or coo format (dia and bsr input is
    held as coo); ``matrix`` tells whether it stands for scipy's matrix classes
    (``*`` is a product) or its array classes (``*`` is elementwise).

    Where scipy gives a dense result it is a (tracked) ndarray, also for the matrix
    classes, whose ``sum(axis)`` and ``todense()`` give ``np.matrix`` in scipy: the
    shape is scipy's, the type a plain ndarray (zygcy does not track np.matrix).

    Example:
      >>> import numpy as np, scipy.sparse as sparse
      >>> from zygcy import gradient
      >>> row, col = np.array([0, 1, 1]), np.array([0, 0, 1])
      >>> f = lambda d: np.sum(sparse.coo_matrix((d, (row, col)), shape=(2, 2)) @ np.array([1.0, 2.0]))
      >>> gradient(f, np.array([1.0, 1.0, 1.0]))[0].tolist()
      [1.0, 1.0, 2.0]
    """

    __array_priority__ = 20.0      # above scipy.sparse's 10.1: ndarray @ A asks A first

    def __init__(self, vals, pattern):
        self.data = vals
        self._p = pattern

    # -- structure -------------------------------------------------------------
    @property
    def shape(self):
        return self._p.shape

    ndim = 2

    @property
    def nnz(self):
        return self._p.nnz

    @property
    def dtype(self):
        return np.asarray(value(self.data)).dtype

    @property
    def format(self):
        return self._p.format

    @property
    def matrix(self):
        """True for scipy's matrix classes (csr_matrix...), False for the array classes."""
        return self._p.matrix

    @property
    def indices(self):
        return self._structure("indices", ("csr", "csc"))

    @property
    def indptr(self):
        return self._structure("indptr", ("csr", "csc"))

    @property
    def row(self):
        return self._structure("row", ("coo",))

    @property
    def col(self):
        return self._structure("col", ("coo",))

    @property
    def coords(self):
        return self._structure("coords", ("coo",))

    def _structure(self, name, formats):
        if self.format not in formats:
            raise AttributeError("%s has no attribute %r (it is held in %s format; convert with "
                                 "A.to%s())" % (self._name(), name, self.format, formats[0]))
        return getattr(self._p.template, name)

    def getnnz(self, axis=None):
        if axis is not None:
            return self._p.plain(np.ones(self.nnz)).getnnz(axis=axis)
        return self.nnz

    def count_nonzero(self, axis=None):
        return self._p.plain(value(self.data)).count_nonzero(*(() if axis is None else (axis,)))

    def _name(self):
        return "%s_%s" % (self.format, "matrix" if self.matrix else "array")

    def __repr__(self):
        kind = "tracked" if type(self.data) is Tracked else "plain"
        return "<%dx%d TrackedSparse (%s) with %d %s stored values>" % (
            self.shape + (self._name(), self.nnz, kind))

    def to_scipy(self):
        """The plain scipy matrix (the values' plain values): for results that are no
        longer differentiated."""
        return self._p.plain(value(self.data))

    def _new(self, vals, pattern=None):
        return TrackedSparse(vals, self._p if pattern is None else pattern)

    # -- conversions that would drop the derivative ------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "zygcy: np.asarray of a sparse matrix with tracked stored values (a %s) would "
            "drop their derivative; a numpy or scipy function that zygcy does not cover "
            "tried to convert it. For a dense array use A.toarray() (differentiable); for "
            "x @ A with a tracked x on the left, write (A.T @ x.T).T. %s"
            % (self._name(), _COVERED))

    def __getattr__(self, name):
        if name.startswith("__") or sp is None or not hasattr(sp.csr_array, name):
            raise AttributeError("'TrackedSparse' object has no attribute %r" % name)
        raise AttributeError(_not_covered("%s.%s of a sparse matrix with tracked stored values"
                                          % (self._name(), name)))

    def __len__(self):
        raise TypeError("sparse array length is ambiguous; use getnnz() or shape[0]")

    def __bool__(self):
        if self.shape == (1, 1):
            return bool(self.nnz != 0)
        raise ValueError("The truth value of an array with more than one element is ambiguous.")

    def __getitem__(self, index):
        raise TypeError(_not_covered(
            "indexing a sparse matrix with tracked stored values",
            "Select with a product instead (A @ e for a column, e @ A for a row, with a "
            "plain 0/1 vector e), or index the dense A.toarray()."))

    def __setitem__(self, index, v):
        raise TypeError("zygcy: a sparse matrix with tracked stored values cannot be changed in "
                        "place; build a new one (A + scipy.sparse.diags(d), A.multiply(mask))")

    def setdiag(self, values, k=0):
        self.__setitem__(None, values)

    def eliminate_zeros(self):
        raise TypeError("zygcy: eliminate_zeros on a sparse matrix with tracked stored values "
                        "would drop entries by their value, and with them the derivative "
                        "there (it is not zero); keep the explicit zeros")

    def sum_duplicates(self):
        """Sum duplicate entries in place (the format is kept)."""
        S = _deduped(self)
        self.data, self._p = S.data, S._p

    # -- copies and conversions -------------------------------------------------
    def copy(self):
        return self._new(self.data)

    def astype(self, dtype, casting="unsafe", copy=True):
        return self._new(self.data.astype(dtype) if type(self.data) is Tracked
                         else np.asarray(self.data).astype(dtype))

    def asformat(self, format, copy=False):
        if format is None:
            return self
        return _convert(self, format, self.matrix)

    def tocsr(self, copy=False):
        return _convert(self, "csr", self.matrix)

    def tocsc(self, copy=False):
        return _convert(self, "csc", self.matrix)

    def tocoo(self, copy=False):
        return _convert(self, "coo", self.matrix)

    def toarray(self, order=None, out=None):
        if out is not None:
            raise TypeError("zygcy: toarray(out=...) writes into a plain array, which would drop "
                            "the derivative; use the returned array")
        return sparse_to_dense(self.data, self._p)

    def todense(self, order=None, out=None):
        """The dense array (an ndarray, also for the matrix classes, where scipy gives np.matrix)."""
        return self.toarray(order, out)

    # -- shape ----------------------------------------------------------------------
    @property
    def T(self):
        return self._new(self.data, self._p.T)

    def transpose(self, axes=None, copy=False):
        if axes is not None and tuple(axes) != (1, 0):
            raise ValueError("Sparse matrices do not support an 'axes' parameter because "
                             "swapping dimensions is the only logical permutation.")
        return self.T

    def conjugate(self, copy=True):
        return self._new(conj(self.data))

    conj = conjugate

    @property
    def real(self):
        return self._new(np.real(self.data))

    @property
    def imag(self):
        return self._new(np.imag(self.data))

    # -- arithmetic -----------------------------------------------------------------
    def __neg__(self):
        return self._new(-self.data)

    def __pos__(self):
        return self

    def __abs__(self):
        S = _deduped(self)
        return S._new(np.abs(S.data))

    def __mul__(self, other):
        if _is_scalar(other):
            return self._new(self.data * other)
        if self.matrix:
            return self.__matmul__(other)
        return self.multiply(other)

    def __rmul__(self, other):
        if _is_scalar(other):
            return self._new(other * self.data)
        if self.matrix:
            return self.__rmatmul__(other)
        return self.multiply(other)

    def __truediv__(self, other):
        if _is_scalar(other):
            return self._new(self.data / other)
        raise TypeError(_not_covered("dividing a sparse matrix with tracked stored values by a "
                                     "non-scalar", "Multiply by the reciprocal: A.multiply(1 / w)."))

    def __matmul__(self, other):
        if _is_scalar(other):
            raise ValueError("Scalar operands are not allowed, use '*' instead")
        if _is_sparse(other):
            return _product(self, _lift(other))
        return values_matmul(self.data, _dense(other), self._p)

    def __rmatmul__(self, other):
        if _is_scalar(other):
            raise ValueError("Scalar operands are not allowed, use '*' instead")
        if _is_sparse(other):
            return _product(_lift(other), self)
        return np.transpose(values_matmul(self.data, np.transpose(_dense(other)), self._p.T))

    def dot(self, other):
        if _is_scalar(other):
            return self * other
        return self @ other

    def __add__(self, other):
        if _is_sparse(other):
            return _sum(self, _lift(other))
        if _is_scalar(other):
            if value(other) == 0:
                return self.copy()
            raise NotImplementedError("adding a nonzero scalar to a sparse array is not supported")
        return self.toarray() + other

    def __radd__(self, other):
        if _is_sparse(other) or _is_scalar(other):
            return self.__add__(other)
        return other + self.toarray()

    def __sub__(self, other):
        if _is_sparse(other):
            return _sum(self, -_lift(other))
        if _is_scalar(other):
            return self.__add__(-other)
        return self.toarray() - other

    def __rsub__(self, other):
        return (-self).__add__(other)

    def multiply(self, other):
        """Elementwise product with a scalar, a dense array (broadcast to the shape; the
        result keeps this pattern, in coo format as scipy's) or a sparse matrix (the
        common entries)."""
        if _is_scalar(other):
            return self * other
        if _is_sparse(other):
            return _intersect(self, _lift(other))
        other = _stacked(other)
        w = other if type(other) is Tracked else np.asarray(other)
        M, N = self.shape
        wshape = shape_of(w)
        if len(wshape) > 2 or np.broadcast_shapes(wshape, (M, N)) != (M, N):
            raise ValueError("zygcy: A.multiply(w) of a sparse matrix with tracked values needs w "
                             "to broadcast to A's shape %r, got %r" % ((M, N), wshape))
        row, col = self._p.rowcol
        if len(wshape) == 1:
            picked = w[col]
        else:
            wshape = (1,) * (2 - len(wshape)) + tuple(wshape)
            w = np.reshape(w, wshape)
            picked = w[row if wshape[0] != 1 else np.zeros_like(row),
                       col if wshape[1] != 1 else np.zeros_like(col)]
        S = _convert(self, "coo", self.matrix)       # the same order; coo, as scipy gives
        return S._new(S.data * picked)

    def power(self, n, dtype=None):
        if not _is_scalar(n):
            raise NotImplementedError("input is not scalar")
        S = _deduped(self)
        out = S._new(S.data ** n)
        return out.astype(dtype) if dtype is not None else out

    def __pow__(self, n):
        if not self.matrix:
            return self.power(n)
        n = value(n)
        if not isinstance(n, (numbers.Integral, np.integer)) or n < 1:
            raise TypeError(_not_covered("the matrix power A ** %r of a sparse matrix with "
                                         "tracked values" % (n,), "Give a positive integer power."))
        out = self
        for _ in range(int(n) - 1):
            out = out @ self
        return out

    # -- reductions ---------------------------------------------------------------
    def sum(self, axis=None, dtype=None, out=None):
        if out is not None:
            raise TypeError("zygcy: sum(out=...) writes into a plain array; use the returned one")
        M, N = self.shape
        row, col = self._p.rowcol
        if axis is None:
            s = np.sum(self.data)
        else:
            axis = int(axis) + 2 if int(axis) < 0 else int(axis)
            if axis not in (0, 1):
                raise ValueError("axis out of range")
            s = segment_sum(self.data, col, N) if axis == 0 else segment_sum(self.data, row, M)
            if self.matrix:
                s = np.reshape(s, (1, N) if axis == 0 else (M, 1))
        return s.astype(dtype) if dtype is not None else s

    def mean(self, axis=None, dtype=None, out=None):
        M, N = self.shape
        s = self.sum(axis, dtype, out)
        if axis is None:
            return s / (M * N)
        return s / (M if int(axis) in (0, -2) else N)

    def diagonal(self, k=0):
        M, N = self.shape
        k = int(k)
        if k <= -M or k >= N:
            return np.zeros(0, dtype=self.dtype)
        length = min(M + min(k, 0), N - max(k, 0))
        row, col = self._p.rowcol
        on = np.flatnonzero(col.astype(np.int64) - row == k)
        index = row[on] if k >= 0 else col[on]
        return segment_sum(self.data[on], index, length)

    def trace(self, offset=0):
        return np.sum(self.diagonal(offset))


def _elementwise(name):
    f = getattr(np, name)

    def method(self):
        S = _deduped(self)
        return S._new(f(S.data))
    method.__name__ = method.__qualname__ = name
    method.__doc__ = "np.%s of the stored values (f(0) = 0, so the pattern is kept)." % name
    return method


for _name in ("sin", "tan", "arcsin", "arctan", "sinh", "tanh", "arcsinh", "arctanh", "expm1",
              "log1p", "deg2rad", "rad2deg", "sqrt", "rint", "sign", "floor", "ceil", "trunc"):
    setattr(TrackedSparse, _name, _elementwise(_name))


# ---------------------------------------------------------------------------
# Structure: conversions, sums and products of sparse matrices with values

def _lift(A):
    """A TrackedSparse for a plain scipy matrix (plain values) or a TrackedSparse."""
    if type(A) is TrackedSparse:
        return A
    _check_2d(A, "this operation")
    if A.format not in FORMATS:
        A = A.tocsr()
    return TrackedSparse(A.data, _Pattern(A))


def _from_positions(P, flat):
    """The TrackedSparse whose entries are those of the plain matrix P, whose stored
    values are 1 + the positions in ``flat`` (1-d) of the values they hold."""
    if P.format not in FORMATS:
        P = P.tocoo()
    pos = P.data.astype(np.intp) - 1
    n = shape_of(flat)[0]
    if len(pos) == n and np.array_equal(pos, np.arange(n)):
        vals = flat
    else:
        vals = flat[pos]
    template = P._with_data(np.zeros(len(pos)), copy=False)
    return TrackedSparse(vals, _Pattern(template))


def _keys(S, fmt="csr"):
    row, col = S._p.rowcol
    M, N = S.shape
    if fmt == "csr":
        return row.astype(np.int64) * N + col
    return col.astype(np.int64) * M + row


def _canonical(S, fmt, matrix):
    """S in csr or csc format with sorted indices and duplicates summed (scipy's tocsr)."""
    keys = _keys(S, fmt)
    uniq, inverse = np.unique(keys, return_inverse=True)
    if len(uniq) == len(keys) and np.all(keys[1:] > keys[:-1]):
        vals = S.data                   # already in that order
    elif len(uniq) == len(keys):
        vals = S.data[np.argsort(keys, kind="stable")]
    else:
        vals = segment_sum(S.data, inverse.ravel(), len(uniq))
    return TrackedSparse(vals, _compressed_pattern(uniq, S.shape, fmt, matrix))


def _convert(S, fmt, matrix):
    if fmt not in FORMATS:
        raise TypeError(_not_covered("the %s format for a sparse matrix with tracked stored "
                                     "values" % fmt, "Use the csr, csc or coo format."))
    if fmt == S.format and matrix == S.matrix:
        return S
    t = S._p.template
    if fmt == S.format:
        args = (t.data, (t.row, t.col)) if fmt == "coo" else (t.data, t.indices, t.indptr)
        return TrackedSparse(S.data, _Pattern(_container(fmt, matrix)(args, shape=S.shape), S._p.unique))
    if fmt == "coo":
        row, col = S._p.rowcol
        return TrackedSparse(S.data, _coo_pattern(row, col, S.shape, matrix, S._p.unique))
    return _canonical(S, fmt, matrix)


def _has_duplicates(S):
    if S._p.unique is None:
        keys = _keys(S)
        S._p.unique = len(np.unique(keys)) == len(keys)
    return not S._p.unique


def _deduped(S):
    """S with duplicate entries summed (for functions that are not linear in the values)."""
    if not _has_duplicates(S):
        return S
    C = _canonical(S, "csr" if S.format == "coo" else S.format, S.matrix)
    return _convert(C, "coo", S.matrix) if S.format == "coo" else C


def _check_same_shape(A, B, what):
    if A.shape != B.shape:
        raise ValueError("inconsistent shapes %s and %s in %s" % (A.shape, B.shape, what))


def _sum(A, B):
    """A + B of two sparse matrices (csr, as scipy gives it)."""
    _check_same_shape(A, B, "A + B")
    ra, ca = A._p.rowcol
    rb, cb = B._p.rowcol
    row = np.concatenate([ra, rb])
    col = np.concatenate([ca, cb])
    vals = np.concatenate([A.data, B.data])
    return _canonical(TrackedSparse(vals, _coo_pattern(row, col, A.shape, A.matrix)), "csr", A.matrix)


def _intersect(A, B):
    """A.multiply(B) of two sparse matrices: products of the entries both have."""
    _check_same_shape(A, B, "A.multiply(B)")
    A, B = _canonical(A, "csr", A.matrix), _canonical(B, "csr", A.matrix)
    common, ia, ib = np.intersect1d(_keys(A), _keys(B), assume_unique=True, return_indices=True)
    vals = A.data[ia] * B.data[ib]
    return TrackedSparse(vals, _compressed_pattern(common, A.shape, "csr", A.matrix))


def _product(A, B):
    """A @ B of two sparse matrices: C[i, j] = sum_k A[i, k] B[k, j], written as a sum
    of products of the stored values over every (entry of A, entry of B) pair that
    meets, so it is differentiable in both."""
    (M, K), (K2, N) = A.shape, B.shape
    if K != K2:
        raise ValueError("matmul: dimension mismatch with signature (n,k=%d),(k=%d,m)->(n,m)" % (K, K2))
    ra, ca = A._p.rowcol
    rb, cb = B._p.rowcol
    order = np.argsort(rb, kind="stable")
    counts = np.bincount(rb, minlength=K)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    per_a = counts[ca]
    total = int(per_a.sum())
    ia = np.repeat(np.arange(len(ca)), per_a)
    offset = np.arange(total) - np.repeat(np.cumsum(per_a) - per_a, per_a)
    ib = order[np.repeat(starts[ca], per_a) + offset]
    keys = ra[ia].astype(np.int64) * N + cb[ib]
    uniq, ic = np.unique(keys, return_inverse=True)
    vals = segment_sum(A.data[ia] * B.data[ib], ic.ravel(), len(uniq))
    return TrackedSparse(vals, _compressed_pattern(uniq, (M, N), "csr", A.matrix))


# ---------------------------------------------------------------------------
# Constructors: scipy's classes and diags, with tracked data

def _sparse_new(cls, *args, **kwargs):
    """scipy.sparse classes' __new__: a TrackedSparse for tracked data, else scipy's object."""
    if args:
        a = args[0]
        t = type(a)
        if t is TrackedSparse or t is Tracked or (t is tuple and a and (_tracked(a[0]) or (
                type(a[0]) in (list, tuple) and any(type(e) is Tracked for e in a[0])))):
            return _construct(cls, *args, **kwargs)
    return (dict.__new__(cls) if issubclass(cls, dict) else object.__new__(cls))


def _construct(cls, arg1, shape=None, dtype=None, copy=False, **kwargs):
    fmt = cls.format if isinstance(getattr(cls, "format", None), str) else cls._format
    matrix = issubclass(cls, sp.spmatrix)
    if type(arg1) is TrackedSparse:
        S = _convert(arg1, fmt if fmt in FORMATS else "coo", matrix)     # dia, bsr: held as coo
    elif type(arg1) is Tracked:
        raise TypeError(_dense_pattern_message(cls.__name__))
    else:
        data = _stacked(arg1[0])
        rest = tuple(_plain_deep(r) for r in arg1[1:])
        if type(data) is not Tracked:        # only an index was tracked: no derivative there
            return cls((data,) + rest, shape=shape, dtype=dtype, copy=copy, **kwargs)
        coo_form = fmt != "dia" and len(rest) == 1 and type(rest[0]) in (tuple, list)
        build = cls
        if coo_form and fmt != "coo":
            build = _container("coo", matrix)
            kwargs.pop("blocksize", None)
        P = build((_positions(shape_of(data)),) + rest, shape=shape, **kwargs)
        S = _from_positions(P, np.reshape(data, (-1,)))
        if fmt in FORMATS and fmt != S.format:
            S = _convert(S, fmt, matrix)
    if dtype is not None:
        S = S.astype(dtype)
    return S


def _diags_like(orig, name):
    """``on_tracked`` for diags, diags_array and spdiags: scipy's function run on the
    positions of the values, which are then read back from the matrix it makes."""
    sig = inspect.signature(orig)

    def on_tracked(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        a = bound.arguments
        first = next(iter(sig.parameters))          # diagonals, or spdiags' data
        fmt = a.pop("format", None)
        dtype = a.pop("dtype", None)
        if name == "spdiags":
            data = _stacked(a[first])
            flat = np.reshape(data, (-1,))
            a[first] = _positions(shape_of(data))
        else:
            d = a[first]
            offsets = a.get("offsets", 0)
            single = np.ndim(offsets) == 0 and (
                (type(d) is Tracked and np.ndim(value(d)) <= 1) or isinstance(d, np.ndarray)
                or (type(d) in (list, tuple) and (len(d) == 0 or np.ndim(value(d[0])) == 0)))
            parts = [_stacked(d)] if single else [_stacked(e) for e in d]
            sizes = [int(np.size(value(p))) for p in parts]
            starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.float64)
            ph = [_positions(np.shape(value(p))) + s for p, s in zip(parts, starts)]
            a[first] = ph[0] if single else ph
            flat = np.concatenate([np.reshape(p, (-1,)) for p in parts]) if len(parts) > 1 \
                else np.reshape(parts[0], (-1,))
        P = orig(*bound.args, **dict(bound.kwargs, format="coo"))
        S = _from_positions(P, flat)
        if fmt in ("csr", "csc"):
            S = _convert(S, fmt, S.matrix)
        return S if dtype is None else S.astype(dtype)     # dtype: only when given
    return on_tracked


# ---------------------------------------------------------------------------
# Methods of plain scipy matrices given a tracked operand

def _plain_matmul(A, x):
    if type(x) is TrackedSparse:
        return _product(_lift(A), x)
    _check_2d(A, "A @ x")
    if _is_scalar(x):
        raise ValueError("Scalar operands are not allowed, use '*' instead")
    return sparse_matmul(x, A)


def _plain_rmatmul(A, x):
    if type(x) is TrackedSparse:
        return _product(x, _lift(A))
    _check_2d(A, "x @ A")
    if _is_scalar(x):
        raise ValueError("Scalar operands are not allowed, use '*' instead")
    return np.transpose(sparse_matmul(np.transpose(x), A.T))


def _plain_dot(A, x):
    if _is_scalar(x):
        return _lift(A) * x
    return _plain_matmul(A, x)


def _plain_multiply(A, x):
    return _lift(A).multiply(x)


def _plain_matrix_mul(A, x):        # spmatrix: A * x is a product (a scaling for scalars)
    return _lift(A) * x if _is_scalar(x) else _plain_matmul(A, x)


def _plain_matrix_rmul(A, x):
    return _lift(A).__rmul__(x) if _is_scalar(x) else _plain_rmatmul(A, x)


def _plain_add(A, x):
    return _lift(A) + x             # a sparse result is of A's class, as scipy's


def _plain_radd(A, x):
    return _lift(A).__radd__(x)


def _plain_sub(A, x):
    return _lift(A) - x


def _plain_rsub(A, x):
    return _lift(A).__rsub__(x)


def _plain_truediv(A, x):
    return _lift(A) / x


def _plain_power(A, n, dtype=None):
    return _lift(A).power(n, dtype)


# The methods of scipy's classes that are wrapped, and what each does with a tracked
# operand; on the matrix classes (spmatrix's definitions) ``*`` is a product instead.
_METHODS = {
    "__matmul__": _plain_matmul, "__rmatmul__": _plain_rmatmul, "dot": _plain_dot,
    "multiply": _plain_multiply, "power": _plain_power, "__truediv__": _plain_truediv,
    "__add__": _plain_add, "__radd__": _plain_radd, "__sub__": _plain_sub, "__rsub__": _plain_rsub,
    "__mul__": _plain_multiply, "__rmul__": _plain_multiply,
}
_MATRIX_METHODS = {"__mul__": _plain_matrix_mul, "__rmul__": _plain_matrix_rmul}


def _patch_method(cls, name, handler):
    orig = cls.__dict__[name]
    if getattr(orig, "_zygcy", False):
        return

    @functools.wraps(orig)
    def method(self, other, *args, **kwargs):
        t = type(other)
        if t is Tracked or t is TrackedSparse:
            return handler(self, other, *args, **kwargs)
        return orig(self, other, *args, **kwargs)
    method._zygcy = True
    setattr(cls, name, method)


def _sparse_classes(module):
    return [getattr(module, n) for n in dir(module)
            if n.endswith(("_matrix", "_array")) and isinstance(getattr(module, n), type)
            and issubclass(getattr(module, n), module._base._spbase)]


def _patch_classes(module):
    base = module._base._spbase
    for cls in _sparse_classes(module):
        for name in _METHODS:
            definer = next((c for c in cls.__mro__ if name in c.__dict__), None)
            if definer is None or definer is object:
                continue
            handler = _MATRIX_METHODS.get(name) if definer is module.spmatrix else None
            _patch_method(definer, name, handler or _METHODS[name])
    if "__new__" not in base.__dict__:
        base.__new__ = _sparse_new


# ---------------------------------------------------------------------------
# scipy.sparse.linalg

def _solver_operand(A, fname):
    """(vals, pattern) of the matrix of a direct solve."""
    if type(A) is TrackedSparse:
        return A.data, A._p
    if type(A) is Tracked:
        raise TypeError(_not_covered(
            "scipy.sparse.linalg.%s of a tracked dense matrix" % fname,
            "Use numpy.linalg.solve(A, b) (differentiable), or make A sparse with tracked "
            "values: scipy.sparse.csc_matrix((A[i, j], (i, j)), shape=A.shape)."))
    if not sp.issparse(A):
        A = sp.csc_array(np.asarray(A))
    _check_2d(A, fname)
    A = A.tocsc()
    return A.data, _Pattern(A)


def _rhs(b, fname):
    if _is_sparse(b):
        raise TypeError(_not_covered("scipy.sparse.linalg.%s with a sparse right-hand side "
                                     "and tracked values" % fname, "Pass b.toarray()."))
    b = _stacked(b)
    return b if type(b) is Tracked else np.asarray(b)


def _spsolve(A, b, permc_spec=None, use_umfpack=True):
    vals, pattern = _solver_operand(A, "spsolve")
    b = _rhs(b, "spsolve")
    if np.ndim(value(b)) == 2 and shape_of(b)[1] == 1:
        b = np.reshape(b, (-1,))            # scipy returns a vector for an (n, 1) b
    factor = _Factor(pattern, {} if permc_spec is None else {"permc_spec": permc_spec})
    return sparse_solve(vals, b, pattern, factor)


class SuperLU:
    """scipy's SuperLU factorisation (what ``splu`` and ``spilu`` return here), whose
    ``solve`` is differentiable: in the right-hand side, and, for ``splu`` of a
    matrix with tracked values, in those values too; the adjoint solves reuse the
    factorisation. Every other attribute (L, U, perm_r, perm_c, shape, nnz) is
    scipy's object's."""

    def __init__(self, lu, A=None, vals=None, pattern=None, exact=True):
        self._lu = lu
        self._A = A                 # a plain matrix, or None when the values are tracked
        self._vals = vals
        self._factor = None if pattern is None else _Factor(pattern, {}, lu=lu, key=value(vals))
        self._exact = exact

    def __getattr__(self, name):
        return getattr(self.__dict__["_lu"], name)

    def __repr__(self):
        return "<zygcy SuperLU of %r>" % (self._lu,)

    def solve(self, rhs, trans="N"):
        tracked = self._A is None
        if trans not in ("N", "T", "H") or not (tracked or _involved((rhs,))):
            return self._lu.solve(rhs, trans)
        if tracked and not self._exact:
            raise TypeError(_not_covered(
                "spilu(A).solve in the values of A (an incomplete factorisation is not A^-1)",
                "Use splu(A), or an iterative solver preconditioned with it: "
                "gmres(A, b, M=scipy.sparse.linalg.LinearOperator(A.shape, ilu.solve))."))
        if self._factor is None:    # a plain matrix: its values are constants, read once
            A = self._A
            Ac = A.tocsc() if sp.issparse(A) else sp.csc_array(np.asarray(A))
            self._vals = Ac.data
            self._factor = _Factor(_Pattern(Ac), {}, lu=self._lu, key=Ac.data)
        return sparse_solve(self._vals, _rhs(rhs, "SuperLU.solve"), self._factor.pattern,
                            self._factor, trans)


def _factor_with(name):
    orig = ORIGINAL[name]

    def factor(A, *args, **kwargs):
        if type(A) is not TrackedSparse:
            if type(A) is Tracked:
                _solver_operand(A, name)        # raises, naming the fix
            return SuperLU(orig(A, *args, **kwargs), A=A, exact=(name == "splu"))
        lu = orig(A._p.plain(value(A.data)).tocsc(), *args, **kwargs)
        return SuperLU(lu, vals=A.data, pattern=A._p, exact=(name == "splu"))
    return factor


def _factorized(A):
    if type(A) is TrackedSparse or type(A) is Tracked:
        return _factor_with("splu")(A).solve
    solve = ORIGINAL["factorized"](A)
    lu = getattr(solve, "__self__", None)
    if isinstance(lu, sla.SuperLU):
        return SuperLU(lu, A=A).solve
    return solve            # umfpack: plain right-hand sides only


KRYLOV = ("cg", "gmres", "minres", "bicgstab", "bicg", "cgs", "lgmres", "gcrotmk", "tfqmr")
_HERMITIAN = ("cg", "minres")          # methods for Hermitian A (and M): the adjoint is A itself


def _plain_operator(M):
    """A preconditioner or start value as a plain object (x does not depend on it)."""
    if type(M) is TrackedSparse:
        return M.to_scipy()
    return _plain_deep(M)


def _krylov_wrapper(name):
    orig = ORIGINAL[name]
    sig = inspect.signature(orig)

    def on_tracked(*args, **kwargs):
        a = dict(sig.bind(*args, **kwargs).arguments)
        A = a.pop("A")
        b = _rhs(a.pop("b"), name)
        for k in ("x0", "M", "M1", "M2"):
            if k in a:
                a[k] = _plain_operator(a[k])        # x does not depend on them
        if type(A) is TrackedSparse:
            vals, pattern, constant = A.data, A._p, None
        elif type(A) is Tracked:
            raise TypeError(_not_covered(
                "scipy.sparse.linalg.%s of a tracked dense matrix" % name,
                "Use numpy.linalg.solve(A, b), or make A sparse with tracked values."))
        else:
            vals, pattern, constant = None, None, A
        x, info = iterative_solve(vals, b, _Krylov(orig, name, pattern, constant, a))
        return x, int(info)
    return on_tracked


def _expm_multiply(A, B, start=None, stop=None, num=None, endpoint=None, traceA=None):
    if _tracked(A):
        raise TypeError(_not_covered(
            "scipy.sparse.linalg.expm_multiply in A (zygcy differentiates it in B only)",
            "Wrap A in zygcy.dropgrad() if it is a constant, or use scipy.linalg.expm on a "
            "dense A."))
    options = tuple((k, v) for k, v in (("start", start), ("stop", stop), ("num", num),
                                         ("endpoint", endpoint), ("traceA", _plain_deep(traceA)))
                    if v is not None)
    return expm_multiply_v(_rhs(B, "expm_multiply"), A, options)


def _eigsh(*args, **kwargs):
    bound = inspect.signature(ORIGINAL["eigsh"]).bind(*args, **kwargs)
    a = dict(bound.arguments)
    A = a.pop("A")
    vectors = a.pop("return_eigenvectors", True)
    if type(A) is not TrackedSparse:
        raise TypeError(_not_covered(
            "scipy.sparse.linalg.eigsh of %s" % ("a tracked dense matrix" if type(A) is Tracked
                                                  else "a constant matrix with tracked options"),
            "Use numpy.linalg.eigh (differentiable) for a dense matrix, or make A sparse with "
            "tracked values; a tracked sigma or v0 does not change the eigenvalues: wrap it in "
            "zygcy.dropgrad()."))
    for k in ("M", "Minv", "OPinv", "v0", "sigma"):
        if k in a and _involved((a[k],)):
            if k in ("M", "Minv", "OPinv"):
                raise TypeError(_not_covered("scipy.sparse.linalg.eigsh with a tracked %s" % k,
                                             "Give a constant %s." % k))
            a[k] = _plain_operator(a[k])
    w, v = ORIGINAL["eigsh"](A.to_scipy(), **a)
    eigen = _Eigen(value(A.data), w, v, a)
    if vectors:
        return eigsh_pairs(A.data, A._p, eigen)
    return eigsh_values(A.data, A._p, eigen)


# ---------------------------------------------------------------------------
# scipy.sparse.csgraph.laplacian

def _laplacian(csgraph_, normed=False, return_diag=False, use_out_degree=False, *, copy=True,
               form="array", dtype=None, symmetrized=False):
    if form != "array":
        raise TypeError(_not_covered(
            "scipy.sparse.csgraph.laplacian(form=%r) of a graph with tracked weights" % (form,),
            "Use form='array' (the default)."))
    axis = 1 if use_out_degree else 0
    if type(csgraph_) is TrackedSparse:
        lap, w = _laplacian_sparse(csgraph_, normed, axis, symmetrized)
    else:
        lap, w = _laplacian_dense(_stacked(csgraph_), normed, axis, symmetrized)
    if dtype is not None:
        lap, w = lap.astype(dtype), w.astype(dtype)
    return (lap, w) if return_diag else lap


def _laplacian_sparse(G, normed, axis, symmetrized):
    n, n2 = G.shape
    if n != n2:
        raise ValueError("csgraph must be a square matrix or array")
    row, col = G._p.rowcol
    off = np.flatnonzero(row != col)            # the diagonal is ignored
    a, r, c = G.data[off], row[off], col[off]
    if symmetrized:
        a = np.concatenate([a, conj(a)])
        r, c = np.concatenate([r, c]), np.concatenate([c, r])
    degree = segment_sum(a, c if axis == 0 else r, n)
    diag = np.arange(n)
    if normed:
        isolated = (value(degree) == 0)
        w = np.sqrt(degree + isolated)          # 1 at isolated nodes, as scipy's
        vals = np.concatenate([-a / (w[r] * w[c]), (1 - isolated).astype(float)])
    else:
        w = degree
        vals = np.concatenate([-a, degree])
    pattern = _coo_pattern(np.concatenate([r, diag]), np.concatenate([c, diag]), G.shape, G.matrix)
    return TrackedSparse(vals, pattern), w


def _laplacian_dense(G, normed, axis, symmetrized):
    n = shape_of(G)[0]
    if np.ndim(value(G)) != 2 or shape_of(G)[1] != n:
        raise ValueError("csgraph must be a square matrix or array")
    if symmetrized:
        G = G + np.conj(np.transpose(G))
    m = G * (1.0 - np.eye(n))
    degree = np.sum(m, axis=axis)
    if normed:
        isolated = (value(degree) == 0)
        w = np.sqrt(degree + isolated)
        lap = -m / w / np.reshape(w, (n, 1)) + np.diag((1 - isolated).astype(float))
    else:
        w = degree
        lap = -m + np.diag(degree)
    return lap, w


# ---------------------------------------------------------------------------
# Registration

def _hook(module, name, handler, always=False):
    """Replace ``module.<name>`` by a function that calls ``handler`` when an argument is
    tracked or holds tracked values (or always), and scipy's function otherwise.
    ``zygcy.interop.wrap`` registers the replacement, so a name imported from the module
    before zygcy is reported."""
    hooked = wrap(module, name, handler, involved=_involved, always=always)
    ORIGINAL.setdefault(name, hooked.__wrapped__)
    WRAPPED["%s.%s" % (module.__name__, name)] = hooked
    return hooked


def _refuser(qualname):
    def refuse(*args, **kwargs):
        raise TypeError(_not_covered(qualname + " of tracked values"))
    return refuse


def _refuse_the_rest(module, covered, skip=()):
    for name in getattr(module, "__all__", ()):
        f = getattr(module, name, None)
        if name in covered or name in skip or isinstance(f, type) or not callable(f) \
                or getattr(f, "_zygcy", False):
            continue
        _hook(module, name, _refuser("%s.%s" % (module.__name__, name)))


def _register_sparse(module):
    global sp
    if sp is not None:
        return
    sp = module
    from ..containers import register_container
    register_container(TrackedSparse, lambda S: ([S.data], S._p),
                       lambda p, ch: TrackedSparse(ch[0], p),
                       lambda p, ch: None if ch[0] is None else TrackedSparse(ch[0], p))
    _register_rules()
    _patch_classes(sp)
    for name in ("diags", "diags_array", "spdiags"):
        if hasattr(sp, name):
            _hook(sp, name, _diags_like(getattr(sp, name), name))
    _refuse_the_rest(sp, covered=("diags", "diags_array", "spdiags"),
                     skip=("issparse", "isspmatrix", "isspmatrix_bsr", "isspmatrix_coo",
                           "isspmatrix_csc", "isspmatrix_csr", "isspmatrix_dia", "isspmatrix_dok",
                           "isspmatrix_lil", "get_index_dtype", "safely_cast_index_arrays",
                           "save_npz", "load_npz"))


def _register_linalg(module):
    global sla
    if sla is not None:
        return
    import scipy.sparse
    _register_sparse(scipy.sparse)
    sla = module
    _register_linalg_rules()
    ORIGINAL["splu"] = module.splu
    ORIGINAL["expm_multiply"] = module.expm_multiply
    ORIGINAL["eigsh"] = module.eigsh
    _hook(sla, "spsolve", _spsolve)
    ORIGINAL["spilu"] = module.spilu
    _hook(sla, "splu", _factor_with("splu"), always=True)
    _hook(sla, "spilu", _factor_with("spilu"), always=True)
    ORIGINAL["factorized"] = module.factorized
    _hook(sla, "factorized", _factorized, always=True)
    for name in KRYLOV:
        ORIGINAL[name] = getattr(module, name)
        _hook(sla, name, _krylov_wrapper(name))
    _hook(sla, "expm_multiply", _expm_multiply)
    _hook(sla, "eigsh", _eigsh)
    _refuse_the_rest(sla, covered=("spsolve", "splu", "spilu", "factorized", "expm_multiply",
                                   "eigsh") + KRYLOV,
                     skip=("use_solver", "is_sptriangular", "spbandwidth"))


def _register_csgraph(module):
    global csgraph
    if csgraph is not None:
        return
    import scipy.sparse
    _register_sparse(scipy.sparse)
    csgraph = module
    _hook(csgraph, "laplacian", _laplacian)
    _refuse_the_rest(csgraph, covered=("laplacian",))


when_imported("scipy.sparse", _register_sparse)
when_imported("scipy.sparse.linalg", _register_linalg)
when_imported("scipy.sparse.csgraph", _register_csgraph)
