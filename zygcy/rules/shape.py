"""Rules for functions that move elements around: reshape, transpose,
concatenate/stack and their variants, split, repeat, tile, insert/delete, roll,
flip, diag, triu, pad, diff, sort, ...

Each of these only moves (or copies, or drops) elements, so it is linear and
its pullback moves the cotangent back: the inverse reshape, the inverse
permutation, a split for a concatenate, a sum over the copies for a repeat.
Most are registered with ``deflinear`` and their adjoint map. Where numpy's
bookkeeping is intricate (pad's modes, insert) the rule runs the function once
on element numbers to learn where each element went.

It also holds the linear maps that pullbacks are built from, here and in other
families: gathering and scattering along an axis, cropping and uncropping, a
permutation, embedding a diagonal, resizing an axis (fft, linalg), a recorded
reshape and the broadcast of a reduction's cotangent back over the reduced
axes (reductions, ufunc.outer, scipy.special). Each is a primitive whose
pullback is the other of its pair, so pullbacks built from them can be
differentiated any number of times.

Pullbacks are written with numpy functions and operators (never
``np.asarray``) so that they are differentiable again; ``value(x)`` is only
used for shapes, permutations and masks. Contractions (matmul, einsum, ...)
are in ``contractions``.
"""
from math import prod as _prod

import numpy as np

from ..extend import defbatched, defjoint, deflinear, defjvp, defvjp, primitive, unbroadcast, value
from ._util import axes_of, axis_of, batch_aligned, batch_axes, kept_shape, ndim_of, shape_of


# ---------------------------------------------------------------------------
# Linear maps for pullbacks, each the adjoint of another, with their own rules.
# Called on a tracked value they record themselves (at every level of nesting),
# so their plain bodies only ever see plain arrays.

@primitive
def gather(x, idx, axis):
    """np.take(x, idx, axis): pick (and repeat) slices along one axis."""
    return np.take(x, idx, axis=axis)


@primitive
def scatter_along(g, idx, axis, n):
    """The adjoint of ``gather``: add the slices of g into a zero array of length n along axis."""
    g = np.asarray(g)
    moved = np.moveaxis(g, axis, 0)
    out = np.zeros((n,) + moved.shape[1:], dtype=g.dtype)
    np.add.at(out, idx, moved)
    return np.moveaxis(out, 0, axis)


@primitive
def crop(x, index):
    """x[index] for a tuple of slices (a box of x)."""
    return x[index]


@primitive
def uncrop(g, shape, index):
    """The adjoint of ``crop``: zeros of ``shape`` with g placed at ``index``."""
    g = np.asarray(g)
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g
    return out


@primitive
def permute(x, perm, axis):
    """np.take_along_axis(x, perm, axis) for perm a permutation along axis."""
    return np.take_along_axis(x, perm, axis=axis)


@primitive
def diag_embed(g, m, n, k):
    """Zeros of shape g.shape[:-1] + (m, n) with g on the k-th diagonal of the last two axes."""
    g = np.asarray(g)
    out = np.zeros(g.shape[:-1] + (m, n), dtype=g.dtype)
    r, c, n_diag = max(-k, 0), max(k, 0), g.shape[-1]
    np.einsum("...ii->...i", out[..., r:r + n_diag, c:c + n_diag])[...] = g
    return out


def _gather_adjoint(g, x, idx, axis):
    return scatter_along(g, idx, axis, shape_of(x)[axis])


def _scatter_along_adjoint(h, g, idx, axis, n):
    return gather(h, idx, axis)


def _crop_adjoint(g, x, index):
    return uncrop(g, shape_of(x), index)


def _uncrop_adjoint(h, g, shape, index):
    return crop(h, index)


def _permute_adjoint(g, x, perm, axis):
    return permute(g, np.argsort(perm, axis=axis), axis)


def _diag_embed_adjoint(h, g, m, n, k):
    return np.diagonal(h, k, -2, -1)


deflinear(gather, _gather_adjoint)
deflinear(scatter_along, _scatter_along_adjoint)
deflinear(crop, _crop_adjoint)
deflinear(uncrop, _uncrop_adjoint)
deflinear(permute, _permute_adjoint)
deflinear(diag_embed, _diag_embed_adjoint)


# Reshaping, and broadcasting a reduction's cotangent back: the plumbing of the
# reductions' (and scipy.special's) pullbacks, a pair of its own.

@primitive
def _reshape_plain(a, shape):
    return np.reshape(a, shape)


def reshape(a, shape):
    """np.reshape(a, shape), recorded when ``a`` is tracked."""
    return _reshape_plain(a, tuple(shape))


# From this many elements on, a reduction's cotangent is spread as a read-only
# broadcast view (no memory); below it, into a new array (faster to make).
_VIEW_FROM = 1 << 15


@primitive
def _expand_plain(g, shape, axes, keepdims):
    """The broadcast of the cotangent g of a reduction back to ``shape``."""
    g = np.asarray(g)
    if not keepdims and g.ndim:
        full = list(shape)
        for ax in axes:
            full[ax] = 1
        g = g.reshape(full)
    if _prod(shape) >= _VIEW_FROM:
        # Large: a read-only view, no memory (the sweep never writes into a cotangent
        # it did not allocate, and the gradients it returns are copied if views).
        return np.broadcast_to(g, shape)
    out = np.empty(shape, dtype=g.dtype)      # small: faster than broadcast_to
    out[...] = g
    return out


def expand(g, shape, axes, keepdims=False):
    """The cotangent g of a reduction over ``axes`` broadcast back to ``shape``.

    ``axes`` are non-negative; ``keepdims`` says whether g still has them (as 1s).
    """
    if (type(g) is float or type(g) is np.float64) and _prod(shape) < _VIEW_FROM:
        # a plain number (the cotangent of a reduction of everything) for a small
        # shape: filled in directly, without the primitive's recording
        out = np.empty(shape)
        out.fill(g)
        return out
    return _expand_plain(g, tuple(shape), tuple(axes), bool(keepdims))


def _reshape_plain_adjoint(g, a, shape):
    return reshape(g, np.shape(value(a)))


def _expand_plain_adjoint(h, g, shape, axes, keepdims):
    return np.sum(h, axis=axes, keepdims=keepdims)


deflinear(_reshape_plain, _reshape_plain_adjoint, shape_only=True)
deflinear(_expand_plain, _expand_plain_adjoint, shape_only=True)


# Batched forward rules (zygcy.extend.defbatched): a reshape in C order moves no
# element between directions, so a batch is reshaped to the output's shape.

def _to_output_shape(tb, ans, *args, **kwargs):
    return tb.reshape(tb.shape[:1] + np.shape(ans))


def _in_c_order(order_at):
    """A batched reshape for a function taking ``order`` at position ``order_at``
    among the arguments after the array (declines any order but C)."""
    def batched(tb, ans, a, *args, **kwargs):
        order = kwargs.get("order", args[order_at] if len(args) > order_at else "C")
        return NotImplemented if order != "C" else _to_output_shape(tb, ans)
    return batched


def _expand_plain_batched(tb, ans, g, shape, axes, keepdims):
    if not keepdims:
        tb = tb.reshape(tb.shape[:1] + kept_shape(shape, axes))
    return np.broadcast_to(tb, tb.shape[:1] + tuple(shape))


defbatched(_reshape_plain, _to_output_shape)
defbatched(_expand_plain, _expand_plain_batched)


def resize_axis(x, axis, n):
    """x cropped or zero-padded at the end of ``axis`` to length n (as numpy.fft does)."""
    shape = shape_of(x)
    have = shape[axis]
    if have == n:
        return x
    if have > n:
        index = tuple(slice(0, n) if i == axis else slice(None) for i in range(len(shape)))
        return crop(x, index)
    new = list(shape)
    new[axis] = n
    index = tuple(slice(0, have) if i == axis else slice(None) for i in range(len(shape)))
    return uncrop(x, tuple(new), index)


# ---------------------------------------------------------------------------
# Reshaping: the adjoint reshapes back (the element order is unchanged)

def _reshape_order(a, order):
    """The order a cotangent is read back in ('A' is 'F' only for Fortran-only arrays)."""
    if order == "A":
        v = np.asarray(value(a))
        return "F" if v.flags.f_contiguous and not v.flags.c_contiguous else "C"
    return order or "C"


def _reshape_adjoint(g, a, shape=None, order="C", **kwargs):
    order = _reshape_order(a, order)
    if type(g) is np.ndarray:
        return g.reshape(shape_of(a), order=order)
    return np.reshape(g, shape_of(a)) if order == "C" else np.reshape(g, shape_of(a), order=order)


def _ravel_adjoint(g, a, order="C"):
    if order == "K":
        # memory order: which element (in C order) lands at each position
        idx = np.empty_like(value(a), dtype=np.intp)
        idx[...] = np.arange(idx.size).reshape(idx.shape)
        flat = np.ravel(idx, order="K")
        return np.reshape(scatter_along(g, flat, 0, flat.size), shape_of(a))
    return np.reshape(g, shape_of(a), order=_reshape_order(a, order))


def _back_to_shape(g, a, *args, **kwargs):
    """The adjoint of a function that only changes the shape (expand_dims, squeeze)."""
    return np.reshape(g, shape_of(a))


def _copy_adjoint(g, a, *args, **kwargs):
    return g


def atleast_maker(ans, *arys):
    """atleast_1d/2d/3d(*arys): each cotangent reshaped back to its argument's shape."""
    shapes = [shape_of(a) for a in arys]

    def atleast_pullback(g):
        if len(shapes) == 1:
            return (np.reshape(g, shapes[0]),)
        return tuple(None if gi is None else np.reshape(gi, s) for gi, s in zip(g, shapes))
    return atleast_pullback


deflinear(np.reshape, _reshape_adjoint)
deflinear(np.ravel, _ravel_adjoint)
deflinear(np.expand_dims, _back_to_shape, shape_only=True)
deflinear(np.squeeze, _back_to_shape, shape_only=True)
deflinear(np.copy, _copy_adjoint)
defbatched(np.reshape, _in_c_order(1))
defbatched(np.ravel, _in_c_order(0))
defbatched(np.expand_dims, _to_output_shape)
defbatched(np.squeeze, _to_output_shape)
defjoint(np.atleast_1d, atleast_maker)
defjoint(np.atleast_2d, atleast_maker)
defjoint(np.atleast_3d, atleast_maker)


# ---------------------------------------------------------------------------
# Permuting axes: the adjoint applies the inverse permutation

def _transpose_adjoint(g, a, axes=None):
    nd = ndim_of(a)
    axes = tuple(reversed(range(nd))) if axes is None else axes_of(axes, nd)
    return np.transpose(g, tuple(np.argsort(axes)))


def _swapaxes_adjoint(g, a, axis1, axis2):
    return np.swapaxes(g, axis1, axis2)


def _moveaxis_adjoint(g, a, source, destination):
    return np.moveaxis(g, destination, source)


def _rollaxis_adjoint(g, a, axis, start=0):
    nd = ndim_of(a)
    axis, start = axis_of(axis, nd), axis_of(start, nd)
    order = list(range(nd))
    if axis < start:
        start -= 1
    order.remove(axis)
    order.insert(start, axis)
    return np.transpose(g, tuple(np.argsort(order)))


def _matrix_transpose_adjoint(g, x):
    return np.swapaxes(g, -1, -2)


def _broadcast_to_adjoint(g, array, shape, subok=False):
    return unbroadcast(array, g)


def broadcast_arrays_maker(ans, *args, subok=False):
    def broadcast_arrays_pullback(g):
        return tuple(None if gi is None else unbroadcast(a, gi) for gi, a in zip(g, args))
    return broadcast_arrays_pullback


deflinear(np.transpose, _transpose_adjoint)
deflinear(np.swapaxes, _swapaxes_adjoint)
deflinear(np.moveaxis, _moveaxis_adjoint)
deflinear(np.rollaxis, _rollaxis_adjoint)
deflinear(np.broadcast_to, _broadcast_to_adjoint, shape_only=True)
defjoint(np.broadcast_arrays, broadcast_arrays_maker)
if hasattr(np, "matrix_transpose"):     # numpy >= 2.2
    deflinear(np.matrix_transpose, _matrix_transpose_adjoint)
if hasattr(np.linalg, "matrix_transpose"):      # numpy 2's array-API name
    deflinear(np.linalg.matrix_transpose, _matrix_transpose_adjoint)


def _transpose_batched(tb, ans, a, axes=None):
    nd = tb.ndim - 1
    return np.transpose(tb, (0,) + (tuple(range(nd, 0, -1)) if axes is None else batch_axes(axes, nd)))


def _swapaxes_batched(tb, ans, a, axis1, axis2):
    nd = tb.ndim - 1
    return np.swapaxes(tb, axis_of(axis1, nd) + 1, axis_of(axis2, nd) + 1)


def _broadcast_to_batched(tb, ans, array, shape, subok=False):
    shape = np.shape(ans)
    return np.broadcast_to(batch_aligned(tb, len(shape)), tb.shape[:1] + shape)


defbatched(np.transpose, _transpose_batched)
defbatched(np.swapaxes, _swapaxes_batched)
defbatched(np.broadcast_to, _broadcast_to_batched)


# ---------------------------------------------------------------------------
# Assembly: functions that promote each array, then concatenate along an axis.
# The adjoint splits the cotangent at the same places and undoes the promotion.

def _split_back(g, arrays, promote, axis):
    """The cotangents of ``arrays`` from g, the cotangent of their concatenation
    (each promoted by ``promote``) along ``axis``."""
    shapes = [shape_of(a) for a in arrays]
    promoted = [np.shape(promote(np.asarray(value(a)))) for a in arrays]
    axis = axis_of(axis, len(promoted[0]))
    cuts = np.cumsum([p[axis] for p in promoted])[:-1]
    parts = np.split(g, cuts, axis=axis) if len(shapes) > 1 else [g]
    return [np.reshape(p, s) for p, s in zip(parts, shapes)]


def _same(a):
    return a


def _column(a):
    return a.reshape(-1, 1) if a.ndim < 2 else a


def _concatenate_adjoint(g, arrays, axis=0, out=None, **kwargs):
    if axis is None:
        return _split_back(g, arrays, np.ravel, 0)
    return _split_back(g, arrays, _same, axis)


def _stack_adjoint(g, arrays, axis=0, out=None, **kwargs):
    axis = axis_of(axis, ndim_of(arrays[0]) + 1)

    def promote(a):
        return np.expand_dims(a, axis)
    return _split_back(g, arrays, promote, axis)


def _vstack_adjoint(g, tup, **kwargs):
    return _split_back(g, tup, np.atleast_2d, 0)


def _hstack_adjoint(g, tup, **kwargs):
    return _split_back(g, tup, np.atleast_1d, 0 if all(ndim_of(a) <= 1 for a in tup) else 1)


def _dstack_adjoint(g, tup, **kwargs):
    return _split_back(g, tup, np.atleast_3d, 2)


def _column_stack_adjoint(g, tup, **kwargs):
    return _split_back(g, tup, _column, 1)


def _unstack_adjoint(gs, x, axis=0):
    shape = shape_of(x)
    axis = axis_of(axis, len(shape))
    parts = [np.zeros(shape[:axis] + shape[axis + 1:], dtype=value(x).dtype) if g is None else g
             for g in gs]
    return np.stack(parts, axis=axis)


deflinear(np.concatenate, _concatenate_adjoint)
deflinear(np.stack, _stack_adjoint)
deflinear(np.vstack, _vstack_adjoint)
deflinear(np.hstack, _hstack_adjoint)
deflinear(np.dstack, _dstack_adjoint)
deflinear(np.column_stack, _column_stack_adjoint)
if hasattr(np, "unstack"):      # numpy >= 2.1
    deflinear(np.unstack, _unstack_adjoint)


def _batched_list(tbs, ans, arrays):
    """The batches of a list argument's elements, zeros for the constant ones; None
    when the argument is one array (its batch is not a list)."""
    if type(tbs) is not list:
        return None
    nb = next(t.shape[0] for t in tbs if t is not None)
    dtype = np.result_type(ans, *[t for t in tbs if t is not None])
    return [np.zeros((nb,) + shape_of(a), dtype) if t is None else t for t, a in zip(tbs, arrays)]


def _concatenate_batched(tbs, ans, arrays, axis=0, out=None, **kwargs):
    tbs = _batched_list(tbs, ans, arrays)
    if tbs is None or kwargs:
        return NotImplemented
    if axis is None:
        return np.concatenate([t.reshape(t.shape[0], -1) for t in tbs], axis=1)
    return np.concatenate(tbs, axis=axis_of(axis, np.ndim(ans)) + 1)


def _stack_batched(tbs, ans, arrays, axis=0, out=None, **kwargs):
    tbs = _batched_list(tbs, ans, arrays)
    if tbs is None or kwargs:
        return NotImplemented
    return np.stack(tbs, axis=axis_of(axis, np.ndim(ans)) + 1)


defbatched(np.concatenate, _concatenate_batched, lists=True)
defbatched(np.stack, _stack_batched, lists=True)


# ---------------------------------------------------------------------------
# Splitting: the pullback concatenates the pieces' cotangents (zeros for None)

def _split_pullback_along(ans, axis):
    def split_pullback(gs):
        parts = [np.zeros(shape_of(a), dtype=value(a).dtype) if g is None else g for g, a in zip(gs, ans)]
        return np.concatenate(parts, axis=axis)
    return split_pullback


def split_maker(ans, ary, indices_or_sections, axis=0):
    return _split_pullback_along(ans, axis)


def hsplit_maker(ans, ary, indices_or_sections):
    return _split_pullback_along(ans, 1 if ndim_of(ary) > 1 else 0)


def vsplit_maker(ans, ary, indices_or_sections):
    return _split_pullback_along(ans, 0)


def dsplit_maker(ans, ary, indices_or_sections):
    return _split_pullback_along(ans, 2)


defvjp(np.split, split_maker)
defvjp(np.array_split, split_maker)
defvjp(np.hsplit, hsplit_maker)
defvjp(np.vsplit, vsplit_maker)
defvjp(np.dsplit, dsplit_maker)
# Splitting is linear: the tangents are the pieces of the tangent.
for _split in (np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit):
    defjvp(_split, lambda t, ans, ary, *args, _split=_split, **kwargs: tuple(_split(t, *args, **kwargs)))


# ---------------------------------------------------------------------------
# Copying elements: the adjoint adds the copies back together

def _repeat_adjoint(g, a, repeats, axis=None):
    shape = shape_of(a)
    n = int(np.prod(shape)) if axis is None else shape[axis_of(axis, len(shape))]
    idx = np.repeat(np.arange(n), value(repeats))
    if axis is None:
        return np.reshape(scatter_along(g, idx, 0, n), shape)
    return scatter_along(g, idx, axis_of(axis, len(shape)), n)


def _tile_adjoint(g, A, reps):
    shape = shape_of(A)
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    d = max(len(shape), len(reps))
    full = (1,) * (d - len(shape)) + shape
    reps = (1,) * (d - len(reps)) + reps
    for axis, (n, r) in enumerate(zip(full, reps)):
        if r != 1:
            g = scatter_along(g, np.tile(np.arange(n), r), axis, n)
    return np.reshape(g, shape)


def _resize_adjoint(g, a, new_shape):
    # np.resize repeats the flattened a cyclically to fill new_shape
    shape = shape_of(a)
    n = int(np.prod(shape))
    idx = np.arange(int(np.prod(shape_of(g)))) % max(n, 1)
    return np.reshape(scatter_along(np.ravel(g), idx, 0, n), shape)


deflinear(np.repeat, _repeat_adjoint)
deflinear(np.tile, _tile_adjoint)
deflinear(np.resize, _resize_adjoint)


# ---------------------------------------------------------------------------
# Appending, deleting, inserting

def _append_pullback(which, arr, values, axis):
    """np.append(arr, values, axis) is a concatenation (of the flattened arrays for
    axis=None): the pullback of arr (which=0) or values (which=1) is its part of g."""
    promote, along = (np.ravel, 0) if axis is None else (_same, axis)

    def append_pullback(g):
        return _split_back(g, [arr, values], promote, along)[which]
    return append_pullback


def append_maker(ans, arr, values, axis=None):
    return _append_pullback(0, arr, values, axis)


def append_values_maker(ans, arr, values, axis=None):
    return _append_pullback(1, arr, values, axis)


def _delete_adjoint(g, arr, obj, axis=None):
    shape = shape_of(arr)
    if axis is None:
        n = int(np.prod(shape))
        return np.reshape(scatter_along(g, np.delete(np.arange(n), obj), 0, n), shape)
    axis = axis_of(axis, len(shape))
    return scatter_along(g, np.delete(np.arange(shape[axis]), obj), axis, shape[axis])


def _insert_pullback(which, arr, obj, values, axis):
    """The pullback of np.insert for arr (which=0) or values (which=1)."""
    # Run np.insert on element numbers (arr's from 0, values' from -1 down) to
    # learn where each element of the result came from.
    shapes = (shape_of(arr), shape_of(values))
    sizes = [int(np.prod(sh)) for sh in shapes]
    marks = np.insert(np.arange(sizes[0], dtype=float).reshape(shapes[0]), obj,
                      -1.0 - np.arange(sizes[1], dtype=float).reshape(shapes[1]), axis=axis).ravel()
    picked = np.flatnonzero(marks >= 0) if which == 0 else np.flatnonzero(marks < 0)
    source = (marks[picked] if which == 0 else -1.0 - marks[picked]).astype(np.intp)

    def insert_pullback(g):
        g = gather(np.ravel(g), picked, 0)
        return np.reshape(scatter_along(g, source, 0, sizes[which]), shapes[which])
    return insert_pullback


def insert_maker(ans, arr, obj, values, axis=None):
    return _insert_pullback(0, arr, obj, values, axis)


def insert_values_maker(ans, arr, obj, values, axis=None):
    return _insert_pullback(1, arr, obj, values, axis)


defvjp(np.append, append_maker, append_values_maker)
deflinear(np.delete, _delete_adjoint)
defvjp(np.insert, insert_maker, None, insert_values_maker)


# ---------------------------------------------------------------------------
# Rearranging elements: the adjoint applies the inverse rearrangement

def _roll_adjoint(g, a, shift, axis=None):
    back = -shift if np.ndim(shift) == 0 else tuple(-s for s in shift)
    return np.roll(g, back, axis)


def _flip_adjoint(g, m, axis=None):
    return np.flip(g, axis)


def _flipud_adjoint(g, m):
    return np.flipud(g)


def _fliplr_adjoint(g, m):
    return np.fliplr(g)


def _rot90_adjoint(g, m, k=1, axes=(0, 1)):
    return np.rot90(g, -k, axes)


deflinear(np.roll, _roll_adjoint)
deflinear(np.flip, _flip_adjoint)
deflinear(np.flipud, _flipud_adjoint)
deflinear(np.fliplr, _fliplr_adjoint)
deflinear(np.rot90, _rot90_adjoint)


# ---------------------------------------------------------------------------
# Diagonals and triangles

def _diag_adjoint(g, v, k=0):
    shape = shape_of(v)
    if len(shape) == 1:
        return np.diagonal(g, k)
    return diag_embed(g, shape[0], shape[1], k)


def _diagonal_adjoint(g, a, offset=0, axis1=0, axis2=1):
    shape = shape_of(a)
    a1, a2 = axis_of(axis1, len(shape)), axis_of(axis2, len(shape))
    return np.moveaxis(diag_embed(g, shape[a1], shape[a2], offset), (-2, -1), (a1, a2))


def _linalg_diagonal_adjoint(g, x, offset=0):
    return diag_embed(g, *shape_of(x)[-2:], offset)


def _diagflat_adjoint(g, v, k=0):
    return np.reshape(np.diagonal(g, k), shape_of(v))


def _triu_adjoint(g, m, k=0):
    return np.triu(g, k)


def _tril_adjoint(g, m, k=0):
    return np.tril(g, k)


deflinear(np.diag, _diag_adjoint)
deflinear(np.diagonal, _diagonal_adjoint)
deflinear(np.diagflat, _diagflat_adjoint)
deflinear(np.triu, _triu_adjoint)
deflinear(np.tril, _tril_adjoint)
if hasattr(np.linalg, "diagonal"):      # numpy 2's array-API name: the last two axes
    deflinear(np.linalg.diagonal, _linalg_diagonal_adjoint)


# ---------------------------------------------------------------------------
# Padding and differences

INDEX_PAD_MODES = ("edge", "reflect", "symmetric", "wrap")


def pad_maker(ans, array, pad_width, mode="constant", **kwargs):
    shape = shape_of(array)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (len(shape), 2))
    if mode == "constant":
        index = tuple(slice(int(b), int(b) + n) for (b, _), n in zip(widths, shape))

        def pad_pullback(g):
            return crop(g, index)
        return pad_pullback
    if mode not in INDEX_PAD_MODES or kwargs.get("reflect_type", "even") != "even":
        raise NotImplementedError(
            "zygcy has no gradient rule for numpy.pad with mode=%r%s; the differentiable modes "
            "are 'constant', 'edge', 'reflect', 'symmetric' and 'wrap' (reflect_type='even')"
            % (mode, "" if "reflect_type" not in kwargs else ", reflect_type=%r" % kwargs["reflect_type"]))
    # Each axis is padded by copying elements: pad their indices to find which.
    sources = [np.pad(np.arange(n), (int(b), int(e)), mode=mode, **kwargs) for (b, e), n in zip(widths, shape)]

    def pad_pullback(g):
        for axis, (idx, n) in enumerate(zip(sources, shape)):
            g = scatter_along(g, idx, axis, n)
        return g
    return pad_pullback


def _diff_adjoint(g, a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    shape = shape_of(a)
    axis = axis_of(axis, len(shape))
    before = 0 if prepend is np._NoValue else (1 if ndim_of(prepend) == 0 else shape_of(prepend)[axis])
    after = 0 if append is np._NoValue else (1 if ndim_of(append) == 0 else shape_of(append)[axis])
    length = shape[axis] + before + after
    # The adjoint of one forward difference is minus the difference of g padded with zeros.
    widths = [(0, 0)] * len(shape)
    widths[axis] = (1, 1)
    for _ in range(n):
        g = -np.diff(np.pad(g, widths), axis=axis)
    if before or after:
        index = tuple(slice(before, length - after) if i == axis else slice(None) for i in range(len(shape)))
        g = crop(g, index)
    return g


def _ediff1d_adjoint(g, ary, to_end=None, to_begin=None):
    n = int(np.prod(shape_of(ary)))
    before = 0 if to_begin is None else int(np.size(value(to_begin)))
    g = crop(g, (slice(before, before + max(n - 1, 0)),))
    return np.reshape(-np.diff(np.pad(g, (1, 1))), shape_of(ary))


defvjp(np.pad, pad_maker)
def _zeros_for(v):
    return v if v is np._NoValue or v is None else np.zeros(shape_of(v))


def _diff_jvp(t, ans, a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    # the values prepended and appended are constants: zeros in the tangent
    return np.diff(t, n, axis, prepend=_zeros_for(prepend), append=_zeros_for(append))


def _ediff1d_jvp(t, ans, ary, to_end=None, to_begin=None):
    return np.ediff1d(t, to_end=_zeros_for(to_end), to_begin=_zeros_for(to_begin))


deflinear(np.diff, _diff_adjoint, _diff_jvp)
deflinear(np.ediff1d, _ediff1d_adjoint, _ediff1d_jvp)


# ---------------------------------------------------------------------------
# Sorting: the output is a permutation of the input; the pullback undoes it

def _permutation_to(a, ans, axis):
    """perm with take_along_axis(a, perm, axis) == ans (ties matched in order)."""
    av, yv = np.asarray(value(a)), np.asarray(value(ans))
    ia = np.argsort(av, axis=axis, kind="stable")
    iy = np.argsort(yv, axis=axis, kind="stable")
    # output position iy[k] holds input element ia[k]
    return np.take_along_axis(ia, np.argsort(iy, axis=axis), axis=axis)


def _unpermute_pullback(perm, axis, shape):
    """The pullback of y = take_along_axis(x, perm, axis) (of the flattened x for axis=None)."""
    if axis is None:
        def sort_pullback(g):
            return np.reshape(permute(g, np.argsort(perm), 0), shape)
        return sort_pullback
    inverse = np.argsort(perm, axis=axis)

    def sort_pullback(g):
        return permute(g, inverse, axis)
    return sort_pullback


def sort_maker(ans, a, axis=-1, kind=None, order=None, **kwargs):
    if order is not None:
        raise NotImplementedError("zygcy: numpy.sort with order= (structured arrays) has no gradient")
    if axis is None:
        return _unpermute_pullback(np.argsort(np.ravel(value(a)), kind="stable"), None, shape_of(a))
    return _unpermute_pullback(np.argsort(value(a), axis=axis, kind="stable"), axis, shape_of(a))


def partition_maker(ans, a, kth, axis=-1, kind="introselect", order=None):
    if axis is None:
        return _unpermute_pullback(_permutation_to(np.ravel(value(a)), ans, 0), None, shape_of(a))
    return _unpermute_pullback(_permutation_to(a, ans, axis), axis, shape_of(a))


def sort_jvp(t, ans, a, axis=-1, kind=None, order=None, **kwargs):
    # the output is a permutation of the input: so is its tangent
    if axis is None:
        return np.ravel(t)[np.argsort(np.ravel(value(a)), kind="stable")]
    return np.take_along_axis(t, np.argsort(value(a), axis=axis, kind="stable"), axis=axis)


def partition_jvp(t, ans, a, kth, axis=-1, kind="introselect", order=None):
    if axis is None:
        return np.ravel(t)[_permutation_to(np.ravel(value(a)), ans, 0)]
    return np.take_along_axis(t, _permutation_to(a, ans, axis), axis=axis)


defvjp(np.sort, sort_maker)
defjvp(np.sort, sort_jvp)
defvjp(np.partition, partition_maker)
defjvp(np.partition, partition_jvp)
