"""Rules for moving elements around and for contractions.

Two families live here:

* shape and assembly -- reshape, transpose, concatenate/stack and their
  variants, split, repeat, tile, insert/delete, roll, flip, diag, triu, pad,
  diff, sort, ... Each of these only moves (or copies, or drops) elements, so
  its pullback moves the cotangent back: the inverse reshape, the inverse
  permutation, a split for a concatenate, a sum over the copies for a repeat.
  Where numpy's bookkeeping is intricate (pad's modes, insert) the rule runs
  the function once on element numbers to learn where each element went.
* contractions -- matmul, dot, vdot, inner, outer, tensordot, einsum, kron,
  cross and numpy 2's vecdot, matvec, vecmat. Each is linear in every
  operand, so the cotangent of one operand is the same contraction of the
  cotangent with the (conjugated) other operands: ``dA = g @ B^H``.

Pullbacks are written with numpy functions and operators (never
``np.asarray``) so that they are differentiable again; ``value(x)`` is only
used for shapes, permutations and masks. A few private linear maps (gather
and scatter along an axis, crop and uncrop, a permutation, embedding a
diagonal) have their own rules: each one's pullback is the other of its pair,
so pullbacks built from them can be differentiated any number of times.
"""
import functools
import string

import numpy as np

from ..extend import Tracked, defvjp, nondifferentiable, primitive, unbroadcast, value
from ._util import unbroadcast_to


def _shape(x):
    v = value(x)
    return v.shape if type(v) is np.ndarray else np.shape(v)


def _ndim(x):
    return np.ndim(value(x))


def _is_complex(x):
    return np.iscomplexobj(value(x))


def _conj(x):
    """conj(x) for complex x; x itself otherwise (no copy, no node)."""
    return np.conjugate(x) if _is_complex(x) else x


def _H(x):
    """The conjugate transpose of the last two axes."""
    return _conj(np.swapaxes(x, -1, -2))


def _axis(axis, ndim):
    """A non-negative axis."""
    return axis + ndim if axis < 0 else axis


def _axes(axis, ndim):
    """A tuple of non-negative axes (all of them for None)."""
    if axis is None:
        return tuple(range(ndim))
    if np.ndim(axis) == 0:
        axis = (axis,)
    return tuple(_axis(int(a), ndim) for a in axis)


# ---------------------------------------------------------------------------
# Private linear maps, each the adjoint of another, with their own rules.
# Called on a tracked value they record themselves (at every level of nesting),
# so their plain bodies only ever see plain arrays.

_linear_map = primitive


@_linear_map
def _gather(x, idx, axis):
    """np.take(x, idx, axis): pick (and repeat) slices along one axis."""
    return np.take(x, idx, axis=axis)


@_linear_map
def _scatter(g, idx, axis, n):
    """The adjoint of _gather: add the slices of g into a zero array of length n along axis."""
    g = np.asarray(g)
    moved = np.moveaxis(g, axis, 0)
    out = np.zeros((n,) + moved.shape[1:], dtype=g.dtype)
    np.add.at(out, idx, moved)
    return np.moveaxis(out, 0, axis)


@_linear_map
def _crop(x, index):
    """x[index] for a tuple of slices (a box of x)."""
    return x[index]


@_linear_map
def _uncrop(g, shape, index):
    """The adjoint of _crop: zeros of ``shape`` with g placed at ``index``."""
    g = np.asarray(g)
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g
    return out


@_linear_map
def _permute(x, perm, axis):
    """np.take_along_axis(x, perm, axis) for perm a permutation along axis."""
    return np.take_along_axis(x, perm, axis=axis)


@_linear_map
def _diag_embed(g, m, n, k):
    """Zeros of shape g.shape[:-1] + (m, n) with g on the k-th diagonal of the last two axes."""
    g = np.asarray(g)
    out = np.zeros(g.shape[:-1] + (m, n), dtype=g.dtype)
    r, c, n_diag = max(-k, 0), max(k, 0), g.shape[-1]
    np.einsum("...ii->...i", out[..., r:r + n_diag, c:c + n_diag])[...] = g
    return out


defvjp(_gather, lambda ans, x, idx, axis: lambda g: _scatter(g, idx, axis, _shape(x)[axis]))
defvjp(_scatter, lambda ans, g, idx, axis, n: lambda h: _gather(h, idx, axis))
defvjp(_crop, lambda ans, x, index: lambda g: _uncrop(g, _shape(x), index))
defvjp(_uncrop, lambda ans, g, shape, index: lambda h: _crop(h, index))
defvjp(_permute, lambda ans, x, perm, axis: lambda g: _permute(g, np.argsort(perm, axis=axis), axis))
defvjp(_diag_embed, lambda ans, g, m, n, k: lambda h: np.diagonal(h, k, -2, -1))


def _resize_axis(x, axis, n):
    """x cropped or zero-padded at the end of ``axis`` to length n (as numpy.fft does)."""
    shape = _shape(x)
    have = shape[axis]
    if have == n:
        return x
    if have > n:
        index = tuple(slice(0, n) if i == axis else slice(None) for i in range(len(shape)))
        return _crop(x, index)
    new = list(shape)
    new[axis] = n
    index = tuple(slice(0, have) if i == axis else slice(None) for i in range(len(shape)))
    return _uncrop(x, tuple(new), index)


# ---------------------------------------------------------------------------
# Reshaping: the pullback reshapes back (the element order is unchanged)

def _reshape_order(a, order):
    """The order a cotangent is read back in ('A' is 'F' only for Fortran-only arrays)."""
    if order == "A":
        v = np.asarray(value(a))
        return "F" if v.flags.f_contiguous and not v.flags.c_contiguous else "C"
    return order or "C"


def _unreshape_maker(ans, a, order="C"):
    shape, o = _shape(a), _reshape_order(a, order)
    return lambda g: np.reshape(g, shape, order=o)


def _back_to_shape(ans, a, *args, **kwargs):
    shape = _shape(a)
    return lambda g: np.reshape(g, shape)


def _reshape_maker(ans, a, shape=None, order="C", **kwargs):
    return _unreshape_maker(ans, a, order=order)


def _ravel_maker(ans, a, order="C"):
    if order == "K":
        # memory order: which element (in C order) lands at each position
        v = value(a)
        idx = np.empty_like(v, dtype=np.intp)
        idx[...] = np.arange(idx.size).reshape(idx.shape)
        flat, shape = np.ravel(idx, order="K"), _shape(a)
        return lambda g: np.reshape(_scatter(g, flat, 0, flat.size), shape)
    return _unreshape_maker(ans, a, order=order)


defvjp(np.reshape, _reshape_maker)
defvjp(np.ravel, _ravel_maker)
defvjp(np.expand_dims, _back_to_shape)
defvjp(np.squeeze, _back_to_shape)
defvjp(np.copy, lambda ans, a, *args, **kwargs: lambda g: g)


def _atleast_maker(i):
    def maker(ans, *arys):
        shape = _shape(arys[i])
        if len(arys) == 1:
            return lambda g: np.reshape(g, shape)
        return lambda g: None if g[i] is None else np.reshape(g[i], shape)
    return maker


ATLEAST_MAKERS = [_atleast_maker(i) for i in range(64)]
defvjp(np.atleast_1d, *ATLEAST_MAKERS)
defvjp(np.atleast_2d, *ATLEAST_MAKERS)
defvjp(np.atleast_3d, *ATLEAST_MAKERS)


# ---------------------------------------------------------------------------
# Permuting axes: the pullback applies the inverse permutation

def _transpose_maker(ans, a, axes=None):
    nd = _ndim(a)
    axes = tuple(reversed(range(nd))) if axes is None else _axes(axes, nd)
    inverse = tuple(np.argsort(axes))
    return lambda g: np.transpose(g, inverse)


defvjp(np.transpose, _transpose_maker)
defvjp(np.swapaxes, lambda ans, a, axis1, axis2: lambda g: np.swapaxes(g, axis1, axis2))
defvjp(np.moveaxis, lambda ans, a, source, destination: lambda g: np.moveaxis(g, destination, source))
defvjp(np.broadcast_to, lambda ans, array, shape, subok=False: lambda g: unbroadcast(array, g))


def _broadcast_arrays_maker(i):
    def maker(ans, *args, subok=False):
        return lambda g: None if g[i] is None else unbroadcast(args[i], g[i])
    return maker


def rollaxis_pullback_maker(ans, a, axis, start=0):
    nd = _ndim(a)
    axis, start = _axis(axis, nd), _axis(start, nd)
    order = list(range(nd))
    if axis < start:
        start -= 1
    order.remove(axis)
    order.insert(start, axis)
    inverse = tuple(np.argsort(order))
    return lambda g: np.transpose(g, inverse)


defvjp(np.broadcast_arrays, *[_broadcast_arrays_maker(i) for i in range(64)])
defvjp(np.rollaxis, rollaxis_pullback_maker)
if hasattr(np, "matrix_transpose"):     # numpy >= 2.2
    defvjp(np.matrix_transpose, lambda ans, x: lambda g: np.swapaxes(g, -1, -2))


# ---------------------------------------------------------------------------
# Assembly: functions that promote each array, then concatenate along an axis.
# The pullback splits the cotangent at the same places and undoes the promotion.

def _assembly_pullback(arrays, promote, axis):
    shapes = [_shape(a) for a in arrays]
    promoted = [np.shape(promote(np.asarray(value(a)))) for a in arrays]
    axis = _axis(axis, len(promoted[0]))
    cuts = np.cumsum([p[axis] for p in promoted])[:-1]

    def assembly_pullback(g):
        parts = np.split(g, cuts, axis=axis) if len(shapes) > 1 else [g]
        return [np.reshape(p, s) for p, s in zip(parts, shapes)]
    return assembly_pullback


def _concatenate_maker(ans, arrays, axis=0, out=None, **kwargs):
    if axis is None:
        return _assembly_pullback(arrays, np.ravel, 0)
    return _assembly_pullback(arrays, lambda a: a, axis)


def _stack_maker(ans, arrays, axis=0, out=None, **kwargs):
    axis = _axis(axis, _ndim(arrays[0]) + 1)
    return _assembly_pullback(arrays, lambda a: np.expand_dims(a, axis), axis)


def _hstack_axis(arrays):
    return 0 if all(_ndim(a) <= 1 for a in arrays) else 1


def _column(a):
    return a.reshape(-1, 1) if a.ndim < 2 else a


defvjp(np.concatenate, _concatenate_maker)
defvjp(np.stack, _stack_maker)
defvjp(np.vstack, lambda ans, tup, **kw: _assembly_pullback(tup, np.atleast_2d, 0))
defvjp(np.hstack, lambda ans, tup, **kw: _assembly_pullback(tup, np.atleast_1d, _hstack_axis(tup)))
defvjp(np.dstack, lambda ans, tup, **kw: _assembly_pullback(tup, np.atleast_3d, 2))
defvjp(np.column_stack, lambda ans, tup, **kw: _assembly_pullback(tup, _column, 1))


def _unstack_maker(ans, x, axis=0):
    shape = _shape(x)
    axis = _axis(axis, len(shape))

    def unstack_pullback(gs):
        parts = [np.zeros(shape[:axis] + shape[axis + 1:], dtype=value(x).dtype) if g is None else g
                 for g in gs]
        return np.stack(parts, axis=axis)
    return unstack_pullback


if hasattr(np, "unstack"):      # numpy >= 2.1
    defvjp(np.unstack, _unstack_maker)


# ---------------------------------------------------------------------------
# Splitting: the pullback concatenates the pieces' cotangents (zeros for None)

def _split_pullback(ans, axis):
    def split_pullback(gs):
        parts = [np.zeros(_shape(a), dtype=value(a).dtype) if g is None else g for g, a in zip(gs, ans)]
        return np.concatenate(parts, axis=axis)
    return split_pullback


def _split_maker(ans, ary, indices_or_sections, axis=0):
    return _split_pullback(ans, axis)


defvjp(np.split, _split_maker)
defvjp(np.array_split, _split_maker)
defvjp(np.hsplit, lambda ans, ary, indices_or_sections: _split_pullback(ans, 1 if _ndim(ary) > 1 else 0))
defvjp(np.vsplit, lambda ans, ary, indices_or_sections: _split_pullback(ans, 0))
defvjp(np.dsplit, lambda ans, ary, indices_or_sections: _split_pullback(ans, 2))


# ---------------------------------------------------------------------------
# Copying elements: the pullback adds the copies back together

def repeat_pullback_maker(ans, a, repeats, axis=None):
    shape = _shape(a)
    n = int(np.prod(shape)) if axis is None else shape[_axis(axis, len(shape))]
    idx = np.repeat(np.arange(n), value(repeats))

    def repeat_pullback(g):
        if axis is None:
            return np.reshape(_scatter(g, idx, 0, n), shape)
        return _scatter(g, idx, _axis(axis, len(shape)), n)
    return repeat_pullback


def tile_pullback_maker(ans, A, reps):
    shape = _shape(A)
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    d = max(len(shape), len(reps))
    full = (1,) * (d - len(shape)) + shape
    reps = (1,) * (d - len(reps)) + reps

    def tile_pullback(g):
        for axis, (n, r) in enumerate(zip(full, reps)):
            if r != 1:
                g = _scatter(g, np.tile(np.arange(n), r), axis, n)
        return np.reshape(g, shape)
    return tile_pullback


def resize_pullback_maker(ans, a, new_shape):
    # np.resize repeats the flattened a cyclically to fill new_shape
    shape = _shape(a)
    n = int(np.prod(shape))
    idx = np.arange(int(np.prod(_shape(ans)))) % max(n, 1)
    return lambda g: np.reshape(_scatter(np.ravel(g), idx, 0, n), shape)


defvjp(np.repeat, repeat_pullback_maker)
defvjp(np.tile, tile_pullback_maker)
defvjp(np.resize, resize_pullback_maker)


# ---------------------------------------------------------------------------
# Appending and deleting

def _append_maker(which):
    def maker(ans, arr, values, axis=None):
        promote = np.ravel if axis is None else (lambda a: a)
        pullback = _assembly_pullback([arr, values], promote, 0 if axis is None else axis)
        return lambda g: pullback(g)[which]
    return maker


def delete_pullback_maker(ans, arr, obj, axis=None):
    shape = _shape(arr)
    if axis is None:
        n = int(np.prod(shape))
        keep = np.delete(np.arange(n), obj)
        return lambda g: np.reshape(_scatter(g, keep, 0, n), shape)
    axis = _axis(axis, len(shape))
    keep = np.delete(np.arange(shape[axis]), obj)
    return lambda g: _scatter(g, keep, axis, shape[axis])


def _insert_maker(which):
    def maker(ans, arr, obj, values, axis=None):
        # Run np.insert on element numbers (arr's from 0, values' from -1 down) to
        # learn where each element of the result came from.
        shapes = (_shape(arr), _shape(values))
        sizes = [int(np.prod(sh)) for sh in shapes]
        marks = np.insert(np.arange(sizes[0], dtype=float).reshape(shapes[0]), obj,
                          -1.0 - np.arange(sizes[1], dtype=float).reshape(shapes[1]), axis=axis).ravel()
        picked = np.flatnonzero(marks >= 0) if which == 0 else np.flatnonzero(marks < 0)
        source = (marks[picked] if which == 0 else -1.0 - marks[picked]).astype(np.intp)

        def insert_pullback(g):
            g = _gather(np.ravel(g), picked, 0)
            return np.reshape(_scatter(g, source, 0, sizes[which]), shapes[which])
        return insert_pullback
    return maker


defvjp(np.append, _append_maker(0), _append_maker(1))
defvjp(np.delete, delete_pullback_maker)
defvjp(np.insert, _insert_maker(0), None, _insert_maker(1))


# ---------------------------------------------------------------------------
# Rearranging elements: the pullback applies the inverse rearrangement

def _negated(shift):
    return -shift if np.ndim(shift) == 0 else tuple(-s for s in shift)


defvjp(np.roll, lambda ans, a, shift, axis=None: lambda g: np.roll(g, _negated(shift), axis))
defvjp(np.flip, lambda ans, m, axis=None: lambda g: np.flip(g, axis))
defvjp(np.flipud, lambda ans, m: lambda g: np.flipud(g))
defvjp(np.fliplr, lambda ans, m: lambda g: np.fliplr(g))
defvjp(np.rot90, lambda ans, m, k=1, axes=(0, 1): lambda g: np.rot90(g, -k, axes))


# ---------------------------------------------------------------------------
# Diagonals and triangles

def diag_pullback_maker(ans, v, k=0):
    shape = _shape(v)
    if len(shape) == 1:
        return lambda g: np.diagonal(g, k)
    return lambda g: _diag_embed(g, shape[0], shape[1], k)


def diagonal_pullback_maker(ans, a, offset=0, axis1=0, axis2=1):
    shape = _shape(a)
    a1, a2 = _axis(axis1, len(shape)), _axis(axis2, len(shape))

    def diagonal_pullback(g):
        full = _diag_embed(g, shape[a1], shape[a2], offset)
        return np.moveaxis(full, (-2, -1), (a1, a2))
    return diagonal_pullback


def diagflat_pullback_maker(ans, v, k=0):
    shape = _shape(v)
    return lambda g: np.reshape(np.diagonal(g, k), shape)


defvjp(np.diag, diag_pullback_maker)
defvjp(np.diagonal, diagonal_pullback_maker)
defvjp(np.diagflat, diagflat_pullback_maker)
defvjp(np.triu, lambda ans, m, k=0: lambda g: np.triu(g, k))
defvjp(np.tril, lambda ans, m, k=0: lambda g: np.tril(g, k))


# ---------------------------------------------------------------------------
# Padding and differences

INDEX_PAD_MODES = ("edge", "reflect", "symmetric", "wrap")


def pad_pullback_maker(ans, array, pad_width, mode="constant", **kwargs):
    shape = _shape(array)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (len(shape), 2))
    if mode == "constant":
        index = tuple(slice(int(b), int(b) + n) for (b, _), n in zip(widths, shape))
        return lambda g: _crop(g, index)
    if mode not in INDEX_PAD_MODES or kwargs.get("reflect_type", "even") != "even":
        raise NotImplementedError(
            "zygcy has no gradient rule for numpy.pad with mode=%r%s; the differentiable modes "
            "are 'constant', 'edge', 'reflect', 'symmetric' and 'wrap' (reflect_type='even')"
            % (mode, "" if "reflect_type" not in kwargs else ", reflect_type=%r" % kwargs["reflect_type"]))
    # Each axis is padded by copying elements: pad their indices to find which.
    sources = [np.pad(np.arange(n), (int(b), int(e)), mode=mode, **kwargs) for (b, e), n in zip(widths, shape)]

    def pad_pullback(g):
        for axis, (idx, n) in enumerate(zip(sources, shape)):
            g = _scatter(g, idx, axis, n)
        return g
    return pad_pullback


def diff_pullback_maker(ans, a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    shape = _shape(a)
    axis = _axis(axis, len(shape))
    before = 0 if prepend is np._NoValue else (1 if _ndim(prepend) == 0 else _shape(prepend)[axis])
    after = 0 if append is np._NoValue else (1 if _ndim(append) == 0 else _shape(append)[axis])
    length = shape[axis] + before + after

    def diff_pullback(g):
        # The adjoint of one forward difference is minus the difference of g padded with zeros.
        widths = [(0, 0)] * len(shape)
        widths[axis] = (1, 1)
        for _ in range(n):
            g = -np.diff(np.pad(g, widths), axis=axis)
        if before or after:
            index = tuple(slice(before, length - after) if i == axis else slice(None) for i in range(len(shape)))
            g = _crop(g, index)
        return g
    return diff_pullback


def ediff1d_pullback_maker(ans, ary, to_end=None, to_begin=None):
    shape = _shape(ary)
    n = int(np.prod(shape))
    before = 0 if to_begin is None else int(np.size(value(to_begin)))

    def ediff1d_pullback(g):
        g = _crop(g, (slice(before, before + max(n - 1, 0)),))
        return np.reshape(-np.diff(np.pad(g, (1, 1))), shape)
    return ediff1d_pullback


defvjp(np.pad, pad_pullback_maker)
defvjp(np.diff, diff_pullback_maker)
defvjp(np.ediff1d, ediff1d_pullback_maker)


# ---------------------------------------------------------------------------
# Sorting: the output is a permutation of the input; the pullback undoes it

def _permutation_to(a, ans, axis):
    """perm with take_along_axis(a, perm, axis) == ans (ties matched in order)."""
    av, yv = np.asarray(value(a)), np.asarray(value(ans))
    ia = np.argsort(av, axis=axis, kind="stable")
    iy = np.argsort(yv, axis=axis, kind="stable")
    # output position iy[k] holds input element ia[k]
    return np.take_along_axis(ia, np.argsort(iy, axis=axis), axis=axis)


def sort_pullback_maker(ans, a, axis=-1, kind=None, order=None, **kwargs):
    if order is not None:
        raise NotImplementedError("zygcy: numpy.sort with order= (structured arrays) has no gradient")
    shape = _shape(a)
    if axis is None:
        perm = np.argsort(np.ravel(value(a)), kind="stable")
        return lambda g: np.reshape(_permute(g, np.argsort(perm), 0), shape)
    perm = np.argsort(value(a), axis=axis, kind="stable")
    return lambda g: _permute(g, np.argsort(perm, axis=axis), axis)


def partition_pullback_maker(ans, a, kth, axis=-1, kind="introselect", order=None):
    shape = _shape(a)
    if axis is None:
        perm = _permutation_to(np.ravel(value(a)), ans, 0)
        return lambda g: np.reshape(_permute(g, np.argsort(perm), 0), shape)
    perm = _permutation_to(a, ans, axis)
    return lambda g: _permute(g, np.argsort(perm, axis=axis), axis)


defvjp(np.sort, sort_pullback_maker)
defvjp(np.partition, partition_pullback_maker)


# ---------------------------------------------------------------------------
# Contractions. For a bilinear y = a * b the cotangents are g * conj(b) and
# conj(a) * g contracted over the right indices.

def _plain_real(x):
    return (type(x) is np.ndarray or isinstance(x, np.floating)) and x.dtype.kind != "c"


def _matmul_pullback_2d(which, g, a, b):
    """The cotangent of a or b for plain real matrices and vectors: the common case,
    written with ndarray operations only (no numpy function wrappers)."""
    if which == 0:
        if b.ndim == 2:
            return g @ b.T if a.ndim == 2 else b @ g        # (m,k)@(k,n), or (k,)@(k,n)
        return g[:, None] * b if a.ndim == 2 else g * b      # (m,k)@(k,), or a dot product
    if a.ndim == 2:
        return a.T @ g if b.ndim == 2 else g @ a            # (m,k)@(k,n), or (m,k)@(k,)
    return a[:, None] * g if b.ndim == 2 else g * a          # (k,)@(k,n), or a dot product


def _matmul_maker(which):
    def maker(ans, a, b, **kwargs):
        if "axes" in kwargs or "axis" in kwargs:
            raise NotImplementedError("zygcy: numpy.matmul with axes= has no gradient rule; "
                                      "move the axes with np.moveaxis first")
        ashape, bshape = _shape(a), _shape(b)

        def matmul_pullback(g):
            if (_plain_real(g) and _plain_real(a) and _plain_real(b)
                    and len(ashape) <= 2 and len(bshape) <= 2):
                return _matmul_pullback_2d(which, g, a, b)
            a2 = a if len(ashape) > 1 else np.expand_dims(a, 0)
            b2 = b if len(bshape) > 1 else np.expand_dims(b, -1)
            if len(bshape) == 1:
                g = np.expand_dims(g, -1)
            if len(ashape) == 1:
                g = np.expand_dims(g, -2)
            if which == 0:
                r = unbroadcast_to(_shape(a2), g @ _H(b2))
                return np.reshape(r, ashape) if len(ashape) == 1 else r
            r = unbroadcast_to(_shape(b2), _H(a2) @ g)
            return np.reshape(r, bshape) if len(bshape) == 1 else r
        return matmul_pullback
    return maker


defvjp(np.matmul, _matmul_maker(0), _matmul_maker(1))


def _tensordot_axes(axes, na, nb):
    """Normalized (axes of a, axes of b) contracted by tensordot."""
    if np.ndim(axes) == 0:
        n = int(axes)
        return list(range(na - n, na)), list(range(n))
    xa, xb = axes
    xa = [xa] if np.ndim(xa) == 0 else list(xa)
    xb = [xb] if np.ndim(xb) == 0 else list(xb)
    return [_axis(int(i), na) for i in xa], [_axis(int(i), nb) for i in xb]


def _tensordot_pullback(which, a, b, xa, xb):
    """The pullback of tensordot(a, b, (xa, xb)) for operand ``which``."""
    na, nb = _ndim(a), _ndim(b)
    free_a = [i for i in range(na) if i not in xa]
    free_b = [i for i in range(nb) if i not in xb]
    nfa, nfb = len(free_a), len(free_b)
    if which == 0:
        # tensordot(g, conj(b)) over b's free axes gives a's free axes, then a's
        # contracted axes in the order b holds their partners.
        order = free_a + [xa[k] for k in np.argsort(xb)]
        perm = tuple(np.argsort(order))
        return lambda g: np.transpose(
            np.tensordot(g, _conj(b), (list(range(nfa, nfa + nfb)), free_b)), perm)
    order = [xb[k] for k in np.argsort(xa)] + free_b
    perm = tuple(np.argsort(order))
    return lambda g: np.transpose(np.tensordot(_conj(a), g, (free_a, list(range(nfa)))), perm)


def _tensordot_maker(which):
    def maker(ans, a, b, axes=2):
        xa, xb = _tensordot_axes(axes, _ndim(a), _ndim(b))
        return _tensordot_pullback(which, a, b, xa, xb)
    return maker


def _scaled_pullback(which, a, b):
    """The pullback of a * b (a product with a 0-d operand), for operand ``which``."""
    if which == 0:
        return lambda g: unbroadcast(a, g * _conj(b))
    return lambda g: unbroadcast(b, _conj(a) * g)


def _dot_maker(which):
    def maker(ans, a, b, out=None):
        na, nb = _ndim(a), _ndim(b)
        if na == 0 or nb == 0:
            return _scaled_pullback(which, a, b)
        return _tensordot_pullback(which, a, b, [na - 1], [max(nb - 2, 0)])
    return maker


def _inner_maker(which):
    def maker(ans, a, b):
        na, nb = _ndim(a), _ndim(b)
        if na == 0 or nb == 0:
            return _scaled_pullback(which, a, b)
        return _tensordot_pullback(which, a, b, [na - 1], [nb - 1])
    return maker


def _outer_maker(which):
    def maker(ans, a, b, out=None):
        if which == 0:
            shape = _shape(a)
            return lambda g: np.reshape(g @ _conj(np.ravel(b)), shape)
        shape = _shape(b)
        return lambda g: np.reshape(_conj(np.ravel(a)) @ g, shape)
    return maker


# vdot(a, b) = sum(conj(a) * b) is not holomorphic in a: its cotangent is conj(g) * b.
defvjp(np.vdot, lambda ans, a, b: lambda g: np.reshape(_conj(g) * np.ravel(b), _shape(a)),
       lambda ans, a, b: lambda g: np.reshape(g * np.ravel(a), _shape(b)))
defvjp(np.tensordot, _tensordot_maker(0), _tensordot_maker(1))
defvjp(np.dot, _dot_maker(0), _dot_maker(1))
defvjp(np.inner, _inner_maker(0), _inner_maker(1))
defvjp(np.outer, _outer_maker(0), _outer_maker(1))


def _kron_maker(which):
    def maker(ans, a, b):
        sa, sb = _shape(a), _shape(b)
        d = max(len(sa), len(sb))
        fa, fb = (1,) * (d - len(sa)) + sa, (1,) * (d - len(sb)) + sb
        inter = tuple(n for pair in zip(fa, fb) for n in pair)     # (a0, b0, a1, b1, ...)

        def kron_pullback(g):
            G = np.reshape(g, inter)
            if which == 0:
                r = np.tensordot(G, _conj(np.reshape(b, fb)), (list(range(1, 2 * d, 2)), list(range(d))))
                return np.reshape(r, sa)
            r = np.tensordot(_conj(np.reshape(a, fa)), G, (list(range(d)), list(range(0, 2 * d, 2))))
            return np.reshape(r, sb)
        return kron_pullback
    return maker


defvjp(np.kron, _kron_maker(0), _kron_maker(1))


def _cross_maker(which):
    def maker(ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
        if axis is not None:
            axisa = axisb = axisc = axis
        if _shape(a)[axisa] != 3 or _shape(b)[axisb] != 3:
            raise NotImplementedError("zygcy: numpy.cross has a gradient rule for 3-vectors only")
        x, axis_x = (a, axisa) if which == 0 else (b, axisb)

        def cross_pullback(g):
            # <g, a x b> = <conj(b) x g, a> = <g x conj(a), b>, on the last axis.
            A, B = np.moveaxis(a, axisa, -1), np.moveaxis(b, axisb, -1)
            G = np.moveaxis(g, axisc if _ndim(g) > 1 else -1, -1)
            r = np.cross(_conj(B), G) if which == 0 else np.cross(G, _conj(A))
            r = unbroadcast_to(np.shape(np.moveaxis(value(x), axis_x, -1)), r)
            return np.moveaxis(r, -1, axis_x)
        return cross_pullback
    return maker


defvjp(np.cross, _cross_maker(0), _cross_maker(1))


def _gufunc_axis(kwargs, name):
    if "axes" in kwargs:
        raise NotImplementedError("zygcy: numpy.%s with axes= has no gradient rule; use axis=" % name)
    return kwargs.get("axis", -1)


def _vecdot_maker(which):
    def maker(ans, x1, x2, **kwargs):
        axis = _gufunc_axis(kwargs, "vecdot")

        def vecdot_pullback(g):
            # vecdot(x1, x2) = sum(conj(x1) * x2): conj(g) * x2 for x1, g * x1 for x2
            G = np.expand_dims(g, -1)
            A, B = np.moveaxis(x1, axis, -1), np.moveaxis(x2, axis, -1)
            r = _conj(G) * B if which == 0 else G * A
            x = x1 if which == 0 else x2
            r = unbroadcast_to(np.shape(np.moveaxis(value(x), axis, -1)), r)
            return np.moveaxis(r, -1, axis)
        return vecdot_pullback
    return maker


def _matvec_maker(which):
    def maker(ans, x1, x2, **kwargs):
        _gufunc_axis(kwargs, "matvec")
        if which == 0:    # A: g outer conj(v)
            return lambda g: unbroadcast(x1, np.expand_dims(g, -1) * _conj(np.expand_dims(x2, -2)))
        return lambda g: unbroadcast(x2, np.matvec(_H(x1), g))
    return maker


def _vecmat_maker(which):
    def maker(ans, x1, x2, **kwargs):
        _gufunc_axis(kwargs, "vecmat")
        # vecmat(v, A) = conj(v) @ A
        if which == 0:
            return lambda g: unbroadcast(x1, np.matvec(x2, _conj(g)))
        return lambda g: unbroadcast(x2, np.expand_dims(x1, -1) * np.expand_dims(g, -2))
    return maker


CONTRACTION_UFUNCS = [np.matmul]
if hasattr(np, "vecdot"):       # numpy >= 2.0
    defvjp(np.vecdot, _vecdot_maker(0), _vecdot_maker(1))
    CONTRACTION_UFUNCS.append(np.vecdot)
if hasattr(np, "matvec"):       # numpy >= 2.2
    defvjp(np.matvec, _matvec_maker(0), _matvec_maker(1))
    defvjp(np.vecmat, _vecmat_maker(0), _vecmat_maker(1))
    CONTRACTION_UFUNCS += [np.matvec, np.vecmat]


# ---------------------------------------------------------------------------
# einsum. Both call forms are brought to one: a list of input subscripts and
# an output subscript, every label a letter and every ellipsis spelled out.
# The cotangent of operand k is one more einsum: of g (with the output's
# labels) and the other operands conjugated, with output operand k's labels.
# A label repeated in operand k (a diagonal, a trace) gets a fresh letter tied
# to the first by an identity matrix; a label only operand k has (summed out)
# gets a vector of ones.

LETTERS = string.ascii_uppercase + string.ascii_lowercase


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


def _einsum_maker(position):
    def maker(ans, *args, **kwargs):
        spec, ops, pos = _einsum_normal(args)
        k = pos.index(position)
        shapes = tuple(_shape(o) for o in ops)
        expr, extra, others, optimize = _einsum_plan(spec, shapes, k)
        shape = shapes[k]

        def einsum_pullback(g):
            r = np.einsum(expr, g, *[_conj(ops[j]) for j in others], *extra, optimize=optimize)
            return unbroadcast_to(shape, r)
        return einsum_pullback
    return maker


defvjp(np.einsum, *[_einsum_maker(i) for i in range(130)])
nondifferentiable(np.einsum_path)

