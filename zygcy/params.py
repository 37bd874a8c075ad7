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

Public here: ``param``, ``Params``, ``Grads``; ``forward_params`` runs a
``Params`` differentiation for zygcy.api (``forward(f, ps)`` and friends).
"""
import inspect
import threading
import types
from collections.abc import Mapping

import numpy as np

from . import _check, _core, _seeds
from ._core import Tape, Tracked
from .containers import _register_leaf, register_container

__all__ = ["param", "Params", "Grads"]


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


_leaf = _core.param_leaf     # the leaf standing for p in the innermost frame that lists it, or None


def is_active(p):
    """True while p (or the parameter it is a view of) is being differentiated."""
    if not _local.stack:
        return False
    if _leaf(p) is not None:
        return True
    recipe = p.__dict__.get("_zyg_recipe")
    return recipe is not None and any(is_active(s) for s in recipe[0])


_plain = _core.param_plain   # np.ndarray.view(p, np.ndarray), in C


# In-place writes through parameters (W -= lr * g[W], W[0] = 1, np.add(W, x, out=W))
# are counted per block of memory (in the engine, zygcy/_params.pxi), so that a
# back() recorded before such a write can refuse to read the overwritten values.
written = _core.param_written   # count one in-place write into the memory of p
version = _core.param_version   # how many in-place writes the memory of p has had


plain = _plain      # for zygcy.api: the memory of a parameter as a plain ndarray


# What the Param p stands for now: a tracked leaf (or an expression of one, for a
# view) during a differentiation of it, else a plain view of its memory.
substitute = _core.param_substitute


def _substitute_slow(p):
    """substitute(p) while frames are active and none lists p itself (the engine's
    fast path handles the rest): a view replayed by its recipe, or refused."""
    frames = _local.stack
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


def _check_writable(p, how, name=None):
    """Refuse an in-place write into p while it is being differentiated; ``how``
    describes the write (with ``%s`` for ``name``, formatted only for the error)."""
    if is_active(p):
        raise TypeError(
            "%s changes a parameter in place while it is being differentiated, which would "
            "corrupt its derivative; compute a new array instead (W2 = W + x), and update "
            "the parameter after the differentiation (W -= lr * g[W])"
            % (how if name is None else how % name))


# numpy functions that write into their first argument.
_WRITERS = frozenset([np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, np.put_along_axis])


# Attributes that describe the memory, never the values: read directly.
_META = frozenset(["shape", "dtype", "ndim", "size", "itemsize", "nbytes", "strides", "flags",
                   "base", "ctypes", "data", "view"])


def _getattribute(self, name):
    """A public attribute or method of the Param self (not in _META): the
    substituted value's, so that it is recorded; a method's result and a view
    made outside a differentiation keep a recipe to follow the parameter."""
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
    # in the engine (zygcy/_params.pxi): parameters substituted, writes into them
    # counted, and refused while they are being differentiated
    __array_ufunc__ = _core.param_ufunc

    def __array_function__(self, func, types, args, kwargs):
        out = kwargs.get("out")
        if isinstance(out, Param):
            _check_writable(out, "numpy.%s(..., out=W)", func.__name__)
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
    # in the engine (zygcy/_params.pxi): private names and _META at C speed, the
    # others by _getattribute (above the class)
    __getattribute__ = _core.param_getattribute

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


def sub_params(xs):
    """xs (a sequence) with parameters replaced by what they stand for now."""
    if not frames_active():
        return xs
    return type(xs)(substitute(a) if isinstance(a, Param) else a for a in xs)


def params_argument(f, args, fname):
    """The Params when args is (Params,), after checking the call; else None."""
    if not any(isinstance(a, Params) for a in args):
        return None
    if len(args) != 1:
        raise TypeError(
            "%s(f, ps): a Params must be the only argument (f then takes no arguments and "
            "reads the parameters from where they are kept); differentiate with respect to "
            "other values explicitly, %s(f, x, y), or make them parameters too" % (fname, fname))
    try:
        code = getattr(f, "__code__", None)
        if type(f) is types.FunctionType and code is not None:    # cheap, and the common case
            required = code.co_argcount - len(f.__defaults__ or ())
            required += code.co_kwonlyargcount - len(f.__kwdefaults__ or {})
            if required > 0:
                raise TypeError
        else:
            inspect.signature(f).bind()
    except TypeError:
        raise TypeError(
            "%s(f, ps): with Params, f is called with no arguments, but %s requires some; "
            "write f as a function of no arguments that reads the parameters from where "
            "they are kept, e.g. %s(lambda: loss(model, x), ps)"
            % (fname, getattr(f, "__name__", "f"), fname)) from None
    except ValueError:
        pass        # no signature to check (a builtin): let the call tell
    return args[0]


def _record(f, ps, watch):
    """Run f() with the parameters ps tracked on a new tape: (tape, params, leaves, out)."""
    tape = Tape()
    if watch:
        tape.watch()
    plist = list(ps)
    # What each parameter stands for as the differentiation begins (an outer
    # frame's leaf when nested) becomes its leaf's value.
    leaves = [tape.leaf(substitute(p)) for p in plist]
    frame = push_frame(tape, plist, leaves)
    tape.push()
    try:
        out = f()
    except ValueError as e:
        _seeds.explain_write(e, tape)
        raise
    finally:
        tape.pop()
        pop_frame(frame)
    return tape, plist, leaves, out


def forward_params(f, ps, watch=False):
    """(y, back) of f() with respect to the parameters ps; back(dy) gives a Grads."""
    return _pullback(f, *_record(f, ps, watch))


def gradient_params(f, ps):
    """gradient(f, ps): forward_params and its back in one, for a real scalar output."""
    tape, plist, leaves, out = _record(f, ps, False)
    grads = None if _check.active() else _seeds.scalar_sweep(tape, out, leaves)
    if grads is not None:
        return Grads(plist, _seeds.handed_out([_plain(p) for p in plist], grads))
    y, back = _pullback(f, tape, plist, leaves, out)
    return back(_seeds.scalar_seed(y, "gradient"))


def _pullback(f, tape, plist, leaves, out):
    y, out_leaves, out_tree = _seeds.outputs(tape, out)
    versions = [version(p) for p in plist]

    def back(dy):
        for p, v in zip(plist, versions):
            if version(p) != v:
                raise RuntimeError(
                    "a parameter of shape %s was changed in place (W -= ..., W[i] = ...) after "
                    "this forward pass, which read its old values; this back would mix old and "
                    "new. Call forward (or gradient) again after updating the parameters."
                    % (p.shape,))
        grads = _seeds.sweep(tape, out_leaves, out_tree, dy, leaves)
        gs = _seeds.handed_out([plain(p) for p in plist], grads, dy)
        if _check.active():
            _check.check(lambda xs: _with_params(plist, xs, f), [plain(p) for p in plist],
                         _seeds.seed_leaves(out_tree, dy), gs, getattr(f, "__name__", "f"))
        return Grads(plist, gs)

    back.__doc__ = "back(dy): the Grads of the parameters for an output cotangent dy"
    return y, back


def _with_params(plist, values, f):
    """The output leaves of f() with the parameters' memory set to values (for
    zygcy.checking), restored afterwards."""
    saved = [np.array(plain(p), copy=True) for p in plist]
    try:
        for p, v in zip(plist, values):
            np.copyto(plain(p), v)
        return _seeds.output_leaves(f())
    finally:
        for p, v in zip(plist, saved):
            np.copyto(plain(p), v)


def param(x):
    """Mark an array as a trainable parameter, for use with ``Params``.

    Returns an ndarray subclass sharing ``x``'s memory (``x`` itself if it
    is already a parameter). It behaves as a plain ndarray everywhere, in
    place updates included (``W -= lr * g[W]`` changes the parameter), except
    while a ``Params`` differentiation containing it runs: then every use of
    it (operators, ``@``, numpy functions, indexing, ``W.T``, methods) is
    tracked. Views kept from before (``Wt = W.T``) follow the parameter.
    ``np.asarray(W)`` and ``W.view(np.ndarray)`` take the plain value, like
    ``zygcy.value``.

    Args:
      x: a float or complex ndarray (shared, not copied), or a number or
        nested list (converted to a new float array).

    Raises:
      TypeError: for a tracked value, or an array that is not float or complex.

    Example:
      >>> import numpy as np
      >>> from zygcy import param, Params, gradient
      >>> W = param(np.array([1.0, 2.0]))
      >>> g = gradient(lambda: np.sum(W * W), Params([W]))
      >>> g[W]
      array([2., 4.])
      >>> W -= 0.5 * g[W]      # an ordinary in-place update
      >>> W
      param(array([0., 0.]))
    """
    if isinstance(x, Param):
        return x
    if type(x) is Tracked:
        raise TypeError(
            "param(x): x is a tracked value (it is being differentiated), so it can't be a "
            "parameter: parameters are plain arrays a model keeps between steps. Make the "
            "parameter from a plain array, param(np.array(...)); to differentiate with "
            "respect to this value, pass it as an argument: gradient(f, x).")
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "fc":
            raise TypeError(
                "param(x): x has dtype %s, but a parameter must be a float or complex array "
                "(it is updated in place by steps like W -= lr * g[W]); use "
                "param(x.astype(float))" % x.dtype)
        return x.view(Param)
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, complex, np.generic, list, tuple)):
        raise TypeError("param(x): x must be an array, a number or a nested list of numbers, "
                        "got %s" % type(x).__name__)
    a = np.array(x)
    if a.dtype.kind in "iu":
        a = a.astype(float)
    if a.dtype.kind not in "fc":
        raise TypeError("param(x): x must hold numbers, got an array of dtype %s" % a.dtype)
    return a.view(Param)


class Params:
    """An ordered set of parameters (arrays made with ``param``), keyed by identity.

    Differentiating a function of no arguments with respect to ``Params``
    (``gradient(f, ps)``, ``forward(f, ps)``, ``withgradient(f, ps)``) tracks
    every use of those parameters inside ``f`` and returns a ``Grads``.

    Args:
      params: an iterable of parameters, each made with ``param``.

    Raises:
      TypeError: for a plain ndarray (the message explains ``param`` and the
        explicit alternative), a tracked value, or anything else.

    Example:
      >>> import numpy as np
      >>> from zygcy import param, Params, gradient
      >>> W = param(np.ones((2, 3)))
      >>> b = param(np.zeros(2))
      >>> predict = lambda x: W @ x + b
      >>> g = gradient(lambda: np.sum(predict(np.array([1.0, 2.0, 3.0]))), Params([W, b]))
      >>> g[W]
      array([[1., 2., 3.],
             [1., 2., 3.]])
      >>> g[b]
      array([1., 1.])
    """

    def __init__(self, params=()):
        if isinstance(params, (np.ndarray, Tracked)):
            raise TypeError("Params(params) takes a list of parameters, Params([W, b]), "
                            "not a single array")
        try:
            items = list(params)
        except TypeError:
            raise TypeError("Params(params) takes a list of parameters, Params([W, b]); got "
                            "a %s" % type(params).__name__) from None
        self._list = []
        self._ids = set()
        for i, p in enumerate(items):
            self._add(p, "Params([...]): item %d" % i)

    def _add(self, p, where):
        if isinstance(p, Param):
            if id(p) not in self._ids:
                self._ids.add(id(p))
                self._list.append(p)
            return
        if type(p) is Tracked:
            raise TypeError(
                "%s is a tracked value (it is being differentiated), so it can't be a "
                "parameter: parameters are arrays a model keeps between steps, made with "
                "zygcy.param(array). To differentiate with respect to this value, pass it "
                "as an argument: gradient(f, x)." % where)
        if isinstance(p, np.ndarray):
            raise TypeError(
                "%s is a plain numpy array; zygcy can only follow arrays marked as "
                "parameters. Mark it once where it is made, W = zygcy.param(W) (it stays an "
                "ndarray, and in-place updates like W -= lr * g[W] keep working), or "
                "differentiate with respect to it explicitly: gradient(f, W) with f taking "
                "W as an argument." % where)
        raise TypeError("%s is a %s; Params holds arrays made with zygcy.param(array)"
                        % (where, type(p).__name__))

    def add(self, p):
        """Add a parameter (no effect if it is already there)."""
        self._add(p, "Params.add(p): p")

    def __iter__(self):
        return iter(self._list)

    def __len__(self):
        return len(self._list)

    def __contains__(self, p):
        return id(p) in self._ids and any(q is p for q in self._list)

    def __repr__(self):
        return "Params([%s])" % ", ".join("param of shape %s" % (p.shape,) for p in self._list)


_register_leaf(Params)


class Grads:
    """The gradients of a ``Params`` differentiation, keyed by the parameters themselves.

    ``g[W]`` is the gradient of parameter ``W`` (None if none reached it);
    ``W in g``, ``len(g)``, iteration (over the parameters), ``keys()``,
    ``values()``, ``items()`` and ``get`` work as for a dict. Arithmetic
    acts on every gradient, so optimiser steps are one line: ``g * 0.1``,
    ``0.1 * g``, ``g1 + g2``, ``g1 - g2``, ``g / n``, ``-g``, ``g.map(fn)``.
    A missing (None) gradient counts as zero in sums. Each call returns new
    arrays; nothing is shared with another ``Grads``.

    Example:
      >>> import numpy as np
      >>> from zygcy import param, Params, gradient
      >>> W = param(np.array([1.0, 2.0]))
      >>> g = gradient(lambda: np.sum(W ** 2), Params([W]))
      >>> for p, d in (0.25 * g).items():
      ...     p -= d
      >>> W
      param(array([0.5, 1. ]))
    """

    def __init__(self, params, grads):
        self._params = list(params)
        self._grads = list(grads)
        self._index = {id(p): i for i, p in enumerate(self._params)}

    def _pos(self, p):
        i = self._index.get(id(p))
        if i is None or self._params[i] is not p:
            return None
        return i

    def __getitem__(self, p):
        i = self._pos(p)
        if i is None:
            raise KeyError("this array is not one of the parameters of this Grads (they are "
                           "matched by identity: use the param() objects given to Params)")
        return self._grads[i]

    def get(self, p, default=None):
        i = self._pos(p)
        return default if i is None else self._grads[i]

    def __contains__(self, p):
        return self._pos(p) is not None

    def __iter__(self):
        return iter(self._params)

    def __len__(self):
        return len(self._params)

    def keys(self):
        """The parameters, in the order of the Params."""
        return list(self._params)

    def values(self):
        """The gradients, in the order of the Params."""
        return list(self._grads)

    def items(self):
        """(parameter, gradient) pairs, in the order of the Params."""
        return list(zip(self._params, self._grads))

    @property
    def params(self):
        return Params(self._params)

    def map(self, fn):
        """A new Grads with ``fn`` applied to every gradient that is not None."""
        return Grads(self._params, [None if g is None else fn(g) for g in self._grads])

    def copy(self):
        return self.map(_seeds.fresh)

    def _combine(self, other, op, name):
        if isinstance(other, Grads):
            missing = [p for p in other._params if p not in self]
            if missing or len(other) != len(self):
                raise ValueError("Grads %s Grads: both must hold the same parameters" % name)
            out = []
            for p, g in zip(self._params, self._grads):
                h = other[p]
                if g is None and h is None:
                    out.append(None)
                elif h is None:
                    out.append(op(g, 0))
                elif g is None:
                    out.append(op(0, h))
                else:
                    out.append(op(g, h))
            return Grads(self._params, out)
        return self.map(lambda g: op(g, other))

    def __add__(self, other):
        return self._combine(other, lambda a, b: a + b, "+")

    __radd__ = __add__

    def __sub__(self, other):
        return self._combine(other, lambda a, b: a - b, "-")

    def __rsub__(self, other):
        return self.map(lambda g: other - g)

    def __mul__(self, other):
        return self._combine(other, lambda a, b: a * b, "*")

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self._combine(other, lambda a, b: a / b, "/")

    def __neg__(self):
        return self.map(lambda g: -g)

    def __repr__(self):
        return "Grads(%s)" % ", ".join(
            "param of shape %s => %r" % (p.shape, g) for p, g in self.items())


Mapping.register(Grads)

_core.install_params(_local, Param, _substitute_slow, _check_writable, _getattribute, _META)


register_container(Grads, lambda g: (list(g._grads), g._params),
                   lambda aux, ch: Grads(aux, ch))
