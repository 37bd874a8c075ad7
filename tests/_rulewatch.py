"""Watching zygcy's gradient rules from the test suite: sites, recorders, mutants.

A *rule* is an entry of ``zygcy._core.registered()[0]`` (a numpy function, a
ufunc method, a zygcy helper, a scipy function registered lazily) or a
derivative of the scalar table behind ``zygcy.math`` / ``zygcy.cmath``
(``zygcy.rules.scalar``). Every rule has a stable name (``rule_name``) and
every differentiable argument of it is a *site*, written ``"<rule>:<i>"``
(``"numpy.arctan2:1"``: the cotangent of arctan2's second argument).

Two things are built on the sites:

* the recorder (``install_recorder``) re-registers every rule with thin
  wrappers that note, for each site, which tests ran its pullback, and which
  ran it inside a derivative check (``zygcy.testing.in_derivative_check``).
  ``tests/conftest.py`` installs it for every test session; the suite then fails
  for a rule no derivative check ran and writes the map site -> tests to
  ``.zygcy_coverage.json``.
* a mutant (``apply_mutant``) re-registers one rule with the pullback of one
  site made wrong: its cotangent times 1.5, or plus 0.5 where it is zero.
  ``tools/mutation.py`` runs the tests of each site with its mutant applied
  (``ZYGCY_MUTANT=<site>``, one fresh process per mutant) and counts the
  mutants that no test notices.

Which arguments are sites: for per-argument rules (``defvjp``) every argument
with a maker (for a variadic rule, whose last maker serves every further
argument, that last site stands for all of them), except makers that declare no derivative (their pullback gives
None for anything, like ``indexing._none_maker`` for an index, or their maker
raises NotImplementedError, like scipy's ``iv`` for the order; found by calling
the maker on placeholder arguments, see ``declares_no_derivative``); when there are many makers (a variadic function such as
``einsum`` or ``atleast_1d``, whose makers are one closure repeated) the first
three. For joint rules (``defjoint``) the required positional parameters of
the function, or the first two of ``*args``. For the scalar table the
argument of a one-argument function; for a two-argument one each argument whose
derivative is not None (probed at (0.7, 2)).
"""
import functools
import inspect
import os
import sys
import warnings
from collections import defaultdict

import numpy as np

import zygcy  # noqa: F401  (registers the rules)
from zygcy import _core
from zygcy.testing import in_derivative_check

# Libraries whose rules are registered when they are imported (zygcy.interop.when_imported).
LAZY_MODULES = ("scipy.special", "scipy.optimize", "scipy.stats", "scipy.linalg", "scipy.integrate", "scipy.signal", "scipy.sparse", "scipy.sparse.linalg", "scipy.sparse.csgraph")

VARIADIC = 8        # a per-argument rule with more makers than this is variadic
VARIADIC_SITES = 3  # ... and its first three arguments are sites
SCALE = 1.5         # a mutant multiplies the cotangent by this
SHIFT = 0.5         # ... or, where the cotangent is zero, adds this


def import_lazy_libraries():
    """Import the libraries whose rules zygcy registers lazily, so they are in the table."""
    for name in LAZY_MODULES:
        try:
            __import__(name)
        except ImportError:
            pass


# ---------------------------------------------------------------------------
# Names

def rule_name(fun):
    """A stable, unique name for a registered function: ``numpy.add``, ``add.outer``,
    ``scipy.special.erf``, ``zygcy.rules.indexing._getitem``."""
    owner = getattr(fun, "__self__", None)
    if owner is not None and isinstance(owner, np.ufunc):        # ufunc.outer, .reduce, ...
        return "%s.%s" % (rule_name(owner), fun.__name__)
    name = getattr(fun, "__name__", None) or repr(fun)
    if isinstance(fun, np.ufunc):
        if getattr(np, name, None) is fun:
            return "numpy." + name
        special = sys.modules.get("scipy.special")
        if special is not None and getattr(special, name, None) is fun:
            return "scipy.special." + name
        return "ufunc." + name
    if owner is not None and not inspect.ismodule(owner):
        return "%s.%s" % (getattr(owner, "__name__", type(owner).__name__), name)
    return "%s.%s" % (getattr(fun, "__module__", None) or "", getattr(fun, "__qualname__", name))


JVP = "jvp:"        # the prefix of a forward rule's site: "jvp:numpy.sin:0"
BATCHED = "batched:"    # and of a batched forward rule's (zygcy.extend.defbatched)


def rule_of_site(site):
    """``"numpy.arctan2:1"`` -> ``("numpy.arctan2", 1)``; a forward rule's site
    ``"jvp:numpy.arctan2:1"`` (or a batched one's, ``"batched:..."``) names the
    same rule and argument."""
    for prefix in (JVP, BATCHED):
        if site.startswith(prefix):
            site = site[len(prefix):]
    name, _, i = site.rpartition(":")
    return name, int(i)


def is_jvp_site(site):
    return site.startswith(JVP)


def is_batched_site(site):
    return site.startswith(BATCHED)


# ---------------------------------------------------------------------------
# The rules: registered ones and the scalar table

TESTS = os.path.dirname(os.path.abspath(__file__))


def _defined_in_the_tests(fun):
    """True for a function defined in a test module or a docstring example (and given a
    rule there): such rules are the tests' own (several may share a name, as lambdas
    do), not zygcy's rules to cover or mutate."""
    code = getattr(getattr(fun, "__wrapped__", fun), "__code__", None)
    if code is None:
        return False
    path = code.co_filename
    return path.startswith("<doctest") or os.path.abspath(path).startswith(TESTS + os.sep)


def registered_rules():
    """name -> (fun, Rule) for every registered rule (lazy libraries imported first),
    but those registered by the tests themselves."""
    import_lazy_libraries()
    rules, _ = _core.registered()
    out = {}
    for fun, rule in rules.items():
        if _defined_in_the_tests(fun):
            continue
        name = rule_name(fun)
        if name in out:
            raise RuntimeError("two registered rules are both named %s" % name)
        out[name] = (fun, rule)
    return out


def _scalar_module():
    from zygcy.rules import scalar
    return scalar


def _is_scalar_function(v):
    return isinstance(v, (_core.ScalarFunction, _core.ScalarFunction2))


POLYGAMMA_ORDERS = range(3)     # polygamma(n, .) for these n is part of the table


def _closure_cells(fn):
    """The closure cells of a plain Python function (none for anything else)."""
    if not inspect.isfunction(fn):
        return []
    return [c for c in (fn.__closure__ or ()) if _cell_value(c) is not None]


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:          # an empty cell
        return None


def scalar_functions():
    """name -> ScalarFunction(2) for every derivative of the scalar table.

    Named by where zygcy exports them (``zygcy.math.sin``), also when the
    exported function holds the scalar function in its closure
    (``zygcy.cmath.sin`` converts a real argument first); else by their module
    global (``zygcy.rules.scalar._log_e``); polygamma's, made on demand, as
    ``zygcy.math.polygamma(n)`` for n in POLYGAMMA_ORDERS.
    """
    scalar = _scalar_module()
    for n in POLYGAMMA_ORDERS:       # make them now, so that they can be named and wrapped
        if n not in scalar._POLYGAMMA:
            zygcy.derivative(lambda x, n=n: scalar.polygamma(n, x), 1.5)
    out = {}
    seen = set()

    def add(name, v):
        if _is_scalar_function(v) and id(v) not in seen:
            seen.add(id(v))
            out[name] = v

    sources = [("zygcy.math.", vars(scalar.m)), ("zygcy.cmath.", vars(scalar.c)),
               ("zygcy.rules.scalar.", vars(scalar))]
    for prefix, namespace in sources:
        for attr, v in sorted(namespace.items()):
            add(prefix + attr, v)
    for prefix, namespace in sources:
        for attr, v in sorted(namespace.items()):
            inner = [_cell_value(c) for c in _closure_cells(v)]
            inner = [w for w in inner if _is_scalar_function(w) and id(w) not in seen]
            for k, w in enumerate(inner):
                add(prefix + attr + ("" if len(inner) == 1 else "#%d" % k), w)
    for n, v in sorted(scalar._POLYGAMMA.items()):
        if n in POLYGAMMA_ORDERS:
            add("zygcy.math.polygamma(%d)" % n, v)
    return out


def _joint_positions(fun):
    """The sites of a joint rule: required positional parameters, or two of ``*args``."""
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        return [0]
    required = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.default is p.empty]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return list(range(max(len(required), 2)))
    return list(range(len(required))) or [0]


def _scalar2_positions(sf):
    try:
        d = sf.deriv(0.7, 2, sf.fun(0.7, 2))
    except Exception:
        return [0, 1]
    return [i for i in (0, 1) if d[i] is not None]


class _Probe:
    """A placeholder cotangent: a real pullback uses it (and fails) or returns it."""


def declares_no_derivative(maker):
    """True if ``maker`` says its argument has no derivative.

    Either it raises NotImplementedError whatever it is given (scipy's ``iv``
    for the order), or, called with small complex arrays for every argument, it
    makes a pullback that returns None for a placeholder cotangent (an index or
    a condition: ``indexing._none_maker``; a piecewise-constant dependence such
    as copysign's on its second argument). A real maker fails on the
    placeholders or passes the cotangent on. Complex arrays, so that a rule that
    has no derivative only for real input (``np.imag``) counts as having one.
    The recorder's wrappers are looked through (``__wrapped__``).
    """
    maker = inspect.unwrap(maker)
    try:
        params = inspect.signature(maker).parameters.values()
        n = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.default is p.empty)
    except (TypeError, ValueError):
        return False
    try:
        maker(*[None] * n)
    except NotImplementedError:
        return True
    except Exception:
        pass
    z = np.array([0.3 + 0.4j, 0.6 - 0.2j])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pullback = maker(*[z.copy() for _ in range(n)])
            return callable(pullback) and pullback(_Probe()) is None
        except Exception:
            return False


def sites():
    """Every site, in a stable order: the mutants of ``tools/mutation.py``."""
    out = []
    for name, (fun, rule) in sorted(registered_rules().items()):
        if rule.joint:
            out.extend("%s:%d" % (name, i) for i in _joint_positions(fun))
        else:
            positions = [i for i, m in enumerate(rule.makers)
                         if m is not None and not declares_no_derivative(m)]
            if len(rule.makers) > VARIADIC:
                positions = [i for i in positions if i < VARIADIC_SITES]
            out.extend("%s:%d" % (name, i) for i in positions)
        out.extend(JVP + "%s:%d" % (name, i) for i in jvp_positions(rule))
        out.extend(BATCHED + "%s:%d" % (name, i) for i in batched_positions(rule))
    for name, sf in sorted(scalar_functions().items()):
        positions = [0] if isinstance(sf, _core.ScalarFunction) else _scalar2_positions(sf)
        out.extend("%s:%d" % (name, i) for i in positions)
    return out


def jvp_positions(rule):
    """The arguments with a forward rule of their own (the first three of a variadic one)."""
    from zygcy.rules._util import zero_jvp
    if getattr(rule, "ew_jvps", False):
        return []       # forward mode multiplies by the partials: their sites are the rule's own
    jvps = getattr(rule, "jvps", ())
    # zero_jvp declares an argument without a derivative (no tangent): nothing to mutate
    positions = [i for i, f in enumerate(jvps)
                 if f is not None and getattr(f, "__wrapped__", f) is not zero_jvp]
    if len(jvps) > VARIADIC:
        positions = [i for i in positions if i < VARIADIC_SITES]
    return positions


def batched_positions(rule):
    """The arguments with a batched forward rule."""
    return [i for i, f in enumerate(getattr(rule, "batched", ())) if f is not None]


def all_rule_names():
    """The names of every rule, registered and scalar: what must run under a check."""
    return sorted(registered_rules()) + sorted(scalar_functions())


# ---------------------------------------------------------------------------
# Re-registering a rule with its pullbacks transformed

def _wrap_makers(name, rule, transform):
    """Per-argument makers whose pullbacks are ``transform(site, pullback)``."""
    def wrap(i, maker):
        if maker is None:
            return None
        site = "%s:%d" % (name, i)

        @functools.wraps(maker)
        def make(ans, *args, **kwargs):
            return transform(site, maker(ans, *args, **kwargs))
        return make
    return [wrap(i, m) for i, m in enumerate(rule.makers)]


def _wrap_jvps(name, rule, transform):
    """Forward rules that are ``transform(site, jvp)`` (sites ``"jvp:<rule>:<i>"``)."""
    def wrap(i, jvp):
        if jvp is None:
            return None
        return transform(JVP + "%s:%d" % (name, i), jvp)
    return [wrap(i, f) for i, f in enumerate(getattr(rule, "jvps", ()))]


def _wrap_batched(name, rule, transform):
    """Batched forward rules that are ``transform(site, f)`` (sites ``"batched:<rule>:<i>"``)."""
    def wrap(i, f):
        if f is None:
            return None
        return transform(BATCHED + "%s:%d" % (name, i), f)
    return tuple(wrap(i, f) for i, f in enumerate(getattr(rule, "batched", ())))


def _wrap_joint(name, rule, transform_tuple):
    maker = rule.joint_maker

    @functools.wraps(maker)
    def make(ans, *args, **kwargs):
        return transform_tuple(name, maker(ans, *args, **kwargs))
    return make


def register_rule(fun, makers=(), joint_maker=None, variadic=False, jvps=(), partials=(), reads=-1,
                  ew_jvps=False, batched=()):
    """Enter a rule in zygcy's table exactly as given: ``zygcy._core.register`` where
    the engine has it (what ``zygcy.extend.defvjp``/``defjoint`` call), else the
    older ``zygcy._core.defvjp``/``defjoint``. ``reads``: which of (ans, x, y) an
    elementwise rule's partials read (the engine keeps only those values); ``ew_jvps``:
    its forward rules are ``t * partial`` (forward mode then calls the partials);
    ``batched``: its forward rules for batches of tangents."""
    register = getattr(_core, "register", None)
    if register is not None:
        if batched:
            return register(fun, tuple(makers), joint_maker, variadic, tuple(jvps), tuple(partials), reads,
                            ew_jvps, tuple(batched))
        if partials:
            return register(fun, tuple(makers), joint_maker, variadic, tuple(jvps), tuple(partials), reads,
                            ew_jvps)
        if jvps:
            return register(fun, tuple(makers), joint_maker, variadic, tuple(jvps), tuple(partials))
        if variadic:
            return register(fun, tuple(makers), joint_maker, True)
        return register(fun, tuple(makers), joint_maker)
    if joint_maker is not None:
        return _core.defjoint(fun, joint_maker)
    return _core.defvjp(fun, *makers)


def restore_rule(fun, rule):
    """Register the Rule object ``rule`` (from ``registered()``) for ``fun`` again."""
    register_rule(fun, rule.makers, rule.joint_maker if rule.joint else None,
                  getattr(rule, "variadic", False), getattr(rule, "jvps", ()),
                  getattr(rule, "partials", ()), getattr(rule, "reads", -1), getattr(rule, "ew_jvps", False),
                  getattr(rule, "batched", ()))
    _keep_kernels(fun, rule)


def _keep_kernels(fun, rule):
    """Give the rule registered now for ``fun`` the C partials ``rule`` had (the engine
    drops them at every registration, so that a rule given again is not shadowed)."""
    if getattr(rule, "kernels", ()):
        _core.use_kernels(fun)


def _wrap_partials(name, rule, transform):
    """The partials of an elementwise rule (the engine's fast path), each wrapped as
    ``transform(site, pullback)`` wraps a pullback: a partial scales the cotangent
    of its argument exactly as the pullback would."""
    def wrap(i, p):
        if p is None:
            return None
        site = "%s:%d" % (name, i)
        func = p if callable(p) else (lambda ans, *args, _c=p: _c)
        done = transform(site, lambda d: d)     # what the transform does to a cotangent

        def partial(ans, *args):
            return done(func(ans, *args))
        return partial
    return tuple(wrap(i, p) for i, p in enumerate(getattr(rule, "partials", ())))


def _reregister(fun, rule, name, transform, transform_tuple, transform_jvp=None, transform_batched=None,
                keep_kernels=False):
    """Register ``rule`` again with its pullbacks, partials and forward rules wrapped.
    ``keep_kernels``: the wrapped partials equal the rule's, so its C partials stay
    (the recorder: the suite then runs the engine's C path as users do); a mutant
    drops them, so that its wrong partial is the one that runs."""
    jvps = getattr(rule, "jvps", ())
    if transform_jvp is not None:
        jvps = _wrap_jvps(name, rule, transform_jvp)
    partials = _wrap_partials(name, rule, transform)
    reads = getattr(rule, "reads", -1)   # the wrapped partials read what the rule's own do
    ew = getattr(rule, "ew_jvps", False)  # and forward mode multiplies by them, as by the rule's own
    # the batched forward rules stay (wrapped too, if asked): a forward rule mutated, they
    # disagree with it, which the batched check of gradcheck (a batch against one
    # direction at a time) reports
    batched = getattr(rule, "batched", ())
    if transform_batched is not None:
        batched = _wrap_batched(name, rule, transform_batched)
    if rule.joint:
        register_rule(fun, (), _wrap_joint(name, rule, transform_tuple), False, jvps, partials, reads, ew,
                      batched)
    else:
        register_rule(fun, _wrap_makers(name, rule, transform), None, getattr(rule, "variadic", False),
                      jvps, partials, reads, ew, batched)
    if keep_kernels:
        _keep_kernels(fun, rule)


def _replace_scalar(old, new):
    """Put ``new`` wherever zygcy holds the scalar function ``old``: in the
    namespaces of zygcy's modules, ``zygcy.math`` and ``zygcy.cmath``, and in the
    closures of the functions there."""
    scalar = _scalar_module()
    namespaces = [vars(scalar.m), vars(scalar.c), scalar._POLYGAMMA]
    namespaces += [vars(mod) for key, mod in list(sys.modules.items())
                   if mod is not None and (key == "zygcy" or key.startswith("zygcy."))]
    for ns in namespaces:
        for k, v in list(ns.items()):
            if v is old:
                ns[k] = new
            for cell in _closure_cells(v):
                if _cell_value(cell) is old:
                    cell.cell_contents = new


def _rebuild_scalar(sf, deriv):
    """A scalar function like ``sf`` (same plain function, name, C kernel) with ``deriv``."""
    cls = type(sf)
    return cls(sf.fun, deriv, sf.name, sf.module)


# ---------------------------------------------------------------------------
# The recorder

class Recorder:
    """Which tests ran each site's pullback, and which ran it under a derivative check."""

    def __init__(self):
        self.current = None                 # the node id of the running test
        self.ran = defaultdict(set)         # site -> test ids
        self.checked = defaultdict(set)     # site -> test ids, under a derivative check
        self.rules = []                     # every rule name, when installed
        self.jvp_sites = []                 # every forward rule's site, when installed

    def note(self, site):
        test = self.current
        if test is None:
            return
        self.ran[site].add(test)
        if in_derivative_check():
            self.checked[site].add(test)

    def unchecked_rules(self):
        """The rules none of whose pullbacks ran under a derivative check."""
        done = {rule_of_site(s)[0] for s, tests in self.checked.items() if tests and not is_jvp_site(s)}
        return [r for r in self.rules if r not in done]

    def unchecked_jvps(self):
        """The forward-rule sites that never ran under a derivative check."""
        return [s for s in self.jvp_sites if not self.checked.get(s)]

    def as_json(self):
        keys = sorted(set(self.ran) | set(self.checked))
        return {"format": 1,
                "rules": self.rules,
                "sites": {s: {"ran": sorted(self.ran.get(s, ())),
                              "checked": sorted(self.checked.get(s, ()))} for s in keys}}


def install_recorder():
    """Wrap every rule so that it notes the sites it runs; returns the Recorder."""
    rec = Recorder()

    def transform(site, pullback):
        def recorded(g):
            rec.note(site)
            return pullback(g)
        return recorded

    def transform_tuple(name, pullback):
        def recorded(g):
            cts = pullback(g)
            if isinstance(cts, (tuple, list)):
                for i, c in enumerate(cts):
                    if c is not None:
                        rec.note("%s:%d" % (name, i))
            return cts
        return recorded

    def transform_jvp(site, jvp):
        @functools.wraps(jvp)
        def recorded_jvp(t, ans, *args, **kwargs):
            rec.note(site)
            return jvp(t, ans, *args, **kwargs)
        return recorded_jvp

    def transform_batched(site, f):
        @functools.wraps(f)         # (keeps _zygcy_lists)
        def recorded_batched(tb, ans, *args, **kwargs):
            rec.note(site)
            return f(tb, ans, *args, **kwargs)
        return recorded_batched

    for name, (fun, rule) in registered_rules().items():
        _reregister(fun, rule, name, transform, transform_tuple, transform_jvp, transform_batched,
                    keep_kernels=True)
        rec.jvp_sites.extend(JVP + "%s:%d" % (name, i) for i in jvp_positions(rule))
    for name, sf in scalar_functions().items():
        two = isinstance(sf, _core.ScalarFunction2)

        def deriv(*args, _d=sf.deriv, _name=name, _two=two):
            rec.note(_name + ":0")
            if _two:
                rec.note(_name + ":1")
            return _d(*args)
        _replace_scalar(sf, _rebuild_scalar(sf, deriv))
    rec.rules = all_rule_names()
    return rec


# ---------------------------------------------------------------------------
# Mutants

class Mutant:
    """The mutant of one site, applied: ``fired`` counts the cotangents it changed,
    ``restore()`` puts the right rule back."""

    def __init__(self, site):
        self.site = site
        self.fired = 0
        self._undo = None

    def restore(self):
        """Re-register the original rule (for running several mutants in one process)."""
        if self._undo is not None:
            self._undo()
            self._undo = None

    def perturb(self, ct):
        """The wrong cotangent: ``ct * 1.5``, or ``ct + 0.5`` where ``ct`` is all zero."""
        if ct is None:
            return None
        if type(ct) is list or type(ct) is tuple:       # the cotangents of a list argument
            return type(ct)(self.perturb(e) for e in ct)
        if type(ct) is _core.IndexGrad:
            entries = [(i, self.perturb(v)) for i, v in ct.entries]
            out = _core.IndexGrad(ct.shape, ct.dtype, *entries[0])
            out.entries[:] = entries
            return out
        self.fired += 1
        v = _core.value(ct)
        try:
            zero = bool(np.all(np.asarray(v) == 0))
        except (TypeError, ValueError):
            zero = False
        return ct + SHIFT if zero else ct * SCALE


_known_sites = None     # sites(), once per process (their names do not change)


def apply_mutant(site):
    """Re-register the rule of ``site`` with that argument's cotangent made wrong.

    Returns the Mutant (its ``fired`` counts how often it changed a cotangent).
    Raises KeyError for a site that is not one of ``sites()``.
    """
    global _known_sites
    if _known_sites is None:
        _known_sites = frozenset(sites())
    if site not in _known_sites:
        raise KeyError("no such mutant site: %r (see python tools/mutation.py --list)" % site)
    name, position = rule_of_site(site)
    mutant = Mutant(site)
    rules = registered_rules()
    if name in rules:
        fun, rule = rules[name]

        def transform(s, pullback):
            if s != site:
                return pullback
            return lambda g: mutant.perturb(pullback(g))

        def transform_tuple(_, pullback):
            if is_jvp_site(site) or is_batched_site(site):
                return pullback
            def wrong(g):
                cts = pullback(g)
                if not isinstance(cts, (tuple, list)) or position >= len(cts):
                    return cts
                cts = list(cts)
                cts[position] = mutant.perturb(cts[position])
                return tuple(cts)
            return wrong

        def transform_jvp(s, jvp):
            if s != site:
                return jvp

            def wrong_jvp(t, ans, *args, **kwargs):
                return mutant.perturb(jvp(t, ans, *args, **kwargs))
            return wrong_jvp

        def transform_batched(s, f):
            if s != site:
                return f

            @functools.wraps(f)
            def wrong_batched(tb, ans, *args, **kwargs):
                out = f(tb, ans, *args, **kwargs)
                return out if out is NotImplemented else mutant.perturb(out)
            return wrong_batched

        _reregister(fun, rule, name, transform, transform_tuple, transform_jvp, transform_batched)
        mutant._undo = lambda: restore_rule(fun, rule)
        return mutant
    sf = scalar_functions()[name]

    def deriv(*args, _d=sf.deriv):
        d = _d(*args)
        if isinstance(sf, _core.ScalarFunction):
            return mutant.perturb(d)
        d = list(d)
        d[position] = mutant.perturb(d[position])
        return tuple(d)
    wrong = _rebuild_scalar(sf, deriv)
    _replace_scalar(sf, wrong)
    mutant._undo = lambda: _replace_scalar(wrong, sf)
    return mutant
