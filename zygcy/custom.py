"""Custom rules and stopping gradients: ``grad`` (a rule in one decorator),
``hook``, ``checkpointed``, ``dropgrad``, ``nograd``, ``value``."""
import functools

import numpy as np

from . import _core, _seeds, params
from .api import forward
from ._core import Tracked, record_joint, strip, top_tape
from .containers import flatten, is_differentiable, map_leaves, unflatten
from .params import Param

__all__ = ["grad", "hook", "checkpointed", "dropgrad", "nograd", "value"]


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
    _seeds.check_callable(fun, "grad")

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        args = params.sub_params(args)
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
    _seeds.check_callable(fn, "hook")
    x, = params.sub_params((x,))
    tape = top_tape((x,))
    if tape is None:
        return x
    if tape.forward:
        # Forward mode has no gradient to replace: the identity, with the same
        # tangent, on a value that outer (reverse) levels still hook.
        return tape.leaf(hook(fn, strip(tape, x)), tape.tangent(x))
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
    _seeds.check_callable(fun, "nograd")

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
    _seeds.check_callable(f, "checkpointed")
    xs = params.sub_params(xs)
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
