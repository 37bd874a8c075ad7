# Operators on tracked numbers: + - * / ** % with the C-double fast path.
# Part of the zygcy._core extension module (included by _core.pyx).

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
        if top.forward:
            return _dual_arith(op, top, x, kx, xd, y, ky, yd)         # _forward.pxi
        return _arith(op, top, <Tracked>x if kx == 2 else None, xd, <Tracked>y if ky == 2 else None, yd)
    return _binary_slow(op, x, y)


cdef inline int _float_operand(object v, Tape top, double* d) except -1:
    """2: v is a float node of ``top``; 1: a float or int constant; 0: neither.
    Sets *d to its value."""
    if type(v) is Tracked:
        if (<Tracked>v).tid == top.id and (<Tracked>v).kind == K_FLOAT:
            d[0] = _fv(<Tracked>v)
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
    cdef double r, da, db
    _c_arith(op, xd, yd, &r, &da, &db)
    return _lin_fast(top, r, a, da, b, db)


cdef inline int _c_arith(int op, double xd, double yd, double* r, double* da, double* db) except -1:
    """*r = x op y for + - * / on C doubles (ZeroDivisionError for a zero divisor, as
    Python's floats), and its partials (_c_partials)."""
    if op == B_ADD:
        r[0] = xd + yd
    elif op == B_SUB:
        r[0] = xd - yd
    elif op == B_MUL:
        r[0] = xd * yd
    else:
        if yd == 0.0:
            raise ZeroDivisionError("float division by zero")
        r[0] = xd / yd
    return _c_partials(op, xd, yd, r[0], da, db)


cdef inline int _c_partials(int op, double xd, double yd, double r, double* da, double* db) except -1:
    """The partials of r = x op y in x (*da) and y (*db), for + - * / ** on C
    doubles (y != 0 for /)."""
    if op == B_ADD:
        da[0] = 1.0
        db[0] = 1.0
    elif op == B_SUB:
        da[0] = 1.0
        db[0] = -1.0
    elif op == B_MUL:
        da[0] = yd
        db[0] = xd
    elif op == B_DIV:
        da[0] = 1.0 / yd
        db[0] = -r / yd
    else:
        da[0] = (yd * c_pow(xd, yd - 1.0)) if yd != 0.0 else 0.0
        db[0] = _dpow_exponent(xd, r)
    return 0


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

    cdef object xv = _tv(a) if a is not None else x
    cdef object yv = _tv(b) if b is not None else y
    cdef double xd, yd, r, da, db
    if (op <= B_DIV
            and (PyFloat_CheckExact(xv) or (a is None and PyLong_CheckExact(xv)))
            and (PyFloat_CheckExact(yv) or (b is None and PyLong_CheckExact(yv)))):
        # Fast path: every value is a float (constants may be ints, converted
        # exactly as Python's float arithmetic converts them).
        xd = PyFloat_AS_DOUBLE(xv) if PyFloat_CheckExact(xv) else PyLong_AsDouble(xv)
        yd = PyFloat_AS_DOUBLE(yv) if PyFloat_CheckExact(yv) else PyLong_AsDouble(yv)
        return _arith(op, top, a, xd, b, yd)
    if (op <= B_POW and not top.forward and (type(xv) is _float64 or type(yv) is _float64)
            and _f64_operand(xv, a) and _f64_operand(yv, b)):
        r64 = _f64_arith(op, top, a, b, xv, yv)     # numbers read from float64 arrays
        if r64 is not None:
            return r64
    if op == B_POW and PyFloat_CheckExact(xv) and (PyFloat_CheckExact(yv) or PyLong_CheckExact(yv)):
        val = xv ** yv          # Python decides the value (and any complex result)
        if PyFloat_CheckExact(val):
            xd = PyFloat_AS_DOUBLE(xv)
            yd = PyFloat_AS_DOUBLE(yv) if PyFloat_CheckExact(yv) else PyLong_AsDouble(yv)
            r = PyFloat_AS_DOUBLE(val)
            _c_partials(B_POW, xd, yd, r, &da, &db)
            return _lin_fast(top, r, a, da, b, db)
    return _binary_generic(op, top, a, b, xv, yv)


cdef inline bint _f64_operand(object v, Tracked t):
    """v is a float or numpy float64 (or, as a constant, an int): its value is a C double."""
    return PyFloat_CheckExact(v) or type(v) is _float64 or (t is None and PyLong_CheckExact(v))


cdef object _f64_arith(int op, Tape top, Tracked a, Tracked b, object xv, object yv):
    """x op y where one operand is a numpy float64 (x[i] of a float64 array) on a
    reverse tape: numpy computes the value (its type, overflow and warnings as in
    plain code), the partials are C doubles, and the sweep takes the hot path.
    None where the partials need the general path (a zero divisor, a non-float64 result)."""
    cdef double xd = PyFloat_AS_DOUBLE(xv) if not PyLong_CheckExact(xv) else PyLong_AsDouble(xv)
    cdef double yd = PyFloat_AS_DOUBLE(yv) if not PyLong_CheckExact(yv) else PyLong_AsDouble(yv)
    cdef double r, da, db
    if op == B_DIV and yd == 0.0:
        return None
    val = _PLAIN_BINARY[op](xv, yv)
    if type(val) is not _float64:
        return None
    r = PyFloat_AS_DOUBLE(val)
    _c_partials(op, xd, yd, r, &da, &db)
    cdef Tracked n = _new_node(top, val, K_SCALAR, OP_LIN)
    n.fast = True
    n.a = a
    n.da = da
    n.b = b
    n.db = db
    return n


cdef object _one_like(object xv):
    """1 of the kind of number x is, for partials that must keep it (Fraction, Decimal)."""
    v = value(xv)
    if PyFloat_CheckExact(v) or PyLong_CheckExact(v) or type(v) is complex or isinstance(v, _generic):
        return 1
    return v * 0 + 1


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


cdef inline double _dpow_exponent(double xd, double r) noexcept:
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
            pa = _one_like(xv) / yv     # Fraction(1) / 3 stays exact; 1 / 3 would be a float
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
                pb = val * _rules_for().log(xv if (_is_complex(xv) or value(xv) > 0) else xv + 0j)
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
        rule = _rules.get(ufunc)
        if rule is not None and (<Rule>rule).partials:
            r = _record_elementwise(ufunc, <Rule>rule, (x, y))   # the common case, at once
            if r is not None:
                return r
        return _dispatch_ufunc(ufunc, "__call__", (x, y), {})
    if _stand_in(x) or _stand_in(y):
        # a Param: what it stands for now (its tracked leaf), as its own override
        # would substitute before calling the ufunc again
        a, b = _substituted((x, y))
        return _array_op(ufunc, a, b)
    if _defers(x) or _defers(y):
        # An operand that is no array to numpy but asks to go first (a scipy.sparse
        # matrix: __array_priority__ and no __array_ufunc__): numpy would treat it as a
        # 0-d object array and give a wrong result. Python asks its reflected operator.
        return NotImplemented
    return ufunc(x, y)


cdef inline bint _defers(object v):
    if type(v) is Tracked or isinstance(v, _ndarray):
        return False
    t = type(v)
    return hasattr(t, "__array_priority__") and getattr(t, "__array_ufunc__", None) is None


cdef inline bint _plain_operand(object v):
    # The numpy scalar check reads the type only: isinstance would also ask an
    # object that is no numpy scalar for its __class__, which on a Param (a
    # __getattribute__ written in Python) costs a Python call per operator.
    return (type(v) is Tracked or type(v) is _ndarray or PyFloat_CheckExact(v) or PyLong_CheckExact(v)
            or type(v) is complex or PyObject_TypeCheck(v, <PyTypeObject*>_generic))


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
        return _lin_fast(top, -_fv(x), x, -1.0, None, 0.0)
    return _lin_obj(top, -_tv(x), x, -1, None, None)


cdef object _absolute(Tracked x):
    cdef Tape top = _active(x)
    cdef double xd
    if top is None:
        return abs(_resolve(x))
    if x.kind == K_ARRAY:
        return np.absolute(x)
    if x.kind == K_FLOAT:
        xd = _fv(x)
        return _lin_fast(top, fabs(xd), x, 1.0 if xd > 0 else (-1.0 if xd < 0 else 0.0), None, 0.0)
    if _is_complex(x):
        return _rules_for().cabs(x)
    v = value(x)
    return _lin_obj(top, abs(_tv(x)), x, 1 if v > 0 else (-1 if v < 0 else 0), None, None)


cdef tuple _PLAIN_BINARY = (
    lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y,
    lambda x, y: x / y, lambda x, y: x ** y, lambda x, y: x % y)
