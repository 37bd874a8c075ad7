"""Tests of the tooling around the suite: the rule-coverage guard and the mutation
sample (both ordered last by conftest), the benchmarks and the examples."""
