"""Every text the engine (zygcy._core) shows a user, in one place.

Each is a function of what it names, so a message can be changed, and read,
without opening or rebuilding the engine. A message says what happened, where,
and what to do.
"""


def _name(fun):
    return getattr(fun, "__name__", None) or repr(fun)


def primitive_without_rule(p):
    name = _name(p.fun)
    return ("%s is a zygcy primitive with no gradient rule yet, and it was called with a "
            "tracked argument; register its rule with zygcy.defvjp(%s, maker, ...) (or "
            "zygcy.defjoint) before differentiating it" % (name, name))


def write_after_use():
    return ("the function wrote into an array (a[i] = v, a += v, out=a, a buffer refilled in a "
            "loop) after an operation being differentiated had used it; that operation's "
            "derivative reads the array's values as they were when it ran, so zygcy keeps "
            "such arrays read-only while the function runs (they are writeable again now). "
            "Write into a copy (a = a.copy()) or make a new array (a = a + v) instead")


def assignment_after_finish():
    return ("this tracked array belongs to a differentiation that has finished, so it "
            "cannot record an assignment; take its plain value with zygcy.value(x) first")


# ---------------------------------------------------------------------------
# Conversions that would lose the derivative (Tracked)

def lost(what, builtin):
    return ("%s of a tracked value would drop its derivative. "
            "If it came from a function of Python's math module (math.sin(x) calls %s(x)), "
            "use the same function from zygcy.math (or zygcy.cmath). If it came from writing "
            "the value into a plain numpy array (y[i] = x), build the array from tracked values "
            "instead (np.stack([a, b]), np.concatenate, np.where), or write into an array "
            "that is tracked itself (y = x.copy(); y[i] = v). To take the plain value on "
            "purpose, use zygcy.value(x)." % (what, builtin))


def lost_as_array():
    """The error of np.asarray/np.array of a tracked value (Tracked.__array__).

    When the conversion happened inside another library's code (scipy's,
    which converts its inputs), the message names the library function the
    user called, found by walking the Python stack from here, and the fixes
    that apply there; in the user's own code, the fixes that apply there.
    """
    import sys
    try:
        where = _converting_library_function(sys._getframe(1))
    except Exception:           # a message must never fail: fall back to the plain one
        where = None
    if where is not None:
        return _lost_in_library(*where)
    return ("np.asarray/np.array of a tracked value would drop its derivative (so would "
            "writing it into a plain array: y[i] = x with y a plain ndarray). Keep it as it "
            "is (numpy functions accept tracked values), build arrays from tracked "
            "numbers with np.stack([...]), write into a tracked array instead "
            "(y = x.copy(); y[i] = v), or take the plain value on purpose with "
            "zygcy.value(x).")


def _lost_in_library(name, inner, wrapped):
    where = "" if inner is None else " (in %s)" % inner
    if wrapped:
        why = ("zygcy has a rule for %s, but this call reached the library's original: "
               "either the name was imported from its module before zygcy was (call it "
               "through the module, %s(...), or import zygcy first), or the tracked value "
               "reached it where zygcy's rule does not look (a global, an object's "
               "attribute: pass it as an argument)" % (name, name))
    else:
        why = ("zygcy has no rule for %s. Give it one: make it a primitive and register "
               "its derivative, f = zygcy.primitive(%s); zygcy.defvjp(f, maker, ...), then "
               "call f instead (see help(zygcy.defvjp))" % (name, name))
    return ("%s converted a tracked value with np.asarray%s, which would drop its "
            "derivative. %s. Or, to leave differentiation there on purpose, pass it the "
            "plain value, zygcy.value(x)." % (name, where, why))


def _library_paths():
    """The folders of installed code (site-packages, the standard library)."""
    import os
    import site
    import sysconfig
    paths = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")
             if k in sysconfig.get_paths()}
    try:
        paths.update(site.getsitepackages())
        paths.add(site.getusersitepackages())
    except AttributeError:      # a virtualenv's old site module
        pass
    return tuple(os.path.join(os.path.abspath(p), "") for p in paths if p)


def _package_dir(name):
    import os
    import sys
    mod = sys.modules.get(name)
    f = getattr(mod, "__file__", None)
    return os.path.join(os.path.dirname(os.path.abspath(f)), "") if f else None


def _converting_library_function(frame):
    """(name of the library function the user called, name of the one inside it
    that converted or None, whether zygcy replaced that name with a rule), or None
    when the conversion was in the user's own code. Frames of numpy and zygcy
    are passed over; the first other frame did the conversion."""
    import os
    skip = tuple(d for d in (_package_dir("numpy"), _package_dir("zygcy")) if d)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(skip):
        frame = frame.f_back
    if frame is None:
        return None
    path = os.path.abspath(frame.f_code.co_filename)
    if frame.f_code.co_filename.startswith("<") or not path.startswith(_library_paths()):
        return None                     # the user's code (a script, a notebook, a project)
    top = _top_package(frame)
    first = frame
    while frame.f_back is not None and _top_package(frame.f_back) == top:
        frame = frame.f_back            # outwards to the call the user made into the library
    name, wrapped = _function_name(frame)
    code = first.f_code
    inner = "%s.%s, line %d" % (first.f_globals.get("__name__") or "?",
                                getattr(code, "co_qualname", code.co_name), first.f_lineno)
    return name, inner, wrapped


def _top_package(frame):
    return (frame.f_globals.get("__name__") or "").split(".")[0]


def _public_module(modname):
    """``scipy.stats._distn_infrastructure`` -> ``scipy.stats``: where users find it."""
    import sys
    parts = modname.split(".")
    for i, p in enumerate(parts):
        if p.startswith("_"):
            parts = parts[:i]
            break
    while parts and ".".join(parts) not in sys.modules:
        parts.pop()
    return ".".join(parts) or modname


def _function_name(frame):
    """The public name of the function (or method) running in ``frame``, and whether
    the public name is zygcy's replacement (a rule zygcy registered)."""
    import sys
    code = frame.f_code
    modname = frame.f_globals.get("__name__") or "?"
    public = _public_module(modname)
    namespace = vars(sys.modules[public]) if public in sys.modules else {}
    func = code.co_name
    this = frame.f_locals.get("self") if code.co_argcount and code.co_varnames[0] == "self" else None
    if this is not None:
        owner = getattr(this, "dist", None)             # a frozen distribution: dist(...).method
        if owner is not None and _instance_name(namespace, owner):
            name = "%s.%s(...).%s" % (public, _instance_name(namespace, owner), func)
            return name, False
        cls = type(this)
        method = getattr(cls, func, None)
        # a rule zygcy put on a class covers that class alone (not gamma's subclass erlang)
        wrapped = _is_zygcys(method) and getattr(method, "_zygcy_class", cls) is cls
        inst = _instance_name(namespace, this)
        if inst:
            return "%s.%s.%s" % (public, inst, func), wrapped
        where = public if namespace.get(cls.__name__) is cls else cls.__module__
        return "%s.%s.%s" % (where, cls.__name__, func), wrapped
    # a decorator's wrapper (its code shared by every function it decorates): the
    # function it wraps is among its free variables
    for var in code.co_freevars:
        inner = frame.f_locals.get(var)
        if callable(inner) and hasattr(inner, "__code__"):
            found = _public_function(inner)
            if found is not None:
                return found
    for k, v in list(namespace.items()):
        if getattr(v, "__code__", None) is code or code in _codes_of(getattr(v, "__wrapped__", None)):
            return "%s.%s" % (public, k), _is_zygcys(v)
    return "%s.%s" % (modname, getattr(code, "co_qualname", func)), False


def _public_function(fn):
    """(public name, zygcy's?) of the function fn, or None: the attribute of its
    public module that is fn or wraps it (``__wrapped__``)."""
    import sys
    public = _public_module(getattr(fn, "__module__", None) or "")
    mod = sys.modules.get(public)
    if mod is None:
        return None
    for k, v in list(vars(mod).items()):
        w = v
        for _ in range(8):
            if w is fn:
                return "%s.%s" % (public, k), _is_zygcys(v)
            w = getattr(w, "__wrapped__", None)
            if w is None:
                break
    return None


def _instance_name(namespace, obj):
    """The name under which ``obj`` (or an object of its exact class: scipy's frozen
    distributions make a fresh instance) is published in ``namespace``."""
    same = None
    for k, v in list(namespace.items()):
        if v is obj:
            return k
        if same is None and type(v) is type(obj) and not k.startswith("_") and not isinstance(v, type):
            same = k
    return same


def _codes_of(v):
    """The code objects of a function and of the functions it wraps (``__wrapped__``)."""
    codes = []
    for _ in range(8):
        code = getattr(v, "__code__", None)
        if code is not None:
            codes.append(code)
        v = getattr(v, "__wrapped__", None)
        if v is None:
            break
    return codes


def _is_zygcys(v):
    """True for a replacement zygcy put in a library's namespace (a rule for it)."""
    return bool(getattr(v, "_zygcy", False)) or type(v).__name__ == "Primitive"


def made_by_hand():
    return "Tracked values are made by zygcy.forward/gradient, not by hand"


def not_picklable():
    return ("a tracked value cannot be pickled: the unpickled copy would not be connected "
            "to the differentiation, and its derivative would be lost. Pickle the plain "
            "value, zygcy.value(x), outside the function being differentiated (or use "
            "copy.copy(x) to copy it inside)")


def no_attribute(value, name):
    return "%r object has no attribute %r" % (type(value).__name__, name)


def rules_not_loaded():
    return "zygcy.rules is not loaded: import zygcy, not zygcy._core alone"


# ---------------------------------------------------------------------------
# Dispatch and recording

def no_rule_for_ufunc(ufunc, method):
    import numpy as np
    name = ufunc.__name__ if method == "__call__" else "%s.%s" % (ufunc.__name__, method)
    if getattr(np, ufunc.__name__, None) is ufunc:
        return no_rule("numpy." + name, "numpy." + name)
    return no_rule("the ufunc " + name, name)       # another library's (scipy.special): no module to name


def no_rule_for_function(func):
    name = "numpy.%s" % func.__name__
    mod = getattr(func, "__module__", "") or ""
    if mod.startswith("numpy.") and mod.split(".")[1] in ("linalg", "fft", "random", "polynomial"):
        name = "numpy.%s.%s" % (mod.split(".")[1], func.__name__)
    return no_rule(name, name)


def no_rule(where, code):
    return ("zygcy has no gradient rule for %s. Add one with zygcy.defvjp(%s, maker, ...) "
            "(see help(zygcy.defvjp)), or apply it to zygcy.dropgrad(x) if no gradient "
            "should flow through it." % (where, code))


def ufunc_at(name):
    return ("numpy.{0}.at(x, index, v) writes into x in place, which zygcy does not record; "
            "write x[index] = numpy.{0}(x[index], v) instead (x[index] += v for add)".format(name))


def out_into_plain():
    return ("writing a tracked result into a plain ndarray (out=, or an in-place "
            "operator such as a += x) would drop its derivative; write a = a + x instead")


def out_with_where():
    return ("out= together with where= on a tracked array is not recorded (the entries "
            "where= leaves alone would be overwritten); write out = np.where(mask, f(x), out)")


def apply_without_rule(fun):
    return ("no gradient rule is registered for %r; register one with zygcy.defvjp or "
            "zygcy.defjoint first" % (fun,))


def tracked_keyword(fun, key):
    return ("%s: the keyword argument %r is tracked; zygcy differentiates positional "
            "arguments (and keywords it can place by the function's signature), so pass "
            "it by position" % (_name(fun), key))


def no_derivative_for_argument(fun, i):
    return ("%s has no derivative with respect to argument %d; wrap that argument in "
            "zygcy.dropgrad() if that is intended" % (_name(fun), i))


def pullback_not_callable(pullback):
    return "record_joint: the pullback must be a function, got %s" % type(pullback).__name__


def scalar_function_of_array(name, plural=False):
    if plural:
        return "%s takes numbers, not arrays; use the numpy function" % name
    return ("%s takes a number, not an array; use the numpy function (np.%s works on "
            "tracked arrays)" % (name, name))


# ---------------------------------------------------------------------------
# Tapes and the reverse sweep

def tape_active():
    return "this tape is already active"


def tape_swept():
    return ("this tape was swept with last=True, which let go of its nodes; it cannot be "
            "swept again (sweep with last=False to keep them)")


def bad_seed_pair(pair):
    return ("Tape.backward: each seed must be a pair (node, cotangent) with a node "
            "recorded on this tape, got %r" % (pair,))


def not_on_tape(leaf):
    return "Tape.backward: %r is not a node recorded on this tape" % (leaf,)


def tape_not_picklable():
    return "a Tape cannot be pickled or copied: it holds a differentiation in progress"


def changed_in_place(shape, user):
    what = ("an input array of shape %s" % (shape,) if user is None else
            "an array of shape %s used by %s" % (shape, _qualified(user)))
    return ("%s was changed in place after the forward pass that read it, so back would "
            "mix its old and new values. Copy it before changing it (x = x.copy()), or run "
            "forward again after the change." % what)


def _qualified(fun):
    """numpy.multiply for numpy's functions, the plain name for others."""
    import numpy as np
    name = _name(fun)
    return "numpy." + name if getattr(np, name, None) is fun else name


def node_outside_tape():
    return "zygcy internal error: a node outside its tape reached the sweep"


def joint_pullback_length(fun, cts, nargs):
    got = ("a %s of length %d" % (type(cts).__name__, len(cts))
           if isinstance(cts, (tuple, list)) else "a %s" % type(cts).__name__)
    return ("the pullback of %s returned %s, but it must return a tuple with one "
            "gradient per positional argument (%d here), None where there is none"
            % (_name(fun), got, nargs))


def element_cotangent(fun, kind, i, j):
    return ("the pullback of %s returned a %s for argument %d, but that argument is a "
            "sequence with a tracked element at position %d: the cotangent must be a list "
            "(or array) with one entry per element" % (_name(fun), kind, i, j))


def cotangent_kind(fun, kind, i):
    return ("the pullback of %s returned a %s as the cotangent of argument %d; a cotangent "
            "must be a number or an array of the argument's shape (None for no gradient)"
            % (_name(fun), kind, i))


def cotangent_shape(fun, shape, i, want):
    return ("the pullback of %s returned a cotangent of shape %s for argument %d, whose "
            "value has shape %s; a pullback must return a cotangent of its argument's shape "
            "(sum over the axes that broadcasting added, e.g. with np.sum(g, axis=...))"
            % (_name(fun), shape, i, want))


# ---------------------------------------------------------------------------
# Other libraries' functions (zygcy.interop)

def imported_before_zygcy(holder, name, module, attr):
    return ("%s.%s was imported into %s (as %r) before zygcy, so that name is still the "
            "original function, without zygcy's rule: given a tracked value it raises "
            "TypeError (np.asarray/np.array of a tracked value would drop its derivative). "
            "zygcy registers the rules of %s when zygcy is imported (or when %s is, if that "
            "is later). Import zygcy before `from %s import %s`, or call it through the "
            "module (%s.%s(...)), which reaches zygcy's version"
            % (module, attr, holder, name, module, module, module, attr, module, attr))


def registration_failed(module, error):
    return ("zygcy could not register the gradient rules for %s (%r); its functions work "
            "as usual but are not differentiable by zygcy" % (module, error))


# -- forward mode ---------------------------------------------------------------

def jvp_without_rule(fun, verb="defjvp"):
    return ("%s(%s, ...): %s has no reverse rule yet; register its pullbacks first "
            "(defvjp, defjoint...), then its forward rules" % (verb, _name(fun), _name(fun)))


def jvp_outputs(fun, total, n):
    return ("the forward rule of %s returned %s for a function with %d outputs; it must "
            "return a tuple of %d tangents (None for an output with none)"
            % (_name(fun), type(total).__name__, n, n))


def tangent_kind(fun, kind):
    return ("the forward rule of %s returned a %s as the tangent of its output; a tangent "
            "is a number or an array of the output's shape" % (_name(fun), kind))


def tangent_shape(fun, shape, want):
    return ("the forward rule of %s returned a tangent of shape %s for an output of shape "
            "%s; it must have the output's shape" % (_name(fun), shape, want))


def transposed_pullback_failed(fun, error):
    return ("forward mode runs the pullback of %s (it has no forward rule) on a tracked "
            "cotangent, and the pullback failed: %s. Write the pullback with numpy functions "
            "and operators only (np.stack([...]) instead of np.array([...]), no float() or "
            "np.asarray of the cotangent), or give %s a forward rule with zygcy.extend.defjvp"
            % (_name(fun), error, _name(fun)))


def batched_misuse(what):
    return ("zygcy: a batch of tangents (the directions forward_jacobian and hessian push "
            "through one forward pass together) cannot %s; this is a bug in zygcy or in a "
            "batched forward rule (zygcy.extend.defbatched). jvp along one direction at a "
            "time gives the same numbers without batches" % what)


def batched_rule_directions(fun, shape, nb):
    return ("the batched forward rule of %s (zygcy.extend.defbatched) returned tangents of "
            "shape %s for a batch of %d directions; the first axis runs over the directions "
            "and must have length %d" % (_name(fun), shape, nb, nb))
