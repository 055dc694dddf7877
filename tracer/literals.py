"""Shared constant nodes for Python scalars in eager ops recorded on a tape.

``x * 0.5`` on a recording tape needs a literal node for 0.5 and, for a non-scalar ``x``,
a ``broadcast_to`` of it. Nodes are immutable symbols, so one literal per (scalar, dtype)
and one broadcast of it per shape serve every op: a long recorded chain builds and keys
them once instead of once per op (the way TensorFlow's tape records nothing for a
constant operand). Floats are keyed by their bits, so ``-0.0`` and ``0.0``, and NaNs with
different payloads, stay distinct literals. The cache is bounded (cleared when full) and
safe to share between threads: a race at worst builds an equal node twice.
"""
from compiler import primitives as P
from compiler.ir import float_key

_MAX = 4096
_NODES = {}


def filled(value, dtype, shape):
    """The node for Python scalar ``value`` as ``dtype`` filling ``shape`` (a literal for
    shape (), else a broadcast of one); the same node for the same value bits, dtype and
    shape."""
    t = type(value)
    key = (t, float_key(value) if t is float else value, dtype, shape)
    n = _NODES.get(key)
    if n is None:
        if shape == ():
            n = P.literal(value, dtype)
        else:
            n = P.broadcast_to(filled(value, dtype, ()), shape=shape)
        n.sig                               # computed once, with the node
        if len(_NODES) >= _MAX:
            _NODES.clear()
        _NODES[key] = n
    return n
