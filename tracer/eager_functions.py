"""TensorFlow-eager style gradient transforms: ``gradients_function`` and
``value_and_gradients_function``.

They run ``fn`` eagerly under a ``GradientTape`` (so Python control flow on values works,
e.g. ``range(int(y))``) and return one gradient per argument. Because the tape's gradient
call is itself recorded by any enclosing recording tape, the transforms nest:
``gradients_function(lambda x: gradients_function(f)(x)[0])`` gives second derivatives.
"""
import inspect

from tracer import serialize
from tracer.convert import convert_to_tensor
from tracer.ops import identity
from tracer.tape import GradientTape
from tracer.tensor import Tensor
from tracer.variable import Variable


def gradients_function(fn, params=None):
    """A function returning the list of gradients of ``fn`` with respect to its arguments.

    ``params``: argument indices or names to differentiate (default: all). Python floats
    become float32 tensors; integer and bool arguments get ``None`` gradients. When ``fn``
    returns a list of tensors, their gradients add up.

    >>> df = tt.gradients_function(lambda x, y: x * y)
    >>> df(3.0, 2.0)  # [dy, dx] -> [tt.Tensor(2.0, ...), tt.Tensor(3.0, ...)]
    """
    return _EagerGradients(fn, params, False)


def value_and_gradients_function(fn, params=None):
    """Like ``gradients_function``, but the returned function gives ``(value, gradients)``
    where ``value`` is what ``fn`` returned."""
    return _EagerGradients(fn, params, True)


class _EagerGradients:
    """What ``gradients_function`` / ``value_and_gradients_function`` return (picklable:
    rebuilt from ``fn`` and ``params``)."""

    def __init__(self, fn, params, with_value):
        self._op = "value_and_gradients_function" if with_value else "gradients_function"
        self._run = _differentiator(fn, params, self._op)
        self._recipe = (value_and_gradients_function if with_value else gradients_function,
                        (fn, params), {})
        name = getattr(fn, "__name__", type(fn).__name__)
        self.__name__ = self.__qualname__ = f"{self._op}({name})"
        self.__doc__ = f"{self._op} of {name}: see tt.{self._op}."
        self.__wrapped__ = fn
        self._with_value = with_value

    def __call__(self, *args, **kwargs):
        value, grads = self._run(args, kwargs)
        return (value, grads) if self._with_value else grads

    def __reduce__(self):
        return serialize.reduce_recipe(self, self._recipe)

    def __repr__(self):
        return f"<{self.__name__}>"


def _differentiator(fn, params, op):
    if not callable(fn):
        raise TypeError(f"{op}: fn must be callable, got {type(fn).__name__}")
    names = _parameter_names(fn)

    def run(args, kwargs):
        args = [_as_argument(a, i, op) for i, a in enumerate(args)]
        chosen = _indices(params, names, len(args), op)
        _separate_repeats(args, chosen)
        with GradientTape() as tape:
            tape.watch([args[i] for i in chosen])
            value = fn(*args, **kwargs)
        grads = tape.gradient(value, [args[i] for i in chosen])
        return value, grads

    return run


def _separate_repeats(args, chosen):
    """One source per position: a tensor passed twice (``df(x, x)``) gets a distinct
    identity at its later positions, so each position receives its own gradient."""
    seen = set()
    for i in chosen:
        a = args[i]
        if type(a) is Tensor and id(a) in seen:
            args[i] = identity(a)
        seen.add(id(args[i]))


def _as_argument(a, i, op):
    """Tensors and Variables pass through (so enclosing tapes still see them); anything
    else becomes a tensor (a Python float becomes float32)."""
    if type(a) is Tensor or isinstance(a, Variable):
        return a
    try:
        return convert_to_tensor(a, op=op)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{op}: argument {i} cannot be differentiated: {e}") from None


def _parameter_names(fn):
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


def _indices(params, names, count, op):
    if params is None:
        return list(range(count))
    out = []
    for p in params:
        i = names.index(p) if isinstance(p, str) and p in names else p
        if isinstance(i, str) or not isinstance(i, int) or not -count <= i < count:
            raise ValueError(f"{op}: params entry {p!r} does not name one of the {count} "
                             f"arguments given; valid are indices 0..{count - 1} or the names "
                             f"{names[:count]}")
        out.append(i % count)
    return out
