# The rule registry and numpy's protocols (__array_ufunc__, __array_function__).
# Part of the zygcy._core extension module (included by _core.pyx).

# ---------------------------------------------------------------------------
# Rules: how numpy functions, ufuncs and user functions are recorded

@cython.final
cdef class Rule:
    """The gradient rule of one function.

    Either per-argument makers (``makers[i](ans, *args, **kwargs)`` returns the
    pullback ``g -> cotangent of argument i``; None where argument i has no
    gradient), or one joint maker whose pullback returns a tuple with one
    cotangent per positional argument.
    """
    # fields in _core.pxd; variadic: the last maker serves every further positional argument

    def __init__(self, fun, makers=(), joint_maker=None, variadic=False, jvps=(), partials=(), reads=-1,
                 ew_jvps=False, batched=()):
        self.fun = fun
        self.makers = tuple(makers)
        self.joint_maker = joint_maker
        self.joint = joint_maker is not None
        self.variadic = variadic and len(self.makers) > 0
        self.jvps = tuple(jvps)
        self.partials = tuple(partials)
        self.reads = reads
        self.ew_jvps = bool(ew_jvps) and len(self.partials) > 0
        self.batched = tuple(batched)
        self.kernels = ()         # zygcy's own tables opt in (use_kernels, _kernels.pxi)

    cdef object maker(self, Py_ssize_t i):
        if i < len(self.makers):
            return self.makers[i]
        return self.makers[len(self.makers) - 1] if self.variadic else None

    cdef object jvp(self, Py_ssize_t i):
        """The forward rule of argument i, or None: then forward mode transposes its pullback."""
        if i < len(self.jvps):
            return self.jvps[i]
        return self.jvps[len(self.jvps) - 1] if (self.variadic and self.jvps) else None


def register(fun, makers=(), joint_maker=None, variadic=False, jvps=(), partials=(), reads=-1,
             ew_jvps=False, batched=()):
    """Enter a rule for ``fun`` in the table (zygcy.extend validates and calls this).
    It replaces any earlier rule, forward rules included: forward rules that
    belonged to other pullbacks must not outlive them. ``partials`` (for a ufunc,
    from zygcy.extend.defelementwise) lets the engine record its calls as
    elementwise nodes (_record_elementwise); the makers serve every other call.
    ``reads``: which of (ans, x, y) each partial reads, a bit mask (partial k's
    in bits 3k, 3k + 1, 3k + 2; -1: everything); an elementwise node keeps only
    the values the partials of its tracked arguments read. ``ew_jvps``: the
    forward rules are ``t * partials[i]`` (defelementwise's), which forward mode
    then computes from the partials itself, without calling them. ``batched``:
    the forward rules for a batch of tangents (zygcy.extend.defbatched)."""
    _rules[fun] = Rule(fun, makers, joint_maker, variadic, jvps, partials, reads, ew_jvps, batched)
    return fun


def register_jvp(fun, jvps):
    """Give the rule of ``fun`` its forward rules, one per argument (None: transpose
    the pullback); zygcy.extend.defjvp validates and calls this."""
    cdef Rule rule = _rules.get(fun)
    if rule is None:
        raise TypeError(_messages.jvp_without_rule(fun))
    rule.jvps = tuple(jvps)
    rule.ew_jvps = False            # from now on the forward rules given, not the partials
    rule.batched = ()               # nor batched forms of the former ones
    return fun


def register_batched(fun, batched):
    """Give the rule of ``fun`` batched forms of its forward rules, one per argument
    (None: call the forward rule once per direction); zygcy.extend.defbatched
    validates and calls this."""
    cdef Rule rule = _rules.get(fun)
    if rule is None:
        raise TypeError(_messages.jvp_without_rule(fun, "defbatched"))
    rule.batched = tuple(batched)
    return fun


def declare_constant(*funs):
    """Functions whose results carry no derivative (zygcy.extend.nondifferentiable)."""
    _constant.update(funs)


def declare_refused(fun, message):
    """A function that must not see tracked values (zygcy.extend.refuse)."""
    _refused[fun] = message


@cython.final
cdef class Primitive:
    """A function recorded as one node, with the rule registered for it, instead of
    being differentiated through its body (made by ``zygcy.extend.primitive``).

    Called with no tracked argument it is the plain function. With one, it
    records ``fun(*args)`` with its rule; ``fun`` then runs on the values one
    level down, so an outer differentiation records its part in turn.
    """
    cdef readonly object fun
    cdef dict __dict__          # __name__, __doc__, __wrapped__ ... (functools.update_wrapper)

    def __init__(self, fun):
        self.fun = fun

    def __call__(self, *args, **kwargs):
        if _has_stand_in(args):
            args = _substituted(args)
        if _any_active(args, kwargs):
            rule = _rules.get(self)
            if rule is None:
                if self in _constant:
                    return self.fun(*[_value_deep(v) for v in args],
                                    **{k: _value_deep(v) for k, v in kwargs.items()})
                if self in _refused:
                    raise TypeError(_refused[self])
                raise TypeError(_messages.primitive_without_rule(self))
            return _apply(self, <Rule>rule, args, kwargs)
        if _has_tracked(args):      # of differentiations that have finished: constants now
            args = tuple([_resolve_deep(a) for a in args])
        return self.fun(*args, **kwargs)

    def __repr__(self):
        return "<zygcy primitive %s>" % (_fname(self.fun),)

    def __reduce__(self):
        return getattr(self.fun, "__qualname__", _fname(self.fun))   # by reference, as the function


def registered():
    """All functions with a rule, and all declared non-differentiable."""
    return dict(_rules), set(_constant)


# Stand-ins. An ndarray subclass whose type defines __zygcy_substitute__ (zygcy's
# Param) stands for what that method returns (a tracked leaf while it is being
# differentiated). Where one meets a tracked value in numpy's dispatch, Tracked's
# override returns NotImplemented, so that numpy asks the stand-in's own override
# first (it substitutes itself, counts writes into itself, and calls again): the
# operation is then recorded once. A primitive substitutes stand-ins itself.

cdef inline bint _stand_in(object v):
    if type(v) is Tracked or type(v) is _ndarray or PyFloat_CheckExact(v):
        return False                # the common operands, decided without isinstance
    return isinstance(v, _ndarray) and hasattr(type(v), "__zygcy_substitute__")


cdef bint _has_stand_in(tuple args):
    for v in args:
        if _stand_in(v):
            return True
        if type(v) is list or type(v) is tuple:
            for e in v:
                if _stand_in(e):
                    return True
    return False


cdef tuple _substituted(tuple args):
    cdef list out = []
    for v in args:
        if _stand_in(v):
            v = v.__zygcy_substitute__()
        elif type(v) is list or type(v) is tuple:
            v = type(v)([e.__zygcy_substitute__() if _stand_in(e) else e for e in v])
        out.append(v)
    return tuple(out)


cdef object _dispatch_ufunc(object ufunc, str method, tuple inputs, dict kwargs):
    if _has_stand_in(inputs):
        return NotImplemented
    out = kwargs.get("out")
    if out is not None and _has_stand_in(out if type(out) is tuple else (out,)):
        return NotImplemented
    fun = ufunc if method == "__call__" else getattr(ufunc, method)
    if method == "at" and _any_active(inputs, kwargs):
        r = _rules_for().ufunc_at(ufunc, inputs, kwargs)   # np.add.at(x, i, v) on a tracked x: an assignment
        if r is not NotImplemented:
            return r
        raise TypeError(_messages.ufunc_at(ufunc.__name__))
    out = kwargs.pop("out", None)
    if out is not None:
        return _ufunc_out(fun, inputs, kwargs, out)
    rule = _rules.get(fun)
    if rule is None:
        if ufunc in _constant or fun in _constant:
            return fun(*[value(v) for v in inputs], **kwargs)
        if not _any_active(inputs, kwargs):
            return fun(*[_resolve(v) for v in inputs], **kwargs)
        raise TypeError(_messages.no_rule_for_ufunc(ufunc, method))
    if (<Rule>rule).partials and not kwargs:
        r = _record_elementwise(fun, <Rule>rule, inputs)     # _record.pxi
        if r is not None:
            return r
    elif (<Rule>rule).kernels and fun is _np_matmul and not kwargs and len(inputs) == 2:
        r = _record_matmul(inputs[0], inputs[1])            # _record.pxi
        if r is not None:
            return r
    return _apply(fun, <Rule>rule, inputs, kwargs)


cdef object _ufunc_out(object fun, tuple inputs, dict kwargs, object out):
    outs = out if isinstance(out, tuple) else (out,)
    if not any(type(o) is Tracked for o in outs):
        if _any_active(inputs, kwargs):
            raise TypeError(_messages.out_into_plain())
        return fun(*[_resolve(v) for v in inputs], **kwargs)
    if kwargs.get("where", True) is not True:
        raise TypeError(_messages.out_with_where())
    res = fun(*inputs, **kwargs)
    ress = res if isinstance(res, tuple) else (res,)
    for o, r in zip(outs, ress):
        if type(o) is Tracked:
            o[...] = r
        else:
            np.copyto(o, r)
    return out if isinstance(out, tuple) and len(out) > 1 else outs[0]


cdef object _dispatch_function(object func, tuple args, dict kwargs):
    if func in _refused and _any_active(args, kwargs):
        raise TypeError(_refused[func])
    rule = _rules.get(func)
    if rule is None:
        if func in _constant:
            return func(*[_value_deep(v) for v in args], **{k: _value_deep(v) for k, v in kwargs.items()})
        if not _any_active(args, kwargs):
            return func(*[_resolve_deep(v) for v in args], **kwargs)
        raise TypeError(_messages.no_rule_for_function(func))
    if (<Rule>rule).kernels and not kwargs and len(args) == 1 and (func is _np_sum or func is _np_mean):
        r = _record_sum(func, args[0])          # _record.pxi
        if r is not None:
            return r
    return _apply(func, <Rule>rule, args, kwargs)


cdef object _value_deep(object v):
    if type(v) is Tracked:
        return value(v)
    if type(v) is list or type(v) is tuple:
        return type(v)(_value_deep(e) for e in v)
    return v


cdef object _resolve_deep(object v):
    if type(v) is Tracked:
        return _resolve(v)
    if type(v) is list or type(v) is tuple:
        return type(v)(_resolve_deep(e) for e in v)
    return v


cdef bint _has_tracked(tuple args):
    for v in args:
        if type(v) is Tracked:
            return True
        if type(v) is list or type(v) is tuple:
            for e in v:
                if type(e) is Tracked:
                    return True
    return False


cdef bint _any_active(tuple args, dict kwargs):
    for v in args:
        v = _resolve(v)
        if type(v) is Tracked:
            return True
        if type(v) is list or type(v) is tuple:
            for e in v:
                if type(_resolve(e)) is Tracked:
                    return True
    for v in kwargs.values():
        if type(_resolve(v)) is Tracked:
            return True
    return False

