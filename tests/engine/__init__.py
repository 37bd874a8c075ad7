"""Tests of the engine (zygcy/_core.pyx and its .pxi parts): tracked values, the tape,
operators, in-place writes, the sweep, and its reliability under misuse."""
