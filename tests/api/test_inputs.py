"""Every kind of input leaf, and every kind of seed: each gets a correct gradient
(checked against finite differences or a hand value), None where it holds no
numbers, or an error that says what to pass instead -- never a wrong or
silently lost gradient (issue 8). The table in the module docstring of
``zygcy.containers`` lists the decisions."""
import array
import collections
import datetime
import decimal
import enum
import fractions
import itertools
import re
import types

import numpy as np
import pytest

from zygcy import forward, gradient, withgradient

from _grid import numerical_gradient

pytestmark = [pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),   # numpy's, on -x of uints
              pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")]


class Color(enum.Enum):
    RED = 1


# ---------------------------------------------------------------------------
# Inputs with a gradient: compared with finite differences (in float64)

_f_square = lambda x: np.sum(x * x)
_f_cube = lambda x: np.sum(x ** 3) + np.sum(x) * 2

FD_CASES = [
    ("float", 1.5, lambda x: x * x * x),
    ("float64 array", np.array([0.5, -1.0, 2.0]), _f_cube),
    ("float32 array", np.array([0.5, -1.0], np.float32), _f_cube),
    ("float16 array", np.array([0.5, -1.0], np.float16), _f_square),
    ("longdouble array", np.array([0.5, -1.0], np.longdouble), _f_cube),
    ("2-d array", np.array([[0.5, -1.0], [2.0, 3.0]]), lambda x: np.sum(np.tanh(x @ x))),
    ("0-d array", np.array(0.7), lambda x: np.sin(x) * x),
    ("np.float64", np.float64(0.7), lambda x: np.sin(x) * x),
    ("np.float32", np.float32(0.7), lambda x: x * x * 3),
    ("np.float16", np.float16(0.5), lambda x: x * x),
    ("np.longdouble", np.longdouble(0.7), lambda x: x * x * 3),
]


@pytest.mark.parametrize("name,x,f", FD_CASES, ids=[c[0] for c in FD_CASES])
def test_float_inputs_match_finite_differences(name, x, f):
    g, = gradient(f, x)
    want = numerical_gradient(f, x)
    low = np.asarray(x).dtype in (np.float16, np.float32)
    np.testing.assert_allclose(np.asarray(g, dtype=np.float64), want, rtol=2e-2 if low else 1e-6)
    # the gradient has the input's kind: an array of its shape and dtype, or a number
    if isinstance(x, np.ndarray):
        assert type(g) is np.ndarray and g.shape == x.shape and g.dtype == x.dtype
    else:
        assert np.ndim(g) == 0 and not isinstance(g, np.ndarray)
        assert type(g) is type(x)


# ---------------------------------------------------------------------------
# Inputs with exact (hand) gradients: ints, complex, unsigned, Fraction, ...

def _nested(depth, leaf):
    x = [leaf]
    for _ in range(depth):
        x = [x]
    return x


def _innermost(x):
    while isinstance(x, list) and len(x) == 1 and isinstance(x[0], list):
        x = x[0]
    return x


EXACT_CASES = [
    # name, input, f, expected gradient, expected type (or None)
    ("int", 3, lambda x: x * x, 6, int),
    ("complex", 1 + 2j, lambda x: abs(x) ** 2, 2 + 4j, complex),
    ("int64 array", np.array([1, 2]), _f_square, np.array([2, 4]), np.ndarray),
    ("int8 array", np.array([1, 2], np.int8), lambda x: np.sum(x * np.int8(100)), np.array([100, 100]), np.ndarray),
    ("int8 array, wide gradient", np.array([100, 2], np.int8), lambda x: np.sum(x * 2) * 100,
     np.array([200, 200]), np.ndarray),
    ("uint8 array, -x", np.array([1, 2], np.uint8), lambda x: np.sum(-x), np.array([-1, -1]), np.ndarray),
    ("uint8 array, -x[0]", np.array([1, 2], np.uint8), lambda x: -x[0], np.array([-1, 0]), np.ndarray),
    ("uint8 array, x*x", np.array([1, 2], np.uint8), _f_square, np.array([2, 4]), np.ndarray),
    ("uint16 array, reshape", np.array([1, 2], np.uint16), lambda x: -np.sum(x.reshape(2, 1)),
     np.array([-1, -1]), np.ndarray),
    ("uint32 array, concatenate", np.array([1, 2], np.uint32),
     lambda x: -np.sum(np.concatenate([x, x])), np.array([-2, -2]), np.ndarray),
    ("uint8 array, astype(float)", np.array([1, 2], np.uint8), lambda x: -np.sum(x.astype(float) ** 2),
     np.array([-2.0, -4.0]), np.ndarray),
    ("complex64 array", np.array([1 + 1j, 2], np.complex64), lambda x: np.sum(abs(x) ** 2),
     np.array([2 + 2j, 4], np.complex64), np.ndarray),
    ("np.int64", np.int64(3), lambda x: x * x, 6, np.int64),
    ("np.int8", np.int8(3), lambda x: x * x, 6, np.int64),
    ("np.uint8", np.uint8(3), lambda x: -x, -1, np.int64),
    ("np.uint64", np.uint64(3), lambda x: x * x, 6, None),
    ("np.complex64", np.complex64(1 + 2j), lambda x: abs(x) ** 2, 2 + 4j, np.complex64),
    ("np.complex128", np.complex128(1 + 2j), lambda x: abs(x) ** 2, 2 + 4j, np.complex128),
    ("Fraction", fractions.Fraction(3), lambda x: x * x, fractions.Fraction(6), fractions.Fraction),
    ("Fraction, division", fractions.Fraction(3), lambda x: x / fractions.Fraction(3) + x * x,
     fractions.Fraction(19, 3), fractions.Fraction),
    ("Decimal", decimal.Decimal(3), lambda x: x * x + x / decimal.Decimal(4) - 1, decimal.Decimal("6.25"),
     decimal.Decimal),
    ("deque", collections.deque([2.0, 3.0], maxlen=5), lambda d: d[0] * d[1],
     collections.deque([3.0, 2.0]), collections.deque),
    ("array.array d", array.array("d", [2.0, 3.0]), lambda a: a[0] * a[1], np.array([3.0, 2.0]), np.ndarray),
    ("array.array f", array.array("f", [2.0, 3.0]), lambda a: np.sum(a * a), np.array([4.0, 6.0]), np.ndarray),
    ("array.array i", array.array("i", [2, 3]), lambda a: a[0] * a[1], np.array([3, 2]), np.ndarray),
    ("array.array B", array.array("B", [2, 3]), lambda a: -np.sum(a), np.array([-1, -1]), np.ndarray),
    ("mappingproxy", types.MappingProxyType({"w": 2.0, "u": 1.0}), lambda m: m["w"] * 3.0, {"w": 3.0}, dict),
    ("str among numbers", [3.0, "a"], lambda x: x[0] * x[0], [6.0, None], list),
    ("object array of strings", [np.array(["a", "b"], dtype=object), 2.0], lambda x: x[1] * 2, [None, 2.0], list),
    ("record with a dict attribute", types.SimpleNamespace(params={"w": 2.0}, name="m"),
     lambda o: o.params["w"] * 3.0, {"params": {"w": 3.0}}, dict),
    ("nested 20000 deep, unused", _nested(20000, 1.0), lambda x: 1.0, None, None),
    ("linked list 3000 deep", None, None, None, None),           # see below
]


def _linked(n):
    x = None
    for i in range(n):
        x = (float(i), x)
    return x


def _linked_sum(x):
    s = 0.0
    while x is not None:
        s = s + x[0] * 2.0
        x = x[1]
    return s


@pytest.mark.parametrize("name,x,f,want,kind", EXACT_CASES, ids=[c[0] for c in EXACT_CASES])
def test_exact_gradients(name, x, f, want, kind):
    if name.startswith("linked list"):
        g, = gradient(_linked_sum, _linked(3000))
        n = 0
        while g is not None:
            assert g[0] == 2.0
            g, n = g[1], n + 1
        assert n == 3000
        return
    g, = gradient(f, x)
    if want is None:
        assert g is None
        return
    if kind is not None:
        assert type(g) is kind
    if isinstance(want, np.ndarray) and want.dtype.kind == "c":
        np.testing.assert_allclose(g, want, rtol=1e-6)
        assert g.dtype == want.dtype
    elif isinstance(want, np.ndarray):
        np.testing.assert_array_equal(g, want)
        if want.dtype.kind == "i":
            assert g.dtype.kind == "i"          # signed: an unsigned input's gradient can be negative
        assert g.shape == np.shape(x) or isinstance(x, array.array)
    else:
        assert g == want
    if isinstance(x, collections.deque):
        assert g.maxlen == x.maxlen


def test_nested_deep_with_a_gradient():
    x = _nested(20000, 2.0)
    g, = gradient(lambda x: _innermost(x)[0] * 3.0, x)
    assert _innermost(g) == [3.0]


def test_fraction_and_int_inputs_stay_exact():
    x = fractions.Fraction(1, 3)
    g = gradient(lambda x, n: x ** 2 * n, x, 4)
    assert g == (fractions.Fraction(8, 3), fractions.Fraction(1, 9))
    assert type(g[0]) is fractions.Fraction


def test_memmap_is_differentiated_as_an_array(tmp_path):
    m = np.memmap(tmp_path / "m.dat", dtype=np.float64, mode="w+", shape=(3,))
    m[:] = [1.0, 2.0, 3.0]
    g, = gradient(_f_square, m)
    assert type(g) is np.ndarray
    np.testing.assert_array_equal(g, [2.0, 4.0, 6.0])


def test_plain_ndarray_subclass_is_differentiated():
    class Tagged(np.ndarray):           # adds a method; computes as an ndarray
        def tag(self):
            return "t"

    x = np.array([1.0, 2.0]).view(Tagged)
    g, = gradient(_f_cube, x)
    np.testing.assert_allclose(g, numerical_gradient(_f_cube, x))


# ---------------------------------------------------------------------------
# Constants: no numbers in them, so no gradient (None)

def _fn(x):
    return x


CONSTANT_CASES = [
    ("bool", True),
    ("np.bool_", np.bool_(True)),
    ("bool array", np.array([True, False])),
    ("str", "relu"),
    ("bytes", b"raw"),
    ("str array", np.array(["a", "b"])),
    ("np.str_", np.str_("a")),
    ("np.datetime64", np.datetime64("2020-01-01")),
    ("datetime64 array", np.array(["2020-01-01"], "datetime64[D]")),
    ("timedelta64 array", np.array([1, 2], "timedelta64[s]")),
    ("datetime.datetime", datetime.datetime(2020, 1, 1)),
    ("None", None),
    ("function", _fn),
    ("enum", Color.RED),
    ("slice", slice(0, 2)),
    ("empty range", range(0)),
    ("set of str", {"a", "b"}),
    ("array.array u", array.array("u", "ab")),
    ("object holding no numbers", types.SimpleNamespace(name="x", tags=["a"])),
]


@pytest.mark.parametrize("name,c", CONSTANT_CASES, ids=[c[0] for c in CONSTANT_CASES])
def test_constants_get_no_gradient(name, c):
    seen = []

    def f(x, c):
        seen.append(c)
        return x * 2.0

    assert gradient(f, 3.0, c) == (2.0, None)
    assert seen[0] is c or np.array_equal(seen[0], c)      # received untouched


# ---------------------------------------------------------------------------
# Inputs holding numbers that zygcy cannot differentiate: an error with the fix

class LikeSeries:
    """A pandas-like array: speaks __array__, has its own operations."""

    def __init__(self, values):
        self.values = np.asarray(values)

    def __array__(self, dtype=None, copy=None):
        return self.values

    def __getitem__(self, i):
        return self.values[i]

    def to_numpy(self):
        return self.values


class Odd(np.ndarray):
    def __mul__(self, other):           # computes differently from an ndarray
        return np.ndarray.__add__(self, other)


class DualLike:
    """Speaks numpy's protocols (so it is not taken apart), holds a number."""
    __array_ufunc__ = None

    def __init__(self, v):
        self.v = v


def _sparse():
    sp = pytest.importorskip("scipy.sparse")
    return sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0]]))


ERROR_CASES = [
    ("np.matrix", lambda: np.matrix([[1.0, 2.0], [3.0, 4.0]]), r"numpy\.matrix.*np\.asarray\(m\) and use @"),
    ("masked array", lambda: np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0]), r"masked array.*x\.filled\(0\.0\)"),
    ("object array", lambda: np.array([1.0, 2.0], dtype=object), r"dtype object.*x\.astype\(float\)"),
    ("object array of Fractions", lambda: np.array([fractions.Fraction(1)], dtype=object), r"astype\(float\)"),
    ("structured array", lambda: np.array([(1.0, 2.0)], dtype=[("a", float), ("b", float)]),
     r"structured array.*x\[name\]"),
    ("set of floats", lambda: {1.0, 2.0}, r"set holding numbers.*sorted\(s\)"),
    ("frozenset of floats", lambda: frozenset({1.0, 2.0}), r"frozenset holding numbers.*list\(s\)"),
    ("range", lambda: range(1, 3), r"range.*list\(r\)"),
    ("generator", lambda: (v for v in [1.0, 2.0]), r"iterator \(a generator\).*list\(it\)"),
    ("map", lambda: map(float, [1, 2]), r"iterator \(a map\).*list\(it\)"),
    ("list iterator", lambda: iter([1.0, 2.0]), r"iterator.*list\(it\)"),
    ("itertools", lambda: itertools.repeat(1.0, 3), r"iterator.*list\(it\)"),
    ("pandas-like", lambda: LikeSeries([1.0, 2.0]), r"array-like \(a LikeSeries\).*x\.to_numpy\(\)"),
    ("scipy.sparse", _sparse, r"array-like \(a csr_matrix\).*x\.toarray\(\)"),
    ("ndarray subclass redefining *", lambda: np.array([1.0, 2.0]).view(Odd), r"Odd.*np\.asarray\(x\)"),
    ("array protocols, numeric attributes", lambda: DualLike(2.0), r"DualLike.*register_container"),
]


ITERATORS = ("generator", "map", "list iterator", "itertools")


@pytest.mark.parametrize("name,make,match", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_inputs_that_would_be_wrong_raise_with_the_fix(name, make, match):
    with pytest.raises(TypeError, match=r"gradient: argument 0 is .*" + match):
        gradient(lambda x: 1.0, make())
    # the same inside a structure, and inside a record
    with pytest.raises(TypeError, match=r"forward: argument 1 at \['a'\]\[1\] is "):
        forward(lambda x, d: x, 1.0, {"a": [2.0, make()]})
    with pytest.raises(TypeError, match=r"withgradient: argument 0 at \.data is "):
        withgradient(lambda o: 1.0, types.SimpleNamespace(data=make(), w=1.0))
    if name not in ITERATORS:
        # a record holding nothing else is taken apart too (its numbers are not dropped)
        with pytest.raises(TypeError, match=r"argument 0 at \.data is "):
            gradient(lambda o: 1.0, types.SimpleNamespace(data=make()))


def test_a_record_holding_only_an_iterator_passes_through():
    # What an iterator yields cannot be seen without using it up: a record that
    # holds one (a data loader, say) and no numbers is passed through untouched.
    loader = types.SimpleNamespace(batches=iter([1.0, 2.0]))
    seen = []
    assert gradient(lambda x, o: seen.append(o) or x * 2.0, 3.0, loader) == (2.0, None)
    assert seen[0] is loader


def test_errors_name_the_place_in_records_and_dataclasses():
    import dataclasses

    @dataclasses.dataclass
    class Layer:
        W: object
        b: float

    with pytest.raises(TypeError, match=r"argument 0 at \[1\]\.W is a numpy\.matrix"):
        gradient(lambda t: t[1].b, (1.0, Layer(np.matrix([[1.0]]), 0.5)))


# ---------------------------------------------------------------------------
# Seeds: checked against the output's structure, and each leaf's shape and kind

def test_array_seed_for_a_scalar_output_raises():
    _, back = forward(lambda x: x * 2.0, 3.0)
    with pytest.raises(ValueError, match=r"the seed has shape \(3,\), but the output is a float "
                                         r"\(shape \(\)\); give a number"):
        back(np.ones(3))


@pytest.mark.parametrize("seed,name", [({"a": 1}, "dict"), ("1", "str"), ([1.0], "list"),
                                       (object(), "object"), (np.array(["a"]), "ndarray")])
def test_seeds_of_the_wrong_kind_for_a_scalar_raise(seed, name):
    _, back = forward(lambda x: x * 2.0, 3.0)
    with pytest.raises((TypeError, ValueError), match="the seed (is a|has shape)"):
        back(seed)


def test_scalar_seed_kinds_accepted():
    _, back = forward(lambda x: x * 2.0, 3.0)
    assert back(1) == (2.0,)
    assert back(np.float32(1.0)) == (2.0,)
    assert back(np.array(1.0)) == (2.0,)
    assert back(fractions.Fraction(1, 2)) == (1.0,)


def test_list_seed_for_an_array_output_is_an_array():
    _, back = forward(lambda x: x * 2.0, np.ones(3))
    g, = back([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(g, [2.0, 4.0, 6.0])
    _, back = forward(lambda x: x * 2.0, np.ones((2, 2)))
    np.testing.assert_array_equal(back([[1, 0], [0, 1]])[0], [[2.0, 0.0], [0.0, 2.0]])


def test_bad_list_seeds_for_an_array_output_say_what_to_pass():
    _, back = forward(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"the seed has shape \(2,\), but the output is an array of "
                                         r"shape \(3,\); give an array of shape \(3,\)"):
        back([1.0, 2.0])
    with pytest.raises(TypeError, match=r"the seed is a list, but the output is an array of shape \(3,\)"):
        back(["a", "b", "c"])
    with pytest.raises(ValueError, match=r"the seed has shape \(\), but the output is an array"):
        back(1.0)


def test_seed_errors_name_the_place_in_a_structured_output():
    _, back = forward(lambda x: {"a": x * 2.0, "b": (x, "note")}, np.ones(2))
    with pytest.raises(ValueError, match=r"the seed at \['a'\] has shape \(3,\), but the output there "
                                         r"is an array of shape \(2,\)"):
        back({"a": np.ones(3)})
    with pytest.raises(ValueError, match=r"the seed at \['b'\]\[1\] is a float, but the output there is "
                                         r"a str, which has no derivative; give None"):
        back({"b": (None, 1.0)})
    g, = back({"a": [1.0, 1.0], "b": (np.ones(2), None)})
    np.testing.assert_array_equal(g, [3.0, 3.0])


def test_integer_seeds_do_not_wrap():
    x = np.array([1, 2], np.uint8)
    _, back = forward(lambda x: -x, x)
    for seed in (np.ones(2, np.uint8), np.ones(2, np.int8), np.array([True, True]), [1, 1]):
        g, = back(seed)
        np.testing.assert_array_equal(g, [-1, -1])
    _, back = forward(lambda x: -x[0], x)
    for seed in (np.uint8(1), 1, np.array(1, np.uint16)):
        np.testing.assert_array_equal(back(seed)[0], [-1, 0])
    big = np.array([2 ** 63 + 1], np.uint64)
    _, back = forward(lambda x: x * 1, np.array([1], np.uint64))
    np.testing.assert_allclose(back(big)[0], [2.0 ** 63])      # too big for int64: float


def test_seed_checks_do_not_change_nested_differentiation():
    # the inner seed is plain, the outer differentiation sees tracked cotangents
    def inner(y):
        _, back = forward(lambda x: x * y, 3.0)
        return back(y)[0]          # y * y

    assert gradient(inner, 2.0) == (4.0,)


# Arguments that are all floats or real float arrays take gradient's short path; the
# same function with its arguments in a tuple takes the general one. Each output kind
# must come out the same way from both: gradient, None or the same error.
SHORT_PATH_CASES = [
    ("scalar", lambda x: x * 2.0 + x * x, (1.5,)),
    ("constant output", lambda x: 3.0, (1.5,)),
    ("unused argument", lambda x, y: x * 2.0, (1.5, 2.0)),
    ("float64 output", lambda x: np.float64(2) * x, (np.float64(1.5),)),
    ("0-d array", lambda x: np.sum(x * x), (np.array(3.0),)),
    ("float32 array", lambda x: np.sum(x * x), (np.arange(3, dtype=np.float32),)),
    ("returns its input", lambda x: x, (2.0,)),
    ("returns a 0-d input", lambda x: x, (np.array(2.0),)),
    ("one cotangent for two arguments", lambda x, y: np.sum(x + y), (np.ones(2), np.ones(2))),
    ("bool output", lambda x: x > 1.0, (1.5,)),
    ("array output", lambda x: x * 2.0, (np.ones(3),)),
    ("complex output", lambda x: x * 1j, (1.5,)),
    ("tuple output", lambda x: (x, x), (1.5,)),
]


@pytest.mark.parametrize("name,f,args", SHORT_PATH_CASES, ids=[c[0] for c in SHORT_PATH_CASES])
def test_plain_float_arguments_agree_with_the_general_path(name, f, args):
    def via_tuple(t):
        return f(*t)
    try:
        want = gradient(via_tuple, tuple(args))[0]
    except Exception as e:
        with pytest.raises(type(e), match=re.escape(str(e)[:40])):
            gradient(f, *args)
    else:
        _check_short_path(f, args, want)


def _check_short_path(f, args, want):
    got = gradient(f, *args)
    want = (None,) * len(args) if want is None else want
    assert len(got) == len(args)
    for i, (g, w, x) in enumerate(zip(got, want, args)):
        if w is None:
            assert g is None
            continue
        assert type(g) is type(w) and np.shape(g) == np.shape(x) and np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(g, w, rtol=1e-6)

        def f_i(v, i=i):
            return float(f(*args[:i], v, *args[i + 1:]))
        np.testing.assert_allclose(g, numerical_gradient(f_i, x, h=1e-3), rtol=1e-5, atol=1e-6)
    # arrays handed out are the caller's: changing one leaves the other as it was
    arrays = [g for g in got if isinstance(g, np.ndarray)]
    if len(arrays) == 2:
        arrays[0][...] = 7.0
        assert not np.any(arrays[1] == 7.0)


# The gradients gradient returns are the caller's own: writing into one changes no
# other, no input and no later result (zygcy/_seeds.py fresh, and its fast path
# for plain inputs in the engine).

@pytest.mark.parametrize("n", [3, 40000])          # 40000: a sum's cotangent is a broadcast view
def test_gradients_are_the_callers_own(n):
    rng = np.random.default_rng(n)
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    keep_x, keep_y = x.copy(), y.copy()
    cases = [
        lambda a, b: np.sum(a + b),             # one cotangent handed to both
        lambda a, b: np.sum(a * b),             # the cotangent of a is b itself (lent)
        lambda a, b: np.sum(a) + np.mean(b),    # filled, or broadcast views
        lambda a, b: np.sum(a[::2]) + np.sum(b),  # a scattered cotangent
    ]
    for f in cases:
        ga, gb = gradient(f, x, y)
        assert ga is not gb
        assert ga.flags.writeable and gb.flags.writeable
        assert not np.shares_memory(ga, gb)
        assert not np.shares_memory(ga, x) and not np.shares_memory(ga, y)
        assert not np.shares_memory(gb, x) and not np.shares_memory(gb, y)
        before, first = gb.copy(), ga.copy()
        ga += 1000.0
        np.testing.assert_array_equal(gb, before)
        np.testing.assert_array_equal(x, keep_x)
        np.testing.assert_array_equal(y, keep_y)
        again = gradient(f, x, y)
        np.testing.assert_array_equal(again[0], first)
    # a float input keeps a float gradient; an unused one gives None
    assert gradient(lambda a, s: np.sum(a) * s, x, 2.0)[1] == pytest.approx(np.sum(x))
    assert gradient(lambda a, s: np.sum(a), x, 2.0)[1] is None
