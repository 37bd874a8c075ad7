"""Rules for scipy.special, when scipy is installed (without it nothing is registered).

The special functions that are ufuncs (erf, gammaln, xlogy, betainc, ...)
dispatch like numpy's own: their rules are tables of partial derivatives,
registered as numpy's ufuncs are (``defelementwise``: the engine's fast path;
the same makers, from ``elementwise_rule``, where a partial is unknown).
Every ufunc with a rule is differentiable in its continuous arguments; an
argument whose derivative has no closed form (the order v of ``jv``, the
parameters of ``betainc`` and ``gammainc``) raises NotImplementedError naming
it, in both modes, never a zero; integer arguments (the order n of ``yn`` and
``kn``) and piecewise constant functions (``gammasgn``) carry no derivative.
``jn`` is scipy's other name for ``jv``.

``multigammaln`` converts its input with ``np.asarray``; on tracked input it
is replaced (``zygcy.interop.wrap``) by its formula, a sum of ``gammaln``,
recorded as numpy code and so differentiable to any order in both modes.

``logsumexp``, ``softmax``, ``log_softmax`` and ``polygamma`` are plain Python
functions that convert their input with ``np.asarray``, which a tracked value
refuses: they are replaced in the ``scipy.special`` namespace by primitives
(``zygcy.interop.replace_with_primitive``),
every argument passed by position, so a tracked ``b=`` of logsumexp is
differentiated too. ``softplus`` needs no wrapper: it is ``np.logaddexp(0, x)``.

The rules are registered when scipy.special is imported, whether before or
after zygcy, so that ``import zygcy`` does not pay for importing scipy (see
``zygcy.interop`` for what that means for names imported before zygcy).
"""
import numpy as np

from ..extend import defelementwise, defjvp, defvjp, nondifferentiable, value
from ..interop import replace_with_primitive, when_imported, wrap
from ._util import (SQRT_2PI, SQRT_PI, TWO_OVER_SQRT_PI, conj, elementwise_rule, is_complex, kept_shape,
                    none_maker, reduced_axes, unbroadcast)
from .shape import expand, reshape

sp = None       # scipy.special, once it is imported and its rules are registered

# Filled when scipy.special is imported: what this module registered.
UNARY = {}
BINARY = {}
TERNARY = {}
WRAPPED = {}
NONDIFFERENTIABLE = []


def _wrap(name):
    WRAPPED[name] = p = replace_with_primitive(sp, name)
    return p


# ---------------------------------------------------------------------------
# logsumexp, softmax, log_softmax

def _logsumexp_weights(ans, a, axis, b, keepdims, return_sign):
    """(shape, axes, w) with w = sign * exp(a - lse): d lse / d b, and b w = d lse / d a."""
    shape = np.broadcast_shapes(np.shape(value(a)), np.shape(value(b)) if b is not None else ())
    axes = reduced_axes(axis, len(shape))
    lse, sign = (ans[0], value(ans[1])) if return_sign else (ans, 1.0)
    kept = kept_shape(shape, axes)
    w = np.exp(a - reshape(lse, kept)) * np.reshape(sign, kept if np.ndim(sign) else ())
    return shape, axes, w


def logsumexp_maker(ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    shape, axes, w = _logsumexp_weights(ans, a, axis, b, keepdims, return_sign)
    d = conj(w if b is None else w * b)         # (holomorphic for complex a: conjugated)

    def logsumexp_pullback(g):
        if return_sign:
            g = g[0]
        return None if g is None else unbroadcast(a, expand(g, shape, axes, keepdims) * d)
    return logsumexp_pullback


def logsumexp_b_maker(ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    shape, axes, w = _logsumexp_weights(ans, a, axis, b, keepdims, return_sign)
    w = conj(w)

    def logsumexp_b_pullback(g):
        if return_sign:
            g = g[0]
        return None if g is None else unbroadcast(b, expand(g, shape, axes, keepdims) * w)
    return logsumexp_b_pullback


def logsumexp_jvp(t, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    shape, axes, w = _logsumexp_weights(ans, a, axis, b, keepdims, return_sign)
    d = np.sum((w if b is None else w * b) * t, axis=axes, keepdims=keepdims)
    return (d, None) if return_sign else d         # the sign is piecewise constant


def logsumexp_b_jvp(t, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    shape, axes, w = _logsumexp_weights(ans, a, axis, b, keepdims, return_sign)
    d = np.sum(w * t, axis=axes, keepdims=keepdims)
    return (d, None) if return_sign else d


def softmax_maker(ans, x, axis=None):
    s = conj(ans)

    def softmax_pullback(g):
        return s * (g - np.sum(g * s, axis=axis, keepdims=True))     # J^H g = s* (g - sum(g s*))
    return softmax_pullback


def log_softmax_maker(ans, x, axis=None):
    s = conj(np.exp(ans))

    def log_softmax_pullback(g):
        return g - s * np.sum(g, axis=axis, keepdims=True)           # J^H g = g - s* sum(g)
    return log_softmax_pullback


def softmax_jvp(t, ans, x, axis=None):
    return ans * (t - np.sum(ans * t, axis=axis, keepdims=True))        # J t = s (t - sum(s t))


def log_softmax_jvp(t, ans, x, axis=None):
    return t - np.sum(np.exp(ans) * t, axis=axis, keepdims=True)       # J t = t - sum(s t)


def polygamma_x_jvp(t, ans, n, x):
    return t * sp.polygamma(value(n) + 1, x)


def polygamma_x_maker(ans, n, x):
    def polygamma_x_pullback(g):
        return unbroadcast(x, g * sp.polygamma(value(n) + 1, x))
    return polygamma_x_pullback


# ---------------------------------------------------------------------------
# Derivative tables (f'(x) as a function of (ans, x)), registered when scipy is present

def _tables():
    UNARY.update({
        # error functions
        sp.erf: lambda ans, x: TWO_OVER_SQRT_PI * np.exp(-x * x),
        sp.erfc: lambda ans, x: -TWO_OVER_SQRT_PI * np.exp(-x * x),
        sp.erfinv: lambda ans, x: SQRT_PI / 2 * np.exp(ans * ans),
        sp.erfcinv: lambda ans, x: -SQRT_PI / 2 * np.exp(ans * ans),
        sp.erfcx: lambda ans, x: 2 * x * ans - TWO_OVER_SQRT_PI,
        sp.erfi: lambda ans, x: TWO_OVER_SQRT_PI * np.exp(x * x),
        sp.dawsn: lambda ans, x: 1 - 2 * x * ans,
        # the normal distribution
        sp.ndtr: lambda ans, x: np.exp(-x * x / 2) / SQRT_2PI,
        sp.ndtri: lambda ans, x: SQRT_2PI * np.exp(ans * ans / 2),
        sp.log_ndtr: lambda ans, x: np.exp(-x * x / 2 - ans) / SQRT_2PI,
        # logistic
        sp.expit: lambda ans, x: ans * (1 - ans),
        sp.logit: lambda ans, x: 1 / (x * (1 - x)),
        sp.log_expit: lambda ans, x: sp.expit(-x),
        # gamma family
        sp.gamma: lambda ans, x: ans * sp.digamma(x),
        sp.gammaln: lambda ans, x: sp.digamma(x),
        sp.rgamma: lambda ans, x: -ans * sp.digamma(x),
        sp.digamma: lambda ans, x: sp.polygamma(1, x),
        sp.loggamma: lambda ans, x: sp.digamma(x),
        # Bessel functions. The recurrences C'_1 = C_0 - C_1 / x have a removable
        # singularity at 0; (J0 - J2) / 2 and (I0 + I2) / 2 are the same functions
        # with none, written with jv / iv, whose rules below are right to every order.
        sp.i0: lambda ans, x: sp.i1(x),
        sp.i1: lambda ans, x: (sp.i0(x) + sp.iv(2, x)) / 2,
        sp.i0e: lambda ans, x: sp.i1e(x) - np.sign(value(x)) * ans,
        sp.i1e: lambda ans, x: (sp.i0e(x) + sp.ive(2, x)) / 2 - np.sign(value(x)) * ans,
        sp.j0: lambda ans, x: -sp.j1(x),
        sp.j1: lambda ans, x: (sp.j0(x) - sp.jv(2, x)) / 2,
        sp.y0: lambda ans, x: -sp.y1(x),
        sp.y1: lambda ans, x: sp.y0(x) - ans / x,
        sp.k0: lambda ans, x: -sp.k1(x),
        sp.k1: lambda ans, x: -(sp.k0(x) + sp.kv(2, x)) / 2,
        sp.k0e: lambda ans, x: ans - sp.k1e(x),
        sp.k1e: lambda ans, x: ans - (sp.k0e(x) + sp.kve(2, x)) / 2,
        # entropy, and the scipy versions of numpy's functions
        sp.entr: lambda ans, x: -(np.log(x) + 1),
        sp.expm1: lambda ans, x: ans + 1,
        sp.log1p: lambda ans, x: 1 / (1 + x),
    })
    BINARY.update({
        sp.xlogy: (lambda ans, x, y: np.log(y), lambda ans, x, y: x / y),
        sp.xlog1py: (lambda ans, x, y: np.log1p(y), lambda ans, x, y: x / (1 + y)),
        sp.rel_entr: (lambda ans, x, y: np.log(x / y) + 1, lambda ans, x, y: -x / y),
        sp.kl_div: (lambda ans, x, y: np.log(x / y), lambda ans, x, y: 1 - x / y),
        sp.beta: (lambda ans, a, b: ans * (sp.digamma(a) - sp.digamma(a + b)),
                  lambda ans, a, b: ans * (sp.digamma(b) - sp.digamma(a + b))),
        sp.betaln: (lambda ans, a, b: sp.digamma(a) - sp.digamma(a + b),
                    lambda ans, a, b: sp.digamma(b) - sp.digamma(a + b)),
        # Bessel functions of any order v (used by the rules of j1, i1, i1e, k1, k1e):
        # derivatives in x by the recurrences; d/dv has no closed form. jn is jv.
        sp.jv: (_not_implemented("jv", "v"), lambda ans, v, x: (sp.jv(v - 1, x) - sp.jv(v + 1, x)) / 2),
        sp.yv: (_not_implemented("yv", "v"), lambda ans, v, x: (sp.yv(v - 1, x) - sp.yv(v + 1, x)) / 2),
        sp.iv: (_not_implemented("iv", "v"), lambda ans, v, x: (sp.iv(v - 1, x) + sp.iv(v + 1, x)) / 2),
        sp.kv: (_not_implemented("kv", "v"), lambda ans, v, x: -(sp.kv(v - 1, x) + sp.kv(v + 1, x)) / 2),
        # exponentially scaled: ive = iv exp(-|x|) (real x only: exp(-|Re z|) is not
        # holomorphic), kve = kv exp(x) (holomorphic)
        sp.ive: (_not_implemented("ive", "v"), lambda ans, v, x: (sp.ive(v - 1, x) + sp.ive(v + 1, x)) / 2
                 - np.sign(_real_only(x, "ive")) * ans),
        sp.kve: (_not_implemented("kve", "v"), lambda ans, v, x: ans - (sp.kve(v - 1, x) + sp.kve(v + 1, x)) / 2),
        # integer orders n: no derivative (None); the same recurrences in x
        sp.yn: (None, lambda ans, n, x: (sp.yn(n - 1, x) - sp.yn(n + 1, x)) / 2),
        sp.kn: (None, lambda ans, n, x: -(sp.kn(n - 1, x) + sp.kn(n + 1, x)) / 2),
        # regularized incomplete gamma: d/dx P(a, x) = x**(a-1) exp(-x) / Gamma(a); d/da
        # has no closed form
        sp.gammainc: (_not_implemented("gammainc", "a"),
                      lambda ans, a, x: np.exp(sp.xlogy(a - 1, x) - x - sp.gammaln(a))),
        sp.gammaincc: (_not_implemented("gammaincc", "a"),
                       lambda ans, a, x: -np.exp(sp.xlogy(a - 1, x) - x - sp.gammaln(a))),
    })
    TERNARY.update({
        # regularized incomplete beta: d/dx I_x(a, b) = x**(a-1) (1-x)**(b-1) / B(a, b);
        # d/da and d/db have no closed form
        sp.betainc: (_not_implemented("betainc", "a"), _not_implemented("betainc", "b"),
                     lambda ans, a, b, x: _beta_density(a, b, x)),
        sp.betaincc: (_not_implemented("betaincc", "a"), _not_implemented("betaincc", "b"),
                      lambda ans, a, b, x: -_beta_density(a, b, x)),
    })


def _beta_density(a, b, x):
    return np.exp(sp.xlogy(a - 1, x) + sp.xlog1py(b - 1, -x) - sp.betaln(a, b))


def _real_only(x, name):
    """The plain value of x, refusing a complex one (the function is not holomorphic there)."""
    if is_complex(x):
        raise NotImplementedError(
            "zygcy: scipy.special.%s of a complex argument is not holomorphic (its scaling "
            "factor depends on |Re z|), so it has no complex derivative; differentiate "
            "the unscaled function instead" % name)
    return value(x)


class _not_implemented:
    """A table entry for a derivative zygcy does not know: its maker raises, at the
    forward call, so the error points at the user's line."""

    def __init__(self, name, arg):
        self.message = ("zygcy: the derivative of scipy.special.%s with respect to %s is not "
                        "implemented; wrap that argument in zygcy.dropgrad() if it should be a "
                        "constant" % (name, arg))

    def maker(self, ans, *args, **kwargs):
        raise NotImplementedError(self.message)


def _known(d):
    """A table entry as a partial: None for one zygcy does not know."""
    return None if isinstance(d, _not_implemented) else d


def _register_elementwise(uf, partials):
    """The rule of a ufunc from its table entry: ``defelementwise`` (the engine's fast
    path) when every partial is known; otherwise the same makers and forward rules,
    with a raising maker (and no forward rule: forward mode transposes the pullback,
    so it raises too) for each partial zygcy does not know."""
    if not any(isinstance(d, _not_implemented) for d in partials):
        defelementwise(uf, *partials)
        if None in partials:        # an integer argument: no forward rule (its tangent is none)
            defjvp(uf, *[None if d is None else j for d, j in zip(partials, elementwise_rule(partials)[1])])
        return
    makers, jvps = elementwise_rule([_known(d) for d in partials])
    defvjp(uf, *[d.maker if isinstance(d, _not_implemented) else m for d, m in zip(partials, makers)])
    defjvp(uf, *[None if isinstance(d, _not_implemented) else j for d, j in zip(partials, jvps)])


# ---------------------------------------------------------------------------
# multigammaln(a, d) = d (d - 1) / 4 log(pi) + sum_j gammaln(a - (j - 1) / 2), j = 1..d

def _multigammaln(a, d):
    """scipy's formula on a tracked ``a``: recorded as numpy code (gammaln's rule)."""
    d = np.asarray(value(d))[()]
    if not np.isscalar(d) or np.floor(d) != d:
        raise ValueError("d should be a positive integer (dimension)")
    if np.any(np.asarray(value(a)) <= 0.5 * (d - 1)):
        raise ValueError("condition a (%s) > 0.5 * (d-1) (%s) not met" % (value(a), 0.5 * (d - 1)))
    terms = sp.gammaln(np.stack([a - (j - 1.0) / 2 for j in range(1, int(d) + 1)]))
    return (d * (d - 1) * 0.25) * np.log(np.pi) + np.sum(terms, axis=0)


def _register(module):
    """Register every rule above for the scipy.special module ``module``."""
    global sp, logsumexp, softmax, log_softmax, polygamma
    if sp is not None:
        return
    sp = module
    _tables()
    for uf, d in UNARY.items():
        _register_elementwise(uf, (d,))
    for uf, partials in list(BINARY.items()) + list(TERNARY.items()):
        _register_elementwise(uf, partials)
    NONDIFFERENTIABLE[:] = [sp.gammasgn]        # piecewise constant: +1 or -1
    nondifferentiable(*NONDIFFERENTIABLE)
    wrap(sp, "multigammaln", _multigammaln)

    logsumexp = _wrap("logsumexp")
    defvjp(logsumexp, logsumexp_maker, None, logsumexp_b_maker)
    defjvp(logsumexp, logsumexp_jvp, None, logsumexp_b_jvp)
    softmax = _wrap("softmax")
    defvjp(softmax, softmax_maker)
    defjvp(softmax, softmax_jvp)
    log_softmax = _wrap("log_softmax")
    defvjp(log_softmax, log_softmax_maker)
    defjvp(log_softmax, log_softmax_jvp)
    polygamma = _wrap("polygamma")
    defvjp(polygamma, none_maker, polygamma_x_maker)
    defjvp(polygamma, None, polygamma_x_jvp)


when_imported("scipy.special", _register)
