"""Functional optimizers over pytrees, for ``tt.grad`` users (optax's formulas):
``sgd`` and ``adam`` return ``GradientTransformation(init, update)``;
``update(grads, state, params=None) -> (updates, state)`` and
``apply_updates(params, updates)`` adds them.

The state is a named tuple of tensors (the step count an int32 tensor, never a Python
number), so it passes through ``tt.function`` as an argument and a result without
retracing. The rules are those of ``tracer.optimizers.rules``, shared with the Keras form.
"""
from typing import Any, Callable, NamedTuple

import numpy as np

from tracer import nest, ops
from tracer.creation import convert_to_tensor, zeros
from tracer.optimizers import rules

_INT32_MAX = np.iinfo(np.int32).max


class GradientTransformation(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates,
    state)``."""
    init: Callable
    update: Callable


class SgdState(NamedTuple):
    count: Any
    trace: Any          # momentum traces like the params, or () without momentum


class AdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


def _leaves(tree, what):
    leaves, rebuild = nest.flatten(tree)
    return [convert_to_tensor(x.value() if hasattr(x, "assign") else x) for x in leaves], \
        rebuild


def _zeros_like(tree):
    leaves, rebuild = _leaves(tree, "params")
    return rebuild([zeros(x.shape, x.dtype) for x in leaves])


def _count0():
    return convert_to_tensor(np.int32(0))


def _increment(count):
    """count + 1, saturating at the int32 maximum (as optax's safe increment)."""
    return ops.where(ops.less(count, _INT32_MAX), ops.add(count, 1), count)


def _rate(learning_rate, count):
    if callable(learning_rate):
        return convert_to_tensor(learning_rate(count))
    return float(learning_rate)


def _in_dtype(x, dtype):
    """A Python float stays weak (a literal in compiled code); tensors are cast."""
    return x if isinstance(x, float) else ops.cast(x, dtype)


def _negated(lr, dtype):
    return -lr if isinstance(lr, float) else ops.negative(ops.cast(lr, dtype))


def _matched(grads, tree, what):
    g, rebuild = _leaves(grads, "grads")
    t, _ = _leaves(tree, what)
    if len(g) != len(t):
        raise ValueError(f"optimizers: grads have {len(g)} leaves but the {what} has "
                         f"{len(t)}; they must have the same structure")
    for a, b in zip(g, t):
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(f"optimizers: a gradient of shape {tuple(a.shape)} meets a "
                             f"{what} leaf of shape {tuple(b.shape)}")
    return g, t, rebuild


def sgd(learning_rate, momentum=None, nesterov=False):
    """optax.sgd: ``updates = -lr * g``, or ``-lr * trace`` with ``trace = g + momentum *
    trace`` (Nesterov: ``-lr * (g + momentum * trace)``). ``learning_rate`` may be a
    callable of the step count."""
    def init(params):
        return SgdState(_count0(), () if momentum is None else _zeros_like(params))

    def update(grads, state, params=None):
        lr = _rate(learning_rate, state.count)
        g, rebuild = _leaves(grads, "grads")
        if momentum is None:
            return rebuild([ops.multiply(x, _negated(lr, x.dtype))
                            for x in g]), SgdState(_increment(state.count), ())
        g, tr, rebuild = _matched(grads, state.trace, "momentum trace")
        ups, traces = [], []
        for x, t in zip(g, tr):
            d, new = rules.momentum_trace(x, t, float(momentum), nesterov)
            ups.append(ops.multiply(d, _negated(lr, x.dtype)))
            traces.append(new)
        return rebuild(ups), SgdState(_increment(state.count), rebuild(traces))
    return GradientTransformation(init, update)


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    """optax.adam: bias-corrected moments, ``updates = -lr * m_hat / (sqrt(v_hat) + eps)``.
    ``learning_rate`` may be a callable of the step count."""
    def init(params):
        return AdamState(_count0(), _zeros_like(params), _zeros_like(params))

    def update(grads, state, params=None):
        lr = _rate(learning_rate, state.count)
        g, mu, rebuild = _matched(grads, state.mu, "first moment")
        nu, _ = _leaves(state.nu, "second moment")
        count = _increment(state.count)
        ups, mus, nus = [], [], []
        for x, m, v in zip(g, mu, nu):
            m, v = rules.adam_moments(x, m, v, b1, b2)
            step = rules.adam_step(m, v, ops.cast(count, x.dtype), _in_dtype(lr, x.dtype),
                                   b1, b2, eps, epsilon_hat=False)
            ups.append(ops.negative(step))
            mus.append(m)
            nus.append(v)
        return rebuild(ups), AdamState(count, rebuild(mus), rebuild(nus))
    return GradientTransformation(init, update)


def apply_updates(params, updates):
    """``params + updates`` leaf by leaf, each result in its parameter's dtype (Variables
    are read, not assigned: the result is a new tree of tensors)."""
    p, rebuild = _leaves(params, "params")
    u, _ = _leaves(updates, "updates")
    if len(p) != len(u):
        raise ValueError(f"apply_updates: params have {len(p)} leaves and updates {len(u)}; "
                         f"they must have the same structure")
    return rebuild([ops.cast(ops.add(a, b), a.dtype) for a, b in zip(p, u)])

