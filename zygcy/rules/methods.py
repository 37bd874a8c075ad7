"""ndarray attributes and methods of tracked values: ``x.shape``, ``x.T``, ``x.sum()``...

``Tracked.__getattr__`` asks the ``method`` hook for any attribute it does not
define itself. Each method here calls the numpy function it stands for
(``x.sum(axis=0)`` is ``np.sum(x, axis=0)``), so the rule of that function
applies and nothing is differentiated twice. Attributes that describe the
array (shape, dtype, ...) are plain values. A tracked number has the methods
its plain value has: a tracked ``np.float64`` has ``.sum()``, a tracked Python
float has none.

Three methods need rules of their own: ``astype`` (casts the cotangent back),
``item`` and ``tolist`` (tracked Python numbers, each one element of x).
The in-place methods ``fill``, ``sort``, ``partition`` and ``put`` are
assignments ``x[...] = ...`` and have their semantics (see ``rules.indexing``).
ndarray methods that cannot keep a derivative (``resize``, ``view``, ...) raise
an AttributeError that says so.
"""
import numpy as np

from ..extend import IndexGrad, Tracked, defjvp, defvjp, primitive, value
from ._util import identity, real_if_complex

_ndarray = np.ndarray
_generic = np.generic


# ---------------------------------------------------------------------------
# astype: float <-> float and complex casts are differentiable, and so are int ->
# int casts (the identity where the value fits, as ints are differentiated like
# Python ints); float -> int and casts to bool are piecewise constant and give
# plain results.

@primitive
def _astype(x, dtype):
    """x.astype(dtype) as one node (always a new value)."""
    if isinstance(x, (_ndarray, _generic)):
        return x.astype(dtype)
    return np.asarray(x).astype(dtype)[()]       # a Python number (a cotangent may be one)


def astype_maker(ans, x, dtype):
    xv = value(x)
    xdtype = xv.dtype
    real = xdtype.kind != "c"

    def astype_pullback(g):
        if real:
            g = real_if_complex(g)
        if xdtype.kind in "fc":
            return _astype(g, xdtype)      # float32 in, float64 out: a float32 cotangent
        return g                            # an integer input keeps its cotangent as it is

    return astype_pullback


def astype_jvp(t, ans, x, dtype):
    kind = np.dtype(dtype).kind
    if kind not in "fc":
        return t                        # int -> int: the identity
    return _astype(real_if_complex(t) if kind == "f" else t, dtype)    # a real cast keeps the real part


defvjp(_astype, astype_maker, None)
defjvp(_astype, astype_jvp, None)


def _method_astype(x):
    def astype(dtype, order="K", casting="unsafe", subok=True, copy=True):
        dt = np.dtype(dtype)
        src = value(x).dtype.kind
        if dt.kind not in "fc" and not (dt.kind in "iu" and src in "iu"):
            # to bool, or from float/complex to int: piecewise constant, a plain result
            return value(x).astype(dt, order=order, casting=casting)
        if not copy and dt == value(x).dtype:
            return x
        return _astype(x, dt)

    return astype


# ---------------------------------------------------------------------------
# item and tolist: tracked Python numbers

@primitive
def _item(x, index):
    """x[index].item(): the element at a full index as a Python number."""
    return x[index].item()


def item_maker(ans, x, index):
    xv = value(x)
    if not isinstance(xv, _ndarray):
        return identity
    shape, dtype = xv.shape, xv.dtype

    def item_pullback(g):
        return IndexGrad(shape, dtype, index, g)

    return item_pullback


def item_jvp(t, ans, x, index):
    return _item(t, index) if isinstance(value(t), (_ndarray, _generic)) else t


defvjp(_item, item_maker, None)
defjvp(_item, item_jvp, None)


def _full_index(xv, args):
    """The tuple of ints that ``xv.item(*args)`` reads."""
    if len(args) == 1 and isinstance(args[0], tuple):
        args = args[0]
    shape = np.shape(xv)
    if not args:
        return (0,) * len(shape)
    if len(args) == 1:
        k = int(args[0])
        size = int(np.prod(shape, dtype=np.intp))
        return tuple(int(i) for i in np.unravel_index(k % size if k < 0 else k, shape))
    return tuple(int(i) % n if int(i) < 0 else int(i) for i, n in zip(args, shape))


def _method_item(x):
    def item(*args):
        xv = value(x)
        xv.item(*args)                 # numpy's errors (size != 1, out of bounds)
        return _item(x, _full_index(xv, args))

    return item


def _method_tolist(x):
    def tolist():
        xv = value(x)
        if np.ndim(xv) == 0:
            return _item(x, ())

        def build(prefix):
            depth = len(prefix)
            if depth == xv.ndim:
                return _item(x, prefix)
            return [build(prefix + (i,)) for i in range(xv.shape[depth])]

        return build(())

    return tolist


# ---------------------------------------------------------------------------
# In-place methods: assignments to the whole array

def _method_fill(x):
    def fill(v):
        x[...] = v

    return fill


def _method_sort(x):
    def sort(axis=-1, kind=None, order=None):
        x[...] = np.sort(x, axis=axis, kind=kind, order=order)

    return sort


def _method_partition(x):
    def partition(kth, axis=-1, kind="introselect", order=None):
        x[...] = np.partition(x, kth, axis=axis, kind=kind, order=order)

    return partition


def _method_put(x):
    def put(indices, values, mode="raise"):
        xv = value(x)
        ind = np.ravel(np.asarray(value(indices)))
        if mode == "wrap":
            ind = np.mod(ind, xv.size)
        elif mode == "clip":
            ind = np.clip(ind, 0, xv.size - 1)
        if isinstance(values, (list, tuple)) and any(type(v) is Tracked for v in values):
            values = np.stack(values)
        n = np.size(value(values))
        if n != ind.size:     # np.put repeats the values when they are fewer than the indices
            values = np.ravel(values)[np.arange(ind.size) % n] if n else values
        else:
            values = np.reshape(values, ind.shape) if np.ndim(value(values)) != 1 else values
        x[np.unravel_index(ind, xv.shape)] = values

    return put


# ---------------------------------------------------------------------------
# Methods that are numpy functions with x as the first argument

def _delegate(fun):
    def make(x):
        def method(*args, **kwargs):
            return fun(x, *args, **kwargs)

        method.__name__ = fun.__name__
        method.__doc__ = "x.%s(...) is np.%s(x, ...)" % (fun.__name__, fun.__name__)
        return method

    return make


def _shape_args(args):
    """x.reshape(2, 3) and x.reshape((2, 3)) both mean the shape (2, 3)."""
    if len(args) == 1:
        return args[0]
    return tuple(args)


def _method_reshape(x):
    def reshape(*shape, order="C"):
        if order == "C":                # the common call, without a keyword to place
            return np.reshape(x, _shape_args(shape))
        return np.reshape(x, _shape_args(shape), order=order)

    return reshape


def _method_transpose(x):
    def transpose(*axes):
        if not axes or (len(axes) == 1 and axes[0] is None):
            return np.transpose(x)
        return np.transpose(x, _shape_args(axes))

    return transpose


def _method_flatten(x):
    def flatten(order="C"):
        return np.copy(np.ravel(x, order=order))

    return flatten


def _method_compress(x):
    def compress(condition, axis=None):
        return np.compress(condition, x, axis=axis)

    return compress


def _method_choose(x):
    def choose(choices, out=None, mode="raise"):
        return np.choose(x, choices, out=out, mode=mode)

    return choose


def _method_ptp(x):
    def ptp(axis=None, out=None, keepdims=False):
        return np.ptp(x, axis=axis, out=out, keepdims=keepdims)

    return ptp


def _method_round(x):
    def round(decimals=0, out=None):
        return np.round(x, decimals, out=out)

    return round


def _matrix_transpose(x):
    if np.ndim(value(x)) < 2:
        raise ValueError("matrix transpose with ndim < 2 is undefined")
    return np.swapaxes(x, -1, -2)


# What x.name is, for each name: functions of x.
_METHODS = {
    "T": np.transpose,
    "mT": _matrix_transpose,
    "astype": _method_astype,
    "item": _method_item,
    "tolist": _method_tolist,
    "fill": _method_fill,
    "sort": _method_sort,
    "partition": _method_partition,
    "put": _method_put,
    "reshape": _method_reshape,
    "transpose": _method_transpose,
    "flatten": _method_flatten,
    "compress": _method_compress,
    "choose": _method_choose,
    "ptp": _method_ptp,
    "round": _method_round,
}
for _f in (np.sum, np.mean, np.prod, np.max, np.min, np.std, np.var, np.cumsum, np.cumprod,
           np.ravel, np.squeeze, np.swapaxes, np.clip, np.dot, np.trace, np.diagonal, np.repeat,
           np.take, np.copy, np.all, np.any, np.argmax, np.argmin, np.argsort, np.argpartition,
           np.nonzero, np.searchsorted):
    _METHODS[_f.__name__] = _delegate(_f)

# Attributes that describe the value; they carry no derivative.
_PLAIN = {"shape", "ndim", "size", "dtype", "nbytes", "itemsize", "strides", "flags",
          "is_integer", "as_integer_ratio", "hex", "bit_length", "bit_count"}

# ndarray attributes that a tracked array cannot offer, and what to use instead.
_UNSUPPORTED = {
    "resize": "np.resize(x, shape) (ndarray.resize changes the array in place)",
    "view": "x itself, or np.reshape/astype (a view would share the array's memory)",
    "flat": "np.ravel(x)[i]",
    "itemset": "x[index] = v",
    "byteswap": "zygcy.value(x).byteswap() on the plain value",
    "data": "zygcy.value(x).data on the plain value",
    "ctypes": "zygcy.value(x).ctypes on the plain value",
    "base": "zygcy.value(x).base on the plain value",
    "tobytes": "zygcy.value(x).tobytes() on the plain value",
    "tofile": "zygcy.value(x).tofile() on the plain value",
    "dump": "zygcy.value(x).dump() on the plain value",
    "dumps": "zygcy.value(x).dumps() on the plain value",
    "setflags": "zygcy.value(x).setflags() on the plain value",
    "getfield": "x.real/x.imag or astype",
    "setfield": "x[index] = v",
    "newbyteorder": "zygcy.value(x) on the plain value",
}


def method(x, name):
    """The attribute ``name`` of the tracked value x, or None if it has none."""
    xv = value(x)
    if name in _PLAIN:
        return getattr(xv, name) if hasattr(xv, name) else None
    if not isinstance(xv, (_ndarray, _generic)):
        return None                 # a Python number: only the attributes above
    make = _METHODS.get(name)
    if make is not None:
        return make(x)
    if name in _UNSUPPORTED and hasattr(xv, name):
        raise AttributeError("%s.%s is not available on a tracked value: it would drop the "
                             "derivative; use %s" % (type(xv).__name__, name, _UNSUPPORTED[name]))
    return None

