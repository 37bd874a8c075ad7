"""zygcy supplies the gradient to ``scipy.optimize.minimize(..., jac=True)``.

With ``jac=True`` scipy expects the objective to return ``(value, gradient)``,
which is what ``zygcy.withgradient`` computes. Two problems:

* the Rosenbrock function in 10 dimensions (minimum 0 at all ones), written
  with plain numpy;
* logistic regression on scikit-learn's bundled breast-cancer data when
  scikit-learn is installed, with the weights and bias in a dict that is
  flattened to scipy's one vector and back.

    pip install scipy                 # or: pip install zygcy[examples]
    python examples/scipy_minimize.py
"""
import numpy as np
from scipy.optimize import minimize, rosen

from zygcy import withgradient


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def value_and_grad(f):
    """The objective scipy wants with jac=True: x -> (f(x), gradient of f at x)."""
    def fg(x):
        val, (g,) = withgradient(f, x)
        return float(val), g
    return fg


def minimize_rosenbrock(n=10):
    x0 = np.full(n, -1.0)
    return minimize(value_and_grad(rosenbrock), x0, jac=True, method="BFGS")


def logistic_regression():
    """Fit a regularised logistic regression; returns (result, training accuracy) or None."""
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        return None
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)

    def unpack(v):
        return {"w": v[:-1], "b": v[-1]}

    def loss(params):
        z = X @ params["w"] + params["b"]
        # log(1 + exp(-s z)) for labels s = +-1, written stably
        s = 2.0 * y - 1.0
        m = -s * z
        nll = np.mean(np.maximum(m, 0.0) + np.log1p(np.exp(-np.abs(m))))
        return nll + 1e-3 * np.sum(params["w"] ** 2)

    def fg(v):
        val, (g,) = withgradient(loss, unpack(v))
        return float(val), np.append(g["w"], g["b"])

    res = minimize(fg, np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B")
    p = unpack(res.x)
    acc = float(np.mean(((X @ p["w"] + p["b"]) > 0) == y))
    return res, acc


if __name__ == "__main__":
    res = minimize_rosenbrock()
    print("Rosenbrock, 10 dimensions: f = %.2e at x = %s after %d gradient evaluations"
          % (res.fun, np.round(res.x, 4), res.njev))
    print("  (scipy's own rosen agrees: %.2e)" % rosen(res.x))
    out = logistic_regression()
    if out is None:
        print("logistic regression skipped: pip install scikit-learn for its bundled data")
    else:
        res, acc = out
        print("logistic regression on breast cancer data: loss %.4f, training accuracy %.3f, "
              "%d iterations" % (res.fun, acc, res.nit))
