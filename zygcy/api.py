"""The public API of zygcy, named after Julia's Zygote.

* ``forward(f, *args)`` / ``pullback`` -> ``(y, back)``: the value and a function
  that maps a cotangent of the output to cotangents of the arguments.
* ``gradient(f, *args)``, ``withgradient``, ``derivative``, ``D``.
* ``grad``: a decorator for custom rules, ``dropgrad``, ``hook``, ``nograd``,
  ``checkpointed``, ``value``.

Arguments are validated before anything is traced, so an error points at the
call that was wrong.
"""
import functools
from collections import namedtuple

import numpy as np

from . import _core
from ._core import Tape, Tracked, record_joint, strip, top_tape
from .containers import flatten, flatten_like, is_differentiable, map_leaves, unflatten, unflatten_grads

__all__ = ["forward", "pullback", "gradient", "withgradient", "derivative", "D", "grad",
           "dropgrad", "hook", "nograd", "checkpointed", "value"]


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
    return map_leaves(_core.value, x)


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

    Args:
      f: the function; it may use loops, branches, recursion, closures,
        containers, numpy, ``zygcy.math``...
      *args: its positional arguments: numbers, arrays, and tuples, lists,
        dicts, namedtuples and dataclasses of them. Other values are passed
        through and get no gradient.

    Returns:
      ``(y, back)``.

    Example:
      >>> from zygcy import forward
      >>> y, back = forward(lambda a, b: a * b, 2.0, 3.0)
      >>> y
      6.0
      >>> back(4.0)
      (12.0, 8.0)
    """
    _check_callable(f, "forward")
    leaves, tree = flatten(args)
    tape = Tape()
    tape.push()
    try:
        tleaves = [tape.leaf(_core.value(v) if _finished(v) else v) if is_differentiable(v) else v
                   for v in leaves]
        out = f(*unflatten(tree, tleaves))
    finally:
        tape.pop()
    out_leaves, out_tree = flatten(out)
    y = unflatten(out_tree, [tape.unwrap(v) for v in out_leaves])
    inputs = [(i, t) for i, t in enumerate(tleaves) if tape.owns(t)]

    def back(dy):
        seeds = flatten_like(out_tree, dy)
        pairs = []
        for node, s in zip(out_leaves, seeds):
            if s is None or not tape.owns(node):
                continue
            _check_seed(node, s)
            pairs.append((node, s))
        grads = tape.backward(pairs, [t for _, t in inputs])
        full = [None] * len(leaves)
        for (i, _), g in zip(inputs, grads):
            full[i] = _project(leaves[i], g)
        out = unflatten_grads(tree, full)
        return (None,) * len(args) if out is None else tuple(out)

    back.__doc__ = "back(dy): the cotangents of the arguments of %s for an output cotangent dy" % (
        getattr(f, "__name__", "f"),)
    return y, back


pullback = forward


def _finished(v):
    return type(v) is Tracked and not _core.node_tape_active(v)


def _check_seed(node, s):
    v = _core.value(node.value)
    if isinstance(v, np.ndarray):
        sv = _core.value(s)
        shape = getattr(sv, "shape", ())
        if shape != v.shape:
            raise ValueError("the seed has shape %s but the output has shape %s; the cotangent "
                             "passed to back must have the output's shape" % (shape, v.shape))


def _project(x, g):
    """Give a gradient the kind of its input: real inputs get real gradients,
    array inputs array gradients of their shape."""
    if g is None:
        return None
    xv = _core.value(x)
    gv = _core.value(g)
    if isinstance(xv, np.ndarray):
        if not np.iscomplexobj(xv) and np.iscomplexobj(gv):
            g = g.real
            gv = _core.value(g)
        if np.shape(gv) != xv.shape:
            g = g + np.zeros(xv.shape, dtype=np.result_type(gv, float))
        elif not isinstance(gv, np.ndarray):
            g = g + np.zeros((), dtype=np.result_type(gv, float))
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
        return v.dtype.type(1)
    if isinstance(v, np.ndarray):
        if v.shape == ():
            return np.ones((), v.dtype)
        raise ValueError(
            "Output is an array of shape %s, so the gradient is not defined: %s needs a real "
            "scalar output. Reduce it (np.sum(y), np.mean(y)), or for a vector-Jacobian "
            "product use y, back = forward(f, ...) and back(seed) with a seed of shape %s."
            % (v.shape, fname, v.shape))
    raise ValueError(
        "Output is a %s, so the gradient is not defined: %s needs a real scalar output. "
        "withgradient differentiates the first element of a returned tuple; forward(f, ...) "
        "gives back() for any output." % (type(v).__name__, fname))


def gradient(f, *args):
    """The gradient of a real scalar-valued ``f`` at ``args``: one entry per argument.

    Args:
      f: a function returning a real number (or a 0-d array).
      *args: as for ``forward``.

    Returns:
      A tuple with one gradient per positional argument, each with the
      structure and kind of its argument, ``None`` where no gradient reaches it.

    Raises:
      ValueError: if the output is not a real scalar (the message says what
        it was and what to use instead).

    Example:
      >>> from zygcy import gradient
      >>> gradient(lambda x, y: x * y + y, 2.0, 3.0)
      (3.0, 3.0)
      >>> gradient(lambda x: 3 * x**2 + 2 * x + 1, 5)   # ints stay ints
      (32,)
    """
    _check_callable(f, "gradient")
    y, back = forward(f, *args)
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
    y, back = forward(f, *args)
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
