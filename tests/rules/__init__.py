"""Tests of the rule families, one module per family of zygcy/rules/ (test_scalar for
rules/scalar.py, that is zygcy.math and zygcy.cmath), and special points across them."""
