"""The grid of shapes every array rule is checked on, and seeded data to fill them."""
import numpy as np

SHAPES = [(), (3,), (3, 2)]
BROADCAST_PAIRS = [((3,), (3,)), ((1, 2), (3, 1)), ((3, 2), (2,)), ((), (3, 2)), ((3, 2), ())]


def rand(shape, seed=0, complex=False, positive=False, low=None, high=None):
    """Seeded random data of a shape: normal, or uniform in [low, high], or positive."""
    rng = np.random.default_rng(seed)
    if low is not None:
        x = rng.uniform(low, high, size=shape)
    elif positive:
        x = rng.uniform(0.5, 2.0, size=shape)
    else:
        x = rng.standard_normal(shape)
    if complex:
        x = x + 1j * (rng.uniform(0.5, 2.0, size=shape) if positive else rng.standard_normal(shape))
    return np.asarray(x)
