"""Applying a primitive to tensors and recording it: ``make``, ``node_of``, ``bind``, and the
op side of the recording protocol (``watching``, ``commit``; see ``tracer.state``).

Three cases for every op:
- eager, no tape records: the NumPy ``impl`` runs and that is all (the hot path);
- eager, a recording tape watches an operand: the value is computed the same way and a
  node is built and added to each such tape;
- traced (inside ``tt.function``): operands carry nodes only; eager operands become
  captured graph inputs.
"""
import functools

import numpy as np

from compiler import primitives as P
from compiler.ir import Node
from runtime.config import config as _config
from runtime.interpreter import check_nan
from tracer.state import STATE
from tracer.tensor import Tensor

# the settings dict itself: one lookup per op when tt.config.debug_nans is off
SETTINGS = _config._values


def op_name(op):
    """``op`` as the user sees it: inside a public composite op (``public_op``), that op's
    name with ``op`` as its step, for debug_nans messages."""
    public = STATE.op
    return op if public is None or public == op else f"{public} (its {op} step)"


def public_op(name):
    """Decorator for public ops composed of other ops: with ``debug_nans`` on, a NaN made
    inside is reported under ``name``, the op the user called (reduce_mean, not divide)."""
    def wrap(fn):
        @functools.wraps(fn)
        def op(*args, **kwargs):
            if not SETTINGS["debug_nans"] or STATE.op is not None:
                return fn(*args, **kwargs)
            STATE.op = name
            try:
                return fn(*args, **kwargs)
            finally:
                STATE.op = None
        return op
    return wrap


def make(value, node=None):
    """A Tensor holding ``value`` (None when traced) and ``node`` (None when untracked)."""
    t = Tensor.__new__(Tensor)
    t._value = value
    t._node = node
    return t


def node_of(t):
    """The node standing for tensor ``t`` (a fresh input leaf for an untracked value)."""
    trace = STATE.trace
    if trace is not None and t._value is not None:
        return trace.capture(t)
    n = t._node
    if n is None:
        v = t._value
        n = t._node = Node(P.input, (), (), np.shape(v), v.dtype)
    return n


def watching(args):
    """The recording tapes that watch one of ``args`` (None when no tape does)."""
    hit = None
    for tape in STATE.tapes:
        active = tape.active
        for a in args:
            if type(a) is Tensor and a._node is not None and a._node in active:
                hit = [tape] if hit is None else hit + [tape]
                break
    return hit


def _tag_public(nodes):
    """Nodes recorded inside a public composite op (debug_nans on) remember its name, so a
    NaN in their gradient names the op the user called."""
    for n in nodes:
        if n.public is None:
            n.public = STATE.op


def commit(tapes, node, out, args, new_nodes):
    """``out`` now carries ``node``; each tape in ``tapes`` records it."""
    out._node = node
    if STATE.op is not None:
        _tag_public(new_nodes)
    for tape in tapes:
        tape.record(node, out._value, args, new_nodes)


def traced_result(node, args, new_nodes):
    """A traced tensor for ``node``; a tape used inside tt.function records it too."""
    out = make(None, node)
    if STATE.op is not None:
        _tag_public(new_nodes)
    if STATE.tapes:
        hit = watching(args)
        if hit:
            commit(hit, node, out, args, new_nodes)
    return out


def bind(prim, *args, **attrs):
    """Apply a primitive to Tensors whose shapes/dtypes its rule accepts."""
    vals = [a._value for a in args]
    if STATE.trace is not None and any(v is None for v in vals):
        node = prim(*[node_of(a) for a in args], **attrs)
        return traced_result(node, args, [node])
    out = make(prim.impl(*vals, **attrs))
    if SETTINGS["debug_nans"]:
        check_nan(op_name(prim.name), vals, out._value)
    if STATE.tapes:
        hit = watching(args)
        if hit:
            node = prim(*[node_of(a) for a in args], **attrs)
            commit(hit, node, out, args, [node])
    return out
