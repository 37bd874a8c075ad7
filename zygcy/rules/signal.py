"""Rules for scipy.signal's convolutions and linear filter, when scipy is installed.

scipy.signal converts its inputs with ``np.asarray``, which a tracked value
refuses. When scipy.signal is imported, these are replaced in its namespace
(see ``zygcy.interop``); on plain inputs each is scipy's own function.

* ``convolve`` and ``fftconvolve`` are primitives, linear in each input
  (``zygcy.extend.defbilinear``). Every mode is a window of the full
  convolution, so a cotangent is padded back to the full size and correlated
  with the other input: ``convolve(G_full, flip(conj(in2)), "valid")`` is the
  cotangent of ``in1``. ``fftconvolve`` over some ``axes`` broadcasts over the
  others; its cotangents are summed back over them.
* ``correlate(in1, in2)`` is ``convolve(in1, flip(conj(in2)))``, written so.
* ``lfilter(b, a, x)`` is a primitive: the output of an IIR filter is linear in
  ``x`` and its cotangent is the filter run backwards in time; with
  ``u = flip(lfilter([1], conj(a), flip(g)))`` (the adjoint of the all-pole
  part), ``b`` gets ``u`` correlated with ``x`` and ``a`` gets ``-u`` correlated
  with ``y``. Its forward rules are filters too: ``lfilter(db, a, x)`` and
  ``-lfilter(da, a, y)``. Initial conditions ``zi`` add the filter's free
  response ``lfilter([1], a / a[0], zi padded)`` and give the final state
  ``zf``, both written with numpy on tracked values.

The rules are written with these same primitives, so they are differentiable
again.
"""
import numpy as np

from ..extend import defbilinear, defjvp, defvjp, primitive, value
from ..interop import replace_with_primitive, when_imported, wrap
from ._util import conj, is_complex, real_if_complex, unbroadcast

ss = None       # scipy.signal, once it is imported and its rules are registered
convolve = fftconvolve = lfilter_core = _original_lfilter = None

COVERED = ("convolve", "correlate", "fftconvolve", "lfilter")


# ---------------------------------------------------------------------------
# Convolutions

def _real_for(x, ct):
    ct = unbroadcast(x, ct)
    return ct if is_complex(x) else real_if_complex(ct)


def _full(g, shape_a, shape_b, axes):
    """The cotangent g of a window of the full convolution, padded back to the full
    size (scipy centres 'same' and 'valid' windows: the start is (full - out) // 2)."""
    gs = np.shape(value(g))
    pads = []
    for ax in range(len(gs)):
        if ax in axes:
            full = shape_a[ax] + shape_b[ax] - 1
            start = (full - gs[ax]) // 2
            pads.append((start, full - gs[ax] - start))
        else:
            pads.append((0, 0))
    return np.pad(g, pads) if any(p != (0, 0) for p in pads) else g


def _conv_axes(a, b, axes):
    nd = max(np.ndim(value(a)), np.ndim(value(b)))
    if axes is None:
        return tuple(range(nd))
    axes = (axes,) if np.ndim(axes) == 0 else tuple(axes)
    return tuple(sorted(ax % nd for ax in axes))


def _convolve_cotangent(which):
    def convolve_cotangent(g, in1, in2, mode="full", method="auto"):
        this, other = (in1, in2) if which == 0 else (in2, in1)
        axes = tuple(range(np.ndim(value(g))))
        G = _full(g, np.shape(value(in1)), np.shape(value(in2)), axes)
        return _real_for(this, convolve(G, np.flip(conj(other)), "valid", method))
    convolve_cotangent.__name__ = "convolve_pullback_%d" % which
    return convolve_cotangent


def _fftconvolve_cotangent(which):
    def fftconvolve_cotangent(g, in1, in2, mode="full", axes=None):
        this, other = (in1, in2) if which == 0 else (in2, in1)
        ax = _conv_axes(in1, in2, axes)
        G = _full(g, np.shape(value(in1)), np.shape(value(in2)), ax)
        return _real_for(this, fftconvolve(G, np.flip(conj(other), axis=ax), "valid", axes=ax))
    fftconvolve_cotangent.__name__ = "fftconvolve_pullback_%d" % which
    return fftconvolve_cotangent


def _correlate_tracked(in1, in2, mode="full", method="auto"):
    return convolve(in1, np.flip(conj(in2)), mode, method)


# ---------------------------------------------------------------------------
# lfilter

def _lfilter(b, a, x, axis=-1):
    """scipy.signal.lfilter(b, a, x, axis) without initial conditions: the primitive."""
    return _original_lfilter(b, a, x, axis=axis)


def _lagged(u, v, n, axis):
    """r[k] = sum over everything of u[..., t, ...] * conj(v[..., t - k, ...]) along axis,
    for k < n (t - k >= 0)."""
    u = np.moveaxis(u, axis, -1)
    v = conj(np.moveaxis(v, axis, -1))
    N = np.shape(value(u))[-1]
    return np.stack([np.sum(u[..., k:] * v[..., :N - k]) if k < N else 0.0 * np.sum(u) for k in range(n)])


def _adjoint_all_pole(g, a, axis):
    """The adjoint of x -> lfilter([1], a, x) applied to g: the filter run backwards."""
    return np.flip(lfilter_core(np.ones(1), conj(a), np.flip(g, axis), axis), axis)


def lfilter_b_maker(ans, b, a, x, axis=-1):
    def lfilter_b_pullback(g):
        return _real_for(b, _lagged(_adjoint_all_pole(g, a, axis), x, np.size(value(b)), axis))
    return lfilter_b_pullback


def lfilter_a_maker(ans, b, a, x, axis=-1):
    def lfilter_a_pullback(g):
        return _real_for(a, -_lagged(_adjoint_all_pole(g, a, axis), ans, np.size(value(a)), axis))
    return lfilter_a_pullback


def lfilter_x_maker(ans, b, a, x, axis=-1):
    def lfilter_x_pullback(g):
        return _real_for(x, np.flip(lfilter_core(conj(b), conj(a), np.flip(g, axis), axis), axis))
    return lfilter_x_pullback


def lfilter_b_jvp(t, ans, b, a, x, axis=-1):
    return lfilter_core(t, a, x, axis)


def lfilter_a_jvp(t, ans, b, a, x, axis=-1):
    return -lfilter_core(t, a, ans, axis)


def lfilter_x_jvp(t, ans, b, a, x, axis=-1):
    return lfilter_core(b, a, t, axis)


def _coefficients(c):
    """Filter coefficients as a 1-d array (scipy takes sequences and numbers)."""
    if type(c) in (list, tuple):
        c = np.stack([e for e in c])
    return np.reshape(c, (-1,)) if np.ndim(value(c)) != 1 else c


def _lfilter_tracked(b, a, x, axis=-1, zi=None):
    b, a = _coefficients(b), _coefficients(a)
    if type(x) in (list, tuple):
        x = np.stack(x)
    y = lfilter_core(b, a, x, axis)
    if zi is None:
        return y
    return _with_initial_conditions(b, a, x, y, zi, axis)


def _with_initial_conditions(b, a, x, y, zi, axis):
    """y plus the free response from the state zi, and the final state zf (scipy's
    transposed direct form II, with coefficients normalized by a[0])."""
    nb, na = np.size(value(b)), np.size(value(a))
    K = max(nb, na) - 1
    bn = np.concatenate([b, np.zeros(K + 1 - nb)]) / a[0]
    an = np.concatenate([a, np.zeros(K + 1 - na)]) / a[0]
    xs, ys = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    N = np.shape(value(xs))[-1]
    zs = np.moveaxis(zi, axis, -1)
    if np.shape(value(zs))[-1] != K:
        raise ValueError("scipy.signal.lfilter: zi must have length max(len(a), len(b)) - 1 = %d "
                         "along axis, got shape %s" % (K, np.shape(value(zi))))
    # the free response: y_zi = lfilter([1], an, c) with c the state as a pulse train
    m = min(K, N)
    c = zs[..., :m]
    if N > m:
        c = np.concatenate([c, np.zeros(np.shape(value(zs))[:-1] + (N - m,))], axis=-1)
    free = lfilter_core(np.ones(1), an, c, -1)
    ys = ys + free
    # the final state: zf[i] = sum_j (bn[i+1+j] x[N-1-j] - an[i+1+j] y[N-1-j]) + zi[i+N]
    zf = []
    for i in range(K):
        J = min(N, K - i)
        xr = np.flip(xs[..., N - J:], -1)
        yr = np.flip(ys[..., N - J:], -1)
        term = np.sum(bn[i + 1:i + 1 + J] * xr - an[i + 1:i + 1 + J] * yr, axis=-1)
        if i + N <= K - 1:
            term = term + zs[..., i + N]
        zf.append(term)
    zf = np.stack(zf, axis=-1) if zf else zs
    return np.moveaxis(ys, -1, axis), np.moveaxis(zf, -1, axis)


# ---------------------------------------------------------------------------
# Registration

def _register(module):
    global ss, convolve, fftconvolve, lfilter_core, _original_lfilter
    if ss is not None:
        return
    ss = module
    _original_lfilter = ss.lfilter
    convolve = replace_with_primitive(ss, "convolve")
    defbilinear(convolve, _convolve_cotangent(0), _convolve_cotangent(1))
    fftconvolve = replace_with_primitive(ss, "fftconvolve")
    defbilinear(fftconvolve, _fftconvolve_cotangent(0), _fftconvolve_cotangent(1))
    wrap(ss, "correlate", _correlate_tracked)
    wrap(ss, "lfilter", _lfilter_tracked)
    lfilter_core = primitive(_lfilter)
    defvjp(lfilter_core, lfilter_b_maker, lfilter_a_maker, lfilter_x_maker)
    defjvp(lfilter_core, lfilter_b_jvp, lfilter_a_jvp, lfilter_x_jvp)


when_imported("scipy.signal", _register)
