"""The handwritten digits shipped inside scikit-learn (1797 8x8 images; no download).

Shared by the training examples. The data file is read straight from the
installed scikit-learn package (importing scikit-learn itself takes longer
than training); if its layout ever changes, scikit-learn's own loader is used.
"""
import gzip
import importlib.util
import os

import numpy as np


def load_digits():
    """``(X, y)``: 1797 images as rows of 64 pixel values in 0..16, and their digits."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("these examples use the digits dataset bundled with scikit-learn: "
                          "pip install scikit-learn (or pip install zygcy[examples])")
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    if os.path.exists(path):
        with gzip.open(path, "rt") as fh:
            data = np.loadtxt(fh, delimiter=",")
        return data[:, :-1], data[:, -1].astype(int)
    from sklearn.datasets import load_digits as sklearn_load_digits
    return sklearn_load_digits(return_X_y=True)


def split(seed=0, train_fraction=0.75):
    """Digits scaled to [0, 1] and shuffled: ``(X_train, y_train, X_test, y_test)``."""
    X, y = load_digits()
    order = np.random.default_rng(seed).permutation(len(y))
    X, y = X[order] / 16.0, y[order]
    n_train = int(train_fraction * len(y))
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]
