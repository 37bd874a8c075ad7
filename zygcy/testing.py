"""Checking derivatives: ``gradcheck`` compares zygcy with finite differences.

Use it for your own ``@grad`` and ``defvjp`` rules, the way zygcy's test suite
uses it for every built-in rule.

While a check runs, ``in_derivative_check()`` is true. Tools that want to know
which rules were *verified* (not merely executed) read it: zygcy's own test
suite records every rule pullback that runs under a check and fails for a rule
that never did. A hand-written finite-difference comparison can take part by
running inside ``with derivative_check():``.
"""
import contextlib

import numpy as np

from . import _core
from ._check import is_float_leaf as _is_float_leaf, random_direction as _random_like
from .api import forward
from .containers import flatten, flatten_like, unflatten

__all__ = ["gradcheck", "numerical_vjp", "derivative_check", "in_derivative_check"]

_check_depth = 0     # how many derivative checks are in progress (they nest: order=2)


@contextlib.contextmanager
def derivative_check():
    """A context in which derivatives are being compared with finite differences.

    ``gradcheck`` runs inside one; wrap your own comparison in it so that tools
    that watch rules (``in_derivative_check``) count the rules it runs as checked.
    Contexts nest; the flag is process-wide (not per thread).

    Example:
      >>> from zygcy.testing import derivative_check, in_derivative_check
      >>> with derivative_check():
      ...     in_derivative_check()
      True
      >>> in_derivative_check()
      False
    """
    global _check_depth
    _check_depth += 1
    try:
        yield
    finally:
        _check_depth -= 1


def in_derivative_check():
    """True while a derivative check (``gradcheck``, ``derivative_check()``) is running."""
    return _check_depth > 0


def _inner(a, b):
    """The real inner product <a, b> = Re sum(conj(a) * b); None counts as zero."""
    if a is None or b is None:
        return 0.0
    av, bv = _core.value(a), _core.value(b)
    if isinstance(av, np.ndarray) or isinstance(bv, np.ndarray):
        return np.sum(np.real(np.conj(a) * b))
    p = a.conjugate() * b if isinstance(av, complex) or isinstance(av, np.complexfloating) else a * b
    return p.real if isinstance(_core.value(p), (complex, np.complexfloating)) else p


def numerical_vjp(f, args, dy, directions, eps):
    """<dy, J v> for each direction v, by central differences (a list of floats)."""
    leaves, tree = flatten(args)
    out = []
    for v in directions:
        plus = unflatten(tree, [x + eps * d if d is not None else x for x, d in zip(leaves, v)])
        minus = unflatten(tree, [x - eps * d if d is not None else x for x, d in zip(leaves, v)])
        yp, _ = flatten(f(*plus))
        ym, _ = flatten(f(*minus))
        dyl, _ = flatten(dy)
        total = 0.0
        for a, b, s in zip(yp, ym, dyl):
            if s is None or not _is_float_leaf(a):
                continue
            total += float(_inner(s, (np.asarray(a) - np.asarray(b)) / (2 * eps)))
        out.append(total)
    return out


def gradcheck(f, *args, directions=4, eps=1e-6, rtol=1e-5, atol=1e-7, order=1, seed=0, modes="both"):
    """Check zygcy's derivative of ``f`` at ``args`` against central finite differences.

    For random output cotangents ``u`` and input directions ``v`` it compares
    ``<back(u), v>`` (reverse mode) and ``<u, jvp(f, args, v)>`` (forward mode)
    with ``<u, (f(x + eps v) - f(x - eps v)) / 2 eps>``. Only float and
    complex leaves are perturbed; integers and others stay fixed. With
    ``order=2`` the pullback itself is checked the same way, which tests that
    the rule is differentiable again, in reverse mode and in forward mode
    (forward over reverse, as ``hvp`` uses it); use ``order=1`` for rules that
    are not smooth, such as ``abs`` or ``max``.

    Args:
      f: the function; any structure of outputs.
      *args: where to check it.
      directions: how many random directions.
      eps, rtol, atol: the finite-difference step and tolerances.
      order: 1 (first derivatives) or 2 (also second derivatives).
      seed: the random seed, for reproducible directions.
      modes: "both", "reverse" or "forward": which modes to check.

    Returns:
      True; raises AssertionError with the numbers when the check fails.

    Example:
      >>> import numpy as np
      >>> from zygcy.testing import gradcheck
      >>> gradcheck(lambda x: np.sum(np.sin(x) ** 2), np.array([0.1, 0.7, 2.0]))
      True
    """
    if modes not in ("both", "reverse", "forward"):
        raise ValueError('gradcheck: modes must be "both", "reverse" or "forward", got %r' % (modes,))
    with derivative_check():
        return _gradcheck(f, args, directions, eps, rtol, atol, order, seed, modes)


def _gradcheck(f, args, directions, eps, rtol, atol, order, seed, modes):
    from .api import jvp

    rng = np.random.default_rng(seed)
    y, back = forward(f, *args)
    ys, ytree = flatten(y)
    for v in ys:
        if not (_is_float_leaf(v) or _uncheckable_by_design(_core.value(v))):
            # an object array, a sparse matrix...: skipping it would pass a wrong result
            raise AssertionError(
                "gradcheck: %s returned a %s, which finite differences cannot compare; return "
                "numbers or float arrays (e.g. A.toarray() for a sparse matrix)"
                % (getattr(f, "__name__", "f"), _core.value(v).__class__.__name__))
    leaves, tree = flatten(args)
    pushed = []         # (direction, jvp's tangent leaves) for the batched check
    for _ in range(directions):
        ul = [_random_like(v, rng) if _is_float_leaf(v) else None for v in ys]
        u = unflatten(ytree, ul)
        v = [_random_like(x, rng) if _is_float_leaf(x) else None for x in leaves]
        numeric = numerical_vjp(f, args, u, [v], eps)[0]
        if modes != "forward":
            grads = back(u)
            gl = _align(tree, grads, leaves)
            analytic = sum(float(_core.value(_inner(g, d))) for g, d in zip(gl, v) if d is not None)
            if not np.isclose(analytic, numeric, rtol=rtol, atol=atol):
                raise AssertionError(
                    "gradcheck failed for %s: <back(u), v> = %r but finite differences give %r"
                    % (getattr(f, "__name__", "f"), analytic, numeric))
        if modes != "reverse":
            _, dy = jvp(f, args, tuple(unflatten(tree, v)))
            dys = flatten_like(ytree, dy, what="tangent")
            tangent = sum(float(_core.value(_inner(w, d))) for w, d in zip(ul, dys)
                          if w is not None and d is not None)
            if not np.isclose(tangent, numeric, rtol=rtol, atol=atol):
                raise AssertionError(
                    "gradcheck failed for %s in forward mode: <u, jvp(f, x, v)> = %r but finite "
                    "differences give %r" % (getattr(f, "__name__", "f"), tangent, numeric))
            pushed.append((v, dys))
        if order >= 2:
            w = [_random_like(x, rng) if _is_float_leaf(x) else None for x in leaves]

            def first(*a, u=u, w=w):
                _, bk = forward(f, *a)
                g2 = _align(tree, bk(u), flatten(a)[0])
                total = 0.0
                for g, d in zip(g2, w):
                    if d is not None and g is not None:
                        total = total + _inner(g, d)
                return total

            gradcheck(first, *args, directions=1, eps=eps, rtol=rtol * 10, atol=atol * 10,
                      order=order - 1, seed=int(rng.integers(1 << 30)), modes=modes)
    if len(pushed) > 1:
        check_batched(f, args, pushed)
    return True


def check_batched(f, args, pushed):
    """Check that directions pushed through one forward pass together (as
    ``forward_jacobian`` and ``hessian`` push them) give the tangents they give
    one at a time.

    ``pushed`` lists ``(v, dys)``: a direction (one entry per leaf of
    ``args``, None for a leaf held fixed) and the leaves of
    ``jvp(f, args, v)``'s tangent. Checked where ``args`` are floats and
    float or complex arrays and no differentiation is running; otherwise it
    returns without checking. Raises AssertionError naming the direction and
    output that differ.

    Example:
      >>> import numpy as np
      >>> from zygcy import jvp
      >>> from zygcy.testing import check_batched
      >>> f = lambda x: np.cumsum(np.sin(x))
      >>> x = np.array([0.1, 0.5, 0.9])
      >>> vs = [np.array([1.0, 0.0, 2.0]), np.array([0.0, 1.0, 0.0])]
      >>> check_batched(f, (x,), [([v], [jvp(f, (x,), (v,))[1]]) for v in vs])
    """
    from .api import _jvp_batched
    if _core.levels_active() or not all(
            type(a) is float or (type(a) is np.ndarray and a.dtype in (np.float64, np.complex128))
            for a in args):
        return
    batches = [None if pushed[0][0][i] is None else np.stack([np.asarray(v[i]) for v, _ in pushed])
               for i in range(len(args))]
    if all(b is None for b in batches):
        return
    _, (tangents, _) = _jvp_batched(f, args, batches, "gradcheck")
    for j, tb in enumerate(tangents):
        for k, (_, dys) in enumerate(pushed):
            one = dys[j]
            if one is None or not _is_float_leaf(one):
                continue
            one = np.asarray(_core.value(one))
            got = None if tb is None else tb[k]
            scale = 1.0 + float(np.max(np.abs(one), initial=0.0))
            if got is None or np.shape(got) != one.shape or not np.allclose(got, one, rtol=1e-9,
                                                                             atol=1e-9 * scale):
                raise AssertionError(
                    "gradcheck failed for %s in forward mode: %d directions pushed through one pass "
                    "together give, along direction %d, output %d's tangent %r, but jvp along that "
                    "direction alone gives %r" % (getattr(f, "__name__", "f"), len(pushed), k, j, got, one))


def _uncheckable_by_design(v):
    """Output leaves with no derivative to check: integers, bools, strings, None."""
    if v is None or isinstance(v, (bool, int, str, bytes, np.integer, np.bool_)):
        return True
    return isinstance(v, np.ndarray) and v.dtype.kind in "biuSU"


def _align(tree, grads, leaves):
    """The gradient leaves in the order of the argument leaves (None where absent)."""
    from .containers import flatten_like
    return flatten_like(tree, grads, what="gradient")
