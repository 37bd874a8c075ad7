"""scipy.stats distributions on tracked values (zygcy.rules.stats).

Each method is checked two ways: its value on tracked input equals scipy's on
plain input (inside and outside the support, at nan and infinities, for
invalid parameters), and its derivative in x and every continuous parameter
agrees with central differences, to second order, in reverse and forward
mode, with broadcast arguments, called directly and through a frozen
distribution.
"""
import warnings

import numpy as np
import pytest

import zygcy
from zygcy import Params, forward, gradient, param
from zygcy.testing import gradcheck

from _grid import fresh_python

st = pytest.importorskip("scipy.stats")

# name -> (shape parameters, the shapes without a derivative in cdf/sf/ppf/isf)
CONTINUOUS = {
    "norm": ((), ()), "t": ((3.5,), (0,)), "gamma": ((2.3,), (0,)), "beta": ((2.0, 3.0), (0, 1)),
    "expon": ((), ()), "laplace": ((), ()), "logistic": ((), ()), "cauchy": ((), ()),
    "chi2": ((3.3,), (0,)), "lognorm": ((0.7,), ()), "uniform": ((), ()), "invgamma": ((2.5,), (0,)),
    "weibull_min": ((1.7,), ()),
}
METHODS = ("logpdf", "pdf", "logcdf", "cdf", "logsf", "sf", "ppf", "isf", "entropy")
SHAPE_FREE = ("logpdf", "pdf", "entropy")       # every shape has a derivative in these

X = np.array([0.35, 0.8, 1.2])                  # inside every support for loc <= 0.2, scale 1.3
Q = np.array([0.15, 0.4, 0.9])
LOC = np.array([[0.1], [0.2]])                  # broadcast against x: results are (2, 3)
SCALE = 1.3


def lead(method):
    return () if method == "entropy" else ((Q,) if method in ("ppf", "isf") else (X,))


# ---------------------------------------------------------------------------
# Values: the tracked path computes what scipy computes

GRID = np.array([-0.5, 0.1, 0.2, 0.45, 0.8, 1.5, 3.0, np.nan, np.inf, -np.inf])
QGRID = np.array([0.0, 0.05, 0.3, 0.7, 1.0, 1.2, -0.1, np.nan])


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_values_equal_scipy(name):
    dist = getattr(st, name)
    shapes, _ = CONTINUOUS[name]
    bad_scale = np.array([[1.4], [-1.0], [0.5]])      # a row with an invalid scale: nan
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in METHODS:
            first = () if method == "entropy" else ((QGRID,) if method in ("ppf", "isf") else (GRID,))
            for scale in (1.4, bad_scale):
                want = getattr(dist, method)(*first, *shapes, loc=0.1, scale=scale)
                got, _ = forward(lambda loc: getattr(dist, method)(*first, *shapes, loc=loc, scale=scale), 0.1)
                assert np.shape(got) == np.shape(want), (method, scale)
                np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-14, equal_nan=True,
                                           err_msg="%s.%s" % (name, method))


@pytest.mark.parametrize("name", [n for n in sorted(CONTINUOUS) if CONTINUOUS[n][0]])
def test_continuous_values_for_invalid_shapes_equal_scipy(name):
    dist = getattr(st, name)
    shapes = [np.array([[s], [-1.0]]) for s in CONTINUOUS[name][0]]    # second row invalid
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in SHAPE_FREE:
            first = lead(method)
            want = getattr(dist, method)(*first, *shapes, scale=SCALE)
            got, _ = forward(lambda s: getattr(dist, method)(*first, *shapes, scale=s), SCALE)
            np.testing.assert_allclose(got, want, rtol=1e-9, equal_nan=True, err_msg=method)


DISCRETE = {    # name -> (shapes, index of the shape to track)
    "poisson": ((np.array([[2.5], [0.0], [-1.0]]),), 0),
    "binom": ((np.array([[10], [10.5], [-1]]), np.array([[0.3], [0.0], [1.5]])), 1),
    "nbinom": ((np.array([[3.5], [-1.0], [2.0]]), np.array([[0.4], [0.4], [1.0]])), 1),
    "geom": ((np.array([[0.3], [1.0], [0.0]]),), 0),
}
DISCRETE_METHODS = ("logpmf", "pmf", "logcdf", "cdf", "logsf", "sf")
KGRID = np.array([-1, 0, 1, 2, 3.5, 5, 10, 12, np.nan, np.inf, -np.inf])


@pytest.mark.parametrize("name", sorted(DISCRETE))
def test_discrete_values_equal_scipy(name):
    dist = getattr(st, name)
    shapes, i = DISCRETE[name]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in DISCRETE_METHODS:
            for loc in (0, 1):
                want = getattr(dist, method)(KGRID, *shapes, loc=loc)

                def f(s):
                    sh = list(shapes)
                    sh[i] = s
                    return getattr(dist, method)(KGRID, *sh, loc=loc)
                got, _ = forward(f, shapes[i])
                np.testing.assert_allclose(got, want, rtol=1e-9, equal_nan=True,
                                           err_msg="%s.%s loc=%d" % (name, method, loc))


def test_scalar_results_are_numpy_scalars_as_in_scipy():
    y, _ = forward(lambda m: st.norm.logpdf(0.3, m), 0.1)
    assert np.ndim(y) == 0 and y == st.norm.logpdf(0.3, 0.1)


# ---------------------------------------------------------------------------
# Derivatives against finite differences

def continuous_cases():
    for name, (shapes, fixed) in sorted(CONTINUOUS.items()):
        for method in METHODS:
            free = [i for i in range(len(shapes)) if method in SHAPE_FREE or i not in fixed]
            yield pytest.param(name, method, free, id="%s.%s" % (name, method))


@pytest.mark.parametrize("name, method, free", list(continuous_cases()))
def test_continuous_derivatives(name, method, free):
    """In the first argument, loc, scale and the shapes with a derivative; broadcast."""
    dist = getattr(st, name)
    shapes = list(CONTINUOUS[name][0])
    first = lead(method)
    # the shapes being differentiated vary along the last axis: (1, 3) against x's (3,)
    tracked_shapes = [np.array([[shapes[i], shapes[i] * 1.1, shapes[i] * 1.2]]) for i in free]

    def f(first, loc, scale, *ts):
        sh = list(shapes)
        for i, s in zip(free, ts):
            sh[i] = s
        return getattr(dist, method)(*first, *sh, loc=loc, scale=scale)
    gradcheck(f, first, LOC, SCALE, *tracked_shapes, order=2, directions=2, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_frozen_continuous_derivatives(name):
    dist = getattr(st, name)
    shapes, fixed = CONTINUOUS[name]

    def f(x, q, loc, scale, *s):
        frozen = dist(*s, loc=loc, scale=scale)
        out = [frozen.logpdf(x), frozen.entropy()]
        if not fixed:
            out += [frozen.cdf(x), frozen.ppf(q)]
        return out
    gradcheck(f, X, Q, 0.15, SCALE, *shapes, order=2, directions=2, rtol=1e-4)


def test_scale_and_shapes_by_keyword_and_position():
    x = np.array([0.5, 1.5])
    g1 = gradient(lambda a, s: np.sum(st.gamma.logpdf(x, a, 0.1, s)), 2.0, 1.5)
    g2 = gradient(lambda a, s: np.sum(st.gamma.logpdf(x, scale=s, a=a, loc=0.1)), 2.0, 1.5)
    np.testing.assert_allclose(g1, g2, rtol=1e-14)
    gradcheck(lambda a, s: st.gamma.logpdf(x, scale=s, a=a, loc=0.1), 2.0, 1.5)


def test_norm_logpdf_gradient_closed_form():
    x = np.array([0.3, 1.2, 2.5])
    gm, gs = gradient(lambda m, s: np.sum(st.norm.logpdf(x, m, s)), 0.5, 1.3)
    np.testing.assert_allclose(gm, np.sum(x - 0.5) / 1.3 ** 2, rtol=1e-13)
    np.testing.assert_allclose(gs, np.sum((x - 0.5) ** 2 / 1.3 ** 3 - 1 / 1.3), rtol=1e-13)


DISCRETE_POINTS = {     # name -> (shapes, the indices with a derivative in pmf, and in cdf)
    "poisson": ((2.5,), (0,), (0,)),
    "binom": ((10, 0.3), (1,), (1,)),
    "nbinom": ((3.5, 0.4), (0, 1), (1,)),
    "geom": ((0.3,), (0,), (0,)),
}


@pytest.mark.parametrize("name", sorted(DISCRETE_POINTS))
@pytest.mark.parametrize("method", DISCRETE_METHODS)
def test_discrete_derivatives(name, method):
    dist = getattr(st, name)
    shapes, in_pmf, in_cdf = DISCRETE_POINTS[name]
    free = in_pmf if method in ("logpmf", "pmf") else in_cdf
    k = np.array([1, 2, 4])
    tracked = [np.array([[shapes[i]], [shapes[i] * 0.9]]) for i in free]     # (2, 1) against k's (3,)

    def f(*ts):
        sh = list(shapes)
        for i, s in zip(free, ts):
            sh[i] = s
        return getattr(dist, method)(k, *sh)
    gradcheck(f, *tracked, order=2, directions=2, rtol=1e-4)
    gradcheck(lambda *ts: getattr(dist(*[ts[free.index(i)] if i in free else s
                                         for i, s in enumerate(shapes)]), method)(k), *tracked,
              directions=1, rtol=1e-4)


def test_poisson_cdf_derivative_is_minus_the_pmf():
    (g,) = gradient(lambda mu: st.poisson.cdf(3, mu), 2.5)
    np.testing.assert_allclose(g, -st.poisson.pmf(3, 2.5), rtol=1e-12)


# ---------------------------------------------------------------------------
# multivariate_normal and dirichlet

def spd(d, seed=0):
    a = np.random.default_rng(seed).standard_normal((d, d))
    return a @ a.T + d * np.eye(d)


MEAN = np.array([0.2, -0.4, 1.0])
XS = np.random.default_rng(1).standard_normal((4, 3))


def test_multivariate_normal_values_equal_scipy():
    cov = spd(3)
    cov[0, 2] += 0.3                                   # scipy reads the lower triangle only
    for x in (XS, XS[0], XS.reshape(2, 2, 3)):
        for method in ("logpdf", "pdf"):
            got, _ = forward(lambda m, c: getattr(st.multivariate_normal, method)(x, m, c), MEAN, cov)
            want = getattr(st.multivariate_normal, method)(x, MEAN, cov)
            assert np.shape(got) == np.shape(want)
            np.testing.assert_allclose(got, want, rtol=1e-12)
    for c in (1.7, np.array([1.0, 2.0, 3.0])):         # cov as a number, or the diagonal
        got, _ = forward(lambda c: st.multivariate_normal.logpdf(XS, MEAN, c), c)
        np.testing.assert_allclose(got, st.multivariate_normal.logpdf(XS, MEAN, c), rtol=1e-12)
    got, _ = forward(lambda m: st.multivariate_normal.logpdf(np.array([0.1, 0.5]), m, 1.5), 0.2)
    np.testing.assert_allclose(got, st.multivariate_normal.logpdf(np.array([0.1, 0.5]), 0.2, 1.5))
    got, _ = forward(lambda c: st.multivariate_normal.entropy(MEAN, c), cov)
    np.testing.assert_allclose(got, st.multivariate_normal.entropy(MEAN, cov), rtol=1e-12)


def test_multivariate_normal_derivatives():
    cov = spd(3)
    gradcheck(lambda x, m, c: st.multivariate_normal.logpdf(x, m, c), XS, MEAN, cov, order=2, directions=2)
    gradcheck(lambda x, m, c: st.multivariate_normal.pdf(x, mean=m, cov=c), XS[0], MEAN, cov, order=2,
              directions=2)
    gradcheck(lambda m, c: st.multivariate_normal.entropy(m, c), MEAN, cov, order=2, directions=2)
    gradcheck(lambda x, c: st.multivariate_normal.logpdf(x, None, c), XS[:, :1], np.array([2.0]), directions=2)
    gradcheck(lambda m, c: st.multivariate_normal.logpdf(XS, m, c), MEAN, np.array([1.0, 2.0, 3.0]),
              order=2, directions=2)


def test_frozen_multivariate_normal():
    cov = spd(3)

    def f(m, c):
        d = st.multivariate_normal(m, c)
        return [d.logpdf(XS), d.pdf(XS[0]), d.entropy()]
    gradcheck(f, MEAN, cov, order=2, directions=2)
    with pytest.raises(NotImplementedError, match=r"multivariate_normal\(\.\.\.\)\.rvs"):
        gradient(lambda m: st.multivariate_normal(m, cov).rvs(), MEAN)


def test_multivariate_normal_cdf_names_the_parameter():
    with pytest.raises(NotImplementedError, match=r"scipy\.stats\.multivariate_normal\.cdf .* respect to mean"):
        gradient(lambda m: st.multivariate_normal.cdf(XS[0], m, spd(3)), MEAN)


def test_multivariate_normal_keeps_scipys_errors():
    with pytest.raises(ValueError):
        gradient(lambda m: st.multivariate_normal.logpdf(XS, m, np.eye(2)), MEAN)


ALPHA = np.array([1.5, 2.0, 3.0])
XD = np.array([[0.2, 0.3], [0.5, 0.1], [0.3, 0.6]])          # two points on the simplex, as columns


def test_dirichlet_values_equal_scipy():
    for x in (XD, XD[:2], XD[:, 0], XD[:2, 0]):
        for method in ("logpdf", "pdf"):
            got, _ = forward(lambda a: getattr(st.dirichlet, method)(x, a), ALPHA)
            np.testing.assert_allclose(got, getattr(st.dirichlet, method)(x, ALPHA), rtol=1e-12)
    got, _ = forward(lambda a: st.dirichlet.entropy(a), ALPHA)
    np.testing.assert_allclose(got, st.dirichlet.entropy(ALPHA), rtol=1e-12)


def test_dirichlet_derivatives():
    gradcheck(lambda x, a: st.dirichlet.logpdf(x, a), XD[:2], ALPHA, order=2, directions=2)
    gradcheck(lambda x, a: st.dirichlet.pdf(x, a), XD[:2, 0], ALPHA, order=2, directions=2)
    gradcheck(lambda a: st.dirichlet.entropy(a), ALPHA, order=2, directions=2)
    gradcheck(lambda a: [st.dirichlet(a).logpdf(XD), st.dirichlet(alpha=a).entropy()], ALPHA,
              order=2, directions=2)


def test_dirichlet_keeps_scipys_errors():
    with pytest.raises(ValueError, match="simplex"):
        gradient(lambda a: st.dirichlet.logpdf(np.array([0.5, 0.6, 0.2]), a), ALPHA)


# ---------------------------------------------------------------------------
# What has no derivative says so

@pytest.mark.parametrize("name, method, param", [
    ("t", "cdf", "df"), ("t", "ppf", "df"), ("gamma", "sf", "a"), ("gamma", "isf", "a"),
    ("beta", "cdf", "b"), ("chi2", "logcdf", "df"), ("invgamma", "ppf", "a"), ("nbinom", "cdf", "n")])
def test_no_closed_form_raises_naming_the_parameter(name, method, param):
    dist = getattr(st, name)
    shapes = dict(CONTINUOUS, nbinom=((3.5, 0.4), ()))[name][0]
    names = [s.strip() for s in dist.shapes.split(",")]
    i = names.index(param)
    first = {"ppf": 0.3, "isf": 0.3}.get(method, 0.4)

    def f(s):
        sh = list(shapes)
        sh[i] = s
        return getattr(dist, method)(first, *sh)
    with pytest.raises(NotImplementedError, match=r"scipy\.stats\.%s\.%s has no derivative with respect "
                                                  r"to %s" % (name, method, param)):
        gradient(f, shapes[i])
    with pytest.raises(NotImplementedError, match=param):    # frozen: the same
        gradient(lambda s: getattr(dist(*[s if j == i else v for j, v in enumerate(shapes)]), method)(first),
                 shapes[i])
    # the same function is differentiable in its other arguments
    if name == "nbinom":
        gradient(lambda p: getattr(dist, method)(2, shapes[0], p), shapes[1])
    else:
        gradient(lambda q: getattr(dist, method)(q, *shapes), first)


@pytest.mark.parametrize("what", ["k", "loc", "n"])
def test_integer_arguments_have_no_derivative(what):
    args = {"k": 3.0, "n": 10.0, "p": 0.3, "loc": 0.0}
    with pytest.raises(TypeError, match=r"scipy\.stats\.binom\.pmf: %s is an integer" % what):
        gradient(lambda v: st.binom.pmf(**dict(args, **{what: v})), args[what])


def test_a_subclass_keeps_scipys_method():
    """erlang's class derives from gamma's: it is not covered, and says where it failed."""
    with pytest.raises(TypeError, match=r"scipy\.stats\.erlang\.logpdf"):
        gradient(lambda x: st.erlang.logpdf(x, 2), 1.5)
    gradient(lambda x: st.gamma.logpdf(x, 2), 1.5)


def test_uncovered_distribution_error_names_it():
    """The error of a conversion inside scipy names the function called (found on the
    stack), where the conversion was, and the fixes that apply there."""
    with pytest.raises(TypeError, match=r"scipy\.stats\.levy_stable\.pdf converted a tracked value with "
                                        r"np\.asarray \(in scipy\.stats\..*rv_continuous\.pdf, line \d+\).*"
                                        r"zygcy\.defvjp.*zygcy\.value\(x\)"):
        gradient(lambda x: st.levy_stable.pdf(x, 1.5, 0.0), 0.3)
    with pytest.raises(TypeError, match=r"scipy\.stats\.levy_stable\(\.\.\.\)\.pdf converted"):
        gradient(lambda x: st.levy_stable(1.5, 0.0).pdf(x), 0.3)
    with pytest.raises(TypeError, match=r"scipy\.stats\.multivariate_t\.logpdf converted"):
        gradient(lambda m: st.multivariate_t.logpdf(np.ones(2), m), np.zeros(2))
    with pytest.raises(TypeError, match=r"^np\.asarray/np\.array of a tracked value"):    # the user's own code
        gradient(lambda x: np.sum(np.asarray(x)), np.ones(2))


# ---------------------------------------------------------------------------
# The wrappers: scipy itself on plain input; zygcy's parameters; import order

def test_plain_calls_are_scipys_own():
    x = np.linspace(-1, 3, 7)
    assert st.norm.logpdf.__wrapped__ is st._distn_infrastructure.rv_continuous.logpdf
    np.testing.assert_array_equal(st.norm.logpdf(x, 0.3, 1.2),
                                  st._distn_infrastructure.rv_continuous.logpdf(st.norm, x, 0.3, 1.2))
    assert type(st.norm(0.3, 1.2)) is st._distn_infrastructure.rv_continuous_frozen
    assert type(st.multivariate_normal(MEAN, spd(3))).__name__ == "multivariate_normal_frozen"


def test_params_are_differentiated_through_scipy_stats():
    mu = param(np.array([0.1, 0.2]))
    log_sigma = param(np.array(0.3))
    x = np.array([[0.5], [1.5], [-0.2]])
    g = gradient(lambda: np.sum(st.norm.logpdf(x, mu, np.exp(log_sigma))), Params([mu, log_sigma]))
    gm, = gradient(lambda m: np.sum(st.norm.logpdf(x, m, np.exp(0.3))), np.array([0.1, 0.2]))
    np.testing.assert_allclose(g[mu], gm, rtol=1e-13)
    g = gradient(lambda: np.sum(st.norm(mu, 1.0).logpdf(x)), Params([mu]))
    np.testing.assert_allclose(g[mu], np.sum(x - np.array([0.1, 0.2]), axis=0), rtol=1e-13)


def test_hessian_of_a_log_likelihood():
    x = np.array([0.3, 1.1, 2.0, -0.4])

    def nll(theta):
        return -np.sum(st.t.logpdf(x, np.exp(theta[0]), theta[1], np.exp(theta[2])))
    H = zygcy.hessian(nll, np.array([1.0, 0.5, -0.2]))
    gradcheck(nll, np.array([1.0, 0.5, -0.2]), order=2)
    np.testing.assert_allclose(H, H.T, rtol=1e-10)


@pytest.mark.parametrize("order", ["zygcy first", "scipy first"])
def test_registered_in_either_import_order(order):
    imports = ["import zygcy", "import scipy.stats as st"]
    if order == "scipy first":
        imports.reverse()
    code = "\n".join(imports + [
        "import numpy as np",
        "g = zygcy.gradient(lambda m: st.norm(m, 2.0).logpdf(1.0), 0.5)[0]",
        "assert abs(g - 0.125) < 1e-14, g",
        "print('ok')"])
    out = fresh_python(code)
    assert out.stdout.strip() == "ok", out.stderr


def test_import_zygcy_does_not_import_scipy_stats():
    code = "import sys, zygcy\nprint('scipy.stats' in sys.modules, 'scipy' in sys.modules)"
    out = fresh_python(code)
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr
