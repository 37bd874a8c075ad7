"""Array workloads: a few large numpy operations (where numpy's own time should
dominate), a loop of scalar reads of an array (where it must not be quadratic), and
many operations on 4-element arrays (where the engine's cost per operation shows).

Each class also times the gradient written by hand in plain numpy
(``common.*_grad_by_hand``, the floor of any numpy-based AD) and the peak memory
of both, so a dashboard shows zygcy's distance from that floor commit by commit."""
from .common import (ELEMENTWISE_SIZE, INDEX_SIZES, SMALL_OPS_STEPS, _ByHandSuite, _GradientSuite,
                     elementwise, elementwise_data, elementwise_grad_by_hand,
                     elementwise_grad_by_hand_inplace, index_data, index_loop, index_loop_grad_by_hand,
                     peak_bytes, small_ops, small_ops_count, small_ops_data, small_ops_grad_by_hand)


class Elementwise(_GradientSuite, _ByHandSuite):
    """``sum(tanh(x) * exp(-x**2) + x)`` on a large float64 vector, with peak memory.

    Beside the hand-written gradient, its in-place variant (``out=`` everywhere,
    three arrays the size of ``x``); ``track_peak_bytes_*`` is tracemalloc's peak
    of one call in bytes (numpy's allocations alone, undiluted by the process)."""
    workload = "elementwise"
    params = [ELEMENTWISE_SIZE]
    param_names = ["size"]
    smoke_params = [10]

    def setup(self, size):
        x = self.x = elementwise_data(size)
        self.prepare(lambda: elementwise(x), elementwise, (x,))
        self.prepare_by_hand(lambda: elementwise_grad_by_hand(x))
        self.by_hand_inplace = lambda: elementwise_grad_by_hand_inplace(x)

    def peakmem_primal(self, size):
        self.primal()

    def time_gradient_by_hand_inplace(self, size):
        self.by_hand_inplace()

    def peakmem_gradient_by_hand_inplace(self, size):
        self.by_hand_inplace()

    def track_peak_bytes_primal(self, size):
        return peak_bytes(self.primal)

    def track_peak_bytes_gradient(self, size):
        return peak_bytes(lambda: self.time_gradient(size))

    def track_peak_bytes_gradient_by_hand(self, size):
        return peak_bytes(self.by_hand)

    def track_peak_bytes_gradient_by_hand_inplace(self, size):
        return peak_bytes(self.by_hand_inplace)

    track_peak_bytes_primal.unit = track_peak_bytes_gradient.unit = "bytes"
    track_peak_bytes_gradient_by_hand.unit = track_peak_bytes_gradient_by_hand_inplace.unit = "bytes"


class ScalarIndexing(_GradientSuite, _ByHandSuite):
    """``sum(x[i]**2 for i in range(n))``: time should grow 10x from n=10^3 to 10^4, not 100x.
    By hand: the same loop for the value, ``2 * x`` for the gradient."""
    workload = "index_loop"
    params = INDEX_SIZES
    param_names = ["n"]
    smoke_params = [5]

    def setup(self, n):
        x = index_data(n)
        self.prepare(lambda: index_loop(x), index_loop, (x,))
        self.prepare_by_hand(lambda: index_loop_grad_by_hand(x))


class SmallArrayOps(_GradientSuite, _ByHandSuite):
    """``x = x + 0.01 * tanh(x)`` for ``steps`` steps on a 4-element array, then ``sum(x)``
    (3 operations a step). The engine's cost per operation, forward and backward, is
    ``(time_gradient - time_primal) / (3 * steps + 1)``; ``track_overhead_per_op``
    reports it in seconds, measured in one process, beside the hand-written gradient's."""
    workload = "small_ops"
    params = [SMALL_OPS_STEPS]
    param_names = ["steps"]
    smoke_params = [3]

    def setup(self, steps):
        x = small_ops_data()
        self.steps = steps
        self.prepare(lambda: small_ops(x, steps), lambda x: small_ops(x, steps), (x,))
        self.prepare_by_hand(lambda: small_ops_grad_by_hand(x, steps))

    def _per_op(self, fn):
        import timeit
        n = max(1, 2000 // (3 * self.steps + 1))
        best = lambda f: min(timeit.repeat(f, number=n, repeat=5)) / n  # noqa: E731
        return (best(fn) - best(self.primal)) / small_ops_count(self.steps)

    def track_overhead_per_op(self, steps):
        return self._per_op(lambda: self.time_gradient(steps))

    def track_overhead_per_op_by_hand(self, steps):
        return self._per_op(self.by_hand)

    track_overhead_per_op.unit = track_overhead_per_op_by_hand.unit = "seconds"
