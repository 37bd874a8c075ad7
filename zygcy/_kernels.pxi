# C partials of elementwise nodes on small float64 arrays.
# Part of the zygcy._core extension module (included by _core.pyx).

# ---------------------------------------------------------------------------
# On a 4-element array numpy spends about a microsecond in each call deciding
# what to do (types, overrides, the loop to run) and a few nanoseconds doing it.
# The sweep of an elementwise node makes two or three such calls (the partial,
# the product with g, the sum into the parent's gradient), which is most of the
# engine's cost on code of many small operations. For the most used ufuncs the
# partial is arithmetic on ans, x and y, and the sweep computes g * partial here
# in one C loop instead, with the same IEEE operations in the same order as the
# rule's numpy expression, so that the cotangent is the same to the bit.
#
# The rule table in rules/ufuncs.py remains the definition: it opts in, ufunc by
# ufunc, with use_kernels(); registering a rule again (defelementwise) drops the
# kernels, so that a user's rule is never shadowed by zygcy's C. tests/rules/
# test_kernels.py checks every kernel against its rule's partial, on arrays that
# take this path and on arrays that do not. Only plain, aligned, C-contiguous
# float64 arrays of at most _SMALL_MAX elements, of the cotangent's shape, take
# it (a number stands for a constant operand); a non-finite partial falls back
# to numpy's path, so infinities and NaN behave as the rule's, warnings included.
# Larger arrays take loops of their own (_ew_fused, below), in the sweep and in
# forward mode.

# the small path's limit; larger arrays take the fused loops below. The debug build
# stops it at 8 elements, so that CI's generated programs (up to 200 elements) run
# the fused loops too, in blocks of 8 (_EW_BLOCK_LEN).
cdef Py_ssize_t _SMALL_MAX = 8 if ZYGCY_DEBUG_BUILD else 256

cdef dict _EW_KERNELS = {
    np.multiply: (EWK_Y, EWK_X),
    np.true_divide: (EWK_INV_Y, EWK_NEG_ANS_OVER_Y),
    np.power: (EWK_TWO_X_IF_SQUARE, 0),
    np.square: (EWK_TWO_X,),
    np.reciprocal: (EWK_NEG_ANS2,),
    np.sqrt: (EWK_HALF_OVER_ANS,),
    np.exp: (EWK_ANS,),
    np.expm1: (EWK_ANS_PLUS_ONE,),
    np.log: (EWK_INV_X,),
    np.log1p: (EWK_INV_ONE_PLUS_X,),
    np.tan: (EWK_ONE_PLUS_ANS2,),
    np.arctan: (EWK_INV_ONE_PLUS_X2,),
    np.tanh: (EWK_ONE_MINUS_ANS2,),
    np.matmul: (EWK_MATMUL, EWK_MATMUL),      # not elementwise: an OP_MATMUL node (below)
    np.sum: (EWK_SUM,),                       # not elementwise: an OP_SUM node (_record_sum, _sum_sweep)
    np.mean: (EWK_SUM,),
}


def kernel_table():
    """The functions the engine has C paths for, each with its per-argument kernels
    (EWK_*; 0: none), whether or not the rule registered now uses them."""
    return dict(_EW_KERNELS)


def use_kernels(*funs):
    """Let the sweep compute the partials of the rules registered now for ``funs``
    (ufuncs) with the engine's C formulas on small float64 arrays, record np.matmul
    of float64 matrices as OP_MATMUL nodes and np.sum, np.mean of a whole float64
    array as OP_SUM nodes. Called by zygcy.rules.ufuncs, zygcy.rules.contractions
    and zygcy.rules.reductions for their own tables, which the formulas equal."""
    cdef Rule rule
    for fun in funs:
        rule = _rules.get(fun)
        if rule is None or fun not in _EW_KERNELS \
                or not (rule.partials or _EW_KERNELS[fun][0] == EWK_MATMUL or _EW_KERNELS[fun][0] == EWK_SUM):
            raise ValueError("use_kernels: %r has no elementwise rule or no C partial" % (fun,))
        rule.kernels = _EW_KERNELS[fun]


@cython.cdivision(True)     # IEEE division: a zero divisor gives inf, caught by the caller's isfinite
cdef inline double _ew_partial(int k, double a, double x, double y) noexcept nogil:
    """Partial k at one element (ans a, arguments x, y), written as the rule writes it."""
    if k == EWK_Y:
        return y
    if k == EWK_X:
        return x
    if k == EWK_INV_Y:
        return 1.0 / y
    if k == EWK_NEG_ANS_OVER_Y:
        return (-a) / y
    if k == EWK_TWO_X or k == EWK_TWO_X_IF_SQUARE:
        return 2.0 * x
    if k == EWK_NEG_ANS2:
        return (-a) * a
    if k == EWK_HALF_OVER_ANS:
        return 0.5 / a
    if k == EWK_ANS:
        return a
    if k == EWK_ANS_PLUS_ONE:
        return a + 1.0
    if k == EWK_INV_X:
        return 1.0 / x
    if k == EWK_INV_ONE_PLUS_X:
        return 1.0 / (1.0 + x)
    if k == EWK_ONE_PLUS_ANS2:
        return 1.0 + a * a
    if k == EWK_INV_ONE_PLUS_X2:
        return 1.0 / (1.0 + x * x)
    if k == EWK_ONE_MINUS_ANS2:
        return 1.0 - a * a
    return y        # EWK_CONST: the constant is passed as y


cdef enum:                  # what partial k reads (_ew_reads)
    _READS_ANS = 1
    _READS_X = 2
    _READS_Y = 4


cdef inline int _ew_reads(int k) noexcept nogil:
    """Which of ans, x, y partial k reads (_READS_* bits)."""
    if k == EWK_ANS or k == EWK_NEG_ANS2 or k == EWK_HALF_OVER_ANS or k == EWK_ANS_PLUS_ONE \
            or k == EWK_ONE_PLUS_ANS2 or k == EWK_ONE_MINUS_ANS2:
        return _READS_ANS
    if k == EWK_NEG_ANS_OVER_Y:
        return _READS_ANS | _READS_Y
    if k == EWK_X or k == EWK_TWO_X or k == EWK_TWO_X_IF_SQUARE or k == EWK_INV_X \
            or k == EWK_INV_ONE_PLUS_X or k == EWK_INV_ONE_PLUS_X2:
        return _READS_X
    if k == EWK_Y or k == EWK_INV_Y:
        return _READS_Y
    return 0


cdef inline bint _squares(object y) noexcept:
    """y is the exponent 2 (a Python number): EWK_TWO_X_IF_SQUARE's partial is 2 * x."""
    return (PyFloat_CheckExact(y) or PyLong_CheckExact(y)) and y == 2


cdef inline bint _plain_f64(object a) noexcept:
    """a is a plain ndarray of float64, aligned, C-contiguous, in native byte order."""
    return (type(a) is _ndarray and cnp.PyArray_TYPE(<cnp.ndarray>a) == cnp.NPY_DOUBLE
            and cnp.PyArray_ISCARRAY_RO(<cnp.ndarray>a) and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>a))


cdef inline double* _f64_data(object a) noexcept:
    return <double*>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline bint _small_f64(object g) noexcept:
    """g is a plain float64 array (_plain_f64) of at most _SMALL_MAX elements."""
    return _plain_f64(g) and _asize(g) <= _SMALL_MAX


cdef inline bint _operand(object v, object g, double** p, Py_ssize_t* step, double* d):
    """Point *p at the elements of operand v (step 1), or at *d for a number (step
    0): a float64 array of g's shape, a float, or an int a double holds exactly."""
    if type(v) is _ndarray:
        if not (_plain_f64(v) and _same_shape(v, g)):
            return False
        p[0] = <double*>cnp.PyArray_DATA(<cnp.ndarray>v)
        step[0] = 1
        return True
    if PyFloat_Check(v):            # float, numpy float64
        d[0] = PyFloat_AS_DOUBLE(v)
    elif PyLong_CheckExact(v) and -(1 << 53) <= v <= (1 << 53):
        d[0] = <double><long long>v
    else:
        return False
    p[0] = d
    step[0] = 0
    return True


cdef object _ew_small(int k, double c, object ans, object x, object y, object g):
    """g * partial k (c: the constant of EWK_CONST) as a new array, for g a small
    float64 array (_small_f64) of the parent's shape; None where an operand is not
    one this path takes, or a partial is not finite (numpy's path decides then)."""
    cdef double da = 0.0, dx = 0.0, dy = c
    cdef double* pa = &da
    cdef double* px = &dx
    cdef double* py = &dy
    cdef Py_ssize_t sa = 0, sx = 0, sy = 0, i, n = _asize(g)
    cdef int reads = _ew_reads(k)
    if reads & _READS_ANS and not _operand(ans, g, &pa, &sa, &da):
        return None
    if reads & _READS_X and not _operand(x, g, &px, &sx, &dx):
        return None
    if reads & _READS_Y and not _operand(y, g, &py, &sy, &dy):
        return None
    if k == EWK_TWO_X_IF_SQUARE and not _squares(y):
        return None         # x ** 2 only: the rule's other exponents take numpy's path
    cdef object out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>g), cnp.PyArray_DIMS(<cnp.ndarray>g),
                                        cnp.NPY_DOUBLE, 0)
    cdef double* po = <double*>cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef double* pg = <double*>cnp.PyArray_DATA(<cnp.ndarray>g)
    cdef double d
    cdef bint finite = True
    for i in range(n):
        d = _ew_partial(k, pa[i * sa], px[i * sx], py[i * sy])
        finite = finite and isfinite(d)
        po[i] = pg[i] * d
    return out if finite else None


cdef inline bint _small_add_into(object acc, object v) noexcept:
    """acc += v in one C loop, where both are small float64 arrays of one shape
    (acc this sweep's own buffer); False where numpy must do it."""
    cdef Py_ssize_t i, n
    cdef double* pa
    cdef double* pv
    if not (_small_f64(acc) and _plain_f64(v) and _same_shape(acc, v)
            and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>acc)):
        return False
    n = _asize(acc)
    pa = <double*>cnp.PyArray_DATA(<cnp.ndarray>acc)
    pv = <double*>cnp.PyArray_DATA(<cnp.ndarray>v)
    for i in range(n):
        pa[i] = pa[i] + pv[i]
    return True


# ---------------------------------------------------------------------------
# The same partials on large float64 arrays, fused with the product. numpy
# computes tanh's g * (1 - ans**2) in three passes over memory (ans * ans,
# 1 - that, g * that) and needs a temporary; one C loop reads g and ans once and
# writes once. A loop with the choice of formula inside it runs element by
# element (2-3 ms on 10^6 elements, against numpy's 4-5 ms); the same loop
# compiled once per formula, which _ew_run below gets by calling an inline loop
# with each EWK_* as a literal, is vectorized by the C compiler (1.1-1.5 ms).
# (The block loop calls _ew_run per block: gcc does not inline it per formula.)
# The operations are those of _ew_partial, in the rule's order: the same bits as
# numpy's path (the build does not contract a * b + c into one rounding, see
# setup.py). Only the formulas that cost numpy passes of their own take it
# (_ew_computed); x * y and exp's g * ans are one numpy pass already.
#
# A result that is not finite anywhere hands the work back to numpy, which then
# gives its warnings: an out-of-place loop's array is dropped; a loop writing
# into g (the reverse sweep's own buffer) works through blocks held on the
# stack and stops before the first block with a non-finite element, which it
# has not written, and numpy does the rest of the array (_ew_cotangent).
# arctan's 1 / (1 + x * x) also stops on an infinite x * x, whose finite
# result (0) numpy computes with an overflow warning.

cdef enum:
    _EW_BLOCK = 512         # elements of a stack block (4 KiB)

cdef Py_ssize_t _EW_BLOCK_LEN = 8 if ZYGCY_DEBUG_BUILD else _EW_BLOCK    # the elements of a block used


cdef inline bint _ew_computed(int k) noexcept nogil:
    """Partial k costs numpy a pass of its own (not an operand itself: x, y, ans)."""
    return EWK_INV_Y <= k <= EWK_TWO_X_IF_SQUARE


@cython.cdivision(True)
cdef inline bint _ew_direct(int k, Py_ssize_t n, double* o, double* g, double* a, double* x,
                            double* y) noexcept nogil:
    """o = g * partial k, elementwise; True when every element is finite."""
    cdef Py_ssize_t i
    cdef double r, q
    cdef double s = 0.0     # a sum of r - r: 0 for a finite r, NaN for an infinite or NaN one
    for i in range(n):      # (a sum, in any order, is NaN if a term is; gcc vectorizes it, not a flag's or)
        r = g[i] * _ew_partial(k, a[i], x[i], y[i])
        s = s + (r - r)
        if k == EWK_INV_ONE_PLUS_X2:
            q = x[i] * x[i]
            s = s + (q - q)
        o[i] = r
    return s == 0.0


cdef bint _ew_run(int k, Py_ssize_t n, double* o, double* g, double* a, double* x, double* y) noexcept nogil:
    """_ew_direct compiled for each k (its literal here): True when all is finite."""
    if k == EWK_ONE_MINUS_ANS2:
        return _ew_direct(EWK_ONE_MINUS_ANS2, n, o, g, a, x, y)
    if k == EWK_TWO_X:
        return _ew_direct(EWK_TWO_X, n, o, g, a, x, y)
    if k == EWK_INV_Y:
        return _ew_direct(EWK_INV_Y, n, o, g, a, x, y)
    if k == EWK_NEG_ANS_OVER_Y:
        return _ew_direct(EWK_NEG_ANS_OVER_Y, n, o, g, a, x, y)
    if k == EWK_ONE_PLUS_ANS2:
        return _ew_direct(EWK_ONE_PLUS_ANS2, n, o, g, a, x, y)
    if k == EWK_HALF_OVER_ANS:
        return _ew_direct(EWK_HALF_OVER_ANS, n, o, g, a, x, y)
    if k == EWK_NEG_ANS2:
        return _ew_direct(EWK_NEG_ANS2, n, o, g, a, x, y)
    if k == EWK_INV_X:
        return _ew_direct(EWK_INV_X, n, o, g, a, x, y)
    if k == EWK_INV_ONE_PLUS_X:
        return _ew_direct(EWK_INV_ONE_PLUS_X, n, o, g, a, x, y)
    if k == EWK_ANS_PLUS_ONE:
        return _ew_direct(EWK_ANS_PLUS_ONE, n, o, g, a, x, y)
    if k == EWK_INV_ONE_PLUS_X2:
        return _ew_direct(EWK_INV_ONE_PLUS_X2, n, o, g, a, x, y)
    return False        # no loop for k (the caller checks _ew_computed): numpy's path


cdef Py_ssize_t _ew_blocks(int k, Py_ssize_t n, double* o, double* g, double* a, double* x,
                           double* y) noexcept nogil:
    """_ew_run block by block through a stack buffer (o may be g): the number of
    leading elements written, n unless a block held a non-finite element."""
    cdef double buf[_EW_BLOCK]
    cdef Py_ssize_t j = 0, m
    while j < n:
        m = n - j if n - j < _EW_BLOCK_LEN else _EW_BLOCK_LEN
        if not _ew_run(k, m, buf, g + j, a + j, x + j, y + j):
            return j
        memcpy(o + j, buf, m * sizeof(double))
        j += m
    return n


cdef int _ew_large(int k, object ans, object x, object y, object g, double** p) noexcept:
    """The kernel to run for g * partial k on large arrays (TWO_X for x ** 2), with
    p[0..3] pointing at g, ans, x, y (g where the formula does not read one); 0
    where this path does not apply: g not a plain float64 array (_plain_f64) of
    more than _SMALL_MAX elements and of ans's shape, an array operand not such
    an array of that shape, or an operand the formula reads not an array."""
    if not _ew_computed(k):
        return 0
    if k == EWK_TWO_X_IF_SQUARE:
        if not _squares(y):
            return 0        # other exponents: the rule's numpy expression
        k = EWK_TWO_X
    if not (_plain_f64(g) and _asize(g) > _SMALL_MAX and type(ans) is _ndarray and _same_shape(ans, g)):
        return 0
    cdef int reads = _ew_reads(k)
    p[0] = _f64_data(g)
    if not (_large_operand(ans, g, reads & _READS_ANS, &p[1]) and _large_operand(x, g, reads & _READS_X, &p[2])
            and _large_operand(y, g, reads & _READS_Y, &p[3])):
        return 0
    return k


cdef inline bint _large_operand(object v, object g, bint read, double** p) noexcept:
    """Point *p at v's elements (an array of g's shape, _plain_f64), or at g's where
    v is a number the formula does not read; False for anything else."""
    if type(v) is _ndarray:
        if not (_plain_f64(v) and _same_shape(v, g)):
            return False
        p[0] = _f64_data(v)
        return True
    p[0] = _f64_data(g)
    return not read


cdef object _ew_fused(int k, object ans, object x, object y, object g):
    """g * partial k (partial k of f(x[, y]) = ans) in one C loop, as a new array
    (a recycled one on a forward level); None where _ew_large does not apply or
    an element is not finite (numpy's path decides, warnings included)."""
    cdef double* p[4]
    k = _ew_large(k, ans, x, y, g, p)
    if not k:
        return None
    out = _pooled(g)
    if out is None:
        out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>g), cnp.PyArray_DIMS(<cnp.ndarray>g),
                                cnp.NPY_DOUBLE, 0)
    cdef Py_ssize_t n = _asize(g)
    cdef bint done
    cdef double* o = _f64_data(out)
    with nogil:
        done = _ew_run(k, n, o, p[0], p[1], p[2], p[3])
    if done:
        return out
    _give(out)
    return None


cdef Py_ssize_t _ew_fused_into(int k, object ans, object x, object y, object g) noexcept:
    """g *= partial k in one C loop, in blocks: the number of leading elements of
    g (in C order) that now hold the product, the rest untouched (n: all); -1
    where _ew_large does not apply (g untouched)."""
    cdef double* p[4]
    k = _ew_large(k, ans, x, y, g, p)
    if not k or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>g):
        return -1
    cdef Py_ssize_t n = _asize(g), done
    with nogil:
        done = _ew_blocks(k, n, p[0], p[0], p[1], p[2], p[3])
    return done


# ---------------------------------------------------------------------------
# np.sum(x), np.mean(x) of every element of a float64 array (OP_SUM nodes,
# _record_sum): the cotangent of x, filled in C.

cdef Py_ssize_t _SUM_FILL_MAX = 1 << 15     # rules/shape.py's _VIEW_FROM: from there on, a broadcast view


cdef int _sum_sweep(_Grads G, Tracked n) except -1:
    """Send the cotangent of n = np.sum(x) or np.mean(x) (an OP_SUM node) to x: an
    array of x's shape filled with g (mean: g / x.size), as the rule's pullback
    makes it (expand, rules/shape.py), in one C loop; any other cotangent than a
    number, or an array of _SUM_FILL_MAX elements or more, goes to the rule's
    pullback itself."""
    cdef Py_ssize_t i = G._index(n), k, m
    cdef double c
    cdef double* o
    cdef Tracked p = n.a
    xv = _tv(p)
    m = _asize(xv)
    if G.state[i] == 0:
        return 0
    if m >= _SUM_FILL_MAX or not (G.state[i] == G_DOUBLE or type(G.go[i]) is float
                                  or type(G.go[i]) is _np_float64):
        rule = _rules.get(n.ext)
        G.add_object(p, (<Rule>rule).maker(0)(_tv(n), xv)(G.take(n)))
        return 0
    c = G.gd[i] if G.state[i] == G_DOUBLE else PyFloat_AS_DOUBLE(G.go[i])
    if n.ext is _np_mean:
        c = c / <double>m        # divided before it is spread, as _mean_adjoint does
    out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>xv), cnp.PyArray_DIMS(<cnp.ndarray>xv), cnp.NPY_DOUBLE, 0)
    o = _f64_data(out)
    for k in range(m):
        o[k] = c
    G.add_cotangent(p, out, True, False)
    return 0


# ---------------------------------------------------------------------------
# matmul of float64 matrices and vectors (OP_MATMUL nodes, _record_matmul): the
# cotangents g @ y.T and x.T @ g (an outer product where an operand is a vector),
# as the rule in rules/contractions.py writes them (_matmul_2d). Up to _MM_SMALL
# elements of an outer product, or _MM_SMALL_SUM multiply-adds of sums of
# products, they are computed here and added straight into the sweep's buffer of
# the parent (the RNN's W @ h: no temporary, no numpy call); above, numpy's
# matmul computes them (BLAS), without the rule's closures.

cdef Py_ssize_t _MM_SMALL = 1 << 12         # an outer product (one term per element): by callgrind the loop beats numpy's call up to here
cdef Py_ssize_t _MM_SMALL_SUM = 1 << 9      # sums of products: the loop's strided reads cost more, BLAS wins sooner


cdef void _gemm(double* out, bint add, Py_ssize_t I, Py_ssize_t L, Py_ssize_t J,
                double* P, Py_ssize_t pi, Py_ssize_t pl, double* Q, Py_ssize_t ql, Py_ssize_t qj) noexcept nogil:
    """out[i, j] (+)= sum over l of P[i, l] * Q[l, j], with the strides (in elements)
    given; out is C-contiguous (I, J). Pointers step through the operands (no index
    products: about a third of the instructions, by callgrind on the MLP)."""
    cdef Py_ssize_t i, j, l
    cdef double s, a
    cdef double* o = out
    cdef double* pp
    cdef double* qp
    for i in range(I):
        if L == 1:              # an outer product: one term per element
            a = P[i * pi]
            qp = Q
            for j in range(J):
                if add:
                    o[j] = o[j] + a * qp[0]
                else:
                    o[j] = a * qp[0]
                qp += qj
        else:
            for j in range(J):
                pp = P + i * pi
                qp = Q + j * qj
                s = 0.0
                for l in range(L):
                    s = s + pp[0] * qp[0]
                    pp += pl
                    qp += ql
                if add:
                    o[j] = o[j] + s
                else:
                    o[j] = s
        o += J


cdef int _matmul_sweep(_Grads G, Tracked n, object g) except -1:
    """Send the cotangent g of n = x @ y to n's parents (an OP_MATMUL node)."""
    cdef tuple xy = <tuple>n.ext
    cdef object x = xy[0], y = xy[1], ans = _tv(n)
    if not (type(g) is _ndarray and type(ans) is _ndarray and _same_shape(g, ans)):
        return _matmul_by_rule(G, n, g, ans, x, y)       # a tracked g (a sweep recorded again), ...
    if not _plain_f64(g):
        if _dtype_kind(g) not in (c'b', c'i', c'u', c'f'):
            return _matmul_by_rule(G, n, g, ans, x, y)
        g = np.ascontiguousarray(g, dtype=np.float64)       # a broadcast view, an integer seed
    if n.a is not None:
        _matmul_into(G, n.a, 0, g, x, y)
    if n.b is not None:
        _matmul_into(G, n.b, 1, g, x, y)
    return 0


cdef int _matmul_by_rule(_Grads G, Tracked n, object g, object ans, object x, object y) except -1:
    """The cotangents from the pullbacks of the rule registered for matmul now
    (made as a rule node's are, _make_pullbacks: a joint rule given since included)."""
    cdef Rule rule = _rules.get(_np_matmul)
    cdef list argi = ([0] if n.a is not None else []) + ([1] if n.b is not None else [])
    pbs = _make_pullbacks(_np_matmul, rule, ans, [x, y], {}, argi)
    cts = pbs(g) if rule.joint else [None if pb is None else pb(g) for pb in pbs]
    if n.a is not None:
        G.add_object(n.a, cts[0])
    if n.b is not None:
        G.add_object(n.b, cts[1])
    return 0


cdef int _matmul_into(_Grads G, Tracked p, int which, object g, object x, object y) except -1:
    cdef int nx = cnp.PyArray_NDIM(<cnp.ndarray>x), ny = cnp.PyArray_NDIM(<cnp.ndarray>y)
    cdef Py_ssize_t m, k, c, I, L, J, pi, pl, ql, qj, j
    cdef double* P
    cdef double* Q
    cdef double* gd = <double*>cnp.PyArray_DATA(<cnp.ndarray>g)
    cdef double* xd = <double*>cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef double* yd = <double*>cnp.PyArray_DATA(<cnp.ndarray>y)
    # x (m, k) or (k,), y (k, c) or (k,); g (m, c), (m,) or (c,)
    k = cnp.PyArray_DIMS(<cnp.ndarray>x)[nx - 1]
    m = cnp.PyArray_DIMS(<cnp.ndarray>x)[0] if nx == 2 else 1
    c = cnp.PyArray_DIMS(<cnp.ndarray>y)[1] if ny == 2 else 1
    if which == 0:          # g @ y.T (y 2-d), g outer y (y a vector): shape of x
        I, L, J = m, c, k
        P, pi, pl = gd, c, 1
        Q, ql, qj = yd, 1, c
    else:                   # x.T @ g (x 2-d), x outer g (x a vector): shape of y
        I, L, J = k, m, c
        P, pi, pl = xd, 1, k
        Q, ql, qj = gd, c, 1
    cdef object pv = _tv(p)
    cdef object acc
    if I * L * J <= (_MM_SMALL if L == 1 else _MM_SMALL_SUM):
        j = G._index(p)
        if G.state[j] == G_OBJECT and G.own[j] and not G.lent[j]:
            acc = G.go[j]
            if (acc is not g and _plain_f64(acc) and _same_shape(acc, pv)
                    and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>acc)):
                _gemm(<double*>cnp.PyArray_DATA(<cnp.ndarray>acc), True, I, L, J, P, pi, pl, Q, ql, qj)
                return 0
        acc = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>pv), cnp.PyArray_DIMS(<cnp.ndarray>pv),
                                cnp.NPY_DOUBLE, 0)
        _gemm(<double*>cnp.PyArray_DATA(<cnp.ndarray>acc), False, I, L, J, P, pi, pl, Q, ql, qj)
        return G.add_cotangent(p, acc, True, False)
    # numpy, as the rule writes it
    if which == 0:
        ct = (g @ y.T if nx == 2 else y @ g) if ny == 2 else g[:, None] * y
    else:
        ct = (x.T @ g if ny == 2 else g @ x) if nx == 2 else x[:, None] * g
    return G.add_cotangent(p, ct, True, False)
