"""Array workloads: a few large numpy operations (where numpy's own time should
dominate), and a loop of scalar reads of an array (where it must not be quadratic)."""
from .common import (ELEMENTWISE_SIZE, INDEX_SIZES, _GradientSuite, elementwise,
                     elementwise_data, index_data, index_loop)


class Elementwise(_GradientSuite):
    """``sum(tanh(x) * exp(-x**2) + x)`` on a large float64 vector, with peak memory."""
    workload = "elementwise"
    params = [ELEMENTWISE_SIZE]
    param_names = ["size"]
    smoke_params = [10]

    def setup(self, size):
        x = elementwise_data(size)
        self.prepare(lambda: elementwise(x), elementwise, (x,))

    def peakmem_primal(self, size):
        self.primal()

    def peakmem_gradient(self, size):
        self.time_gradient(size)


class ScalarIndexing(_GradientSuite):
    """``sum(x[i]**2 for i in range(n))``: time should grow 10x from n=10^3 to 10^4, not 100x."""
    workload = "index_loop"
    params = INDEX_SIZES
    param_names = ["n"]
    smoke_params = [5]

    def setup(self, n):
        x = index_data(n)
        self.prepare(lambda: index_loop(x), index_loop, (x,))
