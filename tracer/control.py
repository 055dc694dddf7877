"""Control flow that stays symbolic: ``cond``, ``switch``, ``while_loop``, ``fori_loop``,
``scan``.

Eager (no ``tt.function`` tracing), each runs as plain Python on concrete values, so tapes
record the operations as they run. While tracing, each becomes one region node holding its
bodies as sub-graphs (``compiler.regions``): the bodies are traced once on symbolic
arguments, whatever they read from outside becomes an explicit operand, and trace and
compile cost do not depend on the trip count.

Structures: operands, carries and outputs are pytrees (nested lists, tuples, dicts) of
tensors. A body must keep the structure, shapes and dtypes it is given; a mismatch raises
``TypeError`` naming the leaf.
"""
import numpy as np

from tracer import dtypes, nest, region_trace
from tracer.convert import convert_to_tensor
from tracer.creation import constant, zeros
from tracer.errors import TracingError
from tracer.engine import STATE, as_tensor
from tracer.ops import cast, less, stop_gradient
from tracer.shape_ops import stack
from tracer.tensor import Tensor
from tracer.tracing import TraceContext


# -- pytrees ---------------------------------------------------------------------------------

def _paths(tree):
    """A readable path per leaf, in ``nest.flatten`` order (e.g. ``[1]['w']``)."""
    out, stack = [], [(tree, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend((node[k], f"{path}[{k!r}]") for k in reversed(list(node)))
        elif isinstance(node, (list, tuple)):
            stack.extend((node[i], f"{path}[{i}]") for i in reversed(range(len(node))))
        else:
            out.append(path or "(the value itself)")
    return out


def _structure(tree):
    if tree is None:
        return "None"
    leaves, rebuild = nest.flatten(tree)
    return repr(rebuild(list(range(len(leaves)))))


def _tensors(tree, op, dtypes_like=None):
    """Leaves of ``tree`` as Tensors (Python numbers take the dtype of ``dtypes_like``'s
    leaf when given, as a carry keeps its dtype). ``None`` is an empty structure."""
    if tree is None:
        return [], lambda leaves: None
    leaves, rebuild = nest.flatten(tree)
    out = []
    for i, x in enumerate(leaves):
        if dtypes_like is not None and type(x) in (int, float, bool):
            out.append(convert_to_tensor(x, dtype=dtypes_like[i].dtype, op=op))
        else:
            out.append(as_tensor(x, op))
    return out, rebuild


def check_same(op, want_what, want, got_what, got):
    """TypeError naming the first leaf where ``got`` differs from ``want`` in structure,
    shape or dtype (both are pytrees of tensors)."""
    if _structure(want) != _structure(got):
        raise TypeError(f"{op}: {got_what} has structure {_structure(got)}, but {want_what} "
                        f"has structure {_structure(want)}; they must match")
    if want is None:
        return
    wl, gl = nest.flatten(want)[0], nest.flatten(got)[0]
    for path, a, b in zip(_paths(want), wl, gl):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise TypeError(f"{op}: leaf {path} of {got_what} has shape {b.shape} and dtype "
                            f"{b.dtype}, but in {want_what} it has shape {a.shape} and dtype "
                            f"{a.dtype}; they must match (cast or reshape it)")


def _traced():
    return STATE.trace is not None


# -- cond and switch --------------------------------------------------------------------------

def cond(pred, true_fn, false_fn, *operands, name=None):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``; both branches must
    return the same structure, shapes and dtypes. Only the chosen branch runs.

    >>> tt.cond(x > 0, lambda: x * 2.0, lambda: -x)
    """
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError("cond: true_fn and false_fn must be callables")
    if isinstance(pred, (bool, np.bool_)):
        return (true_fn if pred else false_fn)(*operands)
    p = as_tensor(pred, "cond")
    if p.shape != () or p.dtype != dtypes.bool_:
        raise TypeError(f"cond: pred must be a scalar bool tensor or a Python bool, got shape "
                        f"{p.shape} dtype {p.dtype}")
    if p._value is not None:
        return (true_fn if bool(p._value) else false_fn)(*operands)
    return _branches(cast(p, dtypes.int32), [false_fn, true_fn], operands, "cond",
                     ["false_fn's result", "true_fn's result"])


def switch(index, branches, *operands):
    """``branches[index](*operands)`` with ``index`` clamped to the valid range (as JAX's
    ``lax.switch``); all branches return the same structure, shapes and dtypes."""
    branches = list(branches)
    if not branches or not all(callable(b) for b in branches):
        raise TypeError("switch: branches must be a non-empty sequence of callables")
    i = as_tensor(index, "switch")
    if i.shape != () or i.dtype.kind not in "iu":
        raise TypeError(f"switch: index must be a scalar integer, got shape {i.shape} dtype "
                        f"{i.dtype}")
    if i._value is not None:
        return branches[int(np.clip(int(i._value), 0, len(branches) - 1))](*operands)
    return _branches(cast(i, dtypes.int32), branches, operands, "switch",
                     [f"branch {k}'s result" for k in range(len(branches))])


def _branches(index, fns, operands, op, names):
    ops, rebuild = _tensors(list(operands), op)
    first = []

    def trace_one(k, fn, args):
        outs, rb = _tensors(fn(*rebuild(args)), op)
        if k == 0:
            first[:] = [outs, rb]
        else:
            check_same(op, names[0], first[1](first[0]), names[k], rb(outs))
        return outs
    res = region_trace.trace_branches(index, fns, ops, trace_one)
    return first[1](res)


# -- loops ---------------------------------------------------------------------------------------

def _max_iterations(maximum_iterations):
    if maximum_iterations is None:
        return -1
    if isinstance(maximum_iterations, Tensor):
        if maximum_iterations._value is None:
            raise TypeError("while_loop: maximum_iterations must be a Python int or an eager "
                            "tensor, not a traced value")
        maximum_iterations = int(maximum_iterations)
    if not isinstance(maximum_iterations, (int, np.integer)) or maximum_iterations < 0:
        raise ValueError(f"while_loop: maximum_iterations must be a non-negative int, got "
                         f"{maximum_iterations!r}")
    return int(maximum_iterations)


def _predicate(p, op):
    p = as_tensor(p, op)
    if p.shape != () or p.dtype != dtypes.bool_:
        raise TypeError(f"{op}: cond_fn must return a scalar bool, got shape {p.shape} dtype "
                        f"{p.dtype}")
    return p


def while_loop(cond_fn, body_fn, loop_vars, maximum_iterations=None, shape_invariants=None,
               parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """Repeat ``loop_vars = body_fn(*loop_vars)`` while ``cond_fn(*loop_vars)`` (a scalar
    bool) holds, at most ``maximum_iterations`` times; returns the final ``loop_vars``.
    ``loop_vars`` is a tuple/list of arguments (or one tensor), as ``tf.while_loop``.
    Differentiable to any order with respect to ``loop_vars`` and captured tensors, in
    reverse and forward mode: the forward pass keeps the carry of every iteration.
    TensorFlow's other arguments: ``back_prop=False`` stops gradients at the results;
    ``parallel_iterations`` and ``swap_memory`` are scheduling hints (unused); loop
    variables keep their shapes, so ``shape_invariants`` must be None."""
    if shape_invariants is not None:
        raise ValueError("while_loop: loop variables keep their shapes and dtypes here, so "
                         "shape_invariants must be None")
    out = _while_loop(cond_fn, body_fn, loop_vars, maximum_iterations)
    if back_prop:
        return out
    leaves, rebuild = nest.flatten(out, "while_loop")
    return rebuild([stop_gradient(t) for t in leaves])


def _while_loop(cond_fn, body_fn, loop_vars, maximum_iterations):
    if not callable(cond_fn) or not callable(body_fn):
        raise TypeError("while_loop: cond_fn and body_fn must be callables")
    limit = _max_iterations(maximum_iterations)
    single = not isinstance(loop_vars, (list, tuple))
    carry, rebuild = _tensors([loop_vars] if single else loop_vars, "while_loop")
    call = (lambda f, c: f(c[0])) if single else (lambda f, c: f(*c))
    wrap = (lambda out: [out]) if single else (lambda out: out)
    if not _traced():
        return _eager_while(cond_fn, body_fn, carry, rebuild, call, wrap, limit, single)

    def trace_body(args):
        outs, rb = _tensors(wrap(call(body_fn, rebuild(args))), "while_loop", carry)
        check_same("while_loop", "loop_vars", rebuild(carry), "body_fn's result", rb(outs))
        return outs
    res = region_trace.trace_while(
        carry, lambda args: _predicate(call(cond_fn, rebuild(args)), "while_loop"),
        trace_body, limit)
    res = rebuild(res)
    return res[0] if single else res


def _eager_while(cond_fn, body_fn, carry, rebuild, call, wrap, limit, single):
    i = 0
    while limit < 0 or i < limit:
        if not bool(_predicate(call(cond_fn, rebuild(carry)), "while_loop")):
            break
        outs, rb = _tensors(wrap(call(body_fn, rebuild(carry))), "while_loop", carry)
        check_same("while_loop", "loop_vars", rebuild(carry), "body_fn's result", rb(outs))
        carry = outs
        i += 1
    res = rebuild(carry)
    return res[0] if single else res


def _static_bound(b):
    if isinstance(b, (int, np.integer)) and not isinstance(b, bool):
        return int(b)
    if isinstance(b, Tensor) and b._value is not None and b.shape == () and \
            b.dtype.kind in "iu":
        return int(b._value)
    return None


def fori_loop(lower, upper, body_fn, init_val, *, unroll=None):
    """``val = body_fn(i, val)`` for ``i`` in ``range(lower, upper)`` (JAX's
    ``lax.fori_loop``). With static bounds it is a ``scan``, with traced bounds a
    ``while_loop`` (both differentiable to any order). ``unroll`` is JAX's performance
    hint, unused: the loop compiles to one native loop."""
    lo, hi = _static_bound(lower), _static_bound(upper)
    if lo is not None and hi is not None:

        def step(carry, _):
            i, val = carry
            return (i + 1, body_fn(i, val)), None
        (_, val), _ = scan(step, (constant(lo, dtypes.int32), init_val),
                           length=max(hi - lo, 0))
        return val
    lo_t, hi_t = (cast(as_tensor(b, "fori_loop"), dtypes.int32) for b in (lower, upper))
    _, _, val = while_loop(lambda i, h, v: less(i, h),
                           lambda i, h, v: (i + 1, h, body_fn(i, v)), (lo_t, hi_t, init_val))
    return val


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """JAX's ``lax.scan``: ``carry, y = f(carry, x)`` over the leading axis of ``xs``;
    returns ``(carry, ys)`` with the ys stacked on a new leading axis (``unroll`` is JAX's
    performance hint, unused: the loop compiles to one native loop).

    >>> final, ys = tt.scan(lambda c, x: (c + x, c * x), 0.0, tt.range(5.0))
    """
    if not callable(f):
        raise TypeError("scan: f must be a callable f(carry, x) -> (carry, y)")
    carry, rb_carry = _tensors(init, "scan")
    if xs is None:
        xleaves, rb_x = [], None
    else:
        xleaves, rb_x = _tensors(xs, "scan")
    length = _scan_length(xleaves, length)
    if not _traced():
        return _eager_scan(f, carry, rb_carry, xleaves, rb_x, length, reverse)
    ys_rebuild = []

    def trace_body(cargs, xargs):
        out = f(rb_carry(cargs), rb_x(xargs) if rb_x else None)
        new_carry, rb_new, ys, rb_y = _scan_out(out, carry)
        check_same("scan", "init", rb_carry(carry), "the carry f returns", rb_new(new_carry))
        ys_rebuild[:] = [rb_y]
        return new_carry, ys
    final, ys = region_trace.trace_scan(carry, xleaves, trace_body, length, reverse)
    rb_y = ys_rebuild[0]
    return rb_carry(final), (rb_y(ys) if rb_y else None)


def _scan_length(xleaves, length):
    lens = {x.shape[0] if x.shape else None for x in xleaves}
    if None in lens:
        raise ValueError("scan: every leaf of xs needs a leading axis to scan over; got a "
                         "scalar")
    if len(lens) > 1:
        raise ValueError(f"scan: the leaves of xs have leading dimensions {sorted(lens)}; "
                         f"they must all be equal")
    if length is not None:
        length = int(length)
        if lens and length not in lens:
            raise ValueError(f"scan: length={length} but xs have leading dimension "
                             f"{lens.pop()}")
        return length
    if not lens:
        raise ValueError("scan: give xs or length")
    return lens.pop()


def _scan_out(out, carry):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"scan: f must return a pair (carry, y), got {type(out).__name__}")
    new_carry, rb_new = _tensors(out[0], "scan", carry)
    if out[1] is None:
        return new_carry, rb_new, [], None
    ys, rb_y = _tensors(out[1], "scan")
    return new_carry, rb_new, ys, rb_y


def _eager_scan(f, carry, rb_carry, xleaves, rb_x, length, reverse):
    steps = range(length - 1, -1, -1) if reverse else range(length)
    ys_per_step, rb_y = [], None
    for t in steps:
        x = rb_x([x[t] for x in xleaves]) if rb_x else None
        new_carry, rb_new, ys, rb_y = _scan_out(f(rb_carry(carry), x), carry)
        check_same("scan", "init", rb_carry(carry), "the carry f returns", rb_new(new_carry))
        carry = new_carry
        ys_per_step.append(ys)
    if reverse:
        ys_per_step.reverse()
    if not ys_per_step:
        return rb_carry(carry), _empty_ys(f, carry, rb_carry, xleaves, rb_x)
    if rb_y is None:
        return rb_carry(carry), None
    stacked = [stack([ys[k] for ys in ys_per_step]) for k in range(len(ys_per_step[0]))]
    return rb_carry(carry), rb_y(stacked)


def _empty_ys(f, carry, rb_carry, xleaves, rb_x):
    """The ys of an eager scan of length 0: ``f`` traced once on symbols (as JAX's scan
    traces it) for their structure, shapes and dtypes, each stacked to a leading 0 axis.
    Nothing runs and no tape records; an ``f`` that cannot be traced (Python control flow
    on values) gives None, as a scan whose ``f`` returns no ys."""
    saved = STATE.tapes
    STATE.tapes = []
    try:
        with TraceContext("scan") as ctx:
            c = [ctx.argument(x.shape, x.dtype, "the scan's carry") for x in carry]
            xs = [ctx.argument(x.shape[1:], x.dtype, "the scan's xs") for x in xleaves]
            _, _, ys, rb_y = _scan_out(f(rb_carry(c), rb_x(xs) if rb_x else None), c)
            specs = [((0,) + tuple(y.shape), y.dtype) for y in ys]
    except TracingError:
        return None
    finally:
        STATE.tapes = saved
    return rb_y([zeros(shape, dtype) for shape, dtype in specs]) if rb_y else None
