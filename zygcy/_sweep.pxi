# The reverse sweep.
# Part of the zygcy._core extension module (included by _core.pyx).

# ---------------------------------------------------------------------------
# The reverse sweep

@cython.final
cdef class _Grads:
    """The gradients arriving at the nodes of one tape during one reverse sweep.

    They are kept here, by the sweep, and not on the nodes: two sweeps of the
    same tape (``back`` called from several threads, or from a hook while its
    own sweep runs) then never see each other's sums.

    Node ``i`` (its ``pos``) has nothing yet (``state[i] == 0``), a C double
    (``G_DOUBLE``: ``gd[i]``) or a Python object (``G_OBJECT``: ``go[i]``).
    ``own[i]`` says that ``go[i]`` is a buffer this sweep allocated for node i
    alone, the only kind ever updated in place: a cotangent that arrives from
    a pullback may be shared (add's pullback hands the same array to both
    operands), so it is never written into.
    """
    cdef double* gd
    cdef char* state
    cdef char* own
    cdef list go
    cdef Py_ssize_t n

    def __cinit__(self, Py_ssize_t n):
        self.n = n
        self.gd = <double*>malloc((n + 1) * sizeof(double))     # read only where state is G_DOUBLE
        self.state = <char*>calloc(2 * (n + 1), sizeof(char))
        if self.gd == NULL or self.state == NULL:
            raise MemoryError()
        self.own = self.state + (n + 1)
        self.go = None          # made at the first object gradient: a sweep of floats needs none

    cdef inline int _objects(self) except -1:
        if self.go is None:
            self.go = [None] * self.n
        return 0

    def __dealloc__(self):
        free(self.gd)
        free(self.state)

    cdef inline Py_ssize_t _index(self, Tracked p) except -1:
        # Every parent is older than its child, so inside the tape; checked all
        # the same, since these are raw C arrays (no bounds check protects them).
        if <size_t>p.pos >= <size_t>self.n:      # one comparison: a negative pos is huge unsigned
            raise RuntimeError(_messages.node_outside_tape())
        return p.pos

    cdef inline int add_double(self, Tracked p, double v) except -1:  # the hot path of scalar sweeps
        cdef Py_ssize_t i = self._index(p)
        if self.state[i] == 0:
            self.state[i] = G_DOUBLE
            self.gd[i] = v
        elif self.state[i] == G_DOUBLE:
            self.gd[i] += v
        else:
            self.go[i] = self._sum(i, self.go[i], PyFloat_FromDouble(v))
        return 0

    cdef int add_object(self, Tracked p, object v) except -1:
        cdef Py_ssize_t i
        if v is None:
            return 0
        i = self._index(p)
        if self.state[i] == 0:
            if PyFloat_CheckExact(v):
                self.state[i] = G_DOUBLE
                self.gd[i] = PyFloat_AS_DOUBLE(v)
            else:
                self._objects()
                self.state[i] = G_OBJECT
                self.go[i] = v
                self.own[i] = False
        elif self.state[i] == G_DOUBLE:
            if PyFloat_CheckExact(v):
                self.gd[i] += PyFloat_AS_DOUBLE(v)
            else:
                self._objects()
                self.state[i] = G_OBJECT
                self.own[i] = False
                self.go[i] = self._sum(i, PyFloat_FromDouble(self.gd[i]), v)
        else:
            self.go[i] = self._sum(i, self.go[i], v)
        return 0

    cdef object _sum(self, Py_ssize_t i, object acc, object v):
        """acc + v for node i; acc is updated in place only if own[i]."""
        cdef bint owned = self.own[i]
        if type(acc) is IndexGrad and type(v) is IndexGrad and (<IndexGrad>acc).shape == (<IndexGrad>v).shape:
            if owned:
                (<IndexGrad>acc).entries.extend((<IndexGrad>v).entries)
                return acc
            self.own[i] = True
            return _index_grad((<IndexGrad>acc).shape, (<IndexGrad>acc).dtype,
                               (<IndexGrad>acc).entries + (<IndexGrad>v).entries)
        if type(acc) is IndexGrad:
            # Sparse so far, dense incoming: the dense one becomes the sum, but it
            # is not ours, so it is copied before the entries are added.
            acc, v = v, acc
            owned = False
        if type(v) is IndexGrad and type(acc) is _ndarray and _scatters_into(<IndexGrad>v, acc):
            if not owned:
                acc = acc.copy()
                self.own[i] = True
            for idx, val in (<IndexGrad>v).entries:
                _add_at(acc, idx, val)
            return acc
        if type(acc) is list or type(acc) is tuple:       # the cotangents of a multi-output node
            self.own[i] = False
            return [_plain_sum(u, w) for u, w in zip(acc, v)]
        v = _densify(v)
        acc = _densify(acc)
        if (owned and type(acc) is _ndarray and type(v) is _ndarray
                and (<object>acc).shape == (<object>v).shape
                and ((<object>v).dtype is (<object>acc).dtype or np.can_cast(v.dtype, acc.dtype))):
            acc += v        # a buffer this sweep allocated for this node: add in place
            return acc
        r = acc + v
        self.own[i] = type(r) is _ndarray
        return r

    cdef object take(self, Tracked n):
        """The gradient that reached node n (None if none did)."""
        cdef Py_ssize_t i = self._index(n)
        if self.state[i] == 0:
            return None
        if self.state[i] == G_DOUBLE:
            return PyFloat_FromDouble(self.gd[i])
        g = _densify(self.go[i])
        # A real value's cotangent is real: drop the imaginary part a complex consumer
        # sent back (ChainRules' ProjectTo), so rules of real functions never see it.
        if type(g) is _ndarray:
            if (<object>g).dtype.kind != "c":
                return g            # the common case: a real array
        elif PyFloat_CheckExact(g) or g is None:
            return g
        if n.kind != K_MULTI and g is not None and _is_complex(g) and not _is_complex(_tv(n)):
            g = g.real
        return g


cdef bint _scatters_into(IndexGrad g, object acc):
    """The entries of g can be added into the plain array acc in place: none is
    tracked, and none is complex when acc is real."""
    cdef bint real = acc.dtype.kind != "c"
    for entry in g.entries:
        val = (<tuple>entry)[1]
        if type(val) is Tracked or (real and _is_complex(val)):
            return False
    return True


cdef object _plain_sum(object u, object w):
    """u + w, None counting as zero, never updating either."""
    if u is None:
        return w
    if w is None:
        return u
    if type(u) is IndexGrad and type(w) is IndexGrad and (<IndexGrad>u).shape == (<IndexGrad>w).shape:
        return _index_grad((<IndexGrad>u).shape, (<IndexGrad>u).dtype,
                           (<IndexGrad>u).entries + (<IndexGrad>w).entries)
    return _densify(u) + _densify(w)


cdef object _sweep(Tape tape, list seeds, list leaves, bint repeat, bint last):
    cdef list nodes = tape.nodes
    cdef Py_ssize_t i, j, n_nodes = PyList_GET_SIZE(nodes)
    cdef _Grads G = _Grads(n_nodes)
    cdef Tracked n, p
    cdef Rec rec
    cdef object g, cts
    for node, s in seeds:
        G.add_object(<Tracked>node, s)
    for i in range(n_nodes - 1, -1, -1):
        n = <Tracked>PyList_GET_ITEM(nodes, i)
        if n.op == OP_LEAF:
            continue
        if G.state[i] == 0:
            if last and not n.fast:
                _let_go(nodes, i, n)
            continue
        if n.op == OP_LIN:
            if n.fast and G.state[i] == G_DOUBLE:
                # The hot path: every quantity is a C double, added in place here
                # (add_double, spelled out: calling it costs 5% on scalar chains, by
                # callgrind) when the parent holds a double or nothing.
                if n.a is not None:
                    j = n.a.pos
                    if <size_t>j < <size_t>n_nodes and G.state[j] != G_OBJECT:
                        if G.state[j] == G_DOUBLE:
                            G.gd[j] += G.gd[i] * n.da
                        else:
                            G.gd[j] = G.gd[i] * n.da
                            G.state[j] = G_DOUBLE
                    else:
                        G.add_double(n.a, G.gd[i] * n.da)
                if n.b is not None:
                    j = n.b.pos
                    if <size_t>j < <size_t>n_nodes and G.state[j] != G_OBJECT:
                        if G.state[j] == G_DOUBLE:
                            G.gd[j] += G.gd[i] * n.db
                        else:
                            G.gd[j] = G.gd[i] * n.db
                            G.state[j] = G_DOUBLE
                    else:
                        G.add_double(n.b, G.gd[i] * n.db)
            else:
                g = G.take(n)
                if n.a is not None:
                    G.add_object(n.a, g * (n.da if n.fast else (<tuple>n.ext)[0]))
                if n.b is not None:
                    G.add_object(n.b, g * (n.db if n.fast else (<tuple>n.ext)[1]))
        elif n.op == OP_EW:
            g = G.take(n)
            if n.a is not None:
                G.add_object(n.a, _ew_cotangent(<EwRec>n.ext, 0, _tv(n), g, n.a, repeat))
            if n.b is not None:
                G.add_object(n.b, _ew_cotangent(<EwRec>n.ext, 1, _tv(n), g, n.b, repeat))
        elif n.op == OP_READ:
            _add_read(G, n.a, n.ext, G.take(n))
        elif n.op == OP_PROJ:
            # element k of a multi-output node: pass a list with g in slot k
            g = G.take(n)
            rec = <Rec>n.ext
            cts = [None] * rec.nargs
            cts[<Py_ssize_t>rec.argi[0]] = g
            G.add_object(<Tracked>rec.parents[0], cts)
        else:
            g = G.take(n)
            if n.kind == K_MULTI:
                g = tuple(g)
            _run_pullbacks(G, tape, <Rec>n.ext, g)
        if G.state[i] == G_OBJECT:
            G.go[i] = None     # intermediate gradients are not needed again: free them now
        if last and not n.fast:     # a float node holds nothing large: not worth the time
            _let_go(nodes, i, n)
    cdef list out = []
    for leaf in leaves:
        p = <Tracked>tape.moved.get(id(leaf), leaf) if tape.moved else <Tracked>leaf
        out.append(G.take(p))
    return out


cdef inline void _let_go(list nodes, Py_ssize_t i, Tracked n):
    """The last sweep has passed node i: drop what links it to its parents (their
    values, its pullbacks) and the tape's hold on it, so that its value is freed
    now unless user code still holds it. Leaves are kept (their gradients are read
    at the end)."""
    n.a = None
    n.b = None
    n.ext = None
    nodes[i] = None


cdef int _add_read(_Grads G, Tracked p, object index, object g) except -1:
    """Send the cotangent g of the read p[index] to p: one more entry of the
    sparse cotangent (IndexGrad) this sweep holds for p, or a new one."""
    cdef Py_ssize_t j = G._index(p)
    cdef IndexGrad ig
    if G.state[j] == G_OBJECT and G.own[j] and type(G.go[j]) is IndexGrad:
        (<IndexGrad>G.go[j]).entries.append((index, g))
        return 0
    ig = _index_grad((<object>_tv(p)).shape, (<object>_tv(p)).dtype, [(index, g)])
    if G.state[j] == 0:
        G._objects()
        G.state[j] = G_OBJECT
        G.go[j] = ig
        G.own[j] = True         # its entry list is this sweep's alone
        return 0
    return G.add_object(p, ig)


cdef object _ew_cotangent(EwRec rec, Py_ssize_t i, object ans, object g, Tracked parent, bint repeat):
    """The cotangent of argument i of an elementwise node: g * conj(partial_i),
    summed over the axes broadcasting added to the argument. With ``repeat`` the
    conjugated partial is kept on the node for the next sweep."""
    cdef object p = rec.partials[i], ct
    if not PyFloat_CheckExact(p):
        if rec.kept is not None and rec.kept[i] is not None:
            return _unbroadcast_to(g * rec.kept[i], parent)
        p = p(ans, rec.args[0]) if len(rec.args) == 1 else p(ans, rec.args[0], rec.args[1])
    if PyFloat_CheckExact(p):
        # a constant partial (a sum, a negation): no multiplication, the cotangent
        # keeps its dtype (an integer cotangent stays an integer)
        if <double>PyFloat_AS_DOUBLE(p) == 1.0:
            ct = g
        elif <double>PyFloat_AS_DOUBLE(p) == -1.0:
            ct = -g
        else:
            ct = g * p
    else:
        p = _conj_partial(p)
        if repeat:
            if rec.kept is None:
                rec.kept = [None, None]
            rec.kept[i] = p
            ct = g * p
        elif _is_scratch(p, g):
            ct = _np_multiply(g, p, p)      # the partial is a temporary no one else holds: reuse it
        else:
            ct = g * p
    return _unbroadcast_to(ct, parent)


cdef inline bint _is_scratch(object p, object g):
    """p is a large array that only the caller holds (a partial just computed, not
    an argument or a value of the tape), owning its memory (a view or an array
    wrapping memory a library keeps is not), of the shape and dtype g * p has:
    g * p may then be written into it, saving an allocation."""
    if not (type(p) is _ndarray and Py_REFCNT(p) == 1 and type(g) is _ndarray
            and (<object>p).size >= _SCRATCH_MIN and (<object>p).base is None
            and (<object>p).shape == (<object>g).shape and (<object>p).dtype is (<object>g).dtype):
        return False
    flags = (<object>p).flags
    return flags.owndata and flags.writeable


cdef Py_ssize_t _SCRATCH_MIN = 1 << 12     # below this, numpy's out= call costs more than an allocation


cdef object _unbroadcast_to(object ct, Tracked parent):
    """ct summed down to the shape of parent's value (undoing broadcasting): equal
    shapes are decided here, the summing is the rules' unbroadcast (Delegates)."""
    cdef object pv = _tv(parent)
    if type(pv) is _ndarray and type(ct) is _ndarray and (<object>pv).shape == (<object>ct).shape:
        return ct                               # the common case
    if PyFloat_CheckExact(pv) and PyFloat_CheckExact(ct):
        return ct
    return _rules_for().unbroadcast(pv, ct)


cdef int _run_pullbacks(_Grads G, Tape tape, Rec n, object g) except -1:
    cdef Py_ssize_t k, i, j, last_i = -1
    cdef object ct = None, cts = None
    if n.joint:
        cts = (n.pbs if n.user < 0 else tape.user_pbs[n.user])(g)
        if not isinstance(cts, (tuple, list)) or len(cts) != n.nargs:
            raise ValueError(_messages.joint_pullback_length(n.name, cts, n.nargs))
    for k in range(len(n.parents)):
        i = n.argi[k]
        j = n.elem[k]
        if n.joint:
            ct = cts[i]
        elif i != last_i:
            ct = n.pbs[i](g)
            last_i = i
        if ct is None:
            continue
        if j >= 0:
            e = _element_cotangent(n, i, j, ct)
        else:
            e = ct
        if e is not None:
            _check_cotangent(n, i, <Tracked>n.parents[k], e)
            G.add_object(<Tracked>n.parents[k], e)
    return 0


cdef object _element_cotangent(Rec n, Py_ssize_t i, Py_ssize_t j, object ct):
    """Element j of the cotangent of argument i (a list or tuple of numbers)."""
    if isinstance(ct, (list, tuple)) and j < len(ct):
        return ct[j]
    if isinstance(ct, _ndarray) and ct.ndim >= 1 and j < ct.shape[0]:
        return ct[j]
    raise ValueError(_messages.element_cotangent(n.name, type(ct).__name__, i, j))


cdef object _check_cotangent(Rec n, Py_ssize_t i, Tracked parent, object ct):
    """Refuse a cotangent that does not fit its argument, naming the rule. A
    pullback must return, per argument, a number or array of that argument's
    shape: a broadcastable shape, a string or a dict would otherwise be taken
    silently and give a wrong gradient."""
    cdef object shape, want, pv
    if parent.kind == K_MULTI:
        return None
    if parent.kind == K_ARRAY:
        pv = _tv(parent)
        while type(pv) is Tracked:
            pv = _tv(<Tracked>pv)
        if (type(ct) is _ndarray or type(ct) is IndexGrad) and isinstance(pv, _ndarray):
            if (<object>ct).shape == (<object>pv).shape:
                return None         # the common case: two tuples compared
    if type(ct) is _ndarray or type(ct) is IndexGrad:
        shape = (<object>ct).shape
    elif PyFloat_CheckExact(ct) or PyLong_CheckExact(ct) or type(ct) is complex:
        shape = ()
    elif type(ct) is Tracked:
        shape = np.shape(value(ct))
    elif isinstance(ct, (_generic, _ndarray)) and not isinstance(ct, (np.str_, np.bytes_, np.void)):
        shape = ct.shape
    elif isinstance(ct, _Number) and not isinstance(ct, bool):
        shape = ()
    else:
        raise TypeError(_messages.cotangent_kind(n.name, type(ct).__name__, i))
    if parent.kind == K_ARRAY:
        want = np.shape(value(_tv(parent)))
    else:
        want = ()
    if shape != want:
        raise ValueError(_messages.cotangent_shape(n.name, shape, i, want))
    return None
