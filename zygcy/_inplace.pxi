# In-place item assignment and sparse cotangents of indexing.
# Part of the zygcy._core extension module (included by _core.pyx).

# ---------------------------------------------------------------------------
# In-place item assignment: the same Python object becomes a new node

cdef void _copy_node(Tracked dst, Tracked src):
    dst._v = src._v
    dst.tid = src.tid
    dst.kind = src.kind
    dst.op = src.op
    dst.pos = src.pos
    dst.fast = src.fast
    dst.a = src.a
    dst.b = src.b
    dst.da = src.da
    dst.db = src.db
    dst.ext = src.ext
    dst.uses = src.uses     # the elementwise nodes holding it move with it (_let_go_unreachable counts them)


cdef object _assign(Tracked x, object index, object v):
    """x[index] = v on a tracked array, recorded: the same Python object x becomes
    the node of its value after the assignment.

    The rules check the assignment as numpy would and put index and v in plain
    form (Delegates.assignment); the node is the setitem primitive applied to
    the node x was until now (moved to a fresh object, _rebind).
    """
    cdef Delegates d = _rules_for()
    index, v = d.assignment(x, index, v)
    if _active(x) is None and not (type(v) is Tracked and _active(<Tracked>v) is not None):
        raise TypeError(_messages.assignment_after_finish())
    old = _rebind(x)
    new = d.setitem(old, index, v)
    if type(new) is Tracked:
        _adopt(x, <Tracked>new)


cdef Tracked _rebind(Tracked self):
    """First half of item assignment: move the node ``self`` is now into a fresh
    object ``old`` and return it, so that ``self`` can become the new node.

    Nodes recorded earlier that used ``self`` must keep seeing the old node, so
    they are pointed at ``old``. Only nodes recorded since ``self`` was made can
    refer to it, so the scan is short in the usual loop.
    """
    cdef Tape tape = _active(self)
    cdef Tracked old = Tracked.__new__(Tracked), n
    cdef Rec rec
    cdef Py_ssize_t i
    _copy_node(old, self)
    if tape is not None and not tape.forward:      # a forward level keeps no nodes
        tape.nodes[self.pos] = old
        if self.op == OP_LEAF:
            # the caller of backward still holds this object as "the input"
            tape.moved[id(self)] = old
        for i in range(self.pos + 1, len(tape.nodes)):
            n = <Tracked>tape.nodes[i]
            if n.a is self:
                n.a = old
            if n.b is self:
                n.b = old
            if type(n.ext) is Rec:
                rec = <Rec>n.ext
                if any(p is self for p in rec.parents):
                    rec.parents = tuple(old if p is self else p for p in rec.parents)
    return old


cdef void _adopt(Tracked self, Tracked new):
    """Second half of item assignment: ``self`` takes over the node ``new``."""
    cdef Tape tape = _active(new)
    _copy_node(self, new)
    if tape is not None and not tape.forward:
        tape.nodes[new.pos] = self


def node_tape_active(x):
    """True if x is Tracked by an active tape."""
    return type(x) is Tracked and _active(<Tracked>x) is not None


# ---------------------------------------------------------------------------
# Sparse gradients of indexing

@cython.final
cdef class IndexGrad:
    """The cotangent of ``x[index]``: zeros of x's shape with ``value`` added at
    ``index``. Kept sparse so that reading many elements one at a time costs
    time linear in their number, and made dense once, when it is needed."""

    def __init__(self, shape, dtype, index, val):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.entries = [(index, val)]

    def dense(self):
        return _rules_for().densify(self)

    def __repr__(self):
        return "IndexGrad(shape=%r, %d entries)" % (self.shape, len(self.entries))


cdef IndexGrad _index_grad(tuple shape, object dtype, list entries):
    """An IndexGrad made from its fields (no checks: the engine's own sums and reads)."""
    cdef IndexGrad ig = IndexGrad.__new__(IndexGrad)
    ig.shape = shape
    ig.dtype = dtype
    ig.entries = entries
    return ig


cdef object _densify(object g):
    cdef object d
    if type(g) is IndexGrad:
        d = _dense_reads(<IndexGrad>g)
        if d is not None:
            return d
        return _rules_for().densify(g)
    return g


cdef object _f64_dtype = np.dtype(np.float64)


cdef object _dense_reads(IndexGrad g):
    """The common IndexGrad made dense in C: a float64 array whose entries are
    floats at integer positions (the cotangents of x[i] reads in a loop). None
    for anything else (slices, arrays, complex or tracked values): then the
    indexing rules densify it, differentiably."""
    cdef Py_ssize_t nd = len(g.shape), k, flat, i, size = 1
    cdef Py_ssize_t dims[32]
    cdef double[::1] buf
    if g.dtype is not _f64_dtype or nd == 0 or nd > 32:
        return None
    for k in range(nd):
        dims[k] = g.shape[k]
        size *= dims[k]
    out = np.zeros(size)
    buf = out
    for entry in g.entries:
        idx = (<tuple>entry)[0]
        v = (<tuple>entry)[1]
        if not PyFloat_Check(v):        # float and numpy float64 (a float subclass)
            return None
        if PyLong_CheckExact(idx) and nd == 1:
            flat = idx
            if flat < 0:
                flat += dims[0]
            if flat < 0 or flat >= dims[0]:
                return None
        elif type(idx) is tuple and len(<tuple>idx) == nd:
            flat = 0
            for k in range(nd):
                if not PyLong_CheckExact((<tuple>idx)[k]):
                    return None
                i = (<tuple>idx)[k]
                if i < 0:
                    i += dims[k]
                if i < 0 or i >= dims[k]:
                    return None
                flat = flat * dims[k] + i
        else:
            return None
        buf[flat] += PyFloat_AS_DOUBLE(v)
    return out.reshape(g.shape)
