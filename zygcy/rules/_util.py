"""Small helpers shared by the array rule families."""
import numpy as np

from .._core import value

__all__ = ["unbroadcast", "unbroadcast_to", "balanced_eq"]


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
            axes = tuple(range(extra)) + tuple(
                extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1)
            return g.sum(axis=axes).reshape(shape)
    gshape = np.shape(value(g))
    if gshape == shape:
        return g
    extra = len(gshape) - len(shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and np.shape(value(g))[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    return g


def unbroadcast(x, g):
    """g reduced to the shape of x; a number or 0-d input gets a 0-d/scalar result."""
    xv = value(x)
    if isinstance(xv, np.ndarray):
        return unbroadcast_to(xv.shape, g)
    g = unbroadcast_to((), g)
    return g


def balanced_eq(x, z, y):
    """Where several inputs tie for a max/min, share the gradient equally (as autograd)."""
    return (value(x) == value(z)) / (1.0 + (value(x) == value(y)))
