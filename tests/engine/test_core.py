"""The core engine: the public API on scalars, nesting, errors, the long chain."""
import gc
import io
import math
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import zygcy
from zygcy import (D, Tracked, checkpointed, derivative, dropgrad, forward, grad, gradient, hook, nograd,
                   pullback, value, withgradient)
from zygcy.testing import gradcheck




# ---------------------------------------------------------------------------
# The examples of the core issue, as written there

def test_issue_examples(monkeypatch):
    f = lambda x: 5 * x + 3
    assert (f(10), derivative(f, 10)) == (53, 5)
    assert type(derivative(f, 10)) is int
    assert derivative(lambda x: 3 * x**2 + 2 * x + 1, 5) == 32
    assert type(derivative(lambda x: 3 * x**2 + 2 * x + 1, 5)) is int
    assert D(f)(10) == 5
    assert D(D(zygcy.math.sin))(1.0) == -math.sin(1.0)

    fs = {"sin": zygcy.math.sin, "cos": zygcy.math.cos, "tan": zygcy.math.tan}
    monkeypatch.setattr(sys, "stdin", io.StringIO("sin\n"))
    assert gradient(lambda x: fs[input()](x), 1) == (0.5403023058681398,)

    y, back = forward(lambda a, b: a * b, 2.0, 3.0)
    assert y == 6.0 and type(y) is float
    assert back(4.0) == (12.0, 8.0)
    assert back(1.0) == (3.0, 2.0)
    assert pullback is forward

    @grad
    def add(a, b):
        return a + b, lambda d: (d, d)

    assert add(1, 2) == 3
    assert gradient(lambda x: add(x, x), 1.0) == (2.0,)


def test_nesting_has_no_perturbation_confusion():
    assert D(lambda x: x * D(lambda y: x + y)(1))(1) == 1
    assert D(lambda x: x * D(lambda y: x * y)(1))(4) == 8
    # the outer variable stays tracked for the outer differentiation
    assert D(lambda x: D(lambda y: x * y * y)(x))(3.0) == 4 * 3.0


def test_higher_derivatives():
    assert D(D(D(lambda x: x**4)))(2.0) == 48.0
    assert D(D(zygcy.math.exp))(0.5) == pytest.approx(math.exp(0.5))
    x = 0.7
    assert D(D(D(D(zygcy.math.sin))))(x) == pytest.approx(math.sin(x))
    assert D(D(lambda t: zygcy.math.tan(t)))(x) == pytest.approx(2 * math.tan(x) / math.cos(x) ** 2)


# ---------------------------------------------------------------------------
# forward / gradient / withgradient semantics

def test_unused_and_control_flow_arguments_get_none():
    def f(x, y, z):
        return x * 2 if y > 0 else x
    assert gradient(f, 1.0, 2.0, 3.0) == (2.0, None, None)


def test_outputs_are_plain():
    y, back = forward(lambda x: (x * 2, x + 1), 3.0)
    assert y == (6.0, 4.0) and all(type(v) is float for v in y)
    assert back((1.0, None)) == (2.0,)
    assert back((None, 1.0)) == (1.0,)
    assert back((1.0, 1.0)) == (3.0,)


def test_constant_output_and_none_output():
    y, back = forward(lambda x: 5.0, 2.0)
    assert y == 5.0 and back(1.0) == (None,)
    assert gradient(lambda x: 5.0, 2.0) == (None,)


def test_gradient_rejects_non_scalar_outputs():
    with pytest.raises(ValueError, match=r"Output is an array of shape \(2,\).*np.sum"):
        gradient(lambda x: np.array([1.0, 2.0]), 1.0)
    with pytest.raises(ValueError, match="Output is complex, so the gradient is not defined"):
        gradient(lambda z: z * z, 1 + 1j)
    with pytest.raises(ValueError, match="Output is a tuple.*withgradient"):
        gradient(lambda x: (x, x), 1.0)
    with pytest.raises(ValueError, match="Output is a NoneType"):
        gradient(lambda x: None, 1.0)


def test_api_validates_the_function():
    with pytest.raises(TypeError, match="f must be a function"):
        gradient(1.0, lambda x: x)
    with pytest.raises(TypeError, match="f must be a function"):
        forward(None)


def test_withgradient():
    r = withgradient(lambda x: x * x, 3.0)
    assert r.val == 9.0 and r.grad == (6.0,)
    r = withgradient(lambda x: (x * x, "log me", x), 3.0)
    assert r.val == (9.0, "log me", 3.0) and r.grad == (6.0,)


def test_back_is_reusable_and_fresh():
    y, back = forward(lambda a: zygcy.math.sin(a) * a, 0.3)
    g1 = back(1.0)
    g2 = back(2.0)
    assert g2[0] == pytest.approx(2 * g1[0])
    assert back(1.0) == g1


def test_exceptions_propagate_and_try_except_works():
    class Boom(Exception):
        pass

    def f(x):
        raise Boom("inside f")
    with pytest.raises(Boom, match="inside f"):
        gradient(f, 1.0)

    def g(x):
        try:
            return x / 0.0
        except ZeroDivisionError:
            return x * 3
    assert gradient(g, 2.0) == (3.0,)
    # the tape was popped: a later differentiation is unaffected
    assert gradient(lambda x: x * x, 2.0) == (4.0,)


def test_int_float_complex_bool_inputs():
    assert gradient(lambda x: x * x, 3) == (6,)
    assert gradient(lambda x: x * 1.5, 3) == (1.5,)
    assert gradient(lambda z: abs(z) ** 2, 1 + 2j) == (2 + 4j,)
    assert gradient(lambda x, flag: x * 2 if flag else x, 1.0, True) == (2.0, None)


def test_complex_convention_holomorphic():
    # f(z) = |z^2|^2 = |z|^4: gradient df/dx + i df/dy = 4 |z|^2 z
    z = 0.5 - 1.5j
    g, = gradient(lambda z: abs(z * z) ** 2, z)
    assert g == pytest.approx(4 * abs(z) ** 2 * z)
    # real part of a holomorphic function: Re(z^2) = x^2 - y^2 -> 2x - 2iy = 2 conj(z)
    g, = gradient(lambda z: (z * z).real, z)
    assert g == pytest.approx(2 * z.conjugate())
    g, = gradient(lambda z: (z * z).imag, z)     # 2xy -> 2y + 2ix
    assert g == pytest.approx(2 * z.imag + 2j * z.real)
    g, = gradient(lambda z: z.conjugate().imag, z)
    assert g == pytest.approx(-1j)


def test_real_input_gets_real_gradient_through_complex_code():
    g, = gradient(lambda x: abs(x * (1 + 1j)) ** 2, 3.0)
    assert type(g) is float and g == pytest.approx(12.0)


# ---------------------------------------------------------------------------
# Operators on Tracked

OPS = [
    ("add", lambda x, y: x + y), ("sub", lambda x, y: x - y), ("mul", lambda x, y: x * y),
    ("div", lambda x, y: x / y), ("pow", lambda x, y: x ** y), ("mod", lambda x, y: x % y),
]


@pytest.mark.parametrize("name,op", OPS)
@pytest.mark.parametrize("x,y", [(1.3, 0.7), (2.5, 1.5), (0.7, 2.0)])
def test_binary_operators_against_finite_differences(name, op, x, y):
    gradcheck(op, x, y, order=1 if name == "mod" else 2)
    gradcheck(lambda a: op(a, y), x)          # reflected / constant forms
    gradcheck(lambda b: op(x, b), y)


@pytest.mark.parametrize("name,op", OPS[:5])
def test_binary_operators_on_complex(name, op):
    gradcheck(lambda a, b: abs(op(a, b)) ** 2, 1.3 + 0.4j, 0.7 - 0.2j, order=2)


@pytest.mark.parametrize("name,op", OPS)
def test_operator_values_equal_plain_python(name, op):
    for x, y in [(1.3, 0.7), (7, 3), (2, 0.5), (-2.0, 3), (1 + 2j, 3.0)]:
        if name == "mod" and isinstance(x, complex):
            continue
        y1, _ = forward(lambda a, b: op(a, b), x, y)
        assert y1 == op(x, y) and type(y1) is type(op(x, y))


def test_ints_stay_ints_and_analytic_values():
    assert gradient(lambda x, y: x * y + x ** 3 - y, 2, 5) == (17, 1)
    assert gradient(lambda x: x ** 0.5, 4.0) == (0.25,)
    assert gradient(lambda x: 2 ** x, 3.0) == (8 * math.log(2),)
    assert gradient(lambda x: 7.0 % x, 2.0) == (-3.0,)
    assert gradient(lambda x: 1 / x, 2.0) == (-0.25,)
    assert gradient(lambda x: -x + (+x) + abs(x), -2.0) == (-1.0,)


def test_pow_edge_cases():
    assert gradient(lambda x: x ** 0, 0.0) == (0.0,)
    assert gradient(lambda x: x ** 2, 0.0) == (0.0,)
    assert gradient(lambda y: 0.0 ** y, 2.0) == (0.0,)
    g, = gradient(lambda x: x ** 0.5, 0.0)
    assert g == math.inf
    assert math.isnan(gradient(lambda y: (-2.0) ** y, 2.0)[0])


def test_division_by_zero_raises_like_python():
    with pytest.raises(ZeroDivisionError):
        gradient(lambda x: x / 0.0, 1.0)
    with pytest.raises(ZeroDivisionError):
        gradient(lambda x: 1.0 / x, 0.0)


def test_floordiv_divmod_round_floor_ceil_trunc_int_index_are_plain():
    def f(x):
        q, r = divmod(x, 0.75)
        assert type(q) is float
        assert type(x // 2) is float and type(round(x)) is int and type(round(x, 1)) is float
        assert type(math.floor(x)) is int and type(math.ceil(x)) is int and type(math.trunc(x)) is int
        assert type(int(x)) is int
        return r * 2
    assert gradient(f, 2.0) == (2.0,)
    assert gradient(lambda n: [10.0, 20.0, 30.0][n] * n, 1) == (20.0,)   # __index__
    assert divmod(7, 2) == forward(lambda a: divmod(a, 2), 7)[0]
    assert gradient(lambda x: (2.0 // x) + x, 0.7) == (1.0,)
    assert gradient(lambda x: divmod(5.0, x)[1], 1.5) == (-3.0,)


def test_comparisons_are_plain_bools():
    def f(x, y):
        for r in (x < y, x <= y, x > y, x >= y, x == y, x != y, x < 2.0, 2.0 < x):
            assert type(r) is bool
        return x * y if x < y else x
    assert gradient(f, 1.0, 2.0) == (2.0, 1.0)
    assert gradient(f, 3.0, 2.0) == (1.0, None)


def test_real_imag_conjugate_on_real_and_complex():
    assert gradient(lambda x: x.real * x + x.imag, 3.0) == (6.0,)
    assert gradient(lambda x: x.conjugate() * 2, 3.0) == (2.0,)
    gradcheck(lambda z: z.real * z.imag + abs(z.conjugate()), 1.5 + 0.5j, order=2)


def test_repr_format_str_hash_bool():
    def f(x):
        assert repr(x) == "Tracked(1.5)"
        assert str(x) == "1.5"
        assert format(x, ".3f") == "1.500" and f"{x:.1f}" == "1.5"
        assert hash(x) == hash(1.5)
        assert bool(x) is True
        return x
    gradient(f, 1.5)


def test_conversions_that_drop_the_derivative_raise():
    with pytest.raises(TypeError, match=r"float\(\) of a tracked value would drop its derivative.*zygcy.math"):
        gradient(lambda x: float(x), 1.0)
    with pytest.raises(TypeError, match=r"math.sin\(x\) calls float\(x\).*zygcy.value"):
        gradient(lambda x: math.sin(x), 1.0)
    with pytest.raises(TypeError, match=r"complex\(\) of a tracked value"):
        gradient(lambda x: complex(x).real, 1.0)
    with pytest.raises(TypeError, match="np.asarray/np.array of a tracked value"):
        gradient(lambda x: np.asarray(x).sum(), 1.0)
    with pytest.raises(TypeError, match="made by zygcy"):
        Tracked(1.0)


def test_value_takes_the_plain_value_on_purpose():
    def f(x):
        v = value(x)
        assert type(v) is float
        return x * v
    assert gradient(f, 3.0) == (3.0,)
    assert value({"a": (1.0,)}) == {"a": (1.0,)}


# ---------------------------------------------------------------------------
# dropgrad, hook, nograd, checkpointed, @grad

def test_dropgrad_hook_nograd():
    assert gradient(lambda x: x * dropgrad(x), 3.0) == (3.0,)
    seen = []
    assert gradient(lambda x: hook(lambda g: seen.append(g) or 2 * g, x) * 3, 1.0) == (6.0,)
    assert seen == [3.0]
    assert hook(lambda g: g, 5.0) == 5.0

    @nograd
    def scale(x):
        assert type(x) is float
        return 2.0 * x
    assert gradient(lambda x: x * scale(x), 3.0) == (6.0,)


def test_checkpointed():
    calls = []

    def f(t, s):
        calls.append(1)
        return zygcy.math.sin(t) * s
    y, back = forward(lambda x: checkpointed(f, x, 2.0) * x, 0.5)
    assert y == pytest.approx(math.sin(0.5) * 2 * 0.5)
    n = len(calls)
    g, = back(1.0)
    assert len(calls) == n + 1         # re-run on the backward pass
    assert g == pytest.approx(2 * (math.cos(0.5) * 0.5 + math.sin(0.5)))
    gradcheck(lambda x: checkpointed(f, x, x), 0.3, order=2)
    assert checkpointed(f, 0.5, 2.0) == f(0.5, 2.0)


def test_checkpointed_refuses_captured_tracked_values():
    def outer(x):
        return checkpointed(lambda t: t * x, x * 2)
    with pytest.raises(ValueError, match="checkpointed:.*not among its arguments"):
        gradient(outer, 1.0)
    # with no tracked argument f simply runs and is recorded as usual
    assert gradient(lambda x: checkpointed(lambda t: t * x, 2.0), 1.0) == (2.0,)


def test_grad_rule_errors():
    @grad
    def bad(a, b):
        return a + b, lambda d: (d,)
    with pytest.raises(ValueError, match=r"pullback of bad returned a tuple of length 1.*\(2 here\)"):
        gradient(lambda x: bad(x, x), 1.0)

    @grad
    def notpair(a):
        return a
    with pytest.raises(TypeError, match="must return a pair"):
        gradient(lambda x: notpair(x), 1.0)

    @grad
    def notfun(a):
        return a, 3
    with pytest.raises(TypeError, match="not a function"):
        gradient(lambda x: notfun(x), 1.0)

    @grad
    def takes_list(xs):
        return xs[0], lambda d: (None,)
    with pytest.raises(TypeError, match="holding tracked values"):
        gradient(lambda x: takes_list([x]), 1.0)


def test_grad_rule_is_differentiable_again():
    @grad
    def cube(x):
        return x ** 3, lambda d: (3 * d * x ** 2,)
    assert D(cube)(2.0) == 12.0
    assert D(D(cube))(2.0) == 12.0
    assert cube(2.0) == 8.0


def test_grad_rule_with_none_gradient_and_constant_arg():
    @grad
    def scale(x, k):
        return x * k, lambda d: (d * k, None)
    assert gradient(lambda x, k: scale(x, k), 2.0, 3.0) == (3.0, None)
    assert gradient(lambda x: scale(x, 3.0), 2.0) == (3.0,)


# ---------------------------------------------------------------------------
# Engine: long chains, memory

def test_chain_of_a_million_operations():
    def f(x):
        acc = x
        for _ in range(1_000_000):
            acc = acc * 1.0000001
        return acc
    g, = gradient(f, 1.0)
    assert g == pytest.approx(1.0000001 ** 1_000_000)


def test_deep_recursion_is_iterative_in_the_sweep():
    def p(x, n):
        acc = 1.0
        for _ in range(n):
            acc = x * acc
        return acc
    assert gradient(lambda x: p(x, 200_000), 1.0) == (200_000.0,)


def test_memory_is_released_when_back_is_dropped():
    # Every node holds (through its partials) a reference to the value `big`
    # feeds; once back is dropped, reference counting alone (the cyclic
    # collector is off here) must give all of them back.
    import numpy as np
    big = np.ones(1000)
    gc.collect()
    gc.disable()
    try:
        base = sys.getrefcount(big)
        y, back = forward(lambda x: np.sum(x * big) + sum(x[i] * big[i] for i in range(50)), np.ones(1000))
        held = sys.getrefcount(big)
        assert held > base
        back(1.0)
        del back
        assert sys.getrefcount(big) == base
        y, back = forward(lambda x: sum(x * i for i in range(1000)), 1.0)
        assert sys.getrefcount(big) == base
    finally:
        gc.enable()


def test_a_long_chain_is_freed_without_deep_recursion():
    def f(x):
        for _ in range(300_000):
            x = x + 1.0
        return x
    y, back = forward(f, 1.0)
    del back        # freeing 300k linked nodes must not overflow the C stack


# ---------------------------------------------------------------------------
# Property test: random polynomial-like expressions

@given(st.lists(st.floats(-2, 2), min_size=1, max_size=6), st.floats(0.3, 1.5))
def test_random_expressions_match_finite_differences(coefs, x0):
    def f(x):
        acc = 0.0
        for i, c in enumerate(coefs):
            acc = acc * x + c * zygcy.math.sin(x * (i + 1)) / (1 + x * x)
        return acc
    gradcheck(f, x0, order=2, rtol=1e-4, atol=1e-6)


def test_huge_int_constants_overflow_like_float_arithmetic():
    with pytest.raises(OverflowError, match="int too large to convert to float"):
        gradient(lambda x: x * 10**400, 1.0)
    with pytest.raises(OverflowError):
        1.0 * 10**400
