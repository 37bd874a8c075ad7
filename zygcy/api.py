"""The public API of zygcy, named after Julia's Zygote.

* ``forward(f, *args)`` / ``pullback`` -> ``(y, back)``: the value and a function
  that maps a cotangent of the output to cotangents of the arguments.
* ``gradient(f, *args)``, ``withgradient``, ``derivative``, ``D``.
* ``grad``: a decorator for custom rules, ``dropgrad``, ``hook``, ``nograd``,
  ``checkpointed``, ``value``.
* ``param``, ``Params``, ``Grads``: implicit parameters (Zygote's), for models
  whose arrays are read from the enclosing scope rather than passed in.

Arguments are validated before anything is traced, so an error points at the
call that was wrong.
"""
import decimal
import functools
import inspect
import numbers
import types
from collections import namedtuple
from collections.abc import Mapping

import numpy as np

from . import _check, _core
from . import _params
from ._core import Tape, Tracked, record_joint, strip, top_tape
from ._params import Param
from .containers import (InputError, _register_leaf, flatten, flatten_like, input_leaf,
                         is_differentiable, leaf_place, map_leaves, register_container, unflatten,
                         unflatten_grads)

__all__ = ["forward", "pullback", "gradient", "withgradient", "derivative", "D", "grad",
           "dropgrad", "hook", "nograd", "checkpointed", "value", "param", "Params", "Grads"]


def value(x):
    """The plain value of ``x``: numbers and arrays inside it with all tracking removed.

    Use it to leave differentiation on purpose (for logging, a plain
    ``float(...)``); the result carries no derivative.

    Example:
      >>> from zygcy import gradient, value
      >>> gradient(lambda x: x * value(x), 3.0)   # value(x) is a constant here
      (3.0,)
    """
    if type(x) is Tracked:
        return _core.value(x)
    return map_leaves(_plain_leaf, x)


def _plain_leaf(v):
    if isinstance(v, Param):
        return np.ndarray.view(v, np.ndarray)
    return _core.value(v)


def _sub_params(xs):
    """xs (a sequence) with parameters replaced by what they stand for now."""
    if not _params.frames_active():
        return xs
    return type(xs)(_params.substitute(a) if isinstance(a, Param) else a for a in xs)


def _check_callable(f, fname):
    if not callable(f):
        raise TypeError("%s(f, *args): f must be a function, got %s; the function to "
                        "differentiate comes first" % (fname, type(f).__name__))


def forward(f, *args):
    """Run ``f(*args)`` and return ``(y, back)``.

    ``y`` is the plain output (never tracked by this call). ``back(dy)`` takes a
    cotangent with the structure of ``y`` (``None`` for parts with none) and
    returns a tuple with one gradient per positional argument, in the
    argument's structure, ``None`` where no gradient reaches it. ``back`` may
    be called any number of times; each call returns fresh results.

    ``dy`` is checked before the sweep: each of its leaves must be a number
    where ``y`` has a number, and an array (or a nested list of numbers) of
    the same shape where ``y`` has an array; anything else raises an error
    naming both. Integer cotangents of numpy integers are made int64, so
    they never wrap around (the gradient of an unsigned input can be
    negative).

    Args:
      f: the function; it may use loops, branches, recursion, closures,
        containers, numpy, ``zygcy.math``...
      *args: its positional arguments: numbers (ints, floats, complex,
        numpy scalars, ``Fraction``, ``Decimal``), arrays of numbers, and
        tuples, lists, deques, dicts, namedtuples, dataclasses and other
        objects holding them (see ``zygcy.containers``); ``f`` receives
        copies of the structures, with tracked numbers and arrays in them.
        Bools, strings and values holding no numbers are passed through
        untouched and get no gradient; values holding numbers that zygcy
        cannot differentiate correctly (``np.matrix``, masked arrays, object
        arrays, sets, iterators, sparse matrices, data frames...) raise a
        TypeError that says what to pass instead. Or a single ``Params``:
        then ``f`` takes no arguments and ``back`` returns a ``Grads``.

    Returns:
      ``(y, back)``.

    Raises:
      TypeError: for an argument that cannot be differentiated (the message
        names it and says what to pass); ``back`` raises for a cotangent of
        the wrong structure, shape or kind.

    Example:
      >>> import numpy as np
      >>> from zygcy import forward
      >>> y, back = forward(lambda a, b: a * b, 2.0, 3.0)
      >>> y
      6.0
      >>> back(4.0)
      (12.0, 8.0)
      >>> y, back = forward(lambda x: x * 2.0, np.ones(3))
      >>> back([1.0, 2.0, 3.0])          # a list of numbers stands for an array
      (array([2., 4., 6.]),)
      >>> back(1.0)
      Traceback (most recent call last):
      ...
      ValueError: the seed has shape (), but the output is an array of shape (3,); give an array of shape (3,) (or None)
      >>> forward(np.sum, {"x": np.array([1.0, 2.0], dtype=object)})
      Traceback (most recent call last):
      ...
      TypeError: forward: argument 0 at ['x'] is an array of dtype object ... Pass x.astype(float) ...
    """
    _check_callable(f, "forward")
    return _forward(f, args, "forward")


def _forward(f, args, fname):
    ps = _params_argument(f, args, fname)
    if ps is not None:
        return _forward_params(f, ps)
    # The common case, numbers and arrays only, skips the container machinery.
    tree = None if all(type(a) in _SIMPLE for a in args) else flatten(args)[1]
    leaves = list(args) if tree is None else flatten(args)[0]
    tape = Tape()
    tape.push()
    try:
        try:
            tleaves = [_track(tape, v) for v in leaves]
        except InputError as e:
            raise _input_error(e, fname, leaves, tree) from None
        out = f(*(tleaves if tree is None else unflatten(tree, tleaves)))
    finally:
        tape.pop()
    y, out_leaves, out_tree = _outputs(tape, out)
    inputs = [(i, t) for i, t in enumerate(tleaves) if tape.owns(t)]

    def back(dy):
        grads = _sweep(tape, out_leaves, out_tree, dy, [t for _, t in inputs])
        full = [None] * len(leaves)
        for (i, t), g in zip(inputs, grads):
            full[i] = _fresh(_project(tape.unwrap(t), g), dy)
        if _check.active():
            _check.check(lambda xs: _output_leaves(f(*(xs if tree is None else unflatten(tree, xs)))),
                         leaves, _seed_leaves(out_tree, dy), full, getattr(f, "__name__", "f"))
        if tree is None:
            return tuple(full)
        gs = unflatten_grads(tree, full)
        return (None,) * len(args) if gs is None else tuple(gs)

    back.__doc__ = "back(dy): the cotangents of the arguments of %s for an output cotangent dy" % (
        getattr(f, "__name__", "f"),)
    return y, back


_TRACK_AS_IS = frozenset([float, int, complex, np.float64])


def _track(tape, v):
    """What f receives for the leaf v of its arguments: a tracked leaf, or v as a constant."""
    cls = type(v)
    if cls in _TRACK_AS_IS or (cls is np.ndarray and v.dtype.kind in "iufc"):
        return tape.leaf(v)         # the common case, decided here
    if cls is Tracked:
        return tape.leaf(_leaf_value(v))
    val, tracked = input_leaf(v)    # every other kind: containers.input_leaf decides
    return tape.leaf(_leaf_value(val)) if tracked else val


def _input_error(e, fname, leaves, tree):
    """The TypeError for an argument's leaf that cannot be differentiated, saying where it is."""
    i = next(k for k, v in enumerate(leaves) if v is e.leaf)
    if tree is None:
        place = "argument %d" % i
    else:
        path = leaf_place(tree, i)          # "[0]['w']": argument 0, then the way inside it
        end = path.index("]")
        place = "argument %s" % path[1:end] + (" at %s" % path[end + 1:] if path[end + 1:] else "")
    return TypeError("%s: %s %s" % (fname, place, e.problem))


def _leaf_value(v):
    if _finished(v):
        return _core.value(v)
    if isinstance(v, Param):
        return _params.substitute(v)
    return v


_SIMPLE = frozenset([float, int, complex, np.ndarray, np.float64, Tracked])   # leaves, not containers


def _outputs(tape, out):
    """The plain output, and its leaves (nodes) and structure for the backward pass."""
    if type(out) in _SIMPLE:
        return tape.unwrap(out), [out], None
    out_leaves, out_tree = flatten(out)
    return unflatten(out_tree, [tape.unwrap(v) for v in out_leaves]), out_leaves, out_tree


def _sweep(tape, out_leaves, out_tree, dy, wanted):
    """The reverse sweep of ``tape`` from the cotangent ``dy`` of the output."""
    seeds = [dy] if out_tree is None else flatten_like(out_tree, dy)
    pairs = []
    for j, (node, s) in enumerate(zip(out_leaves, seeds)):
        if s is None:
            continue
        s = _check_seed(node, s, out_tree, j)
        if tape.owns(node):
            pairs.append((node, s))
    return tape.backward(pairs, wanted)


def _fresh(g, dy=None):
    """A gradient the caller owns. The engine never updates an array it has
    returned (it adds in place only into buffers made during the same sweep),
    so only a gradient that is the seed, part of it, or a view is copied."""
    if isinstance(g, np.ndarray) and (g.base is not None or type(g) is not np.ndarray or _holds(dy, g)):
        return np.array(g, copy=True, subok=False)
    return g


def _holds(dy, g):
    if dy is g:
        return True
    if dy is None or type(dy) in _SIMPLE:
        return False
    return any(v is g for v in flatten(dy)[0])


def _params_argument(f, args, fname):
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


def _forward_params(f, ps):
    tape = Tape()
    # What each parameter stands for as the differentiation begins (an outer
    # frame's leaf when nested) becomes its leaf's value.
    leaves = [tape.leaf(_params.substitute(p)) for p in ps]
    frame = _params.push_frame(tape, list(ps), leaves)
    tape.push()
    try:
        out = f()
    finally:
        tape.pop()
        _params.pop_frame(frame)
    y, out_leaves, out_tree = _outputs(tape, out)
    plist = list(ps)
    versions = [_params.version(p) for p in plist]

    def back(dy):
        for p, v in zip(plist, versions):
            if _params.version(p) != v:
                raise RuntimeError(
                    "a parameter of shape %s was changed in place (W -= ..., W[i] = ...) after "
                    "this forward pass, which read its old values; this back would mix old and "
                    "new. Call forward (or gradient) again after updating the parameters."
                    % (p.shape,))
        grads = _sweep(tape, out_leaves, out_tree, dy, leaves)
        gs = [_fresh(_project(_params.plain(p), g), dy) for p, g in zip(plist, grads)]
        if _check.active():
            _check.check(lambda xs: _with_params(plist, xs, f), [_params.plain(p) for p in plist],
                         _seed_leaves(out_tree, dy), gs, getattr(f, "__name__", "f"))
        return Grads(plist, gs)

    back.__doc__ = "back(dy): the Grads of the parameters for an output cotangent dy"
    return y, back


pullback = forward


def _output_leaves(out):
    return [out] if type(out) in _SIMPLE else flatten(out)[0]


def _seed_leaves(out_tree, dy):
    return [dy] if out_tree is None else flatten_like(out_tree, dy)


def _with_params(plist, values, f):
    """The output leaves of f() with the parameters' memory set to values (for
    zygcy.checking), restored afterwards."""
    saved = [np.array(_params.plain(p), copy=True) for p in plist]
    try:
        for p, v in zip(plist, values):
            np.copyto(_params.plain(p), v)
        return _output_leaves(f())
    finally:
        for p, v in zip(plist, saved):
            np.copyto(_params.plain(p), v)


def _finished(v):
    return type(v) is Tracked and not _core.node_tape_active(v)


def _check_seed(node, s, tree=None, j=0):
    """The seed ``s`` for the output leaf ``node`` (leaf ``j`` of the output's
    structure ``tree``), checked against it before the sweep: a number for a
    number, an array (or nested list) of the output's shape for an array.
    Integer seeds for numpy outputs become int64, so that cotangents of
    unsigned or narrow integers cannot wrap around."""
    v = _core.value(node)
    sv = _core.value(s)
    if type(sv) is float and type(v) is float:
        return s                                        # the common case
    if not (isinstance(v, (np.ndarray, np.generic)) or is_differentiable(v) or isinstance(v, bool)):
        raise ValueError("the seed%s is a %s, but the output%s is a %s, which has no "
                         "derivative; give None in its place"
                         % (_seed_place(tree, j), type(sv).__name__, _there(tree), type(v).__name__))
    if isinstance(sv, (list, tuple)) and isinstance(v, np.ndarray):
        flat = flatten(sv)[0]
        if flat and all(is_differentiable(e) and type(e) is not Tracked for e in flat):
            s = sv = np.array(sv)                       # a nested list of numbers is an array
    if not (is_differentiable(sv) or isinstance(sv, (bool, np.bool_))
            or (isinstance(sv, np.ndarray) and sv.dtype.kind == "b")):
        raise TypeError("the seed%s is a %s, but the output%s is %s; give %s"
                        % (_seed_place(tree, j), type(sv).__name__, _there(tree), _describe(v), _wanted(v)))
    shape = np.shape(sv) if isinstance(sv, (np.ndarray, np.generic)) else ()
    vshape = np.shape(v) if isinstance(v, (np.ndarray, np.generic)) else ()
    if shape != vshape:
        raise ValueError("the seed%s has shape %s, but the output%s is %s; give %s"
                         % (_seed_place(tree, j), shape, _there(tree), _describe(v), _wanted(v)))
    if isinstance(v, (np.ndarray, np.generic)) and type(s) is not Tracked and _could_wrap(sv, v):
        s = _wide_int(sv)
    return s


def _could_wrap(sv, v):
    """True for an integer seed that could wrap around in the sweep of the numpy
    output v: a bool, unsigned or narrow numpy integer, or a Python int (numpy
    casts it to the dtype of the arrays it meets)."""
    if isinstance(sv, (np.ndarray, np.generic)):
        return sv.dtype.kind in "bu" or (sv.dtype.kind == "i" and sv.dtype.itemsize < 8)
    return isinstance(sv, int) and v.dtype.kind in "biu"


def _wide_int(s):
    """An integer (or bool) seed as int64, or float64 if it does not fit."""
    a = np.asarray(s)
    if a.size and (a.max() > np.iinfo(np.int64).max or a.min() < np.iinfo(np.int64).min):
        a = a.astype(np.float64)
    else:
        a = a.astype(np.int64)
    return a if isinstance(s, np.ndarray) else a[()]


def _describe(v):
    if isinstance(v, np.ndarray):
        return "an array of shape %s" % (v.shape,)
    return "a %s (shape ())" % type(v).__name__


def _wanted(v):
    if isinstance(v, np.ndarray):
        return "an array of shape %s (or None)" % (v.shape,)
    return "a number (or None)"


def _there(tree):
    return "" if tree is None else " there"


def _seed_place(tree, j):
    if tree is None:
        return ""
    return " at %s" % leaf_place(tree, j)


def _project(x, g):
    """Give a gradient the kind of its input: real inputs get real gradients,
    array inputs array gradients of their shape."""
    if g is None:
        return None
    if (type(g) is np.ndarray and type(x) is np.ndarray and g.shape == x.shape
            and (g.dtype.kind != "c" or x.dtype.kind == "c")):
        return g        # the common case: nothing to change
    xv = _core.value(x)
    gv = _core.value(g)
    if isinstance(xv, np.ndarray):
        if not np.iscomplexobj(xv) and np.iscomplexobj(gv):
            g = g.real
            gv = _core.value(g)
        if np.shape(gv) != xv.shape:
            g = g + np.zeros(xv.shape, dtype=np.result_type(gv, float))
        elif not isinstance(gv, np.ndarray) and type(g) is not Tracked:
            g = np.array(gv)        # a 0-d array for a 0-d array input, not a numpy scalar
        return g
    if not isinstance(xv, (complex, np.complexfloating)) and isinstance(gv, (complex, np.complexfloating)):
        g = g.real
    if isinstance(_core.value(g), np.ndarray) and np.ndim(_core.value(g)) == 0 and not isinstance(xv, np.generic):
        g = g[()]
    return g


def _scalar_seed(y, fname):
    """The seed 1 for a real scalar output, else an error that says what to do."""
    v = _core.value(y)
    if isinstance(v, (bool, np.bool_)):
        return 1
    if isinstance(v, (complex, np.complexfloating)) or (isinstance(v, np.ndarray) and v.dtype.kind == "c"):
        raise ValueError(
            "Output is complex, so the gradient is not defined. %s needs a real scalar "
            "output: differentiate abs(y)**2, y.real or y.imag, or use forward(f, ...) and "
            "back(seed) with a complex seed for a vector-Jacobian product." % fname)
    if isinstance(v, float):
        return 1.0
    if isinstance(v, int):
        return 1
    if isinstance(v, np.generic) and v.dtype.kind in "iuf":
        # Integer cotangents are int64: an unsigned or narrow one could wrap around.
        return np.int64(1) if v.dtype.kind in "iu" else v.dtype.type(1)
    if isinstance(v, np.ndarray):
        if v.shape == ():
            return np.ones((), np.int64 if v.dtype.kind in "biu" else v.dtype)
        raise ValueError(
            "Output is an array of shape %s, so the gradient is not defined: %s needs a real "
            "scalar output. Reduce it (np.sum(y), np.mean(y)), or for a vector-Jacobian "
            "product use y, back = forward(f, ...) and back(seed) with a seed of shape %s."
            % (v.shape, fname, v.shape))
    if isinstance(v, numbers.Real) or isinstance(v, decimal.Decimal):
        return type(v)(1)           # fractions.Fraction, decimal.Decimal: exact arithmetic
    raise ValueError(
        "Output is a %s, so the gradient is not defined: %s needs a real scalar output. "
        "withgradient differentiates the first element of a returned tuple; forward(f, ...) "
        "gives back() for any output." % (type(v).__name__, fname))


def gradient(f, *args):
    """The gradient of a real scalar-valued ``f`` at ``args``: one entry per argument.

    Args:
      f: a function returning a real number (or a 0-d array).
      *args: as for ``forward``: numbers, arrays and structures of them, or
        a single ``Params`` (then ``f`` takes no arguments).

    Returns:
      A tuple with one gradient per positional argument, each with the
      structure and kind of its argument, ``None`` where no gradient reaches
      it (dicts hold the keys that were read; other objects give a dict of
      their attributes' gradients). Python ints get ints, ``Fraction``
      inputs exact ``Fraction`` gradients; numpy integer inputs get int64
      gradients (float64 where numpy promotes to it), so an unsigned input
      can have a negative gradient. With ``Params``: a ``Grads``.

    Raises:
      ValueError: if the output is not a real scalar (the message says what
        it was and what to use instead).
      TypeError: for an argument that cannot be differentiated (see
        ``forward``).

    Example:
      >>> from zygcy import gradient
      >>> gradient(lambda x, y: x * y + y, 2.0, 3.0)
      (3.0, 3.0)
      >>> gradient(lambda x: 3 * x**2 + 2 * x + 1, 5)   # ints stay ints
      (32,)
      >>> gradient(lambda d: d["a"] * d["b"], {"a": 2.0, "b": 3.0, "c": 4.0})
      ({'a': 3.0, 'b': 2.0},)
      >>> import numpy as np
      >>> gradient(lambda x: np.sum(-x), np.array([1, 2], np.uint8))
      (array([-1, -1]),)
      >>> from fractions import Fraction
      >>> gradient(lambda x: x * x, Fraction(3))
      (Fraction(6, 1),)
    """
    _check_callable(f, "gradient")
    y, back = _forward(f, args, "gradient")
    return back(_scalar_seed(y, "gradient"))


WithGradient = namedtuple("WithGradient", ["val", "grad"])
WithGradient.__doc__ = "The result of withgradient: the output val and the gradient grad."


def withgradient(f, *args):
    """The value of ``f(*args)`` together with its gradient, as ``(val, grad)``.

    When ``f`` returns a tuple, only its first element is differentiated (it
    must be a real scalar) and ``val`` is the whole output: handy for
    returning a loss together with things to log.

    Example:
      >>> from zygcy import withgradient
      >>> withgradient(lambda x: x * x, 3.0)
      WithGradient(val=9.0, grad=(6.0,))
      >>> withgradient(lambda x: (x * x, "note"), 3.0).grad
      (6.0,)
    """
    _check_callable(f, "withgradient")
    y, back = _forward(f, args, "withgradient")
    if isinstance(y, (tuple, list)) and not hasattr(y, "_fields") and len(y) > 0:
        seed = type(y)([_scalar_seed(y[0], "withgradient")] + [None] * (len(y) - 1))
    else:
        seed = _scalar_seed(y, "withgradient")
    return WithGradient(y, back(seed))


def derivative(f, x):
    """The derivative of ``f`` at the number ``x``: ``gradient(f, x)[0]``.

    Example:
      >>> from zygcy import derivative
      >>> derivative(lambda x: 5 * x + 3, 10)
      5
    """
    _check_callable(f, "derivative")
    return gradient(f, x)[0]


def D(f):
    """The derivative of ``f`` as a function (Julia's ``f'``); nests to any order.

    Example:
      >>> import zygcy
      >>> from zygcy import D
      >>> D(lambda x: x ** 3)(2.0)
      12.0
      >>> D(D(lambda x: x ** 3))(2.0)
      12.0
      >>> D(D(zygcy.math.sin))(1.0) == -zygcy.math.sin(1.0)
      True
    """
    _check_callable(f, "D")

    def df(x):
        return derivative(f, x)

    df.__name__ = df.__qualname__ = "D(%s)" % getattr(f, "__name__", "f")
    return df


def grad(fun):
    """Decorator: give ``fun`` a custom gradient rule (Zygote's ``@adjoint``).

    ``fun(*args)`` must return ``(value, pullback)`` where ``pullback(dy)``
    returns a tuple with one cotangent per positional argument (``None`` for
    none). Called outside differentiation, the decorated function returns just
    the value. The pullback is differentiable itself if it is written with
    ordinary operations, so nested derivatives work.

    Example:
      >>> from zygcy import grad, gradient
      >>> @grad
      ... def add(a, b):
      ...     return a + b, lambda d: (d, d)
      >>> add(1, 2)
      3
      >>> gradient(lambda x: add(x, x), 1.0)
      (2.0,)
    """
    _check_callable(fun, "grad")

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        args = _sub_params(args)
        tape = top_tape(args)
        if tape is None:
            _check_container_args(wrapper, args)
            return _split_rule_result(fun, fun(*args, **kwargs))[0]
        _check_container_args(wrapper, args)
        plain = [strip(tape, a) for a in args]
        val, pb = _split_rule_result(fun, fun(*plain, **kwargs))
        if not callable(pb):
            raise TypeError("%s (a @grad rule) must return (value, pullback); the second item "
                            "is a %s, not a function" % (fun.__name__, type(pb).__name__))
        return record_joint(wrapper, val, args, pb)

    return wrapper


def _split_rule_result(fun, res):
    if not (isinstance(res, tuple) and len(res) == 2):
        raise TypeError("%s (a @grad rule) must return a pair (value, pullback), got %s"
                        % (getattr(fun, "__name__", "f"), type(res).__name__))
    return res


def _check_container_args(fun, args):
    for i, a in enumerate(args):
        if type(a) is Tracked or is_differentiable(a):
            continue
        leaves, _ = flatten(a)
        if any(_core.node_tape_active(v) for v in leaves):
            raise TypeError(
                "argument %d of %s (a @grad rule) is a %s holding tracked values; @grad rules "
                "take numbers and arrays as arguments, so pass its items as separate arguments"
                % (i, getattr(fun, "__name__", "f"), type(a).__name__))


def dropgrad(x):
    """``x`` with the gradient stopped: the value passes, no derivative flows back.

    Works on numbers, arrays and containers of them.

    Example:
      >>> from zygcy import gradient, dropgrad
      >>> gradient(lambda x: x * dropgrad(x), 3.0)
      (3.0,)
    """
    return value(x)


def hook(fn, x):
    """Identity on the way forward; on the way back the gradient arriving at ``x``
    is replaced by ``fn(gradient)``. Useful to inspect, clip or scale gradients.

    Example:
      >>> from zygcy import gradient, hook
      >>> gradient(lambda x: hook(lambda g: 2 * g, x) * 3, 1.0)
      (6.0,)
    """
    _check_callable(fn, "hook")
    x, = _sub_params((x,))
    tape = top_tape((x,))
    if tape is None:
        return x
    return record_joint(hook, strip(tape, x), (x,), lambda g: (fn(g),))


def nograd(fun):
    """Decorator: ``fun`` runs on plain values and its result carries no gradient.

    Use it for code that must not be differentiated (logging, random sampling,
    integer bookkeeping). Unlike an accidental ``float(x)``, it says so.

    Example:
      >>> from zygcy import gradient, nograd
      >>> @nograd
      ... def scale(x):
      ...     return 2.0 * x
      >>> gradient(lambda x: x * scale(x), 3.0)
      (6.0,)
    """
    _check_callable(fun, "nograd")

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        return fun(*value(args), **value(kwargs))

    return wrapper


def checkpointed(f, *xs):
    """``f(*xs)``, storing none of ``f``'s intermediate values for the backward pass:
    ``f`` is run again when the gradient is needed. Trades time for memory.

    ``f`` is differentiated with respect to ``xs`` only; it must not read
    tracked values from elsewhere (an error says so if it does).

    Example:
      >>> import zygcy
      >>> from zygcy import gradient, checkpointed
      >>> gradient(lambda x: checkpointed(lambda t: zygcy.math.sin(t) * t, x), 0.0)
      (0.0,)
    """
    _check_callable(f, "checkpointed")
    xs = _sub_params(xs)
    tape = top_tape(flatten(xs)[0])
    if tape is None:
        return f(*xs)
    plain = map_leaves(lambda v: strip(tape, v), xs)
    y = f(*plain)
    if any(tape.owns(v) for v in flatten(y)[0]):
        raise ValueError("checkpointed: %s uses tracked values that are not among its "
                         "arguments; pass every value it should be differentiated with "
                         "respect to as an argument" % getattr(f, "__name__", "f"))

    def checkpointed_pullback(g):
        _, back = forward(f, *plain)
        return back(g)

    leaves, tree = flatten(xs)
    if not all(type(v) is Tracked or not is_differentiable(v) for v in leaves) or len(leaves) != len(xs):
        # containers among xs: record on their leaves
        def flat_f(*lv):
            return f(*unflatten(tree, lv))

        plain_leaves = [strip(tape, v) for v in leaves]

        def flat_pullback(g):
            _, back = forward(flat_f, *plain_leaves)
            return back(g)

        return record_joint(checkpointed, y, tuple(leaves), flat_pullback)
    return record_joint(checkpointed, y, xs, checkpointed_pullback)


# ---------------------------------------------------------------------------
# Implicit parameters: param, Params, Grads (the machinery is in _params.py)

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
        return self.map(_fresh)

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
register_container(Grads, lambda g: (list(g._grads), g._params),
                   lambda aux, ch: Grads(aux, ch))
