"""Build script: declares the Cython engine and holds every compiler directive.

Directives live here and nowhere else (no per-file ``# cython:`` headers).
Set ``ZYGCY_DEBUG=1`` in the environment to build with bounds checks and
wraparound switched back on, for debugging the engine (CI runs the engine and
program tests on such a build too, see .ci/run):

    ZYGCY_DEBUG=1 pip install --no-deps --force-reinstall -e .
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
    Extension("zygcy._core", ["zygcy/_core.pyx"], include_dirs=[numpy.get_include()],
              define_macros=[("ZYGCY_DEBUG_BUILD", "1" if DEBUG else "0")],    # zygcy._core.DEBUG
              # the engine's C loops compute what numpy computes, to the bit (tests/rules/
              # test_kernels.py): no fusing of a * b + c into one rounding (gcc's default
              # where the target has FMA, as with -march=native; MSVC does not fuse)
              extra_compile_args=[] if os.name == "nt" else ["-ffp-contract=off"]),
]

# force: the generated C does not record the directives, so a build that switches
# ZYGCY_DEBUG must regenerate it rather than reuse the other kind's.
setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, force=DEBUG))
