"""``tt.function``: trace a Python function into a graph once per signature, compile it, and
run the cached executable on later calls.

Invariants:
- A signature is the shape and dtype of every tensor-like argument leaf (Tensor, NumPy
  array or scalar; a Variable by shape, dtype and trainable flag, and which positions hold
  the same Variable) plus the value of every other leaf (Python numbers, strings, None,
  hashable objects, and ``static_argnums`` arguments, which are never traced).
- A ``Staged`` function owns one ``Entry`` per signature: the optimised graph whose inputs
  are the argument leaves, then captured eager tensors, then Variables (read at each call):
  captured ones, and stand-ins for the Variable arguments (``tracer.argvars``), bound at
  each call to the Variables passed, so their updates go to those Variables' buffers.
- Calls take one of three routes. Eager (the fast path): bind values, run the compiled
  executable. Inside another trace: the entry's graph is inlined into the outer graph (so
  ``tt.grad(tt.grad(f))`` is one graph). Under a recording tape that watches an input:
  the executable computes the values and the inlined nodes are recorded on the tape,
  which differentiates them like any recorded operation (intermediates are recomputed
  from the inputs in the gradient graph, so higher orders work).
"""
import functools
import inspect
import threading
import weakref
from collections import OrderedDict, namedtuple

import numpy as np

from compiler.ir import Graph, format_graph
import runtime
from tracer import nest, serialize
from tracer.argvars import alias_pattern, read_returned
from tracer.engine import as_value
from tracer.entry import (Entry, donation, foreign_leaves, note_rereads, optimized,
                          output_plan, with_rereads)
from tracer.recording import make, node_of, watching
from tracer.signature import (SCALAR_TYPES, arg_key, bind_method, hot_slot, is_tensor_like,
                              leaf_value, static_positions, tree_signature)
from tracer.state import STATE
from tracer.tensor import Tensor
from tracer.tracing import TraceContext, record_spliced as _record, substitute
from tracer.variable import Variable

CacheInfo = namedtuple("CacheInfo", "hits misses size")
_new_tensor = Tensor.__new__


class Staged:
    """A traced, compiled and cached callable (``tt.function`` and the transforms).

    ``build(args, kwargs)`` runs while tracing, on traced arguments, and returns the output
    structure; ``prepare(args)`` (optional) converts arguments before keying.
    """

    def __init__(self, fn, build, name, static_argnums=(), prepare=None, recipe=None):
        self.__wrapped__ = fn
        self.__name__ = self.__qualname__ = name
        self.__doc__ = getattr(fn, "__doc__", None)
        self._build = build
        self._name = name
        self._static = frozenset(static_positions(static_argnums, name))
        self._prepare = prepare
        self._recipe = recipe   # (factory, args, kwargs) rebuilding it: see tracer.serialize
        # all-eager-Tensor positional calls skip preparation: they need none
        self._fast = not self._static
        self._entries = OrderedDict()       # signature -> Entry, oldest first
        self._lock = threading.RLock()   # a function may call itself while tracing
        self._params = None
        self.trace_count = 0
        self._hits = self._misses = 0
        self._hot = (None, None, None, None, None)    # see hot_slot
        self._trees = {}        # tree_signature key -> signature key (see _remember_tree)
        # what a Python float argument becomes when ``prepare`` would convert it (tt.grad
        # and the other transforms of one argument): the hot path converts it itself
        self._python_float = getattr(prepare, "python_float", None)

    def __get__(self, instance, owner=None):
        """``@tt.function`` on a method (as tf.function): ``obj.f`` is the function with
        ``obj`` bound first, a Python object captured by the trace, traced and cached per
        instance (held weakly: the instance's lifetime and pickling are unchanged)."""
        if instance is None or not getattr(self, "_binds", False):
            return self
        methods = self.__dict__.setdefault("_methods", {})
        held = methods.get(id(instance))
        if held is not None and held[0]() is instance:
            return held[1]
        try:
            ref = weakref.ref(instance, lambda _, k=id(instance): methods.pop(k, None))
        except TypeError:                   # not weakly referable: held strongly
            ref = lambda: instance          # noqa: E731
        bound = function(bind_method(self.__wrapped__, ref),
                         static_argnums=tuple(p - 1 for p in self._static if p > 0))
        methods[id(instance)] = (ref, bound)
        return bound

    def __call__(self, *args, **kwargs):
        if not kwargs and self._fast and STATE.trace is None and not STATE.tapes:
            if len(args) == 1:
                v = args[0]
                if type(v) is Tensor:
                    v = v._value
                elif type(v) is float and self._python_float is not None:
                    v = self._python_float(v)
                elif self._prepare is not None or not (type(v) is np.ndarray or
                                                       type(v) in SCALAR_TYPES):
                    v = None                # not a leaf passed as it is: no hot match
                hot = self._hot             # the last one-argument signature called
                if type(v) is hot[0] and (hot[1] is None or
                                          v.dtype is hot[1] and v.shape == hot[2]):
                    self._hits += 1
                    exe = hot[4]
                    if exe is not None and not exe.settings["debug_nans"]:
                        t = _new_tensor(Tensor)         # tracer.recording.make, inlined
                        t._value = exe.run_tier(v)[0]
                        t._node = None
                        return t
                    return hot[3].run([v])
            try:
                values = [a._value for a in args]
                key = tuple([(v.shape, v.dtype) for v in values])
            except AttributeError:          # not all eager Tensors
                if self._trees:             # a structure of tensors called before
                    tree = tree_signature(args)
                    if tree is not None:
                        entry = self._entries.get(self._trees.get(tree[1]))
                        if entry is not None:
                            self._hits += 1
                            return entry.run(tree[0])
                return self._call(args, kwargs)
            entry = self._entries.get(key)
            if entry is not None:
                self._hits += 1
                if len(values) == 1:
                    self._hot = hot_slot(values[0], entry)
                return entry.run(values)
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        given = args
        if self._prepare is not None:
            args = self._prepare(args)
        key, leaves, passed = self._signature_parts(args, kwargs)
        entry = self._entry(key, args, kwargs)
        if passed and entry.captured_ids:
            entry = self._also_captured(entry, key, args, kwargs, passed)
        if STATE.trace is not None:
            return self._inline(entry, leaves, passed)
        if STATE.tapes:
            return self._recorded(entry, leaves, passed)
        values = [leaf_value(x) for x in leaves]
        if self._fast and not kwargs and not passed and not entry.inline_only:
            if len(leaves) == 1 and len(args) == 1 and leaves[0] is args[0]:
                self._hot = hot_slot(values[0], entry)
            elif all(a is b for a, b in zip(args, given)):     # ``prepare`` changed nothing
                self._remember_tree(given, key)
        return entry.run(values, passed)

    def _remember_tree(self, args, key):
        """Let later calls with arguments of this structure, leaf shapes and dtypes find
        the entry of ``key`` from ``tree_signature`` (one walk, no flatten/rebuild)."""
        tree = tree_signature(args)
        if tree is None or tree[1] in self._trees:
            return
        self._trees[tree[1]] = key
        while len(self._trees) > max(runtime.config.cache_size, 1):
            del self._trees[next(iter(self._trees))]

    def _also_captured(self, entry, key, args, kwargs, passed):
        """The entry for a call passing a Variable that the function also captures (reads
        it other than through the argument): traced with that Variable itself at those
        positions, so its reads and updates through both meet in program order."""
        spec = tuple((k, entry.captured_ids[id(v)]) for k, v in enumerate(passed)
                     if id(v) in entry.captured_ids)
        if not spec:
            return entry
        return self._entry(key + (("captured", spec),), args, kwargs,
                           frozenset(k for k, _ in spec))

    # -- signatures and tracing --------------------------------------------------------------
    def _names(self):
        if self._params is None:
            try:
                sig = inspect.signature(self.__wrapped__)
                self._params = [p.name for p in sig.parameters.values()
                                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            except (TypeError, ValueError):
                self._params = []
        return self._params

    def _where(self, i):
        names = self._names()
        name = names[i] if isinstance(i, int) and i < len(names) else None
        if isinstance(i, str):
            return f"argument '{i}' of {self._name}"
        if name is None:
            return f"positional argument {i} of {self._name}"
        return f"argument '{name}' (position {i}) of {self._name}"

    def _signature(self, args, kwargs):
        """(key, tensor-like argument leaves in order, Variables included)."""
        key, leaves, passed = self._signature_parts(args, kwargs)
        return key, leaves + list(passed) if passed else leaves

    def _signature_parts(self, args, kwargs):
        """(key, traced argument leaves, Variable arguments): Variables are not graph
        arguments but state bound at each call (``tracer.argvars``)."""
        key, leaves, passed = [], [], []
        items = list(enumerate(args)) + sorted(kwargs.items())
        for i, a in items:
            static = i in self._static
            k = arg_key(a, functools.partial(self._where, i), static)
            key.append(k if type(i) is int else (i, k))
            if static:
                continue
            if isinstance(a, Variable):
                passed.append(a)
            elif is_tensor_like(a):
                leaves.append(a)
            elif isinstance(a, (list, tuple, dict)):
                for x in nest.flatten(a)[0]:
                    if isinstance(x, Variable):
                        passed.append(x)
                    elif is_tensor_like(x):
                        leaves.append(x)
        if len(passed) > 1:
            aliases = alias_pattern(passed)
            if aliases is not None:     # a Variable passed more than once: its own trace
                key.append(("aliased Variables", aliases))
        return tuple(key), leaves, passed

    def _entry(self, key, args, kwargs, by_identity=()):
        entry = self._entries.get(key)
        if entry is not None:
            self._hits += 1
            return entry
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
                entry = self._trace(args, kwargs, by_identity)
                if not entry.inline_only:
                    self._entries[key] = entry
                    while len(self._entries) > max(runtime.config.cache_size, 1):
                        self._entries.popitem(last=False)
        return entry

    def _trace_arg(self, ctx, a, i, by_identity):
        where = self._where(i)

        def leaf(x):
            if isinstance(x, Variable):
                return ctx.argument_variable(x, where, by_identity)
            if is_tensor_like(x):
                return ctx.argument(np.shape(x), x.dtype, where)
            return x
        if not isinstance(a, (list, tuple, dict)):
            return leaf(a)
        leaves, rebuild = nest.flatten(a)
        return rebuild([leaf(x) for x in leaves])

    def _trace(self, args, kwargs, by_identity=()):
        ctx = TraceContext(self._name)
        targs = [a if i in self._static else self._trace_arg(ctx, a, i, by_identity)
                 for i, a in enumerate(args)]
        tkw = {k: self._trace_arg(ctx, kwargs[k], k, by_identity) for k in sorted(kwargs)}
        with ctx:
            out = read_returned(self._build(targs, tkw))
        self.trace_count += 1
        outputs, plan, rebuild = output_plan(out)
        updates = ctx.updates()
        rereads = ctx.rereads
        user = outputs
        outputs = outputs + [n for _, n in updates]
        inputs = (ctx.arg_nodes + [n for _, n in ctx.captured] +
                  [n for _, n in ctx.variables])
        try:                    # one walk when no leaf of an enclosing trace is reached
            graph, foreign = Graph(inputs, outputs), []
        except ValueError:
            foreign = foreign_leaves(outputs, inputs)
            graph = Graph(inputs + foreign, outputs)
        donate = donation(len(outputs) - len(updates), len(inputs) - len(ctx.variables),
                           [v for v, _ in ctx.variables], [v for v, _ in updates]) \
            if updates and not foreign else ()
        # traced for splicing into an enclosing trace (tt.function(tt.grad(f))), the graph
        # is optimised as part of the enclosing one: here only if it is ever run itself
        raw = STATE.trace is not None
        tape_graph = Graph(graph.inputs, user + [n for _, n in rereads] +
                           [n for _, n in updates]) if rereads else None
        if not raw:
            graph = optimized(graph, donate)
        entry = Entry(graph, ctx.captured, ctx.variables, plan, rebuild,
                      bool(foreign) or ctx.foreign_variables, [v for v, _ in updates], ctx,
                      [v for v, _ in rereads], tape_graph)
        entry.raw, entry.donate = raw, donate
        return entry

    # -- routes other than the eager fast path ----------------------------------------------
    def _bound_tensors(self, entry, leaves, variables):
        """Tensors for every graph input (arguments, captures, variables), read now."""
        ts = [x if type(x) is Tensor else make(x) for x in leaves]
        ts += entry.captured
        ts += [v._read() for v in variables]
        return ts

    def _inline(self, entry, leaves, passed):
        """Inside another trace: splice this signature's graph into the enclosing one."""
        variables = entry.bind(passed)
        ts = self._bound_tensors(entry, leaves, variables)
        outs, created = self._splice(entry, ts)
        result = [make(None, n) for n in outs]
        _record(ts, created, result)
        note_rereads(entry, variables, ts, result)
        k = len(entry.updated)
        for i, t in zip(entry.updated_at, result[len(result) - k:]):
            STATE.trace.assign_variable(variables[i], t)    # the enclosing trace does them
        return result[0] if entry.single else entry.wrap(result)

    def _recorded(self, entry, leaves, passed):
        """Under recording tapes: compiled values, plus the spliced nodes for the tapes."""
        if entry.lock is not None:
            with entry.lock:
                return self._recorded_run(entry, leaves, passed)
        return self._recorded_run(entry, leaves, passed)

    def _recorded_run(self, entry, leaves, passed):
        variables = entry.bind(passed)
        ts = self._bound_tensors(entry, leaves, variables)
        exe = entry.executable()        # donated inputs copied: the tapes hold them too
        outs = exe(*exe.spare([t._value for t in ts]))
        result = [make(as_value(v, d)) for v, d in zip(outs, entry.dtypes)]
        if entry.updated:
            entry.write_back(outs, variables, keep=True)
        if watching(ts):
            nodes, created = self._splice(entry, ts)
            spliced = with_rereads(entry, result)
            for t, n in zip(spliced, nodes):
                t._node = n
            _record(ts, created, spliced)
            note_rereads(entry, variables, ts, spliced)
        return result[0] if entry.single else entry.wrap(result)

    def _splice(self, entry, ts):
        g = entry.tape_graph or entry.graph
        mapping = {id(i): node_of(t) for i, t in zip(g.inputs, ts)}
        return substitute(g.outputs, mapping)

    # -- inspection --------------------------------------------------------------------------
    def cache_info(self):
        """Hits, misses and cached signatures of this function."""
        return CacheInfo(self._hits, self._misses, len(self._entries))

    def experimental_get_tracing_count(self):
        """``trace_count`` under TensorFlow's name for it."""
        return self.trace_count

    def explain(self, *args, **kwargs):
        """The optimised graph for these arguments and the native source that runs for them:
        every kernel and the driver (the function is compiled for them if it was not yet)."""
        if self._prepare is not None:
            args = self._prepare(args)
        key, leaves, passed = self._signature_parts(args, kwargs)
        entry = self._entry(key, args, kwargs)
        if passed and entry.captured_ids:
            entry = self._also_captured(entry, key, args, kwargs, passed)
        exe = entry.executable()
        if getattr(exe, "native", None) is None and STATE.trace is None:
            values = [leaf_value(x) for x in leaves] + entry.cvals
            try:
                exe.compile_now(exe.spare(
                    values + [v._tensor._value for v in entry.bind(passed)]))
            except Exception:  # noqa: BLE001  (then the interpreter is what runs)
                pass
        native = getattr(exe, "native", None)
        source = native.text() if native is not None else None
        return "\n".join([f"{self._name}: signature {key}", format_graph(entry.graph),
                          source or "(no native source: this graph runs on the NumPy "
                                    "interpreter tier)"])

    def __reduce__(self):
        return serialize.reduce_staged(self)

    def __dask_tokenize__(self):
        return ("tt.Staged", serialize.token(self))

    def __repr__(self):
        return f"<tt.function {self._name} ({len(self._entries)} signatures)>"


def function(fn=None, static_argnums=(), *, jit_compile=None, reduce_retracing=False,
             name=None):
    """Trace ``fn`` into a graph once per signature, compile it, and cache it.

    >>> @tt.function
    ... def f(x):
    ...     return tt.reduce_sum(x * x)
    >>> f(tt.constant([1.0, 2.0]))      # traced and compiled; later calls reuse it

    ``jit_compile``, ``reduce_retracing`` and ``name`` are tf.function's hints, accepted
    so TensorFlow code runs unchanged: the graph is always compiled to native code, and
    each shape and dtype signature is traced once.
    """
    if fn is None:
        return lambda f: function(f, static_argnums)
    if not callable(fn):
        raise TypeError(f"tt.function: expected a callable, got {type(fn).__name__}")
    name = getattr(fn, "__name__", type(fn).__name__)
    staged = Staged(fn, lambda args, kwargs: fn(*args, **kwargs), name, static_argnums,
                    recipe=(function, (fn,), {"static_argnums": static_argnums}))
    # found under the decorated name, so pickle's identity check passes (by reference)
    staged.__module__ = getattr(fn, "__module__", None)
    staged.__qualname__ = getattr(fn, "__qualname__", name)
    staged._binds = True        # a method when defined in a class body (see __get__)
    return staged
