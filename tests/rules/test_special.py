"""scipy.special: its ufuncs, and the wrapped logsumexp, softmax, log_softmax, polygamma,
multigammaln."""
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zygcy
from zygcy.testing import gradcheck

from _grid import BROADCAST_PAIRS, SHAPES, rand

sp = pytest.importorskip("scipy.special")

REAL = {}
POS = {"positive": True}
AWAY = {"low": 0.3, "high": 2.0}          # off the kink of |x| at 0
UNARY = {
    sp.erf: REAL, sp.erfc: REAL, sp.erfinv: {"low": -0.9, "high": 0.9},
    sp.erfcinv: {"low": 0.1, "high": 1.9}, sp.erfcx: REAL, sp.erfi: REAL, sp.dawsn: REAL,
    sp.ndtr: REAL, sp.ndtri: {"low": 0.1, "high": 0.9}, sp.log_ndtr: REAL,
    sp.expit: REAL, sp.logit: {"low": 0.1, "high": 0.9}, sp.log_expit: REAL,
    sp.gamma: POS, sp.gammaln: POS, sp.rgamma: POS, sp.digamma: POS,
    sp.i0: REAL, sp.i1: REAL, sp.i0e: AWAY, sp.i1e: AWAY, sp.j0: REAL, sp.j1: REAL,
    sp.y0: POS, sp.y1: POS, sp.entr: POS, sp.expm1: REAL, sp.log1p: POS, sp.loggamma: POS,
    sp.k0: POS, sp.k1: POS, sp.k0e: POS, sp.k1e: POS,
}
BINARY = {
    sp.xlogy: (REAL, POS), sp.xlog1py: (REAL, POS), sp.rel_entr: (POS, POS),
    sp.kl_div: (POS, POS), sp.beta: (POS, POS), sp.betaln: (POS, POS),
    sp.gammainc: (POS, POS), sp.gammaincc: (POS, POS),
    sp.jv: (POS, POS), sp.iv: (POS, POS), sp.ive: (POS, POS),
    sp.yv: (POS, POS), sp.kv: (POS, POS), sp.kve: (POS, POS),
    sp.yn: (POS, POS), sp.kn: (POS, POS),
}
# no closed-form derivative in the first argument: an error naming it
X_ONLY = {sp.gammainc, sp.gammaincc, sp.jv, sp.iv, sp.ive, sp.yv, sp.kv, sp.kve}
INTEGER_ORDER = {sp.yn, sp.kn}      # the first argument is an integer: no derivative
UNIT = {"low": 0.1, "high": 0.9}
TERNARY = {sp.betainc: (POS, POS, UNIT), sp.betaincc: (POS, POS, UNIT)}   # derivative in x only
WRAPPED = [sp.logsumexp, sp.softmax, sp.log_softmax, sp.polygamma]
REPLACED = [sp.multigammaln]        # on tracked input, its formula


def _differentiated(uf):
    """Whether zygcy differentiates the scipy.special ufunc ``uf``: called with its
    last argument tracked it gives a tracked result (without a rule, a TypeError)."""
    x, seen = np.array([0.3, 0.6]), []

    def f(t):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            seen.append(uf(*([x] * (uf.nin - 1)), t))
        return 0.0
    try:
        zygcy.forward(f, x)
    except TypeError as e:
        if "no gradient rule" in str(e):
            return False
        raise
    out = seen[0] if isinstance(seen[0], tuple) else (seen[0],)
    return any(type(v) is zygcy.Tracked for v in out)


def test_every_differentiated_ufunc_has_a_case_here():
    ufuncs = {getattr(sp, name) for name in dir(sp) if isinstance(getattr(sp, name), np.ufunc)}
    differentiated = {uf for uf in ufuncs if _differentiated(uf)}
    assert sorted(uf.__name__ for uf in differentiated ^ (set(UNARY) | set(BINARY) | set(TERNARY))) == []


def test_jn_is_jv():
    # scipy's jn is the same ufunc as jv: its order is continuous, and has no derivative here
    assert sp.jn is sp.jv


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("f", list(UNARY), ids=lambda f: f.__name__)
def test_unary(f, shape):
    gradcheck(lambda x: f(x), rand(shape, seed=1, **UNARY[f]), order=2)


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("f", list(BINARY), ids=lambda f: f.__name__)
def test_binary(f, shapes):
    hx, hy = BINARY[f]
    x, y = rand(shapes[0], seed=2, **hx), rand(shapes[1], seed=3, **hy)
    if f in INTEGER_ORDER:
        n = np.round(x * 2)
        gradcheck(lambda y: f(n, y), y, order=2)
        # a tracked (float) order has no derivative: nothing reaches it, in either mode
        assert not np.any(zygcy.gradient(lambda n: np.sum(f(n, y)), n)[0])
        assert not np.any(zygcy.jvp(lambda n: f(n, y), (n,), (np.ones_like(n),))[1])
    elif f in X_ONLY:
        gradcheck(lambda y: f(x, y), y, order=2)
        _refuses_first_argument(f, x, y)
    else:
        gradcheck(lambda x, y: f(x, y), x, y, order=2)


def _refuses_first_argument(f, x, y):
    """A tracked first argument raises in both modes, naming it (never a zero)."""
    name = {sp.gammainc: "a", sp.gammaincc: "a"}.get(f, "v")
    match = r"%s with respect to %s is not implemented" % (f.__name__, name)
    with pytest.raises(NotImplementedError, match=match):
        zygcy.gradient(lambda x: np.sum(f(x, y)), x)
    with pytest.raises(NotImplementedError, match=match):
        zygcy.jvp(lambda x: f(x, y), (x,), (np.ones_like(x),))


@pytest.mark.parametrize("shapes", [((), (), (3,)), ((3,), (1,), (2, 3)), ((3, 1), (2,), ())], ids=str)
@pytest.mark.parametrize("f", list(TERNARY), ids=lambda f: f.__name__)
def test_ternary(f, shapes):
    ha, hb, hx = TERNARY[f]
    a, b = rand(shapes[0], seed=2, **ha), rand(shapes[1], seed=3, **hb)
    x = rand(shapes[2], seed=4, **hx)
    gradcheck(lambda x: f(a, b, x), x, order=2)
    for k, name in ((0, "a"), (1, "b")):
        def g(p, k=k):
            args = [a, b, x]
            args[k] = p
            return f(*args)
        match = r"%s with respect to %s is not implemented" % (f.__name__, name)
        p = (a, b)[k]
        with pytest.raises(NotImplementedError, match=match):
            zygcy.gradient(lambda p: np.sum(g(p)), p)
        with pytest.raises(NotImplementedError, match=match):
            zygcy.jvp(g, (p,), (np.ones_like(p),))


def test_betainc_value():
    # d/dx I_x(a, b) is the beta density
    x = np.array([0.2, 0.5, 0.7])
    g = zygcy.gradient(lambda x: np.sum(sp.betainc(2.0, 3.0, x)), x)[0]
    np.testing.assert_allclose(g, x * (1 - x) ** 2 / sp.beta(2.0, 3.0))
    g = zygcy.gradient(lambda x: np.sum(sp.gammainc(2.5, x)), x)[0]
    np.testing.assert_allclose(g, x ** 1.5 * np.exp(-x) / sp.gamma(2.5))


def test_bessel_values():
    x = np.array([0.5, 1.5, 3.0])
    h = 1e-6
    for f, v in ((sp.kv, 1.5), (sp.yv, 0.5), (sp.kve, 2.0), (sp.jv, 1.0)):
        g = zygcy.gradient(lambda x: np.sum(f(v, x)), x)[0]
        np.testing.assert_allclose(g, (f(v, x + h) - f(v, x - h)) / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(zygcy.gradient(lambda x: np.sum(sp.k0(x)), x)[0], -sp.k1(x))


def test_gammasgn_is_not_differentiable():
    x = np.array([-1.5, -0.5, 2.0])
    assert zygcy.gradient(lambda x: np.sum(sp.gammasgn(x) * x), x)[0].tolist() == [1.0, -1.0, 1.0]
    y, dy = zygcy.jvp(lambda x: sp.gammasgn(x) * x, (x,), (np.ones(3),))
    assert dy.tolist() == [1.0, -1.0, 1.0]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_multigammaln(shape):
    a = rand(shape, seed=12, low=2.0, high=4.0)
    for d in (1, 3):
        gradcheck(lambda a: sp.multigammaln(a, d), a, order=2)
    g = zygcy.gradient(lambda a: np.sum(sp.multigammaln(a, 3)), a)[0]
    np.testing.assert_allclose(g, sum(sp.digamma(a - j / 2) for j in range(3)))
    assert sp.multigammaln(a, 3) == pytest.approx(sp.multigammaln.__wrapped__(a, 3))
    with pytest.raises(ValueError, match="condition a"):
        zygcy.gradient(lambda a: np.sum(sp.multigammaln(a, 9)), a)


def test_scaled_bessel_of_complex_is_refused():
    # ive(v, z) = iv(v, z) exp(-|Re z|) is not holomorphic: no complex derivative
    z = np.array([1.0 + 0.5j])
    with pytest.raises(NotImplementedError, match="not holomorphic"):
        zygcy.forward(lambda z: sp.ive(1.0, z), z)[1](np.ones(1, dtype=complex))


def test_complex():
    for f, v in ((sp.jv, 1.5), (sp.yv, 0.5), (sp.iv, 2.0), (sp.kv, 1.5), (sp.kve, 0.5)):
        gradcheck(lambda z: f(v, z), rand((3,), seed=13, complex=True, positive=True), order=2)
    z = rand((3,), seed=4, complex=True) / 2
    gradcheck(lambda z: sp.erf(z), z, order=2)
    gradcheck(lambda z: sp.loggamma(z), z + 2)      # scipy has no complex polygamma
    # the wrapped functions are holomorphic too: their cotangents are conjugated
    w = rand((3, 2), seed=5, complex=True) / 2
    gradcheck(lambda z: sp.logsumexp(z, axis=0), w, order=2)
    gradcheck(lambda z, b: sp.logsumexp(z, b=b), w, rand((2,), seed=6, complex=True), order=2)
    gradcheck(lambda z: sp.softmax(z, axis=1), w, order=2)
    gradcheck(lambda z: sp.log_softmax(z), w, order=2)


def test_values():
    x = np.array([0.0, 1.0])
    assert np.allclose(zygcy.gradient(lambda x: np.sum(sp.erf(x)), x)[0], 2 / np.sqrt(np.pi) * np.exp(-x * x))
    assert np.allclose(zygcy.gradient(lambda x: np.sum(sp.expit(x)), x)[0], sp.expit(x) * sp.expit(-x))
    assert np.allclose(zygcy.gradient(lambda x: np.sum(sp.gammaln(x)), np.array([1.0]))[0], -np.euler_gamma)
    assert np.allclose(zygcy.gradient(lambda x: np.sum(sp.i1(x)), x)[0], [0.5, sp.i0(1.0) - sp.i1(1.0)])
    gx, gy = zygcy.gradient(lambda x, y: np.sum(sp.xlogy(x, y)), np.array([0.0, 2.0]), np.array([3.0, 4.0]))
    assert np.allclose(gx, np.log([3.0, 4.0])) and np.allclose(gy, [0.0, 0.5])


# ---------------------------------------------------------------------------
# The wrapped functions

@pytest.mark.parametrize("case", [((3,), None), ((3, 2), None), ((3, 2), 0), ((3, 2), -1),
                                  ((2, 3, 2), (0, 2))], ids=lambda c: "%s-ax%s" % c)
def test_logsumexp(case):
    shape, axis = case
    a = rand(shape, seed=5)
    gradcheck(lambda a: sp.logsumexp(a, axis=axis), a, order=2)
    gradcheck(lambda a: sp.logsumexp(a, axis=axis, keepdims=True), a, order=2)
    b = rand(shape, seed=6, positive=True)
    gradcheck(lambda a, b: sp.logsumexp(a, axis=axis, b=b), a, b, order=2)
    gradcheck(lambda a, b: sp.logsumexp(a, axis, b - 1.0, False, True), a, b, order=2)
    b1 = rand(shape[-1:], seed=7, positive=True)       # b broadcast against a
    gradcheck(lambda a, b: sp.logsumexp(a, axis=axis, b=b), a, b1, order=2)


def test_logsumexp_value():
    a = np.array([1.0, 2.0, 3.0])
    assert np.allclose(zygcy.gradient(lambda a: sp.logsumexp(a), a)[0], sp.softmax(a))
    ga, gb = zygcy.gradient(lambda a, b: sp.logsumexp(a, b=b), a, np.array([1.0, 2.0, 0.5]))
    s = np.sum(np.array([1.0, 2.0, 0.5]) * np.exp(a))
    assert np.allclose(gb, np.exp(a) / s)


@pytest.mark.parametrize("f", [sp.softmax, sp.log_softmax], ids=lambda f: f.__name__)
@pytest.mark.parametrize("case", [((3,), None), ((3, 2), None), ((3, 2), 0), ((3, 2), 1),
                                  ((2, 3, 2), (1, 2))], ids=lambda c: "%s-ax%s" % c)
def test_softmax(f, case):
    shape, axis = case
    gradcheck(lambda x: f(x, axis=axis), rand(shape, seed=8), order=2)


def test_polygamma():
    for n in (0, 1, 2):
        gradcheck(lambda x: sp.polygamma(n, x), rand((3, 2), seed=9, positive=True), order=2)
    gradcheck(lambda x: sp.polygamma(np.array([0, 1]), x), rand((3, 2), seed=9, positive=True), order=2)
    g = zygcy.gradient(lambda x: np.sum(sp.polygamma(0, x)), np.array([1.0]))[0]
    assert np.allclose(g, np.pi ** 2 / 6)


def test_softplus_needs_no_rule():
    gradcheck(lambda x: sp.softplus(x), rand((3, 2), seed=10), order=2)


def test_wrappers_leave_plain_calls_alone():
    a = rand((3, 2), seed=11)
    for f in WRAPPED + REPLACED:
        assert f.__wrapped__ is not f and f.__name__ == f.__wrapped__.__name__
    assert sp.logsumexp(a, axis=0).tolist() == sp.logsumexp.__wrapped__(a, axis=0).tolist()
    assert np.array_equal(sp.softmax(a), sp.softmax.__wrapped__(a))


def test_without_scipy_registers_nothing():
    code = ("import sys; sys.modules['scipy'] = None; sys.modules['scipy.special'] = None\n"
            "import zygcy, numpy as np\n"
            "assert 'scipy.special' not in sys.modules or sys.modules['scipy.special'] is None\n"
            "assert zygcy.gradient(lambda x: np.sum(np.exp(x)), np.ones(2))[0].tolist() == [np.e, np.e]\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("first", ["zygcy", "scipy"])
def test_registered_whichever_is_imported_first(first):
    code = ("import sys\n"
            "import %s\n"
            "import zygcy, numpy as np\n"
            "assert ('scipy.special' in sys.modules) == %r\n"
            "from scipy.special import logsumexp, erf\n"
            "g = zygcy.gradient(lambda x: logsumexp(x) + np.sum(erf(x)), np.zeros(2))[0]\n"
            "assert np.allclose(g, 0.5 + 2 / np.sqrt(np.pi))\n"
            % ("zygcy" if first == "zygcy" else "scipy.special", first == "scipy"))
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------
# Properties

@given(st.lists(st.floats(-20, 20), min_size=1, max_size=6))
def test_property_softmax(xs):
    x = np.array(xs)
    g = zygcy.gradient(lambda x: sp.logsumexp(x), x)[0]
    assert np.allclose(g, sp.softmax(x)) and np.isclose(np.sum(g), 1.0)
    g = zygcy.gradient(lambda x: np.sum(sp.log_softmax(x)), x)[0]
    assert np.allclose(g, 1 - len(x) * sp.softmax(x))
