"""The examples in examples/ run, train, and agree with each other."""
import os
import sys
import time

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
sys.path.insert(0, EXAMPLES)


def test_training_explicit_reaches_95_percent_in_seconds():
    pytest.importorskip("sklearn")
    import train_digits_explicit
    t0 = time.perf_counter()
    params, losses, acc = train_digits_explicit.train(verbose=False)
    elapsed = time.perf_counter() - t0
    assert acc >= 0.95
    assert losses[-1] < losses[0] / 5
    assert elapsed < 15, "training took %.1f s" % elapsed
    assert set(params) == {"W1", "b1", "W2", "b2"}


def test_training_with_params_follows_the_same_path():
    pytest.importorskip("sklearn")
    import train_digits_explicit
    import train_digits_params
    _, losses_e, acc_e = train_digits_explicit.train(epochs=3, verbose=False)
    model, losses_p, acc_p = train_digits_params.train(epochs=3, verbose=False)
    # the same network, data and steps: implicit and explicit gradients agree
    np.testing.assert_allclose(losses_p, losses_e, rtol=1e-9)
    assert acc_p == acc_e
    assert type(model.W1).__name__ == "Param"


def test_scipy_minimize_rosenbrock():
    pytest.importorskip("scipy")
    import scipy_minimize
    res = scipy_minimize.minimize_rosenbrock()
    assert res.success
    np.testing.assert_allclose(res.x, np.ones(10), atol=1e-4)


def test_scipy_minimize_logistic_regression():
    pytest.importorskip("scipy")
    pytest.importorskip("sklearn")
    import scipy_minimize
    res, acc = scipy_minimize.logistic_regression()
    assert res.success and acc > 0.97


def test_examples_run_as_scripts():
    pytest.importorskip("sklearn")
    import subprocess
    for name in ["train_digits_params.py", "scipy_minimize.py"]:
        out = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "accuracy" in out.stdout
