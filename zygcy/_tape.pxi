# Tapes: recording state, fingerprints of the arrays they read, and levels.
# Part of the zygcy._core extension module (included by _core.pyx).

# ---------------------------------------------------------------------------
# Tapes

# Plain arrays a sweep will read (the constant c of an elementwise x * c, the
# constant X of X @ W) are made read-only while the function that uses them is
# being recorded: a write into one after its use (c[0] = 1, c += 1, np.add(...,
# out=c), a buffer refilled in a loop) would change the derivative silently, and
# raises numpy's "assignment destination is read-only" at the write instead.
# Tape.pop makes them writeable again, so the caller gets its arrays back as it
# gave them. A write through another view of the same memory is not caught here
# (nor by the fingerprints of a back handed to user code, taken at pop). An array
# that several active tapes lock is counted: id -> [array, count].
cdef dict _locks = {}


cdef int _lock(Tape top, object v) except -1:
    """Make the plain ndarray v read-only until ``top`` stops recording."""
    cdef list e
    if cnp.PyArray_ISWRITEABLE(<cnp.ndarray>v):
        cnp.PyArray_CLEARFLAGS(<cnp.ndarray>v, cnp.NPY_ARRAY_WRITEABLE)
        _locks[id(v)] = [v, 1]
    else:
        e = _locks.get(id(v))
        if e is None or e[0] is not v:
            return 0            # read-only already, by its owner's choice: nothing to undo
        e[1] += 1
    top.locked.append(v)
    return 0


cdef int _unlock(Tape tape) except -1:
    cdef list e
    for v in tape.locked:
        e = _locks.get(id(v))
        if e is not None and e[0] is v:
            e[1] -= 1
            if e[1] == 0:
                del _locks[id(v)]
                cnp.PyArray_ENABLEFLAGS(<cnp.ndarray>v, cnp.NPY_ARRAY_WRITEABLE)
    tape.locked = []
    return 0


@cython.no_gc_clear     # a cycle through a user pullback is broken at user_pbs; __dealloc__ then cuts the nodes' links
cdef class Tape:
    """One differentiation: the list of nodes recorded while it is active.

    ``Tape(forward=True)`` is a forward-mode level instead: its values carry
    their tangents (``leaf(value, tangent)``, ``tangent(x)``) and nothing is
    recorded, so its memory does not grow with the program."""

    def __cinit__(self, forward=False):
        global _next_id
        self.forward = bool(forward)
        self.id = _next_id
        _next_id += 1
        self.nodes = []
        self.active = False
        self.moved = {}
        self.watched = []
        self.prints = []
        self.user_pbs = []
        self.unread = []
        self.locked = []

    def __dealloc__(self):
        _recycling(self, False)
        _pool_clear(self)
        # Each node holds its parents, so a long chain would be freed by a deep
        # recursion of deallocations (and overflow the C stack). Cut the links
        # first: then every node is freed on its own when the list goes.
        cdef Tracked n
        if self.nodes is not None:
            for n in self.nodes:
                if n is not None:       # a last sweep has already let go of its nodes
                    n.a = None
                    n.b = None
                    n.ext = None

    def push(self):
        """Make this tape the innermost active one."""
        global _top, _gc_paused
        if self.active:
            raise RuntimeError(_messages.tape_active())
        if not _stack:
            # The collector is paused from the outermost push to its pop (_pause_gc).
            _gc_paused = _pause_gc()
        self.active = True
        _stack.append(self)
        _top = self

    def pop(self):
        """Stop recording on this tape (it may be any active one, when unwinding).

        The plain arrays the recorded pullbacks may read (inputs, and constants
        such as a closure's array in ``x * c``) are fingerprinted now;
        ``backward`` refuses to run if one was changed in place since."""
        global _top, _gc_paused
        if not self.active:
            return
        self.active = False
        if self.locked:
            _unlock(self)                   # the constants its sweep reads are writeable again
        _stack.remove(self)
        _top = _stack[len(_stack) - 1] if _stack else None
        _recycling(self, False)
        _pool_clear(self)                   # recycled memory is not kept past the level (_recycle)
        if not _stack and _gc_paused:
            _gc_paused = False
            _resume_gc()
        if self.unread:
            _let_go_unreachable(self)       # what the function made and dropped, no sweep reads
            self.unread = []                # nothing more is recorded: none can become unreachable later
        if self.watching:
            self.prints = _fingerprints(self.watched)
            self.watched = []

    @property
    def locks(self):
        """How many plain arrays this tape keeps read-only while it records (_lock)."""
        return len(self.locked)

    def watch(self):
        """Fingerprint the plain arrays this tape reads (call before push): for a
        back that is handed to user code, which may change them before calling
        it. gradient and friends call back at once and need not pay for this."""
        self.watching = True

    def leaf(self, value, tangent=None):
        """A new input node holding ``value`` (on a forward level: with ``tangent``)."""
        if self.forward:
            return _dual(self, value, _kind_of(value), tangent)
        if tangent is not None:
            raise TypeError("Tape.leaf: a tangent is given to the leaves of a forward level only")
        if self.watching and type(value) is _ndarray:
            self.watched.append((_weakref(value), None))
        return _new_node(self, value, _kind_of(value), OP_LEAF)

    def tangent(self, x):
        """The tangent ``x`` carries on this forward level (None: zero, or not of this level)."""
        if type(x) is Tracked and (<Tracked>x).tid == self.id and (<Tracked>x).op == OP_DUAL:
            return _tangent(<Tracked>x)
        return None

    def unwrap(self, x):
        """Strip this tape's level from ``x``: the value as outer levels see it."""
        if type(x) is Tracked and (<Tracked>x).tid == self.id:
            return _tv(<Tracked>x)
        return x

    def owns(self, x):
        """True if ``x`` is a node recorded on this tape."""
        return type(x) is Tracked and (<Tracked>x).tid == self.id

    def __len__(self):
        return len(self.nodes)

    def backward(self, list seeds, list leaves, bint repeat=False, bint last=False):
        """Reverse sweep: the gradients arriving at ``leaves`` given ``seeds``.

        seeds: list of (node, cotangent) pairs, nodes of this tape.
        leaves: nodes whose gradients are wanted; returns a list, None where
        no gradient reached.
        repeat: this tape will be swept many times (jacobian's rows): keep the
        partials of elementwise nodes for the next sweep instead of recomputing
        them (memory for speed).
        last: this is the tape's only sweep (``gradient``): each node is let go
        as soon as the sweep has passed it, so intermediate values are freed
        during the sweep instead of after it; the tape cannot be swept again.
        """
        if self.swept:
            raise RuntimeError(_messages.tape_swept())
        if self.forward:
            raise TypeError("Tape.backward: a forward level has no reverse sweep")
        for pair in seeds:
            if not (type(pair) is tuple and len(<tuple>pair) == 2 and self._holds((<tuple>pair)[0])):
                raise TypeError(_messages.bad_seed_pair(pair))
        for leaf in leaves:
            if not self._holds(self.moved.get(id(leaf), leaf)):
                raise TypeError(_messages.not_on_tape(leaf))
        _check_fingerprints(self.prints)
        self.swept = last
        cdef bint paused = _pause_gc()      # as while recording
        try:
            return _sweep(self, seeds, leaves, repeat, last)
        finally:
            if paused:
                _resume_gc()

    cdef bint _holds(self, object x):
        cdef Tracked t
        if type(x) is not Tracked:
            return False
        t = <Tracked>x
        return (t.tid == self.id and 0 <= t.pos < PyList_GET_SIZE(self.nodes)
                and <object>PyList_GET_ITEM(self.nodes, t.pos) is t)

    def __reduce__(self):
        raise TypeError(_messages.tape_not_picklable())


# ---------------------------------------------------------------------------
# Plain arrays changed in place between forward and back

# A pullback reads the arrays it was given when the operation was recorded: the
# inputs, and constants such as the c of x * c. If user code changes one in
# place before back runs, back would silently mix old and new values. Each such
# array gets a fingerprint when recording stops (up to 64 KiB: a copy of its
# bytes; larger ones: the wrapping sum of their 64-bit words, one pass at memory
# speed, which any change of a single element alters), compared when back runs.

cdef Py_ssize_t _SMALL_BYTES = 1 << 16   # up to 64 KiB a copy of the bytes is cheaper than a sum


cdef object _fingerprint(object a):
    cdef object words
    if a.dtype.hasobject:
        return None
    if a.nbytes <= _SMALL_BYTES:
        return a.tobytes()          # one memcpy: cheaper than any numpy call on small arrays
    words = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    if words.size % 8 == 0:
        return np.add.reduce(words.view(np.uint64))
    return np.add.reduce(words, dtype=np.uint64)


cdef list _fingerprints(list watched):
    cdef dict seen = {}
    cdef list out = []
    for ref, user in watched:
        a = ref()
        if a is None or id(a) in seen:
            continue        # gone: then no pullback holds it either
        seen[id(a)] = True
        fp = _fingerprint(a)
        if fp is not None:
            out.append((ref, user, a.shape, fp))
    return out


cdef int _check_fingerprints(list prints) except -1:
    for ref, user, shape, fp in prints:
        a = ref()
        if a is None:
            continue
        if a.shape != shape or _fingerprint(a) != fp:
            raise RuntimeError(_messages.changed_in_place(shape, user))
    return 0


cdef inline Tape _active(Tracked t):
    """The active tape that recorded t, or None if it has finished."""
    if _top is not None and t.tid == _top.id:
        return _top
    cdef Tape tp
    for tp in _stack:
        if tp.id == t.tid:
            return tp
    return None


cdef bint _pause_gc() except -1:
    """Pause the cyclic collector if it runs; True if it was paused here.

    Recording and sweeping make many small objects in no cycle (nodes, pullbacks,
    cotangents); letting the collector scan them again and again made long array
    loops up to 3x slower, and reference counting frees them all the same. A
    gc.disable() made by user code meanwhile is undone when the collector resumes."""
    if _gc.isenabled():
        _gc.disable()
        return True
    return False


cdef int _resume_gc() except -1:
    if not _gc.isenabled():
        _gc.enable()
    return 0


cdef inline object _resolve(object x):
    """Drop the levels of x whose tape has finished: they are constants now."""
    while type(x) is Tracked and _active(<Tracked>x) is None:
        x = _tv(<Tracked>x)
    return x


def levels_active():
    """Whether any differentiation is running (a tape on the stack)."""
    return len(_stack) > 0


cpdef object value(object x):
    """The plain value of x, through every level of tracking."""
    while type(x) is Tracked:
        x = _tv(<Tracked>x)
    return x


cdef inline char _kind_of(object v):
    if PyFloat_CheckExact(v):
        return K_FLOAT
    if type(v) is Tracked:
        return K_ARRAY if (<Tracked>v).kind == K_ARRAY else K_SCALAR
    if isinstance(v, _ndarray):
        return K_ARRAY
    return K_SCALAR
