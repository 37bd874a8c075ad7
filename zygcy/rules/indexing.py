"""Rules for indexing: ``x[index]``, ``x[index] = v``, and the numpy functions that
select elements (take, where, select, choose, compress, extract, unique, ...).

Reading ``x[index]`` records one node whose pullback returns an ``IndexGrad``:
the cotangent ``g`` together with the index, kept sparse until the engine needs
it dense. Reading ``x[i]`` n times in a loop therefore costs time linear in n;
the ``densify`` hook turns the pieces into one array by scatter-adding them
(entries repeated in a fancy index add up, as in ``np.add.at``).

Assigning ``x[index] = v`` has the semantics of a *value*, as in JAX: the
tracked array becomes a new node holding a copy of the old value with the
assignment applied. Nothing that another node, a saved value or the caller
holds is ever written to; in particular a slice taken from ``x`` before the
assignment keeps its old values (numpy's views would see the new ones).
Each assignment copies the array, so a loop assigning n elements of an array
of size n costs O(n^2) time. In-place operators (``x += v``, ``x[i] *= 2``)
and ufuncs with ``out=x`` are such assignments too.

Indices carry no derivative: a tracked index is used through its plain value.
``np.unique`` is differentiable in its values (each is an element of x; its
gradient goes to the first occurrence), not in the indices and counts it may
also return. ``np.where(c, x, y)`` is differentiable in x and y; the
one-argument ``np.where(c)`` gives indices, whose cotangent is None.
Functions of indices, shapes, predicates and rounding (argmax, nonzero, shape,
isclose, round, ...) are non-differentiable: they run on plain values.
``np.full_like(a, v)`` is differentiable in v when ``a`` is tracked; when ``a``
is plain numpy does not ask zygcy (it dispatches on ``a`` only) and copying a
tracked v into its result fails: write ``v * np.ones_like(a)`` instead.
``np.add.at(x, index, v)`` and ``np.subtract.at`` on a tracked x are recorded as
``x += (v scattered at index)``, duplicates adding up; the other ``ufunc.at``
are refused with the assignment to write instead.
Forward mode: every rule here is linear in its differentiable argument, and its
forward rule is the same selection applied to the tangent (``t[index]``, the
tangent of ``x[index] = v`` is ``t_x`` with ``t_v`` assigned at index), so a
loop reading ``x[i]`` in forward mode costs no more than the loop itself.
Functions that write into an argument in place (``np.put``, ``np.place``,
``np.copyto``, ``np.put_along_axis``, ``np.putmask``, ``np.fill_diagonal``)
are refused on tracked values before anything is written, with a message
that says which assignment to write instead.
"""
import warnings

import numpy as np

from ..extend import (IndexGrad, Tracked, apply, defbatched, defjvp, defvjp, nondifferentiable, primitive, refuse,
                      unbroadcast, value)
from ._util import batch_aligned, identity, is_complex, no_gradient, none_maker, real_if_complex

_ndarray = np.ndarray
_generic = np.generic
_ComplexWarning = getattr(np, "exceptions", np).ComplexWarning     # np.exceptions: numpy >= 1.25


# ---------------------------------------------------------------------------
# Small helpers

def _plain_index(index):
    """The index with every tracked part replaced by its plain value."""
    t = type(index)
    if t is int or t is slice:
        return index
    if t is Tracked:
        return value(index)
    if t is tuple:
        return tuple([_plain_index(i) for i in index])
    if t is list:
        return [_plain_index(i) for i in index]
    return index


def _is_fancy_int(part):
    """True if one part of an index is an integer array (may repeat positions)."""
    if isinstance(part, _ndarray):
        return part.dtype.kind != "b" and part.ndim > 0
    if type(part) is list:
        return len(part) > 0 and np.asarray(part).dtype.kind != "b"
    return False


def _may_repeat(index):
    """True if the index may name one position twice (integer-array parts)."""
    if type(index) is tuple:
        return any(_is_fancy_int(p) for p in index)
    return _is_fancy_int(index)


def _index_pullback(x, index):
    """The pullback of reading ``x[index]``: a sparse cotangent with g at index."""
    xv = x if type(x) is _ndarray else value(x)
    if not isinstance(xv, _ndarray):
        return identity            # x[()] or x[...] of a numpy scalar
    shape, dtype = xv.shape, xv.dtype

    def index_pullback(g):
        return IndexGrad(shape, dtype, index, g)

    return index_pullback


def _where_zero(mask, g):
    """g where mask holds, 0 elsewhere (differentiable in g)."""
    return np.where(mask, g, 0)


def _gather(t, index):
    """t[index] for the tangent t of an array read at index; the tangent of a
    number read with () or ... (or None) is the number itself."""
    if type(t) is _ndarray or isinstance(value(t), (_ndarray, _generic)):
        return t[index]
    return t


# ---------------------------------------------------------------------------
# x[index]

@primitive
def _getitem(x, index):
    """x[index] as one node."""
    return x[index]


def getitem_maker(ans, x, index):
    return _index_pullback(x, index)


def getitem_jvp(t, ans, x, index):
    return _gather(t, index)


def _batched_index(index):
    """The index that reads from a batch of tangents (the batch axis first) what
    ``index`` reads from one direction; None where numpy would move axes (two
    advanced indices, or one with ints, may put their axes in front)."""
    idx = index if type(index) is tuple else (index,)
    ints = arrays = 0
    for i in idx:
        if i is None or i is Ellipsis or type(i) is slice:
            continue
        if type(i) is int or isinstance(i, np.integer):
            ints += 1
        else:
            arrays += 1         # an array, a list, a bool: advanced
    if arrays > 1 or (arrays and ints):
        return None
    return (slice(None),) + idx


def getitem_batched(tb, ans, x, index):
    bi = _batched_index(index)
    return NotImplemented if bi is None else tb[bi]


defvjp(_getitem, getitem_maker, None)
defjvp(_getitem, getitem_jvp, None)
defbatched(_getitem, getitem_batched, None)


def getitem(x, index):
    """x[index] for a tracked x (Tracked.__getitem__)."""
    xv = value(x)
    if type(xv) is not _ndarray and not isinstance(xv, (_ndarray, _generic)):
        return xv[index]          # raises as the plain value does ('float' is not subscriptable)
    if type(index) is not int:
        index = _plain_index(index)
    return apply(_getitem, (x, index))      # x is tracked: record at once (the hot path of x[i] loops)


# ---------------------------------------------------------------------------
# Making an IndexGrad dense: zeros, then every entry scatter-added

def _is_basic(index):
    """True if the index is made of ints, slices, Ellipsis and None only
    (then one entry cannot name a position twice and += is exact)."""
    if type(index) is tuple:
        return all(p is None or p is Ellipsis or type(p) is int or type(p) is slice
                   or isinstance(p, np.integer) for p in index)
    return index is None or index is Ellipsis or type(index) is int or type(index) is slice or \
        isinstance(index, np.integer)


_PY_NUMBERS = (int, float, complex)


def _result_dtype(dtype, vals):
    seen = {}
    for v in vals:
        t = type(v)
        if t not in seen:
            seen[t] = v if t in _PY_NUMBERS else v.dtype
        elif t is _ndarray or (t not in _PY_NUMBERS and seen[t] != v.dtype):
            seen[v.dtype] = v.dtype
    return np.result_type(dtype, *seen.values())


def _is_int(i):
    return type(i) is int or isinstance(i, np.integer)


def _is_number(v):
    return type(v) in _PY_NUMBERS or isinstance(v, _generic)


@primitive
def _scatter(shape, dtype, indices, vals):
    """zeros(shape) with vals[k] added at indices[k] for every k (as np.add.at).

    A primitive of its own so that densifying cotangents that are tracked (nested
    derivatives) is differentiable: its pullback gathers g[indices[k]]."""
    out = np.zeros(shape, _result_dtype(dtype, vals))
    pairs = zip(indices, vals)
    if len(shape) == 1 and len(indices) > 8:
        # Many single elements of a vector (x[i] in a loop): one add.at for all.
        single = [_is_int(i) and _is_number(v) for i, v in zip(indices, vals)]
        pos = [i for i, s in zip(indices, single) if s]
        if pos:
            np.add.at(out, np.array(pos, dtype=np.intp),
                      np.array([v for v, s in zip(vals, single) if s], dtype=out.dtype))
        if len(pos) < len(indices):
            pairs = [(i, v) for i, v, s in zip(indices, vals, single) if not s]
        else:
            pairs = ()
    for idx, v in pairs:
        if _is_basic(idx):
            out[idx] += v
        else:
            np.add.at(out, idx, v)
    return out


def scatter_vals_maker(ans, shape, dtype, indices, vals):
    real = [not is_complex(v) for v in vals]

    def scatter_vals_pullback(g):
        out = []
        for idx, v, r in zip(indices, vals, real):
            ct = unbroadcast(v, g[idx])
            out.append(real_if_complex(ct) if r else ct)
        return out

    return scatter_vals_pullback


def scatter_vals_jvp(t, ans, shape, dtype, indices, vals):
    return _scatter(shape, dtype, indices, list(t))        # linear in vals


def scatter_vals_batched(tbs, ans, shape, dtype, indices, vals):
    live = [(i, t) for i, t in zip(indices, tbs) if t is not None]
    if not live:
        return None
    places = [_batched_index(i) for i, _ in live]
    if any(p is None for p in places):
        return NotImplemented
    nb = live[0][1].shape[0]
    out = np.zeros((nb,) + tuple(shape), np.result_type(ans, *[t for _, t in live]))
    for (idx, t), p in zip(live, places):
        if _is_basic(idx):
            view = out[p]
            view += batch_aligned(t, view.ndim - 1)
        else:               # (a value broadcast to the entries it is added at, as one direction's)
            np.add.at(out, p, batch_aligned(t, out[p].ndim - 1))
    return out


defvjp(_scatter, None, None, None, scatter_vals_maker)
defjvp(_scatter, None, None, None, scatter_vals_jvp)
defbatched(_scatter, None, None, None, scatter_vals_batched, lists=True)


def densify(ig):
    """The IndexGrad ig as a dense array (zeros with every entry scatter-added)."""
    entries = ig.entries
    return _scatter(ig.shape, ig.dtype, [e[0] for e in entries], [e[1] for e in entries])


# ---------------------------------------------------------------------------
# x[index] = v

@primitive
def setitem(x, index, v):
    """A copy of x with x[index] = v: the value of x after the assignment, one node."""
    r = np.array(x, copy=True)
    r[index] = v
    return r


def setitem_maker(ans, x, index, v):
    def setitem_pullback(g):
        return setitem(g, index, 0)       # the overwritten elements do not reach x

    return setitem_pullback


def _winners(shape, index, tshape):
    """Where an integer-array index names a position twice, numpy keeps the last
    value written: a mask over x[index] of the elements that were kept (None: all)."""
    n = int(np.prod(tshape, dtype=np.intp))
    probe = np.full(shape, -1, dtype=np.intp)
    ids = np.arange(n, dtype=np.intp).reshape(tshape)
    probe[index] = ids
    kept = probe[index] == ids
    return None if kept.all() else kept


def setitem_v_maker(ans, x, index, v):
    xv, vv = value(x), value(v)
    if xv.dtype.kind in "biu" and np.asarray(vv).dtype.kind in "fc":
        return no_gradient             # the assignment truncates: derivative zero
    tshape = np.shape(xv[index])
    kept = _winners(xv.shape, index, tshape) if _may_repeat(index) else None
    real = xv.dtype.kind != "c"         # a complex v written into a real array keeps its real part
    vndim = np.ndim(vv)
    extra = vndim - len(tshape)         # numpy lets v carry extra leading axes of length 1

    def setitem_v_pullback(g):
        ct = g[index]
        if kept is not None:
            ct = _where_zero(kept, ct)
        if real:
            ct = real_if_complex(ct)
        if extra > 0:
            ct = ct[(None,) * extra + (Ellipsis,)]
        return unbroadcast(v, ct)

    return setitem_v_pullback


def setitem_jvp(t, ans, x, index, v):
    return setitem(t, index, 0)             # the overwritten elements are gone


def setitem_v_jvp(t, ans, x, index, v):
    xv = value(x)
    if xv.dtype.kind in "biu" and np.asarray(value(v)).dtype.kind in "fc":
        return None                         # the assignment truncates: derivative zero
    if xv.dtype.kind != "c":
        t = real_if_complex(t)              # a real array keeps the real part of v
    # written as v is, so that repeated positions keep the last value as numpy does
    return setitem(np.zeros(xv.shape, xv.dtype if xv.dtype.kind in "fc" else np.float64), index, t)


defvjp(setitem, setitem_maker, None, setitem_v_maker)
defjvp(setitem, setitem_jvp, None, setitem_v_jvp)


def _check_assignment(xv, index, vv):
    """Raise numpy's error for a bad x[index] = v before anything is recorded."""
    probe = np.empty(np.shape(xv[index]), xv.dtype)
    if xv.dtype.kind != "c" and is_complex(vv):
        with warnings.catch_warnings():      # numpy warns once, when the value is computed
            warnings.simplefilter("ignore", _ComplexWarning)
            probe[...] = vv
    else:
        probe[...] = vv


def _has_tracked(seq):
    return any(type(e) is Tracked or (type(e) in (list, tuple) and _has_tracked(e)) for e in seq)


def _stack_nested(seq):
    """A (nested) list of numbers, some tracked, as one tracked array (np.stack)."""
    return np.stack([_stack_nested(e) if type(e) in (list, tuple) else e for e in seq])


def assignment(x, index, v):
    """x[index] = v on a tracked x, checked as numpy would, before anything is
    recorded: the plain index and the value to write (lists holding tracked
    numbers stacked into one tracked array). The engine records the rest."""
    xv = value(x)
    if not isinstance(xv, _ndarray):
        raise TypeError("%r object does not support item assignment" % type(xv).__name__)
    index = _plain_index(index)
    if type(v) in (list, tuple) and _has_tracked(v):
        v = _stack_nested(v)          # x[:2] = [a, b] with a, b tracked
    _check_assignment(xv, index, value(v))
    return index, v


# ---------------------------------------------------------------------------
# numpy functions that select elements: each is a gather, with an IndexGrad pullback

def _axis_index(ndim, axis, idx):
    """The index of x that selects idx along axis (all of the other axes)."""
    axis = axis % ndim if ndim else 0
    return (slice(None),) * axis + (idx,)


def _wrap_mode(idx, n, mode):
    if mode == "wrap":
        return np.mod(idx, n)
    if mode == "clip":
        return np.clip(idx, 0, n - 1)
    return idx


def take_maker(ans, a, indices, axis=None, out=None, mode="raise"):
    av = value(a)
    ind = np.asarray(value(indices))
    if axis is None:
        ind = np.mod(_wrap_mode(ind, av.size, mode), av.size)   # valid: the forward checked it
        index = np.unravel_index(ind, av.shape)
    else:
        ind = _wrap_mode(ind, av.shape[axis], mode)
        index = _axis_index(av.ndim, axis, ind)
    return _index_pullback(a, index)


def take_jvp(t, ans, a, indices, axis=None, out=None, mode="raise"):
    return np.take(t, value(indices), axis=axis, mode=mode)


defvjp(np.take, take_maker, none_maker)
defjvp(np.take, take_jvp, None)


def _along_axis_index(shape, indices, axis):
    """The fancy index equal to take_along_axis(x, indices, axis) for x of shape."""
    ndim = len(shape)
    parts = []
    for k in range(ndim):
        if k == axis:
            parts.append(indices)
        else:
            s = [1] * ndim
            s[k] = shape[k]
            parts.append(np.arange(shape[k]).reshape(s))
    return tuple(parts)


def take_along_axis_maker(ans, arr, indices, axis=-1):
    av = value(arr)
    ind = np.asarray(value(indices))
    if axis is None:
        index = np.unravel_index(np.mod(ind, av.size), av.shape)
    else:
        index = _along_axis_index(av.shape, ind, axis % av.ndim)
    return _index_pullback(arr, index)


def take_along_axis_jvp(t, ans, arr, indices, axis=-1):
    return np.take_along_axis(t, value(indices), axis)


defvjp(np.take_along_axis, take_along_axis_maker, none_maker)
defjvp(np.take_along_axis, take_along_axis_jvp, None)


def compress_maker(ans, condition, a, axis=None):
    av = value(a)
    pos = np.nonzero(np.ravel(value(condition)))[0]
    index = np.unravel_index(pos, av.shape) if axis is None else _axis_index(av.ndim, axis, pos)
    return _index_pullback(a, index)


def compress_jvp(t, ans, condition, a, axis=None):
    return np.compress(value(condition), t, axis)


defvjp(np.compress, none_maker, compress_maker)
defjvp(np.compress, None, compress_jvp)


def extract_maker(ans, condition, arr):
    av = value(arr)
    pos = np.nonzero(np.ravel(value(condition)))[0]
    return _index_pullback(arr, np.unravel_index(pos, av.shape))


def extract_jvp(t, ans, condition, arr):
    return np.extract(value(condition), t)


defvjp(np.extract, none_maker, extract_maker)
defjvp(np.extract, None, extract_jvp)


# unique: the values are elements of x (each at its first occurrence), so they
# are differentiable: the gradient of a unique value goes to its first occurrence.

def _first_occurrences(ar, axis, kwargs):
    """The index of x at which np.unique finds each of its values first."""
    av = value(ar)
    _, first = np.unique(av, return_index=True, axis=axis, **kwargs)
    if axis is None:
        return np.unravel_index(first, av.shape)
    return _axis_index(av.ndim, axis, first)


def unique_maker(ans, ar, return_index=False, return_inverse=False, return_counts=False,
                  axis=None, **kwargs):
    pull = _index_pullback(ar, _first_occurrences(ar, axis, kwargs))
    several = return_index or return_inverse or return_counts

    def unique_pullback(g):
        if several:
            g = g[0]
            if g is None:
                return None
        return pull(g)

    return unique_pullback


def unique_jvp(t, ans, ar, return_index=False, return_inverse=False, return_counts=False,
               axis=None, **kwargs):
    dv = _gather(t, _first_occurrences(ar, axis, kwargs))
    if return_index or return_inverse or return_counts:
        return (dv,) + (None,) * (len(ans) - 1)      # indices and counts: no tangent
    return dv


defvjp(np.unique, unique_maker)
defjvp(np.unique, unique_jvp)


# where / select / choose: every output element comes from one of the inputs

def where_x_maker(ans, condition, x=None, y=None):
    mask = np.asarray(value(condition), dtype=bool)

    def where_x_pullback(g):
        return unbroadcast(x, _where_zero(mask, g))
    return where_x_pullback


def where_y_maker(ans, condition, x=None, y=None):
    mask = ~np.asarray(value(condition), dtype=bool)

    def where_y_pullback(g):
        return unbroadcast(y, _where_zero(mask, g))
    return where_y_pullback


def where_x_jvp(t, ans, condition, x=None, y=None):
    return _where_zero(np.asarray(value(condition), dtype=bool), t)


def where_y_jvp(t, ans, condition, x=None, y=None):
    return _where_zero(~np.asarray(value(condition), dtype=bool), t)


defvjp(np.where, none_maker, where_x_maker, where_y_maker)
defjvp(np.where, None, where_x_jvp, where_y_jvp)


def _where_batched(keep):
    """where's batched rule for x (keep: the mask) or y (its complement)."""
    def where_batched(tb, ans, condition, x=None, y=None):
        mask = keep(np.asarray(value(condition), dtype=bool))
        return np.where(mask, batch_aligned(tb, mask.ndim), 0)
    return where_batched


defbatched(np.where, None, _where_batched(lambda m: m), _where_batched(np.logical_not))


def _select_masks(condlist):
    """For each condition, where it is the first one that holds; and where none holds."""
    taken = None
    masks = []
    for c in condlist:
        c = np.asarray(value(c), dtype=bool)
        masks.append(c if taken is None else c & ~taken)
        taken = c if taken is None else taken | c
    return masks, ~taken if taken is not None else True


def select_choices_maker(ans, condlist, choicelist, default=0):
    masks, _ = _select_masks(condlist)

    def select_choices_pullback(g):
        return [unbroadcast(c, _where_zero(m, g)) for m, c in zip(masks, choicelist)]

    return select_choices_pullback


def select_default_maker(ans, condlist, choicelist, default=0):
    _, none = _select_masks(condlist)

    def select_default_pullback(g):
        return unbroadcast(default, _where_zero(none, g))
    return select_default_pullback


def select_choices_jvp(t, ans, condlist, choicelist, default=0):
    return np.select([np.asarray(value(c), dtype=bool) for c in condlist], list(t), 0)


def select_default_jvp(t, ans, condlist, choicelist, default=0):
    return _where_zero(_select_masks(condlist)[1], t)


defvjp(np.select, none_maker, select_choices_maker, select_default_maker)
defjvp(np.select, None, select_choices_jvp, select_default_jvp)


def choose_maker(ans, a, choices, out=None, mode="raise"):
    av = np.asarray(value(a))
    n = len(value(choices)) if isinstance(value(choices), _ndarray) else len(choices)
    av = _wrap_mode(av, n, mode)
    if isinstance(value(choices), _ndarray):
        cshape = value(choices).shape
        bshape = np.broadcast_shapes(av.shape, cshape[1:])
        # one mask per choice, on a leading axis, then the broadcasting undone
        ks = np.arange(n).reshape((n,) + (1,) * len(bshape))
        mask = np.broadcast_to(av, bshape)[None] == ks
        extra = len(bshape) - (len(cshape) - 1)

        def choose_array_pullback(g):
            ct = _where_zero(mask, g[None])
            if extra > 0:
                ct = np.sum(ct, axis=tuple(range(1, 1 + extra)))
            axes = tuple(i for i in range(1, len(cshape)) if cshape[i] == 1 and np.shape(value(ct))[i] != 1)
            return np.sum(ct, axis=axes, keepdims=True) if axes else ct

        return choose_array_pullback

    def choose_pullback(g):
        return [unbroadcast(c, _where_zero(av == k, g)) for k, c in enumerate(choices)]

    return choose_pullback


def choose_jvp(t, ans, a, choices, out=None, mode="raise"):
    return np.choose(np.asarray(value(a)), t if isinstance(value(t), _ndarray) else list(t), mode=mode)


defvjp(np.choose, none_maker, choose_maker)
defjvp(np.choose, None, choose_jvp)


# full_like: the result is the fill value everywhere; the prototype gives only a shape

def full_like_fill_maker(ans, a, fill_value, *args, **kwargs):
    if np.asarray(value(ans)).dtype.kind in "biu" and np.asarray(value(fill_value)).dtype.kind in "fc":
        return no_gradient
    real = not is_complex(ans)

    def full_like_fill_pullback(g):
        return unbroadcast(fill_value, real_if_complex(g) if real else g)

    return full_like_fill_pullback


def full_like_fill_jvp(t, ans, a, fill_value, *args, **kwargs):
    if np.asarray(value(ans)).dtype.kind in "biu" and np.asarray(value(fill_value)).dtype.kind in "fc":
        return None
    return real_if_complex(t) if not is_complex(ans) else t      # broadcast to the result


defvjp(np.full_like, none_maker, full_like_fill_maker)
defjvp(np.full_like, None, full_like_fill_jvp)


# ---------------------------------------------------------------------------
# Functions whose result carries no derivative: indices, shapes, booleans,
# counts, and piecewise-constant values (round). They run on plain values.

nondifferentiable(
    np.nonzero, np.argwhere, np.flatnonzero, np.argmax, np.argmin, np.nanargmax, np.nanargmin,
    np.argsort, np.argpartition, np.lexsort, np.searchsorted, np.digitize,
    np.shape, np.ndim, np.size, np.iscomplexobj, np.isrealobj, np.iscomplex, np.isreal,
    np.result_type, np.can_cast, np.min_scalar_type,
    np.zeros_like, np.ones_like, np.empty_like,
    np.count_nonzero, np.any, np.all, np.isclose, np.allclose, np.array_equal, np.array_equiv,
    np.isin, np.ravel_multi_index, np.unravel_index,
    np.round, np.around, np.fix,
)


# ---------------------------------------------------------------------------
# numpy functions that write into an argument: refused, with the assignment to use

_IN_PLACE = {
    np.put: "x[np.unravel_index(ind, x.shape)] = v",
    np.place: "x[mask] = v",
    np.copyto: "dst[...] = src",
    np.put_along_axis: "x[idx] = v with idx built from the indices (np.indices helps)",
    np.putmask: "x[mask] = v",
    np.fill_diagonal: "x[np.arange(n), np.arange(n)] = v",
}
for _fun, _instead in _IN_PLACE.items():
    refuse(_fun, "numpy.%s writes into an array in place, which zygcy does not record; write "
                 "%s instead (item assignment on tracked arrays is recorded)" % (_fun.__name__, _instead))


# ---------------------------------------------------------------------------
# np.add.at / np.subtract.at on a tracked array: x += (v scattered at index)

def ufunc_at(ufunc, inputs, kwargs):
    """np.add.at(x, index, v) and np.subtract.at on a tracked x, as the assignment
    x += (v scattered at index); NotImplemented for anything else."""
    if ufunc not in (np.add, np.subtract) or kwargs or len(inputs) != 3 or type(inputs[0]) is not Tracked:
        return NotImplemented       # the engine refuses, naming the assignment to write
    x, index, v = inputs
    xv = value(x)
    index = _plain_index(index)
    # duplicates in index add up, as np.add.at does: a scatter-add, then one assignment
    delta = _scatter(xv.shape, xv.dtype, [index], [v if ufunc is np.add else -v])
    x += delta
    return None
