"""Train a small neural network on handwritten digits, with implicit parameters.

The model is a class whose weights are marked with ``zygcy.param``; the loss
reads them from the model, takes no arguments, and ``withgradient(loss,
Params(...))`` returns a ``Grads`` keyed by the weights themselves. A step
updates each weight in place:

    for W, dW in grads.items():
        W -= lr * dW

The same network and data as train_digits_explicit.py (scikit-learn's
bundled digits; no download):

    pip install scikit-learn          # or: pip install zygcy[examples]
    python examples/train_digits_params.py
"""
import time

import numpy as np

from digits_data import split
from zygcy import Params, param, value, withgradient


class MLP:
    """One tanh hidden layer; the weights are parameters."""

    def __init__(self, n_in, n_hidden, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.W1 = param(rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in))
        self.b1 = param(np.zeros(n_hidden))
        self.W2 = param(rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden))
        self.b2 = param(np.zeros(n_out))

    def params(self):
        return Params([self.W1, self.b1, self.W2, self.b2])

    def __call__(self, X):
        h = np.tanh(X @ self.W1 + self.b1)
        return h @ self.W2 + self.b2


def cross_entropy(logits, Y):
    """Mean cross-entropy of softmax(logits) against one-hot labels Y."""
    z = logits - np.max(value(logits), axis=1, keepdims=True)   # for stability only: it cancels
    log_softmax = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * log_softmax) / len(Y)


def accuracy(model, X, y):
    return float(np.mean(np.argmax(model(X), axis=1) == y))


def train(epochs=20, batch=64, lr=0.2, hidden=32, seed=0, verbose=True):
    """Minibatch gradient descent; returns (model, losses per epoch, test accuracy)."""
    Xtr, ytr, Xte, yte = split(seed)
    Ytr = np.eye(10)[ytr]
    model = MLP(Xtr.shape[1], hidden, 10, seed)
    ps = model.params()
    rng = np.random.default_rng(seed)
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(len(ytr))
        total = 0.0
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            Xb, Yb = Xtr[idx], Ytr[idx]
            loss, grads = withgradient(lambda: cross_entropy(model(Xb), Yb), ps)
            for W, dW in grads.items():
                W -= lr * dW
            total += loss * len(idx)
        losses.append(total / len(ytr))
        if verbose and (epoch % 5 == 0 or epoch == epochs - 1):
            print("epoch %2d  loss %.4f  test accuracy %.3f"
                  % (epoch, losses[-1], accuracy(model, Xte, yte)))
    return model, losses, accuracy(model, Xte, yte)


if __name__ == "__main__":
    t0 = time.perf_counter()
    _, losses, acc = train()
    print("final test accuracy %.3f (loss %.3f -> %.3f) in %.1f s"
          % (acc, losses[0], losses[-1], time.perf_counter() - t0))
