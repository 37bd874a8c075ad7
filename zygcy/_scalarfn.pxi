# zygcy.math and zygcy.cmath functions: C kernels for floats, rules otherwise.
# Part of the zygcy._core extension module (included by _core.pyx).

# ---------------------------------------------------------------------------
# Scalar functions (zygcy.math, zygcy.cmath): value and partials from a rule

# C kernels for the most used functions of zygcy.math: value and derivative of a
# float without a Python call (about 4x faster than calling the rule). The Python
# table in rules/scalar.py remains the definition; tests/rules/test_scalar.py checks that both
# paths agree bit for bit. Non-finite results fall back to the Python path, so
# errors (math domain error, overflow) and edge values are exactly math's.
cdef dict _KERNELS = {"sin": KERNEL_SIN, "cos": KERNEL_COS, "tan": KERNEL_TAN, "exp": KERNEL_EXP,
                      "sqrt": KERNEL_SQRT, "tanh": KERNEL_TANH, "sinh": KERNEL_SINH,
                      "cosh": KERNEL_COSH, "atan": KERNEL_ATAN, "asin": KERNEL_ASIN,
                      "acos": KERNEL_ACOS, "expm1": KERNEL_EXPM1, "log1p": KERNEL_LOG1P,
                      "log2": KERNEL_LOG2, "log10": KERNEL_LOG10, "erf": KERNEL_ERF,
                      "erfc": KERNEL_ERFC, "log": KERNEL_LOG}
cdef double _LN2 = c_log(2.0)
cdef double _LN10 = c_log(10.0)
cdef double _TWO_OVER_SQRT_PI = 2.0 / sqrt(M_PI)


@cython.cdivision(True)     # IEEE division (x / 0 -> inf), caught by the isfinite test below
cdef inline bint _kernel(int k, double x, double* y, double* d) noexcept nogil:
    if k == KERNEL_SIN:
        y[0] = sin(x); d[0] = cos(x)
    elif k == KERNEL_COS:
        y[0] = cos(x); d[0] = -sin(x)
    elif k == KERNEL_TAN:
        y[0] = tan(x); d[0] = 1.0 + y[0] * y[0]
    elif k == KERNEL_EXP:
        y[0] = exp(x); d[0] = y[0]
    elif k == KERNEL_SQRT:
        y[0] = sqrt(x); d[0] = 0.5 / y[0]
    elif k == KERNEL_TANH:
        y[0] = tanh(x); d[0] = 1.0 - y[0] * y[0]
    elif k == KERNEL_SINH:
        y[0] = sinh(x); d[0] = cosh(x)
    elif k == KERNEL_COSH:
        y[0] = cosh(x); d[0] = sinh(x)
    elif k == KERNEL_ATAN:
        y[0] = atan(x); d[0] = 1.0 / (1.0 + x * x)
    elif k == KERNEL_ASIN:
        y[0] = asin(x); d[0] = 1.0 / sqrt(1.0 - x * x)
    elif k == KERNEL_ACOS:
        y[0] = acos(x); d[0] = -1.0 / sqrt(1.0 - x * x)
    elif k == KERNEL_EXPM1:
        y[0] = expm1(x); d[0] = y[0] + 1.0
    elif k == KERNEL_LOG1P:
        y[0] = log1p(x); d[0] = 1.0 / (1.0 + x)
    elif k == KERNEL_LOG2:
        y[0] = log2(x); d[0] = 1.0 / (x * _LN2)
    elif k == KERNEL_LOG10:
        y[0] = log10(x); d[0] = 1.0 / (x * _LN10)
    elif k == KERNEL_ERF:
        y[0] = erf(x); d[0] = _TWO_OVER_SQRT_PI * exp(-x * x)
    elif k == KERNEL_ERFC:
        y[0] = erfc(x); d[0] = -_TWO_OVER_SQRT_PI * exp(-x * x)
    elif k == KERNEL_LOG:
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
        cdef double y = 0.0, d = 0.0
        if type(x) is not Tracked:
            return self.fun(x)
        if (self.kernel and _top is not None and (<Tracked>x).tid == _top.id
                and (<Tracked>x).kind == K_FLOAT
                and _kernel(self.kernel, _fv(<Tracked>x), &y, &d)):
            return _lin_fast(_top, y, <Tracked>x, d, None, 0.0)
        x = _resolve(x)
        if type(x) is not Tracked:
            return self.fun(x)
        cdef Tracked t = <Tracked>x
        cdef Tape top = _active(t)
        if t.kind == K_FLOAT:
            val = self.fun(_tv(t))
            dv = self.deriv(_tv(t), val)       # a Python object: it may be complex (cmath)
            if PyFloat_CheckExact(val) and PyFloat_CheckExact(dv):
                return _lin_fast(top, PyFloat_AS_DOUBLE(val), t, PyFloat_AS_DOUBLE(dv), None, 0.0)
            return _lin_obj(top, val, t, dv, None, None)
        if t.kind == K_ARRAY:
            raise TypeError(_messages.scalar_function_of_array(self.name))
        val = self(_tv(t))       # t.value may be tracked by an outer differentiation
        return _lin_obj(top, val, t, self.deriv(_tv(t), val), None, None)


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
            raise TypeError(_messages.scalar_function_of_array(self.name, plural=True))
        xv = _tv(a) if a is not None else x
        yv = _tv(b) if b is not None else y
        val = self(xv, yv)
        pa, pb = self.deriv(xv, yv, val)
        if (PyFloat_CheckExact(val) and (a is None or PyFloat_CheckExact(pa))
                and (b is None or PyFloat_CheckExact(pb))):
            return _lin_fast(top, PyFloat_AS_DOUBLE(val), a, PyFloat_AS_DOUBLE(pa) if a is not None else 0.0,
                             b, PyFloat_AS_DOUBLE(pb) if b is not None else 0.0)
        return _lin_obj(top, val, a, pa, b, pb)
