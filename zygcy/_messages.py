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


def assignment_after_finish():
    return ("this tracked array belongs to a differentiation that has finished, so it "
            "cannot record an assignment; take its plain value with zygcy.value(x) first")
