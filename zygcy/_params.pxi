# The hot path of zygcy.params: what a parameter (``Param``) stands for, its
# numpy ufunc override, and the count of in-place writes into its memory.
#
# zygcy/params.py defines the semantics and keeps everything that is rare (views
# replayed by recipe, the errors); ``install_params`` hands this file its frames
# (thread-local), the Param class and those slow paths. Each Params
# differentiation is a *frame* with a dict id(param) -> (param, tracked leaf);
# frames nest, innermost last.

cdef object _frames_local = None      # params._local: .stack is this thread's frames
cdef object _Param = None             # params.Param
cdef object _substitute_slow = None   # params._substitute_slow(p): views by recipe, the refusal
cdef object _check_writable = None    # params._check_writable(p, how, name)
cdef object _getattr_slow = None      # params._getattribute(p, name): what a public name reads
cdef frozenset _META = frozenset()    # params._META: names read from the memory itself

# In-place writes through parameters, counted per block of memory, so that a back()
# recorded before such a write can refuse to read the overwritten values:
# id(owner) -> [weakref to the owning ndarray, count].
cdef dict _writes = {}

from types import MethodType as _MethodType

cdef extern from "Python.h":
    object PyObject_GenericGetAttr(object, object)

cdef extern from "numpy/arrayobject.h":
    object _PyArray_View "PyArray_View" (cnp.ndarray, PyObject*, PyObject*)


def install_params(local, param_type, substitute_slow, check_writable, getattr_slow, meta):
    """Called once by zygcy.params: the frames, the Param class and the slow paths."""
    global _frames_local, _Param, _substitute_slow, _check_writable, _getattr_slow, _META
    _frames_local, _Param = local, param_type
    _substitute_slow, _check_writable, _getattr_slow = substitute_slow, check_writable, getattr_slow
    _META = frozenset(meta)


cdef inline object _plain_view(object p):
    """A plain ndarray view of p's memory (np.ndarray.view(p, np.ndarray))."""
    return _PyArray_View(<cnp.ndarray>p, NULL, <PyObject*>_ndarray)


def param_plain(p):
    """The memory of the parameter p as a plain ndarray."""
    return _plain_view(p)


cpdef object param_leaf(object p):
    """The tracked leaf standing for p in the innermost frame that lists it, or None."""
    cdef list stack = _frames_local.stack
    cdef Py_ssize_t i
    for i in range(len(stack) - 1, -1, -1):
        e = (<dict>stack[i].leaves).get(id(p))
        if e is not None and (<tuple>e)[0] is p:
            return (<tuple>e)[1]
    return None


cpdef object param_substitute(object p):
    """What the parameter p stands for now: its tracked leaf while it is being
    differentiated, a plain view of its memory otherwise (see params.substitute)."""
    if not _frames_local.stack:
        return _plain_view(p)
    leaf = param_leaf(p)
    if leaf is not None:
        return leaf
    return _substitute_slow(p)


cdef object _owner(object a):
    """The ndarray that owns a's memory (a itself, or the end of its chain of bases)."""
    cdef PyObject* b = cnp.PyArray_BASE(<cnp.ndarray>a)
    while b != NULL and isinstance(<object>b, _ndarray):
        a = <object>b
        b = cnp.PyArray_BASE(<cnp.ndarray>a)
    return a


def _forgetter(key):
    """The weakref callback dropping the count of key's memory when it is freed."""
    return lambda ref: _writes.pop(key, None)


cpdef param_written(object p):
    """Count one in-place write into the memory of the parameter p."""
    o = _owner(p)
    key = id(o)
    e = _writes.get(key)
    if e is None or (<list>e)[0]() is not o:
        _writes[key] = [_weakref(o, _forgetter(key)), 1]
    else:
        (<list>e)[1] += 1


cpdef param_version(object p):
    """How many in-place writes the memory of the parameter p has had."""
    o = _owner(p)
    e = _writes.get(id(o))
    return (<list>e)[1] if e is not None and (<list>e)[0]() is o else 0


cdef object _out_view(object o, tuple inputs, list args):
    """The plain view to write into for the output parameter o: the one made for o
    as an input when it is one (and was not substituted), else a new one."""
    cdef Py_ssize_t i
    for i in range(len(inputs)):
        if inputs[i] is o and type(args[i]) is _ndarray:
            return args[i]
    return _plain_view(o)


cdef bint _tracked_among_plain(list args):
    """Some of args is tracked, and every one is ours (tracked, ndarray, a number)."""
    cdef bint tracked = False
    for v in args:
        if not _plain_operand(v):
            return False
        tracked = tracked or type(v) is Tracked
    return tracked


cdef class _UnboundMethod:
    """A method of Param written in C. Python and numpy call a type's special
    methods unbound, with the instance first, so the object is the method itself
    (no Python frame in between); read from an instance it binds like a function."""

    def __get__(self, obj, owner):
        return self if obj is None else _MethodType(self, obj)


cdef class _ParamGetattribute(_UnboundMethod):
    """Param.__getattribute__, in C: private names and those that describe the
    memory (shape, dtype, ...) are read from the array itself at C speed; every
    other name is params._getattribute's. Python asks every failed
    ``isinstance(W, cls)`` for ``W.__class__``, and numpy does so for each ufunc
    call that mixes a Param with a tracked value: a Python method here would cost
    a Python call each time."""

    def __call__(self, p, str name):
        if (len(name) and name[0] == "_") or name in _META:
            return PyObject_GenericGetAttr(p, name)
        return _getattr_slow(p, name)


param_getattribute = _ParamGetattribute()


cdef class _ParamUfunc(_UnboundMethod):
    """Param.__array_ufunc__, in C: parameters replaced by what they stand for,
    writes into them (``out=``, ``ufunc.at``, in-place operators) counted, and
    refused while they are being differentiated.

    numpy calls a type's ``__array_ufunc__`` unbound, with the array first, so
    this object is the method itself (no Python frame in between); read from an
    instance (``W.__array_ufunc__``) it binds like a function."""

    def __call__(self, p, ufunc, str method, *inputs, **kwargs):
        out = kwargs.get("out")             # numpy passes out as a tuple
        cdef bint active = bool(_frames_local.stack)
        cdef bint at = method == "at"
        if active:
            if out is not None:
                for o in out:
                    if isinstance(o, _Param):
                        _check_writable(o, "numpy.%s(..., out=W) or an in-place operator "
                                           "(W += x)", ufunc.__name__)
            if at and isinstance(inputs[0], _Param):
                _check_writable(inputs[0], "numpy.%s.at", ufunc.__name__)
        cdef list args = []
        for x in inputs:
            if isinstance(x, _Param):
                x = param_substitute(x) if active else _plain_view(x)
            args.append(x)
        if active and out is None and method == "__call__" and _tracked_among_plain(args):
            # The parameters' leaves are in: record now, as numpy's next round of
            # overrides would (Tracked's is then the only one), without that round.
            if len(args) == 2 and not kwargs:
                return _array_op(ufunc, args[0], args[1])
            return _dispatch_ufunc(ufunc, method, tuple(args), kwargs)
        if out is not None:
            # W -= x: the out view is the input's view, so numpy sees one array, not
            # two that overlap (whose overlap it would solve for, and copy around)
            kwargs["out"] = tuple([_out_view(o, inputs, args) if isinstance(o, _Param) else o
                                   for o in out])
        fun = ufunc if method == "__call__" else getattr(ufunc, method)
        res = fun(*args, **kwargs)
        if at and isinstance(inputs[0], _Param):
            param_written(inputs[0])
        if out is not None:
            for o in out:
                if isinstance(o, _Param):
                    param_written(o)
            return out[0] if len(out) == 1 else out
        return res


param_ufunc = _ParamUfunc()
