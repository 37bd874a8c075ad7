"""zygcy.extend: everything a gradient rule is written with, in one place.

zygcy's own rule families (``zygcy.rules``) and users' rules import this
module, and the shared helpers of ``zygcy.rules._util``, and nothing else of
zygcy's. Each verb checks its arguments when the rule is registered, so a
mistake is an error at the line that made it, not a wrong gradient later.

Registering rules
  * ``defvjp(fun, *makers)``: one maker per positional argument;
    ``maker(ans, *args, **kwargs)`` returns the pullback ``g -> cotangent``.
  * ``defjoint(fun, maker)``: one pullback ``g -> tuple`` of every cotangent.
  * ``defjvp(fun, *jvps)``: forward rules, ``jvp(t, ans, *args)`` per argument.
  * ``defelementwise(ufunc, *partials)``: an elementwise function by its partials.
  * ``deflinear(fun, transpose)``: ``fun`` is linear in its first argument.
  * ``defbilinear(fun, first, second)``: linear in each of its first two.
  * ``nondifferentiable(*funs)``: results carry no derivative.
  * ``refuse(fun, message)``: ``fun`` must not see tracked values.

What can have a rule: numpy's ufuncs (and their ``reduce``, ``accumulate``,
``outer``...), numpy's functions (they dispatch through
``__array_function__``), ufuncs of other libraries (scipy.special), and
functions made with ``primitive``. A plain Python function is differentiated
by running its body, so a rule for it would never be used: make it a
``primitive`` first.

Writing rules
  * ``primitive(f)``: a function recorded as one node, with its own rule.
  * ``value(x)``: the plain value of x; ``Tracked``: the type of tracked values.
  * ``unbroadcast(x, g)``: sum g down to x's shape (undo broadcasting).
  * ``IndexGrad``: the sparse cotangent of reading elements ``x[index]``.
  * ``apply(fun, args)``: record ``fun(*args)`` with its registered rule.
  * ``ScalarFunction(fun, deriv, name, module)`` (and ``ScalarFunction2`` for
    two arguments): a differentiable scalar function from a plain one and its
    derivative, as zygcy.math's are made.

A pullback is named after its function (``def sin_pullback(g)``), so that a
failure in it is recognisable in a traceback; one written with ordinary
operations is differentiable again, which is what makes second derivatives
work.

Example:
  >>> import numpy as np
  >>> from zygcy import gradient
  >>> from zygcy.extend import primitive, defvjp
  >>> @primitive
  ... def logsumexp(x):
  ...     m = np.max(x)
  ...     return m + np.log(np.sum(np.exp(x - m)))
  >>> def logsumexp_maker(ans, x):
  ...     def logsumexp_pullback(g):
  ...         return g * np.exp(x - ans)
  ...     return logsumexp_pullback
  >>> _ = defvjp(logsumexp, logsumexp_maker)
  >>> gradient(logsumexp, np.zeros(2))
  (array([0.5, 0.5]),)
"""
import dis
import functools
import inspect
import types

import numpy as np

from . import _core
from ._core import IndexGrad, Primitive, ScalarFunction, ScalarFunction2, Tracked, apply, value
from .rules._util import elementwise_rule, unbroadcast

__all__ = ["primitive", "defvjp", "defjvp", "defbatched", "defelementwise", "defjoint", "deflinear", "defbilinear", "nondifferentiable",
           "refuse", "unbroadcast", "value", "Tracked", "IndexGrad", "apply", "Primitive",
           "ScalarFunction", "ScalarFunction2"]


def primitive(fun):
    """Make ``fun`` one node of the tape: differentiated by the rule registered for
    it (``defvjp``, ``defjoint``...) instead of through its body.

    Returns a callable that is ``fun`` on plain arguments. Use it for a function
    whose derivative you know better than its body does (a numerically stable
    formula, an implicit function, a call into C).

    Example:
      >>> import numpy as np
      >>> from zygcy import gradient
      >>> from zygcy.extend import primitive, defvjp
      >>> cube = primitive(lambda x: x * x * x)
      >>> _ = defvjp(cube, lambda ans, x: lambda g: 3 * g * x * x)
      >>> gradient(cube, 2.0)
      (12.0,)
    """
    if isinstance(fun, Primitive):
        return fun
    if not callable(fun):
        raise TypeError("primitive(fun): fun must be a function, got %s" % _kind(fun))
    p = Primitive(fun)
    try:
        functools.update_wrapper(p, fun)
    except (AttributeError, TypeError):     # a builtin without some attribute: fine
        pass
    return p


def _kind(x):
    return "%s %r" % (type(x).__name__, x) if isinstance(x, (int, float, str)) else "a %s" % type(x).__name__


def _check_target(fun, verb):
    """Refuse what a rule could never be used for, with the fix."""
    if isinstance(fun, (np.ufunc, Primitive)):
        return
    if isinstance(getattr(fun, "__self__", None), np.ufunc):       # np.add.reduce, np.add.outer
        return
    if callable(fun) and hasattr(fun, "_implementation"):           # numpy's dispatched functions
        return
    if not callable(fun):
        raise TypeError("%s(fun, ...): fun must be the function the rule is for, got %s"
                        % (verb, _kind(fun)))
    name = getattr(fun, "__name__", repr(fun))
    if isinstance(fun, (types.FunctionType, types.BuiltinFunctionType, functools.partial)):
        raise TypeError(
            "%s(%s, ...): %s is a plain Python function, which zygcy differentiates by running "
            "its body, so a rule registered for it would never be used. Make it a primitive "
            "first, %s = zygcy.primitive(%s) (or decorate its definition with "
            "@zygcy.primitive), and register the rule for that; or write the rule with "
            "@zygcy.grad." % (verb, name, name, name, name))
    raise TypeError(
        "%s(fun, ...): zygcy never sees %s called (it is neither a numpy ufunc or function "
        "nor a zygcy.primitive), so a rule for it would never be used; wrap it with "
        "zygcy.primitive and register the rule for the wrapper" % (verb, name))


def _check_maker(maker, verb, i):
    if maker is not None and not callable(maker):
        raise TypeError("%s: maker %d must be a function (ans, *args) -> pullback, or None "
                        "for an argument without a derivative; got %s" % (verb, i, _kind(maker)))


def defvjp(fun, *makers, variadic=False):
    """Register per-argument pullback makers for ``fun``.

    ``makers[i](ans, *args, **kwargs)`` is called when argument ``i`` is
    tracked, with the primal output ``ans`` and the plain arguments; it returns
    ``pullback(g)``, the cotangent of argument ``i`` (None: no gradient). Pass
    None for an argument that has no derivative (an index, a shape): a tracked
    value there raises an error naming it.

    Args:
      fun: a numpy ufunc or function, or a ``primitive``.
      *makers: one per positional argument (fewer: the rest have none).
      variadic: the last maker serves every further positional argument
        (for functions such as ``hypot(*xs)``); it is called as for its own
        position, with the arguments as they are.

    Returns:
      ``fun``.

    Example:
      >>> import numpy as np
      >>> from zygcy import gradient
      >>> from zygcy.extend import primitive, defvjp
      >>> scale = primitive(lambda x, k: x * k)
      >>> _ = defvjp(scale, lambda ans, x, k: lambda g: g * k, None)
      >>> gradient(lambda x: scale(x, 3.0), 1.0)
      (3.0,)
    """
    _check_target(fun, "defvjp")
    if not makers:
        raise TypeError("defvjp(fun, *makers): give one maker per positional argument "
                        "(None for an argument without a derivative)")
    for i, m in enumerate(makers):
        _check_maker(m, "defvjp", i)
    return _core.register(fun, makers, None, variadic)


def defjvp(fun, *jvps):
    """Register forward rules (JVPs) for ``fun``, whose pullbacks are registered already.

    ``jvps[i](t, ans, *args, **kwargs)`` returns what argument ``i`` adds to the
    tangent of the output when its tangent is ``t`` (the others held fixed):
    ``J_i t``, a number or array of the output's shape (one that broadcasts to
    it is broadcast), a tuple of them for several outputs, None for zero. For
    a holomorphic function it is ``f'(x) * t``, unconjugated. Where a forward
    rule is None (or none is registered), forward mode transposes the
    pullback instead, which is exact but runs a small reverse sweep per call.
    ``deflinear`` and ``defbilinear`` make the forward rules themselves.

    Returns:
      ``fun``.

    Example:
      >>> import numpy as np
      >>> from zygcy import jvp
      >>> from zygcy.extend import primitive, defvjp, defjvp
      >>> cube = primitive(lambda x: x ** 3)
      >>> _ = defvjp(cube, lambda ans, x: lambda g: 3 * g * x ** 2)
      >>> _ = defjvp(cube, lambda t, ans, x: 3 * x ** 2 * t)
      >>> jvp(cube, (2.0,), (1.0,))
      (8.0, 12.0)
    """
    _check_target(fun, "defjvp")
    _check_forward_rules("defjvp", jvps, "forward rule", "(t, ans, *args) -> tangent",
                         "the pullback should be transposed instead")
    return _core.register_jvp(fun, jvps)


def _check_forward_rules(verb, rules, what, signature, none_means):
    """Refuse no rules at all, or one that is neither a function nor None."""
    if not rules:
        raise TypeError("%s(fun, *jvps): give one %s per positional argument (None where %s)"
                        % (verb, what, none_means))
    for i, f in enumerate(rules):
        if f is not None and not callable(f):
            raise TypeError("%s: %s %d must be a function %s, or None; got %s"
                            % (verb, what, i, signature, _kind(f)))


def defbatched(fun, *jvps, lists=False):
    """Register forward rules for ``fun`` that take a batch of tangents at once.

    ``forward_jacobian`` and ``hessian`` push many directions through one
    forward pass: each tangent then has an extra first axis, one entry per
    direction. ``jvps[i](tb, ans, *args, **kwargs)`` gets argument ``i``'s
    tangents ``tb`` (shape ``(B,) + shape of argument i``; with
    ``lists=True``, for an argument that is a list, a list of them with None
    for a constant element: without it such an argument runs once per
    direction) and returns
    the output's, ``(B,) + shape of the output`` (or broadcasting to it), a
    tuple of them for several outputs, None for zero; or ``NotImplemented``
    to decline a call. Where there is no batched rule (None), or it declines,
    the ordinary forward rule (``defjvp``) runs once per direction: slower,
    the same numbers. Register the forward rules first: ``defjvp`` and
    ``defvjp`` drop the batched ones, which belonged to the former rules.

    Returns:
      ``fun``.

    Example:
      >>> import numpy as np
      >>> from zygcy import forward_jacobian
      >>> from zygcy.extend import primitive, defvjp, defjvp, defbatched
      >>> double = primitive(lambda x: 2.0 * x)
      >>> _ = defvjp(double, lambda ans, x: lambda g: 2.0 * g)
      >>> _ = defjvp(double, lambda t, ans, x: 2.0 * t)
      >>> _ = defbatched(double, lambda tb, ans, x: 2.0 * tb)   # the same formula serves a batch
      >>> forward_jacobian(double, np.array([1.0, 3.0]))[1]
      array([[2., 0.],
             [0., 2.]])
    """
    _check_target(fun, "defbatched")
    _check_forward_rules("defbatched", jvps, "batched forward rule", "(tb, ans, *args) -> tangents",
                         "the forward rule should run once per direction")
    for f in jvps:
        if f is not None and lists:
            f._zygcy_lists = True       # the engine gives it list arguments' tangents as lists
    return _core.register_batched(fun, jvps)


def defelementwise(fun, *partials):
    """Register an elementwise function (a ufunc) by its partial derivatives.

    ``partials[i](ans, *args)`` is the partial derivative of the output in
    argument ``i``, elementwise (broadcasting as the arguments do); a number
    stands for a constant partial (1.0 for a sum), None for an argument with
    no derivative (zero almost everywhere). From them come the pullbacks
    (``g * conj(partial)``, summed over broadcast axes), the forward rules
    (``t * partial``), and the engine's fast path: a call on tracked arrays
    of one differentiation is recorded as an elementwise node, whose sweep
    multiplies by the partial in C, without making a pullback per call. Write
    the partials with numpy functions, so that they are differentiable again.
    The engine keeps every value a partial registered here is given (zygcy's
    own rules keep only those their code reads).

    Example: zygcy's own rule for ``np.logaddexp`` is this registration (its
    table line); the registering line is not run as a doctest, since it would
    replace the rule the test suite watches:

      >>> import numpy as np
      >>> from zygcy import gradient, jvp
      >>> from zygcy.extend import defelementwise
      >>> _ = defelementwise(np.logaddexp, lambda ans, x, y: np.exp(x - ans),  # doctest: +SKIP
      ...                    lambda ans, x, y: np.exp(y - ans))
      >>> gradient(lambda x: np.sum(np.logaddexp(x, 0.0)), np.zeros(2))
      (array([0.5, 0.5]),)
      >>> jvp(lambda x: np.logaddexp(x, 0.0), (0.0,), (1.0,))[1]
      np.float64(0.5)
    """
    if not isinstance(fun, np.ufunc):
        raise TypeError("defelementwise(fun, *partials): fun must be a numpy ufunc (an "
                        "elementwise function), got %s; use defvjp for other functions" % _kind(fun))
    if len(partials) != fun.nin:
        raise TypeError("defelementwise(%s, *partials): give one partial per input (%d), got %d "
                        "(None for an input without a derivative)" % (fun.__name__, fun.nin, len(partials)))
    for i, p in enumerate(partials):
        if not (p is None or callable(p) or (isinstance(p, (int, float)) and not isinstance(p, bool))):
            raise TypeError("defelementwise: partial %d must be a function (ans, *args) -> "
                            "derivative, a number, or None; got %s" % (i, _kind(p)))
    makers, jvps = elementwise_rule(partials)
    return _core.register(fun, makers, None, False, jvps,
                          tuple(float(p) if isinstance(p, (int, float)) else p for p in partials),
                          _partials_read(partials), True)


# What elementwise partials read, as a bit mask: partial k's reads of (ans, x, y)
# in bits 3k, 3k + 1, 3k + 2. The engine keeps only the values that the partials
# of a call's tracked arguments read, and lets go of an output none reads once no
# one else holds it (memory: exp's x, the output of an addition).
_EVERYTHING = 0b111


def _partials_read(partials):
    mask = 0
    for k, p in enumerate(partials):
        if p is not None and not isinstance(p, (int, float)):
            mask |= _function_reads(p, len(partials) + 1) << (3 * k)
    return mask


def _function_reads(fun, nparams):
    """Which of its first ``nparams`` parameters the plain Python function ``fun``
    reads, as a bit mask (parameter k: bit k). Only zygcy's own rules are read this
    way: a function can reach its arguments without naming them (numexpr's
    ``evaluate("1 - ans * ans")`` reads its caller's frame), so a partial defined
    elsewhere counts as reading every parameter, as does anything the scan cannot
    see through (not a plain function, fewer named parameters than it is given, as
    with ``*args``, or ``locals()``). The engine passes exactly ``nparams``
    arguments, so a further ``*rest`` is always empty."""
    code = getattr(fun, "__code__", None)
    if type(fun) is not types.FunctionType or code is None or code.co_argcount < nparams:
        return _EVERYTHING
    if not (getattr(fun, "__module__", None) or "").startswith("zygcy."):
        return _EVERYTHING
    if {"locals", "vars", "eval", "exec", "sys"} & set(code.co_names):
        return _EVERYTHING
    used = set(code.co_cellvars)            # parameters a nested function captures
    for ins in dis.get_instructions(code):
        if "FAST" in ins.opname or "DEREF" in ins.opname or "CLOSURE" in ins.opname:
            used.update(ins.argval if isinstance(ins.argval, tuple) else (ins.argval,))
    mask = 0
    for k, name in enumerate(code.co_varnames[:nparams]):
        if name in used:
            mask |= 1 << k
    return mask


def defjoint(fun, maker):
    """Register one maker whose pullback returns every cotangent at once.

    ``maker(ans, *args, **kwargs)`` returns ``pullback(g)``, which returns a
    tuple with one cotangent per positional argument (None where there is
    none). Use it when the cotangents share work.

    Example:
      >>> from zygcy import gradient
      >>> from zygcy.extend import primitive, defjoint
      >>> mul = primitive(lambda a, b: a * b)
      >>> _ = defjoint(mul, lambda ans, a, b: lambda g: (g * b, g * a))
      >>> gradient(mul, 2.0, 5.0)
      (5.0, 2.0)
    """
    _check_target(fun, "defjoint")
    if not callable(maker):
        raise TypeError("defjoint(fun, maker): maker must be a function (ans, *args) -> "
                        "pullback, got %s" % _kind(maker))
    return _core.register(fun, (), maker)


def _named(fun, suffix):
    return "%s_%s" % (getattr(fun, "__name__", "f"), suffix)


def _name_inner(maker, name):
    """Give the pullback that ``maker`` makes the name ``name`` in tracebacks (its
    code object's name), once, at registration: no cost per call."""
    consts = tuple(c.replace(co_name=name, co_qualname=name) if isinstance(c, types.CodeType) else c
                   for c in maker.__code__.co_consts)
    maker.__code__ = maker.__code__.replace(co_consts=consts)
    return maker


def deflinear(fun, transpose, jvp=None, shape_only=False):
    """Register the rule of a function linear in its first argument.

    ``fun(x, *rest, **kwargs)`` is linear in ``x`` (the others are constants:
    shapes, axes, indices); its pullback is ``transpose(g, x, *rest,
    **kwargs)``, the adjoint map applied to ``g`` (``x`` is passed for its
    shape, dtype and memory layout). With ``shape_only=True`` the transpose
    promises to read only x's shape and dtype: a large x is then not kept, and
    the transpose gets an array of its shape and dtype that holds no memory
    (its values NaN, its strides 0). A tracked value among ``rest`` raises an
    error.

    Example:
      >>> import numpy as np
      >>> from zygcy import gradient
      >>> from zygcy.extend import primitive, deflinear
      >>> double_first = primitive(lambda x, n: 2.0 * x[:n])
      >>> def undo(g, x, n):
      ...     out = np.zeros_like(x)
      ...     out[:n] = 2.0 * g
      ...     return out
      >>> _ = deflinear(double_first, undo)
      >>> gradient(lambda x: np.sum(double_first(x, 2)), np.ones(3))
      (array([2., 2., 0.]),)
    """
    _check_target(fun, "deflinear")
    if not callable(transpose):
        raise TypeError("deflinear(fun, transpose): transpose must be a function "
                        "(g, x, *rest) -> cotangent of x, got %s" % _kind(transpose))
    if jvp is not None and not callable(jvp):
        raise TypeError("deflinear(fun, transpose, jvp): jvp must be a function "
                        "(t, ans, x, *rest) -> tangent, got %s" % _kind(jvp))

    def linear_maker(ans, x, *rest, **kwargs):
        if shape_only:
            x = _core.shape_stand_in(x)     # transpose reads x's shape and dtype: a large x is not kept
        if not rest and not kwargs:
            def pullback(g):            # the common call, without packing arguments
                return transpose(g, x)
            return pullback

        def pullback(g):
            return transpose(g, x, *rest, **kwargs)
        return pullback

    at = _out_position(fun)

    def linear_jvp(t, ans, x, *rest, **kwargs):
        args, kwargs = _without_out((t,) + rest, kwargs, at)
        return fun(*args, **kwargs)         # linear: the tangent is fun of the tangent

    linear_jvp.__name__ = linear_jvp.__qualname__ = _named(fun, "jvp")
    return _core.register(fun, (_name_inner(linear_maker, _named(fun, "pullback")),), None,
                          jvps=(jvp or linear_jvp,))


def _out_position(fun):
    """Where ``fun`` takes ``out=`` positionally (None: nowhere, or no signature)."""
    if isinstance(fun, np.ufunc):
        return fun.nin
    try:
        names = list(inspect.signature(fun).parameters)
    except (TypeError, ValueError):
        return None
    return names.index("out") if "out" in names else None


def _without_out(args, kwargs, at):
    """The call made for a tangent: the caller's ``out=`` array left out (keyword or
    positional), or the tangent would be written into it and returned as the value."""
    if "out" in kwargs:
        kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    if at is not None and at < len(args):
        args = args[:at] + (None,) + args[at + 1:]
    return args, kwargs


def defbilinear(fun, first, second):
    """Register the rule of a function linear in each of its first two arguments.

    ``fun(a, b, *rest, **kwargs)`` is linear in ``a`` for fixed ``b`` and in
    ``b`` for fixed ``a`` (a product, a contraction); the cotangents are
    ``first(g, a, b, *rest, **kwargs)`` and ``second(g, a, b, *rest, **kwargs)``.
    Written with ordinary operations on ``a`` and ``b``, they are
    differentiable again. The forward rules are ``fun`` itself:
    ``fun(ta, b, ...) + fun(a, tb, ...)``.

    Example:
      >>> import numpy as np
      >>> from zygcy import gradient
      >>> from zygcy.extend import primitive, defbilinear
      >>> inner = primitive(lambda a, b: np.sum(a * b))
      >>> _ = defbilinear(inner, lambda g, a, b: g * b, lambda g, a, b: g * a)
      >>> gradient(inner, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
      (array([3., 4.]), array([1., 2.]))
    """
    _check_target(fun, "defbilinear")
    for i, d in enumerate((first, second)):
        if not callable(d):
            raise TypeError("defbilinear(fun, first, second): argument %d must be a function "
                            "(g, a, b, *rest) -> cotangent, got %s" % (i + 1, _kind(d)))

    def side(d, suffix):
        def bilinear_maker(ans, a, b, *rest, **kwargs):
            if not rest and not kwargs:
                def pullback(g):        # the common call, without packing arguments
                    return d(g, a, b)
                return pullback

            def pullback(g):
                return d(g, a, b, *rest, **kwargs)
            return pullback
        return _name_inner(bilinear_maker, _named(fun, suffix))

    at = _out_position(fun)

    def bilinear_jvp_0(t, ans, a, b, *rest, **kwargs):
        args, kwargs = _without_out((t, b) + rest, kwargs, at)
        return fun(*args, **kwargs)

    def bilinear_jvp_1(t, ans, a, b, *rest, **kwargs):
        args, kwargs = _without_out((a, t) + rest, kwargs, at)
        return fun(*args, **kwargs)

    bilinear_jvp_0.__name__ = bilinear_jvp_0.__qualname__ = _named(fun, "jvp_0")
    bilinear_jvp_1.__name__ = bilinear_jvp_1.__qualname__ = _named(fun, "jvp_1")
    return _core.register(fun, (side(first, "pullback_0"), side(second, "pullback_1")), None,
                          jvps=(bilinear_jvp_0, bilinear_jvp_1))


def nondifferentiable(*funs):
    """Declare functions whose results carry no derivative (comparisons, integer
    results, sorting indices): they run on plain values.

    Example:
      >>> import numpy as np
      >>> from zygcy import gradient
      >>> from zygcy.extend import nondifferentiable, primitive
      >>> count_positive = primitive(lambda x: np.sum(x > 0))
      >>> nondifferentiable(count_positive)
      >>> gradient(lambda x: np.sum(x) * count_positive(x), np.array([1.0, -2.0, 3.0]))
      (array([2., 2., 2.]),)
    """
    for f in funs:
        if not callable(f):
            raise TypeError("nondifferentiable(*funs): each must be a function, got %s" % _kind(f))
    _core.declare_constant(*funs)


def refuse(fun, message):
    """Declare that ``fun`` must never be given tracked values (it writes into an
    array in place, say): calling it with one raises TypeError(message), which
    should say what to write instead.

    Example:
      >>> import numpy as np
      >>> from zygcy import gradient
      >>> from zygcy.extend import primitive, refuse
      >>> def fill(out, v):
      ...     out[...] = v
      >>> fill = primitive(fill)
      >>> refuse(fill, "fill writes into out in place; write np.full_like(out, v) instead")
      >>> gradient(lambda v: fill(np.zeros(2), v), 1.0)
      Traceback (most recent call last):
      ...
      TypeError: fill writes into out in place; write np.full_like(out, v) instead
    """
    if not callable(fun):
        raise TypeError("refuse(fun, message): fun must be a function, got %s" % _kind(fun))
    if not isinstance(message, str) or not message:
        raise TypeError("refuse(fun, message): message must be the text of the error to raise")
    _core.declare_refused(fun, message)
