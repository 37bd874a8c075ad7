"""Structured inputs and outputs: every container kind, seeds, records, and
containers built and mutated inside the differentiated function."""
import collections
import dataclasses
import functools
import types
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zygcy import forward, gradient, register_container, value, withgradient
from zygcy.containers import flatten, flatten_like, unflatten, unflatten_grads
from zygcy.testing import gradcheck


@dataclasses.dataclass
class Point:
    x: float
    y: float


@dataclasses.dataclass(frozen=True)
class FrozenLayer:
    W: np.ndarray
    b: np.ndarray
    activation: str = "tanh"


@dataclasses.dataclass
class WithDerived:
    a: float
    twice: float = dataclasses.field(init=False)

    def __post_init__(self):
        self.twice = 2 * self.a


class Pt(NamedTuple):
    x: float
    y: float


class Model:
    """A plain class holding arrays: a record."""

    def __init__(self, W, b, name="model"):
        self.W = W
        self.b = b
        self.name = name

    def __call__(self, x):
        return self.W @ x + self.b


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


# ---------------------------------------------------------------------------
# The examples

def test_dict_gradient_holds_the_keys_read():
    assert gradient(lambda d: d["a"] * d["b"], {"a": 2.0, "b": 3.0, "c": 4.0}) == ({"a": 3.0, "b": 2.0},)


def test_tuple():
    assert gradient(lambda t: t[0] * t[1], (2.0, 3.0)) == ((3.0, 2.0),)


def test_dataclass_point():
    g, = gradient(lambda p: (p.x ** 2 + p.y ** 2) ** 0.5, Point(3.0, 4.0))
    assert type(g) is Point
    assert g.x == pytest.approx(0.6) and g.y == pytest.approx(0.8)


# ---------------------------------------------------------------------------
# Each container kind, explicitly

def test_list_and_nested():
    g, = gradient(lambda v: v[0] * v[1][0] + v[1][1]["k"], [2.0, (3.0, {"k": 5.0, "unused": 1.0})])
    assert g == [3.0, (2.0, {"k": 1.0})]
    assert type(g) is list and type(g[1]) is tuple


def test_none_leaves_and_unused_parts():
    g = gradient(lambda a, n, s, t: a * 2, 1.0, None, "text", (None, True))
    assert g == (2.0, None, None, None)


def test_ints_stay_ints_in_containers():
    assert gradient(lambda d: d["n"] * 3, {"n": 2}) == ({"n": 3},)


def test_namedtuple():
    g, = gradient(lambda p: p.x * p.y, Pt(2.0, 5.0))
    assert g == Pt(5.0, 2.0) and type(g) is Pt


def test_namedtuple_partial_gradient_keeps_none():
    g, = gradient(lambda p: p.x * 3, Pt(2.0, 5.0))
    assert g == Pt(3.0, None)


def test_frozen_dataclass_with_arrays():
    layer = FrozenLayer(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -0.5]))
    x = np.array([1.0, -1.0])
    g, = gradient(lambda L: np.sum(np.tanh(L.W @ x + L.b)), layer)
    assert type(g) is FrozenLayer and g.activation is None
    h = np.tanh(layer.W @ x + layer.b)
    np.testing.assert_allclose(g.b, 1 - h ** 2)
    np.testing.assert_allclose(g.W, np.outer(1 - h ** 2, x))
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.W = None          # still frozen


def test_dataclass_init_false_field_is_its_own_leaf():
    g, = gradient(lambda w: w.a * w.twice, WithDerived(3.0))
    assert (g.a, g.twice) == (6.0, 3.0)


def test_ordered_dict_keeps_its_type():
    d = collections.OrderedDict([("b", 2.0), ("a", 3.0)])
    g, = gradient(lambda d: d["a"] * d["b"], d)
    assert type(g) is collections.OrderedDict and list(g) == ["b", "a"]
    assert g == {"a": 2.0, "b": 3.0}


def test_defaultdict_keeps_type_and_factory():
    d = collections.defaultdict(float, {"a": 2.0, "b": 3.0})
    g, = gradient(lambda d: d["a"] * d["b"] + d["missing"], d)
    assert type(g) is collections.defaultdict and g.default_factory is float
    assert dict(g) == {"a": 3.0, "b": 2.0}
    assert "missing" not in d          # the caller's dict is untouched


def test_custom_dict_list_and_tuple_subclasses():
    class Config(dict):
        pass

    class Row(list):
        pass

    class Pair(tuple):
        pass

    g = gradient(lambda c, r, p: c["k"] * r[1] * p[0], Config(k=2.0), Row([0.0, 3.0]), Pair((5.0, 1.0)))
    assert type(g[0]) is Config and g[0] == {"k": 15.0}
    assert type(g[1]) is Row and g[1] == [None, 10.0]
    assert type(g[2]) is Pair and g[2] == (6.0, None)


def test_record_object_gives_dict_of_attribute_gradients():
    m = Model(np.array([[1.0, 2.0]]), np.array([0.5]))
    x = np.array([3.0, 4.0])
    g, = gradient(lambda m: np.sum(m(x)), m)
    assert set(g) == {"W", "b"}
    np.testing.assert_allclose(g["W"], [[3.0, 4.0]])
    np.testing.assert_allclose(g["b"], [1.0])


def test_record_is_copied_not_changed():
    m = Model(2.0, 1.0)

    def f(m):
        m.W = m.W * 10          # changes the copy f received
        m.extra = 1.0
        return m.W + m.b

    assert gradient(f, m) == ({"W": 10.0, "b": 1.0},)
    assert m.W == 2.0 and not hasattr(m, "extra")


def test_record_with_slots():
    assert gradient(lambda s: s.a * s.b, Slotted(2.0, 5.0)) == ({"a": 5.0, "b": 2.0},)


def test_objects_without_numbers_pass_through_untouched():
    rng = np.random.default_rng(0)

    class Logger:
        def __init__(self):
            self.lines = []

    log = Logger()
    seen = []

    def f(x, r, lg, fn):
        seen.extend([r, lg, fn])
        lg.lines.append("called")
        return fn(x) * 2

    assert gradient(f, 3.0, rng, log, abs) == (2.0, None, None, None)
    assert seen[0] is rng and seen[1] is log and seen[2] is abs
    assert log.lines == ["called"]


def test_array_likes_are_leaves():
    sp = pytest.importorskip("scipy.sparse")
    m = sp.csr_matrix(np.eye(2))
    leaves, _ = flatten([m, 1.0])
    assert leaves[0] is m


def test_self_referencing_object_raises():
    class Node:
        pass

    n = Node()
    n.value = 1.0
    n.parent = n
    with pytest.raises(ValueError, match="refers back to itself.*register_container"):
        gradient(lambda n: n.value, n)
    lst = [1.0]
    lst.append(lst)
    with pytest.raises(ValueError, match="this list object refers back to itself"):
        gradient(lambda v: v[0], lst)


def test_shared_object_is_taken_apart_at_each_place():
    p = Point(1.0, 2.0)
    g, = gradient(lambda pair: pair[0].x * pair[1].x, (p, p))
    assert g == (Point(1.0, None), Point(1.0, None))


def test_register_container():
    class Interval:
        def __init__(self, lo, hi):
            self.lo, self.hi = lo, hi

    register_container(Interval, lambda i: ([i.lo, i.hi], None),
                       lambda aux, ch: Interval(*ch),
                       lambda aux, ch: {"lo": ch[0], "hi": ch[1]})
    assert gradient(lambda i: i.hi - 2 * i.lo, Interval(1.0, 4.0)) == ({"lo": -2.0, "hi": 1.0},)


def test_register_container_checks_its_arguments():
    with pytest.raises(TypeError, match="cls must be a class"):
        register_container("Interval", lambda x: ([], None), lambda a, c: None)
    with pytest.raises(TypeError, match="must be functions"):
        register_container(Point, None, lambda a, c: None)


# ---------------------------------------------------------------------------
# Outputs and seeds

def test_structured_output_and_seed_with_none():
    y, back = forward(lambda a, b: {"s": a + b, "p": (a * b, Point(a, b))}, 2.0, 3.0)
    assert y == {"s": 5.0, "p": (6.0, Point(2.0, 3.0))}
    assert back({"s": 1.0, "p": (None, Point(None, 1.0))}) == (1.0, 2.0)
    assert back({"p": (1.0, None)}) == (3.0, 2.0)             # a dict seed may omit keys
    assert back(None) == (None, None)
    assert back({"s": 1.0, "p": None}) == (1.0, 1.0)


def test_dataclass_and_record_seeds_may_be_dicts():
    _, back = forward(lambda a: Point(a * 2, a * 3), 1.0)
    assert back({"y": 1.0}) == (3.0,)
    assert back(Point(1.0, None)) == (2.0,)
    _, back = forward(lambda a: Model(a * 2, a * 3), 1.0)
    assert back({"W": 1.0}) == (2.0,)
    assert back(Model(None, 1.0, None)) == (3.0,)


def test_seed_structure_errors():
    _, back = forward(lambda a: (a, a), 1.0)
    with pytest.raises(ValueError, match="the seed is a tuple of 3 items, but the output has 2"):
        back((1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match=r"the seed has a leaf \(a float\) where the output has a tuple"):
        back(1.0)
    _, back = forward(lambda a: {"u": a}, 1.0)
    with pytest.raises(ValueError, match="the seed has the key 'v'"):
        back({"v": 1.0})


def test_withgradient_structured():
    res = withgradient(lambda d: (d["x"] ** 2, {"note": "hi"}), {"x": 3.0})
    assert res.val == (9.0, {"note": "hi"})
    assert res.grad == ({"x": 6.0},)


def test_gradcheck_on_structured_arguments(rng):
    params = {"W": rng.standard_normal((3, 2)), "layers": [Point(1.5, -0.5), (rng.standard_normal(2),)]}

    def f(p, x):
        h = np.tanh(p["W"] @ x) * p["layers"][0].x
        return {"out": np.sum(h ** 2) + p["layers"][0].y * np.sum(p["layers"][1][0] * x)}

    assert gradcheck(f, params, rng.standard_normal(2))


def test_results_are_fresh(rng):
    x = rng.standard_normal(3)
    y, back = forward(lambda d: {"a": d["v"] * 1.0}, {"v": x})
    s = np.ones(3)
    g1 = back({"a": s})
    g1[0]["v"][0] = 100.0                   # mutating a result changes nothing else
    assert s[0] == 1.0
    g2 = back({"a": 2 * s})
    np.testing.assert_allclose(g2[0]["v"], 2.0)
    assert g1[0]["v"][0] == 100.0          # and a second call does not change the first result


# ---------------------------------------------------------------------------
# Containers built and mutated inside f

def test_building_and_mutating_containers_inside_f():
    def f(x, y):
        d = {}
        d["a"] = x * y
        d["a"] = d["a"] + x            # overwritten: the old value is not counted twice
        lst = []
        lst.append(d["a"])
        lst.extend([y, y])
        lst[1] = lst[1] * 3
        obj = Point(0.0, 0.0)
        obj.x = lst[0] + lst[1]
        return obj.x + lst[2]

    # (x y + x) + 3 y + y
    assert gradient(f, 2.0, 3.0) == (4.0, 6.0)


def test_kwargs_splat_and_closures():
    def inner(*, a, b, **rest):
        return a * b + rest["c"]

    def f(x, y):
        scale = lambda z: z * x           # a closure over a tracked value
        kw = {"a": x, "b": y, "c": scale(y)}
        return inner(**kw)

    assert gradient(f, 2.0, 3.0) == (6.0, 4.0)


def test_generators_map_zip_sorted_max():
    def f(xs):
        s = sum(a * b for a, b in zip(xs, reversed(xs)))
        s = s + sum(map(lambda v: v * v, xs))
        s = s + max(xs) + min(xs) + sorted(xs)[1]
        s = s + functools.reduce(lambda a, b: a * b, xs)
        return s

    xs = [1.0, 3.0, 2.0]
    g, = gradient(f, xs)
    # zip/reversed: 2*x_i*x_(n-1-i) summed -> d/dx = 2 x_rev ; squares 2x ; max=x1, min=x0, median=x2; product
    expect = [2 * 2.0 + 2 * 1.0 + 1 + 6.0, 2 * 3.0 + 2 * 3.0 + 1 + 2.0, 2 * 1.0 + 2 * 2.0 + 1 + 3.0]
    assert g == pytest.approx(expect)


def test_fan_out_accumulates():
    def f(p):
        v = p["v"]
        return v * v + v * 3 + sum([v] * 4)

    assert gradient(f, {"v": 2.0}) == ({"v": 11.0},)


def test_dict_of_arrays_model(rng):
    params = {"W": rng.standard_normal((2, 3)), "b": rng.standard_normal(2)}
    x = rng.standard_normal(3)
    g, = gradient(lambda p: np.sum(p["W"] @ x + p["b"]), params)
    np.testing.assert_allclose(g["W"], np.tile(x, (2, 1)))
    np.testing.assert_allclose(g["b"], np.ones(2))


def test_value_of_a_structure():
    def f(d):
        plain = value(d)
        assert type(plain["a"]) is float
        return d["a"] * plain["a"]

    assert gradient(f, {"a": 3.0}) == ({"a": 3.0},)


# ---------------------------------------------------------------------------
# Properties

_leaf = st.one_of(st.floats(-10, 10, allow_nan=False), st.integers(-5, 5), st.none(), st.text(max_size=2))


def _structures(leaf):
    return st.recursive(
        leaf,
        lambda kids: st.one_of(
            st.lists(kids, max_size=3),
            st.lists(kids, max_size=3).map(tuple),
            st.dictionaries(st.text(max_size=2), kids, max_size=3),
            st.tuples(kids, kids).map(lambda t: Pt(*t)),
            st.tuples(kids, kids).map(lambda t: Point(*t)),
        ),
        max_leaves=8)


@given(_structures(_leaf))
def test_flatten_unflatten_round_trip(x):
    leaves, tree = flatten(x)
    assert unflatten(tree, leaves) == x
    assert flatten_like(tree, x) == leaves


@given(_structures(st.floats(-3, 3, allow_nan=False)))
def test_gradients_keep_structure(x):
    def total(s):
        return sum((v * v for v in flatten(s)[0] if v is not None), 0.0)

    g, = gradient(total, x)
    leaves, tree = flatten(x)
    expected = unflatten_grads(tree, [2 * v if isinstance(v, float) else None for v in leaves])
    assert g == expected


# ---------------------------------------------------------------------------
# Deques, read-only dicts, records holding containers, copies, deep nesting

def test_deque_is_a_container():
    d = collections.deque([2.0, 3.0, 4.0], maxlen=3)
    seen = []

    def f(d):
        seen.append(d)
        d.append(d[0] * 10)             # drops d[0] (maxlen): the copy f received keeps its maxlen
        return d[0] * d[2]

    g, = gradient(f, d)
    assert type(seen[0]) is collections.deque and seen[0].maxlen == 3
    assert type(g) is collections.deque and g.maxlen == 3
    assert list(g) == [30.0, 20.0, None]       # d becomes [d1, d2, 10 d0]: d1 * 10 d0
    assert list(d) == [2.0, 3.0, 4.0]          # the caller's deque is untouched
    y, back = forward(lambda x: collections.deque([x, 2 * x]), 1.0)
    assert y == collections.deque([1.0, 2.0])
    assert back(collections.deque([1.0, 1.0])) == (3.0,)
    assert back([1.0, None]) == (1.0,)


def test_mappingproxy_is_a_container():
    m = types.MappingProxyType({"a": 2.0, "b": 3.0, "c": 4.0})
    g, = gradient(lambda m: m["a"] * m["b"], m)
    assert g == {"a": 3.0, "b": 2.0}


def test_records_holding_containers():
    class Holder:
        def __init__(self):
            self.params = {"w": 2.0, "layers": [Point(1.0, 3.0)]}
            self.name = "h"

    h = Holder()
    g, = gradient(lambda o: o.params["w"] * o.params["layers"][0].y, h)
    assert g == {"params": {"w": 3.0, "layers": [Point(None, 2.0)]}}
    ns = types.SimpleNamespace(params=collections.OrderedDict(w=np.array([1.0, 2.0])))
    g, = gradient(lambda o: np.sum(o.params["w"] ** 2), ns)
    np.testing.assert_array_equal(g["params"]["w"], [2.0, 4.0])


def test_class_attributes_are_constants():
    class WithDefault:
        params = {"w": 2.0}         # shared by all instances, like a global

        def __init__(self, b):
            self.b = b

    assert gradient(lambda o: o.params["w"] * o.b, WithDefault(5.0)) == ({"b": 2.0},)


def test_record_whose_copy_is_itself_is_not_changed():
    class Singleton:
        _it = None

        def __new__(cls):
            if cls._it is None:
                cls._it = object.__new__(cls)
            return cls._it

        def __copy__(self):
            return self

    s = Singleton()
    s.w = 2.0
    with pytest.raises(TypeError, match="copying this Singleton gives back the object itself.*register_container"):
        gradient(lambda o: o.w * 3.0, s)
    assert s.w == 2.0 and type(s.w) is float

    class SelfCopyDict(dict):
        def __copy__(self):
            return self

    d = SelfCopyDict(a=2.0)
    g, = gradient(lambda d: d["a"] * 3.0, d)
    assert type(g) is SelfCopyDict and g == {"a": 3.0}
    assert d == {"a": 2.0}


def test_record_copies_hold_no_tracked_value_of_the_caller():
    class WithCopy:
        def __new__(cls, *args):
            return object.__new__(cls)

        def __init__(self, w):
            self.w = w
            self.log = []

    m = WithCopy(2.0)
    g, = gradient(lambda o: o.w * o.w, m)
    assert g == {"w": 4.0}
    assert type(m.w) is float and m.log == []


def test_deep_nesting_round_trip():
    x = 1.0
    for i in range(5000):
        x = (x, {"k": [float(i)]})
    leaves, tree = flatten(x)
    assert len(leaves) == 5001
    y = unflatten(tree, [v * 2 for v in leaves])
    for i in reversed(range(5000)):
        assert y[1]["k"][0] == 2.0 * i
        y = y[0]
    assert y == 2.0
    assert flatten_like(tree, x) == leaves
    g = unflatten_grads(tree, [None] * len(leaves))
    for _ in range(5000):
        assert g[1] == {}           # a dict's gradient holds the keys that got one: none
        g = g[0]
    assert g is None


def test_leaf_place():
    from zygcy.containers import leaf_place

    _, tree = flatten(({"a": [1.0, Point(2.0, 3.0)]}, Model(4.0, 5.0)))
    assert [leaf_place(tree, i) for i in range(5)] == [
        "[0]['a'][0]", "[0]['a'][1].x", "[0]['a'][1].y", "[1].W", "[1].b"]
