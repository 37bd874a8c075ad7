"""Gradient rules, grouped by family; importing this package registers them all.

* ``scalar``  -- Python's math and cmath, and complex parts of numbers
* ``ufuncs``  -- numpy ufuncs (elementwise), their outer method; complex parts, clip, sinc
* ``reductions`` -- sum, mean, prod, var, std, max/min, cumsum, trace, quantiles, ...,
  and ufunc.reduce/accumulate
* ``shape``   -- reshape, transpose, concatenate, stack, split, pad, sort, ...; and the
  linear maps pullbacks are built from (gather/scatter, crop/uncrop, expand, ...)
* ``contractions`` -- matmul, dot, inner, outer, tensordot, einsum, kron, cross, vecdot, ...
* ``indexing`` -- x[i] and x[i] = v, take, where, select, ...
* ``linalg``  -- numpy.linalg (its array-API contractions are in ``contractions``)
* ``fft``     -- numpy.fft
* ``numeric`` -- interp, polyval, polyfit, linspace/geomspace/logspace, gradient, unwrap
* ``special`` -- scipy.special, when scipy is installed (registered on import, see zygcy.interop)
* ``optimize`` -- scipy.optimize's Rosenbrock functions, likewise
* ``sparse`` -- scipy.sparse products, solvers and Laplacians, in dense operands and stored
  values, likewise
* ``stats``   -- scipy.stats distributions (logpdf, cdf, ppf, entropy, ... in x and every
  continuous parameter), likewise
* ``scipy_linalg`` -- scipy.linalg (solve, cholesky, lu, expm, sqrtm, logm, Sylvester, ...)
* ``integrate`` -- scipy.integrate's odeint and solve_ivp (adjoint method) and quad
* ``signal``  -- scipy.signal's convolve, correlate, fftconvolve, lfilter
* ``methods`` -- ndarray attributes and methods of tracked arrays

Every family imports ``zygcy.extend`` (the verbs that register rules) and
``_util`` (the helpers they share); a family uses another family's public
names only for shared linear maps (``shape.crop``, ``shape.expand``...).
"""
from .. import _core
from . import _util
from . import (contractions, fft, indexing, linalg, methods, numeric, optimize,  # noqa: F401
               reductions, scalar, shape, sparse, special, ufuncs)
from . import integrate, scipy_linalg, signal, stats  # noqa: F401  (scipy's, registered on import)

# What Tracked's methods hand to rule code, named once (see _core.Delegates).
_core.install(_core.Delegates(
    getitem=indexing.getitem, assignment=indexing.assignment, setitem=indexing.setitem,
    ufunc_at=indexing.ufunc_at, densify=indexing.densify, method=methods.method,
    real=scalar.real_part, imag=scalar.imag_part, conj=scalar.conjugate, cabs=scalar.complex_abs,
    log=scalar.log_any, unbroadcast=_util.unbroadcast))
