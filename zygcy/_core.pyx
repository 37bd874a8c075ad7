"""The zygcy engine: tracked values, the tape, operator dispatch, the reverse sweep.

Everything here is mechanism. What the derivative of a function *is* lives in
``zygcy.rules``; the rule modules register their rules through ``zygcy.extend``
(which calls ``register``, ``declare_constant``, ``declare_refused`` here), and
``zygcy.rules`` installs, once, the ``Delegates`` table through which Tracked's
methods (indexing, ``.real``, attributes, ...) reach rule code. Every text shown
to a user is in ``zygcy._messages``.

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
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check, PyFloat_FromDouble
from cpython.long cimport PyLong_AsDouble
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject, PyObject_TypeCheck, PyTypeObject
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_REFCNT
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy
cimport numpy as cnp
from libc.math cimport (M_PI, NAN, acos, asin, atan, cos, cosh, erf, erfc, exp, expm1, fabs, isfinite,
                        log as c_log, log1p, log2, log10, pow as c_pow, sin, sinh, sqrt, tan, tanh)

import gc as _gc
import numbers as _numbers
import weakref as _weakref_module
import numpy as np

from zygcy import _messages     # every text the engine shows a user (changed without a rebuild)

cdef extern from *:
    int ZYGCY_DEBUG_BUILD       # set by setup.py: 1 when built with ZYGCY_DEBUG=1

DEBUG = bool(ZYGCY_DEBUG_BUILD)  # the engine was built with bounds checks on

cdef extern from "Python.h":
    ctypedef struct _SequenceSlots "PySequenceMethods":
        void* sq_item
    ctypedef void (*_destructor "destructor")(PyObject*) noexcept
    ctypedef struct _TypeSlots "PyTypeObject":
        _SequenceSlots* tp_as_sequence
        Py_ssize_t tp_weaklistoffset
        _destructor tp_dealloc
    void PyType_Modified(_TypeSlots*)
    bint PyFloat_CheckExact(object)
    bint PyLong_CheckExact(object)

# ---------------------------------------------------------------------------
# Constants and module state

# The kinds of values, the kinds of nodes, gradient states, operators and the
# C kernels are enums in _core.pxd.

cdef list _stack = []           # active tapes, innermost last
cdef Tape _top = None           # _stack[-1], cached for the hot path
cdef long _next_id = 1
cdef bint _gc_paused = False    # the cyclic collector was paused by the outermost push

cdef object _ndarray = np.ndarray
cdef object _generic = np.generic
cdef object _float64 = np.float64
cdef object _Number = _numbers.Number
cdef object _add_at = np.add.at
cdef tuple _ARITH_UFUNCS = (np.add, np.subtract, np.multiply, np.true_divide, np.power, np.remainder)
cdef object _np_matmul = np.matmul
cdef object _np_multiply = np.multiply
cdef object _np_add = np.add
cdef object _np_negative = np.negative
cdef object _np_add_reduce = np.add.reduce
cdef object _np_sum = np.sum
cdef object _np_mean = np.mean
cdef object _np_float64 = np.float64
cdef object _weakref = _weakref_module.ref

cnp.import_array()

# Facts of an exact ndarray read from its struct (numpy's C API): a.shape == b.shape
# would make two tuples, a.size an int, a.flags an object. Only for arrays whose
# type has been checked to be ndarray itself.

cdef inline Py_ssize_t _asize(object a) noexcept:
    return cnp.PyArray_SIZE(<cnp.ndarray>a)


cdef inline bint _same_shape(object a, object b) noexcept:
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>a), k
    cdef cnp.npy_intp* da
    cdef cnp.npy_intp* db
    if nd != cnp.PyArray_NDIM(<cnp.ndarray>b):
        return False
    da = cnp.PyArray_DIMS(<cnp.ndarray>a)
    db = cnp.PyArray_DIMS(<cnp.ndarray>b)
    for k in range(nd):
        if da[k] != db[k]:
            return False
    return True


cdef inline bint _same_dtype(object a, object b) noexcept:
    return <void*>cnp.PyArray_DESCR(<cnp.ndarray>a) == <void*>cnp.PyArray_DESCR(<cnp.ndarray>b)


cdef inline char _dtype_kind(object a) noexcept:
    return (<cnp.dtype>cnp.PyArray_DESCR(<cnp.ndarray>a)).kind


cdef inline bint _owns_writeable(object a) noexcept:
    """a owns its memory (no base: not a view, not memory a library keeps) and may be written."""
    return (cnp.PyArray_BASE(<cnp.ndarray>a) == NULL
            and cnp.PyArray_CHKFLAGS(<cnp.ndarray>a, cnp.NPY_ARRAY_OWNDATA | cnp.NPY_ARRAY_WRITEABLE))


cdef inline bint _uniform(object a) noexcept:
    """Every stride of a is 0 (one element broadcast to its shape), and it has an axis."""
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>a), k
    cdef cnp.npy_intp* st = cnp.PyArray_STRIDES(<cnp.ndarray>a)
    if nd == 0:
        return False
    for k in range(nd):
        if st[k] != 0:
            return False
    return True

# Registered by zygcy.rules (through zygcy.extend): function -> Rule, the constant
# functions, the refused ones. What Tracked hands to rule code is the Delegates
# table (_tracked.pxi), installed once by zygcy.rules.
cdef dict _rules = {}
cdef set _constant = set()
cdef dict _refused = {}         # function -> why it cannot take tracked values (in-place writers)


include "_tape.pxi"
include "_tracked.pxi"
include "_operators.pxi"
include "_scalarfn.pxi"
include "_dispatch.pxi"
include "_record.pxi"
include "_inplace.pxi"
include "_kernels.pxi"
include "_sweep.pxi"
include "_forward.pxi"
include "_params.pxi"
