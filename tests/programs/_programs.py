"""Random whole programs for differential testing of zygcy (issue 8).

A *program* is a Python function ``f(*args)`` written with numpy, ``zygcy.math``
(``zm``) and ``zygcy.cmath`` (``zc``), together with the seeded arguments it is
called on. ``programs()`` is a hypothesis strategy that builds one;
``check_program`` differentiates it with zygcy and compares with central finite
differences (Richardson-extrapolated), with the complex step where the program
is real-analytic, and, on request, checks the VJP of the VJP the same way.

Design of the generator
-----------------------
* **Descriptors rendered as source.** A program is kept as its argument
  expressions, a list of source lines (the function body) and a return
  expression. ``Program.source()`` renders it as a self-contained script
  (imports, ``def f``, ``args = ...``) and ``Program.build()`` executes exactly
  that text, so what is tested is what is printed: ``repr(program)`` is the
  source, and any failure message contains it, ready to paste as a regression
  test. Everything is drawn from the choices and one integer data seed, so a
  program is deterministic and (with hypothesis) shrinks like any value.

* **Shapes and domains are tracked by running the program.** The builder keeps
  a namespace in which the body so far has been executed on plain numpy values
  (fresh copies of the arguments). An *op maker* looks at the concrete values
  of the pool of variables to choose operands that fit (shapes that broadcast,
  a matmul partner whose inner size matches, a square matrix for linalg...),
  and renders one or a few lines. The candidate lines are then executed with
  warnings turned into errors; they are kept only if they ran, every pool value
  is finite and bounded (``BOUND``) and the result is not empty. Otherwise the
  namespace is rebuilt from the accepted lines (a candidate may have mutated an
  array in place) and another op is drawn. So every kept op is valid by
  construction, whatever the shapes happen to be.

* **Safe domains.** Functions with restricted domains are written on shifted
  arguments (``np.log(x * x + 1)``, ``np.arcsin(0.9 * np.tanh(x))``, division
  by ``y * y + 1``). Functions with kinks, ties or branch cuts (abs, max,
  maximum, sort, median, clip, where on a comparison, ``if v > 0``, angle,
  atan2, fmod...) are only emitted when the concrete operands are at least
  ``MARGIN`` away from the kink (a *guard* on the values), so the program is
  smooth in a neighbourhood far larger than the finite-difference steps.
  Linear algebra is guarded by condition numbers and eigen/singular-value
  gaps; cholesky and eigh get ``M M^H + 2 I`` and ``M + M^H`` built in the
  program. The data are generic normal samples, so exact ties only arise from
  the program itself (``x - x``, ``concatenate([x, x])``) and the guards see
  them.

* **In-place writes keep numpy's and zygcy's semantics equal.** zygcy gives
  tracked arrays value semantics (a view taken before ``x[i] = v`` keeps its
  old values), numpy does not. An assignment ``x[idx] = v``, ``x[idx] += v`` or
  ``x += y`` is therefore emitted only on a variable that shares memory with no
  other live value (checked with ``np.may_share_memory`` on the concrete
  values); otherwise the maker first writes ``y = x.copy()`` and assigns into
  ``y``. Fancy indices in assignments have no repeats (numpy's result for
  repeated targets is unspecified).

* **Fan-out.** Operands are drawn from the whole pool (newest first), so values
  are naturally reused; in addition the ``fanout`` maker takes one value and
  emits two to five consumers of it in random order, dense (``x + x``,
  ``x * y``, ``np.sum(x)``, ``x - x``, ``np.sin(x)``) and sparse (``x[0]``,
  ``x[-1]``, ``x[:, 0]``, ``x[[0, 0]]``, ``x[1:]``), so sparse index reads
  happen both before and after dense uses of the same value; the return
  expression may add scalar reads ``x[i, j]`` of already used values. Every
  value nothing consumed (a *sink*) goes into the output, so every op matters.

* **Outputs and containers.** Arguments are arrays (real or complex), and
  optionally a Python float, an int (used for indexing, repeats, powers), a
  dict and a tuple of arrays/floats (unpacked in the first lines). The output
  is a real scalar (the sinks reduced: ``np.sum(v)``, ``np.sum(v * v)``,
  ``np.sum(np.abs(z) ** 2)``, ``z.real``...), or a tuple or dict of arrays and
  scalars (complex allowed there, the cotangent is then complex).

* **Op families** (``OPS``, weighted): ufuncs unary and binary with
  broadcasting (``UNARY``, ``BINARY``), reductions with axis/keepdims
  (``REDUCTIONS``, ``CUMULATIVE``), reshape/transpose/unit axes/flip/roll/
  tile/pad/diag/sort/where/select, concatenate/stack/split families, einsum
  (random subscripts, diagonals, implicit output), matmul/dot/inner/outer/kron/
  vdot/vecdot/matvec/cross/tensordot/multi_dot, linalg (inv, solve, det,
  slogdet, cholesky, eigh, eigvals, svd, qr, pinv, norm, matrix_power, lstsq),
  fft, indexing of every kind (ints, slices, fancy lists and arrays, boolean
  masks, None, Ellipsis, the int argument ``k``), ``x[idx] = v`` / ``+=`` /
  ``np.add.at`` / ``x.sort()`` / ``x += y`` in place, ndarray methods, scalars
  read out of arrays with ``zygcy.math`` / ``zygcy.cmath`` functions and Python
  operators, ``if`` on values, ``for`` loops over rows, iteration (``sum(x)``,
  ``sorted(x)``), complex intermediates, and zygcy's own API inside the
  program (nested ``gradient`` closing over outer tracked values, ``forward``
  and its ``back``, ``withgradient``, ``checkpointed``).

* **Choices.** ``Chooser`` supplies every choice: from hypothesis
  (``programs()``, shrinkable) or from a seeded numpy RNG
  (``seeded_program(seed)``, uniform and so more diverse).

Each op maker is a function of the builder; the family names a program used
are kept in ``Program.ops``.
"""
import copy
import itertools
import math
import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import zygcy
import zygcy.cmath as zc
import zygcy.math as zm
from zygcy.containers import flatten, flatten_like, unflatten
from zygcy.testing import check_batched

MARGIN = 1e-3        # the least distance of a guarded operand from a kink, tie or cut
BOUND = 1e3          # the largest magnitude a value of a program may have
EPS = 1e-5           # the finite-difference step (and 2 * EPS for the extrapolation)

# ---------------------------------------------------------------------------
# Hypothesis profile: a fixed-seed budget for CI, ZYGCY_FUZZ_EXAMPLES=N for longer runs.

CI_EXAMPLES = 1500
EXAMPLES = int(os.environ.get("ZYGCY_FUZZ_EXAMPLES", CI_EXAMPLES))

settings.register_profile(
    "zygcy-programs", max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large, HealthCheck.large_base_example])
PROFILE = settings.get_profile("zygcy-programs")


class Reject(Exception):
    """The drawn op does not apply to the current values."""


# ---------------------------------------------------------------------------
# The program


@dataclass
class Program:
    seed: int
    params: list            # the parameter names of f
    arg_srcs: list          # one source expression per parameter (using `rng`)
    body: list              # the lines of f's body, indented relative to it
    ret: str                # the return expression
    analytic: bool = True   # every op is real-analytic: the complex step applies
    ops: list = field(default_factory=list)

    def source(self):
        lines = ["import numpy as np", "import zygcy", "import zygcy.math as zm",
                 "import zygcy.cmath as zc",
                 "", "", "def f(%s):" % ", ".join(self.params)]
        lines += ["    " + ln for ln in self.body]
        lines += ["    return " + self.ret, "", "",
                  "rng = np.random.default_rng(%d)" % self.seed,
                  "args = (%s)" % "".join(a + ", " for a in self.arg_srcs)]
        return "\n".join(lines) + "\n"

    def build(self):
        """(f, args) from the rendered source."""
        return run_source(self.source())

    def __repr__(self):
        return "\n" + self.source()

    def _repr_pretty_(self, printer, cycle):     # how hypothesis prints a falsifying example
        printer.text(repr(self))


def run_source(src):
    ns = {}
    exec(compile(src, "<program>", "exec"), ns)
    return ns["f"], ns["args"]


# ---------------------------------------------------------------------------
# Value predicates and guards


def is_arr(v):
    return isinstance(v, np.ndarray) and v.ndim >= 1


def is_scalar(v):
    return isinstance(v, (float, complex, np.floating, np.complexfloating)) or (
        isinstance(v, np.ndarray) and v.ndim == 0)


def is_number(v):
    """A scalar that is not an array (zygcy.math takes numbers, not 0-d arrays)."""
    return isinstance(v, (float, complex, np.floating, np.complexfloating))


def is_real(v):
    return not np.iscomplexobj(v)


def is_real_scalar(v):
    return is_scalar(v) and is_real(v)


def away(x, m=MARGIN):
    """Every element of x is at least m from 0."""
    return bool(np.all(np.abs(x) > m))


def off_cut(z):
    """z is away from 0 and from the branch cut of log/sqrt/angle (negative reals)."""
    z = np.asarray(z)
    return away(z) and bool(np.all((z.real > MARGIN) | (np.abs(z.imag) > MARGIN)))


def frac_away(x, p):
    """x / p is at least MARGIN from an integer (fmod, remainder, floor jump there)."""
    r = np.asarray(x) / p
    return away(r - np.round(r))


def lanes(a, axis):
    """a with the reduced axes moved last and flattened into one."""
    a = np.asarray(a)
    if axis is None:
        return a.reshape(1, -1)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(ax % a.ndim for ax in axes)
    rest = [d for d in range(a.ndim) if d not in axes]
    return np.transpose(a, rest + list(axes)).reshape(-1, int(np.prod([a.shape[d] for d in axes])))


def distinct(a, axis=None):
    """All values along the reduced axes are at least MARGIN apart (no ties)."""
    s = np.sort(lanes(np.real(a), axis), axis=-1)
    return s.shape[-1] < 2 or away(np.diff(s, axis=-1))


def extremes_unique(a, axis=None):
    """The max and the min along the reduced axes are each unique by MARGIN."""
    s = np.sort(lanes(a, axis), axis=-1)
    if s.shape[-1] < 2:
        return True
    return away(s[:, -1] - s[:, -2]) and away(s[:, 1] - s[:, 0])


def well_conditioned(m, limit=30.0):
    m = np.asarray(m)
    return bool(np.all(np.linalg.cond(m) < limit))


def gaps(w, m=1e-2):
    w = np.sort(np.real(np.asarray(w)), axis=-1)
    return w.shape[-1] < 2 or bool(np.all(np.diff(w, axis=-1) > m))


def lit(x):
    """Source text of a literal index / shape / number."""
    if isinstance(x, np.ndarray):
        return "np.array(%s)" % lit(x.tolist())
    if isinstance(x, tuple):
        return "(" + ", ".join(lit(v) for v in x) + ("," if len(x) == 1 else "") + ")"
    if isinstance(x, list):
        return "[" + ", ".join(lit(v) for v in x) + "]"
    return repr(x)


# ---------------------------------------------------------------------------
# The builder


class Chooser:
    """Where the generator's choices come from: hypothesis draws, or a numpy RNG.

    With hypothesis (``draw``), some integers (0, bounds) come far more often
    than others; each choice is offset by a hash of a salt drawn once per
    program and of the choice's position, which spreads that bias over the
    options, while shrinking (raw choices and salt towards 0) still leads to
    simpler programs. With a seed, every choice is uniform (``seeded_programs``:
    the most diverse programs, reproducible from the seed, but not shrinkable)."""

    def __init__(self, draw=None, seed=None):
        self.draw = draw
        self.rng = None if draw is not None else np.random.default_rng(seed)
        self.salt = draw(st.integers(0, 2 ** 20)) if draw is not None else 0
        self.count = 0

    def int(self, lo, hi):
        if self.rng is not None:
            return int(self.rng.integers(lo, hi + 1))
        self.count += 1
        h = (self.salt * 0x9E3779B97F4A7C15 + self.count * 0xBF58476D1CE4E5B9) % (1 << 64)
        h = ((h ^ (h >> 31)) * 0x94D049BB133111EB) % (1 << 64)
        return lo + (self.draw(st.integers(0, hi - lo)) + (h >> 20)) % (hi - lo + 1)

    def permutation(self, seq):
        seq = list(seq)
        if self.rng is not None:
            return [seq[i] for i in self.rng.permutation(len(seq))]
        return list(self.draw(st.permutations(seq)))

    def choice(self, seq):
        seq = list(seq)
        if not seq:
            raise Reject
        return seq[self.int(0, len(seq) - 1)]

    def coin(self, p=0.5):
        return self.int(0, 99) < int(p * 100)


class Builder:
    def __init__(self, ch, seed, params, arg_srcs, pool, ints, body):
        self.ch = ch
        self.seed = seed
        self.params = params
        self.arg_srcs = arg_srcs
        self.pool = list(pool)     # names of numbers and arrays usable as operands
        self.ints = list(ints)     # names of plain int arguments
        self.lines = list(body)
        self.analytic = True
        self.ops = []
        self.counter = 0
        self.used = {n: False for n in self.pool}
        _, self.args0 = run_source(Program(seed, params, arg_srcs, [], "None").source())
        self.rebuild()

    # -- drawing helpers
    def choice(self, seq):
        return self.ch.choice(seq)

    def coin(self, p=0.5):
        return self.ch.coin(p)

    def fresh(self):
        self.counter += 1
        return "v%d" % self.counter

    def val(self, name):
        return self.ns[name]

    def pick(self, pred=lambda v: True):
        """A pool variable whose value satisfies pred, the newest first."""
        return self.choice([n for n in reversed(self.pool) if pred(self.ns[n])])

    def pick_with(self, fn, pred=is_arr):
        """A pool variable v (newest first) for which fn(value) runs without error."""
        ok = []
        for n in reversed(self.pool):
            v = self.ns[n]
            if pred(v) and quietly(fn, v):
                ok.append(n)
        return self.choice(ok)

    # -- running
    def rebuild(self):
        self.ns = {"np": np, "zm": zm, "zc": zc, "zygcy": zygcy}
        self.ns.update(zip(self.params, copy.deepcopy(list(self.args0))))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            exec("\n".join(self.lines), self.ns)

    def commit(self, family, lines, new, analytic=False, writes=()):
        """Run the candidate lines; keep them if every value stays valid.

        new: the names they define; writes: the names they change in place."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                exec("\n".join(lines), self.ns)
            for n in self.pool + new:
                v = self.ns[n]
                if not isinstance(v, (np.ndarray, float, complex, np.number)) or isinstance(v, np.bool_):
                    raise Reject
                if np.size(v) == 0 or np.size(v) > 200 or not np.all(np.isfinite(v)) or \
                        np.max(np.abs(v)) > BOUND or np.asarray(v).dtype.kind not in "fc":
                    raise Reject
        except Exception:
            self.rebuild()
            raise Reject
        self.lines += lines
        self.pool += [n for n in new if n not in self.pool]
        # a value is consumed when read after its last write; the others are sinks
        tokens = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", "\n".join(lines)))
        for n in self.pool:
            if n in new or n in writes:
                self.used[n] = False
            elif n in tokens:
                self.used[n] = True
        self.analytic = self.analytic and analytic
        self.ops.append(family)

    def emit(self, family, expr, analytic=False):
        """One line `vN = expr`."""
        name = self.fresh()
        self.commit(family, ["%s = %s" % (name, expr)], [name], analytic)
        return name

    def shares(self, name):
        """Whether the value of name shares memory with another pool value."""
        v = self.ns[name]
        return any(n != name and isinstance(self.ns[n], np.ndarray) and
                   np.may_share_memory(self.ns[n], v) for n in self.pool)


def quietly(fn, *a):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            r = fn(*a)
        return np.size(r) > 0 if isinstance(r, np.ndarray) else True
    except Exception:
        return False


# ---------------------------------------------------------------------------
# Op makers. Each takes the builder, draws its choices, and commits lines (or
# raises Reject). `{a}`, `{b}` in templates are operand names.

#   template, domain ("r" real, "c" complex, "a" any), guard on the operand, analytic
UNARY = [
    ("np.sin({a})", "a", lambda a: np.all(np.abs(np.imag(a)) < 3), True),
    ("np.cos({a})", "a", lambda a: np.all(np.abs(np.imag(a)) < 3), True),
    ("np.tanh({a})", "r", None, True),
    ("np.exp({a})", "a", lambda a: np.all(np.abs(a) < 4), True),
    ("np.arctan({a})", "r", None, True),
    ("np.sinh({a})", "r", lambda a: np.all(np.abs(a) < 4), True),
    ("np.cosh({a})", "r", lambda a: np.all(np.abs(a) < 4), True),
    ("np.expm1({a})", "r", lambda a: np.all(np.abs(a) < 4), True),
    ("np.exp2({a})", "r", lambda a: np.all(np.abs(a) < 4), True),
    ("np.log1p({a} * {a})", "r", None, True),
    ("np.log({a} * {a} + 1)", "r", None, True),
    ("np.log2({a} * {a} + 1)", "r", None, True),
    ("np.log10({a} * {a} + 1)", "r", None, True),
    ("np.sqrt({a} * {a} + 0.5)", "r", None, True),
    ("np.cbrt({a} * {a} + 0.5)", "r", None, False),
    ("np.square({a})", "a", None, True),
    ("{a} ** 2", "a", None, True),
    ("{a} ** 3", "a", None, True),
    ("{a} * {a}", "a", None, True),
    ("-{a}", "a", None, True),
    ("np.negative({a})", "a", None, True),
    ("np.positive({a})", "a", None, True),
    ("np.reciprocal({a} * {a} + 1)", "r", None, True),
    ("1 / ({a} * {a} + 1)", "r", None, True),
    ("np.arcsinh({a})", "r", None, True),
    ("np.arcsin(0.9 * np.tanh({a}))", "r", None, True),
    ("np.arccos(0.9 * np.tanh({a}))", "r", None, True),
    ("np.arctanh(0.9 * np.tanh({a}))", "r", None, True),
    ("np.arccosh({a} * {a} + 1.5)", "r", None, True),
    ("np.tan({a})", "r", lambda a: np.all(np.abs(a) < 1.2), True),
    ("np.deg2rad({a})", "r", None, False),
    ("np.rad2deg({a}) / 60", "r", None, False),
    ("np.radians({a})", "r", None, False),
    ("np.degrees({a}) / 60", "r", None, False),
    ("np.sinc({a})", "r", None, True),
    ("np.power({a} * {a} + 0.5, 1.5)", "r", None, True),
    ("np.float_power({a} * {a} + 0.5, 0.7)", "r", None, True),
    ("np.abs({a})", "a", away, False),
    ("abs({a})", "a", away, False),
    ("np.absolute({a})", "a", away, False),
    ("np.fabs({a})", "r", away, False),
    ("np.abs({a}) ** 2", "a", away, False),
    ("np.conj({a})", "a", None, False),
    ("np.conjugate({a})", "a", None, False),
    ("{a}.conj()", "a", None, False),
    ("np.real({a})", "a", None, False),
    ("{a}.real", "c", None, False),
    ("np.imag({a})", "c", None, False),
    ("{a}.imag", "c", None, False),
    ("np.angle({a})", "c", off_cut, False),
    ("np.log({a})", "c", off_cut, False),
    ("np.sqrt({a})", "c", off_cut, False),
    ("np.clip({a}, -0.8, 0.8)", "r", lambda a: away(np.abs(a) - 0.8), False),
    ("np.nan_to_num({a})", "a", None, False),
    ("np.modf({a})[0]", "r", lambda a: frac_away(a, 1.0), False),
    ("np.frexp({a})[0]", "r", lambda a: away(a) and frac_away(np.log2(np.abs(a)), 1.0), False),
    ("np.ldexp({a}, 2)", "r", None, False),
    ("np.fmod({a}, 0.7)", "r", lambda a: frac_away(a, 0.7), False),
    ("np.remainder({a}, 0.7)", "r", lambda a: frac_away(a, 0.7), False),
    ("{a} % 0.7", "r", lambda a: frac_away(a, 0.7), False),
    ("np.divmod({a}, 0.7)[1]", "r", lambda a: frac_away(a, 0.7), False),
    ("np.sign({a}) * {a}", "r", away, False),
    ("np.floor({a}) + {a}", "r", lambda a: frac_away(a, 1.0), False),
    ("np.nextafter({a}, 0)", "r", None, False),
    ("{a}.astype(complex)", "a", None, True),
    ("{a}.copy()", "a", None, True),
    ("np.copy({a})", "a", None, True),
    ("{a}.astype(np.float64)", "r", None, False),
]

#   template, domain of both operands, guard on the broadcast operands, analytic
BINARY = [
    ("{a} + {b}", "a", None, True),
    ("{a} - {b}", "a", None, True),
    ("{a} * {b}", "a", None, True),
    ("np.add({a}, {b})", "a", None, True),
    ("np.subtract({a}, {b})", "a", None, True),
    ("np.multiply({a}, {b})", "a", None, True),
    ("{a} / ({b} * {b} + 1)", "r", None, True),
    ("np.divide({a}, {b} * {b} + 1)", "r", None, True),
    ("{a} / (np.abs({b}) ** 2 + 1)", "a", None, False),
    ("np.maximum({a}, {b})", "r", lambda a, b: away(a - b), False),
    ("np.minimum({a}, {b})", "r", lambda a, b: away(a - b), False),
    ("np.fmax({a}, {b})", "r", lambda a, b: away(a - b), False),
    ("np.fmin({a}, {b})", "r", lambda a, b: away(a - b), False),
    ("np.where({a} > {b}, {a}, {b})", "r", lambda a, b: away(a - b), False),
    ("np.hypot({a}, {b})", "r", lambda a, b: away(np.hypot(a, b)), False),
    ("np.arctan2({a}, {b})", "r",
     lambda a, b: away(np.hypot(a, b)) and np.all((np.abs(a) > MARGIN) | (b > MARGIN)), False),
    ("np.logaddexp({a}, {b})", "r", None, False),
    ("np.logaddexp2({a}, {b})", "r", None, False),
    ("np.power({b} * {b} + 0.5, {a})", "r", lambda a, b: np.all(np.abs(a) < 3), True),
    ("({b} * {b} + 0.5) ** {a}", "r", lambda a, b: np.all(np.abs(a) < 3), True),
    ("np.float_power({b} * {b} + 0.5, {a})", "r", lambda a, b: np.all(np.abs(a) < 3), True),
    ("np.copysign({a}, {b})", "r", lambda a, b: away(a) and away(b), False),
    ("{a} + 1j * {b}", "r", None, False),
    ("np.fmod({a}, {b} * {b} + 0.5)", "r", lambda a, b: frac_away(a, b * b + 0.5), False),
]


def _operand_ok(v, dom):
    if dom == "r":
        return is_real(v)
    if dom == "c":
        return not is_real(v)
    return True


def op_unary(b):
    tmpl, dom, guard, analytic = b.choice(UNARY)
    a = b.pick(lambda v: (is_arr(v) or is_scalar(v)) and _operand_ok(v, dom))
    if guard is not None and not guard(b.val(a)):
        raise Reject
    b.emit("unary", tmpl.format(a=a), analytic)


def op_binary(b):
    tmpl, dom, guard, analytic = b.choice(BINARY)
    a = b.pick(lambda v: (is_arr(v) or is_scalar(v)) and _operand_ok(v, dom))
    av = b.val(a)

    def fits(v):
        return _operand_ok(v, dom) and quietly(np.broadcast_shapes, np.shape(av), np.shape(v))

    names = [n for n in reversed(b.pool) if fits(b.val(n))]
    consts = ["0.5", "2", "1.5", "3.0"] + b.ints
    other = b.choice(names + consts) if b.coin(0.85) else b.choice(consts)
    ov = b.ns[other] if other in b.ns else float(other)
    x, y = (a, other) if b.coin() else (other, a)
    xv, yv = (av, ov) if x == a else (ov, av)
    if guard is not None:
        bx, by = np.broadcast_arrays(np.asarray(xv), np.asarray(yv))
        if not guard(bx, by):
            raise Reject
    b.emit("binary", tmpl.format(a=x, b=y), analytic)


def _axis_choices(ndim, tuples=True):
    out = [None] + list(range(ndim)) + [-1]
    if tuples and ndim >= 2:
        out += [(0, ndim - 1), tuple(range(ndim))]
    return out


#   function, call style ("f" np.fn(a, ...), "m" a.fn(...)), axis tuples allowed,
#   keepdims allowed, complex allowed, guard kind, analytic, extra args
REDUCTIONS = [
    ("np.sum", "f", True, True, True, None, True, ""),
    ("sum", "m", True, True, True, None, True, ""),
    ("np.mean", "f", True, True, True, None, True, ""),
    ("mean", "m", True, True, True, None, True, ""),
    ("np.prod", "f", True, True, True, None, True, ""),
    ("prod", "m", True, True, True, None, True, ""),
    ("np.max", "f", True, True, False, "ext", False, ""),
    ("max", "m", True, True, False, "ext", False, ""),
    ("np.min", "f", True, True, False, "ext", False, ""),
    ("min", "m", True, True, False, "ext", False, ""),
    ("np.amax", "f", True, True, False, "ext", False, ""),
    ("np.amin", "f", True, True, False, "ext", False, ""),
    ("np.ptp", "f", True, True, False, "ext", False, ""),
    ("np.var", "f", True, True, True, None, False, ""),
    ("var", "m", True, True, True, None, False, ""),
    ("np.std", "f", True, True, True, "std", False, ""),
    ("std", "m", True, True, True, "std", False, ""),
    ("np.var", "f", True, True, False, None, False, "ddof=1"),
    ("np.nansum", "f", True, True, True, None, False, ""),
    ("np.nanmean", "f", True, True, True, None, False, ""),
    ("np.nanprod", "f", True, True, True, None, False, ""),
    ("np.nanmax", "f", True, True, False, "ext", False, ""),
    ("np.nanmin", "f", True, True, False, "ext", False, ""),
    ("np.nanvar", "f", True, True, False, None, False, ""),
    ("np.nanstd", "f", True, True, False, "std", False, ""),
    ("np.median", "f", True, True, False, "sorted", False, ""),
    ("np.nanmedian", "f", True, True, False, "sorted", False, ""),
    ("np.quantile", "f", True, True, False, "sorted", False, "0.3"),
    ("np.percentile", "f", True, True, False, "sorted", False, "70"),
    ("np.nanquantile", "f", True, True, False, "sorted", False, "0.6"),
    ("np.nanpercentile", "f", True, True, False, "sorted", False, "25"),
    ("np.average", "f", False, True, True, None, True, ""),
    ("np.add.reduce", "f", True, True, True, None, True, ""),
    ("np.multiply.reduce", "f", False, True, True, None, True, ""),
    ("np.maximum.reduce", "f", False, True, False, "ext", False, ""),
    ("np.minimum.reduce", "f", False, True, False, "ext", False, ""),
    ("np.fmax.reduce", "f", False, True, False, "ext", False, ""),
    ("np.fmin.reduce", "f", False, True, False, "ext", False, ""),
    ("np.logaddexp.reduce", "f", False, True, False, None, False, ""),
    ("np.logaddexp2.reduce", "f", False, True, False, None, False, ""),
    ("np.linalg.vector_norm", "f", True, True, True, "norm", False, ""),
]

CUMULATIVE = [
    ("np.cumsum", "f", True, True), ("cumsum", "m", True, True),
    ("np.cumprod", "f", True, True), ("cumprod", "m", True, True),
    ("np.nancumsum", "f", True, False), ("np.nancumprod", "f", True, False),
    ("np.add.accumulate", "f", True, True), ("np.multiply.accumulate", "f", True, True),
    ("np.maximum.accumulate", "f", False, False), ("np.minimum.accumulate", "f", False, False),
    ("np.fmax.accumulate", "f", False, False), ("np.fmin.accumulate", "f", False, False),
    ("np.cumulative_sum", "f", True, True), ("np.cumulative_prod", "f", True, True),
    ("np.diff", "f", True, True),
]


def _call(fn, style, a, args):
    if style == "m":
        return "%s.%s(%s)" % (a, fn, ", ".join(args))
    return "%s(%s)" % (fn, ", ".join([a] + args))


def op_reduce(b):
    fn, style, tuples, keep, cplx, guard, analytic, extra = b.choice(REDUCTIONS)
    a = b.pick(lambda v: is_arr(v) and (cplx or is_real(v)))
    av = b.val(a)
    ufunc_reduce = fn.endswith(".reduce")
    axes = _axis_choices(av.ndim, tuples)
    if ufunc_reduce and not tuples:
        axes = [ax for ax in axes if isinstance(ax, int)]
    axis = b.choice(axes) if not (ufunc_reduce and fn != "np.add.reduce") else b.choice(
        list(range(av.ndim)))
    args = [extra] if extra else []
    if axis is not None or ufunc_reduce:
        args.append("axis=%s" % lit(axis))
    if keep and b.coin(0.3) and fn != "np.average":
        args.append("keepdims=True")
    if fn == "np.average" and b.coin(0.6):
        # weights: a tracked pool value of a's shape, or a constant
        axis_len = av.shape[axis] if axis is not None else None
        same = [n for n in b.pool if np.shape(b.val(n)) == av.shape and is_real(b.val(n))]
        if same and b.coin():
            args.append("weights=%s * %s + 1" % (b.choice(same), b.choice(same)))
            analytic = False
        elif axis_len is not None:
            args.append("weights=%s" % lit([1.0 + 0.5 * i for i in range(axis_len)]))
    if guard == "ext" and not extremes_unique(av, axis):
        raise Reject
    if guard == "sorted" and not distinct(av, axis):
        raise Reject
    if guard == "std" and not away(np.var(av, axis=axis)):
        raise Reject
    if guard == "norm" and not away(np.sum(np.abs(av) ** 2, axis=axis)):
        raise Reject
    b.emit("reduce", _call(fn, style, a, args), analytic)


def op_cumulative(b):
    fn, style, cplx, analytic = b.choice(CUMULATIVE)
    a = b.pick(lambda v: is_arr(v) and (cplx or is_real(v)))
    av = b.val(a)
    args = []
    axis = b.choice(list(range(av.ndim)) + [-1] + ([None] if fn in ("np.cumsum", "np.cumprod",
                                                                     "cumsum", "cumprod") else []))
    if fn.startswith("np.cumulative") and av.ndim == 1 and b.coin():
        axis = None
    if axis is not None:
        args.append("axis=%d" % axis)
    if fn == "np.diff" and b.coin(0.3):
        args.append("n=2")
    if not analytic and not distinct(av, axis if axis is not None else None):
        raise Reject
    b.emit("cumulative", _call(fn, style, a, args), analytic)


def _factorizations(n, maxlen=3):
    out = []
    for k in range(1, maxlen + 1):
        for t in itertools.product(range(1, n + 1), repeat=k):
            if math.prod(t) == n:
                out.append(t)
    return out


def op_reshape(b):
    a = b.pick(is_arr)
    av = b.val(a)
    shape = b.choice(_factorizations(av.size))
    if b.coin(0.3):
        shape = tuple(-1 if i == 0 else s for i, s in enumerate(shape))
    form = b.choice(["np.reshape({a}, {s})", "{a}.reshape({s})", "{a}.reshape({u})"])
    b.emit("shape", form.format(a=a, s=lit(shape), u=", ".join(map(str, shape))), True)


def op_transpose(b):
    a = b.pick(is_arr)
    nd = b.val(a).ndim
    perm = tuple(b.ch.permutation(range(nd)))
    i, j = b.choice(range(nd)), b.choice(range(-nd, nd))
    form = b.choice(["np.transpose({a}, {p})", "{a}.transpose({p})", "{a}.T", "np.transpose({a})",
                     "np.swapaxes({a}, {i}, {j})", "np.moveaxis({a}, {i}, {j})",
                     "np.rollaxis({a}, {i})", "np.matrix_transpose({a})",
                     "np.linalg.matrix_transpose({a})"])
    if "matrix_transpose" in form and nd < 2:
        raise Reject
    b.emit("shape", form.format(a=a, p=lit(perm), i=i, j=j), True)


def op_dims(b):
    """Adding and removing unit axes, and functions that may return their input."""
    a = b.pick(is_arr)
    av = b.val(a)
    nd = av.ndim
    forms = ["np.expand_dims({a}, {i})", "{a}[None]", "{a}[:, None]", "{a}[..., None]",
             "np.atleast_1d({a})", "np.atleast_2d({a})", "np.atleast_3d({a})", "np.ravel({a})",
             "{a}.ravel()", "{a}.flatten()", "{a}.reshape(-1)", "np.real({a})",
             "np.broadcast_to({a}, {a}.shape)", "np.reshape({a}, {a}.shape)",
             "np.broadcast_to({a}, (2,) + {a}.shape)", "np.broadcast_arrays({a}, {o})[0]",
             "np.broadcast_arrays({a}, {o})[1]", "np.squeeze({a})", "{a}.squeeze()",
             "np.squeeze({a}, axis={u})", "np.copy({a})"]
    form = b.choice(forms)
    units = [i for i, n in enumerate(av.shape) if n == 1]
    if "axis={u}" in form and not units:
        raise Reject
    other = b.pick(lambda v: is_arr(v) and quietly(np.broadcast_shapes, av.shape, v.shape)) \
        if "{o}" in form else None
    b.emit("dims", form.format(a=a, i=b.choice(range(-nd - 1, nd + 1)), o=other,
                               u=b.choice(units) if units else 0), "np.real" not in form)


def op_rearrange(b):
    a = b.pick(is_arr)
    av = b.val(a)
    nd = av.ndim
    ax = b.choice(range(-nd, nd))
    n0 = av.shape[ax]
    forms = [
        ("np.flip({a}, {ax})", True), ("np.flip({a})", True), ("{a}[::-1]", True),
        ("np.roll({a}, {sh}, {ax})", True), ("np.roll({a}, {sh})", True),
        ("np.tile({a}, {reps})", True), ("np.repeat({a}, 2, {ax})", True),
        ("np.repeat({a}, {counts}, {ax})", True), ("np.resize({a}, {newsz})", True),
        ("np.pad({a}, 1)", True), ("np.pad({a}, {pw})", True),
        ("np.pad({a}, 1, mode={mode})", True),
        ("np.delete({a}, {i}, {ax})", True), ("np.insert({a}, {i}, {s}, {ax})", True),
        ("np.take({a}, {idx}, {ax})", True), ("np.take({a}, {idx})", True),
        ("np.compress({mask}, {a}, {ax})", True), ("np.append({a}, {a}, {ax})", True),
    ]
    if nd >= 2:
        forms += [("np.fliplr({a})", True), ("np.flipud({a})", True), ("np.rot90({a})", True),
                  ("np.rot90({a}, {sh})", True), ("np.triu({a})", True),
                  ("np.tril({a}, -1)", True), ("np.diagonal({a})", True),
                  ("np.diag({a})", True), ("np.trace({a})", True), ("np.triu({a}, 1)", True),
                  ("np.diagonal({a}, 1, 0, -1)", True), ("np.linalg.diagonal({a})", True),
                  ("np.linalg.trace({a})", True)]
    else:
        forms += [("np.diag({a})", True), ("np.diag({a}, 1)", True), ("np.diagflat({a})", True),
                  ("np.ediff1d({a})", True)]
    form, analytic = b.choice(forms)
    if form.startswith("np.diag(") and nd > 2:
        raise Reject
    if "{s}" in form:
        s = b.pick(lambda v: is_scalar(v) or (is_arr(v) and v.ndim == 1))
    else:
        s = "0.0"
    text = form.format(
        a=a, ax=ax, sh=b.choice([1, -1, 2]), reps=lit(b.choice([(2,), (1, 2), (2, 1, 1)])),
        counts=lit([b.choice([0, 1, 2]) for _ in range(n0)]), newsz=lit(b.choice([(5,), (2, 4)])),
        pw=lit(tuple((b.choice([0, 1]), b.choice([0, 2])) for _ in range(nd))),
        mode=repr(b.choice(["edge", "reflect", "wrap", "symmetric"])),
        i=b.choice(range(n0)), s=s,
        idx=lit(b.choice([[0], [n0 - 1, 0, n0 - 1], [0, n0 - 1]])),
        mask=lit([b.coin() for _ in range(n0)]))
    b.emit("rearrange", text, analytic)


def op_sort(b):
    a = b.pick(lambda v: is_arr(v) and is_real(v))
    av = b.val(a)
    ax = b.choice(range(-av.ndim, av.ndim))
    n0 = av.shape[ax]
    form = b.choice(["np.sort({a}, {ax})", "np.sort({a}, axis=None)", "np.partition({a}, {k}, {ax})",
                     "np.unique({a})", "np.take_along_axis({a}, np.argsort({a}, axis={ax}), {ax})",
                     "np.sort({a}, {ax})[..., ::-1]"])
    axis = None if ("None" in form or "unique" in form) else ax
    if not distinct(av, axis):
        raise Reject
    b.emit("sort", form.format(a=a, ax=ax, k=b.choice(range(n0))), False)


def op_select(b):
    """where / select / choose / extract with masks computed from values (guarded)."""
    a = b.pick(lambda v: is_arr(v) and is_real(v))
    av = b.val(a)
    other = b.pick(lambda v: is_arr(v) and quietly(np.broadcast_shapes, av.shape, v.shape))
    ov = b.val(other)
    t = b.choice([0.0, 0.5, -0.3])
    if not away(av - t):
        raise Reject
    form = b.choice([
        "np.where({a} > {t}, {a}, {o})", "np.where({a} < {t}, {o} * {o}, {a})",
        "np.where({a} > {t}, {o}, 0.0)",
        "np.select([{a} > {t}, {a} < {t} - 1], [{a}, {o}], default=1.0)",
        "np.extract({a} > {t}, {a})", "{a}[{a} > {t}]",
        "np.choose(({a} > {t}).astype(int), [{a}, {a} * 2.0])"])
    if "extract" in form or "[{a} >" in form:
        if not np.any(av > t):
            raise Reject
    del ov
    b.emit("select", form.format(a=a, o=other, t=t), False)


def op_join(b):
    a = b.pick(is_arr)
    av = b.val(a)
    nd = av.ndim
    ax = b.choice(range(-nd, nd))
    fn = b.choice(["np.concatenate", "np.stack", "np.hstack", "np.vstack", "np.dstack",
                   "np.column_stack", "np.append"])
    k = b.choice([2, 2, 3])
    parts = [a]
    for _ in range(k - 1):
        def fits(v, parts=parts):
            try:
                vals = [b.val(p) for p in parts] + [v]
                if fn == "np.append":
                    np.append(vals[0], vals[1], axis=ax)
                elif fn in ("np.concatenate", "np.stack"):
                    getattr(np, fn[3:])(vals, axis=ax)
                else:
                    getattr(np, fn[3:])(vals)
                return True
            except Exception:
                return False
        parts.append(b.pick(lambda v: is_arr(v) and fits(v)))
        if fn == "np.append":
            break
    if fn == "np.append":
        text = "np.append(%s, %s, axis=%d)" % (parts[0], parts[1], ax)
    elif fn in ("np.concatenate", "np.stack"):
        text = "%s([%s], axis=%d)" % (fn, ", ".join(parts), ax)
    else:
        text = "%s((%s,))" % (fn, ", ".join(parts))
    b.emit("join", text, True)


def op_split(b):
    a = b.pick(is_arr)
    av = b.val(a)
    nd = av.ndim
    ax = b.choice(range(nd))
    n0 = av.shape[ax]
    if n0 < 2:
        raise Reject
    form = b.choice(["np.split({a}, {n}, axis={ax})", "np.array_split({a}, 2, axis={ax})",
                     "np.split({a}, [1], axis={ax})", "np.unstack({a}, axis={ax})",
                     "np.hsplit({a}, [1])", "np.vsplit({a}, [1])", "np.dsplit({a}, [1])"])
    divisors = [d for d in (2, 3) if n0 % d == 0]
    if "{n}" in form and not divisors:
        raise Reject
    text = form.format(a=a, ax=ax, n=b.choice(divisors) if divisors else 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            count = len(eval(text, dict(b.ns)))
    except Exception:
        raise Reject
    if count > 4:
        raise Reject
    names = [b.fresh() for _ in range(count)]
    lines = ["%s = %s" % (", ".join(names), text)]
    b.commit("split", lines, names, True)


def _einsum_spec(b, shapes):
    letters = iter("ijklmnopqrstuvw")
    size = {}
    subs = []
    for shape in shapes:
        s = ""
        for n in shape:
            same = [L for L in size if size[L] == n]
            if same and b.coin(0.6):
                L = b.choice(same)
            else:
                L = next(letters)
                size[L] = n
            s += L
        subs.append(s)
    used = sorted(size)
    out = b.ch.permutation(used)[:b.choice(range(0, min(3, len(used)) + 1))]
    if b.coin(0.2):
        return ",".join(subs)       # implicit output
    return ",".join(subs) + "->" + "".join(out)


def op_einsum(b):
    n = b.choice([1, 2, 2, 2, 3])
    names = [b.pick(lambda v: is_arr(v) and v.ndim <= 3) for _ in range(n)]
    spec = _einsum_spec(b, [b.val(x).shape for x in names])
    opt = ", optimize=True" if b.coin(0.2) else ""
    b.emit("einsum", "np.einsum(%r, %s%s)" % (spec, ", ".join(names), opt), True)


CONTRACTIONS = [
    ("{a} @ {b}", np.matmul), ("np.matmul({a}, {b})", np.matmul), ("np.dot({a}, {b})", np.dot),
    ("np.linalg.matmul({a}, {b})", np.linalg.matmul), ("np.inner({a}, {b})", np.inner),
    ("np.vdot({a}, {b})", np.vdot), ("np.outer({a}, {b})", np.outer),
    ("np.kron({a}, {b})", np.kron), ("np.vecdot({a}, {b})", np.vecdot),
    ("np.linalg.vecdot({a}, {b})", np.linalg.vecdot), ("np.matvec({a}, {b})", np.matvec),
    ("np.vecmat({a}, {b})", np.vecmat), ("np.cross({a}, {b})", np.cross),
    ("np.linalg.cross({a}, {b})", np.linalg.cross), ("np.linalg.outer({a}, {b})", np.linalg.outer),
]


def op_contract(b):
    tmpl, fn = b.choice(CONTRACTIONS)
    a = b.pick(is_arr)
    av = b.val(a)
    partner = b.pick_with(lambda v: fn(av, v))
    b.emit("contract", tmpl.format(a=a, b=partner), "vdot" not in tmpl and "vec" not in tmpl)


def op_tensordot(b):
    a = b.pick(is_arr)
    av = b.val(a)
    options = []
    for n in reversed(b.pool):
        v = b.val(n)
        if not is_arr(v):
            continue
        for k in (0, 1, 2):
            if k <= min(av.ndim, v.ndim) and av.shape[av.ndim - k:] == v.shape[:k]:
                options.append((n, str(k)))
        for i in range(av.ndim):
            for j in range(v.ndim):
                if av.shape[i] == v.shape[j]:
                    options.append((n, "([%d], [%d])" % (i, j)))
    other, axes = b.choice(options)
    fn = b.choice(["np.tensordot", "np.linalg.tensordot"])
    if fn == "np.linalg.tensordot" and axes.startswith("("):
        raise Reject
    b.emit("contract", "%s(%s, %s, axes=%s)" % (fn, a, other, axes), True)


def op_multi_dot(b):
    a = b.pick(lambda v: is_arr(v) and v.ndim <= 2)
    av = b.val(a)
    bb = b.pick_with(lambda v: np.dot(av, v), lambda v: is_arr(v) and v.ndim == 2)
    bv = b.val(bb)
    c = b.pick_with(lambda v: np.dot(np.dot(av, bv), v), lambda v: is_arr(v) and v.ndim <= 2)
    b.emit("contract", "np.linalg.multi_dot([%s, %s, %s])" % (a, bb, c), True)


def _square(b, batched=True):
    """A square matrix variable (..., n, n): an existing one, or made by a reshape."""
    sq = [n for n in b.pool if is_arr(b.val(n)) and b.val(n).ndim >= 2 and
          b.val(n).shape[-1] == b.val(n).shape[-2] and (batched or b.val(n).ndim == 2)]
    if sq and b.coin(0.7):
        return b.choice(sq)
    a = b.pick(lambda v: is_arr(v) and v.size >= 4)
    n = b.choice([k for k in (2, 3) if k * k <= b.val(a).size])
    return b.emit("shape", "%s.reshape(-1)[:%d].reshape(%d, %d)" % (a, n * n, n, n), True)


def op_linalg(b):
    m = _square(b)
    mv = b.val(m)
    n = mv.shape[-1]
    cplx = not is_real(mv)
    herm = "np.conj(np.swapaxes({m}, -1, -2))" if cplx else "np.swapaxes({m}, -1, -2)"
    herm = herm.format(m=m)
    spd = "%s @ %s + 2.0 * np.eye(%d)" % (m, herm, n)
    sym = "%s + %s" % (m, herm)
    kind = b.choice(["inv", "solve", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "eigvals",
                     "svdvals", "svd", "qr", "pinv", "norm", "matrix_power", "lstsq"])
    names = [b.fresh()]
    analytic = False
    if kind in ("inv", "det", "slogdet", "solve", "pinv", "matrix_power") and not well_conditioned(mv):
        raise Reject
    if kind == "inv":
        text, analytic = "np.linalg.inv(%s)" % m, True
    elif kind == "det":
        text, analytic = "np.linalg.det(%s)" % m, True
    elif kind == "matrix_power":
        text, analytic = "np.linalg.matrix_power(%s, %d)" % (m, b.choice([2, 3, -1, 0])), True
    elif kind == "solve":
        rhs = b.pick_with(lambda v: np.linalg.solve(mv, v))
        text, analytic = "np.linalg.solve(%s, %s)" % (m, rhs), True
    elif kind == "slogdet":
        names.append(b.fresh())
        text = "np.linalg.slogdet(%s)" % m
        if b.coin(0.3):
            text = "%s.sign, %s.logabsdet" % (text, text)
    elif kind == "cholesky":
        text = "np.linalg.cholesky(%s%s)" % (spd, ", upper=True" if b.coin(0.2) else "")
    elif kind in ("eigh", "eigvalsh"):
        if not gaps(np.linalg.eigvalsh(eval(sym, dict(b.ns)))):
            raise Reject
        if kind == "eigvalsh":
            text = "np.linalg.eigvalsh(%s)" % sym
        else:   # eigenvectors up to sign/phase: use |V|^2
            w, vv = names[0], b.fresh()
            lines = ["%s, %s = np.linalg.eigh(%s)" % (w, vv, sym),
                     "%s = np.abs(%s) ** 2" % (vv, vv) if cplx else "%s = %s * %s" % (vv, vv, vv)]
            return b.commit("linalg", lines, [w, vv])
    elif kind == "eigvals":
        w = np.linalg.eigvals(mv)
        if not (gaps(w) and gaps(np.imag(w) + 10 * np.real(w))):
            raise Reject
        text = b.choice(["np.linalg.eigvals(%s)", "np.sum(np.linalg.eigvals(%s) ** 3)",
                         "np.linalg.eig(%s)[0]"]) % m
    elif kind in ("svdvals", "svd", "pinv", "norm", "lstsq"):
        a = b.pick(lambda v: is_arr(v) and v.ndim == 2) if b.coin(0.5) else m
        av = b.val(a)
        s = np.linalg.svd(av, compute_uv=False)
        if not (gaps(s) and np.all(s > 1e-2)):
            raise Reject
        if kind == "svdvals":
            text = b.choice(["np.linalg.svdvals(%s)", "np.linalg.svd(%s, compute_uv=False)"]) % a
        elif kind == "pinv":
            text = "np.linalg.pinv(%s)" % a
        elif kind == "norm":
            text = "np.linalg.norm(%s%s)" % (a, b.choice(["", ", 'fro'", ", 2", ", 'nuc'", ", -2"]))
            if text.endswith("-2)") and av.shape[0] != av.shape[1]:
                raise Reject
            text = b.choice([text, "np.linalg.matrix_norm(%s)" % a])
        elif kind == "lstsq":
            if av.shape[0] < av.shape[1]:
                raise Reject
            rhs = b.pick_with(lambda v: np.linalg.lstsq(av, v), lambda v: is_arr(v) and v.ndim <= 2)
            text = "np.linalg.lstsq(%s, %s, rcond=None)[0]" % (a, rhs)
        else:   # U and Vh up to signs: use |U|^2 and |Vh|^2
            u, sv, vh = names[0], b.fresh(), b.fresh()
            sq = "{x} * {x}" if is_real(av) else "np.abs({x}) ** 2"
            lines = ["%s, %s, %s = np.linalg.svd(%s, full_matrices=False)" % (u, sv, vh, a),
                     "%s = %s" % (u, sq.format(x=u)), "%s = %s" % (vh, sq.format(x=vh))]
            return b.commit("linalg", lines, [u, sv, vh])
    elif kind == "qr":
        a = b.pick(lambda v: is_arr(v) and v.ndim == 2 and v.shape[0] >= v.shape[1]) \
            if b.coin(0.5) else m
        r = np.linalg.qr(b.val(a))[1]
        if not away(np.diagonal(r), 1e-2):
            raise Reject
        names.append(b.fresh())
        text = "np.linalg.qr(%s)" % a
    b.commit("linalg", ["%s = %s" % (", ".join(names), text)], names, analytic)


FFTS = [
    ("np.fft.fft", 1, "a"), ("np.fft.ifft", 1, "a"), ("np.fft.rfft", 1, "r"),
    ("np.fft.irfft", 1, "a"), ("np.fft.hfft", 1, "a"), ("np.fft.ihfft", 1, "r"),
    ("np.fft.fft2", 2, "a"), ("np.fft.ifft2", 2, "a"), ("np.fft.rfft2", 2, "r"),
    ("np.fft.irfft2", 2, "a"), ("np.fft.fftn", 1, "a"), ("np.fft.ifftn", 1, "a"),
    ("np.fft.rfftn", 1, "r"), ("np.fft.irfftn", 1, "a"), ("np.fft.fftshift", 1, "a"),
    ("np.fft.ifftshift", 1, "a"),
]


def op_fft(b):
    fn, nd, dom = b.choice(FFTS)
    a = b.pick(lambda v: is_arr(v) and v.ndim >= nd and _operand_ok(v, dom))
    av = b.val(a)
    args = []
    if nd == 1 and not fn.endswith("n") and "shift" not in fn:
        if b.coin(0.4):
            args.append("axis=%d" % b.choice(range(-av.ndim, av.ndim)))
        if b.coin(0.3):
            args.append("n=%d" % b.choice([2, 3, 4, 5]))
    elif "shift" in fn:
        if b.coin(0.5):
            args.append("axes=%d" % b.choice(range(av.ndim)))
    elif fn.endswith("n") and b.coin(0.5):
        args.append("axes=%s" % lit(b.choice([(0,), (-1,), tuple(range(av.ndim))])))
    if "shift" not in fn and b.coin(0.4):
        args.append("norm=%r" % b.choice(["ortho", "forward", "backward"]))
    b.emit("fft", "%s(%s)" % (fn, ", ".join([a] + args)), "shift" in fn)


def _index(b, shape, write=False):
    """A random index for an array of this shape, as source text (may be invalid)."""
    nd = len(shape)
    ellipsis = nd >= 1 and b.coin(0.2)
    k = b.choice(range(0 if ellipsis else 1, nd + 1))
    dims = shape[nd - k:] if ellipsis else shape[:k]
    fancy_len = b.choice([1, 2, 3])
    comps = []
    for n in dims:
        if b.coin(0.1):
            comps.append("None")
        kind = b.choice(["int", "int", "slice", "slice", "full", "list", "array", "mask"])
        if kind == "int":
            i = b.choice(range(-n, n))
            comps.append("k" if "k" in b.ints and b.coin(0.3) and b.ns["k"] < n else str(i))
        elif kind == "slice":
            start = b.choice([None, 0, 1, -1])
            stop = b.choice([None, None, 2, -1])
            step = b.choice([None, None, 2, -1])
            comps.append(":".join("" if v is None else str(v) for v in (start, stop)) +
                         ("" if step is None else ":%d" % step))
        elif kind == "full":
            comps.append(":")
        elif kind in ("list", "array"):
            if write:
                vals = b.ch.permutation(range(n))[:min(fancy_len, n)]
            else:
                vals = [b.choice(range(-n, n)) for _ in range(fancy_len)]
            comps.append(lit(vals) if kind == "list" else lit(np.array(vals)))
        else:
            comps.append(lit(np.array([b.coin() for _ in range(n)])))
    if ellipsis:
        comps.insert(0, "...")
    if b.coin(0.1):
        comps.append("None")
    return ", ".join(comps) if comps else "..."


def op_getitem(b):
    a = b.pick(is_arr)
    idx = _index(b, b.val(a).shape)
    b.emit("index", "%s[%s]" % (a, idx), True)


def op_item(b):
    """Scalars read out of arrays: full indices, .item(), and int-array reads."""
    a = b.pick(is_arr)
    av = b.val(a)
    form = b.choice(["full", "item", "itemk", "sum"])
    if form == "full":
        text = "%s[%s]" % (a, ", ".join(str(b.choice(range(-n, n))) for n in av.shape))
    elif form == "item":
        text = "%s.item(%d)" % (a, b.choice(range(av.size)))
    elif form == "itemk":
        text = "%s[%s].item()" % (a, ", ".join(str(b.choice(range(n))) for n in av.shape))
    else:
        text = "np.sum(%s).item()" % a if is_real(av) else "np.sum(%s)" % a
    b.emit("item", text, form != "item")


def _target(b, pred=is_arr):
    """An array to write into: itself if no other value shares its memory, else a copy."""
    t = b.pick(pred)
    if b.shares(t) or b.coin(0.3):
        c = b.fresh()
        b.commit("copy", ["%s = %s" % (c, b.choice(["%s.copy()", "np.copy(%s)", "%s * 1.0"]) % t)],
                 [c], True)
        return c
    return t


def op_setitem(b):
    t = _target(b)
    tv = b.val(t)
    idx = _index(b, tv.shape, write=True)
    try:
        region = eval("%s[%s]" % (t, idx), dict(b.ns))
    except Exception:
        raise Reject
    rs = np.shape(region)
    real_target = is_real(tv)

    def fits(v):
        return (not real_target or is_real(v)) and quietly(
            lambda v: np.broadcast_to(v, rs).shape == rs, v)

    names = [n for n in reversed(b.pool) if n != t and fits(b.val(n))]
    value = b.choice(names) if names and b.coin(0.8) else b.choice(["0.0", "2.5", "-1.0"])
    if value in b.ns and not b.coin(0.3):
        value = b.choice(["np.sin(%s)", "%s * %s", "2 * %s"]).replace("%s", value)
    op = b.choice(["=", "=", "+=", "-=", "*="])
    b.commit("setitem", ["%s[%s] %s %s" % (t, idx, op, value)], [], True, writes=[t])


def op_inplace(b):
    t = _target(b)
    tv = b.val(t)

    def fits(v):
        return (is_real(v) or not is_real(tv)) and quietly(
            lambda v: np.broadcast_shapes(tv.shape, np.shape(v)) == tv.shape, v)

    other = b.pick(fits)
    op = b.choice(["+=", "-=", "*=", "/="])
    rhs = other if op != "/=" else "(%s * %s + 1)" % (other, other)
    if op == "/=" and not is_real(b.val(other)):
        raise Reject
    b.commit("inplace", ["%s %s %s" % (t, op, rhs)], [], True, writes=[t])


DENSE = ["{x} + {x}", "{x} * {y}", "np.sum({x})", "{x} - {x}", "np.sin({x})", "{x} * 2",
         "{x} @ {x}", "np.sum({x} * {x}, axis=0)"]
SPARSE = ["{x}[0]", "{x}[-1]", "{x}[1]", "{x}[:, 0]", "{x}[..., -1]", "{x}[[0, 0]]", "{x}[1:]",
          "{x}[0, 0]", "{x}[::-1]", "{x}[np.array([1, 0, 1])]"]


def op_fanout(b):
    """Several consumers of one value, dense and sparse, in random order."""
    x = b.pick(is_arr)
    xv = b.val(x)
    n = b.choice([2, 3, 4, 5])
    for _ in range(n):
        form = b.choice(DENSE) if b.coin() else b.choice(SPARSE)
        y = x
        if "{y}" in form:
            y = b.pick(lambda v: (is_arr(v) or is_scalar(v)) and
                       quietly(np.broadcast_shapes, xv.shape, np.shape(v)))
        try:
            b.emit("fanout", form.format(x=x, y=y), True)
        except Reject:
            pass


SCALAR_FNS = [
    ("zm.sin({s})", None), ("zm.cos({s})", None), ("zm.tanh({s})", None), ("zm.atan({s})", None),
    ("zm.exp({s})", lambda s: abs(s) < 4), ("zm.log({s} * {s} + 1)", None),
    ("zm.sqrt({s} * {s} + 1)", None), ("zm.log1p({s} * {s})", None),
    ("zm.expm1({s})", lambda s: abs(s) < 4), ("zm.sinh({s})", lambda s: abs(s) < 4),
    ("zm.cosh({s})", lambda s: abs(s) < 4), ("zm.erf({s})", None), ("zm.erfc({s})", None),
    ("zm.lgamma({s} * {s} + 1)", None), ("zm.gamma({s} * {s} + 1)", lambda s: abs(s) < 2),
    ("zm.digamma({s} * {s} + 1)", None), ("zm.polygamma(1, {s} * {s} + 1)", None),
    ("zm.asinh({s})", None), ("zm.asin(0.9 * zm.tanh({s}))", None),
    ("zm.acos(0.9 * zm.tanh({s}))", None), ("zm.atanh(0.9 * zm.tanh({s}))", None),
    ("zm.acosh({s} * {s} + 1.5)", None), ("zm.log2({s} * {s} + 1)", None),
    ("zm.log10({s} * {s} + 1)", None), ("zm.exp2({s})", lambda s: abs(s) < 4),
    ("zm.cbrt({s} * {s} + 1)", None), ("zm.pow({s} * {s} + 1, 1.5)", None),
    ("zm.fabs({s})", away), ("abs({s})", away), ("zm.degrees({s}) / 60", None),
    ("zm.radians({s})", None), ("zm.ldexp({s}, 2)", None),
    ("zm.fmod({s}, 0.7)", lambda s: frac_away(s, 0.7)),
    ("zm.remainder({s}, 0.7)", lambda s: frac_away(s, 0.7)),
    ("zm.frexp({s})[0]", lambda s: away(s) and frac_away(np.log2(abs(s)), 1.0)),
    ("zm.modf({s})[0]", lambda s: frac_away(s, 1.0)), ("{s} ** 2", None), ("-{s}", None),
    ("({s} * {s} + 1) ** 0.5", None), ("zm.log(zm.exp({s}) + 1)", lambda s: abs(s) < 4),
]
SCALAR_FNS2 = [
    ("zm.atan2({s}, {t})", lambda s, t: away(math.hypot(s, t)) and (abs(s) > MARGIN or t > MARGIN)),
    ("zm.hypot({s}, {t})", lambda s, t: away(math.hypot(s, t))),
    ("zm.hypot({s}, {t}, {s})", lambda s, t: away(math.hypot(s, t))),
    ("zm.fsum([{s}, {t}, {s}])", None), ("zm.prod([{s}, {t}, 2.0])", None),
    ("zm.dist([{s}, {t}], [{t}, 1.0])", lambda s, t: away(math.hypot(s - t, t - 1.0))),
    ("zm.copysign({s}, {t})", lambda s, t: away(s) and away(t)),
    ("max({s}, {t})", lambda s, t: away(s - t)), ("min({s}, {t})", lambda s, t: away(s - t)),
    ("{s} * {t}", None), ("{s} + {t}", None), ("{s} - {t}", None), ("{s} / ({t} * {t} + 1)", None),
    ("({t} * {t} + 1) ** {s}", lambda s, t: abs(s) < 3), ("zm.pow({t} * {t} + 1, {s})", lambda s, t: abs(s) < 3),
]


def _scalar_source(b, real=True):
    """A scalar: a pool scalar, or an element read out of an array (a sparse read)."""
    names = [n for n in reversed(b.pool) if is_number(b.val(n)) and (is_real(b.val(n)) or not real)]
    if names and b.coin(0.7):
        return b.choice(names)
    a = b.pick(lambda v: is_arr(v) and (is_real(v) or not real))
    av = b.val(a)
    return b.emit("item", "%s[%s]" % (a, ", ".join(str(b.choice(range(-n, n))) for n in av.shape)), True)


def op_scalar(b):
    s = _scalar_source(b)
    if b.coin(0.65):
        tmpl, guard = b.choice(SCALAR_FNS)
        if guard is not None and not guard(float(b.val(s))):
            raise Reject
        text = tmpl.format(s=s)
    else:
        tmpl, guard = b.choice(SCALAR_FNS2)
        t = b.choice([n for n in b.pool if is_number(b.val(n)) and is_real(b.val(n))] +
                     ["0.5", "1.5"] + b.ints)
        sv, tv = float(b.val(s)), float(b.ns[t]) if t in b.ns else float(t)
        if b.coin():
            s, t, sv, tv = t, s, tv, sv
        if guard is not None and not guard(sv, tv):
            raise Reject
        text = tmpl.format(s=s, t=t)
    b.emit("scalar", text, False)


CMATH = [("zc.exp({z})", lambda z: abs(z) < 4), ("zc.sin({z})", lambda z: abs(z.imag) < 3),
         ("zc.cos({z})", lambda z: abs(z.imag) < 3), ("zc.sqrt({z})", off_cut),
         ("zc.log({z})", off_cut), ("zc.phase({z})", off_cut), ("abs({z})", away),
         ("{z}.conjugate()", None), ("{z}.real", None), ("{z}.imag", None), ("{z} * {z}", None),
         ("zc.tanh({z})", lambda z: abs(z.imag) < 1)]


def op_cmath(b):
    z = _scalar_source(b, real=False)
    if is_real(b.val(z)):
        raise Reject
    tmpl, guard = b.choice(CMATH)
    if guard is not None and not guard(complex(b.val(z))):
        raise Reject
    b.emit("cmath", tmpl.format(z=z), False)


def op_complexify(b):
    a = b.pick(lambda v: (is_arr(v) or is_scalar(v)) and is_real(v))
    av = b.val(a)
    other = b.pick(lambda v: is_real(v) and (is_arr(v) or is_scalar(v)) and
                   quietly(np.broadcast_shapes, np.shape(av), np.shape(v)))
    form = b.choice(["{a} + 1j * {o}", "{a} * (0.5 - 1.5j)", "np.exp(1j * {a})",
                     "{a} * np.exp(1j * {o})", "1j * {a} - {o}", "{a}.astype(complex)"])
    b.emit("complex", form.format(a=a, o=other), False)


def op_decomplexify(b):
    z = b.pick(lambda v: (is_arr(v) or is_scalar(v)) and not is_real(v))
    zv = b.val(z)
    form = b.choice(["np.real({z})", "np.imag({z})", "{z}.real", "{z}.imag", "np.abs({z}) ** 2",
                     "np.abs({z})", "({z} * np.conj({z})).real", "np.angle({z})"])
    if "abs({z})" in form.replace(") ** 2", ")X") and not away(zv):
        raise Reject
    if "abs({z})" in form and not away(zv):
        raise Reject
    if "angle" in form and not off_cut(zv):
        raise Reject
    b.emit("decomplex", form.format(z=z), False)


def op_if(b):
    """Control flow on a value: both branches give the same shape."""
    s = _scalar_source(b)
    sv = float(b.val(s))
    t = b.choice(["0", "0.5", "-0.5"])
    if not away(sv - float(t)):
        raise Reject
    a = b.pick(lambda v: is_arr(v) or is_scalar(v))
    r = b.fresh()
    lines = ["if %s > %s:" % (s, t),
             "    %s = %s" % (r, b.choice(["np.sin({a}) * {s}", "{a} * {a}", "{a} + {s}"])),
             "else:",
             "    %s = %s" % (r, b.choice(["{a} - {s}", "np.cos({a})", "{a} * 2.0"]))]
    b.commit("if", [ln.format(a=a, s=s) for ln in lines], [r], False)


def op_loop(b):
    """A Python loop reading rows one at a time (sparse reads in sequence)."""
    a = b.pick(lambda v: is_arr(v) and v.shape[0] <= 4)
    r = b.fresh()
    body = b.choice(["{r} = {r} * 0.5 + np.tanh({a}[i])", "{r} = {r} + {a}[i] * {a}[-1 - i]",
                     "{r} = {r} + {a}[i] * i"])
    lines = ["%s = %s" % (r, b.choice(["0.0", "%s[0]" % a])),
             "for i in range(%s.shape[0]):" % a, "    " + body.format(r=r, a=a)]
    b.commit("loop", lines, [r], False)


def op_outer_ufunc(b):
    a = b.pick(lambda v: is_arr(v) and is_real(v) and v.ndim == 1)
    c = b.pick(lambda v: is_arr(v) and is_real(v) and v.ndim == 1)
    av, cv = b.val(a), b.val(c)
    fn = b.choice(["np.add.outer", "np.subtract.outer", "np.multiply.outer", "np.maximum.outer",
                   "np.minimum.outer", "np.hypot.outer", "np.logaddexp.outer", "np.arctan2.outer"])
    diff = np.subtract.outer(av, cv)
    if fn in ("np.maximum.outer", "np.minimum.outer") and not away(diff):
        raise Reject
    if fn in ("np.hypot.outer", "np.arctan2.outer") and not (away(av) and away(cv)):
        raise Reject
    if fn == "np.arctan2.outer" and not np.all(cv > MARGIN):
        raise Reject
    b.emit("outer", "%s(%s, %s)" % (fn, a, c), fn in ("np.add.outer", "np.subtract.outer",
                                                        "np.multiply.outer"))


def op_api(b):
    """zygcy's own API inside the program: nested gradients (closing over outer
    tracked values), forward/back, withgradient, checkpointed."""
    a = b.pick(lambda v: is_arr(v) and is_real(v))
    av = b.val(a)
    o = b.pick(lambda v: is_real(v) and (is_arr(v) or is_scalar(v)) and
               quietly(np.broadcast_shapes, av.shape, np.shape(v)))
    form = b.choice([
        "zygcy.gradient(lambda t: np.sum(np.sin(t * {o})), {a})[0]",
        "zygcy.gradient(lambda t: np.sum(t * t * {o}), {a})[0]",
        "zygcy.gradient(lambda t, q: np.sum(np.tanh(t) * q), {a}, {o})[1]",
        "zygcy.forward(lambda t: np.sin(t) * {o}, {a})[0]",
        "zygcy.forward(lambda t: np.sin(t) * t, {a})[1](np.cos({o}) + 0 * {a})[0]",
        "zygcy.withgradient(lambda t: np.sum(np.cos(t) * {o}), {a})[1][0]",
        "zygcy.withgradient(lambda t: np.sum(np.cos(t) * {o}), {a})[0]",
        "zygcy.checkpointed(lambda p, q: np.sin(p) * q, {a}, {o})",
        "zygcy.derivative(lambda t: np.sum(np.exp(0.3 * t * {a})), 0.5)",
    ])
    b.emit("api", form.format(a=a, o=o), False)


def op_iterate(b):
    """Python iteration over tracked arrays (rows are sparse reads) and stacking."""
    a = b.pick(lambda v: is_arr(v) and v.shape[0] <= 4)
    av = b.val(a)
    forms = ["sum({a})", "sum(reversed({a}))", "np.stack(list({a}))", "np.stack([r * 2 for r in {a}])",
             "np.stack([r * i for i, r in enumerate({a})], axis=-1)"]
    if av.ndim == 1 and is_real(av) and distinct(av):
        forms += ["max({a})", "min({a})", "np.stack(sorted({a}))"]
    b.emit("iterate", b.choice(forms).format(a=a), False)


def op_stack_scalars(b):
    s = _scalar_source(b, real=False)
    t = _scalar_source(b, real=False)
    form = b.choice(["np.stack([{s}, {t}, {s}])", "np.hstack([{s}, {t}])", "np.stack([{s} * {t}, {t}])"])
    b.emit("stack_scalars", form.format(s=s, t=t), True)


def op_methods(b):
    a = b.pick(is_arr)
    av = b.val(a)
    nd = av.ndim
    forms = ["{a}.swapaxes(0, -1)", "{a}.take([0, 0], axis=0)", "{a}.repeat(2, axis=0)",
             "{a}.cumprod()", "{a}.flatten()[::-1]", "{a}.conj().T", "{a}.sum(axis=0)",
             "{a}.prod(axis=-1)", "{a}.mean(axis=0, keepdims=True)", "{a}.squeeze()",
             "{a}.dot({a}.T)" if nd <= 2 else "{a}.sum()", "{a}.reshape(-1)[{a}.argmax()]"]
    if nd >= 2:
        forms += ["{a}.diagonal()", "{a}.trace()"]
    if is_real(av):
        forms += ["{a}.clip(-0.8, 0.8)", "{a}.max(axis=0)", "{a}.min()", "{a}.var(axis=-1)"]
    form = b.choice(forms)
    if "clip" in form and not away(np.abs(av) - 0.8):
        raise Reject
    if ("argmax" in form or ".max(" in form or ".min(" in form) and not extremes_unique(
            np.real(av), 0 if ".max(" in form else None):
        raise Reject
    b.emit("methods", form.format(a=a), "clip" not in form and "conj" not in form and
           "max" not in form and "min" not in form and "var" not in form)


def op_sort_inplace(b):
    t = _target(b, lambda v: is_arr(v) and is_real(v))
    tv = b.val(t)
    ax = b.choice(range(-tv.ndim, tv.ndim))
    if not distinct(tv, ax):
        raise Reject
    b.commit("sort_inplace", ["%s.sort(axis=%d)" % (t, ax)], [], False, writes=[t])


def op_add_at(b):
    """np.add.at / np.subtract.at into a tracked array: repeated indices accumulate."""
    t = _target(b)
    tv = b.val(t)
    n = tv.shape[0]
    idx = [b.choice(range(-n, n)) for _ in range(b.choice([1, 2, 3, 4]))]
    region = tv[idx].shape
    real_target = is_real(tv)
    names = [m for m in reversed(b.pool) if m != t and (not real_target or is_real(b.val(m))) and
             quietly(lambda v: np.broadcast_to(v, region).shape == region, b.val(m))]
    value = b.choice(names) if names and b.coin(0.8) else "1.5"
    fn = b.choice(["np.add.at", "np.subtract.at"])
    b.commit("add_at", ["%s(%s, %s, %s)" % (fn, t, lit(idx), value)], [], True, writes=[t])


OPS = [
    (8, op_unary), (8, op_binary), (5, op_reduce), (2, op_cumulative), (3, op_reshape),
    (2, op_transpose), (3, op_dims), (3, op_rearrange), (1, op_sort), (2, op_select),
    (3, op_join), (1, op_split), (3, op_einsum), (3, op_contract), (1, op_tensordot),
    (1, op_multi_dot), (3, op_linalg), (2, op_fft), (7, op_getitem), (2, op_item),
    (3, op_setitem), (2, op_inplace), (5, op_fanout), (4, op_scalar), (1, op_cmath),
    (2, op_complexify), (2, op_decomplexify), (2, op_if), (1, op_loop), (1, op_outer_ufunc),
    (2, op_api), (2, op_iterate), (1, op_stack_scalars), (2, op_methods), (1, op_sort_inplace),
    (2, op_add_at),
]
OP_TABLE = [maker for w, maker in OPS for _ in range(w)]


# ---------------------------------------------------------------------------
# Arguments and outputs

SHAPES = [(3,), (4,), (2, 3), (3, 3), (3, 2), (1, 3), (3, 1), (2, 2), (2, 3, 3), (2, 1, 3),
          (3, 2, 2)]


def _array_src(shape, cplx):
    s = "rng.standard_normal(%s)" % lit(shape)
    return "%s + 1j * %s" % (s, s) if cplx else s


def _leaf_src(ch):
    return _array_src(ch.choice(SHAPES), ch.coin(0.2))


def _scalar_term(b, n):
    """A real scalar summarising the value of n."""
    v = b.val(n)
    if not is_real(v):
        b.analytic = False
    if is_arr(v):
        if is_real(v):
            return b.choice(["np.sum({v})", "np.sum({v} * {v})", "{v}.sum()", "np.mean({v})",
                             "np.sum(np.sin({v}))"]).format(v=n)
        return b.choice(["np.sum(np.abs({v}) ** 2)", "np.sum({v}.real)", "np.sum({v}).imag",
                         "np.sum({v} * np.conj({v})).real", "np.real(np.vdot({v}, {v}))"]).format(v=n)
    if is_real(v):
        return b.choice(["{v}", "{v} * {v}"]).format(v=n)
    return b.choice(["abs({v}) ** 2", "{v}.real", "np.imag({v})"]).format(v=n)


def _output(b):
    sinks = [n for n in b.pool if not b.used[n]]
    if not sinks:
        sinks = [b.pool[-1]]
    # sparse reads after all dense uses of some array
    extra = []
    arrays = [n for n in b.pool if is_arr(b.val(n))]
    if arrays and b.coin(0.35):
        a = b.choice(arrays)
        av = b.val(a)
        for _ in range(b.choice([1, 2])):
            idx = ", ".join(str(b.choice(range(-n, n))) for n in av.shape)
            extra.append("%s[%s]" % (a, idx) if is_real(av) else "%s[%s].real" % (a, idx))
    style = b.choice(["scalar", "scalar", "scalar", "tuple", "dict"])
    if style == "scalar":
        return " + ".join([_scalar_term(b, n) for n in sinks] + extra)
    parts = [n if b.coin(0.6) else _scalar_term(b, n) for n in sinks[:3]]
    rest = [_scalar_term(b, n) for n in sinks[3:]] + extra
    if rest:
        parts.append(" + ".join(rest))
    if style == "tuple":
        return "(%s)" % "".join(p + ", " for p in parts)
    return "{%s}" % ", ".join("%r: %s" % ("y%d" % i, p) for i, p in enumerate(parts))


@st.composite
def programs(draw, min_ops=2, max_ops=15):
    """A random program (see the module docstring), from hypothesis choices."""
    return generate(Chooser(draw), min_ops, max_ops)


def seeded_program(seed, min_ops=2, max_ops=15):
    """The random program of a seed, every choice uniform."""
    return generate(Chooser(seed=seed), min_ops, max_ops)


def generate(ch, min_ops=2, max_ops=15):
    seed = ch.int(0, 2 ** 16)
    params, srcs, pool, ints, body = [], [], [], [], []
    for i in range(ch.int(1, 3)):
        params.append("x%d" % i)
        srcs.append(_leaf_src(ch))
        pool.append("x%d" % i)
    if ch.coin(0.25):
        params.append("c")
        srcs.append("float(rng.standard_normal())")
        pool.append("c")
    if ch.coin(0.1):
        params.append("z")
        srcs.append("complex(rng.standard_normal(), rng.standard_normal())")
        pool.append("z")
    if ch.coin(0.25):
        params.append("k")
        srcs.append(str(ch.int(0, 2)))
        ints.append("k")
    if ch.coin(0.2):
        params.append("d")
        entries = []
        for key in ("a", "b")[:ch.int(1, 2)]:
            entries.append("%r: %s" % (key, _leaf_src(ch)))
            body.append("d%s = d[%r]" % (key, key))
            pool.append("d" + key)
        if ch.coin():
            entries.append("'s': float(rng.standard_normal())")
            body.append("ds = d['s']")
            pool.append("ds")
        srcs.append("{%s}" % ", ".join(entries))
    if ch.coin(0.15):
        params.append("t")
        srcs.append("(%s, float(rng.standard_normal()))" % _leaf_src(ch))
        body.append("t0, t1 = t")
        pool += ["t0", "t1"]
    b = Builder(ch, seed, params, srcs, pool, ints, body)
    n_ops = ch.int(min_ops, max_ops)
    attempts = 0
    while len(b.ops) < n_ops and attempts < 4 * n_ops:
        attempts += 1
        try:
            b.choice(OP_TABLE)(b)
        except Reject:
            pass
    ret = _output(b)
    return Program(seed, params, srcs, b.lines, ret, b.analytic, b.ops)


# ---------------------------------------------------------------------------
# The checks


def _inner(a, b):
    """Re <a, b> = Re sum(conj(a) * b); None is zero."""
    if a is None or b is None:
        return 0.0
    return np.sum(np.real(np.conj(a) * b))


def _float_leaf(v):
    return isinstance(v, (float, complex, np.floating, np.complexfloating)) or (
        isinstance(v, np.ndarray) and v.dtype.kind in "fc")


def _random_like(v, rng):
    d = rng.standard_normal(np.shape(v))
    if np.iscomplexobj(v):
        d = d + 1j * rng.standard_normal(np.shape(v))
    return d if isinstance(v, np.ndarray) else d.item()


def _outputs_inner(u, y_plus, y_minus, scale):
    yp, _ = flatten(y_plus)
    ym, _ = flatten(y_minus)
    return sum(float(_inner(s, (np.asarray(p) - np.asarray(m)) * scale))
               for s, p, m in zip(u, yp, ym) if s is not None)


def _shifted(leaves, tree, v, h):
    return unflatten(tree, [x + h * d if d is not None else copy.deepcopy(x)
                            for x, d in zip(leaves, v)])


def _fd(f, leaves, tree, u, v, eps):
    """<u, J v> by central differences with step eps."""
    return _outputs_inner(u, f(*_shifted(leaves, tree, v, eps)),
                          f(*_shifted(leaves, tree, v, -eps)), 1 / (2 * eps))


def _close(analytic, numeric, err, what, src, measured="<back(u), v>"):
    tol = 1e-6 * max(1.0, abs(analytic), abs(numeric)) + 10 * err
    if not abs(analytic - numeric) <= tol:
        raise AssertionError(
            "%s: zygcy gives %s = %r, %s give %r (difference %.3g, tolerance %.3g) "
            "for the program\n%s" % (what, measured, analytic, "finite differences" if "step" not in what
                                     else "the complex step", numeric, abs(analytic - numeric),
                                     tol, src))


def check_function(f, args, src="", seed=0, n_cotangents=2, n_directions=2, complex_step=False,
                   second_order=False):
    """Check zygcy's pullback of f at args (any structures) against finite differences.

    For random output cotangents u and input directions v, <back(u), v> must
    equal <u, J v>: by Richardson-extrapolated central differences, by forward
    mode (jvp along v), by the complex step too when complex_step, and with second_order the VJP of the
    VJP is checked the same way (zygcy.forward called inside the function
    being differentiated). Also checks zygcy's value against the plain run,
    gradient shapes, real gradients for real inputs, and untouched inputs.
    """
    rng = np.random.default_rng(seed)
    leaves, tree = flatten(args)
    saved = copy.deepcopy(args)
    y_plain = f(*copy.deepcopy(args))
    y, back = zygcy.forward(f, *args)
    yl, ytree = flatten(y)
    pl, _ = flatten(y_plain)
    assert len(yl) == len(pl), "zygcy's output structure differs from the plain run:\n" + src
    for a, p in zip(yl, pl):
        np.testing.assert_allclose(np.asarray(a), np.asarray(p), rtol=1e-9, atol=1e-12,
                                   err_msg="zygcy's value differs from the plain run of\n" + src)
    us = []
    pushed = []         # (direction, jvp's tangent leaves): pushed again all at once below
    for _ in range(n_cotangents):
        u = [_random_like(v, rng) if _float_leaf(v) else None for v in yl]
        us.append(u)
        grads = back(unflatten(ytree, u))
        gl = flatten_like(tree, grads, what="gradient")
        for x, g in zip(leaves, gl):
            if g is None or not _float_leaf(x):
                continue
            assert np.shape(g) == np.shape(x), "gradient of shape %s for an input of shape %s in\n%s" % (
                np.shape(g), np.shape(x), src)
            assert not (is_real(x) and not is_real(g)), "complex gradient for a real input in\n" + src
        for _ in range(n_directions):
            v = [_random_like(x, rng) if _float_leaf(x) else None for x in leaves]
            analytic = sum(float(_inner(g, d)) for g, d in zip(gl, v) if d is not None)
            n1 = _fd(f, leaves, tree, u, v, EPS)
            n2 = _fd(f, leaves, tree, u, v, 2 * EPS)
            _close(analytic, (4 * n1 - n2) / 3, abs(n1 - n2), "first order", src)
            # forward mode along the same direction: <u, J v> = <J^T u, v>
            _, dy = zygcy.jvp(f, tuple(args), tuple(unflatten(tree, v)))
            dyl = flatten_like(ytree, dy, what="tangent")
            tangent = sum(float(_inner(s, t)) for s, t in zip(u, dyl) if s is not None and t is not None)
            _close(tangent, (4 * n1 - n2) / 3, abs(n1 - n2), "first order (forward mode)", src,
                   measured="<u, jvp(f, x, v)>")
            pushed.append((v, dyl))
            if complex_step and all(is_real(a) for a in pl):
                h = 1e-30
                ycs = f(*_shifted(leaves, tree, v, 1j * h))
                ycl, _ = flatten(ycs)
                cs = sum(float(np.sum(np.asarray(s) * np.imag(np.asarray(p)))) / h
                         for s, p in zip(u, ycl) if s is not None)
                _close(analytic, cs, 0.0, "first order (complex step)", src)
    # the same directions through one forward pass together, as hessian and forward_jacobian push them
    try:
        check_batched(f, tuple(args), pushed)
    except AssertionError as e:
        raise AssertionError("%s\nin\n%s" % (e, src)) from None
    for x, s in zip(leaves, flatten(saved)[0]):
        np.testing.assert_array_equal(x, s, err_msg="zygcy changed an input of\n" + src)
    if second_order:
        u = us[0]
        w = [_random_like(x, rng) if _float_leaf(x) else None for x in leaves]

        def vjp_along_w(*a):
            _, bk = zygcy.forward(f, *a)
            gs = flatten_like(tree, bk(unflatten(ytree, u)), what="gradient")
            total = 0.0
            for g, d in zip(gs, w):
                if g is not None and d is not None:
                    total = total + _inner(g, d)
            return total

        check_function(vjp_along_w, args, src="(second order: <back(u), w> of)\n" + src,
                       seed=seed + 1, n_cotangents=1, n_directions=2)
    return True


def check_program(prog, second_order=False):
    f, args = prog.build()
    return check_function(f, args, src=prog.source(), seed=prog.seed,
                          complex_step=prog.analytic and _all_real(args),
                          second_order=second_order)


def _all_real(args):
    leaves, _ = flatten(args)
    return all(is_real(x) for x in leaves if _float_leaf(x))
