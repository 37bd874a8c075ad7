"""Small models: an MLP, a recurrent cell over many steps (many small array
operations), and a ``Params``-style training step. Each beside its gradient
written by hand in plain numpy (``common.*_grad_by_hand``), in time and peak memory."""
from .common import (RNN_STEPS, _ByHandSuite, _GradientSuite, linear_loss, mlp_data, mlp_grad_by_hand,
                     mlp_loss, params_data, params_model, params_step, params_step_by_hand, rnn_data,
                     rnn_grad_by_hand, rnn_loss)


class MLP(_GradientSuite, _ByHandSuite):
    """``tanh(X @ W1 + b1) @ W2 + b2``, mean squared error; gradient for all four parameters."""
    workload = "mlp"
    params = [32]
    param_names = ["batch"]
    smoke_params = [4]

    def setup(self, batch):
        (W1, b1, W2, b2), (X, y) = mlp_data(batch=batch)
        f = lambda W1, b1, W2, b2: mlp_loss(W1, b1, W2, b2, X, y)  # noqa: E731
        self.prepare(lambda: mlp_loss(W1, b1, W2, b2, X, y), f, (W1, b1, W2, b2))
        self.prepare_by_hand(lambda: mlp_grad_by_hand(W1, b1, W2, b2, X, y))


class RNN(_GradientSuite, _ByHandSuite):
    """``h = tanh(W @ h + U @ x_t + b)`` for each step; loss the sum of the last ``h``."""
    workload = "rnn"
    params = [RNN_STEPS]
    param_names = ["steps"]
    smoke_params = [3]

    def setup(self, steps):
        (W, U, b), (h0, xs) = rnn_data(steps=steps)
        f = lambda W, U, b: rnn_loss(W, U, b, h0, xs)  # noqa: E731
        self.prepare(lambda: rnn_loss(W, U, b, h0, xs), f, (W, U, b))
        self.prepare_by_hand(lambda: rnn_grad_by_hand(W, U, b, h0, xs))


class ParamsStep:
    """``gs = gradient(() -> loss, Params([W, b]))`` then an in-place SGD update;
    ``*_step_by_hand``: the same update with the gradient written by hand."""
    workload = "params_step"
    params = [64]
    param_names = ["batch"]
    smoke_params = [4]

    def setup(self, batch):
        (W, b), (self.X, self.y) = params_data(batch=batch)
        self.W, self.b = W.copy(), b.copy()     # the primal's, plain arrays
        self.W_hand, self.b_hand = W.copy(), b.copy()     # the hand-written step's, updated in place
        try:
            # Only time_step needs this; an error here must not hide the primal's timing.
            self.model, self.model_error = params_model(W, b), None
        except Exception as e:
            self.model, self.model_error = None, e

    def time_primal(self, batch):
        linear_loss(self.W, self.b, self.X, self.y)

    def time_step(self, batch):
        if self.model is None:
            raise self.model_error
        W, b, ps = self.model
        params_step(ps, W, b, self.X, self.y)

    def time_step_by_hand(self, batch):
        params_step_by_hand(self.W_hand, self.b_hand, self.X, self.y)

    def peakmem_step(self, batch):
        self.time_step(batch)

    def peakmem_step_by_hand(self, batch):
        self.time_step_by_hand(batch)
