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
import importlib

_FAMILIES = ["scalar", "ufuncs", "reductions", "shape", "indexing", "linalg", "fft", "special", "optimize", "methods"]

for _name in _FAMILIES:
    try:
        importlib.import_module(__name__ + "." + _name)
    except ModuleNotFoundError as e:   # a family not written yet
        if e.name != __name__ + "." + _name:
            raise
