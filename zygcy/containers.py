"""Containers: taking structured values apart into leaves and putting them back.

The engine only ever sees leaves (numbers and arrays). Everything that has
structure is flattened here on the way in and rebuilt here on the way out, for
inputs, outputs, seeds and gradients alike:

* tuples, lists, dicts (and subclasses such as ``OrderedDict`` and
  ``defaultdict``, rebuilt with their own type), ``collections.deque``
  (its gradient is a deque), ``types.MappingProxyType`` (its gradient is a
  dict), namedtuples, dataclasses (frozen or not) and ``None``;
* types a library registers with ``register_container``;
* *records*: instances of other classes (a model object, say) that hold
  numbers or arrays in their attributes, directly or inside containers
  (``obj.params = {"w": 2.0}``). They are taken apart into their instance
  attributes and rebuilt as a shallow copy of the original (never of a
  tracked value) whose attributes are then all replaced, without running
  ``__init__``; their gradient is a dict of the attributes' gradients
  (``{"params": {"w": ...}}``). Class attributes are shared by every
  instance, so, like globals, they are constants.

Which objects count as records is decided so that nothing changes silently:
functions, classes, modules, arrays and array-likes (anything speaking
numpy's ``__array__`` protocols, such as sparse matrices and data frames),
enums and exceptions are leaves; and an object none of whose attributes hold
a number or an array (a random generator, a file, a logger) is passed through
untouched, the very same object. An object that refers back to itself
cannot be taken apart and raises an error that says so. Nesting may be of
any depth.

The leaves of arguments (``input_leaf``) are differentiated if they are
numbers (ints, floats, complex, numpy scalars, ``fractions.Fraction`` and
``decimal.Decimal``, which keep their exact arithmetic) or arrays of numbers
(of any integer, float or complex dtype; ``array.array`` of a numeric
typecode is given to ``f`` as an ndarray and its gradient is an ndarray).
Bools, strings, dates, functions and objects without numbers are constants:
their gradient is None. Every leaf that holds numbers zygcy cannot
differentiate correctly raises a TypeError saying what to pass instead:
``np.matrix`` (``*`` is a matrix product: pass ``np.asarray(m)`` and use
``@``), masked arrays (the mask would be ignored: pass ``x.filled(0.0)``),
other ndarray subclasses that redefine arithmetic or indexing, arrays of
dtype object holding numbers (``x.astype(float)``), structured arrays,
sets holding numbers, ranges, iterators and generators (``list(it)``),
and numeric array-likes such as data frames, scipy.sparse matrices and other
libraries' tensors (``np.asarray(x)``, ``x.toarray()``).

>>> leaves, tree = flatten({"a": 1.0, "b": (2.0, 3.0)})
>>> leaves
[1.0, 2.0, 3.0]
>>> unflatten(tree, [10.0, 20.0, 30.0])
{'a': 10.0, 'b': (20.0, 30.0)}
"""
import array
import collections
import collections.abc
import copy
import dataclasses
import enum
import functools
import numbers
import types

import numpy as np

from ._core import Tracked

__all__ = ["flatten", "unflatten", "unflatten_grads", "flatten_like", "register_container",
           "is_differentiable", "input_leaf", "holds_numbers", "map_leaves"]


class _Handler:
    """How one kind of container is taken apart and rebuilt."""
    __slots__ = ("name", "children", "build", "build_grad", "keyed", "record")

    def __init__(self, name, children, build, build_grad, keyed=False, record=False):
        self.name = name
        self.children = children        # obj -> (list of children, aux)
        self.build = build              # (aux, children) -> obj
        self.build_grad = build_grad    # (aux, child gradients) -> gradient of obj
        self.keyed = keyed              # aux holds the keys; a seed may be a dict omitting some
        self.record = record            # a record: only worth taking apart if it holds numbers


_registry = {}


def register_container(cls, children, build, build_grad=None):
    """Declare how instances of ``cls`` are taken apart and rebuilt (like JAX's
    pytree registry).

    Registered types take precedence over every built-in rule, so this is also
    how a library says that its type is a leaf or a record of its own kind.

    Args:
      cls: the type (exactly this type; subclasses are registered separately).
      children: ``obj -> (list_of_children, aux)``; ``aux`` is anything
        (hashable or not) needed to rebuild.
      build: ``(aux, children) -> obj``.
      build_grad: ``(aux, gradients) -> gradient``; by default ``build``. Each
        gradient is None where no gradient reached that child.

    Example:
      >>> class Pair:
      ...     def __init__(self, a, b): self.a, self.b = a, b
      >>> register_container(Pair, lambda p: ([p.a, p.b], None), lambda aux, ch: Pair(*ch))
      >>> from zygcy import gradient
      >>> g, = gradient(lambda p: p.a * p.b, Pair(2.0, 5.0))
      >>> (g.a, g.b)
      (5.0, 2.0)
    """
    if not isinstance(cls, type):
        raise TypeError("register_container(cls, ...): cls must be a class, got %s"
                        % type(cls).__name__)
    if not callable(children) or not callable(build) or not (build_grad is None or callable(build_grad)):
        raise TypeError("register_container(%s, children, build, build_grad): children, build "
                        "and build_grad must be functions" % cls.__name__)
    _registry[cls] = _Handler(cls.__name__, children, build, build_grad or build)


# ---------------------------------------------------------------------------
# Built-in kinds of container

def _namedtuple_handler(cls):
    return _Handler(cls.__name__, lambda t: (list(t), None),
                    lambda aux, ch: cls(*ch), lambda aux, ch: cls(*ch))


def _dataclass_handler(cls):
    names = [f.name for f in dataclasses.fields(cls)]
    init_names = [f.name for f in dataclasses.fields(cls) if f.init]

    def children(obj):
        return [getattr(obj, n) for n in names], None

    def build(aux, ch):
        vals = dict(zip(names, ch))
        obj = cls(**{n: vals[n] for n in init_names})
        for n in names:
            if n not in init_names:
                object.__setattr__(obj, n, vals[n])     # works for frozen dataclasses too
        return obj

    def build_grad(aux, ch):
        # A gradient is not a valid instance (its fields may be None), so no __init__.
        obj = object.__new__(cls)
        for n, g in zip(names, ch):
            object.__setattr__(obj, n, g)
        return obj

    return _Handler(cls.__name__, children, build, build_grad)


def _dict_build_grad(aux, ch):
    # Zygote's rule: the gradient of a dict holds the keys that were read.
    return {k: g for k, g in zip(aux, ch) if g is not None}


def _dict_subclass_handler(cls):
    # aux = (keys, the original object); rebuilt as a shallow copy of the
    # original (so OrderedDict stays ordered, a defaultdict keeps its factory,
    # instance attributes survive), refilled through dict's own methods.
    def children(d):
        return list(d.values()), (list(d.keys()), d)

    def refill(aux, items):
        new = _shallow_copy(aux[1])
        dict.clear(new)
        dict.update(new, items)
        return new

    def build(aux, ch):
        return refill(aux, zip(aux[0], ch))

    def build_grad(aux, ch):
        return refill(aux, [(k, g) for k, g in zip(aux[0], ch) if g is not None])

    return _Handler(cls.__name__, children, build, build_grad, keyed=True)


def _shallow_copy(obj):
    """A shallow copy of the caller's (plain) ``obj``, to be refilled. Never ``obj``
    itself: a class whose ``__copy__`` returns ``self`` (a singleton, say) is
    copied by hand, so that rebuilding never changes the caller's object."""
    new = copy.copy(obj)
    if new is not obj:
        return new
    cls = type(obj)
    try:
        new = cls.__new__(cls)
        if hasattr(obj, "__dict__"):
            new.__dict__.update(obj.__dict__)
    except Exception:
        new = obj
    if new is obj:
        raise TypeError(
            "copying this %s gives back the object itself, so zygcy cannot give f a copy "
            "holding tracked values without changing yours; declare how it is taken apart "
            "and rebuilt with zygcy.register_container(%s, ...)" % (cls.__name__, cls.__name__))
    return new


def _list_subclass_handler(cls):
    def build(aux, ch):
        new = _shallow_copy(aux)
        list.clear(new)
        list.extend(new, ch)
        return new

    return _Handler(cls.__name__, lambda t: (list(t), t), build, build)


def _tuple_subclass_handler(cls):
    def build(aux, ch):
        new = tuple.__new__(cls, ch)
        if hasattr(aux, "__dict__"):
            new.__dict__.update(aux.__dict__)
        return new

    return _Handler(cls.__name__, lambda t: (list(t), t), build, build)


register_container(tuple, lambda t: (list(t), None), lambda aux, ch: tuple(ch))
register_container(list, lambda t: (list(t), None), lambda aux, ch: list(ch))
register_container(dict, lambda d: (list(d.values()), list(d.keys())),
                   lambda aux, ch: dict(zip(aux, ch)), _dict_build_grad)
_registry[dict].keyed = True
register_container(type(None), lambda n: ([], None), lambda aux, ch: None)
# A deque is a list that keeps its maxlen; its gradient is a deque too.
register_container(collections.deque, lambda d: (list(d), d.maxlen),
                   lambda aux, ch: collections.deque(ch, aux))
# A read-only view of a dict: f receives a view of a new dict; the gradient is a dict.
register_container(types.MappingProxyType, lambda d: (list(d.values()), (list(d.keys()), None)),
                   lambda aux, ch: types.MappingProxyType(dict(zip(aux[0], ch))),
                   lambda aux, ch: _dict_build_grad(aux[0], ch))
_registry[types.MappingProxyType].keyed = True


# ---------------------------------------------------------------------------
# Records: instances of other classes, taken apart into their attributes

# Objects of these types are never records, whatever attributes they have.
_NOT_RECORDS = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                types.MethodType, types.BuiltinMethodType, functools.partial, property,
                classmethod, staticmethod, np.ndarray, np.generic, np.dtype, Tracked,
                str, bytes, bytearray, numbers.Number, enum.Enum, BaseException,
                set, frozenset, range, slice, array.array)

# Speaking one of numpy's array protocols makes an object an array-like (a
# sparse matrix, a data frame, a masked array): its attributes are internals.
_ARRAY_PROTOCOLS = ("__array__", "__array_interface__", "__array_struct__", "__array_ufunc__",
                    "__array_function__", "__array_priority__")


def _attr_names(cls):
    """The slot names a class declares, through its bases (without __dict__ and __weakref__)."""
    names = []
    for klass in reversed(cls.__mro__):
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for s in slots:
            if s not in ("__dict__", "__weakref__") and s not in names:
                if s.startswith("__") and not s.endswith("__"):
                    s = "_%s%s" % (klass.__name__.lstrip("_"), s)    # name-mangled slot
                names.append(s)
    return names


def _record_handler(cls):
    slots = _attr_names(cls)
    simple_new = cls.__new__ is object.__new__

    def children(obj):
        names = list(getattr(obj, "__dict__", {}))
        names += [s for s in slots if s not in names and hasattr(obj, s)]
        return [getattr(obj, n) for n in names], (names, obj)

    def build(aux, ch):
        names, original = aux
        # A copy made without __init__: the object may need arguments to be
        # made, or do work on creation; its attributes are all set below.
        new = object.__new__(cls) if simple_new else _shallow_copy(original)
        for n, v in zip(names, ch):
            object.__setattr__(new, n, v)
        return new

    def build_grad(aux, ch):
        return {n: g for n, g in zip(aux[0], ch) if g is not None}

    return _Handler(cls.__name__, children, build, build_grad, keyed=True, record=True)


def _is_record_type(cls):
    if issubclass(cls, _NOT_RECORDS) or cls.__module__ == "builtins":
        return False
    if any(hasattr(cls, p) for p in _ARRAY_PROTOCOLS):
        return False
    return "__dict__" in dir(cls) or bool(_attr_names(cls))


_leaf_types = {float, int, complex, bool, str, np.ndarray, np.float64, Tracked}   # known leaves


def _register_leaf(cls):
    """Declare that instances of ``cls`` are leaves (zygcy's own Params, for one)."""
    _leaf_types.add(cls)


def _handler(x):
    cls = type(x)
    h = _registry.get(cls)
    if h is not None:
        return h
    if cls in _leaf_types:
        return None
    if isinstance(x, tuple):
        h = _namedtuple_handler(cls) if hasattr(cls, "_fields") else _tuple_subclass_handler(cls)
    elif isinstance(x, dict):
        h = _dict_subclass_handler(cls)
    elif isinstance(x, list):
        h = _list_subclass_handler(cls)
    elif dataclasses.is_dataclass(cls):
        h = _dataclass_handler(cls)
    elif _is_record_type(cls):
        h = _record_handler(cls)
    else:
        _leaf_types.add(cls)
        return None
    _registry[cls] = h
    return h


# ---------------------------------------------------------------------------
# Flattening and rebuilding
#
# The walks below keep their own stacks instead of recursing, so a value nested
# deeper than Python's recursion limit (a long linked list of tuples, say) is
# handled like any other.

class TreeDef:
    """The structure of a flattened value: a handler, its aux data and children."""
    __slots__ = ("handler", "aux", "children")

    def __init__(self, handler, aux, children):
        self.handler = handler
        self.aux = aux
        self.children = children

    def __repr__(self):
        if self.handler is None:
            return "*"
        return "%s(%s)" % (self.handler.name, ", ".join(map(repr, self.children)))


LEAF = TreeDef(None, None, ())


def flatten(x):
    """``(leaves, treedef)``: the leaves of ``x`` in a fixed order, and its structure.

    The same object reached twice (two list items, two attributes) is taken
    apart twice, so each occurrence gets its own leaves and gradient. Any
    depth of nesting works.
    """
    leaves = []
    h = _handler(x)
    if h is None:
        leaves.append(x)
        return leaves, LEAF
    return leaves, _flatten(x, h, leaves)


def _flatten(x, h, leaves):
    # One frame per container being taken apart:
    # [object, handler, aux, children, index of the next child, child trees, first leaf].
    on_path = set()     # ids of the containers on the stack (alive, so their ids are stable)
    stack = []
    _open(x, h, leaves, stack, on_path)
    while True:
        frame = stack[-1]
        ch, i = frame[3], frame[4]
        if i < len(ch):
            frame[4] = i + 1
            c = ch[i]
            hc = _handler(c)
            if hc is None:
                leaves.append(c)
                frame[5].append(LEAF)
            else:
                _open(c, hc, leaves, stack, on_path)
            continue
        stack.pop()
        obj, h, aux, _, _, trees, start = frame
        on_path.discard(id(obj))
        if h.record and not any(holds_numbers(v) for v in leaves[start:]):
            # Holds no numbers: pass the object itself through, untouched.
            del leaves[start:]
            leaves.append(obj)
            tree = LEAF
        else:
            tree = TreeDef(h, aux, trees)
        if not stack:
            return tree
        stack[-1][5].append(tree)


def _open(x, h, leaves, stack, on_path):
    if id(x) in on_path:
        raise ValueError(
            "this %s object refers back to itself, so zygcy cannot take it apart into numbers and "
            "arrays; pass the parts to differentiate as arguments, or declare how it is "
            "taken apart with zygcy.register_container(%s, ...)" % (h.name, h.name))
    on_path.add(id(x))
    ch, aux = h.children(x)
    stack.append([x, h, aux, ch, 0, [], len(leaves)])


def unflatten(tree, leaves):
    """Rebuild a value of structure ``tree`` from ``leaves``."""
    return _unflatten(tree, iter(leaves), grad=False)


def unflatten_grads(tree, grads):
    """Rebuild gradients: like ``unflatten``, but a part with no gradient at all is
    None, dicts keep only the keys that received one, records give a dict of
    their attributes' gradients, and dataclasses are built without running
    their ``__init__``."""
    return _unflatten(tree, iter(grads), grad=True)


def _unflatten(tree, it, grad):
    if tree.handler is None:
        return next(it)
    stack = [[tree, 0, []]]         # [tree, index of the next child, the children rebuilt]
    while True:
        frame = stack[-1]
        node, i = frame[0], frame[1]
        if i < len(node.children):
            frame[1] = i + 1
            c = node.children[i]
            if c.handler is None:
                frame[2].append(next(it))
            else:
                stack.append([c, 0, []])
            continue
        stack.pop()
        h, ch = node.handler, frame[2]
        if not grad:
            v = h.build(node.aux, ch)
        elif all(g is None for g in ch) and not (h.keyed and not h.record):
            v = None
        else:
            v = h.build_grad(node.aux, ch)
        if not stack:
            return v
        stack[-1][2].append(v)


def flatten_like(tree, x, what="seed"):
    """The leaves of ``x`` where ``x`` has structure ``tree``; a None in ``x``
    stands for a whole subtree with no cotangent, dicts may omit keys, and a
    dataclass or record may be given as a dict of its fields' values."""
    out = []
    todo = [(tree, x)]
    while todo:
        tree, x = todo.pop()
        if tree.handler is None:
            out.append(x)
        elif x is None:
            out.extend([None] * _count(tree))
        else:
            todo.extend(reversed(_match(tree, x, what)))
    return out


def _count(tree):
    """The number of leaves of ``tree``."""
    n, todo = 0, [tree]
    while todo:
        t = todo.pop()
        if t.handler is None:
            n += 1
        else:
            todo.extend(t.children)
    return n


def _keys(tree):
    """The keys of a dict-like or record tree."""
    if tree.handler is _registry.get(dict):
        return tree.aux
    return tree.aux[0]


# What a structure given by the user mirrors: a seed mirrors the output, a tangent
# (forward mode) and a gradient the arguments.
_MIRRORS = {"tangent": "argument", "gradient": "argument"}


def _match(tree, x, what):
    """(child tree, part of x) pairs, for x standing for a value of structure tree."""
    h = tree.handler
    of = _MIRRORS.get(what, "output")
    if isinstance(x, dict):
        keys = _keys(tree) if h.keyed else _field_names(tree, h)
        if keys is not None:
            unknown = [k for k in x if k not in keys]
            if unknown:
                raise ValueError("the %s has the key %r, which the %s it stands for does not "
                                 "have; give the %s the structure of the %s"
                                 % (what, unknown[0], h.name, what, of))
            return [(c, x.get(k)) for k, c in zip(keys, tree.children)]
    hx = _handler(x)
    if hx is None:
        raise ValueError("the %s has a leaf (a %s) where the %s has a %s; give the %s the "
                         "structure of the %s" % (what, type(x).__name__, of, h.name, what, of))
    ch, _ = hx.children(x)
    if len(ch) != len(tree.children):
        raise ValueError("the %s is a %s of %d items, but the %s has %d; give the %s the "
                         "structure of the %s" % (what, hx.name, len(ch), of, len(tree.children), what, of))
    return list(zip(tree.children, ch))


def _field_names(tree, h):
    """Field names of a dataclass or namedtuple tree (so a dict can stand for it)."""
    try:
        proto = h.build_grad(tree.aux, [None] * len(tree.children))
    except Exception:
        return None
    if dataclasses.is_dataclass(proto):
        return [f.name for f in dataclasses.fields(proto)]
    if isinstance(proto, tuple) and hasattr(proto, "_fields"):
        return list(proto._fields)
    return None


def leaf_place(tree, i):
    """Where leaf ``i`` of ``tree`` sits, as Python would write it: ``"[0]['w'].b"``."""
    steps, node = [], tree
    while node.handler is not None:
        for k, c in enumerate(node.children):
            n = _count(c)
            if i < n:
                steps.append(_step(node, k))
                node = c
                break
            i -= n
        else:
            break
    return "".join(steps)


def _step(node, k):
    h = node.handler
    if h.keyed:
        key = _keys(node)[k]
        return ".%s" % key if h.record and isinstance(key, str) else "[%r]" % (key,)
    names = _field_names(node, h)
    if names is not None and k < len(names):
        return ".%s" % names[k]
    return "[%d]" % k


def map_leaves(fn, x):
    """``x`` with ``fn`` applied to every leaf."""
    leaves, tree = flatten(x)
    return unflatten(tree, [fn(v) for v in leaves])


# ---------------------------------------------------------------------------
# Leaves: which are differentiated, which are constants, and which hold numbers
# that zygcy cannot differentiate (those raise: their gradient would otherwise
# be silently wrong or lost). This is the one place where that is decided; the
# API calls ``input_leaf`` for every leaf of every argument (the common leaves,
# floats, ints and numeric ndarrays, are recognised by the API itself first).

def is_differentiable(v):
    """True for the leaves zygcy tracks: numbers (not bools) and numeric arrays."""
    if type(v) is Tracked:
        return True
    if isinstance(v, bool) or isinstance(v, np.bool_):
        return False
    if isinstance(v, (int, float, complex)):
        return True
    if isinstance(v, (np.ndarray, np.generic)):
        return v.dtype.kind in "iufc"
    return isinstance(v, numbers.Number)        # fractions.Fraction, decimal.Decimal, ...


class InputError(TypeError):
    """An argument's leaf that zygcy cannot differentiate; ``problem`` says why and what
    to do, as the end of a sentence whose subject is the leaf's place."""

    def __init__(self, leaf, problem):
        TypeError.__init__(self, "the argument " + problem)
        self.leaf = leaf
        self.problem = problem


_ARRAY_TYPECODES = "bBhHiIlLqQfd"       # array.array typecodes of numbers


def input_leaf(v):
    """How the leaf ``v`` of an argument enters a differentiation: ``(value, tracked)``.

    ``value`` is what ``f`` receives in its place, ``v`` itself or ``v``
    converted (an ``array.array`` of numbers becomes an ndarray, a
    ``np.memmap`` a plain ndarray view); ``tracked`` says whether it is
    differentiated. Raises ``InputError`` (a TypeError) for kinds whose
    gradient would otherwise be wrong or silently lost.

    >>> input_leaf(2.0), input_leaf("relu"), input_leaf(True)
    ((2.0, True), ('relu', False), (True, False))
    >>> import array
    >>> input_leaf(array.array("d", [1.0, 2.0]))
    (array([1., 2.]), True)
    >>> input_leaf({1.0, 2.0})
    Traceback (most recent call last):
    ...
    zygcy.containers.InputError: the argument is a set holding numbers; ...
    """
    if is_differentiable(v):
        if isinstance(v, np.ndarray) and type(v) is not np.ndarray:
            return _array_subclass(v), True
        return v, True
    if isinstance(v, array.array) and v.typecode in _ARRAY_TYPECODES:
        return np.array(v), True
    problem = _lost_numbers(v)
    if problem is not None:
        raise InputError(v, problem)
    return v, False


def holds_numbers(v):
    """True if the leaf ``v`` is differentiable or holds numbers that zygcy refuses
    to drop silently (so a record holding it is taken apart, not passed through)."""
    return (is_differentiable(v) or (isinstance(v, array.array) and v.typecode in _ARRAY_TYPECODES)
            or (_lost_numbers(v) is not None and not _is_iterator(v)))


_subclass_ok = {}       # ndarray subclass -> True if it keeps ndarray's semantics

# Redefining one of these makes an ndarray subclass compute differently from an
# ndarray, which is what zygcy's rules assume.
_ARRAY_SEMANTICS = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
                    "__truediv__", "__rtruediv__", "__pow__", "__rpow__", "__matmul__",
                    "__rmatmul__", "__getitem__", "__setitem__", "__iter__", "__len__",
                    "__array_ufunc__", "__array_function__", "__array_wrap__", "__getattribute__")


def _array_subclass(v):
    """The value to track for an array of an ndarray subclass, or an InputError."""
    if hasattr(type(v), "__zygcy_substitute__"):
        return v                        # a stand-in (zygcy's Param): the API substitutes it
    if isinstance(v, np.matrix):
        raise InputError(v, (
            "is a numpy.matrix, on which * is a matrix product and every result stays 2-d; "
            "zygcy follows ndarray semantics, so its values and gradients would differ from "
            "numpy's. Pass np.asarray(m) and use @ for matrix products (m @ m), and ** with "
            "np.linalg.matrix_power"))
    if isinstance(v, np.ma.MaskedArray):
        raise InputError(v, (
            "is a masked array; zygcy's rules do not follow masks, so the gradient would "
            "flow through the masked entries too. Pass x.filled(0.0) (masked entries then "
            "count as 0), or pass x.data and write the mask into f: "
            "np.where(mask, 0.0, x)"))
    if isinstance(v, np.memmap):
        return v.view(np.ndarray)
    cls = type(v)
    ok = _subclass_ok.get(cls)
    if ok is None:
        own = cls.__mro__[:cls.__mro__.index(np.ndarray)]        # the subclass and its mixins
        ok = _subclass_ok[cls] = not any(n in k.__dict__ for k in own for n in _ARRAY_SEMANTICS)
    if not ok:
        raise InputError(v, (
            "is a %s, an ndarray subclass that redefines how it computes; zygcy's rules "
            "follow ndarray semantics, so its values and gradients could differ. Pass "
            "np.asarray(x) (a plain ndarray)" % cls.__name__))
    return v


def _is_iterator(v):
    return isinstance(v, types.GeneratorType) or (
        isinstance(v, collections.abc.Iterator) and type(v).__module__ in ("builtins", "itertools"))


def _lost_numbers(v):
    """For a leaf that is not differentiable: why a gradient through it would be lost
    (the end of a sentence, with the fix), or None if it holds no numbers."""
    if v is None or isinstance(v, (str, bytes, bool, np.generic, enum.Enum, types.FunctionType)):
        return None
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "O":
            if any(is_differentiable(e) for e in v.flat):
                return ("is an array of dtype object holding numbers; zygcy differentiates "
                        "arrays of numbers. Pass x.astype(float) (or astype(complex))")
        elif v.dtype.names is not None:
            if any(v.dtype[n].base.kind in "iufc" for n in v.dtype.names):
                return ("is a structured array; pass its fields as separate arrays, e.g. "
                        "{name: x[name] for name in x.dtype.names} (the gradient is then a "
                        "dict of arrays)")
        return None                     # bools, strings, dates: constants
    if isinstance(v, (set, frozenset)):
        if any(is_differentiable(e) for e in v):
            return ("is a %s holding numbers; a set has no order, so it cannot hold their "
                    "gradients. Pass sorted(s) or list(s) (the gradient is then a list)"
                    % type(v).__name__)
        return None
    if isinstance(v, range):
        if len(v):
            return ("is a range (its numbers are ints, which zygcy differentiates, but a range "
                    "cannot hold their gradients). Pass list(r) to differentiate with respect "
                    "to them (the gradient is then a list); for a range of indices, make it "
                    "inside f or let f read it from the enclosing scope")
        return None
    if _is_iterator(v):
        return ("is an iterator (a %s); zygcy cannot see the numbers it yields without "
                "using it up. Pass list(it) (the gradient is then a list), or create it "
                "inside f if what it yields needs no gradient" % type(v).__name__)
    cls = type(v)
    if any(hasattr(cls, p) for p in _ARRAY_PROTOCOLS):
        dtype = _array_like_dtype(v)
        if dtype is not None:
            if dtype.kind not in "iufc":
                return None
            if cls.__module__.startswith("scipy.sparse"):
                fix = "x.toarray() (a dense ndarray; @ and sums work on it the same)"
            elif hasattr(v, "to_numpy"):
                fix = "x.to_numpy() (an ndarray)"
            else:
                fix = "np.asarray(x) (an ndarray)"
            return ("is an array-like (a %s) that zygcy does not differentiate: its own "
                    "operations run on plain numbers, so the gradient would be lost. Pass %s; "
                    "if it is data that needs no gradient, let f read it from the enclosing "
                    "scope instead of passing it: gradient(lambda w: f(w, X), w)"
                    % (cls.__name__, fix))
        try:
            attrs = list(vars(v).values())
        except TypeError:
            attrs = []
        if any(is_differentiable(a) for a in attrs):
            return ("is an object (a %s) that speaks numpy's array protocols, so zygcy does not take it "
                    "apart into its attributes; declare how with "
                    "zygcy.register_container(%s, ...)" % (cls.__name__, cls.__name__))
    return None


def _array_like_dtype(v):
    """The dtype of an array-like's data, or None if it has none."""
    try:
        dtype = getattr(v, "dtype", None)
        if isinstance(dtype, np.dtype):
            return dtype
        if any(hasattr(type(v), p) for p in ("__array__", "__array_interface__", "__array_struct__")):
            return np.asarray(v).dtype
    except Exception:
        pass
    return None
