# Recording one rule node: arguments stripped of a level, pullbacks made.
# Part of the zygcy._core extension module (included by _core.pyx).

def apply(fun, args, kwargs=None):
    """Call ``fun(*args, **kwargs)``, recording it with the rule registered for ``fun``."""
    rule = _rules.get(fun)
    if rule is None:
        raise TypeError(_messages.apply_without_rule(fun))
    return _apply(fun, <Rule>rule, tuple(args), dict(kwargs) if kwargs else {})


cdef object _apply(object fun, Rule rule, tuple args, dict kwargs):
    """Record fun(*args, **kwargs) as one node of the innermost tape among its
    arguments, in five steps: place tracked keywords by position, resolve the
    arguments' levels (finding that tape), strip that level (remembering the
    parents), alias outer-level arrays, then call fun and the rule's makers."""
    cdef Tape top
    cdef list plain, parents = [], argi = [], elem = []
    if kwargs and any(type(_resolve(v)) is Tracked for v in kwargs.values()):
        args, kwargs = _keywords_by_position(fun, args, kwargs)
    plain = list(args)
    top = _resolve_levels(fun, plain, kwargs)
    if top is None:
        return fun(*plain, **kwargs)
    if PyList_GET_SIZE(top.unread):
        _let_go_unreachable(top)
    _strip_level(top, fun, plain, parents, argi, elem)
    if top.id != _stack_bottom_id():
        _alias_outer_arrays(plain)
    ans = _call(fun, plain, kwargs)
    if top.forward:
        return _dual_rule(top, fun, rule, ans, plain, kwargs, parents, argi, elem)    # _forward.pxi
    pbs = _make_pullbacks(fun, rule, ans, plain, kwargs, argi)
    return _record(top, ans, tuple(parents), tuple(argi), tuple(elem), pbs, rule.joint, len(plain), fun)


@cython.no_gc           # as Rec
cdef class EwRec:
    """The partials and plain arguments of an elementwise node (fields in _core.pxd)."""


cdef object _record_elementwise(object fun, Rule rule, tuple inputs):
    """The hot path of array code: ufunc(x[, y]) with a derivative table, recorded as
    one elementwise node (OP_EW) whose sweep multiplies by the partials and undoes
    broadcasting in C, without makers or pullback closures; on a forward level, the
    value with its tangent from the same partials. Taken when one level is active
    and every operand is one of its values, an ndarray or a number; None otherwise
    (then _apply records it with the rule's makers or forward rules)."""
    cdef Tape top = _top
    cdef Tracked a = None, b = None, r
    cdef Py_ssize_t n = len(inputs), i
    cdef EwRec rec
    if top is None or n != len(rule.partials) or n > 2:
        return None
    # Several levels active (forward over reverse, reverse over reverse): the values
    # one level down of this tape's arguments may be values of outer levels; the
    # operation on them records its own part there (and constants of outer levels
    # take the rule's path, below).
    cdef bint nested = len(_stack) != 1
    cdef object x = None, y = None
    for i in range(n):
        v = inputs[i]
        if type(v) is Tracked:
            if (<Tracked>v).tid != top.id or (<Tracked>v).kind == K_MULTI:
                return None
            if rule.partials[i] is not None:
                if i == 0:
                    a = <Tracked>v
                else:
                    b = <Tracked>v
            v = _tv(<Tracked>v)
        elif type(v) is _ndarray:
            if top.watching:
                top.watched.append((_weakref(v), fun))
        elif not (PyFloat_CheckExact(v) or PyLong_CheckExact(v)):
            return None
        if i == 0:
            x = v
        else:
            y = v
    if a is None and b is None:
        return None
    if top.forward and ((a is not None and rule.jvp(0) is None) or (b is not None and rule.jvp(1) is None)):
        return None         # a forward rule missing: _apply transposes the pullback
    if PyList_GET_SIZE(top.unread):
        _let_go_unreachable(top)    # before the call: what became unreachable is freed before ans is made
    ans = None
    if top.forward and not nested and top.npool:
        ans = _primal_recycled(fun, x, y, n)        # into memory the level's values dropped (_forward.pxi)
    if n == 1:
        if ans is None:
            ans = fun(x)
        args = (x,)
    else:
        if ans is None:
            ans = fun(x, y)
        args = (x, y)
    if top.forward:
        return _dual_elementwise(top, fun, rule, ans, args, a, b)     # _forward.pxi
    # The record first, the node last: nothing can fail between the node joining the
    # tape and being complete.
    rec = EwRec.__new__(EwRec)
    rec.partials = rule.partials
    if rule.kernels:
        rec.k0 = rule.kernels[0]
        if n == 2:
            rec.k1 = rule.kernels[1]
    # What the sweep will read: the partials of the tracked arguments (of x * c only
    # the one in x, which reads c), each reading some of (ans, x, y).
    cdef int reads = (rule.reads & 0b111 if a is not None else 0) | (rule.reads >> 3 & 0b111 if b is not None else 0)
    if (reads >> 1) != (1 << n) - 1:
        # keep only the arguments read (exp's and add's none: x**2 is freed as soon
        # as -x**2 is made from it)
        args = (x if reads & 2 else None,) if n == 1 else (x if reads & 2 else None, y if reads & 4 else None)
    if nested:
        # values of outer levels kept for the sweep: as aliases, which user code cannot
        # assign into (_alias_outer_arrays)
        args = tuple([_alias(<Tracked>v) if type(v) is Tracked and (<Tracked>v).kind == K_ARRAY else v
                      for v in args])
    rec.args = args
    rec.fun = fun
    for i in range(n):
        if type(inputs[i]) is _ndarray and args[i] is not None:
            _lock(top, inputs[i])       # a constant the sweep reads (_tape.pxi)
    r = _new_node(top, ans, _kind_of(ans), OP_EW)
    r.a = a
    r.b = b
    r.ext = rec
    if a is not None:
        a.uses += 1
    if b is not None:
        b.uses += 1
    if not (reads & 1):
        av = value(ans)         # (nested: ans is a value of outer levels; their plain value)
        if type(av) is _ndarray and _asize(av) >= _UNREAD_MIN:
            _hold_unread(top, r)
    return r


cdef object _record_matmul(object x, object y):
    """x @ y for float64 matrices and vectors (not both vectors) of the one active
    reverse level, recorded as an OP_MATMUL node: its sweep computes g @ y.T and
    x.T @ g without the rule's makers or pullback closures (_matmul_cotangent), and
    accumulates them into the sweep's buffers in C for small sizes. None where the
    rule's general path applies (other dtypes, batches, nesting, forward mode)."""
    cdef Tape top = _top
    cdef Tracked a = None, b = None, r
    if top is None or top.forward or len(_stack) != 1:
        return None
    if type(x) is Tracked:
        if (<Tracked>x).tid != top.id or (<Tracked>x).kind != K_ARRAY:
            return None
        a = <Tracked>x
        x = _tv(a)
    if type(y) is Tracked:
        if (<Tracked>y).tid != top.id or (<Tracked>y).kind != K_ARRAY:
            return None
        b = <Tracked>y
        y = _tv(b)
    if (a is None and b is None) or not (_plain_f64(x) and _plain_f64(y)):
        return None
    cdef int nx = cnp.PyArray_NDIM(<cnp.ndarray>x), ny = cnp.PyArray_NDIM(<cnp.ndarray>y)
    if not (1 <= nx <= 2 and 1 <= ny <= 2) or (nx == 1 and ny == 1):
        return None
    if top.watching:
        if a is None:
            top.watched.append((_weakref(x), _np_matmul))
        if b is None:
            top.watched.append((_weakref(y), _np_matmul))
    if a is None:
        _lock(top, x)               # the constant the sweep reads (_tape.pxi)
    if b is None:
        _lock(top, y)
    if PyList_GET_SIZE(top.unread):
        _let_go_unreachable(top)
    ans = _np_matmul(x, y)          # numpy's value, as in plain code (shapes checked there)
    r = _new_node(top, ans, K_ARRAY, OP_MATMUL)
    r.a = a
    r.b = b
    r.ext = (x, y)
    if a is not None:
        a.uses += 1
    if b is not None:
        b.uses += 1
    return r


cdef object _record_sum(object fun, object x):
    """np.sum(x) or np.mean(x) (fun) of every element of a float64 array of the one
    active reverse level, recorded as an OP_SUM node: numpy's reduction without
    its Python wrappers, and a sweep that fills x's cotangent in C (_sum_sweep)
    instead of calling the rule's pullback. None where the rule's general path
    applies (other dtypes, an empty array, nesting, forward mode)."""
    cdef Tape top = _top
    cdef Tracked a
    if top is None or top.forward or len(_stack) != 1 or type(x) is not Tracked:
        return None
    a = <Tracked>x
    if a.tid != top.id or a.kind != K_ARRAY:
        return None
    v = _tv(a)
    if not (type(v) is _ndarray and cnp.PyArray_TYPE(<cnp.ndarray>v) == cnp.NPY_DOUBLE and _asize(v) > 0):
        return None
    if PyList_GET_SIZE(top.unread):
        _let_go_unreachable(top)
    # numpy's own steps: np.sum is add.reduce over every axis; np.mean divides that
    # float64 number by the count (_methods._mean), a division in doubles
    ans = _np_add_reduce(v, None)
    if fun is _np_mean:
        ans = _np_float64(PyFloat_AS_DOUBLE(ans) / <double>_asize(v))
    r = _new_node(top, ans, _kind_of(ans), OP_SUM)
    r.a = a
    r.ext = fun
    a.uses += 1
    return r


# Values no sweep reads. The sweep of an elementwise node reads its inputs' values
# (kept in its EwRec, when its partials read them) and its own value only if its
# partials read ans: of exp(y), y is not needed, nor x + y once made. The tape holds
# such a value on its node all the same, and on array code it is most of the memory
# (every intermediate of the forward pass at once). So an elementwise node whose own
# partials do not read its value is kept in ``unread``; once no one but the tape
# holds the node (its references are the tape's list, that list, and the
# elementwise nodes made from it, counted in ``uses``), no code can read its value
# again, and the value is replaced by a stand-in of the same shape and dtype (what
# the sweep still asks of it), all NaN, so that a read the reasoning above missed
# shows. Checked before each array operation is recorded, and when recording stops.

# 256 KiB of float64: below, the memory is not worth the check. On the debug build
# every array is watched, so that the engine and program tests run this path.
cdef Py_ssize_t _UNREAD_MIN = 1 if ZYGCY_DEBUG_BUILD else 1 << 15
cdef Py_ssize_t _UNREAD_MAX = 16           # the newest ones are watched: the check stays cheap


cdef inline void _hold_unread(Tape top, Tracked r):
    cdef char k = _dtype_kind(value(_tv(r)))
    if not (k == c'f' or k == c'c') or top.swept:
        return
    if PyList_GET_SIZE(top.unread) >= _UNREAD_MAX:
        del top.unread[0]           # it stays held until the sweep passes it, as every value used to
    top.unread.append(r)


cdef int _let_go_unreachable(Tape tape) except -1:
    """Replace the values of the nodes in ``tape.unread`` that no one but the tape
    can reach any more by stand-ins (see above); the others stay watched.

    Freeing a value can run user code (a weakref callback), which may record
    operations on this tape: the values are freed only at the end, when the
    watch list is consistent again, and a call from that code while the loop
    runs does nothing."""
    cdef list watched = tape.unread, kept = [], freed = []
    cdef Tracked c
    cdef Py_ssize_t k
    if tape.swept or tape.releasing:    # a last sweep has cut links: ``uses`` no longer counts them
        return 0
    tape.releasing = True
    tape.unread = kept                  # nodes recorded meanwhile are watched here too
    try:
        for k in range(PyList_GET_SIZE(watched)):
            c = <Tracked>PyList_GET_ITEM(watched, k)
            # held by: the tape's node list, ``watched``, this variable, its elementwise
            # children; and still the tape's node (an assignment into it that failed half
            # way moved the node to another object, and left this one off the list)
            if (Py_REFCNT(c) == 3 + c.uses and c.tid == tape.id and 0 <= c.pos < PyList_GET_SIZE(tape.nodes)
                    and <object>PyList_GET_ITEM(tape.nodes, c.pos) is c):
                freed.append(c._v)
                c._v = _stand_in_for(value(c._v))
            else:
                kept.append(c)
    finally:
        tape.releasing = False
    return 0            # the values in ``freed`` go here


cdef object _stand_in_for(object v):
    """An array of v's shape and dtype holding one element, NaN."""
    return np.broadcast_to(np.full((), np.nan, dtype=(<object>v).dtype), (<object>v).shape)


def shape_stand_in(x):
    """What a pullback that reads only the shape and dtype of x (deflinear's
    transpose) may keep instead of x: for a large float array, an array of its
    shape and dtype holding one element, NaN (so that a read shows); on a forward
    level, a value of that level with such an array and no tangent (so that
    np.zeros_like of it is a value of the level, as of x). x itself otherwise."""
    cdef Tape tp
    v = x
    if type(x) is Tracked:
        tp = _active(<Tracked>x)
        if tp is None or not tp.forward:
            return x
        v = _tv(<Tracked>x)
    if type(v) is not _ndarray or _asize(v) < _UNREAD_MIN:
        return x
    k = _dtype_kind(v)
    if not (k == c'f' or k == c'c'):
        return x
    if type(x) is Tracked:
        return _dual(tp, _stand_in_for(v), (<Tracked>x).kind, None)
    return _stand_in_for(v)


cdef object _record_read(Tracked x, object index):
    """The hot path of scalar loops over arrays: x[i] or x[i, j] (Python ints, one
    per axis) of a float or complex array on the one active reverse tape, recorded
    as one read node (OP_READ) whose sweep appends (index, g) to the sparse
    cotangent of x, without the indexing rule's maker or a pullback closure (on a
    forward level: the number with its tangent's element). None when anything
    else is asked (then the indexing rule records it)."""
    cdef Tape top = _top
    cdef object xv = _tv(x)
    cdef Py_ssize_t k
    if (top is None or x.tid != top.id or x.kind != K_ARRAY or len(_stack) != 1
            or type(xv) is not _ndarray):
        return None
    if PyLong_CheckExact(index):
        if (<object>xv).ndim != 1:
            return None
    elif type(index) is tuple:
        if len(<tuple>index) != (<object>xv).ndim:
            return None
        for k in range(len(<tuple>index)):
            if not PyLong_CheckExact((<tuple>index)[k]):
                return None
    else:
        return None
    if (<object>xv).dtype.kind not in "fc":
        return None
    if top.forward:
        return _dual_read(top, x, index)        # _forward.pxi
    r = _new_node(top, xv[index], K_SCALAR, OP_READ)    # numpy checks the bounds
    r.a = x
    r.ext = index
    return r


cdef inline object _call(object fun, list plain, dict kwargs):
    """fun(*plain, **kwargs) one level down. A primitive whose arguments hold no
    tracked value any more is called as its plain function (its own checks
    would find nothing to record); no keyword dict is made when there is none."""
    if type(fun) is Primitive and not _list_has_tracked(plain):
        fun = (<Primitive>fun).fun
    return fun(*plain, **kwargs) if kwargs else fun(*plain)


cdef bint _list_has_tracked(list args):
    for v in args:
        if type(v) is Tracked:
            return True
        if type(v) is list or type(v) is tuple:
            for e in v:
                if type(e) is Tracked:
                    return True
    return False


cdef Tape _resolve_levels(object fun, list plain, dict kwargs):
    """Drop finished levels from the arguments (in place, one level into lists)
    and return the innermost active tape among them (None: nothing to record).
    A keyword still tracked now could not be placed by position: refused."""
    cdef Tape top = None, t
    cdef Py_ssize_t i
    for i in range(len(plain)):
        v = plain[i]
        if type(v) is Tracked:
            v = plain[i] = _resolve(v)
            if type(v) is Tracked:
                t = _active(<Tracked>v)
                if top is None or t.id > top.id:
                    top = t
        elif type(v) is list or type(v) is tuple:
            items = [_resolve(e) for e in v]
            for e in items:
                if type(e) is Tracked:
                    t = _active(<Tracked>e)
                    if top is None or t.id > top.id:
                        top = t
            plain[i] = items if type(v) is list else tuple(items)
    for k, v in kwargs.items():
        v = _resolve(v)
        if type(v) is Tracked:
            raise TypeError(_messages.tracked_keyword(fun, k))
        kwargs[k] = v
    return top


cdef void _strip_level(Tape top, object fun, list plain, list parents, list argi, list elem) except *:
    """Replace the arguments recorded on ``top`` by their values (one level down),
    appending each to parents with its argument index and element index (-1:
    the whole argument). Plain arrays among the arguments are watched for
    changes until back runs (Tape.pop fingerprints them)."""
    cdef Py_ssize_t i, j
    for i in range(len(plain)):
        v = plain[i]
        if type(v) is Tracked:
            if (<Tracked>v).tid == top.id:
                parents.append(v)
                argi.append(i)
                elem.append(-1)
                plain[i] = _tv(<Tracked>v)
        elif type(v) is _ndarray and top.watching:
            top.watched.append((_weakref(v), fun))
        elif type(v) is list or type(v) is tuple:
            items = list(v)
            for j in range(len(items)):
                e = items[j]
                if type(e) is Tracked and (<Tracked>e).tid == top.id:
                    parents.append(e)
                    argi.append(i)
                    elem.append(j)
                    items[j] = _tv(<Tracked>e)
            plain[i] = items if type(v) is list else tuple(items)


cdef void _alias_outer_arrays(list plain) except *:
    """Arrays tracked by an outer differentiation stay in ``plain`` for the
    pullbacks. User code may later assign into such an array (x[i] = v changes
    which node the object is), so the pullbacks get an alias node no user holds."""
    cdef Py_ssize_t i
    for i in range(len(plain)):
        v = plain[i]
        if type(v) is Tracked and (<Tracked>v).kind == K_ARRAY:
            plain[i] = _alias(<Tracked>v)
        elif type(v) is list or type(v) is tuple:
            items = [_alias(<Tracked>e) if type(e) is Tracked and (<Tracked>e).kind == K_ARRAY else e
                     for e in v]
            plain[i] = items if type(v) is list else tuple(items)


cdef object _make_pullbacks(object fun, Rule rule, object ans, list plain, dict kwargs, list argi):
    """The joint pullback, or a tuple with the pullback of each argument that has
    a parent (None for the others), made by the rule's makers."""
    cdef Py_ssize_t i
    if rule.joint:
        return rule.joint_maker(ans, *plain, **kwargs)
    made = [None] * len(plain)
    for i in argi:
        if made[i] is None:
            maker = rule.maker(i)
            if maker is None:
                raise TypeError(_messages.no_derivative_for_argument(fun, i))
            made[i] = maker(ans, *plain, **kwargs) if kwargs else maker(ans, *plain)
    return tuple(made)


cdef dict _signatures = {}


cdef tuple _keywords_by_position(object fun, tuple args, dict kwargs):
    """Move keyword arguments to their positions by ``fun``'s signature (defaults
    filled in), so that a tracked keyword (np.average(a, weights=w)) is
    differentiated like a positional one. Unchanged when there is no signature."""
    import inspect
    sig = _signatures.get(fun, False)
    if sig is False:
        try:
            sig = inspect.signature(fun)
        except (TypeError, ValueError):
            sig = None
        _signatures[fun] = sig
    if sig is None:
        return args, kwargs
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return args, kwargs         # the call itself is wrong: let the function say so
    bound.apply_defaults()
    return tuple(bound.args), dict(bound.kwargs)


cdef object _record(Tape top, object ans, tuple parents, tuple argi, tuple elem, object pbs, bint joint,
                    Py_ssize_t nargs, object name, Py_ssize_t user=-1):
    cdef Tracked r, p
    cdef Rec rec = Rec.__new__(Rec), prec
    rec.parents = parents
    for p in parents:
        p.uses += 1         # one more holder _let_go_unreachable counts (a rule does not read its
                            # parents' nodes, only the values its pullbacks were given)
    rec.argi = argi
    rec.elem = elem
    rec.pbs = pbs
    rec.user = user
    rec.joint = joint
    rec.nargs = nargs
    rec.name = name
    if type(ans) is tuple or type(ans) is list or (isinstance(ans, tuple) and hasattr(ans, "_fields")):
        # Several outputs: one node for the whole, one projection node per element.
        r = _new_node(top, ans, K_MULTI, OP_RULE)
        r.ext = rec
        outs = []
        for k, e in enumerate(ans):
            p = _new_node(top, e, _kind_of(e), OP_PROJ)
            prec = Rec.__new__(Rec)
            prec.parents = (r,)
            prec.argi = (k,)
            prec.elem = (-1,)
            prec.user = -1
            prec.nargs = len(ans)
            p.ext = prec
            outs.append(p)
        if type(ans) is list:
            return outs
        if type(ans) is tuple:
            return tuple(outs)
        return type(ans)(*outs)
    r = _new_node(top, ans, _kind_of(ans), OP_RULE)
    r.ext = rec
    return r


cdef inline long _stack_bottom_id():
    return (<Tape>_stack[0]).id if _stack else 0


def _pass_through(g):
    return g


cdef object _alias(Tracked t):
    """A node equal to t, recorded on t's tape, that user code never holds."""
    cdef Tape tp = _active(t)
    if tp is None:
        return t
    if tp.forward:
        return _dual(tp, _tv(t), t.kind, _tangent(t))
    return _record(tp, _tv(t), (t,), (0,), (-1,), (_pass_through,), False, 1, "alias")


def record_joint(fun, ans, args, pullback):
    """Record a node for a user rule (``@grad``): ``args`` are the arguments as the
    caller passed them; ``pullback(g)`` returns one cotangent per argument.
    Returns ``ans`` tracked, or ``ans`` itself when no argument is tracked."""
    cdef Tape top = None, t
    cdef list parents = [], argi = []
    cdef Py_ssize_t i
    if not callable(pullback):
        raise TypeError(_messages.pullback_not_callable(pullback))
    for i, v in enumerate(args):
        v = _resolve(v)
        if type(v) is Tracked:
            t = _active(<Tracked>v)
            if top is None or t.id > top.id:
                top = t
    if top is None:
        return ans
    for i, v in enumerate(args):
        v = _resolve(v)
        if type(v) is Tracked and (<Tracked>v).tid == top.id:
            parents.append(v)
            argi.append(i)
    if top.forward:
        return _dual_user_rule(top, fun, ans, args, parents, argi, pullback)    # _forward.pxi
    # The pullback is owned by the tape, not by the node: it may hold anything (its
    # own output, the back that holds the tape), and only the tape is seen by the
    # cyclic collector.
    top.user_pbs.append(pullback)
    return _record(top, ans, tuple(parents), tuple(argi), (-1,) * len(argi), None, True, len(args), fun,
                   len(top.user_pbs) - 1)


def top_tape(args):
    """The innermost active tape among ``args`` (flat sequence), or None."""
    cdef Tape top = None, t
    for v in args:
        v = _resolve(v)
        if type(v) is Tracked:
            t = _active(<Tracked>v)
            if top is None or t.id > top.id:
                top = t
    return top


def strip(Tape tape, x):
    """x without ``tape``'s level (x itself if tape did not record it)."""
    x = _resolve(x)
    if type(x) is Tracked and (<Tracked>x).tid == tape.id:
        return _tv(<Tracked>x)
    return x


cdef str _fname(object fun):
    name = getattr(fun, "__name__", None) or repr(fun)
    return name
