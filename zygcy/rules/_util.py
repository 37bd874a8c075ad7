"""The helpers every rule family shares, each written once.

Plain functions only (no rules are registered here): reading shapes, axes and
complexness off possibly tracked values, undoing broadcasting, conjugating
only what is complex, and the few constants of the derivative tables. It also
turns a table of partial derivatives into pullback makers and forward rules
(``elementwise_rule``, behind ``zygcy.extend.defelementwise``), which the numpy
ufuncs and scipy.special share.

Everything here is differentiable again where it touches a cotangent: numpy
functions and operators, never ``np.asarray``; ``value(x)`` only for shapes,
dtypes and masks.
"""
import math

import numpy as np

from .._core import batch_aligned, value  # noqa: F401  (batch_aligned: for the batched rules)

try:
    from numpy.lib.array_utils import normalize_axis_tuple
except ImportError:             # numpy < 2
    from numpy.core.numeric import normalize_axis_tuple

__all__ = ["unbroadcast", "unbroadcast_to", "balanced_eq", "shape_of", "ndim_of", "axis_of",
           "axes_of", "reduced_axes", "kept_shape", "normalize_axis_tuple", "is_complex", "conj",
           "H", "real_if_complex", "nonzero", "no_gradient", "identity", "none_maker",
           "zero_jvp", "elementwise_rule", "LN2", "LN10", "DEG", "SQRT_PI", "SQRT_2PI", "TWO_OVER_SQRT_PI",
           "NUMPY2"]

NUMPY2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"

# Constants of the derivative tables (Python floats: they keep a float32 array
# float32 and a Python number a Python number).
LN2 = math.log(2.0)
LN10 = math.log(10.0)
DEG = math.pi / 180.0                   # d radians / d degrees
SQRT_PI = math.sqrt(math.pi)
SQRT_2PI = math.sqrt(2.0 * math.pi)
TWO_OVER_SQRT_PI = 2.0 / SQRT_PI        # d erf(x) / dx at 0


# ---------------------------------------------------------------------------
# Broadcasting: the one place it is undone

_add_reduce = np.add.reduce


def unbroadcast_to(shape, g):
    """Sum the cotangent g over the axes that broadcasting added to reach its shape.

    The one place broadcasting is undone: every elementwise rule ends with it.
    """
    shape = tuple(shape)
    if type(g) is np.ndarray:           # the common case, without numpy's function wrappers
        if g.shape == shape:
            return g
        extra = g.ndim - len(shape)
        if extra >= 0:
            axes = tuple(range(extra))      # the leading axes broadcasting added
            if 1 in shape:                  # and the axes it stretched from 1
                axes += tuple(extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1)
            return _add_reduce(g, axis=axes).reshape(shape)
    gshape = shape_of(g)
    if gshape == shape:
        return g
    extra = len(gshape) - len(shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(extra)))
        gshape = gshape[extra:]
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and gshape[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    return g


def unbroadcast(x, g):
    """g reduced to the shape of x; a number or 0-d input gets a 0-d/scalar result."""
    if type(x) is np.ndarray and type(g) is np.ndarray and x.shape == g.shape:
        return g                        # the common case: nothing was broadcast
    xv = value(x)
    if isinstance(xv, np.ndarray):
        return unbroadcast_to(xv.shape, g)
    return unbroadcast_to((), g)


def balanced_eq(x, z, y):
    """Where several inputs tie for a max/min, share the gradient equally (as autograd)."""
    return (value(x) == value(z)) / (1.0 + (value(x) == value(y)))


# ---------------------------------------------------------------------------
# Shapes and axes

def shape_of(x):
    """The shape of a possibly tracked value."""
    v = value(x)
    return v.shape if type(v) is np.ndarray else np.shape(v)


def ndim_of(x):
    """The number of dimensions of a possibly tracked value."""
    v = value(x)
    return v.ndim if type(v) is np.ndarray else np.ndim(v)


def axis_of(axis, ndim):
    """One axis as a non-negative int (``ndim`` itself is allowed: an insertion point)."""
    return axis + ndim if axis < 0 else axis


def axes_of(axis, ndim):
    """Axes (None, an int or a sequence) as a tuple of non-negative ints in the order
    given; None is every axis."""
    if axis is None:
        return tuple(range(ndim))
    return normalize_axis_tuple(axis, ndim)


def reduced_axes(axis, ndim):
    """The axes a reduction over ``axis`` removes, sorted (None: all of them)."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(axes_of(axis, ndim)))


def kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` kept as 1s (what keepdims=True gives)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# ---------------------------------------------------------------------------
# Batches of tangents (zygcy.extend.defbatched): the batch axis is axis 0

def batch_axes(axis, ndim):
    """The axes of a batch of tangents (each of ``ndim`` axes) that are ``axis`` (None:
    all) of one direction."""
    return tuple(a + 1 for a in axes_of(axis, ndim))


# ---------------------------------------------------------------------------
# Complex values

def is_complex(x):
    """True if x (tracked or plain, a number, an array or a list of them) is complex."""
    v = value(x)
    t = type(v)
    if t is np.ndarray:                 # the common case, without np.iscomplexobj's overhead
        return v.dtype.kind == "c"
    if t is float or t is int or t is bool:
        return False
    if t is complex:
        return True
    if isinstance(v, np.generic):
        return v.dtype.kind == "c"
    if t is list or t is tuple:
        return any(is_complex(e) for e in v)
    return np.iscomplexobj(v)


def conj(x):
    """conj(x) for complex x; x itself otherwise (no copy, no node)."""
    return np.conjugate(x) if is_complex(x) else x


def H(x):
    """The conjugate transpose of the last two axes."""
    return conj(np.swapaxes(x, -1, -2))


def real_if_complex(g):
    """The real part of a cotangent arriving at a real value (its imaginary part
    corresponds to no direction of a real input); g itself if it is real."""
    return np.real(g) if is_complex(g) else g


def nonzero(x):
    """x with its exact zeros replaced by 1, to divide by (a mask add: differentiable)."""
    return x + (value(x) == 0)


# ---------------------------------------------------------------------------
# Makers for arguments without a derivative, and for tables of derivatives

def no_gradient(g):
    """The pullback of an argument without a derivative: no cotangent."""
    return None


def identity(g):
    """The pullback of a function that returns its argument (x[()] of a scalar)."""
    return g


def none_maker(ans, *args, **kwargs):
    """The maker for arguments that carry no derivative (indices, conditions)."""
    return no_gradient


def zero_jvp(t, ans, *args, **kwargs):
    """The forward rule of an argument that carries no derivative: no tangent."""
    return None


# ---------------------------------------------------------------------------
# Elementwise functions given by their partials (zygcy.extend.defelementwise)

def elementwise_rule(partials):
    """The makers and forward rules of an elementwise f whose partial in argument i
    is ``partials[i]``: a function of (ans, *args), a number (a constant partial:
    1.0 for a sum), or None (no derivative: no cotangent, no tangent)."""
    return ([_elementwise_maker(p, i) for i, p in enumerate(partials)],
            [_elementwise_jvp(p) for p in partials])


def _elementwise_maker(partial, which):
    if partial is None:
        return none_maker
    if isinstance(partial, (int, float)):
        def constant_maker(ans, *args, **kwargs):
            arg = args[which]

            def elementwise_pullback(g):
                # as the engine does: no multiplication by 1 or -1 (an integer g stays one)
                return unbroadcast(arg, g if partial == 1 else (-g if partial == -1 else g * partial))
            return elementwise_pullback
        return constant_maker

    def elementwise_maker(ans, *args, **kwargs):
        arg = args[which]

        def elementwise_pullback(g):
            return unbroadcast(arg, g * conj(partial(ans, *args)))
        return elementwise_pullback
    return elementwise_maker


def _elementwise_jvp(partial):
    if partial is None:
        return zero_jvp
    if isinstance(partial, (int, float)):
        def constant_jvp(t, ans, *args, **kwargs):
            return t if partial == 1 else (-t if partial == -1 else t * partial)
        return constant_jvp

    def elementwise_jvp(t, ans, *args, **kwargs):
        return t * partial(ans, *args)
    return elementwise_jvp
