"""Tests of the public API: gradient/forward/derivative, higher order (zygcy.api),
containers and inputs, params, custom (grad, hook, ...), checking, docs, extend."""
