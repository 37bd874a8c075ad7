"""Containers: taking structured values apart into leaves and putting them back.

The engine only ever sees leaves (numbers and arrays). Everything that has
structure is flattened here on the way in and rebuilt here on the way out, for
inputs, outputs, seeds and gradients alike:

* tuples, lists, dicts (and subclasses such as ``OrderedDict`` and
  ``defaultdict``, rebuilt with their own type), namedtuples, dataclasses
  (frozen or not) and ``None``;
* types a library registers with ``register_container``;
* *records*: instances of other classes (a model object, say) that hold
  numbers or arrays in their attributes. They are taken apart into their
  attributes and rebuilt as a copy, without running ``__init__``; their
  gradient is a dict of the attributes' gradients.

Which objects count as records is decided so that nothing changes silently:
functions, classes, modules, arrays and array-likes (anything speaking
numpy's ``__array__`` protocols, such as sparse matrices and data frames),
enums and exceptions are leaves; and an object none of whose attributes hold
a number or an array (a random generator, a file, a logger) is passed through
untouched, the very same object. An object that refers back to itself
cannot be taken apart and raises an error that says so.

>>> leaves, tree = flatten({"a": 1.0, "b": (2.0, 3.0)})
>>> leaves
[1.0, 2.0, 3.0]
>>> unflatten(tree, [10.0, 20.0, 30.0])
{'a': 10.0, 'b': (20.0, 30.0)}
"""
import copy
import dataclasses
import enum
import functools
import types

import numpy as np

from ._core import Tracked

__all__ = ["flatten", "unflatten", "unflatten_grads", "flatten_like", "register_container",
           "is_differentiable", "map_leaves"]


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
        new = copy.copy(aux[1])
        dict.clear(new)
        dict.update(new, items)
        return new

    def build(aux, ch):
        return refill(aux, zip(aux[0], ch))

    def build_grad(aux, ch):
        return refill(aux, [(k, g) for k, g in zip(aux[0], ch) if g is not None])

    return _Handler(cls.__name__, children, build, build_grad, keyed=True)


def _list_subclass_handler(cls):
    def build(aux, ch):
        new = copy.copy(aux)
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


# ---------------------------------------------------------------------------
# Records: instances of other classes, taken apart into their attributes

# Objects of these types are never records, whatever attributes they have.
_NOT_RECORDS = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                types.MethodType, types.BuiltinMethodType, functools.partial, property,
                classmethod, staticmethod, np.ndarray, np.generic, np.dtype, Tracked,
                str, bytes, bytearray, int, float, complex, enum.Enum, BaseException,
                set, frozenset, range, slice)

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
        new = object.__new__(cls) if simple_new else copy.copy(original)
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
    apart twice, so each occurrence gets its own leaves and gradient.
    """
    leaves = []
    return leaves, _flatten(x, leaves, [])


def _flatten(x, leaves, path):
    h = _handler(x)
    if h is None:
        leaves.append(x)
        return LEAF
    if any(p is x for p in path):
        raise ValueError(
            "this %s object refers back to itself, so zygcy cannot take it apart into numbers and "
            "arrays; pass the parts to differentiate as arguments, or declare how it is "
            "taken apart with zygcy.register_container(%s, ...)" % (h.name, h.name))
    ch, aux = h.children(x)
    path.append(x)
    start = len(leaves)
    tree = TreeDef(h, aux, [_flatten(c, leaves, path) for c in ch])
    path.pop()
    if h.record and not any(is_differentiable(v) for v in leaves[start:]):
        # Holds no numbers: pass the object itself through, untouched.
        del leaves[start:]
        leaves.append(x)
        return LEAF
    return tree


def unflatten(tree, leaves):
    """Rebuild a value of structure ``tree`` from ``leaves``."""
    it = iter(leaves)
    return _unflatten(tree, it, grad=False)


def unflatten_grads(tree, grads):
    """Rebuild gradients: like ``unflatten``, but a part with no gradient at all is
    None, dicts keep only the keys that received one, records give a dict of
    their attributes' gradients, and dataclasses are built without running
    their ``__init__``."""
    it = iter(grads)
    return _unflatten(tree, it, grad=True)


def _unflatten(tree, it, grad):
    if tree.handler is None:
        return next(it)
    ch = [_unflatten(c, it, grad) for c in tree.children]
    if not grad:
        return tree.handler.build(tree.aux, ch)
    if all(g is None for g in ch) and not (tree.handler.keyed and not tree.handler.record):
        return None
    return tree.handler.build_grad(tree.aux, ch)


def flatten_like(tree, x, what="seed"):
    """The leaves of ``x`` where ``x`` has structure ``tree``; a None in ``x``
    stands for a whole subtree with no cotangent, dicts may omit keys, and a
    dataclass or record may be given as a dict of its fields' values."""
    out = []
    _flatten_like(tree, x, out, what)
    return out


def _count(tree):
    return 1 if tree.handler is None else sum(_count(c) for c in tree.children)


def _keys(tree):
    """The keys of a dict-like or record tree."""
    if tree.handler.record or tree.handler is not _registry.get(dict):
        return tree.aux[0]
    return tree.aux


def _flatten_like(tree, x, out, what):
    if tree.handler is None:
        out.append(x)
        return
    if x is None:
        out.extend([None] * _count(tree))
        return
    h = tree.handler
    if isinstance(x, dict):
        keys = _keys(tree) if h.keyed else _field_names(tree, h)
        if keys is not None:
            unknown = [k for k in x if k not in keys]
            if unknown:
                raise ValueError("the %s has the key %r, which the %s it stands for does not "
                                 "have; give the %s the structure of the output"
                                 % (what, unknown[0], h.name, what))
            for k, c in zip(keys, tree.children):
                _flatten_like(c, x.get(k), out, what)
            return
    hx = _handler(x)
    if hx is None:
        raise ValueError("the %s has a leaf (a %s) where the output has a %s; give the %s the "
                         "structure of the output" % (what, type(x).__name__, h.name, what))
    ch, _ = hx.children(x)
    if len(ch) != len(tree.children):
        raise ValueError("the %s is a %s of %d items, but the output has %d; give the %s the "
                         "structure of the output" % (what, hx.name, len(ch), len(tree.children), what))
    for c, v in zip(tree.children, ch):
        _flatten_like(c, v, out, what)


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
    return False


def map_leaves(fn, x):
    """``x`` with ``fn`` applied to every leaf."""
    leaves, tree = flatten(x)
    return unflatten(tree, [fn(v) for v in leaves])
