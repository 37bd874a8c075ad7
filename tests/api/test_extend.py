"""zygcy.extend, the facade for rule writers: what it accepts, what it refuses
(with the fix), and that rules made with it give derivatives equal to central
differences."""
import functools
import math

import numpy as np
import pytest

import zygcy
from zygcy import gradient
from zygcy.extend import defbilinear, defjoint, deflinear, defvjp, nondifferentiable, primitive, refuse
from zygcy.testing import gradcheck


def plain_python(x):
    return 2 * x


@pytest.mark.parametrize("verb", [
    lambda f: defvjp(f, lambda ans, x: lambda g: g),
    lambda f: defjoint(f, lambda ans, x: lambda g: (g,)),
    lambda f: deflinear(f, lambda g, x: g),
    lambda f: defbilinear(f, lambda g, a, b: g, lambda g, a, b: g),
], ids=["defvjp", "defjoint", "deflinear", "defbilinear"])
@pytest.mark.parametrize("target", [plain_python, lambda x: x, functools.partial(max, 0), math.sin],
                         ids=["function", "lambda", "partial", "builtin"])
def test_a_rule_for_a_function_zygcy_never_sees_called_is_refused(verb, target):
    with pytest.raises(TypeError, match="primitive"):
        verb(target)


@pytest.mark.parametrize("bad", [42, "sin", None, [np.sin]])
def test_a_rule_for_something_that_is_not_a_function_is_refused(bad):
    with pytest.raises(TypeError, match="must be the function the rule is for"):
        defvjp(bad, lambda ans, x: lambda g: g)


def test_makers_are_checked_at_registration():
    f = primitive(lambda x: x)
    with pytest.raises(TypeError, match="maker 0 must be a function"):
        defvjp(f, 3.0)
    with pytest.raises(TypeError, match="give one maker per positional argument"):
        defvjp(f)
    with pytest.raises(TypeError, match="maker must be a function"):
        defjoint(f, "g")
    with pytest.raises(TypeError, match="must be the text of the error"):
        refuse(np.copyto, 1)
    with pytest.raises(TypeError, match="each must be a function"):
        nondifferentiable(np.sign, 3)


def test_a_primitive_uses_its_rule_not_its_body():
    calls = []

    @primitive
    def lse(x):
        m = np.max(x)
        return m + np.log(np.sum(np.exp(x - m)))

    def lse_maker(ans, x):
        calls.append(1)
        return lambda g: 2.0 * g * np.ones_like(x)      # deliberately not the true derivative

    defvjp(lse, lse_maker)
    np.testing.assert_array_equal(gradient(lse, np.array([0.1, 0.2]))[0], [2.0, 2.0])
    assert calls == [1]
    assert lse(np.zeros(2)) == pytest.approx(np.log(2.0))       # plain call: the body


def test_a_primitive_without_a_rule_says_so():
    p = primitive(lambda x: x * 2)
    with pytest.raises(TypeError, match="no gradient rule yet.*zygcy.defvjp"):
        gradient(p, 1.0)


def test_a_primitive_is_recorded_at_every_level_of_nesting():
    cube = primitive(lambda x: x * x * x)
    defvjp(cube, lambda ans, x: lambda g: 3.0 * g * x * x)
    assert zygcy.D(zygcy.D(cube))(2.0) == pytest.approx(12.0)
    gradcheck(lambda x: cube(x), np.array([0.3, -1.2]), order=2)


def test_deflinear_gives_the_transpose_and_refuses_a_tracked_constant():
    take_first = primitive(lambda x, n: 3.0 * x[:n])

    def transpose(g, x, n):       # written with recorded operations: differentiable again
        return np.concatenate([3.0 * g, np.zeros(len(x) - n)])

    deflinear(take_first, transpose)
    x = np.array([1.0, -2.0, 0.5, 4.0])
    gradcheck(lambda x: take_first(x, 2) ** 2, x, order=2)
    with pytest.raises(TypeError, match="no derivative with respect to argument 1"):
        gradient(lambda n: np.sum(take_first(x, n)), 2)


def test_defbilinear_gives_both_cotangents_to_second_order():
    outer_sum = primitive(lambda a, b: np.sum(np.outer(a, b)))
    defbilinear(outer_sum, lambda g, a, b: g * np.sum(b) * np.ones_like(a),
                lambda g, a, b: g * np.sum(a) * np.ones_like(b))
    a, b = np.array([1.0, 2.0]), np.array([0.5, -1.0, 3.0])
    gradcheck(lambda a, b: outer_sum(a, b) ** 2, a, b, order=2)


def test_variadic_makers_serve_every_further_argument():
    total = primitive(lambda *xs: sum(xs))
    defvjp(total, lambda ans, *xs: lambda g: g, variadic=True)
    assert gradient(lambda a, b, c: total(a, b, c) * 2.0, 1.0, 2.0, 3.0) == (2.0, 2.0, 2.0)


def test_pullbacks_made_by_the_helpers_are_named_after_their_function():
    def scaled(x, k):
        return x * k

    p = primitive(scaled)
    seen = []

    def transpose(g, x, k):
        import inspect
        seen.append(inspect.stack()[1].function)
        return g * k

    deflinear(p, transpose)
    gradient(lambda x: p(x, 2.0), 1.0)
    assert seen == ["scaled_pullback"]


def test_a_primitive_called_on_a_parameter_is_differentiated():
    # a Param stands for its tracked leaf (the engine's stand-in protocol): a
    # primitive must substitute it, or the gradient would be silently None
    W = zygcy.param(np.array([0.5, 1.5]))
    sq = primitive(lambda x: x * x)
    defvjp(sq, lambda ans, x: lambda g: 2.0 * g * x)
    g = gradient(lambda: np.sum(sq(W)), zygcy.Params([W]))
    np.testing.assert_allclose(g[W], [1.0, 3.0])
    g = gradient(lambda: np.sum(sq([W, W][0]) * np.stack([W, W])[1]), zygcy.Params([W]))
    np.testing.assert_allclose(g[W], 3 * np.array([0.5, 1.5]) ** 2)
