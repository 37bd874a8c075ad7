"""The plumbing shared by zygcy's public modules (api, custom, params):
checking the function given, taking outputs apart, and the one place where the
cotangent given to ``back`` is checked against the output and where a gradient
is given the kind of its input (real for real, an array of the input's shape
for an array). Nothing here is public."""
import decimal
import numbers

import numpy as np

from . import _core, _messages
from ._core import Tracked
from .containers import flatten, flatten_like, is_differentiable, leaf_place, unflatten


def check_callable(f, fname):
    if not callable(f):
        raise TypeError("%s(f, *args): f must be a function, got %s; the function to "
                        "differentiate comes first" % (fname, type(f).__name__))


def is_real_number_or_array(v):
    """v is a real (or integer) number or array: what a Jacobian has rows for."""
    if isinstance(v, np.ndarray):
        return v.dtype.kind in "iuf"
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


SIMPLE = frozenset([float, int, complex, np.ndarray, np.float64, Tracked])   # leaves, not containers


def outputs(tape, out):
    """The plain output, and its leaves (nodes) and structure for the backward pass."""
    if type(out) in SIMPLE:
        return tape.unwrap(out), [out], None
    out_leaves, out_tree = flatten(out)
    return unflatten(out_tree, [tape.unwrap(v) for v in out_leaves]), out_leaves, out_tree


def sweep(tape, out_leaves, out_tree, dy, wanted, last=False):
    """The reverse sweep of ``tape`` from the cotangent ``dy`` of the output
    (``last``: the only one, which frees the intermediates as it goes)."""
    seeds = [dy] if out_tree is None else flatten_like(out_tree, dy)
    pairs = []
    for j, (node, s) in enumerate(zip(out_leaves, seeds)):
        if s is None:
            continue
        s = check_seed(node, s, out_tree, j)
        if tape.owns(node):
            pairs.append((node, s))
    return tape.backward(pairs, wanted, last=last)


class WriteAfterUse(ValueError):
    """A write into a plain array that a recorded operation's derivative reads:
    the engine keeps such arrays read-only while the function is recorded, and
    writeable again once it returns.

    Example:
      >>> import numpy as np
      >>> from zygcy import gradient, WriteAfterUse
      >>> w = np.array([2.0, 3.0])
      >>> def f(x):
      ...     y = x * w
      ...     w[0] = 100.0          # after x * w used w: its derivative in x is w
      ...     return np.sum(y)
      >>> try:
      ...     gradient(f, np.ones(2))
      ... except WriteAfterUse:
      ...     print("refused")
      refused
      >>> w.flags.writeable, w[0]
      (True, np.float64(2.0))
    """


def explain_write(e, tape):
    """Raise WriteAfterUse from numpy's read-only error ``e`` when the function that
    ``tape`` records wrote into an array the tape keeps read-only (Tape.locks)."""
    if not isinstance(e, WriteAfterUse) and tape.locks and "read-only" in str(e):
        raise WriteAfterUse(_messages.write_after_use()) from e


def scalar_sweep(tape, out, wanted):
    """The gradients of ``wanted`` (leaves of ``tape``) when ``out`` is a real scalar
    node of ``tape``, by one sweep that frees as it goes (seed 1.0, scalar_seed's);
    None for any other output, which the caller hands to its general path."""
    if type(out) is Tracked and tape.owns(out):
        v = tape.unwrap(out)
        if type(v) is float or type(v) is np.float64:
            return tape.backward([(out, 1.0)], wanted, last=True)
    return None


def fresh(gs, dy=None):
    """The gradients ``gs`` (a list) as arrays the caller owns. The engine never
    updates an array it has returned (it adds in place only into buffers made
    during the same sweep), so only a gradient that is the seed, part of it, a
    view, or the very array of an earlier entry (``x + y`` hands one cotangent to
    both) is copied: changing one gradient in place never changes another."""
    out = []
    seen = set()
    for g in gs:
        if isinstance(g, np.ndarray):
            if g.base is not None or type(g) is not np.ndarray or id(g) in seen or _holds(dy, g):
                g = np.array(g, copy=True, subok=False)
            seen.add(id(g))
        out.append(g)
    return out


def handed_out(xs, gs, dy=None):
    """The gradients ``gs`` of the inputs whose plain values are ``xs``, as the caller
    gets them: each given its input's kind (``project``), then made the caller's own
    (``fresh``; ``dy`` is the seed they came from). The engine checks the common
    case, where neither has anything to change, without their Python."""
    done = _core.handed_out_plain(xs, gs, dy)
    if done is not None:
        return done
    return fresh([project(x, g) for x, g in zip(xs, gs)], dy)


def _holds(dy, g):
    if dy is g:
        return True
    if dy is None or type(dy) in SIMPLE:
        return False
    return any(v is g for v in flatten(dy)[0])


def output_leaves(out):
    return [out] if type(out) in SIMPLE else flatten(out)[0]


def seed_leaves(out_tree, dy):
    return [dy] if out_tree is None else flatten_like(out_tree, dy)


def check_seed(node, s, tree=None, j=0):
    """The seed ``s`` for the output leaf ``node`` (leaf ``j`` of the output's
    structure ``tree``), checked against it before the sweep: a number for a
    number, an array (or nested list) of the output's shape for an array.
    Integer seeds for numpy outputs become int64, so that cotangents of
    unsigned or narrow integers cannot wrap around."""
    v = _core.value(node)
    sv = _core.value(s)
    ts, tv = type(sv), type(v)
    if (ts is float or ts is np.float64) and (tv is float or tv is np.float64):
        return s                                        # the common case: a real scalar
    if not (isinstance(v, (np.ndarray, np.generic)) or is_differentiable(v) or isinstance(v, bool)):
        raise ValueError("the seed%s is a %s, but the output%s is a %s, which has no "
                         "derivative; give None in its place"
                         % (_seed_place(tree, j), type(sv).__name__, _there(tree), type(v).__name__))
    if isinstance(sv, (list, tuple)) and isinstance(v, np.ndarray):
        flat = flatten(sv)[0]
        if flat and all(is_differentiable(e) and type(e) is not Tracked for e in flat):
            s = sv = np.array(sv)                       # a nested list of numbers is an array
    if not (is_differentiable(sv) or isinstance(sv, (bool, np.bool_))
            or (isinstance(sv, np.ndarray) and sv.dtype.kind == "b")):
        raise TypeError("the seed%s is a %s, but the output%s is %s; give %s"
                        % (_seed_place(tree, j), type(sv).__name__, _there(tree), _describe(v), _wanted(v)))
    shape = np.shape(sv) if isinstance(sv, (np.ndarray, np.generic)) else ()
    vshape = np.shape(v) if isinstance(v, (np.ndarray, np.generic)) else ()
    if shape != vshape:
        raise ValueError("the seed%s has shape %s, but the output%s is %s; give %s"
                         % (_seed_place(tree, j), shape, _there(tree), _describe(v), _wanted(v)))
    if isinstance(v, (np.ndarray, np.generic)) and type(s) is not Tracked and _could_wrap(sv, v):
        s = _wide_int(sv)
    return s


def _could_wrap(sv, v):
    """True for an integer seed that could wrap around in the sweep of the numpy
    output v: a bool, unsigned or narrow numpy integer, or a Python int (numpy
    casts it to the dtype of the arrays it meets)."""
    if isinstance(sv, (np.ndarray, np.generic)):
        return sv.dtype.kind in "bu" or (sv.dtype.kind == "i" and sv.dtype.itemsize < 8)
    return isinstance(sv, int) and v.dtype.kind in "biu"


def _wide_int(s):
    """An integer (or bool) seed as int64, or float64 if it does not fit."""
    a = np.asarray(s)
    if a.size and (a.max() > np.iinfo(np.int64).max or a.min() < np.iinfo(np.int64).min):
        a = a.astype(np.float64)
    else:
        a = a.astype(np.int64)
    return a if isinstance(s, np.ndarray) else a[()]


def _describe(v):
    if isinstance(v, np.ndarray):
        return "an array of shape %s" % (v.shape,)
    return "a %s (shape ())" % type(v).__name__


def _wanted(v):
    if isinstance(v, np.ndarray):
        return "an array of shape %s (or None)" % (v.shape,)
    return "a number (or None)"


def _there(tree):
    return "" if tree is None else " there"


def _seed_place(tree, j):
    if tree is None:
        return ""
    return " at %s" % leaf_place(tree, j)


def project(x, g):
    """Give a gradient the kind of its input: real inputs get real gradients,
    array inputs array gradients of their shape."""
    if g is None:
        return None
    if (type(g) is np.ndarray and type(x) is np.ndarray and g.shape == x.shape
            and (g.dtype.kind != "c" or x.dtype.kind == "c")):
        return g        # the common case: nothing to change
    xv = _core.value(x)
    gv = _core.value(g)
    if isinstance(xv, np.ndarray):
        if not np.iscomplexobj(xv) and np.iscomplexobj(gv):
            g = g.real
            gv = _core.value(g)
        if np.shape(gv) != xv.shape:
            g = g + np.zeros(xv.shape, dtype=np.result_type(gv, float))
        elif not isinstance(gv, np.ndarray) and type(g) is not Tracked:
            g = np.array(gv)        # a 0-d array for a 0-d array input, not a numpy scalar
        return g
    if not isinstance(xv, (complex, np.complexfloating)) and isinstance(gv, (complex, np.complexfloating)):
        g = g.real
    if isinstance(_core.value(g), np.ndarray) and np.ndim(_core.value(g)) == 0 and not isinstance(xv, np.generic):
        g = g[()]
    return g


def scalar_seed(y, fname):
    """The seed 1 for a real scalar output, else an error that says what to do."""
    v = _core.value(y)
    if isinstance(v, (bool, np.bool_)):
        return 1
    if isinstance(v, (complex, np.complexfloating)) or (isinstance(v, np.ndarray) and v.dtype.kind == "c"):
        raise ValueError(
            "Output is complex, so the gradient is not defined. %s needs a real scalar "
            "output: differentiate abs(y)**2, y.real or y.imag, or use forward(f, ...) and "
            "back(seed) with a complex seed for a vector-Jacobian product." % fname)
    if isinstance(v, float):
        return 1.0
    if isinstance(v, int):
        return 1
    if isinstance(v, np.generic) and v.dtype.kind in "iuf":
        # Integer cotangents are int64: an unsigned or narrow one could wrap around.
        return np.int64(1) if v.dtype.kind in "iu" else v.dtype.type(1)
    if isinstance(v, np.ndarray):
        if v.shape == ():
            return np.ones((), np.int64 if v.dtype.kind in "biu" else v.dtype)
        raise ValueError(
            "Output is an array of shape %s, so the gradient is not defined: %s needs a real "
            "scalar output. Reduce it (np.sum(y), np.mean(y)), or for a vector-Jacobian "
            "product use y, back = forward(f, ...) and back(seed) with a seed of shape %s."
            % (v.shape, fname, v.shape))
    if isinstance(v, numbers.Real) or isinstance(v, decimal.Decimal):
        return type(v)(1)           # fractions.Fraction, decimal.Decimal: exact arithmetic
    raise ValueError(
        "Output is a %s, so the gradient is not defined: %s needs a real scalar output. "
        "withgradient differentiates the first element of a returned tuple; forward(f, ...) "
        "gives back() for any output." % (type(v).__name__, fname))
