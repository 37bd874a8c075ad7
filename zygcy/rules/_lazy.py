"""Rules for functions of other libraries that do not dispatch through numpy.

Some library functions convert their input with ``np.asarray`` (scipy's
``logsumexp``, ``rosen``...), which a tracked value refuses. Their rules are
attached by replacing the function in its module's namespace with a thin
wrapper: on plain inputs the wrapper calls the original unchanged; on tracked
inputs it records one node with the registered rule.

Registration happens when the library module is imported, whether before or
after zygcy, so that ``import zygcy`` never pays for importing scipy: a finder
placed first on ``sys.meta_path`` wraps the module's loader and registers the
rules as soon as the module has run, before any ``from module import name``
can read its names. Code that imported a name before that keeps the original,
which refuses tracked values with an error.
"""
import functools
import importlib.abc
import importlib.util
import sys
import warnings

from ..extend import Primitive, Tracked, primitive

__all__ = ["when_imported", "wrap", "replace_with_primitive"]


def wrap(module, name, on_tracked):
    """Replace ``module.<name>`` by a wrapper: the original on plain inputs,
    ``on_tracked(*args, **kwargs)`` when an argument (or an item of a list or
    tuple argument) is tracked. Returns the wrapper."""
    orig = getattr(module, name)
    orig = getattr(orig, "__wrapped__", orig) if getattr(orig, "_zygcy", False) else orig

    @functools.wraps(orig)
    def wrapper(*args, **kwargs):
        if _any_tracked(args) or _any_tracked(kwargs.values()):
            return on_tracked(*args, **kwargs)
        return orig(*args, **kwargs)

    wrapper._zygcy = True
    setattr(module, name, wrapper)
    return wrapper


def _any_tracked(values):
    for v in values:
        if type(v) is Tracked:
            return True
        if type(v) in (list, tuple) and any(type(e) is Tracked for e in v):
            return True
    return False


def replace_with_primitive(module, name):
    """Replace ``module.<name>`` by ``zygcy.primitive`` of it (the original on plain
    inputs, one node with the rule registered for it on tracked ones). Returns it."""
    orig = getattr(module, name)
    if isinstance(orig, Primitive):
        return orig
    p = primitive(getattr(orig, "__wrapped__", orig) if getattr(orig, "_zygcy", False) else orig)
    setattr(module, name, p)
    return p


class _RegisteringLoader(importlib.abc.Loader):
    def __init__(self, inner, register):
        self._inner = inner
        self._register = register

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        try:
            self._register(module)
        except Exception as e:     # never break the import of the library itself
            warnings.warn("zygcy could not register the rules for %s: %r" % (module.__name__, e))

    def __getattr__(self, name):   # everything else (resources, source) is the real loader's
        return getattr(self._inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, name, register):
        self._name = name
        self._register = register

    def find_spec(self, name, path=None, target=None):
        if name != self._name:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)     # one use; the real finders locate the module
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader, self._register)
        return spec


def _installed(name):
    try:
        return importlib.util.find_spec(name.split(".")[0]) is not None
    except (ImportError, ValueError):      # blocked (sys.modules["scipy"] = None)
        return False


def when_imported(name, register):
    """Call ``register(module)`` once the module ``name`` is imported (now, if it is)."""
    if sys.modules.get(name) is not None:
        register(sys.modules[name])
    elif _installed(name):
        sys.meta_path.insert(0, _Finder(name, register))
