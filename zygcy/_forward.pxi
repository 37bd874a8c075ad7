# Forward mode: values that carry their tangents.
# Part of the zygcy._core extension module (included by _core.pyx).
#
# A forward level is a Tape made with forward=True. It is a level like any
# other (an id on the stack, so it nests with reverse levels and other forward
# levels without confusing their perturbations), but it records nothing: each
# operation on its values makes a new value (an OP_DUAL Tracked) holding the
# result and its tangent, computed at once from the operands' tangents. So
# memory does not grow with the length of the program.
#
# * Scalar operators and functions give their partials to _lin_fast/_lin_obj
#   (the same calls reverse mode records with); on a forward level these land
#   here and the tangent is da * ta + db * tb, in C doubles when every tangent
#   is a float.
# * A rule node gets its tangent from the rule's forward rules (Rule.jvp(i),
#   registered with zygcy.extend.defjvp, or made by deflinear/defbilinear and
#   the derivative tables). A rule without one is transposed: its pullback is
#   linear in the cotangent, so the gradient in u of <pullback(u), t> is the
#   Jacobian applied to t, which a small reverse sweep computes exactly.
#
# * A batch of tangents (Batched, below: forward_jacobian and hessian push many
#   directions through one pass) is scaled and added by the elementwise and
#   scalar forward rules as one array with the batch axis in front; a rule with
#   a batched forward rule (Rule.batched) gets that array; every other forward
#   rule runs once per direction and its results are stacked, so a rule
#   without a batched form is slower, never wrong.
#
# Tangents follow the cotangents' convention: for a holomorphic f the tangent
# is f'(x) t (the partials are taken unconjugated here), and a real value's
# tangent is real.
#
# * Large arrays a level's values drop are recycled into its next results
#   (_recycle, at the end of this file).

cdef inline object _tangent(Tracked t):
    """The tangent of the forward value t as an object (None: zero)."""
    if t.fast:
        return PyFloat_FromDouble(t.da)
    return t.ext


class Batched:
    """The tangents of a batch of directions, carried together: ``b[k]`` is the
    tangent along direction k, so ``b`` has the batch axis in front of the
    value's shape. Only the engine sees one. It scales (by a partial, broadcast
    as the tangent of one direction would be) and adds: batch with batch of the
    same length, or with a tangent that is no batch, which is the same in every
    direction (a float's C-double tangent 0.0 and what is made from it). Anything
    else refuses, so that no numpy function or forward rule can take the batch
    axis for an axis of the value. ``largest``: the most bytes one has held
    since it was last reset (forward_jacobian sizes its batches by it)."""
    __slots__ = ("b",)
    __array_ufunc__ = None      # numpy's operators defer to the methods below
    largest = 0

    def __init__(self, b):
        if type(b) is not _ndarray:
            raise TypeError(_messages.batched_misuse("hold a %s" % type(b).__name__))
        self.b = b
        if (<object>b).nbytes > Batched.largest:
            Batched.largest = (<object>b).nbytes

    def __mul__(self, p):
        if type(p) is Batched:
            raise TypeError(_messages.batched_misuse("multiply two batches"))
        b = batch_aligned(self.b, np.ndim(value(p)))
        r = b * p
        if not _all_finite(p):
            # a direction along which this value does not move stays unmoved: 0, not
            # 0 * inf (one direction at a time, such a tangent is no tangent at all)
            r = np.where(b == 0, np.zeros((), r.dtype), r)
        return Batched(r)

    __rmul__ = __mul__

    def __add__(self, o):
        if type(o) is Batched:
            if (<object>o).b.shape[0] != self.b.shape[0]:
                raise ValueError(_messages.batched_misuse("add a batch of %d directions to one of %d"
                                                          % ((<object>o).b.shape[0], self.b.shape[0])))
            nd = max(self.b.ndim, (<object>o).b.ndim) - 1
            return Batched(batch_aligned(self.b, nd) + batch_aligned((<object>o).b, nd))
        if PyFloat_CheckExact(o) or type(o) is int or type(o) is complex:
            if o == 0:
                return self     # the C-double tangent 0.0 of a float that carries none
            return Batched(self.b + o)
        if isinstance(o, (_ndarray, _generic)):
            return Batched(batch_aligned(self.b, np.ndim(o)) + o)      # the same in every direction
        raise TypeError(_messages.batched_misuse("add a %s" % type(o).__name__))

    __radd__ = __add__

    def __neg__(self):
        return Batched(-self.b)

    def __array__(self, *args, **kwargs):
        raise TypeError(_messages.batched_misuse("become an array"))

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(_messages.batched_misuse("be given to %s" % getattr(func, "__name__", func)))

    def __repr__(self):
        return "Batched(%r)" % (self.b,)


cdef bint _all_finite(object p):
    """Every element of the partial p is finite (a number, a numpy scalar or an
    array). Decided by the sum, which is finite if they are; a sum that
    overflows says no, which only costs the caller a needless np.where."""
    if PyFloat_CheckExact(p):
        return isfinite(PyFloat_AS_DOUBLE(p))
    p = value(p)
    if type(p) is int:
        return True
    s = complex((<object>p).sum()) if type(p) is _ndarray else complex(p)
    return isfinite(s.real) and isfinite(s.imag)


cpdef object batch_aligned(object b, Py_ssize_t nd):
    """The batch b with axes of length 1 after the batch axis, so that its value
    shape has at least nd axes: then numpy broadcasts it with an array of nd axes
    as it broadcasts one direction's tangent (batched rules use it too)."""
    cdef Py_ssize_t have = (<object>b).ndim - 1
    if nd <= have:
        return b
    shape = (<object>b).shape
    return (<object>b).reshape(shape[:1] + (1,) * (nd - have) + shape[1:])


cdef Py_ssize_t _batch_size(list tans):
    """The number of directions of the Batched tangents among tans (-1: none)."""
    for t in tans:
        if type(t) is Batched:
            return (<object>t).b.shape[0]
        if type(t) is list or type(t) is tuple:
            for e in t:
                if type(e) is Batched:
                    return (<object>e).b.shape[0]
    return -1


cdef object _column(object t, Py_ssize_t k):
    """Direction k of the tangent t (a Batched, a list of tangents, a zero or None)."""
    if type(t) is Batched:
        return (<object>t).b[k]
    if type(t) is list or type(t) is tuple:
        return type(t)([_column(e, k) for e in t])
    return t


cdef list _columns(list tans, Py_ssize_t k):
    return [_column(t, k) for t in tans]


cdef object _stack_columns(object fun, object ans, list cols):
    """One tangent per direction (each of them as a forward rule gives it) as one
    Batched per output (None: zero in every direction)."""
    cdef Py_ssize_t j
    if type(ans) is tuple or type(ans) is list or (isinstance(ans, tuple) and hasattr(ans, "_fields")):
        for c in cols:
            if c is not None and not (isinstance(c, (tuple, list)) and len(c) == len(ans)):
                raise ValueError(_messages.jvp_outputs(fun, c, len(ans)))
        return tuple([_stack_one(fun, e, [None if c is None else c[j] for c in cols])
                      for j, e in enumerate(ans)])
    return _stack_one(fun, ans, cols)


cdef object _stack_one(object fun, object ans, list cols):
    cdef list fitted = [None if c is None else _fit_tangent(fun, ans, c) for c in cols]
    first = None
    for c in fitted:
        if c is not None:
            first = c
            break
    if first is None:
        return None
    zero = None
    for k in range(len(fitted)):
        if fitted[k] is None:
            if zero is None:
                zero = np.zeros_like(first)
            fitted[k] = zero
    return Batched(np.stack(fitted))


cdef object _as_batched(object fun, object c, Py_ssize_t nb):
    """A batched forward rule's result (arrays with the batch axis in front, a
    tuple of them for several outputs, None for zero) as Batched tangents; one
    with another number of directions than nb is refused."""
    if c is None:
        return c
    if type(c) is tuple or type(c) is list:
        return tuple([_as_batched(fun, e, nb) for e in c])
    if type(c) is not Batched:
        c = Batched(np.asarray(c))
    if (<object>c).b.ndim == 0 or (<object>c).b.shape[0] != nb:
        raise ValueError(_messages.batched_rule_directions(fun, np.shape((<object>c).b), nb))
    return c


cdef inline Tracked _dual(Tape tape, object val, char kind, object tan):
    """A value of the forward level ``tape`` with tangent ``tan`` (None: zero)."""
    cdef Tracked r = Tracked.__new__(Tracked)
    r._v = val
    r.tid = tape.id
    r.kind = kind
    r.op = OP_DUAL
    r.pos = -1
    if kind == K_FLOAT and (tan is None or PyFloat_CheckExact(tan)):
        r.fast = True
        r.da = 0.0 if tan is None else PyFloat_AS_DOUBLE(tan)
    else:
        r.fast = False
        r.ext = tan
        if kind == K_ARRAY and not tape.recycling:
            _recycling(tape, True)      # its values' arrays may be recycled from now on (_recycle)
    return r


cdef Tracked _dual_lin_fast(Tape tape, double val, Tracked a, double da, Tracked b, double db):
    """y = val with partials da, db in a, b (values of ``tape``): dy = da ta + db tb."""
    cdef Tracked r
    if (a is None or a.fast) and (b is None or b.fast):
        # The hot path: every tangent is a C double.
        return _dual_float(tape, val, (da * a.da if a is not None else 0.0)
                           + (db * b.da if b is not None else 0.0))
    return _dual(tape, PyFloat_FromDouble(val), K_FLOAT,
                 _tangent_sum(a, PyFloat_FromDouble(da), b, PyFloat_FromDouble(db)))


cdef object _dual_arith(int op, Tape tape, object x, int kx, double xd, object y, int ky, double yd):
    """x op y for + - * / of floats on the forward level ``tape`` (kx, ky: 2 for a
    value of it, 1 for a constant; _float_operand): the hot path of scalar forward
    mode, _dual_lin_fast's sum without taking the operands as Tracked arguments."""
    cdef double r, da, db
    if (kx == 2 and not (<Tracked>x).fast) or (ky == 2 and not (<Tracked>y).fast):
        return _arith(op, tape, <Tracked>x if kx == 2 else None, xd, <Tracked>y if ky == 2 else None, yd)
    _c_arith(op, xd, yd, &r, &da, &db)
    # A constant's side adds nothing (not 0 * partial: that is nan for an infinite partial).
    return _dual_float(tape, r, (da * (<Tracked>x).da if kx == 2 else 0.0)
                       + (db * (<Tracked>y).da if ky == 2 else 0.0))


cdef inline Tracked _dual_float(Tape tape, double val, double tan):
    """A float of the forward level ``tape``: value and tangent as C doubles (_v
    stays None until _tv asks for the value as an object)."""
    cdef Tracked r = Tracked.__new__(Tracked)
    r.db = val
    r.tid = tape.id
    r.kind = K_FLOAT
    r.op = OP_DUAL
    r.pos = -1
    r.fast = True
    r.da = tan
    return r


cdef Tracked _dual_lin_obj(Tape tape, object val, Tracked a, object pa, Tracked b, object pb):
    """As _dual_lin_fast with partials that are Python objects (taken as they are:
    forward mode uses f'(x) itself, not its conjugate)."""
    return _dual(tape, val, _kind_of(val), _tangent_sum(a, pa, b, pb))


cdef object _tangent_sum(Tracked a, object pa, Tracked b, object pb):
    cdef object t = None, ta, tb
    if a is not None:
        ta = _tangent(a)
        if ta is not None:
            t = ta * pa
    if b is not None:
        tb = _tangent(b)
        if tb is not None:
            t = tb * pb if t is None else t + tb * pb
    return t


# ---------------------------------------------------------------------------
# Rules

cdef object _dual_rule(Tape top, object fun, Rule rule, object ans, list plain, dict kwargs,
                       list parents, list argi, list elem):
    """The value of ``fun(*plain)`` on the forward level ``top``, with its tangent."""
    cdef list tans = _argument_tangents(plain, parents, argi, elem)
    if tans is None:
        return _dual_out(top, fun, ans, None)
    cdef Py_ssize_t nb = _batch_size(tans)
    if nb >= 0:
        return _dual_out(top, fun, ans, _batched_rule_tangent(fun, rule, ans, plain, kwargs, tans, nb))
    return _dual_out(top, fun, ans, _rule_tangent(fun, rule, ans, plain, kwargs, tans))


cdef object _rule_tangent(object fun, Rule rule, object ans, list plain, dict kwargs, list tans):
    """The sum over the arguments with a tangent (tans[i], None: zero) of the tangent
    of the output that each gives: the rule's forward rule, or its pullback transposed."""
    cdef Py_ssize_t i
    cdef object total = None, f, c
    cdef list rest = None           # tangents of the arguments without a forward rule
    # an elementwise function recorded as a rule (several levels active): its partials
    cdef bint by_partials = rule.ew_jvps and not kwargs and len(plain) <= 2
    cdef tuple args = tuple(plain) if by_partials else None
    for i in range(len(plain)):
        if tans[i] is None:
            continue
        if by_partials and type(tans[i]) is not list:
            total = _tangent_add(total, _partial_times(rule.partials[i], tans[i], ans, args))
            continue
        f = rule.jvp(i)
        if f is not None:
            c = f(tans[i], ans, *plain, **kwargs) if kwargs else f(tans[i], ans, *plain)
            total = _tangent_add(total, c)
            continue
        if rest is None:
            rest = [None] * len(plain)
        rest[i] = tans[i]
        if not rule.joint:
            maker = rule.maker(i)
            if maker is None:
                raise TypeError(_messages.no_derivative_for_argument(fun, i))
            c = _transposed(fun, maker(ans, *plain, **kwargs) if kwargs else maker(ans, *plain),
                            ans, plain, rest, False, i)
            total = _tangent_add(total, c)
            rest[i] = None
    if rule.joint and rest is not None:
        # one transposition of the joint pullback for every argument without a forward rule
        total = _tangent_add(total, _transposed(fun, rule.joint_maker(ans, *plain, **kwargs),
                                                ans, plain, rest, True))
    return total


cdef object _batched_rule_tangent(object fun, Rule rule, object ans, list plain, dict kwargs, list tans,
                                  Py_ssize_t nb):
    """_rule_tangent for tangents of which some are Batched (nb directions): the
    partials of an elementwise rule scale the batch, a batched forward rule takes
    it, and the arguments left are done direction by direction."""
    cdef Py_ssize_t i, k
    cdef object total = None, t, f, c
    cdef list loop = None           # the arguments done one direction at a time
    cdef bint by_partials = rule.ew_jvps and not kwargs and len(plain) <= 2
    cdef tuple args = tuple(plain) if by_partials else None
    for i in range(len(plain)):
        t = tans[i]
        if t is None:
            continue
        if by_partials and type(t) is Batched:
            total = _tangent_add(total, _partial_times(rule.partials[i], t, ans, args))
            continue
        f = rule.batched[i] if i < len(rule.batched) else None
        tb = None
        if f is None:
            pass
        elif type(t) is Batched:
            tb = (<object>t).b
        elif (type(t) is list or type(t) is tuple) and getattr(f, "_zygcy_lists", False):
            # a list argument: the batched rule gets each element's batch (None: constant)
            tb = [(<object>e).b if type(e) is Batched else None for e in t]
        if tb is not None:
            c = f(tb, ans, *plain, **kwargs)
            if c is not NotImplemented:
                total = _tangent_add(total, _as_batched(fun, c, nb))
                continue
        if loop is None:
            loop = [None] * len(plain)
        loop[i] = t
    if loop is not None:
        cols = [_rule_tangent(fun, rule, ans, plain, kwargs, _columns(loop, k)) for k in range(nb)]
        total = _tangent_add(total, _stack_columns(fun, ans, cols))
    return total


cdef object _dual_elementwise(Tape top, object fun, Rule rule, object ans, tuple args, Tracked a, Tracked b):
    """The forward value of an elementwise function (_record_elementwise): the sum
    of its forward rules (made from the same partials), without _apply's level
    resolution and argument lists."""
    cdef object total = None, t, f, c
    cdef Py_ssize_t i, k
    cdef list tans = [None if a is None else _tangent(a), None if b is None else _tangent(b)]
    if not rule.ew_jvps and (type(tans[0]) is Batched or type(tans[1]) is Batched):
        # forward rules of their own (defjvp): one direction at a time
        cols = [_elementwise_tangent(rule, ans, args, _columns(tans, k))
                for k in range(_batch_size(tans))]
        return _dual_out(top, fun, ans, _stack_columns(fun, ans, cols))
    return _dual_out(top, fun, ans, _elementwise_tangent(rule, ans, args, tans))


cdef object _elementwise_tangent(Rule rule, object ans, tuple args, list tans):
    cdef object total = None, t, f, c
    cdef Py_ssize_t i
    if (rule.kernels and rule.kernels[0] == EWK_Y and len(rule.kernels) == 2 and rule.kernels[1] == EWK_X
            and tans[0] is not None and tans[1] is not None):
        c = _product_tangent(tans[0], args[1], tans[1], args[0])     # x * y, both tracked
        if c is not None:
            return c
    for i in range(2):
        t = tans[i]
        if t is None:
            continue
        if rule.ew_jvps:
            c = None
            if i < len(rule.kernels) and rule.kernels[i]:
                # t * partial in one C loop on large float64 arrays (_kernels.pxi)
                c = _ew_fused(rule.kernels[i], ans, args[0], args[1] if len(args) == 2 else None, t)
            if c is None:
                c = _partial_times(rule.partials[i], t, ans, args)
        else:
            f = rule.jvp(i)
            c = f(t, ans, args[0]) if len(args) == 1 else f(t, ans, args[0], args[1])
        if total is None:
            total = c
        else:
            total = _tangent_add(total, c)
            if c is not total:
                _give(c)                # the second term, added into the first: its memory is free
    return total


cdef object _partial_times(object partial, object t, object ans, tuple args):
    """t * partial(ans, *args): the forward rule defelementwise makes (the partial
    unconjugated), without calling it; a constant partial of 1 or -1 multiplies by
    nothing, as that rule does, and None gives no tangent."""
    if partial is None:
        return None
    if PyFloat_CheckExact(partial):
        if PyFloat_AS_DOUBLE(partial) == 1.0:
            return t
        if PyFloat_AS_DOUBLE(partial) == -1.0:
            return _negated(t)
        return _times(t, partial)
    p = partial(ans, args[0]) if len(args) == 1 else partial(ans, args[0], args[1])
    if _is_scratch(p, t):
        return _np_multiply(t, p, p)    # a partial just made (1 - ans**2, 2 * x): the product goes into it
    return _times(t, p)


cdef object _dual_read(Tape top, Tracked x, object index):
    """x[index] (ints, one per axis) on a forward level: the number and its
    tangent's element; an exact zero (the other columns of forward_jacobian's
    basis tangents) is kept as no tangent, so the work downstream is skipped."""
    cdef object t = x.ext if not x.fast else None
    val = (<object>_tv(x))[index]
    if type(t) is Batched:
        if (<object>t).b.shape[1:] != (<object>_tv(x)).shape:
            return _rules_for().getitem(x, index)
        return _dual(top, val, K_SCALAR,
                     Batched((<object>t).b[(slice(None),) + (index if type(index) is tuple else (index,))]))
    if t is not None:
        if type(t) is not _ndarray or (<object>t).shape != (<object>_tv(x)).shape:
            return _rules_for().getitem(x, index)
        t = (<object>t)[index]
        if PyFloat_Check(t) and PyFloat_AS_DOUBLE(t) == 0.0:
            t = None
    return _dual(top, val, K_SCALAR, t)


cdef list _argument_tangents(list plain, list parents, list argi, list elem):
    """Per positional argument its tangent (None: zero); an argument that is a list
    of values gets a list of tangents, zeros where an element is constant.
    None when no argument carries a tangent."""
    cdef list tans = None
    cdef Py_ssize_t k, i, j
    for k in range(len(parents)):
        tp = _tangent(<Tracked>parents[k])
        if tp is None:
            continue
        if tans is None:
            tans = [None] * len(plain)
        i = argi[k]
        j = elem[k]
        if j < 0:
            tans[i] = tp
        else:
            if tans[i] is None:
                tans[i] = [_zero_like(e) for e in plain[i]]
            tans[i][j] = tp
    if tans is not None:
        for i in range(len(plain)):
            if type(plain[i]) is tuple and type(tans[i]) is list:
                tans[i] = tuple(tans[i])
    return tans


cdef object _zero_like(object v):
    """A zero of v's kind: the tangent of a constant element of a list argument,
    and the cotangent a transposed pullback is given. Integer arrays get float
    zeros; a numpy scalar stays one (some pullbacks read its dtype); a nested
    list of numbers gets zeros of its shape."""
    v = value(v)
    if isinstance(v, _ndarray):
        return np.zeros_like(v, dtype=np.result_type(v.dtype, np.float64) if v.dtype.kind in "biu" else None)
    if isinstance(v, _generic) and v.dtype.kind in "fc":
        return v.dtype.type(0)
    if isinstance(v, complex):
        return 0j
    if type(v) is list or type(v) is tuple:
        return np.zeros(np.shape(v), dtype=complex if np.iscomplexobj(v) else float)
    return 0.0


cdef object _tangent_add(object x, object y):
    """x + y for tangents, None counting as zero; multi-output tangents item by item."""
    if x is None:
        return y
    if y is None:
        return x
    if type(x) is Batched or type(y) is Batched:
        return x + y
    if type(x) is tuple or type(x) is list:
        return tuple([_tangent_add(u, w) for u, w in zip(x, y)])
    if _is_scratch(x, y):
        return _np_add(x, y, x)     # x is a temporary made for this sum (t * partial): reuse it
    if _is_scratch(y, x):
        return _np_add(x, y, y)
    if _fits_pool(x, y):
        buf = _pooled(x)
        if buf is not None:
            return _np_add(x, y, buf)
    return x + y


cdef object _dual_out(Tape top, object fun, object ans, object total):
    cdef Py_ssize_t k
    if type(ans) is tuple or type(ans) is list or (isinstance(ans, tuple) and hasattr(ans, "_fields")):
        if total is not None and not (isinstance(total, (tuple, list)) and len(total) == len(ans)):
            raise ValueError(_messages.jvp_outputs(fun, total, len(ans)))
        outs = [_dual(top, e, _kind_of(e), _fit_tangent(fun, e, None if total is None else total[k]))
                for k, e in enumerate(ans)]
        if type(ans) is list:
            return outs
        if type(ans) is tuple:
            return tuple(outs)
        return type(ans)(*outs)
    return _dual(top, ans, _kind_of(ans), _fit_tangent(fun, ans, total))


cdef object _fit_tangent(object fun, object ans, object t):
    """The tangent t of the output ans as the output is: of its shape (a tangent
    that broadcasts to it, as the tangent of x + c does when x is smaller, is
    broadcast), real when ans is real. Any other shape is a wrong rule: refused."""
    cdef object av, tv
    if t is None:
        return None
    av = ans
    while type(av) is Tracked:
        av = _tv(<Tracked>av)
    if type(t) is Batched:
        return _fit_batched(fun, av, t)
    tv = t
    while type(tv) is Tracked:
        tv = _tv(<Tracked>tv)
    if type(av) is _ndarray and type(tv) is _ndarray:
        if (<object>av).shape == (<object>tv).shape and ((<object>tv).dtype.kind != "c"
                                                          or (<object>av).dtype.kind == "c"):
            return t                # the common case
    elif PyFloat_CheckExact(av) and PyFloat_CheckExact(tv):
        return t
    if type(tv) is IndexGrad or not (isinstance(tv, (_ndarray, _generic)) or isinstance(tv, _Number)):
        raise TypeError(_messages.tangent_kind(fun, type(tv).__name__))
    ashape = np.shape(av)
    tshape = np.shape(tv)
    if tshape != ashape:
        _check_broadcasts(fun, tshape, ashape)
        t = t + np.zeros(ashape, dtype=np.result_type(tv))
    if _is_complex(tv) and not _is_complex(av):
        t = np.real(t) if isinstance(tv, (_ndarray, _generic)) else t.real
    return t


cdef int _check_broadcasts(object fun, tuple tshape, tuple ashape) except -1:
    """Refuse a tangent of shape tshape for an output of shape ashape unless it
    broadcasts to it (as the tangent of x + c does when x is smaller)."""
    try:
        ok = np.broadcast_shapes(tshape, ashape) == ashape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(_messages.tangent_shape(fun, tshape, ashape))
    return 0


cdef object _fit_batched(object fun, object av, object t):
    """_fit_tangent for a Batched tangent t: each direction as _fit_tangent fits one."""
    b = (<object>t).b
    if type(av) is _ndarray and b.shape[1:] == (<object>av).shape and (
            b.dtype.kind != "c" or (<object>av).dtype.kind == "c"):
        return t                    # the common case
    if not (isinstance(av, (_ndarray, _generic)) or isinstance(av, _Number)):
        raise TypeError(_messages.tangent_kind(fun, "batch of tangents for a %s" % type(av).__name__))
    ashape = np.shape(av)
    tshape = b.shape[1:]
    if tshape != ashape:
        _check_broadcasts(fun, tshape, ashape)
        b = batch_aligned(b, len(ashape)) + np.zeros(b.shape[:1] + ashape, dtype=b.dtype)
    if b.dtype.kind == "c" and not _is_complex(av):
        b = np.real(b).copy()
    return Batched(b) if b is not (<object>t).b else t


# ---------------------------------------------------------------------------
# Transposing a pullback: the forward rule of a rule that has none

cdef object _transposed(object fun, object pullback, object ans, object args, list tans, bint joint,
                        Py_ssize_t which=-1):
    """J t for the rule whose pullback (g -> cotangent of argument ``which``, or,
    ``joint``, g -> every cotangent) is given: the gradient in u of the pairing
    sum_i <pullback(u)_i, t_i>, by a reverse sweep of the pullback alone. Exact,
    since a pullback is linear in u. Each cotangent is checked against its
    argument (``args``) as the reverse sweep checks it."""
    cdef Tape tape = Tape()
    cdef Py_ssize_t i
    tape.push()
    try:
        multi = type(ans) is tuple or type(ans) is list or (isinstance(ans, tuple) and hasattr(ans, "_fields"))
        if multi:
            u = tuple([tape.leaf(_zero_like(e)) for e in ans])
            leaves = list(u)
        else:
            u = tape.leaf(_zero_like(ans))
            leaves = [u]
        try:
            cts = pullback(u)
        except TypeError as e:
            raise TypeError(_messages.transposed_pullback_failed(fun, e)) from e
        s = 0.0
        if joint:
            if not isinstance(cts, (tuple, list)) or len(cts) != len(tans):
                raise ValueError(_messages.joint_pullback_length(fun, cts, len(tans)))
            for i in range(len(tans)):
                if tans[i] is not None:
                    _check_transposed(fun, i, args[i], cts[i])
                    s = s + _pairing(cts[i], tans[i])
        else:
            _check_transposed(fun, which, args[which], cts)
            s = _pairing(cts, tans[which])
    finally:
        tape.pop()
    if not tape.owns(s):
        return None                 # the pullback does not depend on the cotangent: zero
    grads = tape.backward([(s, 1.0)], leaves)
    return tuple(grads) if multi else grads[0]


cdef int _check_transposed(object fun, Py_ssize_t i, object arg, object ct) except -1:
    """Refuse a cotangent that does not fit its argument (as _check_cotangent does in
    a reverse sweep): transposed, it would give a wrong tangent without a word."""
    if ct is None or type(ct) is list or type(ct) is tuple or type(arg) is list or type(arg) is tuple:
        return 0
    if type(ct) is IndexGrad:
        shape = (<IndexGrad>ct).shape
    elif type(ct) is Tracked or isinstance(ct, (_ndarray, _generic)) or (
            isinstance(ct, _Number) and not isinstance(ct, bool)):
        shape = np.shape(value(ct))
    else:
        raise TypeError(_messages.cotangent_kind(fun, type(ct).__name__, i))
    want = np.shape(value(arg))
    if shape != want:
        raise ValueError(_messages.cotangent_shape(fun, shape, i, want))
    return 0


cdef object _pairing(object ct, object t):
    """The real inner product <ct, t> = Re sum(conj(ct) t), written with recorded
    operations; None counts as zero, lists item by item."""
    if ct is None or t is None:
        return 0.0
    ct = _densify(ct)
    if type(ct) is list or type(ct) is tuple:
        s = 0.0
        for c, d in zip(ct, t):
            s = s + _pairing(c, d)
        return s
    if _is_complex(ct) or _is_complex(t):
        p = np.real(np.conjugate(ct) * t)
    else:
        p = ct * t
    if isinstance(value(p), _ndarray):
        return np.sum(p)
    return p


cdef object _dual_user_rule(Tape top, object fun, object ans, tuple args, list parents, list argi,
                            object pullback):
    """A user rule (@grad) on a forward level: its pullback transposed."""
    cdef list tans = [None] * len(args)
    cdef bint any_tangent = False
    cdef Py_ssize_t k
    for k in range(len(parents)):
        tp = _tangent(<Tracked>parents[k])
        if tp is not None:
            tans[<Py_ssize_t>argi[k]] = tp
            any_tangent = True
    if not any_tangent:
        return _dual_out(top, fun, ans, None)
    cdef Py_ssize_t nb = _batch_size(tans)
    if nb >= 0:
        return _dual_out(top, fun, ans, _stack_columns(
            fun, ans, [_transposed(fun, pullback, ans, args, _columns(tans, k), True) for k in range(nb)]))
    return _dual_out(top, fun, ans, _transposed(fun, pullback, ans, args, tans, True))


# ---------------------------------------------------------------------------
# Recycled memory
#
# A forward level makes each value's array and tangent as the program runs and
# drops them as soon as the program has used them (those of x**2 once -x**2 is
# made). On large arrays a fresh allocation costs more than the operation that
# fills it: the system hands the C library new pages, which it zeroes, and the
# C library gives freed large blocks back (2 * x on 10^6 elements: 0.3 ms into
# memory used before, 2 ms into new memory). So when a value of the innermost
# forward level is freed (Tracked.__dealloc__), the large arrays it held that
# nothing else holds or can reach go to the level's pool, and the level's next
# results of the same shape and dtype are written into them by numpy's out=:
# the same loop on the same operands, so the same numbers, the same dtype and
# the same (C) order as the call without out=. The pool holds at most
# _POOL_MAX arrays and goes with the level (Tape.pop): no memory is kept past
# the differentiation.

cdef Py_ssize_t _POOL_MIN = 1 if ZYGCY_DEBUG_BUILD else 1 << 14     # elements; every size on the debug build
cdef int _POOL_MAX = 4                                              # the size of Tape.pool


cdef inline bint _private(PyObject* p, Py_ssize_t held) noexcept:
    """p is an ndarray of at least _POOL_MIN elements with held references (the
    caller's) and no other, owning aligned, writeable, C-contiguous memory (not a
    view, not memory a library keeps), with no weak reference to it: nothing else
    can see its memory change. Read through casts, taking no reference."""
    cdef Py_ssize_t off
    if p == NULL or <void*>p.ob_type != <void*>_ndarray or p.ob_refcnt != held:
        return False
    if (cnp.PyArray_SIZE(<cnp.ndarray>p) < _POOL_MIN or cnp.PyArray_BASE(<cnp.ndarray>p) != NULL
            or not cnp.PyArray_CHKFLAGS(<cnp.ndarray>p, cnp.NPY_ARRAY_OWNDATA | cnp.NPY_ARRAY_WRITEABLE
                                        | cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED)):
        return False
    off = (<_TypeSlots*>_ndarray).tp_weaklistoffset
    return off <= 0 or (<PyObject**>((<char*>p) + off))[0] == NULL


cdef inline void _pool_put(Tape top, PyObject* p) noexcept:
    if top.npool < _POOL_MAX:
        Py_INCREF(<object>p)
        top.pool[top.npool] = p
        top.npool += 1


cdef void _recycle(Tape top, PyObject* v, PyObject* e) noexcept:
    """A value of the forward level top is being freed, holding the array v and
    the tangent e (NULL: none): those no one else holds go to top's pool."""
    if _private(v, 1):
        _pool_put(top, v)
    if _private(e, 1):
        _pool_put(top, e)


cdef void _pool_clear(Tape top) noexcept:
    cdef int i
    for i in range(top.npool):
        Py_DECREF(<object>top.pool[i])
        top.pool[i] = NULL
    top.npool = 0


cdef inline void _give(object a) noexcept:
    """A temporary the caller made and is done with (its only reference) to the
    innermost forward level's pool."""
    cdef Tape top = _top
    if top is not None and top.forward and _private(<PyObject*>a, 1):
        _pool_put(top, <PyObject*>a)


cdef object _pooled(object like):
    """A recycled array of like's shape and dtype (an ndarray), or None."""
    cdef Tape top = _top
    cdef int i
    cdef object b
    if top is None or not top.npool:
        return None
    for i in range(top.npool - 1, -1, -1):
        b = <object>top.pool[i]             # a reference of our own ...
        if _same_shape(b, like) and _same_dtype(b, like):
            top.npool -= 1
            top.pool[i] = top.pool[top.npool]
            top.pool[top.npool] = NULL
            Py_DECREF(b)                    # ... and the pool's dropped
            return b
    return None


cdef inline bint _c_inexact(object a) noexcept:
    """a (an exact ndarray) is C-contiguous, of a float or complex dtype."""
    cdef char k = _dtype_kind(a)
    return (k == b"f" or k == b"c") and cnp.PyArray_CHKFLAGS(<cnp.ndarray>a, cnp.NPY_ARRAY_C_CONTIGUOUS)


cdef inline bint _fits_pool(object t, object p) noexcept:
    """t op p (t an array, p an array or a float) has t's shape, dtype and order:
    a recycled array like t may take it."""
    if type(t) is not _ndarray or not _c_inexact(t):
        return False
    if PyFloat_CheckExact(p):
        return True
    return type(p) is _ndarray and _same_shape(p, t) and _same_dtype(p, t) and cnp.PyArray_CHKFLAGS(
        <cnp.ndarray>p, cnp.NPY_ARRAY_C_CONTIGUOUS)


cdef object _times(object t, object p):
    """t * p, into a recycled array when one fits."""
    if _fits_pool(t, p):
        buf = _pooled(t)
        if buf is not None:
            return _np_multiply(t, p, buf)
    return t * p


cdef object _negated(object t):
    """-t, into a recycled array when one fits."""
    if type(t) is _ndarray and _c_inexact(t):
        buf = _pooled(t)
        if buf is not None:
            return _np_negative(t, buf)
    return -t


cdef dict _F8_LOOPS = {}     # (ufunc, operand kinds) -> its float64 arrays give float64 (_f8_loop)


cdef bint _f8_loop(object fun, int kx, int ky) except -1:
    """fun on these operands (kinds: 0 a float64 array, 1 a Python float, 2 a
    Python int; ky -1: no second operand) runs a loop that takes the arrays as
    float64 and gives one float64 array: its result fits a recycled float64 array."""
    key = (fun, kx, ky)
    ok = _F8_LOOPS.get(key)
    if ok is None:
        f8 = np.dtype(np.float64)
        kinds = (f8, float, int)
        ops = (kinds[kx],) if ky < 0 else (kinds[kx], kinds[ky])
        try:
            res = fun.resolve_dtypes(ops + (None,)) if fun.nout == 1 and fun.nin == len(ops) else None
        except Exception:
            res = None
        ok = res is not None and res[len(res) - 1] == f8 and all(res[i] == f8 for i in range(len(ops)) if ops[i] is f8)
        _F8_LOOPS[key] = ok
    return ok


cdef inline int _f8_kind(object v, object like):
    """0: a C-contiguous float64 array of like's shape (like None: any); 1: a
    Python float; 2: a Python int; -1: anything else."""
    if type(v) is _ndarray:
        if (cnp.PyArray_TYPE(<cnp.ndarray>v) == cnp.NPY_DOUBLE
                and cnp.PyArray_CHKFLAGS(<cnp.ndarray>v, cnp.NPY_ARRAY_C_CONTIGUOUS)
                and (like is None or _same_shape(v, like))):
            return 0
        return -1
    if PyFloat_CheckExact(v):
        return 1
    if PyLong_CheckExact(v):
        return 2
    return -1


cdef object _primal_recycled(object fun, object x, object y, Py_ssize_t n):
    """fun(x[, y]) on a forward level with a pool, into a recycled array when the
    operands are float64 arrays of one shape and Python numbers; None when not
    (the caller calls fun itself)."""
    like = x if type(x) is _ndarray else y
    if type(like) is not _ndarray:
        return None
    kx = _f8_kind(x, like)
    ky = -1 if n == 1 else _f8_kind(y, like)
    if kx < 0 or (n == 2 and ky < 0) or not _f8_loop(fun, kx, ky):
        return None
    buf = _pooled(like)
    if buf is None:
        return None
    return fun(x, out=buf) if n == 1 else fun(x, y, out=buf)


cdef object _product_tangent(object tx, object y, object ty, object x):
    """tx * y + ty * x, the tangent of x * y, in one C loop into one array (a
    recycled one when there is one): numpy would make tx * y, a temporary ty * x
    and their sum in three passes. Plain float64 arrays of one shape only; the same
    IEEE operations in the same order as numpy's, so the same bits. None (numpy's
    path decides, warnings included) for other operands or a result not finite."""
    cdef Py_ssize_t i, n
    cdef double* o
    cdef double* a
    cdef double* b
    cdef double* c
    cdef double* d
    cdef double r
    cdef double bad = 0.0
    if not (_plain_f64(tx) and _plain_f64(y) and _plain_f64(ty) and _plain_f64(x) and _same_shape(tx, y)
            and _same_shape(tx, ty) and _same_shape(tx, x)):
        return None
    out = _pooled(tx)
    if out is None:
        out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>tx), cnp.PyArray_DIMS(<cnp.ndarray>tx),
                                cnp.NPY_DOUBLE, 0)
    n = _asize(tx)
    o = <double*>cnp.PyArray_DATA(<cnp.ndarray>out)
    a = <double*>cnp.PyArray_DATA(<cnp.ndarray>tx)
    b = <double*>cnp.PyArray_DATA(<cnp.ndarray>y)
    c = <double*>cnp.PyArray_DATA(<cnp.ndarray>ty)
    d = <double*>cnp.PyArray_DATA(<cnp.ndarray>x)
    with nogil:
        for i in range(n):
            r = a[i] * b[i] + c[i] * d[i]
            bad = bad + (r - r)         # NaN if an r is infinite or NaN (a sum: vectorized, see _ew_direct)
            o[i] = r
    if bad == 0.0:
        return out
    _give(out)
    return None
