"""Containers: taking structured values apart into leaves and putting them back.

The engine only ever sees leaves (numbers and arrays). Everything that has
structure -- tuples, lists, dicts, namedtuples, dataclasses, ``None``, and types
a library registers -- is flattened here on the way in and rebuilt here on the
way out, for inputs, outputs, seeds and gradients alike.

>>> leaves, tree = flatten({"a": 1.0, "b": (2.0, 3.0)})
>>> leaves
[1.0, 2.0, 3.0]
>>> unflatten(tree, [10.0, 20.0, 30.0])
{'a': 10.0, 'b': (20.0, 30.0)}
"""
import dataclasses

import numpy as np

from ._core import Tracked

__all__ = ["flatten", "unflatten", "unflatten_grads", "flatten_like", "register_container",
           "is_differentiable", "map_leaves"]


class _Handler:
    """How one kind of container is taken apart and rebuilt."""
    __slots__ = ("name", "children", "build", "build_grad")

    def __init__(self, name, children, build, build_grad):
        self.name = name
        self.children = children        # obj -> (list of children, aux)
        self.build = build              # (aux, children) -> obj
        self.build_grad = build_grad    # (aux, child gradients) -> gradient of obj


_registry = {}


def register_container(cls, children, build, build_grad=None):
    """Declare how instances of ``cls`` are taken apart and rebuilt.

    Args:
      cls: the type.
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
    _registry[cls] = _Handler(cls.__name__, children, build, build_grad or build)


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
        if len(init_names) == len(names):
            return cls(**vals)
        obj = cls(**{n: vals[n] for n in init_names})
        for n in names:
            if n not in init_names:
                object.__setattr__(obj, n, vals[n])
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


register_container(tuple, lambda t: (list(t), None), lambda aux, ch: tuple(ch))
register_container(list, lambda t: (list(t), None), lambda aux, ch: list(ch))
register_container(dict, lambda d: (list(d.values()), list(d.keys())),
                   lambda aux, ch: dict(zip(aux, ch)), _dict_build_grad)
register_container(type(None), lambda n: ([], None), lambda aux, ch: None)


def _handler(x):
    cls = type(x)
    h = _registry.get(cls)
    if h is not None:
        return h
    if isinstance(x, tuple) and hasattr(cls, "_fields"):
        h = _registry[cls] = _namedtuple_handler(cls)
        return h
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        h = _registry[cls] = _dataclass_handler(cls)
        return h
    return None


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
    """``(leaves, treedef)``: the leaves of ``x`` in a fixed order, and its structure."""
    leaves = []
    return leaves, _flatten(x, leaves)


def _flatten(x, leaves):
    h = _handler(x)
    if h is None:
        leaves.append(x)
        return LEAF
    ch, aux = h.children(x)
    return TreeDef(h, aux, [_flatten(c, leaves) for c in ch])


def unflatten(tree, leaves):
    """Rebuild a value of structure ``tree`` from ``leaves``."""
    it = iter(leaves)
    return _unflatten(tree, it, grad=False)


def unflatten_grads(tree, grads):
    """Rebuild gradients: like ``unflatten``, but a part with no gradient at all is
    None, dicts keep only the keys that received one, and dataclasses are built
    without running their ``__init__``."""
    it = iter(grads)
    return _unflatten(tree, it, grad=True)


def _unflatten(tree, it, grad):
    if tree.handler is None:
        return next(it)
    ch = [_unflatten(c, it, grad) for c in tree.children]
    if not grad:
        return tree.handler.build(tree.aux, ch)
    if all(g is None for g in ch) and tree.handler.build_grad is not _dict_build_grad:
        return None
    return tree.handler.build_grad(tree.aux, ch)


def flatten_like(tree, x, what="seed"):
    """The leaves of ``x`` where ``x`` has structure ``tree``; a None in ``x``
    stands for a whole subtree with no cotangent, and dicts may omit keys."""
    out = []
    _flatten_like(tree, x, out, what)
    return out


def _count(tree):
    return 1 if tree.handler is None else sum(_count(c) for c in tree.children)


def _flatten_like(tree, x, out, what):
    if tree.handler is None:
        out.append(x)
        return
    if x is None:
        out.extend([None] * _count(tree))
        return
    if tree.handler is _registry.get(dict) and isinstance(x, dict):
        for k, c in zip(tree.aux, tree.children):
            _flatten_like(c, x.get(k), out, what)
        return
    h = _handler(x)
    if h is None:
        raise ValueError("the %s has a leaf where the output has a %s; give the %s the "
                         "structure of the output" % (what, tree.handler.name, what))
    ch, _ = h.children(x)
    if len(ch) != len(tree.children):
        raise ValueError("the %s is a %s of %d items, but the output has %d; give the %s the "
                         "structure of the output" % (what, h.name, len(ch), len(tree.children), what))
    for c, v in zip(tree.children, ch):
        _flatten_like(c, v, out, what)


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
