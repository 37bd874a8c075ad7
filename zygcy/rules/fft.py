"""Rules for numpy.fft.

Every transform is linear, so its pullback is its adjoint: for the complex
transforms the adjoint of ``fft`` with one normalization is ``ifft`` with the
opposite one (``"backward"`` and ``"forward"`` swap, ``"ortho"`` stays), and
the other way round. Arguments ``n`` and ``s`` crop or zero-pad the input
first; the pullback pads or crops back (``_resize_axis``).

The real transforms are real-linear maps between real and complex arrays:

* ``rfft`` keeps half of the spectrum of a real signal, so its adjoint
  zero-pads the cotangent to the full length, transforms it back and takes
  the real part;
* ``irfft`` reads a half spectrum as a Hermitian one: each coefficient but the
  first (and the last for an even length) stands for two, so its adjoint is
  ``rfft`` of the cotangent with those counted twice;
* ``hfft`` and ``ihfft`` are ``irfft`` and ``rfft`` with a conjugate.

``fftshift`` and ``ifftshift`` are each other's pullbacks.
"""
import numpy as np

from ..extend import defvjp
from .shape import _axis, _conj, _is_complex, _resize_axis, _shape

_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _dual(norm):
    """The normalization whose inverse transform is the adjoint of this one's."""
    return _DUAL["backward" if norm is None else norm]


def _resize(x, axes, lengths):
    for ax, n in zip(axes, lengths):
        x = _resize_axis(x, ax, n)
    return x


def _real(x):
    return np.real(x)


def _cook(shape, s, axes, irfft=False):
    """The axes transformed and their lengths, as numpy.fft decides them."""
    nd = len(shape)
    if axes is None:
        axes = range(nd) if s is None else range(nd - len(s), nd)
    axes = [_axis(int(a), nd) for a in axes]
    if s is None:
        s = [shape[a] for a in axes]
        if irfft:
            s[-1] = 2 * (shape[axes[-1]] - 1)
    return axes, [int(n) for n in s]


def _hermitian_weights(n, axis, ndim):
    """1 for the coefficients that stand for themselves, 2 for those that stand for a pair."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return np.reshape(w, (-1,) + (1,) * (ndim - axis - 1))


# ---------------------------------------------------------------------------
# The adjoints, one axis or several

def _c2c_back(inverse, g, axes, norm, lengths):
    """Adjoint of a complex transform over axes: the other transform, dual norm, resized back."""
    return _resize(inverse(g, axes=axes, norm=_dual(norm)), axes, lengths)


def _rfft_back(g, axes, s, norm, lengths):
    """Adjoint of rfftn: pad the half spectrum to full length, inverse transform, real part."""
    g = _resize_axis(g, axes[-1], s[-1])
    return _resize(_real(np.fft.ifftn(g, axes=axes, norm=_dual(norm))), axes, lengths)


def _irfft_back(g, axes, s, norm, lengths):
    """Adjoint of irfftn: rfft of the cotangent, pairs counted twice, then the other axes."""
    last = axes[-1]
    g = np.real(g) if _is_complex(g) else g     # the output is real
    c = np.fft.rfft(g, axis=last, norm=_dual(norm)) * _hermitian_weights(s[-1], last, len(_shape(g)))
    if len(axes) > 1:
        c = np.fft.fftn(c, axes=axes[:-1], norm=_dual(norm))
    return _resize(c, axes, lengths)


# ---------------------------------------------------------------------------
# One axis: fft, ifft, rfft, irfft, hfft, ihfft

def _one_axis(shape, n, axis, irfft=False):
    axes, s = _cook(shape, None if n is None else [n], [axis], irfft)
    return axes, s, [shape[a] for a in axes]


def _c2c_maker(inverse):
    def maker(ans, a, n=None, axis=-1, norm=None, out=None):
        axes, s, lengths = _one_axis(_shape(a), n, axis)
        return lambda g: _c2c_back(inverse, g, axes, norm, lengths)
    return maker


def rfft_pullback_maker(ans, a, n=None, axis=-1, norm=None, out=None):
    axes, s, lengths = _one_axis(_shape(a), n, axis)
    return lambda g: _rfft_back(g, axes, s, norm, lengths)


def irfft_pullback_maker(ans, a, n=None, axis=-1, norm=None, out=None):
    axes, s, lengths = _one_axis(_shape(a), n, axis, irfft=True)
    return lambda g: _irfft_back(g, axes, s, norm, lengths)


def hfft_pullback_maker(ans, a, n=None, axis=-1, norm=None, out=None):
    # hfft(a) = irfft(conj(a)) with the dual normalization
    axes, s, lengths = _one_axis(_shape(a), n, axis, irfft=True)
    return lambda g: _conj(_irfft_back(g, axes, s, _dual(norm), lengths))


def ihfft_pullback_maker(ans, a, n=None, axis=-1, norm=None, out=None):
    # ihfft(a) = conj(rfft(a)) with the dual normalization
    axes, s, lengths = _one_axis(_shape(a), n, axis)
    return lambda g: _rfft_back(_conj(g), axes, s, _dual(norm), lengths)


defvjp(np.fft.fft, _c2c_maker(np.fft.ifftn))
defvjp(np.fft.ifft, _c2c_maker(np.fft.fftn))
defvjp(np.fft.rfft, rfft_pullback_maker)
defvjp(np.fft.irfft, irfft_pullback_maker)
defvjp(np.fft.hfft, hfft_pullback_maker)
defvjp(np.fft.ihfft, ihfft_pullback_maker)


# ---------------------------------------------------------------------------
# Several axes: fft2, ifft2, fftn, ifftn, rfft2, irfft2, rfftn, irfftn

def _nd(shape, s, axes, irfft=False):
    axes, s = _cook(shape, s, axes, irfft)
    return axes, s, [shape[a] for a in axes]


def _c2c_nd_maker(inverse, default_axes):
    def maker(ans, a, s=None, axes=default_axes, norm=None, out=None):
        axes, s, lengths = _nd(_shape(a), s, axes)
        return lambda g: _c2c_back(inverse, g, axes, norm, lengths)
    return maker


def _rfft_nd_maker(default_axes):
    def maker(ans, a, s=None, axes=default_axes, norm=None, out=None):
        axes, s, lengths = _nd(_shape(a), s, axes)
        return lambda g: _rfft_back(g, axes, s, norm, lengths)
    return maker


def _irfft_nd_maker(default_axes):
    def maker(ans, a, s=None, axes=default_axes, norm=None, out=None):
        axes, s, lengths = _nd(_shape(a), s, axes, irfft=True)
        return lambda g: _irfft_back(g, axes, s, norm, lengths)
    return maker


defvjp(np.fft.fft2, _c2c_nd_maker(np.fft.ifftn, (-2, -1)))
defvjp(np.fft.ifft2, _c2c_nd_maker(np.fft.fftn, (-2, -1)))
defvjp(np.fft.fftn, _c2c_nd_maker(np.fft.ifftn, None))
defvjp(np.fft.ifftn, _c2c_nd_maker(np.fft.fftn, None))
defvjp(np.fft.rfft2, _rfft_nd_maker((-2, -1)))
defvjp(np.fft.irfft2, _irfft_nd_maker((-2, -1)))
defvjp(np.fft.rfftn, _rfft_nd_maker(None))
defvjp(np.fft.irfftn, _irfft_nd_maker(None))


# ---------------------------------------------------------------------------
# Shifts: permutations, each the other's inverse

defvjp(np.fft.fftshift, lambda ans, x, axes=None: lambda g: np.fft.ifftshift(g, axes))
defvjp(np.fft.ifftshift, lambda ans, x, axes=None: lambda g: np.fft.fftshift(g, axes))
