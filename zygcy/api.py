"""The differentiation operators of zygcy, named after Julia's Zygote.

* ``forward(f, *args)`` / ``pullback`` -> ``(y, back)``: the value and a function
  that maps a cotangent of the output to cotangents of the arguments.
* ``gradient(f, *args)``, ``withgradient``, ``derivative``, ``D``.

Custom rules (``grad``, ``hook``, ``checkpointed``, ``dropgrad``, ``nograd``,
``value``) are in ``zygcy.custom``; implicit parameters (``param``,
``Params``, ``Grads``) in ``zygcy.params``; all are exported from ``zygcy``.

Arguments are validated before anything is traced, so an error points at the
call that was wrong.
"""
from collections import namedtuple

import numpy as np

from . import _check, _core, _seeds, params
from ._core import Tape, Tracked
from .containers import InputError, flatten, input_leaf, leaf_place, unflatten, unflatten_grads
from .params import Param

__all__ = ["forward", "pullback", "gradient", "withgradient", "derivative", "D"]


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
    _seeds.check_callable(f, "forward")
    return _forward(f, args, "forward")


def _forward(f, args, fname):
    ps = params.params_argument(f, args, fname)
    if ps is not None:
        return params.forward_params(f, ps)
    # The common case, numbers and arrays only, skips the container machinery.
    tree = None if all(type(a) in _seeds.SIMPLE for a in args) else flatten(args)[1]
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
    y, out_leaves, out_tree = _seeds.outputs(tape, out)
    inputs = [(i, t) for i, t in enumerate(tleaves) if tape.owns(t)]

    def back(dy):
        grads = _seeds.sweep(tape, out_leaves, out_tree, dy, [t for _, t in inputs])
        full = [None] * len(leaves)
        for (i, t), g in zip(inputs, grads):
            full[i] = _seeds.fresh(_seeds.project(tape.unwrap(t), g), dy)
        if _check.active():
            _check.check(lambda xs: _seeds.output_leaves(f(*(xs if tree is None else unflatten(tree, xs)))),
                         leaves, _seeds.seed_leaves(out_tree, dy), full, getattr(f, "__name__", "f"))
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
        return params.substitute(v)
    return v


pullback = forward


def _finished(v):
    return type(v) is Tracked and not _core.node_tape_active(v)


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
    _seeds.check_callable(f, "gradient")
    y, back = _forward(f, args, "gradient")
    return back(_seeds.scalar_seed(y, "gradient"))


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
    _seeds.check_callable(f, "withgradient")
    y, back = _forward(f, args, "withgradient")
    if isinstance(y, (tuple, list)) and not hasattr(y, "_fields") and len(y) > 0:
        seed = type(y)([_seeds.scalar_seed(y[0], "withgradient")] + [None] * (len(y) - 1))
    else:
        seed = _seeds.scalar_seed(y, "withgradient")
    return WithGradient(y, back(seed))


def derivative(f, x):
    """The derivative of ``f`` at the number ``x``: ``gradient(f, x)[0]``.

    Example:
      >>> from zygcy import derivative
      >>> derivative(lambda x: 5 * x + 3, 10)
      5
    """
    _seeds.check_callable(f, "derivative")
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
    _seeds.check_callable(f, "D")

    def df(x):
        return derivative(f, x)

    df.__name__ = df.__qualname__ = "D(%s)" % getattr(f, "__name__", "f")
    return df
