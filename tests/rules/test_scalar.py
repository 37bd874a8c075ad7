"""zygcy.math and zygcy.cmath: values equal to Python's, derivatives checked
against central differences and an analytic value for every function."""
import cmath
import math

import pytest

import zygcy
from zygcy import D, derivative, gradient
from zygcy.testing import gradcheck

zm, zc = zygcy.math, zygcy.cmath

# name -> (a point inside the domain, the derivative there, from a textbook formula)
UNARY_CASES = {
    "sin": (0.7, math.cos(0.7)),
    "cos": (0.7, -math.sin(0.7)),
    "tan": (0.7, 1 / math.cos(0.7) ** 2),
    "asin": (0.3, 1 / math.sqrt(1 - 0.09)),
    "acos": (0.3, -1 / math.sqrt(1 - 0.09)),
    "atan": (0.7, 1 / 1.49),
    "sinh": (0.7, math.cosh(0.7)),
    "cosh": (0.7, math.sinh(0.7)),
    "tanh": (0.7, 1 / math.cosh(0.7) ** 2),
    "asinh": (0.7, 1 / math.sqrt(1.49)),
    "acosh": (1.7, 1 / math.sqrt(1.7 ** 2 - 1)),
    "atanh": (0.3, 1 / (1 - 0.09)),
    "exp": (0.7, math.exp(0.7)),
    "expm1": (0.7, math.exp(0.7)),
    "exp2": (0.7, 2 ** 0.7 * math.log(2)),
    "log1p": (0.7, 1 / 1.7),
    "log2": (1.7, 1 / (1.7 * math.log(2))),
    "log10": (1.7, 1 / (1.7 * math.log(10))),
    "sqrt": (1.7, 0.5 / math.sqrt(1.7)),
    "cbrt": (1.7, 1 / (3 * 1.7 ** (2 / 3))),
    "erf": (0.4, 2 / math.sqrt(math.pi) * math.exp(-0.16)),
    "erfc": (0.4, -2 / math.sqrt(math.pi) * math.exp(-0.16)),
    "lgamma": (2.0, 1 - 0.5772156649015329),        # digamma(2) = 1 - Euler's gamma
    "gamma": (3.0, 2.0 * (1.5 - 0.5772156649015329)),  # Gamma(3) * digamma(3)
    "fabs": (-0.7, -1.0),
    "degrees": (0.7, 180 / math.pi),
    "radians": (0.7, math.pi / 180),
}
SMOOTH_EXCEPT = {"fabs"}


# Functions of zygcy.math whose results carry no derivative (integers, booleans,
# piecewise constants)
CONSTANT = ["ceil", "floor", "trunc", "factorial", "gcd", "lcm", "comb", "perm", "isqrt",
            "isfinite", "isinf", "isnan", "isclose", "ulp"]
# Functions with tests of their own below (several arities, several results, zygcy's own)
OTHERS = {"log", "hypot", "fsum", "prod", "dist", "modf", "frexp", "digamma", "polygamma"}


def test_every_function_of_zygcy_math_has_a_case():
    functions = {name for name in zm.__all__ if callable(getattr(zm, name))}
    cases = set(UNARY_CASES) | set(BINARY_CASES) | set(CONSTANT) | OTHERS
    assert sorted(functions ^ cases) == []
    assert len(cases) == len(UNARY_CASES) + len(BINARY_CASES) + len(CONSTANT) + len(OTHERS)   # no overlap


@pytest.mark.parametrize("name", sorted(UNARY_CASES))
def test_unary_value_derivative_and_second_derivative(name):
    x, d = UNARY_CASES[name]
    f = getattr(zm, name)
    assert f(x) == getattr(math, name)(x)                 # the exact value of math
    y, _ = zygcy.forward(f, x)
    assert y == getattr(math, name)(x)
    assert derivative(f, x) == pytest.approx(d, rel=1e-9)
    gradcheck(f, x, order=1 if name in SMOOTH_EXCEPT else 2, rtol=1e-5)


BINARY_CASES = {
    "atan2": ((0.7, 1.3), (1.3 / (0.49 + 1.69), -0.7 / (0.49 + 1.69))),
    "pow": ((1.7, 2.3), (2.3 * 1.7 ** 1.3, 1.7 ** 2.3 * math.log(1.7))),
    "copysign": ((0.7, -1.0), (-1.0, 0.0)),
    "fmod": ((5.3, 1.7), (1.0, -3.0)),
    "remainder": ((5.3, 1.7), (1.0, -3.0)),
    "ldexp": ((0.7, 3), (8.0, None)),
    "nextafter": ((0.7, 1.0), (1.0, 0.0)),
}


def test_zygcy_math_and_cmath_have_every_name_of_math_and_cmath():
    for mine, stdlib in ((zm, math), (zc, cmath)):
        names = {n for n in dir(stdlib) if not n.startswith("_")}
        assert sorted(names - set(mine.__all__)) == []
        assert sorted(set(mine.__all__) - names - {"digamma", "polygamma"}) == []


@pytest.mark.parametrize("name", sorted(BINARY_CASES))
def test_binary_value_and_derivatives(name):
    (x, y), (dx, dy) = BINARY_CASES[name]
    f = getattr(zm, name)
    assert f(x, y) == getattr(math, name)(x, y)
    if name == "ldexp":
        assert gradient(lambda a: f(a, y), x) == (dx,)
        return
    gx, gy = gradient(f, x, y)
    assert gx == pytest.approx(dx) and gy == pytest.approx(dy)
    if name in ("atan2", "pow"):
        gradcheck(f, x, y, order=2)
    else:
        gradcheck(f, x, y, order=1)


def test_log_with_and_without_base():
    assert zm.log(1.7) == math.log(1.7) and zm.log(8.0, 2.0) == math.log(8.0, 2.0)
    assert derivative(zm.log, 1.7) == pytest.approx(1 / 1.7)
    gx, gb = gradient(zm.log, 8.0, 2.0)
    assert gx == pytest.approx(1 / (8 * math.log(2)))
    assert gb == pytest.approx(-math.log(8) / (2 * math.log(2) ** 2))
    gradcheck(zm.log, 1.7, 3.0, order=2)


def test_hypot_two_and_many_arguments():
    assert zm.hypot(3.0, 4.0) == 5.0 and zm.hypot(1.0, 2.0, 2.0) == 3.0
    assert gradient(zm.hypot, 3.0, 4.0) == (0.6, 0.8)
    g = gradient(zm.hypot, 1.0, 2.0, 2.0)
    assert g == pytest.approx((1 / 3, 2 / 3, 2 / 3))
    gradcheck(zm.hypot, 1.0, 2.0, 2.0, order=2)


def test_fsum_prod_dist():
    xs = [0.1, 0.2, 0.3]
    assert zm.fsum(xs) == math.fsum(xs)
    assert gradient(lambda a, b: zm.fsum([a, b, a]), 1.0, 2.0) == (2.0, 1.0)
    assert zm.prod([2.0, 3.0]) == 6.0
    assert gradient(lambda a, b: zm.prod([a, b, 2.0]), 3.0, 5.0) == (10.0, 6.0)
    assert zm.dist((0.0, 0.0), (3.0, 4.0)) == 5.0
    g = gradient(lambda a: zm.dist((a, 0.0), (3.0, 4.0)), 0.0)
    assert g == pytest.approx((-0.6,))
    gradcheck(lambda a, b: zm.fsum([a * b, a]), 0.3, 0.9, order=2)


def test_modf_frexp():
    assert zm.modf(2.75) == math.modf(2.75) and zm.frexp(6.0) == math.frexp(6.0)
    assert gradient(lambda x: zm.modf(x)[0], 2.75) == (1.0,)
    assert gradient(lambda x: zm.frexp(x)[0], 6.0) == (0.125,)


def test_digamma_and_polygamma():
    euler = 0.5772156649015329
    assert zm.digamma(1.0) == pytest.approx(-euler, rel=1e-12)
    assert zm.digamma(0.5) == pytest.approx(-euler - 2 * math.log(2), rel=1e-12)
    assert zm.digamma(-0.5) == pytest.approx(0.03648997397857652, rel=1e-10)   # reflection formula
    assert zm.polygamma(1, 1.0) == pytest.approx(math.pi ** 2 / 6, rel=1e-12)
    assert zm.polygamma(2, 1.0) == pytest.approx(-2 * 1.2020569031595942, rel=1e-12)
    assert derivative(zm.digamma, 2.5) == pytest.approx(zm.polygamma(1, 2.5))
    assert D(D(zm.lgamma))(2.5) == pytest.approx(zm.polygamma(1, 2.5))
    gradcheck(zm.digamma, 2.5, order=2)
    with pytest.raises(ValueError, match="math domain error"):
        zm.digamma(0.0)


@pytest.mark.parametrize("name", CONSTANT)
def test_constant_functions_return_plain_values(name):
    f = getattr(zm, name)
    args = {"factorial": (5,), "gcd": (12, 18), "lcm": (4, 6), "comb": (5, 2), "perm": (5, 2),
            "isqrt": (17,), "isclose": (1.0, 1.0 + 1e-12)}.get(name, (2.5,))

    def use(x):
        call = [x] + list(args[1:]) if isinstance(args[0], float) else list(args)
        r = f(*call)
        assert r == getattr(math, name)(*[zygcy.value(a) for a in call])
        assert not isinstance(r, zygcy.Tracked)
        return x * 2
    assert gradient(use, args[0] if isinstance(args[0], float) else 2.5) == (2.0,)


def test_constants_and_domain_errors_match_math():
    for k in ("pi", "e", "tau", "inf"):
        assert getattr(zm, k) == getattr(math, k)
    with pytest.raises(ValueError, match="math domain error"):
        zm.sqrt(-1.0)
    with pytest.raises(ValueError, match="math domain error"):
        gradient(zm.log, -1.0)
    with pytest.raises(TypeError, match="takes a number, not an array"):
        import numpy as np
        gradient(lambda x: zm.sin(x), np.ones(2))


def test_math_functions_on_ints_and_complex_inputs():
    assert derivative(zm.exp, 0) == 1.0
    with pytest.raises(TypeError):
        zm.sin(1j)
    with pytest.raises(TypeError):
        gradient(lambda z: abs(zm.sin(z)), 1j)


# ---------------------------------------------------------------------------
# cmath

# The holomorphic functions of one argument of zygcy.cmath
CMATH_UNARY = ["acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "exp", "log10",
               "sin", "sinh", "sqrt", "tan", "tanh"]
# ... and the others, with tests of their own below
CMATH_OTHERS = {"log", "phase", "polar", "rect", "isclose", "isfinite", "isinf", "isnan"}


def test_every_function_of_zygcy_cmath_has_a_case():
    functions = {name for name in zc.__all__ if callable(getattr(zc, name))}
    assert sorted(functions ^ (set(CMATH_UNARY) | CMATH_OTHERS)) == []


CMATH_POINTS = {"asin": 0.3 + 0.2j, "acos": 0.3 + 0.2j, "atanh": 0.3 + 0.2j, "acosh": 1.7 + 0.3j}


@pytest.mark.parametrize("name", sorted(CMATH_UNARY))
def test_cmath_holomorphic_functions(name):
    z = CMATH_POINTS.get(name, 0.7 + 0.4j)
    f = getattr(zc, name)
    assert f(z) == getattr(cmath, name)(z)
    # Zygote's convention for holomorphic f: the gradient of Re f is conj(f'(z))
    h = 1e-6
    fprime = (getattr(cmath, name)(z + h) - getattr(cmath, name)(z - h)) / (2 * h)
    g, = gradient(lambda t: f(t).real, z)
    assert g == pytest.approx(fprime.conjugate(), rel=1e-6)
    gradcheck(lambda t: abs(f(t)) ** 2, z, order=2, rtol=1e-4)


def test_cmath_log_phase_polar_rect():
    z = 1.2 - 0.7j
    assert zc.log(z) == cmath.log(z) and zc.log(z, 2.0) == cmath.log(z, 2.0)
    assert zc.phase(z) == cmath.phase(z) and zc.polar(z) == cmath.polar(z)
    assert zc.rect(2.0, 0.3) == cmath.rect(2.0, 0.3)
    # phase = atan2(y, x): gradient d/dx + i d/dy = (-y + i x) / |z|^2
    g, = gradient(zc.phase, z)
    assert g == pytest.approx((0.7 + 1.2j) / abs(z) ** 2)
    gradcheck(lambda t: abs(zc.log(t)) ** 2, z, order=2)
    gradcheck(lambda r, p: abs(zc.rect(r, p) - 1) ** 2, 2.0, 0.3, order=2)
    gradcheck(lambda t: zc.polar(t)[0] * zc.polar(t)[1], z, order=1)
    g, = gradient(lambda x: zc.exp(1j * x).imag, 0.3)
    assert g == pytest.approx(math.cos(0.3)) and type(g) is float


def test_cmath_constant_functions():
    assert gradient(lambda z: (z * 2).imag if not zc.isnan(z) else z.real, 1j) == (2j,)
    assert zc.isfinite(1j) is True and zc.isclose(1j, 1j) is True
    assert zc.isinf(complex(math.inf, 0)) is True and zc.isnan(1j) is False


@pytest.mark.parametrize("name", ["sin", "cos", "tan", "exp", "sqrt", "tanh", "sinh", "cosh", "atan", "asin",
                                  "acos", "expm1", "log1p", "log2", "log10", "erf", "erfc", "log"])
def test_c_kernels_agree_with_the_rule_table_bit_for_bit(name):
    # A Python float takes the engine's C kernel; a numpy float64 takes the Python rule.
    import numpy as np
    f = getattr(zm, name)
    for x in (0.3, 0.7, 1.5 if name not in ("asin", "acos") else -0.4):
        y_fast, back_fast = zygcy.forward(f, x)
        y_rule, back_rule = zygcy.forward(f, np.float64(x))
        assert y_fast == y_rule == getattr(math, name)(x)
        assert back_fast(1.0)[0] == back_rule(1.0)[0]
    # edge values fall back to the Python path: math's errors, the rule's infinities
    if name in ("log", "sqrt", "log2", "log10"):
        with pytest.raises(ValueError, match="math domain error"):
            gradient(f, -1.0)
    if name == "sqrt":
        assert gradient(f, 0.0) == (math.inf,)
    if name == "exp":
        with pytest.raises(OverflowError):
            gradient(f, 1000.0)


# ---------------------------------------------------------------------------
# Derivatives of the scalar table that other tests reach only outside gradcheck

@pytest.mark.parametrize("x", [0.7, 2.75, -1.3])
def test_scalar_parts_against_finite_differences(x):
    gradcheck(lambda t: zm.ldexp(t, 3) * t, x, order=2)
    gradcheck(lambda t: zm.ldexp(t * t, -2), x, order=2)
    gradcheck(lambda t: zm.modf(t * t)[0] * t, x, order=2)
    gradcheck(lambda t: zm.frexp(t * t + 0.1)[0] * t, x, order=2)
    gradcheck(lambda t: zm.polygamma(1, t * t + 0.5), x, order=2)
    gradcheck(lambda t: zm.polygamma(2, t * t + 0.5), x, order=2)


@pytest.mark.parametrize("z, b", [(1.3 + 0.4j, 2.0), (0.7 - 1.1j, 3.0 + 0.5j), (2.0 + 0.0j, 1.5 - 0.2j)])
def test_cmath_log_with_base_and_real_arguments(z, b):
    gradcheck(lambda z, b: abs(zc.log(z, b)) ** 2, z, b, order=2)
    gradcheck(lambda z: zc.log(z, b).imag, z, order=2)
    gradcheck(lambda b: zc.log(z, b).real, b, order=2)
    # a real argument is made complex first (complex(x)); its derivative is the real part's
    x = abs(z)
    gradcheck(lambda x: abs(zc.exp(x * 1j) + zc.sqrt(x)) ** 2, x, order=2)
    gradcheck(lambda x: zc.sin(x).real * zc.cos(x).real, x, order=2)
