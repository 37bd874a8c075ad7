"""The zygcy engine: tracked values, the tape, operator dispatch, the reverse sweep.

Everything here is mechanism. What the derivative of a function *is* lives in
``zygcy.rules``; the rule modules register themselves through ``defvjp``,
``defjoint``, ``nondifferentiable`` and ``set_hook`` and never reach further in.

How a differentiation runs
--------------------------
``Tape.push`` makes a tape active. Inputs become leaf ``Tracked`` nodes. Every
operation on a ``Tracked`` computes its value from the plain values and records
one node on the tape, holding what the backward pass needs:

* a *linear* node (``OP_LIN``) for scalar arithmetic and scalar functions:
  up to two parents and the local partial derivative for each.  When every
  value is a Python float the partials are C doubles and the reverse sweep is
  a multiply-add in C; otherwise they are Python objects (ints stay ints,
  complex numbers, values tracked by an outer differentiation).
* a *rule* node (``OP_RULE``) for everything else: the pullbacks that a rule's
  makers built from the primal inputs and output.

Nodes are appended in creation order, which is a topological order, so the
reverse sweep is one loop backwards over a list: no recursion, no sorting.

Nesting
-------
Each tape has an id that grows with every new tape, and a stack holds the
active ones. When tracked values of two tapes meet, the newer (inner) one
records the operation and the older value is a constant to it; the value
computation itself runs on the inner node's value, which may be tracked by
the outer tape, so the outer tape records its part too. Pullbacks are
written with ordinary operations, so while an outer tape is active the
backward pass of an inner one is itself recorded on the outer tape.
Nodes hold the id of their tape, not the tape, so no reference cycles form
and a finished differentiation is freed as soon as its ``back`` is dropped.
"""
cimport cython
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_FromDouble
from cpython.long cimport PyLong_AsDouble
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject
from libc.stdlib cimport calloc, free
from libc.math cimport (M_PI, NAN, acos, asin, atan, cos, cosh, erf, erfc, exp, expm1, fabs, isfinite,
                        log as c_log, log1p, log2, log10, pow as c_pow, sin, sinh, sqrt, tan, tanh)

import gc as _gc
import numbers as _numbers
import weakref as _weakref_module
import numpy as np

cdef extern from *:
    int ZYGCY_DEBUG_BUILD       # set by setup.py: 1 when built with ZYGCY_DEBUG=1

DEBUG = bool(ZYGCY_DEBUG_BUILD)  # the engine was built with bounds checks on

cdef extern from "Python.h":
    ctypedef struct _SequenceSlots "PySequenceMethods":
        void* sq_item
    ctypedef struct _TypeSlots "PyTypeObject":
        _SequenceSlots* tp_as_sequence
    void PyType_Modified(_TypeSlots*)
    bint PyFloat_CheckExact(object)
    bint PyLong_CheckExact(object)
    void PyObject_GC_UnTrack(void*)
    void PyObject_GC_Track(void*)
    bint PyObject_GC_IsTracked(object)

# ---------------------------------------------------------------------------
# Constants and module state

cdef enum:
    K_FLOAT = 0     # value is an exact Python float: the all-C fast path
    K_SCALAR = 1    # any other number (int, complex, numpy scalar) or an outer Tracked number
    K_ARRAY = 2     # ndarray, or an outer Tracked ndarray
    K_MULTI = 3     # the tuple of outputs of a multi-output rule

cdef enum:
    OP_LEAF = 0
    OP_LIN = 1
    OP_RULE = 2
    OP_PROJ = 3     # element k of a multi-output node

cdef enum:
    G_DOUBLE = 1
    G_OBJECT = 2

cdef enum:
    B_ADD = 0
    B_SUB = 1
    B_MUL = 2
    B_DIV = 3
    B_POW = 4
    B_MOD = 5

cdef list _stack = []           # active tapes, innermost last
cdef Tape _top = None           # _stack[-1], cached for the hot path
cdef long _next_id = 1
cdef bint _gc_paused = False    # the cyclic collector was paused by the outermost push

cdef object _ndarray = np.ndarray
cdef object _generic = np.generic
cdef object _Number = _numbers.Number
cdef object _add_at = np.add.at
cdef tuple _ARITH_UFUNCS = (np.add, np.subtract, np.multiply, np.true_divide, np.power, np.remainder)
cdef object _np_matmul = np.matmul
cdef object _weakref = _weakref_module.ref

# Registered by zygcy.rules: function -> Rule, the constant functions, and hooks
# through which Tracked's methods reach rule code (getitem, setitem, real, ...).
cdef dict _rules = {}
cdef set _constant = set()
cdef dict _hooks = {}
cdef dict _refused = {}         # function -> why it cannot take tracked values (in-place writers)
cdef object _defer = None       # an ndarray subclass whose own override runs first (zygcy's Param)


# ---------------------------------------------------------------------------
# Tapes

cdef class Tape:
    """One differentiation: the list of nodes recorded while it is active."""

    def __cinit__(self):
        global _next_id
        self.id = _next_id
        _next_id += 1
        self.nodes = []
        self.active = False
        self.moved = {}
        self.watched = []
        self.prints = []

    def __dealloc__(self):
        # Each node holds its parents, so a long chain would be freed by a deep
        # recursion of deallocations (and overflow the C stack). Cut the links
        # first: then every node is freed on its own when the list goes.
        cdef Tracked n
        if self.nodes is not None:
            for n in self.nodes:
                n.a = None
                n.b = None
                n.ext = None

    def push(self):
        """Make this tape the innermost active one."""
        global _top, _gc_paused
        if self.active:
            raise RuntimeError("this tape is already active")
        if not _stack and _gc.isenabled():
            # A tape is many small objects that form no cycles; letting the cyclic
            # collector scan them again and again made long array loops 3x slower.
            # Reference counting still frees everything; the collector resumes at pop.
            _gc.disable()
            _gc_paused = True
        self.active = True
        _stack.append(self)
        _top = self

    def pop(self):
        """Stop recording on this tape (it may be any active one, when unwinding).

        The plain arrays the recorded pullbacks may read (inputs, and constants
        such as a closure's array in ``x * c``) are fingerprinted now;
        ``backward`` refuses to run if one was changed in place since."""
        global _top, _gc_paused
        if not self.active:
            return
        self.active = False
        _stack.remove(self)
        _top = _stack[len(_stack) - 1] if _stack else None
        if not _stack and _gc_paused:
            _gc_paused = False
            _gc.enable()
        self.prints = _fingerprints(self.watched)
        self.watched = []

    def leaf(self, value):
        """A new input node holding ``value``."""
        if type(value) is _ndarray:
            self.watched.append((_weakref(value), None))
        return _new_node(self, value, _kind_of(value), OP_LEAF)

    def unwrap(self, x):
        """Strip this tape's level from ``x``: the value as outer levels see it."""
        if type(x) is Tracked and (<Tracked>x).tid == self.id:
            return (<Tracked>x).value
        return x

    def owns(self, x):
        """True if ``x`` is a node recorded on this tape."""
        return type(x) is Tracked and (<Tracked>x).tid == self.id

    def __len__(self):
        return len(self.nodes)

    def backward(self, list seeds, list leaves):
        """Reverse sweep: the gradients arriving at ``leaves`` given ``seeds``.

        seeds: list of (node, cotangent) pairs, nodes of this tape.
        leaves: nodes whose gradients are wanted; returns a list, None where
        no gradient reached.
        """
        for pair in seeds:
            if not (type(pair) is tuple and len(<tuple>pair) == 2 and self._holds((<tuple>pair)[0])):
                raise TypeError("Tape.backward: each seed must be a pair (node, cotangent) with "
                                "a node recorded on this tape, got %r" % (pair,))
        for leaf in leaves:
            if not self._holds(self.moved.get(id(leaf), leaf)):
                raise TypeError("Tape.backward: %r is not a node recorded on this tape" % (leaf,))
        _check_fingerprints(self.prints)
        return _sweep(self, seeds, leaves)

    cdef bint _holds(self, object x):
        cdef Tracked t
        if type(x) is not Tracked:
            return False
        t = <Tracked>x
        return (t.tid == self.id and 0 <= t.pos < PyList_GET_SIZE(self.nodes)
                and <object>PyList_GET_ITEM(self.nodes, t.pos) is t)

    def __reduce__(self):
        raise TypeError("a Tape cannot be pickled or copied: it holds a differentiation in progress")


# ---------------------------------------------------------------------------
# Plain arrays changed in place between forward and back

# A pullback reads the arrays it was given when the operation was recorded: the
# inputs, and constants such as the c of x * c. If user code changes one in
# place before back runs, back would silently mix old and new values. Each such
# array gets a fingerprint when recording stops (small ones: their bytes;
# large ones: the wrapping sum of their 64-bit words, one pass at memory speed,
# which any change of a single element alters), compared when back runs.

cdef Py_ssize_t _SMALL_BYTES = 512


cdef object _fingerprint(object a):
    cdef object words
    if a.nbytes <= _SMALL_BYTES or a.dtype.hasobject:
        return a.tobytes() if not a.dtype.hasobject else None
    words = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    if words.size % 8 == 0:
        return np.add.reduce(words.view(np.uint64))
    return np.add.reduce(words, dtype=np.uint64)


cdef list _fingerprints(list watched):
    cdef dict seen = {}
    cdef list out = []
    for ref, user in watched:
        a = ref()
        if a is None or id(a) in seen:
            continue        # gone: then no pullback holds it either
        seen[id(a)] = True
        fp = _fingerprint(a)
        if fp is not None:
            out.append((ref, user, a.shape, fp))
    return out


cdef int _check_fingerprints(list prints) except -1:
    for ref, user, shape, fp in prints:
        a = ref()
        if a is None:
            continue
        if a.shape != shape or _fingerprint(a) != fp:
            what = ("an input array of shape %s" % (shape,) if user is None else
                    "an array of shape %s used by %s" % (shape, _qualified(user)))
            raise RuntimeError(
                "%s was changed in place after the forward pass that read it, so back would "
                "mix its old and new values. Copy it before changing it (x = x.copy()), or run "
                "forward again after the change." % what)
    return 0


cdef inline Tape _active(Tracked t):
    """The active tape that recorded t, or None if it has finished."""
    if _top is not None and t.tid == _top.id:
        return _top
    cdef Tape tp
    for tp in _stack:
        if tp.id == t.tid:
            return tp
    return None


cdef inline object _resolve(object x):
    """Drop the levels of x whose tape has finished: they are constants now."""
    while type(x) is Tracked and _active(<Tracked>x) is None:
        x = (<Tracked>x).value
    return x


cpdef object value(object x):
    """The plain value of x, through every level of tracking."""
    while type(x) is Tracked:
        x = (<Tracked>x).value
    return x


cdef inline char _kind_of(object v):
    if PyFloat_CheckExact(v):
        return K_FLOAT
    if type(v) is Tracked:
        return K_ARRAY if (<Tracked>v).kind == K_ARRAY else K_SCALAR
    if isinstance(v, _ndarray):
        return K_ARRAY
    return K_SCALAR


# Nodes are taken off the cyclic garbage collector's lists as they are made
# (_untracked): a tape only refers from newer nodes to older ones, to values and
# to the pullbacks of zygcy's own rules, which hold no node of their own, so no
# reference cycle passes through them and reference counting frees them all.
# Scanning tens of thousands of nodes after every differentiation cost about 15%
# of the time of small-array code. The nodes of user rules (@grad, hook), whose
# pullbacks may hold anything, stay visible (_gc_visible), so that a cycle
# through one of them is collected.
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

    def __init__(self, *args, **kwargs):
        raise TypeError("Tracked values are made by zygcy.forward/gradient, not by hand")

    # -- display ------------------------------------------------------------
    def __repr__(self):
        return "Tracked(%r)" % (self.value,)

    def __str__(self):
        return str(self.value)

    def __format__(self, spec):
        return format(value(self), spec)

    # -- conversions that would lose the derivative --------------------------
    def __float__(self):
        raise TypeError(_LOST % ("float()", "float"))

    def __complex__(self):
        raise TypeError(_LOST % ("complex()", "complex"))

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "np.asarray/np.array of a tracked value would drop its derivative (so would "
            "writing it into a plain array: y[i] = x with y a plain ndarray). Keep it as it "
            "is (numpy functions accept tracked values), build arrays from tracked "
            "numbers with np.stack([...]), write into a tracked array instead "
            "(y = x.copy(); y[i] = v), or take the plain value on purpose with "
            "zygcy.value(x).")

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
        raise TypeError(
            "a tracked value cannot be pickled: the unpickled copy would not be connected "
            "to the differentiation, and its derivative would be lost. Pickle the plain "
            "value, zygcy.value(x), outside the function being differentiated (or use "
            "copy.copy(x) to copy it inside)")

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
        if _defer is not None and _defer in types:
            return NotImplemented
        return _dispatch_function(func, args, kwargs)

    # -- attributes and methods that rule code supplies ---------------------
    @property
    def real(self):
        return _hooks["real"](self)

    @property
    def imag(self):
        return _hooks["imag"](self)

    def conjugate(self):
        return _hooks["conj"](self)

    conj = conjugate

    def __getitem__(self, index):
        return _hooks["getitem"](self, index)

    def __setitem__(self, index, v):
        _hooks["setitem"](self, index, v)

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
        if name.startswith("__") or "method" not in _hooks:
            raise AttributeError(name)
        method = _hooks["method"](self, name)
        if method is None:
            raise AttributeError("%r object has no attribute %r"
                                 % (type(value(self)).__name__, name))
        return method


cdef str _LOST = (
    "%s of a tracked value would drop its derivative. "
    "If it came from a function of Python's math module (math.sin(x) calls %s(x)), "
    "use the same function from zygcy.math (or zygcy.cmath). If it came from writing "
    "the value into a plain numpy array (y[i] = x), build the array from tracked values "
    "instead (np.stack([a, b]), np.concatenate, np.where), or write into an array "
    "that is tracked itself (y = x.copy(); y[i] = v). To take the plain value on "
    "purpose, use zygcy.value(x).")

# Tracked has __getitem__ for arrays, so Cython fills the sequence slot too, and
# numpy then takes every tracked value for a sequence: y[0] = x (y plain) gave
# "setting an array element with a sequence". Without the slot numpy asks
# __float__ and __array__, whose errors say what happened. Indexing, iteration
# and reversed() use their own slots (__getitem__, __iter__, __reversed__).
(<_TypeSlots*>Tracked).tp_as_sequence.sq_item = NULL
PyType_Modified(<_TypeSlots*>Tracked)


# ---------------------------------------------------------------------------
# Making nodes

cdef class Rec:         # made by _new_rec: off the collector's lists, as Tracked
    """The pullbacks of a rule node and where their cotangents go (fields in _core.pxd)."""

cdef inline Tracked _untracked():
    cdef Tracked r = Tracked.__new__(Tracked)
    PyObject_GC_UnTrack(<void*>r)
    return r


cdef inline Rec _new_rec():
    cdef Rec r = Rec.__new__(Rec)
    PyObject_GC_UnTrack(<void*>r)
    return r


cdef object _gc_visible(object r):
    """Put a node (or the nodes of a multi-output result) and its Rec back on the
    collector's lists."""
    cdef Tracked t
    if type(r) is Tracked:
        t = <Tracked>r
        if not PyObject_GC_IsTracked(t):
            PyObject_GC_Track(<void*>t)
        if type(t.ext) is Rec:
            if not PyObject_GC_IsTracked(t.ext):
                PyObject_GC_Track(<void*>t.ext)
            for p in (<Rec>t.ext).parents:
                if type(p) is Tracked and (<Tracked>p).op == OP_RULE and (<Tracked>p).kind == K_MULTI:
                    _gc_visible(p)
    elif type(r) is tuple or type(r) is list:
        for e in r:
            _gc_visible(e)
    return r


cdef inline Tracked _new_node(Tape tape, object val, char kind, char op):
    cdef Tracked r = _untracked()
    r.value = val
    r.tid = tape.id
    r.kind = kind
    r.op = op
    r.pos = PyList_GET_SIZE(tape.nodes)
    tape.nodes.append(r)
    return r


cdef inline Tracked _lin_fast(Tape tape, double val, Tracked a, double da, Tracked b, double db):
    cdef Tracked r = _new_node(tape, PyFloat_FromDouble(val), K_FLOAT, OP_LIN)
    r.fast = True
    r.a = a
    r.da = da
    r.b = b
    r.db = db
    return r


cdef inline Tracked _lin_obj(Tape tape, object val, Tracked a, object pa, Tracked b, object pb):
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
    if _is_complex(p):
        return p.conjugate()
    return p


cdef inline bint _is_plain_number(object v):
    return PyFloat_CheckExact(v) or PyLong_CheckExact(v) or isinstance(v, (_Number, _generic))


# ---------------------------------------------------------------------------
# Scalar operators

cdef object _binary(int op, object x, object y):
    """x op y where x or y is Tracked: record one linear node (or defer to numpy)."""
    # The hot path, tried first and kept straight: + - * / of floats on the
    # innermost tape, the other operand on the same tape or a float/int constant.
    cdef Tape top = _top
    cdef double xd = 0.0, yd = 0.0
    cdef int kx = 0, ky = 0
    if top is not None and op <= B_DIV:
        kx = _float_operand(x, top, &xd)
        if kx:
            ky = _float_operand(y, top, &yd)
    if kx and ky:
        return _arith(op, top, <Tracked>x if kx == 2 else None, xd, <Tracked>y if ky == 2 else None, yd)
    return _binary_slow(op, x, y)


cdef inline int _float_operand(object v, Tape top, double* d) except -1:
    """2: v is a float node of ``top``; 1: a float or int constant; 0: neither.
    Sets *d to its value."""
    if type(v) is Tracked:
        if (<Tracked>v).tid == top.id and (<Tracked>v).kind == K_FLOAT:
            d[0] = PyFloat_AS_DOUBLE((<Tracked>v).value)
            return 2
        return 0
    if PyFloat_CheckExact(v):
        d[0] = PyFloat_AS_DOUBLE(v)
        return 1
    if PyLong_CheckExact(v):
        d[0] = PyLong_AsDouble(v)       # OverflowError for huge ints, as float arithmetic
        return 1
    return 0


cdef inline object _arith(int op, Tape top, Tracked a, double xd, Tracked b, double yd):
    """Record x op y for + - * / on C doubles, with the partials of each operand."""
    cdef double r
    if op == B_ADD:
        return _lin_fast(top, xd + yd, a, 1.0, b, 1.0)
    if op == B_SUB:
        return _lin_fast(top, xd - yd, a, 1.0, b, -1.0)
    if op == B_MUL:
        return _lin_fast(top, xd * yd, a, yd, b, xd)
    if yd == 0.0:
        raise ZeroDivisionError("float division by zero")
    r = xd / yd
    return _lin_fast(top, r, a, 1.0 / yd, b, -r / yd)


cdef object _binary_slow(int op, object x, object y):
    """Everything _binary's hot path does not take: other tapes, kinds, operators."""
    cdef Tape tx = None, ty = None, top
    cdef Tracked a = None, b = None
    x = _resolve(x)
    y = _resolve(y)
    if type(x) is Tracked:
        tx = _active(<Tracked>x)
    if type(y) is Tracked:
        ty = _active(<Tracked>y)
    if tx is None and ty is None:
        return _PLAIN_BINARY[op](x, y)
    if ty is None or (tx is not None and tx.id > ty.id):
        top = tx
        a = <Tracked>x
    elif tx is None or ty.id > tx.id:
        top = ty
        b = <Tracked>y
    else:
        top = tx
        a = <Tracked>x
        b = <Tracked>y

    # Arrays go through numpy's ufuncs, whose rules know about broadcasting.
    if ((a is not None and a.kind == K_ARRAY) or (b is not None and b.kind == K_ARRAY)
            or (a is None and _kind_of(x) == K_ARRAY) or (b is None and _kind_of(y) == K_ARRAY)):
        return _array_op(_ARITH_UFUNCS[op], x, y)
    if a is None and not (type(x) is Tracked or _is_plain_number(x)):
        return NotImplemented
    if b is None and not (type(y) is Tracked or _is_plain_number(y)):
        return NotImplemented

    cdef object xv = a.value if a is not None else x
    cdef object yv = b.value if b is not None else y
    cdef double xd, yd, r
    if (op <= B_DIV
            and (PyFloat_CheckExact(xv) or (a is None and PyLong_CheckExact(xv)))
            and (PyFloat_CheckExact(yv) or (b is None and PyLong_CheckExact(yv)))):
        # Fast path: every value is a float (constants may be ints, converted
        # exactly as Python's float arithmetic converts them).
        xd = PyFloat_AS_DOUBLE(xv) if PyFloat_CheckExact(xv) else PyLong_AsDouble(xv)
        yd = PyFloat_AS_DOUBLE(yv) if PyFloat_CheckExact(yv) else PyLong_AsDouble(yv)
        return _arith(op, top, a, xd, b, yd)
    if op == B_POW and PyFloat_CheckExact(xv) and (PyFloat_CheckExact(yv) or PyLong_CheckExact(yv)):
        val = xv ** yv          # Python decides the value (and any complex result)
        if PyFloat_CheckExact(val):
            xd = PyFloat_AS_DOUBLE(xv)
            yd = PyFloat_AS_DOUBLE(yv) if PyFloat_CheckExact(yv) else PyLong_AsDouble(yv)
            r = PyFloat_AS_DOUBLE(val)
            return _lin_fast(top, r, a, (yd * c_pow(xd, yd - 1.0)) if yd != 0.0 else 0.0,
                             b, _dpow_exponent(xd, r) if b is not None else 0.0)
    return _binary_generic(op, top, a, b, xv, yv)


cdef object _dpow_base(object xv, object yv):
    """d(x**y)/dx = y * x**(y - 1), as a value that outer levels may differentiate
    again (so in y too)."""
    x0 = value(xv)
    y0 = value(yv)
    if y0 == 0:
        # zero, but written as y / x so that its derivative in y (1/x) survives;
        # at x == 0 the slope in y is taken as 0 (x**-1 would raise)
        return yv * (xv ** -1 if x0 != 0 else 0)
    if x0 == 0 and not _is_complex(y0) and y0 < 1:
        return yv * float("inf")        # 0 < y < 1: an infinite slope at 0, as sqrt's
    return yv * xv ** (yv - 1)


cdef inline double _dpow_exponent(double xd, double r):
    # d(x**y)/dy = x**y * log(x); 0 at x == 0 (the limit from y > 0), undefined for x < 0.
    if xd > 0.0:
        return r * c_log(xd)
    if xd == 0.0:
        return 0.0
    return NAN


cdef object _binary_generic(int op, Tape top, Tracked a, Tracked b, object xv, object yv):
    """Any numbers, with partials as Python objects (so ints stay ints)."""
    cdef object val, pa = None, pb = None
    if op == B_ADD:
        val = xv + yv
        pa = 1
        pb = 1
    elif op == B_SUB:
        val = xv - yv
        pa = 1
        pb = -1
    elif op == B_MUL:
        val = xv * yv
        pa = yv
        pb = xv
    elif op == B_DIV:
        val = xv / yv
        if a is not None:
            pa = 1 / yv
        if b is not None:
            pb = -val / yv
    elif op == B_POW:
        val = xv ** yv
        if a is not None:
            # y * x**(y-1), written so that it still depends on y at y == 0 (its
            # derivative in y is x**-1 there) and gives no 0 * inf at x == 0
            pa = _dpow_base(xv, yv)
        if b is not None:
            if value(xv) == 0:
                pb = 0
            elif _is_complex(xv) or _is_complex(val) or value(xv) > 0:
                pb = val * _hooks["log"](xv if (_is_complex(xv) or value(xv) > 0) else xv + 0j)
            else:
                pb = float("nan")
    else:  # B_MOD: x % y == x - y * floor(x / y)
        val = xv % yv
        pa = 1
        pb = -(value(xv) // value(yv))
    return _lin_obj(top, val, a, pa, b, pb)


cdef object _inplace(Tracked self, int op, object other):
    if self.kind != K_ARRAY:
        return NotImplemented
    self[...] = _binary(op, self, other)
    return self


cdef object _array_op(object ufunc, object x, object y):
    """ufunc(x, y) for an operator on a tracked array. When both operands are
    ours (tracked, ndarray or a number) numpy's override protocol would only
    call us back: go straight to the dispatch, which saves a few microseconds
    per operation. Anything else (another library's array, a Param) goes
    through numpy, which asks every override in turn."""
    if _plain_operand(x) and _plain_operand(y):
        return _dispatch_ufunc(ufunc, "__call__", (x, y), {})
    return ufunc(x, y)


cdef inline bint _plain_operand(object v):
    return (type(v) is Tracked or type(v) is _ndarray or PyFloat_CheckExact(v) or PyLong_CheckExact(v)
            or type(v) is complex or isinstance(v, _generic))


cdef object _floordiv(object x, object y):
    # Piecewise constant: the derivative is zero almost everywhere, so the result is plain.
    x = value(x)
    y = value(y)
    if isinstance(x, _ndarray) or isinstance(y, _ndarray):
        return np.floor_divide(x, y)
    return x // y


cdef object _negate(Tracked x):
    cdef Tape top = _active(x)
    if top is None:
        return -_resolve(x)
    if x.kind == K_ARRAY:
        return np.negative(x)
    if x.kind == K_FLOAT:
        return _lin_fast(top, -PyFloat_AS_DOUBLE(x.value), x, -1.0, None, 0.0)
    return _lin_obj(top, -x.value, x, -1, None, None)


cdef object _absolute(Tracked x):
    cdef Tape top = _active(x)
    cdef double xd
    if top is None:
        return abs(_resolve(x))
    if x.kind == K_ARRAY:
        return np.absolute(x)
    if x.kind == K_FLOAT:
        xd = PyFloat_AS_DOUBLE(x.value)
        return _lin_fast(top, fabs(xd), x, 1.0 if xd > 0 else (-1.0 if xd < 0 else 0.0), None, 0.0)
    if _is_complex(x):
        return _hooks["cabs"](x)
    v = value(x)
    return _lin_obj(top, abs(x.value), x, 1 if v > 0 else (-1 if v < 0 else 0), None, None)


cdef tuple _PLAIN_BINARY = (
    lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y,
    lambda x, y: x / y, lambda x, y: x ** y, lambda x, y: x % y)


# ---------------------------------------------------------------------------
# Scalar functions (zygcy.math, zygcy.cmath): value and partials from a rule

# C kernels for the most used functions of zygcy.math: value and derivative of a
# float without a Python call (about 4x faster than calling the rule). The Python
# table in rules/scalar.py remains the definition; test_math checks that both
# paths agree bit for bit. Non-finite results fall back to the Python path, so
# errors (math domain error, overflow) and edge values are exactly math's.
cdef dict _KERNELS = {"sin": 1, "cos": 2, "tan": 3, "exp": 4, "sqrt": 5, "tanh": 6, "sinh": 7,
                      "cosh": 8, "atan": 9, "asin": 10, "acos": 11, "expm1": 12, "log1p": 13,
                      "log2": 14, "log10": 15, "erf": 16, "erfc": 17, "log": 18}
cdef double _LN2 = c_log(2.0)
cdef double _LN10 = c_log(10.0)
cdef double _TWO_OVER_SQRT_PI = 2.0 / sqrt(M_PI)


@cython.cdivision(True)     # IEEE division (x / 0 -> inf), caught by the isfinite test below
cdef inline bint _kernel(int k, double x, double* y, double* d) noexcept nogil:
    if k == 1:
        y[0] = sin(x); d[0] = cos(x)
    elif k == 2:
        y[0] = cos(x); d[0] = -sin(x)
    elif k == 3:
        y[0] = tan(x); d[0] = 1.0 + y[0] * y[0]
    elif k == 4:
        y[0] = exp(x); d[0] = y[0]
    elif k == 5:
        y[0] = sqrt(x); d[0] = 0.5 / y[0]
    elif k == 6:
        y[0] = tanh(x); d[0] = 1.0 - y[0] * y[0]
    elif k == 7:
        y[0] = sinh(x); d[0] = cosh(x)
    elif k == 8:
        y[0] = cosh(x); d[0] = sinh(x)
    elif k == 9:
        y[0] = atan(x); d[0] = 1.0 / (1.0 + x * x)
    elif k == 10:
        y[0] = asin(x); d[0] = 1.0 / sqrt(1.0 - x * x)
    elif k == 11:
        y[0] = acos(x); d[0] = -1.0 / sqrt(1.0 - x * x)
    elif k == 12:
        y[0] = expm1(x); d[0] = y[0] + 1.0
    elif k == 13:
        y[0] = log1p(x); d[0] = 1.0 / (1.0 + x)
    elif k == 14:
        y[0] = log2(x); d[0] = 1.0 / (x * _LN2)
    elif k == 15:
        y[0] = log10(x); d[0] = 1.0 / (x * _LN10)
    elif k == 16:
        y[0] = erf(x); d[0] = _TWO_OVER_SQRT_PI * exp(-x * x)
    elif k == 17:
        y[0] = erfc(x); d[0] = -_TWO_OVER_SQRT_PI * exp(-x * x)
    elif k == 18:
        if x <= 0.0:
            return False
        y[0] = c_log(x); d[0] = 1.0 / x
    else:
        return False
    return isfinite(x) and isfinite(y[0]) and isfinite(d[0])


cdef class _ScalarFn:
    """Shared parts of ScalarFunction and ScalarFunction2: the plain function,
    its derivative, and a function's identity (name, module, docstring)."""
    cdef readonly object fun
    cdef readonly object deriv
    cdef readonly str name
    cdef readonly str module
    cdef object doc
    cdef int kernel

    def __init__(self, fun, deriv, name, module, doc=None, kernel=True):
        self.fun = fun
        self.deriv = deriv
        self.name = name
        self.module = module
        self.doc = doc if doc is not None else getattr(fun, "__doc__", None)
        import math
        self.kernel = _KERNELS.get(name, 0) if (kernel and module == "zygcy.math"
                                                and fun is getattr(math, name, None)) else 0

    @property
    def __name__(self):
        return self.name

    @property
    def __qualname__(self):
        return self.name

    @property
    def __module__(self):
        return self.module

    @property
    def __doc__(self):
        return self.doc

    def __repr__(self):
        return "<zygcy function %s.%s>" % (self.module, self.name)

    def __reduce__(self):
        return self.name      # pickled by reference: module zygcy.math (or cmath), attribute name


@cython.final
cdef class ScalarFunction(_ScalarFn):
    """A differentiable scalar function made from a plain one and its derivative.

    ``fun`` computes the value on plain numbers (``math.sin``); ``deriv(x, y)``
    returns dy/dx given the input and the output, written with zygcy's own
    functions so that it is differentiable again.
    """

    def __call__(self, x):
        cdef double y, d
        if type(x) is not Tracked:
            return self.fun(x)
        if (self.kernel and _top is not None and (<Tracked>x).tid == _top.id
                and (<Tracked>x).kind == K_FLOAT
                and _kernel(self.kernel, PyFloat_AS_DOUBLE((<Tracked>x).value), &y, &d)):
            return _lin_fast(_top, y, <Tracked>x, d, None, 0.0)
        x = _resolve(x)
        if type(x) is not Tracked:
            return self.fun(x)
        cdef Tracked t = <Tracked>x
        cdef Tape top = _active(t)
        if t.kind == K_FLOAT:
            val = self.fun(t.value)
            d = self.deriv(t.value, val)
            if PyFloat_CheckExact(val) and PyFloat_CheckExact(d):
                return _lin_fast(top, PyFloat_AS_DOUBLE(val), t, PyFloat_AS_DOUBLE(d), None, 0.0)
            return _lin_obj(top, val, t, d, None, None)
        if t.kind == K_ARRAY:
            raise TypeError("%s takes a number, not an array; use the numpy function "
                            "(np.%s works on tracked arrays)" % (self.name, self.name))
        val = self(t.value)       # t.value may be tracked by an outer differentiation
        return _lin_obj(top, val, t, self.deriv(t.value, val), None, None)


@cython.final
cdef class ScalarFunction2(_ScalarFn):
    """Like ScalarFunction for two arguments: ``deriv(x, y, out)`` returns (d/dx, d/dy)."""

    def __call__(self, x, y):
        if type(x) is not Tracked and type(y) is not Tracked:
            return self.fun(x, y)
        x = _resolve(x)
        y = _resolve(y)
        cdef Tape tx = _active(<Tracked>x) if type(x) is Tracked else None
        cdef Tape ty = _active(<Tracked>y) if type(y) is Tracked else None
        if tx is None and ty is None:
            return self.fun(x, y)
        cdef Tape top = tx if (ty is None or (tx is not None and tx.id >= ty.id)) else ty
        cdef Tracked a = <Tracked>x if tx is top else None
        cdef Tracked b = <Tracked>y if ty is top else None
        if (a is not None and a.kind == K_ARRAY) or (b is not None and b.kind == K_ARRAY):
            raise TypeError("%s takes numbers, not arrays; use the numpy function" % self.name)
        xv = a.value if a is not None else x
        yv = b.value if b is not None else y
        val = self(xv, yv)
        pa, pb = self.deriv(xv, yv, val)
        if (PyFloat_CheckExact(val) and (a is None or PyFloat_CheckExact(pa))
                and (b is None or PyFloat_CheckExact(pb))):
            return _lin_fast(top, PyFloat_AS_DOUBLE(val), a, PyFloat_AS_DOUBLE(pa) if a is not None else 0.0,
                             b, PyFloat_AS_DOUBLE(pb) if b is not None else 0.0)
        return _lin_obj(top, val, a, pa, b, pb)


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
    cdef readonly object fun
    cdef readonly tuple makers
    cdef readonly object joint_maker
    cdef readonly bint joint

    def __init__(self, fun, makers=(), joint_maker=None):
        self.fun = fun
        self.makers = tuple(makers)
        self.joint_maker = joint_maker
        self.joint = joint_maker is not None


def defvjp(fun, *makers):
    """Register per-argument pullback makers for ``fun``.

    ``makers[i](ans, *args, **kwargs)`` is called when argument ``i`` is tracked and
    returns ``pullback(g)``, the cotangent of argument ``i`` (None: no gradient).
    Pass None for an argument that has no derivative (an index, a shape).
    """
    _rules[fun] = Rule(fun, makers)
    return fun


def defjoint(fun, maker):
    """Register a joint maker: ``maker(ans, *args, **kwargs)`` returns a pullback
    ``g -> tuple`` with one cotangent per positional argument."""
    _rules[fun] = Rule(fun, (), maker)
    return fun


def nondifferentiable(*funs):
    """Declare functions whose result carries no derivative: they run on plain values."""
    _constant.update(funs)


def refuse(fun, message):
    """Declare that ``fun`` must not be given tracked values (it writes into an array
    in place, say); ``message`` says what to write instead."""
    _refused[fun] = message


def defer_to(cls):
    """Let ``cls`` (an ndarray subclass with its own overrides) handle an operation
    before Tracked does whenever it is among the inputs: Tracked's overrides
    return NotImplemented then, and numpy asks ``cls``. zygcy's ``Param`` uses
    this to put its tracked leaf in its place, so ``h @ W`` is recorded once."""
    global _defer
    _defer = cls


def set_hook(name, fn):
    """Let rule code supply one of Tracked's behaviours (``getitem``, ``real``, ...)."""
    _hooks[name] = fn


def get_rule(fun):
    """The Rule registered for ``fun``, or None."""
    return _rules.get(fun)


def registered():
    """All functions with a rule, and all declared non-differentiable."""
    return dict(_rules), set(_constant)


cdef object _dispatch_ufunc(object ufunc, str method, tuple inputs, dict kwargs):
    if _defer is not None:
        for v in inputs:
            if isinstance(v, _defer):
                return NotImplemented
        out = kwargs.get("out")
        if out is not None and any(isinstance(o, _defer) for o in (out if isinstance(out, tuple) else (out,))):
            return NotImplemented
    fun = ufunc if method == "__call__" else getattr(ufunc, method)
    if method == "at" and _any_active(inputs, kwargs):
        if "ufunc_at" in _hooks:            # np.add.at(x, i, v) on a tracked x: an assignment
            r = _hooks["ufunc_at"](ufunc, inputs, kwargs)
            if r is not NotImplemented:
                return r
        raise TypeError(
            "numpy.{0}.at(x, index, v) writes into x in place, which zygcy does not record; "
            "write x[index] = numpy.{0}(x[index], v) instead (x[index] += v for add)".format(ufunc.__name__))
    out = kwargs.pop("out", None)
    if out is not None:
        return _ufunc_out(fun, inputs, kwargs, out)
    rule = _rules.get(fun)
    if rule is None:
        if ufunc in _constant or fun in _constant:
            return fun(*[value(v) for v in inputs], **kwargs)
        if not _any_active(inputs, kwargs):
            return fun(*[_resolve(v) for v in inputs], **kwargs)
        name = ufunc.__name__ if method == "__call__" else "%s.%s" % (ufunc.__name__, method)
        if getattr(np, ufunc.__name__, None) is ufunc:
            where = code = "numpy." + name
        else:       # a ufunc of another library (scipy.special): no module to name
            where, code = "the ufunc " + name, name
        raise TypeError(
            "zygcy has no gradient rule for %s. Add one with zygcy.defvjp(%s, maker, ...) "
            "(see help(zygcy.defvjp)), or apply it to zygcy.dropgrad(x) if no gradient "
            "should flow through it." % (where, code))
    return _apply(fun, <Rule>rule, inputs, kwargs)


cdef object _ufunc_out(object fun, tuple inputs, dict kwargs, object out):
    outs = out if isinstance(out, tuple) else (out,)
    if not any(type(o) is Tracked for o in outs):
        if _any_active(inputs, kwargs):
            raise TypeError(
                "writing a tracked result into a plain ndarray (out=, or an in-place "
                "operator such as a += x) would drop its derivative; write a = a + x instead")
        return fun(*[_resolve(v) for v in inputs], **kwargs)
    if kwargs.get("where", True) is not True:
        raise TypeError(
            "out= together with where= on a tracked array is not recorded (the entries "
            "where= leaves alone would be overwritten); write out = np.where(mask, f(x), out)")
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
        name = "numpy.%s" % func.__name__
        mod = getattr(func, "__module__", "") or ""
        if mod.startswith("numpy.") and mod.split(".")[1] in ("linalg", "fft", "random", "polynomial", "lib"):
            sub = mod.split(".")[1]
            if sub != "lib":
                name = "numpy.%s.%s" % (sub, func.__name__)
        raise TypeError(
            "zygcy has no gradient rule for %s. Add one with zygcy.defvjp(%s, maker, ...) "
            "(see help(zygcy.defvjp)), or apply it to zygcy.dropgrad(x) if no gradient "
            "should flow through it." % (name, name))
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


def apply(fun, args, kwargs=None):
    """Call ``fun(*args, **kwargs)``, recording it with the rule registered for ``fun``."""
    rule = _rules.get(fun)
    if rule is None:
        raise TypeError("no gradient rule is registered for %r; register one with "
                        "zygcy.defvjp or zygcy.defjoint first" % (fun,))
    return _apply(fun, <Rule>rule, tuple(args), dict(kwargs) if kwargs else {})


cdef object _apply(object fun, Rule rule, tuple args, dict kwargs):
    """Record fun(*args, **kwargs): strip the innermost level, call, keep the pullbacks."""
    cdef Tape top = None, t
    if kwargs and any(type(_resolve(v)) is Tracked for v in kwargs.values()):
        args, kwargs = _keywords_by_position(fun, args, kwargs)
    cdef list plain = list(args)
    cdef Py_ssize_t i, j
    # Find the innermost active tape among the arguments (and one level into lists).
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
            raise TypeError(
                "%s: the keyword argument %r is tracked; zygcy differentiates positional "
                "arguments (and keywords it can place by the function's signature), so pass "
                "it by position" % (_fname(fun), k))
        kwargs[k] = v
    if top is None:
        return fun(*plain, **kwargs)

    # Strip the top level, remembering which argument (and element) each parent
    # was; plain arrays among the arguments are watched for changes (Tape.pop).
    cdef list parents = [], argi = [], elem = []
    for i in range(len(plain)):
        v = plain[i]
        if type(v) is Tracked:
            if (<Tracked>v).tid == top.id:
                parents.append(v)
                argi.append(i)
                elem.append(-1)
                plain[i] = (<Tracked>v).value
        elif type(v) is _ndarray:
            top.watched.append((_weakref(v), fun))
        elif type(v) is list or type(v) is tuple:
            items = list(v)
            for j in range(len(items)):
                e = items[j]
                if type(e) is Tracked and (<Tracked>e).tid == top.id:
                    parents.append(e)
                    argi.append(i)
                    elem.append(j)
                    items[j] = (<Tracked>e).value
            plain[i] = items if type(v) is list else tuple(items)

    # Arrays tracked by an outer differentiation stay in `plain` for the pullbacks.
    # User code may later assign into such an array (x[i] = v changes which node the
    # object is), so the pullbacks get an alias node that no user code holds.
    if top.id != _stack_bottom_id():
        for i in range(len(plain)):
            v = plain[i]
            if type(v) is Tracked and (<Tracked>v).kind == K_ARRAY:
                plain[i] = _alias(<Tracked>v)
            elif type(v) is list or type(v) is tuple:
                items = [_alias(<Tracked>e) if type(e) is Tracked and (<Tracked>e).kind == K_ARRAY else e
                         for e in v]
                plain[i] = items if type(v) is list else tuple(items)

    ans = fun(*plain, **kwargs) if kwargs else fun(*plain)   # (no dict when there are no keywords)

    cdef object pbs
    if rule.joint:
        pbs = rule.joint_maker(ans, *plain, **kwargs)
    else:
        made = [None] * len(plain)
        for i in argi:
            if made[i] is None:
                maker = rule.makers[i] if i < len(rule.makers) else None
                if maker is None:
                    raise TypeError("%s has no derivative with respect to argument %d; "
                                    "wrap that argument in zygcy.dropgrad() if that is intended"
                                    % (_fname(fun), i))
                made[i] = maker(ans, *plain, **kwargs) if kwargs else maker(ans, *plain)
        pbs = tuple(made)
    return _record(top, ans, tuple(parents), tuple(argi), tuple(elem), pbs, rule.joint, len(plain), fun)


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
                    Py_ssize_t nargs, object name):
    cdef Tracked r, p
    cdef Rec rec = _new_rec(), prec
    rec.parents = parents
    rec.argi = argi
    rec.elem = elem
    rec.pbs = pbs
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
            prec = _new_rec()
            prec.parents = (r,)
            prec.argi = (k,)
            prec.elem = (-1,)
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
    return _record(tp, t.value, (t,), (0,), (-1,), (_pass_through,), False, 1, "alias")


def record_joint(fun, ans, args, pullback):
    """Record a node for a user rule (``@grad``): ``args`` are the arguments as the
    caller passed them; ``pullback(g)`` returns one cotangent per argument.
    Returns ``ans`` tracked, or ``ans`` itself when no argument is tracked."""
    cdef Tape top = None, t
    cdef list parents = [], argi = []
    cdef Py_ssize_t i
    if not callable(pullback):
        raise TypeError("record_joint: the pullback must be a function, got %s" % type(pullback).__name__)
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
    r = _record(top, ans, tuple(parents), tuple(argi), (-1,) * len(argi), pullback, True, len(args), fun)
    _gc_visible(r)      # a user's pullback may hold its own output: let the collector see the cycle
    return r


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
        return (<Tracked>x).value
    return x


cdef str _fname(object fun):
    name = getattr(fun, "__name__", None) or repr(fun)
    return name


cdef str _qualified(object fun):
    """numpy.multiply for numpy's functions, the plain name for others."""
    name = _fname(fun)
    if getattr(np, name, None) is fun:
        return "numpy." + name
    return name


# ---------------------------------------------------------------------------
# In-place item assignment: the same Python object becomes a new node

cdef void _copy_node(Tracked dst, Tracked src):
    dst.value = src.value
    dst.tid = src.tid
    dst.kind = src.kind
    dst.op = src.op
    dst.pos = src.pos
    dst.fast = src.fast
    dst.a = src.a
    dst.b = src.b
    dst.da = src.da
    dst.db = src.db
    dst.ext = src.ext


def rebind(Tracked self, new=None):
    """First half of item assignment: move the node ``self`` is now into a fresh
    object ``old`` and return it, so that ``self`` can become the new node.

    Nodes recorded earlier that used ``self`` must keep seeing the old node, so
    they are pointed at ``old``. Only nodes recorded since ``self`` was made can
    refer to it, so the scan is short in the usual loop.
    """
    cdef Tape tape = _active(self)
    cdef Tracked old = _untracked(), n
    cdef Rec rec
    cdef Py_ssize_t i
    _copy_node(old, self)
    if tape is not None:
        tape.nodes[self.pos] = old
        if self.op == OP_LEAF:
            # the caller of backward still holds this object as "the input"
            tape.moved[id(self)] = old
        for i in range(self.pos + 1, len(tape.nodes)):
            n = <Tracked>tape.nodes[i]
            if n.a is self:
                n.a = old
            if n.b is self:
                n.b = old
            if type(n.ext) is Rec:
                rec = <Rec>n.ext
                if any(p is self for p in rec.parents):
                    rec.parents = tuple(old if p is self else p for p in rec.parents)
    return old


def adopt(Tracked self, Tracked new):
    """Second half of item assignment: ``self`` takes over the node ``new``."""
    cdef Tape tape = _active(new)
    _copy_node(self, new)
    if tape is not None:
        tape.nodes[new.pos] = self


def node_tape_active(x):
    """True if x is Tracked by an active tape."""
    return type(x) is Tracked and _active(<Tracked>x) is not None


# ---------------------------------------------------------------------------
# Sparse gradients of indexing

@cython.final
cdef class IndexGrad:
    """The cotangent of ``x[index]``: zeros of x's shape with ``value`` added at
    ``index``. Kept sparse so that reading many elements one at a time costs
    time linear in their number, and made dense once, when it is needed."""

    def __init__(self, shape, dtype, index, val):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.entries = [(index, val)]

    def dense(self):
        return _hooks["densify"](self)

    def __repr__(self):
        return "IndexGrad(shape=%r, %d entries)" % (self.shape, len(self.entries))


cdef object _densify(object g):
    if type(g) is IndexGrad:
        return _hooks["densify"](g)
    return g


# ---------------------------------------------------------------------------
# The reverse sweep

@cython.final
cdef class _Grads:
    """The gradients arriving at the nodes of one tape during one reverse sweep.

    They are kept here, by the sweep, and not on the nodes: two sweeps of the
    same tape (``back`` called from several threads, or from a hook while its
    own sweep runs) then never see each other's sums.

    Node ``i`` (its ``pos``) has nothing yet (``state[i] == 0``), a C double
    (``G_DOUBLE``: ``gd[i]``) or a Python object (``G_OBJECT``: ``go[i]``).
    ``own[i]`` says that ``go[i]`` is a buffer this sweep allocated for node i
    alone, the only kind ever updated in place: a cotangent that arrives from
    a pullback may be shared (add's pullback hands the same array to both
    operands), so it is never written into.
    """
    cdef double* gd
    cdef char* state
    cdef char* own
    cdef list go
    cdef Py_ssize_t n

    def __cinit__(self, Py_ssize_t n):
        self.n = n
        self.gd = <double*>calloc(n + 1, sizeof(double))
        self.state = <char*>calloc(2 * (n + 1), sizeof(char))
        if self.gd == NULL or self.state == NULL:
            raise MemoryError()
        self.own = self.state + (n + 1)
        self.go = [None] * n

    def __dealloc__(self):
        free(self.gd)
        free(self.state)

    cdef inline Py_ssize_t _index(self, Tracked p) except -1:
        # Every parent is older than its child, so inside the tape; checked all
        # the same, since these are raw C arrays (no bounds check protects them).
        if p.pos < 0 or p.pos >= self.n:
            raise RuntimeError("zygcy internal error: a node outside its tape reached the sweep")
        return p.pos

    cdef inline int add_double(self, Tracked p, double v) except -1:
        cdef Py_ssize_t i = self._index(p)
        if self.state[i] == 0:
            self.state[i] = G_DOUBLE
            self.gd[i] = v
        elif self.state[i] == G_DOUBLE:
            self.gd[i] += v
        else:
            self.go[i] = self._sum(i, self.go[i], PyFloat_FromDouble(v))
        return 0

    cdef int add_object(self, Tracked p, object v) except -1:
        cdef Py_ssize_t i
        if v is None:
            return 0
        i = self._index(p)
        if self.state[i] == 0:
            if PyFloat_CheckExact(v):
                self.state[i] = G_DOUBLE
                self.gd[i] = PyFloat_AS_DOUBLE(v)
            else:
                self.state[i] = G_OBJECT
                self.go[i] = v
                self.own[i] = False
        elif self.state[i] == G_DOUBLE:
            if PyFloat_CheckExact(v):
                self.gd[i] += PyFloat_AS_DOUBLE(v)
            else:
                self.state[i] = G_OBJECT
                self.own[i] = False
                self.go[i] = self._sum(i, PyFloat_FromDouble(self.gd[i]), v)
        else:
            self.go[i] = self._sum(i, self.go[i], v)
        return 0

    cdef object _sum(self, Py_ssize_t i, object acc, object v):
        """acc + v for node i; acc is updated in place only if own[i]."""
        cdef IndexGrad ig
        cdef bint owned = self.own[i]
        if type(acc) is IndexGrad and type(v) is IndexGrad and (<IndexGrad>acc).shape == (<IndexGrad>v).shape:
            if owned:
                (<IndexGrad>acc).entries.extend((<IndexGrad>v).entries)
                return acc
            ig = IndexGrad.__new__(IndexGrad)
            ig.shape = (<IndexGrad>acc).shape
            ig.dtype = (<IndexGrad>acc).dtype
            ig.entries = (<IndexGrad>acc).entries + (<IndexGrad>v).entries
            self.own[i] = True
            return ig
        if type(acc) is IndexGrad:
            # Sparse so far, dense incoming: the dense one becomes the sum, but it
            # is not ours, so it is copied before the entries are added.
            acc, v = v, acc
            owned = False
        if type(v) is IndexGrad and type(acc) is _ndarray and _scatters_into(<IndexGrad>v, acc):
            if not owned:
                acc = acc.copy()
                self.own[i] = True
            for idx, val in (<IndexGrad>v).entries:
                _add_at(acc, idx, val)
            return acc
        if type(acc) is list or type(acc) is tuple:       # the cotangents of a multi-output node
            self.own[i] = False
            return [_plain_sum(u, w) for u, w in zip(acc, v)]
        v = _densify(v)
        acc = _densify(acc)
        if (owned and type(acc) is _ndarray and type(v) is _ndarray
                and (<object>acc).shape == (<object>v).shape and np.can_cast(v.dtype, acc.dtype)):
            acc += v        # a buffer this sweep allocated for this node: add in place
            return acc
        r = acc + v
        self.own[i] = type(r) is _ndarray
        return r

    cdef object take(self, Tracked n):
        """The gradient that reached node n (None if none did)."""
        cdef Py_ssize_t i = self._index(n)
        if self.state[i] == 0:
            return None
        if self.state[i] == G_DOUBLE:
            return PyFloat_FromDouble(self.gd[i])
        g = _densify(self.go[i])
        # A real value's cotangent is real: drop the imaginary part a complex consumer
        # sent back (ChainRules' ProjectTo), so rules of real functions never see it.
        if n.kind != K_MULTI and g is not None and _is_complex(g) and not _is_complex(n.value):
            g = g.real
        return g


cdef bint _scatters_into(IndexGrad g, object acc):
    """The entries of g can be added into the plain array acc in place: none is
    tracked, and none is complex when acc is real."""
    cdef bint real = acc.dtype.kind != "c"
    for idx, val in g.entries:
        if type(val) is Tracked or (real and _is_complex(val)):
            return False
    return True


cdef object _plain_sum(object u, object w):
    """u + w, None counting as zero, never updating either."""
    if u is None:
        return w
    if w is None:
        return u
    if type(u) is IndexGrad and type(w) is IndexGrad and (<IndexGrad>u).shape == (<IndexGrad>w).shape:
        ig = IndexGrad.__new__(IndexGrad)
        ig.shape = (<IndexGrad>u).shape
        ig.dtype = (<IndexGrad>u).dtype
        ig.entries = (<IndexGrad>u).entries + (<IndexGrad>w).entries
        return ig
    return _densify(u) + _densify(w)


cdef object _sweep(Tape tape, list seeds, list leaves):
    cdef list nodes = tape.nodes
    cdef Py_ssize_t i, n_nodes = PyList_GET_SIZE(nodes)
    cdef _Grads G = _Grads(n_nodes)
    cdef Tracked n, p
    cdef Rec rec
    cdef object g, cts
    for node, s in seeds:
        G.add_object(<Tracked>node, s)
    for i in range(n_nodes - 1, -1, -1):
        n = <Tracked>PyList_GET_ITEM(nodes, i)
        if G.state[i] == 0 or n.op == OP_LEAF:
            continue
        if n.op == OP_LIN:
            if n.fast and G.state[i] == G_DOUBLE:
                # The hot path: every quantity is a C double.
                if n.a is not None:
                    G.add_double(n.a, G.gd[i] * n.da)
                if n.b is not None:
                    G.add_double(n.b, G.gd[i] * n.db)
            else:
                g = G.take(n)
                if n.a is not None:
                    G.add_object(n.a, g * (n.da if n.fast else (<tuple>n.ext)[0]))
                if n.b is not None:
                    G.add_object(n.b, g * (n.db if n.fast else (<tuple>n.ext)[1]))
        elif n.op == OP_PROJ:
            # element k of a multi-output node: pass a list with g in slot k
            g = G.take(n)
            rec = <Rec>n.ext
            cts = [None] * rec.nargs
            cts[<Py_ssize_t>rec.argi[0]] = g
            G.add_object(<Tracked>rec.parents[0], cts)
        else:
            g = G.take(n)
            if n.kind == K_MULTI:
                g = tuple(g)
            _run_pullbacks(G, <Rec>n.ext, g)
        G.go[i] = None     # intermediate gradients are not needed again: free them now
    cdef list out = []
    for leaf in leaves:
        p = <Tracked>tape.moved.get(id(leaf), leaf) if tape.moved else <Tracked>leaf
        out.append(G.take(p))
    return out


cdef int _run_pullbacks(_Grads G, Rec n, object g) except -1:
    cdef Py_ssize_t k, i, j, last_i = -1
    cdef object ct = None, cts = None
    if n.joint:
        cts = n.pbs(g)
        if not isinstance(cts, (tuple, list)) or len(cts) != n.nargs:
            got = ("a %s of length %d" % (type(cts).__name__, len(cts))
                   if isinstance(cts, (tuple, list)) else "a %s" % type(cts).__name__)
            raise ValueError(
                "the pullback of %s returned %s, but it must return a tuple with one "
                "gradient per positional argument (%d here), None where there is none"
                % (_fname(n.name), got, n.nargs))
    for k in range(len(n.parents)):
        i = n.argi[k]
        j = n.elem[k]
        if n.joint:
            ct = cts[i]
        elif i != last_i:
            ct = n.pbs[i](g)
            last_i = i
        if ct is None:
            continue
        if j >= 0:
            e = _element_cotangent(n, i, j, ct)
        else:
            e = ct
        if e is not None:
            _check_cotangent(n, i, <Tracked>n.parents[k], e)
            G.add_object(<Tracked>n.parents[k], e)
    return 0


cdef object _element_cotangent(Rec n, Py_ssize_t i, Py_ssize_t j, object ct):
    """Element j of the cotangent of argument i (a list or tuple of numbers)."""
    if isinstance(ct, (list, tuple)) and j < len(ct):
        return ct[j]
    if isinstance(ct, _ndarray) and ct.ndim >= 1 and j < ct.shape[0]:
        return ct[j]
    raise ValueError(
        "the pullback of %s returned a %s for argument %d, but that argument is a sequence "
        "with a tracked element at position %d: the cotangent must be a list (or array) "
        "with one entry per element" % (_fname(n.name), type(ct).__name__, i, j))


cdef object _check_cotangent(Rec n, Py_ssize_t i, Tracked parent, object ct):
    """Refuse a cotangent that does not fit its argument, naming the rule. A
    pullback must return, per argument, a number or array of that argument's
    shape: a broadcastable shape, a string or a dict would otherwise be taken
    silently and give a wrong gradient."""
    cdef object shape, want
    if parent.kind == K_MULTI:
        return None
    if type(ct) is _ndarray or type(ct) is IndexGrad:
        shape = (<object>ct).shape
    elif PyFloat_CheckExact(ct) or PyLong_CheckExact(ct) or type(ct) is complex:
        shape = ()
    elif type(ct) is Tracked:
        shape = np.shape(value(ct))
    elif isinstance(ct, (_generic, _ndarray)) and not isinstance(ct, (np.str_, np.bytes_, np.void)):
        shape = ct.shape
    elif isinstance(ct, _Number) and not isinstance(ct, bool):
        shape = ()
    else:
        raise TypeError(
            "the pullback of %s returned a %s as the cotangent of argument %d; a cotangent "
            "must be a number or an array of the argument's shape (None for no gradient)"
            % (_fname(n.name), type(ct).__name__, i))
    if parent.kind == K_ARRAY:
        want = np.shape(value(parent.value))
    else:
        want = ()
    if shape != want:
        raise ValueError(
            "the pullback of %s returned a cotangent of shape %s for argument %d, whose value "
            "has shape %s; a pullback must return a cotangent of its argument's shape "
            "(sum over the axes that broadcasting added, e.g. with np.sum(g, axis=...))"
            % (_fname(n.name), shape, i, want))
    return None
