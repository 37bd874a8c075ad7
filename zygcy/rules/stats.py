"""Rules for scipy.stats distributions, when scipy is installed.

scipy's distribution methods convert their inputs with ``np.asarray``, which a
tracked value refuses. For the distributions below, their methods are
replaced on the distribution's class when scipy.stats is imported (see
``zygcy.interop``): on plain inputs the wrapper is scipy's method itself; on
tracked inputs it computes the same quantity from its closed form, written
with numpy operations and scipy.special functions that have rules, so it is
recorded like any numpy code (forward mode and second derivatives included).
Frozen distributions (``st.norm(loc, scale).logpdf(x)``) call the same
methods, so they are covered too.

Covered, in ``x`` and in every continuous parameter (``loc``, ``scale``, the
shape parameters), broadcasting as scipy does, with scipy's values outside
the support and for invalid parameters (``-inf``, ``0``, ``1``, ``nan``):

* continuous: ``norm t gamma beta expon laplace logistic cauchy chi2 lognorm
  uniform invgamma weibull_min`` -- ``logpdf pdf logcdf cdf logsf sf ppf isf
  entropy``;
* discrete: ``poisson binom nbinom geom`` -- ``logpmf pmf logcdf cdf logsf sf``
  (the count ``k``, ``loc`` and binom's ``n`` are integers: no derivative);
* ``multivariate_normal`` -- ``logpdf pdf entropy`` in ``x``, ``mean`` and ``cov``
  (scipy reads the lower triangle of ``cov``; so does the derivative), also
  frozen: ``st.multivariate_normal(mean, cov).logpdf(x)``;
* ``dirichlet`` -- ``logpdf pdf entropy`` in ``x`` and ``alpha``, also frozen.

Where scipy's value is given by a special function with no closed-form
derivative in a parameter (the cdf of ``t`` in ``df``, of ``gamma`` in ``a``,
of ``beta`` in ``a`` and ``b``, their quantiles, the cdf of
``multivariate_normal``...), a tracked value there raises NotImplementedError
naming the method and the parameter.

The inverse functions (``ppf``, ``isf``) and the cdfs given by an incomplete
special function are primitives here (``t_cdf``, ``gamma_ppf``...), whose rule
is the density: d cdf / dx = pdf(x), d ppf / dq = 1 / pdf(ppf(q)).

The methods are replaced with ``zygcy.interop.wrap``, which recognises tracked
values and zygcy's parameters (``zygcy.param``) among a library function's
arguments, as for every scipy family.
"""
import functools
import math

import numpy as np

from ..extend import Tracked, defjvp, defvjp, primitive, value
from ..interop import when_imported, wrap
from ._util import unbroadcast

__all__ = ["CONTINUOUS", "DISCRETE", "MULTIVARIATE"]

st = None       # scipy.stats, once it is imported and its rules are registered
sp = None       # scipy.special

LOG_2PI = math.log(2.0 * math.pi)
LOG_PI = math.log(math.pi)
EULER = 0.57721566490153286061


# ---------------------------------------------------------------------------
# Arguments

def _tracked(v):
    """v (or an item of v, a list or tuple) is tracked."""
    if type(v) is Tracked:
        return True
    return (type(v) is list or type(v) is tuple) and any(type(e) is Tracked for e in v)


# ---------------------------------------------------------------------------
# Errors

class _Fixed:
    """A parameter with no closed-form derivative in some methods: why, for the error."""

    def __init__(self, methods, function):
        self.methods = frozenset(methods.split())
        self.why = ("scipy computes it with %s, whose derivative in {} has no closed form"
                    % function)


def _no_derivative(where, param, why):
    return NotImplementedError(
        "%s has no derivative with respect to %s: %s. Pass zygcy.value(%s) if %s should be "
        "a constant here." % (where, param, why.replace("{}", param), param, param))


def _integer_argument(where, param):
    return TypeError(
        "%s: %s is an integer (a count, or a location on the integers), so it has no "
        "derivative; pass zygcy.value(%s) (or a plain number) there" % (where, param, param))


def _check_fixed(where, method, names, values, fixed):
    for name, v in zip(names, values):
        f = fixed.get(name)
        if f is not None and method in f.methods and _tracked(v):
            raise _no_derivative(where, name, f.why)


# ---------------------------------------------------------------------------
# Helpers of the formulas

def _safe(v, mask, fill):
    """v where mask holds, fill elsewhere: so that a formula evaluated off its
    domain gives no inf or nan that a zero cotangent would turn into nan."""
    if mask is True or (np.ndim(mask) == 0 and bool(mask)):
        return v
    if np.all(mask):
        return v
    return np.where(mask, v, fill)


def _scalar(out):
    """scipy returns a numpy scalar for 0-d results; so do the rules."""
    return out[()] if np.ndim(value(out)) == 0 and isinstance(value(out), np.ndarray) else out


def _pos(*vs):
    """The default check of scipy's shape parameters: all positive."""
    ok = True
    for v in vs:
        ok = ok & (np.asarray(v) > 0)
    return ok


def _bound(b, scale, loc):
    """A support endpoint in the caller's coordinates (an infinite one stays as it is,
    without a derivative: its product with a zero cotangent would be nan)."""
    return b * scale + loc if np.isfinite(b) else b + 0.0 * value(loc)


# ---------------------------------------------------------------------------
# Primitives: cdfs by incomplete special functions and inverse cdfs. Their
# derivative in x (or q) is the density (or its reciprocal); in the shape
# parameters there is none (the maker is None and the stats wrapper refuses
# a tracked shape first, with the parameter's name).

def _t_logpdf(z, df):
    return (sp.gammaln((df + 1) / 2) - sp.gammaln(df / 2) - 0.5 * (np.log(df) + LOG_PI)
            - (df + 1) / 2 * np.log1p(z * z / df))


def _gamma_logpdf(z, a):
    return sp.xlogy(a - 1.0, z) - z - sp.gammaln(a)


def _beta_logpdf(z, a, b):
    return sp.xlog1py(b - 1.0, -z) + sp.xlogy(a - 1.0, z) - sp.betaln(a, b)


def t_cdf(df, x):
    return sp.stdtr(df, x)


def t_ppf(df, q):
    return sp.stdtrit(df, q)


def gamma_ppf(a, q):
    return sp.gammaincinv(a, q)


def gamma_isf(a, q):
    return sp.gammainccinv(a, q)


def beta_cdf(a, b, x):
    return sp.betainc(a, b, x)


def beta_sf(a, b, x):
    return sp.betaincc(a, b, x)


def beta_ppf(a, b, q):
    return sp.betaincinv(a, b, q)


def beta_isf(a, b, q):
    return sp.betainccinv(a, b, q)


# d/dx of each, as a function of (ans, *args): the density, or 1 / the density at ans
_PRIMITIVES = {
    t_cdf: lambda ans, df, x: np.exp(_t_logpdf(x, df)),
    t_ppf: lambda ans, df, q: np.exp(-_t_logpdf(ans, df)),
    gamma_ppf: lambda ans, a, q: np.exp(-_gamma_logpdf(ans, a)),
    gamma_isf: lambda ans, a, q: -np.exp(-_gamma_logpdf(ans, a)),
    beta_cdf: lambda ans, a, b, x: np.exp(_beta_logpdf(x, a, b)),
    beta_sf: lambda ans, a, b, x: -np.exp(_beta_logpdf(x, a, b)),
    beta_ppf: lambda ans, a, b, q: np.exp(-_beta_logpdf(ans, a, b)),
    beta_isf: lambda ans, a, b, q: -np.exp(-_beta_logpdf(ans, a, b)),
}


def _last_maker(name, deriv):
    """The maker of the last argument's pullback: g times the derivative."""
    def density_maker(ans, *args):
        x = args[-1]

        def density_pullback(g):
            return unbroadcast(x, g * deriv(ans, *args))
        density_pullback.__name__ = density_pullback.__qualname__ = name + "_pullback"
        return density_pullback
    return density_maker


def _last_jvp(name, deriv):
    def density_jvp(t, ans, *args):
        return t * deriv(ans, *args)
    density_jvp.__name__ = density_jvp.__qualname__ = name + "_jvp"
    return density_jvp


def _register_primitives():
    g = globals()
    for fun, deriv in list(_PRIMITIVES.items()):
        p = primitive(fun)
        nshape = fun.__code__.co_argcount - 1
        defvjp(p, *([None] * nshape + [_last_maker(fun.__name__, deriv)]))
        defjvp(p, *([None] * nshape + [_last_jvp(fun.__name__, deriv)]))
        g[fun.__name__] = p


# ---------------------------------------------------------------------------
# Continuous families, in standard coordinates z = (x - loc) / scale

class Continuous:
    """The closed forms of one continuous family (each a function of z or q and the
    shapes), its support [lo, hi], a point inside it, and the check of its shapes."""

    def __init__(self, name, lo, hi, inside, logpdf, cdf, sf, ppf, isf, entropy, logcdf=None,
                 logsf=None, check=_pos, fixed=None, zero_at_lo=False):
        self.name, self.lo, self.hi, self.inside = name, lo, hi, inside
        self.zero_at_lo = zero_at_lo        # the density's limit at lo is 0 (its formula: nan)
        self.logpdf, self.cdf, self.sf, self.ppf, self.isf, self.entropy = logpdf, cdf, sf, ppf, isf, entropy
        self.logcdf = logcdf or (lambda z, *s: np.log(cdf(z, *s)))
        self.logsf = logsf or (lambda z, *s: np.log(sf(z, *s)))
        self.check = check
        self.fixed = fixed or {}


def _norm_logpdf(z):
    return -z * z / 2 - LOG_2PI / 2


def _t_family():
    def logpdf(z, df):
        if np.any(np.isinf(value(df))):
            inf = np.isinf(value(df))
            return np.where(inf, _norm_logpdf(z), _t_logpdf(z, _safe(df, ~inf, 1.0)))
        return _t_logpdf(z, df)

    def entropy(df):
        half, half1 = df / 2, (df + 1) / 2
        return half1 * (sp.digamma(half1) - sp.digamma(half)) + 0.5 * np.log(df) + sp.betaln(half, 0.5)

    return Continuous("t", -np.inf, np.inf, 0.0, logpdf,
                      cdf=lambda z, df: t_cdf(df, z), sf=lambda z, df: t_cdf(df, -z),
                      ppf=lambda q, df: t_ppf(df, q), isf=lambda q, df: -t_ppf(df, q),
                      entropy=entropy,
                      fixed={"df": _Fixed("cdf sf logcdf logsf ppf isf",
                                          "Student's t cdf (scipy.special.stdtr)")})


def _continuous_families():
    gamma_fixed = _Fixed("cdf sf logcdf logsf ppf isf",
                         "the regularized incomplete gamma function (scipy.special.gammainc)")
    fams = [
        Continuous("norm", -np.inf, np.inf, 0.0, _norm_logpdf,
                   cdf=lambda z: sp.ndtr(z), sf=lambda z: sp.ndtr(-z),
                   logcdf=lambda z: sp.log_ndtr(z), logsf=lambda z: sp.log_ndtr(-z),
                   ppf=lambda q: sp.ndtri(q), isf=lambda q: -sp.ndtri(q),
                   entropy=lambda: 0.5 * (LOG_2PI + 1.0)),
        _t_family(),
        Continuous("gamma", 0.0, np.inf, 1.0, _gamma_logpdf,
                   cdf=lambda z, a: sp.gammainc(a, z), sf=lambda z, a: sp.gammaincc(a, z),
                   ppf=lambda q, a: gamma_ppf(a, q), isf=lambda q, a: gamma_isf(a, q),
                   entropy=lambda a: sp.digamma(a) * (1 - a) + a + sp.gammaln(a),
                   fixed={"a": gamma_fixed}),
        Continuous("beta", 0.0, 1.0, 0.5, _beta_logpdf,
                   cdf=lambda z, a, b: beta_cdf(a, b, z), sf=lambda z, a, b: beta_sf(a, b, z),
                   ppf=lambda q, a, b: beta_ppf(a, b, q), isf=lambda q, a, b: beta_isf(a, b, q),
                   entropy=lambda a, b: (sp.betaln(a, b) - (a - 1) * sp.digamma(a) - (b - 1) * sp.digamma(b)
                                         + (a + b - 2) * sp.digamma(a + b)),
                   fixed={p: _Fixed("cdf sf logcdf logsf ppf isf",
                                    "the regularized incomplete beta function (scipy.special.betainc)")
                          for p in "ab"}),
        Continuous("expon", 0.0, np.inf, 1.0, lambda z: -z,
                   cdf=lambda z: -np.expm1(-z), sf=lambda z: np.exp(-z), logsf=lambda z: -z,
                   ppf=lambda q: -np.log1p(-q), isf=lambda q: -np.log(q), entropy=lambda: 1.0),
        Continuous("laplace", -np.inf, np.inf, 0.0, lambda z: -np.abs(z) - math.log(2.0),
                   cdf=lambda z: _laplace_cdf(z), sf=lambda z: _laplace_cdf(-z),
                   ppf=lambda q: _laplace_ppf(q), isf=lambda q: -_laplace_ppf(q),
                   entropy=lambda: math.log(2.0) + 1.0),
        Continuous("logistic", -np.inf, np.inf, 0.0, lambda z: -np.abs(z) - 2.0 * np.log1p(np.exp(-np.abs(z))),
                   cdf=lambda z: sp.expit(z), sf=lambda z: sp.expit(-z),
                   logcdf=lambda z: sp.log_expit(z), logsf=lambda z: sp.log_expit(-z),
                   ppf=lambda q: sp.logit(q), isf=lambda q: -sp.logit(q), entropy=lambda: 2.0),
        Continuous("cauchy", -np.inf, np.inf, 0.0, lambda z: -LOG_PI - np.log1p(z * z),
                   cdf=lambda z: np.arctan2(1.0, -z) / np.pi, sf=lambda z: np.arctan2(1.0, z) / np.pi,
                   ppf=lambda q: np.tan(np.pi * (q - 0.5)), isf=lambda q: np.tan(np.pi * (0.5 - q)),
                   entropy=lambda: math.log(4 * math.pi)),
        Continuous("chi2", 0.0, np.inf, 1.0,
                   lambda z, df: sp.xlogy(df / 2 - 1, z) - z / 2 - sp.gammaln(df / 2) - math.log(2.0) * df / 2,
                   cdf=lambda z, df: sp.gammainc(df / 2, z / 2), sf=lambda z, df: sp.gammaincc(df / 2, z / 2),
                   ppf=lambda q, df: 2 * gamma_ppf(df / 2, q), isf=lambda q, df: 2 * gamma_isf(df / 2, q),
                   entropy=lambda df: (df / 2 + math.log(2.0) + sp.gammaln(df / 2)
                                       + (1 - df / 2) * sp.digamma(df / 2)),
                   fixed={"df": gamma_fixed}),
        Continuous("lognorm", 0.0, np.inf, 1.0,
                   lambda z, s: -np.log(s) - np.log(z) - LOG_2PI / 2 - np.log(z) ** 2 / (2 * s * s),
                   cdf=lambda z, s: sp.ndtr(np.log(z) / s), sf=lambda z, s: sp.ndtr(-np.log(z) / s),
                   logcdf=lambda z, s: sp.log_ndtr(np.log(z) / s), logsf=lambda z, s: sp.log_ndtr(-np.log(z) / s),
                   ppf=lambda q, s: np.exp(s * sp.ndtri(q)), isf=lambda q, s: np.exp(-s * sp.ndtri(q)),
                   entropy=lambda s: 0.5 * (1 + LOG_2PI) + np.log(s), zero_at_lo=True),
        Continuous("uniform", 0.0, 1.0, 0.5, lambda z: 0.0 * z,
                   cdf=lambda z: z, sf=lambda z: 1.0 - z, ppf=lambda q: q, isf=lambda q: 1.0 - q,
                   entropy=lambda: 0.0),
        Continuous("invgamma", 0.0, np.inf, 1.0, lambda z, a: -(a + 1) * np.log(z) - sp.gammaln(a) - 1.0 / z,
                   cdf=lambda z, a: sp.gammaincc(a, 1.0 / z), sf=lambda z, a: sp.gammainc(a, 1.0 / z),
                   ppf=lambda q, a: 1.0 / gamma_isf(a, q), isf=lambda q, a: 1.0 / gamma_ppf(a, q),
                   entropy=lambda a: a - (a + 1.0) * sp.digamma(a) + sp.gammaln(a),
                   fixed={"a": gamma_fixed}, zero_at_lo=True),
        Continuous("weibull_min", 0.0, np.inf, 1.0, lambda z, c: np.log(c) + sp.xlogy(c - 1, z) - z ** c,
                   cdf=lambda z, c: -np.expm1(-z ** c), sf=lambda z, c: np.exp(-z ** c),
                   logsf=lambda z, c: -z ** c,
                   ppf=lambda q, c: (-np.log1p(-q)) ** (1.0 / c), isf=lambda q, c: (-np.log(q)) ** (1.0 / c),
                   entropy=lambda c: -EULER / c - np.log(c) + EULER + 1),
    ]
    return {f.name: f for f in fams}


def _laplace_cdf(z):
    zv = value(z)
    pos = zv > 0
    return np.where(pos, 1.0 - 0.5 * np.exp(-_safe(z, pos, 1.0)), 0.5 * np.exp(_safe(z, ~pos, -1.0)))


def _laplace_ppf(q):
    hi = value(q) > 0.5
    return np.where(hi, -np.log(2 * (1 - _safe(q, hi, 0.75))), np.log(2 * _safe(q, ~hi, 0.25)))


def _shape_names(dist):
    return [s.strip() for s in (dist.shapes or "").split(",") if s.strip()]


def _parse(dist, where, lead, args, kwargs, discrete=False):
    """scipy's argument conventions: (lead..., shapes..., loc=0[, scale=1]), by
    position or by name. Returns (lead values, shapes, loc, scale)."""
    names = list(lead) + _shape_names(dist) + ["loc"] + ([] if discrete else ["scale"])
    if len(args) > len(names):
        raise TypeError("%s takes at most %d arguments (%s), got %d"
                        % (where, len(names), ", ".join(names), len(args)))
    got = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names or k in got:
            raise TypeError("%s got an unexpected or repeated argument %r" % (where, k))
        got[k] = v
    got.setdefault("loc", 0.0)
    if not discrete:
        got.setdefault("scale", 1.0)
    missing = [n for n in names if n not in got]
    if missing:
        raise TypeError("%s is missing the argument(s) %s" % (where, ", ".join(missing)))
    nl = len(lead)
    shapes = [got[n] for n in names[nl:len(names) - (1 if discrete else 2)]]
    return [got[n] for n in names[:nl]], shapes, got["loc"], (None if discrete else got["scale"])


def _continuous(fam, method, dist, args, kwargs):
    where = "scipy.stats.%s.%s" % (fam.name, method)
    lead = () if method == "entropy" else (("q",) if method in ("ppf", "isf") else ("x",))
    leads, shapes, loc, scale = _parse(dist, where, lead, args, kwargs)
    x = leads[0] if leads else None
    _check_fixed(where, method, _shape_names(dist), shapes, fam.fixed)
    shv = [np.asarray(value(s), dtype=float) for s in shapes]
    sv = np.asarray(value(scale), dtype=float)
    lv = np.asarray(value(loc), dtype=float)
    ok = np.asarray(fam.check(*shv)) & (sv > 0)
    shs = [_safe(s, ok, 1.0) for s in shapes]
    scs = _safe(scale, ok, 1.0)
    with np.errstate(all="ignore"):
        if method == "entropy":
            ok = ok & (lv == lv)
            full = np.broadcast_shapes(ok.shape, lv.shape)
            out = fam.entropy(*shs) + np.log(scs)
            return _scalar(np.where(np.broadcast_to(ok, full), out, np.nan))
        xv = np.asarray(value(x), dtype=float)
        if method in ("ppf", "isf"):
            ok = ok & (lv == lv)
            inside = ok & (xv > 0) & (xv < 1)
            f = fam.ppf if method == "ppf" else fam.isf
            out = np.where(inside, f(_safe(x, inside, 0.5), *shs) * scs + loc, np.nan)
            first, last = (fam.lo, fam.hi) if method == "ppf" else (fam.hi, fam.lo)
            for end, b in ((0, first), (1, last)):
                if np.any(ok & (xv == end)):
                    out = np.where(ok & (xv == end), _bound(b, scs, loc), out)
            return _scalar(out)
        z = (x - loc) / scs
        zv = (xv - lv) / np.asarray(value(scs), dtype=float)
        good = ok & (zv == zv)
        if method in ("logpdf", "pdf"):
            inside = good & ((zv > fam.lo) if fam.zero_at_lo else (zv >= fam.lo)) & (zv <= fam.hi)
            out = fam.logpdf(_safe(z, inside, fam.inside), *shs) - np.log(scs)
            out = np.where(inside, out, -np.inf)
            if method == "pdf":
                out = np.exp(out)
        else:
            inside = good & (zv > fam.lo) & (zv < fam.hi)
            f = getattr(fam, method)
            zs = _safe(z, inside, fam.inside)
            below, above = {"cdf": (0.0, 1.0), "sf": (1.0, 0.0), "logcdf": (-np.inf, 0.0),
                            "logsf": (0.0, -np.inf)}[method]
            out = np.where(inside, f(zs, *shs), np.where(zv >= fam.hi, above, below))
        return _scalar(np.where(good, out, np.nan))


# ---------------------------------------------------------------------------
# Discrete families: the count k is an integer, so only the shapes have derivatives

class Discrete:
    """The closed forms of one discrete family (functions of the integer k and the
    shapes), its support (a function of the shapes' values), and the check."""

    def __init__(self, name, support, check, logpmf, cdf, sf, integer=(), fixed=None):
        self.name, self.support, self.check = name, support, check
        self.logpmf, self.cdf, self.sf = logpmf, cdf, sf
        self.integer = frozenset(integer)
        self.fixed = fixed or {}


def _discrete_families():
    nb_fixed = _Fixed("cdf sf logcdf logsf", "the regularized incomplete beta function "
                                             "(scipy.special.betainc)")
    fams = [
        Discrete("poisson", lambda mu: (0, np.inf), lambda mu: mu >= 0,
                 lambda k, mu: sp.xlogy(k, mu) - sp.gammaln(k + 1) - mu,
                 cdf=lambda k, mu: sp.gammaincc(k + 1, mu), sf=lambda k, mu: sp.gammainc(k + 1, mu)),
        Discrete("binom", lambda n, p: (0, n),
                 lambda n, p: (n >= 0) & (np.floor(n) == n) & (p >= 0) & (p <= 1),
                 lambda k, n, p: (sp.gammaln(n + 1) - sp.gammaln(k + 1) - sp.gammaln(n - k + 1)
                                  + sp.xlogy(k, p) + sp.xlog1py(n - k, -p)),
                 cdf=lambda k, n, p: beta_cdf(n - k, k + 1, 1 - p),
                 sf=lambda k, n, p: beta_cdf(k + 1, n - k, p), integer=("n",)),
        Discrete("nbinom", lambda n, p: (0, np.inf), lambda n, p: (n > 0) & (p > 0) & (p <= 1),
                 lambda k, n, p: (sp.gammaln(n + k) - sp.gammaln(k + 1) - sp.gammaln(n) + n * np.log(p)
                                  + sp.xlog1py(k, -p)),
                 cdf=lambda k, n, p: beta_cdf(n, k + 1, p), sf=lambda k, n, p: beta_sf(n, k + 1, p),
                 fixed={"n": nb_fixed}),
        Discrete("geom", lambda p: (1, np.inf), lambda p: (p <= 1) & (p > 0),
                 lambda k, p: sp.xlog1py(k - 1, -p) + np.log(p),
                 cdf=lambda k, p: -np.expm1(np.log1p(-p) * k), sf=lambda k, p: np.exp(np.log1p(-p) * k)),
    ]
    return {f.name: f for f in fams}


def _discrete(fam, method, dist, args, kwargs):
    where = "scipy.stats.%s.%s" % (fam.name, method)
    (k,), shapes, loc, _ = _parse(dist, where, ("k",), args, kwargs, discrete=True)
    names = _shape_names(dist)
    for name, v in [("k", k), ("loc", loc)] + [(n, s) for n, s in zip(names, shapes) if n in fam.integer]:
        if _tracked(v):
            raise _integer_argument(where, name)
    _check_fixed(where, method, names, shapes, fam.fixed)
    shv = [np.asarray(value(s), dtype=float) for s in shapes]
    ok = np.asarray(fam.check(*shv))
    shs = [_safe(s, ok, 0.5) for s in shapes]
    lo, hi = fam.support(*[np.where(ok, s, 0.5) for s in shv])
    kk = np.asarray(value(k), dtype=float) - np.asarray(value(loc), dtype=float)
    good = ok & (kk == kk)
    with np.errstate(all="ignore"):
        if method in ("logpmf", "pmf"):
            inside = good & (kk >= lo) & (kk <= hi) & (np.floor(kk) == kk)
            out = np.where(inside, fam.logpmf(np.where(inside, kk, lo), *shs), -np.inf)
            if method == "pmf":
                out = np.exp(out)
        else:
            kf = np.floor(kk)
            inside = good & (kk >= lo) & (kk < hi) & np.isfinite(kk)
            ks = np.where(inside, kf, lo)
            upper = method in ("sf", "logsf")
            val = (fam.sf if upper else fam.cdf)(ks, *shs)
            if method.startswith("log"):
                val = np.log(val)
            one, zero = (0.0, -np.inf) if method.startswith("log") else (1.0, 0.0)
            out = np.where(inside, val, np.where(kk >= hi, zero if upper else one, one if upper else zero))
            if method == "logcdf":          # scipy's order: 0 above the support, valid or not
                out = np.where(good, out, np.nan)
                return _scalar(np.where(kk >= fam.support(*shv)[1], 0.0, out))
        return _scalar(np.where(good, out, np.nan))


# ---------------------------------------------------------------------------
# multivariate_normal and dirichlet

def _lower_symmetric(c):
    """The symmetric matrix scipy sees in c: its lower triangle (scipy.linalg.eigh,
    lower=True), mirrored."""
    return np.tril(c) + np.swapaxes(np.tril(c, -1), -1, -2)


def _mvn_parts(mean, cov, where):
    """(dim, mean vector, full covariance) as scipy's multivariate_normal reads them."""
    cv = value(cov)
    mv = value(mean)
    if mean is None:
        dim = 1 if np.ndim(cv) < 2 else np.shape(cv)[0]
        mean = np.zeros(dim)
    else:
        dim = int(np.size(mv))
    mean = np.reshape(mean, (dim,)) if np.ndim(mv) != 1 or dim == 1 else mean
    if np.ndim(cv) == 0:
        cov = cov * np.eye(dim)
    elif np.ndim(cv) == 1:
        cov = np.diag(cov) if dim != 1 else np.reshape(cov, (1, 1))
    elif np.ndim(cv) == 2 and dim == 1:
        cov = np.reshape(cov, (1, 1))
    if np.shape(value(cov)) != (dim, dim):
        raise ValueError("%s: cov must be a %d x %d matrix, got shape %s"
                         % (where, dim, dim, np.shape(value(cov))))
    return dim, mean, _lower_symmetric(cov)


def _mvn_logpdf(x, mean, cov, allow_singular, where):
    dim, mean, cov = _mvn_parts(mean, cov, where)
    xv = value(x)
    if np.ndim(xv) == 0:
        x = np.reshape(x, (1,))
    elif np.ndim(xv) == 1:
        x = np.reshape(x, (-1, 1)) if dim == 1 else np.reshape(x, (1, -1))
    try:
        L = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(
            "%s: the covariance is not positive definite; zygcy differentiates "
            "multivariate_normal for a positive definite covariance only%s"
            % (where, " (allow_singular=True with a singular one is not covered)" if allow_singular else "")) from None
    r = x - mean
    z = np.linalg.solve(L, np.swapaxes(np.reshape(r, (-1, dim)), 0, 1))
    maha = np.reshape(np.sum(z * z, axis=0), np.shape(value(r))[:-1])
    logdet = 2.0 * np.sum(np.log(np.diagonal(L)))
    out = -0.5 * (dim * LOG_2PI + logdet + maha)
    return _scalar(np.squeeze(out)) if np.ndim(value(out)) else _scalar(out)


def _mvn_entropy(mean, cov, where):
    dim, mean, cov = _mvn_parts(mean, cov, where)
    sign, logdet = np.linalg.slogdet(cov)
    if value(sign) <= 0:
        raise np.linalg.LinAlgError("%s: the covariance is not positive definite" % where)
    return 0.5 * (dim * (LOG_2PI + 1) + logdet)


def _dirichlet_x(x, alpha):
    """x with its last component appended when it has one fewer than alpha (as scipy)."""
    if np.shape(value(x))[0] + 1 == np.shape(value(alpha))[0]:
        last = 1 - np.sum(x, axis=0)
        x = np.concatenate([x, np.reshape(last, (1,) + np.shape(value(last)))], axis=0)
    return x


def _dirichlet_logpdf(x, alpha):
    x = _dirichlet_x(x, alpha)
    lnB = np.sum(sp.gammaln(alpha)) - sp.gammaln(np.sum(alpha))
    a = np.reshape(alpha, (-1,) + (1,) * (np.ndim(value(x)) - 1))
    return _scalar(-lnB + np.sum(sp.xlogy(a - 1, x), axis=0))


def _dirichlet_entropy(alpha):
    a0 = np.sum(alpha)
    K = np.shape(value(alpha))[0]
    lnB = np.sum(sp.gammaln(alpha)) - sp.gammaln(a0)
    return _scalar(lnB + (a0 - K) * sp.digamma(a0) - np.sum((alpha - 1) * sp.digamma(alpha)))


def _kw(args, kwargs, names, defaults, where):
    got = dict(zip(names, args))
    if len(args) > len(names):
        raise TypeError("%s takes at most %d arguments, got %d" % (where, len(names), len(args)))
    for k, v in kwargs.items():
        if k not in names or k in got:
            raise TypeError("%s got an unexpected or repeated argument %r" % (where, k))
        got[k] = v
    for n, d in zip(names, defaults):
        got.setdefault(n, d)
    missing = [n for n in names if got[n] is _REQUIRED]
    if missing:
        raise TypeError("%s is missing the argument(s) %s" % (where, ", ".join(missing)))
    return [got[n] for n in names]


_REQUIRED = object()


def _validate(orig, dist, *args, **kwargs):
    """Run scipy's own method on the plain values: its checks (shapes, positive
    definiteness, the simplex) raise its own errors for invalid input."""
    orig(dist, *[value(a) for a in args], **{k: value(v) for k, v in kwargs.items()})


class MultivariateMethods:
    """The tracked versions of multivariate_normal's and dirichlet's methods."""

    @staticmethod
    def mvn(method, orig, dist, args, kwargs):
        where = "scipy.stats.multivariate_normal." + method
        if method in ("cdf", "logcdf"):
            params = _kw(args, kwargs, ["x", "mean", "cov"], [_REQUIRED, None, 1], where)
            name = [n for n, v in zip(["x", "mean", "cov"], params) if _tracked(v)][0]
            raise _no_derivative(where, name, "scipy computes it by numerical integration (Genz's "
                                              "algorithm), and zygcy has no rule for its derivative, "
                                              "which would need further such integrations")
        if method == "entropy":
            mean, cov = _kw(args, kwargs, ["mean", "cov"], [None, 1], where)
            _validate(orig, dist, mean, cov)
            return _mvn_entropy(mean, cov, where)
        x, mean, cov, allow = _kw(args, kwargs, ["x", "mean", "cov", "allow_singular"],
                                  [_REQUIRED, None, 1, False], where)
        _validate(orig, dist, x, mean, cov, allow)
        out = _mvn_logpdf(x, mean, cov, allow, where)
        return np.exp(out) if method == "pdf" else out

    @staticmethod
    def dirichlet(method, orig, dist, args, kwargs):
        where = "scipy.stats.dirichlet." + method
        if method == "entropy":
            (alpha,) = _kw(args, kwargs, ["alpha"], [_REQUIRED], where)
            _validate(orig, dist, alpha)
            return _dirichlet_entropy(alpha)
        x, alpha = _kw(args, kwargs, ["x", "alpha"], [_REQUIRED, _REQUIRED], where)
        if type(alpha) in (list, tuple):
            alpha = np.stack(alpha)
        _validate(orig, dist, x, alpha)
        out = _dirichlet_logpdf(x, alpha)
        return np.exp(out) if method == "pdf" else out


class Frozen:
    """A frozen multivariate_normal or dirichlet with tracked parameters (scipy's own
    frozen objects convert their parameters when made): the covered methods, with
    the parameters filled in; any other method raises, naming it."""

    def __init__(self, dist, name, params, methods):
        self._dist, self._name, self._params, self._methods = dist, name, params, methods
        for k, v in params.items():
            setattr(self, k, v)

    def __getattr__(self, attr):
        if attr.startswith("_"):
            raise AttributeError(attr)
        if attr in self._methods:
            method = getattr(self._dist, attr)
            return functools.partial(method, **{k: v for k, v in self._params.items()
                                                 if k in self._methods[attr]})
        raise NotImplementedError(
            "scipy.stats.%s(...).%s: zygcy differentiates the frozen %s with tracked "
            "parameters in %s only; for %s pass zygcy.value() of the parameters"
            % (self._name, attr, self._name, ", ".join(sorted(self._methods)), attr))

    def __repr__(self):
        return "<zygcy frozen scipy.stats.%s with tracked parameters>" % self._name


# ---------------------------------------------------------------------------
# Registration

CONTINUOUS = {}
DISCRETE = {}
MULTIVARIATE = {"multivariate_normal": ("logpdf", "pdf", "entropy", "cdf", "logcdf"),
                "dirichlet": ("logpdf", "pdf", "entropy")}
CONTINUOUS_METHODS = ("logpdf", "pdf", "logcdf", "cdf", "logsf", "sf", "ppf", "isf", "entropy")
DISCRETE_METHODS = ("logpmf", "pmf", "logcdf", "cdf", "logsf", "sf")


def _hook(cls, method, impl):
    """Wrap ``cls.method`` (inherited from rv_continuous...) for this class only: an
    instance of a subclass (erlang of gamma, bernoulli of binom) keeps scipy's."""
    orig = getattr(cls, method)
    orig = getattr(orig, "__wrapped__", orig)

    def on_tracked(dist, *args, **kwargs):
        if type(dist) is not cls:
            return orig(dist, *args, **kwargs)
        return impl(orig, dist, args, kwargs)

    wrap(cls, method, on_tracked)._zygcy_class = cls    # (for zygcy._messages)


def _register(module):
    global st, sp
    if st is not None:
        return
    import scipy.special
    st, sp = module, scipy.special
    _register_primitives()
    CONTINUOUS.update(_continuous_families())
    DISCRETE.update(_discrete_families())
    for name, fam in CONTINUOUS.items():
        for method in CONTINUOUS_METHODS:
            _hook(type(getattr(st, name)), method,
                  lambda orig, dist, args, kwargs, fam=fam, method=method: _continuous(fam, method, dist, args, kwargs))
    for name, fam in DISCRETE.items():
        for method in DISCRETE_METHODS:
            _hook(type(getattr(st, name)), method,
                  lambda orig, dist, args, kwargs, fam=fam, method=method: _discrete(fam, method, dist, args, kwargs))
    for method in MULTIVARIATE["multivariate_normal"]:
        _hook(type(st.multivariate_normal), method,
              lambda orig, dist, args, kwargs, method=method: MultivariateMethods.mvn(method, orig, dist, args, kwargs))
    for method in MULTIVARIATE["dirichlet"]:
        _hook(type(st.dirichlet), method,
              lambda orig, dist, args, kwargs, method=method: MultivariateMethods.dirichlet(method, orig, dist, args, kwargs))

    mvn_methods = {m: ("mean", "cov", "allow_singular") for m in ("logpdf", "pdf")}
    mvn_methods["entropy"] = ("mean", "cov")

    def frozen_mvn(orig, dist, args, kwargs):
        mean, cov, allow, seed = _kw(args, kwargs, ["mean", "cov", "allow_singular", "seed"],
                                     [None, 1, False, None], "scipy.stats.multivariate_normal")
        _validate(orig, dist, mean, cov, allow)
        return Frozen(dist, "multivariate_normal", {"mean": mean, "cov": cov, "allow_singular": allow},
                      mvn_methods)

    def frozen_dirichlet(orig, dist, args, kwargs):
        alpha, seed = _kw(args, kwargs, ["alpha", "seed"], [_REQUIRED, None], "scipy.stats.dirichlet")
        _validate(orig, dist, alpha)
        return Frozen(dist, "dirichlet", {"alpha": alpha}, {m: ("alpha",) for m in MULTIVARIATE["dirichlet"]})

    _hook(type(st.multivariate_normal), "__call__", frozen_mvn)
    _hook(type(st.dirichlet), "__call__", frozen_dirichlet)


when_imported("scipy.stats", _register)
