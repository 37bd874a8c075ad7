"""Rules for scipy.integrate's odeint, solve_ivp and quad, when scipy is installed.

These take a user's function, which zygcy differentiates with its own
reverse and forward mode, at plain points, while scipy integrates plain
numbers. Each call with tracked values is recorded as one node; the solver
itself is never traced.

The parameters. Tracked values reach the user's function through ``args``,
through its closure (the cells of ``f``, of functions in those cells, the
``self`` of a bound method, a ``functools.partial``'s arguments, the
containers and objects they hold) and through the module globals its code
names, ``zygcy.param`` arrays included. Each is a parameter of the node:
the function is copied with fresh cells (and globals) holding plain values
for the solve, or the inner differentiation's values for a derivative. A
tracked value read any other way (through a global function it calls, say)
is found when the function returns a tracked result, and is refused with an
error saying where to pass it.

odeint and solve_ivp, reverse mode: the adjoint sensitivity method. From the
last output time backwards, the augmented system
``[y' = f(y, t), a' = -a J_y, g' = -a J_p]`` is solved by the same solver with
the same tolerances, over each interval between output times, starting each
from the forward solution stored at the output time (so no dense solution is
kept: memory is independent of the number of steps); the cotangent of each
output is added to ``a`` at its time. Each right-hand side evaluation is one
vector-Jacobian product of ``f`` (``zygcy.forward``). Gradients: the initial
state (``a`` at t0), the parameters (``g``), the output times
(``G_i . f(y_i, t_i)``) and the initial time (``-a(t0) . f(y0, t0)``). Accurate
to the solver's tolerance; backward integration of ``y`` makes it unsuited to
stiff (strongly contracting) dynamics, where ``y`` grows backwards in time.

odeint and solve_ivp, forward mode: forward sensitivities, ``s' = J_y s + J_p dp``
solved with ``y`` over the output times (one Jacobian-vector product per
evaluation, ``zygcy.jvp``).

quad: ``d/db = f(b)``, ``d/da = -f(a)`` (zero for an infinite limit), and
``d/dp = int df/dp dx`` by ``scipy.integrate.quad_vec`` with the same
tolerances.

First derivatives only (in reverse or in forward mode): the derivative
computations run scipy on plain numbers, so a second derivative through one
of these (``hessian``, ``hvp``) raises an error saying so.
"""
import copy
import functools
import types

import numpy as np

from ..api import forward, jvp
from ..containers import flatten, unflatten
from ..extend import Tracked, defjvp, defvjp, primitive, value
from ..interop import stand_in, when_imported, wrap

si = None       # scipy.integrate, once it is imported and its rules are registered
ORIGINAL = {}   # name -> scipy's own function

COVERED = ("odeint", "solve_ivp", "quad")


# ---------------------------------------------------------------------------
# The parameters of a user's function

@functools.lru_cache(maxsize=1024)
def _global_names(code):
    """The global names a code object (and the code nested in it) reads."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return frozenset(names)


_ATOMS = (bool, int, float, complex, str, bytes, np.ndarray, np.generic, type, types.ModuleType, np.ufunc,
          types.BuiltinFunctionType)


def _reaches_tracked(v, depth):
    """Whether ``Template`` would find a tracked value in v: the same walk, without
    making anything (the check on every plain call)."""
    if type(v) is Tracked:
        return True
    if stand_in(v):
        return type(v.__zygcy_substitute__()) is Tracked
    if depth <= 0 or v is None or isinstance(v, _ATOMS):
        return False
    if isinstance(v, types.FunctionType):
        for c in v.__closure__ or ():
            try:
                x = c.cell_contents
            except ValueError:
                continue
            if _reaches_tracked(x, depth - 1):
                return True
        g = v.__globals__
        for n in _global_names(v.__code__):
            x = g.get(n)
            if (type(x) is Tracked or stand_in(x) or isinstance(x, (dict, list, tuple))) and _reaches_tracked(x, 1):
                return True
        return bool(v.__defaults__) and _reaches_tracked(v.__defaults__, depth - 1)
    if isinstance(v, (list, tuple)):
        return any(_reaches_tracked(e, depth - 1) for e in v)
    if isinstance(v, dict):
        return any(_reaches_tracked(e, depth - 1) for e in v.values())
    if isinstance(v, types.MethodType):
        return _reaches_tracked(v.__func__, depth - 1) or _reaches_tracked(v.__self__, depth - 1)
    if isinstance(v, functools.partial):
        return (_reaches_tracked(v.func, depth - 1) or _reaches_tracked(v.args, depth - 1)
                or _reaches_tracked(v.keywords, depth - 1))
    attrs = getattr(v, "__dict__", None)
    return isinstance(attrs, dict) and any(_reaches_tracked(e, depth - 1) for e in list(attrs.values()))


class Template:
    """A copy of a user's function (and of its ``args``) in which every tracked value
    it reaches is a slot: ``set(values)`` puts one value per parameter in the slots
    (plain numbers for a solve, tracked ones for a derivative); ``fun`` and ``args``
    then compute with them.

    ``params`` are the tracked values found (their order is the slots' order)."""

    DEPTH = 4       # how deep functions found in closures are followed

    def __init__(self, fun, args=()):
        self.params = []
        self._index = {}
        self._setters = []
        self._seen = {}
        build = self._builder(fun, self.DEPTH)
        self.fun = fun
        if build is not None:           # the copy, remade by set() for bound methods and partials
            self._current = build(None)
            self._setters.append(lambda vals: setattr(self, "_current", build(vals)))
            self.fun = lambda *a, **kw: self._current(*a, **kw)
        self._args_build = self._builder(tuple(args), self.DEPTH)
        self._args = tuple(args)

    # -- finding the parameters and making the copy --------------------------------
    def _param(self, t):
        k = self._index.get(id(t))
        if k is None:
            k = self._index[id(t)] = len(self.params)
            self.params.append(t)
        return lambda vals, k=k: vals[k]

    def _builder(self, v, depth):
        """None if v holds no tracked value; else a function (values or None) -> the
        value to use (for functions: the copy, made once, whose slots set() fills)."""
        if type(v) is Tracked:
            return self._param(v)
        if stand_in(v):
            s = v.__zygcy_substitute__()
            return self._param(s) if type(s) is Tracked else None
        if depth <= 0 or v is None or isinstance(v, (bool, int, float, complex, str, np.ndarray, np.generic,
                                                     type, types.ModuleType, np.ufunc)):
            return None
        if isinstance(v, types.FunctionType):
            return self._function(v, depth)
        if isinstance(v, types.MethodType):
            fb = self._builder(v.__func__, depth - 1)
            sb = self._builder(v.__self__, depth - 1)
            if fb is None and sb is None:
                return None
            func = v.__func__ if fb is None else fb(None)
            return lambda vals: types.MethodType(func, v.__self__ if sb is None or vals is None else sb(vals))
        if isinstance(v, functools.partial):
            fb = self._builder(v.func, depth - 1)
            ab = self._builder(tuple(v.args), depth - 1)
            kb = self._builder(dict(v.keywords), depth - 1)
            if fb is None and ab is None and kb is None:
                return None
            func = v.func if fb is None else fb(None)

            def build_partial(vals):
                if vals is None:
                    return v
                return functools.partial(func, *(v.args if ab is None else ab(vals)),
                                         **(v.keywords if kb is None else kb(vals)))
            return build_partial
        return self._container(v, depth)     # containers, and objects (a callable one too)

    def _container(self, v, depth):
        try:
            leaves, tree = flatten(v)
        except Exception:        # something zygcy cannot take apart holds no parameter it sees
            return None
        if len(leaves) == 1 and leaves[0] is v:
            return self._record(v, depth)
        builds = [self._builder(leaf, depth - 1) for leaf in leaves]
        if all(b is None for b in builds):
            return None

        def build_container(vals):
            if vals is None:
                return v
            return unflatten(tree, [leaf if b is None else b(vals) for leaf, b in zip(leaves, builds)])
        return build_container

    def _record(self, v, depth):
        """An object holding tracked values in its attributes (which zygcy's containers
        pass through as holding no numbers): a shallow copy with them replaced."""
        attrs = getattr(v, "__dict__", None)
        if not isinstance(attrs, dict):
            return None
        builds = {k: b for k, b in ((k, self._builder(a, depth - 1)) for k, a in list(attrs.items()))
                  if b is not None}
        if not builds:
            return None

        def build_record(vals):
            if vals is None:
                return v
            new = copy.copy(v)
            for k, b in builds.items():
                object.__setattr__(new, k, b(vals))
            return new
        return build_record

    def _function(self, fn, depth):
        if id(fn) in self._seen:
            return self._seen[id(fn)]
        self._seen[id(fn)] = None           # recursion through itself: no copy needed there
        cells = fn.__closure__ or ()
        contents = []
        for c in cells:
            try:
                contents.append(c.cell_contents)
            except ValueError:              # an empty cell
                contents.append(_EMPTY)
        cell_builds = [None if x is _EMPTY else self._builder(x, depth - 1) for x in contents]
        names = [n for n in _global_names(fn.__code__) if n in fn.__globals__]
        global_builds = {}
        for n in names:
            g = fn.__globals__[n]
            if type(g) is Tracked or stand_in(g) or isinstance(g, (dict, list, tuple)):
                b = self._builder(g, 1)
                if b is not None:
                    global_builds[n] = b
        default_build = self._builder(fn.__defaults__, depth - 1) if fn.__defaults__ else None
        if all(b is None for b in cell_builds) and not global_builds and default_build is None:
            return None
        new_cells = tuple(types.CellType() if x is _EMPTY else types.CellType(x) for x in contents)
        new_globals = dict(fn.__globals__) if global_builds else fn.__globals__
        clone = types.FunctionType(fn.__code__, new_globals, fn.__name__, fn.__defaults__, new_cells)
        clone.__kwdefaults__ = fn.__kwdefaults__
        clone.__dict__.update(fn.__dict__)
        for cell, b in zip(new_cells, cell_builds):
            if b is not None:
                self._setters.append(lambda vals, cell=cell, b=b: setattr(cell, "cell_contents", b(vals)))
        for n, b in global_builds.items():
            self._setters.append(lambda vals, n=n, b=b: new_globals.__setitem__(n, b(vals)))
        if default_build is not None:
            self._setters.append(lambda vals: setattr(clone, "__defaults__", default_build(vals)))
        self._seen[id(fn)] = build = lambda vals: clone
        return build

    # -- using it ---------------------------------------------------------------
    def set(self, values):
        """Put ``values`` (one per parameter) in the slots; returns the args to call with."""
        for s in self._setters:
            s(values)
        return self._args if self._args_build is None else self._args_build(values)

    def plain_values(self):
        return [value(p) for p in self.params]


_EMPTY = object()


def _involves_tracked(fun, args):
    """Whether fun (its closure, the globals it names...) or args hold tracked values."""
    return _reaches_tracked(fun, Template.DEPTH) or _reaches_tracked(tuple(args), Template.DEPTH)


# ---------------------------------------------------------------------------
# The dynamics f(y, t) at plain points: values, VJPs, JVPs

class Dynamics:
    """The user's right-hand side as ``f(y, t)`` for plain y, t, with the parameters'
    values fixed by ``plain``; its VJP and JVP in (y, parameters)."""

    def __init__(self, template, call, where):
        self.template, self.call, self.where = template, call, where
        self.plain = template.plain_values()
        self.shapes = [np.shape(p) for p in self.plain]
        self.sizes = [int(np.size(p)) for p in self.plain]
        self.size = sum(self.sizes)

    def f(self, y, t):
        args = self.template.set(self.plain)
        out = self.call(self.template.fun, y, t, args)
        if _holds_tracked(out):
            raise TypeError(_hidden_tracked(self.where))
        return np.asarray(out, dtype=float).reshape(-1)

    def _g(self, t):
        def g(y, *p):
            return self.call(self.template.fun, y, t, self.template.set(p))
        return g

    def vjp(self, y, t, a):
        """(f(y, t), a J_y, a J_p as one vector)."""
        out, back = forward(self._g(t), y, *self.plain)
        cts = back(_like(out, a))
        gy = np.zeros_like(y) if cts[0] is None else np.reshape(np.asarray(cts[0], dtype=float), -1)
        return _vector(out), gy, self._flat(cts[1:])

    def jvp(self, y, t, s, dp):
        """(f(y, t), J_y s + J_p dp), dp one tangent per parameter (None: zero)."""
        tans = (s,) + tuple(np.zeros(sh) if d is None else d for sh, d in zip(self.shapes, dp))
        out, d = jvp(self._g(t), (y,) + tuple(self.plain), tans)
        return _vector(out), (np.zeros(len(_vector(out))) if d is None else _vector(d))

    def _flat(self, cts):
        if not self.sizes:
            return np.zeros(0)
        return np.concatenate([np.zeros(n) if c is None else np.reshape(np.asarray(c, dtype=float), -1)
                               for n, c in zip(self.sizes, cts)])

    def split(self, gp):
        """The parameter gradient vector as one value per parameter, of its shape."""
        out, i = [], 0
        for sh, n, p in zip(self.shapes, self.sizes, self.plain):
            v = gp[i:i + n].reshape(sh)
            out.append(float(v) if isinstance(p, (float, int)) and sh == () else v)
            i += n
        return out


def _vector(out):
    """A function's output (a number, an array, a list of them) as one float vector."""
    leaves, _ = flatten(out)
    return np.concatenate([np.reshape(np.asarray(value(v), dtype=float), -1) for v in leaves]) \
        if leaves else np.zeros(0)


def _like(out, a):
    """The vector a in the structure of the output out (the cotangent to give back)."""
    leaves, tree = flatten(out)
    pieces, i = [], 0
    for v in leaves:
        n = int(np.size(value(v)))
        piece = a[i:i + n].reshape(np.shape(value(v)))
        pieces.append(piece if isinstance(value(v), np.ndarray) else float(piece))
        i += n
    return unflatten(tree, pieces)


def _holds_tracked(v):
    if type(v) is Tracked:
        return True
    if isinstance(v, (list, tuple)):
        return any(_holds_tracked(e) for e in v)
    return False


def _hidden_tracked(where):
    return ("%s: the function being integrated returned a tracked value computed from one "
            "zygcy did not find among its parameters (it looks in args, in the function's "
            "closure, in the objects and functions held there, and in the globals the "
            "function itself names). Pass that value through args= (or define the function "
            "inside the differentiated code, so that it closes over it)" % where)


def _no_second_order(where, values):
    if _holds_tracked(list(values)):
        raise NotImplementedError(
                "%s: zygcy differentiates it once (reverse or forward mode); a second "
                "derivative through it (hessian, hvp, a derivative of a derivative) is not "
                "supported, since its derivative is computed by scipy on plain numbers" % where)


# ---------------------------------------------------------------------------
# The adjoint and the forward sensitivities, for any solver

def _tolerance_for(tol, n, total):
    """A tolerance given for the n states of y, for an augmented system of ``total``
    states (the smallest one for the added states)."""
    if tol is None or np.ndim(tol) == 0:
        return tol
    tol = np.asarray(tol, dtype=float).reshape(-1)
    return np.concatenate([tol, np.full(total - len(tol), tol.min())])


def adjoint(dyn, times, Y, G, t0, y0, back_solve, want_times, want_t0):
    """The cotangents of (y0, parameters, output times, t0) for output cotangents G
    (one row per output time), by integrating the adjoint system backwards from the
    last output, restarted from Y at each output time."""
    n, P = Y.shape[1], dyn.size
    a, gp = np.zeros(n), np.zeros(P)
    gt = np.zeros(len(times)) if want_times else None

    def augmented(s, t):
        y, lam = s[:n], s[n:2 * n]
        fy, ay, ap = dyn.vjp(y, t, lam)
        return np.concatenate([fy, -ay, -ap])

    for i in range(len(times) - 1, -1, -1):
        a = a + G[i]
        if want_times and np.any(G[i] != 0):
            gt[i] = G[i] @ dyn.f(Y[i], times[i])
        t_prev = times[i - 1] if i > 0 else t0
        if t_prev != times[i] and np.any(a != 0):
            s = back_solve(augmented, np.concatenate([Y[i], a, gp]), times[i], t_prev)
            a, gp = s[n:2 * n], s[2 * n:]
    g_t0 = -(a @ dyn.f(y0, t0)) if want_t0 and np.any(a != 0) else (0.0 if want_t0 else None)
    return a, gp, gt, g_t0


def tangent(dyn, times, Y, t0, y0, dy0, dp, dt0, dtimes, fwd_solve):
    """The tangent of the outputs at ``times`` (one row each) for tangents of y0, the
    parameters, t0 and the output times, by forward sensitivities."""
    n = len(y0)
    dY = np.zeros_like(Y)
    s0 = np.zeros(n) if dy0 is None else np.reshape(np.asarray(dy0, dtype=float), -1)
    if dt0 is not None and dt0 != 0:
        s0 = s0 - dyn.f(y0, t0) * dt0
    if np.any(s0 != 0) or any(d is not None and np.any(np.asarray(d) != 0) for d in dp):
        def augmented(s, t):
            fy, js = dyn.jvp(s[:n], t, s[n:], dp)
            return np.concatenate([fy, js])
        S = fwd_solve(augmented, np.concatenate([y0, s0]), t0, times)
        dY = S[:, n:]
    if dtimes is not None:
        for i, dti in enumerate(np.reshape(np.asarray(dtimes, dtype=float), -1)):
            if dti != 0:
                dY[i] = dY[i] + dyn.f(Y[i], times[i]) * dti
    return dY


# ---------------------------------------------------------------------------
# odeint

class OdeintCall:
    """One call of odeint with tracked values: the template of func, the options."""

    def __init__(self, func, args, kw, tfirst):
        self.template = Template(func, args)
        self.kw = kw
        self.tfirst = tfirst
        self.info = None
        dfun = kw.get("Dfun")
        self.dfun = Template(dfun, args) if dfun is not None else None

    def call(self, fun, y, t, args):
        return fun(t, y, *args) if self.tfirst else fun(y, t, *args)

    def dynamics(self):
        return Dynamics(self.template, self.call, "scipy.integrate.odeint")

    def solve(self, fun, y0, t, args):
        kw = dict(self.kw)
        if self.dfun is not None:           # its own closure on plain values (odeint passes it args)
            self.dfun.set(self.dfun.plain_values())
            kw["Dfun"] = self.dfun.fun
        return ORIGINAL["odeint"](fun, y0, t, args=tuple(args), tfirst=self.tfirst, **kw)


def odeint_value(call, inputs):
    y0, t = inputs[0], inputs[1]
    params = list(inputs[2:])
    _no_second_order("scipy.integrate.odeint", [y0, t] + params)
    tpl = call.template
    args = tpl.set(params)
    dyn = call.dynamics()
    out = call.solve(_checked(tpl, dyn.where), y0, t, args)
    if call.kw.get("full_output"):
        out, call.info = out
    return out


def _checked(tpl, where):
    """The user's function on plain values, refusing a tracked result (a parameter
    zygcy did not find)."""
    def rhs(*a):
        out = tpl.fun(*a)
        if _holds_tracked(out):
            raise TypeError(_hidden_tracked(where))
        return out
    return rhs


_ODEINT_OPTIONS = ("rtol", "atol", "hmax", "hmin", "mxstep", "mxordn", "mxords")


def _odeint_options(call, n, total):
    """odeint's options for an augmented system (the same tolerances and step limits)."""
    kw = {k: call.kw[k] for k in _ODEINT_OPTIONS if call.kw.get(k) is not None}
    for k in ("rtol", "atol"):
        if k in kw:
            kw[k] = _tolerance_for(kw[k], n, total)
    return kw


def _odeint_back_solve(call, n):
    def back_solve(rhs, s0, t_from, t_to):
        return ORIGINAL["odeint"](rhs, s0, [t_from, t_to], **_odeint_options(call, n, len(s0)))[-1]
    return back_solve


def _odeint_fwd_solve(call, n):
    def fwd_solve(rhs, s0, t0, times):
        return ORIGINAL["odeint"](rhs, s0, times, **_odeint_options(call, n, len(s0)))
    return fwd_solve


def odeint_maker(ans, call, inputs):
    _no_second_order("scipy.integrate.odeint", list(inputs))
    y0, t = np.asarray(inputs[0], dtype=float), np.asarray(inputs[1], dtype=float)

    def odeint_pullback(g):
        if g is None:
            return None
        _no_second_order("scipy.integrate.odeint", [g])
        G = np.asarray(g, dtype=float).reshape(ans.shape)
        dyn = call.dynamics()
        gy0, gp, gt, gt0 = adjoint(dyn, t, ans, G, t[0], y0, _odeint_back_solve(call, len(y0)), True, True)
        gt = gt.copy()
        gt[0] += gt0
        return [gy0.reshape(np.shape(inputs[0])), gt.reshape(np.shape(inputs[1]))] + dyn.split(gp)
    return odeint_pullback


def odeint_jvp(tans, ans, call, inputs):
    _no_second_order("scipy.integrate.odeint", list(inputs) + [tans])
    y0, t = np.asarray(inputs[0], dtype=float), np.asarray(inputs[1], dtype=float)
    dyn = call.dynamics()
    dt = None if tans[1] is None else np.asarray(tans[1], dtype=float)
    dY = tangent(dyn, t, ans, t[0], y0, tans[0], list(tans[2:]), None if dt is None else dt[0],
                 dt, _odeint_fwd_solve(call, len(y0)))
    if dt is not None:
        dY[0] = 0 if tans[0] is None else np.reshape(tans[0], -1)     # y(t0) = y0 whatever t0
    return dY


_odeint_node = None


def odeint_tracked(func, y0, t, args=(), **kw):
    """odeint with tracked values among y0, t, args or func's parameters."""
    if type(args) is not tuple:
        args = (args,)
    tfirst = bool(kw.pop("tfirst", False))
    y0 = _stacked(y0)
    t = _stacked(t)
    call = OdeintCall(func, args, kw, tfirst)
    y0v = value(y0)
    if np.iscomplexobj(y0v):
        raise TypeError("scipy.integrate.odeint: y0 must be real")
    y0 = np.reshape(y0, (-1,)) if np.ndim(y0v) != 1 else y0
    out = _odeint_node(call, (y0, t) + tuple(call.template.params))
    return (out, call.info) if kw.get("full_output") else out


def _stacked(x):
    if type(x) in (list, tuple) and any(type(e) is Tracked for e in x):
        return np.stack(x)
    return x


# ---------------------------------------------------------------------------
# solve_ivp

class IvpCall:
    """One call of solve_ivp with tracked values: the template of fun, the options,
    and (once solved) scipy's result."""

    def __init__(self, fun, args, method, vectorized, options, n, where="scipy.integrate.solve_ivp"):
        self.template = Template(fun, args)
        self.method, self.vectorized, self.options, self.n = method, vectorized, options, n
        self.result = None
        self.where = where
        jac = options.get("jac")
        self.jac = Template(jac, args) if callable(jac) else None

    def call(self, fun, y, t, args):
        if self.vectorized:         # fun takes a batch of states, as columns
            return np.reshape(fun(t, np.reshape(y, (-1, 1)), *args), (-1,))
        return fun(t, y, *args)

    def dynamics(self):
        return Dynamics(self.template, self.call, self.where)

    def _options(self, total):
        """The same method, tolerances and step limit, for an augmented system."""
        kw = {k: self.options[k] for k in ("rtol", "atol", "max_step") if k in self.options}
        for k in ("rtol", "atol"):
            if k in kw:
                kw[k] = _tolerance_for(kw[k], self.n, total)
        return kw

    def back_solve(self, rhs, s0, t_from, t_to):
        res = ORIGINAL["solve_ivp"](lambda t, s: rhs(s, t), (t_from, t_to), s0, method=self.method,
                                    **self._options(len(s0)))
        if res.status != 0:
            raise RuntimeError("%s: the adjoint solve failed (%s)" % (self.where, res.message))
        return res.y[:, -1]

    def fwd_solve(self, rhs, s0, t0, times):
        res = ORIGINAL["solve_ivp"](lambda t, s: rhs(s, t), (t0, times[-1]), s0, method=self.method,
                                    t_eval=times, **self._options(len(s0)))
        if res.status != 0:
            raise RuntimeError("%s: the sensitivity solve failed (%s)" % (self.where, res.message))
        return res.y.T


def ivp_value(call, inputs):
    t0, t1, y0, t_eval = inputs[0], inputs[1], inputs[2], inputs[3]
    params = list(inputs[4:])
    _no_second_order(call.where, [t0, t1, y0, t_eval] + params)
    args = call.template.set(params)
    fun = _checked(call.template, call.where)
    options = dict(call.options)
    if call.jac is not None:
        jargs = call.jac.set(call.jac.plain_values())
        jf = call.jac.fun
        options["jac"] = lambda t, y, *a: jf(t, y, *jargs)
    res = ORIGINAL["solve_ivp"](fun, (t0, t1), y0, method=call.method, t_eval=t_eval,
                                vectorized=call.vectorized, args=tuple(args) if args else None, **options)
    if res.status < 0:
        raise RuntimeError("%s failed: %s; there is no derivative of a failed solve" % (call.where, res.message))
    call.result = res
    return res.y


def ivp_maker(ans, call, inputs):
    _no_second_order(call.where, list(inputs))
    t0, y0 = float(inputs[0]), np.asarray(inputs[2], dtype=float)
    times = call.result.t
    given_eval = inputs[3] is not None
    res_y = ans.T

    def solve_ivp_pullback(g):
        if g is None:
            return None
        _no_second_order(call.where, [g])
        G = np.asarray(g, dtype=float).reshape(ans.shape).T
        dyn = call.dynamics()
        gy0, gp, gt, gt0 = adjoint(dyn, times, res_y, G, t0, y0, call.back_solve, True, True)
        if given_eval:
            g_t0, g_t1, g_eval = gt0, 0.0, gt.reshape(np.shape(inputs[3]))
        else:
            # the outputs are at the solver's steps: the first is t0 and the last t1, the steps
            # in between are held fixed (they move with the inputs only through step control)
            g_t0, g_t1, g_eval = gt0 + gt[0], (gt[-1] if len(gt) > 1 else 0.0), None
        return [g_t0, g_t1, gy0.reshape(np.shape(inputs[2])), g_eval] + dyn.split(gp)
    return solve_ivp_pullback


def ivp_jvp(tans, ans, call, inputs):
    _no_second_order(call.where, list(inputs) + [tans])
    t0, y0 = float(inputs[0]), np.asarray(inputs[2], dtype=float)
    times = call.result.t
    dyn = call.dynamics()
    dt0 = None if tans[0] is None else float(tans[0])
    if inputs[3] is not None:
        dtimes = tans[3]
    else:
        dtimes = np.zeros(len(times))
        if tans[0] is not None:
            dtimes[0] = tans[0]
        if tans[1] is not None and len(times) > 1:
            dtimes[-1] = tans[1]
    dY = tangent(dyn, times, ans.T, t0, y0, tans[2], list(tans[4:]), dt0, dtimes, call.fwd_solve)
    if inputs[3] is None and len(times):
        dY[0] = 0 if tans[2] is None else np.reshape(tans[2], -1)     # y(t0) = y0 whatever t0
    return dY.T


_ivp_node = None


def solve_ivp_tracked(fun, t_span, y0, method="RK45", t_eval=None, dense_output=False, events=None,
                      vectorized=False, args=None, **options):
    where = "scipy.integrate.solve_ivp"
    if events is not None:
        raise NotImplementedError("%s: events with tracked values are not supported (the event "
                                  "times would depend on them); pass zygcy.value() of the values, "
                                  "or stop at a fixed time" % where)
    if dense_output:
        raise NotImplementedError("%s: dense_output=True with tracked values is not supported (the "
                                  "interpolant would carry no derivative); ask for the times you "
                                  "need with t_eval=" % where)
    if not isinstance(method, str):
        raise NotImplementedError("%s: a solver class as method is not supported with tracked "
                                  "values; pass its name" % where)
    if args is not None and type(args) is not tuple:
        args = (args,)
    y0 = _stacked(y0)
    if np.iscomplexobj(value(y0)):
        raise NotImplementedError("%s: a complex y0 with tracked values is not supported" % where)
    t0, t1 = t_span
    call = IvpCall(fun, args or (), method, vectorized, options, int(np.size(value(y0))))
    y = _ivp_node(call, (t0, t1, np.reshape(y0, (-1,)), None if t_eval is None else _stacked(t_eval))
                  + tuple(call.template.params))
    res = call.result
    out = type(res)(res)                    # an OdeResult (a dict with attribute access)
    out.y = y
    if t_eval is not None and _holds_tracked([t_eval]):
        out.t = _stacked(t_eval)
    elif _holds_tracked([t0, t1]) and len(res.t) > 1:
        out.t = np.concatenate([np.reshape(t0 + 0.0 * value(t0), (1,)), res.t[1:-1],
                                np.reshape(t1 + 0.0 * value(t1), (1,))])
    return out


# ---------------------------------------------------------------------------
# quad

class QuadCall:
    def __init__(self, func, args, kw):
        self.template = Template(func, args)
        self.kw = kw
        self.extra = None

    def f(self, x, params):
        args = self.template.set(params)
        out = self.template.fun(x, *args)
        if _holds_tracked(out):
            raise TypeError(_hidden_tracked("scipy.integrate.quad"))
        return out


_QUAD_VEC_OPTIONS = ("epsabs", "epsrel", "limit", "points")


def quad_value(call, inputs):
    a, b = inputs[0], inputs[1]
    params = list(inputs[2:])
    _no_second_order("scipy.integrate.quad", [a, b] + params)
    args = call.template.set(params)
    fun = _checked(call.template, "scipy.integrate.quad")
    out = ORIGINAL["quad"](fun, a, b, args=tuple(args), **call.kw)
    call.extra = out[1:]
    return out[0]


def _integrand_gradient(call):
    """x -> d f(x) / d p, one vector (a quad_vec integrand)."""
    tpl = call.template
    plain = tpl.plain_values()
    sizes = [int(np.size(p)) for p in plain]

    def df(x):
        out, back = forward(lambda *p: tpl.fun(x, *tpl.set(p)), *plain)
        cts = back(1.0)
        return np.concatenate([np.zeros(n) if c is None else np.reshape(np.asarray(c, dtype=float), -1)
                               for n, c in zip(sizes, cts)]) if sizes else np.zeros(0)
    return df, sizes, plain


def _edge(call, x):
    return 0.0 if not np.isfinite(x) else float(call.f(x, call.template.plain_values()))


def _quad_vec_kw(call):
    kw = {k: call.kw[k] for k in _QUAD_VEC_OPTIONS if k in call.kw and call.kw[k] is not None}
    kw.setdefault("epsabs", 1.49e-8)
    kw.setdefault("epsrel", 1.49e-8)
    kw["limit"] = max(int(kw.get("limit", 50)), 10000)
    return kw


def _check_weight(call):
    if call.kw.get("weight") is not None:
        raise NotImplementedError("scipy.integrate.quad: weight= with tracked values is not "
                                  "supported; write the weight into the integrand")


def quad_maker(ans, call, inputs):
    _no_second_order("scipy.integrate.quad", list(inputs))
    _check_weight(call)
    a, b = float(inputs[0]), float(inputs[1])

    def quad_pullback(g):
        if g is None:
            return None
        _no_second_order("scipy.integrate.quad", [g])
        g = float(g)
        out = [-g * _edge(call, a), g * _edge(call, b)]
        if call.template.params:
            df, sizes, plain = _integrand_gradient(call)
            integral = ORIGINAL["quad_vec"](df, a, b, **_quad_vec_kw(call))[0]
            i = 0
            for n, p in zip(sizes, plain):
                v = g * integral[i:i + n].reshape(np.shape(p))
                out.append(float(v) if np.ndim(p) == 0 and not isinstance(p, np.ndarray) else v)
                i += n
        return out
    return quad_pullback


def quad_jvp(tans, ans, call, inputs):
    _no_second_order("scipy.integrate.quad", list(inputs) + [tans])
    _check_weight(call)
    a, b = float(inputs[0]), float(inputs[1])
    d = 0.0
    if tans[0] is not None:
        d -= float(tans[0]) * _edge(call, a)
    if tans[1] is not None:
        d += float(tans[1]) * _edge(call, b)
    dp = list(tans[2:])
    if any(t is not None for t in dp):
        tpl = call.template
        plain = tpl.plain_values()
        dp = [np.zeros(np.shape(p)) if t is None else t for p, t in zip(plain, dp)]

        def dfx(x):
            _, dv = jvp(lambda *p: tpl.fun(x, *tpl.set(p)), tuple(plain), tuple(dp))
            return 0.0 if dv is None else float(dv)
        d += ORIGINAL["quad_vec"](dfx, a, b, **_quad_vec_kw(call))[0]
    return d


_quad_node = None


def quad_tracked(func, a, b, args=(), **kw):
    if type(args) is not tuple:
        args = (args,)
    if kw.get("complex_func"):
        raise NotImplementedError("scipy.integrate.quad: complex_func=True with tracked values is "
                                  "not supported")
    call = QuadCall(func, args, kw)
    y = _quad_node(call, (a, b) + tuple(call.template.params))
    return (y,) + tuple(call.extra)


# ---------------------------------------------------------------------------
# Registration

def odeint_node(call, inputs):
    return odeint_value(call, inputs)


def solve_ivp_node(call, inputs):
    return ivp_value(call, inputs)


def quad_node(call, inputs):
    return quad_value(call, inputs)


def _register(module):
    global si, _odeint_node, _ivp_node, _quad_node
    if si is not None:
        return
    si = module
    for name in ("odeint", "solve_ivp", "quad", "quad_vec"):
        f = getattr(si, name)
        ORIGINAL[name] = getattr(f, "__wrapped__", f) if getattr(f, "_zygcy", False) else f
    _odeint_node = primitive(odeint_node)
    defvjp(_odeint_node, None, odeint_maker)
    defjvp(_odeint_node, None, odeint_jvp)
    _ivp_node = primitive(solve_ivp_node)
    defvjp(_ivp_node, None, ivp_maker)
    defjvp(_ivp_node, None, ivp_jvp)
    _quad_node = primitive(quad_node)
    defvjp(_quad_node, None, quad_maker)
    defjvp(_quad_node, None, quad_jvp)

    wrap(si, "odeint", odeint_tracked,
                 involved=lambda args, kw: _involves_tracked(args[0] if args else kw.get("func"),
                                                             _as_tuple(args[3] if len(args) > 3 else kw.get("args", ()))))
    wrap(si, "solve_ivp", solve_ivp_tracked,
                 involved=lambda args, kw: _involves_tracked(args[0] if args else kw.get("fun"),
                                                             _as_tuple(kw.get("args") or ())))
    wrap(si, "quad", quad_tracked,
                 involved=lambda args, kw: _involves_tracked(args[0] if args else kw.get("func"),
                                                             _as_tuple(args[3] if len(args) > 3 else kw.get("args", ()))))


def _as_tuple(a):
    return a if type(a) is tuple else (a,)


when_imported("scipy.integrate", _register)
