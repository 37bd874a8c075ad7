"""Directions pushed through one forward pass together: forward_jacobian and hessian
push a batch of columns per pass (the engine's Batched). Each test compares with
reverse mode (jacobian, hessian_reverse) and central differences, on functions that
reach every way a batch travels: scaled by elementwise partials, taken by a batched
forward rule, declined by one (fancy indices, order="F", where=), and a forward
rule or pullback run once per direction (rules without a batched form, @grad)."""
import numpy as np
import pytest

import zygcy
from zygcy import forward_jacobian, gradient, grad, hessian, hessian_reverse, jacobian
from zygcy.extend import defbatched, defjvp, defvjp, primitive

from _grid import R, fd_jacobian


def _double_back(ans, x):
    return lambda g: 2.0 * g


@grad
def softclip(x):
    y = np.tanh(x)
    return y, lambda g: (g * (1.0 - y * y),)


FUNCTIONS = {
    # elementwise partials, getitem, sum
    "rosenbrock-terms": lambda x: 100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2,
    # a batched index and indices that are declined (two arrays; an array with an int)
    "basic-index": lambda x: np.stack([x[2] * x[0], np.sum(x[1:4] ** 2), x[..., -1]]),
    "fancy-index": lambda x: x.reshape(2, 3)[[0, 1], [2, 0]] * x[:2],
    "array-and-int": lambda x: x.reshape(2, 3)[[1, 0, 1], 1] ** 2,
    "mask": lambda x: np.sin(x[x > 0.0]).sum() * x,
    # shapes: reshape in C and F order, transpose, swapaxes, broadcast_to, squeeze, expand_dims
    "reshape-C": lambda x: np.tanh(x.reshape(3, 2).T @ x.reshape(3, 2)).ravel(),
    "reshape-F": lambda x: np.reshape(x ** 2, (2, 3), order="F") @ np.arange(3.0),
    "swap-bcast": lambda x: np.swapaxes(np.broadcast_to(x, (2, 6)).reshape(2, 2, 3), 0, 2).sum(axis=1),
    "squeeze": lambda x: np.squeeze(np.expand_dims(x, 0) ** 3, axis=0) + np.mean(x),
    # reductions with axes, keepdims and where=
    "axes": lambda x: np.mean(x.reshape(2, 3) ** 2, axis=-1, keepdims=True) * np.sum(x.reshape(2, 3), axis=0),
    "where": lambda x: np.sum(x.reshape(2, 3) ** 2, axis=1, where=np.array([True, False, True])),
    # rules without a batched form: cumsum, a @grad rule, sort
    "no-batched-rule": lambda x: np.cumsum(softclip(x)) * np.sort(x),
    # scalar code: elements read one by one, floats and math functions
    "scalar-loop": lambda x: np.stack([zygcy.math.sin(x[i]) * x[(i + 1) % 6] for i in range(6)]),
    # list arguments: np.stack of elements, and a tangent that is zero in some places
    "lists": lambda x: np.stack([x[0] * 2.0, np.float64(3.0), x[1] ** 2]),
    "complex": lambda x: np.real(np.exp(1j * x) * (x + 2j)),
    "abs-where": lambda x: np.where(x > 0, np.abs(x) ** 1.5, x * np.abs(x + 0.5j)),
    # a number added at repeated fancy indices (found by tests/programs, seed 27012)
    "ufunc-at": lambda x: _subtract_at(x * x, [4, 1, 4], x[0]),
}


def _subtract_at(v, index, u):
    v = np.copy(v)
    np.subtract.at(v, index, u)
    return v


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_forward_jacobian_by_batches_equals_reverse_mode_and_differences(name):
    f = FUNCTIONS[name]
    x = R(6, seed=len(name)) * 0.8
    y, J = forward_jacobian(f, x)
    np.testing.assert_allclose(y, f(x), rtol=1e-13)
    np.testing.assert_allclose(J, jacobian(f, x)[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(J, fd_jacobian(f, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_hessian_by_batches_equals_reverse_over_reverse(name):
    f = FUNCTIONS[name]
    x = R(6, seed=len(name) + 1) * 0.8
    s = lambda x: np.sum(f(x) * np.linspace(0.5, 1.5, np.size(f(x))).reshape(np.shape(f(x))))  # noqa: E731
    np.testing.assert_allclose(hessian(s, x), hessian_reverse(s, x), rtol=1e-9, atol=1e-11)


SHAPES = [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((2, 2, 3), (3, 4)),
          ((2, 3), (2, 3, 4)), ((3,), (2, 3, 4)), ((2, 2, 3), (3,)), ((2, 2, 3), (2, 3, 4))]


@pytest.mark.parametrize("sa,sb", SHAPES)
def test_matmul_batches_every_pair_of_shapes(sa, sb):
    na = int(np.prod(sa))

    def f(theta):
        a, b = theta[:na].reshape(sa), theta[na:].reshape(sb)
        return np.sin(a) @ (b * b)

    theta = R(na + int(np.prod(sb)), seed=na)
    y, J = forward_jacobian(f, theta)
    np.testing.assert_allclose(J, jacobian(f, theta)[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(J, fd_jacobian(f, theta), rtol=1e-6, atol=1e-8)


def test_many_columns_go_in_several_batches():
    # 2000 columns of 2000 elements: more than one batch of at most 2^20 tangent elements
    x = np.linspace(-1.0, 1.0, 2000)
    y, J = forward_jacobian(lambda x: np.sin(x) * x[::-1], x)
    want = np.diag(np.cos(x) * x[::-1]) + np.diag(np.sin(x))[:, ::-1]
    np.testing.assert_allclose(J, want, rtol=1e-13, atol=1e-15)


def test_values_that_carry_no_tangent_and_infinite_partials():
    # a rule output without a tangent (slogdet's sign), a multi_dot whose columns
    # are all zero in one batch, and partials that are infinite or nan along some
    # directions only (found by review): what reverse mode gives
    x = np.array([0.3, 0.7, -0.2, 1.1])

    def sign_times(x):
        s = np.linalg.slogdet(x.reshape(2, 2))[0]
        return x[0] + s * zygcy.math.sin(s) + x[1] * x[3]

    def cube_of_a_corner(x):
        m = x[-4:].reshape(2, 2)
        s = np.sum(np.linalg.multi_dot([m, m, m]))
        return x[:3] * (s * zygcy.math.sin(s))

    for f, v in [(sign_times, x), (cube_of_a_corner, np.linspace(0.1, 0.5, 300)),
                 (lambda x: np.stack([x[0] ** x[1]]), np.array([-2.0, 2.0, 1.0])),
                 (lambda x: np.stack([zygcy.math.sqrt(x[0]) + x[1]]), np.array([0.0, 1.0, 2.0]))]:
        with np.errstate(all="ignore"):
            J, R = forward_jacobian(f, v)[1], jacobian(f, v)[0]
        np.testing.assert_allclose(J, R, rtol=1e-12, atol=1e-12)


def test_batches_are_sized_by_the_largest_tangent():
    # intermediates n times larger than x: the batches shrink so that one tangent
    # holds about 32 MB, not all n columns of an n x n outer product at once
    import tracemalloc
    n = 300
    x = np.linspace(-1.0, 1.0, n)
    f = lambda x: np.sum(np.sin(np.outer(x, x)))    # noqa: E731
    tracemalloc.start()
    try:
        H = hessian(f, x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 400e6         # all 300 columns at once would need 900 MB
    np.testing.assert_allclose(H, hessian_reverse(f, x), rtol=1e-9, atol=1e-9)


def test_a_batched_rule_serves_and_may_decline():
    calls = []
    twice = primitive(lambda x: 2.0 * x)
    defvjp(twice, _double_back)
    defjvp(twice, lambda t, ans, x: 2.0 * t)

    def batched(tb, ans, x):
        calls.append(tb.shape)
        return 2.0 * tb if tb.shape[0] > 3 else NotImplemented     # declines small batches

    defbatched(twice, batched)
    for n in (3, 5):
        x = R(n, seed=n)
        np.testing.assert_allclose(forward_jacobian(lambda x: np.sin(twice(x)), x)[1],
                                   np.diag(2.0 * np.cos(2.0 * x)), rtol=1e-13)
    assert calls == [(3, 3), (5, 5)]


def test_a_new_forward_rule_drops_the_batched_one():
    thrice = primitive(lambda x: 3.0 * x)
    defvjp(thrice, lambda ans, x: lambda g: 3.0 * g)
    defjvp(thrice, lambda t, ans, x: 1.0 * t)        # wrong, then mended below
    defbatched(thrice, lambda tb, ans, x: 1.0 * tb)
    defjvp(thrice, lambda t, ans, x: 3.0 * t)
    np.testing.assert_allclose(forward_jacobian(thrice, np.ones(3))[1], 3.0 * np.eye(3))


def test_a_batched_rule_for_list_arguments():
    seen = []
    total = primitive(lambda xs: sum(xs))
    defvjp(total, lambda ans, xs: lambda g: [g for _ in xs])
    defjvp(total, lambda t, ans, xs: sum(t))

    def batched(tbs, ans, xs):
        seen.append([None if t is None else t.shape for t in tbs])
        return sum(t for t in tbs if t is not None)

    defbatched(total, batched, lists=True)
    x = R(4, seed=2)
    J = forward_jacobian(lambda x: total([x[0] * x[1], 5.0, x[2] ** 2]), x)[1]
    np.testing.assert_allclose(J, [x[1], x[0], 2 * x[2], 0.0], rtol=1e-13)
    assert seen == [[(4,), None, (4,)]]


def test_a_batched_rule_of_the_wrong_shape_is_refused():
    bad = primitive(lambda x: x * 1.0)
    defvjp(bad, lambda ans, x: lambda g: g)
    defjvp(bad, lambda t, ans, x: t)
    defbatched(bad, lambda tb, ans, x: tb[:, :1, None])
    with pytest.raises(ValueError, match="tangent of shape"):
        forward_jacobian(bad, np.ones(3))
    # a batch of another length would broadcast against the others: refused (found by review)
    defbatched(bad, lambda tb, ans, x: 2.0 * tb[:1])
    with pytest.raises(ValueError, match=r"returned tangents of shape \(1, 3\) for a batch of 3 directions"):
        forward_jacobian(lambda x: bad(x) + x, np.ones(3))


def test_defbatched_says_what_it_needs():
    with pytest.raises(TypeError, match=r"defbatched\(<lambda>, ...\): <lambda> has no reverse rule yet"):
        defbatched(primitive(lambda x: x), lambda tb, ans, x: tb)
    f = primitive(lambda x: x)
    defvjp(f, lambda ans, x: lambda g: g)
    with pytest.raises(TypeError, match="batched forward rule 0 must be a function"):
        defbatched(f, 3)
    with pytest.raises(TypeError, match="one batched forward rule per positional argument"):
        defbatched(f)


def test_a_batch_never_reaches_numpy_or_forward_rules():
    # Batched refuses anything but scaling and adding: a leak is an error, never a number
    from zygcy._core import Batched
    b = Batched(np.ones((2, 3)))
    for op in (lambda: np.sum(b), lambda: np.asarray(b), lambda: b * b, lambda: b + "1",
               lambda: Batched([1.0, 2.0])):
        with pytest.raises(TypeError, match="batch of tangents"):
            op()
    with pytest.raises(ValueError, match="add a batch of 3 directions to one of 2"):
        b + Batched(np.ones((3, 3)))
    # a tangent that is no batch is the same along every direction
    np.testing.assert_array_equal((b + np.arange(3.0)).b, [[1.0, 2.0, 3.0]] * 2)


def test_inside_another_differentiation_columns_go_one_at_a_time():
    # hessian under gradient (its x tracked) and closing over a tracked value: right numbers
    f = lambda x, w: np.sum(np.sin(w * x) * x ** 2)     # noqa: E731
    x = R(3, seed=5)
    d = gradient(lambda w: np.sum(hessian(lambda x: f(x, w), x)), 0.7)[0]
    fd = (np.sum(hessian(lambda x: f(x, 0.7 + 1e-5), x)) - np.sum(hessian(lambda x: f(x, 0.7 - 1e-5), x))) / 2e-5
    assert d == pytest.approx(fd, rel=1e-6)
