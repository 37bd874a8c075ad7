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
    operands), so it is never written into. ``lent[i]`` says that ``go[i]`` is
    an array the sweep does not own at all, lent to it: a value of the tape or a
    constant, given as the cotangent itself where the cotangent is that array
    times ones (``sum(x * y)``'s cotangent of x is y). A lent array is only read:
    it is copied before it reaches a rule's pullback or leaves the sweep.
    """
    cdef double* gd
    cdef char* state
    cdef char* own
    cdef char* lent
    cdef list go
    cdef Py_ssize_t n

    def __cinit__(self, Py_ssize_t n):
        self.n = n
        self.gd = <double*>malloc((n + 1) * sizeof(double))     # read only where state is G_DOUBLE
        self.state = <char*>calloc(3 * (n + 1), sizeof(char))
        if self.gd == NULL or self.state == NULL:
            raise MemoryError()
        self.own = self.state + (n + 1)
        self.lent = self.state + 2 * (n + 1)
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
            self.lent[i] = False        # a sum is never a lent array
        return 0

    cdef int add_cotangent(self, Tracked p, object v, bint fresh, bint lent) except -1:
        """add_object, for a cotangent v that is ``fresh`` (an array no one else holds)
        or ``lent`` (see the class) when told. A fresh one becomes this sweep's buffer
        for p, and a sum with a gradient that is not (a seed, a cotangent shared by
        a + b, a lent array) is written into it."""
        cdef Py_ssize_t i
        if not (fresh or lent):
            return self.add_object(p, v)
        i = self._index(p)
        if self.state[i] == 0:
            self._objects()
            self.state[i] = G_OBJECT
            self.go[i] = v
            self.own[i] = fresh
            self.lent[i] = lent
            return 0
        if fresh and self.state[i] == G_OBJECT and not self.own[i]:
            acc = self.go[i]
            if type(acc) is _ndarray and _same_shape(acc, v) and _same_dtype(acc, v):
                if not _small_add_into(v, acc):
                    _np_add(v, acc, v)
                self.go[i] = v
                self.own[i] = True
                self.lent[i] = False
                return 0
        return self.add_object(p, v)

    cdef object take_own(self, Tracked n):
        """take(n), copied where it is a lent array: for code outside the sweep."""
        g = self.take(n)
        if self.lent[n.pos]:
            if type(g) is _ndarray:
                return (<object>g).copy()
            if type(g) is Tracked:
                return _alias(<Tracked>g)   # a value of an outer level: one no one else holds
        return g

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
                and _same_shape(acc, v) and (_same_dtype(v, acc) or np.can_cast(v.dtype, acc.dtype))):
            if not _small_add_into(acc, v):
                acc += v    # a buffer this sweep allocated for this node: add in place
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
            if _dtype_kind(g) != c'c':
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
    cdef object g, cts, ct, ans
    cdef bint own
    cdef int f, did = 0
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
            ans = _tv(n)
            # g is this sweep's own buffer (own), read by nothing after its last use here:
            # that use may write into it
            own = G.state[i] == G_OBJECT and G.own[i] and type(g) is _ndarray
            f = _EW_LENT if G.lent[i] else 0
            # On the last sweep, a node that only this loop and the tape's list hold, whose
            # value only the node holds (every node made from it has been let go), is
            # passed for good: its value may be written into (exp's g * ans, in place).
            if last and type(ans) is _ndarray and Py_REFCNT(n) == 2 and Py_REFCNT(ans) == 2:
                f |= _EW_SPARE_ANS
            if n.a is not None:
                ct = _ew_cotangent(<EwRec>n.ext, 0, ans, g, n.a, repeat,
                                   f | (_EW_INTO_G if own else 0) if n.b is None else f & ~_EW_SPARE_ANS, &did)
                own = own and ct is not g       # a + b hands g itself to a: b must not write into it
                G.add_cotangent(n.a, ct, did & _EW_FRESH, did & _EW_LENT)
            if n.b is not None:
                ct = _ew_cotangent(<EwRec>n.ext, 1, ans, g, n.b, repeat, f | (_EW_INTO_G if own else 0), &did)
                G.add_cotangent(n.b, ct, did & _EW_FRESH, did & _EW_LENT)
            ans = None
        elif n.op == OP_READ:
            _add_read(G, n.a, n.ext, G.take(n))
        elif n.op == OP_MATMUL:
            _matmul_sweep(G, n, G.take(n))           # _kernels.pxi
        elif n.op == OP_SUM:
            _sum_sweep(G, n)                         # _kernels.pxi
        elif n.op == OP_PROJ:
            # element k of a multi-output node: pass a list with g in slot k
            g = G.take_own(n)
            rec = <Rec>n.ext
            cts = [None] * rec.nargs
            cts[<Py_ssize_t>rec.argi[0]] = g
            G.add_object(<Tracked>rec.parents[0], cts)
        else:
            g = G.take_own(n)
            if n.kind == K_MULTI:
                g = tuple(g)
            _run_pullbacks(G, tape, <Rec>n.ext, g)
        if G.state[i] == G_OBJECT:
            G.go[i] = None     # intermediate gradients are not needed again: free them now
        if last and not n.fast:     # a float node holds nothing large: not worth the time
            _let_go(nodes, i, n)
    cdef list res = []
    for leaf in leaves:
        p = <Tracked>tape.moved.get(id(leaf), leaf) if tape.moved else <Tracked>leaf
        res.append(G.take_own(p))
    return res


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


# What _ew_cotangent may do and did (flags): write into g or into ans (the node's
# value), g is lent (see _Grads); the cotangent it returns is fresh or lent.
cdef enum:
    _EW_INTO_G = 1
    _EW_SPARE_ANS = 2
    _EW_LENT = 4
    _EW_FRESH = 8


cdef object _ew_cotangent(EwRec rec, Py_ssize_t i, object ans, object g, Tracked parent, bint repeat,
                          int may, int* did):
    """The cotangent of argument i of an elementwise node: g * conj(partial_i),
    summed over the axes broadcasting added to the argument. With ``repeat`` the
    conjugated partial is kept on the node for the next sweep. ``may`` (flags
    above): g is this sweep's buffer, not read after this call, so the product
    may be written into it (``_EW_INTO_G``), and so may ans (``_EW_SPARE_ANS``);
    g is a lent array (``_EW_LENT``). Sets ``did[0]``: the cotangent is an array
    no one else holds (``_EW_FRESH``: the sweep may sum into it), or lent."""
    cdef object p = rec.partials[i], ct
    cdef bint into_g = may & _EW_INTO_G
    cdef int k = rec.k0 if i == 0 else rec.k1
    did[0] = _EW_FRESH
    if (k or PyFloat_CheckExact(p)) and _small_f64(g) and type(_tv(parent)) is _ndarray and _same_shape(_tv(parent), g):
        # a small float64 array: g * partial in one C loop (_kernels.pxi)
        if k:
            ct = _ew_small(k, 0.0, ans, rec.args[0], rec.args[1] if len(rec.args) == 2 else None, g)
        elif <double>PyFloat_AS_DOUBLE(p) == 1.0:
            ct = None           # g itself, below
        else:
            ct = _ew_small(EWK_CONST, PyFloat_AS_DOUBLE(p), None, None, None, g)
        if ct is not None:
            return ct
    elif _ew_computed(k) and not repeat and rec.kept is None and type(_tv(parent)) is _ndarray \
            and _same_shape(_tv(parent), g):
        # a large float64 array: g * partial in one C loop (_kernels.pxi), into g when it may
        x = rec.args[0]
        y = rec.args[1] if len(rec.args) == 2 else None
        if not into_g:
            ct = _ew_fused(k, ans, x, y, g)
            if ct is not None:
                return ct
        else:
            done = _ew_fused_into(k, ans, x, y, g)
            if done == _asize(g):
                return g
            if done >= 0:
                # a non-finite element from element done on (C order): numpy does the rest
                _ew_tail(p, done, g, ans, rec.args)
                return g
    if not PyFloat_CheckExact(p):
        if rec.kept is not None and rec.kept[i] is not None:
            ct = _np_multiply(g, rec.kept[i], g) if into_g and _fits(g, rec.kept[i]) else g * rec.kept[i]
            return _cotangent_of(ct, _unbroadcast_to(ct, parent), did)
        p = p(ans, rec.args[0]) if len(rec.args) == 1 else p(ans, rec.args[0], rec.args[1])
    if PyFloat_CheckExact(p):
        # a constant partial (a sum, a negation): no multiplication, the cotangent
        # keeps its dtype (an integer cotangent stays an integer)
        if <double>PyFloat_AS_DOUBLE(p) == 1.0:
            ct = g              # g itself: this sweep's alone only if it was; lent if it was
            did[0] = _EW_FRESH if into_g else (may & _EW_LENT)
        elif <double>PyFloat_AS_DOUBLE(p) == -1.0:
            ct = _np_negative(g, g) if into_g else -g
        else:
            ct = _np_multiply(g, p, g) if into_g and _fits(g, p) else g * p
    else:
        p = _conj_partial(p)
        if repeat:
            if rec.kept is None:
                rec.kept = [None, None]
            rec.kept[i] = p
            ct = g * p
        elif _is_scratch(p, g):
            # the partial is a temporary no one else holds: reuse it (times ones: it is the cotangent)
            ct = p if _is_ones(g, p) else _np_multiply(g, p, p)
        elif _is_ones(g, p):
            ct = p              # the cotangent of sum(x * y) in x is y itself: lent, not copied
            did[0] = _EW_LENT
        elif into_g and _fits(g, p):
            ct = _np_multiply(g, p, g)
        elif may & _EW_SPARE_ANS and p is ans and _fits(p, g) and _owns_writeable(p):
            ct = _np_multiply(g, p, p)      # exp: g * ans, into the value no one will read again
        else:
            ct = g * p
    return _cotangent_of(ct, _unbroadcast_to(ct, parent), did)


cdef int _ew_tail(object partial, Py_ssize_t j, object g, object ans, tuple args) except -1:
    """g[j:] *= partial(ans[j:], *args[j:]), on the arrays flattened (C order):
    the part of g that _ew_fused_into left to numpy (arrays of g's shape)."""
    gt = _flat_from(g, j)
    p = _conj_partial(partial(_flat_from(ans, j), *[_flat_from(v, j) for v in args]))
    _np_multiply(gt, p, gt)
    return 0


cdef inline object _flat_from(object v, Py_ssize_t j):
    return (<object>v).reshape(-1)[j:] if type(v) is _ndarray else v


cdef inline object _cotangent_of(object ct, object reduced, int* did):
    """The cotangent ``reduced`` (ct summed to the argument's shape): fresh if ct
    was or a sum was made, lent only if it is ct itself; neither if not an array."""
    if reduced is not ct:
        did[0] = _EW_FRESH
    if type(reduced) is not _ndarray:
        did[0] = 0
    return reduced


cdef inline bint _is_ones(object g, object p):
    """g is ones broadcast to p's shape and dtype (the cotangent sum spreads), a
    large array: g * p is p. (p may be a value of outer levels, as in forward
    over reverse, whose plain value is then compared: plain ones times it is it.)"""
    if type(p) is Tracked:
        p = value(p)
    if not (type(g) is _ndarray and type(p) is _ndarray and _asize(g) >= _SCRATCH_MIN
            and _same_shape(p, g) and _same_dtype(p, g) and _uniform(g)):
        return False
    return (<object>g).item(0) == 1


cdef inline bint _fits(object g, object p):
    """g * p has g's shape and dtype (g an array of this sweep): it may be written into g."""
    if PyFloat_CheckExact(p):
        k = _dtype_kind(g)
        return k == c'f' or k == c'c'
    return type(p) is _ndarray and _same_shape(p, g) and _same_dtype(p, g)


cdef inline bint _is_scratch(object p, object g):
    """p is a large array that only the caller holds (a partial just computed, not
    an argument or a value of the tape), owning its memory (a view or an array
    wrapping memory a library keeps is not), of the shape and dtype g * p has:
    g * p may then be written into it, saving an allocation."""
    return (type(p) is _ndarray and Py_REFCNT(p) == 1 and type(g) is _ndarray
            and _asize(p) >= _SCRATCH_MIN and _same_shape(p, g) and _same_dtype(p, g)
            and _owns_writeable(p))


# Below this, numpy's out= call costs more than an allocation; on the debug build
# every size, so that the engine and program tests run the in-place path.
cdef Py_ssize_t _SCRATCH_MIN = 1 if ZYGCY_DEBUG_BUILD else 1 << 12


cdef object _unbroadcast_to(object ct, Tracked parent):
    """ct summed down to the shape of parent's value (undoing broadcasting): equal
    shapes, and leading axes added (a bias: ct of shape (n, k) for (k,)), are
    decided here; the other sums are the rules' unbroadcast (Delegates)."""
    cdef object pv = _tv(parent)
    cdef int extra, k
    cdef cnp.npy_intp* dp
    cdef cnp.npy_intp* dc
    if type(pv) is _ndarray and type(ct) is _ndarray:
        if _same_shape(pv, ct):
            return ct                           # the common case
        extra = cnp.PyArray_NDIM(<cnp.ndarray>ct) - cnp.PyArray_NDIM(<cnp.ndarray>pv)
        if 0 < extra < len(_LEADING) and cnp.PyArray_NDIM(<cnp.ndarray>pv) > 0:
            dp = cnp.PyArray_DIMS(<cnp.ndarray>pv)
            dc = cnp.PyArray_DIMS(<cnp.ndarray>ct)
            for k in range(cnp.PyArray_NDIM(<cnp.ndarray>pv)):
                if dp[k] != dc[extra + k]:
                    break
            else:
                return _np_add_reduce(ct, <tuple>_LEADING[extra])     # already of pv's shape
    if PyFloat_CheckExact(pv) and PyFloat_CheckExact(ct):
        return ct
    return _rules_for().unbroadcast(pv, ct)


cdef tuple _LEADING = tuple([tuple(range(k)) for k in range(17)])     # the first k axes


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
        if type(ct) is _ndarray and type(pv) is _ndarray:
            if _same_shape(ct, pv):
                return None         # the common case
        elif type(ct) is IndexGrad and isinstance(pv, _ndarray):
            if (<IndexGrad>ct).shape == (<object>pv).shape:
                return None
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


def handed_out_plain(object xs, object gs, object dy=None):
    """``_seeds.handed_out(xs, gs, dy)`` where it has nothing to change, else None
    (it does the work then): every gradient None, a float of a float input, or an
    ndarray of its ndarray input's shape, real unless the input is complex, owning
    its memory, not the very array of an earlier entry and not the seed ``dy``
    (None, a number or an array: a structure of seeds is left to handed_out)."""
    cdef Py_ssize_t i, j, n = len(gs)
    if len(xs) != n or not (dy is None or type(dy) is _ndarray or PyFloat_Check(dy) or PyLong_CheckExact(dy)):
        return None
    for i in range(n):
        g = gs[i]
        x = xs[i]
        if g is None:
            continue
        if type(g) is _ndarray:
            if not (type(x) is _ndarray and _same_shape(g, x) and cnp.PyArray_BASE(<cnp.ndarray>g) == NULL
                    and (_dtype_kind(g) != c'c' or _dtype_kind(x) == c'c')):
                return None
            if g is dy:
                return None
            for j in range(i):
                if gs[j] is g:
                    return None
        elif not (PyFloat_CheckExact(g) and PyFloat_CheckExact(x)):
            return None
    return list(gs)
