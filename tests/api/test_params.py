"""Implicit parameters: param, Params, Grads."""
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zygcy import (Grads, Params, dropgrad, forward, grad, gradient, hook, nograd, param, value,
                   withgradient)
from zygcy.testing import gradcheck


@pytest.fixture
def W(rng):
    return param(rng.standard_normal((2, 3)))


@pytest.fixture
def b(rng):
    return param(rng.standard_normal(2))


def plain(p):
    return np.array(p.view(np.ndarray))


# ---------------------------------------------------------------------------
# The issue's example

def test_issue_example():
    W = param(np.random.rand(2, 3))
    b = param(np.random.rand(2))
    predict = lambda x: W @ x + b          # noqa: E731
    g = gradient(lambda: np.sum(predict(np.array([1., 2., 3.]))), Params([W, b]))
    np.testing.assert_allclose(g[W], [[1., 2., 3.], [1., 2., 3.]])
    np.testing.assert_allclose(g[b], [1., 1.])
    assert type(g[W]) is np.ndarray


# ---------------------------------------------------------------------------
# param: an ndarray everywhere outside a differentiation

def test_param_shares_memory_and_is_an_ndarray():
    a = np.arange(6.0).reshape(2, 3)
    W = param(a)
    assert isinstance(W, np.ndarray) and np.shares_memory(W, a)
    assert param(W) is W
    W[0, 0] = 10.0
    assert a[0, 0] == 10.0
    assert repr(W).startswith("param(array(")


def test_param_outside_differentiation_gives_plain_results(W):
    for r in (W + 1, W * W, np.sin(W), np.sum(W, axis=0), W @ W.T, W.sum(), W.copy(), W[W > 0]):
        assert type(r) in (np.ndarray, np.float64), type(r)
    assert float(param(np.array(2.5))) == 2.5


def test_in_place_update_keeps_the_parameter(W):
    before = plain(W)
    g = gradient(lambda: np.sum(W ** 2), Params([W]))
    ident = id(W)
    W -= 0.1 * g[W]
    assert id(W) == ident and type(W).__name__ == "Param"
    np.testing.assert_allclose(W, before * 0.8)
    W[0] = 0.0
    np.testing.assert_allclose(W[0], 0.0)


def test_param_conversions():
    assert param(3.0).shape == () and param([1, 2]).dtype == np.float64


def test_param_errors():
    with pytest.raises(TypeError, match="param\\(x\\): x is a tracked value.*gradient\\(f, x\\)"):
        gradient(lambda x: param(x), 1.0)
    with pytest.raises(TypeError, match="dtype int64.*param\\(x.astype\\(float\\)\\)"):
        param(np.arange(3))
    with pytest.raises(TypeError, match="must be an array, a number or a nested list"):
        param("weights")
    with pytest.raises(TypeError, match="must be an array, a number"):
        param(True)


# ---------------------------------------------------------------------------
# Params

def test_params_is_an_ordered_identity_set(W, b):
    ps = Params([W, b, W])
    assert len(ps) == 2 and list(ps) == [W, b]
    assert W in ps and param(np.ones(2)) not in ps
    ps.add(param(np.zeros(1)))
    assert len(ps) == 3
    assert "Params([param of shape (2, 3)" in repr(ps)


def test_params_errors(W):
    with pytest.raises(TypeError, match="plain numpy array.*zygcy.param\\(W\\).*gradient\\(f, W\\)"):
        Params([W, np.ones(3)])
    with pytest.raises(TypeError, match="item 0 is a tracked value.*can't be a parameter"):
        gradient(lambda x: Params([x]), np.ones(2))
    with pytest.raises(TypeError, match="item 0 is a tracked value"):
        gradient(lambda x: Params([x]), 1.0)          # a tracked scalar
    with pytest.raises(TypeError, match="not a single array"):
        Params(W)
    with pytest.raises(TypeError, match="item 0 is a float"):
        Params([1.0])
    with pytest.raises(TypeError, match="takes a list of parameters"):
        Params(3)
    with pytest.raises(TypeError, match="Params.add\\(p\\): p is a plain numpy array"):
        Params().add(np.ones(2))


def test_params_call_errors(W):
    ps = Params([W])
    with pytest.raises(TypeError, match="gradient\\(f, ps\\): a Params must be the only argument"):
        gradient(lambda x: np.sum(W) * x, 1.0, ps)
    with pytest.raises(TypeError, match="with Params, f is called with no arguments, but f requires some"):
        def f(x):
            return np.sum(W * x)
        gradient(f, ps)


# ---------------------------------------------------------------------------
# Every use of a parameter is tracked

def _explicit(f, *ps):
    """The explicit gradient of f with the parameters as arguments, for comparison."""
    return gradient(f, *[plain(p) for p in ps])


def test_every_kind_of_use(W, b, rng):
    x = rng.standard_normal(3)

    def body(W, b):
        return (np.sum(np.sin(W)) + np.sum(W @ x) + np.sum(x @ W.T) + W[1, 2] * 3
                + np.sum(W.T[0]) + W.sum() + W.reshape(3, 2)[0, 1] + np.dot(b, b)
                + np.sum(np.stack([b, b])) + np.mean(W, axis=0)[1] + np.sum(2.0 * W - W / 3.0)
                + sum(row[0] for row in W) + np.sum(np.transpose(W)))

    g = gradient(lambda: body(W, b), Params([W, b]))
    e = _explicit(body, W, b)
    np.testing.assert_allclose(g[W], e[0])
    np.testing.assert_allclose(g[b], e[1])


def test_tracked_value_on_the_left_of_a_parameter(rng):
    W1, W2, W3 = (param(rng.standard_normal(s)) for s in [(3, 4), (4, 4), (4, 2)])
    x = rng.standard_normal((5, 3))

    def net(W1, W2, W3):
        h = np.tanh(x @ W1)
        h = np.tanh(h @ W2) * W2[0]          # a tracked value meets a parameter, twice
        h = h + W3.T[0] * h
        return np.sum((h @ W3) ** 2)

    g = gradient(lambda: net(W1, W2, W3), Params([W1, W2, W3]))
    e = _explicit(net, W1, W2, W3)
    for p, ep in zip((W1, W2, W3), e):
        np.testing.assert_allclose(g[p], ep, rtol=1e-10)
    assert gradcheck(net, plain(W1), plain(W2), plain(W3))


def test_scalar_tracked_times_parameter(W):
    def f(s):
        return np.sum(s * W) * s

    gp = gradient(lambda: f(2.0), Params([W]))                   # s * s
    np.testing.assert_allclose(gp[W], np.full(W.shape, 4.0))
    mixed = gradient(lambda: gradient(f, 2.0)[0], Params([W]))   # d/dW of 2 s sum(W)
    np.testing.assert_allclose(mixed[W], np.full(W.shape, 4.0))


def test_views_made_before_follow_the_parameter(W, rng):
    Wt = W.T
    row = W[0]
    Wr = W.reshape(3, 2)
    Wn = np.transpose(W)
    x = rng.standard_normal(2)
    assert all(type(v).__name__ == "Param" for v in (Wt, row, Wr, Wn))

    def f():
        return np.sum(Wt @ x) + np.sum(row * 2) + Wr[2, 1] + np.sum(Wn ** 2)

    g = gradient(f, Params([W]))
    expect = np.tile(x[:, None], (1, 3)) + 2 * (np.arange(2)[:, None] == 0) + 2 * plain(W)
    expect[1, 2] += 1
    np.testing.assert_allclose(g[W], expect)
    # a view stays a view: updating the parameter shows through
    W -= 1.0
    np.testing.assert_allclose(Wt, plain(W).T)


def test_views_numpy_cannot_explain_raise(W):
    x = np.ones(2)
    with pytest.raises(TypeError, match="an operation zygcy cannot see.*x @ W"):
        gradient(lambda: np.sum(x.dot(W)), Params([W]))
    twin = param(W.view(np.ndarray))          # a second param() of the same memory
    with pytest.raises(TypeError, match="sharing memory with a parameter.*cannot tell how it was made"):
        gradient(lambda: np.sum(twin), Params([W]))


def test_parameters_not_listed_are_constants(W, b):
    g = gradient(lambda: np.sum(W) * np.sum(b), Params([b]))
    assert W not in g
    np.testing.assert_allclose(g[b], np.full(2, np.sum(W)))
    with pytest.raises(KeyError, match="not one of the parameters"):
        g[W]


def test_unused_parameter_has_none(W, b):
    g = gradient(lambda: np.sum(W), Params([W, b]))
    assert g[b] is None and b in g


def test_in_place_changes_during_differentiation_raise(W):
    def setitem():
        W[0, 0] = 1.0
        return np.sum(W)

    def iadd():
        V = W
        V += 1.0
        return np.sum(V)

    def out():
        np.multiply(W, 2.0, out=W)
        return np.sum(W)

    before = plain(W)
    for f, what in [(setitem, r"W\[...\] = v"), (iadd, r"in-place operator \(W \+= x\)"),
                    (out, r"numpy.multiply\(..., out=W\)")]:
        with pytest.raises(TypeError, match=what + ".*changes a parameter in place"):
            gradient(f, Params([W]))
    np.testing.assert_array_equal(W, before)


def test_conversion_of_a_tracked_parameter_raises():
    s = param(np.array(2.0))
    with pytest.raises(TypeError, match="float\\(\\) of a tracked value would drop its derivative"):
        gradient(lambda: float(s) * 2, Params([s]))


def test_value_dropgrad_nograd(W):
    assert type(value(W)) is np.ndarray

    @nograd
    def total(a):
        return np.sum(a)

    g = gradient(lambda: np.sum(W) + np.sum(dropgrad(W)) + total(W), Params([W]))
    np.testing.assert_allclose(g[W], np.ones(W.shape))


def test_grad_rule_and_hook_with_a_parameter(W):
    @grad
    def total(a):
        return np.sum(a), lambda d: (d * np.ones(np.shape(a)),)

    g = gradient(lambda: total(W) + np.sum(hook(lambda d: 3 * d, W)), Params([W]))
    np.testing.assert_allclose(g[W], np.full(W.shape, 4.0))


def test_explicit_gradient_of_a_parameter(W):
    g, = gradient(lambda A: np.sum(A ** 2), W)
    assert type(g) is np.ndarray
    np.testing.assert_allclose(g, 2 * plain(W))


def test_model_object_of_parameters_both_ways(rng):
    class Layer:
        def __init__(self):
            self.W = param(rng.standard_normal((2, 3)))
            self.b = param(rng.standard_normal(2))
            self.name = "dense"

        def __call__(self, x):
            return np.tanh(self.W @ x + self.b)

    layer = Layer()
    x = rng.standard_normal(3)
    explicit, = gradient(lambda m: np.sum(m(x)), layer)          # a record: a dict of gradients
    implicit = gradient(lambda: np.sum(layer(x)), Params([layer.W, layer.b]))
    assert set(explicit) == {"W", "b"} and type(explicit["W"]) is np.ndarray
    np.testing.assert_allclose(explicit["W"], implicit[layer.W])
    np.testing.assert_allclose(explicit["b"], implicit[layer.b])
    assert type(layer.W).__name__ == "Param"                       # the model is untouched


# ---------------------------------------------------------------------------
# Nesting

def test_second_derivative_with_params():
    W = param(np.array([1.0, 2.0, 3.0]))

    def inner_sum():
        return np.sum(gradient(lambda: np.sum(W ** 3), Params([W]))[W])

    np.testing.assert_allclose(gradient(inner_sum, Params([W]))[W], 6 * plain(W))


def test_explicit_inside_implicit(W, rng):
    x0 = rng.standard_normal(3)

    def outer():
        gx, = gradient(lambda x: np.sum(np.tanh(W @ x)), x0)
        return np.sum(gx ** 2)

    g = gradient(outer, Params([W]))
    e, = gradient(lambda A: np.sum(gradient(lambda x: np.sum(np.tanh(A @ x)), x0)[0] ** 2), plain(W))
    np.testing.assert_allclose(g[W], e)


def test_nested_with_a_tracked_value_left_of_a_parameter(rng):
    # numpy would hand h @ B to the tracked h first; the engine defers to the
    # parameter, so second derivatives through Params equal the explicit ones.
    A0, B0 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    A, B = param(A0.copy()), param(B0.copy())
    x = rng.standard_normal((5, 3))

    def gnorm():
        g = gradient(lambda: np.sum(np.tanh(np.tanh(x @ A) @ B) ** 2), Params([A, B]))
        return np.sum(g[A] ** 2) + np.sum(g[B] ** 2)

    def gnorm_explicit(a, b):
        ga, gb = gradient(lambda a, b: np.sum(np.tanh(np.tanh(x @ a) @ b) ** 2), a, b)
        return np.sum(ga ** 2) + np.sum(gb ** 2)

    g = gradient(gnorm, Params([A, B]))
    e = gradient(gnorm_explicit, A0, B0)
    np.testing.assert_allclose(g[A], e[0], rtol=1e-10)
    np.testing.assert_allclose(g[B], e[1], rtol=1e-10)
    gradcheck(gnorm_explicit, A0, B0, order=1)

    def inner_explicit():
        g, = gradient(lambda v: np.sum(np.tanh(v @ A) @ B), x)
        return np.sum(g ** 2)

    def inner_explicit_plain(a, b):
        g, = gradient(lambda v: np.sum(np.tanh(v @ a) @ b), x)
        return np.sum(g ** 2)

    g = gradient(inner_explicit, Params([A, B]))
    e = gradient(inner_explicit_plain, A0, B0)
    np.testing.assert_allclose(g[A], e[0], rtol=1e-10)
    np.testing.assert_allclose(g[B], e[1], rtol=1e-10)


def test_params_inside_explicit_with_a_tracked_value_left_of_a_parameter(rng):
    A0, B0 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    A, B = param(A0.copy()), param(B0.copy())
    x = rng.standard_normal((5, 3))

    def implicit(s):
        g = gradient(lambda: np.sum(np.tanh(np.tanh(x @ A) @ B * s) ** 2), Params([A, B]))
        return np.sum(g[B] ** 2) + np.sum(g[A])

    def explicit(s):
        ga, gb = gradient(lambda a, b: np.sum(np.tanh(np.tanh(x @ a) @ b * s) ** 2), A0, B0)
        return np.sum(gb ** 2) + np.sum(ga)

    assert gradient(implicit, 0.7)[0] == pytest.approx(gradient(explicit, 0.7)[0], rel=1e-10)


def test_innermost_params_frame_is_used(W, b):
    def outer():
        gi = gradient(lambda: np.sum(W) * np.sum(b), Params([W]))   # b is the outer frame's
        return np.sum(gi[W])

    # sum(gi[W]) = W.size * sum(b): its gradient is W.size for b and 0 for W
    g = gradient(outer, Params([W, b]))
    np.testing.assert_allclose(g[b], np.full(2, W.size))
    assert g[W] is None or np.allclose(g[W], 0)


# ---------------------------------------------------------------------------
# Grads

def test_grads_mapping_and_arithmetic(W, b):
    g = gradient(lambda: np.sum(W ** 2) + np.sum(3 * b), Params([W, b]))
    assert isinstance(g, Grads) and isinstance(g, Mapping)
    assert len(g) == 2 and list(g) == [W, b] and W in g and np.ones(2) not in g
    assert g.keys()[0] is W and len(g.values()) == 2 and g.items()[1][0] is b
    assert g.get(np.ones(2)) is None
    np.testing.assert_allclose((g * 0.5)[W], plain(W))
    np.testing.assert_allclose((0.5 * g)[b], np.full(2, 1.5))
    np.testing.assert_allclose((g + g)[b], np.full(2, 6.0))
    np.testing.assert_allclose((g - g * 2)[b], np.full(2, -3.0))
    np.testing.assert_allclose((g / 3)[b], np.ones(2))
    np.testing.assert_allclose((-g)[b], np.full(2, -3.0))
    np.testing.assert_allclose(g.map(np.sign)[b], np.ones(2))
    assert "Grads(param of shape (2, 3) =>" in repr(g)


def test_grads_with_missing_gradients_add_as_zero(W, b):
    g1 = gradient(lambda: np.sum(W), Params([W, b]))
    g2 = gradient(lambda: np.sum(b), Params([W, b]))
    s = g1 + g2
    np.testing.assert_allclose(s[W], np.ones(W.shape))
    np.testing.assert_allclose(s[b], np.ones(2))
    assert (g1 * 2)[b] is None
    with pytest.raises(ValueError, match="both must hold the same parameters"):
        g1 + gradient(lambda: np.sum(W), Params([W]))


def test_one_line_optimiser_step(W):
    target = np.ones(W.shape)
    for _ in range(200):
        g = gradient(lambda: np.sum((W - target) ** 2), Params([W]))
        for p, d in (g * 0.1).items():
            p -= d
    np.testing.assert_allclose(W, target, atol=1e-8)


def test_grads_are_fresh(W):
    y, back = forward(lambda: W * 1.0, Params([W]))
    assert type(y) is np.ndarray
    seed = np.ones(W.shape)
    g1 = back(seed)
    keep = g1[W].copy()
    g1[W][0, 0] = 99.0
    assert seed[0, 0] == 1.0              # not the seed
    g2 = back(2 * seed)
    np.testing.assert_allclose(g2[W], 2.0)
    assert g1[W][0, 0] == 99.0 and np.array_equal(g1[W][1], keep[1])


def test_withgradient_and_forward_with_params(W):
    res = withgradient(lambda: (np.sum(W ** 2), "log"), Params([W]))
    assert res.val[1] == "log"
    np.testing.assert_allclose(res.grad[W], 2 * plain(W))
    y, back = forward(lambda: {"s": np.sum(W), "m": W * 2}, Params([W]))
    g = back({"m": np.ones(W.shape)})
    np.testing.assert_allclose(g[W], 2.0)


# ---------------------------------------------------------------------------
# Property: implicit and explicit gradients agree

@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2 ** 16),
       st.booleans())
def test_implicit_equals_explicit(n_in, n_hidden, n_out, seed, transpose_view):
    r = np.random.default_rng(seed)
    W1, W2 = r.standard_normal((n_in, n_hidden)), r.standard_normal((n_out, n_hidden))
    x = r.standard_normal((2, n_in))
    P1, P2 = param(W1.copy()), param(W2.copy())
    P2t = P2.T if transpose_view else None

    def net(A, B, Bt):
        h = np.tanh(x @ A)
        return np.sum((h @ (B.T if Bt is None else Bt)) ** 2)

    g = gradient(lambda: net(P1, P2, P2t), Params([P1, P2]))
    e = gradient(lambda A, B: net(A, B, None), W1, W2)
    np.testing.assert_allclose(g[P1], e[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g[P2], e[1], rtol=1e-10, atol=1e-12)


def test_back_after_an_in_place_update_of_a_parameter_is_refused():
    W, b = param(np.ones((2, 2))), param(np.zeros(2))
    x = np.array([0.5, -1.0])

    def loss():
        return np.sum(np.tanh(W @ x + b) ** 2)

    y, back = forward(loss, Params([W, b]))
    g = back(1.0)
    g2 = back(1.0)                      # nothing changed: back may be called again
    np.testing.assert_array_equal(g[W], g2[W])
    message = r"parameter of shape \(2, 2\) was changed in place.*Call forward \(or gradient\) again"
    for update in (lambda: W.__isub__(0.1 * g[W]),          # W -= lr * g[W]
                   lambda: W.__setitem__((0, 0), 3.0),       # W[0, 0] = 3
                   lambda: W.T.__setitem__((1, 0), 2.0),     # through a view
                   lambda: np.copyto(W, np.zeros((2, 2))),   # a numpy function writing into W
                   lambda: np.add(W, 1.0, out=W)):
        y, back = forward(loss, Params([W, b]))
        back(1.0)
        update()
        with pytest.raises(RuntimeError, match=message):
            back(1.0)
    # a fresh forward after the update is fine, and sees the new values
    y, back = forward(loss, Params([W, b]))
    assert y == pytest.approx(np.sum(np.tanh(plain(W) @ x + plain(b)) ** 2))
    back(1.0)


@pytest.mark.parametrize("reduce", [
    lambda x: np.sum(x, axis=0),
    lambda x: np.mean(x, axis=0),
    lambda x: np.sum(x, axis=0, where=np.array([[True, False], [True, True], [False, True]])),
    lambda x: np.nansum(x, axis=0),
    lambda x: np.mean(x, axis=0, keepdims=True)[0],
])
def test_a_parameter_as_the_seed_of_a_reductions_back_is_differentiated(reduce):
    # The cotangent given to back is a parameter: its derivative must flow through the
    # reduction's pullback (the spread of the cotangent over the reduced axis).
    W = param(np.array([1.0, 2.0]))
    X = np.arange(6.0).reshape(3, 2)
    _, back = forward(reduce, X)
    got = gradient(lambda: np.sum(back(W)[0] * X), Params([W]))[W]
    # back is linear in its seed: d/dW sum(back(W) * X) = back(X-weights)^T, by differences
    f = lambda w: float(np.sum(back(w)[0] * X))
    e = np.eye(2)
    want = np.array([(f(W.view(np.ndarray) + 1e-6 * e[i]) - f(W.view(np.ndarray) - 1e-6 * e[i])) / 2e-6
                     for i in range(2)])
    np.testing.assert_allclose(got, want, rtol=1e-7)
    assert np.any(got != 0)


# ---------------------------------------------------------------------------
# numpy's ufunc protocol on parameters (Param.__array_ufunc__, in the engine): the
# same numbers as on plain arrays, in place or not, and every write counted

_INPLACE = {
    "W -= x": lambda W, x: W.__isub__(x),
    "W += W": lambda W, x: W.__iadd__(W),
    "W *= x": lambda W, x: W.__imul__(x),
    "subtract(x, W, out=W)": lambda W, x: np.subtract(x, W, out=W),
    "add(W, W[::-1], out=W)": lambda W, x: np.add(W, W[::-1], out=W),
    "multiply(W, x, out=(W,))": lambda W, x: np.multiply(W, x, out=(W,)),
    "negative.at(W, [0, 0])": lambda W, x: np.negative.at(W, [0, 0]),
    "add.at(W, [1, 1], x[0])": lambda W, x: np.add.at(W, [1, 1], x[0]),
}


@given(st.sampled_from(sorted(_INPLACE)), st.lists(st.floats(-3, 3), min_size=4, max_size=4))
def test_in_place_ufuncs_on_a_parameter_match_plain_arrays(name, values):
    write = _INPLACE[name]
    start = np.array(values[:2] + values[2:])
    x = np.array(values[::-1])
    P, A = param(start.copy()), start.copy()
    _, back = forward(lambda: np.sum(P * P), Params([P]))
    r = write(P, x)
    write(A, x)
    np.testing.assert_array_equal(plain(P), A)     # the same as on the plain array, bit for bit
    if name.startswith(("W ", "subtract", "add(", "multiply")):
        assert r is P                               # an in-place operator returns the parameter
    with pytest.raises(RuntimeError, match="changed in place"):
        back(1.0)                                   # the write was counted


def test_out_of_place_ufuncs_on_a_parameter_give_plain_arrays(W, rng):
    x = rng.standard_normal((2, 3))
    for r, want in [(W + x, plain(W) + x), (np.exp(W), np.exp(plain(W))), (x @ W.T, x @ plain(W).T),
                    (np.add.reduce(W, axis=1), plain(W).sum(axis=1)),
                    (np.divmod(W, 2.0)[1], np.divmod(plain(W), 2.0)[1])]:
        assert type(r) is np.ndarray
        np.testing.assert_array_equal(r, want)


def test_the_protocol_methods_bind_like_functions(W):
    # numpy calls Param's overrides unbound, with the array first; read from a
    # parameter they bind to it, as methods written in Python do.
    r = W.__array_ufunc__(np.add, "__call__", W, 1.0)
    np.testing.assert_array_equal(r, plain(W) + 1.0)
    assert W.__getattribute__("shape") == (2, 3)
    assert W.__class__ is type(W)
    with pytest.raises(AttributeError):
        getattr(W, "")
    with pytest.raises(AttributeError):
        W.no_such_attribute
    with pytest.raises(AttributeError):
        W._no_such_private_attribute


_MIXED = {   # a parameter W (2, 3) meets a value t (2, 3) tracked by an explicit gradient
    "t + W": lambda W, t: t + W,
    "W * t": lambda W, t: W * t,
    "W @ t.T": lambda W, t: W @ t.T,
    "t.T @ W": lambda W, t: t.T @ W,
    "np.add(W, t)": lambda W, t: np.add(W, t),
    "np.hypot(t, W)": lambda W, t: np.hypot(t, W),
    "np.power(W*W, t)": lambda W, t: np.power(W * W, t),
    "np.subtract(W, t, casting='same_kind')": lambda W, t: np.subtract(W, t, casting="same_kind"),
    "np.add(W, t, dtype=float)": lambda W, t: np.add(W, t, dtype=float),
    "np.maximum.reduce([W, t])": lambda W, t: np.maximum(W, t),
}


@pytest.mark.parametrize("name", sorted(_MIXED))
def test_a_parameter_meeting_a_tracked_value_is_differentiated_in_both(name, rng):
    # The Params gradient in W of a function that also differentiates explicitly
    # in t, and the explicit one in t with W a parameter, both against the same
    # function written with plain arrays, by finite differences.
    op = _MIXED[name]
    W0, t0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    W = param(W0.copy())
    c = rng.standard_normal(op(W0, t0).shape)
    h = lambda w, t: np.sum(op(w, t) * c)
    gW = gradient(lambda: gradient(lambda t: h(W, t), t0)[0].sum() + h(W, t0), Params([W]))[W]
    gt = gradient(lambda t: h(W, t), t0)[0]
    assert gradcheck(lambda w: gradient(lambda t: h(w, t), t0)[0].sum() + h(w, t0), W0, modes="reverse")
    assert gradcheck(lambda t: h(W0, t), t0, modes="reverse")
    want_W = gradient(lambda w: gradient(lambda t: h(w, t), t0)[0].sum() + h(w, t0), W0)[0]
    np.testing.assert_allclose(gW, want_W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gt, gradient(lambda t: h(W0, t), t0)[0], rtol=1e-12, atol=1e-12)
