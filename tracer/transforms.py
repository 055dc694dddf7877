"""JAX-style transforms: ``grad``, ``value_and_grad``, ``jacobian``, ``hessian``.

Each is a ``Staged`` function (see ``tracer.function``): ``fn`` is traced to a graph, the
autodiff pass adds the reverse sweep to the same graph, and forward and backward are
optimised and compiled together, once per signature. Called on traced arguments (inside
another transform or ``tt.function``) a transform splices its graph into the enclosing
one, so ``grad(grad(f))`` is a single graph and derivatives of any order compose.
"""
from compiler import autodiff
from compiler import primitives as P
from tracer import dtypes, nest
from tracer.convert import convert_to_tensor
from tracer.engine import make
from tracer.function import Staged
from tracer.tensor import Tensor
from tracer.variable import Variable


def _argnums(argnums, op):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(i, int) and not isinstance(i, bool) for i in nums):
        raise TypeError(f"{op}: argnums must be an int or a non-empty tuple of ints, got "
                        f"{argnums!r}")
    return nums


def _prepare(nums, op, name):
    """Differentiated arguments become tensors (a Python float is a float32 scalar)."""
    def prepare(args):
        bad = [i for i in nums if not -len(args) <= i < len(args)]
        if bad:
            raise ValueError(f"{op}: argnums {nums} out of range for {name} called with "
                             f"{len(args)} positional argument(s)")
        args = list(args)
        for i in nums:
            a = args[i]
            if not (type(a) is Tensor or isinstance(a, (Variable, list, tuple, dict))):
                args[i] = convert_to_tensor(a, op=op)
        return tuple(args)
    # a one-argument call whose argument is differentiated: a Python float becomes a
    # scalar of this type, so the cached call path can convert it without preparing
    prepare.python_float = dtypes.python_default(0.0).type if set(nums) <= {0, -1} else None
    return prepare


def _name(fn):
    return getattr(fn, "__name__", type(fn).__name__)


def _sources(args, nums, op, name):
    """Per differentiated argument: its traced leaves and a function rebuilding it."""
    out = []
    for i in nums:
        leaves, rebuild = nest.flatten(args[i])
        # a Variable argument is differentiated through its value at the call's start
        leaves = [x._read() if isinstance(x, Variable) else x for x in leaves]
        for x in leaves:
            if type(x) is not Tensor or x.dtype.kind != "f":
                what = getattr(x, "dtype", type(x).__name__)
                hint = " (a Python int becomes int32: pass a float such as 3.0)" \
                    if getattr(x, "dtype", None) is not None and x.dtype.kind in "iu" else ""
                raise TypeError(f"{op}: argument {i} of {name} must be a float tensor (or a "
                                f"structure of them) to be differentiated, got {what}{hint}")
        out.append((leaves, rebuild))
    return out


def _as_output(y, op, name):
    if type(y) is not Tensor:
        if isinstance(y, Variable):
            return y._read()
        try:
            return convert_to_tensor(y, op=op)
        except (TypeError, ValueError):
            raise TypeError(f"{op}: {name} must return a tensor, got "
                            f"{type(y).__name__}") from None
    return y


def _cotangents(y, seed, leaves):
    """Nodes of d<y, seed>/d(leaves); zeros where ``y`` does not depend on a leaf."""
    srcs = [x._node for x in leaves]
    if y._value is None:
        cts = autodiff.vjp([y._node], [seed], srcs)
    else:
        cts = [None] * len(srcs)
    return [make(None, c if c is not None else P.full(0, x.shape, x.dtype))
            for c, x in zip(cts, leaves)]


def _grad_build(fn, nums, single, has_aux, with_value, op):
    name = _name(fn)

    def build(args, kwargs):
        # the arguments first: an int argument is the mistake, not the int result it gives
        sources = _sources(args, nums, op, name)
        out = fn(*args, **kwargs)
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"{op}: with has_aux=True, {name} must return a pair "
                                f"(value, aux), got {type(out).__name__}")
            out, aux = out
        y = _as_output(out, op, name)
        if y.shape != ():
            raise TypeError(f"{op}: {name} must return a scalar (shape ()), got shape "
                            f"{y.shape} {y.dtype}; reduce it (e.g. tt.reduce_sum) or use "
                            f"tt.jacobian for non-scalar outputs")
        if y.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must return a float scalar, got dtype {y.dtype}")
        grads = []
        for leaves, rebuild in sources:
            grads.append(rebuild(_cotangents(y, P.full(1, (), y.dtype), leaves)))
        g = grads[0] if single else tuple(grads)
        res = (y, g) if with_value else g
        if has_aux:
            res = ((y, aux), g) if with_value else (g, aux)
        return res
    return build


def _make_grad(fn, argnums, has_aux, with_value, op):
    if not callable(fn):
        raise TypeError(f"{op}: expected a callable, got {type(fn).__name__}")
    nums = _argnums(argnums, op)
    build = _grad_build(fn, nums, isinstance(argnums, int), has_aux, with_value, op)
    recipe = (value_and_grad if with_value else grad, (fn, argnums, has_aux), {})
    return Staged(fn, build, f"{op}({_name(fn)})", prepare=_prepare(nums, op, _name(fn)),
                  recipe=recipe)


def grad(fn, argnums=0, has_aux=False):
    """The gradient of scalar-valued ``fn`` with respect to argument(s) ``argnums``.

    >>> tt.grad(lambda x: x ** 3)(2.0)          # 12.0; tt.grad(tt.grad(...)) composes
    """
    return _make_grad(fn, argnums, has_aux, False, "grad")


def value_and_grad(fn, argnums=0, has_aux=False):
    """``(fn(*args), grad(fn)(*args))`` computed together in one compiled graph."""
    return _make_grad(fn, argnums, has_aux, True, "value_and_grad")


