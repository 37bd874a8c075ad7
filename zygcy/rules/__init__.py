"""Gradient rules, grouped by family; importing this package registers them all.

* ``scalar``  -- Python's math and cmath, and complex parts of numbers
* ``ufuncs``  -- numpy ufuncs (elementwise), their reduce/accumulate/outer/at
* ``reductions`` -- sum, mean, prod, var, std, max/min, cumsum, ...
* ``shape``   -- reshape, transpose, concatenate, stack, split, pad, sort, ...
* ``indexing`` -- x[i] and x[i] = v, take, where, select, ...
* ``linalg``  -- numpy.linalg
* ``fft``     -- numpy.fft
* ``special`` -- scipy.special ufuncs, when scipy is installed
* ``optimize`` -- scipy.optimize's Rosenbrock functions, when scipy is installed
* ``methods`` -- ndarray attributes and methods of tracked arrays
"""
from .. import _core
from . import fft, indexing, linalg, methods, optimize, reductions, scalar, shape, special, ufuncs  # noqa: F401

# What Tracked's methods hand to rule code, named once (see _core.Delegates).
_core.install(_core.Delegates(
    getitem=indexing.getitem, assignment=indexing.assignment, setitem=indexing.setitem,
    ufunc_at=indexing.ufunc_at, densify=indexing.densify, method=methods.method,
    real=scalar.real_part, imag=scalar.imag_part, conj=scalar.conjugate, cabs=scalar.complex_abs,
    log=scalar.log_any))
