"""Whole-program differential tests: the generator (_programs) and its tests."""
