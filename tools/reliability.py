"""Reliability figures of zygcy, as printed in the README's "Reliability" section.

    python tools/reliability.py              # everything (about 3 minutes)
    python tools/reliability.py memory chains threads inputs

* memory:  resident memory over 10^5 gradient calls (scalar and array code,
  with and without a user rule whose pullback is in a reference cycle):
  it must stay flat.
* threads: 8 threads differentiating at once, and 4 threads sharing one back,
  and 2 sharing one Params: how many results were wrong.
* chains:  the longest chains of scalar and of array operations differentiated,
  with time and peak memory.
* inputs:  a table of bad inputs and misuse, and what each gets (every row
  must be a right number or an error that says what to do).

Each figure runs in a subprocess of its own, so that memory figures do not
mix and a crash would show as a row, not end the script.
"""
import subprocess
import sys
import textwrap

PY = sys.executable


def run(src, timeout=900):
    p = subprocess.run([PY, "-c", textwrap.dedent(src)], capture_output=True, text=True, timeout=timeout)
    if p.returncode < 0:
        return "CRASH (signal %d)" % -p.returncode
    out = p.stdout.strip()
    if p.returncode != 0:
        last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "exit %d" % p.returncode
        out = (out + " " if out else "") + last
    return out


MEMORY = r"""
import gc, resource, numpy as np, zygcy
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
@zygcy.grad
def twice(x):
    box = []
    def twice_pullback(g):
        return (2.0 * g + 0.0 * len(box),)
    box.append(twice_pullback)          # a cycle: the pullback holds itself
    return 2.0 * x, twice_pullback
cases = {
    "scalar": (lambda x: zygcy.math.sin(x) * x + x * x, 0.3),
    "array": (lambda x: np.sum(np.tanh(x) * np.exp(-x * x)), np.linspace(-1, 1, 100)),
    "user rule in a cycle": (lambda x: np.sum(twice(x) * x), np.linspace(-1, 1, 100)),
}
N = 100000
for name, (f, x) in cases.items():
    marks = []
    for i in range(N):
        zygcy.gradient(f, x)
        if i % (N // 4) == 0 or i == N - 1:
            gc.collect()
            marks.append(rss())
    print("%-22s RSS MiB at 0, 25k, 50k, 75k, 100k calls: %s" % (name, ", ".join("%.1f" % m for m in marks)))
"""

THREADS = r"""
import sys, threading, numpy as np, zygcy
sys.setswitchinterval(1e-6)
def in_threads(n, work):
    bad = []
    ts = [threading.Thread(target=work, args=(k, bad)) for k in range(n)]
    [t.start() for t in ts]; [t.join() for t in ts]
    return len(bad)
def independent(k, bad):
    x = np.linspace(-1, 1, 50) * (k + 1)
    for _ in range(1000):
        g = zygcy.gradient(lambda x: np.sum(np.sin(x) * x), x)[0]
        if not np.allclose(g, np.cos(x) * x + np.sin(x)): bad.append(1)
print("8 threads, independent gradients: %d of 8000 wrong" % in_threads(8, independent))
x = np.linspace(0.1, 1, 30)
y, back = zygcy.forward(lambda x: np.sum(np.tanh(np.cumsum(x) * x) ** 2), x)
want = back(1.0)[0]
def shared_back(k, bad):
    for _ in range(1000):
        if not np.allclose(back(1.0)[0], want): bad.append(1)
print("4 threads, one shared back: %d of 4000 wrong" % in_threads(4, shared_back))
W = zygcy.param(np.ones(4)); ps = zygcy.Params([W]); X = np.arange(4.0)
def shared_params(k, bad):
    for _ in range(2000):
        try:
            g = zygcy.gradient(lambda: np.sum(np.sin(X * W)), ps)[W]
            if not np.allclose(g, np.cos(X) * X): bad.append(1)
        except Exception:
            bad.append(1)
print("2 threads, one shared Params: %d of 4000 wrong or failed" % in_threads(2, shared_params))
"""

CHAIN = r"""
import resource, sys, time, numpy as np, zygcy
kind, n = sys.argv[1], int(sys.argv[2])
if kind == "scalar":
    def f(x):
        for _ in range(n):
            x = x * 0.999999 + 1e-7
        return x
    x0, want = 1.0, 0.999999 ** n
else:
    def f(x):
        for _ in range(n):
            x = np.sin(x) * 0.5 + x * 0.5
        return np.sum(x)
    x0, want = np.zeros(4), None
t = time.perf_counter()
g, = zygcy.gradient(f, x0)
dt = time.perf_counter() - t
ok = np.allclose(g, want) if want is not None else np.allclose(g, 1.0)
print("%s chain of %d operations: %.2f s, peak RSS %.0f MiB, gradient %s" % (
    kind, n, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "right" if ok else "WRONG"))
"""

INPUTS = {
    "array seed for a scalar output": "y, back = zygcy.forward(lambda x: x * 2.0, 3.0)\nprint(back(np.ones(3)))",
    "dict seed": "y, back = zygcy.forward(lambda x: x * 2.0, 3.0)\nprint(back({'a': 1}))",
    "string seed": "y, back = zygcy.forward(lambda x: x * 2.0, 3.0)\nprint(back('1'))",
    "@grad cotangent of a broadcastable shape":
        "@zygcy.grad\ndef f(x):\n    return x * 2.0, lambda g: (np.ones((3, 3)),)\n"
        "print(zygcy.gradient(lambda x: np.sum(f(x)), np.ones(3)))",
    "hook returning a string": "print(zygcy.gradient(lambda x: zygcy.hook(lambda g: 'g', x) * 2.0, 1.0))",
    "input changed in place before back":
        "x = np.ones(3)\ny, back = zygcy.forward(lambda x: np.sum(x * x), x)\nx[0] = 2.0\nprint(back(1.0))",
    "defvjp on a plain Python function":
        "def f(x):\n    return x * 2\nzygcy.defvjp(f, lambda ans, x: lambda g: g)",
    "defvjp on a number": "zygcy.defvjp(42, lambda ans, x: lambda g: g)",
    "pickle of a tracked value": "import pickle\nprint(zygcy.gradient(lambda x: pickle.loads(pickle.dumps(x)), 1.0))",
    "tracked value into a plain array":
        "def f(x):\n    y = np.zeros(3); y[0] = x[0]\n    return np.sum(y)\nprint(zygcy.gradient(f, np.ones(3)))",
    "math.sin of a tracked value": "import math\nprint(zygcy.gradient(lambda x: math.sin(x), 1.0))",
    "np.matrix input": "print(zygcy.gradient(lambda m: np.sum(m * m), np.matrix([[1., 2.], [3., 4.]])))",
    "masked array input": "print(zygcy.gradient(np.sum, np.ma.array([1., 2., 3.], mask=[0, 1, 0])))",
    "object-dtype array input": "print(zygcy.gradient(lambda x: np.sum(x ** 2), np.array([1.0, 2.0], dtype=object)))",
    "unsigned-int array input": "print(zygcy.gradient(lambda x: np.sum(-x), np.array([1, 2], np.uint8)))",
    "deque input": "import collections\nprint(zygcy.gradient(lambda d: d[0] * d[1], collections.deque([2.0, 3.0])))",
    "array.array input": "import array\nprint(zygcy.gradient(lambda a: a[0] * 3.0, array.array('d', [2.0])))",
    "Fraction input": "import fractions\nprint(zygcy.gradient(lambda x: x * x, fractions.Fraction(3)))",
    "input nested 20000 deep": "x = [1.0]\nfor _ in range(20000): x = [x]\nprint(zygcy.gradient(lambda x: 1.0, x))",
    "Tracked subclass": "class T(zygcy.Tracked): pass",
    "atan2 at (0, 0)": "print(zygcy.gradient(zygcy.math.atan2, 0.0, 0.0))",
    "pow(x, 0.5) at 0": "print(zygcy.derivative(lambda x: zygcy.math.pow(x, 0.5), 0.0))",
    "det of a singular matrix": "print(zygcy.gradient(np.linalg.det, np.array([[1.0, 2.0], [2.0, 4.0]])))",
    "non-scalar output to gradient": "print(zygcy.gradient(lambda x: x * 2.0, np.ones(3)))",
    "complex output to gradient": "print(zygcy.gradient(lambda x: x * 1j, 1.0))",
    "numpy function without a rule": "print(zygcy.gradient(lambda x: np.sum(np.unwrap(x)), np.ones(3)))",
}


def main(which):
    if "memory" in which:
        print("## Memory over 10^5 gradient calls")
        print(run(MEMORY))
    if "threads" in which:
        print("\n## Threads")
        print(run(THREADS))
    if "chains" in which:
        print("\n## Longest chains")
        for kind, n in [("scalar", 10 ** 6), ("scalar", 10 ** 7), ("array", 10 ** 5), ("array", 10 ** 6)]:
            print(run(CHAIN.replace("sys.argv[1], int(sys.argv[2])", "%r, %d" % (kind, n))))
    if "inputs" in which:
        print("\n## Bad inputs and misuse")
        print("| input | what zygcy does |\n|---|---|")
        for name, src in INPUTS.items():
            out = run("import numpy as np, zygcy\n" + src).replace("|", "\\|").replace("\n", " ")
            print("| %s | %s |" % (name, out[:300]))


if __name__ == "__main__":
    main(sys.argv[1:] or ["memory", "threads", "chains", "inputs"])
