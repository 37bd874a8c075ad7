from cpython.object cimport PyObject
# Declarations of the zygcy engine; the implementation is in _core.pyx and the
# files it includes (_tape.pxi, _tracked.pxi, _operators.pxi, _scalarfn.pxi,
# _dispatch.pxi, _record.pxi, _inplace.pxi, _sweep.pxi, _forward.pxi).

cdef enum:          # the kind of a node's value: which fast paths apply
    K_FLOAT = 0     # value is an exact Python float: the all-C fast path
    K_SCALAR = 1    # any other number (int, complex, numpy scalar) or an outer Tracked number
    K_ARRAY = 2     # ndarray, or an outer Tracked ndarray
    K_MULTI = 3     # the tuple of outputs of a multi-output rule

cdef enum:          # what a node is
    OP_LEAF = 0
    OP_LIN = 1
    OP_RULE = 2
    OP_PROJ = 3     # element k of a multi-output node
    OP_DUAL = 4     # a value of a forward-mode level: it carries its tangent, not a node of a tape
    OP_EW = 5       # an elementwise function (a ufunc with a derivative table): parents a, b, an EwRec
    OP_READ = 6     # one number read from an array, x[i] or x[i, j]: parent a, the index (ints) in ext
    OP_MATMUL = 7   # x @ y of float64 matrices and vectors: parents a, b, the plain (x, y) in ext
    OP_SUM = 8      # np.sum(x) or np.mean(x) of a float64 array, every element: parent a, the function in ext

cdef enum:          # what a sweep holds for a node (_Grads.state); 0: nothing yet
    G_DOUBLE = 1
    G_OBJECT = 2

cdef enum:          # the binary operators of _operators.pxi
    B_ADD = 0
    B_SUB = 1
    B_MUL = 2
    B_DIV = 3
    B_POW = 4
    B_MOD = 5

cdef enum:          # the C kernels of zygcy.math on floats (_scalarfn.pxi); 0: none
    KERNEL_SIN = 1
    KERNEL_COS = 2
    KERNEL_TAN = 3
    KERNEL_EXP = 4
    KERNEL_SQRT = 5
    KERNEL_TANH = 6
    KERNEL_SINH = 7
    KERNEL_COSH = 8
    KERNEL_ATAN = 9
    KERNEL_ASIN = 10
    KERNEL_ACOS = 11
    KERNEL_EXPM1 = 12
    KERNEL_LOG1P = 13
    KERNEL_LOG2 = 14
    KERNEL_LOG10 = 15
    KERNEL_ERF = 16
    KERNEL_ERFC = 17
    KERNEL_LOG = 18
cdef enum:          # the C partials of elementwise nodes on small float64 arrays (_kernels.pxi); 0: none
    EWK_CONST = 1   # a constant partial (the rule's number)
    EWK_ANS = 2     # ans (exp)
    EWK_X = 3       # x (multiply, in y)
    EWK_Y = 4       # y (multiply, in x)
    EWK_INV_Y = 5   # 1 / y (true_divide, in x)
    EWK_NEG_ANS_OVER_Y = 6   # -ans / y (true_divide, in y)
    EWK_ONE_MINUS_ANS2 = 7   # 1 - ans**2 (tanh)
    EWK_ONE_PLUS_ANS2 = 8    # 1 + ans**2 (tan)
    EWK_HALF_OVER_ANS = 9    # 0.5 / ans (sqrt)
    EWK_NEG_ANS2 = 10        # -ans * ans (reciprocal)
    EWK_TWO_X = 11           # 2 * x (square; power with exponent 2)
    EWK_INV_X = 12           # 1 / x (log)
    EWK_INV_ONE_PLUS_X = 13  # 1 / (1 + x) (log1p)
    EWK_ANS_PLUS_ONE = 14    # ans + 1 (expm1)
    EWK_INV_ONE_PLUS_X2 = 15 # 1 / (1 + x * x) (arctan)
    EWK_TWO_X_IF_SQUARE = 16 # 2 * x where the exponent y is the number 2 (power); else none
    EWK_MATMUL = 17          # matmul: recorded as an OP_MATMUL node (_record_matmul)
    EWK_SUM = 18             # np.sum, np.mean of every element: an OP_SUM node (_record_sum)


cdef class Tape:
    cdef readonly long id
    cdef list nodes          # every node recorded, in creation order (a topological order)
    cdef readonly bint active
    cdef dict moved          # id(leaf object) -> its leaf node, for leaves that were assigned into
    cdef readonly bint watching  # fingerprint the arrays it reads (a back is handed to user code)
    cdef list watched        # while recording: (weakref, user) of plain arrays the pullbacks may read
    cdef list prints         # after pop: (weakref, user, fingerprint) of those arrays, checked by backward
    cdef list user_pbs       # the pullbacks of user rules (@grad, hook): held here, where the collector sees them
    cdef list locked         # while recording: the plain arrays its sweep reads, made read-only until pop (_lock)
    cdef list unread         # while recording: elementwise nodes with large values their sweep does not read (_let_go_unreachable)
    cdef bint releasing      # _let_go_unreachable is running (code a freed value runs must not re-enter it)
    cdef readonly bint forward   # a forward-mode level: values carry tangents, nothing is recorded
    cdef bint swept          # a last sweep (backward(last=True)) has let go of the nodes
    cdef PyObject* pool[4]   # forward level: large arrays its values dropped, for its next results (_recycle)
    cdef int npool
    cdef bint recycling      # its values' deallocation goes through _tracked_dealloc (_recycling)
    cdef bint _holds(self, object x)


cdef class Rule:
    cdef readonly object fun
    cdef readonly tuple makers
    cdef readonly object joint_maker
    cdef readonly bint joint
    cdef readonly bint variadic
    cdef readonly tuple jvps     # forward mode: jvps[i](t, ans, *args, **kwargs), the tangent from argument i
    cdef readonly tuple partials # elementwise functions: partials[i](ans, *args) (or a number, or None)
    cdef readonly int reads      # which of (ans, x, y) partial k reads: bits 3k, 3k+1, 3k+2 (-1: all)
    cdef readonly bint ew_jvps   # jvps[i] is t * partials[i] (defelementwise's): forward mode applies the partials
    cdef readonly tuple batched  # batched[i](tb, ans, *args, **kwargs): jvps[i] for a batch of tangents (Batched)
    cdef readonly tuple kernels  # per argument: the C partial (EWK_*) that equals partials[i] on float64, 0: none
    cdef object maker(self, Py_ssize_t i)
    cdef object jvp(self, Py_ssize_t i)


cdef class Rec:
    # What a rule node (OP_RULE) or a projection (OP_PROJ) needs on the way back.
    cdef tuple parents
    cdef tuple argi          # per parent: the index of the argument it was
    cdef tuple elem          # per parent: its index in that argument (a list), or -1 for the whole argument
    cdef object pbs          # tuple of per-argument pullbacks, or one joint pullback
    cdef Py_ssize_t user     # >= 0: the joint pullback is the tape's user_pbs[user] instead
    cdef bint joint
    cdef Py_ssize_t nargs
    cdef object name         # the function, for error messages


cdef class EwRec:
    # What an elementwise node (OP_EW) needs on the way back: the partials and the arguments.
    cdef tuple partials
    cdef tuple args          # the plain arguments (one level down)
    cdef object fun
    cdef list kept           # sweeps that repeat (jacobian's rows): the partials, computed once
    cdef int k0, k1          # the rule's C partials of arguments 0 and 1 (EWK_*; 0: none)


cdef class Tracked:
    # What the user sees: the value (a plain number or ndarray, or a Tracked of an
    # outer differentiation when derivatives are nested).
    # The value is read through _tv(t) (_fv(t) as a C double for K_FLOAT), or the
    # Python property ``value``: a float of a forward level keeps it as the C double
    # db and leaves _v None until it is asked for as an object.
    cdef object _v
    cdef long tid            # id of the Tape this node was recorded on
    cdef char kind           # K_FLOAT, K_SCALAR, K_ARRAY or K_MULTI: which fast paths apply
    cdef char op             # OP_LEAF, OP_LIN, OP_RULE, OP_PROJ
    cdef bint fast           # OP_LIN: the partials are the C doubles da, db
    cdef Py_ssize_t pos      # index in the tape's node list
    cdef int uses            # how many elementwise nodes hold this one as their parent a or b
    # OP_LIN: y depends on parents a, b with (already conjugated) local partials,
    # C doubles in da, db, or Python objects in ext = (oa, ob).
    cdef Tracked a
    cdef Tracked b
    cdef double da
    cdef double db
    cdef object ext          # OP_LIN: (oa, ob); OP_RULE, OP_PROJ: a Rec; OP_EW: an EwRec; OP_READ: the index
    # OP_DUAL (forward mode): no parents; the tangent is the C double da when
    # ``fast``, else the object in ext (None: zero); pos is -1.
    # The gradients of a reverse sweep are kept by the sweep (_Grads), not here,
    # so that sweeps of one tape in several threads, or nested in a hook, are apart.


cdef class IndexGrad:
    cdef readonly tuple shape
    cdef readonly object dtype
    cdef readonly list entries   # [(index, value), ...] to be scatter-added
