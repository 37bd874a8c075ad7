"""scipy.integrate's odeint, solve_ivp and quad on tracked values (zygcy.rules.integrate).

The derivatives are checked against central differences of scipy's own
solutions (in reverse and forward mode, first order: the rules differentiate
once), against closed forms, and against zygcy differentiating a fixed-step
RK4 integrator written in numpy; tolerances are tight so that the solver's
error is below the differences' own.
"""
import functools

import numpy as np
import pytest

import zygcy
from zygcy import Params, forward, gradient, jvp, param
from zygcy.testing import gradcheck

from _grid import fresh_python

si = pytest.importorskip("scipy.integrate")

TOL = dict(rtol=1e-11, atol=1e-12)
T = np.linspace(0.0, 2.0, 5)
Y0 = np.array([1.5, 0.7])


def decay(y, t, k):
    return -k * y


def check(f, *args, **kw):
    kw.setdefault("eps", 1e-5)
    kw.setdefault("rtol", 1e-5)
    kw.setdefault("atol", 1e-7)
    kw.setdefault("directions", 2)
    return gradcheck(f, *args, **kw)


# ---------------------------------------------------------------------------
# odeint

def test_odeint_closed_form():
    """y' = -k y: y(t) = y0 exp(-k (t - t0)); every gradient known exactly."""
    Y, back = forward(lambda y0, k, t: si.odeint(decay, y0, t, args=(k,), **TOL), Y0, 0.8, T)
    np.testing.assert_allclose(Y, np.outer(np.exp(-0.8 * T), Y0), rtol=1e-9)
    gy0, gk, gt = back(np.ones_like(Y))
    np.testing.assert_allclose(gy0, np.sum(np.exp(-0.8 * T)), rtol=1e-8)
    np.testing.assert_allclose(gk, np.sum(-T[:, None] * Y), rtol=1e-8)
    want_t = -0.8 * np.sum(Y, axis=1)
    want_t[0] = 0.8 * np.sum(Y[1:])              # moving t0 moves every later output
    np.testing.assert_allclose(gt, want_t, rtol=1e-8)


def test_odeint_against_finite_differences_in_every_argument():
    check(lambda y0, k, t: si.odeint(decay, y0, t, args=(k,), **TOL), Y0, 0.8, T)


def pendulum(y, t, damping, omega):
    return [y[1], -damping * y[1] - omega ** 2 * np.sin(y[0]) + 0.1 * np.cos(t)]


def test_odeint_nonlinear_with_a_list_valued_function_and_tfirst():
    y0 = np.array([1.0, 0.0])
    check(lambda y0, d, w: si.odeint(pendulum, y0, T, args=(d, w), **TOL), y0, 0.3, 1.7)
    tfirst = lambda t, y, d, w: pendulum(y, t, d, w)
    check(lambda y0, d: si.odeint(tfirst, y0, T, args=(d, 1.7), tfirst=True, **TOL), y0, 0.3)


def test_odeint_parameters_in_the_closure():
    def loss(k, c, y0):
        def f(y, t):                    # k and c reach f through its closure only
            return -k * y + c["forcing"] * np.sin(t)
        return si.odeint(f, y0, T, **TOL)
    check(loss, 0.8, {"forcing": 0.3}, Y0)


def test_odeint_parameters_in_nested_closures_objects_and_partials():
    class Model:
        def __init__(self, k):
            self.k = k

        def rhs(self, y, t):
            return -self.k * y

    def loss(k, w):
        model = Model(k)
        inner = lambda y: w * y                       # a function in f's closure, closing over w
        f = lambda y, t: model.rhs(y, t) + inner(y)
        return [si.odeint(f, Y0, T, **TOL), si.odeint(Model(k).rhs, Y0, T, **TOL),
                si.odeint(functools.partial(decay, k=k), Y0, T, **TOL)]
    check(loss, 0.8, 0.1)


def test_odeint_params_read_as_globals():
    global K_PARAM
    K_PARAM = param(np.array([0.8, 0.3]))
    f = lambda y, t: -K_PARAM * y
    g = gradient(lambda: np.sum(si.odeint(f, Y0, T, **TOL)), Params([K_PARAM]))
    gk, = gradient(lambda k: np.sum(si.odeint(decay, Y0, T, args=(k,), **TOL)), np.array([0.8, 0.3]))
    np.testing.assert_allclose(g[K_PARAM], gk, rtol=1e-8)


_HOLDER = {}


def _helper(y):
    return -_HOLDER["k"] * y


def test_odeint_tracked_value_it_cannot_find_is_refused():
    """A global function reading a tracked value from a global: not followed, so the
    value is not a parameter; the function's tracked result is refused, with the fix."""
    def loss(k):
        _HOLDER["k"] = k
        return np.sum(si.odeint(lambda y, t: _helper(y), Y0, T))
    # nothing tracked found: scipy's own odeint runs, and its conversion names it
    with pytest.raises(TypeError, match=r"scipy\.integrate\.odeint converted .* pass it as an argument"):
        gradient(loss, 0.8)

    def loss2(k, c):
        _HOLDER["k"] = k
        return np.sum(si.odeint(lambda y, t: _helper(y) + c, Y0, T))
    # c found, k not: the function's tracked result is refused
    with pytest.raises(TypeError, match=r"scipy\.integrate\.odeint: .* Pass that value through args="):
        gradient(loss2, 0.8, 0.1)


def rk4(f, y0, t, steps_per_interval=400):
    """A fixed-step RK4 in numpy: zygcy differentiates it by running it."""
    out = [y0]
    y = y0
    for a, b in zip(t[:-1], t[1:]):
        h = (b - a) / steps_per_interval
        s = a
        for _ in range(steps_per_interval):
            k1 = f(y, s)
            k2 = f(y + h / 2 * k1, s + h / 2)
            k3 = f(y + h / 2 * k2, s + h / 2)
            k4 = f(y + h * k3, s + h)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            s = s + h
        out.append(y)
    return np.stack(out)


def test_odeint_adjoint_equals_differentiating_rk4():
    t = np.linspace(0.0, 1.5, 4)

    def dyn(y, t, d, w):
        return np.stack([y[1], -d * y[1] - w ** 2 * np.sin(y[0]) + 0.1 * np.cos(t)])
    y0 = np.array([1.0, 0.0])
    w = np.array([[0.3, -1.0], [0.5, 2.0], [1.0, 0.1], [-0.2, 0.4]])       # weights of the outputs

    g_ode = gradient(lambda y0, d, om: np.sum(w * si.odeint(dyn, y0, t, args=(d, om), **TOL)), y0, 0.3, 1.7)
    g_rk4 = gradient(lambda y0, d, om: np.sum(w * rk4(lambda y, s: dyn(y, s, d, om), y0, t, 100)), y0, 0.3, 1.7)
    for a, b in zip(g_ode, g_rk4):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def test_odeint_accuracy_follows_the_tolerance():
    """The adjoint is as accurate as the solver: its error shrinks with the tolerance."""
    exact = np.sum(-T[:, None] * np.outer(np.exp(-0.8 * T), Y0))
    errors = []
    for tol in (1e-5, 1e-9):
        (g,) = gradient(lambda k: np.sum(si.odeint(decay, Y0, T, args=(k,), rtol=tol, atol=tol)), 0.8)
        errors.append(abs(g - exact))
    assert errors[1] < errors[0] / 100 and errors[1] < 1e-7


def test_odeint_forward_mode():
    _, dy = jvp(lambda k: si.odeint(decay, Y0, T, args=(k,), **TOL), (0.8,), (1.0,))
    np.testing.assert_allclose(dy, -T[:, None] * np.outer(np.exp(-0.8 * T), Y0), rtol=1e-8, atol=1e-12)
    check(lambda y0, k, t: si.odeint(decay, y0, t, args=(k,), **TOL), Y0, 0.8, T, modes="forward")


def test_odeint_full_output_and_plain_calls():
    (Y, info), _ = forward(lambda k: si.odeint(decay, Y0, T, args=(k,), full_output=True, **TOL), 0.8)
    assert "nfe" in info
    plain = si.odeint(decay, Y0, T, args=(0.8,))
    np.testing.assert_array_equal(plain, si.odeint.__wrapped__(decay, Y0, T, args=(0.8,)))


def test_second_derivatives_say_they_are_not_supported():
    with pytest.raises(NotImplementedError, match="second derivative"):
        zygcy.hessian(lambda k: np.sum(si.odeint(decay, Y0, T, args=(k[0],))), np.array([0.8]))


# ---------------------------------------------------------------------------
# solve_ivp

def lotka_volterra(t, y, a, b):
    return np.stack([a * y[0] - b * y[0] * y[1], -y[1] + b * y[0] * y[1]])


T_EVAL = np.linspace(0.2, 2.8, 5)


@pytest.mark.parametrize("method", ["RK45", "DOP853", "LSODA"])
def test_solve_ivp_against_finite_differences(method):
    def f(y0, a, b, te):
        return si.solve_ivp(lotka_volterra, (0.0, 3.0), y0, method=method, t_eval=te, args=(a, b),
                            rtol=1e-10, atol=1e-12).y
    check(f, np.array([1.0, 0.5]), 1.1, 0.4, T_EVAL, rtol=1e-4, atol=1e-6)


def test_solve_ivp_implicit_method_agrees_with_an_explicit_one():
    def loss(method):
        return lambda a: np.sum(si.solve_ivp(lotka_volterra, (0.0, 2.0), np.array([1.0, 0.5]), method=method,
                                             t_eval=[1.0, 2.0], args=(a, 0.4), rtol=1e-9, atol=1e-11).y)
    np.testing.assert_allclose(gradient(loss("Radau"), 1.1), gradient(loss("DOP853"), 1.1), rtol=1e-5)


def test_solve_ivp_end_times_and_closures():
    forcing = lambda t, y, c: -0.5 * y + c * np.sin(t)
    # no t_eval: the outputs are at the solver's steps, the last at t_span[1]
    check(lambda t1, y0, c: si.solve_ivp(lambda t, y: forcing(t, y, c), (0.2, t1), y0, **TOL).y[:, -1],
          2.0, np.array([1.0, 2.0]), 0.3, rtol=1e-4)
    check(lambda t0: si.solve_ivp(forcing, (t0, 2.0), np.array([1.0, 2.0]), args=(0.3,), **TOL).y[:, -1],
          0.3, rtol=1e-4)
    res, _ = forward(lambda t1: si.solve_ivp(forcing, (0.2, t1), np.array([1.0]), args=(0.3,)), 2.0)
    assert res.success and res.t[-1] == 2.0 and res.y.shape[0] == 1


def test_solve_ivp_vectorized_and_forward_mode():
    fun = lambda t, y, k: -k * y                  # works on (n,) and on (n, m) batches
    f = lambda k: si.solve_ivp(fun, (0.0, 1.0), Y0, t_eval=[0.5, 1.0], args=(k,), vectorized=True, **TOL).y
    check(f, 0.8)
    _, dy = jvp(f, (0.8,), (1.0,))
    np.testing.assert_allclose(dy, -np.array([0.5, 1.0]) * np.outer(Y0, np.exp(-0.8 * np.array([0.5, 1.0]))),
                               rtol=1e-8)


def test_solve_ivp_refuses_what_it_cannot_differentiate():
    f = lambda t, y, k: -k * y
    with pytest.raises(NotImplementedError, match="dense_output"):
        gradient(lambda k: np.sum(si.solve_ivp(f, (0, 1), Y0, args=(k,), dense_output=True).y), 0.8)
    with pytest.raises(NotImplementedError, match="events"):
        gradient(lambda k: np.sum(si.solve_ivp(f, (0, 1), Y0, args=(k,), events=lambda t, y, k: y[0]).y), 0.8)


# ---------------------------------------------------------------------------
# quad

def test_quad_in_limits_and_parameters():
    q = lambda a, b, c: si.quad(lambda x, c: np.exp(-c * x * x), a, b, args=(c,), epsabs=1e-13, epsrel=1e-13)[0]
    check(q, 0.1, 1.5, 0.7, rtol=1e-6)
    ga, gb, gc = gradient(q, 0.1, 1.5, 0.7)
    np.testing.assert_allclose([ga, gb], [-np.exp(-0.7 * 0.01), np.exp(-0.7 * 2.25)], rtol=1e-13)


def test_quad_infinite_limits_closed_form():
    q = lambda c, s: si.quad(lambda x: s * np.exp(-c * x * x), -np.inf, np.inf, epsabs=1e-13, epsrel=1e-13)[0]
    gc, gs = gradient(q, 0.7, 2.0)
    np.testing.assert_allclose(gc, -2.0 * 0.5 * np.sqrt(np.pi) * 0.7 ** -1.5, rtol=1e-9)
    np.testing.assert_allclose(gs, np.sqrt(np.pi / 0.7), rtol=1e-9)
    check(q, 0.7, 2.0, rtol=1e-6)


def test_quad_returns_scipys_tuple():
    (y, err), _ = forward(lambda c: si.quad(lambda x: np.sin(c * x), 0, 1), 2.0)
    want = si.quad(lambda x: np.sin(2.0 * x), 0, 1)
    assert y == want[0] and err == want[1]


# ---------------------------------------------------------------------------

def test_registered_when_scipy_integrate_is_imported_after_zygcy():
    code = ("import zygcy, numpy as np\nfrom scipy.integrate import odeint\n"
            "g = zygcy.gradient(lambda k: odeint(lambda y, t: -k * y, [1.0], [0.0, 1.0])[-1, 0], 0.5)[0]\n"
            "assert abs(g + np.exp(-0.5)) < 1e-6, g\nprint('ok')")
    out = fresh_python(code)
    assert out.stdout.strip() == "ok", out.stderr
