"""Implicit parameters: the machinery behind ``param``, ``Params`` and ``Grads``.

``param(array)`` returns a ``Param``: an ndarray subclass sharing the array's
memory. Outside a ``Params`` differentiation it is an ordinary array: every
operation runs on a plain view of the same memory, so results are plain
arrays and in-place updates (``W -= lr * g[W]``) change the parameter itself.

While a ``Params`` differentiation is active (a *frame*: the tape and one
tracked leaf per parameter), every use of a parameter of that frame is
replaced by its leaf, so the operation is recorded:

* numpy ufuncs and operators, ``@`` included (``__array_ufunc__``),
* numpy functions (``__array_function__``), also inside lists (``np.stack``),
* indexing, and every public attribute and method (``W.T``, ``W.sum()``,
  ``W.reshape(...)``), through ``__getattribute__``,
* conversions (``float(W)`` then raises, as it does on any tracked value).

Frames nest; a parameter stands for the leaf of the innermost frame that
contains it, and that leaf's value is what the parameter stood for when the
frame began (the outer frame's leaf), so derivatives of derivatives work.

Views. A view of a parameter made outside a differentiation (``Wt = W.T``
kept in a model) is itself a ``Param`` that remembers how it was made (its
*recipe*); while its parameter is being differentiated each use replays the
recipe on the parameter's leaf, so the view follows the parameter. A view
made in a way zygcy cannot see (by numpy's C code, e.g. ``x.dot(W)`` making a
``Param`` result) is refused with an error when used during the
differentiation. ``np.asarray(W)`` and ``W.view(np.ndarray)`` return plain
arrays on purpose: like ``zygcy.value``, they take the plain value.

Tracked values on the left. When a tracked value meets a parameter
(``h @ W``), numpy would ask the tracked value's override first; the engine
defers to ``Param`` (a *stand-in*: its type defines ``__zygcy_substitute__``,
see zygcy/_dispatch.pxi), so ``Param``'s override runs,
puts the parameter's tracked leaf in its place and calls again: every
operation is recorded once, on the innermost differentiation that lists the
parameter.
"""
import threading
import weakref

import numpy as np

from ._core import Tracked

__all__ = ["Param", "substitute", "is_active", "push_frame", "pop_frame", "frames_active"]


class _Frames(threading.local):
    """The active Params differentiations of this thread, innermost last: a
    parameter shared by threads stands for each thread's own leaf."""

    def __init__(self):
        self.stack = []


_local = _Frames()


class _Frame:
    __slots__ = ("tape", "leaves")

    def __init__(self, tape, leaves):
        self.tape = tape
        self.leaves = leaves        # id(param) -> (param, tracked leaf)


def push_frame(tape, params, leaves):
    frame = _Frame(tape, {id(p): (p, t) for p, t in zip(params, leaves)})
    _local.stack.append(frame)
    return frame


def pop_frame(frame):
    if frame in _local.stack:
        _local.stack.remove(frame)


def frames_active():
    return bool(_local.stack)


def _leaf(p):
    """The leaf standing for p in the innermost frame that lists it, or None."""
    for fr in reversed(_local.stack):
        e = fr.leaves.get(id(p))
        if e is not None and e[0] is p:
            return e[1]
    return None


def is_active(p):
    """True while p (or the parameter it is a view of) is being differentiated."""
    if not _local.stack:
        return False
    if _leaf(p) is not None:
        return True
    recipe = p.__dict__.get("_zyg_recipe")
    return recipe is not None and any(is_active(s) for s in recipe[0])


def _plain(p):
    return np.ndarray.view(p, np.ndarray)


# In-place writes through parameters (W -= lr * g[W], W[0] = 1, np.add(W, x, out=W)),
# counted per block of memory, so that a back() recorded before such a write can
# refuse to read the overwritten values. id(owner) -> [weakref to owner, count].
_writes = {}


def _owner(a):
    """The ndarray that owns a's memory (a itself, or the end of its chain of bases)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def written(p):
    """Count one in-place write into the memory of the parameter p."""
    o = _owner(_plain(p))
    e = _writes.get(id(o))
    if e is None or e[0]() is not o:
        _writes[id(o)] = [weakref.ref(o, lambda _, k=id(o): _writes.pop(k, None)), 1]
    else:
        e[1] += 1


def version(p):
    """How many in-place writes the memory of the parameter p has had."""
    o = _owner(_plain(p))
    e = _writes.get(id(o))
    return e[1] if e is not None and e[0]() is o else 0


plain = _plain      # for zygcy.api: the memory of a parameter as a plain ndarray


def substitute(p):
    """What the Param p stands for now: a tracked leaf (or an expression of one,
    for a view) during a differentiation of it, else a plain view of its memory."""
    frames = _local.stack
    if not frames:
        return _plain(p)
    leaf = _leaf(p)
    if leaf is not None:
        return leaf
    recipe = p.__dict__.get("_zyg_recipe")
    if recipe is not None:
        if any(is_active(s) for s in recipe[0]):
            return recipe[1]()
        return _plain(p)
    for fr in frames:
        for q, _ in fr.leaves.values():
            if np.may_share_memory(_plain(p), _plain(q)):
                raise TypeError(
                    "an array sharing memory with a parameter being differentiated was used, "
                    "but zygcy cannot tell how it was made from the parameter (a view made by "
                    "numpy's C code, or a second param() of the same memory), so its "
                    "derivative would be lost. Make it with numpy functions, operators or "
                    "methods of the parameter (W.T, W[0], np.transpose(W)), or inside the "
                    "differentiated function.")
    return _plain(p)


def _sub_tree(x, found):
    """x with Params replaced (in lists and tuples too); found collects them."""
    if isinstance(x, Param):
        found.append(x)
        return substitute(x)
    if type(x) is list or type(x) is tuple:
        return type(x)(_sub_tree(e, found) for e in x)
    if type(x) is dict:
        return {k: _sub_tree(v, found) for k, v in x.items()}
    return x


def _as_view(res, sources, recipe):
    """Mark res as a view of the Params it shares memory with, replayable by recipe()."""
    if type(res) is np.ndarray and any(np.may_share_memory(res, _plain(s)) for s in sources):
        v = res.view(Param)
        v._zyg_recipe = (tuple(sources), recipe)
        return v
    return res


def _check_writable(p, how):
    if is_active(p):
        raise TypeError(
            "%s changes a parameter in place while it is being differentiated, which would "
            "corrupt its derivative; compute a new array instead (W2 = W + x), and update "
            "the parameter after the differentiation (W -= lr * g[W])" % how)


# numpy functions that write into their first argument.
_WRITERS = frozenset([np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, np.put_along_axis])

# Attributes that describe the memory, never the values: read directly.
_META = frozenset(["shape", "dtype", "ndim", "size", "itemsize", "nbytes", "strides", "flags",
                   "base", "ctypes", "data", "view"])


class Param(np.ndarray):
    """An array marked as a trainable parameter; made by ``zygcy.param``.

    It is an ordinary ndarray (sharing memory with the array it was made
    from) except while a ``Params`` differentiation that contains it is
    active: then every use of it is recorded. See ``zygcy.param``.
    """

    # C-level products with plain arrays (x.dot(W)) then make Param results,
    # so __array_finalize__ sees them and can refuse them during differentiation.
    __array_priority__ = 20.0

    def __zygcy_substitute__(self):
        """What this parameter stands for now (a tracked leaf while it is being
        differentiated): the engine's stand-in protocol, used by primitives and
        by Tracked's overrides, which let this class's overrides run first."""
        return substitute(self)

    def __array_finalize__(self, obj):
        self._zyg_recipe = None
        if _local.stack and isinstance(obj, Param) and is_active(obj):
            raise TypeError(
                "a parameter being differentiated was used by an operation zygcy cannot see "
                "(numpy's C code, such as the method call x.dot(W) on a plain array x, or "
                "copy.copy(W)); its derivative would be lost. Use numpy functions or "
                "operators instead: x @ W, np.dot(x, W).")

    # -- numpy's protocols -----------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        if out is not None:
            for o in out:
                if isinstance(o, Param):
                    _check_writable(o, "numpy.%s(..., out=W) or an in-place operator "
                                       "(W += x)" % ufunc.__name__)
            kwargs["out"] = tuple(_plain(o) if isinstance(o, Param) else o for o in out)
        if method == "at" and isinstance(inputs[0], Param):
            _check_writable(inputs[0], "numpy.%s.at" % ufunc.__name__)
        found = []
        args = [_sub_tree(x, found) if isinstance(x, Param) else x for x in inputs]
        res = getattr(ufunc, method)(*args, **kwargs)
        if method == "at" and isinstance(inputs[0], Param):
            written(inputs[0])
        if out is not None:
            for o in out:
                if isinstance(o, Param):
                    written(o)
            return out[0] if len(out) == 1 else out
        return res

    def __array_function__(self, func, types, args, kwargs):
        out = kwargs.get("out")
        if isinstance(out, Param):
            _check_writable(out, "numpy.%s(..., out=W)" % func.__name__)
        found = []
        sargs = _sub_tree(args, found)
        skwargs = _sub_tree(kwargs, found)
        if isinstance(out, Param):
            skwargs["out"] = _plain(out)
        res = func(*sargs, **skwargs)
        if func in _WRITERS and args and isinstance(args[0], Param):
            written(args[0])
        if out is not None and isinstance(out, Param):
            written(out)
            return out
        if any(is_active(s) for s in found):
            return res

        def replay(k=None):
            r = func(*_sub_tree(args, []), **_sub_tree(kwargs, []))
            return r if k is None else r[k]

        if type(res) is tuple or type(res) is list:
            return type(res)(_as_view(r, found, lambda k=k: replay(k)) for k, r in enumerate(res))
        return _as_view(res, found, replay)

    # -- indexing --------------------------------------------------------------
    def __getitem__(self, index):
        s = substitute(self)
        res = s[index]
        if type(s) is Tracked or type(res) is Tracked:
            return res
        return _as_view(res, (self,), lambda: substitute(self)[index])

    def __setitem__(self, index, v):
        _check_writable(self, "W[...] = v")
        substitute(self)[index] = substitute(v) if isinstance(v, Param) else v
        written(self)

    def __iter__(self):
        s = substitute(self)
        if type(s) is Tracked:
            return iter(s)
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(s)))

    # -- attributes and methods ---------------------------------------------------
    def __getattribute__(self, name):
        if name[0] == "_" or name in _META:
            return object.__getattribute__(self, name)
        s = substitute(self)
        attr = getattr(s, name)
        if type(s) is Tracked:
            return attr
        if callable(attr):
            def method(*args, **kwargs):
                found = []
                res = attr(*_sub_tree(args, found), **_sub_tree(kwargs, found))
                return _as_view(res, (self,), lambda: getattr(substitute(self), name)(*args, **kwargs))
            method.__name__ = name
            method.__doc__ = getattr(attr, "__doc__", None)
            return method
        return _as_view(attr, (self,), lambda: getattr(substitute(self), name))

    # -- conversions: a tracked parameter refuses to drop its derivative ----------
    def __float__(self):
        return float(substitute(self))

    def __complex__(self):
        return complex(substitute(self))

    def __int__(self):
        return int(substitute(self))

    def __index__(self):
        return substitute(self).__index__()

    def __bool__(self):
        return bool(substitute(self))

    def __repr__(self):
        return "param(%r)" % (_plain(self),)

    def __str__(self):
        return str(_plain(self))

    def __reduce__(self):
        # pickles as a plain array made a parameter again on loading
        return (_unpickle, (_plain(self).copy(),))


def _unpickle(a):
    return a.view(Param)


