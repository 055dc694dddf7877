"""Pickling of staged functions (``tt.function`` and what the transforms return).

A staged function pickles as the recipe that made it, never as its traced graphs or
compiled code: ``(factory, args, kwargs)``, e.g. ``(tt.grad, (f, 0, False), {})``. It is
rebuilt by calling the factory where it is unpickled, and traced again there on its
first call (the disk cache under ``TRACER_CACHE_DIR`` saves the native compile).

Invariants:
- A staged function that is importable under its module and qualname (a module-level
  ``@tt.function``) pickles by reference, like a plain function, and unpickles as the
  very same object.
- Otherwise it pickles by value with a token: unpickling a token this process already
  knows returns the live object, so a function sent many times (a task per data chunk,
  a step per optimiser iteration) is rebuilt, traced and compiled once per process.
- Python functions inside a recipe that cannot be imported by name (lambdas, closures,
  functions of ``__main__``) travel by value through cloudpickle (numba's bundled copy
  when cloudpickle itself is not installed).
- A new transform pickles when it passes ``recipe=(transform, (fn, *options), {...})``
  to ``Staged``: the transform is a module-level function, ``fn`` may be another staged
  function (``hessian`` is ``jacfwd(grad(f))``), options are picklable values.
"""
import collections
import importlib
import pickle
import sys
import threading
import types
import uuid
import weakref

_LIVE = weakref.WeakValueDictionary()   # token -> staged function alive in this process
_RECENT = collections.deque(maxlen=64)  # keeps recently unpickled ones (and their code)
_LOCK = threading.Lock()
_BUSY = threading.local()              # functions being pickled by value (cycle guard)


def _resolve(module, qualname):
    obj = sys.modules.get(module) if module else None
    if obj is None or "<" in qualname:
        return None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def importable(obj):
    """True when ``obj`` is found again as ``module.qualname`` in a fresh process."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or module == "__main__":
        return False
    return _resolve(module, qualname) is obj


def token(obj):
    """A staged (or other rebuilt) function's identity across processes, made on first
    use."""
    tok = obj.__dict__.get("_token")
    if tok is None:
        with _LOCK:
            tok = obj.__dict__.get("_token")
            if tok is None:
                tok = obj._token = uuid.uuid4().hex
                _LIVE[tok] = obj
    return tok


def reduce_staged(staged):
    """``__reduce__`` of a staged function: by reference when importable, else its recipe."""
    if importable(staged):
        return staged.__qualname__
    if staged._recipe is None:
        raise TypeError(f"cannot pickle {staged!r}: it was built without a recipe; a "
                        f"transform makes its result picklable by passing "
                        f"recipe=(transform, (fn, *options), {{...}}) to Staged")
    return reduce_recipe(staged, staged._recipe)


def reduce_recipe(obj, recipe):
    """``__reduce__`` rebuilding ``obj`` as ``factory(*args, **kwargs)``, once per process."""
    factory, args, kwargs = recipe
    args = tuple(_portable(a) for a in args)
    return (_rebuild, (token(obj), factory, args, dict(kwargs)))


def _rebuild(tok, factory, args, kwargs):
    with _LOCK:
        obj = _LIVE.get(tok)
        if obj is None:
            obj = factory(*args, **kwargs)
            obj._token = tok
            _LIVE[tok] = obj
        _RECENT.append(obj)
    return obj


def _portable(value):
    if isinstance(value, types.FunctionType) and not importable(value):
        return _ByValue(value)
    return value


def _cloudpickle():
    """cloudpickle (optional), else numba's bundled copy, else None."""
    for name in ("cloudpickle", "numba.cloudpickle"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


class _ByValue:
    """A Python function pickled with its code (it has no importable name)."""

    def __init__(self, fn):
        self.fn = fn

    def __reduce__(self):
        cp = _cloudpickle()
        busy = _BUSY.__dict__.setdefault("fns", set())
        if id(self.fn) in busy:
            raise pickle.PicklingError(
                f"cannot pickle {self.fn.__qualname__!r} by value: it refers to itself "
                f"through a staged function; define it in an importable module so it "
                f"pickles by reference")
        if cp is None:
            raise pickle.PicklingError(
                f"cannot pickle {self.fn.__qualname__!r} of module {self.fn.__module__!r} "
                f"by reference (it is a lambda, a closure or defined in __main__) and "
                f"cloudpickle is not installed to pickle it by value: "
                f"pip install cloudpickle")
        busy.add(id(self.fn))
        try:
            data = cp.dumps(self.fn, protocol=pickle.DEFAULT_PROTOCOL)
        finally:
            busy.discard(id(self.fn))
        return (pickle.loads, (data,))
