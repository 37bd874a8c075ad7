"""Registering rules for other libraries' functions when those libraries are imported.

Some library functions convert their input with ``np.asarray`` (scipy's
``logsumexp``, ``rosen``...), which a tracked value refuses, so numpy's
dispatch never reaches zygcy for them. Their rules are attached by replacing
the function in its module's namespace: ``replace_with_primitive`` puts a
``zygcy.primitive`` there (the original on plain inputs, one node with the
registered rule on tracked ones), ``wrap`` a wrapper that calls something else
on tracked inputs. The rule families that do this (``zygcy.rules.special``,
``zygcy.rules.optimize``) call ``when_imported(name, register)``.

Import order
  ``import zygcy`` never imports scipy. Registration happens when the library
  module is imported, whether before or after zygcy:

  * imported after zygcy: a finder placed first on ``sys.meta_path`` wraps the
    module's loader and registers the rules as soon as the module has run,
    before any ``from scipy.special import logsumexp`` can read its names, so
    every such name is zygcy's wrapper;
  * imported before zygcy: the rules are registered when zygcy is imported.
    Attribute access (``scipy.special.logsumexp(x)``, ``sp.logsumexp(x)``) sees
    the wrapper from then on; but a name bound before that
    (``from scipy.special import logsumexp`` above ``import zygcy``) is still
    scipy's original, which raises TypeError ("np.asarray/np.array of a
    tracked value would drop its derivative") when given a tracked value.
    zygcy looks for such names in the modules already imported (the user's:
    not the library's own, zygcy's or other installed packages') and warns
    about each with an
    ``ImportOrderWarning`` that names it and gives the fix: import zygcy
    first, or call the function through its module.

Example:
  >>> import numpy as np, zygcy
  >>> from scipy.special import logsumexp      # after zygcy: the wrapper
  >>> zygcy.gradient(lambda x: logsumexp(x), np.zeros(2))[0].tolist()
  [0.5, 0.5]
"""
import functools
import importlib.abc
import importlib.util
import os
import sys
import sysconfig
import warnings

import numpy as np

from . import _messages
from .extend import Primitive, Tracked, primitive

__all__ = ["when_imported", "wrap", "stand_in", "replace_with_primitive", "stale_names", "ImportOrderWarning"]


class ImportOrderWarning(UserWarning):
    """A name was imported from a library before zygcy registered its rules: it is
    the library's original function, which refuses tracked values."""


def _original(fun):
    """The library's function behind a replacement made here (itself if none)."""
    if isinstance(fun, Primitive) or getattr(fun, "_zygcy", False):
        return getattr(fun, "__wrapped__", fun)
    return fun


def wrap(module, name, on_tracked, involved=None, always=False):
    """Replace ``module.<name>`` (a module's function or a class's method) by a
    wrapper: the original on plain inputs, ``on_tracked(*args, **kwargs)`` when
    an argument (or an item of a list or tuple argument) is tracked, or is a
    ``zygcy.param`` being differentiated (put in the arguments as its tracked
    leaf, as numpy's dispatch does). ``involved(args, kwargs)``, if given, says
    whether tracked values are involved otherwise (a function's closure, an
    object holding them); ``always``: ``on_tracked`` serves every call.
    Returns the wrapper; the original is its ``__wrapped__``."""
    orig = _original(getattr(module, name))

    @functools.wraps(orig)
    def wrapper(*args, **kwargs):
        if always:
            return on_tracked(*args, **kwargs)
        if _any_stand_in(args) or _any_stand_in(kwargs.values()):
            args = tuple(_substitute(v) for v in args)
            kwargs = {k: _substitute(v) for k, v in kwargs.items()}
        if (_any_tracked(args) or _any_tracked(kwargs.values())
                or (involved is not None and involved(args, kwargs))):
            return on_tracked(*args, **kwargs)
        return orig(*args, **kwargs)

    wrapper._zygcy = True
    setattr(module, name, wrapper)
    _REPLACED[id(orig)] = (orig, module.__name__, name)
    return wrapper


def _any_tracked(values):
    for v in values:
        if type(v) is Tracked:
            return True
        if type(v) in (list, tuple) and any(type(e) is Tracked for e in v):
            return True
    return False


def stand_in(v):
    """True for a ``zygcy.param`` array (an ndarray subclass standing for a tracked leaf)."""
    t = type(v)
    return t is not np.ndarray and isinstance(v, np.ndarray) and hasattr(t, "__zygcy_substitute__")


def _substitute(v):
    if stand_in(v):
        return v.__zygcy_substitute__()
    if (type(v) is list or type(v) is tuple) and any(stand_in(e) for e in v):
        return type(v)(e.__zygcy_substitute__() if stand_in(e) else e for e in v)
    return v


def _any_stand_in(values):
    for v in values:
        if stand_in(v) or ((type(v) is list or type(v) is tuple) and any(stand_in(e) for e in v)):
            return True
    return False


def replace_with_primitive(module, name):
    """Replace ``module.<name>`` by ``zygcy.primitive`` of it (the original on plain
    inputs, one node with the rule registered for it on tracked ones). Returns it."""
    current = getattr(module, name)
    if isinstance(current, Primitive):
        return current
    orig = _original(current)
    p = primitive(orig)
    setattr(module, name, p)
    _REPLACED[id(orig)] = (orig, module.__name__, name)
    return p


# id(original) -> (original, module name, attribute name), for every replacement
_REPLACED = {}


# ---------------------------------------------------------------------------
# Registering when a module is imported

class _RegisteringLoader(importlib.abc.Loader):
    def __init__(self, inner, register):
        self._inner = inner
        self._register = register

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        _register_safely(self._register, module)

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


def _register_safely(register, module):
    try:
        register(module)
    except Exception as e:     # never break the import of the library itself
        warnings.warn(_messages.registration_failed(module.__name__, e))


def _installed(name):
    try:
        return importlib.util.find_spec(name.split(".")[0]) is not None
    except (ImportError, ValueError):      # blocked (sys.modules["scipy"] = None)
        return False


def when_imported(name, register):
    """Call ``register(module)`` once the module ``name`` is imported (now, if it is).

    If it was imported before zygcy, names that other modules imported from it
    before now are still its original functions: each is reported with an
    ``ImportOrderWarning`` (see the module docstring).
    """
    module = sys.modules.get(name)
    if module is not None:
        before = set(_REPLACED)
        _register_safely(register, module)
        _warn_stale_names(name, [_REPLACED[k] for k in _REPLACED if k not in before])
    elif _installed(name):
        sys.meta_path.insert(0, _Finder(name, register))


def stale_names(replaced, library):
    """(holder module, name, (library module, attribute)) for every global of an
    imported module that is bound to one of the ``replaced`` originals (triples
    (original, module name, attribute)). The library's own modules, zygcy's and
    those of installed packages (site-packages) are not looked at: the names that
    matter are the user's (a script, a notebook, a project's modules)."""
    by_id = {id(orig): (orig, mod, attr) for orig, mod, attr in replaced}
    top = library.split(".")[0]
    installed = tuple(os.path.join(p, "") for p in {sysconfig.get_paths()["purelib"],
                                                    sysconfig.get_paths()["platlib"]})
    out = []
    for key, mod in list(sys.modules.items()):
        if mod is None or key == top or key.startswith(top + ".") or key == "zygcy" \
                or key.startswith("zygcy."):
            continue
        if (getattr(mod, "__file__", None) or "").startswith(installed):
            continue            # other installed libraries: their own business
        try:
            items = list(vars(mod).items())
        except TypeError:
            continue
        for k, v in items:
            entry = by_id.get(id(v))
            if entry is not None and entry[0] is v:
                out.append((key, k, entry[1:]))
    return out


def _warn_stale_names(library, replaced):
    for holder, name, (mod, attr) in stale_names(replaced, library):
        warnings.warn(_messages.imported_before_zygcy(holder, name, mod, attr),
                      ImportOrderWarning, stacklevel=_outside_zygcy())


def _outside_zygcy():
    """The stacklevel of the first caller outside zygcy and the import machinery
    (the user's ``import zygcy``), for warnings."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None:
        name = frame.f_code.co_filename
        if "importlib" in name and name.startswith("<frozen"):
            frame = frame.f_back            # warnings.warn does not count these
            continue
        if not os.path.abspath(name).startswith(here + os.sep):
            return level
        frame, level = frame.f_back, level + 1
    return 1
