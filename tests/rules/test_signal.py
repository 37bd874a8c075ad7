"""scipy.signal's convolutions and lfilter on tracked values (zygcy.rules.signal).

Values equal scipy's; derivatives in every input agree with central
differences to second order (reverse and forward mode), in every mode, for
swapped sizes, several dimensions, complex inputs, and filters with initial
conditions.
"""

import numpy as np
import pytest

import zygcy
from zygcy import forward, gradient
from zygcy.testing import gradcheck

from _grid import fresh_python

ss = pytest.importorskip("scipy.signal")

rng = np.random.default_rng(0)
A, B = rng.standard_normal(7), rng.standard_normal(3)
A2, B2 = rng.standard_normal((5, 6)), rng.standard_normal((2, 3))
CASES = []


def case(name, f, *args):
    CASES.append(pytest.param(f, args, id=name))


for mode in ("full", "same", "valid"):
    for method in ("direct", "fft"):
        case("convolve-%s-%s" % (mode, method), lambda x, y, m=mode, me=method: ss.convolve(x, y, m, me), A, B)
    case("convolve-swapped-%s" % mode, lambda x, y, m=mode: ss.convolve(x, y, m), B, A)
    case("convolve-2d-%s" % mode, lambda x, y, m=mode: ss.convolve(x, y, m), A2, B2)
    case("convolve-complex-%s" % mode, lambda x, y, m=mode: ss.convolve(x, y, m), A + 1j * A[::-1], B)
    case("correlate-%s" % mode, lambda x, y, m=mode: ss.correlate(x, y, m), A, B)
    case("correlate-swapped-%s" % mode, lambda x, y, m=mode: ss.correlate(x, y, m), B, A)
    case("correlate-2d-%s" % mode, lambda x, y, m=mode: ss.correlate(x, y, m, "direct"), A2, B2)
    case("correlate-complex-%s" % mode, lambda x, y, m=mode: ss.correlate(x, y, m), A + 1j * A[::-1], B - 2j)
    case("fftconvolve-%s" % mode, lambda x, y, m=mode: ss.fftconvolve(x, y, m), A, B)
    case("fftconvolve-swapped-%s" % mode, lambda x, y, m=mode: ss.fftconvolve(x, y, m), B, A)
    case("fftconvolve-axes-%s" % mode, lambda x, y, m=mode: ss.fftconvolve(x, y, m, axes=-1),
         rng.standard_normal((3, 4, 8)), rng.standard_normal((1, 4, 3)))
    case("fftconvolve-complex-%s" % mode, lambda x, y, m=mode: ss.fftconvolve(x, y, m), A + 1j, B)

FB, FA = np.array([0.5, 0.3, 0.1]), np.array([1.2, -0.4, 0.1])
X = rng.standard_normal(10)
case("lfilter", lambda b, a, x: ss.lfilter(b, a, x), FB, FA, X)
case("lfilter-shorter-a", lambda b, a, x: ss.lfilter(b, a, x), FB, FA[:2], X)
case("lfilter-fir", lambda b, x: ss.lfilter(b, 1.0, x), FB, X)
case("lfilter-axis-0", lambda b, a, x: ss.lfilter(b, a, x, axis=0), FB, FA, rng.standard_normal((6, 3)))
case("lfilter-2d", lambda b, a, x: ss.lfilter(b, a, x), FB, FA, rng.standard_normal((2, 6)))
case("lfilter-complex", lambda b, a, x: ss.lfilter(b, a, x), FB + 0.2j, FA, X - 1j * X[::-1])
case("lfilter-zi", lambda b, a, x, zi: ss.lfilter(b, a, x, zi=zi), FB, FA, X, rng.standard_normal(2))
case("lfilter-zi-shorter-than-the-state", lambda b, a, x, zi: ss.lfilter(b, a, x, zi=zi),
     np.r_[FB, 0.2, 0.1], FA, X[:2], rng.standard_normal(4))
case("lfilter-zi-axis-0", lambda b, a, x, zi: ss.lfilter(b, a, x, axis=0, zi=zi), FB, FA,
     rng.standard_normal((6, 3)), rng.standard_normal((2, 3)))
case("lfilter-list-coefficients", lambda b0, x: ss.lfilter([b0, 0.2], [1.0, -0.5], x), 0.7, X)


def _squared(y):
    return [v * v for v in y] if isinstance(y, tuple) else y * y


@pytest.mark.parametrize("f, args", CASES)
def test_rule(f, args):
    got, _ = forward(f, *args)
    want = f(*args)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    # squared, so that the order-2 check runs every pullback on a tracked cotangent
    gradcheck(lambda *a: _squared(f(*a)), *args, order=2, directions=2)


def test_convolution_gradient_is_a_correlation():
    (ga, gb) = gradient(lambda a, b: np.sum(ss.convolve(a, b) * np.arange(9.0)), A, B)
    np.testing.assert_allclose(ga, np.correlate(np.arange(9.0), B, "valid"), rtol=1e-12)
    np.testing.assert_allclose(gb, np.correlate(np.arange(9.0), A, "valid"), rtol=1e-12)


def test_fitting_a_filter_through_lfilter():
    """A small system identification: the gradient of a least-squares fit of an IIR
    filter's coefficients vanishes at the true ones."""
    b_true, a_true = np.array([0.4, 0.2]), np.array([1.0, -0.6])
    y_true = ss.lfilter(b_true, a_true, X)
    loss = lambda b, a: np.sum((ss.lfilter(b, a, X) - y_true) ** 2)
    gb, ga = gradient(loss, b_true, a_true)
    np.testing.assert_allclose(gb, 0, atol=1e-12)
    np.testing.assert_allclose(ga, 0, atol=1e-12)
    H = zygcy.hessian(lambda b: loss(b, a_true), b_true)
    assert np.all(np.linalg.eigvalsh(H) > 0)


def test_plain_calls_are_scipys_own():
    assert ss.convolve(A, B).tolist() == ss.convolve.fun(A, B).tolist()
    assert ss.lfilter(FB, FA, X).tolist() == ss.lfilter.__wrapped__(FB, FA, X).tolist()


def test_uncovered_function_error_names_it():
    with pytest.raises(TypeError, match=r"scipy\.signal\.\w+ converted a tracked value"):
        gradient(lambda x: np.sum(ss.filtfilt(FB, FA, x)), X)


def test_registered_when_scipy_signal_is_imported_after_zygcy():
    code = ("import zygcy, numpy as np\nfrom scipy.signal import convolve, lfilter\n"
            "g = zygcy.gradient(lambda x: np.sum(convolve(x, [1.0, 2.0])) + np.sum(lfilter([1.0], [1.0, -0.5], x)),"
            " np.ones(3))[0]\nassert np.allclose(g, [3 + 1.75, 3 + 1.5, 3 + 1.0]), g\nprint('ok')")
    out = fresh_python(code)
    assert out.stdout.strip() == "ok", out.stderr
