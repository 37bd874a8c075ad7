"""Rules for contractions: matmul, dot, vdot, inner, outer, tensordot, kron,
cross, einsum, numpy 2's vecdot, matvec and vecmat, and their array-API
versions in numpy.linalg; and the 1-d convolutions convolve and correlate.

Every contraction is linear in each operand, so each is registered with
``defbilinear`` (``einsum``, of any number of operands, with one maker per
operand): the cotangent of one operand is the same contraction of the
cotangent with the (conjugated) other operands, ``dA = g @ B^H`` for
``A @ B``. Written with numpy functions on the possibly tracked operands,
those cotangents are differentiable again. The forward rules are the
contraction with one operand replaced by its tangent (made by ``defbilinear``,
which leaves a caller's ``out=`` alone; given here for einsum).
"""
import functools
import string

import numpy as np

from .. import _core
from ..extend import defbatched, defbilinear, defjvp, defvjp, nondifferentiable, unbroadcast, value
from ._util import H, axis_of, batch_aligned, conj, ndim_of, shape_of, unbroadcast_to
from .shape import uncrop

# The ufuncs among them (their other ufunc methods have no rules).
CONTRACTION_UFUNCS = [np.matmul] + [getattr(np, n) for n in ("vecdot", "matvec", "vecmat")
                                    if hasattr(np, n)]


# ---------------------------------------------------------------------------
# matmul: g @ B^H and A^H @ g, with 1-d operands promoted as numpy does

def _plain_real(x):
    return (type(x) is np.ndarray or isinstance(x, np.floating)) and x.dtype.kind != "c"


def _matmul_2d(which, g, a, b):
    """The cotangent of a or b for plain real matrices and vectors: the common case,
    written with ndarray operations only (no numpy function wrappers)."""
    if which == 0:
        if b.ndim == 2:
            return g @ b.T if a.ndim == 2 else b @ g        # (m,k)@(k,n), or (k,)@(k,n)
        return g[:, None] * b if a.ndim == 2 else g * b      # (m,k)@(k,), or a dot product
    if a.ndim == 2:
        return a.T @ g if b.ndim == 2 else g @ a            # (m,k)@(k,n), or (m,k)@(k,)
    return a[:, None] * g if b.ndim == 2 else g * a          # (k,)@(k,n), or a dot product


def _matmul_cotangent(which, g, a, b, kwargs):
    if "axes" in kwargs or "axis" in kwargs:
        raise NotImplementedError("zygcy: numpy.matmul with axes= has no gradient rule; "
                                  "move the axes with np.moveaxis first")
    ashape, bshape = shape_of(a), shape_of(b)
    if _plain_real(g) and _plain_real(a) and _plain_real(b) and len(ashape) <= 2 and len(bshape) <= 2:
        return _matmul_2d(which, g, a, b)
    a2 = a if len(ashape) > 1 else np.expand_dims(a, 0)
    b2 = b if len(bshape) > 1 else np.expand_dims(b, -1)
    if len(bshape) == 1:
        g = np.expand_dims(g, -1)
    if len(ashape) == 1:
        g = np.expand_dims(g, -2)
    if which == 0:
        r = unbroadcast_to(shape_of(a2), g @ H(b2))
        return np.reshape(r, ashape) if len(ashape) == 1 else r
    r = unbroadcast_to(shape_of(b2), H(a2) @ g)
    return np.reshape(r, bshape) if len(bshape) == 1 else r


def _plain_real_2d(g, a, b):
    """g, a and b are plain real ndarrays of at most 2 dimensions: the common case.
    (Tracked ones, of a derivative taken again, take the general path: its
    expand_dims and matmul are cheaper on them than _matmul_2d's indexing.)"""
    return (type(a) is np.ndarray and type(b) is np.ndarray and type(g) is np.ndarray
            and a.ndim <= 2 and b.ndim <= 2 and a.dtype.kind in _REAL_KINDS
            and b.dtype.kind in _REAL_KINDS and g.dtype.kind in _REAL_KINDS)


_REAL_KINDS = frozenset("biuf")


def _matmul_first(g, a, b, **kwargs):
    if not kwargs and _plain_real_2d(g, a, b):
        return _matmul_2d(0, g, a, b)       # plain real matrices and vectors: the common case
    return _matmul_cotangent(0, g, a, b, kwargs)


def _matmul_second(g, a, b, **kwargs):
    if not kwargs and _plain_real_2d(g, a, b):
        return _matmul_2d(1, g, a, b)
    return _matmul_cotangent(1, g, a, b, kwargs)


# ---------------------------------------------------------------------------
# tensordot, dot, inner: tensordot of g with the other operand over its free axes

def _tensordot_axes(axes, na, nb):
    """Normalized (axes of a, axes of b) contracted by tensordot."""
    if np.ndim(axes) == 0:
        n = int(axes)
        return list(range(na - n, na)), list(range(n))
    xa, xb = axes
    xa = [xa] if np.ndim(xa) == 0 else list(xa)
    xb = [xb] if np.ndim(xb) == 0 else list(xb)
    return [axis_of(int(i), na) for i in xa], [axis_of(int(i), nb) for i in xb]


def _tensordot_cotangent(which, g, a, b, xa, xb):
    """The cotangent of operand ``which`` of tensordot(a, b, (xa, xb))."""
    na, nb = ndim_of(a), ndim_of(b)
    free_a = [i for i in range(na) if i not in xa]
    free_b = [i for i in range(nb) if i not in xb]
    nfa, nfb = len(free_a), len(free_b)
    if which == 0:
        # tensordot(g, conj(b)) over b's free axes gives a's free axes, then a's
        # contracted axes in the order b holds their partners.
        order = free_a + [xa[k] for k in np.argsort(xb)]
        ct = np.tensordot(g, conj(b), (list(range(nfa, nfa + nfb)), free_b))
    else:
        order = [xb[k] for k in np.argsort(xa)] + free_b
        ct = np.tensordot(conj(a), g, (free_a, list(range(nfa))))
    return np.transpose(ct, tuple(np.argsort(order)))


def _tensordot_first(g, a, b, axes=2):
    return _tensordot_cotangent(0, g, a, b, *_tensordot_axes(axes, ndim_of(a), ndim_of(b)))


def _tensordot_second(g, a, b, axes=2):
    return _tensordot_cotangent(1, g, a, b, *_tensordot_axes(axes, ndim_of(a), ndim_of(b)))


def _scaled(which, g, a, b):
    """The cotangent of a * b (a product with a 0-d operand) for operand ``which``."""
    return unbroadcast(a, g * conj(b)) if which == 0 else unbroadcast(b, conj(a) * g)


def _dot_cotangent(which, g, a, b):
    na, nb = ndim_of(a), ndim_of(b)
    if na == 0 or nb == 0:
        return _scaled(which, g, a, b)
    return _tensordot_cotangent(which, g, a, b, [na - 1], [max(nb - 2, 0)])


def _inner_cotangent(which, g, a, b):
    na, nb = ndim_of(a), ndim_of(b)
    if na == 0 or nb == 0:
        return _scaled(which, g, a, b)
    return _tensordot_cotangent(which, g, a, b, [na - 1], [nb - 1])


def _dot_first(g, a, b, out=None):
    return _dot_cotangent(0, g, a, b)


def _dot_second(g, a, b, out=None):
    return _dot_cotangent(1, g, a, b)


def _inner_first(g, a, b):
    return _inner_cotangent(0, g, a, b)


def _inner_second(g, a, b):
    return _inner_cotangent(1, g, a, b)


# ---------------------------------------------------------------------------
# outer, vdot, kron

def _outer_first(g, a, b, out=None):
    return np.reshape(g @ conj(np.ravel(b)), shape_of(a))


def _outer_second(g, a, b, out=None):
    return np.reshape(conj(np.ravel(a)) @ g, shape_of(b))


# vdot(a, b) = sum(conj(a) * b) is not holomorphic in a: its cotangent is conj(g) * b.
def _vdot_first(g, a, b):
    return np.reshape(conj(g) * np.ravel(b), shape_of(a))


def _vdot_second(g, a, b):
    return np.reshape(g * np.ravel(a), shape_of(b))


def _kron_cotangent(which, g, a, b):
    sa, sb = shape_of(a), shape_of(b)
    d = max(len(sa), len(sb))
    fa, fb = (1,) * (d - len(sa)) + sa, (1,) * (d - len(sb)) + sb
    G = np.reshape(g, tuple(n for pair in zip(fa, fb) for n in pair))     # (a0, b0, a1, b1, ...)
    if which == 0:
        r = np.tensordot(G, conj(np.reshape(b, fb)), (list(range(1, 2 * d, 2)), list(range(d))))
        return np.reshape(r, sa)
    r = np.tensordot(conj(np.reshape(a, fa)), G, (list(range(d)), list(range(0, 2 * d, 2))))
    return np.reshape(r, sb)


def _kron_first(g, a, b):
    return _kron_cotangent(0, g, a, b)


def _kron_second(g, a, b):
    return _kron_cotangent(1, g, a, b)


# ---------------------------------------------------------------------------
# cross: <g, a x b> = <conj(b) x g, a> = <g x conj(a), b>, on the vector axis

def _cross_cotangent(which, g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    if shape_of(a)[axisa] != 3 or shape_of(b)[axisb] != 3:
        raise NotImplementedError("zygcy: numpy.cross has a gradient rule for 3-vectors only")
    x, axis_x = (a, axisa) if which == 0 else (b, axisb)
    A, B = np.moveaxis(a, axisa, -1), np.moveaxis(b, axisb, -1)
    G = np.moveaxis(g, axisc if ndim_of(g) > 1 else -1, -1)
    r = np.cross(conj(B), G) if which == 0 else np.cross(G, conj(A))
    r = unbroadcast_to(np.shape(np.moveaxis(value(x), axis_x, -1)), r)
    return np.moveaxis(r, -1, axis_x)


def _cross_first(g, a, b, *args, **kwargs):
    return _cross_cotangent(0, g, a, b, *args, **kwargs)


def _cross_second(g, a, b, *args, **kwargs):
    return _cross_cotangent(1, g, a, b, *args, **kwargs)


# ---------------------------------------------------------------------------
# numpy 2's gufuncs: vecdot(x1, x2) = sum(conj(x1) * x2), matvec, vecmat(v, A) = conj(v) @ A

def _gufunc_axis(kwargs, name):
    if "axes" in kwargs:
        raise NotImplementedError("zygcy: numpy.%s with axes= has no gradient rule; use axis=" % name)
    return kwargs.get("axis", -1)


def _vecdot_cotangent(which, g, x1, x2, kwargs):
    axis = _gufunc_axis(kwargs, "vecdot")
    G = np.expand_dims(g, -1)
    A, B = np.moveaxis(x1, axis, -1), np.moveaxis(x2, axis, -1)
    r = conj(G) * B if which == 0 else G * A            # conj(g) x2 for x1, g x1 for x2
    x = x1 if which == 0 else x2
    r = unbroadcast_to(np.shape(np.moveaxis(value(x), axis, -1)), r)
    return np.moveaxis(r, -1, axis)


def _vecdot_first(g, x1, x2, **kwargs):
    return _vecdot_cotangent(0, g, x1, x2, kwargs)


def _vecdot_second(g, x1, x2, **kwargs):
    return _vecdot_cotangent(1, g, x1, x2, kwargs)


def _matvec_first(g, x1, x2, **kwargs):
    _gufunc_axis(kwargs, "matvec")      # A: g outer conj(v)
    return unbroadcast(x1, np.expand_dims(g, -1) * conj(np.expand_dims(x2, -2)))


def _matvec_second(g, x1, x2, **kwargs):
    _gufunc_axis(kwargs, "matvec")
    return unbroadcast(x2, np.matvec(H(x1), g))


def _vecmat_first(g, x1, x2, **kwargs):
    _gufunc_axis(kwargs, "vecmat")
    return unbroadcast(x1, np.matvec(x2, conj(g)))


def _vecmat_second(g, x1, x2, **kwargs):
    _gufunc_axis(kwargs, "vecmat")
    return unbroadcast(x2, np.expand_dims(x1, -1) * np.expand_dims(g, -2))


# numpy.linalg.outer takes 1-d vectors only
def _linalg_outer_first(g, a, b):
    return g @ conj(b)


def _linalg_outer_second(g, a, b):
    return conj(a) @ g


defbilinear(np.matmul, _matmul_first, _matmul_second)
defbilinear(np.tensordot, _tensordot_first, _tensordot_second)
defbilinear(np.dot, _dot_first, _dot_second)
defbilinear(np.inner, _inner_first, _inner_second)
defbilinear(np.outer, _outer_first, _outer_second)
defbilinear(np.vdot, _vdot_first, _vdot_second)
defbilinear(np.kron, _kron_first, _kron_second)
defbilinear(np.cross, _cross_first, _cross_second)


# Batched forward rules (zygcy.extend.defbatched)

def _matmul_first_batched(tb, ans, a, b, **kwargs):
    na, nb = ndim_of(a), ndim_of(b)
    if kwargs or (na == 1 and nb > 2):
        return NotImplemented       # numpy would broadcast the batch axis with b's stack
    return np.matmul(batch_aligned(tb, nb) if na >= 2 and nb >= 2 else tb, b)


def _matmul_second_batched(tb, ans, a, b, **kwargs):
    na, nb = ndim_of(a), ndim_of(b)
    if kwargs or (nb == 1 and na > 2):
        return NotImplemented
    if nb == 1:                     # a @ t for a vector t: t @ a^T, the batch axis first
        return np.matmul(tb, a) if na == 1 else np.matmul(tb, np.swapaxes(a, -1, -2))
    return np.matmul(a, batch_aligned(tb, na) if na >= 2 else tb)


defbatched(np.matmul, _matmul_first_batched, _matmul_second_batched)

# x @ y of float64 matrices and vectors is recorded by the engine as one node whose
# sweep computes _matmul_2d's cotangents itself (in C for small sizes, up to a few
# thousand multiply-adds: the engine's _kernels.pxi; tests/rules/test_kernels.py checks them
# against _matmul_2d). Registering matmul's rule again drops this.
_core.use_kernels(np.matmul)


def _as_matmul(batched):
    """dot's batched rule: matmul's where dot is matmul (operands of 1 or 2 axes)."""
    def dot_batched(tb, ans, a, b, **kwargs):
        if kwargs or not (1 <= ndim_of(a) <= 2 and 1 <= ndim_of(b) <= 2):
            return NotImplemented
        return batched(tb, ans, a, b)
    return dot_batched


defbatched(np.dot, _as_matmul(_matmul_first_batched), _as_matmul(_matmul_second_batched))
if hasattr(np, "vecdot"):       # numpy >= 2.0
    defbilinear(np.vecdot, _vecdot_first, _vecdot_second)
if hasattr(np, "matvec"):       # numpy >= 2.2
    defbilinear(np.matvec, _matvec_first, _matvec_second)
    defbilinear(np.vecmat, _vecmat_first, _vecmat_second)

# ---------------------------------------------------------------------------
# convolve(a, v, mode) and correlate(a, v, mode): a window of the full convolution
# of a with v (with conj(v[::-1]) for correlate). The cotangent g is placed back
# in the full length, then: for convolve, correlate(G, v) for a and correlate(G, a)
# for v; for correlate, convolve(G, v) for a and conj(correlate(G, a))[::-1] for v
# (correlate conjugates v: it is conjugate-linear in v). All 'valid'.

_MODES = {0: "valid", 1: "same", 2: "full"}


def _conv_window(a, v, mode, corr):
    """(full length, start, length) of the result of numpy's convolve/correlate in
    the full convolution, for inputs of sizes M and N."""
    m, n = int(np.size(value(a))), int(np.size(value(v)))
    mode = _MODES[int(mode)] if isinstance(mode, (int, np.integer)) else str(mode)
    full = m + n - 1
    if mode.startswith("f"):
        return full, 0, full
    if mode.startswith("s"):
        # numpy centres 'same' on the shorter input; correlate with the longer v
        # second is the mirror image of correlate(v, a)
        return full, (m // 2 if corr and m < n else (min(m, n) - 1) // 2), max(m, n)
    return full, min(m, n) - 1, max(m, n) - min(m, n) + 1


def _full_cotangent(g, a, v, mode, corr):
    full, start, n = _conv_window(a, v, mode, corr)
    g = np.reshape(g, (n,))
    return g if n == full else uncrop(g, (full,), (slice(start, start + n),))


def _convolve_first(g, a, v, mode="full"):
    return np.reshape(np.correlate(_full_cotangent(g, a, v, mode, False), np.ravel(v), "valid"), shape_of(a))


def _convolve_second(g, a, v, mode="full"):
    return np.reshape(np.correlate(_full_cotangent(g, a, v, mode, False), np.ravel(a), "valid"), shape_of(v))


def _correlate_first(g, a, v, mode="valid"):
    return np.reshape(np.convolve(_full_cotangent(g, a, v, mode, True), np.ravel(v), "valid"), shape_of(a))


def _correlate_second(g, a, v, mode="valid"):
    ct = conj(np.correlate(_full_cotangent(g, a, v, mode, True), np.ravel(a), "valid"))
    return np.reshape(ct[::-1], shape_of(v))


defbilinear(np.convolve, _convolve_first, _convolve_second)
defbilinear(np.correlate, _correlate_first, _correlate_second)

# numpy 2's array-API names in numpy.linalg
LINALG_CONTRACTIONS = {
    "matmul": (_matmul_first, _matmul_second),
    "tensordot": (_tensordot_first, _tensordot_second),
    "vecdot": (_vecdot_first, _vecdot_second),
    "cross": (_cross_first, _cross_second),
    "outer": (_linalg_outer_first, _linalg_outer_second),
}
for _name, (_first, _second) in LINALG_CONTRACTIONS.items():
    if hasattr(np.linalg, _name):       # numpy >= 2.0
        defbilinear(getattr(np.linalg, _name), _first, _second)


# ---------------------------------------------------------------------------
# einsum. Both call forms are brought to one: a list of input subscripts and
# an output subscript, every label a letter and every ellipsis spelled out.
# The cotangent of operand k is one more einsum: of g (with the output's
# labels) and the other operands conjugated, with output operand k's labels.
# A label repeated in operand k (a diagonal, a trace) gets a fresh letter tied
# to the first by an identity matrix; a label only operand k has (summed out)
# gets a vector of ones.

LETTERS = string.ascii_uppercase + string.ascii_lowercase
EINSUM_OPERANDS = 130       # positions with a maker (operands and, in the sublist form, subscripts)


def _einsum_normal(args):
    """(subscripts string, operands, operand positions in args) for either call form."""
    if isinstance(args[0], str):
        return args[0].replace(" ", ""), list(args[1:]), list(range(1, len(args)))
    ops, subs, pos = [], [], []
    n = len(args) // 2
    for k in range(n):
        ops.append(args[2 * k])
        pos.append(2 * k)
        subs.append("".join("..." if s is Ellipsis else LETTERS[s] for s in args[2 * k + 1]))
    spec = ",".join(subs)
    if len(args) % 2 == 1:
        spec += "->" + "".join("..." if s is Ellipsis else LETTERS[s] for s in args[-1])
    return spec, ops, pos


def _einsum_labels(spec, shapes):
    """Input subscripts and output subscript, ellipses replaced by fresh letters;
    and the letters still unused."""
    ins, _, out = spec.partition("->")
    explicit = "->" in spec
    ins = ins.split(",")
    used = set(spec)
    fresh = [c for c in LETTERS if c not in used]
    nell = max([len(shp) - len(s.replace("...", "")) for s, shp in zip(ins, shapes) if "..." in s] or [0])
    ell = "".join(fresh[:nell])
    fresh = fresh[nell:]
    full = []
    for s, shp in zip(ins, shapes):
        if "..." in s:
            k = len(shp) - len(s.replace("...", ""))
            s = s.replace("...", ell[nell - k:])
        full.append(s)
    if explicit:
        out = out.replace("...", ell)
    else:
        plain = "".join(s.replace("...", "") for s in ins)
        out = ell + "".join(sorted(c for c in set(plain) if plain.count(c) == 1))
    return full, out, fresh


@functools.lru_cache(maxsize=1024)
def _einsum_plan(spec, shapes, k):
    """How to pull back operand k: the einsum expression, the constant operands it
    adds (read-only, shared), the other operands' positions, and whether to optimize."""
    ins, out, fresh = _einsum_labels(spec, shapes)
    mine, shape = ins[k], shapes[k]
    extra_subs, extra_ops, target = [], [], []
    present = set(out).union(*[set(s) for j, s in enumerate(ins) if j != k])
    fresh = iter(fresh)
    for c, n in zip(mine, shape):
        if c in target:     # a repeated label: a new letter tied to c by an identity
            new = next(fresh)
            extra_subs.append(c + new)
            extra_ops.append(np.eye(n))
            target.append(new)
        else:
            target.append(c)
            if c not in present:    # summed out by operand k alone: broadcast back
                extra_subs.append(c)
                extra_ops.append(np.ones(n))
                present.add(c)
    for e in extra_ops:
        e.setflags(write=False)
    others = tuple(j for j in range(len(ins)) if j != k)
    expr = ",".join([out] + [ins[j] for j in others] + extra_subs) + "->" + "".join(target)
    return expr, tuple(extra_ops), others, len(others) + len(extra_ops) >= 2


def _einsum_maker_at(position):
    """The maker for the argument at ``position`` of einsum (which operand it is
    depends on the call form, so each position has its own)."""
    def einsum_maker(ans, *args, **kwargs):
        spec, ops, pos = _einsum_normal(args)
        k = pos.index(position)
        shapes = tuple(shape_of(o) for o in ops)
        expr, extra, others, optimize = _einsum_plan(spec, shapes, k)
        shape = shapes[k]

        def einsum_pullback(g):
            r = np.einsum(expr, g, *[conj(ops[j]) for j in others], *extra, optimize=optimize)
            return unbroadcast_to(shape, r)
        return einsum_pullback
    return einsum_maker


def _einsum_jvp_at(position):
    """The forward rule of the argument at ``position``: the same einsum with that
    operand replaced by its tangent (linear in each operand; out= left out)."""
    def einsum_jvp(t, ans, *args, **kwargs):
        args = list(args)
        args[position] = t
        return np.einsum(*args, **{k: v for k, v in kwargs.items() if k != "out"})
    return einsum_jvp


defvjp(np.einsum, *[_einsum_maker_at(i) for i in range(EINSUM_OPERANDS)])
defjvp(np.einsum, *[_einsum_jvp_at(i) for i in range(EINSUM_OPERANDS)])
nondifferentiable(np.einsum_path)
