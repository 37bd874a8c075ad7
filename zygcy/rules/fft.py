"""Rules for numpy.fft.

Every transform is linear (registered with ``deflinear``), so its pullback is
its adjoint: for the complex
transforms the adjoint of ``fft`` with one normalization is ``ifft`` with the
opposite one (``"backward"`` and ``"forward"`` swap, ``"ortho"`` stays), and
the other way round. Arguments ``n`` and ``s`` crop or zero-pad the input
first; the pullback pads or crops back (``resize_axis``, a linear map of
``shape``).

The real transforms are real-linear maps between real and complex arrays:

* ``rfft`` keeps half of the spectrum of a real signal, so its adjoint
  zero-pads the cotangent to the full length, transforms it back and takes
  the real part;
* ``irfft`` reads a half spectrum as a Hermitian one: each coefficient but the
  first (and the last for an even length) stands for two, so its adjoint is
  ``rfft`` of the cotangent with those counted twice;
* ``hfft`` and ``ihfft`` are ``irfft`` and ``rfft`` with a conjugate.

``fftshift`` and ``ifftshift`` are each other's pullbacks.

The forward rule of a transform is the same transform of the tangent, with the
same ``n``/``s``, axes and normalization (``deflinear`` makes it, leaving a
caller's ``out=`` array alone).
"""
import numpy as np

from ..extend import deflinear
from ._util import axis_of, conj, real_if_complex, shape_of
from .shape import resize_axis

_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _dual(norm):
    """The normalization whose inverse transform is the adjoint of this one's."""
    return _DUAL["backward" if norm is None else norm]


def _resize(x, axes, lengths):
    for ax, n in zip(axes, lengths):
        x = resize_axis(x, ax, n)
    return x


def _cook(shape, s, axes, irfft=False):
    """The axes transformed and their lengths, as numpy.fft decides them."""
    nd = len(shape)
    if axes is None:
        axes = range(nd) if s is None else range(nd - len(s), nd)
    axes = [axis_of(int(a), nd) for a in axes]
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
    g = resize_axis(g, axes[-1], s[-1])
    return _resize(np.real(np.fft.ifftn(g, axes=axes, norm=_dual(norm))), axes, lengths)


def _irfft_back(g, axes, s, norm, lengths):
    """Adjoint of irfftn: rfft of the cotangent, pairs counted twice, then the other axes."""
    last = axes[-1]
    g = real_if_complex(g)      # the output is real
    c = np.fft.rfft(g, axis=last, norm=_dual(norm)) * _hermitian_weights(s[-1], last, len(shape_of(g)))
    if len(axes) > 1:
        c = np.fft.fftn(c, axes=axes[:-1], norm=_dual(norm))
    return _resize(c, axes, lengths)


# ---------------------------------------------------------------------------
# One axis: fft, ifft, rfft, irfft, hfft, ihfft

def _one_axis(shape, n, axis, irfft=False):
    axes, s = _cook(shape, None if n is None else [n], [axis], irfft)
    return axes, s, [shape[a] for a in axes]


def _fft_adjoint(g, a, n=None, axis=-1, norm=None, out=None):
    axes, s, lengths = _one_axis(shape_of(a), n, axis)
    return _c2c_back(np.fft.ifftn, g, axes, norm, lengths)


def _ifft_adjoint(g, a, n=None, axis=-1, norm=None, out=None):
    axes, s, lengths = _one_axis(shape_of(a), n, axis)
    return _c2c_back(np.fft.fftn, g, axes, norm, lengths)


def _rfft_adjoint(g, a, n=None, axis=-1, norm=None, out=None):
    axes, s, lengths = _one_axis(shape_of(a), n, axis)
    return _rfft_back(g, axes, s, norm, lengths)


def _irfft_adjoint(g, a, n=None, axis=-1, norm=None, out=None):
    axes, s, lengths = _one_axis(shape_of(a), n, axis, irfft=True)
    return _irfft_back(g, axes, s, norm, lengths)


def _hfft_adjoint(g, a, n=None, axis=-1, norm=None, out=None):
    # hfft(a) = irfft(conj(a)) with the dual normalization
    axes, s, lengths = _one_axis(shape_of(a), n, axis, irfft=True)
    return conj(_irfft_back(g, axes, s, _dual(norm), lengths))


def _ihfft_adjoint(g, a, n=None, axis=-1, norm=None, out=None):
    # ihfft(a) = conj(rfft(a)) with the dual normalization
    axes, s, lengths = _one_axis(shape_of(a), n, axis)
    return _rfft_back(conj(g), axes, s, _dual(norm), lengths)


deflinear(np.fft.fft, _fft_adjoint)
deflinear(np.fft.ifft, _ifft_adjoint)
deflinear(np.fft.rfft, _rfft_adjoint)
deflinear(np.fft.irfft, _irfft_adjoint)
deflinear(np.fft.hfft, _hfft_adjoint)
deflinear(np.fft.ihfft, _ihfft_adjoint)


# ---------------------------------------------------------------------------
# Several axes: fft2, ifft2, fftn, ifftn, rfft2, irfft2, rfftn, irfftn
# (the 2-d ones are the n-d ones with axes=(-2, -1) by default)

def _nd(shape, s, axes, irfft=False):
    axes, s = _cook(shape, s, axes, irfft)
    return axes, s, [shape[a] for a in axes]


def _fftn_adjoint(g, a, s=None, axes=None, norm=None, out=None):
    axes, s, lengths = _nd(shape_of(a), s, axes)
    return _c2c_back(np.fft.ifftn, g, axes, norm, lengths)


def _ifftn_adjoint(g, a, s=None, axes=None, norm=None, out=None):
    axes, s, lengths = _nd(shape_of(a), s, axes)
    return _c2c_back(np.fft.fftn, g, axes, norm, lengths)


def _rfftn_adjoint(g, a, s=None, axes=None, norm=None, out=None):
    axes, s, lengths = _nd(shape_of(a), s, axes)
    return _rfft_back(g, axes, s, norm, lengths)


def _irfftn_adjoint(g, a, s=None, axes=None, norm=None, out=None):
    axes, s, lengths = _nd(shape_of(a), s, axes, irfft=True)
    return _irfft_back(g, axes, s, norm, lengths)


def _fft2_adjoint(g, a, s=None, axes=(-2, -1), norm=None, out=None):
    return _fftn_adjoint(g, a, s, axes, norm)


def _ifft2_adjoint(g, a, s=None, axes=(-2, -1), norm=None, out=None):
    return _ifftn_adjoint(g, a, s, axes, norm)


def _rfft2_adjoint(g, a, s=None, axes=(-2, -1), norm=None, out=None):
    return _rfftn_adjoint(g, a, s, axes, norm)


def _irfft2_adjoint(g, a, s=None, axes=(-2, -1), norm=None, out=None):
    return _irfftn_adjoint(g, a, s, axes, norm)


deflinear(np.fft.fft2, _fft2_adjoint)
deflinear(np.fft.ifft2, _ifft2_adjoint)
deflinear(np.fft.fftn, _fftn_adjoint)
deflinear(np.fft.ifftn, _ifftn_adjoint)
deflinear(np.fft.rfft2, _rfft2_adjoint)
deflinear(np.fft.irfft2, _irfft2_adjoint)
deflinear(np.fft.rfftn, _rfftn_adjoint)
deflinear(np.fft.irfftn, _irfftn_adjoint)


# ---------------------------------------------------------------------------
# Shifts: permutations, each the other's inverse

def _fftshift_adjoint(g, x, axes=None):
    return np.fft.ifftshift(g, axes)


def _ifftshift_adjoint(g, x, axes=None):
    return np.fft.fftshift(g, axes)


deflinear(np.fft.fftshift, _fftshift_adjoint)
deflinear(np.fft.ifftshift, _ifftshift_adjoint)
