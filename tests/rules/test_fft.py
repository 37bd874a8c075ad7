"""numpy.fft rules, checked with finite differences and against closed forms.

Each transform is checked with every normalization, with ``n``/``s`` that crop
and that pad, and on several axes. Outputs are squared before the check so
that the second-order check runs the (linear) pullbacks on tracked cotangents.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _grid import C, R, SHAPES, check, rand, square
from zygcy import forward, gradient, jvp
from zygcy.testing import gradcheck

F = np.fft
NORMS = [None, "ortho", "forward"]


CASES = []


def case(key, name, f, *args):
    CASES.append(pytest.param(key, f, args, id=name))


for norm in NORMS:
    t = "-" + str(norm)
    kw = {"norm": norm}
    case(F.fft, "fft" + t, lambda a, kw=kw: F.fft(a, **kw), C(3, 4))
    case(F.fft, "fft-real-pad" + t, lambda a, kw=kw: F.fft(a, 6, axis=0, **kw), R(3, 4))
    case(F.fft, "fft-crop" + t, lambda a, kw=kw: F.fft(a, n=2, **kw), C(3, 4))
    case(F.ifft, "ifft" + t, lambda a, kw=kw: F.ifft(a, 5, **kw), C(3, 4))
    case(F.rfft, "rfft" + t, lambda a, kw=kw: F.rfft(a, **kw), R(3, 4))
    case(F.rfft, "rfft-pad-odd" + t, lambda a, kw=kw: F.rfft(a, 5, axis=0, **kw), R(3, 4))
    case(F.rfft, "rfft-crop" + t, lambda a, kw=kw: F.rfft(a, 3, **kw), R(3, 6))
    case(F.irfft, "irfft" + t, lambda a, kw=kw: F.irfft(a, **kw), C(3, 4))
    case(F.irfft, "irfft-odd" + t, lambda a, kw=kw: F.irfft(a, 7, **kw), C(3, 4))
    case(F.irfft, "irfft-crop" + t, lambda a, kw=kw: F.irfft(a, 3, axis=0, **kw), C(3, 4))
    case(F.hfft, "hfft" + t, lambda a, kw=kw: F.hfft(a, **kw), C(3, 4))
    case(F.hfft, "hfft-odd" + t, lambda a, kw=kw: F.hfft(a, 5, **kw), C(3, 4))
    case(F.ihfft, "ihfft" + t, lambda a, kw=kw: F.ihfft(a, **kw), R(3, 5))
    case(F.fft2, "fft2" + t, lambda a, kw=kw: F.fft2(a, **kw), C(2, 3, 4))
    case(F.ifft2, "ifft2" + t, lambda a, kw=kw: F.ifft2(a, s=(2, 5), **kw), C(2, 3, 4))
    case(F.fftn, "fftn" + t, lambda a, kw=kw: F.fftn(a, **kw), C(2, 3, 4))
    case(F.ifftn, "ifftn" + t, lambda a, kw=kw: F.ifftn(a, axes=(0, 2), **kw), C(2, 3, 4))
    case(F.rfft2, "rfft2" + t, lambda a, kw=kw: F.rfft2(a, **kw), R(2, 3, 4))
    case(F.rfftn, "rfftn" + t, lambda a, kw=kw: F.rfftn(a, s=(4, 5), axes=(0, 2), **kw), R(2, 3, 4))
    case(F.irfft2, "irfft2" + t, lambda a, kw=kw: F.irfft2(a, **kw), C(2, 3, 4))
    case(F.irfftn, "irfftn" + t, lambda a, kw=kw: F.irfftn(a, s=(4, 5), axes=(0, 2), **kw), C(2, 3, 4))
    case(F.irfftn, "irfftn-default" + t, lambda a, kw=kw: F.irfftn(a, **kw), C(2, 3, 3))
for shp in SHAPES[1:]:
    tag = "x".join(map(str, shp))
    case(F.fft, "fft-" + tag, lambda a: F.fft(a), R(*shp))
    case(F.rfft, "rfft-" + tag, lambda a: F.rfft(a), R(*shp))
    case(F.fftshift, "fftshift-" + tag, lambda a: F.fftshift(a), R(*shp))
    case(F.ifftshift, "ifftshift-" + tag, lambda a: F.ifftshift(a), C(*shp))
case(F.fftshift, "fftshift-axes", lambda a: F.fftshift(a, axes=1), R(3, 5))
case(F.ifftshift, "ifftshift-axes", lambda a: F.ifftshift(a, axes=(0,)), R(3, 5))


def test_forward_mode_leaves_out_alone():
    # the tangent of a transform called with out= is a new array: out holds the value
    x, t = C(3, 4), C(3, 4, seed=1)
    for fun in (F.fft, F.ifft):
        y, dy = jvp(lambda a: fun(a, out=np.empty((3, 4), complex)), (x,), (t,))
        np.testing.assert_allclose(y, fun(x))
        np.testing.assert_allclose(dy, fun(t))


@pytest.mark.parametrize("key, f, args", CASES)
def test_rule(key, f, args):
    check(f, *args)


# -- closed forms

def test_fft_pullback_is_conjugate_transform():
    x, g = C(8), C(8, seed=1)
    _, back = forward(F.fft, x)
    n = len(x)
    dft = np.exp(-2j * np.pi * np.outer(np.arange(n), np.arange(n)) / n)
    np.testing.assert_allclose(back(g)[0], dft.conj().T @ g, atol=1e-12)


def test_parseval():
    # sum |fft(x)|^2 = n sum |x|^2, so the gradient is 2 n x
    x = R(6)
    (g,) = gradient(lambda x: np.sum(np.abs(F.fft(x)) ** 2), x)
    np.testing.assert_allclose(g, 2 * 6 * x, rtol=1e-10)


def test_rfft_irfft_round_trip_is_identity():
    x = R(7)
    (g,) = gradient(lambda x: np.sum(F.irfft(F.rfft(x), 7) * np.arange(7.0)), x)
    np.testing.assert_allclose(g, np.arange(7.0), atol=1e-12)


# -- property test: random lengths, axes and normalizations

@given(st.integers(1, 6), st.integers(1, 7), st.sampled_from(NORMS), st.sampled_from([0, 1]),
       st.sampled_from(["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]))
def test_one_axis_transforms(length, n, norm, axis, name):
    fun = getattr(F, name)
    real_input = name in ("rfft", "ihfft")
    x = rand((3, length) if axis else (length, 2), seed=length + n, complex=not real_input)
    if name in ("irfft", "hfft") and n < 2:
        n = 2
    gradcheck(lambda a: square(fun(a, n, axis=axis, norm=norm)), x, directions=2)
