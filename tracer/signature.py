"""Signatures of ``tt.function`` calls: what keys a call's cached trace, and the fast keys
of the cached call path (``tracer.function.Staged``).

Invariants:
- A signature is the shape and dtype of every tensor-like argument leaf (Tensor, NumPy
  array or scalar; a Variable by shape, dtype and trainable flag) plus the value of every
  other leaf (floats by their bits), and of ``static_argnums`` arguments.
- A fast key (``tree_signature``, ``hot_slot``) is only ever mapped to a signature that a
  call with equal fast key computed on the general route: equal fast keys mean equal
  signatures.
"""
import inspect

import numpy as np

from tracer import nest
from tracer.tensor import Tensor
from tracer.variable import Variable

_ARRAYS = (np.ndarray, np.generic)


def is_tensor_like(x):
    return type(x) is Tensor or isinstance(x, (Variable,) + _ARRAYS)


def leaf_key(x, where):
    if type(x) is Tensor:
        return (x.shape, x.dtype)
    if isinstance(x, Variable):
        return ("variable", x.shape, x.dtype, x.trainable)     # not its identity
    if isinstance(x, _ARRAYS):
        return (x.shape, x.dtype)
    try:
        hash(x)
    except TypeError:
        raise TypeError(f"{describe(where)} is a {type(x).__name__}, which is neither a tensor nor "
                        f"hashable; pass tensors, NumPy arrays, numbers, strings, or "
                        f"hashable values") from None
    return ("static", type(x), _bits(x))


def _bits(x):
    # floats by their bits, as graph keys: nan == nan is false (a NaN argument would
    # retrace on every call) and -0.0 == 0.0 is true (-0.0 would reuse 0.0's trace)
    if isinstance(x, float):
        return ("float", x.hex())
    if type(x) is tuple:
        return tuple(_bits(v) for v in x)
    return x


def arg_key(x, where, static):
    if static:
        if is_tensor_like(x):
            raise TypeError(f"{describe(where)} is listed in static_argnums but is a tensor; static "
                            f"arguments must be hashable Python values (numbers, strings, "
                            f"tuples), tensors are traced")
        return leaf_key(x, where)
    if isinstance(x, (list, tuple, dict)):
        leaves, rebuild = nest.flatten(x)
        shape = repr(rebuild(list(range(len(leaves)))))
        return ("tree", shape, tuple(leaf_key(v, where) for v in leaves))
    return leaf_key(x, where)


def describe(where):
    """An argument's description for errors (``where`` may compute it on demand)."""
    return where() if callable(where) else where


def leaf_value(x):
    """The value bound for a traced argument leaf at call time (Variables are bound as
    state: ``Entry.bind``)."""
    if type(x) is Tensor:
        return x._value
    return x


# NumPy scalar types whose type alone fixes the dtype (and the shape: ())
SCALAR_TYPES = frozenset(np.dtype(c).type for c in "?bhilqBHILQefdgFDG")


_TREE_NODES = 4096      # larger (or cyclic) argument structures take the general route


def tree_signature(args):
    """(leaf values, key) for positional ``args`` made of eager Tensors, NumPy arrays and
    scalars inside lists, tuples and str-keyed dicts, in ``_signature_parts``' leaf order;
    None for anything else (Variables, Python numbers, other objects). Equal keys mean
    equal signatures: the key spells out every container's type and length (a dict's
    keys) and every leaf's shape and dtype."""
    values, key = [], []
    stack = list(reversed(args))
    pop, push, append, note = stack.pop, stack.extend, values.append, key.append
    seen = 0
    while stack:
        x = pop()
        t = type(x)
        if t is Tensor:
            x = x._value
            if x is None:
                return None
            append(x)
            note((x.shape, x.dtype))
        elif t is np.ndarray or t in SCALAR_TYPES:
            append(x)
            note((x.shape, x.dtype))
        elif t is dict:
            ks = tuple(x)
            if not all([type(k) is str for k in ks]):
                return None
            note(ks)
            push([x[k] for k in reversed(ks)])
        elif t is list or isinstance(x, tuple):
            note((t, len(x)))
            push(x[::-1])
        else:
            return None
        seen += 1
        if seen > _TREE_NODES:
            return None
    return values, tuple(key)


def hot_slot(v, entry):
    """(value type, dtype, shape, entry, executable of a plain entry or None) matching
    one-argument calls with ``v``'s signature: a NumPy scalar by its type alone (dtype
    None), an array by type, dtype (identical descriptor) and shape."""
    exe = entry.executable() if entry.plain else None
    if type(v) in SCALAR_TYPES:
        return (type(v), None, None, entry, exe)
    return (type(v), v.dtype, v.shape, entry, exe)


def static_positions(static_argnums, name):
    """``static_argnums`` (an int or a sequence of them) as a list, checked."""
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    out = []
    for i in static_argnums:
        if not isinstance(i, int) or isinstance(i, bool) or i < 0:
            raise ValueError(f"tt.function {name}: static_argnums must be non-negative ints, "
                             f"got {static_argnums!r}")
        out.append(i)
    return out


def bind_method(fn, ref):
    """``fn`` with the instance ``ref()`` as its first argument, named and signed as ``fn``
    without that parameter (argument positions in messages count from the next one)."""
    def method(*args, **kwargs):
        return fn(ref(), *args, **kwargs)
    method.__name__ = getattr(fn, "__name__", "method")
    method.__qualname__ = getattr(fn, "__qualname__", method.__name__)
    method.__doc__ = getattr(fn, "__doc__", None)
    method.__module__ = getattr(fn, "__module__", None)
    try:
        sig = inspect.signature(fn)
        method.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])
    except (TypeError, ValueError):
        pass
    return method
