"""Learning the conductivities of a resistor grid by gradient descent through spsolve.

An m x m grid of nodes is joined by resistors with unknown conductivities (the
edge weights of a graph). Currents are injected at a few nodes, the boundary is
grounded, and the potential is measured at every node. The potentials solve
``L(w) v = b``, where ``L(w)`` is the graph's weighted Laplacian
(``scipy.sparse.csgraph.laplacian``) plus the grounding. We recover ``w`` from
the measurements by gradient descent on the misfit, with the gradient through
``scipy.sparse.linalg.spsolve`` computed by zygcy: one factorisation of L serves
the solve and its adjoint solve, and the gradient with respect to the edge
weights is a vector of their number, never an n x n matrix.

    pip install scipy
    python examples/sparse_edge_weights.py
"""
import numpy as np

from zygcy import withgradient      # first: names imported from scipy after it are zygcy's

import scipy.sparse as sparse  # noqa: E402
from scipy.sparse.csgraph import laplacian  # noqa: E402
from scipy.sparse.linalg import spsolve  # noqa: E402


def grid(m):
    """The edges (i, j) of an m x m grid and the mask of its boundary nodes."""
    idx = np.arange(m * m).reshape(m, m)
    i = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    j = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    boundary = np.zeros((m, m))
    boundary[0, :] = boundary[-1, :] = boundary[:, 0] = boundary[:, -1] = 1.0
    return i, j, boundary.ravel()


def potentials(w, i, j, ground, currents):
    """The node potentials for edge conductivities w: spsolve(L(w) + ground, currents)."""
    n = len(ground)
    graph = sparse.coo_array((np.concatenate([w, w]), (np.concatenate([i, j]), np.concatenate([j, i]))),
                             shape=(n, n))
    return spsolve(laplacian(graph) + sparse.diags_array(ground), currents)


def problem(m=12, sources=16, seed=0):
    """A hidden conductivity field (a poorly conducting disc in a uniform grid) and the
    potentials it gives for currents injected at a few nodes, one node per column."""
    rng = np.random.default_rng(seed)
    i, j, ground = grid(m)
    xy = np.stack(np.divmod((i + j) / 2, m), axis=-1) / m      # the edges' midpoints
    true_w = np.where(np.hypot(*(xy - 0.55).T) < 0.2, 0.3, 1.0)
    currents = np.zeros((m * m, sources))
    currents[rng.choice(m * m, sources, replace=False), np.arange(sources)] = 1.0
    measured = potentials(true_w, i, j, ground, currents)
    return (i, j, ground, currents), true_w, measured


def fit(steps=200, rate=0.1, m=12, verbose=True):
    """Gradient descent (Adam's steps) on the log-conductivities, so that they stay
    positive, from a uniform grid. Returns the misfits and the relative error of the
    recovered conductivities."""
    setup, true_w, measured = problem(m)
    scale = np.mean(measured ** 2)

    def misfit(theta):
        return np.mean((potentials(np.exp(theta), *setup) - measured) ** 2) / scale

    theta = np.zeros(len(true_w))
    mean, square, losses = np.zeros_like(theta), np.zeros_like(theta), []
    for t in range(1, steps + 1):
        value, (g,) = withgradient(misfit, theta)   # one factorisation: solve and adjoint
        losses.append(float(value))
        mean = 0.9 * mean + 0.1 * g
        square = 0.999 * square + 0.001 * g * g
        theta = theta - rate * (mean / (1 - 0.9 ** t)) / (np.sqrt(square / (1 - 0.999 ** t)) + 1e-12)
        if verbose and t % 50 == 1:
            print("step %3d  misfit %.3e" % (t, value))
    error = np.linalg.norm(np.exp(theta) - true_w) / np.linalg.norm(true_w)
    if verbose:
        print("misfit %.2e -> %.2e; the %d conductivities are within %.1f%% of the truth"
              % (losses[0], losses[-1], len(true_w), 100 * error))
    return losses, error


if __name__ == "__main__":
    fit()
