# Tracked, the value the user sees, and the making of nodes.
# Part of the zygcy._core extension module (included by _core.pyx).

# Nodes are invisible to the cyclic garbage collector (no_gc): a tape only refers
# from newer nodes to older ones, to values and to the pullbacks of zygcy's own
# rules, which hold no node, so no reference cycle passes through a node and
# reference counting frees them all. Being no GC objects, nodes also do not
# count towards the collector's thresholds: making them as GC objects cost up to
# 2x on scalar chains. A user rule's pullback (@grad, hook), which may hold
# anything, its own output or the back that holds the tape included, is owned by
# its tape (Tape.user_pbs), a GC object, so a cycle through it is collected.
@cython.no_gc
@cython.final
@cython.freelist(4096)  # nodes are made and dropped by the thousand: reuse their memory
cdef class Tracked:
    """A value whose operations are recorded for differentiation.

    zygcy makes these for the inputs of ``forward``/``gradient``; user code never
    needs to build one. It behaves like the number or ndarray it holds:
    arithmetic, comparisons (plain bools), numpy functions and ufuncs,
    indexing, methods. Converting it to a plain number or array
    (``float(x)``, ``math.sin(x)``, ``np.asarray(x)``) raises an error instead of
    silently dropping the derivative; ``zygcy.value(x)`` takes the plain value
    on purpose.
    """

    __array_priority__ = 1000.0   # numpy defers binary operators to us

    @property
    def value(self):
        """The value one level down (a plain number or array, or a Tracked of an
        outer differentiation); ``zygcy.value(x)`` goes through every level."""
        return _tv(self)

    def __init__(self, *args, **kwargs):
        raise TypeError(_messages.made_by_hand())

    # -- display ------------------------------------------------------------
    def __repr__(self):
        return "Tracked(%r)" % (_tv(self),)

    def __str__(self):
        return str(_tv(self))

    def __format__(self, spec):
        return format(value(self), spec)

    # -- conversions that would lose the derivative --------------------------
    def __float__(self):
        raise TypeError(_messages.lost("float()", "float"))

    def __complex__(self):
        raise TypeError(_messages.lost("complex()", "complex"))

    def __array__(self, dtype=None, copy=None):
        raise TypeError(_messages.lost_as_array())

    # -- conversions whose derivative is zero almost everywhere: plain results
    def __int__(self):
        return int(value(self))

    def __index__(self):
        import operator
        return operator.index(value(self))

    def __bool__(self):
        return bool(value(self))

    def __round__(self, ndigits=None):
        return round(value(self)) if ndigits is None else round(value(self), ndigits)

    def __floor__(self):
        import math
        return math.floor(value(self))

    def __ceil__(self):
        import math
        return math.ceil(value(self))

    def __trunc__(self):
        import math
        return math.trunc(value(self))

    def __hash__(self):
        return hash(value(self))

    # -- copying: a copy is the same value, still tracked ---------------------
    def __copy__(self):
        # Numbers are immutable, so a copy may be the number itself (as for
        # float); an array copy is a new node, so that writing into the copy
        # leaves the original alone.
        if self.kind == K_ARRAY:
            return _dispatch_function(np.copy, (self,), {})
        return self

    def __deepcopy__(self, memo):
        return self.__copy__()

    def __reduce_ex__(self, protocol):
        raise TypeError(_messages.not_picklable())

    def __reduce__(self):
        return self.__reduce_ex__(2)

    # -- comparisons: plain results --------------------------------------------
    def __eq__(self, other):
        return value(self) == value(other)

    def __ne__(self, other):
        return value(self) != value(other)

    def __lt__(self, other):
        return value(self) < value(other)

    def __le__(self, other):
        return value(self) <= value(other)

    def __gt__(self, other):
        return value(self) > value(other)

    def __ge__(self, other):
        return value(self) >= value(other)

    # -- arithmetic ------------------------------------------------------------
    def __add__(self, other):
        return _binary(B_ADD, self, other)

    def __radd__(self, other):
        return _binary(B_ADD, other, self)

    def __sub__(self, other):
        return _binary(B_SUB, self, other)

    def __rsub__(self, other):
        return _binary(B_SUB, other, self)

    def __mul__(self, other):
        return _binary(B_MUL, self, other)

    def __rmul__(self, other):
        return _binary(B_MUL, other, self)

    def __truediv__(self, other):
        return _binary(B_DIV, self, other)

    def __rtruediv__(self, other):
        return _binary(B_DIV, other, self)

    def __pow__(self, other, mod=None):
        if mod is not None:
            return NotImplemented
        return _binary(B_POW, self, other)

    def __rpow__(self, other, mod=None):
        if mod is not None:
            return NotImplemented
        return _binary(B_POW, other, self)

    def __mod__(self, other):
        return _binary(B_MOD, self, other)

    def __rmod__(self, other):
        return _binary(B_MOD, other, self)

    def __floordiv__(self, other):
        return _floordiv(self, other)

    def __rfloordiv__(self, other):
        return _floordiv(other, self)

    def __divmod__(self, other):
        return (_floordiv(self, other), _binary(B_MOD, self, other))

    def __rdivmod__(self, other):
        return (_floordiv(other, self), _binary(B_MOD, other, self))

    # In-place operators: a tracked array is updated in place like an ndarray (other
    # names for the same object see the change), recorded as x[...] = x op y.
    # Numbers are immutable, so for them Python falls back to x = x op y.
    def __iadd__(self, other):
        return _inplace(self, B_ADD, other)

    def __isub__(self, other):
        return _inplace(self, B_SUB, other)

    def __imul__(self, other):
        return _inplace(self, B_MUL, other)

    def __itruediv__(self, other):
        return _inplace(self, B_DIV, other)

    def __ipow__(self, other):
        return _inplace(self, B_POW, other)

    def __matmul__(self, other):
        return _array_op(_np_matmul, self, other)

    def __rmatmul__(self, other):
        return _array_op(_np_matmul, other, self)

    def __neg__(self):
        return _negate(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _absolute(self)

    # -- numpy protocols -------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _dispatch_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        for t in types:
            if t is not Tracked and hasattr(t, "__zygcy_substitute__"):
                return NotImplemented       # a stand-in (Param) runs first: see _dispatch.pxi
        return _dispatch_function(func, args, kwargs)

    # -- attributes and methods that rule code supplies ---------------------
    @property
    def real(self):
        return _rules_for().real(self)

    @property
    def imag(self):
        return _rules_for().imag(self)

    def conjugate(self):
        return _rules_for().conj(self)

    conj = conjugate

    def __getitem__(self, index):
        r = _record_read(self, index)           # _record.pxi: x[i] in a loop
        if r is not None:
            return r
        return _rules_for().getitem(self, index)

    def __setitem__(self, index, v):
        _assign(self, index, v)         # _inplace.pxi

    def __len__(self):
        return len(value(self))

    def __iter__(self):
        n = len(value(self))
        return (self[i] for i in range(n))

    def __reversed__(self):
        n = len(value(self))
        return (self[i] for i in range(n - 1, -1, -1))

    def __getattr__(self, name):
        # ndarray attributes and methods (shape, dtype, T, sum, reshape, ...) are
        # supplied by zygcy.rules.methods, which knows what each one means.
        if name.startswith("__"):
            raise AttributeError(name)
        method = _rules_for().method(self, name)
        if method is None:
            raise AttributeError(_messages.no_attribute(value(self), name))
        return method


# Tracked has __getitem__ for arrays, so Cython fills the sequence slot too, and
# numpy then takes every tracked value for a sequence: y[0] = x (y plain) gave
# "setting an array element with a sequence". Without the slot numpy asks
# __float__ and __array__, whose errors say what happened. Indexing, iteration
# and reversed() use their own slots (__getitem__, __iter__, __reversed__).
(<_TypeSlots*>Tracked).tp_as_sequence.sq_item = NULL
PyType_Modified(<_TypeSlots*>Tracked)


# A value of the innermost forward level being freed hands the memory of its large
# arrays to that level (_recycle, _forward.pxi). This is a C hook in front of the
# type's deallocator, installed only while a forward level holds arrays
# (_recycling), not a __dealloc__ method: that would make every node's
# deallocation save and restore the error state, and any hook costs scalar forward
# mode 3-4% of its instructions.
cdef _destructor _tracked_dealloc_base = (<_TypeSlots*>Tracked).tp_dealloc
cdef int _recycling_levels = 0      # forward levels that have made array values and are active


cdef void _tracked_dealloc(PyObject* o) noexcept:
    # o's count is 0: its fields are read through casts, which take no reference
    # (a reference taken and dropped would free it a second time).
    if ((<Tracked>o).op == OP_DUAL and (<Tracked>o).kind == K_ARRAY and _top is not None
            and _top.id == (<Tracked>o).tid):
        _recycle(_top, <PyObject*>(<Tracked>o)._v, NULL if (<Tracked>o).fast else <PyObject*>(<Tracked>o).ext)
    _tracked_dealloc_base(o)


cdef void _recycling(Tape tape, bint on) noexcept:
    """The forward level tape made its first array value (on), or is popped (off)."""
    global _recycling_levels
    if on == tape.recycling:
        return
    tape.recycling = on
    _recycling_levels += 1 if on else -1
    (<_TypeSlots*>Tracked).tp_dealloc = _tracked_dealloc if _recycling_levels else _tracked_dealloc_base


# ---------------------------------------------------------------------------
# What Tracked hands to rule code

@cython.final
cdef class Delegates:
    """The rule code behind Tracked's methods, installed once by zygcy.rules
    (zygcy/rules/__init__.py, which names the function behind each):

    getitem(x, index)         x[index], recorded (indexing)
    assignment(x, index, v)   the checked (index, v) of x[index] = v (indexing)
    setitem                   the primitive whose value is x after x[index] = v (indexing)
    ufunc_at(ufunc, inputs, kwargs)  np.add.at(x, index, v) as an assignment (indexing)
    densify(g)                an IndexGrad as a dense array (indexing)
    method(x, name)           x.name for ndarray attributes and methods, None if none (methods)
    real(z), imag(z), conj(z), cabs(z), log(x)   complex parts, |z|, log (scalar)
    unbroadcast(x, g)         g summed down to x's shape (the sweep of elementwise nodes)
    """
    cdef readonly object getitem, assignment, setitem, ufunc_at, densify, method
    cdef readonly object real, imag, conj, cabs, log, unbroadcast

    def __init__(self, *, getitem, assignment, setitem, ufunc_at, densify, method,
                 real, imag, conj, cabs, log, unbroadcast):
        for name, f in (("getitem", getitem), ("assignment", assignment), ("setitem", setitem),
                        ("ufunc_at", ufunc_at), ("densify", densify), ("method", method),
                        ("real", real), ("imag", imag), ("conj", conj), ("cabs", cabs), ("log", log),
                        ("unbroadcast", unbroadcast)):
            if not callable(f):
                raise TypeError("Delegates: %s must be a function, got %r" % (name, f))
        self.getitem, self.assignment, self.setitem = getitem, assignment, setitem
        self.ufunc_at, self.densify, self.method = ufunc_at, densify, method
        self.real, self.imag, self.conj, self.cabs, self.log = real, imag, conj, cabs, log
        self.unbroadcast = unbroadcast


cdef Delegates _delegates = None


def install(Delegates d):
    """Install the rule code behind Tracked's methods (once, by zygcy.rules)."""
    global _delegates
    if _delegates is not None:
        raise RuntimeError("zygcy's Delegates are installed once, by zygcy.rules")
    _delegates = d


cdef inline Delegates _rules_for():
    if _delegates is None:
        raise RuntimeError(_messages.rules_not_loaded())
    return _delegates


# ---------------------------------------------------------------------------
# Making nodes

@cython.no_gc           # as Tracked; a user rule's pullback is held by its tape instead (Tape.user_pbs)
cdef class Rec:
    """The pullbacks of a rule node and where their cotangents go (fields in _core.pxd)."""

cdef inline object _tv(Tracked t):
    """t's value one level down, as an object. A float of a forward level holds
    its value as the C double db (_v None) until it is asked for here."""
    if t._v is None and t.op == OP_DUAL and t.kind == K_FLOAT:
        t._v = PyFloat_FromDouble(t.db)
    return t._v


cdef inline double _fv(Tracked t) noexcept:
    """The value of a K_FLOAT node t as a C double."""
    return t.db if t._v is None else PyFloat_AS_DOUBLE(t._v)


cdef inline Tracked _new_node(Tape tape, object val, char kind, char op):
    cdef Tracked r = Tracked.__new__(Tracked)
    r._v = val
    r.tid = tape.id
    r.kind = kind
    r.op = op
    r.pos = PyList_GET_SIZE(tape.nodes)
    tape.nodes.append(r)
    return r


cdef inline Tracked _lin_fast(Tape tape, double val, Tracked a, double da, Tracked b, double db):
    if tape.forward:
        return _dual_lin_fast(tape, val, a, da, b, db)      # _forward.pxi
    cdef Tracked r = _new_node(tape, PyFloat_FromDouble(val), K_FLOAT, OP_LIN)
    r.fast = True
    r.a = a
    r.da = da
    r.b = b
    r.db = db
    return r


cdef inline Tracked _lin_obj(Tape tape, object val, Tracked a, object pa, Tracked b, object pb):
    if tape.forward:
        return _dual_lin_obj(tape, val, a, pa, b, pb)       # _forward.pxi
    cdef Tracked r = _new_node(tape, val, _kind_of(val), OP_LIN)
    r.fast = False
    r.a = a
    r.b = b
    r.ext = (_conj_partial(pa) if a is not None else None,
             _conj_partial(pb) if b is not None else None)
    return r


cdef inline bint _is_complex(object v):
    v = value(v)
    return isinstance(v, complex) or (isinstance(v, (_ndarray, _generic)) and v.dtype.kind == "c")


cdef inline object _conj_partial(object p):
    # For a holomorphic f the cotangent rule is x̄ = ȳ · conj(f'(x)) (Zygote's convention).
    if PyFloat_CheckExact(p) or PyLong_CheckExact(p):
        return p
    if type(p) is _ndarray:
        return p.conjugate() if _dtype_kind(p) == c'c' else p
    if _is_complex(p):
        return p.conjugate()
    return p


cdef inline bint _is_plain_number(object v):
    return PyFloat_CheckExact(v) or PyLong_CheckExact(v) or isinstance(v, (_Number, _generic))
