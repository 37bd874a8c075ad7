"""Special points: signed zeros, branch cuts, infinities, nan, domain edges,
removable singularities and singular matrices.

Every test compares with an independent reference: the value of Python's
``math``/``cmath`` (bit for bit, sign of zero included, same exception type),
an analytic value, or a difference quotient. None re-uses a formula of a rule.
"""
import cmath
import itertools
import math

import numpy as np
import pytest

import zygcy
from zygcy import D, derivative, gradient

zm, zc = zygcy.math, zygcy.cmath
INF, NAN = math.inf, math.nan


# ---------------------------------------------------------------------------
# Values: zygcy.math / zygcy.cmath equal math / cmath at special inputs

REAL_POINTS = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 2.75, -2.75, 1e300, -1e300, 5e-324,
               INF, -INF, NAN, 0, 1, -1, 3, -3]
COMPLEX_POINTS = [complex(-1.0, 0.0), complex(-1.0, -0.0), complex(0.0, -0.0), complex(-0.0, 0.0),
                  complex(-0.0, -0.0), 1j, -1j, complex(2.0, -0.0), complex(-2.0, 0.5),
                  complex(INF, 0.0), complex(-INF, -0.0), complex(0.0, INF), complex(NAN, 0.0),
                  complex(1.0, NAN), complex(INF, NAN)]
BINARY_POINTS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 2.0, INF, -INF, NAN, 0, 2, -3]

# functions that take an iterable or any number of arguments, and their own inputs
SPECIAL_ARGS = {
    "fsum": [([1e100, 1.0, -1e100],), ([-0.0, -0.0],), ([INF, 1.0],), ([INF, -INF],), ([],)],
    "prod": [([2.0, -0.0],), ([INF, 0.0],), ([],)],
    "dist": [((0.0, 0.0), (-0.0, 0.0)), ((INF, 0.0), (1.0, 2.0)), ((1.0,), (NAN,))],
    "hypot": [(), (-0.0,), (0.0, -0.0), (3.0, -4.0), (INF, NAN), (NAN, -INF), (1e300, 1e300, 1.0)],
    "log": [(x,) for x in REAL_POINTS] + [(8.0, 2.0), (2.0, 1.0), (-0.0, 2.0), (INF, 0.5), (1.0, -0.0)],
    "isclose": [(1.0, 1.0 + 1e-12), (INF, INF), (NAN, NAN)],
    "ldexp": [(x, i) for x in (1.0, -0.0, 5e-324, 1e300, INF, NAN) for i in (-1100, -1, 0, 3, 1100)],
}
CMATH_SPECIAL_ARGS = {
    "log": [(z,) for z in COMPLEX_POINTS] + [(-1.0, 2.0), (complex(-1, -0.0), 2.0), (-0.0, 1j)],
    "rect": [(r, p) for r in (0.0, -0.0, 2.0, INF, NAN) for p in (0.0, -0.0, math.pi, INF, NAN)],
    "isclose": [(1j, 1j + 1e-12), (complex(INF, 0), complex(INF, 0))],
}


def _public_functions(module):
    return sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))


def _arity(fun):
    for n in (1, 2):
        try:
            fun(*[1.0] * n)
            return n
        except TypeError:
            continue
        except (ValueError, OverflowError, ZeroDivisionError):
            return n
    return None


def _cases(plain, name, special):
    if name in special:
        return special[name]
    fun = getattr(plain, name)
    n = _arity(fun)
    if n == 1:
        points = REAL_POINTS + (COMPLEX_POINTS if plain is cmath else [])
        return [(x,) for x in points]
    if n == 2:
        return list(itertools.product(BINARY_POINTS, repeat=2))
    return [(1.0,), (2,)]


def _outcome(fun, args):
    try:
        return fun(*args)
    except Exception as e:       # the exception's type is the outcome
        return type(e)


def _same(a, b):
    """Equal bit for bit: the same type, the same sign of zero, nan where nan."""
    if isinstance(a, type) or isinstance(b, type):
        return a is b
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, complex) and isinstance(b, complex):
        return _same(a.real, b.real) and _same(a.imag, b.imag)
    return type(a) is type(b) and a == b


def _untrack(r):
    if isinstance(r, tuple):
        return tuple(_untrack(v) for v in r)
    return zygcy.value(r)


def _all_cases():
    for plain, mine, special in ((math, zm, SPECIAL_ARGS), (cmath, zc, CMATH_SPECIAL_ARGS)):
        for name in _public_functions(plain):
            for args in _cases(plain, name, special):
                yield plain, mine, name, args


ALL_CASES = list(_all_cases())


def test_every_stdlib_function_is_covered():
    names = {(p.__name__, n) for p, _, n, _ in ALL_CASES}
    for plain, mine in ((math, zm), (cmath, zc)):
        for name in _public_functions(plain):
            assert (plain.__name__, name) in names
            assert callable(getattr(mine, name)), name


@pytest.mark.parametrize("module", ["math", "cmath"])
def test_values_equal_the_stdlib_bit_for_bit(module):
    """Untracked calls and zygcy.forward give the stdlib's value or its exception."""
    bad = []
    for plain, mine, name, args in ALL_CASES:
        if plain.__name__ != module:
            continue
        want = _outcome(getattr(plain, name), args)
        got = _outcome(getattr(mine, name), args)
        if not _same(want, got):
            bad.append(("plain", name, args, want, got))
        # traced: every float or complex argument tracked (others as constants)
        tracked = [i for i, a in enumerate(args) if isinstance(a, (float, complex))]
        if not tracked:
            continue

        def f(*ts, args=args, tracked=tracked, name=name):
            full = list(args)
            for i, t in zip(tracked, ts):
                full[i] = t
            return getattr(mine, name)(*full)
        try:
            got = _untrack(zygcy.forward(f, *[args[i] for i in tracked])[0])
        except Exception as e:
            got = type(e)
        if not _same(want, got):
            bad.append(("forward", name, args, want, got))
    assert not bad, "\n".join(map(repr, bad))


# ---------------------------------------------------------------------------
# cmath derivatives on the branch cuts: those of the side cmath takes the value from

CUT_POINTS = [complex(2.0, 0.0), complex(2.0, -0.0), complex(-2.0, 0.0), complex(-2.0, -0.0),
              complex(0.0, 2.0), complex(-0.0, 2.0), complex(0.0, -2.0), complex(-0.0, -2.0)]


def _one_sided_derivative(f, z, h=1e-7):
    """f'(z) by a central difference along the cut through z, keeping the signed zero."""
    if z.imag == 0:
        return (f(complex(z.real + h, z.imag)) - f(complex(z.real - h, z.imag))) / (2 * h)
    return (f(complex(z.real, z.imag + h)) - f(complex(z.real, z.imag - h))) / (2j * h)


@pytest.mark.parametrize("name", ["sqrt", "log", "log10", "asin", "acos", "atan", "atanh", "asinh", "acosh"])
def test_cmath_derivatives_on_branch_cuts(name):
    plain, mine = getattr(cmath, name), getattr(zc, name)
    for z in CUT_POINTS:
        try:
            plain(z)
        except ValueError:
            continue
        want = _one_sided_derivative(plain, z)
        g, = gradient(lambda t: mine(t).real, z)          # conj(f'(z)), Zygote's convention
        assert g.conjugate() == pytest.approx(want, rel=1e-6), z
    # a real argument is complex(x, +0.0), as cmath reads it
    for x in (2.0, -2.0):
        try:
            plain(x)
        except ValueError:
            continue
        want = _one_sided_derivative(plain, complex(x, 0.0))
        assert gradient(lambda t: mine(t).real, x)[0] == pytest.approx(want.real, rel=1e-6, abs=1e-9)
        assert gradient(lambda t: mine(t).imag, x)[0] == pytest.approx(want.imag, rel=1e-6, abs=1e-9)


# ---------------------------------------------------------------------------
# Derivatives: never an exception where math gives a value; at points where the
# function is smooth they agree with difference quotients

def _scalar_loss(r):
    """A real number from any result: the sum of the real and imaginary parts."""
    if isinstance(r, tuple):
        return sum((_scalar_loss(v) for v in r), 0.0)
    if type(r) is zygcy.Tracked and isinstance(zygcy.value(r), complex):
        return r.real + r.imag
    if type(r) is zygcy.Tracked:
        return r
    return 0.0


def _plain_loss(r):
    if isinstance(r, tuple):
        return sum(_plain_loss(v) for v in r)
    if isinstance(r, complex):
        return r.real + r.imag
    return float(r) if isinstance(r, float) else 0.0


def _tracked_call(mine, name, args, tracked):
    def f(*ts):
        full = list(args)
        for i, t in zip(tracked, ts):
            full[i] = t
        return _scalar_loss(getattr(mine, name)(*full))
    return f


def _difference_quotient(plain, name, args, i, h):
    """(left, right) one-sided difference quotients in argument i, or None."""
    def at(t):
        full = list(args)
        full[i] = t
        try:
            return _plain_loss(getattr(plain, name)(*full))
        except (ValueError, OverflowError, ZeroDivisionError):
            return None
    x = args[i]
    f0, fl, fr = at(x), at(x - h), at(x + h)
    if None in (f0, fl, fr) or not all(map(math.isfinite, (f0, fl, fr))):
        return None
    return (f0 - fl) / h, (fr - f0) / h


def test_derivatives_never_raise_where_the_stdlib_gives_a_value():
    bad = []
    for plain, mine, name, args in ALL_CASES:
        tracked = [i for i, a in enumerate(args) if isinstance(a, (float, complex))]
        if not tracked or isinstance(_outcome(getattr(plain, name), args), type):
            continue
        try:
            g = gradient(_tracked_call(mine, name, args, tracked), *[args[i] for i in tracked])
        except Exception as e:
            bad.append((plain.__name__, name, args, repr(e)))
            continue
        if plain is not math:
            continue
        if not all(math.isfinite(a) and abs(a) < 1e6 for a in args):
            continue            # (at infinities a derivative may be nan, never an error)
        for k, i in enumerate(tracked):
            h = 1e-7 * max(1.0, abs(args[i]))
            quotients = [_difference_quotient(plain, name, args, i, step) for step in (h, h / 16)]
            if None in quotients:
                continue
            dq = quotients[0]
            if not all(math.isclose(q, dq[0], rel_tol=1e-4, abs_tol=1e-6) for q in quotients[1] + dq):
                continue        # not differentiable there, or h is too coarse for the point
            got = g[k]
            if got is None:
                got = 0.0
            if not math.isclose(got, (dq[0] + dq[1]) / 2, rel_tol=1e-4, abs_tol=1e-6):
                bad.append((name, args, i, got, dq))
    assert not bad, "\n".join(map(repr, bad))


# Domain edges, decided per kind of point (analytic values):
# an infinite one-sided derivative is an infinity, an undefined one is nan, a norm
# at 0 has the subgradient 0, and where math raises zygcy raises the same error.
EDGES = [
    (zm.sqrt, (0.0,), (INF,)),
    (zm.sqrt, (-0.0,), (INF,)),
    (zm.cbrt, (0.0,), (INF,)),
    (zm.asin, (1.0,), (INF,)),
    (zm.asin, (-1.0,), (INF,)),
    (zm.acos, (1.0,), (-INF,)),
    (zm.acos, (-1.0,), (-INF,)),
    (zm.acosh, (1.0,), (INF,)),
    (zm.pow, (0.0, 0.5), (INF, 0.0)),       # d/dy 0**y = 0 for y > 0
    (zm.pow, (0.0, 0.0), (0.0, 0.0)),       # x**0 is constant
    (zm.pow, (0.0, 1.0), (1.0, 0.0)),
    (zm.pow, (0.0, 2.5), (0.0, 0.0)),
    (zm.pow, (NAN, 0.0), (0.0, NAN)),       # nan**0 == 1
    (zm.atan2, (0.0, 0.0), (NAN, NAN)),
    (zm.atan2, (-0.0, -0.0), (NAN, NAN)),
    (zm.hypot, (0.0, 0.0), (0.0, 0.0)),
    (zm.hypot, (0.0, -0.0, 0.0), (0.0, 0.0, 0.0)),
    (lambda a, b: zm.dist((a, 1.0), (b, 1.0)), (2.0, 2.0), (0.0, 0.0)),
    (zm.fabs, (0.0,), (0.0,)),
    (zc.phase, (0.0,), (NAN,)),
    (zc.phase, (-1.0,), (0.0,)),
    (lambda x: zm.ldexp(x, 1100), (5e-324,), (INF,)),
    (lambda x: zm.frexp(x)[0], (5e-324,), (INF,)),
    (lambda y: zm.fmod(1e300, y), (1e-300,), (-INF,)),
    (zm.lgamma, (1e300,), (math.log(1e300),)),
]


def _same_number(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b or math.isclose(a, b, rel_tol=1e-12)


@pytest.mark.parametrize("f, args, want", EDGES)
def test_derivatives_at_domain_edges(f, args, want):
    got = gradient(f, *args)
    assert all(_same_number(g, w) for g, w in zip(got, want)), (got, want)


@pytest.mark.parametrize("f, x", [(zm.log, 0.0), (zm.log2, -0.0), (zm.log10, 0.0), (zm.log1p, -1.0),
                                  (zm.atanh, 1.0), (lambda x: zm.pow(x, -1.0), 0.0), (zm.lgamma, 0.0),
                                  (zm.gamma, -0.0), (zm.acosh, 0.5), (zc.log, 0.0), (zc.atanh, 1.0)])
def test_derivatives_raise_where_math_raises(f, x):
    with pytest.raises(ValueError, match="math domain error"):
        gradient(f, x)


def test_kernel_fast_path_agrees_with_the_table_at_edges():
    # a Python float takes the C kernel, a numpy float64 the rule table
    for name, x in [("sqrt", 0.0), ("asin", 1.0), ("acos", -1.0), ("log", 1e-320), ("sqrt", INF),
                    ("exp", -INF), ("atan", INF), ("tanh", 30.0), ("erf", NAN)]:
        f = getattr(zm, name)
        with np.errstate(all="ignore"):
            fast, rule = derivative(f, x), derivative(f, np.float64(x))
        assert _same_number(fast, rule), (name, x, fast, rule)


# ---------------------------------------------------------------------------
# Removable singularities: right to every order at the special point

def _nth(f, n):
    for _ in range(n):
        f = D(f)
    return f


# Taylor coefficients: sinc(x) = sum (-1)^m (pi x)^(2m) / (2m+1)!, so its n-th
# derivative at 0 is (-1)^(n/2) pi^n / (n+1) for even n, 0 for odd n.
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_sinc_derivatives_at_zero_from_the_series(n):
    want = 0.0 if n % 2 else (-1) ** (n // 2) * math.pi ** n / (n + 1)
    assert _nth(lambda x: np.sinc(x), n)(0.0) == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("x", [1e-8, 0.3, 3 / math.pi - 1e-9, 3 / math.pi + 1e-9, 4 / math.pi, 2.5, -7.3])
def test_sinc_derivatives_away_from_zero(x):
    # the closed form of sinc' and sinc'' at x, written out independently
    z = math.pi * x
    d1 = math.pi * (math.cos(z) / z - math.sin(z) / z ** 2)
    d2 = math.pi ** 2 * (-math.sin(z) / z - 2 * math.cos(z) / z ** 2 + 2 * math.sin(z) / z ** 3)
    if abs(z) > 1e-3:
        assert D(lambda t: np.sinc(t))(x) == pytest.approx(d1, rel=1e-8, abs=1e-12)
        assert D(D(lambda t: np.sinc(t)))(x) == pytest.approx(d2, rel=1e-7, abs=1e-12)
    else:       # the closed forms cancel catastrophically here: the series' first terms
        assert D(lambda t: np.sinc(t))(x) == pytest.approx(-math.pi ** 2 * x / 3, rel=1e-8)
        assert D(D(lambda t: np.sinc(t)))(x) == pytest.approx(-math.pi ** 2 / 3, rel=1e-8)
    zygcy.testing.gradcheck(lambda t: np.sum(np.sinc(t)), np.array([x, -x, 0.0]), order=2)


def test_sinc_of_complex_and_arrays():
    z = np.array([0.3 + 0.2j, 0.0, -1.5 + 1j])
    zygcy.testing.gradcheck(lambda t: np.sum(np.abs(np.sinc(t)) ** 2), z, order=2)


sp = pytest.importorskip("scipy.special")


# J1(x) = x/2 - x^3/16 + ..., I1(x) = x/2 + x^3/16 + ...
@pytest.mark.parametrize("f, derivatives", [
    (sp.j1, [0.5, 0.0, -6 / 16, 0.0]),
    (sp.i1, [0.5, 0.0, 6 / 16, 0.0]),
    (sp.j0, [0.0, -0.5, 0.0, 3 / 8]),         # J0 = 1 - x^2/4 + x^4/64
])
def test_bessel_derivatives_at_zero_from_the_series(f, derivatives):
    for n, want in enumerate(derivatives, start=1):
        assert _nth(lambda x: f(x), n)(0.0) == pytest.approx(want, abs=1e-12), n


@pytest.mark.parametrize("f", [sp.j1, sp.i1, sp.i1e, lambda x: sp.jv(2.5, x), lambda x: sp.iv(1, x),
                               lambda x: sp.ive(1.5, x)])
def test_bessel_rules_against_finite_differences(f):
    zygcy.testing.gradcheck(lambda x: np.sum(f(x)), np.array([0.3, 1.7, 4.0]), order=2)


# ---------------------------------------------------------------------------
# x ** y: the partial in x depends on y, also at y == 0

def _mixed(f, x, y):
    return gradient(lambda b: gradient(lambda a: f(a, b), x)[0], y)[0]


@pytest.mark.parametrize("f", [lambda a, b: a ** b, zm.pow, np.power, np.float_power])
def test_mixed_derivative_of_power_at_zero_exponent(f):
    # d/dy d/dx x**y = x**(y-1) (1 + y log x): 1/x at y == 0
    assert _mixed(f, 2.0, 0.0) == pytest.approx(0.5, rel=1e-12)
    assert _mixed(f, 2.0, 1.5) == pytest.approx(2.0 ** 0.5 * (1 + 1.5 * math.log(2.0)), rel=1e-12)


@pytest.mark.parametrize("power", [np.power, np.float_power])
def test_power_arrays_at_zero_exponent(power):
    x = np.array([2.0, 4.0])
    g, = gradient(lambda y: np.sum(gradient(lambda a: np.sum(power(a, y)), x)[0]), np.array(0.0))
    assert g == pytest.approx(0.75, rel=1e-12)
    # at x == 0 the partial is 0 for y == 0 (x**0 is constant), never nan or an error
    g, = gradient(lambda a: np.sum(power(a, np.array([0.0, 0.0, 2.0]))), np.array([0.0, 3.0, 0.0]))
    assert g.tolist() == [0.0, 0.0, 0.0]
    g, = gradient(lambda a: np.sum(power(a, 0)), np.array([0.0, 3.0]))
    assert g.tolist() == [0.0, 0.0]


def test_power_at_zero_base():
    for f in (zm.pow, lambda a, b: a ** b):
        assert gradient(lambda a: f(a, 0.0), 0.0) == (0.0,)
        assert gradient(lambda a: f(a, 2.0), 0.0) == (0.0,)
        assert gradient(lambda a: f(a, 1.0), 0.0) == (1.0,)
    with np.errstate(divide="ignore"):
        assert gradient(lambda a: np.power(a, 0.5), np.array(0.0))[0] == INF


# ---------------------------------------------------------------------------
# det at singular matrices: the gradient is the cofactor matrix

def _cofactors(a):
    """The cofactor matrix from its definition: signed minors."""
    n = a.shape[0]
    c = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, 0), j, 1)
            c[i, j] = (-1) ** (i + j) * (np.linalg.det(minor) if n > 1 else 1.0)
    return c


SINGULAR = [np.array([[1.0, 2.0], [2.0, 4.0]]),                  # rank 1 of 2
            np.outer([1.0, 2.0, 3.0], [1.0, 0.0, 2.0]),           # rank 1 of 3
            np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),   # rank 2 of 3
            np.zeros((3, 3)), np.diag([1.0, 0.0, 0.0]), np.eye(3)]


@pytest.mark.parametrize("a", SINGULAR, ids=range(len(SINGULAR)))
def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix(a):
    g, = gradient(np.linalg.det, a)
    np.testing.assert_allclose(g, _cofactors(a), atol=1e-12)
    zygcy.testing.gradcheck(np.linalg.det, a, order=2)


def test_det_gradient_values():
    g, = gradient(np.linalg.det, np.array([[1.0, 2.0], [2.0, 4.0]]))
    np.testing.assert_allclose(g, [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)


def test_det_complex_and_batched_at_singular_matrices():
    z = np.outer([1.0, 2j, 3.0], [1.0, 1j, 2.0]) + 0j
    zygcy.testing.gradcheck(lambda a: np.abs(np.linalg.det(a)) ** 2, z, order=2)
    stack = np.stack([SINGULAR[1], SINGULAR[2], np.eye(3) * 2])
    g, = gradient(lambda a: np.sum(np.linalg.det(a)), stack)
    np.testing.assert_allclose(g, np.stack([_cofactors(m) for m in stack]), atol=1e-12)
    zygcy.testing.gradcheck(lambda a: np.sum(np.linalg.det(a)), stack, order=2)


def test_det_second_derivative_at_a_singular_matrix():
    # f(t) = det(A + t B) is a polynomial of degree n: compare with its exact difference table
    a, b = SINGULAR[2], np.arange(9.0).reshape(3, 3) ** 0.5
    f = lambda t: np.linalg.det(a + t * b)           # noqa: E731
    h = 0.5
    exact2 = (f(h) - 2 * f(0.0) + f(-h)) / h ** 2      # exact for a cubic
    assert D(D(f))(0.0) == pytest.approx(exact2, rel=1e-9, abs=1e-9)
    # third derivative (at an invertible matrix): 6 det(B) for f(t) = det(I + t B)
    assert D(D(D(lambda t: np.linalg.det(np.eye(3) + t * b))))(0.0) == pytest.approx(6 * np.linalg.det(b), rel=1e-9)


def test_slogdet_at_a_singular_matrix_explains_itself():
    with pytest.raises(np.linalg.LinAlgError, match="slogdet at a singular matrix"):
        gradient(lambda a: np.linalg.slogdet(a)[1], SINGULAR[0])


@pytest.mark.parametrize("f", [lambda a, b: a ** b, zm.pow, np.power, np.float_power])
def test_power_at_the_origin_follows_one_convention(f):
    # d/dx x**0 = 0 at x = 0 too; the slope of that partial in y is taken as 0
    assert gradient(lambda a: f(a, 0.0), 0.0)[0] == 0.0
    assert _mixed(f, 0.0, 0.0) in (None, 0.0)
