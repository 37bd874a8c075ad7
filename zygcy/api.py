"""The differentiation operators of zygcy, named after Julia's Zygote.

* ``forward(f, *args)`` / ``pullback`` -> ``(y, back)``: the value and a function
  that maps a cotangent of the output to cotangents of the arguments.
* ``gradient(f, *args)``, ``withgradient``, ``derivative``, ``D``.
* ``jvp(f, primals, tangents)`` -> ``(y, dy)``, ``pushforward``,
  ``forward_jacobian``: forward mode (tangents travel with the values).
* ``jacobian``, ``withjacobian``, ``hessian`` (forward over reverse),
  ``hessian_reverse``, ``diaghessian``, ``hvp``: higher order.

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
from .containers import InputError, flatten, flatten_like, input_leaf, leaf_place, unflatten, unflatten_grads
from .params import Param

__all__ = ["forward", "pullback", "gradient", "withgradient", "derivative", "D", "jacobian",
           "withjacobian", "hessian", "hessian_reverse", "diaghessian", "hvp", "jvp", "pushforward",
           "forward_jacobian"]


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


def _forward(f, args, fname, rows=False, once=False):
    """(y, back) for f at args. ``rows``: back also carries what jacobian's direct
    sweeps need; ``once``: the caller calls back once, at once (gradient), so its
    sweep frees the intermediates as it goes."""
    # The common case, numbers and arrays only, skips the Params and container machinery.
    simple = _all_simple(args)
    if not simple:
        ps = params.params_argument(f, args, fname)
        if ps is not None:
            return params.forward_params(f, ps, watch=fname == "forward")
    tree = None if simple else flatten(args)[1]
    leaves = list(args) if tree is None else flatten(args)[0]
    tape = Tape()
    if fname == "forward":
        tape.watch()        # back goes to user code, which may change the arrays first
    tape.push()
    try:
        try:
            tleaves = [_track(tape, v) for v in leaves]
        except InputError as e:
            raise _input_error(e, fname, leaves, tree) from None
        out = f(*(tleaves if tree is None else unflatten(tree, tleaves)))
    except ValueError as e:
        _seeds.explain_write(e, tape)
        raise
    finally:
        tape.pop()
    return _after(f, args, fname, tape, leaves, tleaves, tree, out, rows, once)


def _after(f, args, fname, tape, leaves, tleaves, tree, out, rows, once):
    """_forward once f has run on the tracked leaves ``tleaves`` (of ``tape``) and
    returned ``out``: (y, back)."""
    y, out_leaves, out_tree = _seeds.outputs(tape, out)
    inputs = [(i, t) for i, t in enumerate(tleaves) if tape.owns(t)]

    def back(dy):
        grads = _seeds.sweep(tape, out_leaves, out_tree, dy, [t for _, t in inputs], last=once)
        full = [None] * len(leaves)
        grads = _seeds.handed_out([tape.unwrap(t) for _, t in inputs], grads, dy)
        for (i, _), g in zip(inputs, grads):
            full[i] = g
        if _check.active():
            _check.check(lambda xs: _seeds.output_leaves(f(*(xs if tree is None else unflatten(tree, xs)))),
                         leaves, _seeds.seed_leaves(out_tree, dy), full, getattr(f, "__name__", "f"))
        if tree is None:
            return tuple(full)
        gs = unflatten_grads(tree, full)
        return (None,) * len(args) if gs is None else tuple(gs)

    if not once:        # a back that is handed to the user
        back.__doc__ = "back(dy): the cotangents of the arguments of %s for an output cotangent dy" % (
            getattr(f, "__name__", "f"),)
    if rows and tree is None and out_tree is None:
        back._rows = (tape, out_leaves[0], inputs, len(leaves))     # for jacobian's sweeps
    return y, back


def _plain_reals(args):
    """Every argument is a float or a real float array: gradient's fast path applies."""
    for a in args:
        cls = type(a)
        if not (cls is float or cls is np.float64 or (cls is np.ndarray and a.dtype.kind == "f")):
            return False
    return bool(args)


def _gradient_of_reals(f, args):
    """gradient(f, *args) for arguments that are floats and real float arrays
    (_plain_reals) and a real scalar output: _forward and its back in one, without
    the structures, Params and checks these cannot need; any other output is
    handed to their general path (_after) once f has run."""
    tape = Tape()
    tape.push()
    try:
        tleaves = [tape.leaf(v) for v in args]
        out = f(*tleaves)
    except ValueError as e:
        _seeds.explain_write(e, tape)
        raise
    finally:
        tape.pop()
    grads = _seeds.scalar_sweep(tape, out, tleaves)
    if grads is not None:
        return tuple(_seeds.handed_out(args, grads))
    y, back = _after(f, args, "gradient", tape, list(args), tleaves, None, out, False, True)
    return back(_seeds.scalar_seed(y, "gradient"))


def _all_simple(args):
    """Every argument is a number, an ndarray or a Tracked: no structure, no Params."""
    for a in args:
        if type(a) not in _seeds.SIMPLE:
            return False
    return True


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
      WriteAfterUse: ``f`` wrote into a plain array after an operation whose
        derivative reads it had used it (``y = x * w; w[0] = 1``); such arrays
        are read-only while ``f`` runs. A ValueError.

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
    if _plain_reals(args) and not _check.active():
        return _gradient_of_reals(f, args)
    if len(args) == 1 and type(args[0]) is params.Params:
        return params.gradient_params(f, params.params_argument(f, args, "gradient"))
    y, back = _forward(f, args, "gradient", once=True)
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
    y, back = _forward(f, args, "withgradient", once=True)
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


# ---------------------------------------------------------------------------
# Higher order: Jacobians, Hessians, Hessian-vector products (by reverse mode)

WithJacobian = namedtuple("WithJacobian", ["val", "grad"])


WithJacobian.__doc__ = "The result of withjacobian: the output val and the Jacobians grad."


def _jacobian(f, args, fname):
    """(y, tuple of Jacobians): one forward pass, one reverse sweep per output element."""
    y, back = _forward(f, args, fname, rows=True)
    out_leaves, out_tree = ([y], None) if type(y) in _seeds.SIMPLE else flatten(y)
    arg_leaves, arg_tree = flatten(args)
    shapes = []
    for v in out_leaves:
        pv = _core.value(v)
        if not _seeds.is_real_number_or_array(pv):
            raise ValueError(
                "%s: the output%s is a %s; %s needs real numbers or real arrays as outputs "
                "(for a complex output, differentiate its real and imaginary parts, y.real "
                "and y.imag, as two outputs)" % (fname, "" if out_tree is None else " has a leaf that",
                                                  _describe_kind(pv), fname))
        shapes.append(np.shape(pv))
    # blocks[j][l]: the Jacobian of output leaf j with respect to argument leaf l
    blocks = [[None] * len(arg_leaves) for _ in out_leaves]
    direct = _direct_rows(back, out_leaves)
    for j, shape in enumerate(shapes):
        n = int(np.prod(shape, dtype=np.intp))
        rows = [[None] * n for _ in arg_leaves]
        for k in range(n):
            e = np.zeros(shape)
            e.flat[k] = 1.0
            seed = e if shape else 1.0
            if direct is not None:
                grads = direct(seed)
            else:
                if out_tree is not None:
                    seeds = [None] * len(out_leaves)
                    seeds[j] = seed
                    seed = unflatten(out_tree, seeds)
                grads = flatten_like(arg_tree, back(seed), what="gradient")
            for l, g in enumerate(grads):
                rows[l][k] = g
        for l, x in enumerate(arg_leaves):
            if all(r is None for r in rows[l]):
                continue
            xshape = np.shape(_core.value(x))
            if shape == () and not isinstance(_core.value(y if out_tree is None else out_leaves[j]),
                                              np.ndarray):
                blocks[j][l] = rows[l][0]       # number out: the gradient itself, of x's kind
                continue
            # rows may be tracked by an outer differentiation: stacked as they are
            dense = [np.zeros(xshape) if r is None else r for r in rows[l]]
            blocks[j][l] = np.stack(dense).reshape(shape + xshape)
    per_arg = []
    for l in range(len(arg_leaves)):
        col = [blocks[j][l] for j in range(len(out_leaves))]
        per_arg.append(col[0] if out_tree is None else (None if all(c is None for c in col)
                                                         else unflatten(out_tree, col)))
    gs = unflatten_grads(arg_tree, per_arg)
    return y, ((None,) * len(args) if gs is None else tuple(gs))


def _direct_rows(back, out_leaves):
    """For jacobian's many sweeps: a function seed -> per-argument gradients that
    calls the tape's sweep directly, when nothing needs back()'s conversions
    (one float64 output, float64 arrays and floats in, no self-check); else None."""
    parts = getattr(back, "_rows", None)
    if parts is None or _check.active():
        return None
    tape, node, inputs, n_args = parts
    v = _core.value(out_leaves[0])
    if not (type(v) is float or (type(v) is np.ndarray and v.dtype == np.float64)) or not tape.owns(node):
        return None
    if not all(_plain_float(tape.unwrap(t)) for _, t in inputs):
        return None
    wanted = [t for _, t in inputs]

    def rows(seed):
        full = [None] * n_args
        for (i, _), g in zip(inputs, tape.backward([(node, seed)], wanted, repeat=True)):
            full[i] = g
        return full
    return rows


def _plain_float(x):
    return type(x) is float or (type(x) is np.ndarray and x.dtype == np.float64)


def _describe_kind(v):
    if isinstance(v, np.ndarray):
        return "%s array" % v.dtype
    return type(v).__name__


def jacobian(f, *args):
    """The Jacobian of ``f`` at ``args``: one entry per positional argument.

    For an output of shape S and an argument of shape T the entry has shape
    ``S + T`` (a number argument gives an entry of shape S; an unused argument
    gives None). Arguments may be structures (tuples, dicts, ...): the entry
    then has the argument's structure with a Jacobian block at each leaf; a
    structured output gives the output's structure of those. Computed by one
    forward pass and one reverse sweep per output element, so it suits
    outputs smaller than inputs.

    Raises:
      ValueError: for a complex output or one that is not numbers or arrays.

    Example:
      >>> import numpy as np
      >>> from zygcy import jacobian
      >>> jacobian(lambda x: x ** 2, np.array([1.0, 2.0]))
      (array([[2., 0.],
             [0., 4.]]),)
      >>> import zygcy
      >>> jacobian(lambda x, a: a * zygcy.math.sin(x), 0.0, 3.0)
      (3.0, 0.0)
    """
    _seeds.check_callable(f, "jacobian")
    return _jacobian(f, args, "jacobian")[1]


def withjacobian(f, *args):
    """The value of ``f(*args)`` together with its Jacobians, as ``(val, grad)``.

    Example:
      >>> import numpy as np
      >>> from zygcy import withjacobian
      >>> r = withjacobian(lambda x: np.cumsum(x), np.array([1.0, 2.0]))
      >>> r.val
      array([1., 3.])
      >>> r.grad[0]
      array([[1., 0.],
             [1., 1.]])
    """
    _seeds.check_callable(f, "withjacobian")
    return WithJacobian(*_jacobian(f, args, "withjacobian"))


def _gradient_of(f, fname):
    """x -> the gradient of the real scalar f at x (errors name ``fname``)."""
    def grad_f(x):
        y, back = _forward(f, (x,), fname)
        return back(_seeds.scalar_seed(y, fname))[0]
    return grad_f


def _check_point(x, fname):
    v = _core.value(x)
    if not (isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)
            or (isinstance(v, np.ndarray) and v.dtype.kind in "iuf")):
        raise TypeError("%s(f, x): x must be a real number or a real array, got %s; for several "
                        "arguments or structures, differentiate with jacobian(gradient...) "
                        "or pass one array (np.concatenate)" % (fname, _describe_kind(v)))


def _hessian(f, x, fname):
    """The Jacobian of the gradient of f at x (errors name fname)."""
    _seeds.check_callable(f, fname)
    _check_point(x, fname)
    h = _jacobian(_gradient_of(f, fname), (x,), fname)[1][0]
    return np.zeros(np.shape(x) * 2) if h is None else h


def hessian_reverse(f, x):
    """The Hessian of a real scalar ``f`` at ``x`` by reverse over reverse mode.

    For ``x`` of shape T the result has shape ``T + T`` (a number for a
    number). It is the Jacobian of the gradient: one sweep per element of x
    through the gradient computation.

    Example:
      >>> import numpy as np
      >>> from zygcy import hessian_reverse
      >>> hessian_reverse(lambda x: x[0] ** 2 * x[1], np.array([1.0, 3.0]))
      array([[6., 2.],
             [2., 0.]])
    """
    return _hessian(f, x, "hessian_reverse")


def hessian(f, x):
    """The Hessian of a real scalar ``f`` at ``x``: shape ``T + T`` for ``x`` of shape T.

    Computed by forward over reverse mode: the gradient computation runs once
    in forward mode with every column of the identity as a tangent at once (a
    batch; for large ``x``, a few batches), outside another differentiation; inside
    one, one pass per element of ``x``. ``hessian_reverse`` gives the same by
    reverse over reverse.

    Raises:
      ValueError: if ``f``'s output is not a real scalar.

    Example:
      >>> import numpy as np
      >>> from zygcy import hessian
      >>> hessian(lambda x: np.sum(x ** 3), np.array([1.0, 2.0]))
      array([[ 6.,  0.],
             [ 0., 12.]])
      >>> hessian(lambda x: x ** 3, 2.0)
      12.0
    """
    _seeds.check_callable(f, "hessian")
    _check_point(x, "hessian")
    h = _forward_jacobian(_gradient_of(f, "hessian"), x, "hessian")[1]
    if h is None:
        return np.zeros(np.shape(x) * 2) if isinstance(_core.value(x), np.ndarray) else 0.0
    return h


def diaghessian(f, *args):
    """The diagonals of the Hessian of a real scalar ``f``: a tuple with one entry
    per argument, each of its argument's shape (None for an unused argument).

    Example:
      >>> import numpy as np
      >>> from zygcy import diaghessian
      >>> diaghessian(lambda x, y: np.sum(x ** 3) + y * y, np.array([1.0, 2.0]), 3.0)
      (array([ 6., 12.]), 2.0)
    """
    _seeds.check_callable(f, "diaghessian")
    out = []
    for i, x in enumerate(args):
        _check_point(x, "diaghessian")

        def f_i(xi, i=i):
            return f(*(args[:i] + (xi,) + args[i + 1:]))

        h = _jacobian(_gradient_of(f_i, "diaghessian"), (x,), "diaghessian")[1][0]
        if h is None:       # the gradient does not depend on x: zero if there is one at all
            g = gradient(f_i, x)[0]
            out.append(None if g is None else g * 0)
            continue
        if not isinstance(_core.value(x), np.ndarray):
            out.append(h)                   # a number: its second derivative
            continue
        n = int(np.prod(np.shape(x), dtype=np.intp))
        # h may be tracked by an outer differentiation: numpy functions, no np.asarray
        out.append(np.reshape(np.diagonal(np.reshape(h, (n, n))), np.shape(x)) + 0.0)
    return tuple(out)


def hvp(f, x, v):
    """The Hessian of a real scalar ``f`` at ``x`` times ``v``, without forming the
    Hessian: the forward-mode derivative of the gradient along ``v`` (forward
    over reverse), in time and memory a small multiple of one gradient's (it
    works for x of 10^6 elements).

    Raises:
      ValueError: if ``v`` does not have ``x``'s shape.

    Example:
      >>> import numpy as np
      >>> from zygcy import hvp
      >>> hvp(lambda x: np.sum(x ** 3), np.array([1.0, 2.0]), np.array([1.0, 0.0]))
      array([6., 0.])
    """
    _seeds.check_callable(f, "hvp")
    _check_point(x, "hvp")
    if np.shape(_core.value(v)) != np.shape(_core.value(x)):
        raise ValueError("hvp(f, x, v): v has shape %s but x has shape %s; v is a direction "
                         "in x's space" % (np.shape(_core.value(v)), np.shape(_core.value(x))))
    grad_f = _gradient_of(f, "hvp")

    def gradient_or_zero(x):
        g = grad_f(x)
        return _zero_tangent(x) if g is None else g

    return _jvp(gradient_or_zero, (x,), (v,), "hvp")[1]


# ---------------------------------------------------------------------------
# Forward mode: tangents travel with the values, nothing is recorded

def jvp(f, primals, tangents):
    """The value of ``f(*primals)`` and its derivative along ``tangents``: ``(y, dy)``.

    Forward mode (JAX's ``jvp``): every value carries its tangent as ``f``
    runs, so no tape is kept and memory does not grow with the program.
    ``dy = J t``, the directional derivative; its structure is the output's,
    with zeros where the output does not depend on the inputs.

    Args:
      f: the function; anything ``gradient`` can differentiate.
      primals: a tuple (or list) of the positional arguments, which may be
        numbers, arrays and structures of them, as for ``forward``.
      tangents: the same structure, one tangent per differentiable leaf:
        a number for a number, an array of the same shape for an array
        (a nested list of numbers stands for one), None for zero. A
        complex tangent needs a complex primal. For a holomorphic ``f`` the
        tangent is ``f'(x) t``.

    Returns:
      ``(y, dy)``.

    Raises:
      TypeError: if ``primals`` is not a tuple, holds ``Params`` (forward
        mode has no implicit parameters: pass the arrays), or a tangent
        is of the wrong kind; ValueError for a tangent of the wrong shape.

    Example:
      >>> import numpy as np, zygcy
      >>> from zygcy import jvp
      >>> jvp(lambda x, y: x * y + zygcy.math.sin(x), (0.0, 3.0), (1.0, 0.0))
      (0.0, 4.0)
      >>> y, dy = jvp(lambda x: np.cumsum(x ** 2), (np.array([1.0, 2.0]),), (np.array([1.0, 1.0]),))
      >>> dy
      array([2., 6.])
    """
    _seeds.check_callable(f, "jvp")
    return _jvp(f, primals, tangents, "jvp")


def _jvp(f, primals, tangents, fname):
    if not isinstance(primals, (tuple, list)):
        raise TypeError("%s(f, primals, tangents): primals must be a tuple of f's arguments, "
                        "e.g. (x,) for one argument; got %s" % (fname, _describe_kind(primals)))
    if not isinstance(tangents, (tuple, list)) or len(tangents) != len(primals):
        raise TypeError("%s(f, primals, tangents): tangents must be a tuple with one tangent per "
                        "argument (%d), in the arguments' structure; got %s"
                        % (fname, len(primals), _describe_kind(tangents) if not isinstance(
                            tangents, (tuple, list)) else "%d" % len(tangents)))
    primals = tuple(primals)
    simple = _simple_pairs(primals, tangents)
    if simple is not None:
        # The common case, floats and float arrays with tangents of their kind:
        # nothing to flatten or convert.
        tape = Tape(forward=True)
        tape.push()
        try:
            out = f(*[v if t is None else tape.leaf(v, t) for v, t in simple])
        finally:
            tape.pop()
        if type(out) in _seeds.SIMPLE:
            return _output_and_tangent(tape, out)
        return _structured_output(tape, out)
    for a in primals:
        if isinstance(a, params.Params) or isinstance(a, Param):
            raise TypeError("%s: forward mode takes no Params; pass the arrays themselves as "
                            "arguments (jvp(f, (w, b), (dw, db)))" % fname)
    leaves, tree = flatten(primals)
    tleaves = flatten_like(tree, tuple(tangents), what="tangent")
    tape = Tape(forward=True)
    tape.push()
    try:
        inputs = []
        for k, (v, t) in enumerate(zip(leaves, tleaves)):
            try:
                val, tracked = input_leaf(_leaf_value(v))
            except InputError as e:
                raise _input_error(e, fname, leaves, tree) from None
            if tracked and t is not None:
                inputs.append(tape.leaf(val, _check_tangent(val, t, fname, tree, k)))
            elif tracked:
                inputs.append(val)          # no tangent: a constant of this differentiation
            else:
                if t is not None:
                    raise TypeError("%s: %s is not differentiable (%s), so its tangent must "
                                    "be None" % (fname, _place(tree, k), _describe_kind(val)))
                inputs.append(val)
        out = f(*unflatten(tree, inputs))
    finally:
        tape.pop()
    if type(out) in _seeds.SIMPLE:
        return _output_and_tangent(tape, out)
    return _structured_output(tape, out)


def _structured_output(tape, out):
    out_leaves, out_tree = flatten(out)
    pairs = [_output_and_tangent(tape, v) for v in out_leaves]
    return unflatten(out_tree, [p[0] for p in pairs]), unflatten(out_tree, [p[1] for p in pairs])


def _simple_pairs(primals, tangents):
    """[(primal, tangent)] when every primal is a float or a float64 array and its
    tangent one of the same kind and shape (or None); else None (checked in full)."""
    pairs = []
    for v, t in zip(primals, tangents):
        tv, tt = type(v), type(t)
        if tv is float and (tt is float or t is None):
            pass
        elif (tv is np.ndarray and v.dtype == np.float64
              and (t is None or (tt is np.ndarray and t.dtype == np.float64 and t.shape == v.shape))):
            pass
        else:
            return None
        pairs.append((v, t))
    return pairs


def _place(tree, k):
    path = leaf_place(tree, k)
    end = path.index("]")
    return "argument %s" % path[1:end] + (" at %s" % path[end + 1:] if path[end + 1:] else "")


def _check_tangent(val, t, fname, tree, k):
    """The tangent t of the primal leaf val, checked: None, a number for a number, an
    array of val's shape; real for a real primal; integers made floats."""
    if t is None:
        return None
    pv = _core.value(val)
    tv = _core.value(t)
    if isinstance(tv, (list, tuple)):
        t = tv = np.asarray(tv)
    if not (isinstance(tv, (int, float, complex, np.number)) and not isinstance(tv, bool)
            or isinstance(tv, np.ndarray) and tv.dtype.kind in "iufc"):
        raise TypeError("%s: the tangent of %s is a %s; give a number or an array of numbers of "
                        "the argument's shape (None for zero)" % (fname, _place(tree, k), _describe_kind(tv)))
    if np.shape(tv) != np.shape(pv):
        raise ValueError("%s: the tangent of %s has shape %s, but the argument has shape %s; "
                         "a tangent has its argument's shape" % (fname, _place(tree, k), np.shape(tv), np.shape(pv)))
    if np.iscomplexobj(tv) and not np.iscomplexobj(pv):
        raise TypeError("%s: the tangent of %s is complex but the argument is real; a real "
                        "argument moves along real directions only (pass the argument as complex, "
                        "x + 0j, to differentiate in complex directions)" % (fname, _place(tree, k)))
    if isinstance(tv, np.ndarray) and tv.dtype.kind in "iu":
        t = t.astype(np.result_type(pv.dtype if isinstance(pv, np.ndarray) else float, np.float64))
    elif isinstance(tv, (int, np.integer)) and not isinstance(tv, bool):
        t = float(tv)
    if isinstance(pv, np.ndarray) and not isinstance(tv, np.ndarray):
        t = np.asarray(t)           # a 0-d array's tangent, given as a number
    return t


def _zero_tangent(y):
    """A zero tangent for the output y."""
    v = _core.value(y)
    if isinstance(v, np.ndarray):
        return np.zeros(v.shape, dtype=v.dtype if v.dtype.kind in "fc" else float)
    return 0j if isinstance(v, (complex, np.complexfloating)) else 0.0


def _output_and_tangent(tape, v):
    if tape.owns(v):
        t = tape.tangent(v)
        y = tape.unwrap(v)
        return y, (_zero_tangent(y) if t is None else t)
    if _finished(v):
        v = _core.value(v)
    if type(v) is Tracked or isinstance(v, (int, float, complex, np.number, np.ndarray)) \
            and not isinstance(v, bool):
        return v, _zero_tangent(v)
    return v, None


def pushforward(f, *args):
    """A function that maps tangents of ``args`` to the tangent of ``f(*args)``:
    ``pushforward(f, x)(dx)`` is ``jvp(f, (x,), (dx,))[1]`` (Zygote's name).

    The arguments are checked once, when it is made; each call runs ``f``
    forward with its tangents (forward mode keeps no tape between calls).

    Example:
      >>> import numpy as np
      >>> from zygcy import pushforward
      >>> push = pushforward(lambda x: x ** 2, np.array([1.0, 3.0]))
      >>> push(np.array([1.0, 0.0])), push(np.array([0.0, 1.0]))
      (array([2., 0.]), array([0., 6.]))
    """
    _seeds.check_callable(f, "pushforward")
    for a in args:
        if isinstance(a, (params.Params, Param)):
            raise TypeError("pushforward: forward mode takes no Params; pass the arrays "
                            "themselves as arguments")
    leaves, tree = flatten(args)
    for v in leaves:                # an argument that cannot be differentiated is refused now
        try:
            input_leaf(_leaf_value(v))
        except InputError as e:
            raise _input_error(e, "pushforward", leaves, tree) from None

    def push(*tangents):
        return _jvp(f, args, tangents, "pushforward")[1]

    push.__doc__ = "push(*tangents): the tangent of %s's output (one tangent per argument)" % (
        getattr(f, "__name__", "f"),)
    return push


def forward_jacobian(f, x):
    """``(y, J)``: the value of ``f(x)`` and its Jacobian, by forward mode.

    The columns of the identity are pushed through together, as a batch of
    tangents (a few batches for large ``x``; one pass per element of ``x``
    inside another differentiation), so it is the right choice when ``x`` is
    small and the output large (``jacobian`` runs one reverse sweep per output
    element). For an output of shape S and ``x`` of shape T,
    ``J`` has shape ``S + T``, as ``jacobian`` gives (Zygote's
    ``forward_jacobian`` returns the transpose). The output may be a
    structure: ``J`` then has its structure.

    Example:
      >>> import numpy as np
      >>> from zygcy import forward_jacobian
      >>> y, J = forward_jacobian(lambda x: np.stack([x[0] * x[1], x[0], x[1] ** 2]), np.array([2.0, 3.0]))
      >>> J
      array([[3., 2.],
             [1., 0.],
             [0., 6.]])
    """
    _seeds.check_callable(f, "forward_jacobian")
    _check_point(x, "forward_jacobian")
    return _forward_jacobian(f, x, "forward_jacobian")


# How many columns go through one forward pass together: a first batch of
# _BATCH_FIRST // n of them (at least 4: all of them for n up to 128), then
# batches whose largest tangent holds about _BATCH_BYTES, as measured on the
# batch before (an intermediate may be much larger than x: an outer product).
_BATCH_FIRST = 1 << 14
_BATCH_BYTES = 1 << 25


def _forward_jacobian(f, x, fname):
    """(y, J) by forward mode; J None if no output depends on x. A float array x
    outside any other differentiation pushes a batch of columns through each
    pass (_batched_jacobian); otherwise one pass per element of x."""
    xv = _core.value(x)
    if not isinstance(xv, np.ndarray):
        y, dy = _jvp(f, (x,), (1.0,), fname)
        return y, dy
    if type(x) is np.ndarray and x.dtype == np.float64 and x.size > 1 and not _core.levels_active():
        return _batched_jacobian(f, x, fname)
    return _jacobian_by_columns(f, x, fname)


def _batched_jacobian(f, x, fname):
    """(y, J): the columns of J in batches, each batch one forward pass whose
    tangents carry the batch axis in front (the engine's Batched)."""
    n = x.size
    per = min(n, max(4, _BATCH_FIRST // n))
    y, blocks, k0 = None, None, 0
    while k0 < n:
        k1 = min(n, k0 + per)
        seeds = np.eye(k1 - k0, n, k0)      # columns k0 ... k1 - 1 of the identity
        _core.Batched.largest = 0
        y, tangents = _jvp_batched(f, (x,), (seeds.reshape((k1 - k0,) + x.shape),), fname)
        if blocks is None:
            blocks = [[] for _ in tangents[0]]
        for j, t in enumerate(tangents[0]):
            blocks[j].append(t)
        per = max(1, min(n, _BATCH_BYTES * (k1 - k0) // max(_core.Batched.largest, 1)))
        k0 = k1
    J = []
    for chunks in blocks:
        if chunks[0] is None:
            J.append(None)
            continue
        cols = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)    # (n,) + output shape
        J.append(cols.reshape(n, -1).T.reshape(cols.shape[1:] + x.shape))  # (a copy, in C order)
    return y, (J[0] if tangents[1] is None else unflatten(tangents[1], J))


def _jvp_batched(f, primals, batches, fname):
    """``(y, (leaves, tree))``: f(*primals) and the tangents of its output's leaves
    along a batch of directions, pushed through one forward pass. ``batches[i]``
    is None (a constant) or the tangents of ``primals[i]`` with the batch axis in
    front; each leaf's tangents have it in front too (None for an output that is
    not a number or an array); ``tree`` is the output's structure (None: one leaf).
    The primals are floats and float arrays, outside any other differentiation."""
    nb = next(b.shape[0] for b in batches if b is not None)
    tape = Tape(forward=True)
    tape.push()
    try:
        out = f(*[p if b is None else tape.leaf(p, _core.Batched(b)) for p, b in zip(primals, batches)])
    finally:
        tape.pop()
    leaves, tree = ([out], None) if type(out) in _seeds.SIMPLE else flatten(out)
    parts = [_batched_output(tape, v, nb, fname) for v in leaves]
    y = parts[0][0] if tree is None else unflatten(tree, [p[0] for p in parts])
    return y, ([p[1] for p in parts], tree)


def _batched_output(tape, v, nb, fname):
    """(value, tangents (nb,) + shape) of an output leaf of a batched pass; the
    tangents are None for an output that is not a number or an array. A tangent
    that is no batch is the same along every direction (a constant's zero)."""
    y, t = _output_and_tangent(tape, v)
    if t is None:
        return y, None
    if type(t) is _core.Batched:
        return y, t.b
    if isinstance(t, (np.ndarray, np.generic, float, complex)):
        return y, np.broadcast_to(t, (nb,) + np.shape(t)).copy()
    raise RuntimeError("%s: an output's tangent is a %s; this is a bug in zygcy"
                       % (fname, type(t).__name__))


def _jacobian_by_columns(f, x, fname):
    """(y, J) by one forward pass per element of x."""
    xv = _core.value(x)
    shape, n = xv.shape, xv.size
    y = None
    columns = []
    basis = np.zeros(max(2 * n - 1, 0), dtype=np.result_type(xv.dtype, np.float64))
    if n:
        basis[n - 1] = 1.0
    for k in range(n):
        e = basis[n - 1 - k:2 * n - 1 - k].reshape(shape)    # the k-th unit vector, a view
        y, dy = _jvp(f, (x,), (e,), fname)
        columns.append(dy)
    if n == 0:
        y = f(x)
    out_leaves, out_tree = ([y], None) if type(y) in _seeds.SIMPLE else flatten(y)
    per_column = [[dy] if out_tree is None else flatten_like(out_tree, dy, what="tangent") for dy in columns]
    blocks = []
    for j, v in enumerate(out_leaves):
        cols = [c[j] for c in per_column]
        if cols and cols[0] is None:
            blocks.append(None)
            continue
        yshape = np.shape(_core.value(v))
        if cols and all(type(c) is np.ndarray or type(c) is float for c in cols):
            J = np.empty(yshape + (n,), dtype=np.result_type(*cols))
            for k, c in enumerate(cols):
                J[..., k] = c
            blocks.append(J.reshape(yshape + shape))
        else:
            # columns may be tracked by an outer differentiation: stacked as they are
            blocks.append(np.stack(cols, axis=-1).reshape(yshape + shape) if cols else np.zeros(yshape + shape))
    return y, (blocks[0] if out_tree is None else unflatten(out_tree, blocks))
