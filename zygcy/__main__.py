"""``python -m zygcy``: the examples of the README, run live, each with its result.

Nothing is caught: an example that fails ends the run with its traceback and
a non-zero exit status (CI runs this module). The one example that shows an
error checks that it is the error it shows.
"""
import sys


def _show(src, env):
    """Print a line of code and what it evaluates to."""
    result = eval(src, env)
    print(">>> %s\n%r" % (src, result))
    return result


def _run(src, env):
    print(">>> " + src.replace("\n", "\n... "))
    exec(src, env)


def _show_error(src, env, kind):
    """Print a line of code and the error of type ``kind`` it raises; an example that
    does not raise it is a failure."""
    try:
        eval(src, env)
    except kind as e:
        print(">>> %s\n%s: %s" % (src, kind.__name__, e))
        return
    raise AssertionError("python -m zygcy: %s should have raised %s" % (src, kind.__name__))


def main():
    import numpy as np

    import zygcy
    from zygcy import D, derivative, forward, grad, gradient, withgradient

    env = {"zygcy": zygcy, "np": np, "forward": forward, "gradient": gradient, "derivative": derivative,
           "withgradient": withgradient, "D": D, "grad": grad}
    print("zygcy %s: automatic differentiation of plain Python, NumPy and SciPy\n" % zygcy.__version__)

    print("# Scalars: ints stay ints where the math allows")
    _run("f = lambda x: 5 * x + 3", env)
    _show("f(10), derivative(f, 10)", env)
    _show("derivative(lambda x: 3 * x**2 + 2 * x + 1, 5)", env)
    _show("D(f)(10)", env)
    _show("D(D(zygcy.math.sin))(1.0)", env)

    print("\n# Ordinary control flow: a dict of functions chosen at run time")
    _run('fs = {"sin": zygcy.math.sin, "cos": zygcy.math.cos, "tan": zygcy.math.tan}', env)
    if sys.stdin is not None and sys.stdin.isatty():
        key = input("which function (sin, cos, tan)? ").strip() or "sin"
    else:
        key = "sin"
        print("(no terminal: choosing %r)" % key)
    env["key"] = key if key in ("sin", "cos", "tan") else "sin"
    _show("gradient(lambda x: fs[key](x), 1)", env)

    print("\n# forward / pullback: the value and a reusable backward function")
    _run("y, back = forward(lambda a, b: a * b, 2.0, 3.0)", env)
    _show("y", env)
    _show("back(4.0)", env)

    print("\n# Custom rules in one line")
    _run("@grad\ndef add(a, b):\n    return a + b, lambda d: (d, d)", env)
    _show("add(1, 2)", env)
    _show("gradient(lambda x: add(x, x), 1.0)", env)

    print("\n# Nesting without perturbation confusion")
    _show("D(lambda x: x * D(lambda y: x * y)(1))(4)", env)

    print("\n# Forward mode and second derivatives")
    env.update(jvp=zygcy.jvp, hessian=zygcy.hessian, hvp=zygcy.hvp)
    _show("jvp(lambda x, y: x * y + zygcy.math.sin(x), (0.0, 3.0), (1.0, 0.0))", env)
    _show("hessian(lambda x: x[0] ** 2 * x[1], np.array([1.0, 3.0]))", env)
    _show("hvp(lambda x: np.sum(x ** 3), np.array([1.0, 2.0]), np.array([1.0, 0.0]))", env)

    print("\n# Complex numbers, Zygote's convention")
    _show("gradient(lambda z: abs(z)**2, 1 + 2j)", env)

    print("\n# Unmodified NumPy code")
    _run("W, b = np.arange(6.0).reshape(2, 3) / 10, np.array([0.1, -0.2])", env)
    _show("gradient(lambda W, b: np.sum(np.tanh(W @ np.array([1., 2., 3.]) + b)), W, b)", env)
    _run("y, back = forward(lambda x: x * 3, np.array([1, 1, 1]))", env)
    _show("back(np.array([1, 2, 3]))", env)

    print("\n# No silent zero derivatives")
    _run("import math", env)
    _show_error("gradient(lambda x: math.sin(x), 1.0)", env, TypeError)

    print("\nMore: examples/train_digits_explicit.py, examples/train_digits_params.py and "
          "examples/scipy_minimize.py\n(pip install -e '.[examples]' first); the API is in "
          "help(zygcy.api).")


if __name__ == "__main__":
    main()
