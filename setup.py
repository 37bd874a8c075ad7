"""Build script: declares the Cython engine and holds every compiler directive.

Directives live here and nowhere else (no per-file ``# cython:`` headers).
Set ``ZYGCY_DEBUG=1`` in the environment to build with bounds checks and
wraparound switched back on, for debugging the engine.
"""
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("ZYGCY_DEBUG", "") not in ("", "0")

DIRECTIVES = {
    "language_level": 3,
    "binding": False,          # plain C functions: cheaper calls on the hot path
    "embedsignature": True,    # signatures show up in help() and docs
    "boundscheck": DEBUG,      # indexes into the tape are computed, never user-supplied
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": False,        # keep Python's ZeroDivisionError semantics
    "infer_types": True,
    "auto_pickle": False,      # engine objects are never pickled by their fields (see Tracked.__reduce_ex__)
}

extensions = [
    Extension("zygcy._core", ["zygcy/_core.pyx"], include_dirs=[numpy.get_include()]),
]

setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES))
